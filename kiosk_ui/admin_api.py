"""The admin API: inventory and terminal presence, staff accounts, DIDs and lines, the ADT
feed with replay, the EHR outbox and identity alerts, the audit log and its verification.
Role admin only."""

from __future__ import annotations

from sqlalchemy import select

from kiosk_ui.admin_models import (
    AdtListOut,
    AdtMessageOut,
    AdtQuery,
    AuditOut,
    AuditQuery,
    AuditRowOut,
    BedOut,
    ChainOut,
    CloseWriteIn,
    DidOut,
    IdentityAlertOut,
    IdentityAlertsOut,
    InventoryOut,
    LinesOut,
    MessagePath,
    OutboxItemOut,
    OutboxOut,
    ReplayOut,
    StaffChangeIn,
    StaffIn,
    StaffListOut,
    StaffOut,
    StaffPath,
    WardOut,
    WritePath,
)
from kiosk_ui.api import Api, ApiCall
from kiosk_ui.errors import WebError
from kiosk_ui.inventory_read import beds, wards
from wardline import appkeys as k
from wardline.db.models import AuditEvent, Bed, Did, Stay, Terminal
from wardline.domain.audit_checkpoints import verify
from wardline.domain.clinical_record_port import ClinicalRecordPort
from wardline.domain.staff import StaffView
from wardline.errors import WardlineError

ROLE = ("admin",)


def staff_out(u: StaffView) -> StaffOut:
    return StaffOut(
        username=u.username,
        display_name=u.display_name,
        roles=sorted(u.roles),
        ward_code=u.ward_code,
        language=u.language,
        active=u.active,
        rpps=u.rpps,
    )


TAGS = ("admin",)


