"""Risk endpoints: grading calculators, risk points, aggregates and trends."""

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Query

from app.crud import add_crud_routes
from app.datetimes import china_today
from app.db import api_router
from app.deps import ScopeDep, SessionDep
from app.regions.schemas import REGION_CODE_PATTERN
from app.risk import aggregation, history, methods, service
from app.risk.models import RiskPoint
from app.risk.schemas import LecIn, LecOut, LsIn, LsOut, RiskPointIn, RiskPointOut, RiskPointPatch

router = api_router(prefix="/api", tags=["risk"])

Method = Annotated[
    Literal["composite", "highest", "index"] | None,
    Query(description="regional level method (default composite)"),
]
Normalise = Annotated[
    Literal["area", "enterprises"] | None, Query(description="index normalisation")
]


@router.post("/risk/assess/lec", response_model=LecOut)
def assess_lec(body: LecIn) -> LecOut:
    """LEC: D = L × E × C, banded into four colours."""
    result = methods.assess_lec(body.l, body.e, body.c)
    return LecOut(
        d=result.d,
        level=result.level,
        method=result.method,
        variant=result.variant,
        ruleset_version=result.ruleset_version,
    )


@router.post("/risk/assess/ls", response_model=LsOut)
def assess_ls(body: LsIn) -> LsOut:
    """Risk matrix: R = L × S (1..5 each), banded by the default or a named variant."""
    result = methods.assess_ls(body.l, body.s, body.variant)
    return LsOut(
        r=result.r,
        level=result.level,
        method=result.method,
        variant=result.variant,
        ruleset_version=result.ruleset_version,
    )


@router.get("/risk/summary")
def risk_summary(
    session: SessionDep,
    parent: Annotated[str, Query(pattern=REGION_CODE_PATTERN)],
    method: Method = None,
    normalise: Normalise = None,
) -> list[dict[str, Any]]:
    """Aggregates per child region of `parent` (per grid cell when it is a county)."""
    return aggregation.summarise_children(
        session, parent=parent, method=method, normalise=normalise
    )


@router.get("/risk/regions/{code}")
def risk_region(
    code: str, session: SessionDep, method: Method = None, normalise: Normalise = None
) -> dict[str, Any]:
    """Aggregates of one region or grid cell."""
    return aggregation.summarise_region(session, code=code, method=method, normalise=normalise)


@router.get("/risk/trend")
def risk_trend(
    session: SessionDep,
    region: Annotated[str, Query(min_length=6, max_length=40)],
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    method: Method = None,
    normalise: Normalise = None,
) -> dict[str, Any]:
    """Daily snapshots of a region's aggregates between two dates."""
    return aggregation.trend(
        session, code=region, start=start, end=end, method=method, normalise=normalise
    )


@router.get("/risk/compare")
def risk_compare(
    session: SessionDep,
    scope: ScopeDep,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    region: Annotated[
        str | None, Query(pattern=REGION_CODE_PATTERN, description="omitted = the country")
    ] = None,
    method: Method = None,
    normalise: Normalise = None,
) -> dict[str, Any]:
    """What changed between two dates: regions and enterprises up or down a colour, major
    hidden dangers found and closed (enterprises and dangers listed as the scope reads)."""
    return history.compare(
        session,
        code=region,
        start=start,
        end=end,
        scope=scope,
        method=method,
        normalise=normalise,
    )


@router.post("/risk/snapshots", status_code=201)
def take_snapshot(session: SessionDep, scope: ScopeDep, day: date | None = None) -> dict[str, Any]:
    """Store the current aggregates as the snapshot of a day (today by default; admins)."""
    scope.require_role("admin")
    day = day or china_today()
    return {"day": day.isoformat(), "rows": aggregation.take_snapshot(session, day=day)}


add_crud_routes(
    router,
    path="/risk-points",
    model=RiskPoint,
    render=service.render_risk_point,
    create=service.create_risk_point,
    update=service.update_risk_point,
    delete=service.delete_risk_point,
    create_schema=RiskPointIn,
    patch_schema=RiskPointPatch,
    out_schema=RiskPointOut,
    name="risk_points",
)
