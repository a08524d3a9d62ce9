// Patrol leads and public tip-offs (线索) for officials: a list with filters (status, kind,
// source, region), one lead with where it is (shown on the map) and the decisions the server
// offers this caller now (confirm, dismiss, link to an enterprise), its refusals shown as
// they come (409 naming the allowed decisions, 422 naming the field, 404 for an enterprise
// outside the caller's scope). Wardens read the leads of their county; only admins and
// officials decide (the server says which actions are open in each lead's `actions`).

import { getJSON } from './api.js';
import { currentUser } from './auth.js';
import { num, t } from './i18n.js';
import { escapeHtml, factList } from './fragments.js';

const PAGE = 50;
const KINDS = ['new_enterprise', 'closed_enterprise', 'moved_enterprise', 'unregistered',
  'illegal_operation', 'other'];
const STATUSES = ['new', 'confirmed', 'dismissed'];
const SOURCES = ['warden', 'official', 'public'];
const $ = (selector, root) => root.querySelector(selector);

const state = {
  filters: { status: 'new', kind: '', source: '', region: '' },
  offset: 0,
  detail: null,     // the id of the lead shown, or null for the list
};

// Times in China Standard Time, whatever the browser's zone.
const CST = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit',
  day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false });
const when = (iso) => (iso ? escapeHtml(CST.format(new Date(iso))) : '–');
const statusTag = (status) => `<span class="lead-status ${escapeHtml(status)}">${escapeHtml(t(`leads.status.${status}`, status))}</span>`;

/** Back to the list (a new sign-in, or the tab chosen again). */
export function resetLeads() {
  state.filters = { status: 'new', kind: '', source: '', region: '' };
  state.offset = 0;
  state.detail = null;
}

/** Render the leads tab into `root`; `showOnMap(lead)` closes the view and pans the map. */
export function renderLeads(root, context) {
  if (state.detail) renderLead(root, state.detail, context);
  else renderList(root, context);
}

function say(root, text, kind = 'error') {
  const box = $('.dz-message', root);
  if (!box) return;
  box.textContent = text;
  box.className = `dz-message ${kind}`;
  box.hidden = !text;
}

/** A refusal in words: the server's reason, the field it names, the decisions still open. */
function refusal(error) {
  let text = `${t('dz.failed')}${error.detail || error.message}`;
  if (error.field) text += ` (${error.field})`;
  if (error.allowed) {
    text += ` · ${t('dz.allowed')}${error.allowed.length ? error.allowed.map((a) => t(`leads.action.${a}`, a)).join('、') : t('dz.inbox.empty')}`;
  }
  return text;
}

function options(values, selected, prefix) {
  return [`<option value="">${escapeHtml(t('dz.filter.all'))}</option>`,
    ...values.map((value) => `<option value="${value}" ${value === selected ? 'selected' : ''}>${escapeHtml(t(`${prefix}.${value}`, value))}</option>`)]
    .join('');
}

function renderList(root, context) {
  const f = state.filters;
  const user = currentUser();
  if (!f.region && user && user.scope && user.scope.region) f.region = user.scope.region;
  const field = (label, control) => `<label class="dz-field"><span>${escapeHtml(label)}</span>${control}</label>`;
  root.innerHTML = `
    <form class="dz-filters" id="leads-filters">
      ${field(t('leads.filter.status'), `<select name="status">${options(STATUSES, f.status, 'leads.status')}</select>`)}
      ${field(t('leads.filter.kind'), `<select name="kind">${options(KINDS, f.kind, 'leads.kind')}</select>`)}
      ${field(t('leads.filter.source'), `<select name="source">${options(SOURCES, f.source, 'leads.source')}</select>`)}
      ${field(t('dz.filter.region'), `<input name="region" inputmode="numeric" maxlength="6" pattern="\\d{2,6}" value="${escapeHtml(f.region)}">`)}
      <div class="dz-buttons"><button type="submit" class="dz-btn primary">${escapeHtml(t('dz.filter.apply'))}</button></div>
    </form>
    <div class="dz-message" hidden></div>
    <div id="leads-results"><div class="skeleton"></div></div>`;
  const form = $('#leads-filters', root);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    for (const name of Object.keys(state.filters)) state.filters[name] = form.elements[name].value.trim();
    state.offset = 0;
    loadList(root, context);
  });
  loadList(root, context);
}

