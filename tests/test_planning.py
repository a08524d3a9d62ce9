"""Issue 14: setback and siting checks both ways, safety studies, zoning, reports, rule sets."""

import itertools
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pyproj import Geod
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.geo.chinese_datums import wgs84_to_gcj02
from app.planning.rules import builtin_rule_set
from app.planning.service import geodesic_sql
from tests.factories import enterprise_payload

GEOD = Geod(ellps="WGS84")
# Sites in counties from 18° N to 50° N (三亚, 昆明, 武汉, 银川 兴庆区, 哈尔滨, 海拉尔).
SITES = [
    (109.50, 18.30),
    (102.70, 25.04),
    (114.30, 30.59),
    (106.28, 38.47),
    (126.63, 45.75),
    (119.76, 49.21),
]
YINCHUAN = (106.28, 38.47)
CHECK = "/api/planning/check"


def offset(origin: tuple[float, float], bearing: float, metres: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(origin[0], origin[1], bearing, metres)
    return lon, lat


def point(where: tuple[float, float]) -> dict[str, Any]:
    return {"type": "Point", "coordinates": list(where)}


def square(centre: tuple[float, float], half_m: float) -> dict[str, Any]:
    corners = [
        offset(offset(centre, b1, half_m), b2, half_m)
        for b1, b2 in ((0, 90), (0, 270), (180, 270), (180, 90))
    ]
    return {"type": "Polygon", "coordinates": [[list(c) for c in [*corners, corners[0]]]]}


def nearest_on_outline(site: tuple[float, float], polygon: dict[str, Any]) -> float:
    """Truth: the shortest geodesic distance from a point to a polygon's outline, its edges
    straight in lon/lat (RFC 7946), sampled every few centimetres."""
    ring = polygon["coordinates"][0]
    best = float("inf")
    for (x0, y0), (x1, y1) in itertools.pairwise(ring):
        steps = 4000
        lons = [x0 + (x1 - x0) * i / steps for i in range(steps + 1)]
        lats = [y0 + (y1 - y0) * i / steps for i in range(steps + 1)]
        _, _, d = GEOD.inv([site[0]] * len(lons), [site[1]] * len(lats), lons, lats)
        best = min(best, min(d))
    return best


def zone(client: TestClient, kind: str, geometry: dict[str, Any], **fields: Any) -> int:
    response = client.post(
        "/api/public-zones",
        json={"name": f"测试{kind}", "kind": kind, "geometry": geometry, **fields},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def hazard_source(client: TestClient, where: tuple[float, float], chlorine_t: float = 10) -> dict:
    enterprise = client.post("/api/enterprises", json=enterprise_payload(where)).json()
    response = client.post(
        "/api/hazard-sources",
        json={
            "enterprise_id": enterprise["id"],
            "name": "液氯储罐区",
            "unit_type": "storage",
            "substances": [{"cas": "7782-50-5", "quantity_t": chlorine_t}],
            "lon": where[0],
            "lat": where[1],
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def check(client: TestClient, kind: str, geometry: dict[str, Any], **attributes: Any) -> dict:
    response = client.post(
        CHECK, json={"kind": kind, "geometry": geometry, "attributes": attributes}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize("site", SITES, ids=[f"{lat}N" for _, lat in SITES])
def test_geodesic_distances_match_pyproj(session: Session, site: tuple[float, float]) -> None:
    for bearing, metres in ((0, 37.3), (45, 512.8), (90, 1234.5), (200, 4890.0)):
        other = offset(site, bearing, metres)
        measured = session.execute(
            text(f"SELECT {geodesic_sql('ST_GeomFromEWKT(:a)', 'ST_GeomFromEWKT(:b)')}"),
            {
                "a": f"SRID=4326;POINT({site[0]} {site[1]})",
                "b": f"SRID=4326;POINT({other[0]} {other[1]})",
            },
        ).scalar_one()
        assert abs(measured - metres) < 0.5
    polygon = square(offset(site, 60, 700), 150)
    truth = nearest_on_outline(site, polygon)
    shape = json.dumps(polygon)
    measured = session.execute(
        text(
            f"SELECT {geodesic_sql('ST_GeomFromEWKT(:a)', 'ST_SetSRID(ST_GeomFromGeoJSON(:b), 4326)')}"
        ),
        {"a": f"SRID=4326;POINT({site[0]} {site[1]})", "b": shape},
    ).scalar_one()
    assert abs(measured - truth) < 0.5


@pytest.mark.parametrize("site", SITES[::2], ids=[f"{lat}N" for _, lat in SITES[::2]])
def test_lpg_station_against_schools_nearest_points(client: TestClient, site) -> None:
    near = offset(site, 30, 31.0)
    school_point = zone(client, "school", point(near), population=800)
    polygon = square(offset(site, 135, 90), 40)  # nearest edge ~ 50 m away
    school_polygon = zone(client, "school", polygon, population=600)
    result = check(client, "lpg_station", point(site), volume_m3=300)  # 70 m band
    assert result["verdict"] == "fail"
    found = {c["other_id"]: c for c in result["conflicts"]}
    assert abs(found[school_point]["distance_m"] - 31.0) <= 0.5
    assert found[school_point]["required_m"] == 70
    assert abs(found[school_point]["shortfall_m"] - 39.0) <= 0.5
    assert "GB 50028" in found[school_point]["source_clause"]
    truth = nearest_on_outline(site, polygon)
    assert abs(found[school_polygon]["distance_m"] - truth) <= 0.5
    assert {r["target_class"] for r in result["rings"]} >= {"highly_sensitive", "general_3"}


def test_polygon_site_measures_from_its_nearest_edge(client: TestClient) -> None:
    school = offset(YINCHUAN, 90, 100)
    zone_id = zone(client, "school", point(school), population=500)
    site = square(YINCHUAN, 60)  # east edge ~ 40 m from the school
    result = check(client, "lpg_station", site, volume_m3=30)
    conflict = next(c for c in result["conflicts"] if c["other_id"] == zone_id)
    assert abs(conflict["distance_m"] - nearest_on_outline(school, site)) <= 0.5
    assert conflict["required_m"] == 45


def test_general_classes_by_people_and_pass(client: TestClient) -> None:
    zone(client, "residential", point(offset(YINCHUAN, 0, 48)), population=50)  # general_2
    result = check(client, "lpg_station", point(YINCHUAN), volume_m3=80)  # general_2: 45 m
    assert result["verdict"] == "pass", result["conflicts"]
    assert result["people_within"]["people"] == 50


def test_new_school_against_a_major_hazard_source(client: TestClient) -> None:
    source = hazard_source(client, YINCHUAN)
    assert source["grade"] is not None
    site = offset(YINCHUAN, 0, 200)
    result = check(client, "school", point(site), people=900)
    assert result["role"] == "target" and result["target_class"] == "highly_sensitive"
    conflict = next(c for c in result["conflicts"] if c["other_id"] == source["id"])
    assert conflict["other_kind"] == "hazard_sources"
    assert conflict["rule"].startswith("major_hazard.toxic")
    assert abs(conflict["distance_m"] - 200) <= 0.5
    assert conflict["basis"] == "table"
    far = check(client, "school", point(offset(YINCHUAN, 0, 1500)))
    assert all(c["other_id"] != source["id"] for c in far["conflicts"])


def test_new_school_against_a_gas_pipeline(client: TestClient) -> None:
    line = {
        "type": "LineString",
        "coordinates": [list(offset(YINCHUAN, 270, 300)), list(offset(YINCHUAN, 90, 300))],
    }
    pipe = zone(client, "gas_pipeline", line)
    result = check(client, "school", point(offset(YINCHUAN, 0, 1.0)))
    conflict = next(c for c in result["conflicts"] if c["other_id"] == pipe)
    assert conflict["other_kind"] == "public_zones.gas_pipeline"
    assert conflict["required_m"] == 1.5


def _study(client: TestClient, source_id: int, body: dict[str, Any]) -> dict[str, Any]:
    response = client.put(f"/api/planning/hazard-sources/{source_id}/safety-zones", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_own_distance_overrides_when_stricter(client: TestClient) -> None:
    source = hazard_source(client, YINCHUAN)
    site = point(offset(YINCHUAN, 90, 1500))
    assert all(c["other_id"] != source["id"] for c in check(client, "school", site)["conflicts"])
    _study(
        client,
        source["id"],
        {
            "reference": "安全评价报告 2025-001",
            "distances": [{"target_class": "highly_sensitive", "distance_m": 1800}],
        },
    )
    conflict = next(
        c for c in check(client, "school", site)["conflicts"] if c["other_id"] == source["id"]
    )
    assert conflict["basis"] == "own_distance"
    assert conflict["required_m"] == 1800
    assert "安全评价报告 2025-001" in conflict["source_clause"]


def test_contour_overrides_when_stricter(client: TestClient) -> None:
    source = hazard_source(client, YINCHUAN)
    # An elongated 3×10⁻⁶ contour (the in-service criterion of sensitive targets) reaching
    # 2 km north: a school 1.6 km north lies inside it, far beyond the table's distance.
    contour = {
        "type": "Polygon",
        "coordinates": [
            [
                list(offset(YINCHUAN, 270, 200)),
                list(offset(YINCHUAN, 90, 200)),
                list(offset(offset(YINCHUAN, 0, 2000), 90, 200)),
                list(offset(offset(YINCHUAN, 0, 2000), 270, 200)),
                list(offset(YINCHUAN, 270, 200)),
            ]
        ],
    }
    _study(client, source["id"], {"contours": [{"risk_per_year": 3e-6, "geometry": contour}]})
    inside = check(client, "school", point(offset(YINCHUAN, 0, 1600)))
    conflict = next(c for c in inside["conflicts"] if c["other_id"] == source["id"])
    assert conflict["basis"] == "contour"
    assert "GB 36894" in conflict["source_clause"]
    # The way out of the contour is 200 m sideways (its northern edge lies 400 m on).
    assert abs(conflict["shortfall_m"] - 200) <= 1
    assert conflict["required_m"] == pytest.approx(conflict["distance_m"] + 200, abs=1)
    outside = check(client, "school", point(offset(YINCHUAN, 90, 1600)))
    assert all(c["other_id"] != source["id"] for c in outside["conflicts"])
    bad = client.put(
        f"/api/planning/hazard-sources/{source['id']}/safety-zones",
        json={"contours": [{"risk_per_year": 2e-6, "geometry": contour}]},
    )
    assert bad.status_code == 422 and bad.json()["field"] == "contours[0].risk_per_year"


def _park(client: TestClient, centre: tuple[float, float], risk_class: str) -> int:
    response = client.post(
        "/api/planning/parks",
        json={
            "name": f"测试化工园区{risk_class}",
            "risk_class": risk_class,
            "geometry": square(centre, 2000),
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


CHEMICALS = {"substances": [{"cas": "7782-50-5", "quantity_t": 1}]}


def test_zoning_hazchem_production_inside_an_allowed_park(client: TestClient) -> None:
    ningdong = (106.60, 38.10)
    park_c = _park(client, ningdong, "C")
    inside = check(client, "hazchem_production", point(ningdong), **CHEMICALS)
    item = inside["zoning"][0]
    assert item["ok"] and item["park_id"] == park_c and item["park_class"] == "C"
    outside = check(client, "hazchem_production", point(offset(ningdong, 0, 5000)), **CHEMICALS)
    assert outside["verdict"] == "fail"
    assert not outside["zoning"][0]["ok"] and outside["zoning"][0]["park_id"] is None
    other = offset(ningdong, 90, 10000)
    _park(client, other, "B")
    in_b = check(client, "hazchem_production", point(other), **CHEMICALS)
    assert not in_b["zoning"][0]["ok"] and in_b["zoning"][0]["park_class"] == "B"


def test_no_high_risk_project_beside_a_dense_site(client: TestClient) -> None:
    zone(client, "residential", point(offset(YINCHUAN, 0, 400)), population=5000)
    result = check(client, "flare", point(YINCHUAN))
    dense = [z for z in result["zoning"] if z["rule"] == "no_high_risk_beside_dense_site"]
    assert dense and not dense[0]["ok"]
    assert result["verdict"] == "fail"


def test_gcj02_input_is_converted(client: TestClient) -> None:
    school = zone(client, "school", point(offset(YINCHUAN, 0, 30)))
    lon, lat = wgs84_to_gcj02(*YINCHUAN)
    response = client.post(
        CHECK,
        json={
            "kind": "lpg_station",
            "crs": "gcj02",
            "geometry": point((float(lon), float(lat))),
            "attributes": {"volume_m3": 10},
        },
    )
    conflict = next(c for c in response.json()["conflicts"] if c["other_id"] == school)
    assert abs(conflict["distance_m"] - 30) <= 0.5


BOWTIE = {
    "type": "Polygon",
    "coordinates": [
        [[106.28, 38.47], [106.29, 38.48], [106.29, 38.47], [106.28, 38.48], [106.28, 38.47]]
    ],
}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "school", "geometry": BOWTIE}, "geometry"),
        ({"kind": "school", "geometry": {"type": "Polygon", "coordinates": []}}, "geometry"),
        (
            {
                "kind": "school",
                "geometry": {"type": "MultiPoint", "coordinates": [[106.28, 38.47]]},
            },
            "geometry",
        ),
        ({"kind": "school", "geometry": point((2.35, 48.85))}, "geometry"),
        # Centred in Ningxia, reaching Korea: every vertex must lie in China.
        (
            {
                "kind": "school",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[106.2, 38.4], [127.3, 38.4], [127.3, 38.6], [106.2, 38.6], [106.2, 38.4]]
                    ],
                },
            },
            "geometry",
        ),
        # A site of 25 km × 25 km is no proposed project.
        ({"kind": "school", "geometry": square(YINCHUAN, 12_500)}, "geometry"),
        ({"kind": "lpg_station", "geometry": point(YINCHUAN)}, "attributes.volume_m3"),
        (
            {"kind": "lpg_station", "geometry": point(YINCHUAN), "attributes": {"volume_m3": -5}},
            "attributes.volume_m3",
        ),
        (
            {"kind": "residential", "geometry": point(YINCHUAN), "attributes": {"people": 10**9}},
            "attributes.people",
        ),
        ({"kind": "spaceport", "geometry": point(YINCHUAN)}, "kind"),
        (
            {
                "kind": "hazchem_production",
                "geometry": point(YINCHUAN),
                "attributes": {"substances": [{"cas": "7782-50-5", "quantity_t": -1}]},
            },
            "substances[0].quantity_t",
        ),
    ],
)
def test_bad_input_is_422_naming_it_and_writes_nothing(
    client: TestClient, session: Session, body: dict[str, Any], field: str
) -> None:
    before = session.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    response = client.post(CHECK, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert session.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == before


def test_who_may_check(client: TestClient, make_user: Callable[..., dict[str, str]]) -> None:
    body = {"kind": "school", "geometry": point(YINCHUAN)}
    assert (
        client.post(
            CHECK, json=body, headers=make_user("planner", region_code="640000")
        ).status_code
        == 200
    )
    assert client.post(CHECK, json=body, headers=make_user("warden")).status_code == 403
    assert client.post(CHECK, json=body, headers={"Authorization": ""}).status_code == 401


def test_a_site_outside_the_callers_region_is_refused_not_passed(
    client: TestClient, make_user: Callable[..., dict[str, str]]
) -> None:
    planner = make_user("planner", region_code="640000")
    beijing = client.post(
        CHECK, json={"kind": "school", "geometry": point((116.4, 39.9))}, headers=planner
    )
    assert beijing.status_code == 422
    assert beijing.json()["field"] == "geometry" and "110101" in beijing.json()["detail"]
    inside = client.post(
        CHECK, json={"kind": "school", "geometry": point(YINCHUAN)}, headers=planner
    )
    assert inside.status_code == 200 and inside.json()["county_code"] == "640104"
    # An admin reads the whole country: a check anywhere in China is answered.
    assert (
        client.post(CHECK, json={"kind": "school", "geometry": point((116.4, 39.9))}).status_code
        == 200
    )


def test_saved_report_permalink_pdf_and_author(
    client: TestClient, session: Session, make_user: Callable[..., dict[str, str]]
) -> None:
    zone(client, "school", point(offset(YINCHUAN, 0, 30)), population=300)
    planner = make_user("planner", username="planner-zhang", region_code="640000")
    response = client.post(
        "/api/planning/reports",
        headers=planner,
        json={
            "kind": "lpg_station",
            "geometry": point(YINCHUAN),
            "attributes": {"volume_m3": 120},
            "title": "兴庆区液化气站选址",
        },
    )
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["saved_by"] == "planner-zhang"
    assert report["verdict"] == "fail"
    assert report["permalink"] == f"/plan#report={report['id']}"
    again = client.get(f"/api/planning/reports/{report['id']}", headers=planner).json()
    assert again["result"]["conflicts"] == report["result"]["conflicts"]
    audit = session.execute(
        text(
            "SELECT username FROM audit_log WHERE table_name = 'planning_reports' AND row_id = :id"
        ),
        {"id": str(report["id"])},
    ).scalar_one()
    assert audit == "planner-zhang"
    listed = client.get("/api/planning/reports?region=640104", headers=planner).json()
    assert [r["id"] for r in listed["items"]] == [report["id"]]
    other_region = make_user("planner", region_code="110000")
    assert (
        client.get(f"/api/planning/reports/{report['id']}", headers=other_region).status_code == 404
    )
    pdf = client.get(report["pdf"], headers=planner)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    words = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf.content, capture_output=True, check=True
    ).stdout.decode()
    assert "测试school" in words
    assert "GB 50028" in words and "8.3.7" in words
    assert "planner-zhang" in words and "gb-2026.1" in words
    assert "液化石油气" in words  # the kind's Chinese label beside its key


def test_report_pdf_shows_markup_in_titles_as_typed(client: TestClient) -> None:
    title = '选址 <font name="Nope">未闭合 <b>标签 & 符号'
    report = client.post(
        "/api/planning/reports",
        json={"kind": "school", "geometry": point(YINCHUAN), "title": title},
    ).json()
    pdf = client.get(report["pdf"])
    assert pdf.status_code == 200, pdf.text
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    words = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf.content, capture_output=True, check=True
    ).stdout.decode()
    assert '<font name="Nope">未闭合 <b>标签 & 符号' in words


