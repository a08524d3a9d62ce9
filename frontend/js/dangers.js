// The hidden-danger closed loop (隐患排查治理闭环) beside the map: a list with filters, a
// detail view with the timeline, evidence photos and forms for the next allowed steps, the
// officials' inbox, and the tabs for spot checks, the key-supervision list and overdue
// inspections (overdue.js). Enterprise
// accounts see and act on their own dangers (the server scopes every answer). Steps, their
// roles and required inputs come from the server (/api/hidden-dangers/lifecycle), which
// reads them from geodata/dangers. The leads tab (leads.js) lists patrol leads and tip-offs.
/* global L */

import { getJSON, isoDay } from './api.js';
import { authFetch, canRead, currentRole, currentUser, onAuthChange } from './auth.js';
import './i18n-dangers.js';
import { applyI18n, num, t } from './i18n.js';
import { escapeHtml, factList } from './fragments.js';
import { renderKeyList } from './keylist.js';
import { renderLeads, resetLeads } from './leads.js';
import { renderOverdue } from './overdue.js';
import { installDangerLayer } from './dangers-layer.js';
import { renderSpotChecks } from './spotchecks.js';

const PAGE = 50;
const OFFICIAL_ROLES = ['admin', 'official'];
const LEAD_READERS = ['admin', 'official', 'warden'];   // GET /api/leads (deciders: officials)
const $ = (selector, root = document) => root.querySelector(selector);

const view = $('#dangers-view');
const body = $('#dangers-body');
const opener = $('#btn-dangers');

const state = {
  tab: 'list',
  filters: { region: '', grade: '', status: '', overdue: '', supervision_level: '', sector: '' },
  offset: 0,
  lifecycle: null,
  sectors: null,
  detail: null,      // the id of the danger shown, or null for the tab's list
  shown: 0,          // bumped by every render: an answer for an older one is dropped
};

/** A check for async renderers: still the view they were started for? */
function current() {
  const ticket = state.shown;
  return () => ticket === state.shown;
}

/** Text with {name} placeholders filled. */
export function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));
}

/** POST JSON (or a FormData) with the user's token; resolves to the parsed answer, or
 *  rejects with {status, detail, field, allowed} taken from the error body and what was sent. */
export async function send(url, payload, method = 'POST') {
  const options = { method, headers: { Accept: 'application/json' } };
  if (payload instanceof FormData) options.body = payload;
  else if (payload !== undefined) {
    options.body = JSON.stringify(payload);
    options.headers['Content-Type'] = 'application/json';
  }
  const response = await authFetch(url, options);
  let answer = null;
  try { answer = await response.json(); } catch (e) { answer = null; }
  if (!response.ok) {
    const error = new Error((answer && answer.detail) || `${response.status}`);
    error.status = response.status;
    error.detail = answer && answer.detail;
    error.allowed = answer && answer.allowed;
    error.field = answer && answer.field;
    if (!(payload instanceof FormData)) error.sent = payload;
    throw error;
  }
  return answer;
}

/** The message an error shows, in the interface's language: the refusal the server's `field`
 *  and `allowed` describe (plan items, grades, levels and actions by their names). */
export function errorText(error) {
  return `${t('dz.failed')}${refusal(error)}`;
}

const listed = (values, label) => values.map(label).join('、');
const gradeName = (grade) => t(`danger.${grade}`, grade);
const levelName = (level) => t(`dz.level.${level}`, level);
const choices = (text, allowed, label) => (allowed.length ? `${text} · ${t('dz.err.choose')}${listed(allowed, label)}` : text);

