// The switchboard console: board state from the live feed, actions through the API, keyboard.
import { announce, api, connectLive, el, t } from "./wardline.js";

const state = { calls: new Map(), selected: null, me: document.getElementById("my-phone").dataset.extension };
const $ = (id) => document.getElementById(id);

function since(iso) {
  if (!iso) return "";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function setBoard(board) {
  state.calls = new Map(board.calls.map((c) => [c.call_id, c]));
  if (board.phones) for (const [ext, st] of Object.entries(board.phones)) setLamp(ext, st);
  if (state.selected && !state.calls.has(state.selected)) state.selected = null;
  render();
}

function setLamp(ext, st) {
  for (const lamp of document.querySelectorAll(`.lamp[data-ext="${CSS.escape(ext)}"]`)) lamp.dataset.state = st;
}

function mine() {
  return [...state.calls.values()].find((c) => c.handled_by === state.me && c.phase !== "queued");
}

function current() {
  return (state.selected && state.calls.get(state.selected)) || mine() || null;
}

function select(callId) {
  state.selected = callId;
  render();
}

function render() {
  const queued = [...state.calls.values()].filter((c) => c.phase === "queued")
    .sort((a, b) => Date.parse(a.queued_since || a.started_at) - Date.parse(b.queued_since || b.started_at));
  const live = [...state.calls.values()].filter((c) => c.phase !== "queued" && c.phase !== "parked");
  const parked = [...state.calls.values()].filter((c) => c.phase === "parked");
  $("queue").tBodies[0].replaceChildren(...queued.map((c) => el("tr",
    { dataset: { call: c.call_id, phase: c.phase }, "aria-selected": String(c.call_id === state.selected) },
    el("td", {}, c.caller_name ? `${c.caller_name} (${c.caller_number})` : c.caller_number),
    el("td", { class: "timer", dataset: { since: c.queued_since || c.started_at } }, since(c.queued_since || c.started_at)),
    el("td", {}, el("button", { type: "button", onclick: () => answer(c.call_id) }, t("Answer"))))));
  if (!queued.length) $("queue").tBodies[0].append(el("tr", {}, el("td", { colspan: "3" }, t("No call is waiting."))));
  const chosen = current();
  $("calls").tBodies[0].replaceChildren(...live.map((c) => el("tr",
    { dataset: { call: c.call_id, phase: c.phase }, tabindex: "0", "aria-selected": String(chosen?.call_id === c.call_id),
      onclick: () => select(c.call_id), onkeydown: (e) => { if (e.key === "Enter") select(c.call_id); } },
    el("td", {}, c.caller_name ? `${c.caller_name} (${c.caller_number})` : c.caller_number),
    el("td", {}, c.extensions.filter((x) => x !== "trunk").join(" → ")),
    el("td", {}, t(c.phase)),
    el("td", { class: "timer", dataset: { since: c.answered_at || c.started_at } }, since(c.answered_at || c.started_at)),
    el("td", {}, c.handled_by ?? ""))));
  $("parked").replaceChildren(...parked.map((c) => el("li", { dataset: { call: c.call_id } },
    `${c.parked_space} · ${c.caller_number} `,
    el("button", { type: "button", onclick: () => pickup(c.parked_space) }, t("Pick up")))));
}

async function refresh() {
  setBoard(await api("GET", "/console/board"));
}

let pending = null;
function refreshSoon() {
  if (pending) return;
  pending = setTimeout(async () => { pending = null; try { await refresh(); } catch (e) { announce(t(e.message), "error"); } }, 150);
}

async function act(fn, done) {
  try {
    const result = await fn();
    if (done) announce(done(result));
    await refresh();
  } catch (e) {
    announce(t(e.message), "error");
  }
}

function answer(callId) {
  return act(() => api("POST", callId ? `/calls/${encodeURIComponent(callId)}/answer` : "/calls/answer-next"),
    () => t("Answered on my phone"));
}

function needCall() {
  const c = current();
  if (!c) announce(t("Select a call first."), "error");
  return c;
}

function transfer(to, kind) {
  const c = needCall();
  if (!c) return;
  return act(() => api("POST", `/calls/${encodeURIComponent(c.call_id)}/transfer`, { to, kind }),
    () => t("Transferred to {to}", { to }));
}

function park() {
  const c = needCall();
  if (c) act(() => api("POST", `/calls/${encodeURIComponent(c.call_id)}/park`), (r) => t("Parked on {space}", { space: r.space }));
}

function hangup() {
  const c = needCall();
  if (c) act(() => api("POST", `/calls/${encodeURIComponent(c.call_id)}/hangup`), () => t("Hung up"));
}

function pickup(space) {
  return act(() => api("POST", `/parking/${encodeURIComponent(space)}/pickup`), () => t("Answered on my phone"));
}

function dial(to) {
  return act(() => api("POST", "/calls/dial", { to }), () => t("Call {to}", { to }));
}

let searchTimer = null;
async function search(q) {
  if (q.trim().length < 2) { $("directory").replaceChildren(); return; }
  try {
    const out = await api("POST", "/directory/search", { q });
    $("directory").replaceChildren(...(out.entries.length ? out.entries.map((e) => el("li", { dataset: { kind: e.kind } },
      el("span", { class: "pill" }, t(e.kind)), ` ${e.label} · ${e.bed ?? e.ward_code ?? ""} · ${e.extension} `,
      el("button", { type: "button", onclick: () => dial(e.extension) }, t("Call")),
      el("button", { type: "button", onclick: () => { $("transfer-to").value = e.extension; transfer(e.extension, $("transfer-kind").value); } }, t("Transfer")))) :
      [el("li", {}, t("Nothing found."))]));
  } catch (e) { announce(t(e.message), "error"); }
}

async function history(form) {
  const params = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (v) params.set(k, k === "since" ? new Date(v).toISOString() : v);
  try {
    const out = await api("GET", `/calls/history?${params}`);
    $("history").tBodies[0].replaceChildren(...out.records.map((r) => el("tr", {},
      el("td", {}, new Date(r.started_at).toLocaleString()), el("td", {}, r.caller_number),
      el("td", {}, r.extensions.join(" → ") || r.called_extension), el("td", {}, t(r.disposition)))));
  } catch (e) { announce(t(e.message), "error"); }
}

function moveSelection(step) {
  const rows = [...document.querySelectorAll("#queue tr[data-call], #calls tr[data-call]")].map((r) => r.dataset.call);
  if (!rows.length) return;
  const at = rows.indexOf(current()?.call_id ?? state.selected);
  select(rows[(at + step + rows.length) % rows.length]);
}

function typing(target) {
  return target instanceof HTMLInputElement || target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement;
}

document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (typing(e.target)) {
    if (e.key === "Escape") e.target.blur();
    return;
  }
  const key = e.key.toLowerCase();
  const actions = {
    a: () => { const c = state.selected && state.calls.get(state.selected); answer(c && c.phase === "queued" ? c.call_id : null); },
    t: () => $("transfer-to").focus(),
    p: park,
    h: hangup,
    "/": () => $("search").focus(),
    d: () => $("dial-to").focus(),
    arrowdown: () => moveSelection(1),
    arrowup: () => moveSelection(-1),
  };
  if (actions[key]) { e.preventDefault(); actions[key](); }
});

