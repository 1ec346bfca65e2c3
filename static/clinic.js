// Dosewise clinic desk: reload today's list (#live) every few seconds so the desk sees new
// check-ins and doses, but never while someone is typing or has changed a form field.
// Progressive enhancement only: without this file the page works the same, and staff reload it.
(function () {
  'use strict';
  var live = document.getElementById('live');
  if (!live || !window.fetch || !window.DOMParser) return;
  var seconds = Number(live.getAttribute('data-refresh')) || 30;

  // A field differs from what the page was loaded with: someone is in the middle of something.
  function edited() {
    var fields = document.querySelectorAll('input, select, textarea');
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === 'hidden' || f.type === 'submit' || f.type === 'button') continue;
      if (f.type === 'checkbox' || f.type === 'radio') {
        if (f.checked !== f.defaultChecked) return true;
      } else if (f.tagName === 'SELECT') {
        for (var j = 0; j < f.options.length; j++) {
          if (f.options[j].selected !== f.options[j].defaultSelected) return true;
        }
      } else if (f.value !== f.defaultValue) {
        return true;
      }
    }
    return false;
  }

  function busy() {
    var el = document.activeElement;
    var typing = el && /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName);
    return document.hidden || typing || edited();
  }

  function refresh() {
    if (busy()) return;
    fetch(window.location.href, { credentials: 'same-origin' })
      .then(function (res) { return res.ok ? res.text() : null; })
      .then(function (text) {
        if (!text || busy()) return;
        var fresh = new DOMParser().parseFromString(text, 'text/html').getElementById('live');
        if (fresh) {
          live.innerHTML = fresh.innerHTML;
          live.setAttribute('data-refreshed', String(Date.now()));
        }
      })
      .catch(function () {
        // Offline: keep the list as it is (it can still be printed).
      });
  }

  window.setInterval(refresh, seconds * 1000);
})();
