"""Saved planning checks: the decision record (who, when, which rules) and its vector PDF.

A report is saved by a planner, official or admin, in the county its site lies in, and
is read by those roles within their region. Reports are append-only (a database trigger
refuses UPDATE and DELETE): a changed decision is a new report.
"""

import io
import math
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

import shapely
from reportlab.graphics.shapes import Circle, Drawing, Line, Polygon, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.crud import atomic_write
from app.datetimes import CHINA_STANDARD_TIME
from app.errors import NotFound
from app.geo.geodesic import M_MIN, WGS84_A
from app.planning import service
from app.planning.models import PlanningReport
from app.planning.rules import rule_set
from app.planning.schemas import ReportIn

READERS = ("admin", "official", "planner")
FONT = "STSong-Light"
VERDICT_ZH = {"pass": "通过", "fail": "不通过"}
CLASS_ZH = {
    "highly_sensitive": "高敏感",
    "important": "重要",
    "general_1": "一般一类",
    "general_2": "一般二类",
    "general_3": "一般三类",
    "low_density": "低密度",
}


def save_report(session: Session, *, body: ReportIn, scope: Scope) -> PlanningReport:
    """Run the check again and store it with the caller as its author."""
    result = service.check(
        session,
        scope=scope,
        kind=body.kind,
        attributes=body.attributes,
        geometry=body.geometry,
        crs=body.crs,
        rule_set_version=body.rule_set_version,
    )
    site = shapely.geometry.shape(result["geometry"])
    county = result["county_code"]
    with atomic_write(session):
        report = PlanningReport(
            county_code=county,
            title=body.title,
            kind=body.kind,
            attributes=result["attributes"],
            geom=f"SRID=4326;{site.wkt}",
            verdict=result["verdict"],
            rule_set_version=result["rule_set_version"],
            result=result,
            note=body.note,
            saved_by_id=scope.user_id,
            saved_by=scope.display_name or scope.username or scope.role,
        )
        session.add(report)
        session.flush()
    session.refresh(report)
    return report


def report_or_raise(session: Session, *, id: int, scope: Scope) -> PlanningReport:
    """A saved report the caller may read, else 404 (no hint that it exists)."""
    scope.require_role(*READERS)
    report = session.scalars(
        select(PlanningReport)
        .where(PlanningReport.id == id)
        .where(PlanningReport.county_code.like(scope.read_prefix + "%"))
    ).first()
    if report is None:
        raise NotFound(f"planning report {id} not found", field="id")
    return report


def render_report(report: PlanningReport) -> dict[str, Any]:
    """A saved report for the API, with its permalink and PDF link."""
    return {
        "id": report.id,
        "title": report.title,
        "kind": report.kind,
        "verdict": report.verdict,
        "rule_set_version": report.rule_set_version,
        "county_code": report.county_code,
        "saved_by": report.saved_by,
        "saved_at": report.saved_at.isoformat(),
        "note": report.note,
        "permalink": f"/plan#report={report.id}",
        "pdf": f"/api/planning/reports/{report.id}.pdf",
        # Reports saved before checks named their county hold it only in their row.
        "result": {"county_code": report.county_code, **report.result},
    }


