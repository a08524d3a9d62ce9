"""The FastAPI application."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from app.deps import SessionDep
from app.errors import RiskAtlasError, status_code_for
from app.features.router import features_router, ogc_router
from app.regions.router import router as regions_router
from app.reports.router import router as reports_router
from app.risk.router import router as risk_router
from app.settings import FRONTEND_DIR, get_settings
from app.sites.router import router as sites_router
from app.tiles.router import router as tiles_router
from app.tiles.service import TileCache
from app.tiles.versions import LayerVersions


def _field_name(location: tuple) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(location[-1])


async def _domain_error(_: Request, error: RiskAtlasError) -> JSONResponse:
    return JSONResponse(error.to_dict(), status_code=status_code_for(error))


async def _validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
    problems = [
        {"field": _field_name(tuple(e["loc"])), "reason": e["msg"]} for e in error.errors()
    ]
    summary = "; ".join(f"{p['field']}: {p['reason']}" for p in problems)
    return JSONResponse(
        {"detail": f"invalid request: {summary}", "field": problems[0]["field"], "errors": problems},
        status_code=422,
    )


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.layer_versions.start()
    yield
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
    app.state.tile_cache = TileCache(max_bytes=settings.tile_cache_mb * 1024 * 1024)
    app.state.layer_versions = LayerVersions(
        settings.libpq_url if settings.tile_versions == "notify" else None)
    app.add_exception_handler(RiskAtlasError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)

    @app.get("/api/health", tags=["health"])
    def health(session: SessionDep) -> dict[str, str]:
        """Service, database and PostGIS status."""
        postgis = session.execute(text("SELECT postgis_lib_version()")).scalar_one()
        return {"status": "ok", "database": "ok", "postgis": postgis}

    app.include_router(regions_router)
    app.include_router(risk_router)
    app.include_router(sites_router)
    app.include_router(tiles_router)
    app.include_router(features_router)
    app.include_router(ogc_router)
    app.include_router(reports_router)

    # The officials' web map: index at /, its files (and vendored libraries) under /static.
    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(FRONTEND_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=FRONTEND_DIR, check_dir=False), name="static")
    return app


app = create_app()
