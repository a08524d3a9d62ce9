"""Wall-size print: a vector PDF of one region (or the country) at A4, A3, A1 or A0.

Text stays text (the CID font STSong-Light, built into every PDF reader, draws Chinese
with no font file) and every outline, point, bar and arrow is a vector path, so the map
stays sharp on a wall. The sheet carries what a published risk map needs: title, region,
level and method, the four-colour legend with counts, scale bar, north arrow, the 南海诸岛
inset and the maritime boundary at national and provincial scales, data source, 审图号,
编制单位 and the dates.
"""

import io
import math
from datetime import date
from typing import Any

from reportlab.lib.colors import HexColor, white
from reportlab.lib.pagesizes import A0, A1, A3, A4, landscape, portrait
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.datetimes import china_today
from app.errors import InvalidInput
from app.reports import cartography
from app.reports.cartography import LEVEL_COLOURS, LEVEL_NAMES_ZH, NO_LEVEL_COLOUR
from app.reports.export_html import region_points
from app.reports.view import map_view
from app.risk.methods import LEVELS
from app.tiles.catalog import POINT_LAYERS

PAPERS = {"A4": A4, "A3": A3, "A1": A1, "A0": A0}
ORIENTATIONS = ("landscape", "portrait")
FONT = "STSong-Light"
KM_PER_DEGREE = 111.32
GRADE_NAMES_ZH = {"1": "一级", "2": "二级", "3": "三级", "4": "四级"}

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 (lon/lat or page points)


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


class Projection:
    """Equirectangular at the frame's middle latitude, fitted into a page box: at the
    scale of a region the distortion is small, and the scale bar holds at the centre."""

    def __init__(self, bbox: Box, frame: Box) -> None:
        self.k = math.cos(math.radians((bbox[1] + bbox[3]) / 2))
        width, height = (bbox[2] - bbox[0]) * self.k, bbox[3] - bbox[1]
        self.scale = min((frame[2] - frame[0]) / width, (frame[3] - frame[1]) / height)
        self.x0 = (
            frame[0]
            + ((frame[2] - frame[0]) - width * self.scale) / 2
            - bbox[0] * self.k * self.scale
        )
        self.y0 = (
            frame[1] + ((frame[3] - frame[1]) - height * self.scale) / 2 - bbox[1] * self.scale
        )

    def __call__(self, lon: float, lat: float) -> tuple[float, float]:
        return self.x0 + lon * self.k * self.scale, self.y0 + lat * self.scale

    def km_per_point(self) -> float:
        return KM_PER_DEGREE / self.scale


def _polygons(geometry: dict[str, Any]) -> list[list[list[list[float]]]]:
    kind = geometry.get("type")
    if kind == "Polygon":
        return [geometry["coordinates"]]
    if kind == "MultiPolygon":
        return list(geometry["coordinates"])
    if kind == "GeometryCollection":
        return [p for g in geometry["geometries"] for p in _polygons(g)]
    return []


def _draw_polygons(
    c: Canvas, project: Projection, geometry: dict[str, Any], *, fill: bool, stroke: bool
) -> None:
    path = c.beginPath()
    for polygon in _polygons(geometry):
        for ring in polygon:
            for i, (lon, lat) in enumerate(ring):
                x, y = project(lon, lat)
                if i == 0:
                    path.moveTo(x, y)
                else:
                    path.lineTo(x, y)
            path.close()
    c.drawPath(path, fill=int(fill), stroke=int(stroke), fillMode=0)


def _draw_lines(c: Canvas, project: Projection, geometry: dict[str, Any]) -> None:
    path = c.beginPath()
    for line in geometry["coordinates"]:
        for i, (lon, lat) in enumerate(line):
            x, y = project(lon, lat)
            if i == 0:
                path.moveTo(x, y)
            else:
                path.lineTo(x, y)
    c.drawPath(path, fill=0, stroke=1)


def _clip(c: Canvas, box: Box) -> None:
    path = c.beginPath()
    path.rect(box[0], box[1], box[2] - box[0], box[3] - box[1])
    c.clipPath(path, stroke=0, fill=0)


def _nice_km(max_km: float) -> float:
    power = 10.0 ** math.floor(math.log10(max_km))
    return next(float(step * power) for step in (5, 2, 1) if step * power <= max_km)


