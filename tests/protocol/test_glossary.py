"""Every domain value has its one Korean word (protocol/glossary.py), and no two values of a
set share one (staff would read two different things as the same)."""

from __future__ import annotations

from typing import get_args

import pytest

from protocol import glossary, vocab

TABLES = [
    (glossary.ALERT_KIND_WORDS, vocab.ALERT_KINDS),
    (glossary.STAGE_WORDS, vocab.STAGES),
    (glossary.OUTCOME_WORDS, vocab.OUTCOMES),
    (glossary.STEP_WORDS, get_args(vocab.CentreStep)),
    (glossary.DEVICE_KIND_SHOWN, vocab.DEVICE_KINDS),
    (glossary.CONTACT_ROLE_WORDS, vocab.CONTACT_ROLES),
    (glossary.STAFF_ROLE_WORDS, vocab.STAFF_ROLES),
    (glossary.INACTIVE_REASON_WORDS, vocab.INACTIVE_REASONS),
]


@pytest.mark.parametrize(("words", "values"), TABLES)
def test_every_value_has_one_distinct_word(words: dict[str, str], values: tuple[str, ...]) -> None:
    assert set(words) == set(values)
    assert len(set(words.values())) == len(words), words


def test_the_guardians_tap_is_never_called_the_centres_acknowledgement() -> None:
    assert glossary.ACKNOWLEDGED_BY_CENTRE not in glossary.GUARDIAN_CHECKING
