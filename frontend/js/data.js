// The officials' data page (/data): bulk import with a dry-run report, registers out,
// statutory tables. Sign-in is the web map's (auth.js, the same sessionStorage).

import { authFetch, currentUser, freshToken, onAuthChange, signIn } from './auth.js';
import { escapeHtml } from './fragments.js';
import { applyI18n, num, t } from './i18n.js';

const $ = (id) => document.getElementById(id);
const STATUS = { accepted: 'data.accepted', rejected: 'data.rejected' };
const ACTION = { insert: 'data.insert', update: 'data.update' };
let lastChecked = null;   // the file and options of the last dry run that passed

function show() {
  const user = currentUser();
  $('signin').hidden = Boolean(user);
  $('work').hidden = !user;
  $('who').textContent = user ? (user.display_name || user.username) : '';
  // An official's tables and registers are of their own region unless they name another.
  const region = user && user.scope && user.scope.region;
  if (region) {
    document.querySelectorAll('input[name=region]').forEach((input) => {
      if (!input.value) input.value = region;
    });
  }
}

// Column names the server reports that are not the file's own headers.
const FIELD_ZH = { geometry: '位置', file: '文件', crs: '坐标系', layer: '图层' };

/** A refusal of the whole file, said in Chinese (the server's English is kept as a tip). */
function fileError(status, body) {
  if (status === 413) return t('data.tooLarge');
  if (status === 403) return t('data.forbidden');
  if (status === 422 && body && body.rows) {
    return t('data.refusedRows').replace('{bad}', num(body.rejected));
  }
  if (status === 422 && body && body.field === 'file') return t('data.unreadable');
  if (status === 422 && body && body.field) {
    return `${t('data.badField')}${FIELD_ZH[body.field] || body.field}`;
  }
  return `${t('data.failed')}（${status}）`;
}

/** A random UUID (crypto.randomUUID exists only on https and localhost). */
function newUuid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** POST the file with upload progress (fetch has none): resolves to {status, body}. */
async function upload(form, dryRun, format = 'json') {
  const data = new FormData();
  data.append('file', form.file.files[0]);
  // The server's own progress (read, check, write), followed by this token while it works.
  const progressToken = newUuid();
  const query = new URLSearchParams({ layer: form.layer.value, crs: form.crs.value,
    dry_run: String(dryRun), format, progress: progressToken });
  const token = await freshToken();
  let polling = null;
  const stopPolling = () => { if (polling) clearInterval(polling); polling = null; };
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', `/api/imports?${query}`);
    if (token) request.setRequestHeader('Authorization', `Bearer ${token}`);
    request.responseType = format === 'xlsx' ? 'blob' : 'json';
    const bar = $('upload-bar');
    $('upload-progress').hidden = false;
    request.upload.onprogress = (event) => {
      if (!event.lengthComputable) return;
      const share = event.loaded / event.total;
      bar.value = Math.round(share * 100);
      $('upload-text').textContent = `${t('data.uploading')} ${Math.round(share * 100)}%`;
    };
    request.upload.onload = () => {
      bar.removeAttribute('value');  // indeterminate until the server tells how far it is
      $('upload-text').textContent = t('data.working');
      polling = setInterval(async () => {
        const response = await authFetch(`/api/imports/progress/${progressToken}`).catch(() => null);
        if (!polling || !response || !response.ok) return;
        const step = await response.json();
        if (step.total > 0) bar.value = Math.round((100 * step.done) / step.total);
        $('upload-text').textContent = t('data.serverStep')
          .replace('{stage}', t(`data.stage.${step.stage}`)).replace('{done}', num(step.done))
          .replace('{total}', num(step.total));
      }, 700);
    };
    request.onload = () => {
      stopPolling();
      bar.value = 0;
      $('upload-progress').hidden = true;
      resolve({ status: request.status, body: request.response });
    };
    request.onerror = () => {
      stopPolling();
      $('upload-progress').hidden = true;
      reject(new Error('network'));
    };
    request.send(data);
  });
}

function renderReport(body) {
  const rows = body.rows || [];
  const tbody = $('import-rows').querySelector('tbody');
  // Rejected rows first: they are what the official has to fix.
  const ordered = [...rows.filter((r) => r.status === 'rejected'), ...rows.filter((r) => r.status !== 'rejected')];
  tbody.innerHTML = ordered.slice(0, 500).map((r) => `<tr class="${r.status}">
    <td>${num(r.row)}</td><td>${escapeHtml(t(STATUS[r.status]))}${r.action ? ` · ${escapeHtml(t(ACTION[r.action]))}` : ''}</td>
    <td>${escapeHtml(FIELD_ZH[r.field] || r.field || '')}</td><td>${escapeHtml(r.reason_zh || r.reason || '')}</td></tr>`).join('');
  $('import-rows').hidden = rows.length === 0;
}

function summary(body, committed) {
  if (committed) {
    return t('data.committed').replace('{n}', num(body.accepted))
      .replace('{inserted}', num(body.inserted)).replace('{updated}', num(body.updated));
  }
  return t('data.checked').replace('{ok}', num(body.accepted)).replace('{bad}', num(body.rejected));
}

