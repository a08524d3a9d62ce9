// The planners' page (/plan): draw a proposed site, choose its kind and attributes, check
// it (POST /api/planning/check), see rings and conflicts, save it as a report with a
// permalink (/plan#report=ID) and a PDF. Every value from the server is escaped.

import { authFetch, currentUser, onAuthChange, signIn, signOut } from '../auth.js';
import { escapeHtml } from '../fragments.js';
import { t } from '../i18n.js';
import { basemapLayer, vectorTileLayer } from '../map.js';
import { SiteTools, geometryFromGeoJSON, geometryFromKML } from './draw.js';

const PARK_COLOURS = { A: '#e8222d', B: '#f5891f', C: '#f7d117', D: '#2f6fd6' };
const CLASS_ZH = {
  highly_sensitive: '高敏感', important: '重要', general_1: '一般一类', general_2: '一般二类',
  general_3: '一般三类', low_density: '低密度',
};
const ROLES = ['admin', 'official', 'planner'];

const $ = (id) => document.getElementById(id);
const state = { kinds: {}, site: null, result: null, map: null, tools: null, overlay: null };

async function api(method, url, body) {
  const response = await authFetch(url, {
    method,
    headers: { Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = response.headers.get('content-type')?.includes('json') ? await response.json() : null;
  if (!response.ok) throw new Error(refusal(response.status, data || {}));
  return data;
}

// The server's refusals (English `detail`, a `field`) in the planners' words.
const GEOMETRY_REFUSALS = [
  [/^invalid geometry \(Self-intersection\[([-\d.]+) ([-\d.]+)\]/, (m) => `场址边线自相交（约 ${m[1]}, ${m[2]} 处），请重新绘制`],
  [/^invalid geometry/, () => '场址几何无效，请重新绘制'],
  [/has no coordinates/, () => '场址几何为空，请重新绘制'],
  [/over the (\d+) km²/, (m) => `场址面积过大（拟建项目不超过 ${m[1]} 平方千米）`],
  [/outside China/, () => '场址不在中国境内'],
  [/outside the region/, () => '场址不在您的辖区内'],
  [/^more than (\d+) vertices/, (m) => `场址顶点过多（最多 ${m[1]} 个）`],
  [/is not allowed here/, () => '该项目类型不支持这种几何（点、线或面）'],
  [/out of range/, () => '坐标超出范围（经度 −180…180，纬度 −90…90）'],
  [/^not a GeoJSON geometry/, () => '不是有效的 GeoJSON 几何'],
];
const ATTRIBUTE_REFUSALS = [
  [/is required/, '为必填项'], [/whole number/, '须为整数'], [/must be a number/, '须为数字'],
  [/must lie in (\S+)…(\S+),/, '须在 $1–$2 之间'], [/is not an attribute/, '不是该项目类型的参数'],
];

function refusal(status, { field = '', detail = '' }) {
  if (status === 401) return '请先登录';
  if (status === 403) return '该账号无权执行此操作';
  if (status === 404) return '未找到';
  if (status === 413) return '文件过大';
  if (status >= 500) return '服务暂时不可用，请稍后再试';
  const text = String(detail);
  if (field === 'geometry' || field === 'lon,lat') {
    for (const [pattern, say] of GEOMETRY_REFUSALS) {
      const match = pattern.exec(text);
      if (match) return say(match);
    }
    return '场址几何有误';
  }
  if (field.startsWith('attributes.')) {
    const name = field.slice(11).split(/[.[]/)[0];
    const spec = (state.kinds[$('kind').value] || { attributes: {} }).attributes[name];
    const label = spec ? spec.label_zh : name;
    for (const [pattern, say] of ATTRIBUTE_REFUSALS) {
      const match = pattern.exec(text);
      if (match) return `${label}${match[0].replace(pattern, say)}`;
    }
    return `${label}填写有误`;
  }
  const names = { kind: '项目类型', crs: '坐标系', title: '报告标题', note: '备注' };
  return `输入有误：${names[field] || field || text || status}`;
}

function showError(id, error) {
  const element = $(id);
  element.textContent = error ? String(error.message || error) : '';
  element.hidden = !error;
}

// The form: kinds and their attributes (GET /api/planning/kinds)

function renderAttributes() {
  const kind = state.kinds[$('kind').value];
  const rows = Object.entries(kind ? kind.attributes : {}).map(([name, spec]) => {
    if (spec.type === 'substances') {
      return `<label>${escapeHtml(spec.label_zh)}（每行一种：CAS或名称,吨数[,类别]，如 7782-50-5,10）
        <textarea name="attr-${escapeHtml(name)}" rows="3"${spec.required ? ' required' : ''}></textarea></label>`;
    }
    const step = spec.type === 'integer' ? '1' : 'any';
    return `<label>${escapeHtml(spec.label_zh)}${spec.required ? ' *' : ''}
      <input name="attr-${escapeHtml(name)}" type="number" step="${step}" min="${Number(spec.min)}"
             max="${Number(spec.max)}"${spec.required ? ' required' : ''}></label>`;
  });
  $('attributes').innerHTML = rows.join('');
}

function attributes() {
  const kind = state.kinds[$('kind').value];
  const values = {};
  for (const [name, spec] of Object.entries(kind.attributes)) {
    const field = $('project').elements[`attr-${name}`];
    if (!field || field.value.trim() === '') continue;
    if (spec.type === 'substances') {
      // One substance a line: CAS number or GB 18218 name, tonnes, and its hazard category
      // when GB 18218 needs one (e.g. 液化石油气,30,W2).
      values[name] = field.value.trim().split(/\n+/).map((line) => {
        const [id, tonnes, category] = line.split(/[,，\s]+/).map((part) => part.trim());
        const item = /^\d{2,7}-\d{2}-\d$/.test(id) ? { cas: id } : { name: id };
        if (category) item.category = category;
        return { ...item, quantity_t: Number(tonnes) };
      });
    } else {
      values[name] = Number(field.value);
    }
  }
  return values;
}

function proposal() {
  return { kind: $('kind').value, geometry: state.site, crs: $('crs').value, attributes: attributes() };
}

// Results

function clearOverlay() {
  if (state.overlay) state.map.removeLayer(state.overlay);
  state.overlay = L.layerGroup().addTo(state.map);
}

/** The setback circles of a target's conflicts: one per hazard point and distance, numbered
 *  as in the conflicts table. */
function setbackRings(conflicts) {
  const rings = new Map();
  conflicts.forEach((conflict, index) => {
    const shape = conflict.other_geometry;
    if (!shape || shape.type !== 'Point') return;
    const key = `${shape.coordinates.join(',')}@${conflict.required_m}`;
    const ring = rings.get(key);
    if (ring) ring.numbers.push(index + 1);
    else {
      rings.set(key, { centre: L.latLng(shape.coordinates[1], shape.coordinates[0]),
        radius_m: conflict.required_m, numbers: [index + 1] });
    }
  });
  return [...rings.values()];
}

function drawResult(result) {
  clearOverlay();
  // Rings of the same radius are drawn once, labelled with every class they keep away.
  const byRadius = new Map();
  for (const ring of result.rings) {
    if (!ring.geometry) continue;
    const seen = byRadius.get(ring.radius_m);
    if (seen) seen.classes.push(ring.target_class);
    else byRadius.set(ring.radius_m, { ...ring, classes: [ring.target_class] });
  }
  const bounds = L.geoJSON(result.geometry).getBounds();
  [...byRadius.values()].forEach((ring, index) => {
    const layer = L.geoJSON(ring.geometry, {
      style: () => ({ color: '#f5891f', weight: 1.5, dashArray: '6 4', fill: false, interactive: false }),
    }).addTo(state.overlay);
    // Labels alternate north and south: neighbouring radii (45 m, 50 m) would overlap.
    const edge = index % 2 ? layer.getBounds().getSouth() : layer.getBounds().getNorth();
    L.tooltip({ permanent: true, direction: index % 2 ? 'bottom' : 'top', className: 'ring-label', interactive: false })
      .setLatLng([edge, layer.getBounds().getCenter().lng])
      .setContent(ring.purpose === 'search'
        ? `检索范围 ${Number(ring.radius_m)} m`
        : `${ring.classes.map((c) => escapeHtml(CLASS_ZH[c] || c)).join('、')} ${Number(ring.radius_m)} m`)
      .addTo(state.overlay);
    bounds.extend(layer.getBounds());
  });
  // A protection target: the server's ring is the search range; each conflict's setback is
  // drawn around the hazard that needs it (the site lies inside it).
  if (result.role === 'target') {
    setbackRings(result.conflicts).forEach((ring) => {
      const circle = L.circle(ring.centre, { radius: ring.radius_m, color: '#e8222d', weight: 1.5,
        dashArray: '4 4', fillOpacity: 0.05, interactive: false, className: 'setback-ring' }).addTo(state.overlay);
      L.tooltip({ permanent: true, direction: 'top', className: 'ring-label setback', interactive: false })
        .setLatLng([circle.getBounds().getNorth(), ring.centre.lng])
        .setContent(`${ring.numbers.join('、')} 号 防护距离 ${Number(ring.radius_m)} m`)
        .addTo(state.overlay);
      bounds.extend(circle.getBounds());
    });
  }
  const others = [...result.conflicts, ...result.zoning.filter((z) => z.other_geometry)];
  others.forEach((item, i) => {
    if (!item.other_geometry) return;
    L.geoJSON(item.other_geometry, {
      style: () => ({ color: '#e8222d', weight: 3 }),
      pointToLayer: (feature, latlng) => L.circleMarker(latlng, { radius: 6, color: '#e8222d', fillOpacity: 0.9 }),
    }).bindTooltip(`${i + 1}. ${escapeHtml(item.other_name)}`).addTo(state.overlay);
  });
  if (bounds.isValid()) state.map.fitBounds(bounds, { maxZoom: 17, padding: [40, 40] });
}

/** A zoning finding in words (escaped). */
function zoningText(z) {
  if (z.rule === 'inside_allowed_chemical_park') {
    if (z.park_id === null) return '不在任何化工园区内（新建、扩建危险化学品生产项目须进入化工园区）';
    const park = `${escapeHtml(z.park_name)}（${escapeHtml(z.park_class)}类）`;
    return z.ok ? `位于化工园区 ${park}` : `位于 ${park}，该类园区不得新建、扩建危险化学品生产项目`;
  }
  return `人口密集场所 ${escapeHtml(z.other_name)} 距离 ${Number(z.distance_m).toFixed(1)} m（${Number(z.required_m)} m 内不得规划高风险项目）`;
}

/** The check's notes (GB 18218 grading) in Chinese; any other note as written. */
function noteText(note) {
  const minor = /^S = (\S+) < 1: not a major hazard source/.exec(note);
  if (minor) return `GB 18218-2018：S = ${minor[1]} < 1，未构成重大危险源，按设计规范自身的间距执行`;
  const major = /^GB 18218-2018: S = (\S+), R = (\S+), grade (\d) \((\S+); α from (\d+) people within 500 m\)/.exec(note);
  if (major) {
    return `GB 18218-2018：S = ${major[1]}，R = ${major[2]}，${major[3]}级重大危险源（${major[4]}；α 按 500 m 内 ${major[5]} 人取值）`;
  }
  return note;
}

/** A hazard project by its kind's name; a hazardous-chemical one says whether GB 18218 makes
 *  it a major hazard source (its setbacks then come from that row). */
function hazardText(result) {
  const label = (state.kinds[result.kind] || {}).label_zh || result.kind;
  const kind = state.kinds[result.kind] || {};
  if (kind.hazard_kind !== 'major_hazard_source') return label;
  return `${label}（${result.hazard_kind ? '构成重大危险源' : '未构成重大危险源'}）`;
}

function renderResult(result, saved = null) {
  state.result = result;
  $('result').hidden = false;
  const verdict = $('verdict');
  verdict.textContent = result.verdict === 'pass' ? '通过' : '不通过';
  verdict.className = `verdict ${result.verdict === 'pass' ? 'pass' : 'fail'}`;
  const cls = result.target_class ? `防护目标：${CLASS_ZH[result.target_class] || result.target_class}` : `危险源：${hazardText(result)}`;
  $('meta').textContent = `${cls} · 规则版本 ${result.rule_set_version} · 冲突 ${result.conflicts.length} 项`;
  $('conflicts').querySelector('tbody').innerHTML = result.conflicts.map((c, i) => `<tr>
      <td>${i + 1}</td>
      <td>${escapeHtml(c.other_name)}<br><small>${escapeHtml(CLASS_ZH[c.target_class] || c.target_class)}</small></td>
      <td class="num">${Number(c.distance_m).toFixed(1)}</td>
      <td class="num">${Number(c.required_m).toFixed(1)}</td>
      <td class="num">${Number(c.shortfall_m).toFixed(1)}</td>
      <td class="clause${c.confirmed === 'no' ? ' unconfirmed' : ''}">${escapeHtml(c.source_clause)}${c.confirmed === 'no' ? '（未核实）' : ''}</td>
    </tr>`).join('') || '<tr><td colspan="6">无间距冲突</td></tr>';
  $('zoning').innerHTML = result.zoning.map((z) => `<li class="${z.ok ? 'ok' : 'bad'}">
      ${z.ok ? '符合' : '不符合'}：${zoningText(z)}
      <small>${escapeHtml(z.source_clause)}</small></li>`).join('')
    + result.notes.map((n) => `<li>${escapeHtml(noteText(n))}</li>`).join('');
  const people = result.people_within;
  $('people').textContent = `周边 ${people.radius_m} m 内公共区域 ${people.zones} 处，约 ${people.people} 人`;
  $('save').hidden = Boolean(saved);
  $('saved').hidden = !saved;
  if (saved) showSaved(saved);
  drawResult(result);
}

function showSaved(report) {
  const element = $('saved');
  element.hidden = false;
  element.innerHTML = `已保存报告 #${Number(report.id)}（${escapeHtml(report.saved_by)}，${escapeHtml(report.saved_at.slice(0, 16).replace('T', ' '))}）
    <a id="permalink" href="${escapeHtml(report.permalink)}">永久链接</a>
    <a id="pdf-link" href="${escapeHtml(report.pdf)}" data-id="${Number(report.id)}">下载 PDF</a>`;
}

async function downloadPdf(event) {
  event.preventDefault();
  const link = event.target;
  const response = await authFetch(link.getAttribute('href'));
  if (!response.ok) return;
  const url = URL.createObjectURL(await response.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = `planning-report-${link.dataset.id}.pdf`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** No result on screen (a check failed): its card, rings and conflicts go. */
function clearResult() {
  state.result = null;
  $('result').hidden = true;
  clearOverlay();
}

async function check(event) {
  event.preventDefault();
  showError('error', null);
  try {
    renderResult(await api('POST', '/api/planning/check', proposal()));
  } catch (error) {
    clearResult();
    showError('error', error);
  }
}

async function save(event) {
  event.preventDefault();
  try {
    const report = await api('POST', '/api/planning/reports', { ...proposal(), title: $('save').elements.title.value });
    history.replaceState(null, '', report.permalink);
    renderResult(report.result, report);
    loadReports();
  } catch (error) {
    showError('error', error);
  }
}

async function openReport(id) {
  try {
    const report = await api('GET', `/api/planning/reports/${id}`);
    $('kind').value = report.kind;
    renderAttributes();
    state.tools.show(report.result.geometry, { fit: true });
    renderResult(report.result, report);
  } catch (error) {
    showError('error', error);
  }
}

async function loadReports() {
  try {
    const page = await api('GET', '/api/planning/reports?limit=20');
    $('reports').hidden = false;
    $('report-list').innerHTML = page.items.map((r) => `<li><a href="/plan#report=${Number(r.id)}">
      #${Number(r.id)} ${escapeHtml(r.title)}</a> · ${r.verdict === 'pass' ? '通过' : '不通过'} ·
      ${escapeHtml(r.saved_by)} · ${escapeHtml(r.saved_at.slice(0, 10))}</li>`).join('') || '<li>暂无</li>';
  } catch (error) { /* the list is a convenience */ }
}

async function loadParks() {
  try {
    const parks = await api('GET', '/api/features/chemical_parks?limit=1000');
    L.geoJSON(parks, {
      style: (f) => ({ color: PARK_COLOURS[f.properties.risk_class] || '#888', weight: 1.5, fillOpacity: 0.08 }),
      onEachFeature: (f, layer) => layer.bindTooltip(
        `化工园区 ${escapeHtml(f.properties.name)}（${escapeHtml(f.properties.risk_class)}类）`, { sticky: true }),
      interactive: false,
    }).addTo(state.map);
  } catch (error) { /* parks are context */ }
}

function onSite(geometry) {
  state.site = geometry;
  $('run').disabled = false;
  const text = geometry.type === 'Point'
    ? `场址：点 ${geometry.coordinates.map((v) => v.toFixed(6)).join(', ')}`
    : `场址：${geometry.type}（${(geometry.coordinates[0] || []).length} 个顶点）`;
  $('site').textContent = text;
  document.querySelectorAll('[data-tool]').forEach((b) => b.classList.remove('active'));
  $('finish').hidden = true;
}

async function upload(event) {
  const file = event.target.files[0];
  if (!file) return;
  const text = await file.text();
  let geometry = null;
  try {
    geometry = /\.kml$/i.test(file.name) ? geometryFromKML(text) : geometryFromGeoJSON(JSON.parse(text));
  } catch (error) { geometry = null; }
  if (!geometry) { showError('error', new Error('文件中没有可用的点或多边形')); return; }
  showError('error', null);
  state.tools.show(geometry, { fit: true });
}

function startMap() {
  const settings = (() => { try { return JSON.parse(localStorage.getItem('ra.settings') || '{}'); } catch (e) { return {}; } })();
  state.map = L.map('map', { center: [38.3, 106.3], zoom: 9, zoomSnap: 0.25 });
  state.map.attributionControl.setPrefix(false);
  L.control.scale({ imperial: false }).addTo(state.map);
  // The officials' map's context: the basemap chosen in its settings (none by default) and
  // the region outlines from the vector tiles, under the site and its rings.
  const basemap = basemapLayer(settings.basemap, settings.tdtKey);
  if (basemap) basemap.addTo(state.map);
  state.map.createPane('boundaries').style.zIndex = '250';
  state.map.getPane('boundaries').style.pointerEvents = 'none';
  vectorTileLayer('boundaries', '', { pane: 'boundaries' }).addTo(state.map);
  state.tools = new SiteTools(state.map, {
    onSite,
    onMeasure: (metres) => { $('measure-out').hidden = false; $('measure-out').textContent = `测距：${metres.toFixed(1)} m`; },
  });
  clearOverlay();
}

async function start() {
  const user = currentUser();
  const allowed = user && ROLES.includes(user.role);
  $('signin').hidden = Boolean(allowed);
  $('project').hidden = !allowed;
  $('btn-signout').hidden = !user;
  $('who').textContent = user ? `${user.display_name || user.username}（${t(`role.${user.role}`, user.role)}）` : '';
  if (user && !allowed) showError('signin-error', new Error('该账号无规划核查权限'));
  if (!allowed) return;
  const data = await api('GET', '/api/planning/kinds');
  state.kinds = data.kinds;
  $('kind').innerHTML = Object.entries(data.kinds).map(([name, k]) =>
    `<option value="${escapeHtml(name)}">${escapeHtml(k.label_zh)}（${k.role === 'target' ? '防护目标' : '危险源'}）</option>`).join('');
  renderAttributes();
  loadParks();
  loadReports();
  const match = /report=(\d+)/.exec(location.hash);
  if (match) openReport(match[1]);
}

function wire() {
  startMap();
  $('kind').addEventListener('change', renderAttributes);
  $('project').addEventListener('submit', check);
  $('save').addEventListener('submit', save);
  $('upload').addEventListener('change', upload);
  $('finish').addEventListener('click', () => state.tools.finish());
  document.querySelectorAll('[data-tool]').forEach((button) => button.addEventListener('click', () => {
    const mode = state.tools.setMode(button.dataset.tool);
    document.querySelectorAll('[data-tool]').forEach((b) => b.classList.toggle('active', b.dataset.tool === mode));
    $('finish').hidden = mode !== 'polygon';
    $('measure-out').hidden = mode !== 'measure';
  }));
  $('saved').addEventListener('click', (event) => {
    if (event.target.id === 'pdf-link') downloadPdf(event);
  });
  window.addEventListener('hashchange', () => {
    const match = /report=(\d+)/.exec(location.hash);
    if (match) openReport(match[1]);
  });
  $('signin').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    try {
      await signIn(form.username.value, form.password.value);
      showError('signin-error', null);
    } catch (error) {
      showError('signin-error', new Error('登录失败'));
    }
  });
  $('btn-signout').addEventListener('click', () => signOut());
  onAuthChange(() => start());
  start();
}

wire();
