// The control-centre board: residents, the alert queue and alert work, live over SSE.
// Plain JS on purpose: the hub serves it as is, with no build step to run. Three plain
// scripts share one global scope, loaded in this order by templates/board.html:
//   /static/board-attention.js  sound, desktop notification, title flash;
//   /static/board-detail.js     the alert detail and its work;
//   /board.js (this file)       words, the board's state, sign-in, the stream, the queue and
//                               the residents; it starts the board, so it comes last.
"use strict";

const $ = (id) => document.getElementById(id);

// -- words -------------------------------------------------------------------------------
// Every word comes from the glossary (protocol/glossary.py, JSON in base.html), so "이송"
// here is "이송" in the reports and the history.
const WORDS = JSON.parse($("glossary").textContent);
const KIND = WORDS.alert_kind;
const STAGE = WORDS.stage;
const OUTCOME = WORDS.outcome;
const STEP = WORDS.step;
const DEVICE = WORDS.device_kind;
const ROLE = WORDS.contact_role;
const ONE_TIME = new Set(Object.keys(WORDS.one_time_step));  // protocol/vocab.py ONE_TIME_STEPS
window.anbuOneTimeSteps = [...ONE_TIME].sort();
const STATE = WORDS.resident_state;
const WHAT = WORDS.timeline;
const GUARDIAN_ACK = "보호자 확인 중 (관제센터 접수 아님)";
const DELIVERY = WORDS.delivery;
const NOTE = { ...ROLE, ...WORDS.reason, resolved: "" };
const SEVERITY = { emergency: 0, monitoring_lost: 1, inactivity: 2, vital_out_of_range: 3,
  water_running: 4, device_offline: 5 };
const CENTRE_WORK = new Set(["acknowledged", "resolved", ...Object.keys(STEP)]);

const esc = (s) => String(s ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const KST = { timeZone: "Asia/Seoul" };
const time = (iso) => iso ? new Date(iso).toLocaleString("ko-KR", { ...KST, month: "numeric",
  day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }) : "-";
const hhmm = (iso) => new Date(iso).toLocaleTimeString("ko-KR",
  { ...KST, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

// +821012345678 -> 010-1234-5678 (02 numbers: 02-123-4567); masked: 010-****-5678.
function phoneParts(phone) {
  const digits = String(phone ?? "").replace(/[^\d+]/g, "");
  const n = digits.startsWith("+82") ? `0${digits.slice(3)}` : digits;
  if (n.length < 9) return [n];
  const head = n.startsWith("02") ? 2 : 3;
  return [n.slice(0, head), n.slice(head, -4), n.slice(-4)];
}
const masked = (phone) => { const p = phoneParts(phone); return p.length < 3 ? "****" : `${p[0]}-****-${p[2]}`; };
// A masked number (what officials get) is shown, not dialled.
const telLink = (phone) => !phone ? "" : String(phone).includes("*") ? esc(phone)
  : `<a href="tel:${esc(String(phone).replace(/[^\d+]/g, ""))}">${esc(phoneParts(phone).join("-"))}</a>`;

// -- sign-in, the hub's clock, live updates ---------------------------------------------------

let me = null;
let residents = [];
let alerts = [];
let selected = null;
const staff = () => me && me.role !== "official";

// The session cookie (HttpOnly) goes with every request; changes carry the CSRF token the
// hub set beside it (hub/api/sessions.py).
const csrf = () => (document.cookie.match(/(?:^|; )anbu_csrf=([^;]*)/) || [])[1] || "";
const toLogin = () => { location.href = `/login?next=${encodeURIComponent(location.pathname + location.hash)}`; };
const enc = encodeURIComponent;

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf(),
      ...(options.headers || {}) } });
  if (response.status === 401) toLogin();
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(typeof body.detail === "string" ? body.detail : `HTTP ${response.status}`);
  }
  return response.json();
}

