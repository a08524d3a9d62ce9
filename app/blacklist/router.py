"""/api/blacklist: list, read, remove, expire entries; the public list."""

from typing import Annotated, Any, Literal

from fastapi import Path, Query

from app.blacklist import service
from app.blacklist.schemas import BlacklistIn, RemovalIn
from app.datetimes import china_today
from app.db import api_router
from app.deps import ScopeDep, SessionDep

router = api_router(prefix="/api/blacklist", tags=["blacklist"])

EntryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="entry id")]
Region = Annotated[str | None, Query(pattern=r"^\d{2,6}$")]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


@router.get("")
def list_entries(
    session: SessionDep,
    scope: ScopeDep,
    region: Region = None,
    state: Literal["active", "removed", "all"] = "active",
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Entries of the caller's region (officials, admins): in force, removed, or all."""
    return service.listing(
        session,
        scope=scope,
        today=china_today(),
        region=region,
        state=state,
        limit=limit,
        offset=offset,
    )


@router.get("/public")
def public_list(
    session: SessionDep, region: Region = None, limit: Limit = 100, offset: Offset = 0
) -> list[dict[str, Any]]:
    """The published list (公示): listings in force that were decided to be published."""
    return service.listing(
        session,
        scope=None,
        today=china_today(),
        region=region,
        state="active",
        limit=limit,
        offset=offset,
    )


@router.post("", status_code=201)
def create_entry(body: BlacklistIn, session: SessionDep, scope: ScopeDep) -> dict[str, Any]:
    """List an enterprise (reason, legal basis, decision date, period; the deciding official
    is the caller)."""
    return service.create(session, body=body, scope=scope, today=china_today())


@router.post("/expirations")
def expire(session: SessionDep, scope: ScopeDep) -> dict[str, int]:
    """Remove every listing whose period has ended (run daily)."""
    return {"expired": service.expire(session, scope=scope, today=china_today())}


@router.get("/{id}")
def read_entry(id: EntryId, session: SessionDep, scope: ScopeDep) -> dict[str, Any]:
    """One entry."""
    return service.read(session, id=id, scope=scope)


@router.post("/{id}/removal")
def remove_entry(
    id: EntryId, body: RemovalIn, session: SessionDep, scope: ScopeDep
) -> dict[str, Any]:
    """End a listing: `expired` after its period, `review` earlier with a note."""
    return service.remove(session, id=id, body=body, scope=scope, today=china_today())
