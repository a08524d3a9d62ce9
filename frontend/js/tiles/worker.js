// The tile worker: fetches vector tiles, decodes them and draws them on an OffscreenCanvas,
// then hands the picture to the page as an ImageBitmap. Decoding and canvas rasterisation of
// thousands of features per tile happen here, off the main thread, so panning never waits
// for them. The worker keeps each drawn tile's features (in tile pixels) to answer hit tests
// for popups, until the page releases the tile.
//
// Messages in:  {type: 'symbols', symbols: {key: ImageBitmap}}
//               {type: 'render', id, pieces: [{url, at: [x, y]}], layer, z, size, pieceSize, ratio,
//                token}   (the signed-in user's access token, or null for the public)
//               {type: 'hit', id, tile, x, y, tolerance}
//               {type: 'release', id}
// Messages out: {type: 'rendered', id, bitmap | null}  {type: 'failed', id, status, message}
//               {type: 'hit', id, properties | null}

import { decodeTile } from './mvt.js';
import { STYLES, order, sourceOf } from './styles.js';

let symbols = {};
const pending = new Map();   // render id → AbortController
const drawn = new Map();     // render id → [{feature, style}] in drawing order, tile pixels

/** Features with their styles, lowest risk first, grouped where they share a style. */
function styledGroups(features, name, z) {
  const styleOf = STYLES[name];
  const items = features.map((feature) => ({ feature, style: styleOf(feature.properties, z),
    rank: order(feature.properties) }));
  items.sort((a, b) => a.rank - b.rank);
  const groups = new Map();
  for (const item of items) {
    const key = `${item.rank}|${JSON.stringify(item.style)}`;
    if (!groups.has(key)) groups.set(key, { style: item.style, items: [] });
    groups.get(key).items.push(item);
  }
  return [...groups.values()];
}

function tracePath(ctx, feature, style, ratio) {
  for (const part of feature.parts) {
    if (feature.type === 'Point') {
      const [x, y] = part[0];
      const radius = style.radius * ratio;
      ctx.moveTo(x * ratio + radius, y * ratio);
      ctx.arc(x * ratio, y * ratio, radius, 0, Math.PI * 2);
    } else {
      part.forEach(([x, y], i) => (i ? ctx.lineTo(x * ratio, y * ratio) : ctx.moveTo(x * ratio, y * ratio)));
    }
  }
}

/** One fill and one stroke per style group: a few canvas calls per tile instead of thousands. */
function drawGroup(ctx, group, ratio) {
  const { style, items } = group;
  if (style.symbol) {
    const bitmap = symbols[style.symbol];
    const size = style.size * ratio;
    for (const { feature } of items) {
      for (const part of feature.parts) {
        const [x, y] = part[0];
        if (bitmap) ctx.drawImage(bitmap, x * ratio - size / 2, y * ratio - size / 2, size, size);
      }
    }
    return;
  }
  const fillable = items.filter(({ feature }) => feature.type !== 'LineString');
  const isCircle = style.radius !== undefined;
  if ((isCircle || style.fill) && fillable.length) {
    ctx.beginPath();
    for (const { feature } of fillable) tracePath(ctx, feature, style, ratio);
    ctx.globalAlpha = style.fillOpacity ?? 1;
    ctx.fillStyle = style.fillColor;
    ctx.fill();
  }
  if (style.weight > 0) {
    ctx.beginPath();
    for (const { feature } of items) tracePath(ctx, feature, style, ratio);
    ctx.globalAlpha = style.opacity ?? 1;
    ctx.strokeStyle = style.color;
    ctx.lineWidth = style.weight * ratio;
    ctx.stroke();
  }
}

// A server whose tile renderer is busy answers 503 with Retry-After (app/tiles/service.py,
// RenderQueue): asked again after that (plus jitter, so a burst does not return at once).
const BUSY_RETRIES = 3;

const pause = (ms, signal) => new Promise((resolve, reject) => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(timer); reject(new DOMException('aborted', 'AbortError')); }, { once: true });
});

async function fetchTile(url, headers, signal) {
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetch(url, { signal, headers });
    if (response.status !== 503 || attempt >= BUSY_RETRIES) return response;
    const after = Number(response.headers.get('Retry-After')) || 1;
    await pause(after * 1000 * (1 + Math.random() * 0.5), signal);
  }
}

