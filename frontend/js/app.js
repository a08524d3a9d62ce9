// RiskAtlas officials' web map: state, URL routing, controls, search, settings, export,
// signing in and out.
/* global L */

import { LEVELS, debounce, detailFor, firstOrFetch, getJSON, isAbort, isoDay } from './api.js';
import { SignInError, canRead, currentRole, currentUser, onAuthChange, revalidate, signIn,
  signOut } from './auth.js';
import { exportOfflineHtml, exportPrintPdf, exportView } from './export.js';
import { applyI18n, getLang, num, setLang, t } from './i18n.js';
import { ALL_LAYERS, RiskMap } from './map.js';
import { installNearestResources } from './nearest.js';
import { gradeSymbolSvg, resourceSymbolSvg } from './symbols.js';
import { fmt, gradeLabel, markRanking, renderPanel, renderPanelError, renderTrend } from './panel.js';
import { clearZones, renderDossier } from './dossier.js';
import { escapeHtml, factList, levelBadge, levelClass, phoneLink } from './fragments.js';

const DEFAULT_LAYERS = ['choropleth', 'boundaries', 'enterprises'];
const SETTINGS_KEY = 'ra.settings';
// A regional-level method as the URL and the API name it: composite | highest | index,
// with an optional normalisation (composite/enterprises, index/area).
const METHOD = /^(composite|highest|index)(\/(area|enterprises))?$/;
const mobile = () => window.matchMedia('(max-width: 640px)').matches;

function loadSettings() {
  let stored = {};
  try { stored = JSON.parse(localStorage.getItem(SETTINGS_KEY) || '{}'); } catch (e) { stored = {}; }
  const settings = { basemap: 'none', tdtKey: '', method: 'composite', ...stored };
  if (!METHOD.test(settings.method)) settings.method = 'composite';
  return settings;
}

const state = {
  code: null,
  view: null,
  layers: new Set(DEFAULT_LAYERS),
  levels: new Set(LEVELS),
  sector: '',
  blacklisted: false,   // only enterprises on the blacklist in force (signed-in readers)
  settings: loadSettings(),
  method: null,     // the method shown (from the URL, else the settings)
  filtered: null,   // counts under the colour and sector filters (null: no filter on)
  fitting: false,   // the map is being fitted to a new view: its moveend writes no URL
  sectors: [],
  request: 0,
  detail: null,     // the enterprise whose dossier the panel shows, or null for the region
  dossier: null,
};

const $ = (selector) => document.querySelector(selector);
const panelBody = $('#panel-body');

function toast(message, ms = 2600) {
  const el = $('#toast');
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, ms);
}

// URL: #/CODE?m=method&c=lat,lng&z=zoom&l=layers&f=levels&s=sector&b=1&e=enterprise
// (b=1: only blacklisted enterprises)
// (CODE omitted = the country; the method in the URL makes a shared link show the same map)

