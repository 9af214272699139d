"""Where a spoken command ends, from the loudness of the audio a satellite streams.

A Wyoming satellite streams microphone audio after its wake word (or its voice detector)
fires and keeps streaming until its server answers with a transcript; deciding that the
resident has finished speaking is the server's job (Home Assistant uses a voice detector).
Without Home Assistant the agent is that server, so this module owns the decision, with the
standard library only: a command ends after :data:`END_SILENCE_S` of quiet that follows
speech, when nothing is said for :data:`NO_SPEECH_S`, or at :data:`MAX_S` in any case.

Loudness is the RMS of 16-bit samples against a fixed threshold. That is crude next to a
trained detector, but it only has to find the pause after a short command; what was said is
the speech-to-text server's work, and a cut made a little late costs a fraction of a second.
"""

from __future__ import annotations

import array
import math
import sys
from dataclasses import dataclass, field
from enum import StrEnum

END_SILENCE_S = 0.8  # a pause this long after speech ends the command
NO_SPEECH_S = 5.0  # nothing said this long after the wake word: give up
MAX_S = 12.0  # a command longer than this is cut (a television left talking)
SPEECH_RMS = 400.0  # 16-bit RMS above this is speech (quiet room ~50-150, a voice 1000+)
_EPS = 1e-6  # chunk durations add up in floating point: 8 x 0.1 s must reach 0.8 s


class Cut(StrEnum):
    """Why a command ended."""

    PAUSE = "pause"
    NO_SPEECH = "no_speech"
    TOO_LONG = "too_long"


def rms(audio: bytes, width: int) -> float | None:
    """Root mean square of little-endian signed 16-bit PCM; None for other widths."""
    if width != 2:
        return None
    if len(audio) < 2:
        return 0.0
    samples = array.array("h", audio[: len(audio) - len(audio) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return math.sqrt(sum(s * s for s in samples) / len(samples))


@dataclass
class Segmenter:
    """Feed one command's chunks in order; :meth:`feed` says when the command is over.

    Width other than 16-bit cannot be measured, so such a command ends at :data:`MAX_S`.
    """

    speech_rms: float = SPEECH_RMS
    end_silence_s: float = END_SILENCE_S
    no_speech_s: float = NO_SPEECH_S
    max_s: float = MAX_S
    heard_s: float = field(default=0.0, init=False)
    speech_s: float = field(default=0.0, init=False)
    _quiet_s: float = field(default=0.0, init=False)

    def feed(self, audio: bytes, rate: int, width: int, channels: int) -> Cut | None:
        """One chunk; returns why the command ended, or None while it goes on."""
        frame = max(1, width * channels)
        seconds = len(audio) / frame / max(1, rate)
        self.heard_s += seconds
        loudness = rms(audio, width)
        # What cannot be measured counts as speech: no pause is ever found in it.
        if loudness is None or loudness >= self.speech_rms:
            self.speech_s += seconds
            self._quiet_s = 0.0
        else:
            self._quiet_s += seconds
        if self.speech_s > 0 and self._quiet_s + _EPS >= self.end_silence_s:
            return Cut.PAUSE
        if self.speech_s == 0 and self.heard_s + _EPS >= self.no_speech_s:
            return Cut.NO_SPEECH
        if self.heard_s + _EPS >= self.max_s:
            return Cut.TOO_LONG
        return None
