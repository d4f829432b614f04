// The nurse at the bed (the TV's "Staff" view): badge + PIN, banner, today's schedule,
// administrations (five rights checked by the server), vital signs.
// Her session ends when she leaves: sign-out, Back, Home, a tile, idle time, the page hidden.
// The server ends it too (the patient's side of the TV signs her out whatever this page says);
// here the clinical content leaves the page at once and the TV returns to the patient's home.
import { ApiError, announce, reach, t } from "./wardline.js";
import { clearOrders, renderOrders } from "./nurse_orders.js";

const body = document.body;
const idleMs = Number(body.dataset.idle) * 1000;
const badgeForm = document.getElementById("badge-form");
const panel = document.getElementById("nurse-panel");
const adminForm = document.getElementById("admin-form");
let idleTimer = null;
let lastPresence = 0;
let chosen = null;
const recorded = new Map(); // business id -> what was recorded, until the EHR has it

async function call(method, path, data, keepalive = false) {
  // Like wardline.js's api(), without its redirect to /signin: the TV keeps its own session.
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = document.querySelector('meta[name="csrf-token"]').content;
  if (data !== undefined) headers["Content-Type"] = "application/json";
  const res = await reach(`/api/v1${path}`, {
    method, headers, credentials: "same-origin", body: data === undefined ? undefined : JSON.stringify(data),
    keepalive, // a sign-out sent as the page goes away still reaches the server
  });
  if (res.status === 204) return null;
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

function clearResult(id) {
  const box = document.getElementById(id);
  box.textContent = "";
  delete box.dataset.kind;
  delete box.dataset.error;
}

function showResult(id, text, kind, error) {
  const box = document.getElementById(id);
  box.textContent = text;
  box.dataset.kind = kind;
  if (error) box.dataset.error = error;
  else delete box.dataset.error;
  box.scrollIntoView({ block: "nearest" });
}

/** Nothing of the nurse's stays on the page: the clinical content, her messages, her forms. */
function signedOut() {
  clearTimeout(idleTimer);
  idleTimer = null;
  chosen = null;
  panel.hidden = true;
  badgeForm.hidden = false;
  adminForm.hidden = true;
  body.dataset.nurse = "out";
  recorded.clear();
  for (const id of ["writes", "banner", "schedule", "nurse-name", "admin-title"]) {
    document.getElementById(id).textContent = "";
  }
  clearOrders();
  for (const form of [badgeForm, adminForm, document.getElementById("vitals-form")]) form.reset();
  for (const id of ["badge-result", "admin-result", "vitals-result"]) clearResult(id);
  document.dispatchEvent(new CustomEvent("tv:forget", { detail: { view: "staff" } }));
}

/** She is gone (idle, or the server says so): the TV returns to the patient's home. */
function goneHome(by) {
  const wasIn = body.dataset.nurse === "in";
  signedOut();
  if (body.dataset.view === "staff") {
    document.dispatchEvent(new CustomEvent("tv:go", { detail: { view: "home", by } }));
  }
  if (wasIn) announce(t("Signed out"));
}

async function leave(by) {
  if (body.dataset.nurse !== "in") return;
  signedOut();
  await call("POST", "/tv/nurse/signout", { by }, true).catch(() => {});
}

function touch() {
  if (body.dataset.nurse !== "in") return;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(async () => {
    await leave("idle");
    goneHome("idle");
  }, idleMs);
  // Her keys count on the server too (at most a few times per idle period).
  const now = Date.now();
  if (now - lastPresence > Math.min(30000, idleMs / 3)) {
    lastPresence = now;
    call("POST", "/tv/nurse/presence").catch((err) => {
      if (err.id === "bedside.nurse_signed_out") goneHome("idle");
    });
  }
}
for (const type of ["keydown", "pointerdown"]) document.addEventListener(type, touch, true);

// Leaving the staff view signs her out: Back, Home, a tile of the patient's.
document.addEventListener("tv:view", (ev) => {
  const { view, from, by } = ev.detail;
  if (from === "staff" && view !== "staff") {
    const wasIn = body.dataset.nurse === "in";
    leave(by === "back" || by === "home" ? by : "patient");
    if (wasIn) announce(t("Signed out"));
  }
  if (view === "staff" && from !== "staff") signedOut();
});
// A page put away (reload, history, another address) keeps nothing of hers, even in the
// browser's back-forward cache; brought back from it, the page loads again from the server.
window.addEventListener("pagehide", () => { if (body.dataset.nurse === "in") leave("page"); signedOut(); });
window.addEventListener("pageshow", (ev) => { if (ev.persisted) location.reload(); });

function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }
// Every clinical time comes written by the server in the ward's zone (due_local...): shown
// as it is, never converted here (the terminal's zone may be anything).

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
  const had = document.activeElement?.closest?.("#schedule") ? document.activeElement.dataset : null;
  tbody.textContent = "";
  for (const dose of record.schedule) {
    const tr = document.createElement("tr");
    tr.dataset.state = dose.state;
    tr.dataset.order = dose.order_id;
    const pick = document.createElement("button");
    pick.className = "dose";
    pick.textContent = dose.due_local;
    pick.dataset.due = dose.due_at;
    pick.dataset.order = dose.order_id;
    pick.addEventListener("click", () => choose(dose));
    const first = document.createElement("td");
    first.append(pick);
    const state = cell(t(dose.state) + (dose.recorded_local ? ` ${dose.recorded_local}` : ""));
    tr.append(first, cell(dose.medication), cell(dose.dose), state);
    tbody.append(tr);
    // Drawn again, the dose that had the focus keeps it: the remote does not lose its place.
    if (had && had.order === dose.order_id && had.due === dose.due_at) pick.focus();
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
    const what = { administration: t("Medication administration"), vitals: t("Vital signs") }[kind] ?? kind;
    li.textContent = `${what} · ${labels[state]}${error ? ` (${error})` : ""}`;
    writes.append(li);
  }
  const pending = [...recorded.keys()].some((id) => outstanding.has(id));
  if (pending && body.dataset.nurse === "in") setTimeout(refresh, 1000);
}

