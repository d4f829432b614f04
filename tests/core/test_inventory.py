"""Inventory loading: idempotent, all-or-nothing, bad files named by file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from tests.conftest import EXAMPLE_HOSPITAL
from wardline.db.engine import Database
from wardline.db.models import AuditEvent, Bed, Did, StaffPhone, Terminal, Ward
from wardline.domain.audit import AuditLog
from wardline.domain.commands import SYSTEM_ADMIN_CLI
from wardline.domain.errors import InvalidInput
from wardline.domain.inventory import load_inventory
from wardline.domain.inventory_file import read_inventory
from wardline.example_hospital import dump, generate


async def count(db: Database, model: type) -> int:
    async with db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_load_twice_changes_nothing_the_second_time(db: Database) -> None:
    first = await load_inventory(db, EXAMPLE_HOSPITAL, SYSTEM_ADMIN_CLI, AuditLog())
    assert first.created["beds"] == 120 and first.created["wards"] == 6
    second = await load_inventory(db, EXAMPLE_HOSPITAL, SYSTEM_ADMIN_CLI, AuditLog())
    assert not second.changed
    assert await count(db, Bed) == 120 and await count(db, Terminal) == 120
    assert await count(db, AuditEvent) == 1
    assert await count(db, StaffPhone) >= 6 + 2
    async with db.sessions() as s:
        ward = (await s.scalars(select(Ward).where(Ward.code == "CARDIO"))).one()
        assert ward.escalation[0]["extension"] == "2901"


async def test_changed_file_updates_in_place(db: Database, tmp_path: Path) -> None:
    await load_inventory(db, EXAMPLE_HOSPITAL, SYSTEM_ADMIN_CLI, AuditLog())
    doc = generate(120)
    doc["sites"][0]["wards"][0]["name"] = "Cardiologie interventionnelle"
    doc["dids"][0]["last"] = "0388110199"
    changed = tmp_path / "h.yaml"
    changed.write_text(dump(doc))
    report = await load_inventory(db, changed, SYSTEM_ADMIN_CLI, AuditLog())
    # the ward and the labels of its two staff phones (nurse station, charge nurse)
    assert report.updated == {"wards": 1, "staff_phones": 2} and report.created == {"dids": 20}
    assert await count(db, Did) == 200


def _broken(tmp_path: Path, mutate: object) -> Path:
    doc = generate(120)
    mutate(doc)  # type: ignore[operator]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (
            lambda d: d["sites"][0]["wards"][0]["rooms"][0]["beds"][0].update(extension="2x01"),
            "sites.0.wards.0.rooms.0.beds.0.extension",
            "pattern",
        ),
        (
            lambda d: d["sites"][0]["wards"][0]["rooms"][0]["beds"][1].update(extension="2001"),
            "(file)",
            "duplicate extension 2001",
        ),
        (lambda d: d["dids"][0].update(last="03881"), "(file)", "same width"),
        (lambda d: d["sites"][0]["wards"][0].update(colour="red"), "colour", "Extra inputs"),
        (lambda d: d.pop("hospital"), "hospital", "Field required"),
    ],
)
async def test_bad_file_refused_whole_with_line_and_field(
    db: Database, tmp_path: Path, mutate: object, field: str, words: str
) -> None:
    path = _broken(tmp_path, mutate)
    with pytest.raises(InvalidInput) as err:
        await load_inventory(db, path, SYSTEM_ADMIN_CLI, AuditLog())
    assert str(path) in err.value.message and words in err.value.message
    assert field in err.value.details["field"]
    assert isinstance(err.value.details["line"], int)
    assert await count(db, Bed) == 0 and await count(db, AuditEvent) == 0


def test_line_number_points_at_the_bad_value(tmp_path: Path) -> None:
    text = EXAMPLE_HOSPITAL.read_text().replace("extension: '2005'", "extension: 'abc'")
    path = tmp_path / "h.yaml"
    path.write_text(text)
    expected = next(i for i, line in enumerate(text.splitlines(), 1) if "'abc'" in line)
    with pytest.raises(InvalidInput) as err:
        read_inventory(path)
    assert err.value.details["line"] == expected


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("sites: [\n")
    with pytest.raises(InvalidInput) as err:
        read_inventory(path)
    assert err.value.error_id == "inventory.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(InvalidInput):
        read_inventory(path)
    with pytest.raises(InvalidInput):
        read_inventory(tmp_path / "missing.yaml")


def test_generated_large_hospital_is_valid() -> None:
    doc = generate(2000, beds_per_ward=26, sites=3)
    inv = read_inventory_from(doc)
    assert len(inv.beds()) == 2000


def read_inventory_from(doc: dict[str, object]) -> object:
    from wardline.domain.inventory_file import InventoryFile

    inv = InventoryFile.model_validate(doc)
    return inv
