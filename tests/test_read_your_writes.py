"""A commit that wrote waits for this process's version listener to hear it, and only it.

With a LayerVersions listener of its own on the test database (as an API process has), a
transaction that writes sends a token before its commit and the commit returns once the
listener has heard it; a read-only one sends none; a commit that fails leaves no token
behind for the next write to wait on. (tests/test_served_reads.py shows what it is for: a
tile read right after a write shows it.)
"""

import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.settings import _libpq_url
from app.tiles import read_your_writes
from app.tiles.versions import SYNC_CHANNEL, LayerVersions, wait_until_live


@pytest.fixture
def libpq_url(owner_engine: Engine) -> str:
    return _libpq_url(owner_engine.url.render_as_string(hide_password=False))


@pytest.fixture
def listener(libpq_url: str) -> Iterator[LayerVersions]:
    versions = LayerVersions(libpq_url)
    versions.start()
    assert wait_until_live(versions)
    read_your_writes.follow(versions)
    yield versions
    read_your_writes.follow(None)
    versions.stop()


@pytest.fixture
def tokens(libpq_url: str) -> Iterator[psycopg.Connection]:
    """A connection of the test's own listening on the sync channel."""
    with psycopg.connect(libpq_url, autocommit=True) as connection:
        connection.execute(f"LISTEN {SYNC_CHANNEL}")
        yield connection


@pytest.fixture
def probe_table(owner_engine: Engine) -> Iterator[None]:
    with owner_engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE ryw_probe (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)")
        )
    yield
    with owner_engine.begin() as connection:
        connection.execute(text("DROP TABLE ryw_probe"))


def _write(owner_engine: Engine, values: str) -> float:
    """Seconds a transaction inserting `values` into ryw_probe takes, commit included."""
    started = time.perf_counter()
    with Session(owner_engine) as session, session.begin():
        session.execute(text(f"INSERT INTO ryw_probe (x) VALUES {values}"))
    return time.perf_counter() - started


def _heard(tokens: psycopg.Connection) -> int:
    return sum(1 for _ in tokens.notifies(timeout=0.3))


@pytest.mark.usefixtures("listener", "probe_table")
def test_a_write_sends_one_token_and_a_read_none(
    owner_engine: Engine, tokens: psycopg.Connection
) -> None:
    assert _write(owner_engine, "(1)") < read_your_writes.WAIT_S
    assert _heard(tokens) == 1

    with Session(owner_engine) as session, session.begin():
        session.execute(text("SELECT count(*) FROM ryw_probe")).scalar_one()
    assert _heard(tokens) == 0


@pytest.mark.usefixtures("listener", "probe_table")
def test_a_failed_commit_leaves_nothing_to_wait_for(
    owner_engine: Engine, tokens: psycopg.Connection
) -> None:
    # The deferred unique check fails at COMMIT, after the token was sent; PostgreSQL
    # drops the notifications of a transaction that did not commit.
    with pytest.raises(IntegrityError):
        _write(owner_engine, "(7), (7)")
    assert _heard(tokens) == 0

    # What this thread commits next waits for no lost token: a read for none at all, a
    # write for its own only.
    started = time.perf_counter()
    with Session(owner_engine) as session, session.begin():
        session.execute(text("SELECT count(*) FROM ryw_probe")).scalar_one()
    assert time.perf_counter() - started < read_your_writes.WAIT_S / 4
    assert _write(owner_engine, "(8)") < read_your_writes.WAIT_S / 4
    assert _heard(tokens) == 1


def test_without_a_listener_a_write_sends_no_token(
    owner_engine: Engine, tokens: psycopg.Connection, probe_table: None
) -> None:
    read_your_writes.follow(None)
    _write(owner_engine, "(9)")
    assert _heard(tokens) == 0
