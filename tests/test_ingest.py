"""Bulk import (issue 15): every format and CRS, good and bad rows, dry run, all-or-nothing."""

import csv
import io
import json
import random
import uuid
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import openpyxl
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.geo.chinese_datums import gcj02_to_bd09, wgs84_to_gcj02
from app.sites.credit_code import make_credit_code
from tests.factories import JINFENG, XINGQING, enterprise_payload

_rng = random.Random(15)
HEADERS = ["企业名称", "统一社会信用代码", "行业", "经度", "纬度", "所在区县代码"]
BAD_CODE = "91640104MA00000000"


def _code() -> str:
    return make_credit_code(_rng, "640104")


def _rows(good: int = 2) -> list[list[Any]]:
    """`good` valid enterprises in 兴庆区, then a bad credit code and a point outside China."""
    rows: list[list[Any]] = [
        [f"导入企业{i}", _code(), "危险化学品", XINGQING[0] + i * 1e-3, XINGQING[1], "640104"]
        for i in range(good)
    ]
    rows.append(["坏代码企业", BAD_CODE, "危险化学品", XINGQING[0], XINGQING[1], ""])
    rows.append(["巴黎企业", _code(), "危险化学品", 2.35, 48.85, ""])
    return rows


def _csv(rows: list[list[Any]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADERS)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _frame(rows: list[list[Any]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "name": [r[0] for r in rows],
            "credit_code": [r[1] for r in rows],
            "sector": [r[2] for r in rows],
        },
        geometry=[shapely.Point(r[3], r[4]) for r in rows],
        crs=4326,
    )


def _gis(rows: list[list[Any]], tmp_path: Path, driver: str, suffix: str) -> bytes:
    path = tmp_path / f"layer{suffix}"
    _frame(rows).to_file(path, driver=driver)
    return path.read_bytes()


def _shapefile_zip(rows: list[list[Any]], tmp_path: Path) -> bytes:
    folder = tmp_path / "shp"
    folder.mkdir()
    _frame(rows).to_file(folder / "qiye.shp", driver="ESRI Shapefile", encoding="UTF-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in folder.iterdir():
            archive.write(part, part.name)
    return buffer.getvalue()


def _post(
    client: TestClient, name: str, content: bytes, *, layer: str = "enterprises", **query: Any
) -> Any:
    params = {"layer": layer, "dry_run": "true", **query}
    return client.post("/api/imports", params=params, files={"file": (name, content)})


def _count(session: Session, table: str = "enterprises") -> int:
    return int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _file(fmt: str, rows: list[list[Any]], tmp_path: Path) -> tuple[str, bytes]:
    if fmt == "csv":
        return "qiye.csv", _csv(rows)
    if fmt == "gbk-csv":
        return "qiye.csv", _csv(rows, "gbk")
    if fmt == "xlsx":
        return "qiye.xlsx", _xlsx(rows)
    if fmt == "geojson":
        return "qiye.geojson", _gis(rows, tmp_path, "GeoJSON", ".geojson")
    if fmt == "gpkg":
        return "qiye.gpkg", _gis(rows, tmp_path, "GPKG", ".gpkg")
    if fmt == "kml":
        return "qiye.kml", _gis(rows, tmp_path, "KML", ".kml")
    return "qiye.zip", _shapefile_zip(rows, tmp_path)


FORMATS = ("csv", "gbk-csv", "xlsx", "geojson", "gpkg", "kml", "shapefile")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reports_good_and_bad_rows_and_commits_the_good(
    client: TestClient, session: Session, tmp_path: Path, fmt: str
) -> None:
    before = _count(session)
    name, content = _file(fmt, _rows(), tmp_path)
    report = _post(client, name, content)
    assert report.status_code == 200, report.text
    body = report.json()
    assert (body["accepted"], body["rejected"]) == (2, 2)
    rejected = {r["row"]: r for r in body["rows"] if r["status"] == "rejected"}
    first = 2 if fmt in ("csv", "gbk-csv", "xlsx") else 1  # spreadsheet rows or features
    assert rejected[first + 2]["reason"].startswith("not a valid unified social credit code")
    assert rejected[first + 3]["field"] == "geometry"
    assert "outside China" in rejected[first + 3]["reason"]
    assert _count(session) == before, "a dry run writes nothing"

    good = tmp_path / "good"
    good.mkdir()
    name, content = _file(fmt, _rows()[:2], good)
    committed = _post(client, name, content, dry_run="false")
    assert committed.status_code == 200, committed.text
    assert committed.json()["inserted"] == 2
    assert _count(session) == before + 2
    stored = session.execute(
        text("SELECT name, county_code FROM enterprises WHERE name LIKE '导入企业%' ORDER BY name")
    ).all()
    assert [tuple(r) for r in stored] == [("导入企业0", "640104"), ("导入企业1", "640104")]


@pytest.mark.parametrize(
    ("crs", "shift"),
    [
        ("wgs84", lambda lon, lat: (lon, lat)),
        ("cgcs2000", lambda lon, lat: (lon, lat)),
        ("gcj02", wgs84_to_gcj02),
        ("bd09", lambda lon, lat: gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))),
    ],
)
def test_every_crs_lands_within_a_metre_of_the_truth(
    client: TestClient, session: Session, crs: str, shift: Any
) -> None:
    truth = (106.2712345, 38.4687654)
    lon, lat = (float(v) for v in shift(*truth))
    code = _code()
    rows = [["坐标企业", code, "危险化学品", lon, lat, "640104"]]
    response = _post(client, "e.csv", _csv(rows), crs=crs, dry_run="false")
    assert response.status_code == 200, response.text
    metres = session.execute(
        text(
            "SELECT ST_Distance(geom::geography, ST_MakePoint(:lon, :lat)::geography)"
            " FROM enterprises WHERE credit_code = :code"
        ),
        {"lon": truth[0], "lat": truth[1], "code": code},
    ).scalar_one()
    assert metres < 1.0


