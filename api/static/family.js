// The family page: an address or a click on the map → the nearest offers (/nearest), and
// "Was gibt es für mein Kind?" (/family/offers): an age and a place → the chain's offers.
// Every fixed text comes from the message table (/messages?lang=…); German is the default.
// Text from the data (offer names, Gemeinde names, messages) reaches the page only as
// text nodes (textContent, the helper `text`), never as HTML: no innerHTML, no HTML
// strings for Leaflet popups or tooltips. Fields the API does not send are left out.
// The modes offered are those the server's data can answer (/health `modes`): a region
// with a timetable but no street network (the Enzkreis) offers "Bus & Bahn" alone, and no
// "Was gibt es für mein Kind?" (its minutes are on foot and by bike). Each transit result
// can ask /there-and-back: "Hin und zurück in den Öffnungszeiten?", on the timetable's
// regular day or one of the next seven days. On a phone (≤ 700 px) the panel is a bottom
// sheet over the full-screen map: peek (its handle: the heading, or the first result's name and minutes), half, full.
"use strict";
const $ = id => document.getElementById(id);
const CHILD_MODES = ["walk", "bike"];  // what /family/offers answers for
const WEEKDAYS = ["mo", "di", "mi", "do", "fr", "sa", "so"];
// the region's box from the server (until the Gemeinden have loaded)
const COUNTY_VIEW = JSON.parse($("map").dataset.bounds);

let T = {page: {}, labels: {}, lang: "de"};  // /messages: the texts of the chosen language
let last = null;  // the last answer shown: {kind: "nearest"|"child", body, where}
let county = L.latLngBounds(COUNTY_VIEW);
let available = [];  // /health: the modes the region's data can answer
let timetableDays = null;  // /health: [first, last] service day (YYYY-MM-DD) of the timetable
let addresses = true;  // /health: whether the region has an address index (else places, stops)
let region = "";  // /health: the region's title

const map = L.map("map", {zoomControl: false}).fitBounds(county);
const online = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png",
  {attribution: "© OpenStreetMap contributors (ODbL)", maxZoom: 19});
const found = L.layerGroup().addTo(map);
map.attributionControl.addAttribution("© GeoBasis-DE / BKG (2021) dl-de/by-2.0");
// the offline base map adds tiles, names and a metric scale; without it, the scale alone
if (window.erreichbarBaseMap) window.erreichbarBaseMap(map);
else L.control.scale({imperial: false}).addTo(map);
let outline = null, zoom = null, layers = null;
let dayChoices = 0;  // day choices made so far: each has its own element id

/** An element holding `value` as plain text (for Leaflet popups, tooltips, lists). */
function text(value, tag = "span", className = "") {
  const el = document.createElement(tag);
  el.textContent = String(value ?? "");
  if (className) el.className = className;
  return el;
}

/** The page text `key` with `{name}` placeholders filled from `values`. */
function t(key, values = {}) {
  const template = T.page[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (m, name) => String(values[name] ?? m));
}

const label = (kind, value) => T.labels[`${kind}.${value}`] ?? value;
const fmtMinutes = m => t("minutes", {minutes: Math.round(m)});

/** Fill a <select> with `values`, keeping its current choice. */
function fillSelect(select, values, labelOf, fallback) {
  const keep = select.value || fallback;
  select.replaceChildren(...values.map(v => {
    const o = text(labelOf(v), "option");
    o.value = v;
    return o;
  }));
  if (values.includes(keep)) select.value = keep;
}

/** Leaflet's controls in the chosen language (zoom titles, layer names). */
function localiseMap() {
  if (zoom) zoom.remove();
  zoom = L.control.zoom({zoomInTitle: t("zoom_in"), zoomOutTitle: t("zoom_out")}).addTo(map);
  if (layers) layers.remove();
  const overlays = {[t("layer_osm")]: online};
  if (outline) overlays[t("layer_gemeinden")] = outline;
  layers = L.control.layers({}, overlays, {collapsed: window.innerWidth < 700}).addTo(map);
}

