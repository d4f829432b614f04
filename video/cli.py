"""``wardline janus-config --out DIR``: Janus's and coturn's configuration from settings
(the secrets WARDLINE_JANUS_API_SECRET, WARDLINE_JANUS_ADMIN_SECRET, WARDLINE_JANUS_ROOM_ADMIN_KEY,
WARDLINE_TURN_SECRET; ports from the URLs). Run ``janus -C DIR/janus.jcfg -F DIR`` and
``turnserver -c DIR/turnserver.conf``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from video.config import JanusConfig, debian_lib_dir, render, write
from wardline.errors import ConfigError
from wardline.settings import Settings

SECRETS = ("janus_api_secret", "janus_admin_secret", "janus_room_admin_key", "turn_secret")


def register_cli(subparsers: Any) -> None:
    conf = subparsers.add_parser(
        "janus-config",
        help="write Janus's configuration (VideoRoom, HTTP and WebSocket) and coturn's",
        description="Write janus.jcfg, janus.transport.http.jcfg, "
        "janus.transport.websockets.jcfg, janus.plugin.videoroom.jcfg and turnserver.conf "
        "(readable by their owner only: they hold the secrets).",
    )
    conf.add_argument("--out", type=Path, required=True, help="directory to write into")
    conf.add_argument("--bind", default="127.0.0.1", help="address Janus listens on")
    conf.add_argument(
        "--ws-port",
        type=int,
        help="Janus WebSocket port (default: from WARDLINE_JANUS_BROWSER_WS_URL)",
    )
    conf.add_argument("--rtp-ports", default="20000-40000", help="Janus's media port range")
    conf.add_argument("--nat-1-1", help="Janus's public address when behind NAT")
    conf.add_argument("--ice-enforce", help="interfaces Janus gathers candidates on (lo)")
    conf.add_argument("--turn-bind", default="127.0.0.1", help="address coturn listens on")
    conf.add_argument(
        "--turn-relay-ip", help="address coturn relays from (default: --turn-bind)"
    )
    conf.add_argument("--turn-port", type=int, default=3478, help="coturn's port")
    conf.add_argument("--turn-cert", help="TLS certificate for coturn (turns: on 5349)")
    conf.add_argument("--turn-key", help="TLS key for coturn")
    conf.add_argument(
        "--loopback-peers",
        action="store_true",
        help="let coturn relay to 127.0.0.1 (tests and the demo only)",
    )
    conf.set_defaults(handler=cmd_janus_config)


def config_from(settings: Settings, out: Path, **given: Any) -> JanusConfig:
    missing = [f"WARDLINE_{name.upper()}" for name in SECRETS if getattr(settings, name) is None]
    if missing:
        raise ConfigError("video.config", "set " + ", ".join(missing), missing=missing)
    values = {name: getattr(settings, name).get_secret_value() for name in SECRETS}
    api, admin = urlsplit(settings.janus_api_url), urlsplit(settings.janus_admin_url)
    ws = urlsplit(settings.janus_browser_ws_url)
    return JanusConfig(
        api_secret=values["janus_api_secret"],
        admin_secret=values["janus_admin_secret"],
        room_admin_key=values["janus_room_admin_key"],
        turn_secret=values["turn_secret"],
        config_dir=str(out.resolve()),
        lib_dir=debian_lib_dir(),
        http_port=api.port or 8088,
        admin_port=admin.port or 7088,
        ws_port=given.pop("ws_port", None) or ws.port or 8188,
        turn_realm=settings.turn_realm,
        **{key: value for key, value in given.items() if value is not None},
    )


def cmd_janus_config(args: argparse.Namespace, settings: Settings) -> int:
    config = config_from(
        settings,
        args.out,
        bind=args.bind,
        ws_port=args.ws_port,
        rtp_ports=args.rtp_ports,
        nat_1_1=args.nat_1_1,
        ice_enforce=args.ice_enforce,
        turn_bind=args.turn_bind,
        turn_relay_ip=args.turn_relay_ip,
        turn_port=args.turn_port,
        turn_cert=args.turn_cert,
        turn_key=args.turn_key,
        turn_loopback_peers=args.loopback_peers,
    )
    try:
        written = write(args.out, render(config))
    except OSError as exc:
        raise ConfigError("video.config_write", f"cannot write into {args.out}: {exc}") from exc
    for path in written:
        print(path)
    print(
        f"start: janus -C {args.out}/janus.jcfg -F {args.out}; "
        f"turnserver -c {args.out}/turnserver.conf"
    )
    return 0
