"""Rendering vector tiles in PostGIS, and the versioned tile cache.

A tile's ETag is derived from its address, its filters and the version of its data:
for the region layers the layer's version (bumped by a trigger on every write), for the
point layers the layer's tile epoch and the version of the quadtree cell the tile lies in
(bumped only by writes in or near that cell). So an ETag can be checked before rendering,
a cached tile is never stale, a field write leaves the tiles elsewhere cached, and several
API processes agree without talking to each other.

Renders that need the database go through one queue per process (`RenderQueue`), at
most as many at a time as the database can run, so a burst waits in line instead of
thrashing the cores; a render that would wait longer than the configured bound is
refused at once (503, Retry-After) rather than timing out.
"""

import asyncio
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import TypedDict, TypeVar

from sqlalchemy import Engine, TextClause, text
from sqlalchemy.orm import Session

from app.audit.service import reads_only
from app.auth.scope import PUBLIC_SCOPE, RowFilters, Scope
from app.cluster import routing
from app.db import run_in_session_thread
from app.errors import InvalidInput, ServiceUnavailable
from app.risk.aggregation import method_label, regional_methods
from app.risk.gb18218 import grade_level
from app.risk.methods import LEVELS
from app.tiles.catalog import (
    AREA_LAYERS,
    Layer,
    cells_max_zoom,
    layer_or_raise,
    region_geometry_column,
    region_level_for_zoom,
)
from app.tiles.versions import LayerVersions, query_tile_version, query_version

T = TypeVar("T")
SQL_DIR = Path(__file__).parent / "sql"
MAX_ZOOM = 22
CELLS_PER_TILE_SIDE = 64
WEB_MERCATOR_WIDTH_M = 40075016.685578488


class TileAddress(TypedDict):
    """Which tile of which read: the layer, its XYZ address and the row filters."""

    layer: Layer
    z: int
    x: int
    y: int
    filters: RowFilters


def parse_filters(
    layer: Layer,
    *,
    scope: Scope,
    level: str | None = None,
    sector: str | None = None,
    region: str | None = None,
    updated_since: datetime | None = None,
    blacklisted_on: date | None = None,
) -> RowFilters:
    """The filters of a read of `layer`: region aggregates are public, located rows are
    the scope's only (the public gets 401, a role without the kind 403)."""
    if layer.name in AREA_LAYERS:
        return PUBLIC_SCOPE.filters(
            layer.table,
            level=level,
            sector=sector,
            region=region,
            updated_since=updated_since,
            blacklisted_on=blacklisted_on,
            has_level=layer.has_level,
            has_sector=False,
        )
    scope.require_read(layer.table)
    return scope.filters(
        layer.table,
        level=level,
        sector=sector,
        region=region,
        updated_since=updated_since,
        blacklisted_on=blacklisted_on,
        has_level=layer.has_level,
        has_sector=layer.sector_sql is not None,
    )


