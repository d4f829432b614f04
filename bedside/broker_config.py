"""Mosquitto configuration for the terminal plane: ``mosquitto.conf``, a password file with one
account per terminal plus one per service instance, and a pattern ACL confining each terminal
to its own topics (read ``{root}/terminal/%u/#``, write only its ``status`` and ``event``).

Client ids are bound to accounts (``use_username_as_clientid``): a terminal can only ever be
its own client, so it can neither kick another client off nor take over or discard its
session (the service's persistent session and its queued nurse calls).

Started as root, Mosquitto drops to the ``user`` of its configuration (``--run-as``, default
``mosquitto``) before it reads the password file and the ACL: when the generator runs as root
it gives them (and the persistence directory) to that user, mode 0600/0700.

Passwords are generated once and kept in the data directory (mode 0600, never committed); the
password file holds only mosquitto's PBKDF2-SHA512 hashes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pwd
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bedside.errors import BedsideError
from bedside.topics import ROOT, check_terminal_id

PBKDF2_ITERATIONS = 101  # mosquitto_passwd's default for the $7$ format
CREDENTIALS_FILE = "mqtt-terminal-credentials.json"


def mosquitto_password_hash(
    password: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS
) -> str:
    """``$7$iterations$salt$hash`` as mosquitto 2 writes it (PBKDF2-HMAC-SHA512, 64 bytes)."""
    salt = os.urandom(12) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    encode = base64.b64encode
    return f"$7${iterations}${encode(salt).decode()}${encode(digest).decode()}"


def verify_mosquitto_password(password: str, stored: str) -> bool:
    try:
        _, kind, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "7":
        return False
    again = mosquitto_password_hash(
        password, salt=base64.b64decode(salt), iterations=int(iterations)
    )
    return secrets.compare_digest(again.rsplit("$", 1)[1], digest)


DEFAULT_SERVICE_USER = "wardline-service"


@dataclass(frozen=True)
class Credentials:
    """Broker accounts: one per service instance (the first is the default) and one per
    terminal (user name = terminal id = client id)."""

    services: dict[str, str]
    terminals: dict[str, str]

    @property
    def service_user(self) -> str:
        return next(iter(self.services))

    @property
    def service_password(self) -> str:
        return self.services[self.service_user]


def _stored_services(stored: dict[str, object]) -> dict[str, str]:
    services = {str(k): str(v) for k, v in dict(stored.get("services", {})).items()}  # type: ignore[call-overload]
    if "service_user" in stored:  # the format of one service account
        services.setdefault(str(stored["service_user"]), str(stored["service_password"]))
    return services


def read_credentials(data_dir: Path) -> Credentials | None:
    """The stored credentials, or None when ``mosquitto-config`` never ran here."""
    path = data_dir / CREDENTIALS_FILE
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        terminals = {str(k): str(v) for k, v in stored["terminals"].items()}
        services = _stored_services(stored)
        if not services:
            raise KeyError("services")
        return Credentials(services, terminals)
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, AttributeError, TypeError) as exc:
        raise BedsideError("mqtt.credentials_unreadable", f"{path} is not readable") from exc


def load_or_create_credentials(
    data_dir: Path,
    terminal_ids: Iterable[str],
    *,
    service_users: Sequence[str] = (DEFAULT_SERVICE_USER,),
    service_password: str | None = None,
) -> Credentials:
    """Read the stored passwords, generate the missing ones once, and store them back.
    ``service_password`` (from ``WARDLINE_MQTT_URL``) is the first service account's."""
    path = data_dir / CREDENTIALS_FILE
    stored: dict[str, object] = {}
    if path.exists():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise BedsideError("mqtt.credentials_unreadable", f"{path} is not JSON") from exc
    terminals = {str(k): str(v) for k, v in dict(stored.get("terminals", {})).items()}  # type: ignore[call-overload]
    for tid in terminal_ids:
        check_terminal_id(tid)
        terminals.setdefault(tid, secrets.token_urlsafe(24))
    known = _stored_services(stored)
    services: dict[str, str] = {}
    for n, user in enumerate(dict.fromkeys(service_users or (DEFAULT_SERVICE_USER,))):
        check_terminal_id(user)  # the same rules: it is a user name and a client id
        given = service_password if n == 0 else None
        services[user] = given or known.get(user) or secrets.token_urlsafe(24)
    for user, password in known.items():  # accounts of other instances are kept
        services.setdefault(user, password)
    if clash := sorted(set(services) & set(terminals)):
        raise BedsideError(
            "mqtt.user_clash", f"a terminal id equals a service account name: {clash[0]}"
        )
    data = {"services": services, "terminals": terminals}
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)
    return Credentials(services, terminals)


