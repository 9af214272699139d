"""schemathesis against the hub's own OpenAPI document, as an outside client runs it: the
``st`` command with every check and phase and an admin token. No request the schema allows
may crash the hub or be refused without a documented reason, no request it forbids may be
accepted, and every answer must be one the document declares."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from hub.broker import MosquittoBroker, free_port
from hub.runtime import Hub
from hub.settings import Settings
from tests.hub.support import ADMIN_TOKEN


@pytest.fixture(scope="module")
def fuzzed_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    work = tmp_path_factory.mktemp("fuzz")
    broker = MosquittoBroker(workdir=work / "mosquitto")
    broker.start()
    hub = Hub(
        Settings(
            mqtt_url=broker.url,
            db_url=f"sqlite:///{work / 'hub.db'}",
            http=f"127.0.0.1:{free_port()}",
            admin_token=SecretStr(ADMIN_TOKEN),
            sms=f"log:{work / 'sms.jsonl'}",
            mqtt_client_id="anbu-hub-fuzz",
        )
    ).start()
    assert hub.wait_ready(15)
    try:
        yield hub
    finally:
        hub.stop()
        broker.close()


CONFIG = Path(__file__).with_name("schemathesis.toml")
# Cases per operation and phase: ~2,500 requests in all, about 15-30 s on two cores.
MAX_EXAMPLES = 30


def test_the_api_keeps_its_published_contract(fuzzed_hub: Hub, tmp_path: Path) -> None:
    """``st run`` with every check (status codes, content types, response schemas and
    headers, schema-valid data accepted, schema-violating data refused, Allow headers,
    auth...) over every phase (examples, coverage, fuzzing, stateful): 0 failures. The
    exceptions where a rule is beyond JSON Schema are in :data:`CONFIG`, each with why."""
    st = Path(sys.executable).with_name("st")
    base = f"http://{fuzzed_hub.settings.http}"
    run = subprocess.run(
        [
            str(st),
            "--no-color",
            "--config-file",
            str(CONFIG),
            "run",
            f"{base}/openapi.json",
            "--header",
            f"Authorization: Bearer {ADMIN_TOKEN}",
            "--checks",
            "all",
            "--exclude-path",
            "/api/v1/stream",  # never ends by design; it has its own tests
            "--max-examples",
            str(MAX_EXAMPLES),
            # One worker: two threads drawing at once race in CPython 3.11's ast.parse, which
            # hypothesis uses to describe lambdas ("AST constructor recursion depth mismatch").
            "--workers",
            "1",
            "--continue-on-failure",
            # A generation check, not one of the API's: phone numbers drawn from the exact
            # pattern are sometimes longer than 20 characters and dropped, which now and then
            # trips hypothesis's "too many filtered" alarm for the contacts operation.
            "--suppress-health-check",
            "filter_too_much",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # its .hypothesis cache and reports stay in the test's directory
        timeout=600,
        check=False,
    )
    summary = run.stdout[run.stdout.find("SUMMARY") :]
    assert run.returncode == 0, run.stdout[-12000:] + run.stderr[-2000:]
    tested = re.search(r"Tested: (\d+)", summary)
    assert tested is not None and int(tested.group(1)) >= 25, summary
    generated = re.search(r"(\d+) generated", summary)
    assert generated is not None and int(generated.group(1)) >= 1000, summary
