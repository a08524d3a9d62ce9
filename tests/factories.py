"""Small builders for API payloads used across tests."""

import io
import itertools
import random
from typing import Any

from PIL import Image

from app.sites.credit_code import make_credit_code

_rng = random.Random(7)
_counter = itertools.count(1)

# Points well inside one county each (Yinchuan 兴庆区, 金凤区; 灵武市 in 宁东).
XINGQING = (106.2800, 38.4700)
JINFENG = (106.2250, 38.4800)
LINGWU = (106.5000, 38.0000)


def enterprise_payload(lon_lat: tuple[float, float] = XINGQING, **overrides: Any) -> dict:
    n = next(_counter)
    return {
        "name": f"测试企业{n}有限公司",
        "credit_code": make_credit_code(_rng, "640104"),
        "sector": "危险化学品",
        "lon": lon_lat[0],
        "lat": lon_lat[1],
        **overrides,
    }


def lec_point(
    enterprise_id: int | None,
    l: float,
    e: float,
    c: float,
    lon_lat: tuple[float, float] = XINGQING,
) -> dict:
    return {
        "enterprise_id": enterprise_id,
        "name": "反应釜区",
        "method": "lec",
        "inputs": {"l": l, "e": e, "c": c},
        "lon": lon_lat[0],
        "lat": lon_lat[1],
    }


def square_around(lon: float, lat: float, half_deg: float) -> dict:
    return {
        "type": "Polygon",
        "coordinates": [
            [
                [lon - half_deg, lat - half_deg],
                [lon + half_deg, lat - half_deg],
                [lon + half_deg, lat + half_deg],
                [lon - half_deg, lat + half_deg],
                [lon - half_deg, lat - half_deg],
            ]
        ],
    }


# Outside Yinchuan (宁夏石嘴山 大武口区) and the pair the old prefix rule confused:
# 120110 东丽区 was read as prefix 12011, which also matched 120111 西青区.
DAWUKOU = (106.3800, 39.0200)
DONGLI = (117.3100, 39.0900)
XIQING = (117.0100, 39.1400)


def png(colour: str = "#c0392b", size: tuple[int, int] = (8, 8)) -> bytes:
    """A whole PNG of one colour (photos are checked by their structure, not only by their
    first bytes)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()
