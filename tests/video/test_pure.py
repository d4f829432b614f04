"""The pure parts of the video edge, without sockets: the generated configuration, Janus's
message builders and answer parsers, TURN credentials, guest links and codes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.video.gateways import need_binary
from video import janus_messages as jm
from video.cli import config_from
from video.config import JanusConfig, render, write
from video.errors import GatewayError
from video.guests import (
    link_hash,
    new_code,
    new_link,
    new_room_id,
    well_formed_code,
    well_formed_link,
)
from video.turn import turn_credential
from wardline.domain.errors import InvalidInput
from wardline.errors import ConfigError
from wardline.settings import Settings

SECRETS = {
    "api_secret": "api-secret-0123456789",
    "admin_secret": "admin-secret-0123456789",
    "room_admin_key": "videoroom-key-0123456789",
    "turn_secret": "turn-secret-0123456789",
}


def config(**more: object) -> JanusConfig:
    return JanusConfig(**SECRETS, config_dir="/etc/janus/wardline", **more)  # type: ignore[arg-type]


def test_janus_runs_with_tokens_secrets_and_the_videoroom_only() -> None:
    files = render(config())
    core = files["janus.jcfg"]
    assert 'api_secret = "api-secret-0123456789"' in core and "token_auth = true" in core
    assert 'admin_secret = "admin-secret-0123456789"' in core
    assert "libjanus_videoroom.so" not in core and "libjanus_streaming.so" in core
    assert "libjanus_pfunix.so" in core and "broadcast = false" in core
    room = files["janus.plugin.videoroom.jcfg"]
    assert 'admin_key = "videoroom-key-0123456789"' in room and "\nroom-" not in room
    http = files["janus.transport.http.jcfg"]
    assert 'ip = "127.0.0.1"' in http and 'admin_ip = "127.0.0.1"' in http
    assert "ws_ip" in files["janus.transport.websockets.jcfg"]
    turn = files["turnserver.conf"]
    assert "use-auth-secret" in turn and "static-auth-secret=turn-secret-0123456789" in turn
    assert "no-cli" in turn and "allow-loopback-peers" not in turn and "no-tls" in turn
    assert "allow-loopback-peers" in render(config(turn_loopback_peers=True))["turnserver.conf"]
    tls = render(config(turn_cert="/etc/ssl/t.pem", turn_key="/etc/ssl/t.key"))["turnserver.conf"]
    assert "cert=/etc/ssl/t.pem" in tls and "no-tls\n" not in tls
    # coturn relays from the listening address, unless told another (Janus's candidates are
    # never on loopback: on one host, coturn must relay from the machine's own address)
    assert "relay-ip=127.0.0.1" in turn
    other = render(config(turn_relay_ip="10.20.0.5"))["turnserver.conf"]
    assert "relay-ip=10.20.0.5" in other and "relay-ip=127.0.0.1" not in other
    assert "relay-ip" not in render(config(turn_bind="0.0.0.0"))["turnserver.conf"]
    with pytest.raises(InvalidInput):
        render(config(turn_relay_ip="10.0.0.1 #x"))


@pytest.mark.parametrize(
    "bad",
    [
        {"api_secret": "short"},
        {"turn_secret": SECRETS["api_secret"]},
        {"turn_secret": "has space 0123456789"},
        {"api_secret": 'quote"\nnewline-0123456789'},
    ],
)
def test_unusable_secrets_are_refused(bad: dict[str, str]) -> None:
    with pytest.raises(InvalidInput):
        render(JanusConfig(**{**SECRETS, **bad}, config_dir="/x"))  # type: ignore[arg-type]


def test_files_holding_secrets_are_private(tmp_path: Path) -> None:
    for path in write(tmp_path / "out", render(config())):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_generator_takes_secrets_from_settings_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        config_from(Settings(data_dir=tmp_path), tmp_path)
    assert "WARDLINE_TURN_SECRET" in missing.value.message
    settings = Settings(
        data_dir=tmp_path,
        janus_api_secret=SECRETS["api_secret"],  # type: ignore[arg-type]
        janus_admin_secret=SECRETS["admin_secret"],  # type: ignore[arg-type]
        janus_room_admin_key=SECRETS["room_admin_key"],  # type: ignore[arg-type]
        turn_secret=SECRETS["turn_secret"],  # type: ignore[arg-type]
        janus_api_url="http://127.0.0.1:18088/janus",
        janus_browser_ws_url="wss://v.example:443/",
    )
    made = config_from(settings, tmp_path, bind="127.0.0.1")
    assert made.http_port == 18088 and made.ws_port == 443 and made.admin_port == 7088
    assert made.api_secret == SECRETS["api_secret"]


def test_janus_errors_become_gateway_errors_with_janus_codes() -> None:
    with pytest.raises(GatewayError) as core:
        jm.reply_of({"janus": "error", "error": {"code": 403, "reason": "Unauthorized"}})
    assert core.value.error_id == "video.gateway_refused" and core.value.details["code"] == 403
    plugin = {
        "janus": "success",
        "plugindata": {
            "plugin": jm.VIDEOROOM,
            "data": {"videoroom": "event", "error_code": 426, "error": "No such room"},
        },
    }
    with pytest.raises(GatewayError) as room:
        jm.room_reply(plugin)
    assert room.value.details["code"] == jm.NO_SUCH_ROOM
    for junk in (None, [], {"no": "janus"}, {"janus": "ack"}):
        with pytest.raises(GatewayError):
            jm.created_id(junk)
    assert jm.created_id({"janus": "success", "data": {"id": 42}}) == 42
    ok = {"janus": "success", "plugindata": {"data": {"videoroom": "created", "room": 7}}}
    assert jm.room_reply(ok)["room"] == 7


def test_a_room_is_created_private_pinned_unrecorded_and_token_checked() -> None:
    body = jm.create_room(jm.RoomSpec(7, "secret-x", "pin-y", "visit 1"), "key-z")
    assert body["is_private"] is True and body["record"] is False and body["lock_record"] is True
    assert (body["pin"], body["secret"], body["admin_key"]) == ("pin-y", "secret-x", "key-z")
    assert body["allowed"] == [] and body["publishers"] == 4 and body["permanent"] is False
    message = jm.plugin_message("api", body)
    as_browser = jm.with_token(message, "tok")
    assert "apisecret" not in as_browser and as_browser["token"] == "tok"


def test_turn_credentials_follow_corturns_rest_scheme() -> None:
    expires = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    cred = turn_credential("s3cret", ("turn:h:3478",), "v7p22", expires)
    assert cred.username == f"{int(expires.timestamp())}:v7p22"
    expected = base64.b64encode(hmac.new(b"s3cret", cred.username.encode(), hashlib.sha1).digest())
    assert cred.credential == expected.decode()
    with pytest.raises(ValueError):
        turn_credential("s", (), "a:b", expires)


def test_guest_links_and_codes() -> None:
    links = {new_link() for _ in range(50)}
    assert len(links) == 50 and all(well_formed_link(link) for link in links)
    assert len({link_hash(link) for link in links}) == 50
    assert not well_formed_link("short") and not well_formed_link("x" * 30 + "/")
    codes = [new_code() for _ in range(200)]
    assert all(well_formed_code(c) for c in codes) and len(set(codes)) > 150
    assert not well_formed_code("12345") and not well_formed_code("12345a")
    assert all(1 <= new_room_id() < 2**53 for _ in range(100))


def test_a_missing_gateway_binary_fails_when_services_are_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WARDLINE_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y janus"):
        need_binary("janus-not-installed-here", "janus")
    monkeypatch.setenv("WARDLINE_REQUIRE_SERVICES", "")
    with pytest.raises(pytest.skip.Exception):
        need_binary("janus-not-installed-here", "janus")


def test_wardline_janus_config_writes_the_files_or_names_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from wardline.cli import main

    for name in (
        "WARDLINE_JANUS_API_SECRET",
        "WARDLINE_JANUS_ADMIN_SECRET",
        "WARDLINE_JANUS_ROOM_ADMIN_KEY",
        "WARDLINE_TURN_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    assert main(["janus-config", "--out", str(tmp_path / "none")]) == 2
    assert "WARDLINE_JANUS_API_SECRET" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()
    monkeypatch.setenv("WARDLINE_JANUS_API_SECRET", SECRETS["api_secret"])
    monkeypatch.setenv("WARDLINE_JANUS_ADMIN_SECRET", SECRETS["admin_secret"])
    monkeypatch.setenv("WARDLINE_JANUS_ROOM_ADMIN_KEY", SECRETS["room_admin_key"])
    monkeypatch.setenv("WARDLINE_TURN_SECRET", SECRETS["turn_secret"])
    out = tmp_path / "janus"
    assert (
        main(
            ["janus-config", "--out", str(out), "--loopback-peers", "--turn-relay-ip", "10.1.2.3"]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "janus.jcfg",
            "janus.transport.http.jcfg",
            "janus.transport.websockets.jcfg",
            "janus.plugin.videoroom.jcfg",
            "turnserver.conf",
        ]
    )
    assert f'configs_folder = "{out.resolve()}"' in (out / "janus.jcfg").read_text()
    assert "allow-loopback-peers" in (out / "turnserver.conf").read_text()
    assert "relay-ip=10.1.2.3" in (out / "turnserver.conf").read_text()
    assert SECRETS["api_secret"] not in capsys.readouterr().out
