// Weir console: plain JavaScript, no dependencies, no build step. It polls
// the JSON API (console.go) once a second and renders with DOM calls
// (textContent only: names, SQL and raw records are never parsed as HTML).
"use strict";

const POLL_MS = 1000;
const WINDOW_US = 15 * 60 * 1e6;
const SVGNS = "http://www.w3.org/2000/svg";

const $ = (id) => document.getElementById(id);

function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---- credentials and requests ----

function authHeader() {
  const c = sessionStorage.getItem("weir-auth");
  return c ? { Authorization: "Basic " + c } : {};
}

let waitingLogin = null;

function askLogin(message) {
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("login-password").focus();
  if (!waitingLogin) {
    waitingLogin = new Promise((resolve) => {
      $("login-form").onsubmit = (ev) => {
        ev.preventDefault();
        const u = $("login-user").value, p = $("login-password").value;
        sessionStorage.setItem("weir-auth", btoa(unescape(encodeURIComponent(u + ":" + p))));
        $("login").hidden = true;
        waitingLogin = null;
        resolve();
      };
    });
  }
  return waitingLogin;
}

// api calls the JSON API; it resolves to {ok, status, body}. A 401 asks
// for credentials and retries.
async function api(path, body) {
  for (;;) {
    const opts = { headers: Object.assign({ "X-Weir-Console": "1" }, authHeader()) };
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, opts);
    } catch (e) {
      return { ok: false, status: 0, body: { error: { code: "08006", message: "cannot reach weir serve: " + e.message } } };
    }
    if (res.status === 401) {
      const b = await res.json().catch(() => ({}));
      const had = sessionStorage.getItem("weir-auth");
      sessionStorage.removeItem("weir-auth");
      await askLogin(had ? (b.error && b.error.message) || "wrong password" : "");
      continue;
    }
    const b = await res.json().catch(() => ({ error: { code: "XX000", message: "bad response (" + res.status + ")" } }));
    return { ok: res.ok, status: res.status, body: b };
  }
}

function errorText(e) {
  let s = e.code + ": " + e.message;
  if (e.line) s += " (line " + e.line + ", column " + e.col + ")";
  if (e.detail) s += "\nDETAIL:  " + e.detail;
  if (e.hint) s += "\nHINT:  " + e.hint;
  return s;
}

// ---- formatting ----

function fmtNum(n) {
  if (n === null || n === undefined) return "";
  return Math.round(n).toLocaleString("en-US");
}

function fmtRate(n) {
  if (!n) return "0";
  return n >= 100 ? fmtNum(n) : n.toFixed(1);
}

function fmtSecs(s) {
  if (s === null || s === undefined) return "–";
  const a = Math.abs(s);
  if (a < 1) return s.toFixed(2) + " s";
  if (a < 120) return s.toFixed(1) + " s";
  if (a < 7200) return (s / 60).toFixed(1) + " min";
  if (a < 172800) return (s / 3600).toFixed(1) + " h";
  return (s / 86400).toFixed(1) + " d";
}

