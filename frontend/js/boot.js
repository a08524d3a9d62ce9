// Runs first, from <head> (a classic script, so before anything else has loaded): starts
// the first drill-down request, and loads the fallback web font without blocking rendering.
// A file, not inline code: the Content-Security-Policy allows no inline script.
(function () {
  var m = /^#\/(\d{6})?/.exec(location.hash || ''), code = m && m[1];
  var settings = {};
  try { settings = JSON.parse(localStorage.getItem('ra.settings') || '{}'); } catch (e) {}
  var detail = !code || /0000$/.test(code) ? 'coarse' : /00$/.test(code) ? 'medium' : 'full';
  var url = '/api/map/view?detail=' + detail + (code ? '&code=' + code : '') +
            (settings.method && settings.method !== 'highest' ? '&method=' + settings.method : '');
  window.RA_FIRST = { url: url, promise: fetch(url).then(function (r) {
    return r.ok ? r.json() : Promise.reject(new Error(r.status + ' ' + url)); }) };
  window.RA_FIRST.promise.catch(function () {});

  // A Chinese web font (sliced by unicode range) for machines without one. Stylesheets
  // inserted by a script do not block rendering.
  var font = document.createElement('link');
  font.rel = 'stylesheet';
  font.href = '/static/lib/fonts/noto-sans-sc/noto-sans-sc-400.css';
  document.head.appendChild(font);
})();
