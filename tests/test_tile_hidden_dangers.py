"""Hidden dangers as a tile layer: open dangers coloured by grade, cells kept exact on
every write (moves, grade and status changes, deletes), per-cell ETags, the readers' scope."""

import random
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.dangers import rules
from app.dangers.models import DANGER_GRADES
from app.geo.webmercator import lonlat_to_tile, tiles_covering
from app.tiles.catalog import POINT_LAYERS
from tests.conftest import PUBLIC
from tests.factories import DONGLI, XINGQING, enterprise_payload
from tests.tile_counts import cells_and_raw, decode

NINGXIA_BBOX = (104.2, 35.2, 107.7, 39.4)
LAYER = POINT_LAYERS["hidden_dangers"]
COLOURS = {"major": "red", "larger": "orange", "general": "yellow"}


def _scatter(session: Session, n: int, seed: int) -> None:
    """n dangers over Ningxia, every grade, a fifth of them closed."""
    session.execute(
        text("""
        INSERT INTO hidden_dangers (title, grade, status, geom)
        SELECT '测试隐患', (ARRAY['general','larger','major'])[1 + (row_number() OVER ()) % 3],
               CASE WHEN (row_number() OVER ()) % 5 = 0 THEN 'closed' ELSE 'reported' END,
               pt.geom
          FROM regions r, LATERAL (SELECT (ST_Dump(ST_GeneratePoints(r.geom, :n, :seed))).geom) pt
         WHERE r.code = '640000'
    """),
        {"n": n, "seed": seed},
    )


