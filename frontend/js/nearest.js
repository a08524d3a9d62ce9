// Nearest emergency resources from an incident point, on the officials' map: a button
// starts a pick; the next click on the map is the incident; the ten nearest resources the
// user may read (GET /api/emergency/nearest, ranked by geodesic distance) are drawn with a
// line from the incident and listed with distance, direction, capacity and a phone link.

import { getJSON } from './api.js';
import { escapeHtml, phoneLink } from './fragments.js';
import { num, t } from './i18n.js';

const LIMIT = 10;
const DIRECTIONS = ['北', '东北', '东', '东南', '南', '西南', '西', '西北'];

function direction(bearing) {
  return DIRECTIONS[Math.round(((bearing % 360) + 360) % 360 / 45) % 8];
}

function distance(metres) {
  return metres < 1000 ? `${num(Math.round(metres))} 米` : `${(metres / 1000).toFixed(1)} 公里`;
}

function kindName(kind) {
  const key = `res.${kind}`;
  const name = t(key);
  return name === key ? kind : name;
}

/** Add the control to the RiskMap's map; `canUse()` says whether the user may read them. */
export function installNearestResources(riskMap, { canUse, toast }) {
  const { map } = riskMap;
  const drawn = L.layerGroup().addTo(map);
  let picking = false;

  const box = L.DomUtil.create('div', 'nearest-box leaflet-bar');
  L.DomEvent.disableClickPropagation(box);
  L.DomEvent.disableScrollPropagation(box);
  const button = L.DomUtil.create('button', 'nearest-start', box);
  button.type = 'button';
  button.id = 'nearest-start';
  const list = L.DomUtil.create('div', 'nearest-list', box);
  list.id = 'nearest-list';
  list.hidden = true;

  function label() {
    button.textContent = picking ? t('nearest.picking') : t('nearest.start');
    button.classList.toggle('active', picking);
    map.getContainer().classList.toggle('picking', picking);
  }

  function clear() {
    drawn.clearLayers();
    list.hidden = true;
    list.innerHTML = '';
  }

  async function search(latlng) {
    clear();
    L.circleMarker(latlng, { radius: 8, color: '#b3261e', weight: 3, fillColor: '#fff', fillOpacity: 1 })
      .bindTooltip(t('nearest.incident')).addTo(drawn);
    list.hidden = false;
    list.innerHTML = `<p class="hint">${escapeHtml(t('nearest.searching'))}</p>`;
    let body;
    try {
      const query = new URLSearchParams({ lon: latlng.lng.toFixed(6), lat: latlng.lat.toFixed(6), limit: String(LIMIT) });
      body = await getJSON(`/api/emergency/nearest?${query}`);
    } catch (error) {
      list.innerHTML = `<p class="hint">${escapeHtml(t('nearest.failed'))}</p>`;
      return;
    }
    const features = body.features || [];
    features.forEach((feature, i) => {
      const [lng, lat] = feature.geometry.type === 'Point' ? feature.geometry.coordinates : [null, null];
      if (lng === null) return;
      L.polyline([latlng, [lat, lng]], { color: '#1f4e79', weight: 2, dashArray: '4 4', interactive: false }).addTo(drawn);
      L.marker([lat, lng], { icon: L.divIcon({ className: 'nearest-rank', html: String(i + 1), iconSize: [22, 22] }) })
        .bindTooltip(feature.properties.name).addTo(drawn);
    });
    list.innerHTML = `<div class="nearest-head"><strong>${escapeHtml(t('nearest.title'))}</strong>
        <button type="button" class="nearest-close" aria-label="${escapeHtml(t('nearest.close'))}">×</button></div>`
      + (features.length === 0 ? `<p class="hint">${escapeHtml(t('nearest.none'))}</p>`
        : `<ol>${features.map((feature) => {
          const p = feature.properties;
          return `<li><span class="name">${escapeHtml(p.name)}</span>
            <span class="meta">${escapeHtml(kindName(p.resource_kind))} · ${escapeHtml(distance(p.distance_m))}
            ${p.bearing_deg === null || p.bearing_deg === undefined ? '' : escapeHtml(direction(p.bearing_deg))}</span>
            ${p.capacity ? `<span class="meta">${escapeHtml(p.capacity)}</span>` : ''}
            ${p.contact_person || p.contact_phone ? `<span class="meta">${escapeHtml(p.contact_person || '')} ${phoneLink(p.contact_phone)}</span>` : ''}
          </li>`;
        }).join('')}</ol>`);
    list.querySelector('.nearest-close').addEventListener('click', clear);
    map.fitBounds(drawn.getLayers().flatMap((layer) => (layer.getLatLng ? [layer.getLatLng()] : layer.getLatLngs())),
      { padding: [40, 40], maxZoom: 14 });
  }

  button.addEventListener('click', () => {
    if (!canUse()) { toast(t('nearest.signIn')); return; }
    picking = !picking;
    label();
  });
  // While picking, a click is the incident: no popup, no drill into the region under it.
  riskMap.interceptClicks((latlng) => {
    if (!picking) return false;
    picking = false;
    label();
    search(latlng);
    return true;
  });

  const Control = L.Control.extend({ onAdd: () => box });
  new Control({ position: 'topleft' }).addTo(map);
  label();
  return { relabel: label, clear };
}
