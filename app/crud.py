"""What every located resource's service shares: lookups, filters, paging, write errors."""

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated, Any

import shapely.geometry
from fastapi import APIRouter, Header, Path, Query, Response
from geoalchemy2.shape import to_shape
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.datetimes import UpdatedSince, china_today
from app.errors import Conflict, InvalidInput
from app.geo.location import ewkt, parse_location
from app.orm import INT4_MAX
from app.sites.models import Enterprise
from app.sites.schemas import LocationIn, page_of

LOCATION_FIELDS = {"lon", "lat", "geometry", "crs"}


RowId = Annotated[int, Path(ge=1, le=INT4_MAX, description="row id")]
# Deeper pages than this are refused (a 64-bit offset overflowed PostgreSQL's bigint).
MAX_OFFSET = 10_000_000
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]


def get_or_raise(session: Session, model: type[Any], *, id: int, scope: Scope) -> Any:
    """The row with this id if the scope reads it, else 404 (no hint that it exists)."""
    table = model.__tablename__
    if not scope.can_read(table):
        raise scope.not_found(table, id)
    filters = scope.filters(table, has_level=hasattr(model, "risk_level"))
    row = session.scalars(
        select(model)
        .where(model.id == id)
        .where(filters.condition(table, has_level=hasattr(model, "risk_level")))
    ).first()
    if row is None:
        raise scope.not_found(table, id)
    return row


