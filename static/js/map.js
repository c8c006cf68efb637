// The ownership map: pan and zoom over the drawing (svg-pan-zoom), and a click on an arrow lists its paths under it
// (htmx) instead of leaving the page. Nodes are plain links: a team expands, a service is focused.
(function () {
  "use strict";
  var XLINK = "http://www.w3.org/1999/xlink";

  function init() {
    var svg = document.querySelector("#map-canvas svg");
    if (!svg) return;
    if (window.svgPanZoom) {
      window.svgPanZoom(svg, { controlIconsEnabled: true, zoomScaleSensitivity: 0.3, minZoom: 0.1, maxZoom: 20 });
    }
    svg.addEventListener("click", function (event) {
      var link = event.target.closest("g.map-arrow a");
      if (!link || !window.htmx) return;
      event.preventDefault();
      var href = link.getAttribute("href") || link.getAttributeNS(XLINK, "href");
      window.htmx.ajax("GET", href, { target: "#arrow-paths", swap: "innerHTML" }).then(function () {
        document.getElementById("arrow-paths").scrollIntoView({ block: "nearest" });
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
