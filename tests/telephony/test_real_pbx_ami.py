"""Issue 18 on a real Asterisk 22: the generated AMI account can do every action Wardline uses
and nothing that would let its holder own the PBX."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from telephony.calls.actions import PbxActions
from telephony.calls.state import CallState
from telephony.config.dialplan import DIALPLAN
from telephony.errors import PbxActionFailed
from tests.telephony.conftest import make_link
from tests.telephony.real_pbx import AMI_SECRET, RawAmi, RealPbx

pytestmark = pytest.mark.asterisk

FORBIDDEN = "Originate Access Forbidden: app or data blacklisted"


async def test_the_account_cannot_own_the_pbx(real_pbx: RealPbx, tmp_path: Path) -> None:
    marker = tmp_path / "owned"
    shell = f"touch {marker}"
    local = f"Local/{DIALPLAN.astdb_done}@{DIALPLAN.astdb_context}"
    ami = await RawAmi.login(real_pbx.ami_port)
    try:

        async def refused(action: str, **fields: str) -> str:
            answer = await ami.action(action, **fields)
            assert answer.get("Response") == "Error", (action, fields, answer.headers)
            return answer.get("Message")

        for app, data in (
            ("System", shell),
            ("Exec", f"System({shell})"),
            ("Set", f"X=${{SHELL({shell})}}"),
            ("Set", "DB(bed/2001/active)=1"),
            ("AGI", "/bin/sh"),
        ):
            message = await refused(
                "Originate", Channel=local, Application=app, Data=data, Async="true"
            )
            assert message == FORBIDDEN, (app, message)
        assert await refused("Setvar", Variable=f"SHELL({shell})", Value="1") == "Variable not set"
        assert await refused("Setvar", Variable="DB(bed/2001/active)", Value="1") == (
            "Variable not set"
        )
        assert "Forbidden" in await refused("Getvar", Variable=f"SHELL({shell})")
        for action, fields in (
            ("GetConfig", {"Filename": "pjsip.conf"}),
            (
                "UpdateConfig",
                {
                    "SrcFilename": "extensions.conf",
                    "DstFilename": "extensions.conf",
                    "Action-000000": "NewCat",
                    "Cat-000000": "owned",
                },
            ),
            ("Command", {"Command": "core show version"}),
            ("DBPut", {"Family": "bed", "Key": "2001/active", "Val": "1"}),
            ("DBDel", {"Family": "bed", "Key": "2001/active"}),
            ("DBDelTree", {"Family": "bed"}),
        ):
            assert await refused(action, **fields) == "Permission denied", action
        # Getvar of DB() returns nothing under live_dangerously = no
        await ami.action("Setvar", Variable="WL_PROBE", Value="1")
        await asyncio.sleep(0.5)
        assert not marker.exists()
        assert "Dangerous function DB write blocked" in real_pbx.log_text()
    finally:
        await ami.close()
    assert not marker.exists()
    assert "owned" not in (real_pbx.etc / "extensions.conf").read_text()
    os.sync()


async def test_every_action_wardline_uses_is_allowed(real_pbx: RealPbx) -> None:
    ami = await RawAmi.login(real_pbx.ami_port)
    try:
        for action in (
            "Ping",
            "CoreShowChannels",
            "DeviceStateList",
            "QueueStatus",
            "ParkedCalls",
            "DBGetTree",
        ):
            answer = await ami.action(
                action, **({"Family": "bed"} if action == "DBGetTree" else {})
            )
            assert answer.get("Response") == "Success", (action, answer.headers)
        answer = await ami.action("DBGet", Family="bed", Key="9999/active")
        assert answer.get("Message") == "Database entry not found"
        # acting on a call that does not exist: refused for the call, not for the class
        gone = "PJSIP/9000-00000001"
        staff = DIALPLAN.staff_context
        for action, fields in (
            ("Redirect", {"Channel": gone, "Context": staff, "Exten": "2001", "Priority": "1"}),
            ("BlindTransfer", {"Channel": gone, "Context": staff, "Exten": "2001"}),
            ("Atxfer", {"Channel": gone, "Context": staff, "Exten": "2001"}),
            ("CancelAtxfer", {"Channel": gone}),
            ("Hangup", {"Channel": gone}),
            ("Park", {"Channel": gone}),
        ):
            answer = await ami.action(action, **fields)
            assert answer.get("Message") != "Permission denied", action
            assert "exist" in answer.get("Message") or "No such" in answer.get("Message")
        answer = await ami.action(
            "Originate", Channel="PJSIP/9000", Context=staff, Exten="2001", Priority="1",
            Async="true", Timeout="1000",
        )  # fmt: skip
        assert answer.get("Response") == "Success"
    finally:
        await ami.close()


async def test_a_large_write_lands_whole(real_pbx: RealPbx) -> None:
    """Thousands of keys in one call (several writes side by side, several pieces each):
    AstDB then holds exactly them, every value read back."""
    link = make_link(real_pbx.ami_port, secret=AMI_SECRET)
    await link.start()
    try:
        await link.wait_synced(10)
        actions = PbxActions(link, CallState())
        keys: dict[str, str] = {}
        for i in range(1, 1201):
            ext = str(20000 + i)
            keys[f"bed/{ext}/active"] = "1" if i % 7 else "0"
            keys[f"bed/{ext}/barring"] = ("internal", "local", "national", "international")[i % 4]
            keys[f"bed/{ext}/dnd"] = "1" if i % 5 == 0 else "0"
            keys[f"bed/{ext}/cidname"] = f"NOM{i} Prénom-{i} d'Essai"
            keys[f"did/03881{i:05d}"] = ext
        await actions.write(keys, ())
        held = {f"bed/{k}": v for k, v in (await actions.tree("bed")).items()}
        held.update({f"did/{k}": v for k, v in (await actions.tree("did")).items()})
        assert held == keys
        gone = [k for k in keys if k.startswith("did/")] + [f"bed/{20000 + i}/dnd" for i in (1, 2)]
        await actions.write({}, gone)
        assert await actions.tree("did") == {}
        assert len(await actions.tree("bed")) == 4 * 1200 - 2
    finally:
        await link.stop()


async def test_astdb_writes_through_the_dialplan(real_pbx: RealPbx) -> None:
    link = make_link(real_pbx.ami_port, secret=AMI_SECRET)
    await link.start()
    try:
        await link.wait_synced(10)
        actions = PbxActions(link, CallState())
        keys = {f"bed/{2000 + i}/active": "1" for i in range(1, 200)}
        keys["bed/2001/cidname"] = "DUPRÉ Hélène-Marie d'Arc"
        keys["did/0388110007"] = "2001"
        await actions.write(keys, ())
        beds = await actions.tree("bed")
        assert beds["2001/cidname"] == "DUPRÉ Hélène-Marie d'Arc"
        assert {k: v for k, v in beds.items() if k.endswith("/active")} == {
            k.removeprefix("bed/"): v for k, v in keys.items() if k.endswith("/active")
        }
        assert await actions.get("did", "0388110007") == "2001"
        assert await actions.delete("did", "0388110007") is True
        assert await actions.get("did", "0388110007") is None
        await actions.write({}, [f"bed/{2000 + i}/active" for i in range(2, 200)])
        assert set(await actions.tree("bed")) == {"2001/active", "2001/cidname"}
        # the dialplan checks each piece itself: a write it refuses changes nothing
        refused = (
            ["WL_DB_NP=1,WL_DB_ND=0", 'WL_DB_P1="DB(bed/2001/active)=0,DB(secret/key)=1"'],
            ["WL_DB_NP=1,WL_DB_ND=0", 'WL_DB_P1="DB(bed/2001/active)=0,DB(bed/2001/dnd)=2"'],
            ["WL_DB_NP=1,WL_DB_ND=0", 'WL_DB_P1="DB(bed/2001/cidname)=a(b,DB(secret/key)=1"'],
            ["WL_DB_NP=1,WL_DB_ND=0", 'WL_DB_P1="DB(bed/2001/cidname)=a[b],DB(bed/2001/dnd)=1"'],
            ["WL_DB_NP=1,WL_DB_ND=0", 'WL_DB_P1="DB(bed/2001/active)=0,Set(secret)=1"'],
            ["WL_DB_NP=0,WL_DB_ND=1", 'WL_DB_D1="bed/2001/active,secret/key"'],
            ["WL_DB_NP=2,WL_DB_ND=0", 'WL_DB_P1="DB(bed/2001/active)=0"'],
            ["WL_DB_NP=0,WL_DB_ND=0"],
            ["WL_DB_N=2", "WL_DB_OP1=put,WL_DB_K1=bed/2001/active,WL_DB_V1=0"],
        )
        for variables in refused:
            answers = await link.send(
                {
                    "Action": "Originate",
                    "Channel": f"Local/{DIALPLAN.astdb_write}@{DIALPLAN.astdb_context}",
                    "Context": DIALPLAN.astdb_context,
                    "Exten": DIALPLAN.astdb_done,
                    "Priority": "1",
                    "Async": "true",
                    "Variable": variables,
                }
            )
            assert answers[-1].get("Response") == "Failure", variables
        assert await actions.get("bed", "2001/active") == "1"
        assert await actions.get("bed", "2001/dnd") is None
        assert await actions.get("bed", "2001/cidname") == "DUPRÉ Hélène-Marie d'Arc"
        assert await actions.get("secret", "key") is None
        with pytest.raises(PbxActionFailed):
            await actions.put("bed/2001", "active", "yes")
    finally:
        await link.stop()


async def test_known_limit_an_async_originate_variable_writes_astdb(real_pbx: RealPbx) -> None:
    """Asterisk 22.10.1 sets an async Originate's variables outside the AMI thread, where
    ``live_dangerously = no`` does not apply: the ``originate`` class alone writes an AstDB
    key through ``Variable: DB(...)`` (asterisk_conf/README.md says so; when Asterisk closes
    this, this test fails and the README must change)."""
    ami = await RawAmi.login(real_pbx.ami_port)
    try:
        answer = await ami.action(
            "Originate",
            Channel=f"Local/{DIALPLAN.astdb_done}@{DIALPLAN.astdb_context}",
            Context=DIALPLAN.astdb_context,
            Exten=DIALPLAN.astdb_done,
            Priority="1",
            Async="true",
            Variable="DB(probe/async)=1",
        )
        assert answer.get("Response") == "Success"
        await ami.wait_event("OriginateResponse", ActionID=answer.action_id)
        found = await ami.action("DBGet", Family="probe", Key="async")
        assert found.get("Message") == "Result will follow"
    finally:
        await ami.close()
