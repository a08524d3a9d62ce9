"""Tile pre-aggregates kept exact on write, per-cell tile invalidation, the render queue."""

import asyncio
import random
import time
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.auth.scope import PUBLIC_SCOPE
from app.geo.webmercator import lonlat_to_tile, tiles_covering
from app.tiles import service
from app.tiles.catalog import POINT_LAYERS, cells_max_zoom
from tests.factories import DONGLI, XINGQING, enterprise_payload, lec_point
from tests.tile_counts import cells_and_raw, decode

NINGXIA_BBOX = (104.2, 35.2, 107.7, 39.4)
LEVELS = ("red", "orange", "yellow", "blue")


def _scatter(session: Session, table: str, n: int, seed: int) -> None:
    columns = {
        "risk_points": ("name, method, inputs, score, risk_level", "'风险点', 'lec', '{}', 0"),
        "public_zones": ("name, kind, risk_level", "'学校', 'school'"),
    }[table]
    session.execute(
        text(f"""
        INSERT INTO {table} ({columns[0]}, geom)
        SELECT {columns[1]}, (ARRAY['red','orange','yellow','blue'])[1 + (row_number() OVER ()) % 4],
               pt.geom
          FROM regions r, LATERAL (SELECT (ST_Dump(ST_GeneratePoints(r.geom, :n, :seed))).geom) pt
         WHERE r.code = '640000'
    """),
        {"n": n, "seed": seed},
    )


