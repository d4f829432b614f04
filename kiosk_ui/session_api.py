"""``/api/v1/session``: sign in and out, the CSRF token, the operator's phone, the language."""

from __future__ import annotations

from typing import Literal

from aiohttp_session import get_session
from pydantic import BaseModel, Field

from kiosk_ui.api import Api, ApiCall
from kiosk_ui.auth import SignedIn, current_user, update_extension
from kiosk_ui.errors import WebError
from kiosk_ui.pages import language, remember_language, sign_in, switchboard_phones
from kiosk_ui.security import csrf_token


class UserOut(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    extension: str | None
    ward_code: str | None


class SessionOut(BaseModel):
    signed_in: bool
    user: UserOut | None
    csrf_token: str
    language: str


class SignInIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    extension: str | None = Field(default=None, max_length=16)


class ExtensionIn(BaseModel):
    extension: str | None = Field(default=None, max_length=16)


class LanguageIn(BaseModel):
    language: Literal["fr", "en", "de"]


class PhonesOut(BaseModel):
    extensions: list[str]


def user_out(user: SignedIn) -> UserOut:
    return UserOut(
        username=user.username,
        display_name=user.display_name,
        roles=sorted(user.roles),
        extension=user.extension,
        ward_code=user.ward_code,
    )


async def _session_out(call: ApiCall, user: SignedIn | None) -> SessionOut:
    session = await get_session(call.request)
    return SessionOut(
        signed_in=user is not None,
        user=user_out(user) if user else None,
        csrf_token=csrf_token(session),
        language=await language(call.request),
    )


def register(api: Api) -> None:
    @api.route(
        "GET",
        "/session",
        roles=None,
        summary="Who is signed in; the CSRF token",
        response=SessionOut,
        tags=("session",),
    )
    async def get_session_state(call: ApiCall) -> SessionOut:
        return await _session_out(call, await current_user(call.request))

    @api.route(
        "POST",
        "/session",
        roles=None,
        summary="Sign in with a password",
        body=SignInIn,
        response=SessionOut,
        tags=("session",),
    )
    async def create_session(call: ApiCall) -> SessionOut:
        body = call.body(SignInIn)
        user = await sign_in(call.request, body.username, body.password, body.extension)
        return await _session_out(call, user)

    @api.route("DELETE", "/session", roles=(), summary="Sign out", response=None, tags=("session",))
    async def delete_session(call: ApiCall) -> None:
        (await get_session(call.request)).invalidate()

    @api.route(
        "PUT",
        "/session/extension",
        roles=("switchboard",),
        summary="Choose the phone I answer calls on",
        body=ExtensionIn,
        response=SessionOut,
        tags=("session",),
    )
    async def choose_extension(call: ApiCall) -> SessionOut:
        ext = call.body(ExtensionIn).extension
        if ext and ext not in await switchboard_phones(call.request):
            raise WebError(
                "signin.extension", "choose one of the switchboard phones", extension=ext
            )
        return await _session_out(call, await update_extension(call.request, ext))

    @api.route(
        "PUT",
        "/session/language",
        roles=None,
        summary="Choose my language",
        body=LanguageIn,
        response=SessionOut,
        tags=("session",),
    )
    async def choose_language(call: ApiCall) -> SessionOut:
        await remember_language(call.request, call.body(LanguageIn).language)
        return await _session_out(call, await current_user(call.request))

    @api.route(
        "GET",
        "/phones/switchboard",
        roles=(),
        summary="The switchboard phones",
        response=PhonesOut,
        tags=("session",),
    )
    async def list_switchboard_phones(call: ApiCall) -> PhonesOut:
        return PhonesOut(extensions=await switchboard_phones(call.request))
