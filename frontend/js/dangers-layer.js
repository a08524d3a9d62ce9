// The map layer of major hidden dangers by status (重大事故隐患分布电子图): open dangers on
// the major treatment path from /api/hidden-dangers/map, coloured by where they are in the
// closed loop, overdue ones ringed in red. A small control of its own switches it on.
/* global L */

import { debounce, getJSON } from './api.js';
import { canRead, onAuthChange } from './auth.js';
import { num, t } from './i18n.js';
import { escapeHtml } from './fragments.js';

// Status → group of the legend (and its colour).
const GROUPS = {
  reported: 'waiting', registered: 'waiting', assessed: 'waiting',
  planned: 'treating', reported_to_regulator: 'treating', rectifying: 'treating',
  supervised: 'supervised',
  rectified: 'checking', accepted: 'checking', verified: 'checking',
};
// Colours of their own, none of the four risk colours (red/orange/yellow/blue) the map
// beneath is drawn in; red is kept for the overdue ring.
const COLOURS = { waiting: '#7f8c8d', treating: '#138d90', supervised: '#8e44ad', checking: '#2e9e44' };

const groupOf = (p) => (p.supervision_level && GROUPS[p.status] === 'treating' ? 'supervised' : GROUPS[p.status] || 'waiting');

export function installDangerLayer({ openDanger }) {
  const riskMap = window.RiskAtlas && window.RiskAtlas.riskMap;
  if (!riskMap) return;
  const map = riskMap.map;
  map.createPane('dangers').style.zIndex = '640';
  const layer = L.layerGroup([], { pane: 'dangers' });
  let on = false;
  let controller = null;
  let popupOpen = false;   // a popup opening pans the map: no redraw under it

  const Control = L.Control.extend({
    options: { position: 'topright' },
    onAdd() {
      const div = L.DomUtil.create('div', 'leaflet-control ra-control dz-layer-control');
      div.id = 'dangers-layer-control';
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      this.div = div;
      return div;
    },
  });
  const control = new Control().addTo(map);

  function renderControl(total = null, truncated = false) {
    const allowed = canRead('hidden_dangers');
    control.div.hidden = !allowed;
    if (!allowed) return;
    const legend = on ? `<div class="dz-legend">${Object.keys(COLOURS).map((g) => `<span><i class="dz-dot ${g}"></i>${escapeHtml(t(`dz.layer.${g}`))}</span>`).join('')}
      <span><i class="dz-dot ring"></i>${escapeHtml(t('dz.layer.overdue'))}</span>
      ${total !== null ? `<span class="dz-count" id="dangers-layer-count">${escapeHtml(t('dz.layer.count').replace('{n}', num(total)))}${truncated ? ` · ${escapeHtml(t('dz.layer.truncated').replace('{n}', num(total)))}` : ''}</span>` : ''}</div>` : '';
    control.div.innerHTML = `<label><input type="checkbox" id="dangers-layer-toggle" ${on ? 'checked' : ''}> <i class="dz-dot supervised"></i> ${escapeHtml(t('dz.layer'))}</label>${legend}`;
    control.div.querySelector('input').addEventListener('change', (e) => {
      on = e.target.checked;
      if (on) { layer.addTo(map); load(); } else { map.removeLayer(layer); layer.clearLayers(); renderControl(); }
    });
  }

  async function load() {
    if (!on || !canRead('hidden_dangers') || popupOpen) return;
    if (controller) controller.abort();
    controller = new AbortController();
    const b = map.getBounds();
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    const bbox = [clamp(b.getWest(), -180, 179.9), clamp(b.getSouth(), -90, 89.9),
      clamp(b.getEast(), -179.9, 180), clamp(b.getNorth(), -89.9, 90)].map((v) => v.toFixed(5)).join(',');
    let data;
    try {
      data = await getJSON(`/api/hidden-dangers/map?bbox=${bbox}`, { signal: controller.signal });
    } catch (error) {
      return;
    }
    layer.clearLayers();
    for (const feature of data.features) {
      const p = feature.properties;
      const [lon, lat] = feature.geometry.coordinates;
      const group = groupOf(p);
      if (p.overdue) {
        L.circleMarker([lat, lon], { pane: 'dangers', radius: 11, color: '#e8222d', weight: 3, fill: false,
          interactive: false, className: 'dz-ring' }).addTo(layer);
      }
      const marker = L.circleMarker([lat, lon], { pane: 'dangers', radius: 7, color: '#fff', weight: 1.5,
        fillColor: COLOURS[group], fillOpacity: 0.95, className: `dz-marker ${group}${p.overdue ? ' overdue' : ''}` });
      marker.bindPopup(() => `<div class="popup"><h3>${escapeHtml(p.title)}</h3>
        <dl><dt>${escapeHtml(t('dz.col.status'))}</dt><dd>${escapeHtml(t(`status.${p.status}`, p.status_zh))}${p.overdue ? ` <b class="dz-flag overdue">${escapeHtml(t('dz.overdue'))}</b>` : ''}</dd>
        <dt>${escapeHtml(t('dz.col.grade'))}</dt><dd>${escapeHtml(t(`danger.${p.grade}`, p.grade))}</dd>
        ${p.supervision_level ? `<dt>${escapeHtml(t('dz.col.supervision'))}</dt><dd>${escapeHtml(t(`dz.level.${p.supervision_level}`))}</dd>` : ''}
        ${p.deadline ? `<dt>${escapeHtml(t('dz.col.deadline'))}</dt><dd>${escapeHtml(p.deadline)}</dd>` : ''}</dl>
        <a class="more" href="#" data-danger-open="${Number(p.id)}">${escapeHtml(t('dz.layer.popupOpen'))} →</a></div>`);
      marker.on('popupopen', () => { popupOpen = true; });
      marker.on('popupclose', () => { popupOpen = false; });
      marker.addTo(layer);
    }
    renderControl(data.features.length, data.truncated);
  }

  // A popup stops clicks from bubbling: listen while they go down.
  map.getContainer().addEventListener('click', (e) => {
    const link = e.target.closest('a[data-danger-open]');
    if (!link) return;
    e.preventDefault();
    map.closePopup();
    openDanger(Number(link.dataset.dangerOpen));
  }, true);
  map.on('moveend', debounce(load, 250));
  document.addEventListener('ra:dangers-changed', load);
  onAuthChange((kind) => {
    if (kind === 'refresh') return;
    layer.clearLayers();
    if (!canRead('hidden_dangers') && on) { on = false; map.removeLayer(layer); }
    renderControl();
    load();
  });
  renderControl();
}