/** Fetch and decode one server tile; its features in picture pixels (offset by `at`). */
async function loadPiece({ url, at: [dx, dy] }, layer, pieceSize, token, signal) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const response = await fetchTile(url, headers, signal);
  if (!response.ok) throw Object.assign(new Error(response.statusText), { status: response.status });
  const tileLayer = decodeTile(await response.arrayBuffer())[sourceOf(layer)];
  if (!tileLayer) return [];
  const scale = pieceSize / tileLayer.extent;
  for (const feature of tileLayer.features) {
    feature.parts = feature.parts.map((part) => part.map(([x, y]) => [dx + x * scale, dy + y * scale]));
  }
  return tileLayer.features;
}

async function render({ id, pieces, layer, z, size, pieceSize, ratio, token }) {
  const controller = new AbortController();
  pending.set(id, controller);
  try {
    const loaded = await Promise.all(pieces.map((piece) => loadPiece(piece, layer, pieceSize,
      token, controller.signal)));
    if (controller.signal.aborted) return;
    if (!loaded.some((features) => features.length)) {
      drawn.set(id, []);
      postMessage({ type: 'rendered', id, bitmap: null });
      return;
    }
    const canvas = new OffscreenCanvas(Math.round(size * ratio), Math.round(size * ratio));
    const ctx = canvas.getContext('2d');
    ctx.lineJoin = 'round';
    ctx.lineCap = 'round';
    const items = [];
    loaded.forEach((features, i) => {
      // Each server tile only inside its own square: polygons are cut at the tile's buffer,
      // and those cut edges must not be stroked across the neighbouring piece.
      const [x, y] = pieces[i].at;
      ctx.save();
      ctx.beginPath();
      ctx.rect(x * ratio, y * ratio, pieceSize * ratio, pieceSize * ratio);
      ctx.clip();
      for (const group of styledGroups(features, layer, z)) {
        drawGroup(ctx, group, ratio);
        items.push(...group.items);
      }
      ctx.restore();
    });
    drawn.set(id, items);
    const bitmap = canvas.transferToImageBitmap();
    postMessage({ type: 'rendered', id, bitmap }, [bitmap]);
  } catch (error) {
    if (error.name !== 'AbortError') {
      postMessage({ type: 'failed', id, status: error.status || 0, message: String(error.message) });
    }
  } finally {
    pending.delete(id);
  }
}

// Hit testing, in tile pixels

function segmentDistance(px, py, [x0, y0], [x1, y1]) {
  const dx = x1 - x0; const dy = y1 - y0;
  const length2 = dx * dx + dy * dy;
  const t = length2 ? Math.max(0, Math.min(1, ((px - x0) * dx + (py - y0) * dy) / length2)) : 0;
  return Math.hypot(px - (x0 + t * dx), py - (y0 + t * dy));
}

function insideRings(parts, x, y) {
  let inside = false;
  for (const ring of parts) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i]; const [xj, yj] = ring[j];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

function hits({ feature, style }, x, y, tolerance) {
  if (feature.type === 'Point') {
    return feature.parts.some(([[px, py]]) => (style.symbol
      ? Math.abs(x - px) <= style.size / 2 + tolerance && Math.abs(y - py) <= style.size / 2 + tolerance
      : Math.hypot(x - px, y - py) <= style.radius + (style.weight || 0) / 2 + tolerance));
  }
  if (feature.type === 'Polygon' && style.fill && insideRings(feature.parts, x, y)) return true;
  const reach = (style.weight || 1) / 2 + tolerance;
  return feature.parts.some((part) => part.some((point, i) => i > 0
    && segmentDistance(x, y, part[i - 1], point) <= reach));
}

function hitTest({ tile, x, y, tolerance }) {
  const items = drawn.get(tile) || [];
  for (let i = items.length - 1; i >= 0; i -= 1) {    // topmost (last drawn) first
    if (hits(items[i], x, y, tolerance)) return items[i].feature.properties;
  }
  return null;
}

onmessage = ({ data }) => {
  if (data.type === 'symbols') symbols = data.symbols;
  else if (data.type === 'render') render(data);
  else if (data.type === 'hit') postMessage({ type: 'hit', id: data.id, properties: hitTest(data) });
  else if (data.type === 'release') {
    pending.get(data.id)?.abort();
    pending.delete(data.id);
    drawn.delete(data.id);
  }
};
