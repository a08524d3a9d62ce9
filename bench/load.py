"""Load and faults from outside: many HTTP clients against one running service, then proof
that every write it acknowledged is stored and every aggregate equals a recount.

    python -m bench.load [--clients 100] [--seconds 60] [--fault [--fault-at S] [--outage 5]]
                         [--url http://127.0.0.1:PORT] [--database riskatlas_bench_load |
                         --database-url URL] [--workers N] [--app-dir DIR]
                         [--enterprises 1000] [--baseline-seconds 5]

Without --url the benchmark starts its own uvicorn on a free loopback port (as many
processes as `riskatlas serve` starts, unless --workers says otherwise; the code of
--app-dir, e.g. a `git archive` of an older commit, for before/after figures) on the
database --database (`riskatlas_bench_load`) of the configured server: created, migrated and
loaded with Ningxia's divisions and a demo of --enterprises enterprises by that code's own
`riskatlas` commands when missing, and cleared of the rows earlier runs wrote. It never
touches `riskatlas`, the tests' databases or `riskatlas_bench`. That server is stopped
before the checks, so nothing still hanging in it can commit afterwards. With --url it
measures that server (loopback only), which must serve the database named by --database or
--database-url: the checks read it directly.

Each client is a thread with two HTTP connections that loops without pause over a mix of
vector tiles around Ningxia (revalidated with If-None-Match, as the web map does), the
province's risk summary, enterprise lists, dossiers, and writes: enterprises and risk points
created, renamed and re-graded, and deleted, always rows the client created itself. After
every 201 the created row is read back at once over the client's other connection (so, with
several server processes, often from another process): a 404 there is a write the service
acknowledged before it was visible. A probe polls /api/health/ready (/api/health on servers
without it) every 0.5 s. --fault stops the embedded cluster for --outage seconds during the
run, starts it again, and keeps the clients on until RECOVERY_LIMIT_S after it is back.

Afterwards, once the database is quiet, direct SQL checks that every acknowledged create,
rename and delete is in the database, that writes with no answer (timeouts, 5xx) were
stored at most once and whole: `region_counts` equals the recount of
rebuild_region_counts() (run in a transaction that is rolled back), no enterprise's level
differs from the one its risk points give, every risk point's latest grading is in the
history. A baseline measured in the same run (the same mix with one client, and
/api/health/live when the server has it) is printed beside the figures.
"""

import argparse
import itertools
import os
import random
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app import embedded_db
from app.audit.service import tell_database_who
from app.auth import service as accounts
from app.auth.scope import PUBLIC_SCOPE
from app.cli import build_parser
from app.errors import NotFound
from app.geo.webmercator import lonlat_to_tile
from app.risk import grading
from app.settings import PROJECT_ROOT, get_settings
from app.sites.credit_code import CHARSET, check_character, org_check_character
from bench.harness import start_server
from bench.national import libpq_url

LOAD_DATABASE = "riskatlas_bench_load"
PROVINCE = "640000"
# Every row the benchmark writes is named with this prefix, so a later run can remove them.
NAME_PREFIX = "负载"
BENCH_USER = "bench-load"  # the admin account the clients sign in as
REQUEST_TIMEOUT_S = 10.0
PROBE_INTERVAL_S = 0.5
# Targets a run is judged by (Report.problems).
ANSWER_LIMIT_S = 5.0  # every answer while the database is down, a 503 too, within this
RECOVERY_LIMIT_S = 5.0  # database back → the service answers from it again
MAX_HEALTH_GAP_S = 5.0  # longest time without a successful health answer (no outage)
MAX_CLIENTS = 500
MAX_SECONDS = 600
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

# Relative weights of what a client does next (reads-after-201 come on top of creates).
MIX = {
    "tile": 34,
    "summary": 8,
    "list": 8,
    "dossier": 10,
    "create_enterprise": 10,
    "create_risk_point": 12,
    "patch": 10,
    "delete": 8,
}
KINDS = (*MIX, "read_after")
# Everything but tiles needs the database (a cached tile is answered without it).
DATABASE_KINDS = tuple(kind for kind in KINDS if kind != "tile")
TILE_LAYERS = ("enterprises", "risk_points", "regions", "hazard_sources", "public_zones")
TILE_ZOOMS = (5, 7, 9, 11, 12, 13, 14)
LEC = {"l": (10, 6, 3, 1, 0.5), "e": (10, 6, 3, 2, 1), "c": (100, 40, 15, 7, 3, 1)}
SECTORS = ("危险化学品", "冶金", "建材", "机械", "轻工", "城镇燃气")
PATHS = {"enterprises": "/api/enterprises", "risk_points": "/api/risk-points"}


# What the service answered


@dataclass(frozen=True)
class Answer:
    kind: str
    started: float  # perf_counter at the request's start
    seconds: float
    status: int | None  # None: no answer (timeout or transport error)
    failure: str = ""  # "timeout" or the transport error's class
    json_body: bool = True  # False for an error answered as something else than JSON
    retry_after: bool = False

    @property
    def ended(self) -> float:
        return self.started + self.seconds


