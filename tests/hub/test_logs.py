"""Logging set-up: a log line never fails because the stream it was set up with went away."""

from __future__ import annotations

import io
import sys

import pytest
import structlog

from hub.logs import configure_logging


def test_logging_follows_stderr_after_the_first_stream_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging()
    structlog.get_logger("anbu.test").warning("first.line")
    first.close()  # as pytest closes a test's captured output, or a daemon's log rotates
    later = io.StringIO()
    monkeypatch.setattr(sys, "stderr", later)
    try:
        structlog.get_logger("anbu.test").warning("second.line", role="official")
    finally:
        structlog.reset_defaults()
    assert "second.line" in later.getvalue()
