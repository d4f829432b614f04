"""The TV's clock, written by the server in the ward's zone and the page's language (Babel's
CLDR names of days and months): the kiosk browser shows the text as it is and asks again,
so neither its own clock nor its own zone ever shows."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from pydantic import BaseModel

from kiosk_ui.api import Api, ApiCall
from kiosk_ui.pages import language
from kiosk_ui.terminal_auth import require_terminal
from wardline import appkeys as k

PATTERN = "EEEE d MMMM HH:mm"


class ClockOut(BaseModel):
    text: str
    """e.g. ``dimanche 22 novembre 08:10``"""
    at: datetime
    zone: str
    seconds_to_next_minute: float


def clock_text(moment: datetime, zone: ZoneInfo, lang: str) -> str:
    return format_datetime(moment, PATTERN, tzinfo=zone, locale=lang)


def clock_out(moment: datetime, zone: ZoneInfo, lang: str) -> ClockOut:
    return ClockOut(
        text=clock_text(moment, zone, lang),
        at=moment,
        zone=zone.key,
        seconds_to_next_minute=60 - moment.second - moment.microsecond / 1e6,
    )


def api_routes(api: Api) -> None:
    @api.route(
        "GET",
        "/tv/clock",
        roles=("terminal",),
        summary="The ward's time, written for the TV",
        response=ClockOut,
        tags=("tv",),
    )
    async def tv_clock(call: ApiCall) -> ClockOut:
        place = await require_terminal(call.request)
        zone = await call.request.app[k.WARD_TIME].of_ward(place.ward_code)
        lang = await language(call.request)
        return clock_out(call.request.app[k.CLOCK](), zone, lang)
