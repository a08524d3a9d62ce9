"""Issue 17: the same API on a Citus cluster (coordinator + workers), equal to one PostgreSQL.

Skipped unless RISKATLAS_CLUSTER_TESTS=1 and Citus can run (tests/cluster/conftest.py).
"""

from collections.abc import Callable
from typing import Any

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.geo.webmercator import lonlat_to_tile
from tests.factories import LINGWU, XINGQING, enterprise_payload, lec_point

LOCATED = (
    "enterprises",
    "risk_points",
    "hazard_sources",
    "hidden_dangers",
    "public_zones",
    "emergency_resources",
)
# Counts of every region and grid cell above a row's county, from the rows themselves.
RAW_COUNTS = """
    WITH measured AS (
        SELECT county_code, ARRAY['enterprises.total', 'enterprises.' || risk_level] AS m
          FROM enterprises
        UNION ALL SELECT county_code, ARRAY['risk_points.' || risk_level] FROM risk_points
        UNION ALL SELECT county_code, ARRAY['public_zones.' || risk_level] FROM public_zones
        UNION ALL SELECT county_code, ARRAY['hazard_sources.' || grade] FROM hazard_sources)
    SELECT l.code AS region_code, m.measure, count(*)::integer AS value
      FROM measured r CROSS JOIN LATERAL unnest(r.m) AS m(measure)
     CROSS JOIN LATERAL region_lineage(r.county_code) AS l(code)
     WHERE m.measure IS NOT NULL
     GROUP BY 1, 2
"""
KEPT_COUNTS = """
    SELECT region_code, measure, value FROM region_counts
     WHERE value <> 0 AND length(region_code) = 6
       AND split_part(measure, '.', 1) IN ('enterprises', 'risk_points', 'public_zones',
                                          'hazard_sources')
"""


def _rows(engine: Engine, query: str) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return sorted(tuple(r) for r in connection.execute(text(query)))


def _session_rows(session: Session, query: str) -> list[tuple[Any, ...]]:
    return sorted(tuple(r) for r in session.execute(text(query)))


def _counts_are_exact(session: Session) -> None:
    assert _session_rows(session, KEPT_COUNTS) == _session_rows(session, RAW_COUNTS)


def test_located_tables_are_distributed_by_county_and_colocated(twin: Any) -> None:
    partitions = {
        row[0]: row[1:]
        for row in _rows(
            twin.cluster_owner,
            "SELECT logicalrelid::text, partmethod::text, colocationid,"
            " column_to_column_name(logicalrelid, partkey) FROM pg_dist_partition",
        )
    }
    colocation = partitions["enterprises"][1]
    for table in (
        *LOCATED,
        "tile_cells",
        "region_county_counts",
        "enterprise_level_changes",
        "inspections",
        "hidden_danger_events",
        "evidence_files",
    ):
        assert partitions[table] == ("h", colocation, "county_code"), table
    for table in ("regions", "region_parts", "grid_cells", "count_sources"):
        assert partitions[table][0] == "n", table
    # One PostgreSQL has none of it.
    assert _rows(twin.single_owner, "SELECT to_regclass('pg_dist_partition')") == [(None,)]


def test_the_demo_lands_alike(twin: Any) -> None:
    for table in LOCATED:
        query = f"SELECT id, county_code, md5(ST_AsEWKB(geom)::text) FROM {table}"
        assert _rows(twin.cluster, query) == _rows(twin.single, query), table


def test_region_counts_and_tile_cells_equal_single_node(twin: Any) -> None:
    counts = "SELECT region_code, measure, value FROM region_counts WHERE value <> 0"
    assert _rows(twin.cluster, counts) == _rows(twin.single, counts)
    cells = (
        "SELECT layer, zoom, tile_x, tile_y, cell_x, cell_y, county_code, level, count,"
        " round(sum_x::numeric, 3), round(sum_y::numeric, 3) FROM tile_cells"
    )
    cluster_cells = _rows(twin.cluster, cells)
    assert cluster_cells and cluster_cells == _rows(twin.single, cells)


def _decoded(reader: TestClient, path: str) -> dict[str, list[Any]]:
    response = reader.get(path)
    assert response.status_code == 200, response.text
    layers = mapbox_vector_tile.decode(response.content, default_options={"y_coord_down": True})
    return {
        name: sorted(
            (sorted(f["properties"].items()), str(f["geometry"])) for f in layer["features"]
        )
        for name, layer in layers.items()
    }


TILES = [
    ("enterprises", 4),
    ("enterprises", 8),
    ("enterprises", 13),
    ("risk_points", 6),
    ("risk_points", 14),
    ("public_zones", 12),
    ("regions", 6),
]


@pytest.mark.parametrize(("layer", "zoom"), TILES)
def test_tiles_decode_alike(
    cluster_reader: TestClient, single_reader: TestClient, layer: str, zoom: int
) -> None:
    x, y = lonlat_to_tile(*XINGQING, zoom)
    path = f"/tiles/{layer}/{zoom}/{x}/{y}.mvt"
    cluster = _decoded(cluster_reader, path)
    assert cluster == _decoded(single_reader, path), path
    assert any(cluster.values()), path


