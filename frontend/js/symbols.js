// Map symbols as SVG text: used in the legend, the panel, exports, and (as bitmaps) on tiles.

import { COLOURS, GRADE_LEVEL } from './api.js';

export const RESOURCE_COLOUR = '#0b8a6b';
export const RESOURCE_KINDS = ['hospital', 'fire_station', 'rescue_team', 'materials_depot'];

export const colourOf = (level) => COLOURS[level] || COLOURS.none;

/** Major hazard source grades as written in the standard (一级 … 四级 → Ⅰ … Ⅳ). */
export const GRADE_NUMERALS = { 1: 'Ⅰ', 2: 'Ⅱ', 3: 'Ⅲ', 4: 'Ⅳ' };

/** An SVG triangle with the grade numeral (major hazard sources). */
export function gradeSymbolSvg(grade, size = 22) {
  const fill = colourOf(GRADE_LEVEL[grade]);
  const text = grade === 3 ? '#5a4a00' : '#fff';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 24 24">` +
    `<path d="M12 1.5 23 21.5H1z" fill="${fill}" stroke="#1f2d3d" stroke-width="1.2" stroke-linejoin="round"/>` +
    `<text x="12" y="19" font-size="10" font-weight="700" text-anchor="middle" fill="${text}" ` +
    `font-family="Arial, sans-serif">${{ 1: 'I', 2: 'II', 3: 'III', 4: 'IV' }[grade] || ''}</text></svg>`;
}

/** An emergency-resource symbol: a green disc with a glyph per kind. */
export function resourceSymbolSvg(kind, size = 18) {
  const glyphs = {
    hospital: '<path d="M10 6h4v4h4v4h-4v4h-4v-4H6v-4h4z" fill="#fff"/>',
    fire_station: '<path d="M12 5c1 3 5 5 5 9a5 5 0 0 1-10 0c0-2 1-3 2-4 0 2 1 3 2 3 0-3-1-5 1-8z" fill="#fff"/>',
    rescue_team: '<path d="M12 5l6 2v5c0 4-3 6-6 7-3-1-6-3-6-7V7z" fill="#fff"/>',
    materials_depot: '<path d="M6 9l6-3 6 3v8l-6 3-6-3z" fill="#fff"/>',
  };
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 24 24">` +
    `<circle cx="12" cy="12" r="11" fill="${RESOURCE_COLOUR}" stroke="#fff" stroke-width="1.5"/>` +
    `${glyphs[kind] || '<circle cx="12" cy="12" r="4" fill="#fff"/>'}</svg>`;
}

/** Every symbol a tile may draw, by the key tile styles use: {key: {svg, size}}. */
export function tileSymbols() {
  const symbols = {};
  for (const grade of [1, 2, 3, 4]) symbols[`grade${grade}`] = { svg: gradeSymbolSvg(grade, 22), size: 22 };
  for (const kind of [...RESOURCE_KINDS, 'other']) {
    symbols[`resource.${kind}`] = { svg: resourceSymbolSvg(kind, 18), size: 18 };
  }
  return symbols;
}
