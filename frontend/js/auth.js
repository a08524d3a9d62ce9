// Signing in. The access and refresh tokens live in sessionStorage (see frontend/README.md for
// why), the access token is renewed with the refresh token a minute before it expires and
// once more when a request answers 401, and every request of the page — the tile workers'
// too, which get the token with each tile they are asked to draw — carries
// `Authorization: Bearer …`. Without a token the caller is the public.

const KEY = 'ra.auth';
const EARLY_MS = 60_000;     // renew this long before the access token expires
const FRESH_MS = 30_000;     // a token with less left than this is renewed before it is sent

// Which kinds of located rows each role reads: mirrors READABLE in app/auth/scope.py
// (tests/test_frontend.py checks that they agree). Region aggregates are everyone's.
const LOCATED = ['enterprises', 'hazard_sources', 'public_zones', 'risk_points',
  'emergency_resources', 'hidden_dangers'];
const PARKS = ['chemical_parks'];  // 化工园区: every government role reads them
export const READABLE = {
  admin: [...LOCATED, ...PARKS],
  official: [...LOCATED, ...PARKS],
  warden: [...LOCATED, ...PARKS],
  enterprise: ['enterprises', 'hazard_sources', 'risk_points', 'hidden_dangers'],
  planner: ['hazard_sources', 'public_zones', 'emergency_resources', ...PARKS],
  public: [],
};

/** A failed sign-in: `status` is the HTTP status (0 when the server was not reached). */
export class SignInError extends Error {
  constructor(status, retryAfter = null) {
    super(`sign-in failed (${status})`);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

// api.js (and with it this module) is also loaded by the tile workers, for its constants:
// they have neither storage nor a document, and get the token with each tile instead.
const inPage = typeof document !== 'undefined';

function read() {
  if (!inPage) return null;
  try {
    const stored = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    return stored && typeof stored.access_token === 'string' ? stored : null;
  } catch (error) {
    return null;
  }
}

let session = read();        // {access_token, refresh_token, expires_at, user} or null
let refreshing = null;       // the refresh in flight (one at a time)
let timer = null;
const listeners = new Set();

function emit(kind) {
  for (const listener of listeners) {
    try { listener(kind); } catch (error) { console.warn('auth listener', error); }
  }
}

/** Call `listener(kind)` on 'signin', 'signout', 'expired' (the session could not be
 *  renewed), 'refresh' (new tokens, same user) and 'user' (the user's details changed). */
export function onAuthChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function schedule() {
  clearTimeout(timer);
  timer = null;
  if (!session || !session.refresh_token) return;
  const wait = Math.max(5_000, session.expires_at - Date.now() - EARLY_MS);
  timer = setTimeout(() => { refresh().catch(() => {}); }, wait);
}

function save(next) {
  session = next;
  if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
  else sessionStorage.removeItem(KEY);
  schedule();
}

function fromTokens(tokens, user) {
  return { access_token: tokens.access_token, refresh_token: tokens.refresh_token || null,
    expires_at: Date.now() + Number(tokens.expires_in || 0) * 1000, user };
}

/** The signed-in user ({username, role, display_name, scope, labels}) or null. */
export function currentUser() {
  return session ? session.user : null;
}

/** The role whose rows the map may ask for: the user's, or 'public'. */
export function currentRole() {
  return (session && session.user && session.user.role) || 'public';
}

/** True when the current user may read located rows of `table`. */
export function canRead(table) {
  return (READABLE[currentRole()] || []).includes(table);
}

/** Who the token belongs to, with the names the header shows (region, enterprise). */
async function describeUser(token) {
  const headers = { Accept: 'application/json', Authorization: `Bearer ${token}` };
  const response = await fetch('/api/auth/me', { headers });
  if (!response.ok) throw new SignInError(response.status);
  const me = await response.json();
  const labels = {};
  const scope = me.scope || {};
  const lookups = [];
  if (scope.region) {
    lookups.push(fetch(`/api/regions/${encodeURIComponent(scope.region)}`, { headers })
      .then((r) => (r.ok ? r.json() : null)).then((region) => { if (region) labels.region = region.name; })
      .catch(() => {}));
  }
  if (scope.enterprise_id) {
    lookups.push(fetch(`/api/enterprises/${Number(scope.enterprise_id)}`, { headers })
      .then((r) => (r.ok ? r.json() : null)).then((e) => { if (e) labels.enterprise = e.name; })
      .catch(() => {}));
  }
  await Promise.all(lookups);
  return { ...me, labels };
}

/** Sign in with the OAuth2 password form; resolves to the user, rejects with SignInError. */
export async function signIn(username, password) {
  let response;
  try {
    response = await fetch('/api/auth/token', {
      method: 'POST', headers: { Accept: 'application/json' },
      body: new URLSearchParams({ username, password }),
    });
  } catch (error) {
    throw new SignInError(0);
  }
  if (!response.ok) {
    throw new SignInError(response.status, Number(response.headers.get('Retry-After')) || null);
  }
  const tokens = await response.json();
  let user;
  try {
    user = await describeUser(tokens.access_token);
  } catch (error) {
    throw error instanceof SignInError ? error : new SignInError(0);
  }
  save(fromTokens(tokens, user));
  emit('signin');
  return user;
}

/** Forget the tokens: the map is the public's again. */
export function signOut() {
  if (!session) return;
  save(null);
  emit('signout');
}

function expire() {
  if (!session) return;
  save(null);
  emit('expired');
}

/** New tokens for the refresh token (one request at a time). A refused refresh token
 *  ends the session ('expired'); an unreachable server leaves it for a later try. */
export function refresh() {
  if (!session || !session.refresh_token) return Promise.reject(new Error('no refresh token'));
  if (refreshing) return refreshing;
  const held = session;
  refreshing = (async () => {
    let response;
    try {
      response = await fetch('/api/auth/refresh', {
        method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ refresh_token: held.refresh_token }),
      });
    } catch (error) {
      if (session === held) timer = setTimeout(() => refresh().catch(() => {}), 15_000);
      throw error;
    }
    if (!response.ok) {
      if (session === held) {
        if (response.status >= 500) timer = setTimeout(() => refresh().catch(() => {}), 15_000);
        else expire();
      }
      throw new Error(`refresh ${response.status}`);
    }
    const tokens = await response.json();
    if (session !== held) throw new Error('signed out meanwhile');
    save(fromTokens(tokens, held.user));
    emit('refresh');
  })().finally(() => { refreshing = null; });
  return refreshing;
}

