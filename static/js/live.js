// Live panels: pausing a panel's auto-refresh, ticking the ages it shows, and never swapping in an empty body.
"use strict";
(function () {
  // Pausing: a button names the element whose htmx polling it pauses. The element is swapped on every refresh, so
  // what is paused is remembered by id, not on the element.
  const paused = new Set();
  document.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-pause]");
    if (!button) return;
    const id = button.dataset.pause;
    const now = !paused.has(id);
    if (now) paused.add(id); else paused.delete(id);
    button.setAttribute("aria-pressed", String(now));
    button.textContent = now ? button.dataset.resumeText || "Resume" : button.dataset.pauseText || "Pause";
  });
  document.addEventListener("htmx:beforeRequest", (e) => {
    if (paused.has(e.detail.elt.id)) e.preventDefault();
  });

  // A live panel unchanged since the browser's copy is answered 304 (or an empty body): keep what is shown.
  document.addEventListener("htmx:beforeSwap", (e) => {
    const xhr = e.detail.xhr;
    if (xhr.status === 304 || !xhr.responseText) e.detail.shouldSwap = false;
  });

  // Ages: every <time class="age" data-age="d"> says how long ago its datetime was, in the server's words
  // (catalog.ages.duration, whose formats base.html gives in the page's language), against the server's clock.
  const formatsElement = document.getElementById("duration-formats");
  if (!formatsElement) return;
  const formats = JSON.parse(formatsElement.textContent);
  const meta = document.querySelector('meta[name="seamline-now"]');
  let skew = meta ? parseFloat(meta.content) * 1000 - Date.now() : 0; // the server's clock minus this one, in ms
  document.addEventListener("htmx:afterRequest", (e) => {
    const now = parseFloat(e.detail.xhr.getResponseHeader("X-Seamline-Now"));
    if (!Number.isNaN(now)) skew = now * 1000 - Date.now();
  });
  const format = (template, values) => template.replace(/%\((\w)\)d/g, (_, key) => String(values[key]));
  const duration = (s) => {
    if (s < 60) return format(formats.s, { s });
    if (s < 3600) return format(formats.ms, { m: Math.floor(s / 60), s: s % 60 });
    if (s < 86400) return format(formats.hm, { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
    return format(formats.dh, { d: Math.floor(s / 86400), h: Math.floor((s % 86400) / 3600) });
  };
  const tick = () => {
    const now = Date.now() + skew;
    for (const element of document.querySelectorAll('time.age[data-age="d"]')) {
      const seconds = Math.max(0, Math.floor((now - Date.parse(element.dateTime)) / 1000));
      const text = duration(seconds);
      if (element.textContent !== text) element.textContent = text;
    }
  };
  setInterval(tick, 1000);
  // a panel the browser revalidated (its cache answered from a 304) holds the ages of its first answer: tick at once
  document.addEventListener("htmx:afterSwap", tick);
})();
