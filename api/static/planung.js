// The planner page (/planung): choose category, mode, minutes and weight; click the map to
// add a site, click an offer to close it; the engine's what-if (/planning/evaluate) updates
// the Gemeinde table, the coloured Gemeinden and the travel-time image. Best sites, saving,
// sharing by link, comparing and downloads use the /planning and /scenarios endpoints.
// Every text comes from the message table (options.texts); data reach the page as text
// only (textContent), never as HTML.
"use strict";
const $ = id => document.getElementById(id);
const LANG = document.documentElement.lang || "de";
const withLang = url => url + (url.includes("?") ? "&" : "?") + "lang=" + LANG;
const phone = window.matchMedia("(max-width: 700px)").matches;
const map = L.map("map").setView([51.6, 10.1], 9);
L.control.scale({imperial: false}).addTo(map);
map.createPane("gemeinden").style.zIndex = 350;  // below the travel-time image
const state = {add: [], remove: new Set(), offers: [], shown: null, busy: false, again: false,
  evaluations: 0};
let T = {}, OPT = null, raster = null;
const gemeinden = L.geoJSON(null, {pane: "gemeinden",
  style: {color: "#333", weight: 1, fillOpacity: 0.5, fillColor: "#fff"}}).addTo(map);
const offerLayer = L.layerGroup().addTo(map);
const siteLayer = L.layerGroup().addTo(map);
const bestLayer = L.layerGroup().addTo(map);
const SHARE_COLOURS = ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"];

function text(value, tag = "span", className = "") {
  const el = document.createElement(tag);
  el.textContent = String(value ?? "");
  if (className) el.className = className;
  return el;
}
const fmt = (v, digits = 0) => v == null ? "–" :
  Number(v).toLocaleString(LANG, {maximumFractionDigits: digits, minimumFractionDigits: digits});
const signed = v => (v > 0 ? "+" : "") + fmt(v);
const shareColour = s => s == null ? "#fff" : SHARE_COLOURS[Math.min(4, Math.floor(s * 5))];
const fill = (t, values) => t.replace(/\{(\w+)\}/g, (_, k) => values[k]);

function plan() {
  return {category: $("category").value, mode: $("mode").value,
    minutes: parseInt($("minutes").value, 10) || OPT.minutes, weight: $("weight").value,
    add: state.add.map(s => [s[0], s[1]]), remove: [...state.remove]};
}

function showError(body) {
  const p = ((body || {}).detail || [])[0] || {msg: ""};
  $("message").textContent = T.error + " " + p.msg;
}

function options(select, choices) {
  select.replaceChildren(...choices.map(c => {
    const o = text(c.label ?? c, "option");
    o.value = c.value ?? c;
    return o;
  }));
}

function addLegend() {
  const legend = L.control({position: "bottomright"});
  legend.onAdd = () => {
    const box = L.DomUtil.create("div", "legend");
    box.id = "legend";
    const div = document.createElement("details");
    div.open = !phone;  // on a phone the legend opens on a tap, leaving the map free
    div.append(text(T.legend_title, "summary"));
    box.append(div);
    L.DomEvent.disableClickPropagation(box);
    for (const c of OPT.legend) {
      const i = document.createElement("i");
      i.style.background = c.value;
      div.append(i, c.label, document.createElement("br"));
    }
    div.append(text(T.legend_mask, "small"), document.createElement("br"),
      text(T.share_legend, "b"), document.createElement("br"));
    SHARE_COLOURS.forEach((c, k) => {
      const i = document.createElement("i");
      i.style.background = c;
      div.append(i, `${k * 20}–${(k + 1) * 20} %`, document.createElement("br"));
    });
    return box;
  };
  legend.addTo(map);
}

async function loadOffers() {
  const r = await fetch("/offers?" + new URLSearchParams({category: $("category").value}));
  state.offers = r.ok ? (await r.json()).features : [];
  drawOffers();
}

function drawOffers() {
  offerLayer.clearLayers();
  for (const f of state.offers) {
    const id = f.properties.id, closed = state.remove.has(id);
    const [lon, lat] = f.geometry.coordinates;
    L.circleMarker([lat, lon], {radius: 6, weight: 2, bubblingMouseEvents: false,
      color: closed ? "#67000d" : "#08306b", fillColor: closed ? "#bdbdbd" : "#4292c6",
      fillOpacity: .9, className: closed ? "offer-marker closed" : "offer-marker"})
      .bindTooltip(text(`${f.properties.name} – ${closed ? T.offer_closed : T.offer_open}`))
      .on("click", () => {
        if (closed) state.remove.delete(id); else state.remove.add(id);
        drawOffers(); evaluate();
      }).addTo(offerLayer);
  }
}

function drawSites() {
  siteLayer.clearLayers();
  state.add.forEach((s, k) => {
    L.circleMarker([s[1], s[0]], {radius: 8, weight: 3, color: "#000", fillColor: "#ffd92f",
      fillOpacity: 1, bubblingMouseEvents: false, className: "site-marker"})
      .bindTooltip(text(`${T.new_site} ${k + 1}`))
      .on("click", () => { state.add.splice(k, 1); drawSites(); evaluate(); })
      .addTo(siteLayer);
  });
}

