"""Settings of the EHR bridge that the core's Settings does not hold (``WARDLINE_EHR_*``)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ehr_bridge.adt_message import IGNORED_EVENTS
from ehr_bridge.hl7_time import LocalZones


class EhrOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WARDLINE_EHR_", extra="ignore", frozen=True)

    ward_aliases: dict[str, str] = Field(
        default_factory=dict,
        description="HL7 point of care (PV1-3.1, e.g. UF code) to inventory ward code, JSON.",
    )
    ward_timezone: str | None = Field(
        default=None,
        description="Time zone of HL7 times sent without an offset, when it differs from "
        "the wards' zone; unset: WARDLINE_TIMEZONE, the one zone of clinical times.",
    )
    hl7_facility_timezones: dict[str, str] = Field(
        default_factory=dict,
        description="HL7 sending facility (MSH-4, e.g. a site's FINESS) to its time zone, "
        "JSON, for sites in other zones than the wards' default.",
    )
    hl7_ignored_events: frozenset[str] = Field(
        default=IGNORED_EVENTS,
        description="ADT events acknowledged AA and ignored (known, not used here); any "
        "other event Wardline does not apply is refused AR. JSON list.",
    )
    dose_window_minutes: float = Field(
        default=60.0, gt=0, description="Minutes either side of a due dose it may be given."
    )
    page_limit: int = Field(default=10, ge=1, description="Most FHIR result pages followed.")
    page_size: int = Field(default=50, ge=1, le=500, description="_count of FHIR searches.")
    vitals_hours: float = Field(default=48.0, gt=0, description="Vital signs shown (hours).")
    retry_after_failure_seconds: float = Field(
        default=5.0, ge=0, description="After the EHR failed, serve cached records this long."
    )
    request_timeout: float = Field(default=5.0, gt=0, description="FHIR request timeout (s).")
    ipp_system: str | None = Field(
        default=None,
        description="FHIR identifier system of the IPP; required when FHIR is configured.",
    )
    visit_system: str | None = Field(
        default=None, description="FHIR identifier system of visit numbers (None: any)."
    )
    business_id_system: str = Field(
        default="urn:wardline:bedside-write",
        description="Identifier system of bedside writes (conditional create key).",
    )
    rpps_system: str = Field(
        default="urn:oid:1.2.250.1.71.4.2.1",
        description="Identifier system of a nurse's RPPS-based national id (value 8+RPPS).",
    )
    outbox_retry_base_seconds: float = Field(default=2.0, gt=0)
    outbox_retry_max_seconds: float = Field(default=300.0, gt=0)
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    token_refresh_margin_seconds: float = Field(default=30.0, ge=0)
    cache_entries: int = Field(default=5000, ge=1, description="Most stays kept in the cache.")

    @field_validator("ward_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            _check_zone(value)
        return value

    @field_validator("hl7_facility_timezones")
    @classmethod
    def _known_zones(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value.values():
            _check_zone(name)
        return value

    def local_zones(self, wards_zone: str) -> LocalZones:
        """The zone of HL7 times without an offset, per sending facility.

        ``wards_zone`` is the core's ``WARDLINE_TIMEZONE``: the one zone of the wards, used
        for HL7 times too unless ``WARDLINE_EHR_WARD_TIMEZONE`` says otherwise.
        """
        return LocalZones.named(self.ward_timezone or wards_zone, self.hl7_facility_timezones)


def _check_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
