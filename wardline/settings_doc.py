"""The README's settings tables, generated from the settings classes of the core and edges."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings


def _classes() -> list[tuple[str, type[BaseSettings]]]:
    from bedside.options import BedsideOptions
    from ehr_bridge.config import EhrOptions
    from kiosk_ui.options import WebOptions
    from kiosk_ui.tv_options import TvOptions
    from telephony.config.files import AsteriskSettings
    from wardline.settings import Settings

    classes: list[tuple[str, type[BaseSettings]]] = [
        ("Core, telephony, bedside, EHR and web", Settings),
        ("Asterisk configuration generator", AsteriskSettings),
        ("Bedside terminals (MQTT)", BedsideOptions),
        ("EHR bridge", EhrOptions),
        ("Web (sign-in, sessions)", WebOptions),
        ("Patient TV (channels, meals, information pages)", TvOptions),
    ]
    return classes


def _shown(default: Any) -> str:
    if isinstance(default, SecretStr):
        return "(secret)" if default.get_secret_value() else "(empty)"
    if default is None:
        return "(unset)"
    text = str(default)
    if len(text) > 40:
        return "(see code)"
    return f"`{text}`"


def settings_table() -> str:
    out: list[str] = []
    for title, cls in _classes():
        prefix = str(cls.model_config.get("env_prefix", ""))
        out += [f"**{title}**", "", "| variable | default | meaning |", "| --- | --- | --- |"]
        for name, field in cls.model_fields.items():
            default = "(see code)" if field.default_factory is not None else _shown(field.default)
            out.append(f"| `{prefix}{name.upper()}` | {default} | {field.description or ''} |")
        out.append("")
    return "\n".join(out).rstrip()


if __name__ == "__main__":
    print(settings_table())
