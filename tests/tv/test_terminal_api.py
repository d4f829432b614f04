"""The terminal credential boundary and the TV's API, over real HTTP."""

from __future__ import annotations

import argparse

import pytest
from sqlalchemy import func, select

from kiosk_ui.cli import cmd_credential, register_cli
from kiosk_ui.models import MealOrder, SurveyAnswer
from kiosk_ui.terminal_auth import credential_hash, issue_credential
from tests.tv.conftest import BADGE, BED, OTHER_TERMINAL, PIN, TERMINAL, TvLab
from wardline import appkeys as k
from wardline.db.models import AuditEvent, Terminal


async def test_credential_is_stored_hashed_and_replaced(tvlab: TvLab) -> None:
    async with tvlab.app[k.DATABASE].sessions() as s:
        terminal = await s.get(Terminal, TERMINAL)
        assert terminal is not None
        assert terminal.credential_hash == credential_hash(tvlab.credential)
        assert tvlab.credential not in (terminal.credential_hash or "")
    fresh = await issue_credential(tvlab.app[k.DATABASE], TERMINAL)
    old = tvlab.browser()
    await old.refresh()
    refused = await old.call("POST", "/api/v1/tv/enroll", {"credential": tvlab.credential})
    assert refused.status == 401
    tv = await tvlab.terminal(fresh)
    context = await tv.json("GET", "/api/v1/tv/context")
    assert context["bed"] == BED


async def test_terminal_sees_only_its_bed_and_patient_safe_facts(tvlab: TvLab) -> None:
    tv = await tvlab.terminal()
    context = await tv.json("GET", "/api/v1/tv/context")
    assert context["bed"] == BED and context["occupied"] is True
    assert context["greeting_name"] == "JEANNE"
    assert context["phone_number"] is not None
    assert set(context) == {
        "bed",
        "room",
        "ward_code",
        "occupied",
        "greeting_name",
        "language",
        "phone_number",
        "phone_state",
        "services",
        "in_bed_since",  # when the stay came to this bed, in the ward's zone
    }
    # The neighbour's terminal (empty bed) sees its own bed, never this patient.
    other = await issue_credential(tvlab.app[k.DATABASE], OTHER_TERMINAL)
    neighbour = await tvlab.terminal(other)
    theirs = await neighbour.json("GET", "/api/v1/tv/context")
    assert theirs["bed"] == "CARDIO-101-B" and theirs["occupied"] is False
    assert theirs["greeting_name"] == ""
    # Clinical data only after a nurse signs in at the bed.
    refused = await tv.call("GET", "/api/v1/tv/nurse/record")
    assert refused.status == 403
    assert (await refused.json())["error"] == "bedside.nurse_signed_out"


async def test_terminal_cannot_call_staff_apis_and_staff_cannot_use_tv_apis(tvlab: TvLab) -> None:
    tv = await tvlab.terminal()
    for method, path in [("GET", "/kitchen/CARDIO.csv"), ("GET", "/api/v1/session/phones")]:
        response = await tv.call(method, path)
        assert response.status in (403, 404), (path, response.status)
    kitchen = await tv.call("GET", "/kitchen/CARDIO.csv")
    assert kitchen.status == 403
    staff = tvlab.browser()
    await staff.sign_in("opal")
    for path in ("/api/v1/tv/context", "/api/v1/tv/meals"):
        assert (await staff.call("GET", path)).status == 403
    anonymous = tvlab.browser()
    assert (await anonymous.call("GET", "/api/v1/tv/context")).status == 401
    page = await anonymous.call("GET", "/tv")
    assert (page.status, page.headers["Location"]) == (303, "/tv/enroll")
    assert (await staff.call("GET", "/tv")).status == 403


async def test_wrong_credential_is_refused(tvlab: TvLab) -> None:
    b = tvlab.browser()
    await b.refresh()
    response = await b.call("POST", "/api/v1/tv/enroll", {"credential": "not-the-secret-at-all"})
    assert response.status == 401
    assert (await b.call("GET", "/api/v1/tv/context")).status == 401