async function runImport(dryRun) {
  const form = $('import');
  if (!form.file.files.length) { form.file.reportValidity(); return; }
  $('commit').disabled = true;
  $('import-summary').className = 'summary';
  $('import-summary').textContent = '';
  $('import-summary').title = '';
  // The last file's report must not stand under this one's answer.
  $('import-rows').hidden = true;
  $('report-xlsx').hidden = true;
  try {
    const { status, body } = await upload(form, dryRun);
    if (status === 200) {
      $('import-summary').textContent = summary(body, !dryRun);
      renderReport(body);
      $('report-xlsx').hidden = !dryRun;
      lastChecked = dryRun && body.rejected === 0 ? form.file.files[0] : null;
      $('commit').disabled = !lastChecked;
    } else {
      $('import-summary').className = 'summary error';
      $('import-summary').textContent = fileError(status, body);
      $('import-summary').title = (body && body.detail) || '';
      if (body && body.rows) renderReport(body);
    }
  } catch (error) {
    $('import-summary').className = 'summary error';
    $('import-summary').textContent = t('data.failed');
  }
}

function save(blob, name) {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

async function download(url, name, status) {
  status.className = 'summary';
  status.textContent = t('data.working');
  const response = await authFetch(url);
  if (!response.ok) {
    let detail = `${response.status}`;
    try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
    status.className = 'summary error';
    status.textContent = detail;
    return;
  }
  save(await response.blob(), name);
  status.textContent = t('data.downloaded');
}

function reportUrl(form, format) {
  const kind = form.report.value;
  const query = new URLSearchParams({ region: form.region.value, format });
  if (kind === 'danger-statistics') query.set('quarter', form.period.value);
  else if (kind === 'danger-statistics-year') query.set('year', form.period.value);
  else query.set('month', form.period.value);
  const path = kind.startsWith('danger-statistics') ? 'danger-statistics' : kind;
  return `/api/reports/${path}?${query}`;
}

function periodHint() {
  const kind = $('report-kind').value;
  const now = new Date();
  const month = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}`;
  const value = kind === 'danger-statistics' ? `${now.getFullYear()}-Q${Math.floor(now.getMonth() / 3) + 1}`
    : kind === 'danger-statistics-year' ? String(now.getFullYear()) : month;
  $('report-period').value = value;
}

function table(headers, rows) {
  return `<table><thead><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>
    <tbody>${rows.map((r) => `<tr>${r.map((v) => `<td>${escapeHtml(v ?? '–')}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

function renderTable(kind, body) {
  if (kind === 'five-batches') {
    return table([t('data.item'), t('data.count')], body.items.map((i) => [i.name_zh, i.count]));
  }
  if (kind.startsWith('danger-statistics')) {
    const keys = ['found', 'major', 'fixed', 'fix_rate', 'supervised_city', 'supervised_district', 'overdue'];
    const head = [t('data.area'), ...keys.map((k) => t(`data.stat.${k}`))];
    const rows = body.rows.map((r) => [r.name, ...keys.map((k) => r[k])]);
    rows.push([t('data.total'), ...keys.map((k) => body.total[k])]);
    return table(head, rows);
  }
  return table([t('data.area'), t('data.level'), t('data.change')],
    body.regions.map((r) => [r.name, t(`level.${r.level}`), t(`data.change.${r.change}`)]))
    + `<p>${escapeHtml(t('data.rising'))}: ${num(body.enterprises.length)} · ${escapeHtml(t('data.overdueMajor'))}: ${num(body.overdue_major_dangers.length)}</p>`;
}

function wire() {
  $('import').addEventListener('submit', (event) => { event.preventDefault(); runImport(true); });
  $('commit').addEventListener('click', () => runImport(false));
  $('file').addEventListener('change', () => { $('commit').disabled = true; lastChecked = null; });
  $('layer').addEventListener('change', () => {
    $('template').href = `/api/imports/templates/${encodeURIComponent($('layer').value)}.xlsx`;
    $('commit').disabled = true;
  });
  $('report-xlsx').addEventListener('click', async () => {
    const { status, body } = await upload($('import'), true, 'xlsx');
    if (status === 200) save(body, 'import-report.xlsx');
  });
  $('registers').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.target;
    const query = new URLSearchParams({ format: form.format.value });
    if (form.region.value) query.set(form.layer.value === 'rankings' ? 'parent' : 'region', form.region.value);
    if (form.level.value && ['enterprises', 'risk_points', 'hazard_sources'].includes(form.layer.value)) {
      query.set('level', form.level.value);
    }
    download(`/api/registers/${form.layer.value}?${query}`, `${form.layer.value}.${form.format.value}`,
      $('registers-status'));
  });
  $('report-kind').addEventListener('change', periodHint);
  $('reports').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    const view = $('report-view');
    const response = await authFetch(reportUrl(form, 'json'));
    const body = await response.json().catch(() => ({}));
    view.innerHTML = response.ok ? renderTable(form.report.value, body)
      : `<p class="summary error">${escapeHtml(body.detail || response.status)}</p>`;
  });
  $('report-download').addEventListener('click', () => {
    const form = $('reports');
    if (!form.reportValidity()) return;
    download(reportUrl(form, 'xlsx'), `${form.report.value}-${form.period.value}.xlsx`, $('report-view'));
  });
  $('signin').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    try {
      await signIn(form.username.value, form.password.value);
    } catch (error) {
      $('signin-error').textContent = t('data.signinFailed');
    }
  });
  onAuthChange(show);
}

applyI18n();
wire();
periodHint();
show();
