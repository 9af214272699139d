// The control-centre board: residents, the alert queue and alert work, live over SSE.
// Plain JS on purpose: the hub serves it as is, with no build step to run.
// Sections: words · attention (sound, desktop notification, title) · sign-in and live
// updates · the queue and the residents · the alert detail and its work.
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
  device_offline: 4 };
const TARGET_S = 60;  // the centre's answer target for an emergency (emergency_ack_within)
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
const telLink = (phone) => phone
  ? `<a href="tel:${esc(String(phone).replace(/[^\d+]/g, ""))}">${esc(phoneParts(phone).join("-"))}</a>` : "";

// -- attention: sound, desktop notification, title ---------------------------------------
// Browsers play sound only after a click on the page: the operator turns it on once with
// "소리 켜기" (remembered here); that same click asks for desktop notifications.

const SOUND_KEY = "anbu.board.sound";
const sound = { wanted: localStorage.getItem(SOUND_KEY) === "on", ctx: null };
window.anbuSoundsPlayed = 0;
const baseTitle = document.title;
const unseen = new Set();   // open emergencies not yet opened on this board
let knownOpen = null;       // open emergencies at the last refresh (null: none yet)
let lastBeep = 0;

function audio() {
  if (!sound.ctx) sound.ctx = new (window.AudioContext || window.webkitAudioContext)();
  if (sound.ctx.state === "suspended") sound.ctx.resume().then(showSound, showSound);
  return sound.ctx;
}

function showSound() {
  const button = $("sound");
  if (!button) return;
  const running = sound.wanted && sound.ctx?.state === "running";
  button.textContent = running ? "소리 끄기" : sound.wanted ? "소리 켜기 (한 번 눌러 주세요)" : "소리 켜기";
  button.classList.toggle("on", running);
}

function toggleSound() {
  sound.wanted = !(sound.wanted && sound.ctx?.state === "running");
  localStorage.setItem(SOUND_KEY, sound.wanted ? "on" : "off");
  if (sound.wanted) {
    audio();
    // The same click may ask for desktop notifications (a browser asks only from a click).
    if ("Notification" in window && Notification.permission !== "denied") {
      Notification.requestPermission().catch(() => {});
    }
  }
  showSound();
}

function beep() {
  if (!sound.wanted || sound.ctx?.state !== "running") return;
  const ctx = sound.ctx;
  const start = ctx.currentTime + 0.02;
  [880, 660, 880].forEach((hz, i) => {
    const at = start + i * 0.28;
    const tone = ctx.createOscillator();
    const gain = ctx.createGain();
    tone.frequency.value = hz;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.4, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.25);
    tone.connect(gain).connect(ctx.destination);
    tone.start(at);
    tone.stop(at + 0.26);
  });
  lastBeep = Date.now();
  window.anbuSoundsPlayed += 1;
}

function notifyDesktop(alert) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  try {
    const note = new Notification(`긴급 호출 · ${nameOf(alert.resident_id)} 어르신`, {
      body: `${hhmm(alert.opened_at)} 발생 · 관제센터 접수 전`, tag: alert.id, requireInteraction: true });
    note.onclick = () => { window.focus(); openDetail(alert.id, true); note.close(); };
  } catch (error) {
    console.warn("notification", error);
  }
}

function attend() {
  // A new open emergency (or one open again) sounds, notifies and flashes the title.
  if (!staff()) return;
  const open = alerts.filter((a) => a.kind === "emergency" && a.state === "open");
  const ids = new Set(open.map((a) => a.id));
  for (const id of unseen) if (!ids.has(id)) unseen.delete(id);
  const fresh = open.filter((a) => !knownOpen?.has(a.id));
  knownOpen = ids;
  for (const a of fresh) {
    if (a.id !== selected) unseen.add(a.id);
    notifyDesktop(a);
  }
  if (fresh.length) beep();
}

function flashTitle() {
  if (!unseen.size) { document.title = baseTitle; return; }
  const first = alerts.find((a) => unseen.has(a.id));
  const phase = Math.floor(Date.now() / 1000) % 2;
  document.title = phase ? `(${unseen.size}) ${baseTitle}`
    : `(${unseen.size}) 긴급 호출 · ${first ? nameOf(first.resident_id) : ""} 어르신`;
  if (Date.now() - lastBeep > 15000) beep();  // unopened: remind every 15 s
}

