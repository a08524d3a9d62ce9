"""Registers (台账) out: the rows of a list, read through that list's own service (so its
filters and the caller's scope apply unchanged), as Chinese-headed columns."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.crud import list_page
from app.dangers import rules
from app.dangers.service import list_dangers
from app.datetimes import CHINA_STANDARD_TIME, aware
from app.errors import InvalidInput
from app.inspections.service import list_inspections
from app.risk import aggregation
from app.risk.models import RiskPoint
from app.risk.service import render_risk_point
from app.sites.models import Enterprise, HazardSource
from app.sites.service import render_enterprise, render_hazard_source

PAGE = 5_000
# A register larger than this is refused: narrow it by region or filters.
MAX_ROWS = 200_000
LEVEL_ZH = {
    "red": "重大风险（红）",
    "orange": "较大风险（橙）",
    "yellow": "一般风险（黄）",
    "blue": "低风险（蓝）",
}
GRADE_ZH = {"general": "一般隐患", "larger": "较大隐患", "major": "重大隐患"}
SUPERVISION_ZH = {"street": "街道（乡镇）挂牌", "district": "区县挂牌", "city": "市级挂牌"}
KIND_ZH = {"self_check": "企业自查", "spot_check": "监管抽查", "grid_check": "网格巡查"}
UNIT_ZH = {"production": "生产单元", "storage": "储存单元"}


def _level(value: Any) -> Any:
    return LEVEL_ZH.get(value, value)


def _status(value: Any) -> Any:
    known = rules.statuses()
    return known[value].name_zh if value in known else value


def _china_time(value: Any) -> Any:
    """A moment as the official reads it: China time to the minute (the API's are UTC)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        return value
    return aware(moment).astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%d %H:%M")


def _yes(value: Any) -> str:
    return "是" if value else "否"


@dataclass(frozen=True)
class Register:
    """One exportable list: its sheet name, filters and columns (key, header, formatter)."""

    name_zh: str
    filters: tuple[str, ...]
    columns: tuple[tuple[str, str, Callable[[Any], Any] | None], ...]


PERSONS = (
    ("responsible_person", "责任人", None),
    ("responsible_phone", "联系电话", None),
    ("government_person", "政府监管责任人", None),
)
PLACE = (("county_code", "区县代码", None), ("grid_code", "网格编码", None))
LOCATED_FILTERS = ("region", "level", "sector", "q", "updated_since", "blacklisted")

REGISTERS: dict[str, Register] = {
    "enterprises": Register(
        "企业台账",
        LOCATED_FILTERS,
        (
            ("id", "编号", None),
            ("name", "企业名称", None),
            ("credit_code", "统一社会信用代码", None),
            ("sector", "行业", None),
            ("risk_level", "风险等级", _level),
            ("address", "地址", None),
            ("park", "所在园区", None),
            ("employees", "从业人员数", None),
            *PERSONS,
            *PLACE,
            ("updated_at", "更新时间", _china_time),
        ),
    ),
    "risk_points": Register(
        "风险点台账",
        LOCATED_FILTERS,
        (
            ("id", "编号", None),
            ("enterprise_id", "企业编号", None),
            ("name", "风险点名称", None),
            ("hazard_type", "危险因素", None),
            ("method", "评估方法", str.upper),
            ("score", "风险值", None),
            ("risk_level", "风险等级", _level),
            ("control_measures", "管控措施", None),
            *PERSONS,
            *PLACE,
            ("updated_at", "更新时间", _china_time),
        ),
    ),
    "hazard_sources": Register(
        "重大危险源台账",
        LOCATED_FILTERS,
        (
            ("id", "编号", None),
            ("enterprise_id", "企业编号", None),
            ("name", "危险源名称", None),
            ("unit_type", "单元类型", lambda v: UNIT_ZH.get(v, v)),
            ("grade", "危险源等级", lambda v: f"{'一二三四'[v - 1]}级" if v else None),
            ("r_value", "R值", None),
            ("s_value", "S值", None),
            ("alpha", "α", None),
            ("exposed_people", "500米内人数", None),
            ("risk_level", "风险等级", _level),
            *PERSONS,
            *PLACE,
        ),
    ),
    "hidden_dangers": Register(
        "事故隐患台账",
        ("region", "sector", "grade", "status", "overdue", "supervision_level", "enterprise_id"),
        (
            ("id", "编号", None),
            ("enterprise_id", "企业编号", None),
            ("title", "隐患名称", None),
            ("grade", "隐患等级", lambda v: GRADE_ZH.get(v, v)),
            ("status", "状态", _status),
            ("found_at", "发现时间", _china_time),
            ("deadline", "整改期限", None),
            ("overdue", "是否超期", _yes),
            ("supervision_level", "挂牌督办", lambda v: SUPERVISION_ZH.get(v, v)),
            ("supervision_deadline", "督办期限", None),
            ("closed_at", "销号时间", _china_time),
            ("responsible_person", "整改责任人", None),
            *PLACE,
        ),
    ),
    "inspections": Register(
        "检查记录",
        ("region", "kind", "enterprise_id", "grid"),
        (
            ("id", "编号", None),
            ("kind", "检查类型", lambda v: KIND_ZH.get(v, v)),
            ("enterprise_id", "企业编号", None),
            ("inspected_at", "检查时间", _china_time),
            ("username", "检查人", None),
            ("finding_count", "发现问题数", None),
            ("hidden_danger_ids", "隐患编号", lambda v: "、".join(map(str, v or []))),
            ("note", "备注", None),
            *PLACE,
        ),
    ),
    "rankings": Register(
        "区域风险排名",
        ("parent",),
        (
            ("rank", "排名", None),
            ("code", "区划代码", None),
            ("name", "名称", None),
            ("regional_level", "区域风险等级", _level),
            ("red", "重大风险点", None),
            ("orange", "较大风险点", None),
            ("yellow", "一般风险点", None),
            ("blue", "低风险点", None),
            ("enterprises_total", "企业数", None),
            ("open_major_dangers", "未销号重大隐患", None),
            ("open_dangers", "未销号隐患", None),
            ("method", "判定方法", None),
        ),
    ),
}


def rows(
    session: Session, *, layer: str, scope: Scope, today: date, filters: dict[str, Any]
) -> Iterator[list[Any]]:
    """The register's rows as cell values, in the list's order."""
    register = REGISTERS[layer]
    unknown = [
        name
        for name, value in filters.items()
        if value is not None and name not in register.filters
    ]
    if unknown:
        raise InvalidInput(
            f"{unknown[0]} does not filter {layer}",
            field=unknown[0],
            allowed=list(register.filters),
        )
    given = {name: value for name, value in filters.items() if value is not None}
    for item in _items(session, layer=layer, scope=scope, today=today, filters=given):
        yield [
            (format(item.get(key)) if format and item.get(key) is not None else item.get(key))
            for key, _, format in register.columns
        ]


def _items(
    session: Session, *, layer: str, scope: Scope, today: date, filters: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    if layer == "rankings":
        yield from _rankings(session, parent=filters.get("parent") or "100000")
        return
    offset = 0
    while True:
        page = _page(session, layer=layer, scope=scope, today=today, filters=filters, offset=offset)
        if page["total"] > MAX_ROWS:
            raise InvalidInput(
                f"{page['total']} rows: more than {MAX_ROWS}; narrow it by region or filters",
                field="region",
            )
        yield from page["items"]
        offset += PAGE
        if offset >= page["total"]:
            return


def _page(
    session: Session,
    *,
    layer: str,
    scope: Scope,
    today: date,
    filters: dict[str, Any],
    offset: int,
) -> dict[str, Any]:
    if layer == "hidden_dangers":
        return list_dangers(session, scope=scope, today=today, limit=PAGE, offset=offset, **filters)
    if layer == "inspections":
        return list_inspections(session, scope=scope, limit=PAGE, offset=offset, **filters)
    located: dict[str, tuple[type[Any], Callable[[Any], dict[str, Any]]]] = {
        "enterprises": (Enterprise, render_enterprise),
        "risk_points": (RiskPoint, render_risk_point),
        "hazard_sources": (HazardSource, render_hazard_source),
    }
    model, render = located[layer]
    listed = {k: v for k, v in filters.items() if k != "blacklisted"}
    return list_page(
        session,
        model,
        render=render,
        scope=scope,
        limit=PAGE,
        offset=offset,
        blacklisted_on=today if filters.get("blacklisted") else None,
        **listed,
    )


def _rankings(session: Session, *, parent: str) -> list[dict[str, Any]]:
    """Child regions of `parent` from most to least risky (regional level, then counts)."""
    order = {"red": 4, "orange": 3, "yellow": 2, "blue": 1}
    regions = aggregation.summarise_children(session, parent=parent, method=None, normalise=None)
    regions.sort(
        key=lambda r: (
            -order.get(r["regional_level"] or "", 0),
            *(-r["counts"].get(level, 0) for level in ("red", "orange", "yellow", "blue")),
            r["code"],
        )
    )
    return [{**region, **region["counts"], "rank": rank} for rank, region in enumerate(regions, 1)]
