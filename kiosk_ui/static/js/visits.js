// The staff page of video visits: invite (bed, staff, guests), the guests' links and codes
// shown once, the ward's visits live (who, when, how long, state: never content), admit a
// waiting guest, end a visit, and take part in it (joined on its own once the patient accepts
// a visit sent from this page).
import { api, announce, connectLive, el, t } from "./wardline.js";
import { enterVisit } from "./video_view.js";

const page = document.getElementById("visits-page");
const ward = page.dataset.ward;
const form = document.getElementById("visit-form");
const result = document.getElementById("invite-result");
const list = document.querySelector("#visit-list tbody");
const stateLine = document.getElementById("visit-state");
const area = document.getElementById("video-area");
const SENT_KEY = "visits-sent";
const sent = new Set(JSON.parse(sessionStorage.getItem(SENT_KEY) || "[]"));
let inRoom = null; // { visitId, leave }
let joining = false;
let visits = [];

const STATES = { invited: "Invited", live: "In progress", declined: "Declined", ended: "Ended",
  waiting: "Waiting", admitted: "Admitted", joined: "In the visit", left: "Left" };
const stateText = (s) => t(STATES[s] ?? s);

/** An ISO time written by the server in the ward's zone, shown as it is (dd/mm hh:mm). */
function when(iso) {
  return iso ? `${iso.slice(8, 10)}/${iso.slice(5, 7)} ${iso.slice(11, 16)}` : "";
}
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const m = Math.floor(seconds / 60);
  return `${m}:${String(seconds % 60).padStart(2, "0")}`;
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const bed = document.getElementById("visit-bed").value;
  const staff = [...document.querySelectorAll(".staff-pick:checked")].map((c) => c.value);
  const guests = [...document.querySelectorAll(".guest-label")].map((i) => i.value.trim())
    .filter(Boolean).map((label) => ({ label }));
  result.replaceChildren();
  try {
    const started = await api("POST", "/visits", { bed, staff, guests });
    sent.add(started.visit_id);
    sessionStorage.setItem(SENT_KEY, JSON.stringify([...sent]));
    result.append(el("p", {}, t("Invitation sent")));
    for (const g of started.guests) {
      result.append(el("div", { class: "guest-invite", dataset: { guest: g.guest_id } },
        el("strong", {}, g.label), " · ",
        t("Link"), ": ", el("code", { class: "guest-link" }, new URL(g.link, location.origin).href), " · ",
        t("Code"), ": ", el("code", { class: "guest-code" }, g.code)));
    }
    if (started.guests.length) result.append(el("p", { class: "muted" }, t("Give the code by phone; the link works once.")));
    for (const i of document.querySelectorAll(".guest-label")) i.value = "";
    await refresh();
  } catch (err) {
    result.append(el("p", { class: "error" }, err.message));
  }
});

async function act(method, path) {
  try { await api(method, path); await refresh(); } catch (err) { announce(err.message, "error"); }
}

function row(v) {
  const actions = [];
  if (v.state === "live") {
    for (const p of v.participants.filter((p) => p.kind === "guest" && p.state === "waiting")) {
      actions.push(el("button", { type: "button", class: "admit", dataset: { guest: p.guest_id },
        onclick: () => act("POST", `/visits/${v.visit_id}/guests/${p.guest_id}/admit`) }, `${t("Admit")} ${p.name}`));
    }
    if (!inRoom) actions.push(el("button", { type: "button", class: "join", onclick: () => join(v.visit_id) }, t("Join")));
  }
  if (v.state === "invited" || v.state === "live") {
    actions.push(el("button", { type: "button", class: "end", onclick: () => act("POST", `/visits/${v.visit_id}/end`) }, t("End")));
  }
  const who = v.participants.map((p) => `${p.name} (${stateText(p.state)})`).join(", ");
  return el("tr", { dataset: { visit: v.visit_id, state: v.state } },
    el("td", {}, v.bed), el("td", {}, v.started_by), el("td", {}, when(v.invited_at)),
    el("td", { class: "state" }, stateText(v.state)), el("td", {}, duration(v.duration_seconds)),
    el("td", { class: "who" }, who), el("td", { class: "actions" }, actions));
}

function render() {
  list.replaceChildren(...visits.map(row));
  const current = visits.find((v) => v.visit_id === inRoom?.visitId)
    ?? visits.find((v) => sent.has(v.visit_id) && (v.state === "invited" || v.state === "live"));
  stateLine.dataset.state = current?.state ?? "none";
  stateLine.textContent = !current ? t("No video visit")
    : current.state === "invited" ? t("Waiting for the patient to accept") : stateText(current.state);
  for (const v of visits) {
    if (v.state === "live" && sent.has(v.visit_id) && !inRoom && !joining) join(v.visit_id);
    if (inRoom?.visitId === v.visit_id && v.state !== "live") leave(t("The video visit has ended"));
  }
}

async function refresh() {
  const data = await api("GET", ward ? `/visits?ward=${encodeURIComponent(ward)}` : "/visits");
  visits = data.visits;
  render();
}

async function join(visitId) {
  if (inRoom || joining) return;
  joining = true;
  area.hidden = false;
  announce(t("Connecting…"));
  try {
    const session = await enterVisit(visitId, {
      remotes: document.getElementById("remotes"),
      local: document.getElementById("local-video"),
      onEnd: (reason) => {
        leave(t(reason === "lost" ? "The video connection was lost" : "The video visit has ended"));
        // The gateway went away: a visit sent from here is joined again while it is live.
        if (reason === "lost") setTimeout(() => refresh().catch(() => {}), 2000);
      },
    });
    inRoom = { visitId, leave: session.leave };
    page.dataset.inVisit = String(visitId);
    announce("");
  } catch (err) {
    area.hidden = true;
    announce(err.message, "error");
  } finally {
    joining = false;
    render();
  }
}

async function leave(message) {
  const was = inRoom;
  if (!was) return;
  inRoom = null;
  delete page.dataset.inVisit;
  area.hidden = true;
  await was.leave().catch(() => {});
  if (message) announce(message);
  render();
}

document.getElementById("visit-leave").addEventListener("click", async () => {
  const was = inRoom;
  await leave("");
  if (was) await api("POST", `/visits/${was.visitId}/leave`).catch(() => {});
});

connectLive(["visits"], {
  onSnapshot: (data) => {
    if (data.visits?.visits) { visits = data.visits.visits; render(); } else refresh().catch(() => {});
  },
  onEvent: () => refresh().catch((err) => announce(err.message, "error")),
  onState: (state) => { document.getElementById("live-state").dataset.state = state; },
});