// -- sign-in, the hub's clock, live updates ---------------------------------------------------

let me = null;
let residents = [];
let alerts = [];
let marks = {};   // alert id -> its timeline, for the queue's open emergencies and acks
let selected = null;
const staff = () => me && me.role !== "official";

// The session cookie (HttpOnly) goes with every request; changes carry the CSRF token the
// hub set beside it (hub/api/sessions.py).
const csrf = () => (document.cookie.match(/(?:^|; )anbu_csrf=([^;]*)/) || [])[1] || "";
const toLogin = () => { location.href = `/login?next=${encodeURIComponent(location.pathname)}`; };
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
  // The list has no timeline: a guardian's tap (보호자 확인 중) is read from the alert itself,
  // for the few alerts where it changes what the queue says.
  const asked = openAlerts().filter((a) => a.state === "open" ? a.kind === "emergency"
    : a.kind !== "emergency").slice(0, 30);
  const read = await Promise.all(asked.map((a) => api(`/api/v1/alerts/${enc(a.id)}`).catch(() => null)));
  marks = Object.fromEntries(read.filter(Boolean).map((a) => [a.id, a.timeline]));
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
  if (selected) await renderDetail(selected);
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
const timed = (a) => staff() && a.kind === "emergency" && a.state === "open";

function stateWord(alert, timeline) {
  if (alert.state === "resolved") return `종료 (${OUTCOME[alert.outcome] ?? alert.outcome ?? ""})`;
  if (alert.state === "open") return "접수 전";
  return !timeline || centreAck(timeline) ? "접수됨" : "접수 전";
}

