// Overdue inspections (逾期检查): enterprises whose last self-check (or government spot
// check) is older than their colour's frequency (geodata/inspections/frequencies.csv), in a
// region, a grid cell or a warden's cells — GET /api/inspections/overdue. A row opens the
// enterprise's dossier.

import { getJSON } from './api.js';
import { currentRole, currentUser } from './auth.js';
import { num, t } from './i18n.js';
import { escapeHtml, levelBadge } from './fragments.js';

const $ = (selector, root) => root.querySelector(selector);
const PAGE = 50;

export function renderOverdue(root, context) {
  const user = currentUser();
  const region = (user && user.scope && user.scope.region) || '';
  // A warden's own cells come first: that is the list a warden works through.
  const warden = currentRole() === 'warden' && user ? user.username : '';
  root.innerHTML = `
    <form class="dz-filters" id="overdue-form">
      <label class="dz-field"><span>${escapeHtml(t('overdue.region'))}</span><input name="region" pattern="\\d{2,6}" maxlength="6" inputmode="numeric" value="${escapeHtml(region)}"></label>
      <label class="dz-field"><span>${escapeHtml(t('overdue.grid'))}</span><input name="grid" maxlength="40"></label>
      <label class="dz-field"><span>${escapeHtml(t('overdue.warden'))}</span><input name="warden" maxlength="64" value="${escapeHtml(warden)}"></label>
      <label class="dz-field"><span>${escapeHtml(t('overdue.kind'))}</span><select name="kind">
        <option value="self_check">${escapeHtml(t('overdue.kind.self_check'))}</option>
        <option value="spot_check">${escapeHtml(t('overdue.kind.spot_check'))}</option></select></label>
      <div class="dz-buttons"><button type="submit" class="dz-btn primary">${escapeHtml(t('overdue.load'))}</button></div>
    </form>
    <div class="dz-message" hidden></div>
    <div id="overdue-list"></div>`;
  const form = $('#overdue-form', root);
  const query = (offset) => {
    const params = new URLSearchParams({ kind: form.elements.kind.value, limit: String(PAGE), offset: String(offset) });
    for (const name of ['region', 'grid', 'warden']) {
      const value = form.elements[name].value.trim();
      if (value) params.set(name, value);
    }
    return params;
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load(root, query, 0, context);
  });
  load(root, query, 0, context);
}

function say(root, text) {
  const box = $('.dz-message', root);
  box.textContent = text;
  box.className = 'dz-message error';
  box.hidden = !text;
}

async function load(root, query, offset, context) {
  const holder = $('#overdue-list', root);
  holder.innerHTML = '<div class="skeleton"></div>';
  let page;
  try {
    page = await getJSON(`/api/inspections/overdue?${query(offset)}`);
  } catch (error) {
    holder.innerHTML = '';
    say(root, context.errorText(error));
    return;
  }
  say(root, '');
  const day = (iso) => (iso ? escapeHtml(iso.slice(0, 10)) : escapeHtml(t('overdue.never')));
  holder.innerHTML = `
    <p class="dz-count" id="overdue-count">${escapeHtml(context.fill(t('overdue.count'), { n: num(page.total), today: page.today }))}</p>
    ${page.items.length ? `<table class="dz-table" id="overdue-table"><thead><tr>
      <th>${escapeHtml(t('dz.col.enterprise'))}</th><th>${escapeHtml(t('spot.level'))}</th>
      <th>${escapeHtml(t('overdue.every'))}</th><th>${escapeHtml(t('overdue.last'))}</th>
      <th>${escapeHtml(t('overdue.due'))}</th><th>${escapeHtml(t('overdue.grid'))}</th></tr></thead>
      <tbody>${page.items.map((item) => `<tr data-enterprise="${Number(item.enterprise_id)}" tabindex="0" class="overdue">
        <td>${escapeHtml(item.name)}<small>${Number(item.enterprise_id)}</small></td>
        <td>${item.risk_level ? levelBadge(item.risk_level) : '–'}</td>
        <td>${escapeHtml(context.fill(t('overdue.days'), { n: num(item.every_days) }))}</td>
        <td>${day(item.last_inspected_at)}</td><td>${item.due ? escapeHtml(item.due) : '–'}</td>
        <td>${escapeHtml(item.grid_code || '–')}</td></tr>`).join('')}</tbody></table>`
      : `<p class="dz-empty">${escapeHtml(t('overdue.none'))}</p>`}
    <div class="dz-buttons">
      ${offset > 0 ? `<button type="button" class="dz-btn" data-page="${offset - PAGE}">${escapeHtml(t('overdue.prev'))}</button>` : ''}
      ${offset + PAGE < page.total ? `<button type="button" class="dz-btn" data-page="${offset + PAGE}">${escapeHtml(t('overdue.next'))}</button>` : ''}
    </div>`;
  holder.querySelectorAll('[data-page]').forEach((button) => {
    button.addEventListener('click', () => load(root, query, Number(button.dataset.page), context));
  });
  const table = $('#overdue-table', holder);
  if (!table) return;
  const open = (row) => row && context.openEnterprise(Number(row.dataset.enterprise));
  table.addEventListener('click', (e) => open(e.target.closest('tr[data-enterprise]')));
  table.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') open(e.target.closest('tr[data-enterprise]'));
  });
}
