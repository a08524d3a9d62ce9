"""The map's server side: drill-down views, search, heat points, the offline HTML export."""

import html
import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from jinja2.utils import htmlsafe_json_dumps
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.regions.grids import import_grids
from app.reports.export_html import OFFLINE_EXPORT_POLICY
from app.risk import aggregation, grading
from app.settings import get_settings
from app.sites.demo import generate_demo
from tests.conftest import PUBLIC
from tests.factories import XINGQING, enterprise_payload, square_around

NINGXIA = "640000"
YINCHUAN = "640100"


@pytest.fixture
def demo(session: Session) -> dict[str, int]:
    """A small graded demo inside the test's transaction (rolled back afterwards)."""
    counts = generate_demo(session, seed=7, enterprises=80, as_of=date(2024, 6, 1))
    grading.rebuild(session, regrade=True)
    session.flush()
    return counts


def test_country_view_has_every_province_with_the_summary_rows(client: TestClient, demo) -> None:
    view = client.get("/api/map/view").json()
    features = view["children"]["features"]
    assert len(features) == 34
    assert view["ancestors"] == [] and view["region"]["name"] == "全国"
    ningxia = next(f for f in features if f["id"] == NINGXIA)
    expected = client.get(f"/api/risk/regions/{NINGXIA}").json()
    for key in (
        "counts",
        "enterprises",
        "public_zones",
        "hazard_sources",
        "regional_level",
        "open_major_dangers",
        "method",
    ):
        assert ningxia["properties"][key] == expected[key], key
    assert ningxia["geometry"]["type"] in ("Polygon", "MultiPolygon")
    # The country's counts are the sum of its provinces'.
    assert view["region"]["enterprises_total"] == demo["enterprises"]
    assert sum(view["region"]["counts"].values()) == demo["risk_points"]
    lon0, lat0, lon1, lat1 = view["bbox"]
    assert lon0 < 80 and lon1 > 130 and lat0 < 20 and lat1 > 50


def test_province_view_matches_risk_summary(client: TestClient, demo) -> None:
    response = client.get(
        "/api/map/view",
        params={"code": NINGXIA, "detail": "coarse"},
        headers={"Accept-Encoding": "gzip"},
    )
    assert response.status_code == 200
    view = response.json()
    summary = client.get("/api/risk/summary", params={"parent": NINGXIA}).json()
    features = view["children"]["features"]
    assert [f["id"] for f in features] == [row["code"] for row in summary]
    assert len(features) == 5
    for feature, row in zip(features, summary):
        for key in ("counts", "enterprises", "regional_level", "method"):
            assert feature["properties"][key] == row[key]
    assert view["region"] == {
        **client.get(f"/api/risk/regions/{NINGXIA}").json(),
        "parent_code": None,
        "is_leaf": False,
    }
    assert view["outline"]["id"] == NINGXIA


def test_county_view_lists_grid_cells_and_ancestors(client: TestClient, session: Session) -> None:
    from app.regions.grids import generate_grid

    generate_grid(session, county_code="640104", cell_size_m=5000)
    view = client.get("/api/map/view", params={"code": "640104"}).json()
    assert [a["code"] for a in view["ancestors"]] == [NINGXIA, YINCHUAN]
    cells = view["children"]["features"]
    assert cells and all(f["properties"]["level_kind"] == "grid" for f in cells)
    summary = client.get("/api/risk/summary", params={"parent": "640104"}).json()
    assert sorted(f["id"] for f in cells) == sorted(row["code"] for row in summary)


def test_view_starts_at_the_users_region(client: TestClient, make_user) -> None:
    official = make_user("official", region_code=NINGXIA)
    view = client.get("/api/map/view", headers=official).json()
    assert view["region"]["code"] == NINGXIA
    assert len(view["children"]["features"]) == 5
    # Region aggregates are public: any region, for anyone.
    assert (
        client.get("/api/map/view", params={"code": "110000"}, headers=official).status_code == 200
    )
    assert client.get("/api/map/view", headers=PUBLIC).json()["region"]["code"] == ""


def test_bad_view_parameters_are_named(client: TestClient) -> None:
    response = client.get("/api/map/view", params={"code": "12"})
    assert response.status_code == 422 and response.json()["field"] == "code"
    assert client.get("/api/map/view", params={"code": "999999"}).status_code == 404


