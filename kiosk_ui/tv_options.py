"""Settings of the bedside TV pages (env ``WARDLINE_TV_*``); every one has a default.

The channel lineup is bedside's (``WARDLINE_BEDSIDE_CHANNEL_LINEUP``) so the TV and the
terminal's own player agree; the menu, the kitchen's cut-off and the information pages are here.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bedside.options import BedsideOptions, ChannelEntry


class Dish(BaseModel):
    code: str
    meal: str
    """lunch or dinner"""
    names: dict[str, str]
    """By language (fr, en, de)."""
    contains: list[str] = Field(default_factory=list)
    """Allergens and diet-relevant ingredients in lower case: gluten, milk, egg, peanut, fish..."""


class InfoPage(BaseModel):
    slug: str
    titles: dict[str, str]
    texts: dict[str, str]


DEFAULT_MENU = [
    Dish(
        code="L1",
        meal="lunch",
        contains=["gluten"],
        names={"fr": "Lasagnes", "en": "Lasagne", "de": "Lasagne"},
    ),
    Dish(
        code="L2",
        meal="lunch",
        contains=["fish"],
        names={"fr": "Colin, riz", "en": "Hake with rice", "de": "Seehecht mit Reis"},
    ),
    Dish(
        code="L3",
        meal="lunch",
        contains=[],
        names={"fr": "Poulet, haricots", "en": "Chicken, green beans", "de": "Huhn, Bohnen"},
    ),
    Dish(
        code="D1",
        meal="dinner",
        contains=["gluten", "milk"],
        names={"fr": "Quiche", "en": "Quiche", "de": "Quiche"},
    ),
    Dish(
        code="D2",
        meal="dinner",
        contains=[],
        names={"fr": "Soupe de légumes", "en": "Vegetable soup", "de": "Gemüsesuppe"},
    ),
    Dish(
        code="D3",
        meal="dinner",
        contains=["egg"],
        names={"fr": "Omelette", "en": "Omelette", "de": "Omelett"},
    ),
]

DEFAULT_PAGES = [
    InfoPage(
        slug="visits",
        titles={"fr": "Visites", "en": "Visiting hours", "de": "Besuchszeiten"},
        texts={
            "fr": "Les visites sont possibles de 13 h à 20 h.",
            "en": "Visits are welcome from 1 pm to 8 pm.",
            "de": "Besuche sind von 13 bis 20 Uhr möglich.",
        },
    ),
    InfoPage(
        slug="wifi",
        titles={"fr": "Wi-Fi", "en": "Wi-Fi", "de": "WLAN"},
        texts={
            "fr": "Réseau « Patients », sans mot de passe.",
            "en": 'Network "Patients", no password.',
            "de": "Netz „Patients“, ohne Passwort.",
        },
    ),
]


class TvOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WARDLINE_TV_", frozen=True)

    menu: list[Dish] = Field(default_factory=lambda: list(DEFAULT_MENU))
    meal_cutoff_hour: int = Field(
        default=14, ge=0, le=23, description="Orders for tomorrow close at this local hour."
    )
    timezone: str = Field(default="Europe/Paris", description="The ward's time zone.")
    info_pages: list[InfoPage] = Field(default_factory=lambda: list(DEFAULT_PAGES))
    outside_line_prefix: str = Field(default="0", description="Digit to dial for an outside line.")


def channel_lineup() -> list[ChannelEntry]:
    return list(BedsideOptions().channel_lineup)
