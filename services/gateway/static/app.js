// The operator dashboard: plain JavaScript against the gateway's JSON API
// (/api/admin/...) and its event WebSocket (/ws). No build step.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem("agentcom.token") || "", health: null,
  threshold: 0.1, lastEventId: 0, busy: 0, socket: null, expanded: new Set(), pitr: {} };
const NOTIFY_TYPES = new Set(["compaction_failed", "recovery_failed"]);

function fmtBytes(n) {
  n = Number(n || 0);
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}
function fmtAge(ts) {
  if (!ts) return "never";
  const s = Math.max(0, (Date.now() - Date.parse(ts)) / 1000);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method, headers: { "Authorization": `Bearer ${state.token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error((data.error && data.error.message) || `HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

// Shows progress while a long action runs and disables its button.
async function withProgress(button, label, fn) {
  state.busy++;
  $("progress").hidden = false;
  const text = button ? button.textContent : "";
  if (button) { button.disabled = true; button.textContent = `${label}…`; }
  $("message").textContent = `${label}…`;
  try {
    const result = await fn();
    return result;
  } catch (e) {
    $("message").textContent = `${label} failed: ${e.message}`;
    throw e;
  } finally {
    state.busy--;
    if (!state.busy) $("progress").hidden = true;
    if (button) { button.disabled = false; button.textContent = text; }
  }
}

function stateName(s) {
  return String(s || "TABLE_STATE_UNAVAILABLE").replace("TABLE_STATE_", "").toLowerCase();
}

function renderTables() {
  const h = state.health;
  if (!h) return;
  state.threshold = h.compaction_threshold;
  const filter = $("filter").value.trim().toLowerCase();
  const rows = $("table-rows");
  rows.replaceChildren();
  const tables = h.tables.filter((t) => !filter || t.stats.table.includes(filter) || t.store.includes(filter));
  $("table-count").textContent = `${tables.length} of ${h.tables.length}`;
  for (const t of tables) {
    const s = t.stats;
    const frag = Number(s.fragmentation_ratio || 0);
    const st = stateName(s.state);
    const bar = el("span", { class: "frag", title: `threshold ${(state.threshold * 100).toFixed(0)}%` },
      el("span", { class: `fill${frag >= state.threshold ? " over" : ""}`, style: `width:${Math.min(100, frag * 100)}%` }),
      el("span", { class: "mark", style: `left:${state.threshold * 100}%` }));
    const row = el("tr", { "data-table": s.table },
      el("td", {}, el("strong", {}, s.table), el("div", { class: "muted" }, t.store)),
      el("td", {}, el("span", { class: `badge state-${st}`, "data-testid": `state-${s.table}`, title: s.state_reason || "" }, st)),
      el("td", { class: "num" }, Number(s.records).toLocaleString()),
      el("td", { class: "num" }, fmtBytes(s.disk_bytes)),
      el("td", {}, bar, el("span", { class: "frag-label" }, `${(frag * 100).toFixed(1)}%`)),
      el("td", { title: t.last_backup_id || "" }, fmtAge(t.last_backup_time),
        t.last_backup_result && t.last_backup_result !== "ok" ? el("div", { class: "error" }, t.last_backup_result) : ""),
      recoveryPoint(s),
      el("td", {}, t.last_compaction_result || "never"),
      el("td", {},
        el("button", { class: "small", onclick: (e) => compactOne(e.target, s.table) }, "Compact"), " ",
        el("button", { class: "small", onclick: (e) => backupOne(e.target, s.table) }, "Back up"), " ",
        el("button", { class: "small", onclick: () => toggleBackups(s.table) }, "Backups")));
    rows.append(row);
    if (state.expanded.has(s.table)) rows.append(backupRow(s.table));
  }
}

// Where a restore would go back to if the whole data directory were lost:
// the moment up to which the table's write-ahead logs are shipped.
function recoveryPoint(s) {
  const through = Number(s.wal_shipped_through_unix_seconds || 0);
  const title = `write-ahead log archive ${fmtBytes(s.wal_archive_bytes || 0)}; ` +
    `${fmtBytes(s.wal_ship_lag_bytes || 0)} not shipped at the last round`;
  return el("td", { title, "data-testid": `shipped-${s.table}` },
    through > 0 ? `writes to ${fmtAge(new Date(through * 1000).toISOString())}` : "not shipped",
    s.wal_ship_error ? el("div", { class: "error" }, s.wal_ship_error) : "");
}

function backupRow(table) {
  const cell = el("td", { colspan: 9 }, el("span", { class: "muted" }, "Loading backups…"));
  const row = el("tr", { class: "backups", "data-backups": table }, cell);
  api("GET", `/api/admin/backups/${encodeURIComponent(table)}`).then((data) => {
    const list = el("ul");
    const remote = (data.remote || [])[0];
    for (const b of data.backups || []) {
      const where = !remote ? "" : b.local && b.remote ? "local + remote" : b.local ? "local only" : "remote only";
      if (!b.local) {  // fetched by a restore when the table has no local backup
        list.append(el("li", {}, el("code", {}, b.backup_id),
          el("span", { class: "muted", "data-testid": `where-${b.backup_id}` }, where)));
        continue;
      }
      list.append(el("li", {}, el("code", {}, b.backup_id),
        el("span", { class: "muted" }, `${Number(b.record_count).toLocaleString()} records, ${fmtBytes(b.size_bytes)}` +
          (b.shipped_logs_through ? `, + logs to ${fmtAge(b.shipped_logs_through)}` : "")),
        where ? el("span", { class: "where", "data-testid": `where-${b.backup_id}` }, where) : "",
        el("button", { class: "small danger", onclick: (e) => restore(e.target, table, b.backup_id) }, "Restore")));
    }
    if (!list.children.length) list.append(el("li", { class: "muted" }, "No backups yet."));
    cell.replaceChildren(list, remote ? remoteStatus(remote) : "", pointInTimeForm(table));
  }).catch((e) => cell.replaceChildren(el("span", { class: "error" }, e.message)));
  return row;
}

// The copies off this host: where, how far behind, the last error.
function remoteStatus(r) {
  const through = r.through ? `everything up to ${fmtAge(r.through)}` : "nothing yet";
  return el("div", { class: "remote", "data-testid": `remote-${r.table}` },
    "Off this host (", el("code", {}, r.destination), "): ", through,
    Number(r.pending_bytes || 0) > 0 ? `, ${fmtBytes(r.pending_bytes)} waiting` : "",
    r.last_error ? el("div", { class: "error" }, r.last_error) : "");
}

// Point-in-time restore: the table as it was at a chosen moment (an undo
// of a mistake). Preview is a dry run; what it said survives the refresh.
function pointInTimeForm(table) {
  const saved = state.pitr[table] || { value: localInputValue(new Date(Date.now() - 1000)), text: "" };
  state.pitr[table] = saved;
  const when = el("input", { type: "datetime-local", step: "1", value: saved.value,
    "data-testid": `pitr-time-${table}`, onchange: (e) => { saved.value = e.target.value; } });
  const result = el("span", { class: "muted", "data-testid": `pitr-result-${table}` }, saved.text);
  return el("div", { class: "pitr" }, "Back to the moment ", when, " ",
    el("button", { class: "small", "data-testid": `pitr-preview-${table}`,
      onclick: (e) => pointInTime(e.target, table, saved, result, true) }, "Preview"), " ",
    el("button", { class: "small danger", "data-testid": `pitr-restore-${table}`,
      onclick: (e) => pointInTime(e.target, table, saved, result, false) }, "Restore to this moment"), " ",
    result);
}
function localInputValue(d) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
async function pointInTime(button, table, saved, result, dryRun) {
  const target = new Date(saved.value);
  if (isNaN(target)) { $("message").textContent = "Choose a date and time first."; return; }
  if (!dryRun && !window.confirm(`Restore ${table} to ${target.toLocaleString()}?\n\nThe store restarts; ` +
      "writes made after that moment are left out (the current table is kept in quarantine, " +
      "so this can be undone the same way).")) return;
  const r = await withProgress(button, dryRun ? `Previewing ${table}` : `Restoring ${table}`, () =>
    api("POST", `/api/admin/restore/${encodeURIComponent(table)}`,
        { target_time: target.toISOString(), dry_run: dryRun }));
  const point = r.restored_to_time ? new Date(r.restored_to_time).toLocaleString() : `backup ${r.backup_id}`;
  const outcome = String(r.outcome).replace("RESTORE_OUTCOME_", "").toLowerCase();
  saved.text = dryRun
    ? `would bring back ${Number(r.record_count || 0).toLocaleString()} records as of ${point}, ` +
      `leaving out ${Number(r.left_out_batches || 0).toLocaleString()} later batches`
    : `${outcome}: ${Number(r.record_count || 0).toLocaleString()} records as of ${point}, ` +
      `${Number(r.left_out_batches || 0).toLocaleString()} later batches left out ${r.reason || ""}`;
  result.textContent = saved.text;
  $("message").textContent = `${table}: ${saved.text}`;
  if (!dryRun) await refreshHealth();
}

function toggleBackups(table) {
  if (state.expanded.has(table)) state.expanded.delete(table); else state.expanded.add(table);
  renderTables();
}

async function refreshHealth() {
  try {
    state.health = await api("GET", "/api/admin/health");
    renderTables();
  } catch (e) {
    if (e.status === 401 || e.status === 403) return signOut(e.message);
    $("message").textContent = `Cannot load health: ${e.message}`;
  }
}

async function refreshHistory() {
  const data = await api("GET", "/api/admin/compaction-history").catch(() => ({ runs: [] }));
  const rows = $("history-rows");
  rows.replaceChildren();
  for (const run of data.runs || []) {
    for (const r of run.results || []) {
      const outcome = String(r.outcome).replace("COMPACTION_OUTCOME_", "").toLowerCase();
      rows.append(el("tr", {},
        el("td", {}, new Date(run.time).toLocaleString()),
        el("td", {}, r.table),
        el("td", { class: outcome === "error" ? "error" : "" }, r.reason ? `${outcome}: ${r.reason}` : outcome),
        el("td", { class: "num" }, `${Number(r.duration_seconds).toFixed(2)} s`)));
    }
  }
}

async function compactAll(button) {
  const run = await withProgress(button, "Compacting all tables", () => api("POST", "/api/admin/compact", { force: false }));
  $("message").textContent = `Compaction: ${run.compacted} compacted, ${run.skipped} skipped, ${run.failed} failed of ${run.tables_total}.`;
  await Promise.all([refreshHealth(), refreshHistory()]);
}
async function compactOne(button, table) {
  await withProgress(button, `Compacting ${table}`, () => api("POST", `/api/admin/compact/${encodeURIComponent(table)}`));
  $("message").textContent = `Compacted ${table}.`;
  await Promise.all([refreshHealth(), refreshHistory()]);
}
async function backupAll(button) {
  const run = await withProgress(button, "Backing up all tables", () => api("POST", "/api/admin/backup"));
  $("message").textContent = `Backup: ${run.succeeded} succeeded, ${run.failed} failed.`;
  await refreshHealth();
}
async function backupOne(button, table) {
  await withProgress(button, `Backing up ${table}`, () => api("POST", `/api/admin/backup/${encodeURIComponent(table)}`));
  $("message").textContent = `Backed up ${table}.`;
  await refreshHealth();
}
async function restore(button, table, backupId) {
  if (!window.confirm(`Restore ${table} from backup ${backupId}?\n\nThe store restarts; writes since that backup are lost (the current files are kept in quarantine).`)) return;
  const r = await withProgress(button, `Restoring ${table}`, () =>
    api("POST", `/api/admin/restore/${encodeURIComponent(table)}`, { backup_id: backupId }));
  $("message").textContent = `Restore of ${table}: ${String(r.outcome).replace("RESTORE_OUTCOME_", "").toLowerCase()} ${r.reason || ""}`;
  await refreshHealth();
}

function addEvent(e) {
  if (e.id <= state.lastEventId) return;
  state.lastEventId = Number(e.id);
  const list = $("events");
  const time = new Date(e.time).toLocaleTimeString();
  list.prepend(el("li", { "data-type": e.type },
    el("time", {}, time), el("span", { class: `type type-${e.type}` }, e.type),
    el("span", {}, e.table ? `${e.table}: ${e.message}` : e.message)));
  while (list.children.length > 200) list.lastChild.remove();
  const auto = e.type === "recovery_complete" && e.details && e.details.trigger === "auto";
  if ((NOTIFY_TYPES.has(e.type) || auto) && "Notification" in window && Notification.permission === "granted") {
    new Notification(`agentcom: ${e.type}`, { body: e.table ? `${e.table}: ${e.message}` : e.message });
  }
  if (e.type.startsWith("compaction")) refreshHistory();
  if (!state.busy) refreshHealth();
}

function connect() {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  const ws = new WebSocket(url);
  state.socket = ws;
  ws.onopen = () => ws.send(JSON.stringify({ token: state.token, after_id: state.lastEventId }));
  ws.onmessage = (m) => {
    const data = JSON.parse(m.data);
    if (data.type === "ready") { $("live").textContent = "live"; $("live").className = "live on"; return; }
    if (data.type === "error") { $("message").textContent = "Event stream refused the token."; return; }
    addEvent(data);
  };
  ws.onclose = () => {
    $("live").textContent = "offline"; $("live").className = "live off";
    if (state.token && state.socket === ws) setTimeout(connect, 1000);
  };
}

async function start() {
  $("login").hidden = true;
  $("app").hidden = false;
  $("actions").hidden = false;
  const events = await api("GET", "/api/admin/events?after=0&limit=50").catch(() => ({ events: [] }));
  for (const e of events.events || []) addEvent(e);
  await Promise.all([refreshHealth(), refreshHistory()]);
  connect();
  setInterval(() => { if (!state.busy) refreshHealth(); }, 5000);
}

function signOut(reason) {
  sessionStorage.removeItem("agentcom.token");
  state.token = "";
  if (state.socket) state.socket.close();
  $("app").hidden = true;
  $("actions").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = reason || "";
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  state.token = $("token").value.trim();
  try {
    await api("GET", "/api/admin/health");
    sessionStorage.setItem("agentcom.token", state.token);
    $("login-error").textContent = "";
    await start();
  } catch (e) {
    $("login-error").textContent = e.status === 401 || e.status === 403
      ? "That is not the admin token." : `Cannot reach the gateway: ${e.message}`;
  }
});
$("compact-all").addEventListener("click", (e) => compactAll(e.target).catch(() => {}));
$("backup-all").addEventListener("click", (e) => backupAll(e.target).catch(() => {}));
$("signout").addEventListener("click", () => signOut(""));
$("filter").addEventListener("input", renderTables);
$("notify").addEventListener("click", () => {
  if ("Notification" in window) Notification.requestPermission();
});
if (state.token) start().catch(() => signOut(""));
