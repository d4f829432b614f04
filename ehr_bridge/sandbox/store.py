"""The FHIR sandbox's in-memory store and its search: the subset of FHIR R4 search Wardline
uses (identifier, patient/subject, encounter, status, category, code, location with its type
prefix, date, _id, _sort=-date, _include=MedicationRequest:medication)."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime
from typing import Any

Resource = dict[str, Any]

REFERENCE_PARAMS = {
    "patient": ("subject", "patient"),
    "subject": ("subject", "patient"),
    "encounter": ("encounter", "context"),
}


class SandboxStore:
    """Resources by type and id; counters for tests (``created['MedicationAdministration']``)."""

    def __init__(self) -> None:
        self.resources: dict[str, dict[str, Resource]] = {}
        self.created: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self._ids = itertools.count(1)
        self.loop_paging = False
        """Test switch: every ``next`` link points at the page itself (a broken server)."""
        self.minimal_replies = False
        """Test switch: creates answer without a body (201 with Location only; 200 with
        neither body nor Location for an existing match), as ``Prefer: return=minimal``."""

    def add(self, resource: Resource, *, count: bool = False) -> Resource:
        kind = resource["resourceType"]
        rid = resource.get("id") or f"{kind.lower()}-{next(self._ids)}"
        stored = dict(resource, id=rid)
        stored["meta"] = {
            "versionId": "1",
            "lastUpdated": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.resources.setdefault(kind, {})[rid] = stored
        if count:
            self.created[kind] += 1
        return stored

    def get(self, kind: str, rid: str) -> Resource | None:
        return self.resources.get(kind, {}).get(rid)

    def all(self, kind: str) -> list[Resource]:
        return list(self.resources.get(kind, {}).values())

    def search(self, kind: str, params: dict[str, str]) -> list[Resource]:
        found = [r for r in self.all(kind) if all(_match(r, k, v) for k, v in params.items())]
        if params.get("_sort") in {"-date", "date"}:
            found.sort(key=_date_of, reverse=params["_sort"] == "-date")
        return found

    def includes(self, matches: list[Resource], include: str) -> list[Resource]:
        """``_include=MedicationRequest:medication`` (the one include Wardline asks for)."""
        if include != "MedicationRequest:medication":
            return []
        out: dict[str, Resource] = {}
        for resource in matches:
            ref = (resource.get("medicationReference") or {}).get("reference", "")
            kind, _, rid = ref.partition("/")
            target = self.get(kind, rid) if rid else None
            if target is not None:
                out[ref] = target
        return list(out.values())


def _date_of(resource: Resource) -> str:
    return str(
        resource.get("effectiveDateTime")
        or resource.get("authoredOn")
        or (resource.get("period") or {}).get("start")
        or ""
    )


def _codes(concepts: Any) -> set[str]:
    items = concepts if isinstance(concepts, list) else [concepts or {}]
    out: set[str] = set()
    for concept in items:
        for coding in concept.get("coding", []):
            code = coding.get("code", "")
            out.update({code, f"{coding.get('system', '')}|{code}"})
    return out


def _identifier_match(resource: Resource, value: str) -> bool:
    system, sep, code = value.rpartition("|")
    for ident in resource.get("identifier", []):
        if ident.get("value") != code:
            continue
        if not sep or ident.get("system", "") == system:
            return True
    return False


def _compare_date(actual: str, expression: str) -> bool:
    prefix, value = (
        (expression[:2], expression[2:]) if expression[:2].isalpha() else ("eq", expression)
    )
    if not actual:
        return False
    a = datetime.fromisoformat(actual.replace("Z", "+00:00"))
    b = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if a.tzinfo is None:
        a = a.replace(tzinfo=UTC)
    if b.tzinfo is None:
        b = b.replace(tzinfo=UTC)
    return {"ge": a >= b, "gt": a > b, "le": a <= b, "lt": a < b, "eq": a == b}.get(prefix, False)


def _match(resource: Resource, name: str, value: str) -> bool:
    if name.startswith("_") and name != "_id":
        return True  # result parameters (_count, _offset, _sort, _include) do not filter
    if name == "_id":
        return resource.get("id") in value.split(",")
    if name == "identifier":
        return any(_identifier_match(resource, v) for v in value.split(","))
    if name in REFERENCE_PARAMS:
        refs = {(resource.get(f) or {}).get("reference", "") for f in REFERENCE_PARAMS[name]}
        kind = "Encounter" if name == "encounter" else "Patient"
        wanted = value if "/" in value else f"{kind}/{value}"
        return wanted in refs
    if name == "status":
        return resource.get("status") in value.split(",")
    if name == "category":
        return bool(_codes(resource.get("category")) & set(value.split(",")))
    if name == "code":
        return bool(_codes(resource.get("code")) & set(value.split(",")))
    if name == "location":
        # Like several real servers: only the typed reference form matches.
        refs = {
            (loc.get("location") or {}).get("reference", "") for loc in resource.get("location", [])
        }
        return value in refs
    if name in {"date", "effective-time"}:
        return _compare_date(_date_of(resource), value)
    return False  # an unknown parameter matches nothing rather than everything
