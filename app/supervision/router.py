"""Endpoints of the key-supervision list (重点监管名单)."""

from typing import Annotated, Any

from fastapi import Query

from app.datetimes import china_today
from app.db import api_router
from app.deps import ScopeDep, SessionDep
from app.supervision import service
from app.supervision.schemas import KeyListIn

router = api_router(prefix="/api/key-supervision", tags=["key supervision"])


@router.get("", name="key_supervision_list")
def key_list(
    session: SessionDep,
    scope: ScopeDep,
    region: Annotated[str, Query(pattern=r"^\d{6}$", description="a city or county code")],
    year: Annotated[int | None, Query(ge=2000, le=2100, description="default this year")] = None,
) -> dict[str, Any]:
    """The region's list for the year, its limits, and candidates (red, overdue, repeated
    findings) beside it."""
    today = china_today()
    return service.key_list(
        session, scope=scope, region=region, year=year or today.year, today=today
    )


@router.put("", name="save_key_supervision_list")
def save_list(body: KeyListIn, session: SessionDep, scope: ScopeDep) -> dict[str, Any]:
    """Replace the region's list for the year (officials of the region; limits as data)."""
    return service.save_list(session, scope=scope, body=body, today=china_today())
