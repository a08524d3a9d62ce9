"""Map endpoints for the officials' web map, search, heat points and the offline HTML export."""

import gzip
import json
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.auth.scope import parse_levels
from app.crud import RowId
from app.db import api_router
from app.deps import ScopeDep, SessionDep
from app.errors import InvalidInput
from app.features.service import parse_bbox
from app.regions.schemas import REGION_CODE_PATTERN
from app.reports import cartography, dossier, export_html, export_pdf, view
from app.reports import heat as heat_service
from app.reports import search as search_service
from app.settings import get_settings

router = api_router(prefix="/api", tags=["map"])
GZIP_ABOVE = 2048


def _json(request: Request, body: Any) -> Response:
    """JSON, gzip-compressed when the client accepts it and it is worth it."""
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {"Vary": "Accept-Encoding"}
    if len(data) > GZIP_ABOVE and "gzip" in request.headers.get("accept-encoding", ""):
        data = gzip.compress(data, compresslevel=5)
        headers["Content-Encoding"] = "gzip"
    return Response(data, media_type="application/json", headers=headers)


Method = Annotated[
    Literal["composite", "highest", "index"] | None,
    Query(description="regional level method (default composite)"),
]
Normalise = Annotated[
    Literal["area", "enterprises"] | None, Query(description="index normalisation")
]
Detail = Annotated[
    Literal["coarse", "medium", "full"], Query(description="outline generalisation of the children")
]


@router.get(
    "/map/view", response_class=Response, responses={200: {"content": {"application/json": {}}}}
)
def map_view(
    request: Request,
    session: SessionDep,
    scope: ScopeDep,
    code: Annotated[
        str | None,
        Query(
            pattern=REGION_CODE_PATTERN,
            description="region; omitted = the user's region, else the country",
        ),
    ] = None,
    detail: Detail = "coarse",
    method: Method = None,
    normalise: Normalise = None,
    home: Annotated[
        bool,
        Query(
            description="without a code, for a user without a region of their own: the"
            " deployment's home region (RISKATLAS_HOME_REGION) instead of the country"
        ),
    ] = False,
) -> Response:
    """One drill-down step: the region's aggregates, ancestors, extent, and its children's
    outlines (grid cells for a county) carrying the same rows as /api/risk/summary."""
    deployment_home = get_settings().home_region if home else None
    return _json(
        request,
        view.map_view(
            session,
            code=code,
            detail=detail,
            method=method,
            normalise=normalise,
            home=scope.region_code or deployment_home,
        ),
    )


@router.get("/map/enterprises/{id}")
def enterprise_dossier(
    id: RowId,
    session: SessionDep,
    scope: ScopeDep,
) -> dict[str, Any]:
    """An enterprise's dossier (企业风险档案): facts, level and its basis, risk points (highest
    first), major hazard sources, hidden dangers not yet closed, the latest gradings."""
    return dossier.enterprise_dossier(session, id=id, scope=scope)


@router.get("/map/country")
def country(
    session: SessionDep, method: Method = None, normalise: Normalise = None
) -> dict[str, Any]:
    """The country's aggregates (sum over the provinces) and one row per province."""
    return view.country_summary(session, method=method, normalise=normalise)


@router.get("/map/trend")
def country_trend(
    session: SessionDep,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    method: Method = None,
    normalise: Normalise = None,
) -> dict[str, Any]:
    """Daily snapshots of the whole country, shaped like /api/risk/trend."""
    return view.country_trend(session, start=start, end=end, method=method, normalise=normalise)


@router.get("/map/counts")
def filtered_counts(
    session: SessionDep,
    code: Annotated[
        str | None, Query(pattern=REGION_CODE_PATTERN, description="region; omitted = country")
    ] = None,
    level: Annotated[
        str | None, Query(max_length=40, description="colours shown, e.g. red,orange")
    ] = None,
    sector: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
) -> dict[str, Any]:
    """Counts by colour (hazard sources by grade) in a region under the map's colour and
    sector filters: what the legend and the panel show when a filter is on."""
    return view.filtered_counts(session, code=code, levels=parse_levels(level), sector=sector)