/** Show every fixed text in `T`'s language, then re-render the last answer in it. */
function applyTexts() {
  document.documentElement.lang = T.lang;
  document.documentElement.dir = T.dir;
  document.title = t("title", {region});
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const el of document.querySelectorAll("[data-t-title]")) el.title = t(el.dataset.tTitle);
  for (const el of document.querySelectorAll("[data-t-placeholder]")) {
    el.placeholder = t(addresses ? el.dataset.tPlaceholder : "address_placeholder_places");
  }
  fillSelect($("category"), T.categories, c => label("category", c), "grundschule");
  // transit needs a loaded timetable, street modes their network: only what the data has
  const modes = T.modes.filter(m => available.includes(m));
  fillSelect($("mode"), modes, m => label("mode", m), "walk");
  $("transit-none").hidden = modes.includes("transit");
  const childModes = CHILD_MODES.filter(m => available.includes(m));
  fillSelect($("child-mode"), childModes, m => label("mode", m), "walk");
  $("tab-child").hidden = childModes.length === 0;
  const days = ["", ...WEEKDAYS];
  fillSelect($("weekday"), days, d => (d ? t(`weekdays.${d}`) : t("any_day")), "");
  fillSelect($("lang"), Object.keys(T.languages), l => T.languages[l], T.lang);
  $("lang").value = T.lang;
  $("maps-link").href = `/karten?lang=${T.lang}`;
  $("map").setAttribute("aria-label", t("map_label"));
  showEasy();
  localiseMap();
  if (last) render(last);
  else sheetLabel();
}

/** The "Leichte Sprache" explanation of the chosen category (German only). */
function showEasy() {
  const easy = T.labels[`category_easy.${$("category").value}`];
  $("easy").hidden = T.lang !== "de" || !easy;
  $("easy-text").textContent = easy ?? "";
}

async function loadTexts(lang) {
  const r = await fetch("/messages" + (lang ? `?lang=${encodeURIComponent(lang)}` : ""));
  const body = await r.json();
  T = body;
  applyTexts();
}

/** The offer's address: the answer's, else street, number, postcode and town. */
function addressOf(res, offer) {
  if (res.address) return res.address;
  const street = [offer.street, offer.housenumber].filter(Boolean).join(" ");
  const town = [offer.postcode, offer.town].filter(Boolean).join(" ");
  return [street, town].filter(Boolean).join(", ");
}

function agesOf(offer) {
  const [a, b] = [offer.age_from, offer.age_to];
  if (a != null && b != null) return t("ages_range", {age_from: a, age_to: b});
  if (a != null) return t("ages_from", {age_from: a});
  if (b != null) return t("ages_to", {age_to: b});
  return t("ages_unknown");
}

/** Opening hours with "open now / today" (or that they are unknown), as one line. */
function hoursOf(res, offer, openKey) {
  const line = text("", "span", "line");
  if (!offer.opening_hours) {
    line.append(text(t("hours_unknown"), "span", "unknown"));
    return line;
  }
  line.append(`${t("hours")}: ${offer.opening_hours}`);
  const open = openKey in res ? res[openKey] : null;
  if (open != null) {
    const [key, cls] = open ? [openKey === "open" ? "open_then" : "open_now", "open"]
      : [openKey === "open" ? "closed_then" : "closed_now", "closed"];
    line.append(" · ", text(t(key), "span", cls));
  }
  if (res.open_today) line.append(" · ", t("today", {hours: res.open_today}));
  return line;
}