class Ledger:
    """Row by row, what the service acknowledged and what it may or may not have done.

    A row's entry is the set of states it may be in: its name, or None for deleted. An
    acknowledged write replaces the set; a write with no answer (timeout, 5xx) adds its
    state to it, since it may or may not have been applied.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rows: dict[tuple[str, int], set[str | None]] = {}
        self.unanswered_creates: list[tuple[str, str]] = []  # (table, name)
        self.acknowledged = Counter()  # kind → 2xx answers

    def settled(self, kind: str, table: str, id: int, state: str | None) -> None:
        with self._lock:
            self.rows[(table, id)] = {state}
            self.acknowledged[kind] += 1

    def maybe(self, table: str, id: int, state: str | None) -> None:
        with self._lock:
            self.rows.setdefault((table, id), set()).add(state)

    def maybe_created(self, table: str, name: str) -> None:
        with self._lock:
            self.unanswered_creates.append((table, name))


def timed_request(
    client: httpx.Client, kind: str, method: str, path: str, **kwargs
) -> tuple[Answer, httpx.Response | None]:
    """One request and how it went (no response on a timeout or a transport error)."""
    started = time.perf_counter()
    try:
        response = client.request(method, path, **kwargs)
    except httpx.TimeoutException:
        return Answer(kind, started, time.perf_counter() - started, None, "timeout"), None
    except httpx.TransportError as error:
        return Answer(
            kind, started, time.perf_counter() - started, None, type(error).__name__
        ), None
    is_json = response.headers.get("content-type", "").startswith("application/json")
    return Answer(
        kind,
        started,
        time.perf_counter() - started,
        response.status_code,
        json_body=is_json or response.status_code < 400,
        retry_after="retry-after" in response.headers,
    ), response


# What the clients work on


@dataclass(frozen=True)
class Targets:
    places: list[tuple[str, float, float]]  # (county, lon, lat) inside the province's counties
    cities: list[str]
    enterprises: list[int]  # existing enterprises, for dossiers
    tiles: list[str]


def read_targets(url: str | URL, *, seed: int = 1) -> Targets:
    """Places, regions, enterprises and tile addresses of the province, from the database."""
    with psycopg.connect(libpq_url(url)) as conn:
        places = conn.execute(
            "SELECT r.code, ST_X(p.geom), ST_Y(p.geom) FROM regions r,"
            " LATERAL ST_Dump(ST_GeneratePoints(r.geom, 8, %s)) p"
            " WHERE r.is_leaf AND r.code LIKE %s ORDER BY 1, 2, 3",
            (seed, PROVINCE[:2] + "%"),
        ).fetchall()
        cities = [
            code
            for (code,) in conn.execute(
                "SELECT code FROM regions WHERE parent_code = %s ORDER BY code", (PROVINCE,)
            )
        ]
        enterprises = [
            id
            for (id,) in conn.execute(
                "SELECT id FROM enterprises WHERE county_code LIKE %s AND name NOT LIKE %s"
                " ORDER BY id LIMIT 500",
                (PROVINCE[:2] + "%", NAME_PREFIX + "%"),
            )
        ]
    if not places or not cities:
        raise RuntimeError(f"the database has no divisions of {PROVINCE}: load them first")
    places = [(code.strip(), lon, lat) for code, lon, lat in places]
    # Two places per county: a few hundred tiles, so most are served warm as on a real map.
    anchors = [p for i, p in enumerate(places) if i % 8 < 2]
    tiles = sorted(
        {
            f"/tiles/{layer}/{z}/{x}/{y}.mvt"
            for layer in TILE_LAYERS
            for z in TILE_ZOOMS
            for x, y in (lonlat_to_tile(lon, lat, z) for _, lon, lat in anchors)
        }
    )
    return Targets(places, [c.strip() for c in cities], enterprises, tiles)


def sign_in(base_url: str, database_url: str | URL) -> dict[str, str]:
    """Headers of the benchmark's admin, signed in; none for a server without accounts.

    The account gets a new random password on every run (set as the owner, through the
    accounts service, so it is audited), then signs in over HTTP like any client.
    """
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client:
        if client.get("/api/auth/me").status_code == 404:
            return {}
        password = secrets.token_urlsafe(24)
        engine = create_engine(database_url)
        try:
            with Session(engine) as session, session.begin():
                tell_database_who(
                    session,
                    scope=PUBLIC_SCOPE,
                    client_address="bench",
                    request_id=None,
                    actor="bench.load",
                )
                try:
                    user = accounts.get_user(session, BENCH_USER)
                except NotFound:
                    accounts.create_user(
                        session, username=BENCH_USER, password=password, role="admin"
                    )
                else:
                    accounts.update_user(
                        session, user, {"password": password, "disabled": False, "role": "admin"}
                    )
        finally:
            engine.dispose()
        response = client.post(
            "/api/auth/token", data={"username": BENCH_USER, "password": password}
        )
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


def credit_code(county: str, serial: int) -> str:
    """A valid GB 32100 code registered in `county` whose organisation code spells `serial`
    in base 31 (so codes are unique while serials are)."""
    body = "".join(CHARSET[serial // 31**k % 31] for k in range(7, -1, -1))
    first17 = "91" + county + body + org_check_character(body)
    return first17 + check_character(first17)


class Client:
    """One simulated user: a loop over the mix on one connection, reads-after on another."""

    def __init__(
        self,
        index: int,
        base_url: str,
        headers: dict[str, str],
        targets: Targets,
        ledger: Ledger,
        serials: itertools.count,
        tag: str,
    ) -> None:
        self.index = index
        self.targets = targets
        self.ledger = ledger
        self.serials = serials
        self.tag = tag
        self.rng = random.Random(index)
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_S)
        # A second connection pool: the read-back never rides on the write's connection.
        self.reader = httpx.Client(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_S)
        self.answers: list[Answer] = []
        self.etags: dict[str, str] = {}
        self.enterprises: dict[int, tuple[float, float]] = {}  # own: id → (lon, lat)
        self.risk_points: dict[int, int | None] = {}  # own: id → enterprise id
        self.names: dict[tuple[str, int], str] = {}
        self.created = itertools.count(1)
        self.read_after_404 = 0
        self.read_after_stale = 0
        self.own_row_404 = 0

    def close(self) -> None:
        self.http.close()
        self.reader.close()

    def loop(self, stop: threading.Event) -> None:
        kinds, weights = list(MIX), list(MIX.values())
        while not stop.is_set():
            kind = self.rng.choices(kinds, weights)[0]
            getattr(self, "do_" + kind)()

    def call(
        self, kind: str, method: str, path: str, *, reader: bool = False, **kwargs
    ) -> httpx.Response | None:
        answer, response = timed_request(
            self.reader if reader else self.http, kind, method, path, **kwargs
        )
        self.answers.append(answer)
        return response

    # Reads

    def do_tile(self) -> None:
        path = self.rng.choice(self.targets.tiles)
        headers = {"If-None-Match": self.etags[path]} if path in self.etags else {}
        response = self.call("tile", "GET", path, headers=headers)
        if response is not None and response.status_code == 200 and "etag" in response.headers:
            self.etags[path] = response.headers["etag"]

    def do_summary(self) -> None:
        self.call("summary", "GET", "/api/risk/summary", params={"parent": PROVINCE})

    def do_list(self) -> None:
        self.call(
            "list",
            "GET",
            "/api/enterprises",
            params={"region": self.rng.choice(self.targets.cities), "limit": 50},
        )

    def do_dossier(self) -> None:
        ids = self.targets.enterprises + list(self.enterprises)
        if not ids:
            return self.do_list()
        self.call("dossier", "GET", f"/api/map/enterprises/{self.rng.choice(ids)}")

    # Writes

    def _name(self, what: str) -> str:
        return f"{NAME_PREFIX}{what}{self.tag}-{self.index}-{next(self.created)}"

    def _lec(self) -> dict[str, float]:
        return {factor: self.rng.choice(values) for factor, values in LEC.items()}

    def _created(
        self, kind: str, table: str, name: str, response: httpx.Response | None
    ) -> int | None:
        """Record a create's outcome; read the row back at once when it was acknowledged."""
        if response is None or response.status_code >= 500:
            self.ledger.maybe_created(table, name)
            return None
        if response.status_code != 201:
            return None
        id = response.json()["id"]
        self.ledger.settled(kind, table, id, name)
        self.names[(table, id)] = name
        back = self.call("read_after", "GET", f"{PATHS[table]}/{id}", reader=True)
        if back is not None and back.status_code == 404:
            self.read_after_404 += 1
        elif back is not None and back.status_code == 200 and back.json().get("name") != name:
            self.read_after_stale += 1
        return id

    def do_create_enterprise(self) -> None:
        county, lon, lat = self.rng.choice(self.targets.places)
        name = self._name("企业")
        body = {
            "name": name,
            "credit_code": credit_code(county, next(self.serials)),
            "sector": self.rng.choice(SECTORS),
            "lon": lon,
            "lat": lat,
            "employees": self.rng.randint(5, 500),
        }
        response = self.call("create_enterprise", "POST", "/api/enterprises", json=body)
        id = self._created("create_enterprise", "enterprises", name, response)
        if id is not None:
            self.enterprises[id] = (lon, lat)

    def do_create_risk_point(self) -> None:
        # Most risk points belong to one of the client's enterprises, so its level follows.
        enterprise = (
            self.rng.choice(list(self.enterprises))
            if self.enterprises and self.rng.random() < 0.7
            else None
        )
        lon, lat = (
            self.enterprises[enterprise] if enterprise else self.rng.choice(self.targets.places)[1:]
        )
        name = self._name("风险点")
        body = {
            "enterprise_id": enterprise,
            "name": name,
            "method": "lec",
            "inputs": self._lec(),
            "lon": lon,
            "lat": lat,
        }
        response = self.call("create_risk_point", "POST", "/api/risk-points", json=body)
        id = self._created("create_risk_point", "risk_points", name, response)
        if id is not None:
            self.risk_points[id] = enterprise

    def _own_row(self) -> tuple[str, int] | None:
        tables = [
            t
            for t, rows in (("enterprises", self.enterprises), ("risk_points", self.risk_points))
            if rows
        ]
        if not tables:
            return None
        table = self.rng.choice(tables)
        rows = self.enterprises if table == "enterprises" else self.risk_points
        return table, self.rng.choice(list(rows))

    def do_patch(self) -> None:
        own = self._own_row()
        if own is None:
            return self.do_create_enterprise()
        table, id = own
        name = self.names[own].split("~")[0] + f"~{next(self.created)}"
        body = {"name": name}
        body.update(
            {"employees": self.rng.randint(5, 500)}
            if table == "enterprises"
            else {"inputs": self._lec()}
        )
        response = self.call("patch", "PATCH", f"{PATHS[table]}/{id}", json=body)
        if response is None or response.status_code >= 500:
            self.ledger.maybe(table, id, name)
        elif response.status_code == 200:
            self.ledger.settled("patch", table, id, name)
            self.names[own] = name
        elif response.status_code == 404:
            self.own_row_404 += 1

    def do_delete(self) -> None:
        own = self._own_row()
        if own is None:
            return self.do_create_risk_point()
        table, id = own
        response = self.call("delete", "DELETE", f"{PATHS[table]}/{id}")
        if response is not None and response.status_code == 404:
            self.own_row_404 += 1
        acknowledged = response is not None and response.status_code == 204
        if not acknowledged and response is not None and response.status_code < 500:
            return
        # Deleted, or maybe: either way the client leaves the row alone from now on.
        gone = [own]
        if table == "enterprises":
            del self.enterprises[id]
            # Its risk points go with it (ON DELETE CASCADE).
            points = [p for p, e in self.risk_points.items() if e == id]
            gone += [("risk_points", p) for p in points]
            for point in points:
                del self.risk_points[point]
        else:
            del self.risk_points[id]
        for row_table, row_id in gone:
            if acknowledged:
                self.ledger.settled(
                    "delete" if (row_table, row_id) == own else "cascade", row_table, row_id, None
                )
            else:
                self.ledger.maybe(row_table, row_id, None)


