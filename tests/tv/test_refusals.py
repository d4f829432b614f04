"""Every refusal the TV and the bedside pages can meet is shown in the page's language: each
error id raised by the modules behind them has its text, in French, English and German, with
the same placeholders; the server fills them from the details, the page's script from the
same texts (a vital sign's kind translated, numbers written the language's way)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from kiosk_ui.error_messages import AT_THE_BED, MESSAGES, TERMS, for_people, page_refusals
from kiosk_ui.i18n import LANGUAGES, Catalogs
from kiosk_ui.nurse_checks import VitalsIn, check_vitals
from tests.tv.conftest import BADGE, PIN, TvLab
from wardline.errors import WardlineError

ROOT = Path(__file__).resolve().parents[2]
# The modules behind the TV and the nurse's pages, and what they call that can refuse.
BEHIND_THE_BED = [
    "kiosk_ui/tv.py",
    "kiosk_ui/tv_meals.py",
    "kiosk_ui/meals.py",
    "kiosk_ui/bedside_pages.py",
    "kiosk_ui/bedside_session.py",
    "kiosk_ui/nurse_checks.py",
    "kiosk_ui/dose_check.py",
    "kiosk_ui/terminal_auth.py",
    "kiosk_ui/security.py",
    "kiosk_ui/errors.py",
    "kiosk_ui/auth.py",
    "kiosk_ui/api.py",
    "ehr_bridge/clinical_record.py",
    "ehr_bridge/bedside_recording.py",
    "ehr_bridge/bedside_writes.py",
    "ehr_bridge/bedside_record.py",
    "ehr_bridge/fhir_client.py",
    "ehr_bridge/fhir_auth.py",
    "wardline/db/engine.py",
]
# Raised elsewhere but met at the bed: the staff accounts (badge and PIN), the middleware's
# last resort, and the script's own "the service cannot be reached".
ALSO_MET = {"auth.failed", "auth.throttled", "internal", "http"}
ERROR_ID = re.compile(r"^[a-z_]+(\.[a-z_0-9]+)+$")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def raised_ids(path: Path) -> set[str]:
    """Ids given to an error class (a capitalised callee) as its first argument."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        first, callee = node.args[0], node.func
        name = callee.id if isinstance(callee, ast.Name) else getattr(callee, "attr", "")
        if (
            name[:1].isupper()
            and isinstance(first, ast.Constant)
            and isinstance(first.value, str)
            and ERROR_ID.match(first.value)
        ):
            found.add(first.value)
    return found


def test_the_sweep_finds_the_refusals_of_the_bed() -> None:
    ids = set().union(*(raised_ids(ROOT / p) for p in BEHIND_THE_BED))
    assert {"bedside.wrong_patient", "vitals.implausible", "auth.csrf", "meal.closed"} <= ids


def test_every_refusal_met_at_the_bed_has_its_text() -> None:
    ids = set().union(*(raised_ids(ROOT / p) for p in BEHIND_THE_BED)) | ALSO_MET
    missing = sorted(ids - set(MESSAGES))
    assert not missing, f"refusals without a text for people: {missing}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_refusal_text_is_translated_with_its_placeholders(lang: str) -> None:
    catalog = Catalogs.load().messages[lang]
    texts = set(MESSAGES.values()) | set(AT_THE_BED.values()) | set(TERMS.values())
    missing = sorted(t for t in texts if not catalog.get(t, "").strip())
    assert not missing, f"{lang}: {missing}"
    for text in texts:
        assert set(PLACEHOLDER.findall(catalog[text])) == set(PLACEHOLDER.findall(text)), text


def implausible(kind: str, value: float) -> WardlineError:
    with pytest.raises(WardlineError) as refused:
        check_vitals(VitalsIn(values={kind: value}))
    return refused.value


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("fr", "Fréquence cardiaque 400 est hors de 20–250 : vérifiez la mesure."),
        ("en", "Heart rate 400 is outside 20-250: check the measurement."),
        ("de", "Herzfrequenz 400 liegt außerhalb von 20–250: Messung prüfen."),
    ],
)
def test_a_range_error_reads_in_the_language(lang: str, expected: str) -> None:
    error = implausible("heart_rate", 400)
    assert error.details == {"kind": "heart_rate", "value": 400, "low": 20, "high": 250}
    assert for_people(error, Catalogs.load().translator(lang)) == expected


def test_numbers_are_written_the_languages_way() -> None:
    error = implausible("temperature", 43.5)
    assert "43,5" in for_people(error, Catalogs.load().translator("fr"))
    assert "43.5" in for_people(error, Catalogs.load().translator("en"))


def test_the_tv_speaks_of_badges_and_pins() -> None:
    refusals = page_refusals(Catalogs.load().translator("fr"), AT_THE_BED)["refusals"]
    assert refusals["auth.failed"] == "Badge inconnu ou code PIN erroné."
    assert refusals["bedside.wrong_patient"].startswith("Ce bracelet n'est pas")


async def test_the_server_answers_in_the_tvs_language(tvlab: TvLab) -> None:
    tv = await tvlab.terminal()
    assert (await tv.call("POST", "/api/v1/tv/language", {"lang": "de"})).status == 204
    wrong = await tv.call("POST", "/api/v1/tv/nurse/signin", {"badge": BADGE, "pin": "0000"})
    body = await wrong.json()
    assert (body["error"], body["message"]) == (
        "auth.failed",
        "Unbekannter Benutzer oder falsches Passwort.",
    )
    await tv.json("POST", "/api/v1/tv/nurse/signin", {"badge": BADGE, "pin": PIN})
    bad = await tv.call("POST", "/api/v1/tv/nurse/vitals", {"values": {"heart_rate": 400}})
    body = await bad.json()
    assert body["error"] == "vitals.implausible"
    assert body["details"] == {"kind": "heart_rate", "value": 400.0, "low": 20, "high": 250}
    assert body["message"] == "Herzfrequenz 400 liegt außerhalb von 20–250: Messung prüfen."
