// The board's alert detail (loaded before board.js): the panel for one alert and its work.
// Owns: opening an alert (and the address's #alert=<id>), the panel's parts (head, the
// centre's own work, the alert's events folded, notifications per recipient, the resident),
// the step buttons, the note, and resolving with an outcome, a confirmation and an optional
// note sent in the same request.
// Reads board.js's state and words ($, api, refresh, WORDS...) only when called.
"use strict";

// -- the alert detail and its work ---------------------------------------------------------
// The panel is built once per alert opened; live refreshes redraw its parts, never the note
// being typed or the outcome being chosen (drafts survive opening another alert, too).

const drafts = {};        // alert id -> { note, outcome, closing }
const openGroups = new Set();  // "alert|role|number" of notification groups left open
let detailRun = 0;
// The alert opened by the operator waits for the panel's first full render to take focus:
// a refresh overtaking that render (an SSE event) would otherwise leave the title focused
// above a panel whose buttons come later, and Tab would miss them.
let focusWanted = null;

// The address keeps the alert open: /board#alert=<id> opens it (a link, a reload).
const linkedAlert = () => new URLSearchParams(location.hash.slice(1)).get("alert");

function openLinked() {
  const id = linkedAlert();
  if (id && id !== selected) openDetail(id, true);
}

function openDetail(alertId, focus) {
  selected = alertId;
  if (linkedAlert() !== alertId) {
    history.replaceState(null, "", `${location.pathname}${location.search}#alert=${enc(alertId)}`);
  }
  unseen.delete(alertId);
  const draft = drafts[alertId] ??= { note: "", outcome: "", closing: "" };
  const outcomes = Object.entries(OUTCOME).map(([k, w]) => `<option value="${k}">${esc(w)}</option>`).join("");
  $("detail").innerHTML = `<h2 id="detail-title" tabindex="-1">경보 상세</h2>
    <div id="d-head"></div>
    <p id="d-msg" role="status" class="muted" data-testid="detail-message"></p>
    <div id="d-work" class="hidden">
      <div id="d-actions" class="buttons"></div>
      <label for="note-text">메모</label>
      <textarea id="note-text" rows="2" maxlength="1000" data-testid="note-text"></textarea>
      <div class="buttons"><button type="button" id="note-save" data-testid="do-note">메모 남기기</button></div>
      <fieldset class="resolve"><legend>경보 종료</legend>
        <label for="outcome">결과</label>
        <select id="outcome" data-testid="outcome"><option value="">결과를 고르세요</option>${outcomes}</select>
        <label for="closing-note">종료 메모 (선택)</label>
        <textarea id="closing-note" rows="2" maxlength="500" data-testid="resolve-note"></textarea>
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
  focusWanted = focus ? alertId : null;
  renderDetail(alertId).then(() => {}, (error) => {
    // A link to an alert this user cannot see, or one that never was: say so in the panel.
    if (selected === alertId) say(`경보를 열지 못했습니다: ${error.message}`);
  });
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
  if (focusWanted === alertId) {
    focusWanted = null;
    $("detail-title")?.focus();
  }
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
    try {
      // One request: the hub files the note on the timeline just before the resolve.
      await api(`/api/v1/alerts/${enc(alertId)}/resolve`, { method: "POST",
        body: JSON.stringify(closing ? { outcome, note: closing } : { outcome }) });
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
