"""Settings from environment and TOML; structlog redaction of patient identity."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import structlog

from wardline.errors import ConfigError
from wardline.logs import configure_logging
from wardline.settings import Settings, load_settings


def test_defaults_need_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.effective_database_url.endswith("data/wardline.db")


def test_environment_and_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toml = tmp_path / "wardline.toml"
    toml.write_text('http_port = 9100\nami_secret = "s3cret-from-file"\nami_host = "pbx.local"\n')
    monkeypatch.setenv("WARDLINE_CONFIG", str(toml))
    monkeypatch.setenv("WARDLINE_AMI_HOST", "pbx.example")
    settings = load_settings()
    assert settings.http_port == 9100
    assert settings.ami_host == "pbx.example"  # the environment wins over the file
    assert settings.ami_secret.get_secret_value() == "s3cret-from-file"
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())


def test_bad_settings_are_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WARDLINE_HTTP_PORT", "not-a-port")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.error_id == "config.invalid" and "WARDLINE_HTTP_PORT" in err.value.message
    monkeypatch.delenv("WARDLINE_HTTP_PORT")
    monkeypatch.setenv("WARDLINE_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError) as err2:
        load_settings()
    assert err2.value.error_id == "config.missing"
    bad = tmp_path / "bad.toml"
    bad.write_text("http_port = [\n")
    monkeypatch.setenv("WARDLINE_CONFIG", str(bad))
    with pytest.raises(ConfigError):
        load_settings()


def test_audit_key_generated_once_outside_the_database(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = settings.audit_key_bytes()
    assert len(first) == 32 and settings.audit_key_bytes() == first
    assert (tmp_path / "audit.key").stat().st_mode & 0o077 == 0
    given = Settings(data_dir=tmp_path, audit_key="a2V5" * 11)
    assert given.audit_key_bytes() != first


def _capture() -> io.StringIO:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    return stream


def test_patient_identity_never_reaches_the_log() -> None:
    stream = _capture()
    log = structlog.get_logger("test")
    log.info(
        "patient.admitted",
        bed="CARDIO-101-A",
        family_name="DUPRÉ",
        given_name="Hélène",
        birth_date="1950-03-14",
        ins="2 50 03 75 123 456 78",
        note="call back on 06 12 34 56 78 or +33 6 12 34 56 78, mail h.dupre@example.org",
        detail={"patient_name": "Hélène Dupré", "ward": "CARDIO"},
    )
    line = stream.getvalue().strip().splitlines()[-1]
    record = json.loads(line)
    for secret in ("DUPRÉ", "Hélène", "1950-03-14", "123 456", "06 12", "+33 6", "example.org"):
        assert secret not in line
    assert record["bed"] == "CARDIO-101-A" and record["detail"]["ward"] == "CARDIO"


def test_stdlib_logging_goes_through_redaction() -> None:
    import logging

    stream = _capture()
    logging.getLogger("aiohttp.access").info("GET /x from 06 12 34 56 78")
    assert "06 12 34 56 78" not in stream.getvalue()


def test_bound_context_appears() -> None:
    stream = _capture()
    with structlog.contextvars.bound_contextvars(call_id="c-1", bed="NEURO-301-A"):
        structlog.get_logger("t").info("call.ringing")
    record = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert record["call_id"] == "c-1" and record["bed"] == "NEURO-301-A"


def test_an_unknown_time_zone_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WARDLINE_SITE_TIMEZONES", '{"NORD": "Europe/Paris", "SUD": "Mars/Olympus"}')
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "Mars/Olympus" in err.value.message
    monkeypatch.setenv("WARDLINE_SITE_TIMEZONES", '{"CAYENNE": "America/Cayenne"}')
    monkeypatch.setenv("WARDLINE_TIMEZONE", "Europe/Luxembourg")
    settings = load_settings()
    assert settings.timezone == "Europe/Luxembourg"
    assert settings.site_timezones == {"CAYENNE": "America/Cayenne"}


def test_the_demo_terminal_keeps_warnings_but_not_loop_stalls(tmp_path: Path) -> None:
    """As the demo configures it: the file has everything, the terminal warnings and errors
    but not the loop monitor's stalls (a busy laptop is not the demo's fault)."""
    import logging

    stream, log_file = io.StringIO(), tmp_path / "demo.log"
    configure_logging(
        "INFO",
        "json",
        stream,
        file=log_file,
        stream_level="WARNING",
        file_only=("wardline.loop_monitor",),
    )
    try:
        structlog.get_logger("wardline.loop_monitor").warning("loop.stall", lag_ms=365)
        structlog.get_logger("wardline.ami").warning("ami.lost")
        structlog.get_logger("wardline.ami").info("ami.connected")
        for handler in logging.getLogger().handlers:
            handler.flush()
        shown = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
        kept = [json.loads(line)["event"] for line in log_file.read_text().splitlines()]
    finally:
        configure_logging("INFO", "json", io.StringIO())  # the file closed, no handler left
    assert shown == ["ami.lost"]
    assert kept == ["loop.stall", "ami.lost", "ami.connected"]