async function start() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    // A link with the token (the demo prints one) signs in once; the token then leaves the
    // address bar and history, and the session cookie carries on.
    history.replaceState(null, "", location.pathname);
    const form = new URLSearchParams({ token: fromHash, next: location.pathname });
    const signed = await fetch("/login", { method: "POST", body: form,
      credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!signed.ok) return toLogin();
    location.reload();
    return;
  }
  try {
    me = await api("/api/v1/me");
  } catch (error) {
    return toLogin();
  }
  if (me.role === "official") $("worklists").classList.remove("hidden");
  if ($("sound")) {
    $("sound").onclick = toggleSound;
    if (sound.wanted) {
      // Remembered on: the browser still wants a gesture on this page before it plays.
      audio();
      for (const kind of ["pointerdown", "keydown"]) document.addEventListener(kind, audio, { once: true });
    }
    showSound();
  }
  $("f-state").innerHTML += Object.entries(STATE)
    .map(([k, w]) => `<option value="${k}">${esc(w)}</option>`).join("");
  for (const id of ["f-district", "f-state"]) $(id).onchange = renderResidents;
  $("f-search").oninput = renderResidents;
  $("c-cancel").onclick = () => $("confirm").close();
  await refresh();
  // /board#alert=<id> (a link from the residents' pages, or a reload) opens that alert.
  window.addEventListener("hashchange", openLinked);
  openLinked();
  listen();
  setInterval(tick, 1000);
  checkClock();
  setInterval(checkClock, 30000);
}

function clockNotice(clock) {
  // GET /health's clock (hub/clock_check.py): the hub's clock against the devices' or the DB's.
  if (!clock || clock.skew_s === null || clock.skew_s === undefined) return "";
  const skew = clock.skew_s;
  if (Math.abs(skew) <= clock.max_skew_s) return "";
  const hours = Math.abs(skew) / 3600;
  const amount = hours >= 1 ? `${hours.toFixed(1)}시간` : `${Math.round(Math.abs(skew) / 60)}분`;
  const way = skew > 0 ? "빠릅니다" : "느립니다";
  const against = clock.source === "devices" ? "기기들의 시계" : "데이터베이스 시계";
  return `허브 시계가 ${against}보다 ${amount} ${way}. 기기 시각에 맞춰 판단하고 있으니 ` +
    "허브의 시간 설정(NTP)을 확인해 주세요.";
}

async function checkClock() {
  try {
    const text = clockNotice((await (await fetch("/health")).json()).clock);
    $("clock-notice").textContent = text;
    $("clock-notice").classList.toggle("hidden", !text);
  } catch (error) {
    console.warn("health", error);
  }
}

async function listen() {
  for (;;) {
    try {
      const response = await fetch("/api/v1/stream", { credentials: "same-origin" });
      if (response.status === 401) return toLogin();
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      $("live").classList.add("on");
      $("live").textContent = "실시간 연결됨";
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.includes("event: change")) scheduleRefresh();
        }
      }
    } catch (error) {
      console.warn("stream", error);
    }
    $("live").classList.remove("on");
    $("live").textContent = "연결 끊김 · 다시 연결 중";
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

let refreshing = null;
let again = false;

function scheduleRefresh() {
  // At once if idle; otherwise once more when the running refresh ends (bursts coalesce).
  if (refreshing) { again = true; return; }
  refreshing = refresh().catch((error) => console.warn("refresh", error)).finally(() => {
    refreshing = null;
    if (again) { again = false; scheduleRefresh(); }
  });
}

async function refresh() {
  [residents, alerts] = await Promise.all([
    api("/api/v1/residents"),
    api("/api/v1/alerts?limit=300"),
  ]);
  const districts = [...new Set(residents.map((r) => r.district))].sort();
  const select = $("f-district");
  const current = select.value;
  select.innerHTML = '<option value="">전체 지역</option>' +
    districts.map((d) => `<option>${esc(d)}</option>`).join("");
  select.value = current;
  attend();
  renderQueue();
  renderResidents();
  if (me.role === "official") await renderWorklists();
  await renderSensors();
  if (selected) await renderDetail(selected).catch((error) => say(`경보를 열지 못했습니다: ${error.message}`));
}

