"""HL7 timestamps: local time of the sender's zone when no offset is given, the offset when it
is; both changes of summer time, midnight, and what the ADT message and its ACK make of them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import hl7
import pytest

from ehr_bridge.adt_message import parse_adt
from ehr_bridge.errors import MalformedMessage
from ehr_bridge.hl7_ack import build_ack
from ehr_bridge.hl7_time import LocalZones, hl7_stamp, parse_hl7_time
from tests.ehr_bridge.messages import adt
from wardline.domain.commands import Discharge, Transfer
from wardline.errors import ConfigError

PARIS = ZoneInfo("Europe/Paris")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "at", "later"),
    [
        # winter (CET, +01:00) and summer (CEST, +02:00)
        ("20261203094749", utc(2026, 12, 3, 8, 47, 49), None),
        ("20260715094749", utc(2026, 7, 15, 7, 47, 49), None),
        # less precision, fractions of a second
        ("202612030947", utc(2026, 12, 3, 8, 47), None),
        ("2026120309", utc(2026, 12, 3, 8), None),
        ("20261203094749.1234", utc(2026, 12, 3, 8, 47, 49, 123400), None),
        # midnight and a transfer late in the evening stay on their own local day
        ("20261203000000", utc(2026, 12, 2, 23), None),
        ("20261203", utc(2026, 12, 2, 23), None),
        ("20260701000000", utc(2026, 6, 30, 22), None),
        ("20261203233000", utc(2026, 12, 3, 22, 30), None),
        ("20260703233000", utc(2026, 7, 3, 21, 30), None),
        ("20261231235959", utc(2026, 12, 31, 22, 59, 59), None),
        # spring: 01:59 is CET, 03:00 is CEST (02:00-02:59 does not exist, see below)
        ("20260329015900", utc(2026, 3, 29, 0, 59), None),
        ("20260329030000", utc(2026, 3, 29, 1), None),
        # autumn: 02:00-02:59 happens twice (CEST then CET)
        ("20261025015900", utc(2026, 10, 24, 23, 59), None),
        ("20261025023000", utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)),
        ("20261025020000", utc(2026, 10, 25, 0), utc(2026, 10, 25, 1)),
        ("20261025030000", utc(2026, 10, 25, 2), None),
        # an offset in the message is taken as given, whatever the zone
        ("20261203094749+0100", utc(2026, 12, 3, 8, 47, 49), None),
        ("20261203094749+0000", utc(2026, 12, 3, 9, 47, 49), None),
        ("20261203094749-0500", utc(2026, 12, 3, 14, 47, 49), None),
        ("20261203094749+0530", utc(2026, 12, 3, 4, 17, 49), None),
        ("20261025023000+0200", utc(2026, 10, 25, 0, 30), None),
        ("20261025023000+0100", utc(2026, 10, 25, 1, 30), None),
        ("20260329023000+0100", utc(2026, 3, 29, 1, 30), None),
        ("202612030947+0100", utc(2026, 12, 3, 8, 47), None),
    ],
)
def test_timestamps_in_paris(text: str, at: datetime, later: datetime | None) -> None:
    parsed = parse_hl7_time(text, PARIS)
    assert parsed is not None
    assert (parsed.at, parsed.later) == (at, later)
    assert parsed.ambiguous == (later is not None)


@pytest.mark.parametrize("text", ["20260329020000", "20260329023000", "20260329025959"])
def test_the_hour_skipped_in_spring_is_refused(text: str) -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_hl7_time(text, PARIS)
    assert info.value.error_id == "hl7.nonexistent_local_time"
    assert "Europe/Paris" in info.value.message and "offset" in info.value.message


@pytest.mark.parametrize(
    "text",
    ["2026", "202612", "20261332", "20261203250000", "2026120309474", "20261203+01",
     "20261203094749+1500", "20261203094749+0160", "20261203094749.12345", "2026-12-03",
     "20261203 094749"],
)  # fmt: skip
def test_malformed_timestamps_are_refused(text: str) -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_hl7_time(text, PARIS)
    assert info.value.error_id == "hl7.bad_datetime"


def test_empty_timestamp_is_none() -> None:
    assert parse_hl7_time("", PARIS) is None


def test_zone_per_sending_facility() -> None:
    zones = LocalZones.named("Europe/Paris", {"CHU-CAYENNE": "America/Cayenne"})
    assert zones.of("CHRS") == PARIS
    assert zones.of("CHU-CAYENNE") == ZoneInfo("America/Cayenne")
    with pytest.raises(ConfigError):
        LocalZones.named("Europe/Atlantis")


def test_adt_message_reads_its_times_in_the_facility_zone() -> None:
    raw = adt("A03", "C1", evn_at="20261203233000", sender=("PASTEL", "SITE-B"))
    paris = parse_adt(raw)
    assert isinstance(paris.command, Discharge)
    assert paris.command.at == utc(2026, 12, 3, 22, 30)
    zones = LocalZones.named("Europe/Paris", {"SITE-B": "America/Cayenne"})  # UTC-3
    cayenne = parse_adt(raw, zones=zones)
    assert isinstance(cayenne.command, Discharge)
    assert cayenne.command.at == utc(2026, 12, 4, 2, 30)


def test_adt_message_in_the_spring_gap_is_refused() -> None:
    with pytest.raises(MalformedMessage) as info:
        parse_adt(adt("A02", "C1", evn_at="20260329021500"))
    assert info.value.error_id == "hl7.nonexistent_local_time"


def test_adt_message_in_the_autumn_hour_carries_both_instants() -> None:
    zbe = "ZBE|MVT-1^PASTEL|20261025024500||INSERT|N||CARDIO^^^^^^UF^^^CARDIO"
    message = parse_adt(adt("A02", "C1", zbe=zbe))
    assert isinstance(message.command, Transfer)
    assert message.time is not None and message.time.ambiguous
    assert message.command.at == message.time.at == utc(2026, 10, 25, 0, 45)
    assert message.time.later == utc(2026, 10, 25, 1, 45)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 12, 3, 9, 30), "20261203103000+0100"),
        (utc(2026, 7, 3, 21, 30), "20260703233000+0200"),
        (utc(2026, 10, 25, 0, 30), "20261025023000+0200"),
        (utc(2026, 10, 25, 1, 30), "20261025023000+0100"),
    ],
)
def test_ack_msh7_carries_its_offset(now: datetime, expected: str) -> None:
    assert hl7_stamp(now, PARIS) == expected
    header = parse_adt(adt("A01", "C1")).header
    ack = hl7.parse(build_ack(header, "AA", now=now, zone=PARIS))
    stamp = str(ack.segment("MSH")(7))
    assert stamp == expected
    parsed = parse_hl7_time(stamp, PARIS)
    assert parsed is not None and parsed.at == now and not parsed.ambiguous


def test_zone_settings_are_checked_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from ehr_bridge.component import load_options

    monkeypatch.setenv("WARDLINE_EHR_HL7_FACILITY_TIMEZONES", '{"SITE-B": "America/Cayenne"}')
    zones = load_options().local_zones("Europe/Paris")
    assert zones.of("SITE-B") == ZoneInfo("America/Cayenne") and zones.of("X") == PARIS
    # One zone for the wards: HL7 times without an offset follow WARDLINE_TIMEZONE unless the
    # EHR's own zone is set apart.
    assert load_options().local_zones("Europe/Luxembourg").of("X") == ZoneInfo(
        "Europe/Luxembourg"
    )
    monkeypatch.setenv("WARDLINE_EHR_WARD_TIMEZONE", "America/Cayenne")
    assert load_options().local_zones("Europe/Paris").of("X") == ZoneInfo("America/Cayenne")
    monkeypatch.setenv("WARDLINE_EHR_HL7_FACILITY_TIMEZONES", '{"SITE-B": "Mars/Base"}')
    with pytest.raises(ConfigError, match="Mars/Base"):
        load_options()

