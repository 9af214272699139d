"""Settings mistakes: one line naming the variable, what was wrong and an example; no traceback.

Each case runs ``anbu hub`` as a subprocess (``python -m hub``) with a clean ``ANBU_*``
environment, the way an installer meets it. Secrets and phone numbers never come back in
the message.
"""

from __future__ import annotations

import os
import random
import string
import subprocess
import sys
from pathlib import Path

import pytest

from hub.placeholders import placeholder_reason
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]


def clean_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANBU_")}
    # Keep the suite's moved clock (tests/clockguard) for the child too.
    if "ANBU_TEST_NOW" in os.environ:
        env["ANBU_TEST_NOW"] = os.environ["ANBU_TEST_NOW"]
    env["ANBU_DB_URL"] = f"sqlite:///{tmp_path / 'anbu.db'}"
    env.update(variables)
    return env


def run_hub(tmp_path: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", "hub", *args],
        env=clean_env(tmp_path, **variables),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("설정 오류 (settings error) ")
    assert "예 / e.g." in line
    return line


def test_an_unknown_sms_provider_names_the_accepted_schemes(tmp_path: Path) -> None:
    line = one_line(run_hub(tmp_path, ANBU_SMS="twilio://x"))
    assert "ANBU_SMS:" in line
    assert "'twilio'" in line
    for accepted in ("log:PATH", "nhn://", "solapi://", "aligo://"):
        assert accepted in line


def test_an_sms_entry_with_a_missing_part_says_which_without_the_secret(tmp_path: Path) -> None:
    line = one_line(run_hub(tmp_path, ANBU_SMS="solapi://KEY-VALUE-1234@api.solapi.com"))
    assert "ANBU_SMS:" in line
    assert "KEY-VALUE-1234" not in line


def test_phones_not_given_as_a_json_list_say_so(tmp_path: Path) -> None:
    line = one_line(run_hub(tmp_path, ANBU_CONTROL_CENTER_PHONES="+82-2-000-0000"))
    assert "ANBU_CONTROL_CENTER_PHONES:" in line
    assert "JSON" in line
    assert """'["+82212345678"]'""" in line
    assert "000-0000" not in line  # the number itself is not repeated


def test_http_without_a_port_names_the_flag_and_the_variable(tmp_path: Path) -> None:
    line = one_line(run_hub(tmp_path, "--http", "8080"))
    assert "ANBU_HTTP (--http):" in line
    assert "host:port" in line
    assert "ANBU_HTTP=127.0.0.1:8080" in line


@pytest.mark.parametrize(
    "token",
    ["changeme-changeme-changeme", "changeme", "xxxxxxxxxxxxxxxxxxxx", "<your-admin-token>"],
)
def test_a_placeholder_admin_token_is_refused(tmp_path: Path, token: str) -> None:
    line = one_line(run_hub(tmp_path, ANBU_ADMIN_TOKEN=token))
    assert "ANBU_ADMIN_TOKEN:" in line
    assert token not in line
    assert "openssl rand" in line


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("ANBU_DB_URL", "mysql://anbu@db/anbu", "postgresql+psycopg://"),
        ("ANBU_TZ", "Seoul", "'Seoul'"),
        ("ANBU_INGEST_BATCH", "0", "≥ 1"),
        ("ANBU_INGEST_BATCH", "many", "whole number"),
        ("ANBU_LINK_TTL", "24h", "ISO 8601"),
        ("ANBU_MQTT_URL", "http://broker:1883", "mqtt://"),
        ("ANBU_MQTT_PROTOCOL", "4", "'5' or '3.1.1'"),
        ("ANBU_EXTRA_HOLIDAYS", "2026-10-05", "JSON"),
        ("ANBU_EXTRA_HOLIDAYS", '["2026-10-32"]', "YYYY-MM-DD"),
        ("ANBU_LINK_SECRET", "secretsecretsecret", "generated secret"),
        ("ANBU_SMS_REPLY_SECRET", "short", "16"),
    ],
)
def test_each_mistake_is_one_line(tmp_path: Path, variable: str, value: str, said: str) -> None:
    line = one_line(run_hub(tmp_path, **{variable: value}))
    assert f"{variable}:" in line
    assert said in line


