"""What every located resource's service shares: lookups, filters, paging, write errors."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

import shapely.geometry
from fastapi import APIRouter, Path, Query, Response
from geoalchemy2.shape import to_shape
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from app.datetimes import UpdatedSince
from app.errors import Conflict, InvalidInput, NotFound
from app.geo.location import ewkt, parse_location
from app.orm import INT4_MAX
from app.risk.methods import LEVELS

LOCATION_FIELDS = {"lon", "lat", "geometry", "crs"}


RowId = Annotated[int, Path(ge=1, le=INT4_MAX, description="row id")]
# Deeper pages than this are refused (a 64-bit offset overflowed PostgreSQL's bigint).
MAX_OFFSET = 10_000_000
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]


def get_or_raise(session: Session, model: type, *, id: int, jurisdiction: str = "") -> Any:
    """Return the row with this id inside the jurisdiction, or raise NotFound."""
    row = session.get(model, id)
    if row is None or not row.county_code.startswith(jurisdiction):
        raise NotFound(f"{model.__tablename__} {id} not found", field="id")
    return row


def parse_levels(levels: str | None) -> list[str] | None:
    """Parse 'red,orange' into a list, rejecting unknown colours."""
    if not levels:
        return None
    wanted = [level.strip() for level in levels.split(",") if level.strip()]
    unknown = [level for level in wanted if level not in LEVELS]
    if unknown:
        raise InvalidInput(f"unknown level {unknown[0]!r}", field="level", allowed=list(LEVELS))
    return wanted


def filtered(
    model: type, *, jurisdiction: str, region: str | None = None, level: str | None = None,
    updated_since: datetime | None = None,
) -> Select:
    """A select of `model` limited to a jurisdiction and the common filters."""
    statement = select(model)
    for prefix in (jurisdiction, (region or "").rstrip("0") if region and len(region) == 6 else region):
        if prefix:
            statement = statement.where(model.county_code.startswith(prefix))
    levels = parse_levels(level)
    if levels:
        statement = statement.where(model.risk_level.in_(levels))
    if updated_since:
        statement = statement.where(model.updated_at >= updated_since)
    return statement


def list_page(
    session: Session, model: type, *, render: Callable[[Any], dict], jurisdiction: str,
    limit: int, offset: int, sector: str | None = None, q: str | None = None,
    **filters: Any,
) -> dict[str, Any]:
    """A page of rows filtered by region, level, sector, name and update time."""
    statement = filtered(model, jurisdiction=jurisdiction, **filters)
    if sector and hasattr(model, "sector"):
        statement = statement.where(model.sector.in_(sector.split(",")))
    if q:
        statement = statement.where(model.name.contains(q))
    total = session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = session.scalars(statement.order_by(model.id).limit(limit).offset(offset)).all()
    return {"items": [render(row) for row in rows], "total": total, "limit": limit,
            "offset": offset}


def geometry_json(geom: Any) -> dict[str, Any] | None:
    """A stored geometry as a GeoJSON dict."""
    return None if geom is None else shapely.geometry.mapping(to_shape(geom))


@contextmanager
def atomic_write(session: Session) -> Iterator[None]:
    """Run a write in a savepoint: all of it lands or none; refusals become 4xx errors."""
    try:
        with session.begin_nested():
            yield
    except IntegrityError as error:
        constraint = getattr(error.orig.diag, "constraint_name", "") or ""
        column = constraint.split("_", 2)[-1] if constraint else None
        if getattr(error.orig, "sqlstate", "") == "23505":
            raise Conflict(f"a row with this {column} already exists", field=column) from error
        # The driver's message quotes the whole row: name the constraint, never the data.
        raise InvalidInput(f"refused by the database ({constraint or 'a constraint'})",
                           field=column) from error
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", "") == "RA001":
            raise InvalidInput(str(error.orig).split("\n")[0] + " (outside China)",
                               field="geometry") from error
        raise


def render_located(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """A located row for the API: its fields, region codes and GeoJSON geometry."""
    return {
        "id": row.id, **{f: getattr(row, f) for f in fields},
        "county_code": row.county_code, "grid_code": row.grid_code,
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
        "geometry": geometry_json(row.geom),
    }


def body_location(body: BaseModel, allowed: tuple[str, ...] = ("Point",)) -> str | None:
    """EWKT of the body's location, or None when the body does not move the row."""
    if body.lon is None and body.lat is None and body.geometry is None:
        return None
    return ewkt(parse_location(lon=body.lon, lat=body.lat, geometry=body.geometry,
                               crs=body.crs or "wgs84", allowed=allowed))


def body_fields(body: BaseModel, *exclude: str) -> dict[str, Any]:
    return {k: v for k, v in body.model_dump(exclude_unset=True).items()
            if k not in LOCATION_FIELDS | set(exclude)}


def add_crud_routes(
    router: APIRouter, *, path: str, model: type, render: Callable[[Any], dict],
    create: Callable[..., dict], update: Callable[..., dict], delete: Callable[..., None],
    create_schema: type[BaseModel], patch_schema: type[BaseModel], name: str,
) -> None:
    """Register list / create / read / update / delete routes for a located resource."""
    from app.deps import JurisdictionDep, SessionDep  # noqa: PLC0415  (deps imports db)

    @router.get(path, name=f"list_{name}")
    def list_rows(
        session: SessionDep, jurisdiction: JurisdictionDep,
        region: Annotated[str | None, Query(pattern=r"^\d{2,6}$")] = None,
        level: Annotated[str | None, Query(description="e.g. red,orange")] = None,
        sector: Annotated[str | None, Query(max_length=400)] = None,
        q: Annotated[str | None, Query(max_length=100)] = None,
        updated_since: UpdatedSince = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        return list_page(session, model, render=render, jurisdiction=jurisdiction, limit=limit,
                         offset=offset, sector=sector, q=q, region=region, level=level,
                         updated_since=updated_since)

    @router.post(path, status_code=201, name=f"create_{name}")
    def create_row(body: create_schema, session: SessionDep,  # type: ignore[valid-type]
                   jurisdiction: JurisdictionDep) -> dict[str, Any]:
        return create(session, body=body, jurisdiction=jurisdiction)

    @router.get(path + "/{id}", name=f"get_{name}")
    def get_row(id: RowId, session: SessionDep, jurisdiction: JurisdictionDep) -> dict[str, Any]:
        return render(get_or_raise(session, model, id=id, jurisdiction=jurisdiction))

    @router.patch(path + "/{id}", name=f"update_{name}")
    def update_row(id: RowId, body: patch_schema, session: SessionDep,  # type: ignore[valid-type]
                   jurisdiction: JurisdictionDep) -> dict[str, Any]:
        return update(session, id=id, body=body, jurisdiction=jurisdiction)

    @router.delete(path + "/{id}", status_code=204, name=f"delete_{name}")
    def delete_row(id: RowId, session: SessionDep, jurisdiction: JurisdictionDep) -> Response:
        delete(session, id=id, jurisdiction=jurisdiction)
        return Response(status_code=204)
