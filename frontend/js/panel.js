// The side panel: the region in view, its counts, hazard sources, dangers, trend, ranking.

import { COLOURS, LEVELS, RANK } from './api.js';
import { escapeHtml, levelClass } from './fragments.js';
import { getLang, num, t } from './i18n.js';
import { gradeSymbolSvg } from './symbols.js';

export function methodText(label) {
  const name = String(label || '').split('@')[0];
  const base = name.split('/')[0];
  const short = base ? t(`method.${base}.short`, base) : '';
  return { short, label: label || '' };
}

export function gradeLabel(grade) {
  return getLang() === 'en' ? `Grade ${['I', 'II', 'III', 'IV'][grade - 1]}` : `${'一二三四'[grade - 1]}级`;
}

/** t() with {name} placeholders filled (values escaped by the caller's escapeHtml). */
export function fmt(key, vars) {
  return t(key).replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined || vars[k] === null ? '–' : String(vars[k])));
}

function levelName(level) {
  return t(level ? `level.${level}` : 'level.none');
}

/** The counts by colour: the region's, or under the map's filters when `filtered` is given
 *  (public zones have no sector: a row of dashes under a sector filter). */
function countsTable(region, filtered) {
  const rows = filtered ? [
    ['riskPoints', filtered.risk_points],
    ['enterprises', filtered.enterprises],
    ['publicZones', filtered.public_zones],
  ] : [
    ['riskPoints', region.counts],
    ['enterprises', region.enterprises],
    ['publicZones', region.public_zones],
  ];
  const head = LEVELS.map((l) => `<th title="${escapeHtml(levelName(l))}"><span class="dot fill ${l}"></span></th>`).join('');
  const body = rows.map(([key, counts]) => {
    if (!counts) {
      return `<tr data-row="${key}"><td>${escapeHtml(t(`panel.${key}`))}</td>${LEVELS.map((l) => `<td data-level="${l}">–</td>`).join('')}<td>–</td></tr>`;
    }
    const total = LEVELS.reduce((s, l) => s + (counts[l] || 0), 0);
    // Shares drawn as SVG rectangles: sized by attributes, as the CSP allows no style attribute.
    let start = 0;
    const bar = total ? LEVELS.map((l) => {
      const width = (100 * (counts[l] || 0)) / total;
      start += width;
      return `<rect x="${start - width}" width="${width}" height="1" fill="${COLOURS[l]}"/>`;
    }).join('') : '';
    return `<tr data-row="${key}"><td>${escapeHtml(t(`panel.${key}`))}<svg class="stack" viewBox="0 0 100 1" preserveAspectRatio="none" aria-hidden="true">${bar}</svg></td>${
      LEVELS.map((l) => `<td data-level="${l}">${num(counts[l] || 0)}</td>`).join('')}<td><b>${num(total)}</b></td></tr>`;
  }).join('');
  return `<table class="counts"><thead><tr><th></th>${head}<th>${escapeHtml(t('common.total'))}</th></tr></thead><tbody>${body}</tbody></table>`;
}

function hazardGrades(grades) {
  return `<div class="grades">${[1, 2, 3, 4].map((g) => `<div class="g" data-grade="${g}">${gradeSymbolSvg(g, 20)}
    <div class="v">${num(grades[String(g)] || 0)}</div>
    <div class="k">${escapeHtml(gradeLabel(g))}</div></div>`).join('')}</div>`;
}

/** Ranks children: regional level first, then red, orange, yellow, blue risk points. */
export function rankChildren(features) {
  const key = (p) => [RANK[p.regional_level] || 0, ...(LEVELS.map((l) => (p.counts ? p.counts[l] : 0) || 0))];
  return [...features].map((f) => f.properties).sort((a, b) => {
    const ka = key(a); const kb = key(b);
    for (let i = 0; i < ka.length; i += 1) if (ka[i] !== kb[i]) return kb[i] - ka[i];
    return String(a.code).localeCompare(String(b.code));
  });
}

function ranking(view) {
  const rows = rankChildren(view.children.features);
  const isGrid = view.region.is_leaf;
  const title = t(isGrid ? 'panel.childrenGrid' : 'panel.children');
  if (!rows.length) {
    return `<div class="section"><h2>${escapeHtml(title)}</h2><div class="empty-note">${escapeHtml(t(isGrid ? 'panel.noGrid' : 'panel.noChildren'))}</div></div>`;
  }
  const items = rows.map((p, i) => `<li data-code="${escapeHtml(p.code)}" title="${escapeHtml(levelName(p.regional_level))}">
      <span class="no">${i + 1}</span><span class="chip fill ${levelClass(p.regional_level)}"></span>
      <span class="nm">${escapeHtml(p.name)}</span>
      <span class="nums"><b class="r">${num(p.counts ? p.counts.red : 0)}</b> / <b class="o">${num(p.counts ? p.counts.orange : 0)}</b> / ${num(p.enterprises_total || 0)}</span></li>`).join('');
  return `<div class="section"><h2>${escapeHtml(title)} <small>${escapeHtml(t('level.red.short'))}/${escapeHtml(t('level.orange.short'))} · ${escapeHtml(t('panel.enterprises'))}</small></h2><ol class="ranking" id="ranking">${items}</ol></div>`;
}

