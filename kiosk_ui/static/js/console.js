// The switchboard console: board state from the live feed, actions through the API, keyboard.
import { announce, api, connectLive, el, t } from "./wardline.js";

const state = {
  calls: new Map(),
  selected: null, // the row chosen with the arrows or a click
  mine: sessionStorage.getItem("wl-my-call"), // the call this operator answered or dialed
  attended: null, // { call_id, to } while an attended transfer waits for complete or cancel
  confirmHangup: null, // { call_id, until } after a first H on a call not on my phone
  pbx: "up",
  me: document.getElementById("my-phone").dataset.extension,
};
const $ = (id) => document.getElementById(id);

// Refusals said in the page's language from their stable id; the PBX's own words only as detail.
const REFUSALS = {
  "pbx.unreachable": "Telephony is unavailable: nothing was sent.",
  "pbx.login_refused": "Telephony is unavailable: nothing was sent.",
  "pbx.timeout": "The PBX did not answer in time: check the call before trying again.",
  "pbx.action_failed": "The PBX refused the action.",
  "pbx.call_conflict": "another operator is already handling this call",
  "pbx.unknown_call": "this call no longer exists",
  "console.queue_empty": "no call is waiting",
  "console.no_extension": "choose your switchboard phone first",
  internal: "Something went wrong: nothing was changed.",
};

function refusal(e) {
  const known = REFUSALS[e.id];
  if (!known) return t(e.message);
  const detail = e.id === "pbx.action_failed" && e.details?.reason ? ` ${t("PBX said: {detail}", { detail: e.details.reason })}` : "";
  return t(known) + detail;
}

function setMine(callId) {
  state.mine = callId;
  if (callId) sessionStorage.setItem("wl-my-call", callId);
  else sessionStorage.removeItem("wl-my-call");
}

function onMyPhone(c) {
  return Boolean(state.me) && c.extensions.includes(state.me);
}

function since(iso) {
  if (!iso) return "";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function setBoard(board) {
  state.calls = new Map(board.calls.map((c) => [c.call_id, c]));
  if (board.phones) for (const [ext, st] of Object.entries(board.phones)) setLamp(ext, st);
  if (state.selected && !state.calls.has(state.selected)) state.selected = null;
  if (state.mine && !state.calls.has(state.mine)) setMine(null);
  if (state.attended && !state.calls.has(state.attended.call_id)) state.attended = null;
  if (!state.mine) {
    // A call counts as mine without my choosing only when it is on my phone and alone there.
    const onPhone = [...state.calls.values()].filter((c) => c.phase !== "queued" && c.phase !== "parked" && onMyPhone(c));
    if (onPhone.length === 1) setMine(onPhone[0].call_id);
  }
  setPbx(board.pbx, board.pbx_since_local);
  render();
}

function setPbx(pbx, sinceLocal) {
  state.pbx = pbx;
  const down = pbx === "down";
  document.body.classList.toggle("pbx-down", down);
  const banner = $("pbx-banner");
  banner.hidden = !down;
  banner.textContent = down ? t("Telephony unavailable since {time}: calls, lamps and timers are not live.", { time: sinceLocal }) : "";
  for (const button of document.querySelectorAll("[data-pbx-action]")) button.disabled = down;
}

function setLamp(ext, st) {
  for (const lamp of document.querySelectorAll(`.lamp[data-ext="${CSS.escape(ext)}"]`)) lamp.dataset.state = st;
}

function current() {
  return (state.selected && state.calls.get(state.selected)) || (state.mine && state.calls.get(state.mine)) || null;
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
    el("td", {}, el("button", { type: "button", "data-pbx-action": "", disabled: state.pbx === "down" || undefined, onclick: () => answer(c.call_id) }, t("Answer"))))));
  if (!queued.length) $("queue").tBodies[0].append(el("tr", {}, el("td", { colspan: "3" }, t("No call is waiting."))));
  const chosen = current();
  $("calls").tBodies[0].replaceChildren(...live.map((c) => el("tr",
    { dataset: { call: c.call_id, phase: c.phase, mine: String(c.call_id === state.mine) }, tabindex: "0",
      "aria-selected": String(chosen?.call_id === c.call_id),
      onclick: () => select(c.call_id), onkeydown: (e) => { if (e.key === "Enter") select(c.call_id); } },
    el("td", {}, c.call_id === state.mine ? el("span", { class: "pill mine" }, t("Your call")) : "",
      c.caller_name ? ` ${c.caller_name} (${c.caller_number})` : ` ${c.caller_number}`),
    el("td", {}, c.extensions.filter((x) => x !== "trunk").join(" → ")),
    el("td", {}, t(c.phase)),
    el("td", { class: "timer", dataset: { since: c.answered_at || c.started_at } }, since(c.answered_at || c.started_at)),
    el("td", {}, c.handled_by ?? ""))));
  $("parked").replaceChildren(...parked.map((c) => el("li", { dataset: { call: c.call_id } },
    `${c.parked_space} · ${c.caller_number} `,
    el("button", { type: "button", "data-pbx-action": "", disabled: state.pbx === "down" || undefined, onclick: () => pickup(c.parked_space, c.call_id) }, t("Pick up")))));
  const pending = state.attended;
  $("attended").hidden = !pending;
  if (pending) $("attended-text").textContent = t("Transferring to {to}: speak to them, then complete or cancel.", { to: pending.to });
  $("hangup").textContent = state.confirmHangup ? t("Confirm hang-up") : t("Hang up");
}

async function refresh() {
  setBoard(await api("GET", "/console/board"));
}