@dataclass(frozen=True)
class ListenerOptions:
    host: str = "127.0.0.1"
    port: int = 1883
    tls_port: int | None = None
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    persistence: bool = True
    run_as: str = "mosquitto"  # the user Mosquitto started as root drops to


def render_conf(out_dir: Path, options: ListenerOptions) -> str:
    out = out_dir.resolve()
    lines = [
        "# Generated by `wardline mosquitto-config`: edit the generator, not this file.",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {out / 'passwd'}",
        f"acl_file {out / 'acl'}",
        f"persistence {'true' if options.persistence else 'false'}",
        f"persistence_location {out / 'data'}/",
        "max_inflight_messages 0",
        "max_queued_messages 10000",
        "set_tcp_nodelay true",
        "# Started as root, Mosquitto drops to this user before it reads passwd and acl.",
        f"user {options.run_as}",
        "",
        "# On every listener, a client id is its account's user name: no client can take over",
        "# another's id, kick it off or discard its session (a listener option: before any",
        "# `listener` line it would open a default listener on 1883).",
        f"listener {options.port} {options.host}",
        "use_username_as_clientid true",
        "",
    ]
    tls = [
        f"listener {options.tls_port or 8883} {options.host}",
        "use_username_as_clientid true",
        f"cafile {options.cafile or '/etc/mosquitto/ca_certificates/ca.crt'}",
        f"certfile {options.certfile or '/etc/mosquitto/certs/server.crt'}",
        f"keyfile {options.keyfile or '/etc/mosquitto/certs/server.key'}",
        "tls_version tlsv1.2",
        "require_certificate false",
    ]
    if options.tls_port and options.certfile and options.keyfile:
        lines += ["# TLS listener (terminals connect with mqtts://)", *tls]
    else:
        lines += [
            "# TLS listener: uncomment and set the certificate paths",
            *("#" + t for t in tls),
        ]
    return "\n".join(lines) + "\n"


def render_acl(service_users: str | Iterable[str], root: str = ROOT) -> str:
    users = [service_users] if isinstance(service_users, str) else list(service_users)
    services = [line for user in users for line in (f"user {user}", f"topic readwrite {root}/#")]
    return "\n".join(
        [
            "# Generated by `wardline mosquitto-config`.",
            "# Each instance of the service reads and writes every terminal topic.",
            *services,
            "",
            "# Each terminal (user name = terminal id) reads only its own topics and writes",
            "# only its status (also its last will) and its events.",
            f"pattern read {root}/terminal/%u/#",
            f"pattern write {root}/terminal/%u/status",
            f"pattern write {root}/terminal/%u/event",
            "",
        ]
    )


def render_passwords(credentials: Credentials) -> str:
    accounts = {**credentials.services, **credentials.terminals}
    return "".join(
        f"{user}:{mosquitto_password_hash(password)}\n"
        for user, password in sorted(accounts.items())
    )


def write_broker_config(
    out_dir: Path, credentials: Credentials, options: ListenerOptions, root: str = ROOT
) -> list[Path]:
    """Write mosquitto.conf, passwd and acl into ``out_dir``; return their paths.

    passwd and acl are mode 0600 and the persistence directory 0700; written by root, they
    belong to ``options.run_as``, the user Mosquitto drops to before reading them.
    """
    owner = _owner(options.run_as) if os.geteuid() == 0 else None
    out_dir.mkdir(parents=True, exist_ok=True)
    data = out_dir / "data"
    data.mkdir(exist_ok=True)
    data.chmod(0o700)
    files = {
        "mosquitto.conf": render_conf(out_dir, options),
        "passwd": render_passwords(credentials),
        "acl": render_acl(credentials.services, root),
    }
    written = []
    for name, text in files.items():
        path = out_dir / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o644 if name == "mosquitto.conf" else 0o600)
        if owner is not None and name != "mosquitto.conf":
            os.chown(tmp, *owner)
        tmp.replace(path)
        written.append(path)
    if owner is not None:
        os.chown(data, *owner)
    return written


def _owner(user: str) -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise BedsideError(
            "mqtt.run_as_unknown",
            f"no user {user!r} on this machine for Mosquitto to run as (--run-as)",
        ) from None
    return entry.pw_uid, entry.pw_gid