/** The access token to send now (renewed first when it is about to expire), or null. */
export async function freshToken() {
  if (session && session.refresh_token && session.expires_at - Date.now() < FRESH_MS) {
    await refresh().catch(() => {});
  }
  return session ? session.access_token : null;
}

/** After a 401 for `token`: true when a renewed token is there to retry with (renewed by
 *  this call or by another meanwhile); false when the session has ended. */
export async function recover(token) {
  if (!session) return false;
  if (session.access_token !== token) return true;
  try {
    await refresh();
    return Boolean(session);
  } catch (error) {
    if (session && session.access_token === token) expire();   // no refresh token
    return false;
  }
}

/** fetch() with the bearer token, renewed and retried once on a 401. `anonymous: true`
 *  sends none (what the public sees is the same for everyone). */
export async function authFetch(url, { anonymous = false, ...options } = {}) {
  const send = async () => {
    const token = anonymous ? null : await freshToken();
    const headers = new Headers(options.headers || {});
    if (token) headers.set('Authorization', `Bearer ${token}`);
    return { token, response: await fetch(url, { ...options, headers }) };
  };
  let { token, response } = await send();
  if (response.status === 401 && token && await recover(token)) ({ response } = await send());
  return response;
}

/** Check the stored session with the server (a revoked one ends) and update the user. */
export async function revalidate() {
  if (!session) return;
  try {
    const token = await freshToken();
    if (!token || !session) return;
    let user;
    try {
      user = await describeUser(token);
    } catch (error) {
      if (error.status === 401 && await recover(token)) user = await describeUser(session.access_token);
      else throw error;
    }
    if (!session) return;
    const changed = JSON.stringify(user) !== JSON.stringify(session.user);
    save({ ...session, user });
    if (changed) emit('user');
  } catch (error) {
    if (error && error.status === 401) expire();
  }
}

// Timers of hidden tabs are throttled and a sleeping laptop misses them: check on return.
if (inPage) {
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && session
        && session.expires_at - Date.now() < EARLY_MS) refresh().catch(() => {});
  });
  schedule();
}
