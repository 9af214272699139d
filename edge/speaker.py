"""The AI speaker adapter: utterances and usage in, activity, emergencies and check-ins out.

What a speaker platform gives a third-party skill (transcripts of what was said, and usage
such as music, radio or a button) arrives through the local feed (FEED.md). Every utterance
and every use is activity; an emergency phrase (:mod:`edge.phrases`) raises an emergency at
once; a cancel phrase shortly after takes it back (the control centre still calls); the first
utterance after a spoken check-in answers it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog

from edge.adapter import AdapterBase, FeedError, FeedResult
from edge.config import SpeakerConfig
from edge.phrases import DEFAULT_RULES, Intent, PhraseRules, classify
from edge.tts import Speaker
from protocol.models import CheckinCommand

log = structlog.get_logger(__name__)

_CHECKIN_KEY = "speaker.checkin"
_EMERGENCY_KEY = "speaker.last_emergency"


class SpeakerAdapter(AdapterBase):
    """An AI speaker in the resident's home."""

    kind = "speaker"

    def __init__(self, config: SpeakerConfig, *, speaker: Speaker | None = None) -> None:
        self.config = config
        self.rules = PhraseRules(
            wake_words=tuple(config.wake_words)
            if config.wake_words is not None
            else DEFAULT_RULES.wake_words,
            emergency_phrases=tuple(config.emergency_phrases),
            cancel_phrases=tuple(config.cancel_phrases),
        )
        self.voice = speaker or Speaker(config.tts_command)
        super().__init__()
        # An utterance (feed thread) and the check-in expiry (tick) must not both answer.
        self._lock = threading.RLock()

    def stop(self) -> None:
        """Nothing runs in the background but speech, which ends by itself."""

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