function refusal(error) {
  const { status } = error;
  const field = error.field || '';
  const allowed = error.allowed || [];
  const sent = error.sent || {};
  if (status === undefined) return error instanceof TypeError ? t('dz.err.network') : String(error.message);
  if (field.startsWith('plan.')) return planRefusal(field.slice(5), allowed, sent.plan || {});
  if (status === 409 && field === 'action') {
    return `${t('dz.err.illegal')}${allowed.length ? ` · ${t('dz.allowed')}${listed(allowed, actionName)}` : ''}`;
  }
  if (status === 401) return t('dz.err.signin');
  if (status === 403) return t('dz.err.forbidden');
  if (status === 404) return t('dz.err.notFound');
  if (status === 413) return t('dz.err.tooLarge');
  if (status === 429) return t('dz.err.tooMany');
  if (status >= 500) return t('dz.err.unavailable');
  // What the client sent tells a missing input from a refused one.
  if (field === 'grade') return choices(t(sent.grade ? 'dz.err.grade' : 'dz.err.gradeMissing'), allowed, gradeName);
  if (field === 'supervision_level') {
    return choices(t(sent.supervision_level ? 'dz.err.level' : 'dz.err.levelMissing'), allowed, levelName);
  }
  if (field === 'deadline') return t(sent.deadline ? 'dz.err.deadlinePast' : 'dz.err.deadlineMissing');
  if (field === 'note') return t('dz.err.note');
  if (field === 'evidence') return t('dz.err.evidence');
  if (field === 'evidence.photos') return t('dz.err.photos');
  if (field === 'lon,lat') return t('dz.err.place');
  const label = t(`dz.err.field.${field}`, field);
  const count = /names (\d+)–(\d+) \w+, not (\d+)/.exec(String(error.detail));
  if (count) return `${label}${fill(t('dz.err.count'), { low: count[1], high: count[2], n: count[3] })}`;
  if (field) return choices(`${t('dz.err.invalid')}${label}`, allowed, String);
  return String(error.detail || error.message);
}

/** A plan refused: the items missing (of those the client sent blank), by their names. */
function planRefusal(item, allowed, plan) {
  const kinds = (state.lifecycle && state.lifecycle.plan_items) || {};
  const items = Object.values(kinds).find((list) => list.length === allowed.length
    && list.every((entry) => allowed.includes(entry.item))) || [];
  const label = (name) => (items.find((entry) => entry.item === name) || {}).name_zh || name;
  if (!allowed.includes(item)) return `${t('dz.err.notItem')}${item}`;
  const missing = allowed.filter((name) => !String(plan[name] || '').trim());
  return `${t('dz.err.missing')}${listed(missing.length ? missing : [item], label)}`;
}

function isOfficial() { return OFFICIAL_ROLES.includes(currentRole()); }

async function lifecycle() {
  if (!state.lifecycle) state.lifecycle = await getJSON('/api/hidden-dangers/lifecycle');
  return state.lifecycle;
}

function actionName(action) {
  const step = state.lifecycle && state.lifecycle.steps.find((s) => s.action === action);
  if (step) return step.name_zh;
  return t(`dz.action.${action}`, action);
}

// The enterprise by its name (escaped), its id beside it.
const enterpriseText = (d) => (d.enterprise_name
  ? `${escapeHtml(d.enterprise_name)} (${Number(d.enterprise_id)})`
  : `${escapeHtml(t('dz.col.enterprise'))} ${Number(d.enterprise_id)}`);
const gradeTag = (grade) => `<span class="tag ${escapeHtml(grade)}">${escapeHtml(t(`danger.${grade}`, grade))}</span>`;
const statusText = (status) => escapeHtml(t(`status.${status}`, status));
const levelText = (level) => (level ? escapeHtml(t(`dz.level.${level}`, level)) : '–');
const day = (iso) => (iso ? escapeHtml(iso.slice(0, 10)) : '–');
// Times in China Standard Time, whatever the browser's zone (the lifecycle's dates are China's).
const CST = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit',
  day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false });
const when = (iso) => (iso ? escapeHtml(CST.format(new Date(iso))) : '–');

// Opening and closing, tabs

function setOpen(open) {
  view.hidden = !open;
  document.body.classList.toggle('dangers-open', open);
  opener.setAttribute('aria-pressed', String(open));
  // The map and panel it covers are out of the tab order and of assistive reading.
  for (const covered of document.querySelectorAll('#panel, #map')) covered.inert = open;
  if (open) render();
}

function showOpener() {
  const user = currentUser();
  opener.hidden = !(user && canRead('hidden_dangers'));
  if (opener.hidden && !view.hidden) setOpen(false);
  view.querySelectorAll('[data-tab]').forEach((tab) => {
    // Leads and overdue inspections: officials and wardens (a warden's own cells first).
    if (['leads', 'overdue'].includes(tab.dataset.tab)) tab.hidden = !LEAD_READERS.includes(currentRole());
    else tab.hidden = tab.dataset.tab !== 'list' && !isOfficial();
  });
}

