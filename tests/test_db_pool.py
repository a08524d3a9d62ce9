"""Pooled connections: a connection that sat idle is pinged before use and replaced when
its server process is gone; one in steady use is not pinged (a round trip saved per
request); search connections read in autocommit with bitmap scans off."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from app import db


@pytest.fixture
def search_engine(database_urls: tuple[str, str], owner_engine: Engine) -> Iterator[Engine]:
    engine = db.create_search_engine(database_urls[0], pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _backend(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _kill(engine: Engine, pid: int) -> None:
    # The same role may end its own sessions.
    with engine.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()


def test_an_idle_dead_connection_is_replaced_before_use(
    search_engine: Engine, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend(search_engine)
    _kill(engine, first)
    monkeypatch.setattr(db, "IDLE_BEFORE_PING_S", 0.0)
    assert _backend(search_engine) != first


def test_a_connection_in_steady_use_is_not_pinged(
    search_engine: Engine, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "IDLE_BEFORE_PING_S", 3600.0)
    first = _backend(search_engine)
    _kill(engine, first)
    # Handed out unchecked: the statement finds the server process gone …
    with pytest.raises(OperationalError), search_engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    # … and the pool has replaced its connections for the next request.
    assert _backend(search_engine) != first


def test_search_connections_autocommit_without_bitmap_scans(search_engine: Engine) -> None:
    with search_engine.connect() as connection:
        assert connection.execute(text("SHOW enable_bitmapscan")).scalar_one() == "off"
        # Each statement is its own transaction: now() moves between them.
        first = connection.execute(text("SELECT now()")).scalar_one()
        connection.execute(text("SELECT pg_sleep(0.01)"))
        assert connection.execute(text("SELECT now()")).scalar_one() > first
