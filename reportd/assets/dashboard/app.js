// recce7 dashboard: plain JavaScript, no libraries, no network beyond this service.
"use strict";

const $ = (id) => document.getElementById(id);
let token = localStorage.getItem("recce7-token") || "";
let stream = null;
let aggregatesTimer = null;
// The session shown in the detail panel and where its next page of rows starts.
let detailId = null;
let detailCursor = null;
let detailAddress = null;
// Live events refresh the counters and top lists at most this often (never the session list:
// each event brings its own row).
const AGGREGATES_DEBOUNCE_MS = 10000;
// `?live=0` leaves the live stream off (headless browsers that wait for the network to go
// quiet, like Chromium's --virtual-time-budget, would otherwise wait forever).
const live = new URLSearchParams(location.search).get("live") !== "0";

function windowParam() { return $("window").value; }
function sensorParam() { return $("sensor").value; }

function query(extra) {
  const q = new URLSearchParams(windowParam());
  if (sensorParam()) q.set("sensor", sensorParam());
  for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
  return q;
}

function withToken(url) {
  if (!token) return url;
  return url + (url.includes("?") ? "&" : "?") + "access_token=" + encodeURIComponent(token);
}

async function api(path) {
  const headers = token ? { Authorization: "Bearer " + token } : {};
  const r = await fetch(path, { headers });
  if (r.status === 401) { askToken(); throw new Error("token needed"); }
  if (!r.ok) throw new Error(path + ": " + r.status);
  return r.json();
}

function askToken() { $("login").hidden = false; }

function text(v) { return v === null || v === undefined ? "–" : String(v); }

