"""Several instances on one database: who this instance is, and the leases that give one
instance at a time a duty that must happen once (see :mod:`wardline.cluster.leases`)."""

from wardline.cluster.identity import instance_id
from wardline.cluster.leases import (
    BED_LINES,
    DUTIES,
    NURSE_CALL_ESCALATION,
    OUTBOX,
    TERMINAL_RESYNC,
    DutyLease,
    LeaseLost,
    Leases,
)

__all__ = [
    "BED_LINES",
    "DUTIES",
    "NURSE_CALL_ESCALATION",
    "OUTBOX",
    "TERMINAL_RESYNC",
    "DutyLease",
    "LeaseLost",
    "Leases",
    "instance_id",
]