opener.addEventListener('click', () => setOpen(view.hidden));
$('#dangers-close').addEventListener('click', () => setOpen(false));
document.addEventListener('keydown', (e) => {
  // Escape leaves the view, unless a dialog (which Escape closes itself) is open over it.
  if (e.key !== 'Escape' || view.hidden || document.querySelector('dialog[open]')) return;
  setOpen(false);
  opener.focus();
});
view.querySelector('.dz-tabs').addEventListener('click', (e) => {
  const tab = e.target.closest('[data-tab]');
  if (!tab) return;
  state.tab = tab.dataset.tab;
  state.detail = null;
  if (state.tab === 'leads') resetLeads();
  render();
});

/** Open one danger's detail (the map layer's popups link here). The detail is a history
 *  entry of the same address: the browser's Back returns to the list, not the map's last
 *  region (app.js sees the same hash and leaves the map where it is). */
export function openDanger(id) {
  if (!(history.state && history.state.dzDetail === id)) history.pushState({ dzDetail: id }, '', location.href);
  state.detail = id;
  if (view.hidden) setOpen(true); else render();
}

window.addEventListener('popstate', (event) => {
  const wanted = (event.state && event.state.dzDetail) || null;
  if (view.hidden || wanted === state.detail) return;
  state.detail = wanted;
  render();
});

function render() {
  state.shown += 1;
  view.querySelectorAll('[data-tab]').forEach((tab) => {
    tab.setAttribute('aria-selected', String(tab.dataset.tab === state.tab));
  });
  if (state.detail) { renderDetail(state.detail); return; }
  if (state.tab === 'inbox') renderInbox();
  else if (state.tab === 'spot') renderSpotChecks(body, { send, fill, errorText });
  else if (state.tab === 'key') renderKeyList(body, { send, fill, errorText });
  else if (state.tab === 'overdue') renderOverdue(body, { fill, errorText, openEnterprise });
  else if (state.tab === 'leads') renderLeads(body, { send, fill, showOnMap: showLead, openEnterprise });
  else renderList();
}

// A lead's place on the map: the view closes, the map flies there and rings the point
// until the next lead is shown (the 隐患治理 button returns to the lead).
let leadMarker = null;
function showLead(lead) {
  const riskMap = window.RiskAtlas && window.RiskAtlas.riskMap;
  if (!riskMap) return;
  setOpen(false);
  if (leadMarker) riskMap.map.removeLayer(leadMarker);
  leadMarker = L.circleMarker([lead.lat, lead.lon], { radius: 12, color: '#6b2f8a', weight: 3, fillOpacity: 0.15, className: 'lead-marker' })
    .bindTooltip(`${escapeHtml(t('leads.tab'))} #${Number(lead.id)} · ${escapeHtml(lead.kind_zh)}`, { permanent: true, direction: 'top' })
    .addTo(riskMap.map);
  riskMap.map.flyTo([lead.lat, lead.lon], Math.max(riskMap.map.getZoom(), 15), { duration: 0.6 });
}

/** The enterprise a lead names: its dossier in the map's panel. */
function openEnterprise(id) {
  setOpen(false);
  const code = (window.RiskAtlas && window.RiskAtlas.state.code) || '';
  location.hash = `#/${code}?e=${Number(id)}`;
}

function message(root, text, kind = 'error') {
  const box = $('.dz-message', root);
  if (!box) return;
  box.textContent = text;
  box.className = `dz-message ${kind}`;
  box.hidden = !text;
}

// The list

function options(values, selected) {
  return [`<option value="">${escapeHtml(t('dz.filter.all'))}</option>`,
    ...values.map(([value, text]) => `<option value="${escapeHtml(value)}" ${value === selected ? 'selected' : ''}>${escapeHtml(text)}</option>`)]
    .join('');
}

