"""Languages of the pages: fr (default), en, de, from Babel ``.po`` catalogs read at start-up
(``babel.messages.pofile``: no compile step). Message ids are English; a missing translation
falls back to the id. The user's choice is kept in the session and in a long-lived cookie."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from babel.messages.pofile import read_po

LANGUAGES = ("fr", "en", "de")
DEFAULT_LANGUAGE = "fr"
LANG_COOKIE = "wl_lang"
LOCALES = Path(__file__).resolve().parent / "locales"


@dataclass
class Catalogs:
    messages: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path = LOCALES) -> Catalogs:
        catalogs = cls()
        for lang in LANGUAGES:
            path = folder / lang / "LC_MESSAGES" / "messages.po"
            table: dict[str, str] = {}
            if path.exists():
                with path.open("rb") as handle:
                    for message in read_po(handle, locale=lang):
                        if message.id and isinstance(message.id, str) and message.string:
                            table[message.id] = str(message.string)
            catalogs.messages[lang] = table
        return catalogs

    def gettext(self, lang: str, msgid: str) -> str:
        return self.messages.get(lang, {}).get(msgid, msgid)

    def translator(self, lang: str) -> Translator:
        return Translator(self, lang)


@dataclass(frozen=True)
class Translator:
    catalogs: Catalogs
    lang: str

    def __call__(self, msgid: str, **values: object) -> str:
        text = self.catalogs.gettext(self.lang, msgid)
        return text.format(**values) if values else text


def choose_language(request: web.Request, session_lang: object, default: str) -> str:
    """Session choice, then the remembered cookie, then the browser's, then the default."""
    if isinstance(session_lang, str) and session_lang in LANGUAGES:
        return session_lang
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGUAGES:
        return str(cookie)
    for part in request.headers.get("Accept-Language", "").split(","):
        code = part.split(";")[0].strip()[:2].lower()
        if code in LANGUAGES:
            return code
    return default if default in LANGUAGES else DEFAULT_LANGUAGE
