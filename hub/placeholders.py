"""Secrets that look like placeholders: judged by their shape, never by a list of words.

Owns :func:`placeholder_reason`, which the settings' validators ask about every secret an
installer makes up (``ANBU_ADMIN_TOKEN``, ``ANBU_LINK_SECRET``, ``ANBU_SMS_REPLY_SECRET``). A
word list only knows the placeholders someone thought of (``changeme``, but not
``changeme-changeme-changeme`` or ``xxxxxxxxxxxxxxxx``); the shapes below catch what people
type when they mean "fill this in later", and pass what a generator makes
(``openssl rand -base64 24``, ``python -c "import secrets; print(secrets.token_urlsafe(24))"``).

The reasons are short bilingual phrases; they never contain the secret.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

__all__ = ["MIN_SECRET_LENGTH", "placeholder_reason"]

MIN_SECRET_LENGTH = 16
# A generated secret of 16+ characters has at least ~10 distinct ones (hex: 16 symbols);
# fewer than this is a hand-typed pattern such as "aaaabbbbaaaabbbb".
_MIN_DISTINCT = 7
# The same character this many times in a row ("xxxxxxx", "*******", "0000000"). Seven keeps
# a random 64-digit hex token from being refused by chance (odds about one in 300,000).
_SAME_RUN = 7
# Share of the secret that may be one ascending or descending run ("abcdef", "123456").
_MAX_SEQUENCE_SHARE = 0.5
# Share of the secret that may be covered by repeats of one chunk ("changeme" three times).
_MAX_REPEAT_SHARE = 0.6
_MIN_CHUNK = 3
_SEPARATORS = re.compile(r"[\s\-_.:/]+")
# Template shapes: <token>, [token], {token}, {{ token }}, ${TOKEN}, %TOKEN%, "...".
_TEMPLATE = re.compile(r"\A(?:<.*>|\[.*\]|\{.*\}|\$\{.*\}|%.*%)\Z|\.\.\.|…", re.DOTALL)
# An environment-variable-like name: YOUR_ADMIN_TOKEN, SET_ME_PLEASE.
# Three words or more, so a random base64 token is not refused by chance (one in millions).
_VARIABLE_NAME = re.compile(r"\A[A-Z]+(?:_[A-Z]+){2,}\Z")


_SHAPES: tuple[tuple[Callable[[str], bool], str], ...] = (
    (
        lambda s: len(s) < MIN_SECRET_LENGTH,
        f"{MIN_SECRET_LENGTH}자 미만 / shorter than {MIN_SECRET_LENGTH} characters",
    ),
    (
        lambda s: bool(_TEMPLATE.search(s) or _VARIABLE_NAME.match(s)),
        "자리표시자 모양 / shaped like a placeholder",
    ),
    (
        lambda s: len(set(s)) < _MIN_DISTINCT,
        "쓰인 문자 종류가 너무 적음 / too few distinct characters",
    ),
    (
        lambda s: re.search(rf"(.)\1{{{_SAME_RUN - 1}}}", s) is not None,
        "같은 문자 반복 / one character repeated",
    ),
    (
        lambda s: _longest_sequence(s) > _MAX_SEQUENCE_SHARE * len(s),
        "연속된 문자열 (abcd, 1234) / mostly a run like abcd or 1234",
    ),
    (
        lambda s: _repeat_share(s) >= _MAX_REPEAT_SHARE,
        "같은 낱말 반복 / the same chunk repeated",
    ),
)


def placeholder_reason(secret: str) -> str | None:
    """Why ``secret`` looks like a placeholder rather than a generated secret; ``None`` if not."""
    return next((reason for looks, reason in _SHAPES if looks(secret)), None)


def _longest_sequence(secret: str) -> int:
    """Length of the longest run whose code points go up or down by one at each step."""
    longest = run = 1
    step = 0
    for before, after in itertools.pairwise(secret):
        difference = ord(after) - ord(before)
        if difference in (1, -1) and (run == 1 or difference == step):
            run += 1
            step = difference
        elif difference in (1, -1):
            run, step = 2, difference
        else:
            run, step = 1, 0
        longest = max(longest, run)
    return longest


def _repeat_share(secret: str) -> float:
    """The largest share of the secret (separators removed, case folded) covered by
    non-overlapping copies of one chunk that occurs at least twice."""
    text = _SEPARATORS.sub("", secret).casefold()
    if not text:
        return 1.0
    best = 0
    for size in range(_MIN_CHUNK, len(text) // 2 + 1):
        for start in range(len(text) - size + 1):
            chunk = text[start : start + size]
            copies = text.count(chunk)  # str.count counts non-overlapping copies
            if copies >= 2:
                best = max(best, copies * size)
    return best / len(text)
