"""The switchboard console's API: the board (calls, queues, parking, lamps), actions on calls
through the ``Switchboard`` port, the directory and the call history.

The operator's phone is the extension chosen at sign-in (``SignedIn.extension``); two operators
acting on one call: the first wins, the second gets ``pbx.call_conflict`` (409) with the reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import or_, select

from kiosk_ui.api import Api, ApiCall
from kiosk_ui.directory import DirectoryOut, DirectorySearchIn, search
from kiosk_ui.errors import WebError
from kiosk_ui.lamps import LampsOut, lamp_layout
from kiosk_ui.pages import language as page_language
from kiosk_ui.pbx_status import status_of
from wardline import appkeys as k
from wardline.db.schema import metadata
from wardline.domain.switchboard_port import CallView, Switchboard
from wardline.ward_time import clock_text


def local_datetime(moment: datetime, zone: ZoneInfo, lang: str) -> str:
    """A date and time in ``zone``, written the way ``lang`` writes it (Babel)."""
    from babel.dates import format_datetime

    if moment.tzinfo is None:  # SQLite gives back naive UTC
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment.astimezone(zone), "medium", tzinfo=zone, locale=lang)


ROLE = ("switchboard",)
Extension = Field(pattern=r"^[0-9*#+]{1,32}$")


class CallOut(BaseModel):
    call_id: str
    phase: str
    caller_number: str
    caller_name: str
    called_extension: str
    extensions: list[str]
    started_at: datetime
    answered_at: datetime | None
    queue: str | None
    queue_position: int | None
    queued_since: datetime | None
    parked_space: str | None
    handled_by: str | None


class BoardOut(BaseModel):
    calls: list[CallOut]
    queues: dict[str, list[str]]
    parked: dict[str, str]
    phones: dict[str, str]
    my_extension: str | None
    pbx: Literal["up", "down", "absent"]
    pbx_since: datetime
    """When the link last changed state."""
    pbx_since_local: str
    """That moment as the operator reads it: HH:MM in the site's zone."""


class TransferIn(BaseModel):
    to: str = Extension
    kind: Literal["blind", "attended"] = "blind"


class DialIn(BaseModel):
    to: str = Extension


class CallIdOut(BaseModel):
    call_id: str


class CallPath(BaseModel):
    call_id: str = Field(min_length=1, max_length=128, description="The call's id")


class SpacePath(BaseModel):
    space: str = Field(pattern=r"^[0-9]{1,8}$", description="A parking space")


class ParkOut(BaseModel):
    call_id: str
    space: str


class HistoryQuery(BaseModel):
    since: datetime | None = None
    until: datetime | None = None
    number: str | None = Field(default=None, max_length=32)
    disposition: str | None = Field(default=None, max_length=16)
    limit: int = Field(default=100, ge=1, le=500)


class CallRecordOut(BaseModel):
    call_id: str
    caller_number: str
    called_extension: str
    extensions: list[str]
    bed_extension: str | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    disposition: str
    transferred: bool
    started_local: str = ""
    """The start as the operator reads it: in the page's language and the site's zone."""


class HistoryOut(BaseModel):
    records: list[CallRecordOut]


def call_out(c: CallView) -> CallOut:
    return CallOut(
        call_id=c.call_id,
        phase=c.phase,
        caller_number=c.caller_number,
        caller_name=c.caller_name,
        called_extension=c.called_extension,
        extensions=list(c.extensions),
        started_at=c.started_at,
        answered_at=c.answered_at,
        queue=c.queue,
        queue_position=c.queue_position,
        queued_since=c.queued_since,
        parked_space=c.parked_space,
        handled_by=c.handled_by,
    )


def board_of(call: ApiCall) -> Switchboard:
    board = call.request.app.get(k.SWITCHBOARD)
    if board is None:
        raise WebError("console.no_pbx", "no telephony is configured on this server")
    return board


