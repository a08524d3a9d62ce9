// The public page of a spot-check draw (/spot-checks/{id}): the publication (公示) of the
// enterprises and inspectors drawn, with the seed that reproduces it and the XLSX.

import { escapeHtml } from './fragments.js';
import { applyI18n } from './i18n.js';
import './i18n-spotcheck.js';

async function load() {
  const id = location.pathname.split('/').pop();
  // Not a draw's number: not found, without asking.
  const response = /^\d{1,19}$/.test(id) && Number(id) > 0
    ? await fetch(`/api/spot-checks/draws/${id}/public`, { headers: { Accept: 'application/json' } })
    : null;
  if (!response || !response.ok) {
    document.getElementById('missing').hidden = false;
    return;
  }
  const draw = await response.json();
  document.getElementById('draw').hidden = false;
  const region = draw.region_name ? `${draw.region_name}（${draw.region}）` : draw.region;
  const facts = { region, period: draw.period, seed: draw.seed, method: draw.method,
    drawnAt: new Date(draw.drawn_at).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai' }) };
  for (const [key, value] of Object.entries(facts)) {
    document.getElementById(`f-${key}`).textContent = value;
  }
  document.getElementById('xlsx').href = `/api/spot-checks/draws/${draw.id}/public/xlsx`;
  document.querySelector('#targets tbody').innerHTML = draw.targets.map((t, i) => `<tr>
    <td>${i + 1}</td><td>${escapeHtml(t.name)}<small class="code">${escapeHtml(t.credit_code || '')}</small></td>
    <td class="code">${escapeHtml(t.credit_code || '')}</td>
    <td class="inspectors">${t.inspectors.map((name) => `<span>${escapeHtml(name)}</span>`).join('')}</td></tr>`).join('');
  document.querySelector('#inspectors tbody').innerHTML = draw.inspectors.map((name, i) => `<tr>
    <td>${i + 1}</td><td>${escapeHtml(name)}</td></tr>`).join('');
}

applyI18n();
load();