async function renderList() {
  const still = current();
  const rules = await lifecycle();
  if (!state.sectors) state.sectors = await getJSON('/api/map/sectors').catch(() => []);
  if (!still()) return;
  const f = state.filters;
  const user = currentUser();
  if (!f.region && user && user.scope && user.scope.region) f.region = user.scope.region;
  const field = (name, label, control) => `<label class="dz-field"><span>${escapeHtml(label)}</span>${control}</label>`;
  body.innerHTML = `
    <form class="dz-filters" id="dz-filters">
      ${field('region', t('dz.filter.region'), `<input name="region" inputmode="numeric" maxlength="6" pattern="\\d{2,6}" value="${escapeHtml(f.region)}">`)}
      ${field('grade', t('dz.filter.grade'), `<select name="grade">${options(rules.grades.map((g) => [g.grade, t(`danger.${g.grade}`, g.name_zh)]), f.grade)}</select>`)}
      ${field('status', t('dz.filter.status'), `<select name="status">${options(rules.statuses.map((s) => [s.status, t(`status.${s.status}`, s.name_zh)]), f.status)}</select>`)}
      ${field('overdue', t('dz.filter.overdue'), `<select name="overdue">${options([['true', t('dz.yes')], ['false', t('dz.no')]], f.overdue)}</select>`)}
      ${field('supervision_level', t('dz.filter.supervision'), `<select name="supervision_level">${options(rules.supervision_levels.map((l) => [l.level, t(`dz.level.${l.level}`, l.name_zh)]), f.supervision_level)}</select>`)}
      ${field('sector', t('dz.filter.sector'), `<select name="sector">${options(state.sectors.map((s) => [s.sector, s.sector]), f.sector)}</select>`)}
      <div class="dz-buttons"><button type="submit" class="dz-btn primary">${escapeHtml(t('dz.filter.apply'))}</button>
      ${canReport() ? `<button type="button" class="dz-btn" id="dz-report">${escapeHtml(t('dz.report'))}</button>` : ''}</div>
    </form>
    <div class="dz-message" hidden></div>
    <div id="dz-report-form"></div>
    <div id="dz-results"><div class="skeleton"></div></div>`;
  const form = $('#dz-filters', body);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    for (const name of Object.keys(state.filters)) state.filters[name] = form.elements[name].value.trim();
    state.offset = 0;
    loadList();
  });
  const report = $('#dz-report', body);
  if (report) report.addEventListener('click', () => renderReportForm());
  loadList();
}

function canReport() {
  return ['admin', 'official', 'enterprise'].includes(currentRole());
}

async function loadList() {
  const results = $('#dz-results', body);
  if (!results) return;
  const params = new URLSearchParams({ limit: String(PAGE), offset: String(state.offset) });
  for (const [name, value] of Object.entries(state.filters)) if (value) params.set(name, value);
  let page;
  try {
    page = await getJSON(`/api/hidden-dangers?${params}`);
  } catch (error) {
    message(body, errorText(error));
    results.innerHTML = '';
    return;
  }
  message(body, '');
  if (!page.items.length) {
    results.innerHTML = `<p class="dz-empty">${escapeHtml(t('dz.none'))}</p>`;
    return;
  }
  results.innerHTML = `<div class="dz-count" id="dz-total">${escapeHtml(fill(t('dz.total'), { n: num(page.total) }))}</div>
    ${dangerTable(page.items, 'dz-list')}
    <div class="dz-pager">
      <button type="button" class="dz-btn" data-page="-1" ${state.offset ? '' : 'disabled'}>${escapeHtml(t('dz.prev'))}</button>
      <span>${num(state.offset + 1)}–${num(state.offset + page.items.length)}</span>
      <button type="button" class="dz-btn" data-page="1" ${state.offset + page.items.length < page.total ? '' : 'disabled'}>${escapeHtml(t('dz.next'))}</button>
    </div>`;
  results.querySelectorAll('[data-page]').forEach((button) => button.addEventListener('click', () => {
    state.offset = Math.max(0, state.offset + Number(button.dataset.page) * PAGE);
    loadList();
  }));
  bindRows(results);
}

function dangerTable(items, id) {
  return `<table class="dz-table" id="${id}"><thead><tr>
      <th>${escapeHtml(t('dz.col.title'))}</th><th>${escapeHtml(t('dz.col.grade'))}</th>
      <th>${escapeHtml(t('dz.col.status'))}</th><th>${escapeHtml(t('dz.col.deadline'))}</th>
      <th class="wide">${escapeHtml(t('dz.col.supervision'))}</th></tr></thead>
    <tbody>${items.map((d) => `<tr data-danger="${Number(d.id)}" tabindex="0" class="${d.overdue ? 'overdue' : ''}">
      <td><a href="#" data-danger-link="${Number(d.id)}">${escapeHtml(d.title)}</a><small>#${Number(d.id)}${d.enterprise_id ? ` · ${enterpriseText(d)}` : ''}</small></td>
      <td>${gradeTag(d.grade)}</td>
      <td>${statusText(d.status)}${d.overdue ? ` <span class="dz-flag overdue">${escapeHtml(t('dz.overdue'))}</span>` : ''}</td>
      <td>${day(d.supervision_deadline || d.deadline)}</td>
      <td class="wide">${levelText(d.supervision_level)}${d.escalated_at ? ` <span class="dz-flag">${escapeHtml(t('dz.escalated'))}</span>` : ''}</td>
    </tr>`).join('')}</tbody></table>`;
}

