"""GeoJSON at /api/features/{layer} and OGC API – Features at /ogc."""

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse

from app.auth.scope import Scope
from app.blacklist.schemas import BlacklistedFilter
from app.crud import Offset
from app.datetimes import UpdatedSince, china_today
from app.db import api_router
from app.deps import ScopeDep, SessionDep
from app.features import service
from app.tiles.catalog import LAYERS, Layer, layer_or_raise
from app.tiles.service import parse_filters

GEOJSON = "application/geo+json"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
CHINA_BBOX = [73.4, 3.3, 135.1, 53.6]

features_router = api_router(prefix="/api/features", tags=["features"])
ogc_router = api_router(prefix="/ogc", tags=["OGC API - Features"])

Bbox = Annotated[str | None, Query(description="minx,miny,maxx,maxy (WGS 84)")]
Format = Annotated[str | None, Query(alias="f", description="json (the only encoding)")]


def _geojson(body: Mapping[str, Any]) -> JSONResponse:
    return JSONResponse(body, media_type=GEOJSON)


def _feature_collection(page: service.FeaturePage, links: list[service.Link]) -> Response:
    """A FeatureCollection around features PostgreSQL already wrote as JSON (parsing and
    re-encoding them was most of a page's cost); the rest as JSONResponse writes it."""
    rest = json.dumps(
        {
            "numberMatched": page.matched,
            "numberReturned": page.returned,
            "timeStamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "links": links,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    body = '{"type":"FeatureCollection","features":' + page.features_json + "," + rest[1:]
    return Response(body.encode(), media_type=GEOJSON)


def _page_links(
    request: Request, *, offset: int, limit: int, returned: int, matched: int
) -> list[service.Link]:
    def url(new_offset: int) -> str:
        query = dict(request.query_params)
        query.update(offset=str(new_offset), limit=str(limit))
        return f"{str(request.url).split('?')[0]}?{urlencode(query)}"

    links: list[service.Link] = [
        {"href": str(request.url), "rel": "self", "type": GEOJSON, "title": "this page"}
    ]
    if offset + returned < matched:
        links.append(
            {"href": url(offset + limit), "rel": "next", "type": GEOJSON, "title": "next page"}
        )
    if offset > 0:
        links.append(
            {
                "href": url(max(offset - limit, 0)),
                "rel": "prev",
                "type": GEOJSON,
                "title": "previous page",
            }
        )
    return links


def _collection_page(
    request: Request,
    session: SessionDep,
    scope: Scope,
    layer: Layer,
    *,
    bbox: str | None,
    limit: int,
    offset: int,
    level: str | None,
    sector: str | None,
    region: str | None,
    updated_since: datetime | None,
    datetime_: str | None = None,
    parent: str | None = None,
    detail: str = "full",
    blacklisted: bool = False,
) -> tuple[service.FeaturePage, list[service.Link]]:
    filters = parse_filters(
        layer,
        scope=scope,
        level=level,
        sector=sector,
        region=region,
        updated_since=updated_since,
        blacklisted_on=china_today() if blacklisted else None,
    )
    limit = service.page_limit(layer, detail, limit)
    page = service.query_features(
        session,
        layer=layer,
        filters=filters,
        bbox=service.parse_bbox(bbox),
        limit=limit,
        offset=offset,
        interval=service.parse_datetime_interval(datetime_),
        parent=parent,
        detail=detail,
    )
    links = _page_links(
        request, offset=offset, limit=limit, returned=page.returned, matched=page.matched
    )
    return page, links


@features_router.get(
    "/{layer}", response_class=JSONResponse, responses={200: {"content": {GEOJSON: {}}}}
)
def list_features(
    layer: str,
    request: Request,
    session: SessionDep,
    scope: ScopeDep,
    bbox: Bbox = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Offset = 0,
    level: str | None = None,
    sector: str | None = None,
    region: str | None = None,
    updated_since: UpdatedSince = None,
    parent: Annotated[
        str | None, Query(pattern=r"^\d{6}$", description="regions/grid: children of")
    ] = None,
    detail: Literal["full", "medium", "coarse"] = "full",
    blacklisted: BlacklistedFilter = False,
) -> Response:
    """A layer as an RFC 7946 FeatureCollection, one page at a time."""
    return _feature_collection(
        *_collection_page(
            request,
            session,
            scope,
            layer_or_raise(layer),
            bbox=bbox,
            limit=limit,
            offset=offset,
            level=level,
            sector=sector,
            region=region,
            updated_since=updated_since,
            parent=parent,
            detail=detail,
            blacklisted=blacklisted,
        )
    )


# OGC API – Features, Part 1: Core


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _collection(request: Request, layer: Layer) -> dict[str, Any]:
    base = _base(request)
    return {
        "id": layer.name,
        "title": layer.title_zh,
        "description": f"RiskAtlas {layer.name} ({layer.title_zh})",
        "itemType": "feature",
        "crs": [CRS84],
        "extent": {
            "spatial": {"bbox": [CHINA_BBOX], "crs": CRS84},
            "temporal": {"interval": [[None, None]]},
        },
        "links": [
            {
                "href": f"{base}/ogc/collections/{layer.name}",
                "rel": "self",
                "type": "application/json",
                "title": layer.title_zh,
            },
            {
                "href": f"{base}/ogc/collections/{layer.name}/items",
                "rel": "items",
                "type": GEOJSON,
                "title": f"{layer.title_zh} items",
            },
            {
                "href": f"{base}/tiles/{layer.name}/tilejson.json",
                "rel": "related",
                "type": "application/json",
                "title": "vector tiles (TileJSON)",
            },
        ],
    }


@ogc_router.get("")
@ogc_router.get("/", include_in_schema=False)
def landing_page(request: Request, f: Format = None) -> dict[str, Any]:
    """OGC API landing page."""
    base = _base(request)
    return {
        "title": "RiskAtlas 安全风险四色图 OGC API",
        "description": "Enterprises, major hazard sources, public zones, risk points, regions, "
        "grid cells and emergency resources with four-colour risk levels.",
        "links": [
            {
                "href": f"{base}/ogc",
                "rel": "self",
                "type": "application/json",
                "title": "this document",
            },
            {
                "href": f"{base}/openapi.json",
                "rel": "service-desc",
                "type": "application/vnd.oai.openapi+json;version=3.0",
                "title": "API definition",
            },
            {
                "href": f"{base}/docs",
                "rel": "service-doc",
                "type": "text/html",
                "title": "API documentation",
            },
            {
                "href": f"{base}/ogc/conformance",
                "rel": "conformance",
                "type": "application/json",
                "title": "conformance classes",
            },
            {
                "href": f"{base}/ogc/collections",
                "rel": "data",
                "type": "application/json",
                "title": "collections",
            },
        ],
    }


@ogc_router.get("/conformance")
def conformance(f: Format = None) -> dict[str, list[str]]:
    """The conformance classes implemented."""
    return {"conformsTo": CONFORMANCE}


@ogc_router.get("/collections")
def collections(request: Request, f: Format = None) -> dict[str, Any]:
    """Every layer as a collection."""
    return {
        "links": [
            {
                "href": f"{_base(request)}/ogc/collections",
                "rel": "self",
                "type": "application/json",
                "title": "collections",
            }
        ],
        "collections": [_collection(request, layer) for layer in LAYERS.values()],
    }


@ogc_router.get("/collections/{collection_id}")
def collection(collection_id: str, request: Request, f: Format = None) -> dict[str, Any]:
    """One collection."""
    return _collection(request, layer_or_raise(collection_id))


@ogc_router.get(
    "/collections/{collection_id}/items",
    response_class=JSONResponse,
    responses={200: {"content": {GEOJSON: {}}}},
)
def items(
    collection_id: str,
    request: Request,
    session: SessionDep,
    scope: ScopeDep,
    bbox: Bbox = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10,
    offset: Offset = 0,
    datetime_: Annotated[str | None, Query(alias="datetime")] = None,
    level: str | None = None,
    sector: str | None = None,
    region: str | None = None,
    f: Format = None,
) -> Response:
    """Items of a collection (bbox, limit/offset with next links, datetime on update time)."""
    layer = layer_or_raise(collection_id)
    page, links = _collection_page(
        request,
        session,
        scope,
        layer,
        bbox=bbox,
        limit=limit,
        offset=offset,
        level=level,
        sector=sector,
        region=region,
        updated_since=None,
        datetime_=datetime_,
    )
    links.append(
        {
            "href": f"{_base(request)}/ogc/collections/{layer.name}",
            "rel": "collection",
            "type": "application/json",
            "title": layer.title_zh,
        }
    )
    return _feature_collection(page, links)


@ogc_router.get(
    "/collections/{collection_id}/items/{feature_id}",
    response_class=JSONResponse,
    responses={200: {"content": {GEOJSON: {}}}},
)
def item(
    collection_id: str,
    feature_id: str,
    request: Request,
    session: SessionDep,
    scope: ScopeDep,
    f: Format = None,
) -> JSONResponse:
    """One item."""
    layer = layer_or_raise(collection_id)
    filters = parse_filters(layer, scope=scope)
    feature = service.feature_or_raise(session, layer=layer, filters=filters, fid=feature_id)
    base = f"{_base(request)}/ogc/collections/{layer.name}"
    feature["links"] = [
        {
            "href": f"{base}/items/{feature_id}",
            "rel": "self",
            "type": GEOJSON,
            "title": "this item",
        },
        {"href": base, "rel": "collection", "type": "application/json", "title": layer.title_zh},
    ]
    return _geojson(feature)
