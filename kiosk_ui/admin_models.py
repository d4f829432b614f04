"""Models of the admin API (they validate its answers and generate its OpenAPI schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

StaffRole = Literal["nurse", "clinician", "switchboard", "admin"]


class BedOut(BaseModel):
    label: str
    extension: str
    room: str
    terminal_id: str | None
    terminal_online: bool | None
    terminal_last_seen: datetime | None


class WardOut(BaseModel):
    code: str
    name: str
    beds: list[BedOut]


class InventoryOut(BaseModel):
    wards: list[WardOut]
    terminals_online: int
    terminals_total: int


class StaffOut(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    ward_code: str | None
    language: str
    active: bool
    rpps: str | None = None


class StaffListOut(BaseModel):
    staff: list[StaffOut]


class StaffIn(BaseModel):
    username: str = Field(pattern=r"^[a-z0-9._-]{2,64}$")
    display_name: str = Field(min_length=1, max_length=200)
    roles: list[StaffRole] = Field(min_length=1)
    password: str = Field(min_length=8, max_length=256)
    ward_code: str | None = Field(default=None, max_length=32)
    language: Literal["fr", "en", "de"] = "fr"
    rpps: str | None = Field(
        default=None, pattern=r"^\s*(\d\s*){11}$", description="RPPS number (11 digits)"
    )


class StaffPath(BaseModel):
    username: str = Field(pattern=r"^[a-z0-9._-]{2,64}$", description="The account's name")


class StaffChangeIn(BaseModel):
    """What changes on an account (absent: unchanged); its open sessions end."""

    roles: list[StaffRole] | None = Field(default=None, min_length=1)
    active: bool | None = None


class MessagePath(BaseModel):
    message_id: int = Field(ge=1, le=2**63 - 1, description="The ADT message's id")


class DidOut(BaseModel):
    number: str
    state: str
    bed: str | None
    quarantine_until: datetime | None


class LinesOut(BaseModel):
    dids: list[DidOut]
    free: int
    assigned: int
    quarantined: int
    lines_service: Literal["pending"] = "pending"
    """Line management (wardline/domain/lines.py, branch ``lines``) plugs in here."""


class AdtMessageOut(BaseModel):
    message_id: int
    sender: str
    control_id: str
    message_type: str
    received_at: datetime
    status: str
    ack_code: str | None
    error_id: str | None
    error: str | None
    attempts: int


class AdtQuery(BaseModel):
    status: Literal["received", "applied", "error", "rejected"] = "error"
    limit: int = Field(default=100, ge=1, le=500)


class AdtListOut(BaseModel):
    messages: list[AdtMessageOut]


class ReplayOut(BaseModel):
    message_id: int
    ack_code: str
    status: str
    error_id: str | None
    error: str | None


class OutboxItemOut(BaseModel):
    business_id: str
    kind: str
    state: str
    attempts: int
    created_at: datetime
    last_error: str | None
    next_attempt_at: datetime | None


class OutboxOut(BaseModel):
    configured: bool
    items: list[OutboxItemOut]


class IdentityAlertOut(BaseModel):
    visit_number: str
    bed: str | None
    reason: str
    since: datetime


class IdentityAlertsOut(BaseModel):
    alerts: list[IdentityAlertOut]


class AuditRowOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str


class AuditQuery(BaseModel):
    limit: int = Field(default=100, ge=1, le=1000)
    action: str | None = Field(default=None, max_length=100)


class AuditOut(BaseModel):
    rows: list[AuditRowOut]


class ChainOut(BaseModel):
    rows: int
    ok: bool
    broken_at: int | None
    reason: str | None
