// The family page: an address or a click on the map → the nearest offers (/nearest).
// Text from the data (offer names, Gemeinde names, messages) reaches the page only as
// text nodes (textContent, the helper `text`), never as HTML: no innerHTML, no HTML
// strings for Leaflet popups or tooltips.
"use strict";
const map = L.map("map").setView([51.6, 10.1], 10);
L.control.scale({imperial: false}).addTo(map);
const online = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png",
  {attribution: "© OpenStreetMap contributors (ODbL)", maxZoom: 19});
const found = L.layerGroup().addTo(map);
const layers = L.control.layers({}, {"OpenStreetMap-Karte (online)": online}, {collapsed: false}).addTo(map);
map.attributionControl.addAttribution("© GeoBasis-DE / BKG (2021) dl-de/by-2.0");
const $ = id => document.getElementById(id);

/** An element holding `value` as plain text (for Leaflet popups, tooltips, lists). */
function text(value, tag = "span", className = "") {
  const el = document.createElement(tag);
  el.textContent = String(value ?? "");
  if (className) el.className = className;
  return el;
}

fetch("/gemeinden").then(r => r.json()).then(g => {
  const outline = L.geoJSON(g, {style: {color: "#444", weight: 1, fillOpacity: 0},
    onEachFeature: (f, l) => l.bindTooltip(text(f.properties.name))}).addTo(map);
  layers.addOverlay(outline, "Gemeinden");
  map.fitBounds(outline.getBounds());
});
const MESSAGES = {outside_region: "Dieser Ort liegt außerhalb des Landkreises.",
  address_not_found: "Diese Adresse kennen wir nicht.",
  address_ambiguous: "Diese Adresse gibt es mehrmals.",
  no_offers: "Kein solches Angebot erreichbar."};

function showError(body) {
  const p = (body.detail || [])[0] || {msg: "Unbekannter Fehler"};
  $("message").textContent = (MESSAGES[p.type] || "Eingabe nicht möglich:") + " " +
    (MESSAGES[p.type] ? "" : p.msg);
  if ((body.suggestions || []).length) {
    $("message").append(document.createElement("br"), "Meinten Sie: ");
    for (const s of body.suggestions) {
      const b = text(s, "button");
      b.type = "button";
      b.onclick = () => { $("address").value = s; search({address: s}); };
      $("message").append(b);
    }
  }
}

/** One result: list entry and map marker with its route. */
function showResult(res, bounds) {
  const minutes = `${Math.round(res.minutes)} min`;
  const li = document.createElement("li");
  li.dataset.offerId = res.offer.id;
  li.append(text(res.offer.name, "span", "name"), " – ", text(minutes, "span", "minutes"));
  $("results").append(li);
  const route = L.polyline(res.route.coordinates.map(c => [c[1], c[0]]),
    {color: res.rank === 1 ? "#08519c" : "#6baed6", weight: res.rank === 1 ? 5 : 3}).addTo(found);
  const [lon, lat] = res.location.coordinates;
  L.circleMarker([lat, lon], {radius: 8, color: "#08306b", fillColor: "#4292c6", fillOpacity: .9,
    className: "offer-marker"}).bindPopup(text(`${res.offer.name}: ${minutes}`)).addTo(found);
  bounds.extend(route.getBounds());
}

async function search(where) {
  const q = new URLSearchParams({...where, category: $("category").value, mode: $("mode").value, k: 3});
  $("message").textContent = ""; $("results").replaceChildren(); $("origin").textContent = "";
  found.clearLayers();
  const r = await fetch("/nearest?" + q);
  const body = await r.json();
  if (!r.ok) { showError(body); return; }
  const o = body.origin;
  $("origin").textContent = "Start: " + (o.address || `${o.lat.toFixed(5)}, ${o.lon.toFixed(5)}`);
  const start = L.circleMarker([o.lat, o.lon], {radius: 7, color: "#000", fillColor: "#fff", fillOpacity: 1})
    .bindTooltip(text("Start")).addTo(found);
  if (!body.results.length) {
    $("message").textContent = `Kein Angebot in ${body.max_minutes} Minuten erreichbar.`;
    return;
  }
  const bounds = L.latLngBounds([start.getLatLng()]);
  for (const res of body.results) showResult(res, bounds);
  map.fitBounds(bounds, {padding: [30, 30]});
}

$("search").addEventListener("submit", e => {
  e.preventDefault();
  const a = $("address").value.trim();
  if (a) search({address: a});
});
map.on("click", e => search({lat: e.latlng.lat.toFixed(6), lon: e.latlng.lng.toFixed(6)}));
