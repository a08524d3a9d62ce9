"""GeoJSON features and OGC API – Features, checked against the spec and real clients."""

import json
import shutil
import subprocess

import pytest
from fastapi.testclient import TestClient

from tests.factories import XINGQING, enterprise_payload, lec_point


def test_feature_collection_paging_and_links(client: TestClient) -> None:
    for _ in range(3):
        client.post("/api/enterprises", json=enterprise_payload())
    response = client.get("/api/features/enterprises", params={"limit": 2, "region": "640104"})
    assert response.headers["content-type"] == "application/geo+json"
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert (body["numberMatched"], body["numberReturned"]) == (3, 2)
    next_link = next(link for link in body["links"] if link["rel"] == "next")
    assert "offset=2" in next_link["href"]
    second = client.get(next_link["href"]).json()
    assert second["numberReturned"] == 1 and not any(l["rel"] == "next" for l in second["links"])
    feature = body["features"][0]
    assert feature["geometry"]["type"] == "Point" and "name" in feature["properties"]


def test_bbox_and_level_filters(client: TestClient) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    client.post("/api/risk-points", json=lec_point(enterprise["id"], 6, 6, 15))
    lon, lat = XINGQING
    inside = client.get(
        "/api/features/risk_points",
        params={"bbox": f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}", "level": "red"},
    ).json()
    assert inside["numberMatched"] == 1
    outside = client.get("/api/features/risk_points", params={"bbox": "100,30,101,31"}).json()
    assert outside["numberMatched"] == 0


def test_region_children_with_generalised_geometry(client: TestClient) -> None:
    body = client.get(
        "/api/features/regions", params={"parent": "640000", "detail": "coarse"}
    ).json()
    assert [f["id"] for f in body["features"]] == ["640100", "640200", "640300", "640400", "640500"]
    full = client.get("/api/features/regions", params={"parent": "640000"}).json()
    assert len(json.dumps(body)) < len(json.dumps(full))


@pytest.mark.parametrize(
    ("bbox", "reason"),
    [
        ("1,2,3", "4 numbers"),
        ("1,2,3,4,5,6", "4 numbers"),
        ("3,2,1,4", "min ≤ max"),
        ("1,2,3,95", "latitudes"),
        ("a,2,3,4", "not a number"),
        ("1,-91,3,4", "latitudes"),
    ],
)
def test_malformed_bbox(client: TestClient, bbox: str, reason: str) -> None:
    for url in ("/api/features/enterprises", "/ogc/collections/enterprises/items"):
        response = client.get(url, params={"bbox": bbox})
        assert response.status_code == 422
        assert response.json()["field"] == "bbox" and reason in response.json()["detail"]


def test_ogc_landing_conformance_and_collections(client: TestClient) -> None:
    landing = client.get("/ogc").json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    conformance = client.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conformance
    collections = client.get("/ogc/collections").json()["collections"]
    assert {c["id"] for c in collections} == {
        "enterprises",
        "hazard_sources",
        "public_zones",
        "risk_points",
        "hidden_dangers",
        "regions",
        "grid",
        "emergency_resources",
        "chemical_parks",
    }
    for collection in collections:
        assert (
            collection["extent"]["spatial"]["bbox"][0][0]
            < collection["extent"]["spatial"]["bbox"][0][2]
        )
        assert any(link["rel"] == "items" for link in collection["links"])


def test_ogc_items_and_item(client: TestClient) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    items = client.get("/ogc/collections/enterprises/items", params={"limit": 1}).json()
    assert items["numberReturned"] == 1 and "timeStamp" in items
    assert {"self", "collection"} <= {link["rel"] for link in items["links"]}
    item = client.get(f"/ogc/collections/enterprises/items/{enterprise['id']}")
    assert item.headers["content-type"] == "application/geo+json"
    assert item.json()["id"] == enterprise["id"]
    region = client.get("/ogc/collections/regions/items/640000").json()
    assert region["properties"]["name"] == "宁夏回族自治区"


def test_ogc_datetime_filter(client: TestClient) -> None:
    client.post("/api/enterprises", json=enterprise_payload())
    future = client.get(
        "/ogc/collections/enterprises/items", params={"datetime": "2999-01-01T00:00:00Z/.."}
    ).json()
    assert future["numberMatched"] == 0
    past = client.get(
        "/ogc/collections/enterprises/items", params={"datetime": "2000-01-01T00:00:00Z/.."}
    ).json()
    assert past["numberMatched"] >= 1
    bad = client.get("/ogc/collections/enterprises/items", params={"datetime": "yesterday"})
    assert bad.status_code == 422 and bad.json()["field"] == "datetime"


def test_ogc_errors(client: TestClient) -> None:
    assert client.get("/ogc/collections/nope").status_code == 404
    assert client.get("/ogc/collections/nope/items").status_code == 404
    assert client.get("/ogc/collections/enterprises/items/999999").status_code == 404
    assert client.get("/ogc/collections/enterprises/items", params={"limit": 0}).status_code == 422


def test_owslib_reads_a_collection(live_server_url: str) -> None:
    from owslib.ogcapi.features import Features

    api = Features(f"{live_server_url}/ogc")
    assert "regions" in [c["id"] for c in api.collections()["collections"]]
    items = api.collection_items("regions", bbox=[106.0, 38.3, 106.4, 38.6], limit=50)
    names = {f["properties"]["name"] for f in items["features"]}
    assert "兴庆区" in names and "宁夏回族自治区" in names


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo (gdal-bin) missing")
def test_gdal_oapif_driver_lists_the_layers(live_server_url: str) -> None:
    result = subprocess.run(
        ["ogrinfo", "-ro", "-q", f"OAPIF:{live_server_url}/ogc"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for layer in ("enterprises", "regions", "risk_points"):
        assert layer in result.stdout
    summary = subprocess.run(
        ["ogrinfo", "-ro", "-so", f"OAPIF:{live_server_url}/ogc", "regions"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert summary.returncode == 0, summary.stderr
    assert "Feature Count" in summary.stdout or "Geometry" in summary.stdout
