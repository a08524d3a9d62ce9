// Small HTML fragments shared by popups and the panel.

import { escapeHtml } from './api.js';
import { t } from './i18n.js';

/** A coloured badge naming a four-colour level (or "no data"). */
export function levelBadge(level) {
  return `<span class="badge ${level || 'none'}">${escapeHtml(t(level ? `level.${level}` : 'level.none'))}</span>`;
}

/** A definition list of [label, html] rows, leaving out rows without a value. */
export function factList(rows, className = '') {
  const shown = rows.filter(([, value]) => value !== null && value !== undefined && value !== '');
  return `<dl${className ? ` class="${className}"` : ''}>${shown
    .map(([label, value]) => `<dt>${escapeHtml(label)}</dt><dd>${value}</dd>`).join('')}</dl>`;
}