function parseHash() {
  const hash = decodeURIComponent(location.hash || '').replace(/^#/, '');
  const [path, query = ''] = hash.split('?');
  const match = /^\/?(\d{6})?/.exec(path || '');
  const params = new URLSearchParams(query);
  const out = { code: (match && match[1]) || null };
  const c = (params.get('c') || '').split(',').map(Number);
  const z = Number(params.get('z'));
  if (c.length === 2 && c.every(Number.isFinite) && Number.isFinite(z) && params.get('z')) {
    out.center = [c[0], c[1]];
    out.zoom = z;
  }
  if (params.has('l')) out.layers = params.get('l').split(',').filter((n) => ALL_LAYERS.includes(n));
  if (params.has('f')) out.levels = params.get('f').split(',').filter((n) => LEVELS.includes(n));
  if (params.has('s')) out.sector = params.get('s');
  out.blacklisted = params.get('b') === '1';
  if (METHOD.test(params.get('m') || '')) out.method = params.get('m');
  out.detail = /^\d{1,10}$/.test(params.get('e') || '') ? Number(params.get('e')) : null;
  return out;
}

function buildHash() {
  const params = new URLSearchParams();
  params.set('m', currentMethod());
  if (riskMap && state.view) {
    const c = riskMap.map.getCenter();
    params.set('c', `${c.lat.toFixed(4)},${c.lng.toFixed(4)}`);
    params.set('z', String(Math.round(riskMap.map.getZoom() * 100) / 100));
  }
  const layers = [...state.layers];
  if (layers.sort().join() !== [...DEFAULT_LAYERS].sort().join()) params.set('l', layers.join(','));
  if (state.levels.size < LEVELS.length) params.set('f', [...state.levels].join(','));
  if (state.sector) params.set('s', state.sector);
  if (state.blacklisted) params.set('b', '1');
  if (state.detail) params.set('e', String(state.detail));
  const query = params.toString().replace(/%2C/g, ',').replace(/%2F/g, '/');
  return `#/${state.code || ''}${query ? `?${query}` : ''}`;
}

function writeHash(push) {
  const hash = buildHash();
  if (hash === location.hash) return;
  if (push) history.pushState(null, '', hash); else history.replaceState(null, '', hash);
}

// The map

const riskMap = new RiskMap($('#map'), {
  onDrill: (feature) => {
    const p = feature.properties;
    if (p.level_kind === 'grid') {
      riskMap.highlight(p.code);
      showGridPopup(feature);
      return;
    }
    navigate(p.code, { push: true });
  },
  onMoveEnd: () => { if (state.view && !state.fitting) writeHash(false); },
  onHover: (feature, event) => hoverCard(feature, event),
});
window.RiskAtlas = { state, riskMap };
const nearest = installNearestResources(riskMap, { canUse: () => canRead('emergency_resources'), toast });

function showGridPopup(feature) {
  const p = feature.properties;
  const rows = LEVELS.map((l) => `<span><i class="badge ${l}">${escapeHtml(t(`level.${l}.short`))}</i> ${num(p.counts ? p.counts[l] : 0)}</span>`).join('');
  L.popup().setLatLng([p.label[1], p.label[0]]).setContent(`<div class="popup"><h3>${escapeHtml(p.name)}</h3>
    <dl><dt>${escapeHtml(t('popup.level'))}</dt><dd>${p.regional_level ? levelBadge(p.regional_level) : escapeHtml(t('level.none'))}</dd>
    <dt>${escapeHtml(t('popup.warden'))}</dt><dd>${escapeHtml(p.warden || '–')}</dd>
    <dt>${escapeHtml(t('panel.openMajor'))}</dt><dd>${num(p.open_major_dangers || 0)}</dd></dl>
    <div class="counts">${rows}</div></div>`).openOn(riskMap.map);
}

function hoverCard(feature, event) {
  const card = $('#hovercard');
  if (!feature || !event || mobile()) {
    if (!card.hidden) { card.hidden = true; card.dataset.code = ''; markRanking(panelBody, null); }
    return;
  }
  const p = feature.properties;
  if (card.dataset.code !== p.code || card.hidden) {   // new content only for a new region
    const level = p.regional_level;
    card.innerHTML = `<b>${escapeHtml(p.name)}</b><br><span class="lv fill ${levelClass(level)}"></span>${escapeHtml(t(level ? `level.${level}` : 'level.none'))}
      · ${escapeHtml(t('panel.riskPoints'))} ${num(p.counts ? LEVELS.reduce((s, l) => s + p.counts[l], 0) : 0)}
      · ${escapeHtml(t('panel.enterprises'))} ${num(p.enterprises_total || 0)}`;
    card.dataset.code = p.code;
    card.hidden = false;
    markRanking(panelBody, p.code);
  }
  const x = Math.min(event.clientX + 14, window.innerWidth - card.offsetWidth - 8);
  const y = Math.min(event.clientY + 14, window.innerHeight - card.offsetHeight - 8);
  card.style.left = `${x}px`;
  card.style.top = `${y}px`;
}

// Drill-down

function currentMethod() {
  return state.method || state.settings.method;
}

/** The method as API query parameters. */
function methodQuery() {
  const [method, normalise] = currentMethod().split('/');
  return `&method=${method}${normalise ? `&normalise=${normalise}` : ''}`;
}

/** The drill-down step of `code`; without one the country, or with `home` the user's
 *  region (the deployment's home region for a user without one). boot.js asks the same. */
function viewUrl(code, home = false) {
  let url = `/api/map/view?detail=${detailFor(code)}`;
  if (code) url += `&code=${code}`;
  return url + methodQuery() + (home && !code ? '&home=true' : '');
}

/** Show a region (`code`), or without one the country — or, with `home`, the signed-in
 *  user's own region (the server's answer to a view without a code). The country's view is
 *  asked for as the public: region aggregates are everyone's, and a user with a region would
 *  otherwise be sent home. */
async function navigate(code, { push = false, center = null, zoom = null, fit = true, detail = null,
  home = false } = {}) {
  const ticket = ++state.request;
  let view;
  try {
    view = await firstOrFetch(viewUrl(code, home), { anonymous: !code && !home });
  } catch (error) {
    if (ticket !== state.request || isAbort(error)) return;
    if (error && error.status === 404 && code) {
      toast(fmt('nav.unknownRegion', { code }), 5000);
      navigate(null, { push: false });
      return;
    }
    renderPanelError(panelBody, error, () => navigate(code, { push, center, zoom, fit }));
    return;
  }
  if (ticket !== state.request) return;
  code = view.region.code || null;   // the user's region, when asked for home
  if (code !== state.code) riskMap.map.closePopup();   // a popup belongs to the view it was opened in
  state.code = code;
  state.view = view;
  state.detail = detail;
  state.filtered = null;
  riskMap.showChildren(view);
  riskMap.showSouthChinaSea(!code || view.region.level === 'province');
  $('#hovercard').hidden = true;
  // The new view's URL is written below (pushed for a drill step): a moveend of the fit
  // writing it first would replace the previous step's entry and Back would skip it.
  state.fitting = true;
  try {
    if (center && zoom !== null) riskMap.map.setView(center, zoom, { animate: false });
    else if (fit) riskMap.fitView(view, { animate: false });
  } finally {
    state.fitting = false;
  }
  renderBreadcrumb();
  renderAll();
  writeHash(push);
  if (detail) openDossier(detail);
  document.title = `${view.region.code ? view.region.name : t('country')} · ${t('app.title')}`;
  if (!document.body.dataset.ready && window.performance && performance.mark) performance.mark('ra-first-map');
  document.body.dataset.ready = 'true';
  document.body.dataset.code = code || '';
  document.body.dataset.method = currentMethod();
  loadTrend(ticket);
  loadFilteredCounts();
}

async function loadTrend(ticket) {
  const to = new Date();
  const from = new Date(to.getTime() - 90 * 86400000);
  const range = `from=${isoDay(from)}&to=${isoDay(to)}`;
  const method = methodQuery();
  const url = state.code ? `/api/risk/trend?region=${state.code}&${range}${method}` : `/api/map/trend?${range}${method}`;
  try {
    const trend = await getJSON(url);
    if (ticket === state.request) renderTrend(panelBody, trend);
  } catch (error) {
    if (ticket === state.request) renderTrend(panelBody, null);
  }
}

function renderAll() {
  if (!state.view) return;
  renderLegend();
  if (state.detail && state.dossier && state.dossier.enterprise.id === state.detail) {
    renderDossier(panelBody, state.dossier, { onBack: closeDossier, onLocate: locateEnterprise });
    return;
  }
  clearZones();     // a hazard source's setback zones belong to its dossier
  renderPanel(panelBody, state.view, {
    filtered: state.filtered,
    onChild: (code) => {
      const child = riskMap.byCode.get(code);
      if (child && child.feature.properties.level_kind === 'grid') {
        riskMap.map.fitBounds(child.layer.getBounds(), { maxZoom: 15 });
        showGridPopup(child.feature);
      } else {
        navigate(code, { push: true });
      }
      if (mobile()) setPanel(false);
    },
    onChildHover: (code) => riskMap.highlight(code),
  });
  renderCompare();
}

// Counts under the colour and sector filters (legend and panel say what the map shows)

/** The blacklist filter applies: asked for, and the caller reads enterprises. */
function listedOnly() {
  return state.blacklisted && canRead('enterprises');
}

function filtersOn() {
  return state.levels.size < LEVELS.length || Boolean(state.sector) || listedOnly();
}

/** Blacklisted enterprises in view by colour, in the caller's scope, under the colour and
 *  sector filters: numberMatched of the map's own GeoJSON filter, one small page a colour. */
async function listedCounts() {
  const counts = {};
  await Promise.all(LEVELS.map(async (level) => {
    if (!state.levels.has(level)) { counts[level] = 0; return; }
    const params = new URLSearchParams({ blacklisted: 'true', level, limit: '1' });
    if (state.code) params.set('region', state.code);
    if (state.sector) params.set('sector', state.sector);
    counts[level] = (await getJSON(`/api/features/enterprises?${params}`)).numberMatched;
  }));
  return counts;
}

async function loadFilteredCounts() {
  if (!filtersOn()) {
    if (state.filtered) { state.filtered = null; renderAll(); }
    return;
  }
  const params = new URLSearchParams();
  if (state.code) params.set('code', state.code);
  if (state.levels.size < LEVELS.length) params.set('level', [...state.levels].join(',') || 'none');
  if (state.sector) params.set('sector', state.sector);
  if (!state.view) return;
  const ticket = state.request;
  const r = state.view.region;
  try {
    // The colour and sector filters count every layer; the blacklist filter only enterprises.
    const [counts, listed] = await Promise.all([
      params.has('level') || params.has('sector') ? getJSON(`/api/map/counts?${params}`)
        : { risk_points: r.counts, enterprises: r.enterprises, public_zones: r.public_zones, hazard_sources: r.hazard_sources },
      listedOnly() ? listedCounts() : null,
    ]);
    if (ticket !== state.request) return;
    state.filtered = listed ? { ...counts, enterprises: listed } : counts;
    if (listed) params.set('blacklisted', 'true');
    renderAll();
    document.body.dataset.filteredCounts = params.toString();
  } catch (error) {
    if (ticket === state.request) { state.filtered = null; renderAll(); }
  }
}

// Comparing two dates (in the panel)

const compareState = { from: null, to: null, result: null, code: undefined };

function renderCompare() {
  const box = panelBody.querySelector('#compare');
  if (!box) return;
  const today = new Date();
  if (!compareState.from) {
    compareState.from = isoDay(new Date(today.getTime() - 30 * 86400000));
    compareState.to = isoDay(today);
  }
  const r = compareState.code === (state.code || '') ? compareState.result : null;
  box.innerHTML = `<h2>${escapeHtml(t('compare.title'))}</h2>
    <form id="compare-form"><label>${escapeHtml(t('compare.from'))} <input type="date" name="from" value="${escapeHtml(compareState.from)}" required></label>
    <label>${escapeHtml(t('compare.to'))} <input type="date" name="to" value="${escapeHtml(compareState.to)}" required></label>
    <button type="submit" class="btn">${escapeHtml(t('compare.run'))}</button></form>
    <div class="result" id="compare-result">${r ? compareResult(r) : ''}</div>`;
  box.querySelector('#compare-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.target;
    compareState.from = form.from.value;
    compareState.to = form.to.value;
    const region = state.code ? `&region=${state.code}` : '';
    try {
      const result = await getJSON(`/api/risk/compare?from=${compareState.from}&to=${compareState.to}${region}${methodQuery()}`);
      compareState.result = result;
      compareState.code = result.code;
      renderCompare();
    } catch (error) {
      box.querySelector('#compare-result').textContent = `${t('common.error')}: ${error.message || error}`;
    }
  });
}

