"""``wardline asterisk-config``: render the Asterisk files from a :class:`PbxPlan`, write them
all or none, and summarise what changed since the previous run.

SIP and AMI passwords come from settings (a seed each password is derived from) or are
generated once and kept in the data directory (``asterisk-secrets.json``, mode 0600); they are
never part of the repository. The summary names files and sections only, never a value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jinja2
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from telephony.config.dialplan import DIALPLAN, astdb_delete_piece_rule, astdb_put_piece_rule
from telephony.config.plan import AsteriskConfigRefused, PbxPlan

FILES = (
    "pjsip.conf",
    "extensions.conf",
    "queues.conf",
    "manager.conf",
    "res_parking.conf",
    "modules.conf",
    "features.conf",
    "musiconhold.conf",
    "indications.conf",
    "asterisk.conf",
)
MANAGER_READ = ("system", "call", "agent", "user", "reporting")
"""The events the service's AMI user receives (read classes grant no action)."""
MANAGER_WRITE = ("call", "originate", "reporting")
"""The service's AMI user's write classes: the fewest its actions need (manager.conf explains
each); the simulator refuses what a user without them is refused."""
MONITOR_READ = ("call", "agent", "reporting")
MONITOR_WRITE = ("reporting",)
RECORDINGS = (
    "wardline-line-inactive",
    "wardline-number-barred",
    "wardline-number-unavailable",
    "wardline-do-not-disturb",
    "wardline-nurse-call",
)
"""Every recording the generated dialplan and the nurse-call ring play (the site provides
them in ``<astdatadir>/sounds/<language>/``), listed in asterisk_conf/README.md."""
SECRETS_FILE = "asterisk-secrets.json"
SUMMARY_FILE = "wardline-changes.txt"
_SECTION = re.compile(r"^\[([^\]]+)\]", re.MULTILINE)


class AsteriskSettings(BaseSettings):
    """Edge-local settings of the generated Asterisk configuration (env prefix ``WARDLINE_``)."""

    model_config = SettingsConfigDict(env_prefix="WARDLINE_", extra="ignore", frozen=True)

    asterisk_sip_secret_seed: SecretStr | None = Field(
        default=None,
        description="Seed the SIP passwords are derived from (HMAC per extension); "
        "when unset, passwords are generated once into the data directory.",
    )
    asterisk_manager_bind: str = Field(
        default="127.0.0.1", description="Address Asterisk's AMI listens on (manager.conf)."
    )
    asterisk_manager_port: int = Field(default=5038, ge=1, le=65535)
    asterisk_manager_permit: str = Field(
        default="127.0.0.1", description="The one address the service's AMI user may log in from."
    )
    asterisk_sip_bind: str = Field(default="0.0.0.0:5060", description="SIP UDP transport bind.")
    asterisk_trunk_host: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$",
        description="The operator's SIP address (host[:port]): the trunk's contact and the "
        "address its calls are identified by; unset, no trunk is written.",
    )
    asterisk_tone_zone: Literal["be", "ch", "de", "fr"] = Field(
        default="fr", description="Country of the call-progress tones (indications.conf)."
    )
    asterisk_moh_directory: str = Field(
        default="moh/wardline",
        pattern=r"^[A-Za-z0-9_./-]+$",
        description="Directory of the music on hold, relative to astdatadir.",
    )
    asterisk_monitor_user: str = Field(
        default="wardline-monitor",
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="The read-only AMI user for monitoring (secret generated like the others).",
    )


