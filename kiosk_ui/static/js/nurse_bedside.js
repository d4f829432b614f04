// The nurse at the bed (the TV's "Staff" view): badge + PIN, banner, today's schedule,
// administrations (five rights checked by the server), vital signs, idle sign-out.
import { ApiError, announce, t } from "./wardline.js";
import { clearOrders, renderOrders } from "./nurse_orders.js";

const body = document.body;
const idleMs = Number(body.dataset.idle) * 1000;
const badgeForm = document.getElementById("badge-form");
const panel = document.getElementById("nurse-panel");
const adminForm = document.getElementById("admin-form");
let idleTimer = null;
let chosen = null;
const recorded = new Map(); // business id -> what was recorded, until the EHR has it

async function call(method, path, data) {
  // Like wardline.js's api(), without its redirect to /signin: the TV keeps its own session.
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = document.querySelector('meta[name="csrf-token"]').content;
  if (data !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`/api/v1${path}`, {
    method, headers, credentials: "same-origin", body: data === undefined ? undefined : JSON.stringify(data),
  });
  if (res.status === 204) return null;
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

function signedOut(message) {
  clearTimeout(idleTimer);
  idleTimer = null;
  panel.hidden = true;
  badgeForm.hidden = false;
  adminForm.hidden = true;
  body.dataset.nurse = "out";
  recorded.clear();
  document.getElementById("writes").textContent = "";
  document.getElementById("banner").textContent = "";
  document.getElementById("schedule").textContent = "";
  clearOrders();
  if (message) announce(message);
}

function touch() {
  if (body.dataset.nurse !== "in") return;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(async () => {
    await call("POST", "/tv/nurse/signout").catch(() => {});
    signedOut(t("Signed out"));
  }, idleMs);
}
for (const type of ["keydown", "pointerdown"]) document.addEventListener(type, touch, true);

function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }
function time(iso) { return new Date(iso).toLocaleTimeString(body.dataset.lang, { hour: "2-digit", minute: "2-digit" }); }

function render(record) {
  const b = record.banner;
  const banner = document.getElementById("banner");
  banner.textContent = "";
  const line = document.createElement("p");
  line.className = "who";
  const ids = b.identifiers.map(([label, value]) => `${label} ${value}`).join(" · ");
  line.textContent = `${b.family_name} ${b.given_name} · ${b.birth_date ?? ""} · ${ids}`;
  banner.append(line);
  const allergies = document.createElement("p");
  allergies.className = "allergies";
  allergies.textContent = b.allergies.length ? `⚠ ${b.allergies.join(", ")}` : "—";
  banner.append(allergies);
  if (b.stale) {
    const stale = document.createElement("p");
    stale.className = "stale";
    stale.textContent = t("The record may be out of date");
    banner.append(stale);
  }
  banner.dataset.stale = String(b.stale);
  const tbody = document.getElementById("schedule");
  tbody.textContent = "";
  for (const dose of record.schedule) {
    const tr = document.createElement("tr");
    tr.dataset.state = dose.state;
    tr.dataset.order = dose.order_id;
    const pick = document.createElement("button");
    pick.className = "dose";
    pick.textContent = time(dose.due_at);
    pick.addEventListener("click", () => choose(dose));
    const first = document.createElement("td");
    first.append(pick);
    tr.append(first, cell(dose.medication), cell(dose.dose), cell(t(dose.state)));
    tbody.append(tr);
  }
  const writes = document.getElementById("writes");
  writes.textContent = "";
  const labels = { pending: t("Recorded: waiting for the EHR"), delivered: t("Delivered to the EHR"),
                  failed: t("Refused by the EHR") };
  const outstanding = new Set(record.writes.map((w) => w.business_id));
  const rows = record.writes.map((w) => [w.business_id, w.kind, w.state, w.last_error]);
  // The outbox lists writes not delivered yet: ours that left it were delivered.
  for (const [id, kind] of recorded) if (!outstanding.has(id)) rows.push([id, kind, "delivered", null]);
  for (const [id, kind, state, error] of rows) {
    const li = document.createElement("li");
    li.dataset.state = state;
    li.dataset.id = id;
    li.textContent = `${kind} · ${labels[state]}${error ? ` (${error})` : ""}`;
    writes.append(li);
  }
  const pending = [...recorded.keys()].some((id) => outstanding.has(id));
  if (pending && body.dataset.nurse === "in") setTimeout(refresh, 1000);
}

