// The phone's outbox: every write is queued here first (localStorage, so it survives the
// page being closed) and sent when the connection allows. Each entry carries its own
// Idempotency-Key (and one per follow-up step, e.g. each photo), so sending it again after
// a lost answer records it once on the server (app/idempotency.py).

const KEY = 'ra.m.outbox';

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

/** Queue a write: {kind, label, url, body, photos?: [dataURL]}; returns the entry. */
export function enqueue(entry) {
  const item = { ...entry, id: newKey(), key: newKey(), created: new Date().toISOString(),
    state: 'waiting', error: null, result: null, photosSent: 0 };
  const items = load();
  items.push(item);
  save(items);
  return item;
}

export function entries() {
  return load();
}

export function remove(id) {
  save(load().filter((item) => item.id !== id));
}

function update(id, changes) {
  const items = load();
  const item = items.find((i) => i.id === id);
  if (item) Object.assign(item, changes);
  save(items);
}

function dataUrlToBlob(url) {
  const [head, data] = url.split(',');
  const type = (head.match(/data:([^;]+)/) || [])[1] || 'image/jpeg';
  const bytes = atob(data);
  const array = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += 1) array[i] = bytes.charCodeAt(i);
  return new Blob([array], { type });
}

class Refused extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

async function send(fetchFn, url, key, init) {
  const response = await fetchFn(url, {
    ...init, headers: { ...(init.headers || {}), 'Idempotency-Key': key } });
  if (!response.ok) {
    let detail = '';
    try { detail = (await response.json()).detail; } catch (error) { /* not JSON */ }
    throw new Refused(response.status, detail);
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
  const photos = item.photos || [];
  for (let i = item.photosSent || 0; i < photos.length; i += 1) {
    const form = new FormData();
    form.append('file', dataUrlToBlob(photos[i]), `photo-${i + 1}.jpg`);
    await send(fetchFn, `/api/hidden-dangers/${result.id}/evidence`, `${item.key}-photo-${i}`,
      { method: 'POST', body: form });
    update(item.id, { photosSent: i + 1 });
  }
  remove(item.id);
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
          update(item.id, { state: 'failed', error: error.message });
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