function bindRows(root) {
  root.querySelectorAll('tr[data-danger]').forEach((row) => {
    const open = (e) => { e.preventDefault(); openDanger(Number(row.dataset.danger)); };
    row.addEventListener('click', open);
    row.addEventListener('keydown', (e) => { if (e.key === 'Enter') open(e); });
  });
}

function renderReportForm() {
  const holder = $('#dz-report-form', body);
  const enterprise = currentRole() === 'enterprise';
  holder.innerHTML = `<form class="dz-form" id="dz-report-new">
    <h3>${escapeHtml(t('dz.report'))}</h3>
    ${enterprise ? '' : `<label class="dz-field"><span>${escapeHtml(t('dz.report.enterprise'))}</span><input name="enterprise_id" inputmode="numeric" required pattern="\\d{1,10}"></label>`}
    <label class="dz-field"><span>${escapeHtml(t('dz.report.title'))}</span><input name="title" required maxlength="200"></label>
    <label class="dz-field"><span>${escapeHtml(t('dz.report.description'))}</span><textarea name="description" maxlength="4000" rows="3"></textarea></label>
    <label class="dz-field"><span>${escapeHtml(t('dz.grade'))}</span><select name="grade">
      ${state.lifecycle.grades.map((g) => `<option value="${escapeHtml(g.grade)}">${escapeHtml(t(`danger.${g.grade}`, g.name_zh))}</option>`).join('')}</select></label>
    <div class="dz-buttons"><button type="submit" class="dz-btn primary">${escapeHtml(t('dz.submit'))}</button>
      <button type="button" class="dz-btn" data-cancel>${escapeHtml(t('dz.cancel'))}</button></div>
  </form>`;
  const form = $('form', holder);
  $('[data-cancel]', form).addEventListener('click', () => { holder.innerHTML = ''; });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const user = currentUser();
    const payload = {
      enterprise_id: enterprise ? user.scope.enterprise_id : Number(form.elements.enterprise_id.value),
      title: form.elements.title.value.trim(),
      grade: form.elements.grade.value,
    };
    const description = form.elements.description.value.trim();
    if (description) payload.description = description;
    try {
      const danger = await send('/api/hidden-dangers', payload);
      openDanger(danger.id);
    } catch (error) {
      message(body, errorText(error));
    }
  });
}

// The inbox

const INBOX = ['to_register', 'to_assess', 'to_accept', 'to_verify', 'to_close', 'overdue', 'escalated'];

async function renderInbox() {
  const still = current();
  await lifecycle();
  if (!still()) return;
  body.innerHTML = '<div class="dz-message" hidden></div><div class="skeleton"></div>';
  let inbox;
  try {
    inbox = await getJSON('/api/hidden-dangers/inbox');
    if (!still()) return;
  } catch (error) {
    if (!still()) return;
    body.innerHTML = '<div class="dz-message" hidden></div>';
    message(body, errorText(error));
    return;
  }
  body.innerHTML = `<div class="dz-inbox" id="dz-inbox">
    <div class="dz-kpis">${INBOX.map((name) => `<a href="#" class="dz-kpi ${name === 'overdue' || name === 'escalated' ? 'alert' : ''}" data-jump="${name}">
      <span class="v">${num(inbox[name].total)}</span><span class="k">${escapeHtml(t(`dz.inbox.${name}`))}</span></a>`).join('')}</div>
    ${INBOX.map((name) => `<section class="dz-section" id="dz-inbox-${name}"><h3>${escapeHtml(t(`dz.inbox.${name}`))} <small>${num(inbox[name].total)}</small></h3>
      ${inbox[name].items.length ? dangerTable(inbox[name].items, `dz-inbox-table-${name}`) : `<p class="dz-empty">${escapeHtml(t('dz.inbox.empty'))}</p>`}</section>`).join('')}
  </div>`;
  body.querySelectorAll('[data-jump]').forEach((link) => link.addEventListener('click', (e) => {
    e.preventDefault();
    $(`#dz-inbox-${link.dataset.jump}`, body).scrollIntoView({ block: 'start' });
  }));
  bindRows(body);
}