# The run


@dataclass(frozen=True)
class Fault:
    """Stop the embedded cluster `at` seconds into the run for `outage` seconds."""

    at: float
    outage: float = 5.0


@dataclass
class Outage:
    stop_called: float = 0.0
    stopped: float = 0.0
    start_called: float = 0.0
    started: float = 0.0  # the cluster accepts connections again


@dataclass
class Run:
    answers: list[Answer]
    probes: list[Answer]
    started: float
    ended: float
    clients: list[Client]
    outage: Outage | None = None

    def total(self, attribute: str) -> int:
        return sum(getattr(client, attribute) for client in self.clients)

    @property
    def rate(self) -> float:
        """Answers (and failures) per second."""
        return len(self.answers) / (self.ended - self.started)

    def affected(self, answer: Answer) -> bool:
        """True when the answer overlaps the outage or the recovery time allowed after it."""
        o = self.outage
        return (
            o is not None
            and answer.started < o.started + RECOVERY_LIMIT_S
            and answer.ended > o.stop_called
        )


def health_path(base_url: str) -> str:
    """/api/health/ready where the server has it (503 while the database is down)."""
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client:
        return (
            "/api/health/ready"
            if client.get("/api/health/ready").status_code != 404
            else "/api/health"
        )


def _probe(base_url: str, path: str, until: threading.Event, probes: list[Answer]) -> None:
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client:
        while not until.is_set():
            answer, _ = timed_request(client, "health", "GET", path)
            probes.append(answer)
            until.wait(max(0.0, PROBE_INTERVAL_S - answer.seconds))


