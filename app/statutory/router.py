"""Statutory tables (JSON or XLSX) and enforcement actions."""

from collections.abc import Callable
from typing import Any

from fastapi import Response

from app.db import api_router
from app.deps import ScopeDep, SessionDep
from app.registers.tables import XLSX_MEDIA_TYPE
from app.statutory import service, workbooks
from app.statutory.schemas import EnforcementIn, Format, Month, Quarter, Region, Year

router = api_router(prefix="/api", tags=["statutory"])
_TABLE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, XLSX_MEDIA_TYPE: {}}}
}


def _answer(
    table: dict[str, Any], format: str, render: Callable[[dict[str, Any]], bytes], name: str
) -> dict[str, Any] | Response:
    if format == "xlsx":
        return Response(
            render(table),
            media_type=XLSX_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return table


@router.get("/reports/five-batches", response_model=None, responses=_TABLE)
def five_batches(
    session: SessionDep,
    scope: ScopeDep,
    month: Month,
    region: Region = None,
    format: Format = "json",
) -> dict[str, Any] | Response:
    """五个一批 of a month (报送 by the 15th of the next): major dangers exposed, violations
    punished, blacklisted units, illegal enterprises banned, enterprises closed."""
    table = service.five_batches(session, scope=scope, region=region, month=month)
    return _answer(table, format, workbooks.five_batches, f"five-batches-{table['region']}-{month}")


@router.get("/reports/danger-statistics", response_model=None, responses=_TABLE)
def danger_statistics(
    session: SessionDep,
    scope: ScopeDep,
    quarter: Quarter = None,
    year: Year = None,
    region: Region = None,
    format: Format = "json",
) -> dict[str, Any] | Response:
    """Quarterly (quarter=YYYY-Qn) or yearly (year=YYYY) hidden-danger statistics."""
    period = service.quarter_or_year(quarter, year)
    table = service.danger_statistics(session, scope=scope, region=region, period=period)
    name = f"danger-statistics-{table['region']}-{period.label}"
    return _answer(table, format, workbooks.danger_statistics, name)


@router.get("/reports/risk-bulletin", response_model=None, responses=_TABLE)
def risk_bulletin(
    session: SessionDep,
    scope: ScopeDep,
    month: Month,
    region: Region = None,
    format: Format = "json",
) -> dict[str, Any] | Response:
    """Red/orange risk bulletin (预警) of a month."""
    table = service.risk_bulletin(session, scope=scope, region=region, month=month)
    return _answer(
        table, format, workbooks.risk_bulletin, f"risk-bulletin-{table['region']}-{month}"
    )


@router.post("/enforcement-actions", status_code=201)
def record_enforcement(body: EnforcementIn, session: SessionDep, scope: ScopeDep) -> dict[str, Any]:
    """Record a punishment, a ban of an illegal enterprise or a closure (for 五个一批)."""
    return service.record_enforcement(session, body=body, scope=scope)