function ageText(alert) {
  const seconds = Math.max(0, Math.floor((Date.now() - new Date(alert.opened_at)) / 1000));
  const shown = seconds < 3600 ? `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`
    : `${Math.floor(seconds / 3600)}시간 ${Math.floor(seconds % 3600 / 60)}분`;
  return { text: `${shown} / 목표 ${TARGET_S}초`, late: seconds > TARGET_S };
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
      const timeline = marks[a.id] ?? [];
      const checking = guardianMarks(timeline).length && !centreAck(timeline)
        ? '<span class="badge checking" data-testid="queue-guardian">보호자 확인 중</span>' : "";
      const age = timed(a) ? `<span class="age" data-age="${esc(a.id)}" data-testid="queue-timer"></span>`
        : `<span class="age muted">발생 ${hhmm(a.opened_at)}</span>`;
      return `<li><button type="button" class="alert k-${esc(a.kind)} ${timed(a) ? "unanswered" : ""}"
          data-alert="${esc(a.id)}" data-testid="queue-item" aria-current="${a.id === selected}">
        ${age}<strong>${esc(nameOf(a.resident_id))}</strong> · ${esc(KIND[a.kind] ?? a.kind)}
        ${unseen.has(a.id) ? '<span class="badge new">새 경보</span>' : ""}<br>
        <span class="muted">${esc(STAGE[a.stage] ?? a.stage)} ·
          <span data-testid="queue-state">${stateWord(a, marks[a.id])}</span></span>${checking}
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

// -- the alert detail and its work ---------------------------------------------------------
// The panel is built once per alert opened; live refreshes redraw its parts, never the note
// being typed or the outcome being chosen (drafts survive opening another alert, too).

const drafts = {};        // alert id -> { note, outcome, closing }
const openGroups = new Set();  // "alert|role|number" of notification groups left open
let detailRun = 0;

function openDetail(alertId, focus) {
  selected = alertId;
  unseen.delete(alertId);
  const draft = drafts[alertId] ??= { note: "", outcome: "", closing: "" };
  const outcomes = Object.entries(OUTCOME).map(([k, w]) => `<option value="${k}">${esc(w)}</option>`).join("");
  $("detail").innerHTML = `<h2 id="detail-title" tabindex="-1">경보 상세</h2>
    <div id="d-head"></div>
    <p id="d-msg" role="status" class="muted" data-testid="detail-message"></p>
    <div id="d-work" class="hidden">
      <div id="d-actions" class="buttons"></div>
      <label for="note-text">메모</label>
      <textarea id="note-text" rows="2" data-testid="note-text"></textarea>
      <div class="buttons"><button type="button" id="note-save" data-testid="do-note">메모 남기기</button></div>
      <fieldset class="resolve"><legend>경보 종료</legend>
        <label for="outcome">결과</label>
        <select id="outcome" data-testid="outcome"><option value="">결과를 고르세요</option>${outcomes}</select>
        <label for="closing-note">종료 메모 (선택)</label>
        <textarea id="closing-note" rows="2" data-testid="resolve-note"></textarea>
        <div class="buttons"><button type="button" id="resolve" data-testid="do-resolve" disabled>종료</button></div>
      </fieldset>
    </div>
    <h3>관제 처리 기록</h3><ol id="d-log" class="timeline" data-testid="centre-log"></ol>
    <h3>경보 경과</h3><ol id="d-events" class="timeline" data-testid="timeline"></ol>
    <div id="d-notes"></div><div id="d-resident"></div>`;
  const note = $("note-text"), outcome = $("outcome"), closing = $("closing-note");
  [note.value, outcome.value, closing.value] = [draft.note, draft.outcome, draft.closing];
  $("resolve").disabled = !outcome.value;
  note.oninput = () => { draft.note = note.value; };
  closing.oninput = () => { draft.closing = closing.value; };
  outcome.onchange = () => { draft.outcome = outcome.value; $("resolve").disabled = !outcome.value; };
  $("note-save").onclick = () => saveNote(alertId);
  $("resolve").onclick = () => confirmResolve(alertId);
  renderQueue();
  renderDetail(alertId).then(() => { if (focus) $("detail-title")?.focus(); });
}

function entryText(t, alert) {
  const label = t.what === "acknowledged" && t.note === "guardian" ? GUARDIAN_ACK
    : WHAT[t.what] ?? STEP[t.what] ??
      (t.what.startsWith("stage:") ? `단계: ${STAGE[t.what.slice(6)] ?? t.what.slice(6)}` : t.what);
  let extra = "";
  if (t.what === "note") extra = t.note ? `: ${esc(t.note)}` : "";
  else if (t.what === "resolved" && alert.outcome) extra = ` (결과: ${esc(OUTCOME[alert.outcome] ?? alert.outcome)})`;
  else if (t.note && NOTE[t.note] !== "" && t.what !== "acknowledged") {
    extra = ` (${esc(NOTE[t.note] ?? OUTCOME[t.note] ?? t.note)})`;
  } else if (t.note && STEP[t.what]) extra = `: ${esc(t.note)}`;
  return `${esc(label)}${t.by ? ` — ${esc(t.by)}` : ""}${extra}`;
}

function folded(entries, alert) {
  // Repeats (a delivery failing again and again) fold into one line with a count.
  const out = [];
  for (const t of entries) {
    const text = entryText(t, alert);
    const last = out[out.length - 1];
    if (last && last.text === text) { last.n += 1; last.lastAt = t.at; } else out.push({ text, at: t.at, n: 1 });
  }
  return out.map((l) => `<li>${time(l.at)} · ${l.text}${l.n > 1 ? ` <span class="muted">×${l.n}, 마지막 ${time(l.lastAt)}</span>` : ""}</li>`).join("");
}

function notificationGroups(alertId, notes) {
  const groups = new Map();
  for (const n of [...notes].sort((a, b) => a.id - b.id)) {
    const key = `${alertId}|${n.role}|${n.to}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(n);
  }
  const blocks = [...groups].map(([key, sent]) => {
    const last = sent[sent.length - 1];
    return `<details class="recipient" data-group="${esc(key)}" data-testid="recipient" ${openGroups.has(key) ? "open" : ""}>
      <summary>${esc(ROLE[last.role] ?? last.role)} · ${esc(masked(last.to))} · ${sent.length}건 ·
        최근 <span data-testid="recipient-state">${esc(DELIVERY[last.delivery] ?? last.delivery)}</span> ${time(last.created_at)}</summary>
      <ol>${sent.map((n) => `<li>${time(n.created_at)} · ${esc(STAGE[n.stage] ?? n.stage ?? "")}
        ${esc(DELIVERY[n.delivery] ?? n.delivery)}${n.provider ? ` (${esc(n.provider)})` : ""}</li>`).join("")}</ol>
    </details>`;
  });
  return `<h3>보낸 알림 (받는 사람별)</h3><div data-testid="notifications">${blocks.join("") || '<p class="muted">보낸 알림이 없습니다.</p>'}</div>`;
}