def _stop_database_for(fault: Fault, outage: Outage, until: threading.Event) -> None:
    settings = get_settings()
    if until.wait(fault.at):
        return
    outage.stop_called = time.perf_counter()
    try:
        embedded_db.stop(settings)
        outage.stopped = time.perf_counter()
        time.sleep(fault.outage)
    finally:
        # The database comes back whatever happened meanwhile.
        outage.start_called = time.perf_counter()
        embedded_db.start(settings)
        outage.started = time.perf_counter()


def run_load(
    base_url: str,
    headers: dict[str, str],
    targets: Targets,
    ledger: Ledger,
    *,
    clients: int,
    seconds: float,
    fault: Fault | None = None,
) -> Run:
    """`clients` threads over the mix for `seconds`, a health probe, and the fault if any."""
    if not 1 <= clients <= MAX_CLIENTS or not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"at most {MAX_CLIENTS} clients and {MAX_SECONDS} s")
    if fault and not 0 <= fault.at < seconds:
        raise ValueError("the outage must begin during the run")
    if urlsplit(base_url).hostname not in LOOPBACK:
        raise ValueError(f"{base_url} is not on loopback")
    if fault and not get_settings().embedded:
        raise ValueError(
            "--fault stops the embedded cluster; with DATABASE_URL set, stop that server by hand"
        )
    # Names and credit-code serials start from the clock in ms, so no later run reuses
    # them (a run creates fewer rows than it lasts milliseconds).
    now_ms = time.time_ns() // 1_000_000
    tag, serials = f"{now_ms:x}", itertools.count(now_ms % 31**8)
    workers = [Client(i, base_url, headers, targets, ledger, serials, tag) for i in range(clients)]
    probes: list[Answer] = []
    stop, done = threading.Event(), threading.Event()  # clients stop; probe and fault stop
    outage = Outage() if fault else None
    probe = threading.Thread(target=_probe, args=(base_url, health_path(base_url), done, probes))
    faults = (
        threading.Thread(target=_stop_database_for, args=(fault, outage, done)) if fault else None
    )
    threads = [threading.Thread(target=w.loop, args=(stop,)) for w in workers]
    t0 = time.perf_counter()
    for thread in [probe, *([faults] if faults else []), *threads]:
        thread.start()
    try:
        stop.wait(seconds)
        if faults:
            # However long the restart took, the clients stay on long enough to see the
            # service recover (or not).
            faults.join()
            stop.wait(outage.started + RECOVERY_LIMIT_S + 1 - time.perf_counter())
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        done.set()
        if faults:
            faults.join()
        probe.join()
        for worker in workers:
            worker.close()
    return Run(
        [a for w in workers for a in w.answers], probes, t0, time.perf_counter(), workers, outage
    )


