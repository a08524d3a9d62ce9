"""The FastAPI application."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from app.audit.router import router as audit_router
from app.auth.router import router as auth_router
from app.auth.service import UserCache
from app.blacklist.router import router as blacklist_router
from app.dangers.router import router as dangers_router
from app.db import size_thread_pool
from app.deps import get_scope
from app.features.router import features_router, ogc_router
from app.field.router import router as field_router
from app.health import router as health_router
from app.http_errors import RequestIdMiddleware, install_error_handlers
from app.http_security import install_http_security
from app.ingest.router import router as ingest_router
from app.input_guard import InputGuard
from app.inspections.router import router as inspections_router
from app.leads.router import router as leads_router
from app.nearby.router import router as nearby_router
from app.planning.router import router as planning_router
from app.regions.router import router as regions_router
from app.registers.router import router as registers_router
from app.reports.router import router as reports_router
from app.risk.router import router as risk_router
from app.settings import FRONTEND_DIR, get_settings
from app.sites.router import router as sites_router
from app.spotchecks.router import router as spot_checks_router
from app.statutory.router import router as statutory_router
from app.supervision.router import router as key_supervision_router
from app.tiles import read_your_writes
from app.tiles.router import router as tiles_router
from app.tiles.service import RenderQueue, TileCache
from app.tiles.versions import LayerVersions


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    size_thread_pool(get_settings())
    app.state.layer_versions.start()
    read_your_writes.follow(app.state.layer_versions)
    yield
    read_your_writes.follow(None)
    app.state.layer_versions.stop()


def create_app() -> FastAPI:
    """Build the application with its routers and error table."""
    app = FastAPI(
        lifespan=_lifespan,
        title="RiskAtlas 安全风险四色图服务",
        version="0.1.0",
        description="Regional safety-risk four-colour maps: regions, grading, tiles, features.",
    )
    settings = get_settings()
    app.state.user_cache = UserCache(settings.user_cache_seconds)
    app.state.tile_cache = TileCache(max_bytes=settings.tile_cache_mb * 1024 * 1024)
    app.state.tile_renders = RenderQueue(
        settings.tile_renders,
        max_wait_s=settings.tile_queue_ms / 1000 if settings.tile_queue_ms else None,
    )
    app.state.layer_versions = LayerVersions(
        settings.libpq_url if settings.tile_versions == "notify" else None
    )
    install_error_handlers(app)
    # Phones on weak connections: JSON and GeoJSON shrink 5–10× (bench/README.md). Not
    # tiles (their strong ETags name one encoding; they are cached rendered) nor photos.
    app.add_middleware(
        GZipMiddleware,
        minimum_size=1000,
        exclude_content_types=(
            "text/event-stream",
            "application/vnd.mapbox-vector-tile",
            "image/png",
            "image/jpeg",
            "image/webp",
        ),
    )
    # Added last = outermost: every response, refusals included, carries a request id.
    app.add_middleware(
        InputGuard,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        max_import_bytes=settings.max_import_bytes,
    )
    install_http_security(app, settings)
    app.add_middleware(RequestIdMiddleware)

    app.include_router(health_router)
    # Every API route knows its caller: a bad or revoked token is 401 even where the
    # public may read, and every write's transaction names its author for the audit log.
    for router in (
        auth_router,
        audit_router,
        regions_router,
        risk_router,
        sites_router,
        tiles_router,
        features_router,
        ogc_router,
        reports_router,
        dangers_router,
        inspections_router,
        nearby_router,
        spot_checks_router,
        key_supervision_router,
        planning_router,
        ingest_router,
        registers_router,
        blacklist_router,
        statutory_router,
        leads_router,
    ):
        app.include_router(router, dependencies=[Depends(get_scope)])

    # The officials' web map: index at /, its files (and vendored libraries) under /static.
    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(FRONTEND_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    # The planners' page (issue 14): its own HTML, sharing /static.
    @app.get("/plan", include_in_schema=False)
    def plan() -> FileResponse:
        return FileResponse(FRONTEND_DIR / "plan.html", headers={"Cache-Control": "no-cache"})

    # The officials' data page (import, registers, statutory tables) and the public blacklist.
    @app.get("/data", include_in_schema=False)
    def data_page() -> FileResponse:
        return FileResponse(FRONTEND_DIR / "data.html", headers={"Cache-Control": "no-cache"})

    @app.get("/blacklist", include_in_schema=False)
    def blacklist_page() -> FileResponse:
        return FileResponse(FRONTEND_DIR / "blacklist.html", headers={"Cache-Control": "no-cache"})

    # The publication (公示) of a spot-check draw (issue 12); the page reads its id from the URL.
    # Whatever the address names, a person gets the page: an id that is no draw's (not a
    # number, or unknown) is said to be not found there, in the page's language, not in JSON.
    @app.get("/spot-checks/{id}", include_in_schema=False)
    def spot_check_page(id: str) -> FileResponse:
        found = id.isascii() and id.isdigit() and 1 <= int(id) < 2**63
        return FileResponse(
            FRONTEND_DIR / "spot-check.html",
            status_code=200 if found else 404,
            headers={"Cache-Control": "no-cache"},
        )

    app.include_router(field_router)
    app.mount("/static", StaticFiles(directory=FRONTEND_DIR, check_dir=False), name="static")
    return app


app = create_app()
