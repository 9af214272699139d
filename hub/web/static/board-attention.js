// The board's attention (loaded before board.js): a new emergency sounds (WebAudio), shows a
// desktop notification and flashes the title until it is opened.
// Owns: the sound toggle and its remembered choice, the tones, desktop notifications, the
// set of emergencies not yet opened on this board (unseen) and the title flash.
// Reads board.js's state (alerts, selected, staff, nameOf, hhmm) only when called, after
// every script has loaded; plain scripts share one global scope.
"use strict";

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