@router.get("/map/sectors")
def sectors(session: SessionDep, scope: ScopeDep) -> list[dict[str, Any]]:
    """The enterprises' sectors with counts (for the sector filter)."""
    return view.sectors(session, scope=scope)


@router.get("/search")
def search(
    session: SessionDep,
    scope: ScopeDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=100,
            description="region name or code, enterprise name or credit code",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> dict[str, Any]:
    """Regions and enterprises matching `q`, each with a position to fly to."""
    return search_service.search(session, q=q, limit=limit, scope=scope)


@router.get(
    "/heat", response_class=Response, responses={200: {"content": {"application/json": {}}}}
)
def heat(
    request: Request,
    session: SessionDep,
    scope: ScopeDep,
    bbox: Annotated[str, Query(description="minx,miny,maxx,maxy (WGS 84)")],
    zoom: Annotated[int, Query(ge=0, le=22)],
    layer: Literal["risk_points", "enterprises", "hazard_sources", "public_zones"] = "risk_points",
    level: str | None = None,
    sector: str | None = None,
    region: str | None = None,
) -> Response:
    """Heat-map points: [lat, lon, weight] per ≈4-pixel cell, red weighted heaviest."""
    box = parse_bbox(bbox)
    if box is None:  # pragma: no cover  (bbox is required)
        raise InvalidInput("bbox is required", field="bbox")
    return _json(
        request,
        heat_service.heat_points(
            session,
            layer=layer,
            bbox=box,
            zoom=zoom,
            level=level,
            sector=sector,
            region=region,
            scope=scope,
        ),
    )


@router.get("/exports/regions/{code}.html", response_class=HTMLResponse)
def export_region_html(
    session: SessionDep,
    scope: ScopeDep,
    code: Annotated[str, Path(pattern=REGION_CODE_PATTERN, description="region code")],
    points: Literal["enterprises", "risk_points", "hazard_sources", "public_zones"] = "enterprises",
    download: bool = False,
) -> HTMLResponse:
    """A self-contained HTML map of a region (folium; Leaflet inlined, opens offline)."""
    body = export_html.region_html(session, code=code, points_layer=points, scope=scope)
    headers = {"Content-Security-Policy": export_html.OFFLINE_EXPORT_POLICY}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="riskatlas-{code}.html"'
    return HTMLResponse(body, headers=headers)


@router.get("/map/cartography")
def map_cartography(session: SessionDep) -> dict[str, Any]:
    """What a publishable national or provincial map draws besides the data: the South China
    Sea maritime boundary, the 南海诸岛 inset (frame and land) and the imprint (审图号,
    编制单位, data as of)."""
    return cartography.cartography(session)


@router.get(
    "/exports/print.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def export_print_pdf(
    session: SessionDep,
    scope: ScopeDep,
    code: Annotated[
        str | None, Query(pattern=REGION_CODE_PATTERN, description="region; omitted = the country")
    ] = None,
    paper: Literal["A4", "A3", "A1", "A0"] = "A3",
    orientation: Literal["landscape", "portrait"] = "landscape",
    method: Method = None,
    normalise: Normalise = None,
    points: Literal["enterprises", "risk_points", "hazard_sources", "public_zones", "none"] = (
        "enterprises"
    ),
    download: bool = False,
) -> Response:
    """A vector PDF for the wall: title, region, level and method, legend with counts,
    scale bar, north arrow, 南海诸岛 inset and maritime boundary (national and provincial
    scales), data source, 审图号, 编制单位 (points only of rows the caller may read)."""
    body = export_pdf.region_pdf(
        session,
        code=code,
        scope=scope,
        paper=paper,
        orientation=orientation,
        method=method,
        normalise=normalise,
        points_layer=None if points == "none" else points,
    )
    name = f"riskatlas-{code or 'china'}-{paper}-{orientation}.pdf"
    disposition = "attachment" if download else "inline"
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'{disposition}; filename="{name}"'},
    )
