// The side panel's enterprise dossier (企业风险档案): what a popup's details link opens.

/* global L */

import { getJSON } from './api.js';
import { canRead } from './auth.js';
import { num, t } from './i18n.js';
import { escapeHtml, factList, levelBadge, levelClass, phoneLink } from './fragments.js';
import { GRADE_NUMERALS, gradeSymbolSvg } from './symbols.js';


function section(title, count, body) {
  return `<div class="section"><h2>${escapeHtml(title)} <small>${num(count)}</small></h2>${body}</div>`;
}

const none = () => `<div class="note">${escapeHtml(t('dossier.none'))}</div>`;

/** Why the enterprise has its level, from the basis the enterprise rule recorded. */
function basis(level, recorded) {
  if (!recorded) return '';
  const rows = [];
  if (recorded.highest_risk_point) rows.push([t('dossier.basis.highest_risk_point'), levelBadge(recorded.highest_risk_point)]);
  if (recorded.red_hazard_source) rows.push([t('dossier.basis.red_hazard_source'), levelBadge('red')]);
  if (recorded.open_major_danger) rows.push([t('dossier.basis.open_major_danger'), '↑']);
  if (recorded.blacklisted) rows.push([t('dossier.basis.blacklisted'), '↑']);
  if (recorded.rule) rows.push([t('dossier.basis.rule'), `<code>${escapeHtml(recorded.rule)}</code>`]);
  return `<div class="section" id="dossier-basis"><h2>${escapeHtml(t('dossier.basis'))}</h2>${factList(rows, 'facts')}</div>`;
}

/** The enterprise's blacklist listing in force (GET /api/map/enterprises/{id}: blacklist). */
function blacklistSection(entry) {
  if (!entry) return '';
  return `<div class="section" id="dossier-blacklist"><h2>${escapeHtml(t('dossier.blacklist'))}</h2>${factList([
    [t('blacklist.reason'), escapeHtml(entry.reason)],
    [t('blacklist.basis'), escapeHtml(entry.legal_basis)],
    [t('blacklist.decided'), escapeHtml(entry.decided_on)],
    [t('blacklist.until'), escapeHtml(entry.listed_until)],
    [t('blacklist.by'), escapeHtml(entry.decided_by)],
  ], 'facts')}</div>`;
}

function riskPointRows(points) {
  if (!points.length) return none();
  return `<table class="dossier-table" id="dossier-risk-points"><tbody>${points.map((p) => `<tr>
    <td><span class="chip fill ${levelClass(p.risk_level)}"></span></td>
    <td>${escapeHtml(p.name)}${p.hazard_type ? `<small>${escapeHtml(p.hazard_type)}</small>` : ''}</td>
    <td class="num">${escapeHtml(String(p.method || '').toUpperCase())} ${p.score !== null && p.score !== undefined ? num(Math.round(p.score * 10) / 10) : ''}</td>
  </tr>`).join('')}</tbody></table>`;
}

function hazardRows(sources) {
  if (!sources.length) return none();
  // Setback zones (GET /api/planning/zones/{id}) for the roles that read protection targets.
  const zones = canRead('public_zones');
  return `<table class="dossier-table" id="dossier-hazards"><tbody>${sources.map((h) => `<tr>
    <td>${h.grade ? gradeSymbolSvg(h.grade, 16) : ''}</td>
    <td>${escapeHtml(h.name)}${zones ? `<button type="button" class="btn small zones-btn" data-zones="${Number(h.id)}" aria-pressed="false">${escapeHtml(t('zones.show'))}</button>` : ''}</td>
    <td class="num">${h.grade ? `${GRADE_NUMERALS[h.grade]} ${escapeHtml(t('panel.grade'))}` : ''} ${h.r_value !== null && h.r_value !== undefined ? `R ${Number(h.r_value).toFixed(1)}` : ''}</td>
  </tr>${zones ? `<tr class="zones-row" data-zones-for="${Number(h.id)}" hidden><td colspan="3"></td></tr>` : ''}`).join('')}</tbody></table>`;
}

