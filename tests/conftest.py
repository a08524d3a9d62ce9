"""Test fixtures: a real PostGIS test database, migrated and loaded with China once per run.

Each test runs inside a transaction that is rolled back, so tests never see each other.
With DATABASE_URL unset the embedded cluster is used (started if needed); otherwise a
database named `riskatlas_test` is created on that server by the owner role
(RISKATLAS_OWNER_DATABASE_URL, else DATABASE_URL's). `engine` logs in as the app role, like
the API; `owner_engine` as the owner, which migrates and loads.
"""

import os
from contextlib import contextmanager

# The in-process test app reads layer versions from the table: its writes happen in
# transactions that are rolled back, so PostgreSQL never sends their notifications.
os.environ["RISKATLAS_TILE_VERSIONS"] = "query"

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from app import embedded_db, migrate
from app.auth import tokens
from app.auth.models import User
from app.auth.passwords import hash_password
from app.db import get_search_session, get_session
from app.main import create_app
from app.regions.loader import load_regions, read_index
from app.settings import PROJECT_ROOT, get_settings

# Parallel runs on one server (several checkouts, helpers) each take their own database.
TEST_DATABASE = os.environ.get("RISKATLAS_TEST_DATABASE", "riskatlas_test")
TEST_PASSWORD = "test-password-1"
# Every table whose rows a test may commit (live servers, demo fixtures): emptied at the
# start of a run and after the tests that commit through a live server.
COMMITTED_TABLES = (
    "hidden_dangers, risk_points, hazard_sources, public_zones, emergency_resources,"
    " enterprises, grid_cells, assessments, region_count_snapshots, region_counts, users,"
    " login_failures, key_supervision, chemical_parks, hazard_safety_zones,"
    " planning_reports, planning_rule_sets, blacklist_entries, enforcement_actions,"
    " enterprise_level_changes, leads, idempotency_keys, import_progress"
)


def _create_test_database(owner_url: URL) -> None:
    """On a server of one's own (DATABASE_URL): the owner creates the test database."""
    admin = owner_url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (TEST_DATABASE,)
        ).fetchone():
            conn.execute(f'CREATE DATABASE "{TEST_DATABASE}"')
    with psycopg.connect(
        owner_url.set(database=TEST_DATABASE, drivername="postgresql").render_as_string(
            hide_password=False
        ),
        autocommit=True,
    ) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


@pytest.fixture(scope="session")
def database_urls() -> tuple[str, str]:
    """The test database's URLs as (app role, owner role), with their passwords.

    The test database is set up like the service's: the owner migrates and loads it, the
    API's tests run as the app role.
    """
    settings = get_settings()
    if settings.embedded:
        # First: set-up makes the roles' passwords that the URLs carry.
        embedded_db.start(settings)
        embedded_db.ensure_database(settings, TEST_DATABASE)
    app_url = make_url(settings.sqlalchemy_url).set(database=TEST_DATABASE)
    owner_url = make_url(settings.owner_sqlalchemy_url).set(database=TEST_DATABASE)
    if not settings.embedded:
        _create_test_database(owner_url)
    return (
        app_url.render_as_string(hide_password=False),
        owner_url.render_as_string(hide_password=False),
    )


@pytest.fixture(scope="session")
def owner_engine(database_urls: tuple[str, str]) -> Iterator[Engine]:
    """The migrated test database with all of China's divisions loaded (once), as the owner."""
    app_url, owner_url = database_urls
    migrate.upgrade(owner_url, app_url=app_url)
    engine = create_engine(owner_url)
    _, code_version = read_index()
    with engine.begin() as connection:
        loaded = connection.execute(
            text("SELECT count(*) FROM regions WHERE code_version = :v"), {"v": code_version}
        ).scalar_one()
        if loaded < 3000:
            load_regions(connection)
        # Tests build exactly the data they need: start from no located rows, whatever an
        # interrupted earlier run left committed.
        connection.execute(text(f"TRUNCATE {COMMITTED_TABLES}"))
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def engine(database_urls: tuple[str, str], owner_engine: Engine) -> Iterator[Engine]:
    """The prepared test database as the API sees it: the app role (rows only, no DDL)."""
    engine = create_engine(database_urls[0])
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        # Deferred triggers (layer versions) would fire only at a commit that never comes.
        connection.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
        yield connection
        transaction.rollback()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """An ORM session whose commits become savepoints of the test's transaction."""
    with Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as session:
        yield session