function cell(row, value, cls) {
  const td = document.createElement("td");
  td.textContent = text(value);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

// A bar per item; `onClick(item)`, when given, makes each row open something.
function bars(table, items, label, onClick) {
  table.replaceChildren();
  const max = Math.max(1, ...items.map((i) => i.count));
  for (const item of items) {
    const tr = document.createElement("tr");
    if (onClick) { tr.className = "link"; tr.addEventListener("click", () => onClick(item)); }
    const name = cell(tr, label(item), "label");
    name.title = text(label(item));
    cell(tr, item.count, "n");
    const bar = cell(tr, "", "bar");
    const span = document.createElement("span");
    span.style.width = Math.round((item.count / max) * 120) + "px";
    bar.appendChild(span);
    table.appendChild(tr);
  }
  if (!items.length) { const tr = document.createElement("tr"); cell(tr, "nothing in this window"); table.appendChild(tr); }
}

function shortTime(t) { return t ? t.replace("T", " ").replace(/\.\d+Z$/, "Z") : "–"; }

function sessionRow(s, isNew) {
  const tr = document.createElement("tr");
  tr.dataset.session = s.session;
  if (isNew) tr.className = "new";
  cell(tr, shortTime(s.begin_time));
  cell(tr, s.peer_address);
  cell(tr, s.local_port, "n");
  cell(tr, s.protocol);
  cell(tr, s.sensor);
  const end = cell(tr, s.end_time ? shortTime(s.end_time) : "open", "end");
  end.title = s.end_time ? text(s.close_reason || "ended") : "still open";
  const id = cell(tr, "");
  const code = document.createElement("code");
  code.textContent = s.session;
  id.appendChild(code);
  tr.addEventListener("click", () => showSession(s.session));
  return tr;
}

// What packet capture saw of a session: the OS of its SYN and its TLS/HTTP fingerprints.
function captureLines(s) {
  const lines = [];
  for (const p of s.p0f || []) {
    lines.push(`OS (p0f): ${p.os === null ? "no signature matched" : p.os} · ${text(p.quality)} · ${text(p.distance)} hops · ${text(p.rawSignature)}`);
  }
  for (const f of s.fingerprints || []) {
    let line = `${f.kind === "tls" ? "TLS (JA4)" : "HTTP (p0f)"}: ${f.fingerprint}`;
    if (f.detail) line += ` · ${f.detail}`;
    if (f.sni) line += ` · SNI ${f.sni}`;
    if (f.contradiction) line += ` · the User-Agent claims ${text(f.claimedOs)}, the TCP stack is ${text(f.tcpOs)}`;
    lines.push(line);
  }
  for (const f of s.files || []) {
    lines.push(`file written: ${f.path} · ${f.size} B · SHA-256 ${f.sha256} · ${text(f.via)}${f.truncated ? " · kept in part" : ""}`);
  }
  for (const d of s.downloads || []) {
    lines.push(`download URL (${text(d.command)}): ${d.url}`);
  }
  return lines;
}

// A link to a file's kept bytes (an attachment the service serves as octet-stream, never a
// page); a dash when none were kept. The hash goes into the path encoded, whatever it holds.
function bytesCell(row, f) {
  const td = cell(row, f.storedBytes > 0 ? "" : null, "n");
  if (f.storedBytes > 0) {
    const a = document.createElement("a");
    a.href = withToken("/v1/files/" + encodeURIComponent(f.sha256));
    a.setAttribute("download", "");
    a.rel = "noreferrer";
    a.textContent = f.storedBytes + " B";
    td.appendChild(a);
  }
  return td;
}

function fileRow(f) {
  const tr = document.createElement("tr");
  cell(tr, shortTime(f.time));
  cell(tr, f.peerAddress, "label").title = f.peerAddress;
  cell(tr, f.path, "label").title = f.path;
  cell(tr, f.size, "n");
  cell(tr, f.sha256.slice(0, 12) + "…", "label").title = f.sha256;
  cell(tr, f.via);
  bytesCell(tr, f);
  tr.addEventListener("click", (e) => { if (e.target.tagName !== "A") showSession(f.session); });
  return tr;
}

function downloadRow(d) {
  const tr = document.createElement("tr");
  cell(tr, shortTime(d.time));
  cell(tr, d.peerAddress, "label").title = d.peerAddress;
  cell(tr, d.command);
  cell(tr, d.url, "label").title = d.url;
  tr.addEventListener("click", () => showSession(d.session));
  return tr;
}

// Rows of plain cells (every value as text, never as HTML) under a header.
function fillTable(table, headers, rows) {
  table.replaceChildren();
  const head = document.createElement("tr");
  for (const h of headers) { const th = document.createElement("th"); th.textContent = h; head.appendChild(th); }
  table.appendChild(head);
  for (const r of rows) {
    const tr = document.createElement("tr");
    for (const v of r.cells) cell(tr, v);
    if (r.title) tr.title = r.title;
    if (r.warn) tr.lastChild.className = "warn";
    table.appendChild(tr);
  }
  if (!rows.length) { const tr = document.createElement("tr"); cell(tr, "nothing in this window"); table.appendChild(tr); }
}

function firstPorts(ports, count) {
  const shown = ports.slice(0, 8).join(", ");
  return count > 8 ? shown + " …" : shown;
}

// The address view: where it is, its sessions in the window, the OSes of its SYNs, its scans
// and its TLS/HTTP fingerprints.
async function showAddress(ip) {
  const a = await api("/v1/ipaddresses/" + encodeURIComponent(ip) + "?" + query());
  $("address").hidden = false;
  $("address-ip").textContent = a.ipaddress;
  const loc = a.location;
  const place = loc ? [loc.city, loc.country, loc.org].filter(Boolean).join(", ") : "";
  const sessions = a.ports.reduce((n, p) => n + Object.values(p)[0].length, 0);
  $("address-head").textContent = `${place || "no location known"} · ${sessions}${a.truncated ? "+" : ""} sessions in this window`;
  fillTable($("address-os"), ["OS", "class", "match", "hops", "SYNs", "last seen"],
    a.os.map((o) => ({ cells: [o.os === null ? "no signature matched" : o.os, o.osClass, o.quality, o.distance, o.count, shortTime(o.lastSeen)], title: text(o.rawSignature) })));
  fillTable($("address-scans"), ["time", "kind", "ports", "first ports", "packets"],
    a.scans.map((s) => ({ cells: [shortTime(s.time), s.kind, s.portCount, firstPorts(s.ports, s.portCount), s.packets], title: s.ports.join(", ") })));
  fillTable($("address-fingerprints"), ["kind", "fingerprint", "detail", "SNI", "seen", "User-Agent vs TCP"],
    a.fingerprints.map((f) => ({
      cells: [f.kind, f.fingerprint, f.detail, f.sni, f.count,
        f.contradiction ? `contradicts: claims ${text(f.claimedOs)}, TCP ${text(f.tcpOs)}` : (f.claimedOs ? "agrees" : "–")],
      warn: f.contradiction,
    })));
  fillTable($("address-files"), ["time", "path", "size", "SHA-256", "via"],
    (a.files || []).map((f) => ({ cells: [shortTime(f.time), f.path, f.size, f.sha256, f.via] })));
  fillTable($("address-downloads"), ["time", "command", "URL"],
    (a.downloads || []).map((d) => ({ cells: [shortTime(d.time), d.command, d.url] })));
  $("address").scrollIntoView({ behavior: "smooth" });
}

async function showSession(id) {
  const s = await api("/v1/sessions/" + encodeURIComponent(id));
  detailId = s.session;
  detailAddress = s.peer_address;
  $("detail").hidden = false;
  $("detail-id").textContent = s.session;
  $("detail-head").textContent =
    `${s.peer_address}:${s.peer_port} → ${s.local_address}:${s.local_port} ${s.protocol} (${s.plugin}, sensor ${s.sensor})\n` +
    `${shortTime(s.begin_time)} … ${shortTime(s.end_time)}  ${s.duration === null ? "" : s.duration.toFixed(1) + " s"}  ` +
    `in ${text(s.bytes_in)} B, out ${text(s.bytes_out)} B, ${text(s.close_reason)}` +
    captureLines(s).map((l) => "\n" + l).join("");
  $("detail-rows").replaceChildren();
  $("detail-rows").dataset.total = s.item_count;
  showRows(s);
  $("detail").scrollIntoView({ behavior: "smooth" });
}

// Appends a page of a session's rows; the service pages them (limit and its byte budget).
function showRows(page) {
  const table = $("detail-rows");
  const skip = new Set(["ID", "session", "peerAddress", "localAddress", "peerPort", "localPort"]);
  let head = table.rows[0];
  const keys = head ? [...head.cells].map((c) => c.textContent) : [];
  for (const item of page.session_items) for (const k of Object.keys(item)) if (!skip.has(k) && !keys.includes(k)) keys.push(k);
  if (!head) { head = document.createElement("tr"); table.appendChild(head); }
  head.replaceChildren(...keys.map((k) => { const th = document.createElement("th"); th.textContent = k; return th; }));
  for (const item of page.session_items) {
    const tr = document.createElement("tr");
    for (const k of keys) cell(tr, k === "eventDateTime" ? shortTime(item[k]) : item[k]);
    table.appendChild(tr);
  }
  detailCursor = page.next_cursor;
  const shown = Math.max(0, table.rows.length - 1);
  $("detail-shown").textContent = `${shown} of ${table.dataset.total} rows`;
  $("detail-more-line").hidden = !detailCursor;
}

async function moreRows() {
  if (!detailId || !detailCursor) return;
  const page = await api("/v1/sessions/" + encodeURIComponent(detailId) + "?cursor=" + encodeURIComponent(detailCursor));
  showRows(page);
}

// Counters, top lists and the map.
async function refreshAggregates() {
  const q = query();
  try {
    const [sum, sources, creds, cmds] = await Promise.all([
      api("/v1/analytics/summary?" + q),
      api("/v1/analytics/ipaddresses?" + query({ limit: 10 })),
      api("/v1/analytics/credentials?" + query({ limit: 10 })),
      api("/v1/analytics/commands?" + query({ limit: 10 })),
    ]);
    $("sessions").textContent = sum.summary.sessions;
    $("addresses").textContent = sum.summary.unique_addresses;
    bars($("ports"), sum.summary.by_port, (i) => i.key);
    bars($("countries"), sum.summary.by_country, (i) => i.key);
    bars($("sources"), sources.items.map((a) => ({ ip: a.ipaddress, key: a.ipaddress + (a.country_code ? " (" + a.country_code + ")" : ""), count: a.total_attacks })), (i) => i.key, (i) => showAddress(i.ip));
    bars($("credentials"), creds.items.map((c) => ({ key: c.username + " / " + text(c.password), count: c.count })), (i) => i.key);
    bars($("commands"), cmds.items.map((c) => ({ key: c.command, count: c.count })), (i) => i.key);
    bars($("oses"), sum.summary.os || [], (i) => i.key);
    bars($("ssh-logins"), sum.summary.ssh_logins || [], (i) => i.key);
    $("files-count").textContent = text(sum.summary.files);
    $("downloads-count").textContent = text(sum.summary.downloads);
    // Sessions but not one with a place: no GeoIP database fills ipInfo.
    $("map-note").hidden = !(sum.summary.sessions > 0 && sum.summary.located_sessions === 0);
    $("map").src = withToken("/v1/worldmap?" + q + "&_=" + Date.now());
  } catch (e) {
    console.warn(e);
  }
}

// The recent sessions table: summaries only (rows come with a session's detail).
async function refreshSessions() {
  try {
    const recent = await api("/v1/sessions?" + query({ limit: 25 }));
    $("lastattack").textContent = recent.items.length ? shortTime(recent.items[0].begin_time) : "–";
    const body = $("recent").tBodies[0];
    body.replaceChildren(...recent.items.map((s) => sessionRow(s, false)));
  } catch (e) {
    console.warn(e);
  }
}

// The latest scans (packet capture); a row opens its source's address view.
async function refreshScans() {
  try {
    const scans = await api("/v1/scans?" + query({ limit: 15 }));
    const body = $("scans").tBodies[0];
    body.replaceChildren(...scans.items.map((s) => {
      const tr = document.createElement("tr");
      cell(tr, shortTime(s.time));
      cell(tr, s.peerAddress, "label").title = s.peerAddress;
      cell(tr, s.kind);
      cell(tr, s.portCount, "n");
      cell(tr, firstPorts(s.ports, s.portCount), "label").title = s.ports.join(", ");
      tr.addEventListener("click", () => showAddress(s.peerAddress));
      return tr;
    }));
    if (!scans.items.length) { const tr = document.createElement("tr"); cell(tr, "nothing in this window"); body.appendChild(tr); }
  } catch (e) {
    console.warn(e);
  }
}

// The latest files written and URLs named in the shell; a row opens its session.
async function refreshFiles() {
  try {
    const [files, downloads] = await Promise.all([
      api("/v1/files?" + query({ limit: 15 })),
      api("/v1/downloads?" + query({ limit: 15 })),
    ]);
    for (const [id, list, row] of [["files", files, fileRow], ["downloads", downloads, downloadRow]]) {
      const body = $(id).tBodies[0];
      body.replaceChildren(...list.items.map(row));
      if (!list.items.length) { const tr = document.createElement("tr"); cell(tr, "nothing in this window"); body.appendChild(tr); }
    }
  } catch (e) {
    console.warn(e);
  }
}

async function refresh() {
  await Promise.all([refreshAggregates(), refreshSessions(), refreshScans(), refreshFiles()]);
}

function scheduleAggregates() {
  if (aggregatesTimer) return;
  aggregatesTimer = setTimeout(() => { aggregatesTimer = null; refreshAggregates(); }, AGGREGATES_DEBOUNCE_MS);
}

function connectStream() {
  if (stream) stream.close();
  stream = new EventSource(withToken("/v1/stream"));
  stream.onopen = () => { $("live").className = "live on"; $("live").textContent = "live"; };
  stream.onerror = () => { $("live").className = "live off"; $("live").textContent = "reconnecting…"; };
  stream.addEventListener("session", (e) => {
    const s = JSON.parse(e.data);
    if (sensorParam() && s.sensor !== sensorParam()) return;
    const body = $("recent").tBodies[0];
    body.insertBefore(sessionRow(s, true), body.firstChild);
    while (body.rows.length > 50) body.deleteRow(body.rows.length - 1);
    $("lastattack").textContent = shortTime(s.begin_time);
    const n = Number($("sessions").textContent);
    if (Number.isFinite(n)) $("sessions").textContent = n + 1;
    scheduleAggregates();
  });
}

async function loadSensors() {
  try {
    const list = await api("/v1/sensors");
    for (const s of list.items) {
      const o = document.createElement("option");
      o.value = s.sensor;
      o.textContent = s.sensor + " (" + s.sessions + ")";
      $("sensor").appendChild(o);
    }
  } catch (e) { console.warn(e); }
}

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  token = $("token").value;
  localStorage.setItem("recce7-token", token);
  $("login").hidden = true;
  start();
});
$("window").addEventListener("change", refresh);
$("sensor").addEventListener("change", refresh);
$("detail-close").addEventListener("click", () => { $("detail").hidden = true; detailId = null; });
$("detail-more").addEventListener("click", moreRows);
$("detail-address").addEventListener("click", () => { if (detailAddress) showAddress(detailAddress); });
$("address-close").addEventListener("click", () => {
  $("address").hidden = true;
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
});

let periodic = null;
function start() {
  loadSensors();
  refresh();
  if (live) connectStream();
  else { $("live").textContent = "live updates off"; }
  if (!periodic) periodic = setInterval(refresh, 60000);
  // `#address=IP` opens that address's view, `#session=ID` that session (links to share, and
  // what the tests load).
  const linked = location.hash.match(/^#(address|session)=(.+)$/);
  if (linked) {
    try {
      const open = linked[1] === "address" ? showAddress : showSession;
      open(decodeURIComponent(linked[2])).catch((e) => console.warn(e));
    } catch (e) { console.warn(e); }
  }
}
start();
