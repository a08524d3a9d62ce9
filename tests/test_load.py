"""Issue 9 from outside: many clients at once on a live server lose no write and never stall.

bench/load.py's run, short: CLIENTS clients for SECONDS s against uvicorn on the test
database (tests/conftest.py's `live_server_url`, one process), then its checks by SQL.
"""

import http.client
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import Engine, text

from app.settings import get_settings
from bench.load import longest_health_gap, measure
from tests.conftest import COMMITTED_TABLES

CLIENTS = 40
SECONDS = 15


@pytest.fixture
def committed_rows_removed(owner_engine: Engine) -> Iterator[None]:
    """Remove what the live server committed, once the test is over."""
    yield
    with owner_engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {COMMITTED_TABLES}"))


def test_many_clients_get_answers_and_every_acknowledged_write_is_stored(
    live_server_url: str, owner_engine: Engine, committed_rows_removed: None
) -> None:
    # The engine's URL object, not its text: failure reports show it without the password.
    report = measure(live_server_url, owner_engine.url, clients=CLIENTS, seconds=SECONDS)
    report.print(f"{CLIENTS} clients × {SECONDS} s on {live_server_url}")  # shown on failure

    # The run did what it says, so the checks below cannot pass on nothing.
    assert len(report.run.answers) >= 10 * CLIENTS
    assert (
        min(
            report.check.acknowledged[kind]
            for kind in ("create_enterprise", "create_risk_point", "patch", "delete")
        )
        >= 10
    )

    classes = report.classes()
    assert classes["5xx"] == 0
    assert classes["timeout"] == 0
    assert report.check.lost == []
    assert report.run.total("read_after_404") == 0
    assert report.probe_failures == 0
    assert longest_health_gap(report.run) < 5
    assert report.check.count_mismatches == 0
    assert report.check.stale_levels == 0
    assert report.problems() == []


def test_an_idle_keep_alive_connection_stays_open_longer_than_clients_keep_theirs(
    live_server_url: str,
) -> None:
    # The client must be the side that closes an idle connection: a server closing it as a
    # request arrives loses that request (the load run above once lost one that way with
    # uvicorn's 5 s default, the same as httpx's keep-alive expiry).
    idle_s = httpx.Limits().keepalive_expiry
    assert idle_s is not None and get_settings().keep_alive_s > idle_s
    host, port = urlsplit(live_server_url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", "/api/health")
        assert connection.getresponse().read()
        time.sleep(idle_s + 1)
        connection.request("GET", "/api/health")  # on the same socket; it raises if closed
        assert connection.getresponse().status == 200
    finally:
        connection.close()