# Checks, by direct SQL once the service is quiet


@dataclass
class Check:
    acknowledged: Counter
    lost: list[str]  # acknowledged writes the database does not show
    unanswered: int  # creates with no answer or a 5xx
    unanswered_landed: int  # … of which the row exists
    duplicated: int  # names stored more than once
    counts: int  # region_counts entries compared
    count_mismatches: int | str  # differing entries, or why they could not be compared
    stale_levels: int | str  # enterprises whose level is not what their points give
    ungraded_points: int  # written risk points whose latest grading is not theirs
    busy_seconds: float  # how long other transactions kept the database busy


def _wait_until_quiet(conn: psycopg.Connection, limit_s: float = 20.0) -> float:
    """Wait (bounded) until no other session holds locks in this database: a request the
    client gave up on may still be running, or holding a transaction, in the server.
    (pg_locks, unlike pg_stat_activity, shows other roles' sessions to any role.)"""
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        busy = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE pid <> pg_backend_pid() AND locktype = 'relation'"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()[0]
        if not busy:
            break
        time.sleep(0.25)
    return time.perf_counter() - started


def count_mismatches(conn: psycopg.Connection) -> tuple[int, int]:
    """(entries that differ, entries compared) between region_counts and a recount by
    rebuild_region_counts() in a transaction that is rolled back. The triggers leave 0
    where a count drops to nothing and the rebuild writes no zeros: both mean the same."""
    query = "SELECT region_code, measure, value FROM region_counts WHERE value <> 0"
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL lock_timeout = '30s'")
        stored = {(r, m): v for r, m, v in conn.execute(query)}
        conn.execute("SELECT rebuild_region_counts()")
        recount = {(r, m): v for r, m, v in conn.execute(query)}
    keys = stored.keys() | recount.keys()
    return sum(stored.get(k) != recount.get(k) for k in keys), len(keys)


def stale_enterprise_levels(url: str | URL) -> int | str:
    """Enterprises whose stored level is not what the enterprise rule gives (rolled back)."""
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            session.execute(text("SET LOCAL lock_timeout = '30s'"))
            try:
                return grading.refresh_enterprise_levels(session)
            except OperationalError:
                return "not compared: enterprises locked by an open transaction"
            finally:
                session.rollback()
    finally:
        engine.dispose()


def check(url: str | URL, ledger: Ledger) -> Check:
    """Compare the ledger and the aggregates with the database."""
    lost: list[str] = []
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        busy = _wait_until_quiet(conn)
        for table in PATHS:
            ids = [id for (t, id) in ledger.rows if t == table]
            stored = dict(
                conn.execute(f"SELECT id, name FROM {table} WHERE id = ANY(%s)", (ids,)).fetchall()
            )
            for id in ids:
                states, actual = ledger.rows[(table, id)], stored.get(id)
                if actual not in states:
                    lost.append(
                        f"{table} {id}: {actual!r}, expected one of {sorted(states, key=str)}"
                    )
        landed = 0
        for table in PATHS:
            wanted = [name for t, name in ledger.unanswered_creates if t == table]
            landed += conn.execute(
                f"SELECT count(DISTINCT name) FROM {table} WHERE name = ANY(%s)", (wanted,)
            ).fetchone()[0]
        # Every name is written by one create: a create stored twice (say, retried after
        # its commit had in fact succeeded) shows as a repeated name.
        duplicated = 0
        for table in PATHS:
            duplicated += conn.execute(
                f"SELECT count(*) FROM (SELECT name FROM {table} WHERE name LIKE %s"
                " GROUP BY name HAVING count(*) > 1) d",
                (NAME_PREFIX + "%",),
            ).fetchone()[0]
        # A risk point is whole with the grading that gave its level in the history.
        ungraded = conn.execute(
            "SELECT count(*) FROM risk_points p WHERE p.name LIKE %s"
            " AND p.risk_level IS DISTINCT FROM (SELECT a.risk_level FROM assessments a"
            "  WHERE a.subject_type = 'risk_point' AND a.subject_id = p.id"
            "  ORDER BY a.id DESC LIMIT 1)",
            (NAME_PREFIX + "%",),
        ).fetchone()[0]
        try:
            mismatches, counts = count_mismatches(conn)
        except psycopg.errors.LockNotAvailable:
            mismatches, counts = "not compared: region_counts locked by an open transaction", 0
    return Check(
        ledger.acknowledged,
        lost,
        len(ledger.unanswered_creates),
        landed,
        duplicated,
        counts,
        mismatches,
        stale_enterprise_levels(url),
        ungraded,
        busy,
    )


# Figures


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))]


def status_class(answer: Answer) -> str:
    if answer.status is None:
        return "timeout" if answer.failure == "timeout" else "error"
    return f"{answer.status // 100}xx"


def longest_health_gap(run: Run) -> float:
    """The longest time without a successful health answer, from the run's start to its end."""
    times = [run.started, *sorted(p.ended for p in run.probes if p.status == 200), run.ended]
    return max(b - a for a, b in itertools.pairwise(times))


