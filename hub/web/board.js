// The control-centre board: residents, the alert queue and alert work, live over SSE.
// Plain JS on purpose: the hub serves it as is, with no build step to run.
"use strict";

const KIND = { emergency: "긴급 호출", inactivity: "활동 없음", monitoring_lost: "모니터링 끊김",
  device_offline: "기기 끊김", vital_out_of_range: "건강 수치" };
const STAGE = { guardian: "보호자 단계", health_center: "보건소 단계", control_center: "관제 단계",
  official: "담당 공무원" };
const STATE = { normal: "정상", checkin_pending: "안부 확인 중", inactive_guardian: "활동 없음(보호자)",
  inactive_control_center: "활동 없음(관제)", emergency: "긴급", monitoring_lost: "모니터링 끊김",
  device_problem: "기기 문제", away: "부재" };
const STEP = { called_resident: "어르신과 통화", no_answer: "받지 않음", dispatched: "출동",
  called_119: "119 신고", note: "메모" };
const OUTCOME = { false_alarm: "오경보", resolved_by_phone: "전화로 해결", visited: "방문 확인",
  transported: "이송", resolved_by_guardian: "보호자 확인", other: "기타" };
const WHAT = { opened: "경보 발생", acknowledged: "접수", resolved: "종료",
  guardian_checking: "보호자 확인 중 (관제센터 접수 아님)",
  cancel_requested: "어르신의 취소 요청",
  held_quiet_hours: "보호자 방해 금지 시간: 알림 보류", delivery_failed: "문자 전달 실패",
  delivery_unknown: "문자 전달 미확인", backup_guardian_paged: "예비 보호자에게 연락",
  no_guardian_reachable: "연락되는 보호자 없음", digest_queued: "다음 근무일 요약에 추가",
  no_recipients: "받을 사람 없음", held_withdrawn: "보류된 보호자 문자 취소(경보 종료)",
  held_released: "보류된 보호자 문자 즉시 발송(경보 종료)" };
const DELIVERY = { pending: "대기", sending: "보내는 중", sent: "발송", delivered: "도착",
  failed: "실패", unknown: "미확인", withdrawn: "보내지 않음(경보 종료)" };
const SEVERITY = { emergency: 0, monitoring_lost: 1, inactivity: 2, vital_out_of_range: 3,
  device_offline: 4 };
const NOTE = { voice: "음성", button: "버튼", fall: "낙상 감지", app: "앱", sensor: "센서",
  guardian_after: "보호자 단계 시간 경과", control_center_after: "관제 단계 시간 경과",
  routine: "평소 생활과 다름",
  ack_resolve_within: "보호자 확인 후 미해결", guardian: "보호자", control_center: "관제센터",
  all_offline: "모든 기기 끊김", resolved: "", activity_resumed: "활동 재개",
  official: "담당 공무원", supervisor: "관제 책임자" };
const TARGET_S = 60;

let me = null;
let residents = [];
let alerts = [];
let selected = null;
const chosenOutcome = {};  // alert id -> outcome picked in the detail panel

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const time = (iso) => iso ? new Date(iso).toLocaleString("ko-KR",
  { timeZone: "Asia/Seoul", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit",
    second: "2-digit" }) : "-";

// The session cookie (HttpOnly) goes with every request; changes carry the CSRF token the
// hub set beside it (hub/api/sessions.py).
const csrf = () => (document.cookie.match(/(?:^|; )anbu_csrf=([^;]*)/) || [])[1] || "";
const toLogin = () => { location.href = `/login?next=${encodeURIComponent(location.pathname)}`; };

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

// -- sign-in ---------------------------------------------------------------------------

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
  for (const id of ["f-district", "f-state"]) $(id).onchange = renderResidents;
  $("f-search").oninput = renderResidents;
  await refresh();
  listen();
  setInterval(tick, 1000);
  checkClock();
  setInterval(checkClock, 30000);
}

// -- the hub's clock (GET /health's clock, hub/clock_check.py) -------------------------------

function clockNotice(clock) {
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
    const response = await fetch("/health");
    const text = clockNotice((await response.json()).clock);
    $("clock-notice").textContent = text;
    $("clock-notice").classList.toggle("hidden", !text);
  } catch (error) {
    console.warn("health", error);
  }
}


// -- live updates ----------------------------------------------------------------------

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

function nameOf(residentId) {
  return residents.find((r) => r.id === residentId)?.name ?? residentId;
}