function compareResult(r) {
  const arrow = (d) => `<b class="${d}">${escapeHtml(t(`compare.${d}`))}</b>`;
  const level = (l) => escapeHtml(t(l ? `level.${l}.short` : 'level.none'));
  const regions = r.regions.items.slice(0, 10).map((i) => `<li>${arrow(i.direction)} ${escapeHtml(i.name)} ${level(i.from_level)} → ${level(i.to_level)}</li>`).join('');
  const enterprises = r.enterprises.items.slice(0, 10).map((i) => `<li>${arrow(i.direction)} <a href="#" data-enterprise="${Number(i.id)}">${escapeHtml(i.name)}</a> ${level(i.from_level)} → ${level(i.to_level)}</li>`).join('');
  const dangers = r.major_dangers.items.slice(0, 10).map((i) => `<li>${escapeHtml(t(i.change === 'new' ? 'compare.new' : 'compare.closed', i.change))} ${escapeHtml(i.title)}</li>`).join('');
  const nothing = !r.regions.items.length && !r.enterprises.up && !r.enterprises.down
    && !r.major_dangers.new && !r.major_dangers.closed;
  return `<div id="compare-summary" data-regions-up="${r.regions.up}" data-regions-down="${r.regions.down}">
    <div>${escapeHtml(fmt('compare.regions', r.regions))}</div>${regions ? `<ul>${regions}</ul>` : ''}
    <div>${escapeHtml(fmt('compare.enterprises', r.enterprises))}</div>${enterprises ? `<ul>${enterprises}</ul>` : ''}
    <div>${escapeHtml(fmt('compare.dangers', r.major_dangers))}</div>${dangers ? `<ul>${dangers}</ul>` : ''}
    ${nothing ? `<div class="note">${escapeHtml(t('compare.none'))}</div>` : ''}</div>`;
}

panelBody.addEventListener('click', (e) => {
  const link = e.target.closest('#compare a[data-enterprise]');
  if (!link) return;
  e.preventDefault();
  openDossier(Number(link.dataset.enterprise), { push: true });
});

// The enterprise dossier in the panel

/** Show an enterprise's dossier in the panel; resolves to the dossier (null if it failed). */
async function openDossier(id, { push = false } = {}) {
  state.detail = id;
  writeHash(push);
  if (!canRead('enterprises')) {     // the public: sign in first (it opens afterwards)
    if (currentRole() === 'public') openLogin(t('auth.dossierNeedsSignIn'));
    else { toast(t('auth.layerNoAccess')); state.detail = null; writeHash(false); }
    return null;
  }
  if (mobile()) setPanel(true);
  try {
    const dossier = await getJSON(`/api/map/enterprises/${id}`);
    if (state.detail !== id) return null;
    state.dossier = dossier;
    renderAll();
    return dossier;
  } catch (error) {
    if (state.detail !== id) return null;
    toast(`${t('common.error')}: ${error.status === 404 ? t('search.none') : error.message}`);
    closeDossier();
    return null;
  }
}

function closeDossier() {
  state.detail = null;
  writeHash(false);
  renderAll();
  loadTrend(state.request);
}

function locateEnterprise(enterprise) {
  const [lng, lat] = enterprise.geometry.coordinates;
  if (!state.layers.has('enterprises')) { state.layers.add('enterprises'); applyLayers(); }
  riskMap.map.flyTo([lat, lng], Math.max(riskMap.map.getZoom(), 15), { duration: 0.6 });
  const marker = L.circleMarker([lat, lng], { pane: 'highlight', radius: 14, color: '#0f1f33',
    weight: 3, fill: false, interactive: false }).addTo(riskMap.highlightLayer);
  setTimeout(() => riskMap.highlightLayer.removeLayer(marker), 6000);
  if (mobile()) setPanel(false);
}

