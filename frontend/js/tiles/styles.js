// How each vector-tile layer draws its features. Pure functions of a feature's properties
// and the tile zoom, so the tile worker (which draws) and the map (which hit-tests popups
// against the same sizes) agree.
//
// A style is one of
//   {radius, fillColor, fillOpacity, color, weight, opacity}   a circle (points)
//   {symbol, size}                                             a bitmap symbol (points)
//   {fill, fillColor, fillOpacity, color, weight, opacity}     polygons and lines
// `order` puts features of higher risk on top: red is drawn last.

import { RANK } from '../api.js';
import { RESOURCE_COLOUR, RESOURCE_KINDS, colourOf } from '../symbols.js';

export const order = (properties) => RANK[properties.level] || 0;

// A red point on a red region would vanish: red points get a dark outline (a halo), the
// others a white one.
const outline = (p) => (p.level === 'red' ? { color: '#1f2d3d', weight: 1.6 } : { color: '#ffffff', weight: 1 });

function pointStyle(p, z, base) {
  if (p.aggregated) {
    const grow = z <= 5 ? 0.8 : z <= 7 ? 1.1 : 1.4;
    return { radius: Math.min(14, base + Math.log2(p.count + 1) * grow), fillColor: colourOf(p.level),
      fillOpacity: 0.82, opacity: 1, ...outline(p), weight: outline(p).weight + 0.2 };
  }
  const radius = z >= 15 ? base + 2.5 : z >= 13 ? base + 1.5 : base;
  return { radius, fillColor: colourOf(p.level), fillOpacity: 0.95, opacity: 1, ...outline(p) };
}

/** layer name → (properties, zoom) → style. */
export const STYLES = {
  enterprises: (p, z) => pointStyle(p, z, 3.5),
  risk_points: (p, z) => pointStyle(p, z, 3),
  public_zones: (p, z) => (p.aggregated ? pointStyle(p, z, 3) : {
    radius: 4, fill: true, fillColor: colourOf(p.level), fillOpacity: 0.35, color: colourOf(p.level),
    weight: 2, opacity: 0.9 }),
  hazard_sources: (p, z) => (p.aggregated ? pointStyle(p, z, 4)
    : { symbol: `grade${[1, 2, 3, 4].includes(p.grade) ? p.grade : 4}`, size: 22 }),
  emergency_resources: (p) => (p.aggregated ? {
    radius: Math.min(14, 4 + Math.sqrt(p.count) * 1.5), fillColor: RESOURCE_COLOUR,
    fillOpacity: 0.85, color: '#fff', weight: 1.5, opacity: 1 }
    : { symbol: `resource.${RESOURCE_KINDS.includes(p.kind) ? p.kind : 'other'}`, size: 18 }),
  // A dark ring tells a danger from an enterprise of the same colour.
  hidden_dangers: (p, z) => ({ ...pointStyle(p, z, 3.5), color: '#1f2d3d', weight: 1.8 }),
  grid: (p) => ({ fill: true, fillColor: colourOf(p.level), fillOpacity: 0.45, color: '#ffffff',
    weight: 0.8, opacity: 0.9 }),
  boundaries: () => ({ fill: false, color: '#7d8b9b', weight: 0.8, opacity: 0.9 }),
};

/** The tile source (`/tiles/{source}/…`) behind a map layer. */
export const sourceOf = (name) => (name === 'boundaries' ? 'regions' : name);
