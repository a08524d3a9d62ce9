"""Issue 10: one scope on every read and write path (real PostGIS, tokens, tiles decoded)."""

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.conftest import PUBLIC
from tests.factories import (
    DAWUKOU,
    DONGLI,
    LINGWU,
    XINGQING,
    XIQING,
    enterprise_payload,
    lec_point,
)

YINCHUAN, SHIZUISHAN = "640100", "640200"
# z14 tile over 兴庆区 (106.28, 38.47).
XINGQING_TILE = "14/13028/6292"


def _create(client: TestClient, path: str, body: dict) -> dict:
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def places(client: TestClient) -> dict[str, dict]:
    """One enterprise (with a risk point) in 兴庆 and 灵武 (银川), 大武口 (石嘴山), 东丽 and 西青."""
    made = {}
    for name, where, sector in (
        ("xingqing", XINGQING, "危险化学品"),
        ("lingwu", LINGWU, "建筑施工"),
        ("dawukou", DAWUKOU, "危险化学品"),
        ("dongli", DONGLI, "危险化学品"),
        ("xiqing", XIQING, "危险化学品"),
    ):
        enterprise = _create(
            client,
            "/api/enterprises",
            enterprise_payload(where, name=f"范围测试{name}公司", sector=sector),
        )
        _create(client, "/api/risk-points", lec_point(enterprise["id"], 6, 6, 15, where))
        made[name] = enterprise
    return made


