// Double-random spot checks (双随机抽查): draw for a region and period, see the published
// list (公示) with its seed and pools, download it as XLSX. Draws are reproduced by the
// server from the stored seed and pools each time they are read.

import { getJSON } from './api.js';
import { authFetch, currentUser } from './auth.js';
import { num, t } from './i18n.js';
import { escapeHtml, factList, levelBadge } from './fragments.js';
import './i18n-spotcheck.js';

const $ = (selector, root) => root.querySelector(selector);

function thisMonth() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}`;
}

export async function renderSpotChecks(root, { send, fill, errorText }) {
  const user = currentUser();
  const region = (user && user.scope && user.scope.region) || '';
  root.innerHTML = `
    <form class="dz-filters" id="spot-form">
      <label class="dz-field"><span>${escapeHtml(t('spot.region'))}</span><input name="region" required pattern="\\d{6}" maxlength="6" inputmode="numeric" value="${escapeHtml(region)}"></label>
      <label class="dz-field"><span>${escapeHtml(t('spot.period'))}</span><input name="period" required pattern="\\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?" maxlength="7" value="${thisMonth()}"></label>
      <label class="dz-field"><span>${escapeHtml(t('spot.seed'))}</span><input name="seed" maxlength="64" pattern="[0-9A-Za-z_\\-]{1,64}" autocomplete="off"></label>
      <div class="dz-buttons"><button type="submit" class="dz-btn primary">${escapeHtml(t('spot.draw'))}</button></div>
    </form>
    <div class="dz-message" hidden></div>
    <div id="spot-result"></div>
    <section class="dz-section"><h3>${escapeHtml(t('spot.recent'))}</h3><div id="spot-recent"><div class="skeleton"></div></div></section>`;
  const form = $('#spot-form', root);
  const box = $('.dz-message', root);
  const say = (text, kind = 'error') => { box.textContent = text; box.className = `dz-message ${kind}`; box.hidden = !text; };
  const drawButton = form.querySelector('button[type=submit]');
  // A draw is published at once and kept for good: the first press asks, the second draws.
  const unconfirm = () => { delete drawButton.dataset.confirm; drawButton.textContent = t('spot.draw'); };
  form.addEventListener('input', unconfirm);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!drawButton.dataset.confirm) {
      drawButton.dataset.confirm = 'asked';
      drawButton.textContent = t('spot.confirmDraw');
      say(fill(t('spot.confirmHint'), { region: form.elements.region.value.trim(),
        period: form.elements.period.value.trim() }), 'info');
      return;
    }
    unconfirm();
    const body = { region: form.elements.region.value.trim(), period: form.elements.period.value.trim() };
    if (form.elements.seed.value.trim()) body.seed = form.elements.seed.value.trim();
    try {
      const drawn = await send('/api/spot-checks/draws', body);
      say('');
      showDraw(root, drawn, { fill, say, errorText });
      loadRecent(root, { fill, say, errorText });
    } catch (error) {
      say(errorText(error));
    }
  });
  loadRecent(root, { fill, say, errorText });
}

async function loadRecent(root, context) {
  const holder = $('#spot-recent', root);
  let recent;
  try {
    recent = await getJSON('/api/spot-checks/draws');
  } catch (error) {
    holder.innerHTML = '';
    context.say(context.errorText(error));
    return;
  }
  if (!recent.items.length) { holder.innerHTML = `<p class="dz-empty">${escapeHtml(t('spot.none'))}</p>`; return; }
  holder.innerHTML = `<table class="dz-table" id="spot-recent-table"><tbody>${recent.items.map((d) => `<tr data-draw="${Number(d.id)}" tabindex="0">
    <td>#${Number(d.id)} · ${escapeHtml(d.region)} · ${escapeHtml(d.period)}<small>${escapeHtml(t('spot.seedIs'))} <span class="dz-code">${escapeHtml(d.seed)}</span></small></td>
    <td>${num(d.targets)} / ${num(d.inspectors)}</td>
    <td class="wide">${escapeHtml(d.drawn_at.slice(0, 16).replace('T', ' '))}<small>${escapeHtml(d.drawn_by || '')}</small></td></tr>`).join('')}</tbody></table>`;
  holder.querySelectorAll('tr[data-draw]').forEach((row) => row.addEventListener('click', async () => {
    try {
      showDraw(root, await getJSON(`/api/spot-checks/draws/${row.dataset.draw}`), context);
    } catch (error) {
      context.say(context.errorText(error));
    }
  }));
}

function showDraw(root, drawn, { fill, say, errorText }) {
  const holder = $('#spot-result', root);
  holder.innerHTML = `<section class="dz-section" id="spot-draw" data-draw="${Number(drawn.id)}">
    <h3>${escapeHtml(t('dz.tab.spot'))} #${Number(drawn.id)} · ${escapeHtml(drawn.region)} · ${escapeHtml(drawn.period)}
      ${drawn.reproduced ? '<span class="dz-flag">✓ reproduced</span>' : ''}</h3>
    ${factList([
      [t('spot.seedIs'), `<span class="dz-code" id="spot-seed">${escapeHtml(drawn.seed)}</span>`],
      [t('spot.method'), `<span class="dz-code">${escapeHtml(drawn.method)}</span>`],
      [t('dz.by'), escapeHtml(`${drawn.drawn_by || ''} ${drawn.drawn_at.slice(0, 16).replace('T', ' ')}`)],
      ['', escapeHtml(fill(t('spot.pool'), { t: num(drawn.pool_sizes.targets), i: num(drawn.pool_sizes.inspectors) }))],
    ], 'facts')}
    <div class="dz-buttons"><button type="button" class="dz-btn" id="spot-xlsx">${escapeHtml(t('spot.xlsx'))}</button>
      <a class="dz-btn" id="spot-public" href="/spot-checks/${Number(drawn.id)}" target="_blank" rel="noopener">${escapeHtml(t('spotPublic.open'))}</a></div>
    <h3>${escapeHtml(t('spot.targets'))} <small>${num(drawn.targets.length)}</small></h3>
    <table class="dz-table" id="spot-targets"><thead><tr><th>#</th><th>${escapeHtml(t('dz.col.enterprise'))}</th><th>${escapeHtml(t('spot.level'))}</th><th>${escapeHtml(t('spot.inspector'))}</th></tr></thead>
    <tbody>${drawn.targets.map((target, i) => `<tr><td>${i + 1}</td>
      <td>${escapeHtml(target.name)}<small>${Number(target.enterprise_id)} · ${escapeHtml(target.county_code)}${target.grid_code ? ` · ${escapeHtml(target.grid_code)}` : ''}</small></td>
      <td>${levelBadge(target.risk_level)}</td><td>${escapeHtml(target.inspector_names.join('、'))}</td></tr>`).join('')}</tbody></table>
    <h3>${escapeHtml(t('spot.inspectors'))} <small>${num(drawn.inspectors.length)}</small></h3>
    <table class="dz-table" id="spot-inspectors"><tbody>${drawn.inspectors.map((user) => `<tr>
      <td>${escapeHtml(user.display_name || user.username)}<small>${escapeHtml(user.username)}</small></td>
      <td>${num(user.targets.length)}</td></tr>`).join('')}</tbody></table>
  </section>`;
  $('#spot-xlsx', holder).addEventListener('click', async () => {
    try {
      const response = await authFetch(`/api/spot-checks/draws/${drawn.id}/xlsx`);
      if (!response.ok) throw Object.assign(new Error(String(response.status)), { status: response.status });
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement('a');
      link.href = url;
      link.download = `双随机抽查-${drawn.region}-${drawn.period}-${drawn.id}.xlsx`;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) {
      say(errorText(error));
    }
  });
}