@pytest.mark.parametrize("kinds", ["emergency_resources,public_zones", "risk_points", None])
def test_nearby_order_alike(
    cluster_reader: TestClient, single_reader: TestClient, kinds: str | None
) -> None:
    for where in (XINGQING, LINGWU):
        path = f"/api/nearby?lon={where[0]}&lat={where[1]}&radius_m=20000&limit=100"
        if kinds:
            path += f"&kinds={kinds}"
        found = [cluster_reader.get(path), single_reader.get(path)]
        assert [r.status_code for r in found] == [200, 200], found[0].text
        order = [
            [(f["properties"]["kind"], f["properties"]["id"]) for f in r.json()["features"]]
            for r in found
        ]
        assert order[0] and order[0] == order[1]


def test_summaries_alike(cluster_reader: TestClient, single_reader: TestClient) -> None:
    for path in ("/api/risk/summary?parent=640000", "/api/risk/regions/640100"):
        cluster, single = cluster_reader.get(path), single_reader.get(path)
        assert cluster.status_code == 200, cluster.text
        assert cluster.json() == single.json(), path


def test_an_official_reads_only_their_city(
    client: TestClient, make_user: Callable[..., dict[str, str]], twin: Any
) -> None:
    official = make_user("official", region_code="640100")
    page = client.get("/api/enterprises?limit=500", headers=official).json()
    city = "SELECT count(*) FROM enterprises WHERE county_code LIKE '6401%'"
    assert page["total"] == _rows(twin.single, city)[0][0]
    assert {item["county_code"][:4] for item in page["items"]} == {"6401"}


def test_writes_keep_counts_exact(client: TestClient, session: Session) -> None:
    created = client.post("/api/enterprises", json=enterprise_payload(XINGQING))
    assert created.status_code == 201, created.text
    enterprise = created.json()
    assert enterprise["county_code"] == "640104"
    point = client.post("/api/risk-points", json=lec_point(enterprise["id"], 6, 6, 40))
    assert point.status_code == 201, point.text
    _counts_are_exact(session)
    changed = client.patch(
        f"/api/risk-points/{point.json()['id']}",
        json={"inputs": {"l": 0.5, "e": 1, "c": 1}},
    )
    assert changed.status_code == 200, changed.text
    _counts_are_exact(session)
    assert client.delete(f"/api/enterprises/{enterprise['id']}").status_code == 204
    assert client.get(f"/api/risk-points/{point.json()['id']}").status_code == 404
    _counts_are_exact(session)


def test_a_point_outside_every_region_is_refused_as_on_one_node(client: TestClient) -> None:
    refused = client.post("/api/enterprises", json=enterprise_payload((0.0, 0.0)))
    assert refused.status_code == 422, refused.text
    assert "no region contains" in refused.text


def test_a_move_across_counties_takes_the_enterprise_and_its_rows(
    client: TestClient, session: Session
) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload(XINGQING)).json()
    point = client.post("/api/risk-points", json=lec_point(enterprise["id"], 6, 6, 40)).json()
    moved = client.patch(
        f"/api/enterprises/{enterprise['id']}",
        json={"lon": LINGWU[0], "lat": LINGWU[1], "version": enterprise["version"]},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["county_code"] == "640181"
    assert moved.json()["id"] == enterprise["id"]
    # The risk point keeps its place but is stored with its enterprise.
    assert client.get(f"/api/risk-points/{point['id']}").json()["county_code"] == "640181"
    _counts_are_exact(session)
    zone = client.post(
        "/api/emergency-resources",
        json={"name": "消防站", "kind": "fire_station", "lon": XINGQING[0], "lat": XINGQING[1]},
    ).json()
    relocated = client.patch(
        f"/api/emergency-resources/{zone['id']}",
        json={"lon": LINGWU[0], "lat": LINGWU[1], "version": zone["version"]},
    )
    assert relocated.status_code == 200, relocated.text
    assert relocated.json()["county_code"] == "640181"


def test_an_enterprise_and_its_rows_join_on_one_shard(session: Session) -> None:
    """The join the design keeps local: children carry their enterprise's county."""
    plan = "\n".join(
        r[0]
        for r in session.execute(
            text(
                "EXPLAIN SELECT e.sector, count(*) FROM risk_points r JOIN enterprises e"
                " ON e.county_code = r.county_code AND e.id = r.enterprise_id GROUP BY 1"
            )
        )
    )
    assert "Custom Scan (Citus Adaptive)" in plan
    assert "Repartition" not in plan and "MapMergeJob" not in plan
    orphans = session.execute(
        text(
            "SELECT count(*) FROM risk_points r LEFT JOIN enterprises e"
            " ON e.county_code = r.county_code AND e.id = r.enterprise_id"
            " WHERE r.enterprise_id IS NOT NULL AND e.id IS NULL"
        )
    ).scalar_one()
    assert orphans == 0
