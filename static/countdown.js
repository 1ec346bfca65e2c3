// The site page's countdown to the next opening (progressive enhancement: without this script
// the page shows the time left when it was rendered and reloads itself by meta refresh in the
// last ten minutes). The text changes at most once a minute, so the polite live region around it
// is not read out every second; at the opening the page reloads to show the seats.
(function () {
  "use strict";
  var time = document.querySelector("time[data-countdown]");
  var left = document.querySelector("[data-left]");
  if (!time || !left) {
    return;
  }
  // Counted from the server's figure, so a visitor's wrong clock neither shows a wrong time
  // nor makes the page reload before the server opens the seats.
  var secsAtLoad = Number(time.dataset.secs);
  if (!(secsAtLoad > 0)) {
    return;
  }
  var at = Date.now() + secsAtLoad * 1000 + 500;
  function fill(template, values) {
    return template.replace(/\{(\w)\}/g, function (_, k) {
      return String(values[k]);
    });
  }
  function words(secs) {
    var minutes = Math.ceil(secs / 60);
    var d = Math.floor(minutes / 1440);
    var h = Math.floor((minutes % 1440) / 60);
    var m = minutes % 60;
    if (secs < 60) {
      return time.dataset.soon;
    }
    if (d > 0) {
      return fill(time.dataset.fmtDh, { d: d, h: h });
    }
    if (h > 0) {
      return fill(time.dataset.fmtHm, { h: h, m: m });
    }
    return fill(time.dataset.fmtM, { m: m });
  }
  function tick() {
    var secs = (at - Date.now()) / 1000;
    if (secs <= 0) {
      window.location.reload();
      return;
    }
    var text = words(secs);
    if (left.textContent !== text) {
      left.textContent = text;
    }
    window.setTimeout(tick, 1000);
  }
  tick();
})();