async function loadList(root, context) {
  const results = $('#leads-results', root);
  const params = new URLSearchParams({ limit: String(PAGE), offset: String(state.offset) });
  for (const [name, value] of Object.entries(state.filters)) if (value) params.set(name, value);
  let page;
  try {
    page = await getJSON(`/api/leads?${params}`);
  } catch (error) {
    say(root, refusal(error));
    results.innerHTML = '';
    return;
  }
  if (!results.isConnected) return;
  say(root, '');
  if (!page.items.length) {
    results.innerHTML = `<p class="dz-empty" id="leads-none">${escapeHtml(t('leads.none'))}</p>`;
    return;
  }
  results.innerHTML = `<div class="dz-count" id="leads-total">${escapeHtml(context.fill(t('dz.total'), { n: num(page.total) }))}</div>
    <table class="dz-table" id="leads-list"><thead><tr>
      <th>${escapeHtml(t('leads.col.lead'))}</th><th>${escapeHtml(t('leads.filter.status'))}</th>
      <th class="wide">${escapeHtml(t('leads.filter.source'))}</th><th>${escapeHtml(t('leads.col.at'))}</th></tr></thead>
    <tbody>${page.items.map((lead) => `<tr data-lead="${Number(lead.id)}" tabindex="0">
      <td><a href="#">${escapeHtml(lead.kind_zh)}</a><small>#${Number(lead.id)}${lead.name ? ` · ${escapeHtml(lead.name)}` : ''} · ${escapeHtml(lead.description.slice(0, 60))}</small></td>
      <td>${statusTag(lead.status)}</td>
      <td class="wide">${escapeHtml(t(`leads.source.${lead.source}`, lead.source))}${lead.username ? `<small>${escapeHtml(lead.username)}</small>` : ''}</td>
      <td>${when(lead.created_at)}</td>
    </tr>`).join('')}</tbody></table>
    <div class="dz-pager">
      <button type="button" class="dz-btn" data-page="-1" ${state.offset ? '' : 'disabled'}>${escapeHtml(t('dz.prev'))}</button>
      <span>${num(state.offset + 1)}–${num(state.offset + page.items.length)}</span>
      <button type="button" class="dz-btn" data-page="1" ${state.offset + page.items.length < page.total ? '' : 'disabled'}>${escapeHtml(t('dz.next'))}</button>
    </div>`;
  results.querySelectorAll('[data-page]').forEach((button) => button.addEventListener('click', () => {
    state.offset = Math.max(0, state.offset + Number(button.dataset.page) * PAGE);
    loadList(root, context);
  }));
  results.querySelectorAll('tr[data-lead]').forEach((row) => {
    const open = (e) => {
      e.preventDefault();
      state.detail = Number(row.dataset.lead);
      renderLead(root, state.detail, context);
    };
    row.addEventListener('click', open);
    row.addEventListener('keydown', (e) => { if (e.key === 'Enter') open(e); });
  });
}

