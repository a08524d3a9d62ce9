"""Endpoints of double-random spot checks (双随机抽查)."""

from typing import Annotated, Any

from fastapi import Path, Query, Response

from app.db import api_router
from app.deps import ScopeDep, SessionDep
from app.spotchecks import service, xlsx
from app.spotchecks.schemas import DrawIn

router = api_router(prefix="/api/spot-checks", tags=["spot checks"])

DrawId = Annotated[int, Path(ge=1, le=2**63 - 1, description="draw id")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.post("/draws", status_code=201, name="create_spot_check_draw")
def create_draw(body: DrawIn, session: SessionDep, scope: ScopeDep) -> dict[str, Any]:
    """Draw targets (stratified by colour) and inspectors (conflicts excluded); stored
    with the seed and the pools."""
    return service.create_draw(
        session, scope=scope, region=body.region, period=body.period, seed=body.seed
    )


@router.get("/draws", name="list_spot_check_draws")
def list_draws(
    session: SessionDep,
    scope: ScopeDep,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
) -> dict[str, Any]:
    """The latest draws in the caller's region."""
    return service.list_draws(session, scope=scope, region=region)


@router.get("/draws/{id}", name="get_spot_check_draw")
def get_draw(id: DrawId, session: SessionDep, scope: ScopeDep) -> dict[str, Any]:
    """A draw, its lists derived again from the stored seed and pools."""
    return service.get_draw(session, scope=scope, id=id)


@router.get(
    "/draws/{id}/xlsx",
    name="spot_check_draw_xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
)
def draw_xlsx(id: DrawId, session: SessionDep, scope: ScopeDep) -> Response:
    """The draw as a workbook to publish (公示)."""
    draw = service.get_draw(session, scope=scope, id=id)
    return Response(
        xlsx.workbook(draw),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="spot-check-{id}.xlsx"'},
    )


@router.get("/draws/{id}/public", name="public_spot_check_draw")
def public_draw(id: DrawId, session: SessionDep) -> dict[str, Any]:
    """The publication (公示) of a draw, signed out: period, region, seed, when drawn, the
    targets' names and credit codes with their inspectors, the inspectors' names."""
    return service.public_draw(session, id=id)


@router.get(
    "/draws/{id}/public/xlsx",
    name="public_spot_check_draw_xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
)
def public_draw_xlsx(id: DrawId, session: SessionDep) -> Response:
    """The publication (公示) of a draw as a workbook, signed out."""
    return Response(
        xlsx.public_workbook(service.public_draw(session, id=id)),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="spot-check-{id}-public.xlsx"'},
    )
