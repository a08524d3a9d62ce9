"""GCJ-02 (AMap, Tencent) and BD-09 (Baidu) to WGS 84, vectorised with NumPy.

The forward GCJ-02 offset is the well-known published formula. Its inverse has no closed
form; the one-step inverse (subtract the offset computed at the GCJ point) errs by metres,
so `gcj02_to_wgs84` iterates the forward transform to a fixed point (error < 1e-9°).
"""

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323
_BD_X_PI = np.pi * 3000.0 / 180.0
_CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)
_TOLERANCE_DEG = 1e-10
_MAX_ITERATIONS = 30

Array = NDArray[np.float64]


def in_china_bbox(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """True where the GCJ-02 offset applies (the rectangle used by the published formula)."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    min_lon, min_lat, max_lon, max_lat = _CHINA_BBOX
    return (lon >= min_lon) & (lon <= max_lon) & (lat >= min_lat) & (lat <= max_lat)


def _offset(lon: Array, lat: Array) -> tuple[Array, Array]:
    x, y = lon - 105.0, lat - 35.0
    ripple = (20 * np.sin(6 * x * np.pi) + 20 * np.sin(2 * x * np.pi)) * 2 / 3
    d_lat = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + ripple
    d_lat += (20 * np.sin(y * np.pi) + 40 * np.sin(y / 3 * np.pi)) * 2 / 3
    d_lat += (160 * np.sin(y / 12 * np.pi) + 320 * np.sin(y * np.pi / 30)) * 2 / 3
    d_lon = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + ripple
    d_lon += (20 * np.sin(x * np.pi) + 40 * np.sin(x / 3 * np.pi)) * 2 / 3
    d_lon += (150 * np.sin(x / 12 * np.pi) + 300 * np.sin(x / 30 * np.pi)) * 2 / 3

    rad_lat = lat / 180 * np.pi
    magic = 1 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = d_lat * 180 / ((_A * (1 - _EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = d_lon * 180 / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    inside = in_china_bbox(lon, lat)
    return np.where(inside, d_lon, 0.0), np.where(inside, d_lat, 0.0)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """Obfuscate WGS 84 coordinates to GCJ-02."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    d_lon, d_lat = _offset(lon, lat)
    return lon + d_lon, lat + d_lat


def _invert(
    forward: Callable[[Array, Array], tuple[Array, Array]],
    lon: ArrayLike,
    lat: ArrayLike,
    first_guess: tuple[Array, Array],
) -> tuple[Array, Array]:
    """Solve forward(x) = target by fixed-point iteration (the offsets vary slowly)."""
    target_lon, target_lat = np.asarray(lon, float), np.asarray(lat, float)
    guess_lon, guess_lat = first_guess
    for _ in range(_MAX_ITERATIONS):
        fwd_lon, fwd_lat = forward(guess_lon, guess_lat)
        err_lon, err_lat = fwd_lon - target_lon, fwd_lat - target_lat
        guess_lon, guess_lat = guess_lon - err_lon, guess_lat - err_lat
        if (
            max(np.max(np.abs(err_lon), initial=0), np.max(np.abs(err_lat), initial=0))
            < _TOLERANCE_DEG
        ):
            break
    return guess_lon, guess_lat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """Recover WGS 84 from GCJ-02 by fixed-point iteration on the forward transform."""
    start = (np.asarray(lon, float), np.asarray(lat, float))
    return _invert(wgs84_to_gcj02, lon, lat, start)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """Obfuscate GCJ-02 coordinates further to Baidu's BD-09."""
    x, y = np.asarray(lon, float), np.asarray(lat, float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """Recover GCJ-02 from BD-09 by fixed-point iteration on the forward transform."""
    start = (np.asarray(lon, float) - 0.0065, np.asarray(lat, float) - 0.006)
    return _invert(gcj02_to_bd09, lon, lat, start)


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """Recover WGS 84 from Baidu BD-09."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