function fmtBytes(b) {
  if (!b) return "0 B";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
  return (i ? b.toFixed(1) : b) + " " + u[i];
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function td(v, cls) { return el("td", cls ? { class: cls } : {}, v === undefined || v === null ? "" : v); }

// ---- job list ----

async function pollList() {
  const r = await api("/api/jobs");
  if (r.ok) {
    $("conn").textContent = "";
    const jobs = r.body.jobs || [];
    $("list-empty").hidden = jobs.length > 0;
    fill($("joblist").tBodies[0], jobs.map((j) => el("tr", { "data-job": j.name },
      el("td", {}, el("a", { href: "/job/" + encodeURIComponent(j.name) }, j.name)),
      el("td", {}, el("span", { class: "badge " + j.state }, j.state)),
      td(j.job_id, "num"), td(j.started_at), td(fmtNum(j.events_in), "num"), td(fmtNum(j.events_out), "num"),
      td(fmtNum(j.late_dropped), "num"), td(fmtNum(j.dead_letters), "num"), td(j.watermark), td(fmtSecs(j.lag_seconds), "num"))));
  } else {
    $("conn").textContent = errorText(r.body.error);
  }
  setTimeout(pollList, POLL_MS);
}

// ---- job page ----

let jobName = "";
let series = [];
let lastT = 0;
let checkedText = null;
// Dead letters and output rows cost the server a table scan: they are
// asked for every TABLES_EVERY polls, and right after a button press.
const TABLES_EVERY = 10;
let polls = 0;
let wantTables = true;

async function pollJob() {
  const tables = wantTables || polls % TABLES_EVERY === 0;
  wantTables = false;
  polls++;
  const q = [];
  if (lastT) q.push("since=" + lastT);
  if (tables) q.push("tables=1");
  const r = await api("/api/jobs/" + encodeURIComponent(jobName) + (q.length ? "?" + q.join("&") : ""));
  if (r.ok) {
    $("conn").textContent = "";
    try {
      renderJob(r.body);
    } catch (e) {
      $("conn").textContent = "console error: " + e.message;
    }
  } else {
    $("conn").textContent = errorText(r.body.error);
    if (r.status === 404) {
      $("job-error").textContent = errorText(r.body.error);
      $("state").textContent = "unknown";
      $("state").className = "badge";
    }
  }
  setTimeout(pollJob, POLL_MS);
}

function renderJob(p) {
  const j = p.job;
  $("state").textContent = j.state;
  $("state").className = "badge " + j.state;
  $("job-meta").textContent = "job id " + j.job_id + " · started " + j.started_at + (j.ended_at ? " · ended " + j.ended_at : "") +
    " · events in " + fmtNum(j.events_in) + " · out " + fmtNum(j.events_out) + " · late dropped " + fmtNum(j.late_dropped) +
    " · bad records " + fmtNum(j.bad_records) + " · watermark " + j.watermark + " · lag " + fmtSecs(j.lag_seconds) +
    " · workers " + j.workers;
  $("job-error").textContent = j.error || "";
  const live = j.state === "RUNNING";
  for (const id of ["btn-drain", "btn-cancel", "btn-snapshot", "btn-check"]) {
    if (!busy.has(id)) $(id).disabled = !live;
  }
  $("sql").textContent = j.sql || "";
  if ($("update-sql").dataset.filled !== "1" && j.sql) {
    $("update-sql").value = j.sql;
    $("update-sql").dataset.filled = "1";
  }
  renderGraph(p.graph, p.graph_error);
  renderStages(p.graph);
  for (const s of p.series || []) {
    if (s.t > lastT) { series.push(s); lastT = s.t; }
  }
  const from = (lastT || p.now_us) - WINDOW_US;
  series = series.filter((s) => s.t >= from);
  renderChart($("chart-rate"), [
    { name: "in", color: "#2457c5", pts: series.map((s) => [s.t, s.in_rate]) },
    { name: "out", color: "#1e7a3a", pts: series.map((s) => [s.t, s.out_rate]) }], p.now_us, fmtRate);
  renderChart($("chart-lag"), [
    { name: "lag", color: "#b3261e", pts: series.map((s) => [s.t, s.lag_seconds]) }], p.now_us, fmtSecs);
  renderChart($("chart-backlog"), [
    { name: "backlog", color: "#9a6700", pts: series.map((s) => [s.t, s.backlog]) }], p.now_us, fmtRate);
  renderChart($("chart-workers"), [
    { name: "workers", color: "#6a3fb5", pts: series.map((s) => [s.t, s.workers]) }], p.now_us, (v) => v.toFixed(v % 1 ? 1 : 0));
  fill($("workers").tBodies[0], (p.workers || []).map((w) => el("tr", {},
    td(w.worker, "num"), td(w.ranges, "num"), td(fmtSecs(w.busy_ms / 1000), "num"))));
  fill($("ranges").tBodies[0], (p.ranges || []).map((r) => el("tr", r.hot ? { class: "hot" } : {},
    td(r.stage), td(r.unit, "num"), td(r.partition !== undefined && r.partition !== null ? "partition " + r.partition : "buckets " + r.buckets),
    td(r.range_start.slice(0, 4) + "…–" + r.range_end.slice(0, 4) + "…"), td(r.worker, "num"), td(fmtRate(r.events_per_second), "num"),
    td(fmtNum(r.events), "num"), td(fmtNum(r.backlog), "num"), td(fmtBytes(r.state_bytes), "num"), td(r.watermark),
    td((r.hot ? "HOT " : "") + (r.done ? "done" : "")))));
  if (p.tables) renderOutput(p.output);
  fill($("snapshots").tBodies[0], (p.snapshots || []).map((s) => el("tr", { "data-snapshot": s.name },
    td(s.name), td(s.job_id, "num"), td(s.with_source ? "yes" : "no"), td(s.created_at), td(fmtNum(s.bytes), "num"), td(s.operators))));
  if (p.tables) {
    const shown = (p.dead_letters || []).length;
    $("dl-count").textContent = "(" + fmtNum(j.dead_letters) + (j.dead_letters > shown ? ", newest " + shown + " shown" : "") + ")";
    fill($("deadletters").tBodies[0], (p.dead_letters || []).map((d) => el("tr", {},
      td(d.time), td(d.job_id, "num"), td(d.source), td(d.position, "num"),
      el("td", { class: "raw", title: "hex: " + d.raw_hex }, d.raw_text), td(d.error))));
  }
  fill($("launches").tBodies[0], (p.launches || []).slice().reverse().map((l) => el("tr", {},
    td(l.job_id, "num"), td(l.state), td(l.started_at), td(l.ended_at), td(fmtNum(l.events_in), "num"), td(fmtNum(l.events_out), "num"), td(l.error))));
}

function renderOutput(o) {
  if (!o) { $("output").replaceChildren(el("p", { class: "muted" }, "The job writes to a sink, not a table.")); return; }
  $("output-table").textContent = o.table;
  if (o.error) { $("output").replaceChildren(el("p", { class: "error" }, o.error)); return; }
  const t = el("table", { class: "grid", id: "output-rows" },
    el("thead", {}, el("tr", {}, ...o.columns.map((c) => el("th", {}, c)))),
    el("tbody", {}, ...(o.rows || []).map((r) => el("tr", {}, ...r.map((v) => td(v))))));
  $("output").replaceChildren(t);
}

function renderStages(g) {
  if (!g) { fill($("stages").tBodies[0], []); return; }
  fill($("stages").tBodies[0], g.stages.map((s) => el("tr", { "data-stage": s.name },
    td(s.name), td(s.ops.map((o) => o.name).join(", ")), el("td", { class: "wm" }, s.watermark), td(fmtSecs(s.lag_seconds), "num"),
    td(fmtRate(s.events_per_second), "num"), td(fmtNum(s.events), "num"), td(fmtNum(s.backlog), "num"),
    td(fmtBytes(s.state_bytes), "num"), td(s.ranges, "num"), td(s.hot || "", "num"))));
}

// renderGraph draws stages as boxes in columns by depth (a source stage
// at 0, a stage one column right of its deepest input) and shuffles as
// arrows labelled with their key.
function renderGraph(g, err) {
  const box = $("graph");
  if (!g) { box.replaceChildren(el("p", { class: "error" }, err || "")); return; }
  $("warnings").textContent = (g.warnings || []).map((w) => "WARNING: " + w).join("\n");
  const depth = {};
  const byName = {};
  for (const s of g.stages) { byName[s.name] = s; depth[s.name] = 0; }
  for (const s of g.stages) { // stages come in data-flow order
    for (const e of g.edges || []) if (e.to === s.name) depth[s.name] = Math.max(depth[s.name], depth[e.from] + 1);
  }
  const CH = 7.3, LH = 17, PAD = 10, GAP = 90;
  const cols = [];
  for (const s of g.stages) {
    const lines = [
      { t: "stage " + s.name + "  " + s.detail, cls: "h" },
      ...s.ops.map((o) => ({ t: (o.side ? "↳ " : "") + o.name + (o.stateful ? "  ◆ " + fmtBytes(o.state_bytes) : ""), cls: o.stateful ? "sf" : "op", title: o.desc })),
      { t: "watermark " + s.watermark + "  lag " + fmtSecs(s.lag_seconds), cls: "st" },
      { t: fmtRate(s.events_per_second) + " ev/s  backlog " + fmtNum(s.backlog) + "  state " + fmtBytes(s.state_bytes), cls: "st" },
      { t: s.ranges + " range" + (s.ranges === 1 ? "" : "s") + (s.hot ? "  " + s.hot + " HOT" : ""), cls: s.hot ? "hot" : "st" },
    ];
    s._lines = lines;
    s._w = Math.max(...lines.map((l) => l.t.length)) * CH + 2 * PAD;
    s._h = lines.length * LH + 2 * PAD;
    (cols[depth[s.name]] = cols[depth[s.name]] || []).push(s);
  }
  let x = 10, H = 0;
  for (const col of cols) {
    if (!col) continue;
    const w = Math.max(...col.map((s) => s._w));
    let y = 10;
    for (const s of col) { s._x = x; s._y = y; s._cw = w; y += s._h + 24; }
    H = Math.max(H, y);
    x += w + GAP;
  }
  const root = svg("svg", { width: x, height: H, id: "graph-svg" });
  const defs = svg("defs");
  const mk = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  mk.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#6a7385" }));
  defs.append(mk);
  root.append(defs);
  for (const e of g.edges || []) {
    const a = byName[e.from], b = byName[e.to];
    if (!a || !b) continue;
    const x1 = a._x + a._cw, y1 = a._y + a._h / 2, x2 = b._x, y2 = b._y + b._h / 2;
    const mx = (x1 + x2) / 2;
    root.append(svg("path", { d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, fill: "none", stroke: "#6a7385", "stroke-width": 1.5, "marker-end": "url(#arrow)", class: "edge" }));
    root.append(svg("text", { x: mx, y: (y1 + y2) / 2 - 6, "text-anchor": "middle", fill: "#6a7385" }, e.by));
  }
  for (const s of g.stages) {
    const gg = svg("g", { class: "stage", "data-stage": s.name });
    gg.append(svg("rect", { x: s._x, y: s._y, width: s._cw, height: s._h, rx: 6, fill: s.hot ? "#fff1e0" : "#f4f7fd", stroke: "#9aa6bd" }));
    s._lines.forEach((l, i) => {
      const fill = l.cls === "h" ? "#1d2330" : l.cls === "sf" ? "#2457c5" : l.cls === "hot" ? "#b3261e" : l.cls === "st" ? "#6a7385" : "#1d2330";
      const t = svg("text", { x: s._x + PAD, y: s._y + PAD + (i + 1) * LH - 4, fill, "font-weight": l.cls === "h" || l.cls === "sf" ? 600 : 400, class: l.cls === "op" || l.cls === "sf" ? "op" : l.cls }, l.t);
      if (l.title) t.append(svg("title", {}, l.title));
      gg.append(t);
    });
    root.append(gg);
  }
  box.replaceChildren(root);
}

// renderChart draws series of [t, v] over the last 15 minutes ending at
// now; a null v breaks the line.
function renderChart(box, lines, nowUs, fmt) {
  const W = 560, H = 180, L = 64, R = 10, T = 10, B = 22;
  const t1 = nowUs, t0 = nowUs - WINDOW_US;
  let max = 0;
  for (const l of lines) for (const [, v] of l.pts) if (v !== null && v !== undefined && isFinite(v)) max = Math.max(max, v);
  if (max <= 0) max = 1;
  const X = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const Y = (v) => T + (1 - v / max) * (H - T - B);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none" });
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    root.append(svg("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), stroke: "#e6e9ef" }));
    root.append(svg("text", { x: L - 6, y: Y(v) + 4, "text-anchor": "end" }, fmt(v)));
  }
  for (let m = 0; m <= 15; m += 5) {
    const x = X(t1 - m * 60e6);
    root.append(svg("text", { x, y: H - 6, "text-anchor": "middle" }, m ? "-" + m + " min" : "now"));
  }
  for (const l of lines) {
    let d = "", pen = false;
    for (const [t, v] of l.pts) {
      if (v === null || v === undefined || !isFinite(v) || t < t0) { pen = false; continue; }
      d += (pen ? "L" : "M") + X(t).toFixed(1) + "," + Y(v).toFixed(1);
      pen = true;
    }
    root.append(svg("path", { d, fill: "none", stroke: l.color, "stroke-width": 1.6, class: "series-" + l.name }));
  }
  const legend = lines.map((l) => l.name).join(" / ");
  root.append(svg("text", { x: W - R, y: T + 10, "text-anchor": "end" }, legend + (lines[0].pts.length ? "" : " (sampling…)")));
  box.replaceChildren(root);
}

// ---- buttons ----

const busy = new Set();

async function action(btn, path, body, onOk) {
  busy.add(btn);
  $(btn).disabled = true;
  const label = $(btn).textContent;
  $(btn).textContent = label + "…";
  $("result").replaceChildren(el("p", { class: "muted" }, "running " + path.split("/").pop() + "…"));
  const r = await api("/api/jobs/" + encodeURIComponent(jobName) + "/" + path, body || {});
  $(btn).textContent = label;
  busy.delete(btn);
  $(btn).disabled = false;
  wantTables = true;
  if (r.ok) {
    const b = r.body;
    const kids = [el("span", { class: "ok" }, (b.tag || "OK") + (b.job ? " · job " + b.job.name + " is " + b.job.state : ""))];
    if (b.statement) kids.push(el("pre", {}, b.statement + ";"));
    for (const n of b.notices || []) kids.push(el("pre", {}, "NOTICE:  " + n));
    $("result").replaceChildren(el("div", { id: "result-ok" }, ...kids));
    if (onOk) onOk(b);
  } else {
    $("result").replaceChildren(el("pre", { class: "error", id: "result-error" }, errorText(r.body.error)));
  }
  return r;
}

function wireJobButtons() {
  $("btn-drain").onclick = () => action("btn-drain", "drain");
  $("btn-cancel").onclick = () => { $("cancel-confirm").hidden = false; $("btn-cancel").hidden = true; };
  $("btn-cancel-no").onclick = () => { $("cancel-confirm").hidden = true; $("btn-cancel").hidden = false; };
  $("btn-cancel-yes").onclick = () => {
    $("cancel-confirm").hidden = true; $("btn-cancel").hidden = false;
    action("btn-cancel", "cancel");
  };
  $("btn-snapshot").onclick = () => action("btn-snapshot", "snapshot", { name: $("snap-name").value, with_source: $("snap-source").checked },
    () => { $("snap-name").value = ""; });
  $("update-sql").oninput = () => { $("btn-update").disabled = $("update-sql").value !== checkedText; };
  $("btn-check").onclick = async () => {
    const text = $("update-sql").value;
    $("btn-update").disabled = true;
    checkedText = null;
    $("check").replaceChildren(el("p", { class: "muted" }, "checking…"));
    const r = await api("/api/jobs/" + encodeURIComponent(jobName) + "/check-update", { sql: text });
    if (!r.ok) { $("check").replaceChildren(el("pre", { class: "error", id: "check-error" }, errorText(r.body.error))); return; }
    const c = r.body;
    const kids = [el("p", { id: "check-verdict", class: c.accepted ? "ok" : "error" }, c.verdict)];
    if (c.problems.length) {
      kids.push(el("table", { class: "grid", id: "check-problems" },
        el("thead", {}, el("tr", {}, el("th", {}, "operator"), el("th", {}, "refused because"))),
        el("tbody", {}, ...c.problems.map((p) => el("tr", { class: "fit-refused" }, td(p.operator), td(p.reason))))));
    }
    kids.push(el("table", { class: "grid", id: "check-operators" },
      el("thead", {}, el("tr", {}, el("th", {}, ""), el("th", {}, "operator / stage"))),
      el("tbody", {}, ...c.operators.map((o) => el("tr", { class: "fit-" + o.kind }, td(o.kind), td(o.line))))));
    if (c.plan && c.plan.length) kids.push(el("details", {}, el("summary", {}, "new plan"), el("pre", {}, c.plan.join("\n"))));
    $("check").replaceChildren(...kids);
    if (c.accepted) { checkedText = text; $("btn-update").disabled = false; }
  };
  $("btn-update").onclick = () => action("btn-update", "update", { sql: $("update-sql").value }, () => {
    $("btn-update").disabled = true; checkedText = null; $("check").replaceChildren(); lastT = 0; series = [];
  });
}

// ---- routing ----

function start() {
  const m = location.pathname.match(/^\/job\/(.+)$/);
  if (m) {
    jobName = decodeURIComponent(m[1]);
    document.title = jobName + " · Weir console";
    $("crumb").textContent = "/ " + jobName;
    $("job-name").textContent = jobName;
    for (const e of document.querySelectorAll(".jn")) e.textContent = jobName;
    $("job-view").hidden = false;
    wireJobButtons();
    pollJob();
  } else {
    $("list-view").hidden = false;
    pollList();
  }
}

start();