let reason = "";
for (const button of document.querySelectorAll("button.reason")) {
  button.addEventListener("click", () => {
    reason = reason === button.dataset.reason ? "" : button.dataset.reason;
    for (const other of document.querySelectorAll("button.reason")) {
      other.setAttribute("aria-pressed", String(other.dataset.reason === reason));
    }
  });
}

/** The remote back on a dose of the schedule (after its form closed). */
function focusDose(dose) {
  if (dose && dose.due_at == null) {
    const give = document.querySelector(`#orders-other li[data-order="${CSS.escape(dose.order_id)}"] button.give-prn`);
    if (give) { give.focus(); return; }
  }
  const buttons = [...document.querySelectorAll("#schedule button.dose")];
  const same = buttons.find((b) => b.dataset.order === dose?.order_id && b.dataset.due === dose?.due_at);
  (same ?? buttons[0])?.focus();
}

function choose(dose) {
  chosen = dose;
  adminForm.hidden = false;
  document.getElementById("admin-title").textContent = `${dose.medication} · ${dose.due_local}`;
  const structured = Boolean(dose.dose_ordered);
  document.getElementById("order-dose").textContent = structured && dose.dose_ordered !== dose.dose
    ? `${dose.dose} (${dose.dose_ordered})` : dose.dose;
  document.getElementById("dose-value").value = dose.dose_value == null ? "" : String(Number(dose.dose_value));
  document.getElementById("dose-unit").value = dose.dose_unit ?? "";
  document.getElementById("confirm-row").hidden = structured;
  document.getElementById("route").value = dose.route ?? "";
  for (const id of ["wristband", "med-code", "reason-text", "late-reason"]) document.getElementById(id).value = "";
  for (const id of ["dose-confirmed", "partial"]) document.getElementById(id).checked = false;
  reason = "";
  for (const button of document.querySelectorAll("button.reason")) button.setAttribute("aria-pressed", "false");
  clearResult("admin-result");
  document.getElementById("wristband").focus();
}

