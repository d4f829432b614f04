"""Janus's JSON API, built and read as pure functions (no sockets): the core API (session,
handle, plugin message), the VideoRoom plugin's room requests and the admin API's tokens.

Every answer goes through :func:`reply_of` / :func:`room_reply`, which turn Janus's error forms
(``{"janus": "error"}`` and the plugin's ``error_code``) into :class:`~video.errors.GatewayError`
with Janus's code, so nothing outside this module reads a Janus error shape."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from video.errors import gateway_refused

VIDEOROOM = "janus.plugin.videoroom"
MAX_PUBLISHERS = 4
# Janus core error codes (janus/apierror.h) a caller tells apart.
UNAUTHORIZED = 403
UNAUTHORIZED_PLUGIN = 405
SESSION_NOT_FOUND = 458
# VideoRoom error codes (plugins/janus_videoroom.c).
NO_SUCH_ROOM = 426
ROOM_EXISTS = 427
NO_SUCH_FEED = 428
VIDEOROOM_UNAUTHORIZED = 433


def transaction() -> str:
    return secrets.token_hex(8)


def _with_secret(message: dict[str, Any], secret: str | None, key: str) -> dict[str, Any]:
    if secret:
        message[key] = secret
    return message


def create_session(api_secret: str | None) -> dict[str, Any]:
    return _with_secret({"janus": "create", "transaction": transaction()}, api_secret, "apisecret")


def attach(api_secret: str | None, plugin: str = VIDEOROOM) -> dict[str, Any]:
    return _with_secret(
        {"janus": "attach", "plugin": plugin, "transaction": transaction()}, api_secret, "apisecret"
    )


def destroy_session(api_secret: str | None) -> dict[str, Any]:
    return _with_secret({"janus": "destroy", "transaction": transaction()}, api_secret, "apisecret")


def plugin_message(api_secret: str | None, body: dict[str, Any]) -> dict[str, Any]:
    return _with_secret(
        {"janus": "message", "body": body, "transaction": transaction()}, api_secret, "apisecret"
    )


def with_token(message: dict[str, Any], token: str) -> dict[str, Any]:
    """The same request as a browser sends it: its Janus token instead of the API secret."""
    out = {k: v for k, v in message.items() if k != "apisecret"}
    out["token"] = token
    return out


# -- admin API --------------------------------------------------------------------------------
def add_token(
    admin_secret: str, token: str, plugins: tuple[str, ...] = (VIDEOROOM,)
) -> dict[str, Any]:
    return {
        "janus": "add_token",
        "token": token,
        "plugins": list(plugins),
        "transaction": transaction(),
        "admin_secret": admin_secret,
    }


def remove_token(admin_secret: str, token: str) -> dict[str, Any]:
    return {
        "janus": "remove_token",
        "token": token,
        "transaction": transaction(),
        "admin_secret": admin_secret,
    }


def list_tokens(admin_secret: str) -> dict[str, Any]:
    return {"janus": "list_tokens", "transaction": transaction(), "admin_secret": admin_secret}


# -- VideoRoom requests -----------------------------------------------------------------------
@dataclass(frozen=True)
class RoomSpec:
    """One visit's room: private, PIN-protected, token-checked, never recorded."""

    room: int
    secret: str
    pin: str
    description: str
    publishers: int = MAX_PUBLISHERS


def create_room(spec: RoomSpec, admin_key: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "request": "create",
        "room": spec.room,
        "permanent": False,
        "description": spec.description,
        "secret": spec.secret,
        "pin": spec.pin,
        "is_private": True,
        "publishers": spec.publishers,
        "record": False,
        "lock_record": True,
        "allowed": [],  # the room checks each joiner's token (added per participant)
        "audiocodec": "opus",
        "videocodec": "vp8,h264",
        "notify_joining": True,
    }
    if admin_key:
        body["admin_key"] = admin_key
    return body


def destroy_room(room: int, secret: str) -> dict[str, Any]:
    return {"request": "destroy", "room": room, "secret": secret, "permanent": False}


def allow_tokens(room: int, secret: str, action: str, tokens: list[str]) -> dict[str, Any]:
    if action not in {"add", "remove"}:
        raise ValueError(action)
    return {
        "request": "allowed",
        "room": room,
        "secret": secret,
        "action": action,
        "allowed": tokens,
    }


def kick(room: int, secret: str, feed_id: int) -> dict[str, Any]:
    return {"request": "kick", "room": room, "secret": secret, "id": feed_id}


def exists(room: int) -> dict[str, Any]:
    return {"request": "exists", "room": room}


def list_rooms(admin_key: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"request": "list"}
    if admin_key:
        body["admin_key"] = admin_key
    return body


def list_participants(room: int) -> dict[str, Any]:
    return {"request": "listparticipants", "room": room}


def join_publisher(room: int, pin: str, display: str, feed_id: int, token: str) -> dict[str, Any]:
    """What a browser sends to join (tests use it to play a browser-less participant)."""
    return {
        "request": "join",
        "ptype": "publisher",
        "room": room,
        "pin": pin,
        "display": display,
        "id": feed_id,
        "token": token,
    }


# -- answers ----------------------------------------------------------------------------------
def reply_of(answer: Any, expect: str = "success") -> dict[str, Any]:
    """The answer of the core or admin API, or the gateway's refusal as a GatewayError."""
    if not isinstance(answer, dict) or "janus" not in answer:
        raise gateway_refused(0, "not a Janus answer")
    kind = answer["janus"]
    if kind == "error":
        error = answer.get("error") or {}
        raise gateway_refused(int(error.get("code", 0)), str(error.get("reason", "error")))
    if kind != expect:
        raise gateway_refused(0, f"unexpected answer {kind!r}")
    return answer


def created_id(answer: Any) -> int:
    """The id of a session or handle just created."""
    data = reply_of(answer).get("data")
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        raise gateway_refused(0, "no id in the answer")
    return int(data["id"])


def room_reply(answer: Any) -> dict[str, Any]:
    """The VideoRoom's answer to a synchronous request, or its refusal as a GatewayError."""
    kind = answer.get("janus") if isinstance(answer, dict) else None
    reply = reply_of(answer, expect="event" if kind == "event" else "success")
    plugindata = reply.get("plugindata")
    data = plugindata.get("data") if isinstance(plugindata, dict) else None
    if not isinstance(data, dict):
        raise gateway_refused(0, "no plugin data in the answer")
    if "error_code" in data:
        raise gateway_refused(int(data["error_code"]), str(data.get("error", "refused")))
    return data