@dataclass
class FaultFigures:
    down_s: float
    statuses: Counter  # what requests overlapping the outage got
    non_json_errors: int
    missing_retry_after: int  # 503s without Retry-After
    longest_s: float  # the slowest of those requests
    recovery_s: float | None  # database back → first 2xx of a database request
    probe_recovery_s: float | None  # database back → first 200 of the health probe


def fault_figures(run: Run) -> FaultFigures:
    outage = run.outage
    during = [
        a
        for a in run.answers + run.probes
        if a.started < outage.started and a.ended > outage.stop_called
    ]
    after = sorted(
        (
            a
            for a in run.answers
            if a.kind in DATABASE_KINDS
            and a.started >= outage.started
            and a.status
            and a.status < 300
        ),
        key=lambda a: a.ended,
    )
    probe_after = sorted(
        (p for p in run.probes if p.started >= outage.started and p.status == 200),
        key=lambda p: p.ended,
    )
    return FaultFigures(
        down_s=outage.started - outage.stop_called,
        statuses=Counter(a.status or a.failure for a in during),
        non_json_errors=sum(1 for a in during if a.status and not a.json_body),
        missing_retry_after=sum(1 for a in during if a.status == 503 and not a.retry_after),
        longest_s=max((a.seconds for a in during), default=0.0),
        recovery_s=after[0].ended - outage.started if after else None,
        probe_recovery_s=probe_after[0].ended - outage.started if probe_after else None,
    )