def test_published_rule_set_is_used_and_old_reports_keep_theirs(client: TestClient) -> None:
    zone(client, "school", point(offset(YINCHUAN, 0, 60)))
    body = {
        "kind": "lpg_station",
        "geometry": point(YINCHUAN),
        "attributes": {"volume_m3": 10},
        "title": "旧规则",
    }
    old = client.post("/api/planning/reports", json=body).json()
    assert old["verdict"] == "pass" and old["rule_set_version"] == "gb-2026.1"
    rules = client.get("/api/planning/kinds").json()
    assert "lpg_station" in rules["kinds"]
    stricter = {
        "rule": "lpg_station.local",
        "hazard_kind": "lpg_station",
        "target_class": "highly_sensitive",
        "distance_m": 100,
        "standard": "地方规定",
        "clause": "第1条",
    }
    published = client.post(
        "/api/planning/rule-sets", json={"version": "nx-2026.2", "setbacks": [stricter]}
    )
    assert published.status_code == 201, published.text
    new = client.post(CHECK, json={k: v for k, v in body.items() if k != "title"}).json()
    assert new["rule_set_version"] == "nx-2026.2" and new["verdict"] == "fail"
    assert client.get(f"/api/planning/reports/{old['id']}").json()["rule_set_version"] == (
        "gb-2026.1"
    )
    again = client.post(CHECK, json={**body, "rule_set_version": "gb-2026.1"}).json()
    assert again["verdict"] == "pass"
    assert client.post("/api/planning/rule-sets", json={"version": "nx-2026.2"}).status_code == 409


