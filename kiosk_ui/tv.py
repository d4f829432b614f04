"""The patient's TV at ``/tv``: its enrolment, the page, and its patient-safe API.

A terminal session sees its own bed only (the bed is read from the session's terminal, never
from the request) and only what bedside's MQTT context holds: the name the patient chose,
room and bed, phone number and state, language and services; plus meals, the calls of this
stay, the nurse call and the survey. Clinical data appear only once a nurse signs in
(:mod:`kiosk_ui.bedside_pages`).
"""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session
from pydantic import BaseModel, Field
from sqlalchemy import select

from bedside.context import phone_state
from bedside.options import ChannelEntry
from kiosk_ui import bedside_pages, tv_clock, tv_meals, video_pages
from kiosk_ui.api import Api, ApiCall
from kiosk_ui.auth import current_user
from kiosk_ui.bedside_session import patient_side
from kiosk_ui.error_messages import AT_THE_BED, for_people, page_refusals
from kiosk_ui.i18n import LANGUAGES
from kiosk_ui.models import SurveyAnswer
from kiosk_ui.pages import base_context, remember_language
from kiosk_ui.security import CSP
from kiosk_ui.state import WebEdge
from kiosk_ui.terminal_auth import TerminalPlace, enroll
from kiosk_ui.tv_feed import tv_topic
from kiosk_ui.tv_options import TvOptions, channel_lineup
from telephony.calls.models import CallRecord
from wardline import appkeys as k
from wardline.domain.errors import InvalidInput, NotFound
from wardline.domain.stay_views import StayView
from wardline.errors import WardlineError

TV_OPTIONS = web.AppKey("tv_options", TvOptions)
JS_MESSAGES = {
    "Call received",
    "The nurse is coming",
    "Incoming call from {caller}",
    "Thank you for your answers",
    "Ordered",
    "Nurse call cleared",
}


class EnrollIn(BaseModel):
    credential: str = Field(min_length=8, max_length=200)


class EnrollOut(BaseModel):
    terminal_id: str
    bed: str


class TvContext(BaseModel):
    bed: str
    room: str
    ward_code: str
    occupied: bool
    greeting_name: str
    language: str
    phone_number: str | None
    phone_state: str
    services: dict[str, bool]
    in_bed_since: datetime | None = None
    """When the patient came to this bed (admission or transfer), in the ward's time zone."""


class CallOut(BaseModel):
    direction: str
    number: str
    started_at: datetime
    answered: bool
    seconds: float


class CallsOut(BaseModel):
    calls: list[CallOut]


class NurseCallOut(BaseModel):
    call_id: int
    state: str


class SurveyIn(BaseModel):
    answers: dict[str, int] = Field(max_length=10)


class LanguageIn(BaseModel):
    lang: str


def register(app: web.Application, edge: WebEdge) -> None:
    if TV_OPTIONS not in app:
        app[TV_OPTIONS] = TvOptions()
    app.router.add_get("/tv", tv_page)
    app.router.add_get("/tv/enroll", enroll_page)
    app.router.add_post("/tv/enroll", enroll_post)
    edge.js_messages.update(JS_MESSAGES)
    api_routes(edge.api)
    tv_clock.api_routes(edge.api)
    edge.feed.add_topic(tv_topic())
    tv_meals.register(app, edge)
    bedside_pages.register(app, edge)


async def stay_of(request: web.Request, place: TerminalPlace) -> StayView | None:
    return await request.app[k.STAYS].stay_for_bed(place.bed_label)


async def ward_zone(request: web.Request, ward_code: str) -> ZoneInfo:
    """The ward's zone (its site's): every time a page or the API shows is computed in it by
    the server."""
    return await request.app[k.WARD_TIME].of_ward(ward_code)


