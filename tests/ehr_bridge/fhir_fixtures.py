"""Helpers for FHIR tests: a stay as the core shows it, and a client on a shared session."""

from __future__ import annotations

from datetime import UTC, date, datetime

from wardline.domain.stay_views import PatientView, StayView


def stay_view(
    ipp: str = "100001", visit: str = "V100001", encounter: str | None = None
) -> StayView:
    return StayView(
        stay_id=1,
        visit_number=visit,
        status="active",
        patient=PatientView(
            id=1,
            ipp=ipp,
            family_name="MARTIN",
            given_name="JEANNE",
            addressed_as=None,
            birth_date=date(1952, 3, 14),
            sex="F",
            preferred_language="fr",
            non_disclosure=False,
            ins=None,
            fhir_patient_id=None,
        ),
        bed=None,
        did=None,
        barring="national",
        do_not_disturb=False,
        line_suspended=False,
        on_leave=False,
        started_at=datetime(2026, 3, 1, tzinfo=UTC),
        ended_at=None,
        fhir_encounter_id=encounter,
    )
