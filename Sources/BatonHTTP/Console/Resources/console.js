// Baton console: progressive enhancement only. Every action works without this file.
// - Times: <time datetime> shown in the viewer's zone (UTC stays in the hover title).
// - Confirm dialogs on forms with data-confirm.
// - Live: polls /live every 2 s; when the stamp moves, reloads the page's [data-live] parts in place.
(function () {
  "use strict";
  function localizeTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (isNaN(d.getTime())) return;
      t.textContent = d.toLocaleString(undefined, {
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit"
      });
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  function busy(region) {
    // Never replace what the reader is working with: a focused field or ticked boxes.
    return region.contains(document.activeElement) && document.activeElement !== document.body ||
      region.querySelector("input:checked") !== null;
  }

  function refresh() {
    return fetch(window.location.href, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok || response.redirected) return;
      return response.text().then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (region) {
          var next = fresh.getElementById(region.id);
          if (!next || busy(region)) return;
          localizeTimes(next);
          if (next.innerHTML !== region.innerHTML) region.innerHTML = next.innerHTML;
        });
      });
    });
  }

  function poll() {
    var meta = document.querySelector('meta[name="baton-stamp"]');
    var stamp = meta ? meta.getAttribute("content") : null;
    setInterval(function () {
      if (document.hidden) return;
      fetch("/live", { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) {
          if (!body) return;
          if (stamp !== null && body.stamp !== stamp) refresh();
          stamp = body.stamp;
        })
        .catch(function () {});
    }, 2000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    localizeTimes(document);
    if (document.querySelector("[data-live]")) poll();
  });
})();
