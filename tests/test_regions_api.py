"""The /api/regions contract and its errors."""

import math

import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.conftest import PUBLIC


def test_health(client: TestClient) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["postgis"].startswith("3.")


def test_get_region(client: TestClient) -> None:
    assert client.get("/api/regions/640100").json() == {
        "code": "640100",
        "name": "银川市",
        "level": "city",
        "parent_code": "640000",
    }


def test_children_of_ningxia_are_its_five_cities(client: TestClient) -> None:
    children = client.get("/api/regions/640000/children").json()
    assert [c["name"] for c in children] == ["银川市", "石嘴山市", "吴忠市", "固原市", "中卫市"]
    assert {c["level"] for c in children} == {"city"}


def test_children_of_hubei_include_province_administered_units(client: TestClient) -> None:
    codes = {c["code"]: c["level"] for c in client.get("/api/regions/420000/children").json()}
    assert codes["420100"] == "city" and codes["429004"] == "county"


def points_beside_shared_border(session, code_a: str, code_b: str, metres: float = 30.0):
    """Two points `metres` either side of the midpoint of the border between two regions."""
    rows = session.execute(
        text("SELECT code, ST_AsBinary(geom) FROM regions WHERE code IN (:a, :b)"),
        {"a": code_a, "b": code_b},
    ).all()
    shapes = {code: shapely.from_wkb(bytes(wkb)) for code, wkb in rows}
    border = shapely.line_merge(shapes[code_a].boundary.intersection(shapes[code_b].boundary))
    line = max(getattr(border, "geoms", [border]), key=lambda g: g.length)
    before, middle, after = (line.interpolate(f, normalized=True) for f in (0.49, 0.5, 0.51))
    dx, dy = after.x - before.x, after.y - before.y
    length = math.hypot(dx, dy)
    step = metres / 111_320.0
    normal = (-dy / length * step / math.cos(math.radians(middle.y)), dx / length * step)
    return [(middle.x + sign * normal[0], middle.y + sign * normal[1]) for sign in (1, -1)]


@pytest.mark.parametrize(
    ("code_a", "code_b"),
    [
        ("640104", "640106"),  # 兴庆区 | 金凤区, inside Yinchuan
        ("640502", "620423"),  # 沙坡头区 (Ningxia) | 景泰县 (Gansu)
        ("441900", "441322"),  # 东莞 (a city-level leaf) | 博罗县
    ],
)
def test_locate_on_both_sides_of_a_county_border(
    client: TestClient, session, code_a: str, code_b: str
) -> None:
    adjacent = session.execute(
        text(
            "SELECT ST_Touches(a.geom, b.geom) OR ST_Intersects(a.geom, b.geom) FROM regions a, regions b "
            "WHERE a.code = :a AND b.code = :b"
        ),
        {"a": code_a, "b": code_b},
    ).scalar()
    if not adjacent:
        pytest.skip(f"{code_a} and {code_b} do not share a border in this data version")
    located = set()
    for lon, lat in points_beside_shared_border(session, code_a, code_b):
        body = client.get("/api/regions/locate", params={"lon": lon, "lat": lat}).json()
        located.add(body["county"]["code"])
        assert body["province"]["code"] == body["county"]["code"][:2] + "0000"
    assert located == {code_a, code_b}


@pytest.mark.parametrize(
    ("lon", "lat", "county", "city"),
    [
        (106.280, 38.470, "640104", "640100"),  # 兴庆区, 银川市
        (113.75, 23.02, "441900", "441900"),  # 东莞 is its own county-level unit
        (113.45, 30.36, "429004", None),  # 仙桃 has no city above it
        (116.40, 39.91, "110101", "110100"),  # 东城区, Beijing's city-level unit
    ],
)
def test_locate(client: TestClient, lon: float, lat: float, county: str, city: str | None) -> None:
    body = client.get("/api/regions/locate", params={"lon": lon, "lat": lat}).json()
    assert body["county"]["code"] == county
    assert (body["city"] or {}).get("code") == city
    assert body["province"]["code"] == county[:2] + "0000"


def test_locate_finds_the_grid_cell(client: TestClient, session) -> None:
    from app.regions.grids import generate_grid

    generate_grid(session, county_code="640181", cell_size_m=5000)
    body = client.get("/api/regions/locate", params={"lon": 106.5, "lat": 38.0}).json()
    assert body["grid"]["code"].startswith("640181-")


def test_geometry_is_a_geojson_feature(client: TestClient) -> None:
    feature = client.get("/api/regions/640000/geometry").json()
    assert feature["type"] == "Feature" and feature["id"] == "640000"
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert feature["properties"]["name"] == "宁夏回族自治区"
    lon, lat = feature["geometry"]["coordinates"][0][0][0]
    assert 104 < lon < 108 and 35 < lat < 40
    coarse = client.get("/api/regions/640000/geometry", params={"detail": "coarse"}).json()
    assert len(str(coarse["geometry"])) < len(str(feature["geometry"]))


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        ("/api/regions/999999", 404, "code"),
        ("/api/regions/999999/children", 404, "code"),
        ("/api/regions/999999/geometry", 404, "code"),
        ("/api/regions/64000", 422, "code"),
        ("/api/regions/abcdef", 422, "code"),
        ("/api/regions/locate?lon=181&lat=30", 422, "lon"),
        ("/api/regions/locate?lon=100&lat=-91", 422, "lat"),
        ("/api/regions/locate?lon=abc&lat=30", 422, "lon"),
        ("/api/regions/locate?lat=30", 422, "lon"),
        ("/api/regions/640000/geometry?detail=huge", 422, "detail"),
    ],
)
def test_errors_name_the_field(client: TestClient, url: str, status: int, field: str) -> None:
    response = client.get(url)
    assert response.status_code == status
    assert response.json()["field"] == field


def test_unknown_code_is_named(client: TestClient) -> None:
    assert "999999" in client.get("/api/regions/999999").json()["detail"]


def test_point_outside_china(client: TestClient) -> None:
    response = client.get("/api/regions/locate", params={"lon": 2.35, "lat": 48.85})
    assert response.status_code == 404
    assert response.json()["detail"].startswith("no region contains")


def test_regions_are_public(client: TestClient) -> None:
    assert client.get("/api/regions/640100", headers=PUBLIC).status_code == 200
    assert client.get("/api/regions/110000", headers=PUBLIC).status_code == 200
    bad = client.get("/api/regions/640100", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401 and bad.json()["field"] == "Authorization"
    assert bad.headers["www-authenticate"] == "Bearer"
