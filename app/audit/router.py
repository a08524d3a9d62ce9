"""GET /api/audit: the change history, for admins and for officials within their region."""

from typing import Annotated, Any

from fastapi import Query

from app.audit import service
from app.datetimes import UpdatedSince
from app.db import api_router
from app.deps import ScopeDep, SessionDep

router = api_router(prefix="/api", tags=["audit"])


@router.get("/audit")
def audit_log(
    session: SessionDep,
    scope: ScopeDep,
    table: Annotated[str | None, Query(max_length=40, description="e.g. enterprises")] = None,
    id: Annotated[str | None, Query(max_length=40, description="row id (or code)")] = None,
    user: Annotated[str | None, Query(max_length=64, description="username")] = None,
    start: Annotated[UpdatedSince, Query(alias="from")] = None,
    end: Annotated[UpdatedSince, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_AUDIT_ROWS)] = 100,
) -> list[dict[str, Any]]:
    """Who changed which row when, from where, before and after; newest first."""
    return service.query(
        session,
        scope=scope,
        table_name=table,
        row_id=id,
        username=user,
        start=start,
        end=end,
        limit=limit,
    )
