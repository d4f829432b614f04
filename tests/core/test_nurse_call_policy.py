"""The nurse-call ring policy of a ward: which phones ring at each level, validated on load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLE_HOSPITAL
from wardline.domain.errors import InvalidInput
from wardline.domain.inventory_file import read_inventory
from wardline.domain.nurse_call_policy import (
    DEFAULT_POLICY,
    NurseCallPolicy,
    phones_at_level,
    policy_of,
    room_bed_name,
)

STEPS = [
    {"level": "neighbour", "after_seconds": 300, "ward": "PNEUMO"},
    {"level": "charge_nurse", "after_seconds": 120, "extension": "2901"},
    {"level": "team", "after_seconds": 420, "extensions": ["2902", "2901"]},
]
STATIONS = {"PNEUMO": "2910"}


@pytest.mark.parametrize(
    ("level", "keep", "phones"),
    [
        (0, True, ("2900",)),
        (1, True, ("2900", "2901")),
        (2, True, ("2900", "2901", "2910")),
        (3, True, ("2900", "2901", "2910", "2902")),  # each phone once
        (9, True, ("2900", "2901", "2910", "2902")),  # past the last step: the last level
        (1, False, ("2901",)),
        (2, False, ("2910",)),
        (3, False, ("2902", "2901")),
    ],
)
def test_phones_at_each_level(level: int, keep: bool, phones: tuple[str, ...]) -> None:
    policy = NurseCallPolicy(keep_lower_levels=keep)
    assert phones_at_level("2900", STEPS, level, policy, STATIONS.get) == phones


def test_a_ward_without_station_rings_its_levels_only() -> None:
    assert phones_at_level(None, STEPS, 0, DEFAULT_POLICY, STATIONS.get) == ()
    assert phones_at_level(None, STEPS, 1, DEFAULT_POLICY, STATIONS.get) == ("2901",)


def test_stored_policy_and_caller_names() -> None:
    stored = {"CARDIO": {"reissue_seconds": 5, "dial_limit_seconds": 8, "caller_name": "patient"}}
    cardio = policy_of(stored, "CARDIO")
    assert (cardio.reissue_seconds, cardio.dial_limit_seconds, cardio.caller_name) == (
        5, 8, "patient",
    )  # fmt: skip
    assert policy_of(stored, "PNEUMO") == DEFAULT_POLICY == policy_of(None, "X")
    assert room_bed_name("101", "A", "fr") == "Appel ch. 101 lit A"
    assert room_bed_name("101", "A", "de") == "Ruf Zi. 101 Bett A"
    assert room_bed_name("101", "A", "xx") == "Appel ch. 101 lit A"


def _edited(tmp_path: Path, edit: Any) -> Path:
    data = yaml.safe_load(EXAMPLE_HOSPITAL.read_text(encoding="utf-8"))
    edit(data["sites"][0]["wards"][0])
    path = tmp_path / "hospital.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_the_inventory_reads_the_policy(tmp_path: Path) -> None:
    def edit(ward: dict[str, Any]) -> None:
        ward["nurse_call_policy"] = {
            "reissue_seconds": 3, "dial_limit_seconds": 5,
            "keep_lower_levels": False, "answer_connects_bed": True,
        }  # fmt: skip
        ward["escalation"].append({"level": "team", "after_seconds": 600, "extensions": ["2909"]})

    inv = read_inventory(_edited(tmp_path, edit))
    ward = inv.sites[0].wards[0]
    assert ward.nurse_call_policy.keep_lower_levels is False
    assert ward.nurse_call_policy.answer_connects_bed is True
    assert ward.escalation[-1].extensions == ["2909"]
    assert inv.sites[0].wards[1].nurse_call_policy == DEFAULT_POLICY


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda w: w.update(nurse_call_policy={"reissue_seconds": 45}),
            "reissue_seconds (45) must be below dial_limit_seconds (45)",
        ),
        (
            lambda w: w.update(nurse_call_policy={"caller_name": "full_record"}),
            "nurse_call_policy.caller_name",
        ),
        (
            lambda w: w["escalation"].append(
                {"level": "x", "after_seconds": 900, "extension": "2909", "extensions": ["2908"]}
            ),
            "names one of",
        ),
        (
            lambda w: w["escalation"].append(
                {"level": "x", "after_seconds": 120, "extension": "2908"}
            ),
            "two levels with the same after_seconds",
        ),
        (
            lambda w: w["escalation"].append(
                {"level": "x", "after_seconds": 900, "extensions": ["29a"]}
            ),
            "escalation",
        ),
    ],
)
def test_a_bad_policy_is_refused_with_its_place(tmp_path: Path, edit: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        read_inventory(_edited(tmp_path, edit))
    assert message in refused.value.message
    assert refused.value.details.get("line") is not None
