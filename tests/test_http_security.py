"""Security headers on every response and the Host header check (issue 9).

What the policy lets the web map do is checked in a real browser in test_frontend.py.
"""

import http.client
import re
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from app.http_security import API_DOCS_POLICY, BASEMAP_TILE_ORIGINS, MAP_POLICY
from app.settings import FRONTEND_DIR, get_settings

COMPANIONS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
}


def _directives(policy: str) -> dict[str, list[str]]:
    return {name: sources for name, *sources in (part.split() for part in policy.split(";"))}


def test_every_response_carries_the_map_policy_and_its_companions(client: TestClient) -> None:
    for path in (
        "/",
        "/static/js/app.js",
        "/static/js/tiles/worker.js",
        "/api/map/sectors",
        "/api/regions/999999",
        "/no/such/page",
    ):
        response = client.get(path)
        assert response.headers["content-security-policy"] == MAP_POLICY, path
        for name, value in COMPANIONS.items():
            assert response.headers[name] == value, (path, name)


def test_refusals_before_any_route_carry_the_headers_too(client: TestClient) -> None:
    too_large = client.post(
        "/api/enterprises",
        content=b" " * (get_settings().max_body_bytes + 1),
        headers={"Content-Type": "application/json"},
    )
    assert too_large.status_code == 413
    assert too_large.headers["content-security-policy"] == MAP_POLICY
    assert too_large.headers["x-content-type-options"] == "nosniff"


def test_the_map_policy_allows_nothing_inline_and_only_the_basemap_hosts() -> None:
    policy = _directives(MAP_POLICY)
    assert all("'unsafe-inline'" not in s and "'unsafe-eval'" not in s for s in policy.values())
    assert policy["script-src"] == policy["style-src"] == policy["worker-src"] == ["'self'"]
    assert policy["frame-ancestors"] == policy["object-src"] == ["'none'"]
    assert policy["img-src"] == ["'self'", "data:", *BASEMAP_TILE_ORIGINS]
    # Every tile server the frontend can ask for is allowed, and no other.
    map_js = (FRONTEND_DIR / "js" / "map.js").read_text(encoding="utf-8")
    assert "https://tile.openstreetmap.org/" in map_js
    assert "https://t{s}.tianditu.gov.cn/" in map_js and "subdomains: '01234567'" in map_js


def test_the_frontend_has_no_inline_script_handler_or_style_attribute() -> None:
    index = (FRONTEND_DIR / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", index)
    assert not re.search(r"<[^>]*\s(on[a-z]+|style)\s*=", index)
    # Markup built in the scripts: no style attribute either (colours are classes).
    for path in (FRONTEND_DIR / "js").rglob("*.js"):
        assert not re.search(r"\sstyle\s*=\s*[\"']", path.read_text(encoding="utf-8")), path


def test_api_docs_get_their_own_policy(client: TestClient) -> None:
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == API_DOCS_POLICY
        assert response.headers["x-frame-options"] == "DENY"
    assert client.get("/openapi.json").headers["content-security-policy"] == MAP_POLICY


def test_a_foreign_host_is_refused(client: TestClient) -> None:
    response = client.get("/api/map/sectors", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert response.headers["content-security-policy"] == MAP_POLICY
    assert response.headers["x-request-id"]
    assert client.get("/", headers={"Host": "localhost:8000"}).status_code == 200


def test_a_foreign_host_is_refused_by_the_served_app(live_server_url: str) -> None:
    address = urlsplit(live_server_url)

    def status(host: str) -> int:
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        try:
            connection.request("GET", "/", headers={"Host": host})
            return connection.getresponse().status
        finally:
            connection.close()

    assert status("attacker.example") == 400
    assert status(address.netloc) == 200
