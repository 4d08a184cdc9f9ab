// The offline base map for Leaflet pages (served as /basemap.js, inlined in the Folium maps).
// window.erreichbarBaseMap(map) adds the base-map tiles (/basemap/{z}/{x}/{y}.png), the
// place and street names as DOM text (/basemap/labels, refreshed after every move), a
// metric scale and the attribution, and returns {tiles, labels}. Names reach the page as
// text nodes only (textContent), never as HTML. Opened from a file (no server), it adds
// nothing but the scale and returns null; so does it when the server has no base map built
// (CONFIG.tiles null, e.g. a region without vector tiles), on a plain background.
(function () {
  "use strict";
  const CONFIG = __BASEMAP_CONFIG__;
  const PANE = "erreichbarLabels";

  /** The element of one label: text centred on its point, turned along its street. */
  function labelElement(item) {
    const span = document.createElement("span");
    span.textContent = item.text;
    span.className = "erreichbar-label-text";
    const s = span.style;
    s.position = "absolute";
    s.left = "0";
    s.top = "0";
    s.whiteSpace = "nowrap";
    s.fontFamily = "system-ui, 'Segoe UI', Roboto, Arial, sans-serif";
    s.fontSize = item.size + "px";
    s.fontWeight = item.kind === "place" && item.size >= 15 ? "700" : "400";
    s.fontStyle = item["class"] === "suburb" || item["class"] === "quarter" ? "italic" : "normal";
    s.color = item.kind === "place" ? "#222" : "#444";
    s.textShadow = "0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff, 0 0 4px #fff";
    s.transform = "translate(-50%, -50%) rotate(" + item.angle + "deg)";
    return span;
  }

  function erreichbarBaseMap(map) {
    L.control.scale({imperial: false, metric: true}).addTo(map);
    if (!/^https?:$/.test(window.location.protocol)) return null;
    if (!CONFIG.tiles) {  // nothing to draw: no requests, a plain background
      map.getContainer().style.background = "#f2efe9";
      return null;
    }
    const tiles = L.tileLayer(CONFIG.tiles, {
      minZoom: CONFIG.minZoom, maxNativeZoom: CONFIG.maxZoom, maxZoom: 19,
      bounds: CONFIG.bounds, attribution: CONFIG.attribution, keepBuffer: 1,
    }).addTo(map);
    if (!map.getPane(PANE)) {
      const pane = map.createPane(PANE);
      pane.style.zIndex = "450";  // above rasters and areas, below markers and popups
      pane.style.pointerEvents = "none";
    }
    const labels = L.layerGroup().addTo(map);
    let pending = null;

    function refresh() {
      const zoom = Math.round(map.getZoom());
      if (pending) pending.abort();
      if (zoom < CONFIG.minZoom) { labels.clearLayers(); return; }
      const size = map.getSize();
      if (!size.x || !size.y) return;  // the map hidden (a printed page): no area to label
      pending = new AbortController();
      const b = map.getBounds();
      const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
        .map(v => v.toFixed(5)).join(",");
      fetch(CONFIG.labels + "?bbox=" + bbox + "&zoom=" + zoom, {signal: pending.signal})
        .then(r => (r.ok ? r.json() : {labels: []}))
        .then(body => {
          labels.clearLayers();
          for (const item of body.labels) {
            L.marker([item.lat, item.lon], {
              icon: L.divIcon({className: "erreichbar-label erreichbar-label-" + item.kind,
                               html: labelElement(item), iconSize: null}),
              interactive: false, keyboard: false, pane: PANE,
            }).addTo(labels);
          }
        })
        .catch(() => {});  // aborted by a newer move, or the server is gone: keep the map
    }

    map.on("moveend", refresh);
    map.whenReady(refresh);
    return {tiles: tiles, labels: labels};
  }

  window.erreichbarBaseMap = erreichbarBaseMap;
})();