async function renderLead(root, id, context, notice = '', kind = 'ok') {
  root.innerHTML = '<div class="skeleton"></div>';
  let lead;
  try {
    lead = await getJSON(`/api/leads/${id}`);
  } catch (error) {
    root.innerHTML = `<button type="button" class="link-btn" id="leads-back">${escapeHtml(t('leads.back'))}</button><div class="dz-message" hidden></div>`;
    $('#leads-back', root).addEventListener('click', () => { state.detail = null; renderList(root, context); });
    say(root, refusal(error));
    return;
  }
  if (state.detail !== id) return;
  root.innerHTML = `
    <button type="button" class="link-btn" id="leads-back">${escapeHtml(t('leads.back'))}</button>
    <div class="dz-detail" id="lead-detail" data-status="${escapeHtml(lead.status)}">
      <h2 id="lead-title">${escapeHtml(lead.kind_zh)} ${statusTag(lead.status)}</h2>
      <div class="dz-message" hidden></div>
      <section class="dz-section"><h3>${escapeHtml(t('dz.actions'))}</h3><div id="lead-actions" class="dz-buttons">
        ${lead.actions.length ? lead.actions.map((a) => `<button type="button" class="dz-btn primary" data-decide="${escapeHtml(a)}">${escapeHtml(t(`leads.action.${a}`, a))}</button>`).join('')
          : `<p class="dz-empty">${escapeHtml(t('dz.noActions'))}</p>`}
      </div><div id="lead-form"></div></section>
      <section class="dz-section"><h3>${escapeHtml(t('dz.facts'))}</h3>${factList([
        ['#', String(Number(lead.id))],
        [t('leads.filter.source'), `${escapeHtml(t(`leads.source.${lead.source}`, lead.source))}${lead.username ? ` · ${escapeHtml(lead.username)}` : ''}`],
        [t('leads.col.at'), when(lead.created_at)],
        [t('leads.name'), lead.name ? escapeHtml(lead.name) : null],
        [t('dossier.address'), lead.address ? escapeHtml(lead.address) : null],
        [t('leads.description'), escapeHtml(lead.description)],
        [t('leads.contact'), lead.contact ? escapeHtml(lead.contact) : null],
        [t('leads.where'), `${escapeHtml(lead.county_code)}${lead.grid_code ? ` · ${escapeHtml(lead.grid_code)}` : ''} · ${Number(lead.lat).toFixed(5)}, ${Number(lead.lon).toFixed(5)}
          <button type="button" class="dz-btn" id="lead-locate">${escapeHtml(t('dossier.locate'))}</button>`],
        [t('dz.col.enterprise'), lead.enterprise_id ? `<a href="#" id="lead-enterprise" data-enterprise-id="${Number(lead.enterprise_id)}">#${Number(lead.enterprise_id)}</a>` : null],
        [t('leads.decided'), lead.decided_by ? `${escapeHtml(lead.decided_by)} · ${when(lead.decided_at)}` : null],
        [t('dz.note'), lead.decision_note ? escapeHtml(lead.decision_note) : null],
      ], 'facts')}</section>
    </div>`;
  $('#leads-back', root).addEventListener('click', () => { state.detail = null; renderList(root, context); });
  $('#lead-locate', root).addEventListener('click', () => context.showOnMap(lead));
  const enterprise = $('#lead-enterprise', root);
  if (enterprise) enterprise.addEventListener('click', (e) => { e.preventDefault(); context.openEnterprise(lead.enterprise_id); });
  root.querySelectorAll('[data-decide]').forEach((button) => button.addEventListener('click', () => {
    root.querySelectorAll('[data-decide]').forEach((b) => b.classList.toggle('chosen', b === button));
    decisionForm(root, lead, button.dataset.decide, context);
  }));
  if (notice) say(root, notice, kind);
  root.scrollTop = 0;
}

/** The form of one decision: the enterprise for confirm (optional) and link (needed), a note. */
function decisionForm(root, lead, action, context) {
  const holder = $('#lead-form', root);
  const enterprise = action === 'dismiss' ? '' : `<label class="dz-field"><span>${escapeHtml(t(action === 'link' ? 'leads.enterprise' : 'leads.enterpriseOptional'))}</span>
    <input name="enterprise_id" inputmode="numeric" pattern="\\d{1,18}" maxlength="18" value="${lead.enterprise_id ? Number(lead.enterprise_id) : ''}"></label>`;
  holder.innerHTML = `<form class="dz-form" id="lead-decision" data-action="${escapeHtml(action)}" novalidate>
    <h3>${escapeHtml(t(`leads.action.${action}`, action))}</h3>${enterprise}
    <label class="dz-field"><span>${escapeHtml(t('dz.note'))}</span><textarea name="note" rows="2" maxlength="2000"></textarea></label>
    <div class="dz-buttons"><button type="submit" class="dz-btn primary">${escapeHtml(t('dz.submit'))}</button>
    <button type="button" class="dz-btn" data-cancel>${escapeHtml(t('dz.cancel'))}</button></div></form>`;
  const form = $('form', holder);
  $('[data-cancel]', form).addEventListener('click', () => { holder.innerHTML = ''; });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const submit = $('button[type=submit]', form);
    submit.disabled = true;
    const payload = { action };
    const id = form.elements.enterprise_id ? form.elements.enterprise_id.value.trim() : '';
    // Whatever was typed goes to the server, which names what is wrong with it.
    if (id) payload.enterprise_id = /^\d+$/.test(id) ? Number(id) : id;
    const note = form.elements.note.value.trim();
    if (note) payload.note = note;
    try {
      await context.send(`/api/leads/${lead.id}/decision`, payload);
      await renderLead(root, lead.id, context, `${t('dz.done')}${t(`leads.action.${action}`, action)}`);
    } catch (error) {
      // Decided meanwhile (409): the lead as it is now, beside the refusal.
      if (error.status === 409) await renderLead(root, lead.id, context, refusal(error), 'error');
      else say(root, refusal(error));
      submit.disabled = false;
    }
  });
}