/** Träger, phone, e-mail, website and source of an offer (those it has). */
function contactOf(offer) {
  const out = [];
  if (offer.traeger) out.push(text(`${t("traeger")}: ${offer.traeger}`, "span", "line"));
  const links = [];
  if (offer.phone) links.push(link(`tel:${offer.phone.replace(/[^+\d]/g, "")}`, offer.phone));
  if (offer.email) links.push(link(`mailto:${offer.email}`, offer.email));
  if (/^https?:\/\//.test(offer.website ?? "")) links.push(link(offer.website, offer.website));
  if (links.length) {
    const line = text(`${t("contact")}: `, "span", "line");
    links.forEach((a, i) => line.append(...(i ? [" · ", a] : [a])));
    out.push(line);
  }
  if (offer.source) {
    const line = text(`${t("source")}: `, "span", "line meta");
    line.append(/^https?:\/\//.test(offer.source) ? link(offer.source, offer.source) : offer.source);
    if (offer.source_date) line.append(` (${offer.source_date})`);
    out.push(line);
  }
  return out;
}

function link(href, value) {
  const a = text(value, "a");
  a.href = href;
  return a;
}

/** "mit dem Rad 4 min · mit dem Auto 2 min": the modes other than `mode` with a time. */
function otherModes(times, mode) {
  const parts = Object.entries(times ?? {}).filter(([m, v]) => m !== mode && v != null)
    .map(([m, v]) => t("other_mode", {mode: label("mode", m), minutes: Math.round(v)}));
  return parts.length ? text(parts.join(" · "), "span", "line other-modes") : null;
}

/** One offer as a list entry: name, minutes, category, address, ages, hours, contact. */
function offerItem(res, offer, minutesText, extra) {
  const li = document.createElement("li");
  li.dataset.offerId = offer.id;
  li.append(text(offer.name, "span", "name"), " – ", text(minutesText, "span", "minutes"));
  const address = addressOf(res, offer);
  li.append(text(label("category", offer.category), "span", "line category"));
  if (address) li.append(text(address, "span", "line address"));
  li.append(text(agesOf(offer), "span", "line"), ...extra, ...contactOf(offer));
  return li;
}

/** A numbered marker (the number of the list entry) with the offer's name as popup. */
function marker(lat, lon, number, name, minutesText) {
  const icon = L.divIcon({className: "offer-marker", html: String(number), iconSize: [26, 26]});
  return L.marker([lat, lon], {icon, title: `${number}. ${name}`, keyboard: true})
    .bindPopup(text(`${name}: ${minutesText}`)).addTo(found);
}

/** The legs of a journey by bus and train: line, stop → stop, departure/arrival times. */
function legsOf(legs) {
  const list = text("", "ol", "line legs");
  const place = name => ({origin: t("leg_start"), destination: t("leg_destination")})[name] ?? name;
  for (const leg of legs) {
    const values = {route: leg.route, from: place(leg.from_name), to: place(leg.to_name),
                    departure: leg.departure.slice(11, 16), arrival: leg.arrival.slice(11, 16)};
    const li = text(t(leg.route === "walk" ? "leg_walk" : "leg_ride", values), "li",
                    leg.route === "walk" ? "leg walk" : "leg ride");
    li.dataset.route = leg.route;
    list.append(li);
  }
  return list;
}

/** "Hin und zurück in den Öffnungszeiten?": a button asking /there-and-back from `origin`. */
function thereAndBack(offer, origin) {
  const box = text("", "div", "line there-and-back");
  if (!offer.opening_hours) {  // nothing to check against
    box.append(text(t("tab_hours_unknown"), "span", "unknown"));
    return box;
  }
  const button = text(t("tab_button"), "button");
  button.type = "button";
  const day = document.createElement("select");
  day.id = `day-${++dayChoices}`;
  // first the timetable's regular day (no date sent: the server's default day, which works
  // even when the loaded feed has ended), then the next seven days
  const days = new Map([["", t("tab_day_regular")], ...nextDays()]);
  fillSelect(day, [...days.keys()], iso => days.get(iso), "");
  for (const o of day.options) {  // a day the loaded timetable does not cover: not offered
    if (o.value && timetableDays && (o.value < timetableDays[0] || o.value > timetableDays[1])) {
      o.disabled = true;
      o.textContent = `${o.textContent} – ${t("tab_day_no_timetable")}`;
    }
  }
  const dayLabel = text(t("tab_day"), "label");
  dayLabel.htmlFor = day.id;
  const answer = text("", "div", "tab-answer");
  answer.setAttribute("aria-live", "polite");
  button.onclick = async () => {
    answer.replaceChildren(text(t("searching")));
    const params = {lat: origin.lat, lon: origin.lon, offer_id: offer.id, lang: T.lang,
                    ...(day.value ? {date: day.value} : {})};
    let r;
    try {
      r = await fetch(`/there-and-back?${new URLSearchParams(params)}`);
    } catch (e) {
      answer.replaceChildren(text(t("error_network")));
      return;
    }
    const body = await r.json();
    answer.replaceChildren(...(r.ok ? tripParts(body) : [text(
      (Array.isArray(body.detail) && body.detail[0] ? body.detail[0].msg : t("error_unknown")),
      "p", "unknown")]));
  };
  const choice = text("", "span", "day");
  choice.append(dayLabel, " ", day);
  box.append(button, " ", choice, answer);
  return box;
}

/** The next `n` days from the browser's today: [YYYY-MM-DD, weekday and date in T.lang]. */
function nextDays(n = 7) {
  const now = new Date();
  return Array.from({length: n}, (_, i) => {
    const d = new Date(now.getFullYear(), now.getMonth(), now.getDate() + i, 12);
    const iso = [d.getFullYear(), d.getMonth() + 1, d.getDate()]
      .map(v => String(v).padStart(2, "0")).join("-");
    return [iso, d.toLocaleDateString(T.lang, {weekday: "short", day: "numeric",
                                               month: "numeric"})];
  });
}

/** The verdict of a /there-and-back answer, why not, and the legs of both ways. */
function tripParts(body) {
  const date = new Date(`${body.date}T12:00:00`).toLocaleDateString(T.lang,
    {weekday: "long", day: "numeric", month: "numeric", year: "numeric"});
  const values = {date, arrive_by: body.arrive_by, leave_after: body.leave_after};
  const parts = [text(t(body.possible ? "tab_yes" : "tab_no", values), "p",
                      body.possible ? "verdict open" : "verdict closed")];
  if (!body.outbound) parts.push(text(t("tab_no_outbound", values), "p"));
  if (!body.back) parts.push(text(t("tab_no_back", values), "p"));
  for (const [key, way] of [["tab_outbound", body.outbound], ["tab_back", body.back]]) {
    if (!way) continue;
    parts.push(text(t(key, {departure: way.departure.slice(11, 16),
                            arrival: way.arrival.slice(11, 16)}), "p", "way"),
               legsOf(way.legs));
  }
  return parts;
}

function showNearestResult(res, mode, bounds, target = $("results"), origin = null) {
  const minutes = fmtMinutes(res.minutes);
  const extras = [hoursOf(res, res.offer, "open_now"), otherModes(res.other_modes, mode),
                  res.legs ? legsOf(res.legs) : null,
                  mode === "transit" && origin ? thereAndBack(res.offer, origin) : null];
  target.append(offerItem(res, res.offer, minutes, extras.filter(Boolean)));
  if (res.route) {
    const line = L.polyline(res.route.coordinates.map(c => [c[1], c[0]]),
      {color: "#08519c", weight: res.rank === 1 ? 6 : 4, dashArray: res.rank === 1 ? null : "8 6",
       opacity: 1, className: "route"}).addTo(found);
    bounds.extend(line.getBounds());
  }
  const [lon, lat] = res.location.coordinates;
  marker(lat, lon, target.children.length, res.offer.name, minutes);
  bounds.extend([lat, lon]);
}

/** The bottom sheet on phones: its states, smallest first, and the one shown. */
const phone = window.matchMedia("screen and (max-width: 700px)");
const SHEET = ["peek", "half", "full"];
let sheet = "half";

/** The sheet's height in `state`, pixels: its handle; half the screen; all but 48 px. */
function sheetHeight(state) {
  const peek = $("sheet-handle").offsetHeight;
  return {peek, half: Math.round(innerHeight / 2), full: innerHeight - 48}[state];
}

/** Show the sheet in `state` (or `px` high while dragged); no effect on a wide screen. */
function setSheet(state, px = null) {
  sheet = state;
  $("sheet-handle").setAttribute("aria-expanded", String(state !== "peek"));
  document.body.dataset.sheet = state;
  document.body.style.setProperty("--sheet-h", `${Math.round(px ?? sheetHeight(state))}px`);
}

/** The handle's text: the first result's name and minutes, else the page's heading. */
function sheetLabel() {
  const first = document.querySelector("#answer li[data-offer-id]");
  const part = sel => first.querySelector(sel).textContent;
  $("sheet-label").textContent = first ? `${part(".name")} – ${part(".minutes")}` : t("heading");
}

/** The handle: a click, Enter or Space goes to the next state; a drag sets the height. */
function dragSheet(handle) {
  let start = null, moved = false;
  handle.addEventListener("pointerdown", e => {
    if (!phone.matches) return;
    start = {y: e.clientY, height: sheetHeight(sheet)};
    moved = false;
    handle.setPointerCapture(e.pointerId);
  });
  handle.addEventListener("pointermove", e => {
    if (!start) return;
    const height = start.height + start.y - e.clientY;
    if (Math.abs(start.y - e.clientY) > 8) moved = true;
    document.body.classList.toggle("dragging", moved);
    if (moved) {
      setSheet(sheet, Math.min(Math.max(height, sheetHeight("peek")), sheetHeight("full")));
    }
  });
  const end = e => {
    if (!start) return;
    const height = start.height + start.y - e.clientY;
    start = null;
    document.body.classList.remove("dragging");
    if (!moved) return;
    const gaps = SHEET.map(s => Math.abs(sheetHeight(s) - height));
    setSheet(SHEET[gaps.indexOf(Math.min(...gaps))]);
  };
  handle.addEventListener("pointerup", end);
  handle.addEventListener("pointercancel", end);
  handle.addEventListener("click", () => {
    if (moved) { moved = false; return; }  // the end of a drag, not a press
    setSheet(SHEET[(SHEET.indexOf(sheet) + 1) % SHEET.length]);
  });
}

function clearAnswer() {
  for (const id of ["message", "status", "origin", "results", "anyway", "stages"]) {
    $(id).replaceChildren();
  }
  found.clearLayers();
  $("tools").hidden = true;
}

/** The localized message of a 4xx body, with "Meinten Sie …?" suggestions as buttons. */
function showError(body, retry) {
  const p = (Array.isArray(body.detail) && body.detail[0]) || {msg: t("error_unknown")};
  const mine = T.page[`error_${p.type}`];
  $("message").textContent = mine ?? `${t("error_input")} ${p.msg}`;
  if ((body.suggestions || []).length) {
    $("message").append(document.createElement("br"), t("did_you_mean"), " ");
    suggestionButtons($("message"), body.suggestions, retry);
  }
  fitTo(county);  // back to the county view, not a blank area
}

/** One button per "Meinten Sie …?" suggestion in `box`; a click searches it (`retry`). */
function suggestionButtons(box, suggestions, retry) {
  for (const s of suggestions) {
    const b = text(s, "button");
    b.type = "button";
    b.onclick = () => retry(s);
    box.append(b);
  }
}

/** Ask the API; on an error show it (and return null), else return the answer's body. */
async function ask(path, params, retry) {
  clearAnswer();
  $("status").textContent = t("searching");
  let r;
  try {
    r = await fetch(`${path}?${new URLSearchParams({...params, lang: T.lang})}`);
  } catch (e) {
    $("status").textContent = "";
    $("message").textContent = t("error_network");
    return null;
  }
  $("status").textContent = "";
  const body = r.headers.get("content-type")?.includes("json") ? await r.json() : {};
  if (r.status === 404 && !Array.isArray(body.detail)) body.detail = [{type: "not_available", msg: ""}];
  if (!r.ok) { showError(body, retry); return null; }
  return body;
}

/** The start: its place, what the geocoder did not find (note) and close spellings. */
function showOrigin(o, bounds, retry) {
  const place = o.address || `${o.lat.toFixed(5)}, ${o.lon.toFixed(5)}`;
  $("origin").textContent = t("origin", {place});
  if (o.note) $("origin").append(document.createElement("br"), text(o.note, "span", "note"));
  if ((o.suggestions || []).length) {
    if (!o.note) $("origin").append(document.createElement("br"), t("did_you_mean"), " ");
    suggestionButtons($("origin"), o.suggestions, retry);
  }
  const icon = L.divIcon({className: "start-marker", iconSize: [16, 16]});
  L.marker([o.lat, o.lon], {icon, title: t("start"), keyboard: false}).addTo(found);
  bounds.extend([o.lat, o.lon]);
}

/** The share link: this page with the search in its query; loading it runs the search. */
function setShare(params) {
  const url = `${location.pathname}?${new URLSearchParams({...params, lang: T.lang})}`;
  history.replaceState(null, "", url);
  $("share").href = url;
  $("tools").hidden = false;
}

function renderNearest(body, where) {
  const bounds = L.latLngBounds([]);
  showOrigin(body.origin, bounds, retryNearest);
  for (const res of body.results) {
    showNearestResult(res, body.mode, bounds, $("results"), body.origin);
  }
  if (body.results.length) {
    $("status").textContent = t("found", {count: body.results.length});
  } else {
    $("message").textContent = t("nothing_within", {minutes: body.max_minutes});
    if (body.nearest_anyway) {
      const list = document.createElement("ol");
      $("anyway").append(text(t("nearest_anyway"), "p"), list);
      showNearestResult(body.nearest_anyway, body.mode, bounds, list, body.origin);
    }
    if (body.suggest_mode) {
      $("anyway").append(text(t("suggest_mode", {mode: label("mode", body.suggest_mode)}), "p"));
    }
  }
  fitTo(bounds);
  setShare({...where, category: body.category, mode: body.mode});
}

/** Show `bounds` in the part of the map the sheet leaves free (30 px margins). */
function fitTo(bounds) {
  const cover = phone.matches ? sheetHeight(sheet) : 0;  // pixels
  if (bounds.isValid()) {
    map.fitBounds(bounds, {paddingTopLeft: [30, 30], paddingBottomRight: [30, 30 + cover],
                           maxZoom: 16});
  }
}

/** "Was gibt es für mein Kind?": the stages with their offers, nearest first. */
function renderChild(body, where) {
  const bounds = L.latLngBounds([]);
  if (body.origin && body.origin.lat != null) showOrigin(body.origin, bounds, retryChild);
  const mode = where.mode;
  let number = 0, total = 0;
  for (const stage of body.stages || []) {
    const budget = stage.budget_min != null
      ? ` – ${t("stage_budget", {minutes: stage.budget_min})}` : "";
    const heading = text((stage.label || label("stage", stage.key)) + budget, "h2");
    const list = document.createElement("ol");
    list.start = number + 1;
    $("stages").append(heading, list);
    if (!stage.offers.length) list.replaceWith(text(t("stage_empty"), "p", "unknown"));
    for (const offer of stage.offers) {
      const m = (offer.minutes ?? {})[mode];
      const minutes = m != null ? fmtMinutes(m) : "–";
      const extras = [hoursOf(offer, offer, "open"), otherModes(offer.minutes, mode)];
      list.append(offerItem(offer, offer, minutes, extras.filter(Boolean)));
      number += 1;
      if (offer.lon != null && offer.lat != null) {
        marker(offer.lat, offer.lon, number, offer.name, minutes);
        bounds.extend([offer.lat, offer.lon]);
      }
    }
    total += stage.offers.length;
  }
  $("status").textContent = t("found", {count: total});
  fitTo(bounds);
  setShare({view: "child", ...where});
}

/** Scroll the panel (not the map) to the answer: on a phone it lies below the form. */
function reveal() {
  $("answer").scrollIntoView({block: "start", behavior: "smooth"});
}

function render(answer) {
  clearAnswer();
  (answer.kind === "nearest" ? renderNearest : renderChild)(answer.body, answer.where);
  sheetLabel();
}

const retryNearest = s => { $("address").value = s; search({address: s}); };
const retryChild = s => { $("child-address").value = s; searchChild(); };

async function search(where) {
  const params = {...where, category: $("category").value, mode: $("mode").value, k: 3};
  const body = await ask("/nearest", params, retryNearest);
  if (body) { last = {kind: "nearest", body, where}; setSheet("half"); render(last); reveal(); }
}

async function searchChild() {
  const where = {age: $("age").value, mode: $("child-mode").value};
  const address = $("child-address").value.trim();
  if (address) where.address = address;
  else if ($("gemeinde").value) where.gemeinde = $("gemeinde").value;
  else { clearAnswer(); $("message").textContent = t("child_need_place"); return; }
  if ($("weekday").value) where.weekday = $("weekday").value;
  if ($("time").value) where.time = $("time").value;
  const body = await ask("/family/offers", where, retryChild);
  if (body) { last = {kind: "child", body, where}; setSheet("half"); render(last); reveal(); }
}

function showView(view) {
  const child = view === "child";
  $("nearest-view").hidden = child;
  $("child-view").hidden = !child;
  $("tab-nearest").setAttribute("aria-selected", String(!child));
  $("tab-child").setAttribute("aria-selected", String(child));
  $("tab-nearest").tabIndex = child ? -1 : 0;
  $("tab-child").tabIndex = child ? 0 : -1;
}

async function loadGemeinden() {
  const g = await (await fetch("/gemeinden")).json();
  outline = L.geoJSON(g, {style: {color: "#444", weight: 1, fillOpacity: 0}, interactive: true,
    onEachFeature: (f, l) => l.bindTooltip(text(f.properties.name))}).addTo(map);
  county = outline.getBounds();
  const names = g.features.map(f => [f.properties.ags, f.properties.name])
    .sort((a, b) => a[1].localeCompare(b[1], "de"));
  $("gemeinde").append(...names.map(([ags, name]) => {
    const o = text(name, "option");
    o.value = ags;
    return o;
  }));
  localiseMap();
  if (!last) fitTo(county);  // on a phone above the sheet
}

/** Run the search a shared link names (?address=…|lat=…&lon=…, category, mode, view=child). */
function runLinked(q) {
  if (q.get("category")) $("category").value = q.get("category");
  const modes = [...$("mode").options].map(o => o.value);
  if (modes.includes(q.get("mode"))) $("mode").value = q.get("mode");
  if (CHILD_MODES.includes(q.get("mode"))) $("child-mode").value = q.get("mode");
  if (q.get("view") === "child") {
    showView("child");
    for (const [key, id] of [["age", "age"], ["address", "child-address"], ["gemeinde", "gemeinde"],
                             ["weekday", "weekday"], ["time", "time"]]) {
      if (q.get(key)) $(id).value = q.get(key);
    }
    searchChild();
  } else if (q.get("address")) {
    $("address").value = q.get("address");
    search({address: q.get("address")});
  } else if (q.get("lat") && q.get("lon")) {
    search({lat: q.get("lat"), lon: q.get("lon")});
  }
}

$("search").addEventListener("submit", e => {
  e.preventDefault();
  const a = $("address").value.trim();
  if (a) search({address: a});
});
$("child-search").addEventListener("submit", e => { e.preventDefault(); searchChild(); });
$("category").addEventListener("change", showEasy);
$("lang").addEventListener("change", () => loadTexts($("lang").value));
$("tab-nearest").addEventListener("click", () => showView("nearest"));
$("tab-child").addEventListener("click", () => showView("child"));
document.querySelector(".tabs").addEventListener("keydown", e => {
  if ((e.key !== "ArrowLeft" && e.key !== "ArrowRight") || $("tab-child").hidden) return;
  const next = $("child-view").hidden ? "child" : "nearest";
  showView(next);
  $(next === "child" ? "tab-child" : "tab-nearest").focus();
});
$("print").addEventListener("click", () => window.print());
map.on("click", e => search({lat: e.latlng.lat.toFixed(6), lon: e.latlng.lng.toFixed(6)}));
window.addEventListener("resize", () => { map.invalidateSize(); setSheet(sheet); });
dragSheet($("sheet-handle"));
setSheet(sheet);

/** The modes the server's data can answer and whether it knows addresses (/health). */
async function loadModes() {
  const r = await fetch("/health");
  if (!r.ok) return;
  const health = await r.json();
  available = health.modes ?? [];
  timetableDays = health.timetable_days ?? null;
  region = health.title ?? "";
  addresses = (health.geocoder?.addresses ?? 0) > 0;
  // a region with a timetable but no street network: its times are not street times
  if (available.length && available.every(m => m === "transit")) {
    document.querySelector('footer [data-t="footer"]').dataset.t = "footer_timetable";
  }
}

const query = new URLSearchParams(location.search);
Promise.all([loadModes().then(() => loadTexts(query.get("lang"))), loadGemeinden()])
  .then(() => runLinked(query));