// One danger

async function renderDetail(id) {
  const still = current();
  const rules = await lifecycle();
  if (!still()) return;
  body.innerHTML = '<div class="skeleton"></div>';
  let danger;
  let history;
  try {
    [danger, history] = await Promise.all([
      getJSON(`/api/hidden-dangers/${id}`), getJSON(`/api/hidden-dangers/${id}/history`)]);
  } catch (error) {
    if (!still()) return;
    body.innerHTML = `<button type="button" class="link-btn" id="dz-back">${escapeHtml(t('dz.back'))}</button><div class="dz-message" hidden></div>`;
    $('#dz-back', body).addEventListener('click', back);
    message(body, errorText(error));
    return;
  }
  if (!still()) return;
  const photos = history.flatMap((event) => ((event.evidence && event.evidence.photos) || []));
  body.innerHTML = `
    <button type="button" class="link-btn" id="dz-back">${escapeHtml(t('dz.back'))}</button>
    <div class="dz-detail" id="dz-detail" data-status="${escapeHtml(danger.status)}">
      <h2 id="dz-detail-title">${escapeHtml(danger.title)} ${gradeTag(danger.grade)}</h2>
      <div class="dz-status">${statusText(danger.status)}${danger.overdue ? ` <span class="dz-flag overdue">${escapeHtml(t('dz.overdue'))}</span>` : ''}${danger.escalated_at ? ` <span class="dz-flag">${escapeHtml(t('dz.escalated'))}</span>` : ''}</div>
      <div class="dz-message" hidden></div>
      <section class="dz-section"><h3>${escapeHtml(t('dz.actions'))}</h3><div id="dz-actions">
        ${danger.actions.length ? danger.actions.map((a) => `<button type="button" class="dz-btn primary" data-action="${escapeHtml(a)}">${escapeHtml(actionName(a))}</button>`).join('')
          : `<p class="dz-empty">${escapeHtml(t('dz.noActions'))}</p>`}
      </div><div id="dz-action-form"></div></section>
      <section class="dz-section"><h3>${escapeHtml(t('dz.facts'))}</h3>${factList([
        ['#', String(Number(danger.id))],
        [t('dz.col.enterprise'), danger.enterprise_id ? enterpriseText(danger) : null],
        [t('dz.found'), when(danger.found_at)],
        [t('dz.deadline'), danger.deadline ? day(danger.deadline) : null],
        [t('dz.level'), danger.supervision_level ? levelText(danger.supervision_level) : null],
        [t('dz.supervisionDeadline'), danger.supervision_deadline ? day(danger.supervision_deadline) : null],
        [t('dossier.responsible'), danger.responsible_person ? escapeHtml(`${danger.responsible_person} ${danger.responsible_phone || ''}`) : null],
        [t('dz.report.description'), danger.description ? escapeHtml(danger.description) : null],
      ], 'facts')}</section>
      ${danger.plan ? `<section class="dz-section"><h3>${escapeHtml(t('dz.plan'))}</h3>${factList(
        planRows(rules, danger.plan), 'facts')}</section>` : ''}
      <section class="dz-section"><h3>${escapeHtml(t('dz.timeline'))} <small>${num(history.length)}</small></h3>
        ${history.length ? `<ol class="dz-timeline" id="dz-timeline">${history.map((event) => timelineItem(event)).join('')}</ol>`
          : `<p class="dz-empty" id="dz-timeline">${escapeHtml(t('dz.inbox.empty'))}</p>`}</section>
      <section class="dz-section"><h3>${escapeHtml(t('dz.evidence'))} <small>${num(photos.length)}</small></h3>
        <div class="dz-photos" id="dz-photos">${photos.map((sha) => `<figure data-photo="${escapeHtml(sha)}"><span class="skeleton"></span><figcaption>${escapeHtml(sha.slice(0, 10))}</figcaption></figure>`).join('')}</div></section>
    </div>`;
  $('#dz-back', body).addEventListener('click', back);
  body.querySelectorAll('[data-action]').forEach((button) => button.addEventListener('click', () => {
    body.querySelectorAll('[data-action]').forEach((b) => b.classList.toggle('chosen', b === button));
    actionForm(danger, button.dataset.action);
  }));
  loadPhotos(danger.id);
  body.scrollTop = 0;
}