/** Why the region has its level, in plain words: what the level means, the largest
 *  contributors, the breaks (composite index); a sentence for the other methods. */
function whyBlock(r) {
  const method = String(r.method || '');
  const ex = r.explain;
  let body;
  if (method.startsWith('composite') && ex) {
    const top = ex.contributors.slice(0, 3).map((c) => `<li data-measure="${escapeHtml(c.measure)}"><b>${escapeHtml(c.label)}</b> ${num(c.count)} ${escapeHtml(c.unit)}<span class="share">${Math.round(c.share * 100)}%</span></li>`).join('');
    const b = ex.breaks;
    body = `<p class="meaning">${escapeHtml(ex.meaning)}</p>
      ${top ? `<div class="sub">${escapeHtml(t('why.top'))}</div><ol class="contributors">${top}</ol>` : ''}
      <p class="note">${r.index !== null && r.index !== undefined ? `${escapeHtml(fmt('why.value', { v: r.index, unit: ex.normalise_unit }))}<br>` : ''}${b ? escapeHtml(fmt('why.breaks', { n: b.units, y: b.yellow, o: b.orange, r: b.red, unit: ex.normalise_unit })) : ''}</p>`;
  } else {
    body = `<p class="meaning">${escapeHtml(t(method.startsWith('highest') ? 'why.highest' : 'why.index'))}</p>`;
  }
  return `<div class="section why" id="level-why"><h2>${escapeHtml(t('why.title'))}</h2>${body}</div>`;
}

const sum = (counts) => Object.values(counts || {}).reduce((a, b) => a + (b || 0), 0);

/** The figures of the panel's cards: the region's, or under the map's filters those of what
 *  the map shows (dangers at the enterprises kept, when the server counted them). */
function kpis(r, filtered) {
  const dangers = filtered && filtered.dangers;
  return {
    openMajor: dangers ? dangers.open_major : r.open_major_dangers,
    open: dangers ? dangers.open : r.open_dangers,
    enterprises: filtered && filtered.enterprises ? sum(filtered.enterprises) : r.enterprises_total,
    hazards: (filtered && filtered.hazard_sources) || r.hazard_sources,
  };
}

export function renderPanel(root, view, { onChild, onChildHover, filtered = null } = {}) {
  const r = view.region;
  const k = kpis(r, filtered);
  const method = methodText(r.method);
  const kind = t(`kind.${r.level}`, r.level);
  const level = r.regional_level;
  const name = r.code ? r.name : t('country');
  root.innerHTML = `
    <div class="region-head">
      <div><h1 id="region-name">${escapeHtml(name)}</h1>
        <div class="sub">${r.code ? `${escapeHtml(kind)} · ${escapeHtml(r.code)}` : escapeHtml(t('app.mapTitle'))}</div></div>
    </div>
    <div class="level-card ${levelClass(level)}" id="level-card" data-level="${escapeHtml(level || '')}">
      <div><div class="sub">${escapeHtml(t('panel.regionLevel'))}</div>
        <div class="big">${escapeHtml(levelName(level))}</div></div>
      <div class="method" id="region-method" title="${escapeHtml(method.label)}">${escapeHtml(t('panel.method'))}${getLang() === 'en' ? ': ' : '：'}${escapeHtml(method.short)}<br><code>${escapeHtml(method.label)}</code>${r.index !== null && r.index !== undefined ? `<br>${escapeHtml(t('panel.index'))} ${escapeHtml(r.index)}` : ''}</div>
    </div>
    ${whyBlock(r)}
    <div class="section"><h2>${escapeHtml(t('panel.counts'))}${filtered ? ` <small>${escapeHtml(t('legend.filtered'))}</small>` : ''}</h2>${countsTable(r, filtered)}</div>
    <div class="section"><div class="kpis" id="kpis">
      <div class="kpi ${k.openMajor ? 'alert' : ''}" id="kpi-open-major"><div class="v">${num(k.openMajor)}</div><div class="k">${escapeHtml(t('panel.openMajor'))}</div></div>
      <div class="kpi" id="kpi-open"><div class="v">${num(k.open)}</div><div class="k">${escapeHtml(t('panel.openAll'))}</div></div>
      <div class="kpi" id="kpi-enterprises"><div class="v">${num(k.enterprises)}</div><div class="k">${escapeHtml(t('panel.enterprisesTotal'))}</div></div>
      <div class="kpi" id="kpi-hazards"><div class="v">${num(sum(k.hazards))}</div><div class="k">${escapeHtml(t('panel.hazards'))}</div></div>
    </div></div>
    <div class="section"><h2>${escapeHtml(t('panel.hazards'))}${filtered ? ` <small>${escapeHtml(t('legend.filtered'))}</small>` : ''}</h2>${hazardGrades(k.hazards)}</div>
    <div class="section trend" id="trend"><h2>${escapeHtml(t('panel.trend'))} <small>${escapeHtml(t('panel.trendDays'))}</small></h2><div class="note">${escapeHtml(t('common.loading'))}</div></div>
    <div class="section compare" id="compare"></div>
    ${ranking(view)}
    <div class="foot-note">${escapeHtml(t('panel.clickHint'))}<br>${escapeHtml(t('panel.source'))}</div>`;
  const list = root.querySelector('#ranking');
  if (list) {
    list.addEventListener('click', (e) => {
      const li = e.target.closest('li[data-code]');
      if (li && onChild) onChild(li.dataset.code);
    });
    list.addEventListener('mouseover', (e) => {
      const li = e.target.closest('li[data-code]');
      if (li && onChildHover) onChildHover(li.dataset.code);
    });
    list.addEventListener('mouseleave', () => onChildHover && onChildHover(null));
  }
}

