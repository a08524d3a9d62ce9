"""Engine and sessions."""

from collections.abc import Iterator
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

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


def get_session() -> Iterator[Session]:
    """Yield a session that commits on success and rolls back on error."""
    with session_factory()() as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise
