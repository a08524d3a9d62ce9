// The wardens' phone page /m: where am I, what red and orange risks are near, which of my
// enterprises are overdue for inspection; a card per risk (call the responsible person,
// controls, latest inspection); record a patrol, report a hidden danger with photos, send
// a lead; nearest emergency resources. Writes go through the outbox (outbox.js) so they
// survive a dead connection; the last answers are kept for offline use.

import { escapeHtml } from '/static/js/fragments.js';
import * as outbox from '/static/m/outbox.js';

const AUTH_KEY = 'ra.m.auth';
const NEARBY_KEY = 'ra.m.nearby';
const OVERDUE_KEY = 'ra.m.overdue';
const RADIUS_M = 5000;
const GRID_MIN_ZOOM = 11;  // below it a view holds too many cells to draw on a phone
const RED_ONLY_KEY = 'ra.m.redOnly';
const GRID_KEY = 'ra.m.grid';      // the last grid answer, drawn when the network is gone
const LEVEL_ZH = { red: '重大风险', orange: '较大风险', yellow: '一般风险', blue: '低风险' };
const KIND_ZH = {
  risk_points: '风险点', enterprises: '企业', hazard_sources: '重大危险源', public_zones: '人员密集场所',
  hidden_dangers: '隐患', emergency_resources: '应急资源',
};
const RESOURCE_ZH = {
  rescue_team: '救援队伍', fire_station: '消防站', expert: '专家', equipment: '装备',
  materials_depot: '物资储备库', shelter: '避难场所', hospital: '医院',
};
const INSPECTION_KIND = { warden: 'grid_check', official: 'spot_check', admin: 'spot_check', enterprise: 'self_check' };
const COMPASS = ['北', '东北', '东', '东南', '南', '西南', '西', '西北'];
const $ = (id) => document.getElementById(id);

// Signing in: tokens in localStorage, so a warden stays signed in between patrols.

let auth = (() => {
  try { return JSON.parse(localStorage.getItem(AUTH_KEY) || 'null'); } catch (error) { return null; }
})();
let me = null;

function saveAuth(value) {
  auth = value;
  if (value) localStorage.setItem(AUTH_KEY, JSON.stringify(value));
  else localStorage.removeItem(AUTH_KEY);
}

async function refreshToken() {
  if (!auth || !auth.refresh_token) return false;
  const response = await fetch('/api/auth/refresh', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ refresh_token: auth.refresh_token }) });
  if (!response.ok) {
    if (response.status === 401) saveAuth(null);
    return false;
  }
  saveAuth({ ...auth, ...(await response.json()) });
  return true;
}

/** fetch with the warden's token; a 401 renews the token once and asks again. */
async function apiFetch(url, init = {}) {
  const withToken = () => fetch(url, { ...init, headers: { ...(init.headers || {}),
    ...(auth ? { Authorization: `Bearer ${auth.access_token}` } : {}) } });
  let response = await withToken();
  if (response.status === 401 && auth && await refreshToken()) response = await withToken();
  return response;
}

async function getJSON(url) {
  const response = await apiFetch(url, { headers: { Accept: 'application/json' } });
  if (!response.ok) {
    const error = new Error(`HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

// Formatting

export function distanceText(metres) {
  if (metres === null || metres === undefined) return '';
  return metres < 1000 ? `${Math.round(metres)} 米` : `${(metres / 1000).toFixed(1)} 公里`;
}

export function directionText(bearing) {
  if (bearing === null || bearing === undefined) return '所在处';
  return COMPASS[Math.round(((bearing % 360) + 360) % 360 / 45) % 8];
}

function levelDot(level) {
  return `<span class="dot ${LEVEL_ZH[level] ? level : ''}" aria-hidden="true"></span>`;
}

function telLink(name, phone) {
  if (!phone) return escapeHtml(name || '');
  const digits = String(phone).replace(/[^0-9+]/g, '');
  return `${escapeHtml(name || '')} <a class="tel" href="tel:${escapeHtml(digits)}">☎ ${escapeHtml(phone)}</a>`;
}

function facts(rows) {
  return `<dl>${rows.filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([label, html]) => `<dt>${escapeHtml(label)}</dt><dd>${html}</dd>`).join('')}</dl>`;
}

// State

let point = null;          // {lon, lat, source: 'gps' | 'tap'}
let nearby = [];           // features of the last nearby answer
let overdue = [];          // overdue enterprises in my cells
let map = null;
let youMarker = null;
let featureLayer = null;
let gridLayer = null;
// The warden's choice to list only red (重大) risks, kept on the phone.
let redOnly = localStorage.getItem(RED_ONLY_KEY) === '1';
let gridRequest = 0;       // the newest grid request; older answers are dropped

function initMap() {
  if (!window.L) return;
  map = L.map('map', { zoomControl: false, attributionControl: true }).setView([38.47, 106.27], 12);
  L.tileLayer('https://tile.openstreetmap.org/{z}/{x}/{y}.png', {
    maxZoom: 19, attribution: '© OpenStreetMap' }).addTo(map);
  gridLayer = L.geoJSON(null, { interactive: false, style: gridStyle }).addTo(map);
  featureLayer = L.layerGroup().addTo(map);
  map.on('click', (event) => setPoint(event.latlng.lng, event.latlng.lat, 'tap'));
  map.on('moveend', loadGrid);
}

/** My own cells filled, the others outlined. */
function gridStyle(feature) {
  const mine = Boolean(me && me.scope && me.scope.grid_cells.includes(feature.properties.code));
  return { color: '#1b5ea8', weight: mine ? 2 : 1, opacity: 0.8, fillColor: '#1b5ea8',
    fillOpacity: mine ? 0.1 : 0 };
}

/** The grid cells in view, drawn by the page itself: the warden finds their cells even
 *  where the street basemap (fetched from outside) does not load. */
async function loadGrid() {
  if (!map || !auth) return;
  const request = ++gridRequest;
  if (map.getZoom() < GRID_MIN_ZOOM) { gridLayer.clearLayers(); return; }
  const b = map.getBounds();
  const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(',');
  try {
    const body = await getJSON(`/api/features/grid?bbox=${bbox}&limit=1000`);
    if (request !== gridRequest) return;
    gridLayer.clearLayers();
    gridLayer.addData(body);
    try { localStorage.setItem(GRID_KEY, JSON.stringify(body)); } catch (full) { /* not kept */ }
  } catch (error) {
    // Offline: the cells drawn stay; a page opened offline draws the last ones kept.
    if (gridLayer.getLayers().length > 0) return;
    try { gridLayer.addData(JSON.parse(localStorage.getItem(GRID_KEY) || 'null') || []); } catch (e) { /* none */ }
  }
}

function setNet() {
  const online = navigator.onLine;
  $('net').textContent = online ? '在线' : '离线';
  $('net').classList.toggle('offline', !online);
}

function renderOutbox() {
  const items = outbox.entries();
  $('outbox-count').textContent = String(items.length);
  $('btn-outbox').hidden = items.length === 0;
  $('outbox').innerHTML = items.length === 0
    ? '<li class="empty">没有待发送的记录</li>'
    : items.map((item) => `<li><div class="item"><div class="main">
        <span class="name">${escapeHtml(item.label)}</span>
        <span class="meta">${escapeHtml(new Date(item.created).toLocaleString('zh-CN'))}
        ${item.state === 'failed' ? `<span class="tag failed" title="${escapeHtml(item.detail || '')}">未被接受：${escapeHtml(item.error)}</span>`
          : '<span class="tag">等待发送</span>'}</span></div>
        ${item.state === 'failed' ? `<button class="btn" type="button" data-drop="${escapeHtml(item.id)}">删除</button>` : ''}
      </div></li>`).join('');
}

async function flushOutbox() {
  if (!auth) { renderOutbox(); return; }
  const result = await outbox.flush(apiFetch);
  renderOutbox();
  if (result.failed > 0) tell(`有 ${result.failed} 条记录未被接受，见“待发送”`, { bad: true });
  else if (result.sent > 0) tell(`已发送 ${result.sent} 条记录`);
  if (result.sent > 0 && point) loadNearby();
}

function setPoint(lon, lat, source) {
  point = { lon, lat, source };
  $('where-text').textContent = source === 'gps' ? '您在这里' : '已选位置';
  $('where-sub').textContent = `${lat.toFixed(5)}, ${lon.toFixed(5)}${source === 'gps' ? '（手机定位）' : '（地图点选）'}`;
  if (map) {
    const icon = L.divIcon({ className: '', html: '<div class="you" title="您在这里"></div>', iconSize: [18, 18] });
    if (youMarker) youMarker.setLatLng([lat, lon]);
    else youMarker = L.marker([lat, lon], { icon, keyboard: false }).addTo(map);
    map.setView([lat, lon], Math.max(map.getZoom(), 14));
  }
  loadNearby();
  loadResources();
}

function locate() {
  if (!navigator.geolocation) {
    $('where-sub').textContent = '此设备不能定位：请在地图上点选位置';
    return;
  }
  $('where-sub').textContent = '正在定位…';
  navigator.geolocation.getCurrentPosition(
    (position) => setPoint(position.coords.longitude, position.coords.latitude, 'gps'),
    () => { $('where-sub').textContent = '无法取得位置：请允许定位，或在地图上点选位置'; },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
}

// Nearby and overdue

function overdueIds() {
  return new Set(overdue.map((item) => item.enterprise_id));
}

function enterpriseOf(properties) {
  return properties.kind === 'enterprises' ? properties.id : properties.enterprise_id;
}

function renderNearby() {
  const late = overdueIds();
  const shown = redOnly ? nearby.filter((feature) => feature.properties.risk_level === 'red') : nearby;
  const sorted = [...shown].sort((a, b) =>
    Number(late.has(enterpriseOf(b.properties))) - Number(late.has(enterpriseOf(a.properties))));
  $('btn-red-only').setAttribute('aria-pressed', String(redOnly));
  $('nearby').innerHTML = sorted.length === 0
    ? `<li class="empty">5 公里内没有${redOnly ? '重大（红色）' : '重大、较大'}风险</li>`
    : sorted.map((feature) => {
      const p = feature.properties;
      const isLate = late.has(enterpriseOf(p));
      return `<li><button class="item${isLate ? ' overdue' : ''}" type="button" data-feature="${escapeHtml(feature.id)}">
        ${levelDot(p.risk_level)}
        <span class="main"><span class="name">${escapeHtml(p.name)}</span>
          <span class="meta">${escapeHtml(KIND_ZH[p.kind] || p.kind)}${p.enterprise_name ? ` · ${escapeHtml(p.enterprise_name)}` : ''}
          ${isLate ? '<span class="tag overdue">逾期未检查</span>' : ''}</span></span>
        <span class="dist"><b>${escapeHtml(distanceText(p.distance_m))}</b>${escapeHtml(directionText(p.bearing_deg))}</span>
      </button></li>`;
    }).join('');
  if (featureLayer) {
    featureLayer.clearLayers();
    for (const feature of sorted) {
      const [lon, lat] = feature.geometry.type === 'Point' ? feature.geometry.coordinates : [null, null];
      if (lon === null) continue;
      const colour = { red: '#e8222d', orange: '#f5891f' }[feature.properties.risk_level] || '#8592a0';
      L.circleMarker([lat, lon], { radius: 7, color: '#fff', weight: 2, fillColor: colour, fillOpacity: 1 })
        .on('click', () => openFeature(feature)).addTo(featureLayer);
    }
  }
}

function renderOverdue() {
  $('overdue-title').hidden = overdue.length === 0;
  $('overdue').innerHTML = overdue.slice(0, 5).map((item) => `<li>
    <button class="item overdue" type="button" data-overdue="${escapeHtml(item.enterprise_id)}">
      ${levelDot(item.risk_level)}
      <span class="main"><span class="name">${escapeHtml(item.name)}</span>
        <span class="meta">${item.due ? `应于 ${escapeHtml(item.due)} 前检查` : '从未检查'} · 每 ${escapeHtml(item.every_days)} 天</span></span>
      <span class="tag overdue">逾期</span>
    </button></li>`).join('') + (overdue.length > 5 ? `<li class="hint">另有 ${overdue.length - 5} 家逾期</li>` : '');
}

async function loadNearby() {
  if (!point || !auth) return;
  const url = `/api/nearby?lon=${point.lon.toFixed(6)}&lat=${point.lat.toFixed(6)}&radius_m=${RADIUS_M}&levels=red,orange&limit=30`;
  try {
    const body = await getJSON(url);
    nearby = body.features;
    localStorage.setItem(NEARBY_KEY, JSON.stringify({ at: new Date().toISOString(), point, body }));
    $('stale').hidden = true;
  } catch (error) {
    showCachedNearby('网络不可用');
  }
  renderNearby();
}

function showCachedNearby(reason) {
  try {
    const cached = JSON.parse(localStorage.getItem(NEARBY_KEY) || 'null');
    if (!cached) return;
    nearby = cached.body.features;
    $('stale').hidden = false;
    $('stale').textContent = `${reason}：显示 ${new Date(cached.at).toLocaleString('zh-CN')} 保存的附近风险`;
  } catch (error) { /* nothing cached */ }
}

async function loadOverdue() {
  if (!me || me.role !== 'warden') return;
  try {
    // Only my cells' overdue enterprises travel: the server filters by warden.
    const body = await getJSON(`/api/inspections/overdue?kind=self_check&limit=500&warden=${encodeURIComponent(me.username)}`);
    overdue = body.items;
    localStorage.setItem(OVERDUE_KEY, JSON.stringify(overdue));
  } catch (error) {
    try { overdue = JSON.parse(localStorage.getItem(OVERDUE_KEY) || '[]'); } catch (e) { overdue = []; }
  }
  renderOverdue();
  renderNearby();
}

async function loadResources() {
  if (!point || !auth) return;
  const kind = $('resource-kind').value;
  const url = `/api/emergency/nearest?lon=${point.lon.toFixed(6)}&lat=${point.lat.toFixed(6)}&limit=10${kind ? `&kind=${kind}` : ''}`;
  let features = [];
  try {
    features = (await getJSON(url)).features;
  } catch (error) {
    $('resources').innerHTML = '<li class="empty">网络不可用，稍后再试</li>';
    return;
  }
  $('resources').innerHTML = features.length === 0 ? '<li class="empty">附近没有登记的应急资源</li>'
    : features.map((feature) => {
      const p = feature.properties;
      return `<li><div class="item"><span class="main"><span class="name">${escapeHtml(p.name)}</span>
        <span class="meta">${escapeHtml(RESOURCE_ZH[p.resource_kind] || p.resource_kind || '')}${p.capacity ? ` · ${escapeHtml(p.capacity)}` : ''}</span>
        <span class="meta">${telLink(p.contact_person, p.contact_phone)}</span></span>
        <span class="dist"><b>${escapeHtml(distanceText(p.distance_m))}</b>${escapeHtml(directionText(p.bearing_deg))}</span></div></li>`;
    }).join('');
}

// The card and the forms (a bottom sheet)

function openSheet(title, html) {
  $('sheet-title').textContent = title;
  $('sheet-body').innerHTML = html;
  $('sheet').hidden = false;
}

function closeSheet() {
  $('sheet').hidden = true;
  $('sheet-body').innerHTML = '';
}

async function openFeature(feature) {
  const p = feature.properties;
  const enterpriseId = enterpriseOf(p);
  const late = overdue.find((item) => item.enterprise_id === enterpriseId);
  openSheet(p.name, `
    <p>${LEVEL_ZH[p.risk_level] ? `<span class="badge ${p.risk_level}">${escapeHtml(LEVEL_ZH[p.risk_level])}</span>` : ''}
       ${escapeHtml(KIND_ZH[p.kind] || p.kind)} · ${escapeHtml(directionText(p.bearing_deg))} ${escapeHtml(distanceText(p.distance_m))}
       ${late ? '<span class="tag overdue">逾期未检查</span>' : ''}</p>
    ${facts([
      ['所属企业', p.enterprise_name ? escapeHtml(p.enterprise_name) : null],
      ['风险类型', p.hazard_type ? escapeHtml(p.hazard_type) : null],
      ['管控措施', p.control_measures ? escapeHtml(p.control_measures) : null],
      ['地址', p.address ? escapeHtml(p.address) : null],
      ['责任人', p.responsible_person || p.responsible_phone ? telLink(p.responsible_person, p.responsible_phone) : null],
      ['包保干部', p.government_person ? escapeHtml(p.government_person) : null],
      ['隐患状态', p.status ? escapeHtml(p.status) : null],
    ])}
    <h3 class="sub">最近一次检查</h3>
    <p id="latest-inspection" class="hint">${enterpriseId ? '正在读取…' : '无（不属于企业）'}</p>
    <div class="buttons">
      ${enterpriseId ? '<button id="btn-inspect" class="btn primary big" type="button">记录巡查</button>' : ''}
      <button id="btn-report-here" class="btn danger big" type="button">上报隐患</button>
    </div>`);
  if (enterpriseId) {
    $('btn-inspect').addEventListener('click', () => openInspect(enterpriseId, p.enterprise_name || p.name));
  }
  $('btn-report-here').addEventListener('click', () => openReport(enterpriseId));
  if (enterpriseId) {
    try {
      const body = await getJSON(`/api/inspections?enterprise=${enterpriseId}&limit=1`);
      const last = body.items[0];
      const target = $('latest-inspection');
      if (target) {
        target.textContent = last
          ? `${new Date(last.inspected_at).toLocaleString('zh-CN')} · ${last.username || ''} · 不合格 ${last.checklist.filter((c) => !c.ok).length} 项 · 发现隐患 ${last.finding_count} 项`
          : '尚无检查记录';
      }
    } catch (error) {
      const target = $('latest-inspection');
      if (target) target.textContent = '离线：无法读取';
    }
  }
}

function fromTemplate(id) {
  return $(id).innerHTML;
}

function whereNote() {
  return point ? `位置：${point.lat.toFixed(5)}, ${point.lon.toFixed(5)}（${point.source === 'gps' ? '手机定位' : '地图点选'}）`
    : '尚未定位：请先定位或在地图上点选';
}

let toastTimer = null;

/** Say what became of the warden's records: under the location line, and as a toast over
 *  the map, since the sheet they wrote in has closed and that line may be out of view. */
function tell(text, { bad = false } = {}) {
  $('where-sub').textContent = text;
  const toast = $('toast');
  toast.textContent = text;
  toast.classList.toggle('bad', bad);
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { toast.hidden = true; }, 5000);
}

function queued(label) {
  closeSheet();
  renderOutbox();
  tell(navigator.onLine ? `正在发送：${label}` : `已保存，联网后发送：${label}`);
  flushOutbox();
}

function openInspect(enterpriseId, name) {
  openSheet(`巡查：${name}`, fromTemplate('tpl-inspect'));
  $('form-inspect').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    const checklist = Array.from(form.querySelectorAll('input[name=item]'))
      .map((box) => ({ item: box.value, ok: box.checked }));
    const finding = form.finding.value.trim();
    const body = {
      enterprise_id: enterpriseId,
      kind: INSPECTION_KIND[me && me.role] || 'grid_check',
      checklist,
      note: form.note.value.trim() || null,
      findings: finding ? [{ title: finding }] : [],
      inspected_at: new Date().toISOString(),
      ...(point ? { lon: point.lon, lat: point.lat } : {}),
    };
    await enqueue({ kind: 'inspection', label: `巡查 ${name}`, url: '/api/inspections', body }, `巡查 ${name}`);
  });
}

async function shrinkPhoto(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, 1280 / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) => canvas.toBlob(
    (blob) => (blob ? resolve(blob) : reject(new Error('not an image'))), 'image/jpeg', 0.7));
}

/** Queue a write; tell the warden when the phone has no room left to keep it. */
async function enqueue(entry, label) {
  try {
    await outbox.enqueue(entry);
  } catch (error) {
    tell(`手机存储空间不足，未能保存：${label}`, { bad: true });
    return;
  }
  queued(label);
}

function openReport(enterpriseId = null) {
  openSheet('上报隐患', fromTemplate('tpl-report'));
  $('sheet-body').querySelector('.where-note').textContent = whereNote();
  $('form-report').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    if (!point && !enterpriseId) return;
    const error = form.querySelector('.form-error');
    error.hidden = true;
    const files = Array.from(form.photos.files);
    if (files.length > 6) {
      error.textContent = `最多 6 张照片，已选 ${files.length} 张，请减少后再上报`;
      error.hidden = false;
      return;
    }
    const photos = [];
    for (const file of files) {
      try {
        photos.push(await shrinkPhoto(file));
      } catch (failure) {
        // Not silently dropped: the warden re-takes or removes it, then reports.
        error.textContent = `照片“${file.name}”无法读取（不是图片或已损坏），请重新选择`;
        error.hidden = false;
        return;
      }
    }
    const title = form.title.value.trim();
    const body = {
      title,
      description: form.description.value.trim() || null,
      grade: form.grade.value,
      ...(enterpriseId ? { enterprise_id: enterpriseId } : {}),
      ...(point ? { lon: point.lon, lat: point.lat } : {}),
    };
    await enqueue({ kind: 'hidden_danger', label: `隐患 ${title}`, url: '/api/hidden-dangers', body, photos },
      `隐患 ${title}`);
  });
}

function openLead() {
  openSheet('报告线索', fromTemplate('tpl-lead'));
  $('sheet-body').querySelector('.where-note').textContent = whereNote();
  $('form-lead').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!point) return;
    const form = event.target;
    const body = {
      kind: form.kind.value,
      name: form.name.value.trim() || null,
      description: form.description.value.trim(),
      lon: point.lon,
      lat: point.lat,
    };
    await enqueue({ kind: 'lead', label: `线索 ${form.kind.selectedOptions[0].textContent}`, url: '/api/leads', body },
      '线索');
  });
}

function openLogin() {
  if (auth) {
    openSheet(me ? `${me.display_name || me.username}` : '账户', `
      <p>${escapeHtml(me ? me.username : '')}${me && me.scope.grid_cells.length ? ` · 网格 ${me.scope.grid_cells.length} 个` : ''}</p>
      <button id="btn-signout" class="btn big" type="button">退出登录</button>`);
    $('btn-signout').addEventListener('click', () => { saveAuth(null); me = null; closeSheet(); showAccount(); });
    return;
  }
  openSheet('登录', fromTemplate('tpl-login'));
  $('form-login').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    const error = form.querySelector('.error');
    const response = await fetch('/api/auth/token', { method: 'POST',
      body: new URLSearchParams({ username: form.username.value, password: form.password.value }) })
      .catch(() => null);
    if (!response || !response.ok) {
      error.hidden = false;
      error.textContent = !response ? '网络不可用' : response.status === 429 ? '尝试次数过多，请稍后再试' : '用户名或密码错误';
      return;
    }
    saveAuth(await response.json());
    closeSheet();
    await start();
  });
}

async function showAccount() {
  $('btn-account').textContent = me ? (me.display_name || me.username) : '登录';
}

async function start() {
  if (auth) {
    try {
      me = await getJSON('/api/auth/me');
      localStorage.setItem('ra.m.me', JSON.stringify(me));
    } catch (error) {
      try { me = JSON.parse(localStorage.getItem('ra.m.me') || 'null'); } catch (e) { me = null; }
    }
    if (me && me.role === 'public') { saveAuth(null); me = null; }
  }
  showAccount();
  if (!auth) { openLogin(); return; }
  loadGrid();
  loadOverdue();
  flushOutbox();
  if (point) loadNearby();
  else {
    showCachedNearby('上次的结果');
    renderNearby();
    locate();
  }
}

function bind() {
  $('btn-locate').addEventListener('click', locate);
  $('btn-account').addEventListener('click', openLogin);
  $('btn-report').addEventListener('click', () => openReport());
  $('btn-lead').addEventListener('click', openLead);
  $('sheet-close').addEventListener('click', closeSheet);
  $('btn-outbox').addEventListener('click', () => selectTab('outbox'));
  $('btn-send').addEventListener('click', flushOutbox);
  $('btn-red-only').addEventListener('click', () => {
    redOnly = !redOnly;
    localStorage.setItem(RED_ONLY_KEY, redOnly ? '1' : '0');
    renderNearby();
  });
  $('resource-kind').addEventListener('change', loadResources);
  for (const tab of document.querySelectorAll('.tab')) {
    tab.addEventListener('click', () => selectTab(tab.dataset.tab));
  }
  $('nearby').addEventListener('click', (event) => {
    const button = event.target.closest('[data-feature]');
    const feature = button && nearby.find((f) => f.id === button.dataset.feature);
    if (feature) openFeature(feature);
  });
  $('overdue').addEventListener('click', (event) => {
    const button = event.target.closest('[data-overdue]');
    if (!button) return;
    const id = Number(button.dataset.overdue);
    const item = overdue.find((o) => o.enterprise_id === id);
    const feature = nearby.find((f) => enterpriseOf(f.properties) === id && f.properties.kind === 'enterprises');
    if (feature) openFeature(feature);
    else if (item) openInspect(id, item.name);
  });
  $('outbox').addEventListener('click', (event) => {
    const button = event.target.closest('[data-drop]');
    if (button) outbox.remove(button.dataset.drop).then(renderOutbox);
  });
  window.addEventListener('online', () => { setNet(); flushOutbox(); if (point) loadNearby(); });
  window.addEventListener('offline', setNet);
}

function selectTab(name) {
  for (const tab of document.querySelectorAll('.tab')) {
    const active = tab.dataset.tab === name;
    tab.classList.toggle('active', active);
    tab.setAttribute('aria-selected', String(active));
  }
  for (const pane of ['risks', 'resources', 'outbox']) $(`tab-${pane}`).hidden = pane !== name;
  if (name === 'resources') loadResources();
}

// A Chinese web font (sliced by unicode range) for devices without one; a stylesheet
// inserted by a script does not block the first paint.
function loadFont() {
  const font = document.createElement('link');
  font.rel = 'stylesheet';
  font.href = '/static/lib/fonts/noto-sans-sc/noto-sans-sc-400.css';
  document.head.appendChild(font);
}

function boot() {
  loadFont();
  initMap();
  bind();
  setNet();
  renderOutbox();
  start();
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/m/sw.js', { scope: '/m' }).catch(() => { /* no offline shell */ });
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