def register(api: Api) -> None:
    @api.route(
        "GET",
        "/admin/inventory",
        roles=ROLE,
        summary="Wards, beds, terminals",
        response=InventoryOut,
        tags=TAGS,
    )
    async def admin_inventory(call: ApiCall) -> InventoryOut:
        db = call.request.app[k.DATABASE]
        async with db.sessions() as s:
            rows = await s.execute(select(Terminal.id, Terminal.last_seen))
            seen = {terminal: at for terminal, at in rows}
        grouped = {code: WardOut(code=code, name=name, beds=[]) for code, name in await wards(db)}
        for b in await beds(db):
            grouped[b.ward_code].beds.append(
                BedOut(
                    label=b.label,
                    extension=b.extension,
                    room=b.room,
                    terminal_id=b.terminal_id,
                    terminal_online=b.terminal_online,
                    terminal_last_seen=seen.get(b.terminal_id) if b.terminal_id else None,
                )
            )
        terminals = [b for w in grouped.values() for b in w.beds if b.terminal_id]
        return InventoryOut(
            wards=list(grouped.values()),
            terminals_online=sum(1 for b in terminals if b.terminal_online),
            terminals_total=len(terminals),
        )

    @api.route(
        "GET",
        "/admin/staff",
        roles=ROLE,
        summary="Staff accounts",
        response=StaffListOut,
        tags=TAGS,
    )
    async def admin_staff(call: ApiCall) -> StaffListOut:
        users = await call.request.app[k.STAFF].list_users()
        return StaffListOut(staff=[staff_out(u) for u in users])

    @api.route(
        "POST",
        "/admin/staff",
        roles=ROLE,
        summary="Create a staff account",
        body=StaffIn,
        response=StaffOut,
        status=201,
        tags=TAGS,
    )
    async def admin_add_staff(call: ApiCall) -> StaffOut:
        body = call.body(StaffIn)
        u = await call.request.app[k.STAFF].add_user(
            call.signed_in().actor,
            username=body.username,
            display_name=body.display_name,
            roles=set(body.roles),
            password=body.password,
            ward_code=body.ward_code,
            language=body.language,
            rpps=body.rpps,
        )
        return staff_out(u)

    @api.route(
        "PATCH",
        "/admin/staff/{username}",
        roles=ROLE,
        summary="Change an account's roles or switch it off (its sessions end at once)",
        body=StaffChangeIn,
        response=StaffOut,
        tags=TAGS,
        path_params=StaffPath,
    )
    async def admin_change_staff(call: ApiCall) -> StaffOut:
        body = call.body(StaffChangeIn)
        u = await call.request.app[k.STAFF].update(
            call.signed_in().actor,
            call.params(StaffPath).username,
            roles=set(body.roles) if body.roles is not None else None,
            active=body.active,
        )
        return staff_out(u)

    @api.route(
        "GET",
        "/admin/lines",
        roles=ROLE,
        summary="The DID pool and bed lines",
        response=LinesOut,
        tags=TAGS,
    )
    async def admin_lines(call: ApiCall) -> LinesOut:
        async with call.request.app[k.DATABASE].sessions() as s:
            rows = (
                await s.execute(
                    select(Did, Bed.label)
                    .outerjoin(Stay, Stay.id == Did.stay_id)
                    .outerjoin(Bed, Bed.id == Stay.bed_id)
                    .order_by(Did.number)
                )
            ).all()
            dids = [
                DidOut(
                    number=d.number,
                    state=d.state,
                    bed=label if d.state == "assigned" else None,
                    quarantine_until=d.quarantine_until,
                )
                for d, label in rows
            ]
        count = {s: sum(1 for d in dids if d.state == s) for s in ("free", "assigned")}
        return LinesOut(
            dids=dids,
            free=count["free"],
            assigned=count["assigned"],
            quarantined=len(dids) - count["free"] - count["assigned"],
        )

    @api.route(
        "GET",
        "/admin/adt",
        roles=ROLE,
        summary="ADT messages by status",
        query=AdtQuery,
        response=AdtListOut,
        tags=TAGS,
    )
    async def admin_adt(call: ApiCall) -> AdtListOut:
        feed = call.request.app.get(k.ADT_FEED)
        if feed is None:
            return AdtListOut(messages=[])
        q = call.query(AdtQuery)
        found = await feed.messages(q.status, q.limit)
        return AdtListOut(
            messages=[AdtMessageOut.model_validate(m, from_attributes=True) for m in found]
        )

    @api.route(
        "POST",
        "/admin/adt/{message_id}/replay",
        roles=ROLE,
        path_params=MessagePath,
        summary="Apply a refused ADT message again",
        response=ReplayOut,
        tags=TAGS,
    )
    async def admin_adt_replay(call: ApiCall) -> ReplayOut:
        feed = call.request.app.get(k.ADT_FEED)
        if feed is None:
            raise WebError("admin.no_adt", "no ADT feed is configured on this server")
        message_id = call.params(MessagePath).message_id
        result = await feed.replay(message_id, call.signed_in().actor)
        return ReplayOut.model_validate(result, from_attributes=True)

    @api.route(
        "GET",
        "/admin/ehr/identity-alerts",
        roles=ROLE,
        summary="Stays whose EHR identity is to be checked (nothing clinical shown at the bed)",
        response=IdentityAlertsOut,
        tags=TAGS,
    )
    async def admin_identity_alerts(call: ApiCall) -> IdentityAlertsOut:
        record = call.request.app.get(k.CLINICAL_RECORD)
        alerts = record.identity_alerts() if record is not None else []
        return IdentityAlertsOut(
            alerts=[IdentityAlertOut.model_validate(a, from_attributes=True) for a in alerts]
        )

    @api.route(
        "GET",
        "/admin/outbox",
        roles=ROLE,
        summary="Bedside writes to the EHR",
        response=OutboxOut,
        tags=TAGS,
    )
    async def admin_outbox(call: ApiCall) -> OutboxOut:
        record = call.request.app.get(k.CLINICAL_RECORD)
        if record is None:
            return OutboxOut(configured=False, items=[])
        try:
            items = await record.outbox_state()
        except WardlineError as exc:
            if exc.error_id == "ehr.not_configured":
                return OutboxOut(configured=False, items=[])
            raise
        return OutboxOut(
            configured=True,
            items=[OutboxItemOut.model_validate(i, from_attributes=True) for i in items],
        )

    @api.route(
        "POST",
        "/admin/outbox/{business_id}/send-again",
        roles=ROLE,
        path_params=WritePath,
        summary="Queue again a write the EHR refused, once the cause is mended in the EHR",
        response=OutboxItemOut,
        tags=TAGS,
    )
    async def admin_outbox_send_again(call: ApiCall) -> OutboxItemOut:
        record = _clinical_record(call)
        business_id = call.params(WritePath).business_id
        item = await record.send_write_again(business_id, call.signed_in().actor)
        return OutboxItemOut.model_validate(item, from_attributes=True)

    @api.route(
        "POST",
        "/admin/outbox/{business_id}/close",
        roles=ROLE,
        path_params=WritePath,
        body=CloseWriteIn,
        summary="Close by hand a write the EHR refused (entered there by other means), "
        "with the reason in words",
        response=OutboxItemOut,
        tags=TAGS,
    )
    async def admin_outbox_close(call: ApiCall) -> OutboxItemOut:
        record = _clinical_record(call)
        business_id = call.params(WritePath).business_id
        note = call.body(CloseWriteIn).note
        item = await record.close_write(business_id, call.signed_in().actor, note)
        return OutboxItemOut.model_validate(item, from_attributes=True)

    @api.route(
        "GET",
        "/admin/audit",
        roles=ROLE,
        summary="The newest audit rows",
        query=AuditQuery,
        response=AuditOut,
        tags=TAGS,
    )
    async def admin_audit(call: ApiCall) -> AuditOut:
        q = call.query(AuditQuery)
        stmt = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(q.limit)
        if q.action:
            stmt = stmt.where(AuditEvent.action == q.action)
        async with call.request.app[k.DATABASE].sessions() as s:
            rows = list(await s.scalars(stmt))
        return AuditOut(rows=[AuditRowOut.model_validate(r, from_attributes=True) for r in rows])

    @api.route(
        "GET",
        "/admin/audit/verify",
        roles=ROLE,
        summary="Verify the audit chain",
        response=ChainOut,
        tags=TAGS,
    )
    async def admin_audit_verify(call: ApiCall) -> ChainOut:
        app = call.request.app
        report = await verify(
            app[k.DATABASE], app[k.AUDIT].key, app[k.SETTINGS].effective_audit_checkpoint_file
        )
        return ChainOut(
            rows=report.rows, ok=report.ok, broken_at=report.broken_at, reason=report.reason
        )


def _clinical_record(call: ApiCall) -> ClinicalRecordPort:
    record = call.request.app.get(k.CLINICAL_RECORD)
    if record is None:
        raise WebError("admin.no_ehr", "no FHIR server is configured on this server")
    return record
