// The line's page: renders each `floor` event of /events (server-sent events) in place; the page
// never reloads. Every value from the records or a device is set as text (textContent), never
// as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function time(ms) {
  return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : "";
}

function renderStations(floor) {
  const body = $("stations").tBodies[0];
  const rows = floor.stations.map((s) => {
    const tr = document.createElement("tr");
    tr.dataset.station = s.station_id;
    cell(tr, s.station_id + (s.station_id === floor.live_station ? " (this station)" : ""));
    cell(tr, s.hostname);
    const run = s.run || {};
    cell(tr, run.recipe_name);
    cell(tr, run.devices);
    cell(tr, time(run.started_ms));
    cell(tr, run.run_id ? (run.finished_ms ? run.outcome || "finished" : "running") : "");
    return tr;
  });
  body.replaceChildren(...rows);
  const error = $("records-error");
  error.hidden = !floor.records_error;
  error.textContent = floor.records_error ? "records: " + floor.records_error : "";
}

function stepText(d) {
  if (d.state === "done") return d.steps != null ? `all ${d.steps} done` : "done";
  if (d.step == null) return "";
  const of = d.steps != null ? ` of ${d.steps}` : "";
  return `${d.step}${of}: ${d.kind || ""}`;
}

function renderDevices(floor) {
  const body = $("devices").tBodies[0];
  const counts = { done: 0, failed: 0, active: 0 };
  const rows = floor.devices.map((d) => {
    const tr = document.createElement("tr");
    tr.dataset.state = d.state;
    tr.dataset.port = d.port;
    if (d.device_id) tr.dataset.device = d.device_id;
    if (d.step != null) tr.dataset.step = d.step;
    if (d.kind) tr.dataset.kind = d.kind;
    cell(tr, d.station_id);
    cell(tr, d.port, "mono");
    cell(tr, d.device_id || "-", "mono");
    cell(tr, d.state, "state");
    cell(tr, stepText(d), "step");
    const progressCell = cell(tr, "", "progress");
    if (d.steps) {
      const bar = document.createElement("progress");
      bar.max = d.steps;
      bar.value = Math.min(d.steps, d.steps_done + (d.percent || 0) / 100);
      progressCell.appendChild(bar);
    }
    const label = document.createElement("span");
    label.textContent = d.percent != null ? ` ${d.percent}%` : "";
    progressCell.appendChild(label);
    cell(tr, d.error || "", "failure");
    if (d.state === "done") counts.done++;
    else if (d.state === "failed") counts.failed++;
    else counts.active++;
    return tr;
  });
  body.replaceChildren(...rows);
  $("no-devices").hidden = rows.length > 0;
  $("device-counts").textContent = rows.length
    ? `${counts.active} working, ${counts.done} done, ${counts.failed} failed`
    : "";
}

function renderHours(floor) {
  const body = $("hours").tBodies[0];
  const most = Math.max(1, ...floor.hours.map((h) => h.done + h.failed));
  const rows = floor.hours
    .filter((h, i) => h.done + h.failed > 0 || i === floor.hours.length - 1)
    .reverse()
    .map((h) => {
      const tr = document.createElement("tr");
      cell(tr, time(h.hour_ms).slice(0, 16));
      cell(tr, h.done);
      cell(tr, h.failed);
      const bars = cell(tr, "");
      for (const [n, cls] of [[h.done, "bar"], [h.failed, "bar failed"]]) {
        const span = document.createElement("span");
        span.className = cls;
        span.style.width = `${(n / most) * 20}em`;
        bars.appendChild(span);
      }
      return tr;
    });
  body.replaceChildren(...rows);
}

let updates = 0;

function render(floor) {
  renderStations(floor);
  renderDevices(floor);
  renderHours(floor);
  updates++;
  document.body.dataset.updates = String(updates);
  const state = floor.finished ? "finished" : "live";
  $("connection").dataset.state = state;
  $("connection").textContent = floor.finished
    ? "the station's run has finished: this is its last state"
    : `live (${floor.mode === "live" ? "this station" : "from the records"}), updated ${time(floor.now_ms)} UTC`;
}

function connect() {
  const events = new EventSource("/events");
  events.addEventListener("floor", (message) => render(JSON.parse(message.data)));
  events.onerror = () => {
    if ($("connection").dataset.state === "finished") return;
    $("connection").dataset.state = "lost";
    $("connection").textContent = "connection lost: retrying (the last state stays shown)";
  };
}

async function search(event) {
  event.preventDefault();
  const text = $("search-text").value;
  $("search-status").textContent = "searching…";
  const response = await fetch("/api/devices?q=" + encodeURIComponent(text));
  if (!response.ok) {
    $("search-status").textContent = await response.text();
    return;
  }
  const devices = await response.json();
  const rows = devices.map((d) => {
    const tr = document.createElement("tr");
    cell(tr, d.device_id, "mono");
    cell(tr, d.chip);
    cell(tr, d.firmware_version);
    cell(tr, d.station_id || "-");
    cell(tr, d.steps_done);
    cell(tr, d.steps_failed);
    cell(tr, d.keys.length);
    cell(tr, time(d.last_seen_ms));
    tr.addEventListener("click", () => history(d.device_id));
    return tr;
  });
  $("search-results").tBodies[0].replaceChildren(...rows);
  $("search-results").hidden = rows.length === 0;
  $("search-status").textContent = `${rows.length} device${rows.length === 1 ? "" : "s"}` +
    (rows.length ? " (select one for its history)" : "");
}

async function history(deviceId) {
  const response = await fetch("/api/devices/" + encodeURIComponent(deviceId));
  const pre = $("history");
  pre.hidden = false;
  pre.textContent = response.ok ? JSON.stringify(await response.json(), null, 2) : await response.text();
}

$("search-form").addEventListener("submit", search);
connect();
