// Dosewise clinic desk offline (progressive enhancement; without it the desk works online as
// before). While online, the desk page keeps a copy of the day for this device: today's list
// (/staff/sites/ID/today.json: names, masked ID numbers, codes, slots, screening state) and the
// desk's pages, in a cache the service worker (/static/desk-sw.js) answers from when the
// network drops. Offline, the desk's forms (check-in, dose, no-shows, wastage) are kept in
// IndexedDB, listed as "waiting to sync", and sent to /clinic/sync, each under its own key, when
// the network returns; refusals stay listed until staff resolve them. Logging out with
// records still waiting is refused; logout clears the copy (Clear-Site-Data).
(function () {
  'use strict';
  var panel = document.getElementById('offline-queue');
  if (!panel || !window.indexedDB || !window.fetch || !window.Promise || !window.caches) return;
  var site = panel.getAttribute('data-site');
  var token = document.querySelector('input[name=csrf]');
  var csrf = token ? token.value : '';
  var pending = 0;
  var sent = false;
  var unknown = false;
  function t(k) { return panel.getAttribute('data-' + k) || ''; }

  // ---- the queue (IndexedDB) -------------------------------------------------------------
  function open() {
    return new Promise(function (ok, no) {
      var r = indexedDB.open('dosewise-desk', 1);
      r.onupgradeneeded = function () { r.result.createObjectStore('queue', { keyPath: 'key' }); };
      r.onsuccess = function () { ok(r.result); };
      r.onerror = function () { no(r.error); };
    });
  }
  function store(mode, fn) {
    return open().then(function (db) {
      return new Promise(function (ok, no) {
        var tx = db.transaction('queue', mode);
        var req = fn(tx.objectStore('queue'));
        tx.oncomplete = function () { db.close(); ok(req ? req.result : undefined); };
        tx.onerror = function () { db.close(); no(tx.error); };
      });
    });
  }
  function all() {
    return store('readonly', function (s) { return s.getAll(); }).then(function (items) {
      return (items || []).filter(function (i) { return i.site === site; })
        .sort(function (a, b) { return a.seq - b.seq; });
    });
  }
  function put(item) { return store('readwrite', function (s) { return s.put(item); }); }
  function drop(key) { return store('readwrite', function (s) { return s.delete(key); }); }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + '-' + Math.random().toString(36).slice(2);
  }
  function hhmm(d) {
    return ('0' + d.getHours()).slice(-2) + ':' + ('0' + d.getMinutes()).slice(-2);
  }

  // ---- the panel ---------------------------------------------------------------------------
  function render() {
    return all().then(function (items) {
      pending = items.filter(function (i) { return i.state === 'waiting'; }).length;
      var refused = items.length - pending;
      var list = panel.querySelector('.offline-items');
      list.textContent = '';
      items.forEach(function (i) {
        var li = document.createElement('li');
        li.setAttribute('data-key', i.key);
        li.className = i.state;
        var what = t(i.kind) + (i.code ? ' ' + i.code : '') + (i.fields.time ? ' · ' + i.fields.time : '');
        li.textContent = what + ' — ' + (i.state === 'refused' ? t('refused') + ': ' + i.message : t('waiting'));
        if (i.state === 'refused') {
          var b = document.createElement('button');
          b.type = 'button';
          b.className = 'link';
          b.textContent = t('dismiss');
          b.addEventListener('click', function () { drop(i.key).then(render); });
          li.appendChild(document.createTextNode(' '));
          li.appendChild(b);
        }
        list.appendChild(li);
      });
      var status = panel.querySelector('.offline-status');
      var state = !navigator.onLine ? 'offline' : pending ? 'waiting' : refused ? 'refused' : sent ? 'synced' : '';
      status.textContent = unknown ? t('unknown') : !navigator.onLine ? t('offline') : (sent && !pending ? t('sent') : '');
      panel.setAttribute('data-state', state);
      panel.hidden = !(items.length || !navigator.onLine || sent || unknown);
    }).catch(function () {});
  }

  // ---- offline forms -----------------------------------------------------------------------
  function queue(form, kind) {
    var fields = {};
    new FormData(form).forEach(function (v, k) { if (k !== 'csrf') fields[k] = String(v); });
    var time = form.querySelector('[name=time]');
    if (time && time.value === time.defaultValue) fields.time = hhmm(new Date());
    var m = /^\/staff\/checkin\/([^/?]+)/.exec(form.getAttribute('action'));
    var item = { key: newKey(), site: site, kind: kind, code: m ? m[1] : '', fields: fields, state: 'waiting', message: '', seq: 0 };
    // Sent in the order recorded (a check-in before its dose), whatever the clock says.
    return store('readonly', function (s) { return s.getAll(); }).then(function (items) {
      item.seq = (items || []).reduce(function (n, i) { return Math.max(n, i.seq || 0); }, 0) + 1;
      return put(item);
    }).then(function () {
      if (kind === 'check_in' || kind === 'dose') form.hidden = true;
      var dose = document.querySelector('form[data-offline=dose]');
      if (kind === 'check_in' && fields.decision !== 'defer' && dose) dose.hidden = false;
      unknown = false;
      return render();
    });
  }

  function lookUp(form) {
    var code = (new FormData(form).get('code') || '').toString().toUpperCase().replace(/[^0-9A-Z]/g, '');
    return caches.match('/staff/sites/' + site + '/today.json').then(function (res) {
      return res ? res.json() : { rows: [] };
    }).then(function (day) {
      var found = day.rows.some(function (r) { return r.code === code; });
      if (found) { window.location.href = '/staff/checkin/' + code; return; }
      unknown = true;
      return render();
    });
  }

  document.addEventListener('submit', function (e) {
    var form = e.target;
    var action = form.getAttribute('action');
    if (action === '/logout' && pending) {
      e.preventDefault();
      panel.querySelector('.offline-status').textContent = t('logout');
      panel.hidden = false;
      panel.scrollIntoView();
      return;
    }
    if (navigator.onLine) return;
    var kind = form.getAttribute('data-offline');
    if (kind) { e.preventDefault(); queue(form, kind); return; }
    if (action === '/staff/checkin') { e.preventDefault(); lookUp(form); }
  });

  // ---- sending -----------------------------------------------------------------------------
  var sending = false;
  function sync() {
    if (sending || !navigator.onLine) return Promise.resolve();
    return all().then(function (items) {
      var batch = items.filter(function (i) { return i.state === 'waiting'; }).slice(0, 20);
      if (!batch.length) return;
      sending = true;
      var body = JSON.stringify({
        site: site,
        actions: batch.map(function (i) { return { key: i.key, kind: i.kind, code: i.code, fields: i.fields }; }),
      });
      return fetch('/clinic/sync', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
        body: body,
      }).then(function (res) { return res.ok ? res.json() : null; }).then(function (answer) {
        if (!answer) return;
        return Promise.all(answer.results.map(function (r) {
          var item = batch.filter(function (i) { return i.key === r.key; })[0];
          if (!item) return null;
          if (r.outcome === 'accepted') return drop(item.key);
          if (r.outcome !== 'refused') return null;
          item.state = 'refused';
          item.message = r.message;
          return put(item);
        })).then(function () {
          sent = true;
          sending = false;
          return sync();
        });
      }).catch(function () {}).then(function () { sending = false; });
    }).then(render);
  }

  // ---- the day's copy ----------------------------------------------------------------------
  function prepare() {
    if (!navigator.onLine || !document.getElementById('live')) return Promise.resolve();
    return fetch('/staff/sites/' + site + '/today.json', { credentials: 'same-origin' })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (day) {
        if (!day) return;
        var name = ['desk', day.user, day.site, day.day, day.until].join(':');
        return caches.keys().then(function (names) {
          return Promise.all(names.filter(function (n) { return n.indexOf('desk:') === 0 && n !== name; })
            .map(function (n) { return caches.delete(n); }));
        }).then(function () { return caches.open(name); }).then(function (cache) {
          var urls = [window.location.pathname, '/staff/sites/' + site, '/staff/sites/' + site + '/wastage',
            '/staff/sites/' + site + '/today.json', '/static/app.css', '/static/clinic.js', '/static/desk-offline.js'];
          day.rows.forEach(function (r) {
            if (r.status === 'booked' || r.status === 'checked_in') urls.push('/staff/checkin/' + r.code);
          });
          return urls.reduce(function (done, url) {
            return done.then(function () {
              return fetch(url, { credentials: 'same-origin' }).then(function (res) {
                if (res.ok) return cache.put(url, res);
              }).catch(function () {});
            });
          }, Promise.resolve());
        }).then(function () { panel.setAttribute('data-ready', name); });
      }).catch(function () {});
  }

  if (navigator.serviceWorker) {
    navigator.serviceWorker.register('/static/desk-sw.js', { scope: '/staff' }).catch(function () {});
  }
  window.addEventListener('online', function () { sync().then(prepare); });
  window.addEventListener('offline', render);
  render().then(sync).then(prepare);
})();