export function markRanking(root, code) {
  root.querySelectorAll('#ranking li').forEach((li) => li.classList.toggle('hover', li.dataset.code === code));
}

/** A small inline-SVG line chart of risk points per colour over the snapshots. */
export function renderTrend(root, trend) {
  const box = root.querySelector('#trend');
  if (!box) return;
  const points = (trend && trend.points) || [];
  const title = box.querySelector('h2').outerHTML;
  if (points.length === 0) {
    box.innerHTML = `${title}<div class="note">${escapeHtml(t('panel.trendFew'))}</div>`;
    return;
  }
  const W = 320; const H = 120; const pad = { l: 34, r: 8, t: 8, b: 20 };
  const days = points.map((p) => new Date(`${p.date}T00:00:00`).getTime());
  const d0 = Math.min(...days); const d1 = Math.max(...days);
  const max = Math.max(1, ...points.flatMap((p) => LEVELS.map((l) => p.counts[l] || 0)));
  const x = (d) => pad.l + (d1 === d0 ? (W - pad.l - pad.r) / 2 : ((d - d0) / (d1 - d0)) * (W - pad.l - pad.r));
  const y = (v) => H - pad.b - (v / max) * (H - pad.t - pad.b);
  const grid = [0, 0.5, 1].map((f) => `<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(max * f)}" y2="${y(max * f)}" stroke="#e3e7ec"/>
    <text x="${pad.l - 4}" y="${y(max * f) + 4}" font-size="10" text-anchor="end" fill="#8592a0">${num(Math.round(max * f))}</text>`).join('');
  const series = LEVELS.map((l) => {
    const coords = points.map((p, i) => `${x(days[i]).toFixed(1)},${y(p.counts[l] || 0).toFixed(1)}`);
    const dots = points.length <= 31 ? points.map((p, i) => `<circle cx="${x(days[i]).toFixed(1)}" cy="${y(p.counts[l] || 0).toFixed(1)}" r="2.5" fill="${COLOURS[l]}"><title>${escapeHtml(`${p.date} ${levelName(l)} ${p.counts[l] || 0}`)}</title></circle>`).join('') : '';
    return `<polyline points="${coords.join(' ')}" fill="none" stroke="${COLOURS[l]}" stroke-width="2"/>${dots}`;
  }).join('');
  const labels = `<text x="${pad.l}" y="${H - 4}" font-size="10" fill="#8592a0">${escapeHtml(points[0].date)}</text>
    <text x="${W - pad.r}" y="${H - 4}" font-size="10" text-anchor="end" fill="#8592a0">${escapeHtml(points[points.length - 1].date)}</text>`;
  const note = points.length < 2 ? `<div class="note">${escapeHtml(t('panel.trendFew'))}</div>` : '';
  box.innerHTML = `${title}<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(t('panel.trend'))}" data-points="${points.length}">${grid}${series}${labels}</svg>${note}`;
}

export function renderPanelError(root, error, onRetry) {
  root.innerHTML = `<div class="empty-note">${escapeHtml(t('common.error'))}: ${escapeHtml(error.message || error)}</div>
    <button type="button" class="btn" id="retry">${escapeHtml(t('common.retry'))}</button>`;
  root.querySelector('#retry').addEventListener('click', onRetry);
}