def test_gcj02_coordinates_read_as_wgs84_fall_outside_their_declared_county(
    client: TestClient,
) -> None:
    # 金凤区 next to 兴庆区: a point 500 m inside the border, shifted by GCJ-02's offset.
    lon, lat = 106.2770, 38.4700
    gcj = tuple(float(v) for v in wgs84_to_gcj02(lon, lat))
    rows = [["偏移企业", _code(), "危险化学品", gcj[0], gcj[1], "640106"]]
    body = _post(client, "e.csv", _csv(rows)).json()
    assert body["rejected"] == 1
    assert "not in 640106" in body["rows"][0]["reason"]


def test_commit_is_all_or_nothing(client: TestClient, session: Session) -> None:
    before = _count(session)
    audit_before = session.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    rows = _rows(3)
    rows.insert(1, ["坏代码企业", BAD_CODE, "危险化学品", XINGQING[0], XINGQING[1], ""])
    response = _post(client, "e.csv", _csv(rows), dry_run="false")
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "file" and "nothing was imported" in body["detail"]
    assert body["rejected"] == 3 and body["rows"][0]["row"] == 3
    assert _count(session) == before
    assert session.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == audit_before


def test_reimport_updates_by_credit_code_and_counts_stay_exact(
    client: TestClient, session: Session
) -> None:
    code = _code()
    first = [["首次企业", code, "危险化学品", XINGQING[0], XINGQING[1], ""]]
    assert _post(client, "e.csv", _csv(first), dry_run="false").json()["inserted"] == 1
    moved = [["改名企业", code, "工贸", JINFENG[0], JINFENG[1], ""]]
    again = _post(client, "e.csv", _csv(moved), dry_run="false").json()
    assert (again["inserted"], again["updated"]) == (0, 1)
    row = session.execute(
        text("SELECT name, sector, county_code, version FROM enterprises WHERE credit_code = :c"),
        {"c": code},
    ).one()
    assert tuple(row) == ("改名企业", "工贸", "640106", 2)
    counted = session.execute(
        text(
            "SELECT coalesce(sum(value), 0) FROM region_counts"
            " WHERE region_code IN ('640104', '640106') AND measure = 'enterprises.total'"
        )
    ).scalar_one()
    stored = session.execute(
        text("SELECT count(*) FROM enterprises WHERE county_code IN ('640104', '640106')")
    ).scalar_one()
    session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
    assert counted == stored
    # Written set-based by the import's statements, one entry per row and action, with
    # the actor and both sides of the move (migrations/sql/0017_bulk_writes.sql).
    audited = session.execute(
        text(
            "SELECT action, username, row_id, before->>'county_code', after->>'county_code',"
            " after->>'name' FROM audit_log WHERE table_name = 'enterprises'"
            " AND after->>'credit_code' = :c ORDER BY id"
        ),
        {"c": code},
    ).all()
    stored_id = session.execute(
        text("SELECT id::text FROM enterprises WHERE credit_code = :c"), {"c": code}
    ).scalar_one()
    assert all(a.username.startswith("admin-") for a in audited)
    assert [(a[0], *a[2:]) for a in audited] == [
        ("insert", stored_id, None, "640104", "首次企业"),
        ("update", stored_id, "640104", "640106", "改名企业"),
    ]


