"""The AI speaker adapter: utterances and usage in, activity, emergencies and check-ins out.

Transcripts arrive from Home Assistant's open voice stack when ``[speaker.wyoming]`` is
configured (:mod:`edge.wyoming_speaker`, VOICE.md), and from the local feed (FEED.md), which
also takes what a speaker platform gives a third-party skill (usage such as music, radio or a
button). Every utterance and every use is activity; an emergency phrase (:mod:`edge.phrases`)
raises an emergency at once; a cancel phrase shortly after takes it back (the control centre
still calls); the first utterance after a spoken check-in answers it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from edge.adapter import AdapterBase, AgentPort, FeedError, FeedResult
from edge.config import SpeakerConfig
from edge.phrases import DEFAULT_RULES, Intent, PhraseRules, classify, normalize, strip_wake_words
from edge.tts import Speaker, Voice
from protocol.models import CheckinCommand

if TYPE_CHECKING:
    from edge.wyoming_speaker import WyomingVoice

log = structlog.get_logger(__name__)

_CHECKIN_KEY = "speaker.checkin"
_EMERGENCY_KEY = "speaker.last_emergency"


class SpeakerAdapter(AdapterBase):
    """An AI speaker in the resident's home."""

    kind = "speaker"

    def __init__(self, config: SpeakerConfig, *, speaker: Voice | None = None) -> None:
        self.config = config
        self.wyoming = _wyoming_voice(config)
        self.rules = PhraseRules(
            wake_words=tuple(config.wake_words)
            if config.wake_words is not None
            else DEFAULT_RULES.wake_words,
            emergency_phrases=tuple(config.emergency_phrases),
            cancel_phrases=tuple(config.cancel_phrases),
        )
        self.voice: Voice
        if speaker is not None:
            self.voice = speaker
        elif self.wyoming is not None and self.wyoming.can_speak:
            self.voice = self.wyoming
        else:
            self.voice = Speaker(config.tts_command)
        super().__init__()
        # An utterance (feed or Wyoming thread) and the check-in expiry (tick) must not both
        # answer.
        self._lock = threading.RLock()

    def start(self, agent: AgentPort) -> None:
        super().start(agent)
        if self.wyoming is not None:
            self.wyoming.start(lambda text, addressed: self.heard(text, addressed=addressed))

    def stop(self) -> None:
        """Stop listening over Wyoming; speech through a command ends by itself."""
        if self.wyoming is not None:
            self.wyoming.stop()

    def battery_pct(self) -> int | None:
        return None  # mains powered

    # -- feed ---------------------------------------------------------------------------

    def handle_feed(self, event: Mapping[str, Any], at: datetime, ref: str | None) -> FeedResult:
        with self._lock:
            return self._handle(event, at, ref)

    def _handle(self, event: Mapping[str, Any], at: datetime, ref: str | None) -> FeedResult:
        kind = event.get("type")
        if kind == "utterance":
            text = event.get("text")
            if not isinstance(text, str):
                msg = "utterance needs a string 'text'"
                raise FeedError(msg)
            return self._utterance(text, at, ref)
        if kind == "use":
            taken = self.agent.activity("speaker_use", at, ref=_sub(ref, "a"))
            return FeedResult("accepted" if taken else "duplicate")
        if kind == "sos":
            event_id = self.agent.emergency("button", None, at, ref=_sub(ref, "e"))
            self.agent.activity("speaker_use", at, ref=_sub(ref, "a"))
            return FeedResult("accepted" if event_id else "duplicate", "emergency")
        msg = f"unknown event type {kind!r} for a speaker (utterance, use, sos)"
        raise FeedError(msg)

    def utterance(self, text: str, at: datetime, ref: str | None = None) -> FeedResult:
        """The resident said ``text``. Emergency first: it is the one that must not be lost."""
        with self._lock:
            return self._utterance(text, at, ref)

    def heard(self, text: str, *, addressed: bool, at: datetime | None = None) -> FeedResult:
        """A transcript from the voice pipeline (the agent's clock if ``at`` is None).

        ``addressed`` is False when a satellite streamed speech without having heard its wake
        word (``--vad``). Such speech counts only when it starts with a wake word or answers
        a spoken check-in: a television saying "살려줘" must not page anyone, nor a radio
        show count as the resident being up.
        """
        with self._lock:
            when = at or self.agent.now()
            if not addressed and not self._wake_word_said(text) and not self._pending_checkin():
                log.info("speech not addressed to the speaker ignored")
                return FeedResult("ignored")
            return self._utterance(text, when, None)

    def _wake_word_said(self, text: str) -> bool:
        said = normalize(text)
        return bool(said) and strip_wake_words(said, self.rules) != said

    def _utterance(self, text: str, at: datetime, ref: str | None) -> FeedResult:
        intent = classify(text, self.rules)
        detail = ""
        if intent is Intent.EMERGENCY:
            event_id = self.agent.emergency("voice", text, at, ref=_sub(ref, "e"))
            if event_id is not None:
                self._remember_emergency(event_id, at)
            detail = "emergency"
        elif intent is Intent.CANCEL:
            detail = self._cancel(text, at, ref)
        self._answer_checkin(text, at)
        taken = self.agent.activity("voice", at, ref=_sub(ref, "a"))
        # The activity record is written last, so if it was taken before, all of it was.
        return FeedResult("accepted" if taken else "duplicate", detail)

    def _cancel(self, text: str, at: datetime, ref: str | None) -> str:
        last = self._last_emergency()
        if last is None:
            return ""
        event_id, raised_at, cancelled = last
        if cancelled or at - raised_at > timedelta(seconds=self.config.cancel_window_s):
            return ""
        sent = self.agent.emergency("voice", text, at, ref=_sub(ref, "x"), cancel_of=event_id)
        if sent is not None:
            self.agent.put_state(
                _EMERGENCY_KEY,
                json.dumps({"id": event_id, "at": raised_at.isoformat(), "cancelled": True}),
            )
        return "cancel"

    def _remember_emergency(self, event_id: str, at: datetime) -> None:
        self.agent.put_state(
            _EMERGENCY_KEY, json.dumps({"id": event_id, "at": at.isoformat(), "cancelled": False})
        )

    def _last_emergency(self) -> tuple[str, datetime, bool] | None:
        raw = self.agent.get_state(_EMERGENCY_KEY)
        if raw is None:
            return None
        data = json.loads(raw)
        return str(data["id"]), datetime.fromisoformat(data["at"]), bool(data["cancelled"])

    # -- check-ins ----------------------------------------------------------------------

    def on_checkin(self, command: CheckinCommand) -> None:
        with self._lock:
            self._ask(command)

    def _ask(self, command: CheckinCommand) -> None:
        if not self.voice.can_speak:
            log.info("check-in ignored: this speaker has no text-to-speech command")
            return
        self.agent.put_state(
            _CHECKIN_KEY,
            json.dumps({"request_id": command.id, "expires": command.expires_ts.isoformat()}),
        )
        self.voice.say(command.prompt)
        log.info("check-in spoken", request_id=command.id)

    def _pending_checkin(self) -> tuple[str, datetime] | None:
        raw = self.agent.get_state(_CHECKIN_KEY)
        if raw is None:
            return None
        data = json.loads(raw)
        return str(data["request_id"]), datetime.fromisoformat(data["expires"])

    def _answer_checkin(self, text: str, at: datetime) -> None:
        pending = self._pending_checkin()
        if pending is None:
            return
        request_id, expires = pending
        if at <= expires:
            self.agent.answer_checkin(request_id, answered=True, text=text)
            self.agent.put_state(_CHECKIN_KEY, None)

    def tick(self, now: datetime) -> datetime | None:
        with self._lock:
            return self._expire_checkin(now)

    def _expire_checkin(self, now: datetime) -> datetime | None:
        pending = self._pending_checkin()
        if pending is None:
            return None
        request_id, expires = pending
        if now <= expires:
            return expires
        self.agent.answer_checkin(request_id, answered=False)
        self.agent.put_state(_CHECKIN_KEY, None)
        log.info("check-in not answered", request_id=request_id)
        return None


def _sub(ref: str | None, part: str) -> str | None:
    """One feed event may write several records; each gets its own de-duplication key."""
    return None if ref is None else f"{ref}#{part}"


def _wyoming_voice(config: SpeakerConfig) -> WyomingVoice | None:
    """The Wyoming voice if configured; imports the ``voice`` extra only then."""
    if config.wyoming is None:
        return None
    try:
        from edge.wyoming_speaker import WyomingVoice
    except ImportError as exc:
        msg = f"[speaker.wyoming] needs the voice extra (pip install 'anbu[edge,voice]'): {exc}"
        raise RuntimeError(msg) from None
    return WyomingVoice(config.wyoming)