function renderTable(body) {
  $("weight-head").textContent = OPT.weights.find(w => w.value === body.plan.weight).label;
  const rows = [...body.rows].sort((a, b) => b.gained - a.gained || a.name.localeCompare(b.name));
  $("table").tBodies[0].replaceChildren(...rows.map(r => {
    const tr = document.createElement("tr");
    tr.dataset.ags = r.ags;
    if (r.gained > 0) tr.className = "changed"; else if (r.gained < 0) tr.className = "lost";
    tr.append(text(r.name, "td", "name"), text(fmt(r.total), "td", "total"),
      text(fmt(r.within_before), "td", "before"), text(fmt(r.within_after), "td", "after"),
      text(signed(r.gained), "td", "gained"));
    tr.querySelector(".gained").dataset.value = r.gained;
    return tr;
  }));
  const t = body.totals, foot = document.createElement("tr");
  foot.append(text(T.total, "td"), text(fmt(t.total), "td"), text(fmt(t.within_before), "td"),
    text(fmt(t.within_after), "td"), text(signed(t.gained), "td", "gained"));
  $("table").tFoot.replaceChildren(foot);
  $("summary").textContent = body.description + (body.changed_cells ?
    ` (${fmt(body.changed_cells)} ${T.changed_cells})` : ` – ${T.no_changes}`);
}

function renderMap(body) {
  const share = Object.fromEntries(body.rows.map(r => [r.ags, r]));
  gemeinden.eachLayer(l => {
    const r = share[l.feature.properties.ags];
    l.setStyle({fillColor: shareColour(r && r.share_after)});
    l.setTooltipContent(text(r ? `${r.name}: ${fmt(r.within_after)} / ${fmt(r.total)} ` +
      `(${r.share_after == null ? "–" : fmt(r.share_after * 100)} %), ${T.gained} ${signed(r.gained)}`
      : l.feature.properties.name));
  });
  if (raster) raster.setUrl(body.image.url).setBounds(L.latLngBounds(body.image.bounds));
  else {
    raster = L.imageOverlay(body.image.url, body.image.bounds, {opacity: .8,
      className: "travel-time"}).addTo(map);
    layers.addOverlay(raster, T.layer_raster);
  }
}

function updateDownloads() {
  const q = "?plan=" + encodeURIComponent(JSON.stringify(plan()));
  for (const f of ["csv", "xlsx", "gpkg", "tif"]) $(`dl-${f}`).href = `/planning/export/${f}${q}`;
}

async function evaluate() {
  if (!OPT) return;
  if (state.busy) { state.again = true; return; }
  state.busy = true;
  const t0 = performance.now();
  updateDownloads();
  try {
    const r = await fetch(withLang("/planning/evaluate"), {method: "POST",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(plan())});
    const body = await r.json();
    if (r.status === 503) { $("message").textContent = T.retry; state.again = true;
      await new Promise(res => setTimeout(res, 1000)); }
    else if (!r.ok) showError(body);
    else {
      $("message").textContent = "";
      renderTable(body); renderMap(body);
      const ms = Math.round(performance.now() - t0);
      $("timing").textContent = fill(T.computed, {ms});
      $("timing").dataset.ms = ms;
      state.evaluations += 1;
      document.body.dataset.evaluations = state.evaluations;
    }
  } finally {
    state.busy = false;
    if (state.again) { state.again = false; evaluate(); }
  }
}

async function bestSites() {
  bestLayer.clearLayers(); $("best-list").replaceChildren();
  const p = plan(), most = OPT.best_sites_max_minutes[p.mode];
  if (p.mode === "transit") { $("message").textContent = T.best_sites_transit; return; }
  if (p.minutes > most) {
    const mode = OPT.modes.find(m => m.value === p.mode).label;
    $("message").textContent = fill(T.best_sites_minutes, {mode, most});
    return;
  }
  const r = await fetch("/scenarios/best-sites", {method: "POST",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify({category: p.category,
      mode: p.mode, minutes: p.minutes, weight: p.weight, unit: $("unit").value,
      k: parseInt($("k").value, 10) || 3})});
  const body = await r.json();
  if (!r.ok) { showError(body); return; }
  $("message").textContent = "";
  for (const s of body.sites) {
    const li = text(fill(T.site_gain, {rank: s.rank, gained: fmt(s.gained)}), "li");
    li.dataset.lon = s.lon; li.dataset.lat = s.lat;
    const take = text(T.add_site, "button", "small");
    take.type = "button";
    take.onclick = () => { state.add.push([s.lon, s.lat]); drawSites(); evaluate(); };
    li.append(take);
    $("best-list").append(li);
    document.body.dataset.bestSites = body.sites.length;
    L.circleMarker([s.lat, s.lon], {radius: 9, color: "#6a3d9a", weight: 3, fillOpacity: 0,
      className: "best-marker"}).bindTooltip(text(li.firstChild.textContent)).addTo(bestLayer);
  }
}

