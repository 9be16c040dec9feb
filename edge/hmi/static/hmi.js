// Operator HMI: polls the agent every POLL_MS and drives its batch API. Plain JS, no build.
"use strict";

const POLL_MS = 500;
const REQUEST_TIMEOUT_MS = 3000;
const RATE_WINDOW_S = 15;
const REJECT_ROWS = 12;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

const $ = (id) => document.getElementById(id);
const SESSION_KEY = "serialtrace.hmi.session"; // this tab only: {token, operator}

const hmi = {
  ordersKey: "", // what the orders table shows
  orders: [],
  confirming: null, // the order in the confirm dialog
  line: null, // /hmi/api/line
  status: null, // last /status, null while offline
  samples: [], // [seconds, printed] of the current batch, for the rate
  batchId: null,
  rejectsKey: "",
  busy: false, // a batch command is on its way
};

// --- HTTP -----------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

async function request(method, path, body) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  const options = { method, signal: controller.signal, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  try {
    const response = await fetch(path, options);
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  } finally {
    clearTimeout(timer);
  }
}

// --- operator session ------------------------------------------------------------------

function session() {
  try {
    const value = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    return value && typeof value.token === "string" ? value : null;
  } catch (_) {
    return null;
  }
}

function renderSession() {
  const current = session();
  $("operator").textContent = current ? `Operator: ${current.operator}` : "Not signed in";
  $("btn-login").textContent = current ? "Sign out" : "Sign in";
}

function openLogin(note) {
  $("login-error").textContent = note || "";
  $("login-password").value = "";
  $("login-dialog").showModal();
  $("login-name").focus();
}

async function submitLogin(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    const response = await fetch("/hmi/api/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: $("login-name").value.trim(), password: $("login-password").value }),
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    sessionStorage.setItem(SESSION_KEY, JSON.stringify({ token: data.token, operator: data.operator }));
    $("login-dialog").close();
    renderSession();
    showMessage(`Signed in as ${data.operator}`, "ok");
  } catch (error) {
    $("login-password").value = "";
    $("login-error").textContent = error.message;
  }
}

async function loginButton() {
  const current = session();
  if (current === null) {
    openLogin();
    return;
  }
  sessionStorage.removeItem(SESSION_KEY);
  renderSession();
  try {
    await fetch("/hmi/api/logout", { method: "POST", headers: { Authorization: `Bearer ${current.token}` } });
  } catch (_) {
    // signed out here anyway; the session ends on the agent at its expiry
  }
  showMessage("Signed out", "ok");
}