def _scale_bar(c: Canvas, project: Projection, x: float, y: float, u: float) -> None:
    km = _nice_km(project.km_per_point() * 120 * u)
    length = km / project.km_per_point()
    c.setLineWidth(0.8 * u)
    c.setStrokeColor(HexColor("#1f2d3d"))
    for i in range(4):  # alternating black and white quarters
        c.setFillColor(HexColor("#1f2d3d") if i % 2 == 0 else white)
        c.rect(x + i * length / 4, y, length / 4, 4 * u, fill=1, stroke=1)
    c.setFillColor(HexColor("#1f2d3d"))
    c.setFont(_font(), 8 * u)
    c.drawString(x, y + 7 * u, "0")
    label = f"{km:g} 千米"
    c.drawRightString(x + length, y + 7 * u, label)
    c.drawString(x + length + 6 * u, y, "比例尺")


def _north_arrow(c: Canvas, x: float, y: float, u: float) -> None:
    """A split arrow pointing up, with 北 above it."""
    size = 26 * u
    c.setStrokeColor(HexColor("#1f2d3d"))
    c.setLineWidth(0.8 * u)
    left = c.beginPath()
    left.moveTo(x, y + size)
    left.lineTo(x - size / 3, y)
    left.lineTo(x, y + size / 4)
    left.close()
    c.setFillColor(HexColor("#1f2d3d"))
    c.drawPath(left, fill=1, stroke=1)
    right = c.beginPath()
    right.moveTo(x, y + size)
    right.lineTo(x + size / 3, y)
    right.lineTo(x, y + size / 4)
    right.close()
    c.setFillColor(white)
    c.drawPath(right, fill=1, stroke=1)
    c.setFillColor(HexColor("#1f2d3d"))
    c.setFont(_font(), 11 * u)
    c.drawCentredString(x, y + size + 4 * u, "北")


def _inset(c: Canvas, session: Session, box: Box, u: float) -> None:
    """The 南海诸岛 inset: land, the maritime boundary and its title, framed."""
    c.saveState()
    c.setFillColor(white)
    c.setStrokeColor(HexColor("#1f2d3d"))
    c.setLineWidth(0.8 * u)
    c.rect(box[0], box[1], box[2] - box[0], box[3] - box[1], fill=1, stroke=1)
    _clip(c, box)
    project = Projection(
        cartography.INSET_BBOX, (box[0] + 2 * u, box[1] + 2 * u, box[2] - 2 * u, box[3] - 2 * u)
    )
    c.setFillColor(HexColor("#eef0f2"))
    c.setStrokeColor(HexColor("#8a96a3"))
    c.setLineWidth(0.3 * u)
    for geometry in cartography.inset_land(session):
        _draw_polygons(c, project, geometry, fill=True, stroke=True)
    c.setStrokeColor(HexColor(cartography.MARITIME_COLOUR))
    c.setLineWidth(1.0 * u)
    _draw_lines(c, project, cartography.maritime_boundary())
    c.restoreState()
    c.setFont(_font(), 8 * u)
    c.setFillColor(HexColor("#1f2d3d"))
    c.drawRightString(box[2] - 4 * u, box[1] + 4 * u, cartography.INSET_TITLE)


def _legend(
    c: Canvas,
    region: dict[str, Any],
    children: list[dict[str, Any]],
    x: float,
    top: float,
    u: float,
) -> float:
    """The four colours with counts; returns the legend's bottom."""
    by_level: dict[str, int] = {}
    for child in children:
        key = child["properties"].get("regional_level") or "none"
        by_level[key] = by_level.get(key, 0) + 1
    c.setFillColor(HexColor("#1f2d3d"))
    c.setFont(_font(), 11 * u)
    c.drawString(x, top, "图  例")
    y = top - 16 * u
    c.setFont(_font(), 8 * u)
    c.drawString(x + 60 * u, y, "下级区域")
    c.drawString(x + 100 * u, y, "企业")
    c.drawString(x + 135 * u, y, "风险点")
    c.drawString(x + 172 * u, y, "公共区域")
    rows = [(lvl, LEVEL_COLOURS[lvl], LEVEL_NAMES_ZH[lvl]) for lvl in LEVELS]
    rows.append(("none", NO_LEVEL_COLOUR, "不分级"))
    for key, colour, name in rows:
        y -= 14 * u
        c.setFillColor(HexColor(colour))
        c.setStrokeColor(HexColor("#6b7785"))
        c.setLineWidth(0.4 * u)
        c.rect(x, y - 1 * u, 14 * u, 9 * u, fill=1, stroke=1)
        c.setFillColor(HexColor("#1f2d3d"))
        c.drawString(x + 18 * u, y, name)
        c.drawRightString(x + 90 * u, y, str(by_level.get(key, 0)))
        if key != "none":
            c.drawRightString(x + 120 * u, y, str(region["enterprises"][key]))
            c.drawRightString(x + 160 * u, y, str(region["counts"][key]))
            c.drawRightString(x + 200 * u, y, str(region["public_zones"][key]))
    y -= 16 * u
    sources = "  ".join(
        f"{GRADE_NAMES_ZH[g]} {region['hazard_sources'][g]}" for g in GRADE_NAMES_ZH
    )
    c.drawString(x, y, f"重大危险源：{sources}")
    y -= 12 * u
    c.drawString(x, y, f"未整改重大隐患：{region['open_major_dangers']}")
    y -= 12 * u
    c.setStrokeColor(HexColor(cartography.MARITIME_COLOUR))
    c.setLineWidth(1.0 * u)
    c.line(x, y + 3 * u, x + 14 * u, y + 3 * u)
    c.drawString(x + 18 * u, y, "海上国界线")
    return y


