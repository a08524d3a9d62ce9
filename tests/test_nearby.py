"""Issue 13: nearby search and emergency resources (real PostGIS, distances against pyproj)."""

import random
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pyproj import Geod
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.geo.chinese_datums import gcj02_to_bd09, wgs84_to_gcj02
from app.nearby.service import first_candidates
from tests.conftest import PUBLIC
from tests.factories import XINGQING, enterprise_payload, lec_point, square_around

GEOD = Geod(ellps="WGS84")
# Points well inside one county each, in five provinces.
CENTRES = {
    "ningxia": XINGQING,
    "beijing": (116.4100, 39.9100),  # 东城区
    "guangdong": (113.3600, 23.1300),  # 天河区
    "heilongjiang": (126.6300, 45.7500),  # 哈尔滨
    "xinjiang": (87.6200, 43.8200),  # 乌鲁木齐
}
MOHE = (122.5300, 52.9700)  # 漠河, Heilongjiang: a degree of longitude is 0.6 of latitude's
Row = tuple[str, int, float, float]  # kind, id, lon, lat


def _offset(centre: tuple[float, float], bearing: float, metres: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(centre[0], centre[1], bearing, metres)
    return lon, lat


def _post(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _resource(
    client: TestClient,
    where: tuple[float, float],
    kind: str = "fire_station",
    name: str = "消防救援站",
) -> int:
    return int(
        _post(
            client,
            "/api/emergency-resources",
            {
                "name": name,
                "kind": kind,
                "lon": where[0],
                "lat": where[1],
                "contact_person": "张三",
                "contact_phone": "13800000000",
            },
        )["id"]
    )


def _hidden_danger(
    session: Session,
    enterprise_id: int | None,
    where: tuple[float, float],
    grade: str = "major",
    status: str = "reported",
) -> int:
    return int(
        session.execute(
            text(
                "INSERT INTO hidden_dangers (enterprise_id, title, grade, status, geom)"
                " VALUES (:e, '消防通道堵塞', :grade, :status,"
                " ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) RETURNING id"
            ),
            {
                "e": enterprise_id,
                "grade": grade,
                "status": status,
                "lon": where[0],
                "lat": where[1],
            },
        ).scalar_one()
    )


def _every_kind_around(
    client: TestClient, session: Session, centre: tuple[float, float], seed: int
) -> list[Row]:
    """Two or three rows of every kind at random bearings, 150 m – 4.5 km from `centre`."""
    rng = random.Random(seed)

    def spot() -> tuple[float, float]:
        return _offset(centre, rng.uniform(0, 360), rng.uniform(150, 4500))

    rows: list[Row] = []
    where = spot()
    enterprise = _post(client, "/api/enterprises", enterprise_payload(where))["id"]
    rows.append(("enterprises", enterprise, *where))
    for factors in ((6, 6, 15), (1, 2, 3)):
        where = spot()
        rows.append(
            (
                "risk_points",
                _post(client, "/api/risk-points", lec_point(enterprise, *factors, where))["id"],
                *where,
            )
        )
    where = spot()
    rows.append(
        (
            "hazard_sources",
            _post(
                client,
                "/api/hazard-sources",
                {
                    "enterprise_id": enterprise,
                    "name": "液氯储罐",
                    "unit_type": "storage",
                    "substances": [{"cas": "7782-50-5", "quantity_t": 10}],
                    "lon": where[0],
                    "lat": where[1],
                },
            )["id"],
            *where,
        )
    )
    for level in ("red", "blue"):
        where = spot()
        rows.append(
            (
                "public_zones",
                _post(
                    client,
                    "/api/public-zones",
                    {
                        "name": "广场",
                        "kind": "square",
                        "risk_level": level,
                        "lon": where[0],
                        "lat": where[1],
                    },
                )["id"],
                *where,
            )
        )
    for _ in range(3):
        where = spot()
        rows.append(("emergency_resources", _resource(client, where), *where))
    where = spot()
    rows.append(("hidden_dangers", _hidden_danger(session, enterprise, where), *where))
    return rows


def _nearby(
    client: TestClient, headers: dict[str, str] | None = None, **params: Any
) -> dict[str, Any]:
    response = client.get("/api/nearby", params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/geo+json"
    body: dict[str, Any] = response.json()
    return body


def _expected(centre: tuple[float, float], rows: list[Row]) -> list[tuple[str, int, float, float]]:
    """(kind, id, distance, bearing) by pyproj's geodesic, nearest first."""
    measured = []
    for kind, id, lon, lat in rows:
        azimuth, _, distance = GEOD.inv(centre[0], centre[1], lon, lat)
        measured.append((kind, id, distance, azimuth % 360))
    return sorted(measured, key=lambda row: row[2])


def _assert_matches(
    features: list[dict[str, Any]], expected: list[tuple[str, int, float, float]]
) -> None:
    got = [(f["properties"]["kind"], f["properties"]["id"]) for f in features]
    assert got == [(kind, id) for kind, id, _, _ in expected]
    for feature, (_, _, distance, bearing) in zip(features, expected, strict=True):
        properties = feature["properties"]
        assert properties["distance_m"] == pytest.approx(distance, abs=0.06)
        turn = (properties["bearing_deg"] - bearing + 180) % 360 - 180
        assert abs(turn) <= 0.06


@pytest.mark.parametrize("province", sorted(CENTRES))
def test_nearby_ranks_by_geodesic_distance_with_bearings(
    client: TestClient, session: Session, province: str
) -> None:
    centre = CENTRES[province]
    rows = _every_kind_around(client, session, centre, seed=len(province))
    body = _nearby(client, lon=centre[0], lat=centre[1], radius_m=5000)
    assert body["type"] == "FeatureCollection"
    assert body["center"] == pytest.approx(list(centre))
    assert set(body["kinds"]) == {row[0] for row in rows}
    _assert_matches(body["features"], _expected(centre, rows))
    # The radius and the limit cut the same order.
    within = [row for row in _expected(centre, rows) if row[2] <= 2500]
    _assert_matches(
        _nearby(client, lon=centre[0], lat=centre[1], radius_m=2500)["features"], within
    )
    _assert_matches(
        _nearby(client, lon=centre[0], lat=centre[1], limit=3)["features"],
        _expected(centre, rows)[:3],
    )


def test_a_feature_carries_what_a_wardens_card_needs(client: TestClient, session: Session) -> None:
    enterprise = _post(
        client,
        "/api/enterprises",
        enterprise_payload(
            _offset(XINGQING, 90, 300),
            name="卡片化工有限公司",
            responsible_person="李四",
            responsible_phone="13900000000",
        ),
    )
    point = _post(
        client,
        "/api/risk-points",
        {
            **lec_point(enterprise["id"], 6, 6, 15, _offset(XINGQING, 0, 200)),
            "control_measures": "双人操作，配备气体检测仪",
            "responsible_person": "王五",
            "responsible_phone": "13700000000",
        },
    )
    _hidden_danger(session, enterprise["id"], _offset(XINGQING, 180, 100), grade="major")
    _hidden_danger(session, enterprise["id"], _offset(XINGQING, 180, 120), status="closed")
    resource = _resource(
        client, _offset(XINGQING, 270, 400), kind="rescue_team", name="综合应急救援队"
    )
    by_kind = {
        f["properties"]["kind"]: f
        for f in _nearby(client, lon=XINGQING[0], lat=XINGQING[1], radius_m=1000)["features"]
    }
    assert set(by_kind) == {
        "hidden_dangers",
        "risk_points",
        "enterprises",
        "emergency_resources",
    }  # the closed danger is not nearby
    risk = by_kind["risk_points"]
    assert risk["id"] == f"risk_points.{point['id']}"
    assert risk["geometry"]["type"] == "Point"
    assert risk["properties"] | {"distance_m": 0, "bearing_deg": 0} == {
        "kind": "risk_points",
        "id": point["id"],
        "name": "反应釜区",
        "risk_level": "red",
        "distance_m": 0,
        "bearing_deg": 0,
        "enterprise_id": enterprise["id"],
        "enterprise_name": "卡片化工有限公司",
        "control_measures": "双人操作，配备气体检测仪",
        "responsible_person": "王五",
        "responsible_phone": "13700000000",
    }
    assert by_kind["enterprises"]["properties"]["responsible_phone"] == "13900000000"
    danger = by_kind["hidden_dangers"]["properties"]
    assert (
        danger["name"],
        danger["risk_level"],
        danger["danger_grade"],
        danger["enterprise_name"],
    ) == ("消防通道堵塞", "red", "major", "卡片化工有限公司")
    assert by_kind["emergency_resources"]["properties"] | {"distance_m": 0} == {
        "kind": "emergency_resources",
        "id": resource,
        "name": "综合应急救援队",
        "risk_level": None,
        "distance_m": 0,
        "bearing_deg": by_kind["emergency_resources"]["properties"]["bearing_deg"],
        "resource_kind": "rescue_team",
        "contact_person": "张三",
        "contact_phone": "13800000000",
    }
    # levels: red rows only (the enterprise is red by its risk point); emergency resources
    # carry no level and are left out.
    red = _nearby(client, lon=XINGQING[0], lat=XINGQING[1], radius_m=1000, levels="red")
    assert {f["properties"]["kind"] for f in red["features"]} == {
        "risk_points",
        "hidden_dangers",
        "enterprises",
    }
    assert "emergency_resources" not in red["kinds"]


def test_zones_are_measured_to_their_outline(client: TestClient) -> None:
    square = square_around(XINGQING[0], XINGQING[1], 0.002)
    zone = _post(
        client, "/api/public-zones", {"name": "工业园区", "kind": "park", "geometry": square}
    )["id"]
    inside = _nearby(client, lon=XINGQING[0], lat=XINGQING[1], kinds="public_zones")
    assert inside["features"][0]["properties"] | {"id": zone} == {
        "kind": "public_zones",
        "id": zone,
        "name": "工业园区",
        "risk_level": None,
        "distance_m": 0,
        "bearing_deg": None,
        "zone_kind": "park",
    }
    assert inside["features"][0]["geometry"]["type"] == "Polygon"
    # From 1 km east of the square's east edge, at the latitude of the square's centre.
    edge = (XINGQING[0] + 0.002, XINGQING[1])
    east = _offset(edge, 90, 1000)
    outside = _nearby(client, lon=east[0], lat=east[1], kinds="public_zones")
    properties = outside["features"][0]["properties"]
    assert properties["distance_m"] == pytest.approx(1000, abs=0.2)
    assert properties["bearing_deg"] == pytest.approx(270, abs=0.2)


def _border_point(session: Session, a: str, b: str) -> tuple[float, float]:
    """A point on the border of two counties (near the first one's centre)."""
    row = session.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_ClosestPoint(ST_Intersection(a.geom, b.geom),"
            " ST_PointOnSurface(a.geom)) AS p FROM regions a, regions b"
            " WHERE a.code = :a AND b.code = :b) s"
        ),
        {"a": a, "b": b},
    ).one()
    return float(row[0]), float(row[1])


def test_nearby_crosses_county_borders_and_keeps_the_scope(
    client: TestClient, session: Session, make_user
) -> None:
    border = _border_point(session, "640104", "640106")  # 兴庆区 | 金凤区
    rows: list[Row] = []
    for bearing in range(0, 360, 45):
        for metres in (120, 700):
            where = _offset(border, bearing + metres / 100, metres)
            rows.append(("emergency_resources", _resource(client, where), *where))
    counties = dict(session.execute(text("SELECT id, county_code FROM emergency_resources")).all())
    assert set(counties.values()) == {"640104", "640106"}
    centre = _offset(border, 45, 30)
    expected = _expected(centre, rows)
    _assert_matches(
        _nearby(client, lon=centre[0], lat=centre[1], radius_m=1000)["features"], expected
    )
    # 兴庆区's official sees its own county's side only, in the same order.
    xingqing = make_user("official", region_code="640104")
    mine = [row for row in expected if counties[row[1]] == "640104"]
    assert 0 < len(mine) < len(expected)
    _assert_matches(
        _nearby(client, xingqing, lon=centre[0], lat=centre[1], radius_m=1000)["features"], mine
    )


def test_knn_candidates_are_rechecked_geodesically_at_high_latitude(
    client: TestClient, session: Session
) -> None:
    # At 53° N, 1 km east is 0.0150° of longitude while 1.2–1.5 km north is 0.011–0.013° of
    # latitude: the twenty rows to the north come first in degrees, last on the ground.
    east = _offset(MOHE, 90, 1000)
    north = [_offset(MOHE, 0, 1200 + 15 * i) for i in range(20)]
    rows: list[Row] = [("emergency_resources", _resource(client, east), *east)]
    rows += [("emergency_resources", _resource(client, where), *where) for where in north]
    by_degrees = (
        session.execute(
            text(
                "SELECT id FROM emergency_resources ORDER BY geom <-> ST_SetSRID(ST_MakePoint("
                ":lon, :lat), 4326) LIMIT :n"
            ),
            {"lon": MOHE[0], "lat": MOHE[1], "n": first_candidates(1, MOHE[1])},
        )
        .scalars()
        .all()
    )
    # The first candidate list, cut by degrees, misses the nearest row: it must be widened.
    assert rows[0][1] not in by_degrees
    expected = _expected(MOHE, rows)
    assert expected[0][1] == rows[0][1]
    for limit in (1, 3, 21):
        _assert_matches(
            _nearby(client, lon=MOHE[0], lat=MOHE[1], limit=limit)["features"], expected[:limit]
        )


def test_the_scope_decides_what_is_nearby(client: TestClient, session: Session, make_user) -> None:
    rows = _every_kind_around(client, session, XINGQING, seed=3)
    at = {"lon": XINGQING[0], "lat": XINGQING[1], "radius_m": 5000}
    other_city = make_user("official", region_code="640200")  # 石嘴山
    assert _nearby(client, other_city, **at)["features"] == []
    response = client.get("/api/nearby", params=at, headers=PUBLIC)
    assert response.status_code == 401
    planner = make_user("planner", region_code="640000")
    refused = client.get("/api/nearby", params={**at, "kinds": "enterprises"}, headers=planner)
    assert refused.status_code == 403 and refused.json()["field"] == "kinds"
    planned = _nearby(client, planner, **at)
    assert planned["kinds"] == ["hazard_sources", "public_zones", "emergency_resources"]
    assert {f["properties"]["kind"] for f in planned["features"]} == set(planned["kinds"])
    enterprise_id = next(id for kind, id, _, _ in rows if kind == "enterprises")
    own = _nearby(client, make_user("enterprise", enterprise_id=enterprise_id), **at)
    assert own["kinds"] == ["risk_points", "enterprises", "hazard_sources", "hidden_dangers"]
    assert len(own["features"]) == 5
    assert all(
        f["properties"].get("enterprise_id", f["properties"]["id"]) == enterprise_id
        for f in own["features"]
    )


def _wgs84_to_bd09(lon: float, lat: float) -> Any:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


@pytest.mark.parametrize(("crs", "convert"), [("gcj02", wgs84_to_gcj02), ("bd09", _wgs84_to_bd09)])
def test_obfuscated_datums_give_the_answer_of_the_wgs84_point(
    client: TestClient, session: Session, crs: str, convert: Any
) -> None:
    rows = _every_kind_around(client, session, XINGQING, seed=5)
    lon, lat = (float(v) for v in convert(XINGQING[0], XINGQING[1]))
    assert GEOD.inv(lon, lat, *XINGQING)[2] > 100  # the datum moves the point visibly
    body = _nearby(client, lon=lon, lat=lat, crs=crs)
    assert body["center"] == pytest.approx(list(XINGQING), abs=1e-8)
    _assert_matches(body["features"], _expected(XINGQING, rows))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lon": 139.70, "lat": 35.70}, "lon,lat"),  # Tokyo
        ({"lon": 124.00, "lat": 30.00}, "lon,lat"),  # the East China Sea: no region
        ({"radius_m": 50_001}, "radius_m"),
        ({"radius_m": 0}, "radius_m"),
        ({"radius_m": -5}, "radius_m"),
        ({"limit": 201}, "limit"),
        ({"limit": 0}, "limit"),
        ({"kinds": "risk_points,volcanoes"}, "kinds"),
        ({"levels": "red,purple"}, "levels"),
        ({"kinds": "emergency_resources", "levels": "red"}, "levels"),
        ({"crs": "epsg3857"}, "crs"),
        ({"lon": 200}, "lon"),
    ],
)
def test_bad_input_names_the_field(client: TestClient, params: dict[str, Any], field: str) -> None:
    response = client.get("/api/nearby", params={"lon": XINGQING[0], "lat": XINGQING[1], **params})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_emergency_resources_crud_within_scope(client: TestClient, make_user) -> None:
    created = client.post(
        "/api/emergency-resources",
        json={
            "name": "兴庆区应急物资储备点",
            "kind": "materials_depot",
            "capacity": "帐篷200顶",
            "lon": XINGQING[0],
            "lat": XINGQING[1],
        },
    )
    assert created.status_code == 201, created.text
    resource = created.json()
    assert resource["county_code"] == "640104" and resource["kind"] == "materials_depot"
    path = f"/api/emergency-resources/{resource['id']}"
    assert client.get(path).json()["capacity"] == "帐篷200顶"
    moved = client.patch(
        path,
        json={
            "capacity": "帐篷300顶",
            "lon": 106.2250,
            "lat": 38.4800,
            "version": resource["version"],
        },
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["county_code"], moved.json()["capacity"]) == ("640106", "帐篷300顶")
    stale = client.patch(path, json={"name": "旧", "version": resource["version"]})
    assert stale.status_code == 409
    bad = client.post(
        "/api/emergency-resources",
        json={"name": "x", "kind": "volcano", "lon": XINGQING[0], "lat": XINGQING[1]},
    )
    assert bad.status_code == 422 and bad.json()["field"] == "kind"
    # Readers: officials, planners, wardens of the region; not enterprises, not the public.
    listed = client.get(
        "/api/emergency-resources", headers=make_user("planner", region_code="640000")
    )
    assert [item["id"] for item in listed.json()["items"]] == [resource["id"]]
    assert client.get(path, headers=make_user("enterprise", enterprise_id=1)).status_code == 404
    assert client.get("/api/emergency-resources", headers=PUBLIC).status_code == 401
    # Writers: inside their region only.
    shizuishan = make_user("official", region_code="640200")
    placed = client.post(
        "/api/emergency-resources",
        headers=shizuishan,
        json={"name": "避难场所", "kind": "shelter", "lon": XINGQING[0], "lat": XINGQING[1]},
    )
    assert placed.status_code == 403 and placed.json()["field"] == "geometry"
    assert client.delete(path, headers=shizuishan).status_code == 404
    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404