/** The plan's items in the order of the data file (总局令第16号 第十五条), by their names;
 *  the list (plan or 五落实) is the one whose items the stored plan has. */
function planRows(rules, plan) {
  const given = Object.keys(plan);
  const items = Object.values(rules.plan_items).find((list) => given.every((name) => list.some((i) => i.item === name)));
  if (!items) return given.map((name) => [name, escapeHtml(plan[name])]);
  return items.filter((i) => i.item in plan).map((i) => [i.name_zh, escapeHtml(plan[i.item])]);
}

function timelineItem(event) {
  const evidence = event.evidence || {};
  const details = [
    event.grade ? gradeTag(event.grade) : '',
    event.deadline ? `${escapeHtml(t('dz.deadline'))} ${day(event.deadline)}` : '',
    event.supervision_level ? levelText(event.supervision_level) : '',
  ].filter(Boolean).join(' · ');
  return `<li data-action="${escapeHtml(event.action)}">
    <div class="when">${when(event.at)}</div>
    <div class="what"><b>${escapeHtml(actionName(event.action))}</b>
      ${event.from_status ? `${statusText(event.from_status)} → ` : ''}${statusText(event.to_status)}
      <small>${escapeHtml(t('dz.by'))} ${escapeHtml(event.display_name || event.username || t('dz.system'))}</small></div>
    ${details ? `<div class="detail">${details}</div>` : ''}
    ${event.note ? `<div class="note">${escapeHtml(noteText(event.note))}</div>` : ''}
    ${evidence.text ? `<div class="note evidence">${escapeHtml(evidence.text)}</div>` : ''}
    ${evidence.photos && evidence.photos.length ? `<div class="detail">📷 ${num(evidence.photos.length)}</div>` : ''}
  </li>`;
}

/** A note the server wrote in English (a danger an inspection found), in the interface's
 *  language; people's notes as they are. */
function noteText(note) {
  const found = /^found by (\w+) inspection (\d+)$/.exec(note);
  if (!found) return note;
  return fill(t('dz.found.by'), { kind: t(`dz.inspection.${found[1]}`, found[1]), id: found[2] });
}

/** Photos need the token: fetched, then shown as data: URLs (the page's policy allows
 *  images from itself and data: only). */
async function loadPhotos(id) {
  for (const figure of body.querySelectorAll('figure[data-photo]')) {
    try {
      const response = await authFetch(`/api/hidden-dangers/${id}/evidence/${figure.dataset.photo}`);
      if (!response.ok) throw new Error(String(response.status));
      const blob = await response.blob();
      const url = await new Promise((resolve, reject) => {
        const reader = new FileReader();
        reader.onload = () => resolve(reader.result);
        reader.onerror = () => reject(reader.error);
        reader.readAsDataURL(blob);
      });
      const img = document.createElement('img');
      img.src = url;
      img.alt = figure.dataset.photo;
      figure.replaceChild(img, figure.firstElementChild);
    } catch (error) {
      figure.classList.add('missing');
    }
  }
}

function back() {
  // The detail's own history entry goes too (popstate then shows the list).
  if (history.state && history.state.dzDetail === state.detail) { history.back(); return; }
  state.detail = null;
  render();
}