@pytest.fixture(scope="session")
def password_hash() -> str:
    """The argon2 hash of TEST_PASSWORD, computed once (hashing is slow on purpose)."""
    return hash_password(TEST_PASSWORD)


@pytest.fixture
def make_user(session: Session, password_hash: str) -> Callable[..., dict[str, str]]:
    """Create a user in the test's transaction; return its Authorization header.

    `make_user("official", region_code="640100")`, `make_user("enterprise",
    enterprise_id=7)` …; the user's password is TEST_PASSWORD.
    """

    def make(role: str, username: str | None = None, **scope: object) -> dict[str, str]:
        user = User(
            username=username or f"{role}-{uuid.uuid4().hex[:10]}",
            password_hash=password_hash,
            role=role,
            **scope,
        )
        session.add(user)
        # Committed (to a savepoint of the test's transaction): a request that fails
        # and rolls back must not take the user with it.
        session.commit()
        token, _ = tokens.issue(user.id, user.token_version, "access")
        return {"Authorization": f"Bearer {token}"}

    return make


# An empty Authorization header: the request is the public's.
PUBLIC = {"Authorization": ""}


@pytest.fixture
def client(session: Session, make_user: Callable[..., dict[str, str]]) -> Iterator[TestClient]:
    """The API, served from the test's session, signed in as an admin.

    Send `headers=PUBLIC` for the public, or `headers=make_user(role, …)` for another user.
    """
    app = create_app()

    def test_session() -> Iterator[Session]:
        yield session
        session.flush()

    app.dependency_overrides[get_session] = test_session
    # Searches see the test's uncommitted rows too (with the planner's defaults).
    app.dependency_overrides[get_search_session] = test_session
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers.update(make_user("admin"))
        yield client


@pytest.fixture(scope="module")
def live_users(engine: Engine, password_hash: str) -> dict[str, str]:
    """Committed users for tests against a live server: username by role, TEST_PASSWORD.

    admin; official of 宁夏 (640000); planner of 宁夏. Made for each module when missing:
    the live-server tests' clean-up (`COMMITTED_TABLES`) empties the users table.
    """
    users = {
        "admin": ("live-admin", {}),
        "official": ("live-nx-official", {"region_code": "640000"}),
        "planner": ("live-nx-planner", {"region_code": "640000"}),
    }
    with Session(engine) as session, session.begin():
        for role, (username, scope) in users.items():
            if (
                session.scalar(text("SELECT 1 FROM users WHERE username = :u"), {"u": username})
                is None
            ):
                session.add(
                    User(username=username, role=role, password_hash=password_hash, **scope)
                )
    return {role: username for role, (username, _) in users.items()}


def live_token(url: str, username: str) -> str:
    """Sign in on a live server; the access token."""
    import httpx

    response = httpx.post(
        f"{url}/api/auth/token", data={"username": username, "password": TEST_PASSWORD}, timeout=30
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def served_app(env: dict[str, str]) -> Iterator[str]:
    """uvicorn serving the app in a process of its own with `env` added to the environment:
    its base URL once /api/health answers; stopped on leaving."""
    port = _free_port()
    # A file, not a pipe: a pipe nobody reads would stall a server that logs much.
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--timeout-keep-alive",
            str(get_settings().keep_alive_s),
        ],
        env={**os.environ, **env},
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/health", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    log.seek(0)
                    raise RuntimeError(
                        f"the test server did not start: {log.read().decode()}"
                    ) from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def live_server_url(engine: Engine) -> Iterator[str]:
    """The app served by uvicorn over HTTP on the test database (sees committed data only)."""
    # DATABASE_URL is the app role's, as for the deployed service.
    with served_app(
        {
            "DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "RISKATLAS_TILE_VERSIONS": "notify",
        }
    ) as url:
        yield url
