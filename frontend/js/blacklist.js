// The public blacklist page (/blacklist): the published listings in force.

import { escapeHtml } from './fragments.js';
import { applyI18n } from './i18n.js';

async function load() {
  const region = new URLSearchParams(location.search).get('region');
  const query = region && /^\d{6}$/.test(region) ? `?region=${region}&limit=1000` : '?limit=1000';
  const response = await fetch(`/api/blacklist/public${query}`, { headers: { Accept: 'application/json' } });
  const rows = response.ok ? await response.json() : [];
  document.querySelector('#list tbody').innerHTML = rows.map((r) => `<tr>
    <td>${escapeHtml(r.enterprise_name)}</td><td>${escapeHtml(r.credit_code)}</td>
    <td>${escapeHtml(r.reason)}</td><td>${escapeHtml(r.legal_basis)}</td>
    <td>${escapeHtml(r.decided_on)}</td><td>${escapeHtml(r.listed_until)}</td>
    <td>${escapeHtml(r.decided_by)}</td></tr>`).join('');
  document.getElementById('empty').hidden = rows.length > 0;
}

applyI18n();
load();
