"""Registers out (issue 15): lists as XLSX and CSV, filtered and scoped like the lists."""

import csv
import io
import re
from datetime import datetime, timedelta

import openpyxl
from fastapi.testclient import TestClient

from app.datetimes import CHINA_STANDARD_TIME
from tests.factories import JINFENG, enterprise_payload, lec_point


def _sheet(content: bytes) -> list[tuple]:
    return list(
        openpyxl.load_workbook(io.BytesIO(content)).worksheets[0].iter_rows(values_only=True)
    )


def test_enterprises_xlsx_and_csv_follow_filters_and_scope(client: TestClient, make_user) -> None:
    mine = client.post("/api/enterprises", json=enterprise_payload(name="=HYPERLINK(1)")).json()
    other = client.post("/api/enterprises", json=enterprise_payload(JINFENG)).json()
    client.post("/api/risk-points", json=lec_point(mine["id"], 10, 6, 7))
    rows = _sheet(client.get("/api/registers/enterprises?region=640104").content)
    assert rows[0][:4] == ("编号", "企业名称", "统一社会信用代码", "行业")
    ids = [r[0] for r in rows[1:]]
    assert mine["id"] in ids and other["id"] not in ids
    mine_row = next(r for r in rows[1:] if r[0] == mine["id"])
    assert mine_row[1] == "'=HYPERLINK(1)", "no formula from user text"
    assert mine_row[4] == "重大风险（红）"

    red = _sheet(client.get("/api/registers/enterprises?level=red").content)
    assert [r[0] for r in red[1:]] == [mine["id"]]

    official = make_user("official", region_code="640104")
    text = client.get("/api/registers/enterprises?format=csv", headers=official)
    assert text.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(text.content.decode("utf-8-sig"))))
    assert table[0][1] == "企业名称"
    assert [int(r[0]) for r in table[1:]] == [mine["id"]], (
        "outside the official's county: not exported"
    )
    planner = make_user("planner", region_code="640000")
    assert client.get("/api/registers/enterprises", headers=planner).status_code == 403


def test_dangers_inspections_rankings_and_bad_filters(client: TestClient) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    client.post(
        "/api/hidden-dangers",
        json={"enterprise_id": enterprise["id"], "title": "配电箱未接地", "grade": "major"},
    )
    rows = _sheet(client.get("/api/registers/hidden_dangers?grade=major").content)
    assert rows[1][2:4] == ("配电箱未接地", "重大隐患")
    # Found "now", written in China time to the minute (the API answers in UTC).
    found = dict(zip(rows[0], rows[1], strict=True))["发现时间"]
    now = datetime.now(CHINA_STANDARD_TIME)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", found)
    assert abs(
        datetime.strptime(found, "%Y-%m-%d %H:%M").replace(tzinfo=CHINA_STANDARD_TIME) - now
    ) < timedelta(minutes=5)
    assert len(_sheet(client.get("/api/registers/hidden_dangers?grade=general").content)) == 1
    client.post(
        "/api/inspections",
        json={
            "enterprise_id": enterprise["id"],
            "kind": "spot_check",
            "checklist": [{"item": "消防通道", "ok": True}],
        },
    )
    inspections = _sheet(client.get("/api/registers/inspections").content)
    assert inspections[1][1] == "监管抽查"
    ranking = _sheet(client.get("/api/registers/rankings?parent=640100").content)
    assert ranking[0][:3] == ("排名", "区划代码", "名称")
    assert ranking[1][1] == "640104", "the county with the danger's enterprise ranks first"
    bad = client.get("/api/registers/enterprises?grade=major")
    assert bad.status_code == 422 and bad.json()["field"] == "grade"