async def test_meals_follow_the_diet_and_one_order_per_meal(tvlab: TvLab) -> None:
    tv = await tvlab.terminal()
    meals = await tv.json("GET", "/api/v1/tv/meals")
    offered = {m["meal"]: [d["code"] for d in m["dishes"]] for m in meals["meals"]}
    assert "L1" not in offered["lunch"] and "D1" not in offered["dinner"]  # gluten
    assert offered["lunch"] == ["L2", "L3"] and meals["restricted"] is False
    refused = await tv.call("POST", "/api/v1/tv/meals", {"meal": "lunch", "dish": "L1"})
    assert refused.status == 422
    await tv.json("POST", "/api/v1/tv/meals", {"meal": "lunch", "dish": "L2"})
    changed = await tv.json("POST", "/api/v1/tv/meals", {"meal": "lunch", "dish": "L3"})
    assert [m["ordered"] for m in changed["meals"]] == ["L3", None]
    async with tvlab.app[k.DATABASE].sessions() as s:
        assert await s.scalar(select(func.count()).select_from(MealOrder)) == 1
    nurse = tvlab.browser()
    await nurse.sign_in("nina")
    csv = await nurse.call("GET", "/kitchen/CARDIO.csv")
    assert csv.status == 200
    lines = (await csv.text()).splitlines()
    assert lines[1].startswith(f"2026-11-23,{BED},lunch,L3,")
    tvlab.clock.advance(hours=7)  # 15:10 in Paris: the kitchen has closed
    closed = await tv.call("POST", "/api/v1/tv/meals", {"meal": "dinner", "dish": "D2"})
    assert closed.status == 409


async def test_survey_is_stored_without_identity(tvlab: TvLab) -> None:
    tv = await tvlab.terminal()
    assert (await tv.call("POST", "/api/v1/tv/survey", {"answers": {"care": 9}})).status == 422
    assert (await tv.call("POST", "/api/v1/tv/survey", {"answers": {"care": 5}})).status == 201
    async with tvlab.app[k.DATABASE].sessions() as s:
        [answer] = list(await s.scalars(select(SurveyAnswer)))
        assert answer.answers == {"care": 5} and answer.ward_code == "CARDIO"
        assert not {"stay_id", "bed_label", "patient_id"} & set(
            SurveyAnswer.__table__.columns.keys()
        )


async def test_nurse_call_from_the_tv(tvlab: TvLab) -> None:
    tv = await tvlab.terminal()
    first = await tv.json("POST", "/api/v1/tv/nurse-call")
    again = await tv.json("POST", "/api/v1/tv/nurse-call")
    assert first["state"] == "open" and again["call_id"] == first["call_id"]


async def test_nurse_signin_idle_and_throttling(tvlab: TvLab) -> None:
    tv = await tvlab.terminal()
    wrong = await tv.call("POST", "/api/v1/tv/nurse/signin", {"badge": BADGE, "pin": "0000"})
    assert wrong.status == 401
    nurse = await tv.json("POST", "/api/v1/tv/nurse/signin", {"badge": BADGE, "pin": PIN})
    assert nurse["display_name"] == "Nina Rossi"
    record = await tv.json("GET", "/api/v1/tv/nurse/record")
    assert record["banner"]["family_name"] == "MARTIN"
    assert "Gluten" in record["banner"]["allergies"]
    assert record["schedule"]
    tvlab.clock.advance(seconds=tvlab.app[k.SETTINGS].nurse_idle_signout_seconds + 1)
    idle = await tv.call("GET", "/api/v1/tv/nurse/record")
    assert idle.status == 403
    async with tvlab.app[k.DATABASE].sessions() as s:
        actions = list(await s.scalars(select(AuditEvent.action).where(AuditEvent.actor == "nina")))
    assert actions == ["bedside.nurse_signin", "bedside.record_view", "bedside.nurse_idle_signout"]
    for _ in range(5):
        await tv.call("POST", "/api/v1/tv/nurse/signin", {"badge": BADGE, "pin": "0000"})
    slowed = await tv.call("POST", "/api/v1/tv/nurse/signin", {"badge": BADGE, "pin": PIN})
    assert (slowed.status, (await slowed.json())["error"]) == (429, "auth.throttled")


async def test_vitals_outside_plausible_ranges_are_refused(tvlab: TvLab) -> None:
    tv = await tvlab.terminal()
    await tv.json("POST", "/api/v1/tv/nurse/signin", {"badge": BADGE, "pin": PIN})
    bad = await tv.call("POST", "/api/v1/tv/nurse/vitals", {"values": {"temperature": 55}})
    assert bad.status == 422 and (await bad.json())["error"] == "vitals.implausible"
    ok = await tv.json("POST", "/api/v1/tv/nurse/vitals", {"values": {"temperature": 37.2}})
    assert len(ok["business_ids"]) == 1


def test_cli_registers_the_credential_command() -> None:
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["terminal", "credential", TERMINAL])
    assert args.handler is cmd_credential and args.terminal_id == TERMINAL


