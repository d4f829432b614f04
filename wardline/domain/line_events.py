"""Domain events of the bed lines beyond the core's :class:`LineChanged`."""

from __future__ import annotations

from dataclasses import dataclass

from wardline.domain.events import LineChanged


@dataclass(frozen=True, kw_only=True)
class LineNumberSwapped(LineChanged):
    """The stay's line got another DID; ``old_did`` no longer rings its bed."""

    old_did: str | None
    did: str | None