// -- the queue and the residents ---------------------------------------------------------

function openAlerts() {
  return alerts.filter((a) => a.state !== "resolved").sort((a, b) =>
    (SEVERITY[a.kind] ?? 9) - (SEVERITY[b.kind] ?? 9) ||
    (a.state === "open" ? 0 : 1) - (b.state === "open" ? 0 : 1) ||
    new Date(a.opened_at) - new Date(b.opened_at));
}

const nameOf = (residentId) => residents.find((r) => r.id === residentId)?.name ?? residentId;
const centreAck = (timeline) => timeline.find((t) => t.what === "acknowledged" && t.note !== "guardian");
const guardianMarks = (timeline) => timeline.filter((t) => t.what === "guardian_checking" ||
  (t.what === "acknowledged" && t.note === "guardian"));
// The answer timer runs on an emergency the centre has not acknowledged, for those who answer.
// answer_due_at is set while an emergency waits for the centre's own 접수 (a guardian's tap
// is not it), from the resident's emergency_ack_within (hub/store/alert_reads.py).
const timed = (a) => staff() && a.kind === "emergency" && a.state !== "resolved" && !!a.answer_due_at;

function stateWord(alert, timeline) {
  // With a timeline (the detail) the centre's 접수 is read from it; in the list, an
  // acknowledged alert a guardian is checking was acknowledged by the guardian only.
  if (alert.state === "resolved") return `종료 (${OUTCOME[alert.outcome] ?? alert.outcome ?? ""})`;
  if (alert.state === "open") return "접수 전";
  if (timeline) return centreAck(timeline) ? "접수됨" : "접수 전";
  return alert.guardian_checking ? "접수 전" : "접수됨";
}

const wholeSeconds = (ms) => Math.max(0, Math.floor(ms / 1000));
const clockSpan = (s) => s < 3600 ? `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`
  : `${Math.floor(s / 3600)}시간 ${Math.floor(s % 3600 / 60)}분`;
const targetText = (s) => s < 120 || s % 60 ? `${s}초` : s < 7200 ? `${s / 60}분` : clockSpan(s);

function ageText(alert) {
  const opened = new Date(alert.opened_at), due = new Date(alert.answer_due_at);
  const age = wholeSeconds(Date.now() - opened);
  return { text: `${clockSpan(age)} / 목표 ${targetText(wholeSeconds(due - opened))}`,
    late: Date.now() > due };
}

function keepFocus(container, key, draw) {
  // Live refreshes redraw; a keyboard user's place (the focused button) must survive it.
  const active = document.activeElement;
  const had = container.contains(active) ? active.dataset[key] : undefined;
  draw();
  if (had === undefined) return;
  const again = [...container.querySelectorAll("button")].find((b) => b.dataset[key] === had && !b.disabled)
    ?? container.querySelector("button:not(:disabled)");
  again?.focus();
}

function renderQueue() {
  const queue = openAlerts();
  $("queue-count").textContent = `(${queue.length})`;
  keepFocus($("queue"), "alert", () => {
    $("queue").innerHTML = queue.map((a) => {
      const checking = a.guardian_checking
        ? '<span class="badge checking" data-testid="queue-guardian">보호자 확인 중</span>' : "";
      const age = timed(a) ? `<span class="age" data-age="${esc(a.id)}" data-testid="queue-timer"></span>`
        : `<span class="age muted">발생 ${hhmm(a.opened_at)}</span>`;
      return `<li><button type="button" class="alert k-${esc(a.kind)} ${timed(a) ? "unanswered" : ""}"
          data-alert="${esc(a.id)}" data-testid="queue-item" aria-current="${a.id === selected}">
        ${age}<strong>${esc(nameOf(a.resident_id))}</strong> · ${esc(KIND[a.kind] ?? a.kind)}
        ${unseen.has(a.id) ? '<span class="badge new">새 경보</span>' : ""}<br>
        <span class="muted">${esc(STAGE[a.stage] ?? a.stage)} ·
          <span data-testid="queue-state">${stateWord(a)}</span></span>${checking}
      </button></li>`;
    }).join("") || '<li class="muted">열린 경보가 없습니다.</li>';
  });
  for (const item of document.querySelectorAll("#queue button")) {
    item.onclick = () => openDetail(item.dataset.alert, true);
  }
  tick();
}