def test_the_page_can_follow_an_import_by_its_progress_token(
    client: TestClient, make_user: Any
) -> None:
    rows = [[f"进度企业{i}", _code(), "危险化学品", XINGQING[0], XINGQING[1], ""] for i in range(3)]
    token = str(uuid.uuid4())
    assert client.get(f"/api/imports/progress/{token}").json()["stage"] == "waiting"
    checked = _post(client, "e.csv", _csv(rows), progress=token)
    assert checked.status_code == 200, checked.text
    # Written on a connection of its own while the import ran: the last stage it reached.
    seen = client.get(f"/api/imports/progress/{token}").json()
    assert (seen["stage"], seen["done"], seen["total"]) == ("check", 3, 3)
    committed = _post(client, "e.csv", _csv(rows), progress=token, dry_run="false")
    assert committed.status_code == 200, committed.text
    seen = client.get(f"/api/imports/progress/{token}").json()
    assert (seen["stage"], seen["done"], seen["total"]) == ("write", 3, 3)
    # Another user's import is not theirs to follow.
    official = make_user("official", region_code="640104")
    assert client.get(f"/api/imports/progress/{token}", headers=official).json() == {
        "stage": "waiting",
        "done": 0,
        "total": 0,
        "updated_at": None,
    }


def test_a_reimport_in_the_wrong_crs_is_caught_by_its_datum_shift(
    client: TestClient, session: Session
) -> None:
    code = _code()
    first = [["原址企业", code, "危险化学品", XINGQING[0], XINGQING[1], ""]]
    assert _post(client, "e.csv", _csv(first), dry_run="false").json()["inserted"] == 1
    # The same plant's Baidu coordinates, read as WGS 84: ≈ 1 km off, by exactly BD-09's shift.
    lon, lat = (float(v) for v in gcj02_to_bd09(*wgs84_to_gcj02(*XINGQING)))
    shifted = [["原址企业", code, "危险化学品", lon, lat, ""]]
    report = _post(client, "e.csv", _csv(shifted)).json()
    assert report["rejected"] == 1
    row = report["rows"][0]
    assert row["field"] == "geometry" and "BD-09" in row["reason"] and "BD-09" in row["reason_zh"]
    # Declared as BD-09 it is the stored place again: an update that moves nothing.
    declared = _post(client, "e.csv", _csv(shifted), crs="bd09", dry_run="false").json()
    assert (declared["accepted"], declared["updated"]) == (1, 1)
    moved = session.execute(
        text(
            "SELECT ST_Distance(geom::geography, ST_MakePoint(:lon, :lat)::geography)"
            " FROM enterprises WHERE credit_code = :c"
        ),
        {"lon": XINGQING[0], "lat": XINGQING[1], "c": code},
    ).scalar_one()
    assert moved < 1.0


def test_duplicates_in_file_and_bad_values_are_rejected_per_row(client: TestClient) -> None:
    code = _code()
    rows = [
        ["甲", code, "危险化学品", XINGQING[0], XINGQING[1], ""],
        ["乙", code, "危险化学品", XINGQING[0], XINGQING[1], ""],
        ["", _code(), "危险化学品", XINGQING[0], XINGQING[1], ""],
        ["丙", _code(), "危险化学品", "东经106", XINGQING[1], ""],
        ["丁", _code(), "危险化学品", XINGQING[0], XINGQING[1], "6401"],
    ]
    rows_out = {r["row"]: r for r in _post(client, "e.csv", _csv(rows)).json()["rows"]}
    assert rows_out[2]["status"] == "accepted"
    assert rows_out[3]["reason"] == "duplicate of an earlier row of the file"
    assert (rows_out[4]["field"], rows_out[4]["reason"]) == ("企业名称", "required")
    assert rows_out[5]["reason"] == "not a number"
    # The official reads the same verdicts in Chinese (the page and the XLSX report).
    assert [rows_out[n]["reason_zh"] for n in (3, 4, 5, 6)] == [
        "与文件中前面的行重复",
        "必填",
        "不是数字",
        "不是 6 位区县代码（GB/T 2260）",
    ]
    assert rows_out[6]["field"] == "所在区县代码"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("a.docx", b"PK..", "unknown file format"),
        ("a.zip", b"not a zip", "not a readable zip"),
        ("a.xlsx", b"garbage", "could not read the file as XLSX"),
        ("a.csv", "公司,地址\n甲,乙\n".encode(), "the file has no column 企业名称"),
    ],
)
def test_unreadable_files_are_a_clear_422(
    client: TestClient, name: str, content: bytes, reason: str
) -> None:
    response = _post(client, name, content)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(reason)
    assert response.json()["field"] == "file"


