// Vector-tile layers drawn by a pool of tile workers (worker.js). The page only places the
// finished pictures (ImageBitmaps on 'bitmaprenderer' canvases, no copy), so decoding and
// drawing never block panning. Popups ask the worker that drew a tile what lies under a point.
// Each tile is sent to its worker with the signed-in user's access token (renewed first when
// it is about to expire), which the worker sends as `Authorization: Bearer …`.
/* global L */

import { freshToken, recover } from '../auth.js';
import { tileSymbols } from '../symbols.js';

const WORKER_URL = new URL('./worker.js', import.meta.url);

/** Make the symbol bitmaps (hazard-source grades, resource kinds) for a pixel ratio. */
async function symbolBitmaps(ratio) {
  const bitmaps = {};
  await Promise.all(Object.entries(tileSymbols()).map(async ([key, { svg, size }]) => {
    const image = new Image(size, size);
    image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
    try {
      await image.decode();
      const pixels = Math.round(size * ratio);
      bitmaps[key] = await createImageBitmap(image, { resizeWidth: pixels, resizeHeight: pixels });
    } catch (error) {
      console.warn('tile symbol', key, error);
    }
  }));
  return bitmaps;
}

export class TileWorkerPool {
  constructor(size = Math.min(4, Math.max(1, (navigator.hardwareConcurrency || 2) - 1))) {
    this.ratio = Math.min(2, window.devicePixelRatio || 1);
    this.workers = Array.from({ length: size }, () => {
      const worker = new Worker(WORKER_URL, { type: 'module' });
      worker.onmessage = ({ data }) => this._answer(data);
      worker.onerror = (event) => console.error('tile worker', event.message);
      return worker;
    });
    this.next = 0;
    this.lastId = 0;
    this.waiting = new Map();    // message id → {resolve, reject}
    this.ready = symbolBitmaps(this.ratio).then((symbols) => {
      for (const worker of this.workers) worker.postMessage({ type: 'symbols', symbols });
    });
  }

  _answer(data) {
    const waiter = this.waiting.get(data.id);
    if (!waiter) return;
    this.waiting.delete(data.id);
    if (data.type === 'failed') {
      waiter.reject(Object.assign(new Error(`tile ${data.status} ${data.message}`), { status: data.status }));
    }
    else waiter.resolve(data.type === 'hit' ? data.properties : data.bitmap);
  }

  _ask(worker, message) {
    return new Promise((resolve, reject) => {
      this.waiting.set(message.id, { resolve, reject });
      worker.postMessage(message);
    });
  }

  /** Draw one tile; resolves to an ImageBitmap, or null for a tile with nothing in it. */
  render({ pieces, layer, z, size, pieceSize }) {
    this.lastId += 1;
    const request = { id: this.lastId, worker: this.workers[this.next] };
    this.next = (this.next + 1) % this.workers.length;
    request.done = Promise.all([freshToken(), this.ready]).then(([token]) => {
      request.token = token;
      return this._ask(request.worker, { type: 'render', id: request.id, pieces, layer, z, size,
        pieceSize, ratio: this.ratio, token });
    });
    return request;
  }

  /** The properties of the topmost feature at (x, y) tile pixels of a drawn tile, or null. */
  hit(request, x, y, tolerance) {
    this.lastId += 1;
    return this._ask(request.worker, { type: 'hit', id: this.lastId, tile: request.id, x, y, tolerance });
  }

  /** Forget a tile: cancel its request if it is still loading, drop its features. */
  release(request) {
    this.waiting.delete(request.id);
    request.worker.postMessage({ type: 'release', id: request.id });
  }
}

let sharedPool = null;
const pool = () => { sharedPool = sharedPool || new TileWorkerPool(); return sharedPool; };

const SERVER_TILE = 256;
const PIECES = 2;

export const WorkerTileLayer = L.GridLayer.extend({
  options: { layer: '', interactive: true, tileSize: SERVER_TILE * PIECES },

  initialize(url, options) {
    this._url = url;
    L.GridLayer.prototype.initialize.call(this, options);
    this.on('tileunload', ({ tile }) => {
      if (tile.request) pool().release(tile.request);
    });
  },

  createTile(coords, done) {
    const tile = document.createElement('canvas');
    const size = this.getTileSize().x;
    const { x, y } = this._wrapCoords(coords);
    // One picture of PIECES × PIECES server tiles: fewer elements for the page to place.
    const pieces = [];
    for (let j = 0; j < PIECES; j += 1) {
      for (let i = 0; i < PIECES; i += 1) {
        const address = { x: x * PIECES + i, y: y * PIECES + j, z: coords.z };
        pieces.push({ url: new URL(L.Util.template(this._url, address), document.baseURI).href,
          at: [i * SERVER_TILE, j * SERVER_TILE] });
      }
    }
    tile.request = pool().render({ pieces, layer: this.options.layer, z: coords.z, size,
      pieceSize: SERVER_TILE });
    tile.request.done.then((bitmap) => {
      if (bitmap) {
        tile.width = bitmap.width;
        tile.height = bitmap.height;
        tile.getContext('bitmaprenderer').transferFromImageBitmap(bitmap);
      }
      done(null, tile);
    }, (error) => {
      done(error, tile);
      // A token refused (revoked, or expired while the machine slept): renew it once and
      // draw the layer again; when that fails the session ends (auth.js) and the map with it.
      if (error.status === 401 && tile.request.token && !this._recovering) {
        this._recovering = recover(tile.request.token).then((renewed) => {
          this._recovering = null;
          if (renewed && this._map) this.redraw();
        });
      }
    });
    return tile;
  },

  /** The properties of the feature drawn at a point, or null (a promise). */
  async featureAt(latlng) {
    const z = this._tileZoom;
    if (!this._map || z === undefined || !this.options.interactive) return null;
    const size = this.getTileSize();
    const point = this._map.project(latlng, z);
    const coords = L.point(Math.floor(point.x / size.x), Math.floor(point.y / size.y));
    coords.z = z;
    const tile = this._tiles[this._tileCoordsToKey(coords)];
    if (!tile || !tile.loaded || !tile.el.request) return null;
    // Four screen pixels of slack, measured in tile pixels at the tile zoom.
    const tolerance = 4 / this._map.getZoomScale(this._map.getZoom(), z);
    return pool().hit(tile.el.request, point.x - coords.x * size.x, point.y - coords.y * size.y, tolerance);
  },
});