def test_zones_of_a_hazard_source_and_existing_violations(client: TestClient) -> None:
    source = hazard_source(client, YINCHUAN)
    school = zone(client, "school", point(offset(YINCHUAN, 45, 150)))
    zones = client.get(f"/api/planning/zones/{source['id']}").json()
    classes = {f["properties"]["target_class"]: f for f in zones["features"]}
    assert {"highly_sensitive", "general_3"} <= set(classes)
    assert classes["highly_sensitive"]["geometry"]["type"] == "Polygon"
    assert [v["other_id"] for v in zones["violations"]] == [school]


def test_demo_parks_contain_their_enterprises(session: Session) -> None:
    from datetime import date

    from app.planning.demo import DEMO_PARKS, load_demo_parks
    from app.sites.demo import plan_demo, write_plan

    write_plan(session, plan_demo(session, seed=3, enterprises=300, as_of=date(2024, 6, 1)))
    made = load_demo_parks(session)["chemical_parks"]
    assert made >= 3
    outside = session.execute(
        text(
            "SELECT count(*) FROM enterprises e JOIN chemical_parks p ON p.name = e.park"
            " WHERE NOT ST_Covers(p.geom, e.geom)"
        )
    ).scalar_one()
    inside = session.execute(
        text("SELECT count(*) FROM enterprises e JOIN chemical_parks p ON p.name = e.park")
    ).scalar_one()
    assert inside > 0 and outside == 0
    classes = dict(session.execute(text("SELECT name, risk_class FROM chemical_parks")).all())
    assert classes["宁东能源化工基地"] == DEMO_PARKS["宁东能源化工基地"][0]


def test_parks_layer_in_features_and_tiles(client: TestClient) -> None:
    ningdong = (106.60, 38.10)
    park = _park(client, ningdong, "D")
    features = client.get("/api/features/chemical_parks?bbox=106.5,38.0,106.7,38.2").json()
    assert [f["id"] for f in features["features"]] == [park]
    assert features["features"][0]["properties"]["risk_class"] == "D"
    tile = client.get("/tiles/chemical_parks/12/3260/1578.mvt")
    assert tile.status_code == 200 and len(tile.content) > 20
    assert (
        client.get("/api/features/chemical_parks", headers={"Authorization": ""}).status_code == 401
    )


def test_every_clause_shown_to_planners_is_in_chinese() -> None:
    """Standards and clauses reach the planner's page and report as written: a note in
    English ('screening value', 'product choice') is no citation (codes like GB/T are)."""
    rules = builtin_rule_set()
    zoning = [rules.zoning["park_rule"], rules.zoning["dense_site"]]
    shown = [row.source_clause for row in rules.setbacks] + [
        f"{rule['standard']} {rule['clause']}" for rule in zoning
    ]
    assert [clause for clause in shown if re.search(r"[A-Za-z]{4,}", clause)] == []