def test_search_by_region_enterprise_name_and_credit_code(
    client: TestClient, demo, make_user
) -> None:
    found = client.get("/api/search", params={"q": "银川"}).json()["items"]
    assert found[0] == {**found[0], "type": "region", "code": YINCHUAN, "name": "银川市"}
    enterprise = client.get("/api/enterprises", params={"limit": 1}).json()["items"][0]
    by_name = client.get("/api/search", params={"q": enterprise["name"]}).json()["items"]
    hit = next(i for i in by_name if i["type"] == "enterprise")
    assert hit["id"] == enterprise["id"] and hit["county_code"] == enterprise["county_code"]
    assert [hit["lon"], hit["lat"]] == pytest.approx(enterprise["geometry"]["coordinates"])
    by_code = client.get("/api/search", params={"q": enterprise["credit_code"].lower()}).json()
    assert by_code["items"][0]["id"] == enterprise["id"]
    prefix = client.get("/api/search", params={"q": enterprise["credit_code"][:10]}).json()
    assert enterprise["id"] in [i.get("id") for i in prefix["items"]]
    # Regions are public; enterprises only inside the scope, and never for the public.
    beijing_official = make_user("official", region_code="110000")
    hits = client.get(
        "/api/search", params={"q": enterprise["name"]}, headers=beijing_official
    ).json()["items"]
    assert [i["type"] for i in hits] == []
    public = client.get("/api/search", params={"q": enterprise["name"]}, headers=PUBLIC).json()
    assert all(i["type"] == "region" for i in public["items"])
    assert (
        client.get("/api/search", params={"q": "北京"}, headers=PUBLIC).json()["items"][0]["code"]
        == "110000"
    )
    assert client.get("/api/search", params={"q": ""}).status_code == 422


def test_heat_points_are_weighted_by_colour(client: TestClient, session: Session, demo) -> None:
    bbox = "104,35,108,40"
    heat = client.get("/api/heat", params={"bbox": bbox, "zoom": 16}).json()
    levels = dict(
        session.execute(
            text("SELECT risk_level, count(*) FROM risk_points GROUP BY risk_level")
        ).all()
    )
    assert heat["count"] == sum(levels.values()) == demo["risk_points"]
    weights = heat["weights"]
    assert weights["red"] > weights["orange"] > weights["yellow"] > weights["blue"] > 0
    total = sum(p[2] for p in heat["points"])
    assert total == pytest.approx(sum(weights[l] * n for l, n in levels.items()), rel=1e-3)
    coarse = client.get("/api/heat", params={"bbox": bbox, "zoom": 5}).json()
    assert coarse["count"] == heat["count"] and len(coarse["points"]) < len(heat["points"])
    red = client.get("/api/heat", params={"bbox": bbox, "zoom": 16, "level": "red"}).json()
    assert red["count"] == levels.get("red", 0)
    assert client.get("/api/heat", params={"bbox": "1,2,3", "zoom": 5}).json()["field"] == "bbox"


def test_country_trend_sums_the_provinces(client: TestClient, session: Session, demo) -> None:
    day = date(2024, 6, 1)
    aggregation.take_snapshot(session, day=day)
    country = client.get("/api/map/trend", params={"from": "2024-05-01", "to": "2024-06-30"}).json()
    ningxia = client.get(
        "/api/risk/trend", params={"region": NINGXIA, "from": "2024-05-01", "to": "2024-06-30"}
    ).json()
    assert [p["date"] for p in country["points"]] == ["2024-06-01"]
    # All the demo lies in Ningxia, so the country's day equals Ningxia's.
    assert country["points"][0]["counts"] == ningxia["points"][0]["counts"]


def test_sectors(client: TestClient, demo) -> None:
    sectors = client.get("/api/map/sectors").json()
    assert sum(s["enterprises"] for s in sectors) == demo["enterprises"]


def test_html_export_is_self_contained(client: TestClient, demo) -> None:
    response = client.get(f"/api/exports/regions/{YINCHUAN}.html")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "银川市" in page and "安全风险四色分布图" in page
    # Nothing is fetched from elsewhere: no external script, style, image or font (a plain
    # <a href> link, like Leaflet's attribution, loads nothing).
    assert not re.search(
        r"""<(script|link|img|iframe|source)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//""",
        page,
        re.I,
    )
    assert not re.search(r"""url\(\s*["']?https?://""", page, re.I)
    assert not re.search(r"@import", page)
    assert "cdn.jsdelivr" not in page and "cdnjs" not in page and "unpkg" not in page
    # Leaflet is inlined; the enterprises are in the data.
    assert "L.map(" in page or "L.map (" in page
    assert "window.L" in page or "L.version" in page or '"1.9.4"' in page
    yinchuan = client.get("/api/risk/regions/640100").json()
    assert f"企业 {yinchuan['enterprises_total']} 个" in page
    downloaded = client.get(f"/api/exports/regions/{YINCHUAN}.html", params={"download": True})
    assert "attachment" in downloaded.headers["content-disposition"]