def context_of(
    place: TerminalPlace, stay: StayView | None, default_lang: str, zone: ZoneInfo
) -> TvContext:
    if stay is None:
        return TvContext(
            bed=place.bed_label,
            room=place.room,
            ward_code=place.ward_code,
            occupied=False,
            greeting_name="",
            language=default_lang,
            phone_number=None,
            phone_state="none",
            services={"tv": True, "phone": False, "meals": False},
        )
    patient = stay.patient
    lang = patient.preferred_language if patient.preferred_language in LANGUAGES else default_lang
    return TvContext(
        bed=place.bed_label,
        room=place.room,
        ward_code=place.ward_code,
        occupied=True,
        greeting_name=(patient.addressed_as or patient.given_name or "").strip()[:200],
        language=lang or "fr",
        phone_number=stay.did,
        phone_state=phone_state(stay),
        services={
            "tv": True,
            "phone": stay.did is not None and not stay.line_suspended,
            "meals": not stay.on_leave,
        },
        in_bed_since=stay.bed_since.astimezone(zone) if stay.bed_since else None,
    )


async def calls_of(request: web.Request, place: TerminalPlace, stay: StayView) -> list[CallOut]:
    async with request.app[k.DATABASE].sessions() as s:
        rows = await s.scalars(
            select(CallRecord)
            .where(
                (CallRecord.stay_id == stay.stay_id)
                | (  # not resolved to a stay yet: the bed's phone since the stay began
                    CallRecord.stay_id.is_(None)
                    & (CallRecord.bed_extension == place.extension)
                    & (CallRecord.started_at >= stay.started_at)
                )
            )
            .order_by(CallRecord.started_at.desc())
            .limit(20)
        )
        calls = []
        zone = await ward_zone(request, place.ward_code)
        for r in rows:
            outgoing = r.caller_number == place.extension
            seconds = (r.ended_at - r.answered_at).total_seconds() if r.answered_at else 0.0
            calls.append(
                CallOut(
                    direction="out" if outgoing else "in",
                    number=r.called_extension if outgoing else r.caller_number,
                    started_at=r.started_at.astimezone(zone),
                    answered=r.answered_at is not None,
                    seconds=seconds,
                )
            )
        return calls


async def tv_page(request: web.Request) -> web.StreamResponse:
    user = await current_user(request)
    if user is None:
        raise web.HTTPSeeOther("/tv/enroll")
    place = await patient_side(request, "page")
    stay = await stay_of(request, place)
    zone = await ward_zone(request, place.ward_code)
    tv = context_of(place, stay, request.app[k.SETTINGS].default_language, zone)
    session = await get_session(request)
    if "lang" not in session:  # the patient's language until they choose another on the TV
        session["lang"] = tv.language
    context = await base_context(request, user)
    lang = context["lang"]
    options = request.app[TV_OPTIONS]
    context.update(
        tv=tv,
        place=place,
        channels=channel_lineup(),
        pages=[
            (p.slug, p.titles.get(lang, p.slug), p.texts.get(lang, "")) for p in options.info_pages
        ],
        calls=await calls_of(request, place, stay) if stay else [],
        outside_prefix=options.outside_line_prefix,
        idle_seconds=request.app[k.SETTINGS].nurse_idle_signout_seconds,
        now=request.app[k.CLOCK]().isoformat(),
        clock=tv_clock.clock_text(
            request.app[k.CLOCK](), await request.app[k.WARD_TIME].of_ward(place.ward_code), lang
        ),
        meals=await tv_meals.meals_view(request, stay, lang) if stay else None,
    )
    context["js_refusals"] = json.dumps(page_refusals(context["_"], AT_THE_BED), ensure_ascii=False)
    context["video_enabled"] = video_pages.video_enabled(request.app)
    response = aiohttp_jinja2.render_template("tv.html.j2", request, context)
    # the video visit's gateway and camera (issue 17), only when video visits are on
    video_pages.allow_media(request.app, response, tv_policy(context["channels"]))
    return response


