"""GET /api/registers/{layer}: a list exported as XLSX or CSV (Chinese headers)."""

from typing import Annotated, Any, Literal

from fastapi import Path, Query, Response

from app.datetimes import UpdatedSince, china_today
from app.db import api_router
from app.deps import ScopeDep, SessionDep
from app.registers import tables
from app.registers.service import REGISTERS, rows

router = api_router(prefix="/api/registers", tags=["registers"])

Layer = Literal[
    "enterprises", "risk_points", "hazard_sources", "hidden_dangers", "inspections", "rankings"
]
assert set(Layer.__args__) == set(REGISTERS)  # type: ignore[attr-defined]
_FILES: dict[int | str, dict[str, Any]] = {
    200: {"content": {tables.XLSX_MEDIA_TYPE: {}, tables.CSV_MEDIA_TYPE: {}}},
}


@router.get("/{layer}", response_class=Response, responses=_FILES)
def export_register(
    session: SessionDep,
    scope: ScopeDep,
    layer: Annotated[Layer, Path(description="the list to export")],
    format: Annotated[Literal["xlsx", "csv"], Query(description="file format")] = "xlsx",
    region: Annotated[str | None, Query(pattern=r"^\d{2,6}$")] = None,
    level: Annotated[str | None, Query(max_length=40, description="e.g. red,orange")] = None,
    sector: Annotated[str | None, Query(max_length=200)] = None,
    q: Annotated[str | None, Query(max_length=100, description="name contains")] = None,
    updated_since: UpdatedSince = None,
    grade: Annotated[Literal["general", "larger", "major"] | None, Query()] = None,
    status: Annotated[str | None, Query(pattern=r"^[a-z_]{1,24}$")] = None,
    overdue: bool | None = None,
    supervision_level: Annotated[Literal["street", "district", "city"] | None, Query()] = None,
    enterprise_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    kind: Annotated[Literal["self_check", "spot_check", "grid_check"] | None, Query()] = None,
    grid: Annotated[str | None, Query(max_length=40)] = None,
    parent: Annotated[str | None, Query(pattern=r"^\d{6}$", description="rankings: parent")] = None,
    blacklisted: Annotated[
        bool | None, Query(description="enterprises on the blacklist today, and their rows")
    ] = None,
) -> Response:
    """The list with the same filters as its own endpoint, inside the caller's scope."""
    register = REGISTERS[layer]
    filters = {
        "region": region,
        "level": level,
        "sector": sector,
        "q": q,
        "updated_since": updated_since,
        "grade": grade,
        "status": status,
        "overdue": overdue,
        "supervision_level": supervision_level,
        "enterprise_id": enterprise_id,
        "kind": kind,
        "grid": grid,
        "parent": parent,
        # False is no filter: only `true` narrows the list.
        "blacklisted": blacklisted or None,
    }
    data = list(rows(session, layer=layer, scope=scope, today=china_today(), filters=filters))
    headers = [header for _, header, _ in register.columns]
    name = f"{layer}.{format}"
    if format == "csv":
        body, media = tables.csv_bytes(headers, data), tables.CSV_MEDIA_TYPE
    else:
        body, media = tables.xlsx([(register.name_zh, headers, data)]), tables.XLSX_MEDIA_TYPE
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