async function renderDetail(alertId) {
  const run = ++detailRun;
  const alert = await api(`/api/v1/alerts/${enc(alertId)}`);
  const [resident, activity, notes] = await Promise.all([
    api(`/api/v1/residents/${enc(alert.resident_id)}`),
    api(`/api/v1/residents/${enc(alert.resident_id)}/activity?days=14`),
    staff() ? api(`/api/v1/notifications?alert_id=${enc(alertId)}`) : Promise.resolve([]),
  ]);
  if (run !== detailRun || selected !== alertId || !$("d-head")) return;
  const open = alert.state !== "resolved";
  const checking = guardianMarks(alert.timeline);
  const acked = centreAck(alert.timeline);
  $("detail-title").textContent = `${resident.name} 어르신 · ${KIND[alert.kind] ?? alert.kind}`;
  $("d-head").innerHTML = `<p class="muted">${esc(STAGE[alert.stage] ?? alert.stage)} · 발생 ${time(alert.opened_at)} ·
      <span data-testid="alert-state">${esc(stateWord(alert, alert.timeline))}</span></p>
    ${checking.length && !acked && open ? `<p class="guardian-checking" data-testid="guardian-checking">보호자 확인 중
      (관제센터 접수 전) · ${checking.map((t) => `${esc(t.by)} ${hhmm(t.at)}`).join(", ")}</p>` : ""}
    ${alert.explanation ? `<p class="reason" data-testid="alert-reason">${esc(alert.explanation)}</p>` : ""}`;
  $("d-work").classList.toggle("hidden", !(staff() && open));
  if (staff() && open) keepFocus($("d-actions"), "key", () => { $("d-actions").innerHTML = actionButtons(alert, acked); });
  for (const button of document.querySelectorAll("#d-actions button")) {
    button.onclick = () => act(alert.id, button.dataset, button);
  }
  const work = alert.timeline.filter((t) => CENTRE_WORK.has(t.what) && !(t.what === "acknowledged" && t.note === "guardian"));
  const events = alert.timeline.filter((t) => !work.includes(t));
  $("d-log").innerHTML = work.map((t) => `<li>${time(t.at)} · ${entryText(t, alert)}</li>`).join("")
    || '<li class="muted">아직 기록이 없습니다.</li>';
  $("d-events").innerHTML = folded(events, alert);
  $("d-notes").innerHTML = staff() ? notificationGroups(alertId, notes) : "";
  for (const group of document.querySelectorAll("#d-notes details")) {
    group.ontoggle = () => { if (group.open) openGroups.add(group.dataset.group); else openGroups.delete(group.dataset.group); };
  }
  $("d-resident").innerHTML = residentInfo(resident, activity);
}

function actionButtons(alert, acked) {
  const ack = acked ? `<button type="button" data-key="ack" data-testid="do-ack" disabled>접수 · 완료 ${hhmm(acked.at)}</button>`
    : '<button type="button" class="primary" data-do="ack" data-key="ack" data-testid="do-ack">접수</button>';
  return ack + Object.entries(STEP).filter(([k]) => k !== "note").map(([k, label]) => {
    const done = alert.timeline.filter((t) => t.what === k);
    const last = done[done.length - 1];
    if (ONE_TIME.has(k) && done.length) {
      return `<button type="button" data-key="${k}" data-testid="do-${k}" disabled>${esc(label)} · 완료 ${hhmm(done[0].at)}</button>`;
    }
    return `<button type="button" data-step="${k}" data-key="${k}" data-testid="do-${k}">${esc(label)}${
      last ? ` <span class="muted">(${done.length}회 · 마지막 ${hhmm(last.at)})</span>` : ""}</button>`;
  }).join("");
}

