"""One PBX as the rest of Wardline sees it: the AMI link, the live state it feeds, the
resync after every (re)connect, and the actions. Built from settings by the component."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field

from telephony.ami.link import AmiLink, Backoff, LinkState
from telephony.calls.actions import PbxActions
from telephony.calls.resync import apply_snapshot, fetch_snapshot
from telephony.calls.state import CallState
from wardline.domain.call_events import PbxConnectionChanged
from wardline.domain.events import DomainEvent
from wardline.settings import Settings


class LinkTuning(BaseModel):
    """Edge-local settings of the AMI link (defaults suit a hospital PBX)."""

    ping_interval: float = Field(default=20.0, gt=0)
    backoff_initial: float = Field(default=0.5, gt=0)
    backoff_maximum: float = Field(default=30.0, gt=0)
    backoff_jitter: float = Field(default=0.2, ge=0, lt=1)


class PbxSession:
    def __init__(self, link: AmiLink, publish: Callable[[DomainEvent], None] | None = None):
        self.link = link
        self.state = CallState(publish)
        self.actions = PbxActions(link, self.state)
        link.subscribe(self.state.on_event)
        link.resync = self._resync
        link.on_state = self._on_state

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        publish: Callable[[DomainEvent], None] | None = None,
        tuning: LinkTuning | None = None,
    ) -> PbxSession:
        tune = tuning or LinkTuning()
        link = AmiLink(
            host=settings.ami_host,
            port=settings.ami_port,
            username=settings.ami_username,
            secret=settings.ami_secret.get_secret_value(),
            action_timeout=settings.ami_action_timeout,
            ping_interval=tune.ping_interval,
            backoff=Backoff(
                initial=tune.backoff_initial,
                maximum=tune.backoff_maximum,
                jitter=tune.backoff_jitter,
            ),
        )
        return cls(link, publish)

    async def _resync(self) -> None:
        apply_snapshot(self.state, await fetch_snapshot(self.link))

    def _on_state(self, state: LinkState) -> None:
        if state in ("up", "down"):
            self.state.publish(PbxConnectionChanged(state=state))

    def snapshot_phase(self, call_id: str) -> str | None:
        call = self.state.calls.get(call_id)
        return call.phase() if call is not None else None

    async def start(self) -> None:
        await self.link.start()

    async def stop(self) -> None:
        await self.link.stop()