// Popups (a Leaflet popup stops clicks from bubbling, so listen while they go down)
$('#map').addEventListener('click', (e) => {
  const link = e.target.closest('a[data-enterprise]');
  if (!link) return;
  e.preventDefault();
  openDossier(Number(link.dataset.enterprise), { push: true });
}, true);

function renderBreadcrumb() {
  const nav = $('#breadcrumb');
  const items = [{ code: '', name: t('country') }, ...state.view.ancestors];
  if (state.code) items.push({ code: state.code, name: state.view.region.name, current: true });
  else items[0].current = true;
  nav.innerHTML = items.map((item, i) => {
    const sep = i ? '<span class="sep">›</span>' : '';
    return item.current ? `${sep}<span class="current" aria-current="page">${escapeHtml(item.name)}</span>`
      : `${sep}<a href="#/${escapeHtml(item.code)}" data-code="${escapeHtml(item.code)}" title="${escapeHtml(item.name)}">${escapeHtml(item.name)}</a>`;
  }).join('');
}

$('#breadcrumb').addEventListener('click', (e) => {
  const a = e.target.closest('a[data-code]');
  if (!a) return;
  e.preventDefault();
  navigate(a.dataset.code || null, { push: true });
});
$('.brand').addEventListener('click', (e) => { e.preventDefault(); navigate(null, { push: true }); });

function onLocationChange() {
  const wanted = parseHash();
  applyHashOptions(wanted);
  const methodChanged = wanted.method && wanted.method !== currentMethod();
  if (methodChanged) state.method = wanted.method;
  if (wanted.code !== state.code || !state.view || methodChanged) {
    navigate(wanted.code, { push: false, center: wanted.center, zoom: wanted.zoom ?? null, detail: wanted.detail });
    return;
  }
  if (wanted.detail !== state.detail) {
    if (wanted.detail) openDossier(wanted.detail); else closeDossier();
  }
  if (wanted.center) {
    const c = riskMap.map.getCenter();
    if (Math.abs(c.lat - wanted.center[0]) > 1e-3 || Math.abs(c.lng - wanted.center[1]) > 1e-3
        || Math.abs(riskMap.map.getZoom() - wanted.zoom) > 0.01) {
      riskMap.map.setView(wanted.center, wanted.zoom);
    }
  }
}
window.addEventListener('popstate', onLocationChange);
window.addEventListener('hashchange', onLocationChange);

function applyHashOptions(wanted) {
  let changed = false;
  if (wanted.layers) { state.layers = new Set(wanted.layers); changed = true; }
  if (wanted.levels) { state.levels = new Set(wanted.levels); changed = true; }
  if (wanted.sector !== undefined) { state.sector = wanted.sector; changed = true; }
  if (wanted.blacklisted !== state.blacklisted) { state.blacklisted = wanted.blacklisted; changed = true; }
  if (changed && state.view) applyLayers();
}

// Layers and filters (a map control)

const LAYER_ITEMS = [
  ['choropleth', () => '<span class="sym sym-choropleth"></span>'],
  ['boundaries', () => '<span class="sym"><svg viewBox="0 0 14 14" width="14" height="14"><path d="M1 9l4-6 4 3 4-4M1 13l5-3 7 2" fill="none" stroke="#7d8b9b" stroke-width="1.4"/></svg></span>'],
  ['enterprises', () => '<span class="sym sym-enterprises"></span>'],
  ['risk_points', () => '<span class="sym sym-risk-points"></span>'],
  ['hazard_sources', () => `<span class="sym">${gradeSymbolSvg(2, 14)}</span>`],
  ['public_zones', () => '<span class="sym sym-public-zones"></span>'],
  ['grid', () => '<span class="sym sym-grid"></span>'],
  ['emergency_resources', () => `<span class="sym">${resourceSymbolSvg('hospital', 14)}</span>`],
  ['hidden_dangers', () => '<span class="sym sym-hidden-dangers"></span>'],
  ['heat', () => '<span class="sym sym-heat"></span>'],
];

const LayersControl = L.Control.extend({
  options: { position: 'topright' },
  onAdd() {
    const div = L.DomUtil.create('div', 'leaflet-control ra-layers-wrap');
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    this.div = div;
    this.open = !mobile();
    this.render();
    return div;
  },
  render() {
    const div = this.div;
    if (!this.open) {
      div.innerHTML = `<button type="button" class="ra-layers-toggle" id="layers-open" title="${escapeHtml(t('layers.title'))}" aria-label="${escapeHtml(t('layers.title'))}">
        <svg viewBox="0 0 24 24" width="20" height="20"><path d="M12 3l9 5-9 5-9-5z" fill="#1b5ea8"/><path d="M3 12l9 5 9-5M3 16l9 5 9-5" fill="none" stroke="#1b5ea8" stroke-width="1.8"/></svg></button>`;
      div.querySelector('button').addEventListener('click', () => { this.open = true; this.render(); });
      return;
    }
    const layers = LAYER_ITEMS.map(([name, sym]) => {
      const lock = layerLock(name);
      if (lock) {
        // A located layer the caller may not read: shown, marked, and for the public a way
        // to sign in (it is not asked for, so it cannot fail).
        const why = t(lock === 'signin' ? 'auth.layerNeedsSignIn' : 'auth.layerNoAccess');
        const badge = lock === 'signin'
          ? `<button type="button" class="lock">${LOCK_SVG}${escapeHtml(t('auth.needSignIn'))}</button>`
          : `<span class="lock">${LOCK_SVG}${escapeHtml(t('auth.noAccess'))}</span>`;
        return `<label class="locked" data-locked="${lock}" title="${escapeHtml(why)}"><input type="checkbox" data-layer="${name}" disabled>${sym()}<span>${escapeHtml(t(`layers.${name}`))}</span>${badge}</label>`;
      }
      return `<label><input type="checkbox" data-layer="${name}" ${state.layers.has(name) ? 'checked' : ''}>${sym()}<span>${escapeHtml(t(`layers.${name}`))}</span></label>`;
    }).join('');
    const levels = LEVELS.map((l) => `<label title="${escapeHtml(t(`level.${l}`))}"><input type="checkbox" data-level="${l}" ${state.levels.has(l) ? 'checked' : ''}><span class="sym fill ${l}"></span>${escapeHtml(t(`level.${l}`))}</label>`).join('');
    const sectors = [`<option value="">${escapeHtml(t('layers.allSectors'))}</option>`, ...state.sectors.map((s) => `<option value="${escapeHtml(s.sector)}" ${s.sector === state.sector ? 'selected' : ''}>${escapeHtml(s.sector)} (${num(s.enterprises)})</option>`)].join('');
    div.innerHTML = `<div class="ra-control ra-layers" id="layers-control">
      <h3>${escapeHtml(t('layers.title'))}<button type="button" class="ra-collapse" id="layers-close" aria-label="close">✕</button></h3>
      ${layers}
      <div class="ra-zoomhint">${escapeHtml(t('layers.aggregated'))}</div>
      <div class="group"><div class="group-title">${escapeHtml(t('layers.levels'))}</div><div class="levels">${levels}</div></div>
      <div class="group"><div class="group-title">${escapeHtml(t('layers.sector'))}</div><select id="sector-filter">${sectors}</select></div>
      ${canRead('enterprises') ? `<div class="group"><label title="${escapeHtml(t('layers.blacklistedHint'))}"><input type="checkbox" id="blacklist-filter" ${state.blacklisted ? 'checked' : ''}><span class="sym sym-blacklist"></span>${escapeHtml(t('layers.blacklisted'))}</label></div>` : ''}
    </div>`;
    div.querySelector('#layers-close').addEventListener('click', () => { this.open = false; this.render(); });
    div.querySelectorAll('label.locked').forEach((label) => label.addEventListener('click', (e) => {
      e.preventDefault();
      if (label.dataset.locked === 'signin') openLogin(t('auth.layerNeedsSignIn'));
      else toast(t('auth.layerNoAccess'));
    }));
    div.querySelectorAll('input[data-layer]').forEach((input) => input.addEventListener('change', () => {
      if (input.checked) state.layers.add(input.dataset.layer); else state.layers.delete(input.dataset.layer);
      applyLayers();
      writeHash(false);
    }));
    div.querySelectorAll('input[data-level]').forEach((input) => input.addEventListener('change', () => {
      if (input.checked) state.levels.add(input.dataset.level); else state.levels.delete(input.dataset.level);
      applyLayers();
      writeHash(false);
    }));
    div.querySelector('#sector-filter').addEventListener('change', (e) => {
      state.sector = e.target.value;
      applyLayers();
      writeHash(false);
    });
    const listed = div.querySelector('#blacklist-filter');
    if (listed) {
      listed.addEventListener('change', () => {
        state.blacklisted = listed.checked;
        // The filter is on the enterprises layer: show it when the filter is turned on.
        if (listed.checked) state.layers.add('enterprises');
        applyLayers();
        writeHash(false);
      });
    }
  },
});