def test_zip_without_a_shapefile_is_refused(client: TestClient) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "no shapefile here")
    response = _post(client, "a.zip", buffer.getvalue())
    assert response.status_code == 422
    assert "no .shp" in response.json()["detail"]


def test_huge_upload_is_413(client: TestClient) -> None:
    response = client.post(
        "/api/imports?layer=enterprises",
        content=b"x",
        headers={
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": str(2 * 1024**3),
        },
    )
    assert response.status_code == 413


def test_chemical_parks_import_as_outlines_with_their_class(
    client: TestClient, session: Session
) -> None:
    square = shapely.box(106.60, 38.05, 106.66, 38.10).wkt
    parks = f"园区名称,安全风险等级,评分,WKT\n导入化工园,C类,78.5,{json.dumps(square)}\n"
    committed = _post(client, "p.csv", parks.encode(), layer="parks", dry_run="false")
    assert committed.status_code == 200, committed.text
    assert committed.json()["inserted"] == 1
    stored = session.execute(
        text(
            "SELECT risk_class, score, GeometryType(geom), county_code FROM chemical_parks"
            " WHERE name = '导入化工园'"
        )
    ).one()
    assert tuple(stored[:3]) == ("C", 78.5, "MULTIPOLYGON") and stored[3].startswith("64")
    # A class outside A–D is refused by row, naming the column.
    bad = f"园区名称,安全风险等级,WKT\n坏园区,E类,{json.dumps(square)}\n"
    row = _post(client, "p.csv", bad.encode(), layer="parks").json()["rows"][0]
    assert (row["status"], row["field"]) == ("rejected", "安全风险等级")


def test_official_imports_inside_own_region_only(
    client: TestClient, make_user: Any, session: Session
) -> None:
    official = make_user("official", region_code="640104")
    rows = [
        ["本区企业", _code(), "危险化学品", XINGQING[0], XINGQING[1], ""],
        ["邻区企业", _code(), "危险化学品", JINFENG[0], JINFENG[1], ""],
    ]
    response = client.post(
        "/api/imports",
        params={"layer": "enterprises"},
        files={"file": ("e.csv", _csv(rows))},
        headers=official,
    )
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert body["rows"][1]["field"] == "geometry"
    planner = make_user("planner", region_code="640000")
    refused = client.post(
        "/api/imports",
        params={"layer": "enterprises"},
        files={"file": ("e.csv", _csv(rows))},
        headers=planner,
    )
    assert refused.status_code == 403


def test_risk_points_are_graded_and_raise_their_enterprise(
    client: TestClient, session: Session
) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(
        ["所属企业信用代码", "风险点名称", "评估方法", "L值", "E值", "C值", "S值", "经度", "纬度"]
    )
    code = enterprise["credit_code"]
    sheet.append([code, "反应釜", "LEC", 10, 6, 7, None, XINGQING[0], XINGQING[1]])  # 420 red
    sheet.append([code, "配电室", "风险矩阵", 2, None, None, 3, XINGQING[0], XINGQING[1]])
    sheet.append([code, "仓库", "LEC", 3, None, 7, None, XINGQING[0], XINGQING[1]])  # no E
    sheet.append([_code(), "别家", "LEC", 1, 1, 1, None, XINGQING[0], XINGQING[1]])
    buffer = io.BytesIO()
    book.save(buffer)
    dry = _post(client, "rp.xlsx", buffer.getvalue(), layer="risk_points").json()
    assert dry["accepted"] == 2 and dry["rejected"] == 2
    bad = {r["row"]: r for r in dry["rows"] if r["status"] == "rejected"}
    assert bad[4]["field"] == "E值"
    assert bad[5]["reason"] == "no stored enterprise has this credit code"
    sheet.delete_rows(4, 2)
    buffer = io.BytesIO()
    book.save(buffer)
    committed = _post(client, "rp.xlsx", buffer.getvalue(), layer="risk_points", dry_run="false")
    assert committed.status_code == 200, committed.text
    levels = session.execute(
        text("SELECT name, risk_level FROM risk_points WHERE enterprise_id = :e ORDER BY name"),
        {"e": enterprise["id"]},
    ).all()
    assert dict(levels) == {"反应釜": "red", "配电室": "blue"}
    level = session.execute(
        text("SELECT risk_level FROM enterprises WHERE id = :e"), {"e": enterprise["id"]}
    ).scalar_one()
    assert level == "red"
    assessed = session.execute(
        text(
            "SELECT count(*) FROM assessments WHERE subject_type = 'risk_point'"
            " AND assessed_by LIKE 'import:%'"
        )
    ).scalar_one()
    assert assessed == 2


