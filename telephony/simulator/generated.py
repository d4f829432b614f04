"""The simulator's dialplan, read from the configuration Wardline generates: the
``extensions.conf`` and ``res_parking.conf`` that ``wardline asterisk-config`` renders from the
same :class:`~telephony.config.plan.PbxPlan` (:func:`telephony.config.files.render_dialplan`).

Only what decides whether Asterisk 22 finds ``context,exten,1`` is kept: each context's
extensions with a priority 1 (exact ones and ``_`` patterns), its ``include``s, and the
parking lot's context (its ``parkext`` and ``parkpos`` spaces, made by res_parking). An action
into anything else is answered as Asterisk answers it (see :mod:`telephony.simulator.actions`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from telephony.config.plan import PbxPlan

_SECTION = re.compile(r"^\[([^\]]+)\]")
_EXTEN = re.compile(r"^exten\s*=>\s*([^,]+),\s*([^,]+),")
_INCLUDE = re.compile(r"^include\s*=>\s*(\S+)")
_SETTING = re.compile(r"^(\w+)\s*=>?\s*(.*?)\s*$")
_CLASSES = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}


def pattern(text: str) -> re.Pattern[str]:
    """An Asterisk extension pattern (``_0[1-5]XXXXXXXX``, ``_X.``) as a regular expression."""
    out: list[str] = []
    i = 0
    body = text[1:]
    while i < len(body):
        char = body[i]
        if char == "[":
            end = body.index("]", i)
            out.append(f"[{re.escape(body[i + 1 : end]).replace(chr(92) + '-', '-')}]")
            i = end + 1
            continue
        out.append(_CLASSES.get(char.upper(), re.escape(char)))
        i += 1
    return re.compile("".join(out))


@dataclass
class DialplanContext:
    extensions: set[str] = field(default_factory=set)
    patterns: list[re.Pattern[str]] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)


@dataclass
class GeneratedDialplan:
    contexts: dict[str, DialplanContext]

    @classmethod
    def parse(cls, extensions_conf: str, res_parking_conf: str = "") -> GeneratedDialplan:
        contexts: dict[str, DialplanContext] = {}
        current: DialplanContext | None = None
        for raw in extensions_conf.splitlines():
            line = raw.split(";", 1)[0].strip() if not raw.lstrip().startswith("exten") else raw
            line = line.strip()
            section = _SECTION.match(line)
            if section:
                name = section.group(1)
                current = None if name in ("general", "globals") else DialplanContext()
                if current is not None:
                    contexts[name] = current
                continue
            if current is None:
                continue
            exten = _EXTEN.match(line)
            if exten and exten.group(2).strip() == "1":
                name = exten.group(1).strip()
                if name.startswith("_"):
                    current.patterns.append(pattern(name))
                else:
                    current.extensions.add(name)
                continue
            include = _INCLUDE.match(line)
            if include:
                current.includes.append(include.group(1))
        for context, extensions in _parking_lots(res_parking_conf).items():
            contexts.setdefault(context, DialplanContext()).extensions |= extensions
        return cls(contexts)

    @classmethod
    def of_plan(cls, plan: PbxPlan) -> GeneratedDialplan:
        from telephony.config.files import render_dialplan

        files = render_dialplan(plan)
        return cls.parse(files["extensions.conf"], files["res_parking.conf"])

    def has_context(self, context: str) -> bool:
        return context in self.contexts

    def exists(self, context: str, exten: str, _seen: frozenset[str] = frozenset()) -> bool:
        """Whether Asterisk finds ``context,exten,1`` (its includes followed)."""
        found = self.contexts.get(context)
        if found is None or context in _seen or not exten:
            return False
        if exten in found.extensions or any(p.fullmatch(exten) for p in found.patterns):
            return True
        return any(self.exists(inc, exten, _seen | {context}) for inc in found.includes)


def _parking_lots(text: str) -> dict[str, set[str]]:
    """context -> parkext and parking spaces of each lot of res_parking.conf."""
    lots: dict[str, set[str]] = {}
    lot: dict[str, str] = {}

    def close() -> None:
        if "parkext" in lot or "parkpos" in lot:
            spaces = {lot["parkext"]} if "parkext" in lot else set()
            first, _, last = lot.get("parkpos", "").partition("-")
            if first.isdigit() and last.isdigit():
                width = len(first)
                spaces |= {str(n).zfill(width) for n in range(int(first), int(last) + 1)}
            lots.setdefault(lot.get("context", "parkedcalls"), set()).update(spaces)

    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if _SECTION.match(line):
            close()
            lot = {}
            continue
        setting = _SETTING.match(line)
        if setting:
            lot[setting.group(1)] = setting.group(2)
    close()
    return lots
