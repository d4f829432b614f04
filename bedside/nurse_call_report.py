"""Response times of nurse calls, per ward and period, for the reports."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bedside.beds import SessionSource
from bedside.models import NurseCall


@dataclass(frozen=True, kw_only=True)
class ResponseReport:
    ward_code: str
    calls: int
    answered: int
    escalated: int
    median_seconds: float | None
    p90_seconds: float | None
    longest_seconds: float | None


def summarize(ward_code: str, calls: list[NurseCall]) -> ResponseReport:
    """Pure: the figures of ``calls`` (response = acknowledgement, or clearing, minus call)."""
    times = sorted(t for t in (c.response_seconds for c in calls) if t is not None)
    p90 = times[min(len(times) - 1, int(0.9 * len(times)))] if times else None
    return ResponseReport(
        ward_code=ward_code,
        calls=len(calls),
        answered=len(times),
        escalated=sum(1 for c in calls if c.level > 0),
        median_seconds=statistics.median(times) if times else None,
        p90_seconds=p90,
        longest_seconds=times[-1] if times else None,
    )


async def response_report(
    db: SessionSource, ward_code: str, since: datetime, until: datetime
) -> ResponseReport:
    """Calls of ``ward_code`` raised in [since, until)."""
    async with db.session() as session:
        calls = (
            await session.scalars(
                select(NurseCall).where(
                    NurseCall.ward_code == ward_code,
                    NurseCall.raised_at >= since,
                    NurseCall.raised_at < until,
                )
            )
        ).all()
    return summarize(ward_code, list(calls))
