"""The README's settings table is generated from the code and must stay current."""

from __future__ import annotations

from tests.conftest import ROOT
from wardline.settings_doc import settings_table


def test_settings_table_is_current() -> None:
    text = (ROOT / "README.md").read_text()
    start = text.index("<!-- settings-table:start -->") + len("<!-- settings-table:start -->")
    end = text.index("<!-- settings-table:end -->")
    assert text[start:end].strip() == settings_table().strip(), (
        "README settings table is stale: regenerate with python -m wardline.settings_doc"
    )
