"""Browser-facing hardening: a Content-Security-Policy and its companion headers on every
response, and the Host header checked against `settings.trusted_hosts`.

The web map (frontend/) runs entirely from this origin: scripts, styles, fonts, module
workers and vector tiles are all same-origin files or requests, nothing is inline (no
inline script, handler or style attribute), and the only outside resources are the
optional basemap tiles. So its policy allows 'self', data: images (the SVG map symbols the
page turns into bitmaps) and exactly the basemap tile servers. A response that sets its own
Content-Security-Policy keeps it (the offline HTML export does: it is one self-contained
file with inline scripts). FastAPI's /docs and /redoc pages load Swagger UI / ReDoc from a
CDN and start them with an inline script, so those few paths get a relaxed policy of their
own; they show no stored data of their own making.
"""

from collections.abc import Iterable, Mapping

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import Settings

# The basemaps a user can choose in the web map's settings (frontend/js/map.js, setBasemap):
# OpenStreetMap, and Tianditu on its subdomains t0 … t7.
BASEMAP_TILE_ORIGINS = (
    "https://tile.openstreetmap.org",
    *(f"https://t{n}.tianditu.gov.cn" for n in range(8)),
)
SWAGGER_UI_CDN = "https://cdn.jsdelivr.net"


def content_security_policy(directives: Mapping[str, Iterable[str]]) -> str:
    """A policy header value from {directive: sources}."""
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


_LOCKED_DOWN = {
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

MAP_POLICY = content_security_policy(
    {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # Leaflet positions everything through element.style (CSSOM), which style-src does not
        # govern; the map's own markup carries its colours as classes, so no 'unsafe-inline'.
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *BASEMAP_TILE_ORIGINS],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'"],
        **_LOCKED_DOWN,
    }
)

API_DOCS_POLICY = content_security_policy(
    {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'unsafe-inline'", SWAGGER_UI_CDN],
        # ReDoc injects its styles as <style> elements and takes its fonts from Google Fonts.
        "style-src": ["'self'", "'unsafe-inline'", SWAGGER_UI_CDN, "https://fonts.googleapis.com"],
        "font-src": ["'self'", "https://fonts.gstatic.com"],
        "img-src": ["'self'", "data:", "https://fastapi.tiangolo.com"],
        "connect-src": ["'self'"],
        # ReDoc's search index runs in a worker made from a blob.
        "worker-src": ["'self'", "blob:"],
        **_LOCKED_DOWN,
    }
)

COMPANION_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # The browser default, stated: other sites see the origin only. Not no-referrer: the
    # OpenStreetMap tile policy asks for a Referer and Tianditu browser keys are bound to it.
    "Referrer-Policy": "strict-origin-when-cross-origin",
    # frame-ancestors 'none' for browsers that predate it.
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """Pure ASGI middleware adding the policy and companion headers to HTTP responses,
    leaving any a response already sets."""

    def __init__(self, app: ASGIApp, *, docs_paths: frozenset[str]) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = API_DOCS_POLICY if scope["path"] in self.docs_paths else MAP_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", policy)
                for name, value in COMPANION_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_http_security(app: FastAPI, settings: Settings) -> None:
    """Check the Host header and add the security headers. Middlewares added before this
    call run inside it, so their refusals (the input guard's 413) carry the headers too,
    as does the 400 of a foreign host; and a foreign host is refused before any body is
    read."""
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts)
    docs_paths = frozenset(
        path for path in (app.docs_url, app.swagger_ui_oauth2_redirect_url, app.redoc_url) if path
    )
    app.add_middleware(SecurityHeaders, docs_paths=docs_paths)