def test_two_mistakes_are_two_lines(tmp_path: Path) -> None:
    result = run_hub(tmp_path, "--http", "8080", ANBU_SMS="twilio://x")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert "ANBU_HTTP (--http):" in lines[0]
    assert "ANBU_SMS:" in lines[1]


def test_an_unreachable_database_is_a_warning_and_a_retry_not_a_traceback(
    tmp_path: Path,
) -> None:
    closed = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", "hub"],
        env=clean_env(
            tmp_path,
            ANBU_DB_URL=f"postgresql+psycopg://postgres:pw-never-shown@127.0.0.1:{closed}/anbu",
        ),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:  # ends when the process does; pytest-timeout bounds it
            seen.append(line)
            if sum("hub.database_unreachable" in s for s in seen) >= 2:
                break
    finally:
        process.terminate()
        rest, _ = process.communicate(timeout=30)
    output = "".join(seen) + rest
    assert process.returncode == 0, output
    assert "Traceback" not in output
    warning = next(s for s in seen if "hub.database_unreachable" in s)
    assert f"127.0.0.1:{closed}" in warning
    assert "Connection refused" in warning
    assert "pw-never-shown" not in output


# -------------------------------------------------------------- placeholder shapes


@pytest.mark.parametrize(
    "secret",
    [
        "changeme",  # short
        "changeme-changeme-changeme",  # one chunk repeated
        "Secret123Secret123Secret123",
        "aaaaaaaaaaaaaaaaaaaa",  # one character
        "aabbaabbaabbaabbccdd",  # too few distinct characters
        "abcdefghijklmnopqrstu",  # a run
        "9876543210987654",  # a run and a repeat
        "<your-admin-token>",  # template shapes
        "${ANBU_ADMIN_TOKEN}",
        "{{ admin_token }}",
        "YOUR_ADMIN_TOKEN_HERE",
        "put-the-token-here...",
        "x7Kq2000000000000Lm",  # a long run of one digit
    ],
)
def test_placeholder_shapes_are_refused(secret: str) -> None:
    reason = placeholder_reason(secret)
    assert reason is not None
    assert secret not in reason


@pytest.mark.parametrize(
    "secret",
    [
        "test-admin-token-0123456789",  # what the tests themselves use
        "reply-secret-0123456789",
        "correct-horse-battery-staple-42",  # a passphrase is not refused for being words
        "Zm9vYmFyYmF6cXV4MTIzNDU2",
    ],
)
def test_real_looking_secrets_pass(secret: str) -> None:
    assert placeholder_reason(secret) is None


def test_generated_secrets_are_never_refused() -> None:
    # What token_urlsafe and token_hex make, from a seeded generator so a failure replays.
    rng = random.Random(14)
    urlsafe = string.ascii_letters + string.digits + "-_"
    refused = [
        token
        for _ in range(20_000)
        for token in (
            "".join(rng.choice(urlsafe) for _ in range(32)),
            "".join(rng.choice(urlsafe) for _ in range(16)),
            "".join(rng.choice("0123456789abcdef") for _ in range(32)),
            "".join(rng.choice("0123456789abcdef") for _ in range(64)),
        )
        if placeholder_reason(token) is not None
    ]
    assert refused == []


def test_anbu_devices_gives_one_line_and_no_secret(tmp_path: Path) -> None:
    """It printed pydantic's own error, which repeats the input: the MQTT password with it."""
    result = subprocess.run(
        [sys.executable, "-m", "hub", "devices", "provision", "r1", "spk"],
        env=clean_env(tmp_path, ANBU_MQTT_URL="ftp://hub:s3cret-Pw-9917@broker:1883"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    line = one_line(result)
    assert "ANBU_MQTT_URL" in line
    assert "s3cret-Pw-9917" not in result.stderr + result.stdout