@dataclass
class Report:
    run: Run
    check: Check
    baseline: Run | None = None
    live_ms: list[float] = field(default_factory=list)

    def classes(self, kind: str | None = None) -> Counter:
        return Counter(status_class(a) for a in self.run.answers if kind in (None, a.kind))

    @property
    def five_xx(self) -> int:
        return self.classes()["5xx"]

    @property
    def timeouts(self) -> int:
        return self.classes()["timeout"]

    @property
    def probe_failures(self) -> int:
        return sum(1 for p in self.run.probes if p.status != 200)

    def _transport_errors(self) -> str | int:
        """How many requests got no answer but a transport error, by the error's class."""
        failures = Counter(a.failure for a in self.run.answers if status_class(a) == "error")
        total = sum(failures.values())
        return f"{total} {dict(failures)}" if total else 0

    def problems(self) -> list[str]:
        """What went wrong, against the targets: no 5xx (but 503s while the database is
        down or recovering), no timeouts, no lost write, every created row readable at
        once, health answering, aggregates, levels and gradings equal to a recount; every
        error as JSON, every 503 with Retry-After; during an outage every answer within
        ANSWER_LIMIT_S and recovery within RECOVERY_LIMIT_S."""
        c, run = self.check, self.run
        answers = run.answers + run.probes
        found = {
            "5xx answers": sum(
                1
                for a in run.answers
                if a.status and a.status >= 500 and not (a.status == 503 and run.affected(a))
            ),
            "timeouts": self.timeouts,
            "transport errors": self._transport_errors(),
            "error answers not JSON": sum(1 for a in answers if a.status and not a.json_body),
            "503s without Retry-After": sum(
                1 for a in answers if a.status == 503 and not a.retry_after
            ),
            "lost writes": len(c.lost),
            "reads after 201 that missed the row": (
                run.total("read_after_404") + run.total("read_after_stale")
            ),
            "own rows answered 404": run.total("own_row_404"),
            "names stored twice": c.duplicated,
            "region_counts entries unlike the recount": c.count_mismatches,
            "enterprises whose level is stale": c.stale_levels,
            "risk points without their grading": c.ungraded_points,
            "health polls failed outside an outage": sum(
                1 for p in run.probes if p.status != 200 and not run.affected(p)
            ),
        }
        if run.outage:
            f = fault_figures(run)
            found[f"answers during the outage slower than {ANSWER_LIMIT_S:g} s"] = (
                f"{f.longest_s:.1f} s" if f.longest_s >= ANSWER_LIMIT_S else 0
            )
            found[f"no recovery within {RECOVERY_LIMIT_S:g} s"] = (
                _s(f.recovery_s) if f.recovery_s is None or f.recovery_s > RECOVERY_LIMIT_S else 0
            )
        elif (gap := longest_health_gap(run)) > MAX_HEALTH_GAP_S:
            found["longest time without a health answer"] = f"{gap:.1f} s"
        return [f"{what}: {n}" for what, n in found.items() if n]

    def print(self, title: str) -> None:
        print(title)
        print(
            f"{'kind':<18}{'requests':>9}{'2xx':>7}{'3xx':>7}{'4xx':>6}{'5xx':>6}"
            f"{'timeout':>8}{'error':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
            "   baseline p50 / p95 ms   ×p95"
        )
        for kind in (*KINDS, None):
            answers = [a for a in self.run.answers if kind in (None, a.kind)]
            if answers:
                print(self._row(kind, answers))
        for line in self._summary():
            print(line)

    def _row(self, kind: str | None, answers: list[Answer]) -> str:
        classes = Counter(status_class(a) for a in answers)
        ms = [a.seconds * 1000 for a in answers if a.status is not None] or [0.0]
        base = [
            a.seconds * 1000
            for a in (self.baseline.answers if self.baseline else [])
            if kind in (None, a.kind) and a.status is not None
        ]
        base_text = (
            f"{statistics.median(base):8.1f} / {percentile(base, 95):7.1f}"
            f"   {percentile(ms, 95) / percentile(base, 95):5.1f}"
            if base
            else ""
        )
        counts = "".join(
            f"{classes[c]:>{w}}"
            for c, w in (
                ("2xx", 7),
                ("3xx", 7),
                ("4xx", 6),
                ("5xx", 6),
                ("timeout", 8),
                ("error", 6),
            )
        )
        return (
            f"{kind or 'all':<18}{len(answers):>9}{counts}{statistics.median(ms):>9.1f}"
            f"{percentile(ms, 95):>9.1f}{percentile(ms, 99):>9.1f}   {base_text}"
        )

    def _summary(self) -> list[str]:
        run, c = self.run, self.check
        lines = [
            f"throughput {run.rate:.0f} requests/s over {run.ended - run.started:.1f} s"
            + (
                f"; baseline (1 client) {self.baseline.rate:.0f} requests/s"
                if self.baseline
                else ""
            )
        ]
        errors = [a for a in run.answers if a.status and a.status >= 500]
        if errors:
            lines.append(
                f"5xx answers: {dict(Counter(a.status for a in errors))},"
                f" {sum(1 for a in errors if not a.json_body)} of them not JSON,"
                f" {sum(1 for a in errors if a.status == 503 and not a.retry_after)}"
                " 503s without Retry-After"
            )
        if self.live_ms:
            lines.append(
                f"baseline /api/health/live: p50 {statistics.median(self.live_ms):.1f}"
                f" ms, p95 {percentile(self.live_ms, 95):.1f} ms"
                f" (n={len(self.live_ms)})"
            )
        failed = Counter(p.status or p.failure for p in run.probes if p.status != 200)
        probe_ms = [p.seconds * 1000 for p in run.probes] or [0.0]
        lines.append(
            f"health probe: {len(run.probes)} polls, {self.probe_failures} failed"
            f" ({dict(failed)}), p95 {percentile(probe_ms, 95):.0f} ms,"
            f" longest gap {longest_health_gap(run):.1f} s"
        )
        acknowledged = sum(v for k, v in c.acknowledged.items() if k != "cascade")
        lines.append(
            f"writes acknowledged: {acknowledged}"
            f" ({', '.join(f'{k} {v}' for k, v in sorted(c.acknowledged.items()))});"
            f" lost {len(c.lost)}; reads after 201 that were 404:"
            f" {run.total('read_after_404')} (stale {run.total('read_after_stale')});"
            f" own rows answered 404: {run.total('own_row_404')}"
        )
        lines.append(
            f"writes without an answer or with a 5xx: {c.unanswered} creates"
            f" ({c.unanswered_landed} stored), names stored twice {c.duplicated}"
        )
        compared = (
            f"{c.count_mismatches} of {c.counts} region_counts entries differ from the recount"
            if isinstance(c.count_mismatches, int)
            else c.count_mismatches
        )
        lines.append(
            f"aggregates: {compared}; enterprise levels stale: {c.stale_levels};"
            f" risk points without their grading: {c.ungraded_points}"
            + (
                f" (database busy {c.busy_seconds:.1f} s after the run)"
                if c.busy_seconds > 0.5
                else ""
            )
        )
        lines += [f"  lost: {line}" for line in c.lost[:10]]
        if run.outage:
            f, o = fault_figures(run), run.outage
            lines.append(
                f"fault: database down {f.down_s:.1f} s (stopping {o.stopped - o.stop_called:.1f}"
                f" s, stopped {o.start_called - o.stopped:.1f} s, starting"
                f" {o.started - o.start_called:.1f} s); answers overlapping it:"
                f" {dict(f.statuses)}; non-JSON errors {f.non_json_errors};"
                f" 503 without Retry-After {f.missing_retry_after}; slowest {f.longest_s:.2f} s;"
                f" first 2xx of a database request {_s(f.recovery_s)} after the database was"
                f" back, first ready probe {_s(f.probe_recovery_s)}"
            )
        return lines


def _s(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.2f} s"


def live_latency(base_url: str, n: int = 50) -> list[float]:
    """Milliseconds of /api/health/live (no database), or [] when the server lacks it."""
    times = []
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client:
        for _ in range(n):
            started = time.perf_counter()
            if client.get("/api/health/live").status_code != 200:
                return []
            times.append((time.perf_counter() - started) * 1000)
    return times


def measure(
    base_url: str,
    database_url: str | URL,
    *,
    clients: int,
    seconds: float,
    fault: Fault | None = None,
    baseline_seconds: float = 0.0,
    after_run: Callable[[], None] | None = None,
) -> Report:
    """Baseline (optional), the run, then the checks through `database_url` (a role that
    may read every row). `after_run` runs between the run and the checks."""
    targets = read_targets(database_url)
    headers = sign_in(base_url, database_url)
    ledger = Ledger()
    baseline = live = None
    if baseline_seconds:
        live = live_latency(base_url)
        baseline = run_load(base_url, headers, targets, ledger, clients=1, seconds=baseline_seconds)
    run = run_load(
        base_url, headers, targets, ledger, clients=clients, seconds=seconds, fault=fault
    )
    if after_run:
        after_run()
    return Report(run, check(database_url, ledger), baseline, live or [])


