"""Liveness and readiness: answered on the event loop, never queued behind requests.

Readiness opens its own short-lived connection instead of borrowing from the request
pool, so a saturated pool or thread pool cannot make the service look dead, and a
database outage is reported within `db_connect_timeout_s`.
"""

import asyncio

import psycopg
from fastapi import APIRouter

from app.errors import ERROR_RESPONSES, ServiceUnavailable
from app.settings import get_settings

router = APIRouter(prefix="/api/health", tags=["health"], responses=ERROR_RESPONSES)


@router.get("/live")
async def live() -> dict[str, str]:
    """The process is up and serving (no database involved)."""
    return {"status": "ok"}


async def _postgis_version() -> str:
    settings = get_settings()
    connection = await psycopg.AsyncConnection.connect(
        settings.libpq_url, connect_timeout=settings.db_connect_timeout_s
    )
    async with connection:
        cursor = await connection.execute("SELECT postgis_lib_version()")
        row = await cursor.fetchone()
        return str(row[0]) if row else "unknown"


@router.get("/ready")
@router.get("")
async def ready() -> dict[str, str]:
    """The database and PostGIS answer: 200, else 503 with Retry-After."""
    try:
        postgis = await asyncio.wait_for(
            _postgis_version(), get_settings().db_connect_timeout_s + 1
        )
    except (psycopg.Error, OSError, TimeoutError) as error:
        raise ServiceUnavailable("the database is unavailable; retry shortly") from error
    return {"status": "ok", "database": "ok", "postgis": postgis}
