// Dosewise clinic desk service worker (scope /staff). Progressive enhancement only: it keeps
// the desk's pages working when the network drops. Online, every GET goes to the network and a
// good answer refreshes the desk's copy (only once the desk page has made one, see
// desk-offline.js); offline, the copy answers. The copy lives in one cache named
// `desk:USER:SITE:DAY:UNTIL` and is dropped once UNTIL (the end of the city's day) has passed.
// Logout clears it (Clear-Site-Data). POSTs are never touched: offline forms are queued by
// desk-offline.js in the page.
'use strict';

self.addEventListener('install', function () { self.skipWaiting(); });
self.addEventListener('activate', function (event) { event.waitUntil(self.clients.claim()); });

// The desk's cache, after dropping those whose day is over.
function deskCache() {
  return caches.keys().then(function (names) {
    var current = null;
    var drops = [];
    names.forEach(function (n) {
      if (n.indexOf('desk:') !== 0) return;
      var until = Number(n.split(':')[4]);
      if (!(until > Date.now())) drops.push(caches.delete(n));
      else current = n;
    });
    return Promise.all(drops).then(function () { return current; });
  });
}

// `/staff/checkin?code=7k3q-9mzd&site=1` (the typed code) is the page `/staff/checkin/7K3Q9MZD`.
function cacheKey(url) {
  if (url.pathname === '/staff/checkin' && url.searchParams.get('code')) {
    var code = url.searchParams.get('code').toUpperCase().replace(/[^0-9A-Z]/g, '');
    return url.origin + '/staff/checkin/' + code;
  }
  return url.origin + url.pathname;
}

self.addEventListener('fetch', function (event) {
  var req = event.request;
  if (req.method !== 'GET') return;
  var url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.indexOf('/staff') !== 0 && url.pathname.indexOf('/static/') !== 0) return;
  var key = cacheKey(url);
  event.respondWith(
    fetch(req).then(function (res) {
      if (res.ok && res.type === 'basic' && res.url.split('?')[0] === url.origin + url.pathname) {
        var copy = res.clone();
        deskCache().then(function (name) {
          if (name) return caches.open(name).then(function (c) { return c.put(key, copy); });
        }).catch(function () {});
      }
      return res;
    }).catch(function (err) {
      return deskCache().then(function (name) {
        if (!name) throw err;
        return caches.open(name).then(function (c) { return c.match(key); }).then(function (hit) {
          if (hit) return hit;
          throw err;
        });
      });
    })
  );
});