$("answer-next").addEventListener("click", () => answer(null));
$("transfer-form").addEventListener("submit", (e) => { e.preventDefault(); transfer($("transfer-to").value, $("transfer-kind").value); });
$("park").addEventListener("click", park);
$("hangup").addEventListener("click", hangup);
$("dial-form").addEventListener("submit", (e) => { e.preventDefault(); dial($("dial-to").value); });
$("search").addEventListener("input", (e) => { clearTimeout(searchTimer); searchTimer = setTimeout(() => search(e.target.value), 150); });
$("history-form").addEventListener("submit", (e) => { e.preventDefault(); history(e.target); });
setInterval(() => { for (const cell of document.querySelectorAll(".timer")) cell.textContent = since(cell.dataset.since); }, 1000);

const nurseCalls = new Map();
function acknowledgeNurseCall(callId) {
  return act(() => api("POST", `/nurse-calls/${encodeURIComponent(callId)}/acknowledge`), () => t("Acknowledged"));
}
function renderNurseCalls() {
  const items = [...nurseCalls.values()].map((c) => el("li", { dataset: { nurseCall: String(c.call_id), state: c.state, ring: c.ring ?? "" } },
    `${c.bed_label} · ${c.ward_code} · ${t(c.state)}${c.level ? ` · ${t("level {level}", { level: c.level })}` : ""}`,
    c.ring && c.ring.startsWith("failed") ? el("strong", { class: "ring-failed", role: "alert" }, ` · ${t("the station could not be rung")}`) : "",
    c.state === "open" ? el("button", { type: "button", class: "acknowledge", onclick: () => acknowledgeNurseCall(c.call_id) }, t("Acknowledge")) : ""));
  $("nurse-calls").replaceChildren(...(items.length ? items : [el("li", {}, t("No nurse call."))]));
}
function nurseCallEvent(type, data) {
  const known = nurseCalls.get(data.call_id) ?? { call_id: data.call_id, bed_label: data.bed_label, ward_code: data.ward_code, state: "open", level: 0 };
  if (type === "NurseCallCleared") nurseCalls.delete(data.call_id);
  else {
    if (type === "NurseCallEscalated") known.level = data.level;
    if (type === "NurseCallAcknowledged") { known.state = "acknowledged"; known.ring = null; }
    if (type === "NurseCallRingFailed" && known.state === "open") known.ring = `failed:${data.reason}`;
    if (type === "NurseCallRinging" && known.state === "open") known.ring = "ringing";
    nurseCalls.set(data.call_id, known);
  }
  renderNurseCalls();
}

connectLive(["calls", "phones", "nurse_calls"], {
  onSnapshot: (data) => {
    nurseCalls.clear();
    for (const c of data.nurse_calls ?? []) nurseCalls.set(c.call_id, c);
    renderNurseCalls();
    if (data.phones) for (const [ext, st] of Object.entries(data.phones)) setLamp(ext, st);
    refreshSoon();
  },
  onEvent: (topic, type, data) => {
    if (type === "PhoneStateChanged") setLamp(data.extension, data.state);
    else if (topic === "nurse_calls") nurseCallEvent(type, data);
    else refreshSoon();
  },
  onState: (s) => {
    $("live-state").dataset.state = s;
    if (s === "down") announce(t("Live feed lost: reconnecting…"), "error");
  },
});
history($("history-form"));