def list_page(
    session: Session,
    model: type[Any],
    *,
    render: Callable[[Any], dict[str, Any]],
    scope: Scope,
    limit: int,
    offset: int,
    q: str | None = None,
    level: str | None = None,
    sector: str | None = None,
    region: str | None = None,
    updated_since: datetime | None = None,
    blacklisted_on: date | None = None,
) -> dict[str, Any]:
    """A page of the rows the scope reads, filtered by region, level, sector, name, time
    and (enterprises and their rows) a blacklist listing in force on a day."""
    table = model.__tablename__
    scope.require_read(table)
    has_level = hasattr(model, "risk_level")
    filters = scope.filters(
        table,
        level=level,
        sector=sector,
        region=region,
        updated_since=updated_since,
        blacklisted_on=blacklisted_on,
        has_level=has_level,
    )
    statement: Select[Any] = select(model).where(filters.condition(table, has_level=has_level))
    if q:
        statement = statement.where(model.name.contains(q))
    total = session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = session.scalars(statement.order_by(model.id).limit(limit).offset(offset)).all()
    return {
        "items": [render(row) for row in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


def check_written(session: Session, scope: Scope, row: Any) -> None:
    """After a write: 403 unless the row, where the database placed it, is the writer's."""
    table = row.__tablename__
    enterprise_id = row.id if table == "enterprises" else getattr(row, "enterprise_id", None)
    if table == "enterprises":
        sector = row.sector
    elif enterprise_id is not None:
        sector = session.scalar(select(Enterprise.sector).where(Enterprise.id == enterprise_id))
    else:
        sector = None
    scope.check_written(
        table,
        county_code=row.county_code,
        enterprise_id=enterprise_id,
        sector=sector,
        grid_code=getattr(row, "grid_code", None),
    )


def check_version(row: Any, expected: int | None, render: Callable[[Any], dict[str, Any]]) -> None:
    """409 with the current row when the client edited an older version of it."""
    if expected is not None and expected != row.version:
        raise Conflict(
            f"{row.__tablename__} {row.id} changed since version {expected}",
            field="version",
            current_version=row.version,
            current=render(row),
        )


def expected_version(if_match: str | None, body: BaseModel | None = None) -> int | None:
    """The version a PATCH or DELETE was made against: If-Match, else the body's `version`."""
    if if_match:
        tag = if_match.strip().removeprefix("W/").strip('"')
        if not tag.isdigit():
            raise InvalidInput("If-Match must be the ETag a GET returned", field="If-Match")
        return int(tag)
    return getattr(body, "version", None) if body is not None else None


def geometry_json(geom: Any) -> dict[str, Any] | None:
    """A stored geometry as a GeoJSON dict."""
    return None if geom is None else shapely.geometry.mapping(to_shape(geom))


def duplicate(column: str | None) -> Conflict:
    """The refusal of a duplicate key: one wording, whether the index or a check found it."""
    return Conflict(f"a row with this {column} already exists", field=column)


_KEY_COLUMNS = re.compile(r"Key \(([a-z_, ]+)\)=")


@contextmanager
def atomic_write(session: Session) -> Iterator[None]:
    """Run a write in a savepoint: all of it lands or none; refusals become 4xx errors."""
    try:
        with session.begin_nested():
            yield
    except IntegrityError as error:
        diagnostics = getattr(error.orig, "diag", None)
        constraint = getattr(diagnostics, "constraint_name", "") or ""
        # The key's columns as PostgreSQL names them ("Key (enterprise_id)=(…)": only the
        # part before "=", never the values); else the constraint's name after its table.
        key = _KEY_COLUMNS.match(getattr(diagnostics, "message_detail", "") or "")
        column = key.group(1) if key else constraint.split("_", 2)[-1] if constraint else None
        if getattr(error.orig, "sqlstate", "") == "23505":
            raise duplicate(column) from error
        # The driver's message quotes the whole row: name the constraint, never the data.
        raise InvalidInput(
            f"refused by the database ({constraint or 'a constraint'})", field=column
        ) from error
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", "") == "RA001":
            raise InvalidInput(
                str(error.orig).split("\n")[0] + " (outside China)", field="geometry"
            ) from error
        raise


def render_located(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """A located row for the API: its fields, region codes, version and GeoJSON geometry."""
    return {
        "id": row.id,
        "version": row.version,
        **{f: getattr(row, f) for f in fields},
        "county_code": row.county_code,
        "grid_code": row.grid_code,
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
        "geometry": geometry_json(row.geom),
    }


def body_location(body: LocationIn, allowed: tuple[str, ...] = ("Point",)) -> str | None:
    """EWKT of the body's location, or None when the body does not move the row."""
    if body.lon is None and body.lat is None and body.geometry is None:
        return None
    return ewkt(
        parse_location(
            lon=body.lon,
            lat=body.lat,
            geometry=body.geometry,
            crs=body.crs or "wgs84",
            allowed=allowed,
        )
    )


def body_fields(body: BaseModel, *exclude: str) -> dict[str, Any]:
    """The body's own fields as set by the client (not location, not `version`)."""
    return {
        k: v
        for k, v in body.model_dump(exclude_unset=True).items()
        if k not in LOCATION_FIELDS | {"version"} | set(exclude)
    }


def add_crud_routes(
    router: APIRouter,
    *,
    path: str,
    model: type[Any],
    render: Callable[[Any], dict[str, Any]],
    create: Callable[..., Any],
    update: Callable[..., Any],
    delete: Callable[..., None],
    create_schema: type[BaseModel],
    patch_schema: type[BaseModel],
    name: str,
    out_schema: type[BaseModel] | None = None,
) -> None:
    """Register list / create / read / update / delete routes for a located resource.

    Reads see only the scope's rows (404 otherwise); writes need the right to write the
    kind and must leave the row inside the writer's scope (403 naming the field); item
    reads carry an ETag of the row's version, and PATCH / DELETE made against an older
    version (If-Match or `version`) get 409 with the current row.
    """
    from app.deps import ScopeDep, SessionDep  # noqa: PLC0415  (deps imports db)

    table = model.__tablename__
    page_schema = page_of(out_schema) if out_schema else None

    @router.get(path, name=f"list_{name}", response_model=page_schema)
    def list_rows(
        session: SessionDep,
        scope: ScopeDep,
        region: Annotated[str | None, Query(pattern=r"^\d{2,6}$")] = None,
        level: Annotated[str | None, Query(description="e.g. red,orange")] = None,
        sector: Annotated[str | None, Query(max_length=400)] = None,
        q: Annotated[str | None, Query(max_length=100)] = None,
        updated_since: UpdatedSince = None,
        blacklisted: Annotated[
            bool, Query(description="only enterprises on the blacklist today, and their rows")
        ] = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        return list_page(
            session,
            model,
            render=render,
            scope=scope,
            limit=limit,
            offset=offset,
            sector=sector,
            q=q,
            region=region,
            level=level,
            updated_since=updated_since,
            blacklisted_on=china_today() if blacklisted else None,
        )

    @router.post(path, status_code=201, name=f"create_{name}", response_model=out_schema)
    def create_row(
        body: create_schema,  # type: ignore[valid-type]  # a model chosen per resource
        session: SessionDep,
        scope: ScopeDep,
        response: Response,
    ) -> dict[str, Any]:
        scope.require_write(table)
        row = create(session, body=body, scope=scope)
        check_written(session, scope, row)
        response.headers["ETag"] = f'"{row.version}"'
        return render(row)

    @router.get(path + "/{id}", name=f"get_{name}", response_model=out_schema)
    def get_row(
        id: RowId, session: SessionDep, scope: ScopeDep, response: Response
    ) -> dict[str, Any]:
        row = get_or_raise(session, model, id=id, scope=scope)
        response.headers["ETag"] = f'"{row.version}"'
        return render(row)

    @router.patch(path + "/{id}", name=f"update_{name}", response_model=out_schema)
    def update_row(
        id: RowId,
        body: patch_schema,  # type: ignore[valid-type]  # a model chosen per resource
        session: SessionDep,
        scope: ScopeDep,
        response: Response,
        if_match: Annotated[str | None, Header(max_length=100)] = None,
    ) -> dict[str, Any]:
        row = get_or_raise(session, model, id=id, scope=scope)
        scope.require_write(table)
        check_version(row, expected_version(if_match, body), render)
        check_written(session, scope, row)
        row = update(session, row=row, body=body, scope=scope)
        check_written(session, scope, row)
        response.headers["ETag"] = f'"{row.version}"'
        return render(row)

    @router.delete(path + "/{id}", status_code=204, name=f"delete_{name}")
    def delete_row(
        id: RowId,
        session: SessionDep,
        scope: ScopeDep,
        if_match: Annotated[str | None, Header(max_length=100)] = None,
    ) -> Response:
        row = get_or_raise(session, model, id=id, scope=scope)
        scope.require_write(table)
        check_version(row, expected_version(if_match), render)
        check_written(session, scope, row)
        delete(session, row=row, scope=scope)
        return Response(status_code=204)