def stop_server(process: subprocess.Popen) -> None:
    """Stop a server we started: gracefully, else (requests hanging in it) by force."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# The load database


def load_database_urls(name: str = LOAD_DATABASE) -> tuple[str, str]:
    """SQLAlchemy URLs of database `name` on the configured server: the service's (the app
    role) and the schema owner's (migrations, loads, checks)."""
    settings = get_settings()
    return tuple(
        make_url(url).set(database=name).render_as_string(hide_password=False)
        for url in (settings.sqlalchemy_url, settings.owner_sqlalchemy_url)
    )


def prepare_database(
    owner_url: str, *, enterprises: int, app_dir: Path = PROJECT_ROOT, log=print
) -> None:
    """Create, migrate and fill a load database when needed; remove earlier runs' rows.

    Migrations and loads are the `riskatlas` commands of the checkout in `app_dir`, so an
    older checkout gets the schema its own code expects.
    """
    settings = get_settings()
    name = make_url(owner_url).database
    if name in ("riskatlas", settings.database_name) or name.startswith("riskatlas_test"):
        raise ValueError(f"{name} is not a benchmark database")
    if settings.embedded:
        embedded_db.start(settings)
        embedded_db.ensure_database(settings, name)
    else:
        with psycopg.connect(settings.owner_libpq_url, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(libpq_url(owner_url), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def riskatlas(*args: str) -> None:
        url = libpq_url(owner_url)
        env = {**os.environ, "DATABASE_URL": url, "RISKATLAS_OWNER_DATABASE_URL": url}
        subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=app_dir, env=env, check=True)

    riskatlas("db", "migrate")
    with psycopg.connect(libpq_url(owner_url), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM regions WHERE code = %s", (PROVINCE,)).fetchone():
            log("loading Ningxia's divisions …")
            riskatlas("load", "regions", "--provinces", PROVINCE)
        for table in ("risk_points", "enterprises"):
            conn.execute(f"DELETE FROM {table} WHERE name LIKE %s", (NAME_PREFIX + "%",))
        if not conn.execute("SELECT 1 FROM enterprises LIMIT 1").fetchone():
            log(f"loading a demo of {enterprises} enterprises …")
            riskatlas("load", "demo", "--enterprises", str(enterprises))


def serve_workers() -> int:
    """How many processes `riskatlas serve` starts by default."""
    return build_parser().parse_args(["serve"]).workers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--url", help="a running server on loopback (default: start one)")
    parser.add_argument(
        "--database",
        default=LOAD_DATABASE,
        help="database on the configured server, prepared when needed",
    )
    parser.add_argument("--database-url", help="a database the server uses, as it is")
    parser.add_argument(
        "--workers", type=int, help="server processes (default: as riskatlas serve)"
    )
    parser.add_argument(
        "--app-dir",
        type=Path,
        default=PROJECT_ROOT,
        help="serve the code of another checkout (e.g. a git archive)",
    )
    parser.add_argument("--enterprises", type=int, default=1000, help="demo size when loading")
    parser.add_argument(
        "--baseline-seconds", type=float, default=5, help="the same mix with one client first"
    )
    parser.add_argument("--fault", action="store_true", help="stop the database during the run")
    parser.add_argument("--fault-at", type=float, help="seconds into the run (default: a third)")
    parser.add_argument("--outage", type=float, default=5.0, help="seconds the database is down")
    args = parser.parse_args(argv)

    if args.app_dir != PROJECT_ROOT:
        # The other checkout shares this one's local state: embedded cluster, secrets.
        os.environ.setdefault("RISKATLAS_DATA_DIR", str(get_settings().data_dir))
    if args.database_url:
        database_url = owner_url = args.database_url
    else:
        database_url, owner_url = load_database_urls(args.database)
        prepare_database(owner_url, enterprises=args.enterprises, app_dir=args.app_dir)
    fault = (
        Fault(args.fault_at if args.fault_at is not None else args.seconds / 3, args.outage)
        if args.fault
        else None
    )
    server = None
    base_url = args.url
    workers = args.workers or serve_workers()
    if base_url is None:
        server, port = start_server(database_url, workers, app_dir=args.app_dir)
        base_url = f"http://127.0.0.1:{port}"
    try:
        # A server we started is stopped before the checks: whatever it acknowledged must
        # be stored by then, and nothing still hanging in it can commit later.
        report = measure(
            base_url,
            owner_url,
            clients=args.clients,
            seconds=args.seconds,
            fault=fault,
            baseline_seconds=args.baseline_seconds,
            after_run=(lambda: stop_server(server)) if server else None,
        )
    finally:
        if server and server.poll() is None:
            stop_server(server)
    where = (
        f"{base_url} ({workers} process{'es' if workers > 1 else ''}"
        + (f", code of {args.app_dir}" if args.app_dir != PROJECT_ROOT else "")
        + ")"
        if server
        else base_url
    )
    report.print(
        f"{args.clients} clients × {args.seconds:g} s on {where},"
        f" database {make_url(database_url).database}"
        + (f"; database stopped for {fault.outage:g} s at {fault.at:.3g} s" if fault else "")
    )
    problems = report.problems()
    for problem in problems:
        print(f"FAILED: {problem}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
