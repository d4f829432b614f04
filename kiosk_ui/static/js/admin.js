// The admin page: tables filled from /api/v1/admin/*, staff creation, ADT replay, audit check.
import { announce, api, el, t } from "./wardline.js";

const $ = (id) => document.getElementById(id);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");
const fill = (id, rows) => $(id).tBodies[0].replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "5" }, t("Nothing to show.")))]));
const guard = (fn) => async (...args) => { try { await fn(...args); } catch (e) { announce(t(e.message), "error"); } };

const inventory = guard(async () => {
  const inv = await api("GET", "/admin/inventory");
  $("terminal-summary").textContent = `${inv.terminals_online} / ${inv.terminals_total} ${t("online")}`;
  fill("inventory-table", inv.wards.flatMap((w) => w.beds.map((b) => el("tr", { dataset: { bed: b.label } },
    el("td", {}, w.code), el("td", {}, b.label), el("td", {}, b.extension), el("td", {}, b.terminal_id ?? ""),
    el("td", { dataset: { presence: b.terminal_id ? (b.terminal_online ? "online" : "offline") : "none" } },
      b.terminal_id ? t(b.terminal_online ? "online" : "offline") : t("no terminal"))))));
});

const staff = guard(async () => {
  const out = await api("GET", "/admin/staff");
  fill("staff-table", out.staff.map((u) => el("tr", { dataset: { user: u.username } },
    el("td", {}, u.username), el("td", {}, u.display_name), el("td", {}, u.roles.join(", ")), el("td", {}, u.ward_code ?? ""), el("td", {}, u.rpps ?? ""))));
});

const lines = guard(async () => {
  const out = await api("GET", "/admin/lines");
  $("did-summary").textContent = `${out.free} ${t("free")} · ${out.assigned} ${t("assigned")} · ${out.quarantined} ${t("quarantined")}`;
  fill("did-table", out.dids.filter((d) => d.state !== "free").map((d) => el("tr", {},
    el("td", {}, d.number), el("td", {}, t(d.state)), el("td", {}, d.bed ?? ""))));
});

const adt = guard(async () => {
  const status = $("adt-status").value;
  const out = await api("GET", `/admin/adt?status=${encodeURIComponent(status)}`);
  fill("adt-table", out.messages.map((m) => el("tr", { dataset: { message: String(m.message_id), status: m.status } },
    el("td", {}, when(m.received_at)), el("td", {}, m.message_type), el("td", {}, t(m.status)), el("td", {}, m.error_id ?? ""),
    el("td", {}, m.status === "error" ? el("button", { type: "button", onclick: () => replay(m.message_id) }, t("Replay")) : ""))));
});

const replay = guard(async (id) => {
  const r = await api("POST", `/admin/adt/${id}/replay`);
  announce(t("Replayed: {status}", { status: t(r.status) }));
  await adt();
});

const outbox = guard(async () => {
  const out = await api("GET", "/admin/outbox");
  if (!out.configured) { fill("outbox-table", [el("tr", {}, el("td", { colspan: "4" }, t("No FHIR server is configured.")))]); return; }
  fill("outbox-table", out.items.map((i) => el("tr", { dataset: { write: i.business_id, state: i.state } },
    el("td", {}, i.kind), el("td", {}, t(i.state)), el("td", {}, String(i.attempts)), el("td", {}, i.last_error ?? ""),
    el("td", {}, i.state === "failed" ? writeActions(i.business_id) : ""))));
});

// A write the EHR refused: sent again once the cause is mended there, or closed by hand
// with the reason in words (both audited by the server).
function writeActions(id) {
  const note = el("input", { type: "text", maxlength: "400", class: "close-note", "aria-label": t("Why it is closed without the EHR"), placeholder: t("Why it is closed without the EHR") });
  return el("span", {},
    el("button", { type: "button", class: "send-again", onclick: () => sendAgain(id) }, t("Send again")), " ",
    note, " ",
    el("button", { type: "button", class: "close-write", onclick: () => closeWrite(id, note.value) }, t("Close by hand")));
}

const sendAgain = guard(async (id) => {
  await api("POST", `/admin/outbox/${encodeURIComponent(id)}/send-again`);
  announce(t("Sent again to the EHR"));
  await outbox();
});

const closeWrite = guard(async (id, note) => {
  await api("POST", `/admin/outbox/${encodeURIComponent(id)}/close`, { note });
  announce(t("Closed by hand"));
  await outbox();
});

const identityAlerts = guard(async () => {
  const out = await api("GET", "/admin/ehr/identity-alerts");
  const rows = out.alerts.map((a) => el("tr", { class: "alert" }, el("td", {}, a.visit_number), el("td", {}, a.bed ?? ""),
    el("td", {}, t(`identity.${a.reason}`)), el("td", {}, when(a.since))));
  fill("identity-alerts-table", rows.length ? rows : [el("tr", {}, el("td", { colspan: "4" }, t("None")))]);
});

const audit = guard(async () => {
  const out = await api("GET", "/admin/audit?limit=50");
  fill("audit-table", out.rows.map((r) => el("tr", {}, el("td", {}, String(r.seq)), el("td", {}, when(r.at)),
    el("td", {}, r.actor), el("td", {}, r.action), el("td", {}, `${r.subject_type} ${r.subject_id}`))));
});

$("verify").addEventListener("click", guard(async () => {
  const r = await api("GET", "/admin/audit/verify");
  const box = $("verify-result");
  box.dataset.ok = String(r.ok);
  box.textContent = r.ok ? t("The audit chain is intact ({rows} rows).", { rows: r.rows })
    : t("The audit chain is broken at row {seq}: {reason}.", { seq: r.broken_at, reason: r.reason });
}));

$("staff-form").addEventListener("submit", guard(async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const body = { username: form.get("username"), display_name: form.get("display_name"), password: form.get("password"),
    roles: form.getAll("roles"), ward_code: form.get("ward_code") || null, rpps: form.get("rpps") || null };
  const u = await api("POST", "/admin/staff", body);
  announce(t("Account {username} created", { username: u.username }));
  e.target.reset();
  await Promise.all([staff(), audit()]);
}));
$("adt-status").addEventListener("change", adt);

await Promise.all([inventory(), staff(), lines(), adt(), identityAlerts(), outbox(), audit()]);
