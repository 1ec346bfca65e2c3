// Checks a vaccination record's payload in the browser against the city's public key, which the
// page carries: once the page is loaded no network is needed. Without JavaScript, or in a
// browser without Ed25519 in WebCrypto, the form posts and the server checks the same way
// (src/record.rs is the format's definition).
(function () {
  'use strict';
  var form = document.getElementById('verify-form');
  var out = document.getElementById('verdict');
  if (!form || !out || !window.crypto || !window.crypto.subtle || !window.TextDecoder) {
    return;
  }

  function b64url(s) {
    s = s.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) {
      s += '=';
    }
    var bin = atob(s);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      bytes[i] = bin.charCodeAt(i);
    }
    return bytes;
  }

  async function check(payload) {
    var parts = payload.trim().split('.');
    if (parts.length !== 3 || parts[0] !== 'DW1') {
      return { verdict: 'unreadable' };
    }
    var body, record;
    try {
      body = b64url(parts[1]);
      record = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
    } catch (e) {
      return { verdict: 'tampered' };
    }
    if (!record || typeof record.k !== 'string' || typeof record.nm !== 'string' ||
        typeof record.id4 !== 'string' || typeof record.at !== 'string' ||
        !Array.isArray(record.ds)) {
      return { verdict: 'tampered' };
    }
    if (record.k !== form.dataset.kid) {
      return { verdict: 'otherKey' };
    }
    var sig;
    try {
      sig = b64url(parts[2]);
    } catch (e) {
      return { verdict: 'tampered' };
    }
    if (sig.length !== 64) {
      return { verdict: 'tampered' };
    }
    var key = await window.crypto.subtle.importKey(
      'raw', b64url(form.dataset.key), { name: 'Ed25519' }, false, ['verify']);
    var ok = await window.crypto.subtle.verify({ name: 'Ed25519' }, key, sig, body);
    return ok ? { verdict: 'valid', record: record } : { verdict: 'tampered' };
  }

  function el(tag, text) {
    var e = document.createElement(tag);
    if (text !== undefined) {
      e.textContent = text;
    }
    return e;
  }

  function show(result) {
    var card = el('div');
    card.className = 'card ' + (result.verdict === 'valid' ? 'success' : 'alert');
    card.setAttribute('role', 'status');
    card.dataset.checkedIn = 'browser';
    card.appendChild(el('h2', form.dataset[result.verdict]));
    var r = result.record;
    if (r) {
      card.appendChild(el('p', r.nm + ' · ' + form.dataset.idEnding + ' ' + r.id4 + ' · ' + r.at));
      var list = el('ul');
      r.ds.forEach(function (d) {
        list.appendChild(el('li', form.dataset.dose + ' ' + d.n + ': ' + d.p + ' · ' + d.l +
          ' · ' + d.d + ' · ' + d.s));
      });
      card.appendChild(list);
    }
    out.replaceChildren(card);
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    check(form.elements.payload.value).then(show, function () {
      // No Ed25519 here: let the server check.
      form.submit();
    });
  });
})();
