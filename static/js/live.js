// Pausing a live panel's auto-refresh: a button names the element whose htmx polling it pauses. The element is
// swapped on every refresh, so what is paused is remembered by id, not on the element.
"use strict";
(function () {
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
})();
