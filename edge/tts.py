"""Speaking to the resident: what a voice is, and one through a text-to-speech command.

:class:`Voice` is what the speaker adapter speaks check-ins through: :class:`Speaker` runs a
command (espeak-ng in the demo), :class:`edge.wyoming_speaker.WyomingVoice` asks a Wyoming
text-to-speech server.

The command is configurable because every speaker platform has its own voice; ``{text}`` in
an argument is replaced by what to say, otherwise the text goes to the command's stdin.
Speaking never blocks the agent and a missing or failing command is logged, not raised.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Sequence
from typing import Protocol

import structlog

log = structlog.get_logger(__name__)

_TIMEOUT_S = 60


class Voice(Protocol):
    """Something that can say a sentence to the resident, in the background."""

    @property
    def can_speak(self) -> bool:
        """False when it cannot speak at all: the device then ignores check-ins."""

    def say(self, text: str) -> object:
        """Start saying ``text`` without waiting; returns a handle tests may wait on."""


class Speaker:
    """Runs the TTS command in the background, one utterance at a time."""

    def __init__(self, command: Sequence[str]) -> None:
        self.command = list(command)
        self._lock = threading.Lock()

    @property
    def can_speak(self) -> bool:
        """False when no command is configured: the device ignores check-ins."""
        return bool(self.command)

    def say(self, text: str) -> threading.Thread | None:
        """Start saying ``text``; returns the thread doing it (tests may join it)."""
        if not self.can_speak:
            return None
        thread = threading.Thread(target=self._run, args=(text,), daemon=True, name="anbu-tts")
        thread.start()
        return thread

    def _run(self, text: str) -> None:
        uses_placeholder = any("{text}" in arg for arg in self.command)
        argv = [arg.replace("{text}", text) for arg in self.command]
        with self._lock:
            try:
                result = subprocess.run(  # noqa: S603 - the operator's own configured command
                    argv,
                    input=None if uses_placeholder else text.encode(),
                    capture_output=True,
                    timeout=_TIMEOUT_S,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                log.error("text-to-speech failed", command=argv[0], error=type(exc).__name__)
                return
        if result.returncode != 0:
            log.error("text-to-speech failed", command=argv[0], exit_code=result.returncode)
