"""Engine, sessions and the one rule for transactions: commit before the response leaves.

Every synchronous endpoint that takes a session runs inside `in_transaction`: its work and
its COMMIT happen in the same worker thread, before FastAPI sends anything. So an
acknowledged write is stored, a read right after it finds the row, and a request never
holds a pooled connection while it waits for another thread to commit it. Deadlocks and
serialisation failures are retried a bounded number of times with the whole endpoint.
"""

import functools
import inspect
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from functools import lru_cache
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
from fastapi import APIRouter
from fastapi.routing import APIRoute
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from starlette.concurrency import run_in_threadpool

from app import idempotency
from app.settings import Settings, get_settings

log = logging.getLogger(__name__)

# PostgreSQL errors that mean "the same transaction would succeed if run again".
RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected

P = ParamSpec("P")
T = TypeVar("T")


# Nearest-first searches (nearby, emergency resources) are single read-only statements.
# Their connections run in autocommit (no BEGIN and COMMIT round trips) with bitmap scans
# off: misled by estimates — of a box, of a county prefix a generic plan cannot see, of a
# colour filter — the planner would read whole boxes through bitmaps and sort them instead
# of walking the GiST index in distance order and stopping after the candidates.
SEARCH_SETTINGS = {"enable_bitmapscan": "off"}
# Search connections kept open; bursts borrow more, up to one per request thread.
SEARCH_POOL_SIZE = 4


def server_options(settings: Settings, extra: dict[str, str] | None = None) -> str:
    """libpq `options` giving API connections their server-side time limits (and `extra`
    settings)."""
    values = {
        "statement_timeout": settings.statement_timeout_ms,
        "idle_in_transaction_session_timeout": settings.idle_in_transaction_timeout_ms,
        **(extra or {}),
    }
    return " ".join(f"-c {name}={value}" for name, value in values.items())


def _create_engine(
    url: str, settings: Settings, *, extra: dict[str, str] | None = None, **kwargs: Any
) -> Engine:
    engine = create_engine(
        url,
        pool_timeout=settings.db_pool_timeout_s,
        connect_args={
            "connect_timeout": settings.db_connect_timeout_s,
            "options": server_options(settings, extra),
        },
        **kwargs,
    )
    _ping_when_idle(engine)
    return engine


# A connection back in the pool for longer than this is pinged before it is handed out.
IDLE_BEFORE_PING_S = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Ping pooled connections that sat idle, not every checkout (`pool_pre_ping` costs a
    round trip per request). A connection in steady use needs none: should the server have
    restarted meanwhile, its first statement fails with a 503 and SQLAlchemy replaces every
    pooled connection at once."""

    @event.listens_for(engine, "checkin")
    def _note_idle_since(_: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, _: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error:
            alive = False
        if not alive:
            # The pool discards this connection and hands out another (or a new one).
            raise DisconnectionError("the pooled connection is gone")


@lru_cache
def get_engine() -> Engine:
    """Return the process-wide engine, its pool sized with the request thread pool."""
    settings = get_settings()
    return _create_engine(
        settings.sqlalchemy_url,
        settings,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )


def create_search_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for nearest-first searches (see SEARCH_SETTINGS); read-only work only."""
    return _create_engine(
        url, get_settings(), extra=SEARCH_SETTINGS, isolation_level="AUTOCOMMIT", **kwargs
    )


@lru_cache
def get_search_engine() -> Engine:
    """Return the process-wide engine of nearest-first searches."""
    settings = get_settings()
    return create_search_engine(
        settings.sqlalchemy_url,
        pool_size=SEARCH_POOL_SIZE,
        max_overflow=max(request_threads(settings) - SEARCH_POOL_SIZE, 0),
    )


def request_threads(settings: Settings) -> int:
    """Worker threads for requests: one per connection the pool can hand out."""
    return settings.db_pool_size + settings.db_max_overflow


def size_thread_pool(settings: Settings) -> None:
    """Limit concurrent request threads to the connections available to them."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = request_threads(settings)


@lru_cache
def session_factory() -> sessionmaker[Session]:
    """Return a session factory bound to the engine."""
    return sessionmaker(get_engine(), expire_on_commit=False)


async def get_session() -> AsyncIterator[Session]:
    """Yield a session; endpoints finish their own transaction (see `in_transaction`)."""
    async for session in session_scope(session_factory()()):
        yield session


async def get_search_session() -> AsyncIterator[Session]:
    """Yield a session of the search engine: each statement commits by itself."""
    async for session in session_scope(Session(get_search_engine())):
        yield session


async def session_scope(session: Session) -> AsyncIterator[Session]:
    """Yield `session` to one request, then release it.

    Creating a session does no I/O, so this runs on the event loop. Only a request that
    failed half-way still holds a transaction here; it is rolled back in the thread pool.
    """
    try:
        yield session
    finally:
        if session.get_transaction() is not None:
            await run_in_threadpool(_discard, session)
        else:
            session.close()


def _discard(session: Session) -> None:
    try:
        session.rollback()
    except DBAPIError:
        log.warning("rollback failed: the connection is gone", exc_info=True)
    finally:
        session.close()


def is_retryable(error: BaseException) -> bool:
    """True for a deadlock or serialisation failure (the transaction may simply rerun)."""
    return (
        isinstance(error, DBAPIError)
        and getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES
    )


def run_transaction(session: Session, work: Callable[[], T], *, retries: int) -> T:
    """Run `work` and commit; on a deadlock roll back and run it again (bounded)."""
    for attempt in range(retries + 1):
        try:
            result = work()
            session.commit()
            return result
        except BaseException as error:
            _rollback_quietly(session)
            if attempt < retries and is_retryable(error):
                # Jitter, so the transactions that deadlocked do not collide again.
                time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _rollback_quietly(session: Session) -> None:
    try:
        session.rollback()
    except DBAPIError:
        # The connection died (database down); the pool discards it on return.
        log.warning("rollback failed: the connection is gone", exc_info=True)


def in_transaction(endpoint: Callable[P, T]) -> Callable[P, T]:
    """Wrap a synchronous endpoint so it commits (or retries) before returning."""

    @functools.wraps(endpoint)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        session = next((v for v in kwargs.values() if isinstance(v, Session)), None)
        if session is None:
            return endpoint(*args, **kwargs)
        return run_transaction(
            session, lambda: endpoint(*args, **kwargs), retries=get_settings().write_retries
        )

    return run


async def run_in_session_thread(
    session: Session, work: Callable[..., T], /, *args: Any, **kwargs: Any
) -> T:
    """For asynchronous endpoints: run database work and its commit in one worker thread."""
    return await run_in_threadpool(
        run_transaction, session, functools.partial(work, *args, **kwargs), retries=0
    )


class TransactionalRoute(APIRoute):
    """An API route whose synchronous endpoint finishes its transaction itself."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if idempotency.applies_to(endpoint, kwargs.get("methods"), kwargs.get("name")):
            # Inside the transaction: the key is claimed and answered with the write.
            endpoint = idempotency.idempotent(endpoint, status_code=kwargs.get("status_code"))
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = in_transaction(endpoint)
        super().__init__(path, endpoint, **kwargs)


def api_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose routes commit before responding and document error bodies."""
    from app.errors import ERROR_RESPONSES  # noqa: PLC0415  (errors is imported by routers)

    return APIRouter(route_class=TransactionalRoute, responses=ERROR_RESPONSES, **kwargs)