def my_phone(call: ApiCall) -> str:
    ext = call.signed_in().extension
    if not ext:
        raise WebError("console.no_extension", "choose your switchboard phone first")
    return ext


def next_waiting(board: Switchboard) -> str:
    snap = board.snapshot()
    waiting = [c for c in snap.calls if c.phase == "queued"]
    if not waiting:
        raise WebError("console.queue_empty", "no call is waiting")
    oldest = min(waiting, key=lambda c: c.queued_since or c.started_at)
    return oldest.call_id


def register(api: Api) -> None:
    tags = ("console",)

    @api.route(
        "GET",
        "/console/board",
        roles=ROLE,
        summary="Calls, queues, parking, phones",
        response=BoardOut,
        tags=tags,
    )
    async def console_board(call: ApiCall) -> BoardOut:
        app = call.request.app
        board = app.get(k.SWITCHBOARD)
        me = call.signed_in().extension
        link = status_of(app)
        since = dict(
            pbx=link.state,
            pbx_since=link.since,
            pbx_since_local=clock_text(link.since, app[k.WARD_TIME].default),
        )
        if board is None:
            return BoardOut(calls=[], queues={}, parked={}, phones={}, my_extension=me, **since)
        snap = board.snapshot()
        return BoardOut(
            calls=[call_out(c) for c in snap.calls],
            queues={q: list(ids) for q, ids in snap.queues.items()},
            parked=dict(snap.parked),
            phones=dict(snap.phones),
            my_extension=me,
            **since,
        )

    @api.route(
        "GET",
        "/console/lamps",
        roles=ROLE,
        summary="Every phone's lamp, by ward",
        response=LampsOut,
        tags=tags,
    )
    async def console_lamps(call: ApiCall) -> LampsOut:
        return await lamp_layout(call.request.app)

    @api.route(
        "POST",
        "/calls/answer-next",
        roles=ROLE,
        summary="Bring the longest-waiting call to my phone",
        response=CallIdOut,
        tags=tags,
    )
    async def answer_next(call: ApiCall) -> CallIdOut:
        board, me = board_of(call), my_phone(call)
        call_id = next_waiting(board)
        await board.transfer_blind(call_id, me, me)
        return CallIdOut(call_id=call_id)

    @api.route(
        "POST",
        "/calls/{call_id}/answer",
        roles=ROLE,
        path_params=CallPath,
        summary="Bring this call to my phone",
        response=CallIdOut,
        tags=tags,
    )
    async def answer_call(call: ApiCall) -> CallIdOut:
        board, me = board_of(call), my_phone(call)
        await board.transfer_blind(call.params(CallPath).call_id, me, me)
        return CallIdOut(call_id=call.params(CallPath).call_id)

    @api.route(
        "POST",
        "/calls/{call_id}/transfer",
        roles=ROLE,
        path_params=CallPath,
        summary="Blind or attended transfer",
        body=TransferIn,
        response=CallIdOut,
        tags=tags,
    )
    async def transfer_call(call: ApiCall) -> CallIdOut:
        board, me, body = board_of(call), my_phone(call), call.body(TransferIn)
        if body.kind == "blind":
            await board.transfer_blind(call.params(CallPath).call_id, body.to, me)
        else:
            await board.transfer_attended(call.params(CallPath).call_id, body.to, me)
        return CallIdOut(call_id=call.params(CallPath).call_id)

    @api.route(
        "POST",
        "/calls/{call_id}/transfer/complete",
        roles=ROLE,
        summary="Complete my attended transfer (the caller meets the target)",
        response=CallIdOut,
        tags=tags,
    )
    async def complete_transfer(call: ApiCall) -> CallIdOut:
        await board_of(call).complete_transfer(call.path("call_id"), my_phone(call))
        return CallIdOut(call_id=call.path("call_id"))

    @api.route(
        "POST",
        "/calls/{call_id}/transfer/cancel",
        roles=ROLE,
        summary="Cancel my attended transfer (back to the caller)",
        response=CallIdOut,
        tags=tags,
    )
    async def cancel_transfer(call: ApiCall) -> CallIdOut:
        await board_of(call).cancel_transfer(call.path("call_id"), my_phone(call))
        return CallIdOut(call_id=call.path("call_id"))

    @api.route(
        "POST",
        "/calls/{call_id}/park",
        roles=ROLE,
        path_params=CallPath,
        summary="Park the caller",
        response=ParkOut,
        tags=tags,
    )
    async def park_call(call: ApiCall) -> ParkOut:
        board, me = board_of(call), my_phone(call)
        space = await board.park(call.params(CallPath).call_id, me)
        return ParkOut(call_id=call.params(CallPath).call_id, space=space)

    @api.route(
        "POST",
        "/parking/{space}/pickup",
        roles=ROLE,
        path_params=SpacePath,
        summary="Pick up a parked call on my phone",
        response=None,
        tags=tags,
    )
    async def pickup_parked(call: ApiCall) -> None:
        await board_of(call).pickup(call.params(SpacePath).space, my_phone(call))

    @api.route(
        "POST",
        "/calls/{call_id}/hangup",
        roles=ROLE,
        path_params=CallPath,
        summary="Hang up the call",
        response=None,
        tags=tags,
    )
    async def hangup_call(call: ApiCall) -> None:
        await board_of(call).hangup(call.params(CallPath).call_id, my_phone(call))

    @api.route(
        "POST",
        "/calls/dial",
        roles=ROLE,
        summary="Ring my phone, then a bed or a number",
        body=DialIn,
        response=CallIdOut,
        tags=tags,
    )
    async def dial(call: ApiCall) -> CallIdOut:
        board, me = board_of(call), my_phone(call)
        return CallIdOut(call_id=await board.call_bed(me, call.body(DialIn).to))

    @api.route(
        "POST",
        "/directory/search",
        roles=ROLE,
        summary="Search patients, beds and phones (the term stays out of URLs)",
        body=DirectorySearchIn,
        response=DirectoryOut,
        tags=tags,
    )
    async def directory_search(call: ApiCall) -> DirectoryOut:
        app = call.request.app
        return await search(
            app[k.DATABASE],
            app[k.AUDIT],
            call.signed_in().username,
            call.body(DirectorySearchIn).q,
            app[k.WARD_TIME],
        )

    @api.route(
        "GET",
        "/calls/history",
        roles=(*ROLE, "admin"),
        summary="Finished calls, newest first",
        query=HistoryQuery,
        response=HistoryOut,
        tags=tags,
    )
    async def call_history(call: ApiCall) -> HistoryOut:
        q = call.query(HistoryQuery)
        t = metadata().tables["call_records"]  # telephony's table, read without its code
        stmt = select(t).order_by(t.c.ended_at.desc()).limit(q.limit)
        if q.since is not None:
            stmt = stmt.where(t.c.started_at >= q.since)
        if q.until is not None:
            stmt = stmt.where(t.c.started_at < q.until)
        if q.number:
            like = f"%{q.number}%"
            stmt = stmt.where(
                or_(
                    t.c.caller_number.like(like),
                    t.c.called_extension.like(like),
                    t.c.extensions.like(like),
                )
            )
        if q.disposition:
            stmt = stmt.where(t.c.disposition == q.disposition)
        async with call.request.app[k.DATABASE].sessions() as s:
            rows = list((await s.execute(stmt)).mappings())
        zone = call.request.app[k.WARD_TIME].default
        lang = await page_language(call.request)
        return HistoryOut(
            records=[
                CallRecordOut.model_validate(
                    {
                        **r,
                        "extensions": [e for e in r["extensions"].split(",") if e],
                        "started_local": local_datetime(r["started_at"], zone, lang),
                    }
                )
                for r in rows
            ]
        )