const LegendControl = L.Control.extend({
  options: { position: 'bottomright' },
  onAdd() {
    const div = L.DomUtil.create('div', 'leaflet-control ra-control ra-legend');
    div.id = 'legend';
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    this.div = div;
    this.collapsed = mobile();
    return div;
  },
});

// Located layers and the kind of rows each shows; the others (choropleth, boundaries, grid)
// are region aggregates anyone may see.
const LAYER_TABLE = { enterprises: 'enterprises', risk_points: 'risk_points',
  hazard_sources: 'hazard_sources', public_zones: 'public_zones',
  emergency_resources: 'emergency_resources', hidden_dangers: 'hidden_dangers',
  heat: 'risk_points' };
const LOCK_SVG = '<svg viewBox="0 0 24 24" width="12" height="12" aria-hidden="true"><rect x="5" y="11" width="14" height="10" rx="2" fill="currentColor"/><path d="M8 11V8a4 4 0 0 1 8 0v3" stroke="currentColor" stroke-width="2" fill="none"/></svg>';

/** Why a layer is not shown: 'signin' (the public), 'role' (the user's role), else null. */
function layerLock(name) {
  const table = LAYER_TABLE[name];
  if (!table || canRead(table)) return null;
  return currentRole() === 'public' ? 'signin' : 'role';
}

/** The layers asked for that the caller may see (the others stay wanted, in the URL). */
function shownLayers() {
  return new Set([...state.layers].filter((name) => !layerLock(name)));
}

const layersControl = new LayersControl().addTo(riskMap.map);
const legendControl = new LegendControl().addTo(riskMap.map);

function renderLegend() {
  const div = legendControl.div;
  if (!state.view) return;
  const r = state.view.region;
  const childCounts = {};
  for (const f of state.view.children.features) {
    const l = f.properties.regional_level || 'none';
    childCounts[l] = (childCounts[l] || 0) + 1;
  }
  const head = `<h3>${escapeHtml(t('legend.title'))}<button type="button" class="ra-collapse" id="legend-toggle" aria-label="toggle">${legendControl.collapsed ? '▴' : '▾'}</button></h3>`;
  if (legendControl.collapsed) {
    div.innerHTML = `${head}<div class="extra">${LEVELS.map((l) => `<span><i class="sw fill ${l}"></i>${escapeHtml(t(`level.${l}.short`))}</span>`).join('')}</div>`;
  } else {
    // Under a colour or sector filter, the counts of what the map shows.
    const f = state.filtered;
    const pick = (key, own) => (l) => (f ? (f[key] ? f[key][l] : null) : own[l]);
    const cols = [
      ['regions', t('legend.regions'), (l) => childCounts[l] || 0],
      ['risk_points', t('panel.riskPoints'), pick('risk_points', r.counts)],
      ['enterprises', t('panel.enterprises'), pick('enterprises', r.enterprises)],
      ['public_zones', t('panel.publicZones'), pick('public_zones', r.public_zones)],
    ];
    const rows = LEVELS.map((l) => `<tr><td class="lbl"><i class="sw fill ${l}"></i>${escapeHtml(t(`level.${l}`))}</td>${
      cols.map(([key, , value]) => `<td data-legend="${key}" data-level="${l}">${value(l) === null ? '–' : num(value(l))}</td>`).join('')}</tr>`).join('');
    const none = `<tr><td class="lbl"><i class="sw fill none"></i>${escapeHtml(t('level.none'))}</td><td data-legend="regions" data-level="none">${num(childCounts.none || 0)}</td><td></td><td></td><td></td></tr>`;
    const extras = [];
    const shown = shownLayers();
    if (shown.has('hazard_sources')) {
      const sources = state.filtered ? state.filtered.hazard_sources : r.hazard_sources;
      extras.push(...[1, 2, 3, 4].map((g) => `<span data-legend="hazard_sources" data-grade="${g}">${gradeSymbolSvg(g, 14)}${escapeHtml(gradeLabel(g))} ${num(sources[String(g)] || 0)}</span>`));
    }
    if (shown.has('emergency_resources')) {
      extras.push(`<span>${resourceSymbolSvg('fire_station', 14)}${resourceSymbolSvg('hospital', 14)}${resourceSymbolSvg('rescue_team', 14)}${resourceSymbolSvg('materials_depot', 14)} ${escapeHtml(t('legend.resources'))}</span>`);
    }
    if (shown.has('heat')) extras.push(`<span><i class="heat-bar"></i> ${escapeHtml(t('legend.heat'))}</span>`);
    if (riskMap.southChinaSea) extras.push(`<span><svg width="18" height="8" aria-hidden="true"><line x1="0" y1="4" x2="18" y2="4" stroke="#5b7590" stroke-width="2"/></svg> ${escapeHtml(t('legend.maritime'))}</span>`);
    const title = state.filtered ? ` <small>${escapeHtml(t('legend.filtered'))}</small>` : '';
    div.innerHTML = `${head.replace('<button', `${title}<button`)}<table><thead><tr><th></th>${cols.map(([, label]) => `<th>${escapeHtml(label)}</th>`).join('')}</tr></thead><tbody>${rows}${none}</tbody></table>${extras.length ? `<div class="extra">${extras.join('')}</div>` : ''}`;
  }
  div.querySelector('#legend-toggle').addEventListener('click', () => {
    legendControl.collapsed = !legendControl.collapsed;
    renderLegend();
  });
}

