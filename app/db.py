"""Engine and sessions."""

from collections.abc import AsyncIterator
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.settings import get_settings


@lru_cache
def get_engine() -> Engine:
    """Return the process-wide engine."""
    return create_engine(
        get_settings().sqlalchemy_url, pool_size=10, max_overflow=20, pool_pre_ping=True
    )


def session_factory() -> sessionmaker[Session]:
    """Return a session factory bound to the engine."""
    return sessionmaker(get_engine(), expire_on_commit=False)


async def get_session() -> AsyncIterator[Session]:
    """Yield a session that commits on success and rolls back on error.

    Creating a session does no I/O, so this runs on the event loop; the commit, rollback
    and close that talk to the database run in the thread pool, and only when the request
    used the database (a cached tile needs none of it).
    """
    session = session_factory()()
    try:
        yield session
        if session.in_transaction():
            await run_in_threadpool(session.commit)
    except Exception:
        if session.in_transaction():
            await run_in_threadpool(session.rollback)
        raise
    finally:
        if session.get_transaction() is not None:
            await run_in_threadpool(session.close)
        else:
            session.close()
