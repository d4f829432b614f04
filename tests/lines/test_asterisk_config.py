"""The generated Asterisk files: golden copies, structure, determinism, change summary."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from telephony.config.dialplan import DIALPLAN
from telephony.config.files import (
    FILES,
    RECORDINGS,
    SUMMARY_FILE,
    AsteriskSettings,
    Passwords,
    render,
    write_config,
)
from telephony.config.plan import (
    PbxPlan,
    WardLine,
    plan_from_database,
    plan_from_file,
)
from tests.conftest import EXAMPLE_HOSPITAL, Hospital
from tests.lines.conf_parse import Section, extensions_by_context, parse_conf
from wardline.domain.inventory_file import read_inventory

GOLDEN = Path(__file__).parent / "golden"
SEED = "golden-test-seed"


def settings() -> AsteriskSettings:
    return AsteriskSettings(
        asterisk_sip_secret_seed=SEED,  # type: ignore[arg-type]
        asterisk_trunk_host="192.0.2.10",
    )


def files_for(plan: PbxPlan, tmp: Path) -> dict[str, str]:
    return render(plan, Passwords(tmp, SEED), settings(), "wardline", None)


@pytest.fixture
def example() -> PbxPlan:
    return plan_from_file(read_inventory(EXAMPLE_HOSPITAL))


def test_golden_files_of_the_example_hospital(example: PbxPlan, tmp_path: Path) -> None:
    files = files_for(example, tmp_path)
    if os.environ.get("WARDLINE_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        for name, text in files.items():
            (GOLDEN / name).write_text(text, encoding="utf-8")
    assert sorted(files) == sorted(FILES)
    for name, text in files.items():
        assert text == (GOLDEN / name).read_text(encoding="utf-8"), name


async def test_database_and_file_give_the_same_bytes(
    hospital: Hospital, example: PbxPlan, tmp_path: Path
) -> None:
    from_db = await plan_from_database(hospital.db)
    assert files_for(from_db, tmp_path) == files_for(example, tmp_path)


def _by_name(sections: list[Section], kind: str) -> dict[str, Section]:
    found: dict[str, Section] = {}
    templates = {s.name: s for s in sections if s.template}
    for sec in sections:
        if sec.template:
            continue
        sec_type = sec.one("type") or (
            templates[sec.inherits].one("type") if sec.inherits else None
        )
        if sec_type == kind:
            assert sec.name not in found, f"duplicate {kind} {sec.name}"
            found[sec.name] = sec
    return found


def test_structure_of_every_generated_file(example: PbxPlan, tmp_path: Path) -> None:
    files = files_for(example, tmp_path)
    parsed = {name: parse_conf(text) for name, text in files.items()}
    pjsip = parsed["pjsip.conf"]
    endpoints = _by_name(pjsip, "endpoint")
    auths, aors = _by_name(pjsip, "auth"), _by_name(pjsip, "aor")
    phones = set(example.phone_extensions())
    assert phones <= set(endpoints)
    assert set(endpoints) - phones == {"wardline-trunk"}
    for name, ep in endpoints.items():
        assert ep.one("context") in {"from-bed", "from-staff", "from-trunk"}
        assert ep.one("aors") in aors
        if name != "wardline-trunk":
            auth = auths[ep.one("auth") or ""]
            assert auth.one("username") == name and len(auth.one("password") or "") >= 20
    for bed in example.beds:
        ep = endpoints[bed.extension]
        assert ep.one("context") == "from-bed"
        assert f"WL_BED={bed.extension}" in ep.get("set_var")

    dialplan = parsed["extensions.conf"]
    contexts = extensions_by_context(dialplan)
    for context, exts in contexts.items():
        assert len(exts) == len(set(exts)), f"duplicate extension in [{context}]"
    assert sorted(contexts["wl-beds"]) == sorted(b.extension for b in example.beds)
    assert sorted(contexts["wl-staff"]) == sorted(s.extension for s in example.staff)
    assert set(contexts["wl-always"]) == {
        *example.emergency_numbers,
        example.switchboard_number,
        example.queue_extension,
    }
    for context in (
        DIALPLAN.bed_context,
        DIALPLAN.staff_context,
        DIALPLAN.trunk_context,
        DIALPLAN.queue_context,
        DIALPLAN.astdb_context,
        "wl-bed-dial",
    ):
        assert context in contexts
    assert set(contexts[DIALPLAN.astdb_context]) == {DIALPLAN.astdb_write, DIALPLAN.astdb_done}
    included = set(re.findall(r"include => (\S+)", files["extensions.conf"]))
    assert DIALPLAN.astdb_context not in included  # no phone reaches the AstDB writes
    assert DIALPLAN.parking_context in included
    # every extension the dialplan rings is a configured endpoint
    dialled = set(re.findall(r"PJSIP/(\d+)\b", files["extensions.conf"]))
    dialled |= set(re.findall(r"PJSIP/(\d+)\b", files["queues.conf"]))
    assert dialled and dialled <= set(endpoints)
    for context in ("wl-beds", "wl-staff"):
        assert set(contexts[context]) <= set(endpoints)
    nurse_calls = {w.nurse_call for w in example.wards if w.nurse_call}
    assert set(contexts["wl-nurse-call"]) == nurse_calls

    queues = {s.name: s for s in parsed["queues.conf"]}
    assert queues[example.queue].get("member") == [f"PJSIP/{op}" for op in example.operators]
    manager = {s.name: s for s in parsed["manager.conf"]}
    assert manager["general"].one("bindaddr") == "127.0.0.1"
    user = manager["wardline"]
    assert user.one("read") == "system,call,agent,user,reporting"
    assert user.one("write") == "call,originate,reporting"
    assert user.one("deny") == "0.0.0.0/0.0.0.0"
    monitor = manager["wardline-monitor"]
    assert monitor.one("write") == "reporting" and "system" not in (monitor.one("read") or "")
    assert (monitor.one("secret") or "") != (user.one("secret") or "")
    options = {s.name: s for s in parsed["asterisk.conf"]}
    assert options["options"].one("live_dangerously") == "no"
    features = {s.name: s for s in parsed["features.conf"]}
    assert features["featuremap"].one("atxfer") == DIALPLAN.feature_atxfer
    assert features["featuremap"].one("blindxfer") == DIALPLAN.feature_blindxfer
    assert features["general"].one("atxferabort") == DIALPLAN.atxfer_abort
    trunk = _by_name(pjsip, "identify")["wardline-trunk-identify"]
    assert trunk.one("match") == "192.0.2.10"
    moh = {s.name: s for s in parsed["musiconhold.conf"]}
    assert moh["default"].one("mode") == "files"
    tones = {s.name: s for s in parsed["indications.conf"]}
    assert tones["general"].one("country") in tones
    parking = {s.name: s for s in parsed["res_parking.conf"]}
    assert parking["default"].one("parkext") == example.parking_extension
    assert parking["default"].one("parkpos") == f"{example.parking_first}-{example.parking_last}"
    modules = {s.name: s for s in parsed["modules.conf"]}
    assert modules["modules"].one("autoload") == "no"
    assert "func_db.so" in modules["modules"].get("require")
    loaded = set(modules["modules"].get("load")) | set(modules["modules"].get("require"))
    for never in ("res_ari.so", "app_voicemail.so", "app_system.so", "func_shell.so"):
        assert never in modules["modules"].get("noload") and never not in loaded


def test_every_recording_played_is_listed(example: PbxPlan, tmp_path: Path) -> None:
    """The dialplan plays only recordings of RECORDINGS, and the README lists them all."""
    text = files_for(example, tmp_path)["extensions.conf"]
    played = set(re.findall(r"Playback\(([\w-]+)\)", text))
    assert played and played <= set(RECORDINGS)
    readme = (Path(__file__).parents[2] / "asterisk_conf" / "README.md").read_text()
    for name in RECORDINGS:
        assert f"`{name}`" in readme, name


def test_no_trunk_without_its_address(example: PbxPlan, tmp_path: Path) -> None:
    bare = AsteriskSettings(asterisk_sip_secret_seed=SEED)  # type: ignore[arg-type]
    text = render(example, Passwords(tmp_path, SEED), bare, "wardline", "s")["pjsip.conf"]
    assert "wardline-trunk" not in {s.name for s in parse_conf(text)}
    assert "WARDLINE_ASTERISK_TRUNK_HOST" in text


def test_change_summary_names_sections(example: PbxPlan, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = write_config(out, files_for(example, tmp_path))
    assert {c.status for c in first} == {"new"}
    again = write_config(out, files_for(example, tmp_path))
    assert {c.status for c in again} == {"unchanged"}
    fewer = PbxPlan(**{**example.__dict__, "beds": example.beds[1:]})
    changes = {c.name: c for c in write_config(out, files_for(fewer, tmp_path))}
    gone = example.beds[0].extension
    assert changes["pjsip.conf"].removed == (gone, f"{gone}-auth")
    assert changes["extensions.conf"].modified == ("wl-beds",)
    assert changes["queues.conf"].status == "unchanged"
    summary = (out / SUMMARY_FILE).read_text()
    assert f"removed [{gone}], [{gone}-auth]" in summary
    assert "password" not in summary


def test_passwords_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = Passwords(tmp_path)
    secret = first["2001"]
    first.save()
    path = tmp_path / "asterisk-secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Passwords(tmp_path)["2001"] == secret
    assert Passwords(tmp_path)["2002"] != secret
    assert Passwords(tmp_path, "seed")["2001"] == Passwords(tmp_path / "x", "seed")["2001"]


def test_a_name_that_would_break_a_file_is_refused(example: PbxPlan) -> None:
    from telephony.config.plan import AsteriskConfigRefused, check_plan

    ward = example.wards[0]
    evil = PbxPlan(
        **{
            **example.__dict__,
            "wards": (WardLine(**{**ward.__dict__, "name": "Cardio\n[wardline]\nsecret=x"}),),
        }
    )
    with pytest.raises(AsteriskConfigRefused, match="cannot go into an Asterisk file"):
        check_plan(evil)


def test_manager_permit_takes_an_address_or_a_network(example: PbxPlan, tmp_path: Path) -> None:
    local = AsteriskSettings(  # type: ignore[call-arg]
        asterisk_manager_permit="10.1.2.0/24", asterisk_manager_bind="10.1.2.3"
    )
    text = render(example, Passwords(tmp_path, SEED), local, "wardline", "s")["manager.conf"]
    manager = {s.name: s for s in parse_conf(text)}
    assert manager["wardline"].one("permit") == "10.1.2.0/24"
    assert manager["general"].one("bindaddr") == "10.1.2.3"