function residentInfo(resident, activity) {
  const contacts = resident.contacts.map((c) => `<li>${esc(ROLE[c.role] ?? c.role)} ${esc(c.name)} ${telLink(c.phone)}</li>`).join("");
  const devices = resident.devices.map((d) => `<li>${esc(DEVICE[d.kind] ?? d.kind)} ${esc(d.id)} ·
    ${d.online ? "연결" : "끊김"} · 마지막 신호 ${time(d.last_seen_at)}</li>`).join("");
  return `<h3>어르신 정보</h3>
    <p>${esc(resident.address ?? "주소 미등록")} · ${esc(resident.district)}
      ${resident.phone ? `<br>어르신 전화 ${telLink(resident.phone)}` : ""}<br>마지막 활동 ${time(resident.last_activity_at)}</p>
    <h3>연락처</h3><ul data-testid="contacts">${contacts || '<li class="muted">없음</li>'}</ul>
    <h3>기기</h3><ul data-testid="devices">${devices || '<li class="muted">없음</li>'}</ul>
    <h3>최근 14일 활동</h3>${chart(activity)}`;
}

function chart(days) {
  if (!days.some((d) => d.activity > 0)) return '<p class="muted">최근 활동 기록이 없습니다.</p>';
  const max = Math.max(1, ...days.map((d) => d.activity));
  const step = 22;
  const width = step * days.length + 30;
  const bars = days.map((d, i) => {
    const h = Math.round(60 * d.activity / max);
    const x = 30 + i * step;
    return `<rect x="${x}" y="${70 - h}" width="${step - 6}" height="${h}"><title>${d.day}: ${d.activity}건</title></rect>
      <text x="${x + (step - 6) / 2}" y="84" font-size="10" text-anchor="middle" fill="#4b5563">${d.day.slice(8)}</text>
      ${d.activity ? `<text x="${x + (step - 6) / 2}" y="${66 - h}" font-size="10" text-anchor="middle">${d.activity}</text>` : ""}`;
  }).join("");
  return `<svg class="chart" width="${width}" height="90" role="img" aria-label="일별 활동 건수">
    <line x1="28" y1="70" x2="${width}" y2="70" stroke="#6b7280"/>
    <text x="0" y="14" font-size="10" fill="#4b5563">${max}건</text>${bars}</svg>`;
}

async function act(alertId, data, button) {
  button.disabled = true;  // one click, one request: a double click is not two steps
  const path = `/api/v1/alerts/${enc(alertId)}`;
  try {
    if (data.do === "ack") await api(`${path}/ack`, { method: "POST", body: "{}" });
    else await api(`${path}/actions`, { method: "POST", body: JSON.stringify({ step: data.step }) });
    say(`${data.do === "ack" ? "접수" : STEP[data.step]}을(를) 기록했습니다.`);
  } catch (error) {
    say(`처리하지 못했습니다: ${error.message}`);
  }
  await refresh();
}

function say(text) { if ($("d-msg")) $("d-msg").textContent = text; }

async function saveNote(alertId) {
  const text = $("note-text").value.trim();
  if (!text) { say("메모 내용을 적어 주세요."); $("note-text").focus(); return; }
  try {
    await api(`/api/v1/alerts/${enc(alertId)}/actions`, { method: "POST",
      body: JSON.stringify({ step: "note", note: text }) });
    drafts[alertId].note = "";
    $("note-text").value = "";
    say("메모를 남겼습니다.");
  } catch (error) {
    say(`메모를 남기지 못했습니다: ${error.message}`);
  }
  await refresh();
}

function confirmResolve(alertId) {
  const outcome = $("outcome").value;
  if (!outcome) return;
  const closing = $("closing-note").value.trim();
  $("c-who").textContent = $("detail-title").textContent;
  $("c-outcome").textContent = OUTCOME[outcome];
  $("c-note").textContent = closing || "없음";
  $("c-ok").onclick = async () => {
    $("confirm").close();
    const path = `/api/v1/alerts/${enc(alertId)}`;
    try {
      // The resolve carries no note: the note goes on the timeline just before it.
      if (closing) await api(`${path}/actions`, { method: "POST", body: JSON.stringify({ step: "note", note: closing }) });
      await api(`${path}/resolve`, { method: "POST", body: JSON.stringify({ outcome }) });
      delete drafts[alertId];
      say(`${OUTCOME[outcome]}(으)로 종료했습니다.`);
    } catch (error) {
      say(`종료하지 못했습니다: ${error.message}`);
    }
    await refresh();
    $("detail-title")?.focus();
  };
  $("confirm").showModal();
  $("c-ok").focus();
}

start();