/** The form of one step: the inputs its requirements name (geodata/dangers/transitions.csv). */
function actionForm(danger, action) {
  const rules = state.lifecycle;
  const step = rules.steps.find((s) => s.action === action && s.from_status === danger.status);
  const needs = new Set(step ? step.requires : []);
  const holder = $('#dz-action-form', body);
  const today = isoDay(new Date());
  const parts = [];
  if (needs.has('grade')) {
    parts.push(`<label class="dz-field"><span>${escapeHtml(t('dz.grade'))}</span><select name="grade" required>
      ${rules.grades.filter((g) => !g.provinces || g.provinces.includes(String(danger.county_code).slice(0, 2)))
        .map((g) => `<option value="${escapeHtml(g.grade)}" ${g.grade === danger.grade ? 'selected' : ''}>${escapeHtml(t(`danger.${g.grade}`, g.name_zh))}</option>`).join('')}</select></label>`);
  }
  for (const kind of ['plan', 'five_items']) {
    if (!needs.has(kind)) continue;
    parts.push(`<fieldset class="dz-plan"><legend>${escapeHtml(t('dz.plan'))}</legend>${rules.plan_items[kind].map((item) => `<label class="dz-field"><span>${escapeHtml(item.name_zh)}</span>
      <textarea name="plan.${escapeHtml(item.item)}" rows="2" maxlength="2000" required></textarea></label>`).join('')}</fieldset>`);
  }
  if (needs.has('supervision_level')) {
    const current = rules.supervision_levels.find((l) => l.level === danger.supervision_level);
    parts.push(`<label class="dz-field"><span>${escapeHtml(t('dz.level'))}</span><select name="supervision_level" required>
      ${rules.supervision_levels.filter((l) => !current || l.rank >= current.rank)
        .map((l) => `<option value="${escapeHtml(l.level)}">${escapeHtml(t(`dz.level.${l.level}`, l.name_zh))}</option>`).join('')}</select></label>`);
  }
  if (needs.has('deadline')) {
    parts.push(`<label class="dz-field"><span>${escapeHtml(t('dz.deadline'))}</span><input type="date" name="deadline" min="${today}" required></label>`);
  }
  if (needs.has('evidence')) {
    parts.push(`<label class="dz-field"><span>${escapeHtml(t('dz.evidenceText'))}</span><textarea name="evidence_text" rows="2" maxlength="2000"></textarea></label>`);
  }
  if (needs.has('evidence') || action === 'complete' || action === 'accept') {
    parts.push(`<label class="dz-field"><span>${escapeHtml(t('dz.photos'))}</span><input type="file" name="photos" accept="image/jpeg,image/png,image/webp" multiple></label>`);
  }
  parts.push(`<label class="dz-field"><span>${escapeHtml(t('dz.note'))}</span><textarea name="note" rows="2" maxlength="2000" ${needs.has('note') ? 'required' : ''}></textarea></label>`);
  holder.innerHTML = `<form class="dz-form" id="dz-step" data-action="${escapeHtml(action)}">
    <h3>${escapeHtml(actionName(action))}</h3>${parts.join('')}
    <div class="dz-buttons"><button type="submit" class="dz-btn primary">${escapeHtml(t('dz.submit'))}</button>
    <button type="button" class="dz-btn" data-cancel>${escapeHtml(t('dz.cancel'))}</button></div></form>`;
  const form = $('form', holder);
  $('[data-cancel]', form).addEventListener('click', () => { holder.innerHTML = ''; });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const submit = $('button[type=submit]', form);
    submit.disabled = true;
    try {
      const payload = { action };
      const value = (name) => (form.elements[name] ? form.elements[name].value.trim() : '');
      if (value('note')) payload.note = value('note');
      if (value('grade')) payload.grade = value('grade');
      if (value('deadline')) payload.deadline = value('deadline');
      if (value('supervision_level')) payload.supervision_level = value('supervision_level');
      const plan = {};
      form.querySelectorAll('textarea[name^="plan."]').forEach((area) => { plan[area.name.slice(5)] = area.value.trim(); });
      if (Object.keys(plan).length) payload.plan = plan;
      const photos = [];
      const files = form.elements.photos ? [...form.elements.photos.files] : [];
      for (const file of files) {
        const data = new FormData();
        data.append('file', file);
        photos.push((await send(`/api/hidden-dangers/${danger.id}/evidence`, data)).sha256);
      }
      if (value('evidence_text') || photos.length) payload.evidence = { photos };
      if (value('evidence_text')) payload.evidence.text = value('evidence_text');
      await send(`/api/hidden-dangers/${danger.id}/transitions`, payload);
      await renderDetail(danger.id);
      message(body, `${t('dz.done')}${actionName(action)}`, 'ok');
      document.dispatchEvent(new CustomEvent('ra:dangers-changed'));
    } catch (error) {
      message(body, errorText(error));
      submit.disabled = false;
    }
  });
}

// Start

onAuthChange((kind) => {
  if (kind === 'refresh') return;
  // The same user checked again (a stored session on load): what is open stays open.
  if (kind === 'user') { showOpener(); return; }
  state.detail = null;
  state.tab = 'list';
  resetLeads();
  if (leadMarker) { leadMarker.remove(); leadMarker = null; }
  state.filters = { region: '', grade: '', status: '', overdue: '', supervision_level: '', sector: '' };
  state.sectors = null;
  showOpener();
  if (!view.hidden) render();
});
// app.js filled the page's texts before this module added its strings.
applyI18n(view);
applyI18n(opener);
showOpener();
installDangerLayer({ openDanger });