function applyLayers() {
  riskMap.setOverlays(shownLayers(), { levels: state.levels, sector: state.sector, blacklisted: listedOnly() });
  const filterKey = `${[...state.levels].join()}|${state.sector}|${listedOnly()}|${state.code}`;
  if (filterKey !== applyLayers.filterKey) { applyLayers.filterKey = filterKey; loadFilteredCounts(); }
  if (layersControl.div && layersControl.open) {
    layersControl.div.querySelectorAll('input[data-layer]:not(:disabled)').forEach((i) => { i.checked = state.layers.has(i.dataset.layer); });
    layersControl.div.querySelectorAll('input[data-level]').forEach((i) => { i.checked = state.levels.has(i.dataset.level); });
    const listed = layersControl.div.querySelector('#blacklist-filter');
    if (listed) listed.checked = state.blacklisted;
  }
  renderLegend();
}

// Search

const searchInput = $('#search-input');
const searchList = $('#search-results');
let searchController = null;
let searchItems = [];
let searchIndex = -1;

const runSearch = debounce(async () => {
  const q = searchInput.value.trim();
  if (!q) { searchList.hidden = true; return; }
  if (searchController) searchController.abort();
  searchController = new AbortController();
  try {
    const data = await getJSON(`/api/search?q=${encodeURIComponent(q)}&limit=8`, { signal: searchController.signal });
    searchItems = data.items;
    searchIndex = searchItems.length ? 0 : -1;
    renderSearch();
  } catch (error) {
    if (!isAbort(error)) { searchItems = []; renderSearch(); }
  }
}, 220);

function renderSearch() {
  if (!searchItems.length) {
    searchList.innerHTML = `<li class="empty">${escapeHtml(t('search.none'))}</li>`;
  } else {
    searchList.innerHTML = searchItems.map((item, i) => `<li role="option" data-index="${i}" aria-selected="${i === searchIndex}">
      <span class="kind ${escapeHtml(item.type)}">${escapeHtml(t(`search.${item.type}`))}</span>
      <span class="name">${escapeHtml(item.name)}</span>
      <span class="ctx">${escapeHtml(item.type === 'enterprise' ? `${item.context} · ${item.substance || item.credit_code}` : item.context)}</span></li>`).join('');
  }
  searchList.hidden = false;
}

async function chooseResult(item) {
  searchList.hidden = true;
  searchInput.value = item.name;
  searchInput.blur();
  if (mobile()) setPanel(false);
  if (item.type === 'region') {
    await navigate(item.code, { push: true });
    return;
  }
  if (!state.layers.has('enterprises')) { state.layers.add('enterprises'); applyLayers(); }
  await navigate(item.county_code, { push: true, fit: false, center: [item.lat, item.lon], zoom: 15 });
  riskMap.map.flyTo([item.lat, item.lon], 15, { duration: 0.6 });
  const marker = L.circleMarker([item.lat, item.lon], { pane: 'highlight', radius: 14, color: '#0f1f33',
    weight: 3, fill: false, interactive: false }).addTo(riskMap.highlightLayer);
  // The panel shows the dossier beside the map; a phone keeps the map and shows the popup.
  const dossier = mobile() ? await getJSON(`/api/map/enterprises/${item.id}`).catch(() => null)
    : await openDossier(item.id);
  const d = dossier ? dossier.enterprise : item;
  const facts = factList([
    [t('popup.level'), levelBadge(d.risk_level || item.level)],
    [t('popup.sector'), escapeHtml(d.sector)],
    [t('popup.credit'), escapeHtml(d.credit_code)],
    [t('dossier.address'), escapeHtml(d.address)],
    [t('popup.contact'), d.responsible_person ? `${escapeHtml(d.responsible_person)} ${phoneLink(d.responsible_phone)}` : null],
  ]);
  L.popup({ maxWidth: 300 }).setLatLng([item.lat, item.lon]).setContent(`<div class="popup"><h3>${escapeHtml(d.name)}</h3>${facts}
    <a class="more" href="#" data-enterprise="${Number(item.id)}">${escapeHtml(t('dossier.open'))} →</a></div>`).openOn(riskMap.map);
  setTimeout(() => riskMap.highlightLayer.removeLayer(marker), 6000);
}

searchInput.addEventListener('input', runSearch);
searchInput.addEventListener('keydown', (e) => {
  if (searchList.hidden || !searchItems.length) return;
  if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
    e.preventDefault();
    searchIndex = (searchIndex + (e.key === 'ArrowDown' ? 1 : -1) + searchItems.length) % searchItems.length;
    renderSearch();
  } else if (e.key === 'Enter' && searchIndex >= 0) {
    e.preventDefault();
    chooseResult(searchItems[searchIndex]);
  } else if (e.key === 'Escape') {
    searchList.hidden = true;
  }
});
searchList.addEventListener('mousedown', (e) => {
  const li = e.target.closest('li[data-index]');
  if (li) { e.preventDefault(); chooseResult(searchItems[Number(li.dataset.index)]); }
});
searchInput.addEventListener('blur', () => setTimeout(() => { searchList.hidden = true; }, 150));
searchInput.addEventListener('focus', () => { if (searchItems.length && searchInput.value.trim()) renderSearch(); });

// Panel (collapsible; a bottom sheet on phones)