function tick() {
  for (const span of document.querySelectorAll("#queue [data-age]")) {
    const alert = alerts.find((a) => a.id === span.dataset.age);
    if (!alert) continue;
    const age = ageText(alert);
    span.textContent = age.text;
    span.classList.toggle("late", age.late);
  }
  flashTitle();
}

function renderResidents() {
  const district = $("f-district").value;
  const state = $("f-state").value;
  const needle = $("f-search").value.trim();
  const shown = residents.filter((r) => (!district || r.district === district) &&
    (!state || r.state === state) &&
    (!needle || r.name.includes(needle) || r.id.includes(needle)));
  $("residents").innerHTML = shown.map((r) => `<tr data-resident="${esc(r.id)}">
      <td>${esc(r.name)} <span class="muted">${esc(r.id)}</span></td><td>${esc(r.district)}</td>
      <td><span class="state s-${esc(r.state)}">${esc(STATE[r.state] ?? r.state)}</span></td>
      <td>${time(r.last_activity_at)}</td></tr>`).join("");
}

async function renderWorklists() {
  const sixHours = Date.now() - 6 * 3600 * 1000;
  const fiveDays = Date.now() - 5 * 86400 * 1000;
  // "No activity for 6 h or more": nothing from the resident for 6 h, or never.
  const quiet = residents.filter((r) => !r.last_activity_at || new Date(r.last_activity_at) < sixHours);
  const devices = residents.filter((r) => r.device_problem_since &&
    new Date(r.device_problem_since) < fiveDays);
  const list = (items, line) => items.map((x) => `<li>${line(x)}</li>`).join("") || "<li class=muted>없음</li>";
  $("wl-quiet").innerHTML = list(quiet, (r) => `${esc(r.name)} · 마지막 활동 ${time(r.last_activity_at)}`);
  $("wl-devices").innerHTML = list(devices, (r) => `${esc(r.name)} · ${time(r.device_problem_since)}부터`);
  const [digest, trends] = await Promise.all([api("/api/v1/digest?days=3"), api("/api/v1/trends?days=30")]);
  $("wl-digest").innerHTML = list(digest, (d) => `${esc(d.name)} 어르신: ${esc(d.text)}`);
  $("wl-trends").innerHTML = list(trends, (t) => `${esc(t.name)} 어르신 · ${time(t.detected_at)}: ${esc(t.detail)}`);
}

async function renderSensors() {
  // Sensors behind the gateways (hub/api/worklists.py): the lines come worded from the hub.
  const list = (items, line) => items.map((x) => `<li>${line(x)}</li>`).join("") || "<li class=muted>없음</li>";
  const [health, batteries] = await Promise.all([api("/api/v1/sensors"), api("/api/v1/batteries")]);
  const lines = [...health.blind, ...health.sensors.filter((s) => s.line)];
  $("wl-sensors").innerHTML = list(lines, (s) => `${esc(s.name)} 어르신 · ${esc(s.line)}`);
  $("wl-batteries").innerHTML = list(batteries, (b) => `${esc(b.name)} 어르신 · ${esc(b.sensor)}` +
    (b.battery_pct === null ? "" : ` (${b.battery_pct}%)`));
}

start();