def test_other_layers_import(client: TestClient, session: Session) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    code = enterprise["credit_code"]
    hazard = io.StringIO()
    csv.writer(hazard).writerows(
        [
            ["所属企业信用代码", "危险源名称", "单元类型", "危险化学品及数量"],
            [code, "液氯储罐", "储存单元", "7782-50-5:20"],
            [code, "坏储罐", "储存单元", "7782-50-5:abc"],
        ]
    )
    body = _post(client, "h.csv", hazard.getvalue().encode(), layer="hazard_sources").json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    lines = hazard.getvalue().splitlines()[:2]
    committed = _post(
        client, "h.csv", "\n".join(lines).encode(), layer="hazard_sources", dry_run="false"
    )
    assert committed.status_code == 200, committed.text
    grade = session.execute(
        text("SELECT grade FROM hazard_sources WHERE enterprise_id = :e"), {"e": enterprise["id"]}
    ).scalar_one()
    assert grade is not None

    dangers = "所属企业信用代码,隐患名称,隐患等级\n" + f"{code},消防通道堵塞,重大\n"
    committed = _post(client, "d.csv", dangers.encode(), layer="hidden_dangers", dry_run="false")
    assert committed.status_code == 200, committed.text
    danger = session.execute(
        text("SELECT id, grade, status FROM hidden_dangers WHERE enterprise_id = :e"),
        {"e": enterprise["id"]},
    ).one()
    assert (danger.grade, danger.status) == ("major", "reported")
    assert client.get(f"/api/hidden-dangers/{danger.id}/history").json()[0]["action"] == "report"
    again = _post(client, "d.csv", dangers.encode(), layer="hidden_dangers").json()
    assert again["rejected"] == 1, "an open danger is not imported twice"

    zone = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"区域名称": "人民广场", "区域类型": "square", "人数": 300},
                    "geometry": {
                        "type": "Point",
                        "coordinates": [XINGQING[0] + 0.001, XINGQING[1]],
                    },
                }
            ],
        }
    )
    committed = _post(client, "z.geojson", zone.encode(), layer="public_zones", dry_run="false")
    assert committed.status_code == 200, committed.text
    alpha_people = session.execute(
        text("SELECT exposed_people FROM hazard_sources WHERE enterprise_id = :e"),
        {"e": enterprise["id"]},
    ).scalar_one()
    assert alpha_people == 300, "hazard sources near an imported zone are re-graded"

    resources = "资源名称,资源类型,经度,纬度\n消防站,消防站,106.28,38.47\n仓库,粮仓,106.28,38.47\n"
    body = _post(client, "r.csv", resources.encode(), layer="emergency_resources").json()
    assert (body["accepted"], body["rejected"]) == (1, 1)

    square = shapely.box(106.27, 38.46, 106.29, 38.48).wkt
    grid = f"网格编码,网格名称,WKT\n640104-IMP1,导入网格,{json.dumps(square)}\n"
    committed = _post(client, "g.csv", grid.encode(), layer="grid_cells", dry_run="false")
    assert committed.status_code == 200, committed.text
    cell = session.execute(
        text("SELECT grid_code FROM enterprises WHERE id = :e"), {"e": enterprise["id"]}
    ).scalar_one()
    assert cell == "640104-IMP1"


def test_templates_and_xlsx_report(client: TestClient) -> None:
    template = client.get("/api/imports/templates/enterprises.xlsx")
    assert template.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(template.content))
    headers = [c.value for c in book.worksheets[0][1]]
    assert headers[:3] == ["企业名称", "统一社会信用代码", "行业"]
    assert "经度" in headers and "纬度" in headers
    report = _post(client, "e.csv", _csv(_rows()), format="xlsx")
    assert report.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(report.content)).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:4] == ("通过", 2, "拒绝", 2)
    assert values[4][1] == "拒绝" and values[4][3] == "统一社会信用代码"
    assert values[4][4] == "不是有效的统一社会信用代码（GB 32100 校验位不符）"
