// The phone's outbox: every write is queued here first (localStorage, so it survives the
// page being closed) and sent when the connection allows. Each entry carries its own
// Idempotency-Key (and one per follow-up step, e.g. each photo), so sending it again after
// a lost answer records it once on the server (app/idempotency.py). Photos are Blobs in
// IndexedDB: localStorage holds ≈ 5 MB of text, two reports' photos as data URLs.

const KEY = 'ra.m.outbox';
const PHOTO_DB = 'ra-m-photos';
const PHOTO_STORE = 'photos';

function photoStore(mode) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(PHOTO_DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(PHOTO_STORE);
    request.onerror = () => reject(request.error);
    request.onsuccess = () => {
      const transaction = request.result.transaction(PHOTO_STORE, mode);
      resolve({ store: transaction.objectStore(PHOTO_STORE), transaction });
    };
  });
}

function done(transaction) {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error || new Error('aborted'));
  });
}

async function putPhotos(id, blobs) {
  if (!blobs.length) return;
  const { store, transaction } = await photoStore('readwrite');
  blobs.forEach((blob, i) => store.put(blob, `${id}-${i}`));
  await done(transaction);
}

async function getPhoto(id, i) {
  const { store } = await photoStore('readonly');
  return new Promise((resolve, reject) => {
    const request = store.get(`${id}-${i}`);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function dropPhotos(id, count) {
  if (!count) return;
  const { store, transaction } = await photoStore('readwrite');
  for (let i = 0; i < count; i += 1) store.delete(`${id}-${i}`);
  await done(transaction);
}

function load() {
  try {
    const items = JSON.parse(localStorage.getItem(KEY) || '[]');
    return Array.isArray(items) ? items : [];
  } catch (error) {
    return [];
  }
}

function save(items) {
  localStorage.setItem(KEY, JSON.stringify(items));
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Queue a write: {kind, label, url, body, photos?: [Blob]}; resolves to the entry once
 *  it and its photos are stored (rejects when the phone has no room: nothing is queued). */
export async function enqueue({ photos = [], ...entry }) {
  const item = { ...entry, id: newKey(), key: newKey(), created: new Date().toISOString(),
    state: 'waiting', error: null, result: null, photoCount: photos.length, photosSent: 0 };
  await putPhotos(item.id, photos);
  const items = load();
  items.push(item);
  try {
    save(items);
  } catch (error) {
    await dropPhotos(item.id, photos.length);
    throw error;
  }
  return item;
}

export function entries() {
  return load();
}

export async function remove(id) {
  const item = load().find((i) => i.id === id);
  save(load().filter((i) => i.id !== id));
  if (item) await dropPhotos(item.id, item.photoCount || 0);
}

function update(id, changes) {
  const items = load();
  const item = items.find((i) => i.id === id);
  if (item) Object.assign(item, changes);
  save(items);
}

// Why the server refused a write, in the warden's words (its English stays as a tip).
const FIELD_ZH = { 'lon,lat': '位置', lon: '位置', lat: '位置', geometry: '位置', file: '照片',
  title: '隐患名称', grade: '等级', description: '描述', enterprise_id: '企业', kind: '类别' };

function refusalZh(status, field) {
  if (status === 403) return '不在您的网格或权限范围内';
  if (status === 404) return '对象已不存在';
  if (status === 409) return '与已有记录冲突';
  if (status === 413) return '照片过大';
  if (status === 422) return field ? `填写有误：${FIELD_ZH[field] || field}` : '填写有误';
  return `服务器拒绝（${status}）`;
}

class Refused extends Error {
  constructor(status, detail, field) {
    super(refusalZh(status, field));
    this.status = status;
    this.detail = detail || '';
  }
}

async function send(fetchFn, url, key, init) {
  const response = await fetchFn(url, {
    ...init, headers: { ...(init.headers || {}), 'Idempotency-Key': key } });
  if (!response.ok) {
    let body = {};
    try { body = await response.json(); } catch (error) { /* not JSON */ }
    throw new Refused(response.status, body.detail, body.field);
  }
  return response.json();
}

/** Send one entry: its body, then its photos (each with its own key). A network failure
 *  leaves it waiting; a refusal (4xx) marks it failed with the server's reason. */
async function sendOne(fetchFn, item) {
  let result = item.result;
  if (!result) {
    result = await send(fetchFn, item.url, item.key, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(item.body) });
    update(item.id, { result });
  }
  for (let i = item.photosSent || 0; i < (item.photoCount || 0); i += 1) {
    const photo = await getPhoto(item.id, i);
    if (!photo) continue;  // cleared by the browser: the report goes without it
    const form = new FormData();
    form.append('file', photo, `photo-${i + 1}.jpg`);
    await send(fetchFn, `/api/hidden-dangers/${result.id}/evidence`, `${item.key}-photo-${i}`,
      { method: 'POST', body: form });
    update(item.id, { photosSent: i + 1 });
  }
  await remove(item.id);
}

let flushing = null;

/** Send every waiting entry in order; resolves to {sent, failed, waiting}. One flush at a
 *  time: a second call while one runs gets the same promise. */
export function flush(fetchFn) {
  if (flushing) return flushing;
  flushing = (async () => {
    let sent = 0;
    let failed = 0;
    for (const item of load()) {
      if (item.state === 'failed') continue;
      try {
        await sendOne(fetchFn, item);
        sent += 1;
      } catch (error) {
        if (error instanceof Refused && error.status !== 401 && error.status < 500 && error.status !== 429) {
          update(item.id, { state: 'failed', error: error.message, detail: error.detail });
          failed += 1;
        } else {
          break;  // offline or the server is busy: keep the order, try again later
        }
      }
    }
    return { sent, failed, waiting: load().length };
  })().finally(() => { flushing = null; });
  return flushing;
}
