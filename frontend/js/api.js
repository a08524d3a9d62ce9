// Talking to the RiskAtlas API, with a progress bar and cancellable requests; every request
// carries the signed-in user's token (auth.js).

import { authFetch } from './auth.js';

export const LEVELS = ['red', 'orange', 'yellow', 'blue'];
export const COLOURS = { red: '#e8222d', orange: '#f5891f', yellow: '#f7d117', blue: '#2f6fd6', none: '#d9dde3' };
export const RANK = { red: 4, orange: 3, yellow: 2, blue: 1 };
export const GRADE_LEVEL = { 1: 'red', 2: 'orange', 3: 'yellow', 4: 'blue' };

let pending = 0;
/** Count work in flight (+1 / -1); the progress bar shows while any is. */
export function progress(delta) {
  pending = Math.max(0, pending + delta);
  const bar = document.getElementById('progress');
  if (bar) bar.hidden = pending === 0;
}

export class ApiError extends Error {
  constructor(status, detail, url, { field, allowed } = {}) {
    super(`${status} ${detail || ''} (${url})`);
    this.status = status;
    this.detail = detail;
    this.field = field;
    this.allowed = allowed;
  }
}

/** GET JSON with the user's token; `signal` aborts it (an aborted request rejects with
 *  AbortError); `anonymous: true` asks as the public. */
export async function getJSON(url, { signal, anonymous = false } = {}) {
  progress(1);
  try {
    const response = await authFetch(url, { signal, anonymous, headers: { Accept: 'application/json' } });
    if (!response.ok) {
      let body = {};
      try { body = (await response.json()) || {}; } catch (e) { /* not JSON */ }
      throw new ApiError(response.status, body.detail || '', url, body);
    }
    return await response.json();
  } finally {
    progress(-1);
  }
}

/** Use the request boot.js started when it is the one wanted (a 401 — a token revoked
 *  meanwhile — is asked again through getJSON, which renews it or signs out), else fetch. */
export function firstOrFetch(url, options = {}) {
  const first = window.RA_FIRST;
  if (first && first.url === url && !options.anonymous) {
    window.RA_FIRST = null;
    progress(1);
    return first.promise
      .catch((error) => (error && error.status === 401 ? getJSON(url, options) : Promise.reject(error)))
      .finally(() => progress(-1));
  }
  return getJSON(url, options);
}

export function isAbort(error) {
  return error && (error.name === 'AbortError' || error.code === 20);
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** The detail of child outlines that suits a region code's level. */
export function detailFor(code) {
  if (!code || /0000$/.test(code)) return 'coarse';
  if (/00$/.test(code)) return 'medium';
  return 'full';
}

const CHINA_DAY = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' });

/** YYYY-MM-DD of `date` in China (UTC+8), the day the server's deadlines, snapshots and
 *  map imprints count in, wherever the browser's clock is set. */
export function isoDay(date) {
  return CHINA_DAY.format(date);
}
