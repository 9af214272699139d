"""Edge config files: the shipped samples load; mistakes are named, not defaulted."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import ConfigError, load_config

SAMPLES = Path(__file__).parents[2] / "deploy" / "edge"


@pytest.mark.parametrize("kind", ["speaker", "phone", "sensors"])
def test_shipped_sample_configs_load(kind: str) -> None:
    config = load_config(SAMPLES / f"{kind}.toml", kind)  # type: ignore[arg-type]
    assert config.kind == kind
    assert config.will_delay_s == 120
    assert config.outbox.is_absolute()


def test_systemd_unit_runs_the_cli_per_kind() -> None:
    unit = (SAMPLES / "anbu-edge@.service").read_text(encoding="utf-8")
    assert "anbu edge --device-kind %i --config /etc/anbu/edge-%i.toml" in unit
    assert "Restart=always" in unit


def test_a_config_for_another_kind_is_refused() -> None:
    with pytest.raises(ConfigError, match="is for a speaker, not a phone"):
        load_config(SAMPLES / "speaker.toml", "phone")


def test_errors_name_every_bad_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        'resident = "김영희"\ndevice = "d1"\nmqtt_url = "http://hub"\nheartbeat_s = 1\n'
        "[speaker]\ntts = []\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, "speaker")
    message = str(caught.value)
    for field in ("resident", "mqtt_url", "heartbeat_s", "speaker.tts"):
        assert field in message


def test_not_toml_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("resident = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path, "speaker")


def test_relative_outbox_is_next_to_the_config(tmp_path: Path) -> None:
    path = tmp_path / "speaker.toml"
    path.write_text(
        'resident = "r1"\ndevice = "d1"\nmqtt_url = "mqtt://127.0.0.1:1883"\n'
        'outbox = "state/outbox.db"\n',
        encoding="utf-8",
    )
    assert load_config(path, "speaker").outbox == tmp_path / "state" / "outbox.db"