def tv_policy(channels: list[ChannelEntry]) -> str:
    """The foundation's policy, plus the origins of the channels' streams for video/audio."""
    origins = sorted({_origin(c.url) for c in channels if c.url} - {""})
    return f"{CSP}; media-src 'self' {' '.join(origins)}".rstrip()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else ""


async def enroll_page(request: web.Request, error: WardlineError | None = None) -> web.Response:
    context = await base_context(request, await current_user(request))
    context["error"] = None if error is None else for_people(error, context["_"])
    response = aiohttp_jinja2.render_template("tv_enroll.html.j2", request, context)
    if error is not None:
        response.set_status(401)
    return response


async def enroll_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        await enroll(request, str(form.get("credential", "")))
    except WardlineError as exc:
        if exc.error_id == "auth.rate_limited":
            raise
        return await enroll_page(request, exc)
    raise web.HTTPSeeOther("/tv")


def api_routes(api: Api) -> None:
    @api.route(
        "POST",
        "/tv/enroll",
        roles=None,
        summary="Exchange a terminal credential for a TV session",
        body=EnrollIn,
        response=EnrollOut,
        tags=("tv",),
    )
    async def enroll_terminal(call: ApiCall) -> EnrollOut:
        place = await enroll(call.request, call.body(EnrollIn).credential)
        return EnrollOut(terminal_id=place.terminal_id, bed=place.bed_label)

    @api.route(
        "GET",
        "/tv/context",
        roles=("terminal",),
        summary="The bed's patient-safe context",
        response=TvContext,
        tags=("tv",),
    )
    async def tv_context(call: ApiCall) -> TvContext:
        place = await patient_side(call.request)
        stay = await stay_of(call.request, place)
        lang = call.request.app[k.SETTINGS].default_language
        return context_of(place, stay, lang, await ward_zone(call.request, place.ward_code))

    @api.route(
        "GET",
        "/tv/calls",
        roles=("terminal",),
        summary="Calls of this stay",
        response=CallsOut,
        tags=("tv",),
    )
    async def tv_calls(call: ApiCall) -> CallsOut:
        place = await patient_side(call.request)
        stay = await stay_of(call.request, place)
        return CallsOut(calls=await calls_of(call.request, place, stay) if stay else [])

    @api.route(
        "POST",
        "/tv/nurse-call",
        roles=("terminal",),
        summary="Call the nurse",
        response=NurseCallOut,
        tags=("tv",),
    )
    async def tv_nurse_call(call: ApiCall) -> NurseCallOut:
        place = await patient_side(call.request)
        if k.NURSE_CALLS not in call.request.app:
            raise NotFound("nurse_call.unavailable", "the nurse call service is not running")
        view = await call.request.app[k.NURSE_CALLS].raise_from_tv(place.bed_label)
        return NurseCallOut(call_id=view.call_id, state=view.state)

    @api.route(
        "POST",
        "/tv/survey",
        roles=("terminal",),
        summary="Answer the satisfaction survey (stored without identity)",
        body=SurveyIn,
        response=None,
        status=201,
        tags=("tv",),
    )
    async def tv_survey(call: ApiCall) -> None:
        place = await patient_side(call.request)
        answers = call.body(SurveyIn).answers
        if any(not 1 <= v <= 5 for v in answers.values()) or not answers:
            raise InvalidInput("survey.range", "answers go from 1 to 5")
        now = call.request.app[k.CLOCK]()
        async with call.request.app[k.DATABASE].session() as s:
            s.add(SurveyAnswer(ward_code=place.ward_code, day=now.date(), answers=dict(answers)))

    @api.route(
        "POST",
        "/tv/language",
        roles=("terminal",),
        summary="Language of the TV",
        body=LanguageIn,
        response=None,
        tags=("tv",),
    )
    async def tv_language(call: ApiCall) -> None:
        await patient_side(call.request)
        lang = call.body(LanguageIn).lang
        if lang not in LANGUAGES:
            raise InvalidInput("lang.unknown", "unknown language", lang=lang)
        await remember_language(call.request, lang)
