// The key-supervision list (重点监管名单): officials choose a city's counties (a county's
// townships, by name) and enterprises, with the candidates' data beside them (red
// enterprises, overdue hidden dangers, findings within a year). Limits come from the
// server (geodata/inspections/key_supervision.csv).

import { getJSON } from './api.js';
import { currentUser } from './auth.js';
import { num, t } from './i18n.js';
import { escapeHtml, levelBadge } from './fragments.js';

const $ = (selector, root) => root.querySelector(selector);

export function renderKeyList(root, context) {
  const user = currentUser();
  const region = (user && user.scope && user.scope.region) || '';
  root.innerHTML = `
    <form class="dz-filters" id="key-form">
      <label class="dz-field"><span>${escapeHtml(t('key.region'))}</span><input name="region" required pattern="\\d{6}" maxlength="6" inputmode="numeric" value="${escapeHtml(region)}"></label>
      <label class="dz-field"><span>${escapeHtml(t('key.year'))}</span><input name="year" type="number" min="2000" max="2100" value="${new Date().getFullYear()}"></label>
      <div class="dz-buttons"><button type="submit" class="dz-btn primary">${escapeHtml(t('key.load'))}</button></div>
    </form>
    <div class="dz-message" hidden></div>
    <div id="key-list"></div>`;
  const form = $('#key-form', root);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load(root, form.elements.region.value.trim(), Number(form.elements.year.value), context);
  });
  // A province names no list (geodata/inspections/key_supervision.csv): nothing to load.
  if (region && !region.endsWith('0000')) load(root, region, Number(form.elements.year.value), context);
}

function say(root, text, kind = 'error') {
  const box = $('.dz-message', root);
  box.textContent = text;
  box.className = `dz-message ${kind}`;
  box.hidden = !text;
}

async function load(root, region, year, context) {
  const holder = $('#key-list', root);
  holder.innerHTML = '<div class="skeleton"></div>';
  let list;
  try {
    list = await getJSON(`/api/key-supervision?region=${encodeURIComponent(region)}&year=${year}`);
  } catch (error) {
    holder.innerHTML = '';
    say(root, context.errorText(error));
    return;
  }
  say(root, '');
  show(root, list, context);
}