def _why(region: dict[str, Any]) -> str:
    """One line of why the region has its level (composite index only)."""
    explain = region.get("explain")
    if not explain or not explain["contributors"]:
        return ""
    top = "、".join(
        f"{item['label']}{item['count']}{item['unit']}" for item in explain["contributors"][:3]
    )
    return f"主要构成：{top}"


def region_pdf(
    session: Session,
    *,
    code: str | None,
    scope: Scope,
    paper: str = "A3",
    orientation: str = "landscape",
    method: str | None = None,
    normalise: str | None = None,
    points_layer: str | None = "enterprises",
    today: date | None = None,
) -> bytes:
    """The vector PDF of a region (None: the whole country)."""
    if paper not in PAPERS:
        raise InvalidInput(f"unknown paper {paper!r}", field="paper", allowed=list(PAPERS))
    if orientation not in ORIENTATIONS:
        raise InvalidInput(
            f"unknown orientation {orientation!r}", field="orientation", allowed=list(ORIENTATIONS)
        )
    if points_layer is not None and points_layer not in POINT_LAYERS:
        raise InvalidInput(f"unknown points layer {points_layer!r}", field="points")
    view = map_view(
        session,
        code=code,
        detail="coarse" if code is None else "medium",
        method=method,
        normalise=normalise,
    )
    region = view["region"]
    unit_level = region["level"]
    size = (landscape if orientation == "landscape" else portrait)(PAPERS[paper])
    u = min(size) / min(A4)  # everything scales with the sheet
    margin = 28 * u
    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=size, pageCompression=1)
    title = f"{region['name']}安全风险四色分布图"
    c.setTitle(title)
    c.setAuthor(cartography.imprint(today)["compiler"])
    c.setSubject("安全风险四色分布图")
    font = _font()
    width, height = size

    # Title and subtitle
    c.setFillColor(HexColor("#1f2d3d"))
    c.setFont(font, 22 * u)
    c.drawCentredString(width / 2, height - margin - 18 * u, title)
    # ">" as the step: the built-in Chinese font (STSong-Light, Adobe-GB1) has no "›".
    path = " > ".join([*(a["name"] for a in view["ancestors"]), region["name"]])
    level = region.get("regional_level")
    c.setFont(font, 10 * u)
    c.drawCentredString(
        width / 2,
        height - margin - 36 * u,
        f"区域：{path}    区域风险等级：{LEVEL_NAMES_ZH.get(level or '', '不分级')}"
        f"    方法：{region['method']}",
    )

    # The map frame; the legend in a column on its right (landscape) or below it (portrait)
    tall = orientation == "portrait"
    legend_width = 0 if tall else 227 * u
    footer = 58 * u + (175 * u if tall else 0)
    frame: Box = (margin, margin + footer, width - margin - legend_width, height - margin - 48 * u)
    c.setStrokeColor(HexColor("#1f2d3d"))
    c.setLineWidth(1.2 * u)
    c.rect(frame[0], frame[1], frame[2] - frame[0], frame[3] - frame[1], fill=0, stroke=1)
    bbox: Box
    if code is None:
        bbox = cartography.COUNTRY_MAIN_BBOX
    else:
        x0, y0, x1, y1 = view["bbox"] or cartography.COUNTRY_MAIN_BBOX
        pad = max(x1 - x0, y1 - y0) * 0.04
        bbox = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    inner: Box = (frame[0] + 4 * u, frame[1] + 4 * u, frame[2] - 4 * u, frame[3] - 4 * u)
    project = Projection(bbox, inner)
    c.saveState()
    _clip(c, frame)
    c.setStrokeColor(white)
    c.setLineWidth(0.5 * u)
    for feature in view["children"]["features"]:
        colour = LEVEL_COLOURS.get(
            feature["properties"].get("regional_level") or "", NO_LEVEL_COLOUR
        )
        c.setFillColor(HexColor(colour), alpha=0.8)
        _draw_polygons(c, project, feature["geometry"], fill=True, stroke=True)
    if view["outline"]:
        c.setStrokeColor(HexColor("#1f2d3d"))
        c.setLineWidth(1.6 * u)
        _draw_polygons(c, project, view["outline"]["geometry"], fill=False, stroke=True)
    if points_layer and code is not None:
        c.setStrokeColor(white)
        c.setLineWidth(0.4 * u)
        radius = 1.8 * u
        for point in region_points(
            session, code=code, unit_level=unit_level, layer=points_layer, scope=scope
        ):
            x, y = project(float(point.lon), float(point.lat))
            c.setFillColor(HexColor(LEVEL_COLOURS.get(point.risk_level or "", "#888888")))
            c.circle(x, y, radius, fill=1, stroke=1)
    # Region names at their label points
    c.setFillColor(HexColor("#1f2d3d"))
    c.setFont(font, 7 * u)
    # Names where they fit: a county's dozens of grid cells would bury the map in labels.
    labelled = view["children"]["features"] if unit_level != "county" else []
    for feature in labelled:
        lon, lat = feature["properties"]["label"]
        x, y = project(lon, lat)
        c.drawCentredString(x, y, feature["properties"]["name"])
    scs = cartography.needs_south_china_sea(unit_level)
    if scs:
        c.setStrokeColor(HexColor(cartography.MARITIME_COLOUR))
        c.setLineWidth(1.2 * u)
        _draw_lines(c, project, cartography.maritime_boundary())
    c.restoreState()
    if scs:  # the 南海诸岛 inset in the frame's lower right corner
        inset_h = min(frame[3] - frame[1], (frame[2] - frame[0]) * 1.3) * 0.3
        inset_w = inset_h * 0.72
        _inset(
            c,
            session,
            (
                frame[2] - inset_w - 6 * u,
                frame[1] + 6 * u,
                frame[2] - 6 * u,
                frame[1] + 6 * u + inset_h,
            ),
            u,
        )
    _north_arrow(c, frame[0] + 24 * u, frame[3] - 44 * u, u)
    _scale_bar(c, project, frame[0] + 10 * u, frame[1] + 10 * u, u)

    # Legend and explanation
    lx, top = (margin, frame[1] - 16 * u) if tall else (frame[2] + 12 * u, frame[3] - 12 * u)
    bottom = _legend(c, region, view["children"]["features"], lx, top, u)
    c.setFont(font, 8 * u)
    lx, y = (margin + 250 * u, top) if tall else (lx, bottom - 22 * u)
    for line in _explanation_lines(region):
        c.drawString(lx, y, line)
        y -= 11 * u

    # Imprint
    info = cartography.imprint(today)
    day = (today or china_today()).isoformat()
    c.setFont(font, 8 * u)
    c.setFillColor(HexColor("#1f2d3d"))
    c.drawString(margin, margin + 36 * u, f"{info['review_number']}")
    c.drawString(
        margin,
        margin + 24 * u,
        f"编制单位：{info['compiler']}    数据截至：{info['data_as_of']}    制图日期：{day}",
    )
    c.drawString(margin, margin + 12 * u, f"数据来源：{info['data_source']}")
    c.drawString(
        margin,
        margin,
        f"区域风险等级方法：{region['method']}（方法的权重与分级断点见系统中“为什么是这个等级”）",
    )
    c.showPage()
    c.save()
    return buffer.getvalue()