def list_reports(
    session: Session, *, scope: Scope, region: str | None, limit: int, offset: int
) -> dict[str, Any]:
    """Saved reports of a region (within the caller's), newest first."""
    scope.require_role(*READERS)
    prefix = scope.filters("planning_reports", region=region, has_level=False).code_prefix
    statement = select(PlanningReport).where(PlanningReport.county_code.like(prefix + "%"))
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.scalars(
        statement.order_by(PlanningReport.saved_at.desc(), PlanningReport.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return {
        "items": [
            {
                "id": r.id,
                "title": r.title,
                "kind": r.kind,
                "verdict": r.verdict,
                "rule_set_version": r.rule_set_version,
                "county_code": r.county_code,
                "saved_by": r.saved_by,
                "saved_at": r.saved_at.isoformat(),
                "conflicts": len(r.result.get("conflicts", [])),
            }
            for r in rows
        ],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


# The PDF


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


class _LocalMetres:
    """An equirectangular projection around the site, in metres (for drawing only)."""

    def __init__(self, lon: float, lat: float) -> None:
        self.lon, self.lat = lon, lat
        self.kx = math.radians(1) * WGS84_A * math.cos(math.radians(lat))
        self.ky = math.radians(1) * M_MIN

    def __call__(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.lon) * self.kx, (lat - self.lat) * self.ky

    def shape(self, geometry: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geometry, lambda xy: [self(x, y) for x, y in xy], include_z=False)


def _outline_points(geometry: BaseGeometry) -> list[list[tuple[float, float]]]:
    """Rings and lines of a geometry, as point lists."""
    parts = getattr(geometry, "geoms", [geometry])
    found: list[list[tuple[float, float]]] = []
    for part in parts:
        if part.geom_type == "Polygon":
            found.append(list(part.exterior.coords))
        elif part.geom_type == "LineString":
            found.append(list(part.coords))
        elif part.geom_type == "Point":
            found.append([part.coords[0]])
    return found


def _map(result: dict[str, Any], width: float, height: float) -> Drawing:
    """The site, its setback rings and the conflicting objects, as vector graphics."""
    site = shapely.geometry.shape(result["geometry"])
    centre = site.representative_point()
    project = _LocalMetres(centre.x, centre.y)
    local_site = project.shape(site)
    others = []
    for i, item in enumerate(result["conflicts"] + result["zoning"], start=1):
        geometry = item.get("other_geometry")
        if geometry:
            others.append((i, project.shape(shapely.geometry.shape(geometry))))
    rings = sorted({float(r["radius_m"]) for r in result["rings"]})
    reach = max([*rings, 50.0] + [g.distance(shapely.Point(0, 0)) + 30 for _, g in others])
    scale = min(width, height) / 2 / (reach * 1.1)
    cx, cy = width / 2, height / 2

    def xy(point: tuple[float, float]) -> tuple[float, float]:
        return cx + point[0] * scale, cy + point[1] * scale

    drawing = Drawing(width, height)
    drawing.add(Rect(0, 0, width, height, strokeColor=colors.grey, fillColor=None))
    font = _font()
    for radius in rings:
        ring = local_site.buffer(radius, quad_segs=32)
        points = [c for p in ring.exterior.coords for c in xy(p)]
        drawing.add(
            Polygon(points, strokeColor=colors.orange, strokeDashArray=[3, 2], fillColor=None)
        )
        top = xy((0, ring.bounds[3]))
        drawing.add(String(top[0] + 2, top[1] - 8, f"{radius:g} m", fontName=font, fontSize=6))
    for number, shape in others:
        for part in _outline_points(shape):
            points = [c for p in part for c in xy(p)]
            if len(part) == 1:
                drawing.add(Circle(*xy(part[0]), 3, fillColor=colors.red, strokeColor=None))
            else:
                drawing.add(PolyLine(points, strokeColor=colors.red, strokeWidth=1))
        label = xy(shape.representative_point().coords[0])
        drawing.add(String(label[0] + 4, label[1] + 2, str(number), fontName=font, fontSize=7))
    for part in _outline_points(local_site):
        if len(part) == 1:
            drawing.add(Circle(*xy(part[0]), 4, fillColor=colors.blue, strokeColor=None))
        else:
            drawing.add(
                Polygon(
                    [c for p in part for c in xy(p)],
                    fillColor=colors.Color(0.2, 0.4, 0.9, 0.3),
                    strokeColor=colors.blue,
                )
            )
    bar = 10 ** math.floor(math.log10(reach))
    drawing.add(Line(10, 10, 10 + bar * scale, 10, strokeWidth=2))
    drawing.add(String(10, 14, f"{bar:g} m", fontName=font, fontSize=7))
    drawing.add(String(width - 12, height - 14, "N↑", fontName=font, fontSize=9))
    return drawing


def _text(value: object) -> str:
    """Text for a reportlab Paragraph, which reads its input as markup: titles and names
    are the users' and must show as typed."""
    return escape(str(value))


def render_pdf(session: Session, report: PlanningReport) -> bytes:
    """The report as a vector PDF: map, conflicts with their clauses, who, when, rules."""
    kinds = rule_set(session, report.rule_set_version).kinds
    kind_label = kinds.get(report.kind, {}).get("label_zh", report.kind)
    font = _font()
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=12)
    small = ParagraphStyle("small", fontName=font, fontSize=7.5, leading=9.5)
    title = ParagraphStyle("title", fontName=font, fontSize=15, leading=20)
    result = report.result
    saved: datetime = report.saved_at.astimezone(CHINA_STANDARD_TIME)
    story: list[Any] = [
        Paragraph("规划选址安全核查报告 Planning setback check", title),
        Paragraph(_text(report.title), body),
        Spacer(1, 4 * mm),
    ]
    meta = [
        [
            "报告编号",
            str(report.id),
            "结论 Verdict",
            f"{VERDICT_ZH[report.verdict]} ({report.verdict})",
        ],
        ["项目类型", f"{kind_label} ({report.kind})", "规则版本 Rule set", report.rule_set_version],
        ["保存人 Saved by", report.saved_by, "保存时间", saved.strftime("%Y-%m-%d %H:%M (UTC+8)")],
        ["所在区县", report.county_code, "周边500 m人数", str(result["people_within"]["people"])],
    ]
    story.append(_table(meta, [28 * mm, 52 * mm, 30 * mm, 60 * mm], small))
    story.append(Spacer(1, 4 * mm))
    story.append(_map(result, 170 * mm, 100 * mm))
    story.append(Spacer(1, 4 * mm))
    story.append(Paragraph(f"冲突 Conflicts ({len(result['conflicts'])})", body))
    rows = [["#", "对象 Object", "类别", "距离 m", "要求 m", "差距 m", "依据 Rule / clause"]]
    for i, c in enumerate(result["conflicts"], start=1):
        rows.append(
            [
                str(i),
                Paragraph(_text(f"{c['other_name']} ({c['other_kind']} {c['other_id']})"), small),
                CLASS_ZH.get(c["target_class"], c["target_class"]),
                f"{c['distance_m']:.1f}",
                f"{c['required_m']:.1f}",
                f"{c['shortfall_m']:.1f}",
                Paragraph(_text(f"{c['rule']}: {c['source_clause']} [{c['confirmed']}]"), small),
            ]
        )
    widths = [8 * mm, 42 * mm, 16 * mm, 15 * mm, 15 * mm, 15 * mm, 59 * mm]
    story.append(_table(rows, widths, small, header=True))
    offset = len(result["conflicts"])
    if result["zoning"]:
        story.append(Spacer(1, 3 * mm))
        story.append(Paragraph("选址分区 Zoning", body))
        zoning = [["#", "规则 Rule", "结果", "说明 / 依据"]]
        for i, z in enumerate(result["zoning"], start=offset + 1):
            detail = z.get("detail") or f"{z.get('other_name')} {z.get('distance_m')} m"
            zoning.append(
                [
                    str(i),
                    Paragraph(_text(z["rule"]), small),
                    "符合" if z["ok"] else "不符合",
                    Paragraph(_text(f"{detail}; {z['source_clause']}"), small),
                ]
            )
        story.append(_table(zoning, [8 * mm, 45 * mm, 15 * mm, 102 * mm], small, header=True))
    for note in result.get("notes", []):
        story.append(Paragraph(_text(note), small))
    story.append(Spacer(1, 3 * mm))
    story.append(
        Paragraph(
            "距离为两几何最近点之间的WGS 84椭球面测地线距离。标注 [no] 的规范值未经核实，"
            "以规范原文为准。Distances are geodesic between nearest points; rows marked [no] "
            "are unconfirmed values.",
            small,
        )
    )
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"Planning report {report.id}",
        author=report.saved_by,
    )
    document.build(story)
    return buffer.getvalue()


def _table(
    rows: list[list[Any]], widths: list[float], style: ParagraphStyle, *, header: bool = False
) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    commands: list[Any] = [
        ("FONT", (0, 0), (-1, -1), style.fontName, style.fontSize),
        ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)))
    table.setStyle(TableStyle(commands))
    return table