function show(root, list, context) {
  const holder = $('#key-list', root);
  const chosenUnits = new Map(list.units.map((u) => [u.subject, u.reason || '']));
  const chosenEnterprises = new Map(list.enterprises.map((e) => [e.subject, e.reason || '']));
  const counties = list.limits.unit_kind === 'county';
  // Chosen enterprises that are no longer candidates stay listed (and checked).
  const candidates = [...list.candidates.enterprises];
  for (const entry of list.enterprises) {
    if (!candidates.some((c) => String(c.enterprise_id) === entry.subject)) {
      candidates.push({ enterprise_id: Number(entry.subject), name: entry.name, risk_level: null,
        overdue_dangers: null, findings: null });
    }
  }
  const unitRows = counties
    ? `<table class="dz-table key-table" id="key-units"><thead><tr><th></th><th>${escapeHtml(t('key.units'))}</th><th>${escapeHtml(t('key.red'))}</th><th>${escapeHtml(t('key.overdueDangers'))}</th><th>${escapeHtml(t('key.findings'))}</th><th class="wide">${escapeHtml(t('key.reason'))}</th></tr></thead>
      <tbody>${list.candidates.units.map((u) => `<tr><td><input type="checkbox" data-unit="${escapeHtml(u.code)}" ${chosenUnits.has(u.code) ? 'checked' : ''} aria-label="${escapeHtml(u.name)}"></td>
        <td>${escapeHtml(u.name)}<small>${escapeHtml(u.code)}</small></td><td>${num(u.red)}</td><td>${num(u.overdue_dangers)}</td><td>${num(u.findings)}</td>
        <td class="wide"><input class="reason" placeholder="${escapeHtml(t('key.reason'))}" data-unit-reason="${escapeHtml(u.code)}" maxlength="1000" value="${escapeHtml(chosenUnits.get(u.code) || '')}"></td></tr>`).join('')}</tbody></table>`
    : `<div id="key-units">${[0, 1, 2].map((i) => {
      const unit = list.units[i];
      return `<label class="dz-field"><span>${escapeHtml(t('key.units'))} ${i + 1}</span><input data-township="${i}" maxlength="100" value="${escapeHtml(unit ? unit.name : '')}"></label>`;
    }).join('')}</div>`;
  holder.innerHTML = `
    <p class="dz-count" id="key-limits">${escapeHtml(list.name)} · ${escapeHtml(String(list.year))} · ${escapeHtml(context.fill(t('key.limits'), {
      u: `${list.limits.units[0]}–${list.limits.units[1]}`, kind: t(`key.kind.${list.limits.unit_kind}`),
      e: list.limits.enterprises[1] }))}</p>
    <div class="dz-columns">
      <section class="dz-section"><h3>${escapeHtml(t('key.units'))} <small>${num(list.units.length)}</small></h3>${unitRows}</section>
      <section class="dz-section"><h3>${escapeHtml(t('key.enterprises'))} <small>${num(list.enterprises.length)}</small> · ${escapeHtml(t('key.candidates'))}</h3>
        <table class="dz-table key-table" id="key-enterprises"><thead><tr><th></th><th>${escapeHtml(t('dz.col.enterprise'))}</th><th>${escapeHtml(t('spot.level'))}</th><th>${escapeHtml(t('key.overdueDangers'))}</th><th>${escapeHtml(t('key.findings'))}</th><th class="wide">${escapeHtml(t('key.reason'))}</th></tr></thead>
        <tbody>${candidates.map((c) => `<tr><td><input type="checkbox" data-enterprise="${Number(c.enterprise_id)}" ${chosenEnterprises.has(String(c.enterprise_id)) ? 'checked' : ''} aria-label="${escapeHtml(c.name)}"></td>
          <td>${escapeHtml(c.name)}<small>${Number(c.enterprise_id)}</small></td><td>${c.risk_level ? levelBadge(c.risk_level) : '–'}</td>
          <td>${num(c.overdue_dangers)}</td><td>${num(c.findings)}</td>
          <td class="wide"><input class="reason" placeholder="${escapeHtml(t('key.reason'))}" data-enterprise-reason="${Number(c.enterprise_id)}" maxlength="1000" value="${escapeHtml(chosenEnterprises.get(String(c.enterprise_id)) || '')}"></td></tr>`).join('')}</tbody></table></section>
    </div>
    <div class="dz-buttons"><button type="button" class="dz-btn primary" id="key-save">${escapeHtml(t('key.save'))}</button></div>`;
  $('#key-save', holder).addEventListener('click', async () => {
    const reason = (selector) => {
      const input = holder.querySelector(selector);
      return input && input.value.trim() ? input.value.trim() : null;
    };
    const units = counties
      ? [...holder.querySelectorAll('input[data-unit]:checked')].map((box) => ({
        code: box.dataset.unit, reason: reason(`input[data-unit-reason="${box.dataset.unit}"]`) }))
      : [...holder.querySelectorAll('input[data-township]')].filter((input) => input.value.trim())
        .map((input) => ({ name: input.value.trim() }));
    const enterprises = [...holder.querySelectorAll('input[data-enterprise]:checked')].map((box) => ({
      enterprise_id: Number(box.dataset.enterprise),
      reason: reason(`input[data-enterprise-reason="${box.dataset.enterprise}"]`) }));
    try {
      const saved = await context.send('/api/key-supervision', { region: list.region, year: list.year, units, enterprises }, 'PUT');
      show(root, saved, context);
      say(root, t('key.saved'), 'ok');
    } catch (error) {
      say(root, context.errorText(error));
    }
  });
}
