"""A small reader of Asterisk .conf files for the structural checks (sections, key = value)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HEAD = re.compile(r"^\[([^\]]+)\](\((!|[^)]*)\))?\s*$")


@dataclass
class Section:
    name: str
    template: bool
    inherits: str | None
    items: list[tuple[str, str]] = field(default_factory=list)

    def get(self, key: str) -> list[str]:
        return [v for k, v in self.items if k == key]

    def one(self, key: str) -> str | None:
        values = self.get(key)
        return values[-1] if values else None


def parse_conf(text: str) -> list[Section]:
    sections: list[Section] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        head = _HEAD.match(line)
        if head:
            parent = head.group(3)
            sections.append(
                Section(head.group(1), parent == "!", parent if parent not in (None, "!") else None)
            )
            continue
        if "=" not in line:
            raise ValueError(f"line {number}: neither a section nor key = value: {raw!r}")
        if not sections:
            raise ValueError(f"line {number}: key outside any section")
        key, _, value = line.partition("=")
        sections[-1].items.append((key.strip(), value.lstrip(">").strip()))
    return sections


def extensions_by_context(sections: list[Section]) -> dict[str, list[str]]:
    """Context -> the extensions it defines (priority 1 lines)."""
    out: dict[str, list[str]] = {}
    for sec in sections:
        exts = [v.split(",", 1)[0] for k, v in sec.items if k == "exten"]
        out.setdefault(sec.name, []).extend(exts)
    return out
