"""Korean SMS text rules: what a body costs in bytes, what a handset can show, SMS or LMS.

Korean carriers and every SMS provider we use (NHN Cloud, Solapi, Aligo) carry text as
EUC-KR and meter it in EUC-KR bytes: an SMS holds 90 bytes (45 Hangul syllables), an LMS
2,000 bytes with a subject of 40. A character EUC-KR cannot hold is either rejected by the
provider (NHN answers -2023 "Unacceptable characters") or shown as "?" on the handset, so
this module swaps such characters for a visible stand-in *before* the provider sees them,
and counts how many it swapped.

Bytes are counted with Python's ``cp949`` codec: Microsoft's superset of EUC-KR that every
Korean gateway accepts. For KS X 1001 text the byte counts are identical (Hangul syllable
= 2, ASCII = 1); cp949 also carries the 8,822 extra modern syllables (e.g. "똠") in 2 bytes,
which strict ``euc_kr`` would spell as 8-byte jamo sequences. A name must not turn into
"?", so cp949 is the encoding that decides what is carryable.

A body over the LMS limit raises :class:`SmsTooLong`: an alert is never cut silently.
Pure and stdlib-only, so the dispatcher, the CLI and tests can all use it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

SMS_MAX_BYTES = 90
LMS_MAX_BYTES = 2000
SUBJECT_MAX_BYTES = 40
DEFAULT_SUBJECT = "안부 알림"

_ENCODING = "cp949"
_UNKNOWN = "?"

# Close equivalents for characters cp949 lacks but people (and templates) type often.
# Anything not here and not rescued by NFKC becomes "?".
_SUBSTITUTES: dict[str, str] = {
    "\u2022": "·",  # • bullet
    "\u2219": "·",  # ∙ bullet operator
    "\u22c5": "·",  # ⋅ dot operator
    "\u2027": "·",  # ‧ hyphenation point
    "\u25e6": "·",  # ◦ white bullet
    "\u2010": "-",  # ‐ hyphen
    "\u2011": "-",  # ‑ non-breaking hyphen
    "\u2012": "-",  # ‒ figure dash
    "\u2013": "-",  # – en dash
    "\u2014": "-",  # — em dash
    "\u2212": "-",  # − minus sign
    "\u201a": "'",  # ‚ low single quote
    "\u201b": "'",  # ‛ reversed single quote
    "\u201e": '"',  # „ low double quote
    "\u201f": '"',  # ‟ reversed double quote
    "\u2039": "<",  # ‹
    "\u203a": ">",  # ›
    "\u00ab": '"',  # «
    "\u00bb": '"',  # »
    "\u00a9": "(c)",  # ©
    "\u2713": "v",  # ✓
    "\u2714": "v",  # ✔
    "\u2705": "v",  # ✅
    "\u2717": "x",  # ✗
    "\u2718": "x",  # ✘
    "\u274c": "x",  # ❌
    "\u26a0": "!",  # ⚠
    "\u27a1": "→",  # ➡
    "\u2764": "♥",  # ❤
    "\u263a": "^^",  # ☺
    "\u00a0": " ",  # no-break space (NFKC would also do this; kept explicit)
}

# Invisible code points that ride on the character before them (emoji presentation
# selectors, zero-width joiner inside family emoji, skin tones, keycap): they are folded
# into the previous replacement so "👍🏽" becomes one "?", not two.
_ATTACHED = frozenset(
    {"\ufe0e", "\ufe0f", "\u200d", "\u20e3"} | {chr(c) for c in range(0x1F3FB, 0x1F400)}
)
# Invisible characters that are simply dropped (and counted) when on their own.
_DROPPED = frozenset({"\u200b", "\u200c", "\u2060", "\ufeff", "\u00ad"})


class SmsTooLong(ValueError):  # noqa: N818 - the name callers already use
    """The body exceeds the LMS limit; it must be shortened by its author, never cut here."""


@dataclass(frozen=True, slots=True)
class SmsText:
    """A body ready for a Korean SMS provider: the kind to send, and what it costs."""

    kind: Literal["SMS", "LMS"]
    body: str
    subject: str | None
    body_bytes: int
    replaced: int


def euckr_bytes(text: str) -> int:
    """Bytes ``text`` occupies on the wire (cp949/EUC-KR); it must already be carryable."""
    return len(text.encode(_ENCODING))


def _encodable(char: str) -> bool:
    try:
        char.encode(_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def _stand_in(char: str) -> str:
    if char in _SUBSTITUTES:
        return _SUBSTITUTES[char]
    # NFKC turns compatibility forms (thin spaces, ligatures, circled letters cp949 lacks,
    # mathematical alphanumerics) into plain characters a handset can show.
    folded = unicodedata.normalize("NFKC", char)
    if folded and folded != char and all(_encodable(c) for c in folded):
        return folded
    return _UNKNOWN


def carryable(text: str) -> tuple[str, int]:
    """``text`` in NFC with every character cp949 cannot carry replaced visibly.

    Returns the new text and how many characters (or emoji sequences) were replaced.
    Line breaks are normalised to ``\\n`` so the byte count matches what is billed.
    """
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    out: list[str] = []
    replaced = 0
    previous_replaced = False
    joined = False  # a zero-width joiner just glued the next emoji to the replaced one
    pending_flag = False  # a regional indicator waiting for its pair
    for char in text:
        if _encodable(char):
            out.append(char)
            previous_replaced = joined = pending_flag = False
            continue
        if char in _ATTACHED and previous_replaced:
            joined = char == "\u200d"
            continue
        if joined:
            joined = False
            continue
        if char in _DROPPED or char in _ATTACHED:
            replaced += 1
            previous_replaced = False
            continue
        if 0x1F1E6 <= ord(char) <= 0x1F1FF:  # regional indicators: a flag is two of them
            if pending_flag:
                pending_flag = False
                continue
            pending_flag = True
        else:
            pending_flag = False
        out.append(_stand_in(char))
        replaced += 1
        previous_replaced = True
    return "".join(out), replaced


def _trim_to_bytes(text: str, limit: int) -> str:
    """The longest prefix of ``text`` within ``limit`` bytes, cut between characters."""
    total = 0
    for index, char in enumerate(text):
        total += euckr_bytes(char)
        if total > limit:
            return text[:index]
    return text


def prepare(body: str, subject: str = DEFAULT_SUBJECT) -> SmsText:
    """Decide SMS or LMS for ``body`` and make it carryable.

    ≤ 90 bytes → SMS (no subject). Otherwise LMS with ``subject`` trimmed to 40 bytes on
    a character boundary. Over 2,000 bytes → :class:`SmsTooLong`. The error text gives
    sizes only, never the body (it names the resident and the alert).
    """
    text, replaced = carryable(body)
    if not text.strip():
        msg = "SMS body is empty"
        raise ValueError(msg)
    size = euckr_bytes(text)
    if size <= SMS_MAX_BYTES:
        return SmsText(kind="SMS", body=text, subject=None, body_bytes=size, replaced=replaced)
    if size > LMS_MAX_BYTES:
        msg = f"SMS body is {size} bytes in EUC-KR; an LMS holds at most {LMS_MAX_BYTES}"
        raise SmsTooLong(msg)
    title, title_replaced = carryable(subject.replace("\n", " ").strip())
    if not title.strip():
        # Every provider requires an LMS title; an empty one would be rejected.
        title, title_replaced = DEFAULT_SUBJECT, 0
    title = _trim_to_bytes(title, SUBJECT_MAX_BYTES).rstrip()
    return SmsText(
        kind="LMS",
        body=text,
        subject=title,
        body_bytes=size,
        replaced=replaced + title_replaced,
    )