# Characters per line of the explanation beside the legend (Chinese text has no spaces to
# break at; this many fit the column at every paper size).
EXPLANATION_CHARS = 24


def _explanation_lines(region: dict[str, Any]) -> list[str]:
    lines = ["等级说明："]
    level = region.get("regional_level")
    method = str(region["method"])
    if method.startswith("composite"):
        explain = region.get("explain") or {}
        breaks = explain.get("breaks") or {}
        lines.append("综合风险指数 = 重大危险源、重大隐患、")
        lines.append("企业、风险点、公共区域按等级加权求和，")
        lines.append(f"再按{explain.get('normalise_unit', '')}归一；")
        if breaks:
            lines.append(f"按全国{breaks['units']}个同级单元的分位数分为四级。")
        if region.get("index") is not None:
            lines.append(f"本区域指数 {region['index']}")
        why = _why(region)
        lines.extend(
            why[start : start + EXPLANATION_CHARS]
            for start in range(0, len(why), EXPLANATION_CHARS)
        )
    elif method.startswith("highest"):
        lines.append("就高原则：取区域内最高风险等级。")
    else:
        lines.append("风险指数法：加权计数按面积或企业数归一。")
    if level is None:
        lines.append("本单元不分级（无登记数据，或同级有数据的单元太少）。")
    return lines