def _random_writes(session: Session, rng: random.Random) -> None:
    """Moves, grade changes, closing and re-opening, deletes and inserts, several rounds."""
    for round_ in range(3):
        ids = session.execute(text("SELECT id FROM hidden_dangers ORDER BY id")).scalars().all()
        session.execute(
            text("""
            UPDATE hidden_dangers SET geom = ST_SetSRID(ST_MakePoint(
                   105.2 + (id::bigint * 7919 % 1000) / 700.0,
                   36.0 + (id::bigint * 104729 % 1000) / 500.0), 4326)
             WHERE id = ANY(:ids)"""),
            {"ids": rng.sample(ids, len(ids) // 5)},
        )
        for grade in DANGER_GRADES:
            session.execute(
                text("UPDATE hidden_dangers SET grade = :grade WHERE id = ANY(:ids)"),
                {"grade": grade, "ids": rng.sample(ids, len(ids) // 20)},
            )
        for status in ("closed", "rectifying"):
            session.execute(
                text("UPDATE hidden_dangers SET status = :status WHERE id = ANY(:ids)"),
                {"status": status, "ids": rng.sample(ids, len(ids) // 10)},
            )
        # Moved and closed in one statement: subtracted where it was, added nowhere.
        session.execute(
            text(
                "UPDATE hidden_dangers SET status = 'closed',"
                " geom = ST_SetSRID(ST_MakePoint(106.0, 37.5), 4326) WHERE id = ANY(:ids)"
            ),
            {"ids": rng.sample(ids, len(ids) // 20)},
        )
        session.execute(
            text("DELETE FROM hidden_dangers WHERE id = ANY(:ids)"),
            {"ids": rng.sample(ids, len(ids) // 10)},
        )
        _scatter(session, 200, seed=100 + round_)


def test_cells_equal_a_raw_recount_of_open_dangers_after_random_writes(session: Session) -> None:
    _scatter(session, 1500, seed=7)
    _random_writes(session, random.Random(16))
    assert LAYER.colour_sql is not None and LAYER.row_filter is not None
    # The open dangers, by colour.
    points = (
        f"SELECT ST_Transform(t.geom, 3857) AS g, {LAYER.colour_sql} AS level"
        f" FROM hidden_dangers t WHERE {LAYER.row_filter}"
    )
    for z in (3, 6, 9):
        cells, raw = cells_and_raw(session, "hidden_dangers", points, z)
        assert cells == raw, f"zoom {z}"
        assert {c for _, _, c in cells} == {"red", "orange", "yellow"}
    snapshot = (
        "SELECT zoom, tile_x, tile_y, cell_x, cell_y, county_code, level, count FROM tile_cells"
        " WHERE layer = 'hidden_dangers'"
    )
    before = set(session.execute(text(snapshot)).all())
    session.execute(text("SELECT rebuild_tile_cells()"))
    assert set(session.execute(text(snapshot)).all()) == before


def test_catalog_and_cell_source_agree_on_colour_and_open_rows(session: Session) -> None:
    level_sql, row_filter = session.execute(
        text("SELECT level_sql, row_filter FROM tile_cell_sources WHERE layer = 'hidden_dangers'")
    ).one()
    assert (level_sql, row_filter) == (
        (LAYER.colour_sql or "").replace("t.", "r."),
        (LAYER.row_filter or "").replace("t.", "r."),
    )
    # The layer's "open" is the lifecycle data's: every status but closed.
    assert [s for s, info in rules.statuses().items() if not info.open] == ["closed"]
    colours = session.execute(
        text(
            f"SELECT t.grade, {LAYER.colour} FROM (SELECT unnest(CAST(:grades AS text[])) AS grade) t"
        ),
        {"grades": list(DANGER_GRADES)},
    ).all()
    assert dict(colours) == COLOURS


def _features(client: TestClient, url: str, headers: dict[str, str]) -> list[dict]:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return list(decode(response.content).get("hidden_dangers", {}).get("features", []))


def test_tiles_show_open_dangers_to_their_readers_only(
    client: TestClient, session: Session, make_user: Callable[..., dict[str, str]]
) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    created = client.post(
        "/api/hidden-dangers",
        json={"enterprise_id": enterprise["id"], "title": "储罐区阀门泄漏", "grade": "major"},
    )
    assert created.status_code == 201, created.text
    danger = created.json()
    readers = {
        "admin": {},
        "official": make_user("official", region_code="640100"),
        "enterprise": make_user("enterprise", enterprise_id=enterprise["id"]),
    }
    outsiders = {
        "official elsewhere": make_user("official", region_code="640200"),
        "other enterprise": make_user("enterprise", enterprise_id=enterprise["id"] + 1000),
    }
    urls = {
        z: "/tiles/hidden_dangers/{}/{}/{}.mvt".format(z, *lonlat_to_tile(*XINGQING, z))
        for z in (4, 9, 14)
    }
    for who, headers in readers.items():
        raw = _features(client, urls[14], headers)
        assert [(f["properties"]["id"], f["properties"]["level"]) for f in raw] == [
            (danger["id"], "red")
        ], who
        for z in (4, 9):  # cells (admin, official) or the raw aggregate (enterprise)
            cells = _features(client, urls[z], headers)
            assert [(f["properties"]["count"], f["properties"]["red"]) for f in cells] == [
                (1, 1)
            ], (who, z)
    for who, headers in outsiders.items():
        for z in (4, 9, 14):
            assert _features(client, urls[z], headers) == [], (who, z)
    assert client.get(urls[14], headers=make_user("planner")).status_code == 403
    assert client.get(urls[14], headers=PUBLIC).status_code == 401
    # Dangers have a grade, not a risk level: no level filter.
    assert client.get(urls[14], params={"level": "red"}).json()["field"] == "level"

    # Closing it takes it off the map: the tiles around it change, those elsewhere not.
    far = "/tiles/hidden_dangers/{}/{}/{}.mvt".format(9, *lonlat_to_tile(*DONGLI, 9))
    etags = {url: client.get(url).headers["etag"] for url in (*urls.values(), far)}
    session.execute(
        text("UPDATE hidden_dangers SET status = 'closed' WHERE id = :id"), {"id": danger["id"]}
    )
    statuses = {
        url: client.get(url, headers={"If-None-Match": etag}).status_code
        for url, etag in etags.items()
    }
    assert statuses == {**{url: 200 for url in urls.values()}, far: 304}
    for z in (4, 9, 14):
        assert _features(client, urls[z], {}) == []


@pytest.mark.parametrize("z", [5, 8])
def test_danger_tiles_from_cells_equal_tiles_from_raw_points(
    client: TestClient, session: Session, z: int
) -> None:
    _scatter(session, 600, seed=z)
    _random_writes(session, random.Random(z))
    total = session.execute(
        text(f"SELECT count(*) FROM hidden_dangers t WHERE {LAYER.row_filter}")
    ).scalar_one()
    sums = {"cells": 0, "raw": 0}
    for x, y in tiles_covering(*NINGXIA_BBOX, z):
        url = f"/tiles/hidden_dangers/{z}/{x}/{y}.mvt"
        found = {}
        # updated_since is not served by the cells: the same tile counted from the rows.
        for path, params in (("cells", {}), ("raw", {"updated_since": "2000-01-01T00:00:00Z"})):
            features = decode(client.get(url, params=params).content)
            found[path] = sorted(
                tuple(f["properties"][k] for k in ("count", "red", "orange", "yellow", "level"))
                for f in features.get("hidden_dangers", {}).get("features", [])
            )
            sums[path] += sum(c[0] for c in found[path])
        assert found["cells"] == found["raw"]
    assert sums == {"cells": total, "raw": total}


def test_the_features_api_lists_open_dangers_only(client: TestClient, session: Session) -> None:
    _scatter(session, 50, seed=3)
    items = client.get("/ogc/collections/hidden_dangers/items", params={"limit": 1000})
    assert items.status_code == 200, items.text
    body = items.json()
    statuses = {f["properties"]["status"] for f in body["features"]}
    assert statuses == {"reported"}
    assert body["numberMatched"] == 40


def test_a_new_sector_re_renders_the_enterprise_s_dangers(client: TestClient) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    client.post("/api/hidden-dangers", json={"enterprise_id": enterprise["id"], "title": "漏电"})
    x, y = lonlat_to_tile(*XINGQING, 14)
    url = f"/tiles/hidden_dangers/14/{x}/{y}.mvt?sector=危险化学品"
    first = client.get(url)
    assert decode(first.content)["hidden_dangers"]["features"]
    changed = client.patch(f"/api/enterprises/{enterprise['id']}", json={"sector": "冶金"})
    assert changed.status_code == 200, changed.text
    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 200 and again.content == b""