def test_html_export_has_its_own_policy_and_still_downloads(client: TestClient) -> None:
    for params in ({}, {"download": True}):
        response = client.get(f"/api/exports/regions/{YINCHUAN}.html", params=params)
        assert response.status_code == 200
        assert response.headers["content-security-policy"] == OFFLINE_EXPORT_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
    assert "attachment" in response.headers["content-disposition"]


# Names someone could register (issue 9); the export must show each as plain text.
HOSTILE_NAMES = {
    "enterprises": "<img src=x onerror=alert(1)>",
    "public_zones": '"><script>alert(1)</script>',
    "hazard_sources": "<svg onload=alert(1)>",
}
HOSTILE_GRID_NAME = "<iframe src=javascript:alert(1)></iframe>"


def _escaped_forms(raw: str) -> set[str]:
    """The HTML-escaped text, as written in the page or in JSON inside a script."""
    return {html.escape(raw), htmlsafe_json_dumps(html.escape(raw))[1:-1]}


def test_html_export_shows_hostile_names_as_text(client: TestClient, session: Session) -> None:
    lon, lat = XINGQING
    import_grids(
        session,
        feature_collection={
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"code": "XSS-1", "name": HOSTILE_GRID_NAME},
                    "geometry": square_around(lon, lat, 0.01),
                }
            ],
        },
    )
    enterprise = client.post(
        "/api/enterprises", json=enterprise_payload(name=HOSTILE_NAMES["enterprises"])
    )
    assert enterprise.status_code == 201, enterprise.text
    hazard = client.post(
        "/api/hazard-sources",
        json={
            "enterprise_id": enterprise.json()["id"],
            "name": HOSTILE_NAMES["hazard_sources"],
            "unit_type": "storage",
            "substances": [{"cas": "7782-50-5", "quantity_t": 10}],
            "lon": lon - 0.0015,
            "lat": lat,
        },
    )
    assert hazard.status_code == 201, hazard.text
    zone = client.post(
        "/api/public-zones",
        json={
            "name": HOSTILE_NAMES["public_zones"],
            "kind": "residential",
            "population": 40,
            "geometry": square_around(lon + 0.0016, lat, 0.0003),
        },
    )
    assert zone.status_code == 201, zone.text
    for layer, name in HOSTILE_NAMES.items():
        page = client.get("/api/exports/regions/640104.html", params={"points": layer}).text
        for raw in (name, HOSTILE_GRID_NAME):  # a point's tooltip; the grid cell's tooltip
            assert raw not in page, (layer, raw)
            assert any(form in page for form in _escaped_forms(raw)), (layer, raw)
        for tag in ("<img src=x", "<script>alert", "<svg onload", "<iframe"):
            assert tag not in page, (layer, tag)


def test_html_export_of_unknown_region_is_404(client: TestClient) -> None:
    assert client.get("/api/exports/regions/999999.html").status_code == 404
    assert (
        client.get("/api/exports/regions/640100.html", params={"points": "nope"}).status_code == 422
    )


def test_frontend_and_api_are_both_served(client: TestClient) -> None:
    index = client.get("/")
    assert index.status_code == 200 and "安全风险四色图" in index.text
    for path in (
        "/static/js/app.js",
        "/static/css/app.css",
        "/static/lib/leaflet/leaflet.js",
        "/static/js/tiles/worker.js",
        "/static/lib/leaflet.heat/leaflet-heat.js",
        "/static/lib/jspdf/jspdf.umd.min.js",
        "/static/lib/fonts/noto-sans-sc/noto-sans-sc-400.css",
    ):
        assert client.get(path).status_code == 200, path
    assert client.get("/api/health").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200
    assert client.get("/ogc").status_code == 200
    # Every script and style the page loads comes from the project.
    assert not re.search(r"""(src|href)\s*=\s*["']https?://""", index.text)


def test_a_deployment_home_region_is_where_the_public_starts(
    client: TestClient, make_user, monkeypatch
) -> None:
    """With RISKATLAS_HOME_REGION the public's (and a national admin's) first view is that
    region; the country stays one step up, and a user's own region still comes first."""
    monkeypatch.setattr(get_settings(), "home_region", NINGXIA)
    first = client.get("/api/map/view", params={"home": "true"}, headers=PUBLIC).json()
    assert first["region"]["code"] == NINGXIA and len(first["children"]["features"]) == 5
    assert client.get("/api/map/view", headers=PUBLIC).json()["region"]["code"] == ""
    official = make_user("official", region_code="640100")
    mine = client.get("/api/map/view", params={"home": "true"}, headers=official).json()
    assert mine["region"]["code"] == "640100"
    monkeypatch.setattr(get_settings(), "home_region", None)
    unset = client.get("/api/map/view", params={"home": "true"}, headers=PUBLIC).json()
    assert unset["region"]["code"] == ""