def derived_password(seed: str, name: str) -> str:
    digest = hmac.new(seed.encode(), f"wardline-sip:{name}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:15]).decode().lower()


class Passwords:
    """Password per SIP extension (and for the AMI user), stable from one run to the next."""

    def __init__(self, data_dir: Path, seed: str | None = None) -> None:
        self.path = data_dir / SECRETS_FILE
        self.seed = seed
        self._stored: dict[str, str] = {}
        self._dirty = False
        if seed is None and self.path.exists():
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise AsteriskConfigRefused(
                    "asterisk_config.secrets_unreadable", f"cannot read {self.path}: {exc}"
                ) from exc
            if not isinstance(loaded, dict):
                raise AsteriskConfigRefused(
                    "asterisk_config.secrets_unreadable", f"{self.path} is not a JSON object"
                )
            self._stored = {str(k): str(v) for k, v in loaded.items()}

    def __getitem__(self, name: str) -> str:
        if self.seed is not None:
            return derived_password(self.seed, name)
        if name not in self._stored:
            self._stored[name] = secrets.token_urlsafe(18)
            self._dirty = True
        return self._stored[name]

    def save(self) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self._stored, out, sort_keys=True, indent=1)
        os.replace(tmp, self.path)
        self._dirty = False


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("asterisk_conf", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(
    plan: PbxPlan,
    passwords: Passwords,
    settings: AsteriskSettings,
    manager_user: str,
    manager_secret: str | None,
) -> dict[str, str]:
    """Every file's text, by name (pure but for generating a missing password)."""
    env = _environment()
    monitor = settings.asterisk_monitor_user
    context = {
        "plan": plan,
        "dp": DIALPLAN,
        "astdb_put_rule": astdb_put_piece_rule(),
        "astdb_delete_rule": astdb_delete_piece_rule(),
        "trunk_host": settings.asterisk_trunk_host,
        "tone_zone": settings.asterisk_tone_zone,
        "moh_directory": settings.asterisk_moh_directory,
        "monitor_user": monitor,
        "manager_read": ",".join(MANAGER_READ),
        "manager_write": ",".join(MANAGER_WRITE),
        "monitor_read": ",".join(MONITOR_READ),
        "monitor_write": ",".join(MONITOR_WRITE),
        "monitor_secret": passwords[f"ami:{monitor}"],
        "passwords": passwords,
        "sip_bind": settings.asterisk_sip_bind,
        "manager_bind": settings.asterisk_manager_bind,
        "manager_port": settings.asterisk_manager_port,
        "manager_permit": settings.asterisk_manager_permit,
        "manager_user": manager_user,
        "manager_secret": manager_secret or passwords[f"ami:{manager_user}"],
    }
    return {name: env.get_template(f"{name}.j2").render(context) for name in FILES}


def render_dialplan(plan: PbxPlan, settings: AsteriskSettings | None = None) -> dict[str, str]:
    """``extensions.conf`` and ``res_parking.conf`` alone (they hold no secret): what the PBX
    simulator reads its dialplan from, rendered exactly as :func:`render` renders them."""
    env = _environment()
    settings = settings or AsteriskSettings()
    context = {
        "plan": plan,
        "dp": DIALPLAN,
        "astdb_put_rule": astdb_put_piece_rule(),
        "astdb_delete_rule": astdb_delete_piece_rule(),
        "trunk_host": settings.asterisk_trunk_host,
        "tone_zone": settings.asterisk_tone_zone,
        "moh_directory": settings.asterisk_moh_directory,
    }
    return {
        name: env.get_template(f"{name}.j2").render(context)
        for name in ("extensions.conf", "res_parking.conf")
    }


@dataclass(frozen=True)
class FileChange:
    name: str
    status: str  # new, changed, unchanged
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.status != "changed":
            return f"{self.name}: {self.status}"
        parts = [
            f"{label} {', '.join(f'[{s}]' for s in items)}"
            for label, items in (
                ("added", self.added),
                ("removed", self.removed),
                ("modified", self.modified),
            )
            if items
        ]
        return f"{self.name}: changed: " + ("; ".join(parts) or "comments or order only")


def sections(text: str) -> dict[str, str]:
    """Section name -> its body; repeated names (endpoint and aor) are joined in order."""
    out: dict[str, str] = {}
    matches = list(_SECTION.finditer(text))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        name = match.group(1)
        out[name] = out.get(name, "") + text[match.start() : end]
    return out


def compare(name: str, old: str | None, new: str) -> FileChange:
    if old is None:
        return FileChange(name, "new")
    if old == new:
        return FileChange(name, "unchanged")
    before, after = sections(old), sections(new)
    return FileChange(
        name,
        "changed",
        added=tuple(sorted(set(after) - set(before))),
        removed=tuple(sorted(set(before) - set(after))),
        modified=tuple(sorted(s for s in set(before) & set(after) if before[s] != after[s])),
    )


def write_config(out: Path, files: dict[str, str]) -> list[FileChange]:
    """Write every file (each atomically) and the summary; return what changed."""
    out.mkdir(parents=True, exist_ok=True)
    changes: list[FileChange] = []
    for name in sorted(files):
        target = out / name
        old = target.read_text(encoding="utf-8") if target.exists() else None
        changes.append(compare(name, old, files[name]))
    for name in sorted(files):
        target = out / name
        tmp = target.with_name(f".{name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(files[name])
        os.replace(tmp, target)
    summary = "\n".join(c.describe() for c in changes) + "\n"
    (out / SUMMARY_FILE).write_text(summary, encoding="utf-8")
    return changes
