"""Settings of the service: environment variables ``WARDLINE_*``, an optional TOML file, and
embedded defaults so that nothing must be configured to start.

Precedence (highest first): keyword arguments, environment, TOML file named by
``WARDLINE_CONFIG``, defaults. Secrets are :class:`pydantic.SecretStr` and never printed.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from wardline.errors import ConfigError

LogFormat = Literal["auto", "console", "json"]


def _toml_file() -> Path | None:
    value = os.environ.get("WARDLINE_CONFIG")
    return Path(value) if value else None


class Settings(BaseSettings):
    """Every setting of Wardline. The README's settings table is generated from this class."""

    model_config = SettingsConfigDict(
        env_prefix="WARDLINE_", extra="forbid", validate_default=True, frozen=True
    )

    # core
    data_dir: Path = Field(
        default=Path("data"), description="Directory for the embedded database and state."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL the service connects with (in production a role that "
        "may only INSERT and SELECT the audit); default: SQLite `wardline.db` in the data "
        "directory.",
    )
    database_owner_url: str | None = Field(
        default=None,
        description="URL of the schema's owner, used only by `wardline db upgrade` and `wardline "
        "db grant` (never by the service); default: the service's URL (one role).",
    )
    db_auto_upgrade: bool = Field(
        default=True, description="Migrate the database to the newest schema at start-up."
    )
    http_host: str = Field(default="127.0.0.1", description="Address the web service binds.")
    http_port: int = Field(default=8080, ge=0, le=65535, description="Port of the web service.")
    log_level: str = Field(default="INFO", description="Log level (DEBUG, INFO, WARNING...).")
    log_format: LogFormat = Field(
        default="auto", description="`console`, `json`, or `auto` (console in a terminal)."
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="Unused since sessions are held on the server (accepted so that existing "
        "configurations still load).",
    )
    audit_key: SecretStr | None = Field(
        default=None,
        description="Key of the audit chain's HMAC (32 bytes, urlsafe base64), never stored in "
        "the database. Generated once into the data directory when unset.",
    )
    audit_checkpoint_file: Path | None = Field(
        default=None,
        description="File the signed checkpoints of the audit chain's head are appended to "
        "(keep it off the database host); default: `audit-checkpoints.log` in the data "
        "directory.",
    )
    audit_checkpoint_seconds: float = Field(
        default=60.0, gt=0, description="How often the service checkpoints the audit chain."
    )
    did_quarantine_hours: float = Field(
        default=24.0, ge=0, description="Hours before a released direct number is reused."
    )
    site_name: str = Field(default="Wardline", description="Hospital name shown on pages.")
    default_language: str = Field(default="fr", description="Default language (fr, en, de).")
    timezone: str = Field(
        default="Europe/Paris",
        description="Time zone of the sites (clinical times, schedule, TV clock), DST-correct.",
    )
    site_timezones: dict[str, str] = Field(
        default_factory=dict,
        description='Time zone of a site by its code, JSON: {"CHU-NORD": "Europe/Paris"}.',
    )

    # telephony (Asterisk AMI)
    ami_host: str = Field(default="127.0.0.1", description="Asterisk AMI host.")
    ami_port: int = Field(default=5038, ge=0, le=65535, description="Asterisk AMI port.")
    ami_username: str = Field(default="wardline", description="AMI user of the service.")
    ami_secret: SecretStr = Field(default=SecretStr(""), description="AMI secret.")
    ami_enabled: bool = Field(default=True, description="Connect to Asterisk at start-up.")
    ami_action_timeout: float = Field(
        default=5.0, gt=0, description="Seconds before a PBX action fails with a timeout."
    )
    lines_audit_seconds: float = Field(
        default=120.0,
        ge=0,
        description="How often the bed lines' holder compares AstDB with the stays and puts "
        "back what was changed outside Wardline (0: only at start-up and reconnects).",
    )

    # bedside (MQTT)
    mqtt_url: SecretStr = Field(
        default=SecretStr("mqtt://127.0.0.1:1883"),
        description="Broker URL `mqtt://user:password@host:port` (`mqtts://` for TLS).",
    )
    mqtt_enabled: bool = Field(default=True, description="Connect to the broker at start-up.")
    mqtt_client_id: str | None = Field(
        default=None,
        description="MQTT client id; default the user name of `WARDLINE_MQTT_URL`, else "
        "`wardline-service`. Each instance of the service needs its own account (the generated "
        "broker configuration binds the client id to the account).",
    )
    terminal_offline_alert_seconds: float = Field(
        default=300.0, gt=0, description="Offline time after which a terminal raises an alert."
    )
    mqtt_shared_group: str = Field(
        default="auto",
        pattern=r"^[A-Za-z0-9_-]{0,64}$",
        description="Group of the shared subscription (`$share/<group>/...`) to the terminals' "
        "events, so that each press is handled by one instance of the service. `auto`: a name "
        "derived from the audit key (the same on every instance, unknown to the terminals: "
        "Mosquitto lets any client join a group it can name); empty for a plain subscription "
        "(a broker without shared subscriptions, one instance only).",
    )

    def mqtt_share_group(self) -> str:
        """The shared subscription's group name ("" for none)."""
        if self.mqtt_shared_group != "auto":
            return self.mqtt_shared_group
        import hashlib
        import hmac

        label = b"wardline mqtt shared subscription group"
        return "wl" + hmac.new(self.audit_key_bytes(), label, hashlib.sha256).hexdigest()[:30]

    cluster_events: bool = Field(
        default=True,
        description="Exchange domain events with the other instances through PostgreSQL "
        "LISTEN/NOTIFY (PostgreSQL only; nothing to exchange on SQLite).",
    )
    cluster_events_channel: str = Field(
        default="wardline_events",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL notification channel of the domain events between instances.",
    )

    # EHR bridge
    mllp_host: str = Field(default="127.0.0.1", description="Address of the HL7 ADT listener.")
    mllp_port: int = Field(default=2575, ge=0, le=65535, description="Port of the ADT listener.")
    mllp_enabled: bool = Field(default=True, description="Listen for HL7 v2 ADT over MLLP.")
    hl7_default_charset: str = Field(
        default="iso-8859-1", description="Charset of HL7 messages whose MSH-18 is empty."
    )
    fhir_url: str | None = Field(default=None, description="Base URL of the FHIR R4 server.")
    fhir_token: SecretStr | None = Field(default=None, description="FHIR bearer token.")
    fhir_token_url: str | None = Field(
        default=None, description="OAuth2 token endpoint (client credentials)."
    )
    fhir_client_id: str | None = Field(default=None, description="OAuth2 client id.")
    fhir_client_secret: SecretStr | None = Field(default=None, description="OAuth2 secret.")
    fhir_cache_ttl_seconds: float = Field(
        default=60.0, ge=0, description="Time to live of the bedside record cache."
    )

    # video visits (issue 17; docs/video.md)
    video_enabled: bool = Field(
        default=False, description="Offer video visits from the bed (needs Janus and coturn)."
    )
    janus_api_url: str = Field(
        default="http://127.0.0.1:8088/janus",
        description="Janus HTTP API, as Wardline reaches it (rooms are created there).",
    )
    janus_admin_url: str = Field(
        default="http://127.0.0.1:7088/admin",
        description="Janus admin API (tokens are added and removed there); keep it private.",
    )
    janus_api_secret: SecretStr | None = Field(
        default=None, description="Janus `api_secret` (Wardline's own requests; never to browsers)."
    )
    janus_admin_secret: SecretStr | None = Field(
        default=None, description="Janus `admin_secret` of the admin API."
    )
    janus_room_admin_key: SecretStr | None = Field(
        default=None,
        description="VideoRoom `admin_key`: only Wardline may create rooms.",
    )
    janus_browser_ws_url: str = Field(
        default="ws://127.0.0.1:8188/",
        description="Janus WebSocket URL given to browsers (`wss://` in production).",
    )
    janus_browser_http_url: str | None = Field(
        default=None,
        description="Janus HTTP API URL given to browsers; default: WARDLINE_JANUS_API_URL.",
    )
    turn_urls: list[str] = Field(
        default=["turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp"],
        description="TURN server URLs given to browsers (`turns:` on 5349 in production).",
    )
    turn_secret: SecretStr | None = Field(
        default=None, description="coturn `static-auth-secret` (REST API credentials)."
    )
    turn_realm: str = Field(default="wardline", description="coturn realm.")
    video_credential_minutes: float = Field(
        default=60.0,
        gt=0,
        le=720,
        description="Life of a participant's Janus token and TURN credential.",
    )
    video_invite_minutes: float = Field(
        default=5.0, gt=0, le=60, description="How long the TV's invitation waits for an answer."
    )
    video_guest_link_minutes: float = Field(
        default=120.0, gt=0, le=7 * 24 * 60, description="Life of a guest's one-time link."
    )
    video_relay_only: bool = Field(
        default=False, description="Browsers use TURN relays only (ICE policy `relay`)."
    )
    video_sweep_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often unanswered invitations, expired credentials "
        "and rooms Janus forgot are dealt with.",
    )

    # web
    nurse_idle_signout_seconds: float = Field(
        default=120.0, gt=0, description="Idle time before a nurse is signed out at the bed."
    )

    # operations
    loop_stall_seconds: float = Field(
        default=0.1,
        gt=0,
        description="An event-loop stall this long is logged (`loop.stall`) with the task and "
        "code that held the loop; every lag goes to the `wardline_event_loop_lag_seconds` "
        "histogram.",
    )
    instance_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9._:@-]+$",
        description="Name of this instance among several sharing one database (shown in "
        "`/readyz` and held in the leases); default: host name and process id.",
    )
    lease_ttl_seconds: float = Field(
        default=3.0,
        gt=0,
        description="How long a lease on a duty (bed lines, nurse-call escalation, terminal "
        "resync, outbox) lasts without renewal, by the database's clock; another instance "
        "takes the duty over after it.",
    )
    lease_renew_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often the leases held are renewed (and free ones sought); well under "
        "`WARDLINE_LEASE_TTL_SECONDS`.",
    )
    require_services: bool = Field(
        default=False,
        description="Tests: fail instead of skipping when PostgreSQL or Mosquitto is missing.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _zone_name(value)

    @field_validator("site_timezones")
    @classmethod
    def _known_zones(cls, value: dict[str, str]) -> dict[str, str]:
        return {site: _zone_name(zone) for site, zone in value.items()}

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in {"fr", "en", "de", "lb"}:
            raise ValueError("must be one of fr, en, de, lb")
        return value

    @model_validator(mode="after")
    def _renewed_before_expiry(self) -> Settings:
        if self.lease_renew_seconds * 2 > self.lease_ttl_seconds:
            raise ValueError(
                "WARDLINE_LEASE_RENEW_SECONDS must be at most half of WARDLINE_LEASE_TTL_SECONDS"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _toml_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'wardline.db').resolve()}"

    @property
    def effective_owner_url(self) -> str:
        return self.database_owner_url or self.effective_database_url

    @property
    def effective_janus_browser_http_url(self) -> str:
        return self.janus_browser_http_url or self.janus_api_url

    @property
    def effective_audit_checkpoint_file(self) -> Path:
        return self.audit_checkpoint_file or self.data_dir / "audit-checkpoints.log"

    def audit_key_bytes(self) -> bytes:
        """The audit chain's key: from settings, or generated once into the data directory."""
        return _key(self.audit_key, self.data_dir / "audit.key")


def _key(given: SecretStr | None, path: Path) -> bytes:
    import base64

    if given is not None:
        return base64.urlsafe_b64decode(given.get_secret_value().encode())
    if path.exists():
        return base64.urlsafe_b64decode(path.read_bytes().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(base64.urlsafe_b64encode(key))
    return key


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning validation and file errors into one clear :class:`ConfigError`."""
    from pydantic import ValidationError

    path = _toml_file()
    if path is not None and not path.is_file():
        raise ConfigError("config.missing", f"settings file not found: {path}", path=str(path))
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = [
            f"WARDLINE_{'_'.join(str(p) for p in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        ]
        field = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise ConfigError(
            "config.invalid", "invalid setting " + "; ".join(problems), field=field
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config.toml", f"settings file {path} is not valid TOML: {exc}") from exc


def _zone_name(name: str) -> str:
    """An IANA time zone name known to this machine (``Europe/Paris``)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name