@pytest.mark.parametrize("terminal", ["T-NOPE"])
async def test_cli_unknown_terminal_is_one_clear_line(
    tvlab: TvLab, terminal: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = tvlab.app[k.SETTINGS].model_copy(update={"database_url": tvlab.app[k.DATABASE].url})
    assert await cmd_credential(argparse.Namespace(terminal_id=terminal), settings) == 2
    assert "no terminal T-NOPE" in capsys.readouterr().err


async def test_the_next_badge_signs_the_previous_nurse_out(tvlab: TvLab) -> None:
    tv = await tvlab.terminal()
    await tv.json("POST", "/api/v1/tv/nurse/signin", {"badge": BADGE, "pin": PIN})
    await tv.json("POST", "/api/v1/tv/nurse/signin", {"badge": BADGE, "pin": PIN})
    async with tvlab.app[k.DATABASE].sessions() as s:
        rows = list(await s.scalars(select(AuditEvent).where(AuditEvent.actor == "nina")))
    assert [r.action for r in rows] == [
        "bedside.nurse_signin",
        "bedside.nurse_signout",
        "bedside.nurse_signin",
    ]
    assert rows[1].details == {"by": "next_badge"}


async def test_tv_page_allows_the_channel_streams_only(tvlab: TvLab) -> None:
    from bedside.options import ChannelEntry
    from kiosk_ui.tv import tv_policy

    tv = await tvlab.terminal()
    page = await tv.call("GET", "/tv")
    assert page.status == 200
    assert page.headers["Content-Security-Policy"].endswith("media-src 'self'")
    policy = tv_policy(
        [
            ChannelEntry(number=1, name="A", url="http://tv.local:8080/a.m3u8"),
            ChannelEntry(number=2, name="B", url="javascript:alert(1)"),
        ]
    )
    assert policy.endswith("media-src 'self' http://tv.local:8080")


async def test_calls_of_this_stay_only(tvlab: TvLab) -> None:
    from datetime import timedelta

    from telephony.calls.models import CallRecord

    stay = await tvlab.app[k.STAYS].stay_for_bed(BED)
    assert stay is not None and stay.bed is not None
    ext, now = stay.bed.extension, tvlab.clock()
    rows = [  # (call id, caller, called, stay id, minutes ago, answered)
        ("in-1", "0611223344", ext, stay.stay_id, 30, True),
        ("out-1", ext, "0388000000", None, 20, False),  # not resolved to the stay yet
        ("old-1", "0600000000", ext, None, 60 * 24 * 400, True),  # before this stay
    ]
    async with tvlab.app[k.DATABASE].session() as s:
        for call_id, caller, called, stay_id, ago, answered in rows:
            start = now - timedelta(minutes=ago)
            s.add(
                CallRecord(
                    call_id=call_id,
                    caller_number=caller,
                    called_extension=called,
                    extensions=ext,
                    bed_extension=ext,
                    stay_id=stay_id,
                    started_at=start,
                    answered_at=start + timedelta(seconds=5) if answered else None,
                    ended_at=start + timedelta(seconds=65),
                    disposition="answered",
                )
            )
    tv = await tvlab.terminal()
    calls = (await tv.json("GET", "/api/v1/tv/calls"))["calls"]
    assert [(c["direction"], c["number"], c["answered"]) for c in calls] == [
        ("out", "0388000000", False),
        ("in", "0611223344", True),
    ]
    assert calls[1]["seconds"] == 60


async def test_malformed_bodies_are_refused_never_a_500(tvlab: TvLab) -> None:
    tv = await tvlab.terminal()
    await tv.json("POST", "/api/v1/tv/nurse/signin", {"badge": BADGE, "pin": PIN})
    bodies: list[object] = [None, [], {"x": 1}, {"meal": 3, "dish": None}, "text", {"values": 7}]
    paths = [
        "/tv/meals",
        "/tv/survey",
        "/tv/language",
        "/tv/nurse/signin",
        "/tv/nurse/administrations",
        "/tv/nurse/vitals",
        "/tv/enroll",
    ]
    for path in paths:
        for body in bodies:
            response = await tv.call("POST", "/api/v1" + path, body)
            assert 400 <= response.status < 500, (path, body, response.status)
            assert (await response.json())["error"]
        garbage = await tv.http.post(
            tv.base + "/api/v1" + path,
            data=b"\xff{",
            headers={"X-CSRF-Token": tv.csrf, "Content-Type": "application/json"},
        )
        assert garbage.status == 422, path
