// Service worker of the phone page /m: the app shell is cached so the page opens without a
// connection. API requests are not touched (the page keeps its last answers itself and
// queues its writes, see m.js and outbox.js); map tiles come from the network only.

const CACHE = 'ra-m-v1';
const SHELL = [
  '/m',
  '/m/manifest.webmanifest',
  '/static/m/m.css',
  '/static/m/m.js',
  '/static/m/outbox.js',
  '/static/m/icons/icon-192.png',
  '/static/js/fragments.js',
  '/static/js/api.js',
  '/static/js/auth.js',
  '/static/js/i18n.js',
  '/static/lib/leaflet/leaflet.js',
  '/static/lib/leaflet/leaflet.css',
  '/static/img/favicon.svg',
];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n.startsWith('ra-m-') && n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (!SHELL.includes(url.pathname)) return;
  // Network first, so a deployment is picked up at once; the cached copy when offline.
  event.respondWith(fetch(event.request)
    .then((response) => {
      if (response.ok) {
        const copy = response.clone();
        caches.open(CACHE).then((cache) => cache.put(url.pathname, copy));
      }
      return response;
    })
    .catch(() => caches.match(url.pathname)));
});
