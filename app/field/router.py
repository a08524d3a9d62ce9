"""The field pages: the wardens' phone app at /m (with its manifest and service worker)
and the public tip-off page at /report. Static files, served from frontend/m."""

from fastapi import APIRouter
from fastapi.responses import FileResponse

from app.settings import FRONTEND_DIR

router = APIRouter(include_in_schema=False)
PAGES = FRONTEND_DIR / "m"
NO_CACHE = {"Cache-Control": "no-cache"}


@router.get("/m")
def phone_page() -> FileResponse:
    """The wardens' phone page."""
    return FileResponse(PAGES / "index.html", headers=NO_CACHE)


@router.get("/m/sw.js")
def service_worker() -> FileResponse:
    """The page's service worker; its scope is /m (the page itself), wider than its folder."""
    return FileResponse(
        PAGES / "sw.js",
        media_type="text/javascript",
        headers={**NO_CACHE, "Service-Worker-Allowed": "/m"},
    )


@router.get("/m/manifest.webmanifest")
def manifest() -> FileResponse:
    """The web app manifest (installable: name, icons, start URL, standalone)."""
    return FileResponse(PAGES / "manifest.webmanifest", media_type="application/manifest+json")


@router.get("/report")
def tipoff_page() -> FileResponse:
    """The public tip-off (举报) page."""
    return FileResponse(PAGES / "report.html", headers=NO_CACHE)
