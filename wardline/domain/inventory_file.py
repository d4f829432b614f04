"""The inventory file (see docs/inventory.md): a pydantic model and a reader that names the
file, line and field of the first problem."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wardline.domain.dids import expand_range
from wardline.domain.errors import InvalidInput
from wardline.domain.nurse_call_policy import NurseCallPolicy

_EXT = r"^[0-9]{2,8}$"
_CODE = r"^[A-Za-z0-9_-]{1,32}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EscalationLevel(_Model):
    level: str = Field(min_length=1, max_length=64)
    after_seconds: int = Field(gt=0, le=24 * 3600)
    extension: str | None = Field(default=None, pattern=_EXT)
    extensions: list[Annotated[str, Field(pattern=_EXT)]] | None = Field(
        default=None, min_length=1, max_length=16
    )
    ward: str | None = Field(default=None, pattern=_CODE)

    @model_validator(mode="after")
    def _one_target(self) -> EscalationLevel:
        named = [t for t in (self.extension, self.extensions, self.ward) if t is not None]
        if len(named) != 1:
            raise ValueError(
                "an escalation level names one of: an extension, a list of extensions, a ward"
            )
        return self


class BedEntry(_Model):
    code: str = Field(pattern=_CODE)
    extension: str = Field(pattern=_EXT)
    label: str | None = Field(default=None, pattern=_CODE)
    terminal: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    fhir_location: str | None = Field(default=None, max_length=64)


class RoomEntry(_Model):
    code: str = Field(pattern=_CODE)
    beds: list[BedEntry] = Field(min_length=1)


class WardEntry(_Model):
    code: str = Field(pattern=_CODE)
    name: str = Field(min_length=1, max_length=200)
    nurse_station: str | None = Field(default=None, pattern=_EXT)
    nurse_call: str | None = Field(default=None, pattern=_EXT)
    escalation: list[EscalationLevel] = Field(default_factory=list)
    nurse_call_policy: NurseCallPolicy = Field(default_factory=NurseCallPolicy)
    rooms: list[RoomEntry] = Field(default_factory=list)


class SiteEntry(_Model):
    code: str = Field(pattern=_CODE)
    name: str = Field(min_length=1, max_length=200)
    wards: list[WardEntry] = Field(default_factory=list)


class Switchboard(_Model):
    number: str = Field(default="9", pattern=r"^[0-9]{1,8}$")
    queue_extension: str = Field(default="8000", pattern=_EXT)
    queue: str = Field(default="switchboard", pattern=_CODE)
    operators: list[str] = Field(default_factory=list)


class Parking(_Model):
    extension: str = Field(default="700", pattern=_EXT)
    first_slot: str = Field(default="701", pattern=_EXT)
    last_slot: str = Field(default="720", pattern=_EXT)


class HospitalEntry(_Model):
    name: str = Field(min_length=1, max_length=200)
    switchboard: Switchboard = Field(default_factory=Switchboard)
    emergency_numbers: list[str] = Field(default_factory=lambda: ["15", "17", "18", "112"])
    parking: Parking = Field(default_factory=Parking)


class DidRange(_Model):
    first: str = Field(pattern=r"^[0-9]{4,15}$")
    last: str = Field(pattern=r"^[0-9]{4,15}$")

    def numbers(self) -> list[str]:
        return expand_range(self.first, self.last)


class InventoryFile(_Model):
    hospital: HospitalEntry
    dids: list[DidRange] = Field(default_factory=list)
    sites: list[SiteEntry] = Field(min_length=1)

    def beds(self) -> list[tuple[SiteEntry, WardEntry, RoomEntry, BedEntry]]:
        return [
            (site, ward, room, bed)
            for site in self.sites
            for ward in site.wards
            for room in ward.rooms
            for bed in room.beds
        ]

    @staticmethod
    def bed_label(ward: WardEntry, room: RoomEntry, bed: BedEntry) -> str:
        return bed.label or f"{ward.code}-{room.code}-{bed.code}"

    @model_validator(mode="after")
    def _consistent(self) -> InventoryFile:
        _unique("ward code", [w.code for s in self.sites for w in s.wards])
        _unique("site code", [s.code for s in self.sites])
        wards = {w.code for s in self.sites for w in s.wards}
        extensions = [bed.extension for *_rest, bed in self.beds()]
        for site in self.sites:
            for ward in site.wards:
                _unique(f"room code in ward {ward.code}", [r.code for r in ward.rooms])
                for room in ward.rooms:
                    _unique(
                        f"bed code in room {ward.code}-{room.code}", [b.code for b in room.beds]
                    )
                extensions += [e for e in (ward.nurse_station, ward.nurse_call) if e]
                times = [level.after_seconds for level in ward.escalation]
                if len(set(times)) != len(times):
                    raise ValueError(
                        f"escalation of ward {ward.code}: two levels with the same after_seconds"
                    )
                for level in ward.escalation:
                    if level.ward is not None and level.ward not in wards:
                        raise ValueError(
                            f"escalation of ward {ward.code} names unknown ward {level.ward}"
                        )
                    if level.ward is not None and not _station_of(self, level.ward):
                        raise ValueError(
                            f"escalation of ward {ward.code} names ward {level.ward}, "
                            "which has no nurse station to ring"
                        )
        for op in self.hospital.switchboard.operators:
            if not re.match(_EXT, op):
                raise ValueError(f"switchboard operator {op!r} is not an extension")
        extensions += self.hospital.switchboard.operators
        extensions.append(self.hospital.switchboard.queue_extension)
        _unique("extension", extensions)
        _unique("bed label", [self.bed_label(w, r, b) for _s, w, r, b in self.beds()])
        _unique("terminal", [b.terminal for *_rest, b in self.beds() if b.terminal])
        numbers: list[str] = []
        for rng in self.dids:
            numbers += rng.numbers()
        _unique("DID", numbers)
        return self


def _station_of(inv: InventoryFile, ward_code: str) -> str | None:
    for site in inv.sites:
        for ward in site.wards:
            if ward.code == ward_code:
                return ward.nurse_station
    return None


def _unique(what: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what} {value}")
        seen.add(value)


def _line_of(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            match = node.value[part] if part < len(node.value) else None
        else:
            match = None
        if match is None:
            break
        node = match
        line = node.start_mark.line + 1
    return line


def read_inventory(path: Path) -> InventoryFile:
    """Read and validate the file; any problem is one :class:`InvalidInput` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput("inventory.unreadable", f"{path}: cannot read: {exc}") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise InvalidInput("inventory.yaml", f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInput("inventory.shape", f"{path}:1: the file must be a YAML mapping")
    try:
        return InventoryFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if isinstance(p, int | str))
            field = ".".join(str(p) for p in loc) or "(file)"
            line = _line_of(root, loc)
            msg = str(err["msg"]).removeprefix("Value error, ")
            problems.append((line, field, msg))
        line, field, _ = problems[0]
        lines = [f"{path}:{ln}: {fld}: {msg}" for ln, fld, msg in problems]
        text_ = (
            lines[0]
            if len(lines) == 1
            else (f"{path}: {len(lines)} problems:\n  " + "\n  ".join(lines))
        )
        raise InvalidInput(
            "inventory.invalid",
            text_,
            file=str(path),
            line=line,
            field=field,
            problems=len(problems),
        ) from exc
