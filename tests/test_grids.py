"""Management grids: generated square cells and imported polygons, one county each."""

import re

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.regions.grids import generate_grid, import_grids
from tests.factories import LINGWU, square_around


def test_generated_cells_tile_the_county(session: Session) -> None:
    created = generate_grid(session, county_code="640181", cell_size_m=5000)
    assert created > 100
    codes = session.scalars(text("SELECT code FROM grid_cells WHERE county_code = '640181'")).all()
    assert len(codes) == created and all(re.fullmatch(r"640181-\d+-\d+", c) for c in codes)
    covered, county, overlaps = session.execute(
        text("""
        SELECT ST_Area(ST_Union(g.geom)::geography), ST_Area(r.geom::geography),
               (SELECT count(*) FROM grid_cells a JOIN grid_cells b
                   ON a.code < b.code AND a.county_code = '640181' AND b.county_code = '640181'
                  AND ST_Overlaps(a.geom, b.geom)
                  AND ST_Area(ST_Intersection(a.geom, b.geom)::geography) > 1)
          FROM grid_cells g JOIN regions r ON r.code = g.county_code
         WHERE g.county_code = '640181' GROUP BY r.geom""")
    ).one()
    assert covered == pytest.approx(county, rel=1e-4)
    assert overlaps == 0


def test_inner_cells_are_squares_of_the_given_size(session: Session) -> None:
    generate_grid(session, county_code="640181", cell_size_m=2000)
    largest = session.execute(
        text("SELECT max(ST_Area(geom::geography)) FROM grid_cells WHERE county_code = '640181'")
    ).scalar_one()
    assert largest == pytest.approx(4_000_000, rel=0.02)


def test_regenerating_replaces_the_grid_and_reassigns_rows(session: Session) -> None:
    session.execute(
        text("""
        INSERT INTO emergency_resources (name, kind, geom)
        VALUES ('灵武市消防救援大队', 'fire_station', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
    """),
        {"lon": LINGWU[0], "lat": LINGWU[1]},
    )
    generate_grid(session, county_code="640181", cell_size_m=5000)
    first = session.execute(text("SELECT grid_code FROM emergency_resources")).scalar_one()
    generate_grid(session, county_code="640181", cell_size_m=10000)
    second = session.execute(text("SELECT grid_code FROM emergency_resources")).scalar_one()
    assert first.startswith("640181-") and second.startswith("640181-")
    cell_size = session.execute(
        text("SELECT DISTINCT cell_size_m FROM grid_cells WHERE county_code = '640181'")
    ).scalar_one()
    assert cell_size == 10000


def test_import_assigns_one_county_and_clips_to_it(session: Session) -> None:
    # A square straddling the 兴庆区 / 金凤区 border, mostly in 兴庆区.
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "code": "XQ-01",
                    "name": "丽景街网格",
                    "warden_name": "王敏",
                    "warden_phone": "13900000000",
                },
                "geometry": square_around(106.262, 38.475, 0.02),
            },
        ],
    }
    assert import_grids(session, feature_collection=collection) == 1
    county, inside = session.execute(
        text("""
        SELECT g.county_code, ST_CoveredBy(g.geom, ST_Buffer(r.geom, 1e-9))
          FROM grid_cells g JOIN regions r ON r.code = g.county_code WHERE g.code = 'XQ-01'
    """)
    ).one()
    assert county in ("640104", "640106") and inside is True


@pytest.mark.parametrize(
    ("collection", "field"),
    [
        ({"type": "Feature"}, "type"),
        (
            {"type": "FeatureCollection", "features": [{"properties": {}, "geometry": None}]},
            "features[0].properties.code",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "properties": {"code": "A"},
                        "geometry": {"type": "Point", "coordinates": [106, 38]},
                    }
                ],
            },
            "features[0].geometry",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    {"properties": {"code": "A"}, "geometry": square_around(2.35, 48.85, 0.01)}
                ],
            },
            "features[0].geometry",
        ),
    ],
)
def test_bad_grid_imports(session: Session, collection: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        import_grids(session, feature_collection=collection)
    assert error.value.field == field


def test_grid_for_a_non_county_is_refused(session: Session) -> None:
    with pytest.raises(InvalidInput) as error:
        generate_grid(session, county_code="640100", cell_size_m=1000)
    assert error.value.field == "county_code"
    with pytest.raises(InvalidInput):
        generate_grid(session, county_code="640181", cell_size_m=10)