def test_nearest_emergency_resources_by_kind(client: TestClient, make_user) -> None:
    rng = random.Random(11)
    rows: dict[str, list[Row]] = {"fire_station": [], "hospital": []}
    for kind, made in rows.items():
        for _ in range(4):
            where = _offset(XINGQING, rng.uniform(0, 360), rng.uniform(500, 60_000))
            made.append(("emergency_resources", _resource(client, where, kind=kind), *where))
    response = client.get(
        "/api/emergency/nearest",
        params={"lon": XINGQING[0], "lat": XINGQING[1], "kind": "hospital", "limit": 3},
    )
    assert response.status_code == 200, response.text
    features = response.json()["features"]
    _assert_matches(features, _expected(XINGQING, rows["hospital"])[:3])
    assert {f["properties"]["resource_kind"] for f in features} == {"hospital"}
    every = client.get(
        "/api/emergency/nearest", params={"lon": XINGQING[0], "lat": XINGQING[1], "limit": 200}
    ).json()["features"]
    _assert_matches(every, _expected(XINGQING, rows["fire_station"] + rows["hospital"]))
    gcj = [float(v) for v in wgs84_to_gcj02(XINGQING[0], XINGQING[1])]
    by_gcj = client.get(
        "/api/emergency/nearest",
        params={"lon": gcj[0], "lat": gcj[1], "crs": "gcj02", "limit": 200},
    ).json()["features"]
    _assert_matches(by_gcj, _expected(XINGQING, rows["fire_station"] + rows["hospital"]))
    enterprise = client.get(
        "/api/emergency/nearest",
        params={"lon": XINGQING[0], "lat": XINGQING[1]},
        headers=make_user("enterprise", enterprise_id=1),
    )
    assert enterprise.status_code == 403
    far = client.get(
        "/api/emergency/nearest",
        params={"lon": XINGQING[0], "lat": XINGQING[1], "radius_m": 500_001},
    )
    assert far.status_code == 422 and far.json()["field"] == "radius_m"


def test_an_unknown_kind_or_level_is_answered_with_the_allowed_words(client: TestClient) -> None:
    here = {"lon": XINGQING[0], "lat": XINGQING[1]}
    kinds = client.get("/api/nearby", params={**here, "kinds": "risk_points,volcanoes"}).json()
    assert "not a comma-separated list of: risk_points, enterprises" in kinds["detail"]
    levels = client.get("/api/nearby", params={**here, "levels": "purple"}).json()
    assert levels["errors"][0]["reason"] == (
        "not a comma-separated list of: red, orange, yellow, blue"
    )
