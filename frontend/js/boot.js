// Runs first, from <head> (a classic script, so before anything else has loaded): starts
// the first drill-down request, and loads the fallback web font without blocking rendering.
// A file, not inline code: the Content-Security-Policy allows no inline script.
(function () {
  var m = /^#\/(\d{6})?/.exec(location.hash || ''), code = m && m[1];
  var settings = {};
  try { settings = JSON.parse(localStorage.getItem('ra.settings') || '{}'); } catch (e) {}
  // The signed-in user's token (auth.js keeps it in sessionStorage): without a code the
  // server starts at the user's own region. A token about to expire is left to app.js,
  // which renews it first.
  var auth = null;
  try { auth = JSON.parse(sessionStorage.getItem('ra.auth') || 'null'); } catch (e) {}
  var headers = { Accept: 'application/json' };
  if (auth && auth.access_token) {
    if (!(auth.expires_at - Date.now() > 30000)) return loadFont();
    headers.Authorization = 'Bearer ' + auth.access_token;
  }
  var detail = !code || /0000$/.test(code) ? 'coarse' : /00$/.test(code) ? 'medium' : 'full';
  var url = '/api/map/view?detail=' + detail + (code ? '&code=' + code : '') +
            (settings.method && settings.method !== 'highest' ? '&method=' + settings.method : '') +
            (code ? '' : '&home=true');
  window.RA_FIRST = { url: url, promise: fetch(url, { headers: headers }).then(function (r) {
    if (r.ok) return r.json();
    var error = new Error(r.status + ' ' + url);
    error.status = r.status;
    return Promise.reject(error);
  }) };
  window.RA_FIRST.promise.catch(function () {});
  loadFont();

  // A Chinese web font (sliced by unicode range) for machines without one. Stylesheets
  // inserted by a script do not block rendering.
  function loadFont() {
    var font = document.createElement('link');
    font.rel = 'stylesheet';
    font.href = '/static/lib/fonts/noto-sans-sc/noto-sans-sc-400.css';
    document.head.appendChild(font);
  }
})();