def _random_writes(session: Session, table: str, rng: random.Random) -> None:
    """Moves (inside Ningxia, across tiles), colour changes and deletes, several rounds."""
    for round_ in range(3):
        ids = session.execute(text(f"SELECT id FROM {table} ORDER BY id")).scalars().all()
        moved = rng.sample(ids, len(ids) // 5)
        session.execute(
            text(f"""
            UPDATE {table} SET geom = ST_SetSRID(ST_MakePoint(
                   105.2 + (id::bigint * 7919 % 1000) / 700.0,
                   36.0 + (id::bigint * 104729 % 1000) / 500.0), 4326)
             WHERE id = ANY(:ids)"""),
            {"ids": moved},
        )
        for level in LEVELS:
            recoloured = rng.sample(ids, len(ids) // 20)
            session.execute(
                text(f"UPDATE {table} SET risk_level = :level WHERE id = ANY(:ids)"),
                {"level": level, "ids": recoloured},
            )
        session.execute(
            text(f"DELETE FROM {table} WHERE id = ANY(:ids)"),
            {"ids": rng.sample(ids, len(ids) // 10)},
        )
        _scatter(session, table, 200, seed=100 + round_)


@pytest.mark.parametrize("table", ["risk_points", "public_zones"])
def test_cells_equal_a_raw_recount_after_random_writes(session: Session, table: str) -> None:
    _scatter(session, table, 1500, seed=7)
    _random_writes(session, table, random.Random(table))
    anchor = "geom" if table == "risk_points" else "ST_PointOnSurface(geom)"
    points = (
        f"SELECT ST_Transform({anchor}, 3857) AS g, coalesce(risk_level, '') AS level FROM {table}"
    )
    for z in (3, 6, 9):
        cells, raw = cells_and_raw(session, table, points, z)
        assert cells == raw, f"zoom {z}"
    # And the rows equal a rebuild from scratch (the recount the CLI runs).
    snapshot = (
        "SELECT zoom, tile_x, tile_y, cell_x, cell_y, county_code, level, count FROM tile_cells"
    )
    before = set(session.execute(text(snapshot)).all())
    session.execute(text("SELECT rebuild_tile_cells()"))
    assert set(session.execute(text(snapshot)).all()) == before


@pytest.mark.parametrize("z", [4, 7])
def test_tiles_from_cells_equal_tiles_from_raw_points(
    client: TestClient, session: Session, z: int
) -> None:
    _scatter(session, "risk_points", 1500, seed=11)
    _random_writes(session, "risk_points", random.Random(z))
    total = session.execute(text("SELECT count(*) FROM risk_points")).scalar_one()
    # updated_since is not served by the cells: the same tile is then counted from the rows.
    raw_path = {"updated_since": "2000-01-01T00:00:00Z"}
    sums = {"cells": 0, "raw": 0}
    for x, y in tiles_covering(*NINGXIA_BBOX, z):
        url = f"/tiles/risk_points/{z}/{x}/{y}.mvt"
        for path, params in (("cells", {}), ("raw", raw_path)):
            features = decode(client.get(url, params=params).content)
            cells = sorted(
                tuple(f["properties"][k] for k in ("count", *LEVELS))
                for f in features.get("risk_points", {}).get("features", [])
            )
            sums[path] += sum(c[0] for c in cells)
            if path == "cells":
                from_cells = cells
            else:
                assert cells == from_cells
    assert sums == {"cells": total, "raw": total}


def test_catalog_and_database_agree_on_pre_aggregated_zooms(session: Session) -> None:
    stored = dict(session.execute(text("SELECT layer, max_zoom FROM tile_cell_sources")).all())
    expected = {name: cells_max_zoom(layer) for name, layer in POINT_LAYERS.items()}
    # Polygon point-table layers (chemical parks) are never aggregated: no cells.
    assert stored == {name: zoom for name, zoom in expected.items() if zoom is not None}


def test_cell_path_serves_level_and_region_but_not_sector_filters() -> None:
    layer = POINT_LAYERS["enterprises"]
    level_region = PUBLIC_SCOPE.filters("enterprises", level="red", region="6401")
    assert service.reads_cells(layer, 10, level_region)
    assert not service.reads_cells(layer, 11, level_region)  # aggregated from raw points
    assert not service.reads_cells(layer, 6, PUBLIC_SCOPE.filters("enterprises", sector="冶金"))


def test_a_write_invalidates_only_the_tiles_around_it(client: TestClient) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    urls = {
        (name, z): "/tiles/enterprises/{}/{}/{}.mvt".format(z, *lonlat_to_tile(*where, z))
        for name, where in (("here", XINGQING), ("far", DONGLI))
        for z in (4, 9, 14)
    }
    # 兴庆区 and 东丽区 share no tile down to zoom 4 (z4 tiles are ~2,500 km wide; 东丽
    # lies in the next one east), so every "far" tile is unrelated.
    assert all(urls["here", z] != urls["far", z] for z in (4, 9, 14))
    etags = {key: client.get(url).headers["etag"] for key, url in urls.items()}

    def status(key: tuple[str, int]) -> int:
        return client.get(urls[key], headers={"If-None-Match": etags[key]}).status_code

    client.post("/api/enterprises", json=enterprise_payload((XINGQING[0] + 0.001, XINGQING[1])))
    assert {key: status(key) for key in urls} == {
        **{("here", z): 200 for z in (4, 9, 14)},
        **{("far", z): 304 for z in (4, 9, 14)},
    }
    # Moving a row re-renders the tiles of its old and of its new place.
    etags = {key: client.get(url).headers["etag"] for key, url in urls.items()}
    moved = client.patch(
        f"/api/enterprises/{enterprise['id']}",
        json={"lon": DONGLI[0], "lat": DONGLI[1], "version": enterprise["version"]},
    )
    assert moved.status_code == 200, moved.text
    assert {key: status(key) for key in urls} == {key: 200 for key in urls}
    far = decode(client.get(urls["far", 14]).content)["enterprises"]["features"]
    assert [f["properties"]["id"] for f in far] == [enterprise["id"]]
    here = decode(client.get(urls["here", 14]).content)["enterprises"]["features"]
    assert enterprise["id"] not in [f["properties"]["id"] for f in here]
    low = decode(client.get(urls["far", 4]).content)["enterprises"]["features"]
    assert sum(f["properties"]["count"] for f in low) == 1


def test_the_render_queue_bounds_a_burst(monkeypatch: pytest.MonkeyPatch) -> None:
    running = 0
    peak = 0
    renders = 0

    async def slow_render(session, work, *args, **kwargs) -> bytes:
        nonlocal running, peak, renders
        running += 1
        renders += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        return b"tile"

    monkeypatch.setattr(service, "run_in_session_thread", slow_render)
    layer = POINT_LAYERS["enterprises"]
    filters = PUBLIC_SCOPE.filters("enterprises")

    async def burst(etags: list[str]) -> float:
        cache = service.TileCache(max_bytes=1 << 20)
        queue = service.RenderQueue(2)
        started = time.perf_counter()
        tiles = await asyncio.gather(
            *(
                service.get_tile(
                    SimpleNamespace(info={}),  # type: ignore[arg-type]
                    cache,
                    queue,
                    etag=etag,
                    layer=layer,
                    z=14,
                    x=1,
                    y=1,
                    filters=filters,
                )
                for etag in etags
            )
        )
        assert all(tile == b"tile" for tile, _ in tiles)
        assert queue.running == queue.waiting == 0
        return time.perf_counter() - started

    elapsed = asyncio.run(burst([f'"{n}"' for n in range(40)]))
    assert (peak, renders) == (2, 40)
    assert elapsed >= 20 * 0.02  # 40 renders, two at a time
    # A burst for one tile renders it once; the others find it in the cache.
    peak = renders = 0
    asyncio.run(burst(['"same"'] * 40))
    assert renders <= 2  # those that started before the first one finished


def test_a_new_sector_re_renders_the_enterprise_s_risk_points(client: TestClient) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    client.post("/api/risk-points", json=lec_point(enterprise["id"], 3, 6, 7))
    x, y = lonlat_to_tile(*XINGQING, 14)
    url = f"/tiles/risk_points/14/{x}/{y}.mvt?sector=危险化学品"
    first = client.get(url)
    assert decode(first.content)["risk_points"]["features"]
    changed = client.patch(f"/api/enterprises/{enterprise['id']}", json={"sector": "冶金"})
    assert changed.status_code == 200, changed.text
    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 200 and again.content == b""


def test_the_listener_reloads_cell_versions_when_the_epoch_moves(engine) -> None:
    """A restore puts cell versions back and bumps the epoch: memory must follow it down."""
    from app.tiles.versions import LayerVersions, wait_until_live

    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    x, y = lonlat_to_tile(*XINGQING, 14)
    versions = LayerVersions(dsn)

    def current() -> tuple[int, int]:  # (-1, -1) while the listener reloads
        return versions.cached_tile("emergency_resources", 14, x, y) or (-1, -1)

    def wait_for(check) -> None:
        deadline = time.monotonic() + 5
        while not check() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert check(), current()

    insert = text(
        "INSERT INTO emergency_resources (name, kind, geom) VALUES ('纪元测试', 'rescue_team',"
        " ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
    )
    versions.start()
    try:
        assert wait_until_live(versions)
        before = versions.cached_tile("emergency_resources", 14, x, y)
        assert before is not None
        for _ in range(2):
            with engine.begin() as connection:
                connection.execute(insert, {"lon": XINGQING[0], "lat": XINGQING[1]})
        wait_for(lambda: current()[1] == before[1] + 2)
        with engine.begin() as connection:  # what a restore does to these tables
            connection.execute(
                text("UPDATE tile_versions SET version = version - 2 WHERE layer = :layer"),
                {"layer": "emergency_resources"},
            )
            connection.execute(
                text(
                    "WITH bumped AS (UPDATE layer_versions SET version = version + 1"
                    " WHERE layer = 'tiles:emergency_resources' RETURNING layer, version)"
                    " SELECT pg_notify('riskatlas_layers', layer || '=' || version) FROM bumped"
                )
            )
        wait_for(lambda: current() == (before[0] + 1, before[1]))
    finally:
        versions.stop()
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM emergency_resources WHERE name = '纪元测试'"))


def test_the_render_queue_refuses_what_would_wait_too_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def slow_render(session, work, *args, **kwargs) -> bytes:
        await asyncio.sleep(0.02)
        return b"tile"

    monkeypatch.setattr(service, "run_in_session_thread", slow_render)
    layer = POINT_LAYERS["enterprises"]
    filters = PUBLIC_SCOPE.filters("enterprises")
    # Two slots, 20 ms a render: waiting up to 60 ms is ~6 renders in line.
    queue = service.RenderQueue(2, max_wait_s=0.06)

    async def one(etag: str) -> tuple[str, float]:
        started = time.perf_counter()
        try:
            await service.get_tile(
                SimpleNamespace(info={}),  # type: ignore[arg-type]
                service.TileCache(max_bytes=1 << 20),
                queue,
                etag=etag,
                layer=layer,
                z=14,
                x=1,
                y=1,
                filters=filters,
            )
        except service.ServiceUnavailable:
            return "refused", time.perf_counter() - started
        return "served", time.perf_counter() - started

    async def burst() -> list[tuple[str, float]]:
        await one('"warm-up"')  # the queue learns how long a render takes
        return await asyncio.gather(*(one(f'"{n}"') for n in range(40)))

    results = asyncio.run(burst())
    served = [seconds for outcome, seconds in results if outcome == "served"]
    refused = [seconds for outcome, seconds in results if outcome == "refused"]
    assert refused and served, (len(served), len(refused))
    assert max(refused) < 0.01  # refused at once, not after waiting
    # A served render waited at most about the bound (and the line's estimate): never
    # the 400 ms that 40 renders two at a time would take.
    assert max(served) < 0.06 + 0.02 + 0.05
    assert queue.refused == len(refused) and queue.running == queue.waiting == 0
