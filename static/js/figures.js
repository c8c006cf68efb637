// Draws every plotly figure on the page: each container names the JSON endpoint that serves it (and, when the
// endpoint serves several figures, which one). No figure is built in the page itself.
"use strict";
(function () {
  const cache = new Map();
  function load(url) {
    if (!cache.has(url)) {
      cache.set(url, fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((r) => { if (!r.ok) throw new Error(r.status + " " + r.statusText); return r.json(); }));
    }
    return cache.get(url);
  }
  function draw(el) {
    load(el.dataset.figureUrl).then((data) => {
      const fig = el.dataset.figureKey ? data[el.dataset.figureKey] : data;
      el.replaceChildren();
      window.Plotly.react(el, fig.data, fig.layout, { displaylogo: false, responsive: true });
    }).catch((err) => {
      el.textContent = el.dataset.errorText || String(err);
      el.classList.add("error");
    });
  }
  function drawAll(root) { root.querySelectorAll("[data-figure-url]").forEach(draw); }
  document.addEventListener("DOMContentLoaded", () => drawAll(document));
  document.addEventListener("htmx:afterSwap", (e) => { cache.clear(); drawAll(e.target); });
})();
