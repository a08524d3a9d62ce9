"""Vector tiles: features and positions, aggregation truthfulness, filters, cache, errors."""

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.geo.webmercator import lonlat_to_tile, tile_to_lonlat, tiles_covering
from tests.factories import XINGQING, enterprise_payload, lec_point
from tests.tile_counts import decode

NINGXIA_BBOX = (104.2, 35.2, 107.7, 39.4)
EXTENT = 4096


def feature_lonlat(feature: dict, z: int, x: int, y: int) -> tuple[float, float]:
    px, py = feature["geometry"]["coordinates"]
    return tile_to_lonlat(z, x + px / EXTENT, y + py / EXTENT)


def test_enterprise_tile_carries_properties_and_position(client: TestClient) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload(sector="冶金")).json()
    client.post("/api/risk-points", json=lec_point(enterprise["id"], 6, 6, 15))
    z = 14
    x, y = lonlat_to_tile(*XINGQING, z)
    response = client.get(f"/tiles/enterprises/{z}/{x}/{y}.mvt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    features = decode(response.content)["enterprises"]["features"]
    ours = [f for f in features if f["properties"]["id"] == enterprise["id"]]
    assert len(ours) == 1
    props = ours[0]["properties"]
    assert (props["name"], props["level"], props["sector"]) == (enterprise["name"], "red", "冶金")
    lon, lat = feature_lonlat(ours[0], z, x, y)
    # One tile pixel at z14 is ~9.5 m; allow two.
    assert abs(lon - XINGQING[0]) < 2e-4 and abs(lat - XINGQING[1]) < 2e-4


def _scatter(session: Session, n: int) -> None:
    session.execute(
        text("""
        INSERT INTO risk_points (name, method, inputs, score, risk_level, geom)
        SELECT '风险点', 'lec', '{}'::jsonb, 0,
               (ARRAY['red','orange','yellow','blue'])[1 + (row_number() OVER ()) % 4], pt.geom
          FROM regions r, LATERAL (SELECT (ST_Dump(ST_GeneratePoints(r.geom, :n, 7))).geom) pt
         WHERE r.code = '640000'
    """),
        {"n": n},
    )


@pytest.mark.parametrize("z", [4, 6, 8])
def test_low_zoom_aggregation_counts_equal_raw_counts(
    client: TestClient, session: Session, z: int
) -> None:
    _scatter(session, 2000)
    raw = dict(
        session.execute(
            text("SELECT risk_level, count(*) FROM risk_points GROUP BY risk_level")
        ).all()
    )
    totals = {"count": 0, "red": 0, "orange": 0, "yellow": 0, "blue": 0}
    for x, y in tiles_covering(*NINGXIA_BBOX, z):
        response = client.get(f"/tiles/risk_points/{z}/{x}/{y}.mvt")
        assert len(response.content) < 500 * 1024
        for feature in decode(response.content).get("risk_points", {}).get("features", []):
            props = feature["properties"]
            assert props["aggregated"] is True
            for key in totals:
                totals[key] += props[key]
    assert totals["count"] == sum(raw.values()) == 2000
    assert all(totals[level] == raw[level] for level in ("red", "orange", "yellow", "blue"))


def test_aggregated_cell_has_the_highest_colour(client: TestClient, session: Session) -> None:
    _scatter(session, 400)
    x, y = lonlat_to_tile(106.2, 37.5, 4)
    features = decode(client.get(f"/tiles/risk_points/4/{x}/{y}.mvt").content)["risk_points"][
        "features"
    ]
    for feature in features:
        props = feature["properties"]
        expected = next(level for level in ("red", "orange", "yellow", "blue") if props[level])
        assert props["level"] == expected


def test_level_and_region_filters(client: TestClient, session: Session) -> None:
    _scatter(session, 400)
    x, y = lonlat_to_tile(106.2, 37.5, 4)
    red = decode(client.get(f"/tiles/risk_points/4/{x}/{y}.mvt", params={"level": "red"}).content)
    props = [f["properties"] for f in red["risk_points"]["features"]]
    assert props and all(p["orange"] == p["yellow"] == p["blue"] == 0 for p in props)
    elsewhere = client.get(f"/tiles/risk_points/4/{x}/{y}.mvt", params={"region": "110000"})
    assert elsewhere.content == b""


def test_sector_filter_follows_the_enterprise(client: TestClient) -> None:
    chemical = client.post("/api/enterprises", json=enterprise_payload()).json()
    client.post("/api/risk-points", json=lec_point(chemical["id"], 3, 6, 7))
    z = 14
    x, y = lonlat_to_tile(*XINGQING, z)
    url = f"/tiles/risk_points/{z}/{x}/{y}.mvt"
    assert decode(client.get(url, params={"sector": "危险化学品"}).content)["risk_points"][
        "features"
    ]
    assert client.get(url, params={"sector": "烟花爆竹"}).content == b""


def test_regions_layer_picks_the_level_by_zoom(client: TestClient) -> None:
    for z, level in ((4, "province"), (6, "city"), (9, "county")):
        x, y = lonlat_to_tile(106.2, 38.4, z)
        response = client.get(f"/tiles/regions/{z}/{x}/{y}.mvt")
        assert len(response.content) < 500 * 1024
        features = decode(response.content)["regions"]["features"]
        assert {f["properties"]["level_kind"] for f in features} == {level}
        assert all(f["properties"]["method"].startswith("highest@") for f in features)


def test_regions_tile_shows_the_risk_engine_colour(client: TestClient) -> None:
    client.post("/api/risk-points", json=lec_point(None, 6, 6, 15))  # red, in 兴庆区
    x, y = lonlat_to_tile(*XINGQING, 9)
    features = decode(client.get(f"/tiles/regions/9/{x}/{y}.mvt").content)["regions"]["features"]
    xingqing = next(f for f in features if f["properties"]["code"] == "640104")
    assert xingqing["properties"]["level"] == "red" and xingqing["properties"]["red"] == 1


def test_cache_etag_304_and_invalidation_by_a_write(client: TestClient) -> None:
    point = client.post("/api/risk-points", json=lec_point(None, 3, 6, 7)).json()
    z = 15
    x, y = lonlat_to_tile(*XINGQING, z)
    url = f"/tiles/risk_points/{z}/{x}/{y}.mvt"
    first = client.get(url)
    assert first.headers["x-tile-cache"] == "miss" and "no-cache" in first.headers["cache-control"]
    second = client.get(url)
    assert (
        second.headers["x-tile-cache"] == "hit" and second.headers["etag"] == first.headers["etag"]
    )
    assert client.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304

    client.patch(f"/api/risk-points/{point['id']}", json={"inputs": {"l": 6, "e": 6, "c": 15}})
    third = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert third.status_code == 200 and third.headers["etag"] != first.headers["etag"]
    levels = {f["properties"]["level"] for f in decode(third.content)["risk_points"]["features"]}
    assert levels == {"red"}
    # Another layer's tiles were not invalidated by the risk-point write.
    ex, ey = lonlat_to_tile(*XINGQING, 14)
    client.get(f"/tiles/emergency_resources/14/{ex}/{ey}.mvt")
    client.patch(f"/api/risk-points/{point['id']}", json={"name": "改名"})
    assert (
        client.get(f"/tiles/emergency_resources/14/{ex}/{ey}.mvt").headers["x-tile-cache"] == "hit"
    )


def test_a_current_client_copy_is_confirmed_without_rendering(client: TestClient) -> None:
    # Another server process (its own empty tile cache) answers the client's ETag with 304.
    x, y = lonlat_to_tile(*XINGQING, 12)
    url = f"/tiles/enterprises/12/{x}/{y}.mvt"
    etag = client.get(url).headers["etag"]
    client.app.state.tile_cache.clear()
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(url).headers["x-tile-cache"] == "miss"  # the 304 rendered nothing


def test_tilejson(client: TestClient) -> None:
    body = client.get("/tiles/enterprises/tilejson.json", params={"level": "red"}).json()
    assert body["tilejson"] == "3.0.0"
    assert body["tiles"][0].endswith("/tiles/enterprises/{z}/{x}/{y}.mvt?level=red")
    assert body["vector_layers"][0]["id"] == "enterprises"


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        ("/tiles/nope/1/0/0.mvt", 404, "layer"),
        ("/tiles/nope/tilejson.json", 404, "layer"),
        ("/tiles/enterprises/23/0/0.mvt", 422, "z"),
        ("/tiles/enterprises/-1/0/0.mvt", 422, "z"),
        ("/tiles/enterprises/3/8/0.mvt", 422, "x"),
        ("/tiles/enterprises/3/0/8.mvt", 422, "y"),
        ("/tiles/enterprises/3/a/0.mvt", 422, "x"),
        ("/tiles/enterprises/3/0/0.mvt?level=purple", 422, "level"),
        ("/tiles/emergency_resources/3/0/0.mvt?level=red", 422, "level"),
        ("/tiles/public_zones/3/0/0.mvt?sector=冶金", 422, "sector"),
        ("/tiles/enterprises/3/0/0.mvt?region=abc", 422, "region"),
        ("/tiles/enterprises/3/0/0.mvt?updated_since=yesterday", 422, "updated_since"),
    ],
)
def test_bad_tile_requests(client: TestClient, url: str, status: int, field: str) -> None:
    response = client.get(url)
    assert response.status_code == status
    assert response.json()["field"] == field


