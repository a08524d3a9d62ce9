"""Tiles and GeoJSON from a live server, the way clients get them (issue 16's raw path).

There a tile render runs outside a transaction (one statement, no BEGIN or COMMIT) and a
GeoJSON page is JSON that PostgreSQL wrote; the in-process `client` of the other tests
renders inside its rolled-back transaction, so only a live server shows these paths.
"""

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, text

from app.geo.webmercator import lonlat_to_tile
from tests.conftest import COMMITTED_TABLES, live_token
from tests.factories import XINGQING, enterprise_payload
from tests.tile_counts import decode

WRITES = 12
# A name that JSON must escape (quote, backslash, control characters) beside CJK text.
AWKWARD_NAME = '银川"引号"\\反斜杠\n换行\t制表 </script> 𠮷有限公司'


@pytest.fixture(scope="module")
def http(live_server_url: str, live_users: dict[str, str], owner_engine: Engine) -> Iterator:
    token = live_token(live_server_url, live_users["admin"])
    with httpx.Client(
        base_url=live_server_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        yield client
    with owner_engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {COMMITTED_TABLES}"))


def _tile_ids(http: httpx.Client, z: int, x: int, y: int) -> set[int]:
    response = http.get(f"/tiles/enterprises/{z}/{x}/{y}.mvt")
    assert response.status_code == 200, response.text
    layer = decode(response.content).get("enterprises", {"features": []})
    return {feature["properties"]["id"] for feature in layer["features"]}


def test_a_served_tile_shows_each_write_at_once(http: httpx.Client) -> None:
    # Each read follows its write at once, as the map's refresh does: the version that
    # names the new tile must be known to the server by the time the write is answered.
    z = 15
    x, y = lonlat_to_tile(*XINGQING, z)
    shown = _tile_ids(http, z, x, y)
    for _ in range(WRITES):
        created = http.post("/api/enterprises", json=enterprise_payload())
        assert created.status_code == 201, created.text
        shown |= {created.json()["id"]}
        assert _tile_ids(http, z, x, y) == shown
    for new_id in sorted(shown):
        assert http.delete(f"/api/enterprises/{new_id}").status_code == 204
        shown -= {new_id}
        assert _tile_ids(http, z, x, y) == shown


def test_a_served_feature_page_is_the_rows_as_written(http: httpx.Client) -> None:
    payload = enterprise_payload(name=AWKWARD_NAME, park=None)
    created = http.post("/api/enterprises", json=payload)
    assert created.status_code == 201, created.text
    enterprise = created.json()
    lon, lat = XINGQING
    bbox = f"{lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"

    response = http.get("/api/features/enterprises", params={"bbox": bbox, "limit": 10})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    page = response.json()
    assert page["type"] == "FeatureCollection"
    assert page["numberReturned"] == len(page["features"]) == page["numberMatched"] >= 1
    feature = next(f for f in page["features"] if f["id"] == enterprise["id"])
    assert feature["type"] == "Feature"
    assert feature["geometry"] == {"type": "Point", "coordinates": [lon, lat]}
    assert feature["properties"]["name"] == AWKWARD_NAME
    assert feature["properties"]["credit_code"] == payload["credit_code"]
    assert feature["properties"]["park"] is None

    item = http.get(f"/ogc/collections/enterprises/items/{enterprise['id']}")
    assert item.status_code == 200
    assert {k: v for k, v in item.json().items() if k != "links"} == feature
    assert http.get("/ogc/collections/enterprises/items/999999999").status_code == 404