function ageText(alert) {
  const seconds = Math.max(0, Math.floor((Date.now() - new Date(alert.opened_at)) / 1000));
  const late = alert.kind === "emergency" && alert.state === "open" && seconds > TARGET_S;
  const shown = seconds < 3600 ? `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`
    : `${Math.floor(seconds / 3600)}시간 ${Math.floor(seconds % 3600 / 60)}분`;
  return { text: `${shown} / 목표 ${TARGET_S}초`, late };
}

function renderQueue() {
  const queue = openAlerts();
  $("queue-count").textContent = `(${queue.length})`;
  $("queue").innerHTML = queue.map((a) => {
    const age = ageText(a);
    return `<div class="alert k-${esc(a.kind)} ${a.id === selected ? "selected" : ""}"
        data-alert="${esc(a.id)}" data-testid="queue-item">
      <span class="age ${age.late ? "late" : ""}" data-opened="${esc(a.opened_at)}">${age.text}</span>
      <strong>${esc(nameOf(a.resident_id))}</strong> · ${esc(KIND[a.kind] ?? a.kind)}<br>
      <span class="muted">${esc(STAGE[a.stage] ?? a.stage)} · ${a.state === "open" ? "접수 전" : "접수됨"}</span>
    </div>`;
  }).join("") || '<p class="muted">열린 경보가 없습니다.</p>';
  for (const item of document.querySelectorAll("#queue .alert")) {
    item.onclick = () => { selected = item.dataset.alert; renderQueue(); renderDetail(selected); };
  }
}

function tick() {
  for (const span of document.querySelectorAll("#queue .age")) {
    const alert = alerts.find((a) => a.opened_at === span.dataset.opened);
    if (!alert) continue;
    const age = ageText(alert);
    span.textContent = age.text;
    span.classList.toggle("late", age.late);
  }
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
  $("wl-quiet").innerHTML = quiet.map((r) => `<li>${esc(r.name)} · 마지막 활동 ${time(r.last_activity_at)}</li>`).join("")
    || "<li class=muted>없음</li>";
  $("wl-devices").innerHTML = devices.map((r) => `<li>${esc(r.name)} · ${time(r.device_problem_since)}부터</li>`).join("")
    || "<li class=muted>없음</li>";
  const digest = await api("/api/v1/digest?days=3");
  $("wl-digest").innerHTML = digest.map((d) => `<li>${esc(d.name)} 어르신: ${esc(d.text)}</li>`).join("")
    || "<li class=muted>없음</li>";
  const trends = await api("/api/v1/trends?days=30");
  $("wl-trends").innerHTML = trends.map((t) => `<li>${esc(t.name)} 어르신 · ${time(t.detected_at)}: ${esc(t.detail)}</li>`).join("")
    || "<li class=muted>없음</li>";
}

// -- alert detail ------------------------------------------------------------------------