def validate_tile_address(z: int, x: int, y: int) -> None:
    """Reject z/x/y outside the Web Mercator XYZ pyramid, naming the parameter."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput(f"z={z} is outside 0…{MAX_ZOOM}", field="z")
    size = 2**z
    for name, value in (("x", x), ("y", y)):
        if not 0 <= value < size:
            raise InvalidInput(f"{name}={value} is outside 0…{size - 1} at zoom {z}", field=name)


@cache
def _template(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def _point_filters(layer: Layer) -> str:
    clauses = RowFilters(layer.table).clauses("t", has_level=layer.has_level)
    if layer.row_filter is not None:
        clauses.append(layer.row_filter)
    return "\n       ".join(f"AND {clause}" for clause in clauses)


@cache
def tile_sql(
    layer_name: str, mode: str, geometry: str = "geom", counts: str = "region_counts"
) -> TextClause:
    """The statement for one layer in one mode: points, points_aggregated, points_cells
    or areas (reading region counts from `counts`: routing.region_counts_table)."""
    layer = layer_or_raise(layer_name)
    if mode == "areas":
        properties = {k: v for k, v in layer.properties.items() if k != "code"}
        sql = (
            _template("areas")
            .format(
                table=layer.table,
                geometry=geometry,
                counts=counts,
                properties=", ".join(f"{expr} AS {key}" for key, expr in properties.items()),
                output_properties=", ".join(f"counted.{key}" for key in properties),
                unit_filter="AND t.level = :region_level" if layer.table == "regions" else "",
            )
            .replace("counted.code AS id_code", "counted.code AS code")
        )
        return text(sql)
    if mode == "points_cells":
        return text(_template(mode))
    anchor = "t.geom" if layer.geometry_types == ("Point",) else "ST_PointOnSurface(t.geom)"
    sql = _template(mode).format(
        table=layer.table,
        anchor=anchor,
        filters=_point_filters(layer),
        level=layer.colour,
        properties=", ".join(f"{expr} AS {key}" for key, expr in layer.properties.items()),
    )
    return text(sql)


@cache
def _highest_measures() -> dict[str, list[str]]:
    """Which count measures make a region each colour under the 'highest' method."""
    kinds = regional_methods()["highest"]["considers"]
    measures: dict[str, list[str]] = {level: [] for level in LEVELS}
    for kind in kinds:
        if kind == "hazard_sources":
            for grade in (1, 2, 3, 4):
                measures[grade_level(grade)].append(f"hazard_sources.{grade}")
        else:
            for level in LEVELS:
                measures[level].append(f"{kind}.{level}")
    return measures


def reads_cells(layer: Layer, z: int, filters: RowFilters) -> bool:
    """True when an aggregated tile can be read from the pre-aggregated cells.

    The cells are keyed by county and colour, so region and level filters apply to them.
    A sector (department scopes, `sector=`), an enterprise account, `updated_since` and
    the blacklist filter are not in the key: such tiles count their raw points (an
    enterprise's few, a sector's share, the listed few), as do aggregated zooms deeper
    than the cells go.
    """
    deepest = cells_max_zoom(layer)
    return (
        deepest is not None
        and z <= deepest
        and filters.sectors is None
        and filters.enterprise_id is None
        and filters.updated_since is None
        and filters.blacklisted_on is None
    )


def render_tile(
    session: Session, *, layer: Layer, z: int, x: int, y: int, filters: RowFilters
) -> bytes:
    """Render one tile in PostGIS."""
    params: dict[str, object] = {"z": z, "x": x, "y": y, "layer": layer.name, **filters.params()}
    if layer.name in AREA_LAYERS:
        if layer.name == "grid" and z < layer.minzoom:
            return b""
        level = region_level_for_zoom(z) if layer.name == "regions" else "grid"
        counts = routing.region_counts_table(session.connection())
        if level == "grid":  # the regions layer shows grid cells at street zooms
            statement = tile_sql("grid", "areas", counts=counts)
        else:
            statement = tile_sql("regions", "areas", region_geometry_column(z), counts)
        params.update({f"{lvl}_measures": m for lvl, m in _highest_measures().items()})
        params.update(region_level=level, method=method_label("highest", None))
    elif layer.aggregate_below is not None and z < layer.aggregate_below:
        if reads_cells(layer, z, filters):
            statement = tile_sql(layer.name, "points_cells")
        else:
            statement = tile_sql(layer.name, "points_aggregated")
            params["cell"] = WEB_MERCATOR_WIDTH_M / 2**z / CELLS_PER_TILE_SIDE
    else:
        statement = tile_sql(layer.name, "points")
    return bytes(session.execute(statement, params).scalar_one() or b"")


def _render_alone(
    session: Session, *, layer: Layer, z: int, x: int, y: int, filters: RowFilters
) -> bytes:
    """`render_tile` outside a transaction: one statement sees one snapshot anyway, and
    without BEGIN and COMMIT a cold tile costs one round trip instead of three. A session
    joined to a transaction of its caller's (a Connection as its bind: the tests' rolled
    back one) renders inside that transaction."""
    if isinstance(session.get_bind(), Engine):
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return render_tile(session, layer=layer, z=z, x=x, y=y, filters=filters)


def rebuild_cells(session: Session) -> int:
    """Recount every pre-aggregated tile cell from the tables (after bulk loads or with
    `riskatlas risk rebuild`) and retire every cached point tile; return the cell rows."""
    session.execute(text("SELECT rebuild_tile_cells()"))
    rows: int = session.execute(text("SELECT count(*) FROM tile_cells")).scalar_one()
    return rows


def tile_etag(*, layer: Layer, z: int, x: int, y: int, filters: RowFilters, version: str) -> str:
    """The strong ETag of a tile, computable before rendering it."""
    digest = hashlib.sha1(
        f"{layer.name}/{z}/{x}/{y}?{filters.cache_key()}#{version}".encode()
    ).hexdigest()
    return f'"{digest[:32]}"'


class TileCache:
    """An in-process LRU of rendered tiles, bounded in bytes, keyed by ETag."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._tiles: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        """Return a cached tile and mark it recently used."""
        with self._lock:
            tile = self._tiles.get(key)
            if tile is not None:
                self._tiles.move_to_end(key)
            return tile

    def put(self, key: str, tile: bytes) -> None:
        """Store a tile, evicting the least recently used beyond the byte budget."""
        with self._lock:
            if key in self._tiles:
                return
            self._tiles[key] = tile
            self._bytes += len(tile)
            while self._bytes > self.max_bytes and self._tiles:
                _, evicted = self._tiles.popitem(last=False)
                self._bytes -= len(evicted)

    def clear(self) -> None:
        """Drop every tile."""
        with self._lock:
            self._tiles.clear()
            self._bytes = 0


async def current_etag(
    session: Session,
    versions: LayerVersions,
    *,
    layer: Layer,
    z: int,
    x: int,
    y: int,
    filters: RowFilters,
) -> str:
    """The ETag the tile has now. Versions come from notifications when known, so a
    client's cached copy is confirmed (304) without touching the database or the tile
    cache, in whichever server process the request lands."""
    version: str
    # Area layers and the never-aggregated chemical parks have no per-cell versions: the
    # whole layer's version stands for each of its tiles.
    if layer.name in AREA_LAYERS or cells_max_zoom(layer) is None:
        layer_version = versions.cached(layer.name)
        if layer_version is None:
            layer_version = await run_in_session_thread(session, query_version, session, layer.name)
        version = str(layer_version)
    else:
        known = versions.cached_tile(layer.name, z, x, y)
        if known is None:
            known = await run_in_session_thread(
                session, query_tile_version, session, layer.name, z, x, y
            )
        version = f"{known[0]}.{known[1]}"
    return tile_etag(layer=layer, z=z, x=x, y=y, filters=filters, version=version)


class RenderQueue:
    """At most `limit` tile renders of this process at a time; the rest wait in line.

    The line is bounded in time, not length: a render that would wait longer than
    `max_wait_s` (the renders ahead of it × the recent render time ÷ the slots) is refused
    at once with 503 and `Retry-After: 1` instead of waiting, so a burst beyond what the
    cores can render gets fast answers to retry rather than ever longer waits and client
    timeouts. None: never refused.
    """

    def __init__(self, limit: int, max_wait_s: float | None = None) -> None:
        self.limit = limit
        self.max_wait_s = max_wait_s
        self._slots = asyncio.Semaphore(limit)
        self.running = 0
        self.waiting = 0
        self.refused = 0
        # Recent seconds per render (exponentially weighted), measured under the load.
        self.render_s = 0.0

    def expected_wait_s(self) -> float:
        """How long a render asked for now would wait for a slot."""
        if self.running < self.limit:
            return 0.0
        return (self.waiting + 1) * self.render_s / self.limit

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """Await `work()` when a slot is free; refuse (503) when that would be too late."""
        if self.max_wait_s is not None and self.expected_wait_s() > self.max_wait_s:
            self.refused += 1
            raise ServiceUnavailable(
                "the tile renderer is busy; retry shortly", field=None, retry_after_s=1
            )
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        started = time.perf_counter()
        try:
            return await work()
        finally:
            elapsed = time.perf_counter() - started
            self.render_s = elapsed if not self.render_s else 0.8 * self.render_s + 0.2 * elapsed
            self.running -= 1
            self._slots.release()


async def get_tile(
    session: Session,
    cache_: TileCache,
    renders: RenderQueue,
    *,
    etag: str,
    layer: Layer,
    z: int,
    x: int,
    y: int,
    filters: RowFilters,
) -> tuple[bytes, bool]:
    """Return (tile, served_from_cache) for a tile whose current ETag is `etag`;
    rendering waits for a slot of the render queue and runs in the thread pool."""
    cached = cache_.get(etag)
    if cached is not None:
        return cached, True

    async def render() -> tuple[bytes, bool]:
        # A request that queued behind the render of the same tile finds it done.
        done = cache_.get(etag)
        if done is not None:
            return done, True
        reads_only(session)
        tile = await run_in_session_thread(
            session, _render_alone, session, layer=layer, z=z, x=x, y=y, filters=filters
        )
        cache_.put(etag, tile)
        return tile, False

    return await renders.run(render)