let pending = null;
function refreshSoon() {
  if (pending) return;
  pending = setTimeout(async () => { pending = null; try { await refresh(); } catch (e) { announce(refusal(e), "error"); } }, 150);
}

async function act(fn, done) {
  if (state.pbx === "down") {
    announce(t("Telephony is unavailable: nothing was sent."), "error");
    return;
  }
  try {
    const result = await fn();
    if (done) announce(done(result));
    await refresh();
  } catch (e) {
    announce(refusal(e), "error");
  }
}

function answer(callId) {
  return act(async () => {
    const out = await api("POST", callId ? `/calls/${encodeURIComponent(callId)}/answer` : "/calls/answer-next");
    setMine(out.call_id);
    state.selected = null;
    return out;
  }, () => t("Answered on my phone"));
}

function needCall() {
  const c = current();
  if (!c) announce(t("Select a call first."), "error");
  return c;
}

function transfer(to, kind) {
  const c = needCall();
  $("transfer-to").value = ""; // never carried over to the next transfer
  if (!c) return;
  return act(async () => {
    const out = await api("POST", `/calls/${encodeURIComponent(c.call_id)}/transfer`, { to, kind });
    if (kind === "attended") state.attended = { call_id: c.call_id, to };
    else if (c.call_id === state.mine) setMine(null);
    return out;
  }, () => (kind === "attended" ? t("Transferring to {to}: speak to them, then complete or cancel.", { to }) : t("Transferred to {to}", { to })));
}

function finishAttended(outcome) {
  const pending = state.attended;
  if (!pending) return;
  return act(async () => {
    await api("POST", `/calls/${encodeURIComponent(pending.call_id)}/transfer/${outcome}`);
    state.attended = null;
    if (outcome === "complete" && pending.call_id === state.mine) setMine(null);
  }, () => (outcome === "complete" ? t("Transfer completed") : t("Transfer cancelled")));
}

function park() {
  const c = needCall();
  if (c) act(async () => {
    const out = await api("POST", `/calls/${encodeURIComponent(c.call_id)}/park`);
    if (c.call_id === state.mine) setMine(null);
    state.selected = null;
    return out;
  }, (r) => t("Parked on {space}", { space: r.space }));
}

function hangup() {
  const c = needCall();
  if (!c) return;
  const confirmed = state.confirmHangup && state.confirmHangup.call_id === c.call_id && Date.now() < state.confirmHangup.until;
  if (!onMyPhone(c) && !confirmed) {
    // A call that is not on my phone is someone else's conversation: ask before cutting it.
    state.confirmHangup = { call_id: c.call_id, until: Date.now() + 5000 };
    setTimeout(() => { state.confirmHangup = null; render(); }, 5000);
    announce(t("Hang up this call, which is not on your phone? Press H again (or the button) to confirm."), "error");
    render();
    return;
  }
  state.confirmHangup = null;
  act(async () => {
    await api("POST", `/calls/${encodeURIComponent(c.call_id)}/hangup`);
    if (c.call_id === state.mine) setMine(null);
    state.selected = null;
  }, () => t("Hung up"));
}

function pickup(space, callId) {
  return act(async () => {
    await api("POST", `/parking/${encodeURIComponent(space)}/pickup`);
    if (callId) setMine(callId);
  }, () => t("Answered on my phone"));
}

function dial(to) {
  $("dial-to").value = "";
  return act(async () => {
    const out = await api("POST", "/calls/dial", { to });
    setMine(out.call_id);
    state.selected = null;
    return out;
  }, () => t("Calling {to}", { to }));
}

let searchTimer = null;
async function search(q) {
  if (q.trim().length < 2) { $("directory").replaceChildren(); return; }
  try {
    const out = await api("POST", "/directory/search", { q });
    $("directory").replaceChildren(...(out.entries.length ? out.entries.map((e) => el("li", { dataset: { kind: e.kind } },
      el("span", { class: "pill" }, t(e.kind)), ` ${e.label} · ${e.bed ?? e.ward_code ?? ""}${e.in_bed_since_text ? ` (${t("since")} ${e.in_bed_since_text})` : ""} · ${e.extension} `,
      el("button", { type: "button", onclick: () => dial(e.extension) }, t("Call")),
      el("button", { type: "button", onclick: () => { $("transfer-to").value = e.extension; transfer(e.extension, $("transfer-kind").value); } }, t("Transfer")))) :
      [el("li", {}, t("Nothing found."))]));
  } catch (e) { announce(refusal(e), "error"); }
}

async function history(form) {
  const params = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (v) params.set(k, k === "since" ? new Date(v).toISOString() : v);
  try {
    const out = await api("GET", `/calls/history?${params}`);
    $("history").tBodies[0].replaceChildren(...out.records.map((r) => el("tr", {},
      el("td", {}, r.started_local), el("td", {}, r.caller_number),
      el("td", {}, r.extensions.join(" → ") || r.called_extension), el("td", {}, t(r.disposition)))));
  } catch (e) { announce(refusal(e), "error"); }
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
$("attended-complete").addEventListener("click", () => finishAttended("complete"));
$("attended-cancel").addEventListener("click", () => finishAttended("cancel"));
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
    if (type === "PbxConnectionChanged") { document.body.classList.toggle("pbx-down", data.state === "down"); refreshSoon(); }
    else if (type === "PhoneStateChanged") setLamp(data.extension, data.state);
    else if (topic === "nurse_calls") nurseCallEvent(type, data);
    else refreshSoon();
  },
  onState: (s) => {
    $("live-state").dataset.state = s;
    document.body.classList.toggle("feed-down", s === "down");
    if (s === "down") announce(t("Live feed lost: reconnecting…"), "error");
  },
});
history($("history-form"));