function choose(dose) {
  chosen = dose;
  adminForm.hidden = false;
  document.getElementById("admin-title").textContent = `${dose.medication} · ${time(dose.due_at)}`;
  document.getElementById("dose").value = dose.dose;
  document.getElementById("route").value = dose.route ?? "";
  for (const id of ["wristband", "med-code", "reason"]) document.getElementById(id).value = "";
  document.getElementById("admin-result").textContent = "";
  document.getElementById("wristband").focus();
}

function identityToBeChecked() {
  // The EHR record does not match the admission: nothing clinical is shown (server's rule).
  const banner = document.getElementById("banner");
  banner.textContent = "";
  const line = document.createElement("p");
  line.className = "identity-check";
  line.setAttribute("role", "alert");
  line.textContent = t("Identity to be checked: nothing clinical is shown or recorded for this patient. Ask the admissions office to check the identity in the EHR.");
  banner.append(line);
  document.getElementById("schedule").textContent = "";
  adminForm.hidden = true;
  document.getElementById("vitals-form").hidden = true;
  clearOrders();
}

export async function refresh() {
  try {
    const record = await call("GET", "/tv/nurse/record");
    document.getElementById("vitals-form").hidden = false;
    render(record);
    renderOrders(await call("GET", "/tv/nurse/orders"));
  } catch (err) {
    if (err.id === "bedside.nurse_signed_out") signedOut(err.message);
    else if (err.id === "ehr.identity_to_be_checked") identityToBeChecked();
    else announce(err.message, "error");
  }
}

badgeForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const badge = document.getElementById("badge");
  const pin = document.getElementById("pin");
  try {
    const nurse = await call("POST", "/tv/nurse/signin", { badge: badge.value, pin: pin.value });
    document.getElementById("nurse-name").textContent = nurse.display_name;
    badgeForm.hidden = true;
    panel.hidden = false;
    body.dataset.nurse = "in";
    touch();
    await refresh();
    document.querySelector("#schedule button")?.focus();
  } catch (err) {
    announce(err.message, "error");
  } finally {
    pin.value = "";
    badge.value = "";
  }
});

document.getElementById("nurse-signout").addEventListener("click", async () => {
  await call("POST", "/tv/nurse/signout").catch(() => {});
  signedOut(t("Signed out"));
});

adminForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (!chosen) return;
  const result = document.getElementById("admin-result");
  const value = (id) => document.getElementById(id).value;
  try {
    const receipt = await call("POST", "/tv/nurse/administrations", {
      order_id: chosen.order_id, due_at: chosen.due_at, given: true, wristband: value("wristband"),
      medication_code: value("med-code"), dose: value("dose"), route: value("route"), reason: value("reason"),
    });
    for (const id of receipt.business_ids) recorded.set(id, chosen.medication);
    result.textContent = t("Recorded: waiting for the EHR");
    result.dataset.kind = "ok";
    adminForm.hidden = true;
    await refresh();
  } catch (err) {
    result.textContent = err.message;
    result.dataset.kind = "error";
    result.dataset.error = err.id;
    if (err.id === "bedside.nurse_signed_out") signedOut(err.message);
  }
});

document.getElementById("vitals-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const values = {};
  for (const input of ev.target.querySelectorAll("input")) {
    if (input.value.trim()) values[input.name] = Number(input.value.replace(",", "."));
  }
  const result = document.getElementById("vitals-result");
  try {
    const receipt = await call("POST", "/tv/nurse/vitals", { values });
    for (const id of receipt.business_ids) recorded.set(id, "vitals");
    result.textContent = t("Recorded: waiting for the EHR");
    result.dataset.kind = "ok";
    ev.target.reset();
    await refresh();
  } catch (err) {
    result.textContent = err.message;
    result.dataset.kind = "error";
  }
});

signedOut();