def _ids(client: TestClient, path: str, headers: dict, **params: str) -> set[int]:
    response = client.get(path, params={"limit": 1000, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


def test_an_official_reads_and_writes_inside_the_region_only(client, make_user, places) -> None:
    yinchuan = make_user("official", region_code=YINCHUAN)
    assert _ids(client, "/api/enterprises", yinchuan) == {
        places["xingqing"]["id"],
        places["lingwu"]["id"],
    }
    outside = places["dawukou"]["id"]
    response = client.get(f"/api/enterprises/{outside}", headers=yinchuan)
    assert response.status_code == 404 and response.json()["field"] == "id"
    assert client.delete(f"/api/enterprises/{outside}", headers=yinchuan).status_code == 404
    # Writes: inside → 201; placed or moved outside → 403 naming geometry, nothing written.
    inside = client.post("/api/enterprises", json=enterprise_payload(XINGQING), headers=yinchuan)
    assert inside.status_code == 201
    before = client.get("/api/enterprises").json()["total"]
    placed = client.post("/api/enterprises", json=enterprise_payload(DAWUKOU), headers=yinchuan)
    assert placed.status_code == 403 and placed.json()["field"] == "geometry"
    moved = client.patch(
        f"/api/enterprises/{inside.json()['id']}",
        json={"lon": DAWUKOU[0], "lat": DAWUKOU[1]},
        headers=yinchuan,
    )
    assert moved.status_code == 403 and moved.json()["field"] == "geometry"
    assert client.get("/api/enterprises").json()["total"] == before
    assert client.get(f"/api/enterprises/{inside.json()['id']}").json()["county_code"] == "640104"


def test_a_county_code_with_a_trailing_zero_is_not_a_prefix(client, make_user, places) -> None:
    dongli = make_user("official", region_code="120110")
    assert _ids(client, "/api/enterprises", dongli) == {places["dongli"]["id"]}
    assert (
        client.get(f"/api/enterprises/{places['xiqing']['id']}", headers=dongli).status_code == 404
    )
    # A region filter has the same rule.
    assert _ids(client, "/api/enterprises", {}, region="120110") == {places["dongli"]["id"]}


def test_the_public_sees_aggregates_only(client, places) -> None:
    assert client.get("/api/enterprises", headers=PUBLIC).status_code == 401
    assert (
        client.get(f"/api/enterprises/{places['xingqing']['id']}", headers=PUBLIC).status_code
        == 404
    )
    write = client.post("/api/enterprises", json=enterprise_payload(), headers=PUBLIC)
    assert write.status_code == 401 and write.headers["www-authenticate"] == "Bearer"
    assert client.get(f"/tiles/enterprises/{XINGQING_TILE}.mvt", headers=PUBLIC).status_code == 401
    assert client.get("/tiles/regions/6/49/24.mvt", headers=PUBLIC).status_code == 200
    summary = client.get("/api/risk/summary", params={"parent": "640000"}, headers=PUBLIC)
    assert summary.status_code == 200
    assert sum(row["enterprises_total"] for row in summary.json()) >= 3
    heat = client.get("/api/heat", params={"bbox": "105,37,107,40", "zoom": 8}, headers=PUBLIC)
    assert heat.status_code == 401
    export = client.get(f"/api/exports/regions/{YINCHUAN}.html", headers=PUBLIC)
    assert export.status_code == 200 and "范围测试" not in export.text


def _tile_names(client: TestClient, headers: dict) -> tuple[set[str], str]:
    response = client.get(f"/tiles/enterprises/{XINGQING_TILE}.mvt", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "private, no-cache"
    assert response.headers["vary"] == "Authorization"
    decoded = mapbox_vector_tile.decode(response.content)
    features = decoded.get("enterprises", {}).get("features", [])
    return {f["properties"]["name"] for f in features}, response.headers["etag"]


def test_tiles_carry_only_the_scope_and_are_cached_per_scope(client, make_user, places) -> None:
    xingqing = places["xingqing"]["name"]
    mine, mine_etag = _tile_names(client, make_user("official", region_code=YINCHUAN))
    assert xingqing in mine
    # The same tile next for another scope: not the cached one, and nothing foreign in it.
    foreign, foreign_etag = _tile_names(client, make_user("official", region_code=SHIZUISHAN))
    assert foreign == set() and foreign_etag != mine_etag
    own, _ = _tile_names(client, make_user("enterprise", enterprise_id=places["dawukou"]["id"]))
    assert own == set()


def test_ogc_items_and_counts_follow_the_scope(client, make_user, places) -> None:
    shizuishan = make_user("official", region_code=SHIZUISHAN)
    page = client.get(
        "/ogc/collections/enterprises/items", params={"limit": 100}, headers=shizuishan
    ).json()
    assert page["numberMatched"] == 1
    assert [f["id"] for f in page["features"]] == [places["dawukou"]["id"]]
    item = client.get(
        f"/ogc/collections/enterprises/items/{places['xingqing']['id']}", headers=shizuishan
    )
    assert item.status_code == 404
    features = client.get("/api/features/risk_points", headers=shizuishan).json()
    assert features["numberMatched"] == 1


def test_search_heat_and_export_follow_the_scope(client, make_user, places) -> None:
    shizuishan = make_user("official", region_code=SHIZUISHAN)
    hits = client.get("/api/search", params={"q": "范围测试"}, headers=shizuishan).json()
    assert [i["id"] for i in hits["items"] if i["type"] == "enterprise"] == [
        places["dawukou"]["id"]
    ]
    heat = client.get(
        "/api/heat",
        params={"bbox": "105,37,108,40", "zoom": 6, "layer": "enterprises"},
        headers=shizuishan,
    ).json()
    assert heat["count"] == 1
    export = client.get(f"/api/exports/regions/{YINCHUAN}.html", headers=shizuishan).text
    assert places["xingqing"]["name"] not in export
    assert places["xingqing"]["name"] in client.get(f"/api/exports/regions/{YINCHUAN}.html").text


def test_an_enterprise_account_sees_and_changes_its_own_records_only(
    client, make_user, places
) -> None:
    own, other = places["xingqing"]["id"], places["lingwu"]["id"]
    account = make_user("enterprise", enterprise_id=own)
    assert _ids(client, "/api/enterprises", account) == {own}
    assert client.get(f"/api/enterprises/{other}", headers=account).status_code == 404
    assert client.get(f"/api/map/enterprises/{other}", headers=account).status_code == 404
    points = client.get("/api/risk-points", headers=account).json()["items"]
    assert {p["enterprise_id"] for p in points} == {own}
    created = client.post("/api/risk-points", json=lec_point(own, 3, 6, 7), headers=account)
    assert created.status_code == 201
    foreign = client.post(
        "/api/risk-points", json=lec_point(other, 3, 6, 7, LINGWU), headers=account
    )
    assert foreign.status_code == 422 and foreign.json()["field"] == "enterprise_id"
    renamed = client.patch(f"/api/enterprises/{own}", json={"name": "改名"}, headers=account)
    assert renamed.status_code == 403
    assert client.get("/api/public-zones", headers=account).status_code == 403


def test_planners_and_wardens_read_what_their_work_needs(
    client, make_user, session, places
) -> None:
    planner = make_user("planner", region_code="640000")
    assert client.get("/api/enterprises", headers=planner).status_code == 403
    assert client.get("/api/public-zones", headers=planner).status_code == 200
    assert (
        client.post(
            "/api/public-zones",
            json={"name": "广场", "kind": "square", "lon": XINGQING[0], "lat": XINGQING[1]},
            headers=planner,
        ).status_code
        == 403
    )
    client.post("/api/risk/snapshots")  # nothing to do with wardens: just a write by admin
    session.execute(
        text(
            "INSERT INTO grid_cells (code, name, county_code, geom, source) "
            "SELECT '640104-T1', '测试网格', '640104', geom, 'imported' "
            "FROM regions WHERE code = '640104'"
        )
    )
    warden = make_user("warden", grid_cells=["640104-T1"])
    assert _ids(client, "/api/enterprises", warden) == {places["xingqing"]["id"]}
    assert (
        client.post(
            "/api/enterprises", json=enterprise_payload(XINGQING), headers=warden
        ).status_code
        == 403
    )


def test_a_department_sees_and_changes_its_sectors_only(client, make_user, places) -> None:
    construction = make_user("official", region_code=YINCHUAN, department="住房城乡建设")
    assert _ids(client, "/api/enterprises", construction) == {places["lingwu"]["id"]}
    chemical = client.post(
        "/api/enterprises", json=enterprise_payload(XINGQING), headers=construction
    )
    assert chemical.status_code == 403 and chemical.json()["field"] == "sector"


def test_snapshots_are_for_admins(client, make_user) -> None:
    assert client.post("/api/risk/snapshots", headers=PUBLIC).status_code == 401
    official = make_user("official", region_code="640000")
    assert client.post("/api/risk/snapshots", headers=official).status_code == 403
    assert client.post("/api/risk/snapshots").status_code == 201


def test_assessing_around_a_point_counts_only_visible_zones(client, make_user) -> None:
    zone = {
        "name": "小区",
        "kind": "residential",
        "population": 300,
        "lon": XINGQING[0] + 0.001,
        "lat": XINGQING[1],
    }
    assert client.post("/api/public-zones", json=zone).status_code == 201
    body = {
        "substances": [{"cas": "7782-50-5", "quantity_t": 10}],
        "geometry": {"type": "Point", "coordinates": list(XINGQING)},
    }
    assert client.post("/api/hazard-sources/assess", json=body, headers=PUBLIC).status_code == 401
    inside = client.post(
        "/api/hazard-sources/assess", json=body, headers=make_user("official", region_code=YINCHUAN)
    ).json()
    outside = client.post(
        "/api/hazard-sources/assess",
        json=body,
        headers=make_user("official", region_code=SHIZUISHAN),
    ).json()
    assert inside["exposed_people"] >= 300 and outside["exposed_people"] == 0


def test_stale_edits_get_409_with_the_current_row(client) -> None:
    created = client.post("/api/enterprises", json=enterprise_payload())
    etag, url = created.headers["etag"], f"/api/enterprises/{created.json()['id']}"
    assert client.get(url).headers["etag"] == etag == '"1"'
    first = client.patch(url, json={"address": "一号"}, headers={"If-Match": etag})
    assert first.status_code == 200 and first.json()["version"] == 2
    stale = client.patch(url, json={"address": "二号"}, headers={"If-Match": etag})
    assert stale.status_code == 409
    body = stale.json()
    assert body["field"] == "version" and body["current_version"] == 2
    assert body["current"]["address"] == "一号"
    assert client.patch(url, json={"address": "三号", "version": 1}).status_code == 409
    assert client.delete(url, headers={"If-Match": '"1"'}).status_code == 409
    assert client.delete(url, headers={"If-Match": '"2"'}).status_code == 204


def test_every_write_kind_is_audited_and_the_log_is_append_only(
    client, make_user, session: Session
) -> None:
    yinchuan = make_user("official", region_code=YINCHUAN, username="audit-official")
    enterprise = client.post("/api/enterprises", json=enterprise_payload(), headers=yinchuan).json()
    point = client.post(
        "/api/risk-points", json=lec_point(enterprise["id"], 3, 6, 7), headers=yinchuan
    ).json()
    source = client.post(
        "/api/hazard-sources",
        headers=yinchuan,
        json={
            "enterprise_id": enterprise["id"],
            "name": "罐区",
            "unit_type": "storage",
            "substances": [{"cas": "7782-50-5", "quantity_t": 10}],
        },
    ).json()
    zone = client.post(
        "/api/public-zones",
        headers=yinchuan,
        json={"name": "广场", "kind": "square", "lon": XINGQING[0], "lat": XINGQING[1]},
    ).json()
    client.patch(
        f"/api/enterprises/{enterprise['id']}", json={"address": "新地址"}, headers=yinchuan
    )
    client.delete(f"/api/public-zones/{zone['id']}", headers=yinchuan)
    log = client.get("/api/audit", params={"user": "audit-official"}, headers=yinchuan).json()
    seen = {(e["table"], e["action"]) for e in log}
    assert {
        ("enterprises", "insert"),
        ("risk_points", "insert"),
        ("hazard_sources", "insert"),
        ("public_zones", "insert"),
        ("enterprises", "update"),
        ("public_zones", "delete"),
    } <= seen
    update = next(
        e
        for e in log
        if e["table"] == "enterprises"
        and e["action"] == "update"
        and e["before"]["address"] != e["after"]["address"]
    )
    assert update["after"]["address"] == "新地址" and update["request_id"]
    assert update["client_address"] == "testclient"
    assert {e["row_id"] for e in log if e["table"] == "risk_points"} == {str(point["id"])}
    assert str(source["id"]) in {e["row_id"] for e in log if e["table"] == "hazard_sources"}
    # Other regions' officials do not see it; the public may not ask.
    assert (
        client.get(
            "/api/audit",
            params={"user": "audit-official"},
            headers=make_user("official", region_code=SHIZUISHAN),
        ).json()
        == []
    )
    assert client.get("/api/audit", headers=PUBLIC).status_code == 401
    # The dossier shows the change history.
    changes = client.get(f"/api/map/enterprises/{enterprise['id']}").json()["changes"]
    assert changes[0]["username"] == "audit-official" and "address" in changes[0]["fields"]
    for statement in ("UPDATE audit_log SET username = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), session.begin_nested():
            session.execute(text(statement))