def test_layer_version_is_bumped_once_at_commit(engine) -> None:
    """Writers hold the shared version row only while committing, once per transaction."""

    def version() -> int:
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT version FROM layer_versions WHERE layer = 'emergency_resources'")
            ).scalar_one()

    before = version()
    insert = text("""
        INSERT INTO emergency_resources (name, kind, geom)
        SELECT '救援队' || n, 'rescue_team', ST_SetSRID(ST_MakePoint(106.28 + n * 0.001, 38.47), 4326)
          FROM generate_series(1, 3) AS n""")
    with engine.connect() as connection:
        with connection.begin():
            connection.execute(insert)
            connection.execute(insert)
            # Not yet: the bump waits for the commit.
            assert (
                connection.execute(
                    text("SELECT version FROM layer_versions WHERE layer = 'emergency_resources'")
                ).scalar_one()
                == before
            )
    try:
        assert version() == before + 1
    finally:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM emergency_resources WHERE name LIKE '救援队%'"))
    assert version() == before + 2


def test_layer_versions_follow_commits_through_notifications(engine) -> None:
    from sqlalchemy.orm import Session as OrmSession

    from app.tiles.versions import LayerVersions, query_version, wait_until_live

    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    versions = LayerVersions(dsn)
    with OrmSession(engine) as session:
        # Not listening yet: the table answers.
        assert versions.cached("emergency_resources") is None
        versions.start()
        try:
            assert wait_until_live(versions)
            before = versions.cached("emergency_resources")
            assert before == query_version(session, "emergency_resources")
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO emergency_resources (name, kind, geom) VALUES ('通知测试', "
                        "'rescue_team', ST_SetSRID(ST_MakePoint(106.28, 38.47), 4326))"
                    )
                )
            deadline = time.monotonic() + 5
            while versions.cached("emergency_resources") == before and time.monotonic() < deadline:
                time.sleep(0.01)
            assert versions.cached("emergency_resources") == before + 1
        finally:
            versions.stop()
            with engine.begin() as connection:
                connection.execute(text("DELETE FROM emergency_resources WHERE name = '通知测试'"))
