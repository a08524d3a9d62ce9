"""The statutory tables as XLSX workbooks (a summary sheet, then the rows behind it)."""

from typing import Any

from app.dangers import rules
from app.registers import tables
from app.statutory.service import STATISTICS_COLUMNS

ENTRY_HEADERS = ("编号", "区县代码", "名称", "单位/依据", "情况", "日期")


def _supervision_zh(level: str | None) -> str:
    """A supervision level as the table's reader says it (街道（镇）挂牌督办), none: blank."""
    known = rules.supervision_levels().get(level or "")
    return known.name_zh if known else (level or "")


def five_batches(table: dict[str, Any]) -> bytes:
    """五个一批: one summary sheet, one sheet per item."""
    title = f"{table['region_name']} {table['month']} 五个一批"
    summary = [(item["name_zh"], item["count"]) for item in table["items"]]
    sheets: list[tuple[str, list[str], list[list[Any]]]] = [
        (
            "五个一批",
            [title, "数量"],
            [list(row) for row in summary] + [["合计", sum(c for _, c in summary)]],
        )
    ]
    for item in table["items"]:
        rows = [
            [e["id"], e["county_code"], e["name"], e["unit"], e["detail"], e["on_day"]]
            for e in item["entries"]
        ]
        sheets.append((item["name_zh"][:31], list(ENTRY_HEADERS), rows))
    return tables.xlsx(sheets)


def danger_statistics(table: dict[str, Any]) -> bytes:
    """隐患排查治理统计表: one row per child region and a total row."""
    headers = ["区划代码", "地区", *(header for _, header in STATISTICS_COLUMNS)]
    keys = [key for key, _ in STATISTICS_COLUMNS]
    rows = [[r["code"], r["name"], *(r[k] for k in keys)] for r in table["rows"]]
    rows.append(["", "合计", *(table["total"][k] for k in keys)])
    title = f"隐患统计 {table['region_name']} {table['period']}"
    return tables.xlsx([(title, headers, rows)])


def risk_bulletin(table: dict[str, Any]) -> bytes:
    """风险预警: red/orange regions, enterprises that rose, overdue major dangers."""
    change = {"new": "新增", "rising": "上升", "unchanged": "持续"}
    level = {"red": "红", "orange": "橙", "yellow": "黄", "blue": "蓝", None: ""}
    return tables.xlsx(
        [
            (
                "红橙区域",
                [
                    "区划代码",
                    "地区",
                    "等级",
                    "上期",
                    "变化",
                    "红色风险点",
                    "橙色风险点",
                    "未销号重大隐患",
                ],
                [
                    [
                        r["code"],
                        r["name"],
                        level[r["level"]],
                        level.get(r["previous"], ""),
                        change[r["change"]],
                        r["red_points"],
                        r["orange_points"],
                        r["open_major_dangers"],
                    ]
                    for r in table["regions"]
                ],
            ),
            (
                "升为红橙企业",
                ["编号", "企业名称", "统一社会信用代码", "区县代码", "等级", "原等级", "时间"],
                [
                    [
                        r["id"],
                        r["name"],
                        r["credit_code"],
                        r["county_code"],
                        level[r["risk_level"]],
                        level.get(r["previous"], ""),
                        r["at"],
                    ]
                    for r in table["enterprises"]
                ],
            ),
            (
                "超期重大隐患",
                ["编号", "隐患", "企业", "区县代码", "整改期限", "挂牌督办"],
                [
                    [
                        r["id"],
                        r["title"],
                        r["enterprise"],
                        r["county_code"],
                        r["deadline"],
                        _supervision_zh(r["supervision_level"]),
                    ]
                    for r in table["overdue_major_dangers"]
                ],
            ),
        ]
    )