// The setback zones drawn for one hazard source at a time: {id, layer}, or null.
let shownZones = null;
let zonesTicket = 0;
// A ring colour per target class, most sensitive first (others grey).
const ZONE_COLOURS = ['#c0392b', '#e67e22', '#8e44ad', '#2f6fd6', '#16a085', '#7f8c8d'];

/** Remove the setback zones from the map (a second click, another dossier, closing it). */
export function clearZones() {
  zonesTicket += 1;
  if (!shownZones) return;
  const riskMap = window.RiskAtlas && window.RiskAtlas.riskMap;
  if (riskMap) riskMap.map.removeLayer(shownZones.layer);
  shownZones = null;
}

/** A target class's name without its examples: 重要防护目标（文物…） → 重要防护目标. */
const shortClass = (label) => String(label).split(/[（(]/)[0];

function violationList(answer) {
  const rows = answer.violations || [];
  const rings = answer.features.map((f) => `<li>${escapeHtml(f.properties.label_zh)} · ${num(Math.round(f.properties.required_m))} ${escapeHtml(t('zones.metres'))}${f.properties.source_clause ? `<small>${escapeHtml(f.properties.source_clause)}</small>` : ''}</li>`).join('');
  const head = `<div class="zones-info" id="zones-info"><div class="sub">${escapeHtml(t('zones.rings'))} · <code>${escapeHtml(answer.rule_set_version)}</code></div>
    <ul class="zones-rings">${rings || `<li>${escapeHtml(t('zones.noRings'))}</li>`}</ul>
    <div class="sub">${escapeHtml(t('zones.violations'))} <small>${num(rows.length)}</small></div>`;
  if (!rows.length) return `${head}<div class="note" id="zones-violations">${escapeHtml(t('zones.noViolations'))}</div></div>`;
  return `${head}<table class="dossier-table" id="zones-violations"><tbody>${rows.map((v) => `<tr class="alert">
    <td>${escapeHtml(v.other_name)}<small>${escapeHtml(v.source_clause || v.rule || '')}</small></td>
    <td class="num">${num(Math.round(v.distance_m))} / ${num(Math.round(v.required_m))} ${escapeHtml(t('zones.metres'))}<small>${escapeHtml(t('zones.shortfall'))} ${num(Math.round(v.shortfall_m))}</small></td>
  </tr>`).join('')}</tbody></table></div>`;
}

async function toggleZones(root, button) {
  const id = Number(button.dataset.zones);
  const was = shownZones && shownZones.id;
  clearZones();
  root.querySelectorAll('[data-zones]').forEach((b) => b.setAttribute('aria-pressed', 'false'));
  root.querySelectorAll('[data-zones-for]').forEach((row) => { row.hidden = true; });
  if (was === id) return;
  const riskMap = window.RiskAtlas && window.RiskAtlas.riskMap;
  const row = root.querySelector(`[data-zones-for="${id}"]`);
  const ticket = zonesTicket;
  let answer;
  try {
    answer = await getJSON(`/api/planning/zones/${id}`);
  } catch (error) {
    if (ticket !== zonesTicket) return;
    row.hidden = false;
    row.firstElementChild.innerHTML = `<div class="note error">${escapeHtml(t('common.error'))}: ${escapeHtml(error.detail || error.message)}</div>`;
    return;
  }
  if (ticket !== zonesTicket || !riskMap) return;
  const map = riskMap.map;
  if (!map.getPane('zones')) map.createPane('zones').style.zIndex = '450';
  const layer = L.featureGroup([], { pane: 'zones' });
  // Classes with the same distance share one ring (and one label naming them all); the
  // widest ring is drawn first, so the narrower ones lie on top of it.
  const rings = new Map();
  for (const feature of answer.features) {
    const key = `${feature.properties.required_m}|${feature.properties.contour_level ?? ''}`;
    if (!rings.has(key)) rings.set(key, { feature, names: [] });
    rings.get(key).names.push(shortClass(feature.properties.label_zh));
  }
  const features = [...rings.values()].sort((a, b) => b.feature.properties.required_m - a.feature.properties.required_m);
  features.forEach(({ feature, names }, i) => {
    const colour = ZONE_COLOURS[Math.min(i, ZONE_COLOURS.length - 1)];
    const ring = L.geoJSON(feature, { pane: 'zones', interactive: false,
      style: { color: colour, weight: 2, dashArray: '6 4', fillColor: colour, fillOpacity: 0.06 } });
    ring.addTo(layer);
    const bounds = ring.getBounds();
    // Labels alternate between the north and the south edge: nested rings keep them apart.
    const north = i % 2 === 0;
    L.tooltip({ permanent: true, direction: north ? 'top' : 'bottom', className: 'zones-label', pane: 'zones', interactive: false })
      .setLatLng([north ? bounds.getNorth() : bounds.getSouth(), bounds.getCenter().lng])
      .setContent(`${escapeHtml(names.join('、'))} ${num(Math.round(feature.properties.required_m))} ${escapeHtml(t('zones.metres'))}`)
      .addTo(layer);
  });
  layer.addTo(map);
  shownZones = { id, layer };
  button.setAttribute('aria-pressed', 'true');
  row.hidden = false;
  row.firstElementChild.innerHTML = violationList(answer);
  if (features.length) {
    // On a phone the panel is a sheet over the map's lower part: the rings go above it.
    const sheet = document.getElementById('panel').getBoundingClientRect();
    const box = map.getContainer().getBoundingClientRect();
    const under = sheet.top > box.top && sheet.width >= box.width - 1 ? Math.max(0, box.bottom - sheet.top) : 0;
    map.fitBounds(L.geoJSON(features[0].feature).getBounds(),
      { paddingTopLeft: [24, 64], paddingBottomRight: [24, under + 24], maxZoom: 17 });
  }
}

function dangerRows(dangers) {
  if (!dangers.length) return none();
  return `<table class="dossier-table" id="dossier-dangers"><tbody>${dangers.map((d) => `<tr class="${d.grade === 'major' ? 'alert' : ''}${d.overdue ? ' overdue' : ''}">
    <td><span class="tag ${escapeHtml(d.grade)}">${escapeHtml(t(`danger.${d.grade}`, d.grade))}</span></td>
    <td>${escapeHtml(d.title)}${d.deadline ? `<small>${escapeHtml(t('dossier.deadline'))} ${escapeHtml(d.deadline)}</small>` : ''}</td>
    <td class="num">${escapeHtml(t(`status.${d.status}`, d.status))}${d.overdue ? `<small class="overdue">${escapeHtml(t('dz.overdue', '逾期'))}</small>` : ''}</td>
  </tr>`).join('')}</tbody></table>`;
}

/** Open and overdue major dangers in one line (the closed loop's headline for this enterprise). */
function majorLine(major) {
  if (!major) return '';
  const text = t('dz.dossier.major', '重大隐患：未闭环 {open} 项，逾期 {overdue} 项')
    .replace('{open}', num(major.open)).replace('{overdue}', num(major.overdue));
  return `<div class="dossier-major${major.open ? '' : ' calm'}" id="dossier-major">${escapeHtml(text)}</div>`;
}

function gradingRows(assessments) {
  if (!assessments.length) return none();
  return `<table class="dossier-table"><tbody>${assessments.map((a) => `<tr>
    <td><span class="chip fill ${levelClass(a.risk_level)}"></span></td>
    <td>${escapeHtml(t(`subject.${a.subject_type}`, a.subject_type))} · ${escapeHtml(a.method)}<small>${escapeHtml(a.assessed_at.slice(0, 16).replace('T', ' '))} · ${escapeHtml(a.assessed_by)}</small></td>
    <td class="num"><code>${escapeHtml(a.ruleset_version)}</code></td>
  </tr>`).join('')}</tbody></table>`;
}

// Column names a change may list, in words (others are shown as they are).
const FIELDS = ['name', 'credit_code', 'sector', 'address', 'park', 'employees', 'geom',
  'footprint', 'risk_level', 'responsible_person', 'responsible_phone', 'government_person',
  'method', 'score', 'hazard_type', 'substances', 'grade', 'r_value', 's_value', 'alpha',
  'exposed_people', 'unit_type'];

function changeRows(changes) {
  if (!changes.length) return none();
  return `<table class="dossier-table" id="dossier-changes"><tbody>${changes.map((c) => `<tr>
    <td><span class="tag change ${escapeHtml(c.action)}">${escapeHtml(t(`change.${c.action}`, c.action))}</span></td>
    <td>${escapeHtml(t(`table.${c.table}`, c.table))} #${Number(c.row_id)}${c.fields.length ? `<small>${escapeHtml(
      c.fields.map((f) => (FIELDS.includes(f) ? t(`field.${f}`, f) : f)).join('、'))}</small>` : ''}</td>
    <td class="num">${escapeHtml(c.at.slice(0, 16).replace('T', ' '))}<small>${escapeHtml(c.username || t('change.system'))}</small></td>
  </tr>`).join('')}</tbody></table>`;
}

// The raw dossier opens from memory: a link to the API would open without the token.
let rawUrl = null;
function rawLink(dossier) {
  if (rawUrl) URL.revokeObjectURL(rawUrl);
  rawUrl = URL.createObjectURL(new Blob([JSON.stringify(dossier, null, 2)], { type: 'application/json' }));
  return rawUrl;
}

/** Render a dossier into the panel; `onBack` returns to the region, `onLocate` flies there. */
export function renderDossier(root, dossier, { onBack, onLocate } = {}) {
  clearZones();
  const e = dossier.enterprise;
  const level = e.risk_level;
  root.innerHTML = `
    <button type="button" class="link-btn" id="dossier-back">← ${escapeHtml(t('dossier.back'))}</button>
    <div class="region-head"><div>
      <h1 id="dossier-name">${escapeHtml(e.name)}</h1>
      <div class="sub">${escapeHtml(t('dossier.title'))} · ${escapeHtml(e.sector || '')}</div></div>
    </div>
    <div class="level-card ${levelClass(level)}" id="dossier-level" data-level="${escapeHtml(level || '')}">
      <div><div class="sub">${escapeHtml(t('popup.level'))}</div>
        <div class="big">${escapeHtml(t(level ? `level.${level}` : 'level.none'))}</div></div>
      <button type="button" class="btn small" id="dossier-locate">${escapeHtml(t('dossier.locate'))}</button>
    </div>
    ${basis(level, e.level_basis)}
    ${blacklistSection(dossier.blacklist)}
    <div class="section"><h2>${escapeHtml(t('dossier.facts'))}</h2>${factList([
      [t('popup.credit'), `<code>${escapeHtml(e.credit_code)}</code>`],
      [t('popup.sector'), escapeHtml(e.sector)],
      [t('popup.park'), escapeHtml(e.park)],
      [t('dossier.address'), escapeHtml(e.address)],
      [t('dossier.employees'), e.employees !== null && e.employees !== undefined ? num(e.employees) : null],
      [t('dossier.responsible'), e.responsible_person ? `${escapeHtml(e.responsible_person)} ${phoneLink(e.responsible_phone)}` : null],
      [t('dossier.government'), escapeHtml(e.government_person)],
      [t('popup.county'), escapeHtml(e.county_code)],
    ], 'facts')}</div>
    ${section(t('dossier.dangers'), dossier.open_dangers.length, majorLine(dossier.major_dangers) + dangerRows(dossier.open_dangers))}
    ${section(t('dossier.riskPoints'), dossier.risk_points.length, riskPointRows(dossier.risk_points))}
    ${section(t('dossier.hazards'), dossier.hazard_sources.length, hazardRows(dossier.hazard_sources))}
    ${section(t('dossier.gradings'), dossier.assessments.length, gradingRows(dossier.assessments))}
    ${section(t('dossier.changes'), (dossier.changes || []).length, changeRows(dossier.changes || []))}
    <div class="foot-note"><a href="${rawLink(dossier)}" target="_blank" rel="noopener" id="dossier-raw">${escapeHtml(t('dossier.raw'))}</a></div>`;
  root.querySelector('#dossier-back').addEventListener('click', () => onBack && onBack());
  root.querySelector('#dossier-locate').addEventListener('click', () => onLocate && onLocate(e));
  root.querySelectorAll('[data-zones]').forEach((button) => button.addEventListener('click', () => toggleZones(root, button)));
  root.scrollTop = 0;
}