async function refreshSaved() {
  const r = await fetch(withLang("/planning/scenarios"));
  const list = r.ok ? await r.json() : [];
  const choices = list.map(s => ({value: s.id, label: `${s.name} (${s.description})`}));
  options($("cmp-a"), choices); options($("cmp-b"), choices);
  if (choices.length > 1) { $("cmp-b").selectedIndex = 0; $("cmp-a").selectedIndex = 1; }
}

async function save() {
  const r = await fetch(withLang("/planning/scenarios"), {method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({name: $("name").value, plan: plan()})});
  const body = await r.json();
  if (!r.ok) { showError(body); return; }
  const a = text(location.origin + body.link, "a");
  a.href = body.link; a.id = "share-link";
  $("share").replaceChildren(text(T.saved + " " + T.link + " "), a);
  history.replaceState(null, "", body.link);
  await refreshSaved();
}

async function compare() {
  const a = $("cmp-a").value, b = $("cmp-b").value;
  if (!a || !b) { $("message").textContent = T.compare_pick; return; }
  const r = await fetch(withLang("/planning/compare?" + new URLSearchParams({a, b})));
  const body = await r.json();
  if (!r.ok) { showError(body); return; }
  const rows = body.rows.filter(x => x.gained_a || x.gained_b);
  const tbody = $("compare-table").tBodies[0];
  tbody.replaceChildren(...rows.map(x => {
    const tr = document.createElement("tr");
    tr.dataset.ags = x.ags;
    tr.append(text(x.name, "td"), text(signed(x.gained_a), "td", "gained-a"),
      text(signed(x.gained_b), "td", "gained-b"), text(signed(x.difference), "td", "difference"));
    return tr;
  }));
  if (!rows.length) tbody.append(text(T.none_changed, "td"));
  document.body.dataset.compared = `${a}|${b}`;
}

async function loadScenario(id) {
  const r = await fetch(withLang(`/planning/scenarios/${encodeURIComponent(id)}`));
  const body = await r.json();
  if (!r.ok) { showError(body); return; }
  const p = body.plan;
  $("category").value = p.category; $("mode").value = p.mode;
  $("minutes").value = p.minutes; $("weight").value = p.weight;
  state.add = p.add.map(s => [s[0], s[1]]); state.remove = new Set(p.remove);
  $("name").value = body.name;
  document.body.dataset.scenario = body.id;
}

const layers = L.control.layers({}, {}, {collapsed: phone}).addTo(map);

async function start() {
  const r = await fetch(withLang("/planning/options"));
  OPT = await r.json();
  if (!r.ok) { OPT = null; T = {error: ""}; showError(OPT); return; }
  T = OPT.texts;
  options($("category"), OPT.categories); options($("mode"), OPT.modes);
  options($("weight"), OPT.weights); options($("unit"), OPT.units);
  $("category").value = OPT.categories.some(c => c.value === "kita") ? "kita" : OPT.categories[0].value;
  $("minutes").value = OPT.minutes; $("minutes").max = OPT.max_minutes;
  map.attributionControl.addAttribution(OPT.attribution.replaceAll(" | ", "; "));
  if (OPT.transit_note) {  // how to load a timetable, or what the loaded one lacks
    $("transit-note").hidden = false;
    $("transit-note").textContent = OPT.transit_note;
  }
  if (OPT.incomplete.length) {
    $("incomplete").hidden = false;
    $("incomplete-list").textContent = OPT.incomplete.join(", ");
  }
  addLegend();
  layers.addOverlay(gemeinden, T.layer_gemeinden);
  layers.addOverlay(offerLayer, T.layer_offers);
  layers.addOverlay(siteLayer, T.layer_sites);
  const g = await (await fetch("/gemeinden")).json();
  gemeinden.addData(g);
  gemeinden.eachLayer(l => l.bindTooltip(text(l.feature.properties.name), {sticky: true}));
  map.fitBounds(gemeinden.getBounds());
  const id = new URLSearchParams(location.search).get("szenario");
  if (id) await loadScenario(id);
  await Promise.all([loadOffers(), refreshSaved()]);
  drawSites();
  await evaluate();
}

if (document.body.dataset.basemap) {  // the shared base map: tiles, place names, scale
  const s = document.createElement("script");
  s.src = "/basemap.js";
  s.onload = () => { if (window.erreichbarBaseMap) window.erreichbarBaseMap(map); };
  document.head.append(s);
}
map.on("click", e => {
  if (!OPT) return;
  if (state.add.length >= OPT.max_sites) {
    $("message").textContent = fill(T.max_sites, {most: OPT.max_sites});
    return;
  }
  state.add.push([+e.latlng.lng.toFixed(6), +e.latlng.lat.toFixed(6)]);
  drawSites(); evaluate();
});
for (const id of ["mode", "minutes", "weight"]) $(id).addEventListener("change", () => evaluate());
$("category").addEventListener("change", async () => {
  state.remove.clear(); await loadOffers(); evaluate();
});
$("controls").addEventListener("submit", e => e.preventDefault());
$("reset").onclick = () => { state.add = []; state.remove.clear(); drawSites(); drawOffers(); evaluate(); };
$("best").onclick = bestSites;
$("save").onclick = save;
$("compare").onclick = compare;
start();
