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


def corpus_stay(key: str, **changes: object) -> StayView:
    """The stay of a corpus patient as the ADT feed admitted them; ``changes`` alter the ADT
    identity (``birth_date``, ``ins``, ``ipp``) to make it disagree with the EHR."""
    from dataclasses import replace

    from ehr_bridge.sandbox.corpus import CORPUS_PATIENTS

    p = CORPUS_PATIENTS[key]
    stay = stay_view(p.ipp, p.visit_number)
    patient = replace(
        stay.patient,
        family_name=p.family,
        given_name=p.given,
        birth_date=p.birth_date,
        sex=p.sex,
        ins=p.ins,
    )
    return replace(stay, patient=replace(patient, **changes))  # type: ignore[arg-type]