async function renderDetail(alertId) {
  const alert = await api(`/api/v1/alerts/${encodeURIComponent(alertId)}`);
  const [resident, activity, notes] = await Promise.all([
    api(`/api/v1/residents/${encodeURIComponent(alert.resident_id)}`),
    api(`/api/v1/residents/${encodeURIComponent(alert.resident_id)}/activity?days=14`),
    me.role === "official" ? Promise.resolve([])
      : api(`/api/v1/notifications?alert_id=${encodeURIComponent(alertId)}`),
  ]);
  const lines = [
    ...alert.timeline.map((t) => ({ at: t.at, text: `${esc(WHAT[t.what] ?? STEP[t.what] ??
      (t.what.startsWith("stage:") ? `단계: ${STAGE[t.what.slice(6)] ?? t.what.slice(6)}` : t.what))}` +
      (t.by ? ` — ${esc(t.by)}` : "") + (t.note && NOTE[t.note] !== "" ? ` (${esc(NOTE[t.note] ?? OUTCOME[t.note] ?? t.note)})` : "") })),
    ...notes.map((n) => ({ at: n.created_at, text: `문자 → ${esc(roleName(n.role))}: ` +
      `${esc(DELIVERY[n.delivery] ?? n.delivery)}${n.provider ? ` (${esc(n.provider)})` : ""}` })),
  ].sort((a, b) => new Date(a.at) - new Date(b.at));
  const staff = me.role !== "official";
  const open = alert.state !== "resolved";
  $("detail").innerHTML = `
    <h2>${esc(resident.name)} 어르신 · ${esc(KIND[alert.kind] ?? alert.kind)}</h2>
    <p class="muted">${esc(STAGE[alert.stage] ?? alert.stage)} · 발생 ${time(alert.opened_at)} ·
      <span data-testid="alert-state">${alert.state === "open" ? "접수 전"
        : alert.state === "acknowledged" ? "접수됨" : `종료 (${esc(OUTCOME[alert.outcome] ?? alert.outcome)})`}</span></p>
    ${alert.explanation ? `<p class="reason" data-testid="alert-reason">${esc(alert.explanation)}</p>` : ""}
    ${staff && open ? `<div class="buttons">
      <button class="primary" data-do="ack" data-testid="do-ack">접수</button>
      ${Object.entries(STEP).filter(([k]) => k !== "note").map(([k, label]) =>
        `<button data-step="${k}" data-testid="do-${k}">${label}</button>`).join("")}
    </div><div class="buttons">
      <select id="outcome" data-testid="outcome">${["false_alarm", "resolved_by_phone", "visited",
        "transported", "other"].map((k) => `<option value="${k}">${OUTCOME[k]}</option>`).join("")}</select>
      <button data-do="resolve" data-testid="do-resolve">종료</button></div>` : ""}
    <h3>처리 경과</h3><ol class="timeline" data-testid="timeline">
      ${lines.map((l) => `<li>${time(l.at)} · ${l.text}</li>`).join("")}</ol>
    <h3>어르신 정보</h3>
    <p>${esc(resident.address ?? "주소 미등록")} · ${esc(resident.district)}<br>
      마지막 활동 ${time(resident.last_activity_at)}</p>
    <p class="muted">연락처: ${resident.contacts.map((c) => `${esc(roleName(c.role))} ${esc(c.name)} ${esc(c.phone)}`).join(", ") || "없음"}</p>
    <p class="muted">기기: ${resident.devices.map((d) => `${esc(d.id)}(${esc(d.kind)}) ${d.online ? "연결" : "끊김"}, 마지막 신호 ${time(d.last_seen_at)}`).join("; ") || "없음"}</p>
    <h3>최근 14일 활동</h3>${chart(activity)}`;
  // A live refresh redraws this panel; the operator's chosen outcome must survive it, or a
  // resolve clicked just after a refresh would file the default outcome instead.
  const outcome = $("outcome");
  if (outcome) {
    if (chosenOutcome[alert.id]) outcome.value = chosenOutcome[alert.id];
    outcome.onchange = () => { chosenOutcome[alert.id] = outcome.value; };
  }
  for (const button of document.querySelectorAll("#detail button")) {
    button.onclick = () => act(alert.id, button.dataset);
  }
}


function roleName(role) {
  return { guardian: "보호자", official: "담당 공무원", control_center: "관제센터",
    supervisor: "관제 책임자", health_center: "보건소" }[role] ?? role;
}

function chart(days) {
  if (!days.some((d) => d.activity > 0)) return '<p class="muted">최근 활동 기록이 없습니다.</p>';
  const max = Math.max(1, ...days.map((d) => d.activity));
  const step = 22;
  const width = step * days.length + 30;
  const bars = days.map((d, i) => {
    const h = Math.round(60 * d.activity / max);
    const x = 30 + i * step;
    const label = d.day.slice(8);  // day of month
    return `<rect x="${x}" y="${70 - h}" width="${step - 6}" height="${h}"><title>${d.day}: ${d.activity}건</title></rect>
      <text x="${x + (step - 6) / 2}" y="84" font-size="10" text-anchor="middle" fill="#6b7280">${label}</text>
      ${d.activity ? `<text x="${x + (step - 6) / 2}" y="${66 - h}" font-size="10" text-anchor="middle">${d.activity}</text>` : ""}`;
  }).join("");
  return `<svg class="chart" width="${width}" height="90" role="img" aria-label="일별 활동 건수">
    <line x1="28" y1="70" x2="${width}" y2="70" stroke="#9aa3af"/>
    <text x="0" y="14" font-size="10" fill="#6b7280">${max}건</text>${bars}</svg>`;
}

async function act(alertId, data) {
  try {
    if (data.do === "ack") await api(`/api/v1/alerts/${encodeURIComponent(alertId)}/ack`, { method: "POST", body: "{}" });
    else if (data.do === "resolve") await api(`/api/v1/alerts/${encodeURIComponent(alertId)}/resolve`,
      { method: "POST", body: JSON.stringify({ outcome: $("outcome").value }) });
    else await api(`/api/v1/alerts/${encodeURIComponent(alertId)}/actions`,
      { method: "POST", body: JSON.stringify({ step: data.step }) });
  } catch (error) {
    window.alert(`처리하지 못했습니다: ${error.message}`);
  }
  await refresh();
}

start();