// Batch commands can wait for units in flight (close waits up to ~10 s): no short timeout.
// They carry the operator's session; without one (or an expired one) the sign-in opens.
async function command(path, body) {
  const current = session();
  if (current === null) {
    openLogin("Sign in to control the line.");
    throw new ApiError(401, { error: "sign in first" });
  }
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${current.token}` },
    body: JSON.stringify(body || {}),
  });
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    data = null;
  }
  if (response.status === 401) {
    sessionStorage.removeItem(SESSION_KEY);
    renderSession();
    openLogin("Your session has ended: sign in again.");
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// --- polling ---------------------------------------------------------------------------

async function poll() {
  try {
    if (hmi.line === null) {
      hmi.line = await request("GET", "/hmi/api/line");
      renderLine();
    }
    const [status, rejects, timing] = await Promise.all([
      request("GET", "/status"),
      request("GET", `/hmi/api/rejects?limit=${REJECT_ROWS}`),
      request("GET", "/hmi/api/timing"),
    ]);
    hmi.status = status;
    render(status);
    renderRejects(rejects);
    renderTiming(timing);
  } catch (error) {
    hmi.status = null;
    renderOffline(error);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

// --- rendering -------------------------------------------------------------------------

function renderLine() {
  const line = hmi.line;
  $("where").textContent = `${line.site} / ${line.line}`;
  document.title = `${line.line} · Line HMI · serialtrace`;
  const select = $("start-gtin");
  select.replaceChildren();
  for (const product of line.products) {
    const option = document.createElement("option");
    option.value = product.gtin;
    option.textContent = product.name ? `${product.name} — ${product.gtin}` : product.gtin;
    select.append(option);
  }
}

function productName(gtin) {
  const product = hmi.line && hmi.line.products.find((p) => p.gtin === gtin);
  return product && product.name ? product.name : "—";
}

function render(status) {
  const batch = status.batch;
  const alarms = Object.entries(status.alarms || {});
  const state = batch ? batch.state : "idle";
  const view = $("line-state");
  if (alarms.length > 0) {
    view.dataset.state = "alarm";
    $("state-text").textContent = "ALARM";
    $("state-note").textContent = `${batch ? batch.state : "no batch"} · ${alarms[0][1]}`;
  } else {
    view.dataset.state = state;
    $("state-text").textContent = batch ? state.toUpperCase() : "NO BATCH";
    $("state-note").textContent = batch
      ? (batch.reason ? `Reason: ${batch.reason}` : `Lot ${batch.lot}`)
      : "Start a batch to run the line";
  }

  setLink("link-agent", true);
  setLink("link-broker", status.outbox.connected);
  setLink("link-plc", status.plc.connected);

  $("batch-product").textContent = batch ? productName(batch.gtin) : "—";
  $("batch-gtin").textContent = batch ? batch.gtin : "—";
  $("batch-lot").textContent = batch ? batch.lot : "—";
  $("batch-expiry").textContent = batch ? `${batch.expiry} (${expiryText(batch.expiry)})` : "—";
  $("batch-planned").textContent = batch ? batch.planned.toLocaleString("en") : "—";
  $("batch-state").textContent = batch ? batch.state : "no batch";

  const rec = status.reconciliation || {};
  const counts = {
    printed: rec.printed || 0,
    commissioned: rec.commissioned || 0,
    rejected: rec.rejected || 0,
    sampled: rec.sampled || 0,
    scrapped: rec.scrapped || 0,
    "in-flight": rec.in_flight || 0,
  };
  for (const [name, value] of Object.entries(counts)) {
    $(`count-${name}`).textContent = value.toLocaleString("en");
  }
  const done = batch && batch.planned > 0 ? Math.min(100, (100 * counts.commissioned) / batch.planned) : 0;
  $("progress-bar").style.width = `${done}%`;
  $("progress-text").textContent = batch
    ? `${counts.commissioned.toLocaleString("en")} of ${batch.planned.toLocaleString("en")} · ${done.toFixed(0)} %`
    : "—";

  $("rate").textContent = rate(batch, counts.printed);

  const alarmList = $("alarms");
  alarmList.replaceChildren();
  if (alarms.length === 0) {
    alarmList.append(item("No alarms", "none"));
  }
  for (const [name, text] of alarms) {
    const li = document.createElement("li");
    const label = document.createElement("b");
    label.textContent = name;
    li.append(label, document.createTextNode(text));
    alarmList.append(li);
  }

  const outbox = status.outbox;
  const alarmDepth = hmi.line ? hmi.line.outbox_alarm_depth : Infinity;
  $("outbox-depth").textContent = outbox.depth.toLocaleString("en");
  $("outbox").dataset.alarm = String(Boolean(outbox.alarm) || outbox.depth >= alarmDepth);
  const age = outbox.depth > 0 ? ` · oldest ${Math.round(outbox.oldest_age_s)} s` : "";
  const delivery = status.delivery;
  const confirmed =
    delivery && delivery.confirm_by === "server"
      ? ` · server confirmed up to #${delivery.last_confirmed_seq} of #${delivery.last_line_seq}`
      : "";
  const last = delivery && delivery.closed_batches ? delivery.closed_batches[0] : null;
  const closedOnServer =
    last && last.closed_on_server !== null
      ? ` · last closed batch ${last.lot}: ${last.closed_on_server ? "closed on the server" : `waiting for the server (close #${last.close_seq})`}`
      : "";
  $("outbox-detail").textContent =
    `${outbox.connected ? "broker connected" : "broker NOT connected"}${age}${confirmed}${closedOnServer} · alarm at ${alarmDepth.toLocaleString("en")}`;

  renderSerials(status.serials, batch);
  setButtons(batch ? batch.state : null);
  renderGrade(status.grade);
}

const GRADE_NAMES = {
  decode: "decode", symbol_contrast: "symbol contrast", modulation: "modulation",
  reflectance_margin: "reflectance margin", fixed_pattern_damage: "fixed pattern damage",
  axial_nonuniformity: "axial non-uniformity", grid_nonuniformity: "grid non-uniformity",
  unused_error_correction: "unused error correction",
};

function gradeLetter(grade) {
  return grade >= 3.5 ? "A" : grade >= 2.5 ? "B" : grade >= 1.5 ? "C" : grade >= 0.5 ? "D" : "F";
}

// The moving grade, its trend (one point per unit) and the parameter falling most.
function renderGrade(grade) {
  if (!grade) return;
  const panel = $("grade");
  panel.dataset.alarm = String(Boolean(grade.alarm));
  $("grade-window").textContent = `last ${grade.window} units`;
  if (grade.moving === null) {
    $("grade-moving").textContent = "—";
    $("grade-detail").textContent = "no graded units yet";
  } else {
    $("grade-moving").textContent = `${grade.moving.toFixed(2)} ${gradeLetter(grade.moving)}`;
    const parts = [`${grade.units.toLocaleString("en")} units graded`];
    if (grade.baseline !== null) parts.push(`baseline ${grade.baseline.toFixed(2)}`);
    if (grade.min_grade !== null) parts.push(`reject below ${grade.min_grade.toFixed(1)}`);
    $("grade-detail").textContent = parts.join(" · ");
  }
  const falling = $("grade-falling");
  falling.textContent = grade.falling
    ? `Falling: ${GRADE_NAMES[grade.falling] || grade.falling} (−${grade.falling_by.toFixed(2)})`
    : "";
  drawGrade($("grade-chart"), grade);
}

function drawGrade(svg, grade) {
  const ns = "http://www.w3.org/2000/svg";
  const y = (value) => (60 - (value / 4) * 56 - 2).toFixed(1);
  const shapes = [];
  const line = (value, cls) => {
    const el = document.createElementNS(ns, "line");
    el.setAttribute("x1", "0");
    el.setAttribute("x2", "240");
    el.setAttribute("y1", y(value));
    el.setAttribute("y2", y(value));
    el.setAttribute("class", cls);
    shapes.push(el);
  };
  if (grade.min_grade !== null) line(grade.min_grade, "limit");
  if (grade.baseline !== null) line(Math.max(0, grade.baseline - grade.drop), "alarm-line");
  const points = grade.history || [];
  if (points.length > 1) {
    const step = 240 / (points.length - 1);
    const path = document.createElementNS(ns, "polyline");
    path.setAttribute("points", points.map((v, i) => `${(i * step).toFixed(1)},${y(v)}`).join(" "));
    path.setAttribute("class", "trend");
    shapes.push(path);
  }
  svg.replaceChildren(...shapes);
}

// Gate timing: each unit's margin between its verdict and the reject gate's deadline
// (below 0: missed, the gate rejected a unit that may be good), and the line rate.
function renderTiming(timing) {
  if (!timing) return;
  const panel = $("timing");
  const alarm = timing.missed > 0;
  panel.dataset.alarm = String(alarm);
  $("timing-deadline").textContent = `deadline ${timing.deadline_ms} ms · guard ${timing.guard_ms} ms`;
  $("timing-margin").textContent = timing.last_margin_ms === null ? "—" : Math.round(timing.last_margin_ms);
  $("timing-detail").textContent = timing.window === 0
    ? "no verdicts yet"
    : `last ${timing.window} verdicts: ${timing.missed} missed, ${timing.at_risk} at risk · ` +
      `${timing.total_missed.toLocaleString("en")} missed of ${timing.total.toLocaleString("en")}`;
  const history = timing.history || [];
  const low = Math.min(-0.2 * timing.deadline_ms, ...history.map((p) => p.min_margin_ms));
  drawSeries($("margin-chart"), history.map((p) => p.min_margin_ms), low, timing.deadline_ms, [
    [0, "limit"],
    [timing.guard_ms, "alarm-line"],
  ]);
  const rates = history.map((p) => p.units * 60);
  const top = Math.max(60, ...rates);
  $("rate-chart-max").textContent = `(top ${top.toLocaleString("en")})`;
  drawSeries($("rate-chart"), rates, 0, top * 1.1, []);
}

// One polyline of `values` scaled to [low, high] in a 240x60 inline SVG, with level lines.
function drawSeries(svg, values, low, high, levels) {
  const ns = "http://www.w3.org/2000/svg";
  const span = high - low || 1;
  const y = (v) => (58 - ((Math.min(high, Math.max(low, v)) - low) / span) * 56).toFixed(1);
  const shapes = [];
  for (const [value, cls] of levels) {
    const el = document.createElementNS(ns, "line");
    el.setAttribute("x1", "0");
    el.setAttribute("x2", "240");
    el.setAttribute("y1", y(value));
    el.setAttribute("y2", y(value));
    el.setAttribute("class", cls);
    shapes.push(el);
  }
  if (values.length > 1) {
    const step = 240 / (values.length - 1);
    const path = document.createElementNS(ns, "polyline");
    path.setAttribute("points", values.map((v, i) => `${(i * step).toFixed(1)},${y(v)}`).join(" "));
    path.setAttribute("class", "trend");
    shapes.push(path);
  }
  svg.replaceChildren(...shapes);
}

// The buffer of serials and SSCCs from the serial authority: what is left, for how long.
function renderSerials(serials, batch) {
  const list = $("serial-scopes");
  list.replaceChildren();
  if (!serials) {
    list.append(item("Local allocator (no serial authority)", "none"));
    $("serials-detail").textContent = "";
    $("serials").dataset.low = "false";
    return;
  }
  let low = false;
  for (const scope of serials.scopes) {
    const what = scope.kind === "sgtin" ? `GTIN ${scope.scope}` : `SSCC ${scope.scope.slice(1)}`;
    const unit = scope.kind === "sgtin" ? "serials" : "SSCCs";
    const li = document.createElement("li");
    li.dataset.kind = scope.kind;
    li.dataset.scope = scope.scope;
    li.dataset.low = String(scope.low);
    if (batch && scope.kind === "sgtin" && scope.scope === batch.gtin) li.dataset.current = "true";
    const label = document.createElement("b");
    label.textContent = what;
    const left = document.createElement("span");
    left.className = "left";
    left.textContent = `${scope.remaining.toLocaleString("en")} ${unit} · ${duration(scope.minutes_left)} left`;
    li.append(label, left);
    list.append(li);
    low = low || scope.low;
  }
  $("serials").dataset.low = String(low && !serials.reachable);
  const since = serials.unreachable_since ? ` since ${serials.unreachable_since.slice(11, 19)}` : "";
  const waiting = serials.reports_waiting ? ` · ${serials.reports_waiting} reports waiting` : "";
  $("serials-detail").textContent =
    (serials.reachable ? "authority reachable" : `authority UNREACHABLE${since}`) + waiting;
}

function duration(minutes) {
  const seconds = Math.floor(minutes * 60);
  const hours = Math.floor(seconds / 3600);
  const rest = Math.floor((seconds % 3600) / 60);
  if (hours > 0) return `${hours} h ${String(rest).padStart(2, "0")} min`;
  return rest > 0 ? `${rest} min` : `${seconds} s`;
}

function renderOffline(error) {
  const view = $("line-state");
  view.dataset.state = "offline";
  $("state-text").textContent = "OFFLINE";
  $("state-note").textContent = `No answer from the agent (${error.message})`;
  setLink("link-agent", false);
  setLink("link-broker", false);
  setLink("link-plc", false);
  $("rate").textContent = "—";
  setButtons(undefined);
}

function renderRejects(data) {
  const key = JSON.stringify(data);
  if (key === hmi.rejectsKey) return; // unchanged: keep the images, no flicker
  hmi.rejectsKey = key;
  const total = Object.values(data.reasons).reduce((a, b) => a + b, 0);
  $("reject-summary").textContent = total > 0 ? `· ${total} in lot ${data.lot}` : "";
  const chips = $("reasons");
  chips.replaceChildren();
  for (const [outcome, count] of Object.entries(data.reasons)) {
    const chip = document.createElement("span");
    chip.className = "reason-chip";
    chip.dataset.outcome = outcome;
    chip.textContent = `${outcome.replaceAll("_", " ")}: ${count}`;
    chips.append(chip);
  }
  const rows = $("reject-rows");
  rows.replaceChildren();
  if (data.units.length === 0) {
    const tr = document.createElement("tr");
    tr.className = "none";
    tr.append(cell("No rejects in this batch", ""));
    tr.firstChild.colSpan = 4;
    rows.append(tr);
  }
  for (const unit of data.units) {
    const tr = document.createElement("tr");
    tr.dataset.serial = unit.serial;
    tr.dataset.state = unit.state;
    tr.append(
      cell(clockTime(unit.at), "mono"),
      cell(unit.serial, "mono"),
      cell(unit.state === "scrapped" ? `scrapped: ${unit.reason}` : unit.reason, "reason"),
    );
    const image = document.createElement("td");
    if (unit.image) {
      const url = `/hmi/api/units/${encodeURIComponent(unit.gtin)}/${encodeURIComponent(unit.serial)}/image`;
      const link = document.createElement("a");
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener";
      const img = document.createElement("img");
      img.src = url;
      img.alt = `Camera image of ${unit.serial}`;
      link.append(img);
      image.append(link);
    } else {
      image.textContent = "—";
    }
    tr.append(image);
    rows.append(tr);
  }
}

function setLink(id, ok) {
  $(id).dataset.ok = String(Boolean(ok));
}

function setButtons(state) {
  // state: undefined offline, null no batch, else the batch state
  const online = state !== undefined;
  $("btn-start").disabled = hmi.busy || !online || state !== null;
  $("btn-pause").disabled = hmi.busy || state !== "running";
  $("btn-resume").disabled = hmi.busy || !(state === "paused" || state === "stopped");
  $("btn-stop").disabled = hmi.busy || !(state === "running" || state === "paused");
  $("btn-close").disabled = hmi.busy || state !== "stopped";
}

function rate(batch, printed) {
  if (!batch) {
    hmi.samples = [];
    hmi.batchId = null;
    return "0";
  }
  const now = performance.now() / 1000;
  if (batch.id !== hmi.batchId) {
    hmi.batchId = batch.id;
    hmi.samples = [];
  }
  hmi.samples.push([now, printed]);
  while (hmi.samples.length > 2 && now - hmi.samples[0][0] > RATE_WINDOW_S) hmi.samples.shift();
  const [t0, p0] = hmi.samples[0];
  const span = now - t0;
  if (span < 2) return "…";
  return Math.round(((printed - p0) / span) * 60).toLocaleString("en");
}

function item(text, className) {
  const li = document.createElement("li");
  li.className = className;
  li.textContent = text;
  return li;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.className = className;
  td.textContent = text;
  return td;
}

function clockTime(iso) {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : at.toLocaleTimeString("en-GB");
}

// GS1 expiry YYMMDD, year in the window of -49..+50 years around now; day 00: end of month.
function expiryText(value) {
  const match = /^(\d\d)(\d\d)(\d\d)$/.exec(value || "");
  if (!match) return "expected YYMMDD";
  const [yy, mm, dd] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const current = new Date().getFullYear();
  let year = Math.floor(current / 100) * 100 + yy;
  if (year - current > 50) year -= 100;
  if (year - current < -49) year += 100;
  if (mm < 1 || mm > 12) return "month must be 01..12";
  const last = new Date(Date.UTC(year, mm, 0)).getUTCDate();
  if (dd > last) return `day must be 00..${last}`;
  return dd === 0 ? `end of ${MONTHS[mm - 1]} ${year}` : `${dd} ${MONTHS[mm - 1]} ${year}`;
}

function showMessage(text, kind) {
  const message = $("message");
  message.textContent = text;
  message.dataset.kind = kind;
}

// --- commands ----------------------------------------------------------------------------

async function run(path, body, done) {
  hmi.busy = true;
  setButtons(hmi.status ? (hmi.status.batch ? hmi.status.batch.state : null) : undefined);
  try {
    const result = await command(path, body);
    done(result);
    return result;
  } finally {
    hmi.busy = false;
  }
}

async function simple(action) {
  if (session() === null) {
    openLogin("Sign in to control the line.");
    return;
  }
  try {
    await run(`/batch/${action}`, {}, (result) =>
      showMessage(`Batch ${result.batch.lot}: ${result.batch.state}`, "ok"));
  } catch (error) {
    showMessage(error.message, "error");
  }
}

function openStart() {
  if (session() === null) {
    openLogin("Sign in to control the line.");
    return;
  }
  const byRule = Boolean(hmi.line && hmi.line.rule_lots);
  $("start-error").textContent = "";
  $("start-lot").value = "";
  $("start-lot").required = !byRule;
  $("start-lot").placeholder = byRule ? "empty: by rule" : "e.g. L2411A";
  $("start-lot-hint").textContent = byRule ? "(empty: the next lot by rule)" : "";
  $("start-expiry").value = "";
  $("start-expiry").required = !byRule;
  $("start-expiry").placeholder = byRule ? "empty: from the shelf life" : "281130";
  $("start-expiry-text").textContent = "";
  $("start-expiry-reason").value = "";
  $("start-reason-label").hidden = !byRule;
  $("start-planned").value = "";
  $("start-dialog").showModal();
  $("start-lot").focus();
}

async function submitStart(event) {
  event.preventDefault();
  const reason = $("start-expiry-reason").value.trim();
  const body = {
    gtin: $("start-gtin").value,
    lot: $("start-lot").value.trim() || null,
    expiry: $("start-expiry").value.trim() || null,
    planned: Number.parseInt($("start-planned").value, 10),
  };
  if (reason) body.expiry_reason = reason;
  try {
    await run("/batch/start", body, (result) => {
      $("start-dialog").close();
      showMessage(`Batch ${result.batch.lot} started`, "ok");
    });
  } catch (error) {
    $("start-error").textContent = error.message;
  }
}

function openStop() {
  if (session() === null) {
    openLogin("Sign in to control the line.");
    return;
  }
  $("stop-error").textContent = "";
  $("stop-reason").value = "";
  $("stop-dialog").showModal();
}

async function submitStop(event) {
  event.preventDefault();
  const reason = $("stop-reason").value.trim();
  try {
    await run("/batch/stop", reason ? { reason } : {}, (result) => {
      $("stop-dialog").close();
      showMessage(`Batch ${result.batch.lot}: stopped`, "ok");
    });
  } catch (error) {
    $("stop-error").textContent = error.message;
  }
}

function showReconciliation(rec) {
  for (const name of ["printed", "commissioned", "rejected", "sampled", "scrapped"]) {
    $(`rec-${name}`).textContent = rec[name].toLocaleString("en");
  }
  const difference = $("rec-difference");
  difference.textContent = rec.difference > 0 ? `+${rec.difference}` : String(rec.difference);
  difference.dataset.off = String(rec.difference !== 0);
  $("rec-in-flight").textContent = String(rec.in_flight);
  $("rec-in-flight").dataset.off = String(rec.in_flight !== 0);
}

function equation(rec) {
  return `printed ${rec.printed} = commissioned ${rec.commissioned} + rejected ${rec.rejected}` +
    ` + sampled ${rec.sampled} + scrapped ${rec.scrapped}`;
}

function setVerdict(text, balanced) {
  const verdict = $("close-verdict");
  verdict.textContent = text;
  verdict.dataset.balanced = String(balanced);
}

async function openClose() {
  if (session() === null) {
    openLogin("Sign in to control the line.");
    return;
  }
  let status;
  try {
    status = await request("GET", "/status"); // the counts of this moment, not of the last poll
  } catch (error) {
    showMessage(error.message, "error");
    return;
  }
  if (!status.batch) return;
  const rec = status.reconciliation;
  $("close-lot").textContent = status.batch.lot;
  $("close-error").textContent = "";
  $("close-submit").hidden = false;
  $("close-cancel").textContent = "Cancel";
  showReconciliation(rec);
  setVerdict(rec.balanced ? "Balanced: the batch can be closed." : "Does not balance yet.", rec.balanced);
  $("close-dialog").showModal();
}

async function submitClose(event) {
  event.preventDefault();
  $("close-error").textContent = "";
  setVerdict("Closing: packing the partial case and pallet…", true);
  try {
    await run("/batch/close", undefined, (result) => {
      const rec = result.reconciliation;
      showReconciliation(rec);
      setVerdict(`Batch ${result.batch.lot} closed. ${equation(rec)} (balanced)`, true);
      $("close-submit").hidden = true;
      $("close-cancel").textContent = "Done";
      showMessage(`Batch ${result.batch.lot} closed`, "ok");
    });
  } catch (error) {
    const rec = error.body && error.body.reconciliation;
    if (rec) {
      showReconciliation(rec);
      const off = [];
      if (rec.difference !== 0) off.push(`difference ${rec.difference > 0 ? "+" : ""}${rec.difference}`);
      if (rec.in_flight !== 0) off.push(`${rec.in_flight} in flight`);
      setVerdict(`Close refused: ${off.join(", ")}. A QA deviation is needed.`, false);
    } else {
      setVerdict("Close refused.", false);
    }
    $("close-error").textContent = error.message;
    showMessage(`Close refused: ${error.message}`, "error");
  }
}

// --- orders released to the line -----------------------------------------------------------

async function pollOrders() {
  try {
    const data = await request("GET", "/orders");
    renderOrders(data.orders || []);
  } catch (_) {
    // the agent is offline: the status poll says so
  } finally {
    setTimeout(pollOrders, 2000);
  }
}

function renderOrders(orders) {
  $("orders-panel").hidden = !(hmi.line && hmi.line.rule_lots);
  const busy = Boolean(hmi.status && hmi.status.batch);
  const key = JSON.stringify([busy, orders.map((o) => [o.id, o.state])]);
  if (key === hmi.ordersKey) return;
  hmi.ordersKey = key;
  hmi.orders = orders;
  const rows = $("order-rows");
  rows.replaceChildren();
  if (orders.length === 0) {
    const tr = document.createElement("tr");
    tr.className = "none";
    const td = document.createElement("td");
    td.colSpan = 6;
    td.textContent = "No order waiting";
    tr.append(td);
    rows.append(tr);
    return;
  }
  for (const order of orders) {
    const tr = document.createElement("tr");
    tr.dataset.order = String(order.id);
    for (const text of [order.number, `${productName(order.gtin)} ${order.gtin}`, order.lot,
      `${order.expiry} (${expiryText(order.expiry)})`, order.planned.toLocaleString("en")]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    const td = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn start small";
    button.textContent = "Confirm";
    button.disabled = busy;
    button.addEventListener("click", () => openConfirm(order));
    td.append(button);
    tr.append(td);
    rows.append(tr);
  }
}

function openConfirm(order) {
  if (session() === null) {
    openLogin("Sign in to confirm an order.");
    return;
  }
  hmi.confirming = order;
  $("confirm-error").textContent = "";
  $("confirm-number").textContent = order.number;
  const details = $("confirm-details");
  details.replaceChildren();
  const fields = [
    ["Product", `${productName(order.gtin)} (${order.gtin})`],
    ["Lot", order.lot],
    ["Made", order.manufacturing_date],
    ["Expiry", `${order.expiry} (${expiryText(order.expiry)})`],
    ["Planned", order.planned.toLocaleString("en")],
  ];
  for (const [label, value] of fields) {
    const div = document.createElement("div");
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    div.append(dt, dd);
    details.append(div);
  }
  $("confirm-dialog").showModal();
  $("confirm-operator").focus();
}

async function submitConfirm(event) {
  event.preventDefault();
  const order = hmi.confirming;
  try {
    await run(`/orders/${order.id}/confirm`, { operator: $("confirm-operator").value.trim() },
      (result) => {
        $("confirm-dialog").close();
        hmi.ordersKey = "";
        showMessage(`Order ${order.number}: batch ${result.batch.lot} started`, "ok");
      });
  } catch (error) {
    $("confirm-error").textContent = error.message;
  }
}

// --- wiring ---------------------------------------------------------------------------------

function tick() {
  $("clock").textContent = new Date().toLocaleTimeString("en-GB");
}

document.addEventListener("DOMContentLoaded", () => {
  $("btn-login").addEventListener("click", loginButton);
  $("login-form").addEventListener("submit", submitLogin);
  $("login-cancel").addEventListener("click", () => $("login-dialog").close());
  renderSession();
  $("btn-start").addEventListener("click", openStart);
  $("btn-pause").addEventListener("click", () => simple("pause"));
  $("btn-resume").addEventListener("click", () => simple("resume"));
  $("btn-stop").addEventListener("click", openStop);
  $("btn-close").addEventListener("click", openClose);
  $("start-form").addEventListener("submit", submitStart);
  $("start-cancel").addEventListener("click", () => $("start-dialog").close());
  $("start-expiry").addEventListener("input", () => {
    $("start-expiry-text").textContent = expiryText($("start-expiry").value.trim());
  });
  $("stop-form").addEventListener("submit", submitStop);
  $("stop-cancel").addEventListener("click", () => $("stop-dialog").close());
  $("close-form").addEventListener("submit", submitClose);
  $("close-cancel").addEventListener("click", () => $("close-dialog").close());
  $("confirm-form").addEventListener("submit", submitConfirm);
  $("confirm-cancel").addEventListener("click", () => $("confirm-dialog").close());
  $("start-expiry").addEventListener("input", () => {
    $("start-reason-label").hidden = !(hmi.line && hmi.line.rule_lots);
  });
  tick();
  setInterval(tick, 1000);
  poll();
  pollOrders();
});
