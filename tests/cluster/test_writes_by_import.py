"""Issue 17: an import (POST /api/imports) on Citus gives what it gives on one PostgreSQL.

The same files go to the cluster and to the single-node twin (tests/cluster/conftest.py),
committed on both, in the same order: enterprises, a re-import that moves one of them to
another county, risk points (then one re-imported), hazard sources, hidden dangers, public
zones, emergency resources. The rows, region counts, tile cells and audit entries they
leave must be equal. The file's name puts it after test_writes, whose comparisons of
everything audited it would otherwise change (alike, but at other moments).
"""

import csv
import io
import random
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text

from app.sites.credit_code import make_credit_code
from tests.cluster.conftest import Twin
from tests.factories import JINFENG, XINGQING

ENTERPRISE = ["企业名称", "统一社会信用代码", "行业", "经度", "纬度"]
RISK_POINT = ["所属企业信用代码", "风险点名称", "评估方法", "L值", "E值", "C值", "经度", "纬度"]
COUNTIES = ("640104", "640106")
# The located tables an import writes, and what is compared of their rows.
LOCATED = {
    "enterprises": "credit_code, name, sector, county_code, version, risk_level",
    "risk_points": "name, county_code, risk_level, version",
    "hazard_sources": "name, county_code, grade, risk_level",
    "hidden_dangers": "title, county_code, grade, status",
    "public_zones": "name, county_code, population",
    "emergency_resources": "name, county_code",
}
_rng = random.Random(1717)


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _import(clients: tuple[TestClient, ...], layer: str, content: bytes) -> None:
    answers = [
        client.post(
            "/api/imports",
            params={"layer": layer, "dry_run": "false"},
            files={"file": (f"{layer}.csv", content)},
        )
        for client in clients
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
    reports = [{k: a.json()[k] for k in ("accepted", "inserted", "updated")} for a in answers]
    assert reports[0] == reports[1], layer


def _rows(connection: Connection, query: str, **params: Any) -> list[tuple[Any, ...]]:
    return sorted(tuple(r) for r in connection.execute(text(query), params))


def _audit(connection: Connection, since: datetime) -> list[tuple[Any, ...]]:
    """The entries written since `since`, from audit_log (and audit_log_located, on the
    cluster), without their ids and moments."""
    tables = ["audit_log"]
    if connection.execute(text("SELECT to_regclass('audit_log_located')")).scalar():
        tables.append("audit_log_located")
    return sorted(
        entry
        for table in tables
        for entry in _rows(
            connection,
            "SELECT table_name, action, username, before->>'county_code',"
            " after->>'county_code', coalesce(after, before)->>'name',"
            " after->>'risk_level', after->>'version'"
            f" FROM {table} WHERE at >= :since",
            since=since,
        )
    )


def _outcome(engine: Engine, since: datetime) -> dict[str, Any]:
    """What the imports left: their rows, their counties' counts and cells, audit."""
    with engine.connect() as connection:
        return {
            **{
                table: _rows(
                    connection,
                    f"SELECT {columns} FROM {table} WHERE updated_at >= :since",
                    since=since,
                )
                for table, columns in LOCATED.items()
            },
            "counts": _rows(
                connection,
                "SELECT region_code, measure, value FROM region_counts"
                " WHERE region_code IN ('64', '6401', '640104', '640106')",
            ),
            "tile_cells": _rows(
                connection,
                "SELECT layer, zoom, tile_x, tile_y, cell_x, cell_y, county_code, level, count,"
                " round(sum_x::numeric, 3), round(sum_y::numeric, 3) FROM tile_cells"
                " WHERE county_code = ANY(:counties) AND count <> 0",
                counties=list(COUNTIES),
            ),
            "audit": _audit(connection, since),
        }


def _now(engine: Engine) -> datetime:
    with engine.connect() as connection:
        moment: datetime = connection.execute(text("SELECT now()")).scalar_one()
    return moment


def test_an_import_alike(twin: Twin, cluster_reader: TestClient, single_reader: TestClient) -> None:
    clients = (cluster_reader, single_reader)
    since = {e: _now(e) for e in (twin.cluster, twin.single)}
    codes = [make_credit_code(_rng, "640104") for _ in range(3)]
    first = [
        [f"导入企业{i}", code, "危险化学品", XINGQING[0] + i * 1e-3, XINGQING[1]]
        for i, code in enumerate(codes)
    ]
    _import(clients, "enterprises", _csv(ENTERPRISE, first))
    # Moved to 金凤区 (640106): on the cluster, to another shard.
    _import(clients, "enterprises", _csv(ENTERPRISE, [["迁址企业", codes[0], "工贸", *JINFENG]]))
    points = [
        [codes[1], "反应釜", "LEC", 10, 6, 7, *XINGQING],
        [codes[0], "仓库", "LEC", 3, 6, 7, *JINFENG],
    ]
    _import(clients, "risk_points", _csv(RISK_POINT, points))
    _import(
        clients, "risk_points", _csv(RISK_POINT, [[codes[1], "反应釜", "LEC", 1, 1, 1, *XINGQING]])
    )
    _import(
        clients,
        "hazard_sources",
        _csv(
            ["所属企业信用代码", "危险源名称", "单元类型", "危险化学品及数量"],
            [[codes[1], "液氯储罐", "储存单元", "7782-50-5:20"]],
        ),
    )
    _import(
        clients,
        "hidden_dangers",
        _csv(["所属企业信用代码", "隐患名称", "隐患等级"], [[codes[0], "消防通道堵塞", "重大"]]),
    )
    _import(
        clients,
        "public_zones",
        _csv(
            ["区域名称", "区域类型", "人数", "经度", "纬度"],
            [["导入广场", "square", 300, XINGQING[0] + 0.001, XINGQING[1]]],
        ),
    )
    _import(
        clients,
        "emergency_resources",
        _csv(["资源名称", "资源类型", "经度", "纬度"], [["导入消防站", "消防站", *XINGQING]]),
    )
    cluster, single = (_outcome(e, since[e]) for e in (twin.cluster, twin.single))
    for engine in (twin.cluster, twin.single):
        with engine.connect() as connection:
            counted = _rows(
                connection,
                "SELECT region_code, value FROM region_counts"
                " WHERE region_code = ANY(:c) AND measure = 'enterprises.total'",
                c=list(COUNTIES),
            )
            stored = _rows(
                connection,
                "SELECT county_code, count(*) FROM enterprises WHERE county_code = ANY(:c)"
                " GROUP BY county_code",
                c=list(COUNTIES),
            )
        assert counted == stored, "the counts are exact, not only alike"
    with twin.cluster.connect() as connection:
        coordinator = connection.execute(
            text("SELECT count(*) FROM audit_log WHERE at >= :since AND table_name = ANY(:t)"),
            {"since": since[twin.cluster], "t": list(LOCATED)},
        ).scalar_one()
    assert coordinator == 0, "the entries of located rows are kept by county on the cluster"
    for key in single:
        assert cluster[key] == single[key], key
    assert [row[3:5] for row in single["enterprises"] if row[0] == codes[0]] == [("640106", 2)]
    assert len(single["risk_points"]) == 2 and single["hazard_sources"]
    # One entry per imported row and action (the move one update, as on one node), and the
    # re-gradings that follow.
    actions = {(entry[0], entry[1]) for entry in single["audit"]}
    assert ("enterprises", "update") in actions and ("hidden_dangers", "insert") in actions
    assert not {(t, "delete") for t in ("enterprises", "risk_points")} & actions
