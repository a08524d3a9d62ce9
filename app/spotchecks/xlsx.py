"""A draw published (公示) as an XLSX workbook: the targets, the inspectors, how it was drawn."""

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

LEVEL_ZH = {"red": "重大风险", "orange": "较大风险", "yellow": "一般风险", "blue": "低风险"}
TARGET_HEADER = ("序号", "企业编号", "企业名称", "风险等级", "县区代码", "网格", "检查人员")
INSPECTOR_HEADER = ("序号", "用户编号", "账号", "姓名", "地区代码", "抽查对象数", "抽查对象编号")


def workbook(draw: dict[str, Any]) -> bytes:
    """The draw as XLSX bytes: sheets 抽查对象, 执法检查人员 and 抽取说明."""
    book = Workbook()
    targets = book.active
    assert targets is not None  # a new workbook has one sheet
    targets.title = "抽查对象"
    targets.append(TARGET_HEADER)
    per_target = draw["per_target"]
    for number, target in enumerate(draw["targets"], start=1):
        targets.append(
            (
                number,
                target["enterprise_id"],
                target["name"],
                LEVEL_ZH.get(target["risk_level"], target["risk_level"]),
                target["county_code"],
                target["grid_code"] or "",
                _inspectors_cell(target, per_target),
            )
        )
    inspectors = book.create_sheet("执法检查人员")
    inspectors.append(INSPECTOR_HEADER)
    for number, user in enumerate(draw["inspectors"], start=1):
        inspectors.append(
            (
                number,
                user["user_id"],
                user["username"],
                user["display_name"] or "",
                user["region_code"] or "",
                len(user["targets"]),
                ",".join(str(t) for t in user["targets"]),
            )
        )
    about = book.create_sheet("抽取说明")
    for row in (
        ("抽取编号", draw["id"]),
        ("地区代码", draw["region"]),
        ("抽查周期", draw["period"]),
        ("随机种子", draw["seed"]),
        ("抽取方法", draw["method"]),
        ("抽取时间", draw["drawn_at"]),
        ("抽取人", draw["drawn_by"] or ""),
        ("对象库企业数", draw["pool_sizes"]["targets"]),
        ("检查人员库人数", draw["pool_sizes"]["inspectors"]),
        ("回避关系数", draw["pool_sizes"]["conflicts"]),
        # The counts that reconcile the two sheets: 执法检查人员's 抽查对象数 add up to
        # 抽取对象数 × 每个对象检查人员数 − 检查人员缺额.
        ("抽取对象数", len(draw["targets"])),
        ("每个对象检查人员数", per_target),
        ("检查人员不足的对象数", sum(1 for t in draw["targets"] if t["short"])),
        ("检查人员缺额", sum(per_target - len(t["inspectors"]) for t in draw["targets"])),
    ):
        about.append(row)
    for sheet in (targets, inspectors):
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _inspectors_cell(target: dict[str, Any], per_target: int) -> str:
    """The target's inspectors' names; a short target says how many it lacks."""
    names = "、".join(target["inspector_names"])
    missing = per_target - len(target["inspectors"])
    return f"{names}（缺{missing}人）" if missing > 0 else names


PUBLIC_TARGET_HEADER = ("序号", "企业名称", "统一社会信用代码", "检查人员")


def public_workbook(draw: dict[str, Any]) -> bytes:
    """The publication (公示) of a draw as XLSX bytes: sheets 抽查对象, 执法检查人员 and
    抽取说明, with only what the public page shows (see service.public_draw)."""
    book = Workbook()
    targets = book.active
    assert targets is not None  # a new workbook has one sheet
    targets.title = "抽查对象"
    targets.append(PUBLIC_TARGET_HEADER)
    for number, target in enumerate(draw["targets"], start=1):
        targets.append(
            (number, target["name"], target["credit_code"] or "", "、".join(target["inspectors"]))
        )
    inspectors = book.create_sheet("执法检查人员")
    inspectors.append(("序号", "姓名"))
    for number, name in enumerate(draw["inspectors"], start=1):
        inspectors.append((number, name))
    about = book.create_sheet("抽取说明")
    for row in (
        ("地区", f"{draw['region_name'] or ''}（{draw['region']}）"),
        ("抽查周期", draw["period"]),
        ("随机种子", draw["seed"]),
        ("抽取方法", draw["method"]),
        ("抽取时间", draw["drawn_at"]),
    ):
        about.append(row)
    for sheet in (targets, inspectors):
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