function setPanel(open) {
  document.body.classList.toggle('panel-collapsed', !open);
  $('#panel-toggle').setAttribute('aria-expanded', String(open));
  setTimeout(() => riskMap.invalidate(), 220);
}
$('#panel-toggle').addEventListener('click', () => setPanel(document.body.classList.contains('panel-collapsed')));
if (mobile()) setPanel(false);

// Settings, basemap, language

const dialog = $('#settings-dialog');
$('#btn-settings').addEventListener('click', () => {
  const form = $('#settings-form');
  form.basemap.value = state.settings.basemap;
  form.tdtKey.value = state.settings.tdtKey || '';
  form.method.value = currentMethod().split('/')[0];
  form.lang.value = getLang();
  dialog.showModal();
});
dialog.addEventListener('close', () => {
  if (dialog.returnValue !== 'save') return;
  const form = $('#settings-form');
  const methodChanged = form.method.value !== currentMethod().split('/')[0];
  state.settings = { basemap: form.basemap.value, tdtKey: form.tdtKey.value.trim(), method: form.method.value };
  state.method = form.method.value;
  localStorage.setItem(SETTINGS_KEY, JSON.stringify(state.settings));
  applyBasemap();
  if (form.lang.value !== getLang()) switchLanguage(form.lang.value);
  if (methodChanged) {
    const c = riskMap.map.getCenter();
    navigate(state.code, { center: [c.lat, c.lng], zoom: riskMap.map.getZoom(), push: true });
  }
});

function applyBasemap() {
  const { basemap, tdtKey } = state.settings;
  if (basemap.startsWith('tdt') && !tdtKey) toast(t('settings.tdtKeyMissing'));
  riskMap.setBasemap(basemap, tdtKey);
}

function switchLanguage(lang) {
  setLang(lang);
  applyI18n();
  $('#btn-lang').textContent = getLang() === 'en' ? '中文' : 'EN';
  renderAccount();
  layersControl.render();
  nearest.relabel();
  if (state.view) { renderBreadcrumb(); renderAll(); loadTrend(state.request); }
}
$('#btn-lang').addEventListener('click', () => switchLanguage(getLang() === 'en' ? 'zh' : 'en'));


// Export

const exportMenu = $('#export-menu');
$('#btn-export').addEventListener('click', (e) => {
  e.stopPropagation();
  exportMenu.hidden = !exportMenu.hidden;
  $('#btn-export').setAttribute('aria-expanded', String(!exportMenu.hidden));
  exportMenu.querySelector('[data-export="html"]').disabled = !state.code;
  exportMenu.querySelector('[data-export="html"]').title = state.code ? '' : t('export.htmlNeedsRegion');
});
document.addEventListener('click', () => { exportMenu.hidden = true; });
exportMenu.querySelector('.print-row').addEventListener('click', (e) => e.stopPropagation());
exportMenu.addEventListener('click', async (e) => {
  const button = e.target.closest('button[data-export]');
  if (!button || !state.view) return;
  exportMenu.hidden = true;
  const kind = button.dataset.export;
  if (kind === 'html' && !state.code) { toast(t('export.htmlNeedsRegion')); return; }
  if (kind === 'print') {
    // The server draws the vector PDF (imprint, inset and all): open it with the user's token.
    const params = new URLSearchParams({ paper: $('#print-paper').value,
      orientation: $('#print-orientation').value, points: exportPoints(), download: 'true' });
    if (state.code) params.set('code', state.code);
    const [method, normalise] = currentMethod().split('/');
    params.set('method', method);
    if (normalise) params.set('normalise', normalise);
    toast(t('export.working'), 8000);
    try {
      const name = await exportPrintPdf(`/api/exports/print.pdf?${params}`,
        `riskatlas-${state.code || 'china'}-${params.get('paper')}.pdf`);
      toast(`${t('export.done')}: ${name}`);
    } catch (error) {
      toast(`${t('export.failed')}: ${error.message || error}`);
    }
    return;
  }
  toast(t('export.working'), 8000);
  try {
    const name = kind === 'html' ? await exportOfflineHtml(state, exportPoints())
      : await exportView(kind, state, riskMap);
    const skipped = kind !== 'html' && riskMap.basemapKind && riskMap.basemapKind !== 'none';
    toast(`${t('export.done')}: ${name}${skipped ? ` (${t('export.basemapSkipped')})` : ''}`);
  } catch (error) {
    console.warn('export', error);
    toast(`${t('export.failed')}: ${error.message || error}`);
  }
});

/** Which points the offline HTML map carries: the first shown of enterprises, risk points,
 *  hazard sources and public zones, else the first of them the user may read (the public's
 *  file has none). */
function exportPoints() {
  const kinds = ['enterprises', 'risk_points', 'hazard_sources', 'public_zones'];
  const shown = shownLayers();
  return kinds.find((k) => shown.has(k)) || kinds.find((k) => canRead(k)) || 'enterprises';
}

// Signing in and out

const loginDialog = $('#login-dialog');
const loginForm = $('#login-form');
const loginError = $('#login-error');

function openLogin(reason = '') {
  if (loginDialog.open) return;
  loginForm.reset();
  loginError.hidden = true;
  $('#login-reason').textContent = reason;
  $('#login-reason').hidden = !reason;
  $('#login-submit').disabled = false;
  $('#login-submit').textContent = t('auth.submit');
  loginDialog.showModal();
  loginForm.username.focus();
}

function loginMessage(error) {
  if (error instanceof SignInError) {
    if (error.status === 401 || error.status === 422) return t('auth.error.credentials');
    if (error.status === 429) return t('auth.error.throttled');
    if (error.status === 0) return t('auth.error.network');
  }
  return t('auth.error.other');
}

loginForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const username = loginForm.username.value.trim();
  const password = loginForm.password.value;
  const submit = $('#login-submit');
  if (!username || !password) {
    loginError.textContent = t('auth.error.missing');
    loginError.hidden = false;
    return;
  }
  submit.disabled = true;
  submit.textContent = t('auth.working');
  loginError.hidden = true;
  try {
    await signIn(username, password);   // onAuthChange('signin') redraws the map
    loginDialog.close();
  } catch (error) {
    loginError.textContent = loginMessage(error);
    loginError.hidden = false;
    loginForm.password.value = '';
    loginForm.password.focus();
  } finally {
    submit.disabled = false;
    submit.textContent = t('auth.submit');
  }
});
$('#login-cancel').addEventListener('click', () => loginDialog.close());
loginDialog.addEventListener('close', () => {
  // A dossier asked for from the URL waits for a sign-in; without one, the region stays.
  if (currentRole() === 'public' && state.detail) { state.detail = null; writeHash(false); }
});
$('#btn-login').addEventListener('click', () => openLogin());

