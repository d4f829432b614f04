"""Where the broker is: ``WARDLINE_MQTT_URL`` (``mqtt://user:password@host:port``,
``mqtts://`` for TLS) parsed into a :class:`BrokerAddress`; and a client's last will."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from bedside.errors import BedsideError


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False

    def describe(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_mqtt_url(url: str) -> BrokerAddress:
    """``mqtt://user:password@host:port`` (``mqtts://`` for TLS) → :class:`BrokerAddress`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BedsideError("mqtt.url_invalid", "MQTT URL is not valid") from exc
    if parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname:
        raise BedsideError("mqtt.url_invalid", "MQTT URL must be mqtt://host:port or mqtts://")
    tls = parts.scheme == "mqtts"
    return BrokerAddress(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        tls=tls,
    )


@dataclass(frozen=True)
class LastWill:
    topic: str
    payload: bytes
    retain: bool = True