/** An "if needed" order given now: the same form and checks, with no due time. */
function giveIfNeeded(order) {
  choose({ ...order, due_at: null, due_local: t("if needed") });
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
    renderOrders(await call("GET", "/tv/nurse/orders"), giveIfNeeded);
  } catch (err) {
    if (err.id === "bedside.nurse_signed_out") goneHome("idle");
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
    clearResult("badge-result"); // no old "wrong PIN" once she is in
    announce("");
    document.getElementById("nurse-name").textContent = nurse.display_name;
    badgeForm.hidden = true;
    panel.hidden = false;
    body.dataset.nurse = "in";
    touch();
    await refresh();
    document.querySelector("#schedule button")?.focus();
  } catch (err) {
    showResult("badge-result", err.message, "error", err.id);
  } finally {
    pin.value = "";
    badge.value = "";
  }
});

document.getElementById("nurse-signout").addEventListener("click", async () => {
  await leave("signout");
  document.dispatchEvent(new CustomEvent("tv:go", { detail: { view: "home", by: "signout" } }));
  announce(t("Signed out"));
});

// One request at a time: both buttons are disabled while it is in flight (a double click,
// or Enter pressed twice, sends one request; the server refuses a second record anyway).
let inFlight = false;
async function record(given) {
  if (!chosen || inFlight) return;
  inFlight = true;
  const buttons = [document.getElementById("record-given"), document.getElementById("record-not-given")];
  for (const b of buttons) b.disabled = true;
  adminForm.setAttribute("aria-busy", "true");
  const value = (id) => document.getElementById(id).value;
  const amount = value("dose-value").trim().replace(",", ".");
  try {
    const receipt = await call("POST", "/tv/nurse/administrations", {
      order_id: chosen.order_id, due_at: chosen.due_at, given, wristband: value("wristband"),
      medication_code: value("med-code"), dose_value: given && amount ? amount : null,
      dose_unit: given ? value("dose-unit").trim() : "", dose_confirmed: document.getElementById("dose-confirmed").checked,
      partial: given && document.getElementById("partial").checked, route: value("route"), reason,
      reason_text: value("reason-text"), late_reason: value("late-reason"),
    });
    for (const id of receipt.business_ids) recorded.set(id, chosen.medication);
    const done = chosen;
    adminForm.hidden = true; // the confirmation is outside the form: it stays in sight
    showResult("admin-result", t("Recorded: waiting for the EHR"), "ok");
    await refresh();
    focusDose(done);
  } catch (err) {
    if (err.id === "bedside.nurse_signed_out") goneHome("idle");
    else showResult("admin-result", err.message, "error", err.id);
  } finally {
    inFlight = false;
    for (const b of buttons) b.disabled = false;
    adminForm.removeAttribute("aria-busy");
  }
}

adminForm.addEventListener("submit", (ev) => { ev.preventDefault(); record(true); });
document.getElementById("record-not-given").addEventListener("click", () => record(false));

document.getElementById("vitals-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const values = {};
  for (const input of ev.target.querySelectorAll("input")) {
    if (input.value.trim()) values[input.name] = Number(input.value.replace(",", "."));
  }
  try {
    const receipt = await call("POST", "/tv/nurse/vitals", { values });
    for (const id of receipt.business_ids) recorded.set(id, "vitals");
    ev.target.reset();
    showResult("vitals-result", t("Recorded: waiting for the EHR"), "ok");
    await refresh();
  } catch (err) {
    if (err.id === "bedside.nurse_signed_out") goneHome("idle");
    else showResult("vitals-result", err.message, "error", err.id);
  }
});

signedOut();