/** The search box says what it finds: regions only for the public (and for roles that read
 *  no enterprises); the hint to sign in where there is room for it. */
function searchPlaceholder() {
  const key = canRead('enterprises') ? 'search.placeholder'
    : mobile() || currentRole() !== 'public' ? 'search.placeholderPublicShort' : 'search.placeholderPublic';
  searchInput.placeholder = t(key);
}

/** What the header says about the user: name · role · scope (· department). */
function accountLine(user) {
  const scope = user.scope || {};
  const parts = [user.display_name || user.username, t(`role.${user.role}`, user.role)];
  if (user.role === 'enterprise') parts.push(user.labels.enterprise || `${t('auth.enterprise')} ${scope.enterprise_id}`);
  else parts.push(scope.region ? (user.labels.region || scope.region) : t('auth.allRegions'));
  if (scope.department) parts.push(scope.department);
  if (scope.grid_cells && scope.grid_cells.length) parts.push(`${num(scope.grid_cells.length)} ${t('auth.gridCount')}`);
  return parts.join(' · ');
}

function renderAccount() {
  const user = currentUser();
  $('#btn-login').hidden = Boolean(user);
  $('#account-wrap').hidden = !user;
  $('#btn-signout').hidden = !user;
  $('#account-menu').hidden = true;
  $('#account-chip').setAttribute('aria-expanded', 'false');
  searchPlaceholder();
  if (!user) return;
  // The other pages this role works in (same tab: the sign-in is this tab's).
  $('#link-data').hidden = !['admin', 'official'].includes(user.role);
  $('#link-plan').hidden = !['admin', 'official', 'planner'].includes(user.role);
  const line = accountLine(user);
  $('#account-text').textContent = line;
  $('#account-chip').title = line;
  const scope = user.scope || {};
  const region = scope.region ? `${user.labels.region || ''} (${scope.region})` : t('auth.allRegions');
  $('#account-details').innerHTML = factList([
    [t('auth.user'), escapeHtml(user.display_name ? `${user.display_name} (${user.username})` : user.username)],
    [t('auth.role'), escapeHtml(t(`role.${user.role}`, user.role))],
    [t('auth.scope'), escapeHtml(user.role === 'enterprise' ? user.labels.enterprise || scope.enterprise_id : region)],
    [t('auth.department'), scope.department ? escapeHtml(scope.department) : null],
    [t('auth.gridCells'), scope.grid_cells && scope.grid_cells.length ? escapeHtml(scope.grid_cells.join('、')) : null],
  ], 'facts');
}

$('#account-chip').addEventListener('click', (e) => {
  e.stopPropagation();
  const menu = $('#account-menu');
  menu.hidden = !menu.hidden;
  $('#account-chip').setAttribute('aria-expanded', String(!menu.hidden));
});
$('#account-menu').addEventListener('click', (e) => e.stopPropagation());
document.addEventListener('click', () => {
  $('#account-menu').hidden = true;
  $('#account-chip').setAttribute('aria-expanded', 'false');
});
// Escape closes an open header menu and gives the focus back to its button.
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape') return;
  for (const [menu, button] of [[exportMenu, $('#btn-export')], [$('#account-menu'), $('#account-chip')]]) {
    if (menu.hidden) continue;
    menu.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    button.focus();
  }
});
$('#btn-signout').addEventListener('click', () => signOut());
$('#btn-signout-menu').addEventListener('click', () => signOut());

/** Is `code` inside the region `home` (GB/T 2260 prefixes: 2 digits a province, 4 a city)? */
function inside(code, home) {
  const prefix = home.endsWith('0000') ? home.slice(0, 2) : home.endsWith('00') ? home.slice(0, 4) : home;
  return Boolean(code) && code.startsWith(prefix);
}

onAuthChange((kind) => {
  if (kind === 'refresh') return;       // the same user with a new token
  renderAccount();
  // Another user, none, or the same with another role or scope: nothing drawn for the
  // previous one stays.
  riskMap.resetOverlays();
  clearZones();
  riskMap.map.closePopup();
  layersControl.render();
  if (kind === 'user') {
    if (state.view) applyLayers();
    loadSectors();
    return;
  }
  state.dossier = null;
  // Search results of the previous user are not offered to the next.
  searchItems = [];
  searchList.hidden = true;
  searchInput.value = '';
  if (kind === 'signin') {
    const user = currentUser();
    toast(`${t('auth.signedIn')}${accountLine(user)}`);
    const home = user.scope && user.scope.region;
    // Stay where the map is when the user sees it (or a dossier waits), else go home.
    const stay = state.detail || !home || inside(state.code, home);
    const c = riskMap.map.getCenter();
    const keep = stay && state.view ? { center: [c.lat, c.lng], zoom: riskMap.map.getZoom() } : {};
    navigate(stay ? state.code : null, { home: !stay, detail: state.detail, push: !stay, ...keep })
      .finally(() => { applyLayers(); loadSectors(); });
  } else {
    toast(t(kind === 'expired' ? 'auth.expired' : 'auth.signedOut'));
    state.detail = null;
    navigate(null, { push: true }).finally(() => { applyLayers(); loadSectors(); });
    if (kind === 'expired') openLogin(t('auth.expired'));
  }
});

// Start

async function loadSectors() {
  try {
    state.sectors = await getJSON('/api/map/sectors');
    if (layersControl.open) layersControl.render();
  } catch (e) { state.sectors = []; }
}

applyI18n();
$('#btn-lang').textContent = getLang() === 'en' ? '中文' : 'EN';
renderAccount();
revalidate();     // a stored session: still good? (a revoked one ends here)
applyBasemap();
const initial = parseHash();
if (initial.layers) state.layers = new Set(initial.layers);
if (initial.levels) state.levels = new Set(initial.levels);
if (initial.sector !== undefined) state.sector = initial.sector;
state.blacklisted = initial.blacklisted;
if (initial.method) state.method = initial.method;
getJSON('/api/map/cartography').then((data) => {
  riskMap.setCartography(data);
  state.cartography = data;
  renderLegend();
}).catch(() => {});
// The choropleth first; the tile layers once it is drawn (they would compete for the server).
navigate(initial.code, { push: false, center: initial.center, zoom: initial.zoom ?? null, detail: initial.detail,
  home: true })
  .finally(() => { applyLayers(); loadSectors(); });
window.addEventListener('resize', debounce(() => { riskMap.invalidate(); searchPlaceholder(); }, 150));
