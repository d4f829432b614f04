"""Every message a page or script shows has its French and German translation."""

from __future__ import annotations

import re
from pathlib import Path

from kiosk_ui import admin, console, error_messages
from kiosk_ui.i18n import LANGUAGES, Catalogs

UI = Path(__file__).resolve().parents[2] / "kiosk_ui"
TEMPLATE_CALL = re.compile(r"""_\(\s*(["'])(.+?)\1\s*[,)]""")
SCRIPT_CALL = re.compile(r"""\bt\(\s*(["'])(.+?)\1\s*[,)]""")


def used_messages() -> set[str]:
    found: set[str] = set(console.JS_MESSAGES) | admin.JS_MESSAGES
    found |= set(error_messages.MESSAGES.values())  # refusals, in the page's language
    for path in (UI / "templates").rglob("*.j2"):
        found.update(m[1] for m in TEMPLATE_CALL.findall(path.read_text()))
    for path in (UI / "static").rglob("*.js"):
        found.update(m[1] for m in SCRIPT_CALL.findall(path.read_text()))
    return found


def test_every_shown_message_is_translated() -> None:
    catalogs = Catalogs.load()
    used = used_messages()
    assert len(used) > 10
    for lang in ("fr", "de"):
        missing = sorted(m for m in used if m not in catalogs.messages[lang])
        assert not missing, f"{lang}: {missing}"


def test_catalogs_load_from_po_files_without_a_build_step() -> None:
    catalogs = Catalogs.load()
    assert set(catalogs.messages) == set(LANGUAGES)
    assert catalogs.translator("fr")("Sign in") == "Se connecter"
    assert catalogs.translator("de")("Sign in") == "Anmelden"
    assert catalogs.translator("en")("Sign in") == "Sign in"
    assert catalogs.translator("fr")("a message nobody wrote") == "a message nobody wrote"
