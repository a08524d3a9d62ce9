// The public tip-off page /report (举报): a place on the map, what was seen, an optional
// contact; sent without signing in. A retry after a lost answer reuses its Idempotency-Key.

import { vectorTileLayer } from '/static/js/map.js';

let point = null;
let marker = null;
let pendingKey = null;
const $ = (id) => document.getElementById(id);
const font = document.createElement('link');
font.rel = 'stylesheet';
font.href = '/static/lib/fonts/noto-sans-sc/noto-sans-sc-400.css';
document.head.appendChild(font);
const map = L.map('map').setView([38.47, 106.27], 11);
L.tileLayer('https://tile.openstreetmap.org/{z}/{x}/{y}.png', { maxZoom: 19, attribution: '© OpenStreetMap' }).addTo(map);
// The region outlines from this server's own tiles: a place can be found even where the
// street basemap (fetched from outside) does not load.
vectorTileLayer('boundaries').addTo(map);

function setPoint(lon, lat) {
  point = { lon, lat };
  if (marker) marker.setLatLng([lat, lon]);
  else marker = L.marker([lat, lon]).addTo(map);
  $('where').textContent = `地点：${lat.toFixed(5)}, ${lon.toFixed(5)}`;
}

map.on('click', (event) => setPoint(event.latlng.lng, event.latlng.lat));
$('btn-locate').addEventListener('click', () => navigator.geolocation && navigator.geolocation.getCurrentPosition(
  (p) => { setPoint(p.coords.longitude, p.coords.latitude); map.setView([p.coords.latitude, p.coords.longitude], 15); },
  () => { $('where').textContent = '无法定位：请在地图上点选地点'; }));

$('form-tipoff').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  const result = $('result');
  result.hidden = false;
  if (!point) { result.textContent = '请先在地图上点选地点'; return; }
  pendingKey = pendingKey || (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()));
  const body = {
    kind: form.kind.value, description: form.description.value.trim(), lon: point.lon, lat: point.lat,
    name: form.name.value.trim() || null, address: form.address.value.trim() || null,
    contact: form.contact.value.trim() || null,
  };
  try {
    const response = await fetch('/api/tipoffs', { method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': pendingKey }, body: JSON.stringify(body) });
    const answer = await response.json();
    if (response.ok) {
      result.textContent = `已收到，编号 ${answer.id}。感谢您的举报。`;
      pendingKey = null;
      form.reset();
    } else if (response.status === 429) {
      result.textContent = '提交过于频繁，请一小时后再试。';
    } else {
      result.textContent = `未能提交：${answer.field === 'geometry' ? '地点不在中国境内' : (answer.detail || response.status)}`;
      pendingKey = null;
    }
  } catch (error) {
    result.textContent = '网络不可用，请稍后再点“提交举报”（不会重复提交）。';
  }
});
