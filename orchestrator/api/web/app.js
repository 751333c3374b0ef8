/* dronepatrol watch centre: the district on a map, the airports, the day's schedule,
 * incidents and alerts, live, from the service's own API (no other server, no CDN).
 * Commands are shown only to roles that may give them; the API refuses them anyway. */
"use strict";

const API = "/api/v1";
const KINDS = ["fire", "smoke", "hazmat", "flood", "illegal_parking"];
const STEPS = ["acknowledged", "dispatched", "resolved", "false_alarm"];
const ZONE_STYLE = {
  no_fly: { color: "#c62828", weight: 1, fillOpacity: 0.18 },
  approval_required: { color: "#ef6c00", weight: 1, fillOpacity: 0.08, dashArray: "4 3" },
};

const state = {
  token: sessionStorage.getItem("dronepatrol.token") || "",
  me: null,
  tz: "+08:00",
  airports: [],
  drones: {},
  sorties: [],
  patrols: [],
  incidents: [],
  alerts: [],
  selectedIncident: null,
  selectedSortie: null,
  tracks: {},
};
const layers = {};
const markers = { airports: {}, drones: {}, incidents: {}, tracks: {} };
let map = null;
let events = null;
const timers = [];
window.dashboard = { state, markers };

// ---- helpers ---------------------------------------------------------------------------
function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function hhmm(iso) {
  return iso ? iso.slice(11, 16) : "";
}
function may(what) {
  return Boolean(state.me && state.me.may[what]);
}
async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.token}`, ...(options.headers || {}) };
  if (options.body && typeof options.body !== "string") {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(options.body);
  }
  const reply = await fetch(API + path, { ...options, headers });
  if (reply.status === 401) {
    signOut(t("login.token_refused"));
    throw new Error("unauthorised");
  }
  const data = reply.headers.get("content-type")?.includes("json") ? await reply.json() : await reply.text();
  if (!reply.ok) {
    throw new Error((data && data.detail) || `HTTP ${reply.status}`);
  }
  return data;
}
function toast(text, ms = 6000) {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.hidden = true), ms);
}
async function command(label, path, body) {
  try {
    const reply = await api(path, { method: "POST", body: body || {} });
    toast(t("command.result", { label, result: reply.detail || reply.decision || reply.state || t("command.done") }));
    return reply;
  } catch (err) {
    toast(t("command.refused", { label, error: err.message }));
    return null;
  }
}

// ---- sign in ------------------------------------------------------------------------------
async function signIn(token) {
  state.token = token;
  try {
    state.me = await api("/whoami");
  } catch (err) {
    document.getElementById("login-error").textContent = err.message === "unauthorised" ? t("login.unknown_token") : err.message;
    return false;
  }
  sessionStorage.setItem("dronepatrol.token", token);
  document.getElementById("login").hidden = true;
  document.getElementById("app").hidden = false;
  document.getElementById("who").textContent = t("header.who", { name: state.me.name, role: tv("role", state.me.role) });
  document.body.dataset.role = state.me.role;
  await start();
  return true;
}
function signOut(why) {
  sessionStorage.removeItem("dronepatrol.token");
  state.token = "";
  state.me = null;
  timers.splice(0).forEach(clearInterval);
  if (events) events.close();
  document.getElementById("app").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = why || "";
}

// ---- map --------------------------------------------------------------------------------
async function buildMap() {
  if (map) return;
  const base = await api("/basemap");
  const options = { zoomSnap: 0.25, preferCanvas: false, attributionControl: Boolean(base.tiles && base.attribution), maxZoom: base.max_zoom };
  // GCJ-02 tiles (maps published in China): every WGS84 position is drawn shifted to match them.
  if (base.crs === "gcj02") options.crs = window.chinamap.crs();
  map = L.map("map", options);
  window.dashboard.map = map;
  if (base.tiles) {
    layers.base = L.tileLayer(base.tiles, { maxZoom: base.max_zoom, attribution: esc(base.attribution), className: "base-tiles" }).addTo(map);
  }
  const geo = await api("/map");
  const by = (layer) => ({ type: "FeatureCollection", features: geo.features.filter((f) => f.properties.layer === layer) });
  const districtFill = base.tiles ? 0.08 : 1; // over a base map the district is an outline
  layers.district = L.geoJSON(by("district"), { style: { color: "#37474f", weight: 2, fillColor: "#f7f9f4", fillOpacity: districtFill }, interactive: false }).addTo(map);
  const contours = by("contour");
  layers.relief = L.geoJSON(contours, {
    style: (f) => ({ color: "#8d6e63", weight: f.properties.height_m % 500 === 0 ? 1.6 : 0.8, opacity: 0.75, className: "relief-contour" }),
    onEachFeature: (f, l) => l.bindTooltip(esc(t(f.properties.approximate ? "map.contour_approximate" : "map.contour", { height: f.properties.height_m }))),
  }).addTo(map);
  if (contours.features.length) reliefLegend(contours.features[0].properties).addTo(map);
  layers.patrols = L.geoJSON(by("patrol"), {
    style: { color: "#5c6bc0", weight: 1.5, opacity: 0.7, fillOpacity: 0.05 },
    pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 4, color: "#5c6bc0" }),
    onEachFeature: (f, l) => l.bindTooltip(esc(t("map.patrol", { name: f.properties.name }))),
  }).addTo(map);
  layers.zones = L.geoJSON(by("zone"), {
    style: (f) => ZONE_STYLE[f.properties.kind] || ZONE_STYLE.approval_required,
    onEachFeature: (f, l) => l.bindTooltip(esc(t(f.properties.temporary ? "map.zone_temporary" : "map.zone", { name: f.properties.name, kind: tv("zone", f.properties.kind) }))),
  }).addTo(map);
  layers.airports = L.layerGroup().addTo(map);
  for (const f of by("airport").features) {
    const [lon, lat] = f.geometry.coordinates;
    const m = L.circleMarker([lat, lon], { radius: 8, color: "#14202c", weight: 2, fillColor: "#fff", fillOpacity: 1, className: "airport-marker" });
    m.bindTooltip(esc(f.properties.id), { permanent: true, direction: "right", className: "airport-label", offset: [8, 0] });
    m.on("click", () => selectAirport(f.properties.id));
    m.addTo(layers.airports);
    markers.airports[f.properties.id] = m;
  }
  layers.tracks = L.layerGroup().addTo(map);
  layers.incidents = L.layerGroup().addTo(map);
  layers.alerts = L.layerGroup().addTo(map);
  layers.drones = L.layerGroup().addTo(map);
  map.fitBounds(layers.district.getBounds(), { padding: [10, 10] });
  L.control.scale({ imperial: false }).addTo(map);
  const overlays = { relief: layers.relief, zones: layers.zones, patrols: layers.patrols, tracks: layers.tracks, incidents: layers.incidents, alerts: layers.alerts };
  L.control.layers(null, Object.fromEntries(Object.entries(overlays).map(([k, v]) => [esc(t(`map.layer_${k}`)), v])), { collapsed: true }).addTo(map);
  map.on("click", (e) => dispatchPopup(e.latlng));
}

// The relief's legend, built from text nodes: its source is data, never HTML.
function reliefLegend(props) {
  const legend = L.control({ position: "bottomleft" });
  legend.onAdd = () => {
    const box = L.DomUtil.create("div", "relief-legend");
    const title = document.createElement("b");
    title.textContent = t("map.relief_title");
    box.appendChild(title);
    const source = document.createElement("div");
    source.className = "muted";
    source.textContent = props.approximate ? t("map.relief_approximate", { source: props.source }) : props.source;
    box.appendChild(source);
    return box;
  };
  return legend;
}

function dispatchPopup(latlng) {
  if (!may("send_alerts")) return;
  const box = document.createElement("div");
  box.className = "dispatch-popup";
  box.innerHTML = `<div><b>${esc(t("dispatch.title"))}</b></div>
    <div class="muted">${latlng.lat.toFixed(5)}, ${latlng.lng.toFixed(5)}</div>
    <select class="dispatch-kind">${KINDS.map((k) => `<option value="${k}">${esc(tv("kind", k))}</option>`).join("")}</select>
    <button class="dispatch-send" type="button">${esc(t("dispatch.send"))}</button>`;
  const popup = L.popup().setLatLng(latlng).setContent(box).openOn(map);
  box.querySelector(".dispatch-send").addEventListener("click", async () => {
    const kind = box.querySelector(".dispatch-kind").value;
    const reply = await command(t("dispatch.send"), "/alerts", { kind, lat: latlng.lat, lon: latlng.lng, priority: 1, note: t("dispatch.note", { name: state.me.name }) });
    map.closePopup(popup);
    if (reply) {
      toast(t("dispatch.result", { id: reply.id, state: tv("alert_state", reply.state), decision: reply.decision }), 10000);
      refreshAlerts();
    }
  });
}

function droneMarker(d) {
  if (d.lat == null || d.lon == null) return;
  const ll = [d.lat, d.lon];
  const flying = ["launching", "airborne", "returning", "landing"].includes(d.phase);
  let m = markers.drones[d.id];
  if (!m) {
    m = L.circleMarker(ll, { radius: 6, weight: 2, color: "#0d47a1", fillColor: "#42a5f5", fillOpacity: 1, className: "drone-marker" });
    m.on("click", () => openVideo(d.id));
    m.addTo(layers.drones);
    markers.drones[d.id] = m;
  }
  m.setLatLng(ll);
  m.setStyle({ fillColor: flying ? "#42a5f5" : "#cfd8dc", radius: flying ? 7 : 5 });
  const parts = [t("drone.tooltip", { drone: d.id, phase: tv("phase", d.phase) })];
  if (d.battery_pct != null) parts.push(t("drone.battery", { pct: Math.round(d.battery_pct) }));
  if (d.alt_m > 1) parts.push(t("drone.height", { alt: Math.round(d.alt_m) }));
  m.bindTooltip(esc(parts.join(", ")));
  const track = (state.tracks[d.id] = state.tracks[d.id] || []);
  if (flying) {
    const last = track[track.length - 1];
    if (!last || last[0] !== ll[0] || last[1] !== ll[1]) track.push(ll);
    if (track.length > 600) track.shift();
  } else if (track.length) {
    track.length = 0;
  }
  let line = markers.tracks[d.id];
  if (!line) {
    line = markers.tracks[d.id] = L.polyline([], { color: "#1565c0", weight: 2, opacity: 0.6 }).addTo(layers.tracks);
  }
  line.setLatLngs(track);
}

// ---- data --------------------------------------------------------------------------------
async function refreshDrones() {
  const drones = await api("/drones");
  for (const d of drones) {
    state.drones[d.id] = d;
    droneMarker(d);
  }
  renderAirports();
}
async function refreshAirports() {
  state.airports = await api("/airports");
  renderAirports();
}
async function refreshSchedule() {
  const [sorties, patrols] = await Promise.all([api("/sorties?limit=1000"), api("/patrols")]);
  state.sorties = sorties;
  state.patrols = patrols;
  renderSchedule();
}
async function refreshIncidents() {
  state.incidents = await api("/incidents?limit=200");
  renderIncidents();
  if (state.selectedIncident) showIncident(state.selectedIncident, false);
}
async function refreshAlerts() {
  state.alerts = await api("/alerts?limit=200");
  renderAlerts();
}
async function refreshClock() {
  const h = await fetch(API + "/health").then((r) => r.json());
  document.getElementById("clock").textContent = h.time.slice(0, 19).replace("T", " ");
  state.tz = h.time.slice(-6);
  state.now = h.time;
}

// ---- airports -----------------------------------------------------------------------------
function selectAirport(id) {
  switchTab("airports");
  const card = document.querySelector(`.airport-card[data-id="${id}"]`);
  if (card) card.scrollIntoView({ block: "nearest" });
}
function renderAirports() {
  const box = document.getElementById("tab-airports");
  const flying = Object.values(state.drones).filter((d) => ["launching", "airborne", "returning", "landing"].includes(d.phase)).length;
  document.getElementById("summary").textContent = t("header.summary", { airports: state.airports.length, flying });
  box.innerHTML = state.airports
    .map((a) => {
      const d = state.drones[a.drone || a.id] || {};
      const w = a.dock.weather || {};
      const actions = [];
      if (may("command") && ["airborne", "returning", "launching"].includes(d.phase)) {
        actions.push(`<button class="cmd cmd-return-home" data-drone="${esc(d.id)}" type="button">${esc(t("airport.return_home"))}</button>`);
      }
      if (may("command") && a.out_of_service) {
        actions.push(`<button class="cmd cmd-clear-fault" data-airport="${esc(a.id)}" type="button">${esc(t("airport.clear_fault"))}</button>`);
      }
      if (d.id) actions.push(`<button class="video-open" data-drone="${esc(d.id)}" type="button">${esc(t("airport.video"))}</button>`);
      return `<div class="airport-card" data-id="${esc(a.id)}">
        <h4><span>${esc(a.name)}</span><span class="phase ${esc(d.phase || "")}">${esc(d.phase ? tv("phase", d.phase) : t("airport.no_drone"))}</span></h4>
        <div class="row"><span>${esc(t("airport.lid", { lid: a.dock.lid ?? "?" }))}</span><span>${esc(t(a.dock.charging ? "airport.charging" : "airport.not_charging"))}</span>
          <span>${esc(t("airport.battery", { value: d.battery_pct != null ? Math.round(d.battery_pct) + " %" : "?" }))}</span>
          <span>${esc(t("airport.wind", { value: w.wind_ms != null ? w.wind_ms.toFixed(1) : "?" }))}</span><span>${esc(t("airport.rain", { value: w.rain_mm_h != null ? w.rain_mm_h.toFixed(1) : "?" }))}</span>
          ${a.dock.faults && a.dock.faults.length ? `<span class="error">${esc(t("airport.fault", { faults: a.dock.faults.join(", ") }))}</span>` : ""}
          ${a.out_of_service ? `<span class="error">${esc(t("airport.out_of_service", { why: a.out_of_service }))}</span>` : ""}</div>
        <div class="row">${esc(d.reason || "")}${d.sortie ? esc(t("airport.sortie", { sortie: d.sortie })) : ""}</div>
        <div class="actions">${actions.join("")}</div></div>`;
    })
    .join("");
  box.querySelectorAll(".cmd-return-home").forEach((b) => b.addEventListener("click", () => command(t("airport.return_home"), `/drones/${b.dataset.drone}/return-home`)));
  box.querySelectorAll(".cmd-clear-fault").forEach((b) => b.addEventListener("click", () => command(t("airport.clear_fault"), `/airports/${b.dataset.airport}/clear-fault`)));
  box.querySelectorAll(".video-open").forEach((b) => b.addEventListener("click", () => openVideo(b.dataset.drone)));
}

// ---- schedule -----------------------------------------------------------------------------
function minutes(iso) {
  return iso ? Number(iso.slice(11, 13)) * 60 + Number(iso.slice(14, 16)) : null;
}
function renderSchedule() {
  const box = document.getElementById("timeline");
  const times = state.sorties.flatMap((s) => [minutes(s.planned_launch), minutes(s.planned_land)]).filter((m) => m != null);
  const lo = Math.max(0, Math.floor((Math.min(...times, 6 * 60) - 30) / 60) * 60);
  const hi = Math.min(24 * 60, Math.ceil((Math.max(...times, 20 * 60) + 30) / 60) * 60);
  const pct = (m) => ((m - lo) / (hi - lo)) * 100;
  const axis = [];
  for (let h = lo; h <= hi; h += 120) axis.push(`<span style="left:${pct(h)}%">${String(h / 60).padStart(2, "0")}:00</span>`);
  const now = minutes(state.now);
  const rows = state.airports.map((a) => {
    const bars = state.sorties
      .filter((s) => s.airport === a.id && s.planned_launch)
      .map((s) => {
        const start = minutes(s.started_at) ?? minutes(s.planned_launch);
        const end = Math.max(minutes(s.ended_at) ?? minutes(s.planned_land) ?? start + 10, start + 2);
        const title = `${s.id}: ${tv("sortie_state", s.state)} — ${s.reason}`;
        return `<div class="bar ${esc(s.state)}${s.alert_id ? " alert" : ""}" data-id="${esc(s.id)}" data-state="${esc(s.state)}" title="${esc(title)}" style="left:${pct(start)}%;width:${pct(end) - pct(start)}%"></div>`;
      })
      .join("");
    const line = now != null && now >= lo && now <= hi ? `<div class="now-line" style="left:${pct(now)}%"></div>` : "";
    return `<div class="timeline-row" data-airport="${esc(a.id)}"><span class="name">${esc(a.id)}</span><div class="track">${bars}${line}</div></div>`;
  });
  box.innerHTML = `<div class="timeline-axis">${axis.join("")}</div>${rows.join("")}`;
  box.querySelectorAll(".bar").forEach((b) => b.addEventListener("click", () => showSortie(b.dataset.id)));
  const held = state.sorties.filter((s) => s.state === "held");
  const patrols = document.getElementById("patrols");
  patrols.innerHTML =
    state.patrols
      .map(
        (p) => `<div class="patrol-row" data-id="${esc(p.id)}"><span>${esc(p.name)} <span class="muted">(${esc(t("schedule.priority", { priority: p.priority }) + (p.paused ? t("schedule.paused_suffix") : ""))})</span></span>
        ${may("command") ? `<button class="cmd cmd-pause" data-id="${esc(p.id)}" data-paused="${p.paused}" type="button">${esc(t(p.paused ? "schedule.resume" : "schedule.pause"))}</button>` : ""}</div>`,
      )
      .join("") + (held.length ? `<h3>${esc(t("schedule.holds"))}</h3>${held.map((s) => `<div class="muted">${esc(s.id)}: ${esc(s.reason)}</div>`).join("")}` : "");
  patrols.querySelectorAll(".cmd-pause").forEach((b) =>
    b.addEventListener("click", async () => {
      const paused = b.dataset.paused !== "true";
      try {
        await api(`/patrols/${b.dataset.id}`, { method: "PATCH", body: { paused } });
        toast(t(paused ? "schedule.paused_toast" : "schedule.resumed_toast", { patrol: b.dataset.id }));
      } catch (err) {
        toast(t("command.refused_plain", { error: err.message }));
      }
      refreshSchedule();
    }),
  );
  if (state.selectedSortie) showSortie(state.selectedSortie);
}
function showSortie(id) {
  state.selectedSortie = id;
  const s = state.sorties.find((x) => x.id === id);
  const box = document.getElementById("sortie-detail");
  if (!s) {
    box.hidden = true;
    return;
  }
  const actions = [];
  if (may("command") && ["planned", "held"].includes(s.state)) actions.push(`<button class="cmd cmd-start" type="button">${esc(t("sortie.launch_now"))}</button>`);
  if (may("command") && ["preflight", "airborne", "returning"].includes(s.state)) actions.push(`<button class="cmd cmd-abort danger" type="button">${esc(t("sortie.abort_button"))}</button>`);
  box.hidden = false;
  const when = t("sortie.planned", { from: hhmm(s.planned_launch), to: hhmm(s.planned_land) }) + (s.started_at ? t("sortie.started", { at: hhmm(s.started_at) }) : "") + (s.ended_at ? t("sortie.ended", { at: hhmm(s.ended_at) }) : "");
  box.innerHTML = `<h4>${esc(s.id)}</h4><div>${esc(s.airport + (s.patrol ? t("sortie.patrol", { patrol: s.patrol }) : "") + (s.alert_id ? t("sortie.alert", { alert: s.alert_id }) : ""))}</div>
    <div>${esc(tv("sortie_state", s.state))}: ${esc(s.reason)}</div><div class="muted">${esc(when)}</div>
    <div class="actions">${actions.join("")}</div>`;
  box.querySelector(".cmd-start")?.addEventListener("click", async () => {
    await command(t("sortie.launch"), `/sorties/${encodeURIComponent(s.id)}/start`);
    refreshSchedule();
  });
  box.querySelector(".cmd-abort")?.addEventListener("click", async () => {
    await command(t("sortie.abort"), `/sorties/${encodeURIComponent(s.id)}/abort`);
    refreshSchedule();
  });
}

// ---- incidents and alerts ---------------------------------------------------------------------
function renderIncidents() {
  const open = state.incidents.filter((i) => ["new", "acknowledged", "dispatched"].includes(i.state));
  document.getElementById("incident-count").textContent = open.length ? `(${open.length})` : "";
  document.getElementById("incidents").innerHTML =
    state.incidents
      .map(
        (i) => `<div class="incident-row" data-id="${esc(i.id)}" data-state="${esc(i.state)}"><span class="state">${esc(tv("incident_state", i.state))}</span>
        <b>${esc(tv("kind", i.kind))}</b> ${esc(t("incident.row", { time: hhmm(i.first_seen), sightings: i.sightings, confidence: i.confidence.toFixed(2) }))}</div>`,
      )
      .join("") || `<p class="muted">${esc(t("incident.none"))}</p>`;
  document.querySelectorAll(".incident-row").forEach((r) => r.addEventListener("click", () => showIncident(r.dataset.id, true)));
  layers.incidents.clearLayers();
  markers.incidents = {};
  for (const i of open) {
    const colour = i.kind === "illegal_parking" ? "#ef6c00" : "#c62828";
    const m = L.circle([i.lat, i.lon], { radius: Math.max(30, i.radius_m), color: colour, weight: 2, fillOpacity: 0.25, className: "incident-marker" });
    m.bindTooltip(esc(`${tv("kind", i.kind)} (${tv("incident_state", i.state)})`));
    m.on("click", () => showIncident(i.id, true));
    m.addTo(layers.incidents);
    markers.incidents[i.id] = m;
  }
}
async function showIncident(id, focus) {
  state.selectedIncident = id;
  if (focus) switchTab("incidents");
  let i;
  try {
    i = await api(`/incidents/${encodeURIComponent(id)}`);
  } catch (err) {
    return;
  }
  const box = document.getElementById("incident-detail");
  const open = ["new", "acknowledged", "dispatched"].includes(i.state);
  const steps = may("step_incidents") && open ? STEPS.filter((s) => s !== i.state && !(i.state === "dispatched" && s === "acknowledged")) : [];
  box.hidden = false;
  const seen = t("incident.seen", { first: hhmm(i.first_seen), last: hhmm(i.last_seen), sightings: i.sightings }) + (i.alert_id ? t("incident.answers", { alert: i.alert_id }) : "") + (i.cap_identifier ? t("incident.cap", { id: i.cap_identifier }) : "");
  box.innerHTML = `<h4>${esc(tv("kind", i.kind))} — ${esc(tv("incident_state", i.state))}</h4>
    ${i.evidence ? `<img class="evidence" alt="${esc(t("incident.evidence"))}" src="${esc(i.evidence)}?access_token=${encodeURIComponent(state.token)}">` : ""}
    <div>${esc(t("incident.where", { lat: i.lat.toFixed(5), lon: i.lon.toFixed(5), radius: Math.round(i.radius_m), confidence: i.confidence.toFixed(2), raw: i.raw_confidence.toFixed(2) }))}</div>
    <div class="muted">${esc(seen)}</div>
    ${i.note ? `<div class="muted">${esc(i.note)}</div>` : ""}
    <ul class="events">${i.events.map((e) => `<li>${esc(t("incident.event", { at: hhmm(e.at), state: tv("incident_state", e.state), actor: e.actor, note: e.note }))}</li>`).join("")}</ul>
    <div class="actions">${steps.map((s) => `<button class="cmd step${s === "false_alarm" ? " danger" : ""}" data-state="${s}" type="button">${esc(t(`step.${s}`))}</button>`).join("")}</div>`;
  box.querySelectorAll("button.step").forEach((b) =>
    b.addEventListener("click", async () => {
      await command(b.textContent, `/incidents/${encodeURIComponent(id)}/state`, { state: b.dataset.state, note: t("incident.step_note", { name: state.me.name }) });
      refreshIncidents();
    }),
  );
  if (focus && markers.incidents[id]) map.panTo(markers.incidents[id].getLatLng());
}
// An alert no drone could answer, or one waiting for approval, must not be missed: a banner
// over the map holds it until an operator acknowledges it (on the server, so every
// dashboard drops it), the tab's title counts them, and an optional beep sounds for new ones.
let beeped = new Set();
function renderBanner() {
  const pending = state.alerts.filter((a) => a.needs_attention);
  const banner = document.getElementById("alert-banner");
  banner.hidden = pending.length === 0;
  document.title = pending.length ? t("page.title_pending", { n: pending.length }) : t("page.title");
  document.getElementById("alert-banner-text").textContent = pending.length === 1 ? t("banner.one") : t("banner.many", { n: pending.length });
  const items = document.getElementById("alert-banner-items");
  items.replaceChildren(
    ...pending.map((a) => {
      const row = document.createElement("div");
      row.className = "banner-item";
      row.dataset.id = a.id;
      const what = document.createElement("span");
      what.textContent = t("banner.item", {
        what: t(a.state === "unserved" ? "banner.unserved" : "banner.proposed"),
        kind: tv("kind", a.kind),
        lat: a.lat.toFixed(4),
        lon: a.lon.toFixed(4),
        time: hhmm(a.received_at),
        why: a.outcome || a.decision,
      });
      row.append(what);
      if (may("command")) {
        const ack = document.createElement("button");
        ack.type = "button";
        ack.className = "cmd cmd-alert-ack";
        ack.textContent = t("banner.acknowledge");
        ack.addEventListener("click", async () => {
          await command(t("banner.acknowledge"), `/alerts/${encodeURIComponent(a.id)}/acknowledge`);
          refreshAlerts();
        });
        row.append(ack);
      }
      return row;
    }),
  );
  const fresh = pending.filter((a) => !beeped.has(a.id));
  if (fresh.length && document.getElementById("alert-sound").checked) beep();
  beeped = new Set(pending.map((a) => a.id));
}
function beep() {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    osc.frequency.value = 880;
    osc.connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.4);
  } catch (e) {
    /* no audio device: the banner stays all the same */
  }
}

// Each alert of the last hours where it was reported, coloured by what became of it, with
// the decision in its tooltip; one that needs an operator pulses.
const ALERT_COLOUR = { unserved: "#c62828", proposed: "#ef6c00", rejected: "#9e9e9e", merged: "#8e24aa", dispatched: "#1565c0", on_scene: "#1565c0", seen: "#2e7d32", nothing_seen: "#607d8b" };
function drawAlerts() {
  if (!layers.alerts) return;
  layers.alerts.clearLayers();
  for (const a of state.alerts) {
    if (a.state === "rejected" || a.lat == null) continue;
    const m = L.circleMarker([a.lat, a.lon], {
      radius: a.needs_attention ? 9 : 6, weight: 2, color: ALERT_COLOUR[a.state] || "#455a64", fillOpacity: 0.35,
      className: `alert-marker alert-${a.state}${a.needs_attention ? " attention" : ""}`,
    });
    m.bindTooltip(esc(t("alert.tooltip", { kind: tv("kind", a.kind), time: hhmm(a.received_at), state: tv("alert_state", a.state), why: a.outcome || a.decision })));
    m.addTo(layers.alerts);
  }
}

function renderAlerts() {
  renderBanner();
  drawAlerts();
  const actions = (a) => (may("command") && ["proposed", "unserved"].includes(a.state) ? `<button class="cmd cmd-alert-dispatch" data-id="${esc(a.id)}" type="button">${esc(t("alert.send"))}</button>` : "");
  document.getElementById("alerts").innerHTML =
    state.alerts
      .map(
        (a) => `<div class="alert-row" data-id="${esc(a.id)}" data-state="${esc(a.state)}"><span class="state">${esc(tv("alert_state", a.state))}</span>
        <b>${esc(tv("kind", a.kind))}</b> ${hhmm(a.received_at)} ${esc(a.external_id || a.id)}
        <div class="muted">${esc(a.outcome || a.decision)}</div>
        ${a.seconds.on_scene != null ? `<div class="muted">${esc(t("alert.on_scene_after", { s: Math.round(a.seconds.on_scene) }))}</div>` : ""}${actions(a)}</div>`,
      )
      .join("") || `<p class="muted">${esc(t("alert.none"))}</p>`;
  document.querySelectorAll(".cmd-alert-dispatch").forEach((b) =>
    b.addEventListener("click", async () => {
      await command(t("alert.send"), `/alerts/${b.dataset.id}/dispatch`);
      refreshAlerts();
    }),
  );
}

// ---- video ----------------------------------------------------------------------------------
function openVideo(drone) {
  const box = document.getElementById("video");
  box.hidden = false;
  document.getElementById("video-drone").textContent = drone;
  document.getElementById("video-img").src = `${API}/drones/${encodeURIComponent(drone)}/video?access_token=${encodeURIComponent(state.token)}&t=${Date.now()}`;
}
function closeVideo() {
  document.getElementById("video").hidden = true;
  document.getElementById("video-img").removeAttribute("src");
}

// ---- tabs, live updates, start ---------------------------------------------------------------
function switchTab(name) {
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.dataset.tab === name));
  document.querySelectorAll(".tab-body").forEach((b) => (b.hidden = b.id !== `tab-${name}`));
}
function debounce(fn, ms) {
  let t = null;
  return () => {
    clearTimeout(t);
    t = setTimeout(() => fn().catch(() => {}), ms);
  };
}
function listen() {
  if (events) events.close();
  events = new EventSource(`${API}/events?access_token=${encodeURIComponent(state.token)}`);
  const schedule = debounce(refreshSchedule, 400);
  const incidents = debounce(refreshIncidents, 200);
  const alerts = debounce(refreshAlerts, 200);
  events.addEventListener("sortie", schedule);
  events.addEventListener("incident", incidents);
  events.addEventListener("finding", incidents);
  events.addEventListener("alert", alerts);
  events.addEventListener("drone", () => refreshDrones().catch(() => {}));
}
async function start() {
  await buildMap();
  await refreshClock();
  await Promise.all([refreshAirports(), refreshSchedule(), refreshIncidents(), refreshAlerts()]);
  await refreshDrones();
  listen();
  const every = (fn, ms) => timers.push(setInterval(() => fn().catch(() => {}), ms));
  every(refreshDrones, 1000);
  every(refreshClock, 2000);
  every(refreshAirports, 3000);
  every(refreshSchedule, 15000);
  every(refreshIncidents, 10000);
  document.body.dataset.ready = "true";
}

document.getElementById("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  signIn(document.getElementById("token").value.trim());
});
document.getElementById("logout").addEventListener("click", () => signOut(""));
const soundBox = document.getElementById("alert-sound");
soundBox.checked = localStorage.getItem("dronepatrol.sound") === "on";
soundBox.addEventListener("change", () => localStorage.setItem("dronepatrol.sound", soundBox.checked ? "on" : "off"));
document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => switchTab(t.dataset.tab)));
document.getElementById("video-close").addEventListener("click", closeVideo);
loadLanguage().then(() => {
  if (state.token) signIn(state.token);
});
