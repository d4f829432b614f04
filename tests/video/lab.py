"""A Wardline serving video visits over real HTTP against a real Janus and coturn: the example
hospital, a patient admitted in CARDIO-101-A whose terminal is enrolled, a clinician without
a ward, a nurse of CARDIO and one of PNEUMO (video-web's browser tests use it too). The
sweeper runs once at start, then hourly: tests call it when they mean it."""

from __future__ import annotations

import base64
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from ehr_bridge.adt_message import parse_adt
from kiosk_ui.component import setup as web_setup
from kiosk_ui.options import WebOptions
from kiosk_ui.terminal_auth import issue_credential
from tests.conftest import FakeClock, Hospital
from tests.ehr_bridge.messages import adt
from tests.video.gateways import Gateways
from tests.web.conftest import PASSWORD, Browser
from video.component import setup as video_setup
from wardline import appkeys as k
from wardline.app import build_app
from wardline.domain.commands import SYSTEM_ADMIN_CLI
from wardline.settings import Settings

BED = "CARDIO-101-A"
TERMINAL = "T-CARDIO-101-A"
OTHER_BED = "CARDIO-101-B"

Serve = Callable[[web.Application], Awaitable[str]]


@dataclass
class VideoLab:
    app: web.Application
    base: str
    gateways: Gateways
    credential: str
    clock: FakeClock
    browsers: list[Browser] = field(default_factory=list)

    def browser(self) -> Browser:
        b = Browser(self.base)
        self.browsers.append(b)
        return b

    async def staff(self, username: str) -> Browser:
        b = self.browser()
        await b.sign_in(username)
        return b

    async def terminal(self) -> Browser:
        b = self.browser()
        await b.refresh()
        await b.json("POST", "/api/v1/tv/enroll", {"credential": self.credential})
        await b.refresh()
        return b

    async def close(self) -> None:
        for b in self.browsers:
            await b.close()


def video_settings(tmp_path: Path, gateways: Gateways, **extra: Any) -> Settings:
    return Settings(
        data_dir=tmp_path,
        session_secret=base64.urlsafe_b64encode(b"v" * 32).decode(),
        ami_enabled=False,
        mqtt_enabled=False,
        mllp_enabled=False,
        db_auto_upgrade=False,
        **{**gateways.settings(), "video_sweep_seconds": 3600, **extra},
    )


async def open_video_lab(
    hospital: Hospital, tmp_path: Path, gateways: Gateways, serve_app: Serve, **extra: Any
) -> VideoLab:
    app = build_app(
        video_settings(tmp_path, gateways, **extra),
        database=hospital.db,
        clock=hospital.clock,
        components=[
            video_setup,
            functools.partial(web_setup, options=WebOptions(signin_attempts=200)),
        ],
    )
    base = await serve_app(app)
    await app[k.STAYS].apply(parse_adt(adt("A01", "C1")).command, SYSTEM_ADMIN_CLI)
    for username, name, roles, ward in (
        ("clara", "Dr Clara Weiss", {"clinician"}, None),
        ("nina", "Nina Rossi", {"nurse"}, "CARDIO"),
        ("paul", "Paul Meyer", {"nurse"}, "PNEUMO"),
        ("opal", "Opal", {"switchboard"}, None),
    ):
        await app[k.STAFF].add_user(
            SYSTEM_ADMIN_CLI,
            username=username,
            display_name=name,
            roles=roles,
            password=PASSWORD,
            ward_code=ward,
        )
    credential = await issue_credential(app[k.DATABASE], TERMINAL, audit=app[k.AUDIT])
    return VideoLab(app, base, gateways, credential, hospital.clock)
