// Small HTML fragments shared by popups and the panel, and the one escaping helper every
// piece of markup built from data goes through.

import { LEVELS } from './api.js';
import { t } from './i18n.js';

/** Text (names, addresses, any value from the server) made safe for HTML content and
 *  quoted attribute values: an enterprise called "<img onerror=…>" shows as those characters. */
export function escapeHtml(text) {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

/** A four-colour level as a class name: red, orange, yellow, blue, else none. */
export function levelClass(level) {
  return LEVELS.includes(level) ? level : 'none';
}

/** A coloured badge naming a four-colour level (or "no data"). */
export function levelBadge(level) {
  return `<span class="badge ${levelClass(level)}">${escapeHtml(t(level ? `level.${level}` : 'level.none'))}</span>`;
}

/** A definition list of [label, html] rows, leaving out rows without a value. */
export function factList(rows, className = '') {
  const shown = rows.filter(([, value]) => value !== null && value !== undefined && value !== '');
  return `<dl${className ? ` class="${className}"` : ''}>${shown
    .map(([label, value]) => `<dt>${escapeHtml(label)}</dt><dd>${value}</dd>`).join('')}</dl>`;
}

/** A phone number as a tap-to-call link (tel: keeps only digits, +, - and spaces; the text
 *  shown is escaped). Empty for none. */
export function phoneLink(phone) {
  if (!phone) return '';
  const dial = String(phone).replace(/[^\d+\-]/g, '');
  return dial ? `<a class="tel" href="tel:${dial}">${escapeHtml(phone)}</a>` : escapeHtml(phone);
}
