"""XLSX written for imports: blank templates with Chinese headers, and row reports."""

from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from app.ingest.layers import Layer

TYPE_ZH = {
    "text": "文本",
    "int": "整数",
    "float": "数值",
    "enum": "枚举",
    "date": "日期 YYYY-MM-DD",
    "credit_code": "统一社会信用代码（18位，GB 32100 校验）",
    "substances": "名称或CAS号:吨数，多个用;分隔",
}
STATUS_ZH = {"accepted": "通过", "rejected": "拒绝"}
ACTION_ZH = {"insert": "新增", "update": "更新"}
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def template(layer: Layer) -> bytes:
    """A blank import sheet for `layer` (required headers bold) and a sheet explaining them."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = layer.name_zh
    location = ["经度", "纬度"] if layer.geometries == ("Point",) else ["WKT"]
    headers = [c.header_zh for c in layer.columns] + location + ["所在区县代码"]
    sheet.append(headers)
    for cell, column in zip(sheet[1], layer.columns, strict=False):
        cell.font = Font(bold=column.required)
    notes = book.create_sheet("填写说明")
    notes.append(["列名", "字段", "类型", "必填", "最大长度", "可选值"])
    for c in layer.columns:
        allowed = "；".join("/".join(spellings) for spellings in c.allowed.values())
        notes.append(
            [
                c.header_zh,
                c.field,
                TYPE_ZH[c.type],
                "是" if c.required else "否",
                c.max_length,
                allowed,
            ]
        )
    crs_note = "坐标系在导入时选择：WGS 84、CGCS2000、GCJ-02（高德/腾讯）、BD-09（百度）"
    notes.append(
        [
            "经度/纬度",
            "lon/lat",
            "数值（度）",
            "是" if not layer.location_from_enterprise else "否（缺省取所属企业位置）",
            None,
            crs_note,
        ]
    )
    notes.append(
        ["WKT", "geometry", "WKT 几何（代替经纬度）", "否", None, "/".join(layer.geometries)]
    )
    notes.append(
        [
            "所在区县代码",
            "county",
            "6位行政区划代码（GB/T 2260）",
            "否",
            None,
            "填写时校验位置是否在该区县内",
        ]
    )
    return _save(book)


def report(result: dict[str, Any]) -> bytes:
    """A dry run's or a refused import's row report as a sheet."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("导入检查")
    sheet.append(["通过", result["accepted"], "拒绝", result["rejected"]])
    sheet.append(["行号", "结果", "操作", "字段", "原因"])
    for row in result["rows"]:
        sheet.append(
            [
                row["row"],
                STATUS_ZH[row["status"]],
                ACTION_ZH.get(row.get("action") or ""),
                row.get("field"),
                row.get("reason_zh") or row.get("reason"),
            ]
        )
    return _save(book)


def _save(book: Workbook) -> bytes:
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()
