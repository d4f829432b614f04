// The video visit on the patient's TV: the invitation (who invites) answered with the remote,
// Accept or Decline (arrows move, OK chooses, Back declines); during the visit the others'
// pictures, one's own small, and at all times the sign that the camera and the microphone are
// on; Back ends the visit for the patient. Nothing starts without acceptance.
import { api, announce, connectLive, t } from "./wardline.js";
import { enterVisit } from "./video_view.js";

const body = document.body;
const overlay = document.getElementById("visit-overlay");
const invite = document.getElementById("visit-invite");
const live = document.getElementById("visit-live");
const who = document.getElementById("visit-who");
const others = document.getElementById("visit-others");
const accept = document.getElementById("visit-accept");
const decline = document.getElementById("visit-decline");
let visitId = null;
let room = null;
let busy = false;
let backWhileBusy = false; // Back pressed while an answer was on its way

function setMode(mode) {
  // "" (none), "invited", "joining", "live"
  body.dataset.visit = mode;
  overlay.hidden = mode === "";
  invite.hidden = mode !== "invited";
  live.hidden = mode !== "live" && mode !== "joining";
  if (mode === "invited") accept.focus();
}

function showInvitation(v) {
  visitId = v.visit_id;
  backWhileBusy = false;
  who.textContent = t("Video visit from {name}", { name: v.invited_by });
  const rest = (v.others || []).filter((n) => n !== v.invited_by);
  others.textContent = rest.length ? t("With {names}", { names: rest.join(", ") }) : "";
  setMode("invited");
}

async function answer(yes) {
  if (busy || visitId === null) return;
  busy = true;
  try {
    if (!yes) {
      await api("POST", `/tv/visits/${visitId}/decline`);
      close(t("You declined the video visit"));
      return;
    }
    await api("POST", `/tv/visits/${visitId}/accept`);
  } catch (err) {
    announce(err.message, "error");
    return;
  } finally {
    busy = false;
  }
  if (backWhileBusy) { // accepted, then Back at once: it ends for the patient
    const id = visitId;
    await close(t("The video visit has ended"));
    await api("POST", `/tv/visits/${id}/leave`).catch((err) => announce(err.message, "error"));
    return;
  }
  await join();
}

async function join(onFailure = null) {
  const id = visitId;
  setMode("joining");
  try {
    const joined = await enterVisit(id, {
      remotes: document.getElementById("visit-remotes"),
      local: document.getElementById("visit-local"),
      onEnd: (reason) => {
        if (visitId !== id) return;
        const old = room;
        room = null;
        old?.leave().catch(() => {}); // the camera and the old connections stop
        if (reason === "lost") rejoin(id); // the gateway went away: the visit may go on
        else close(t("The video visit has ended"));
      },
    });
    if (visitId !== id) { await joined.leave(); return; } // Back (or the end) came first
    room = joined;
    setMode("live");
    announce("");
  } catch (err) {
    if (visitId !== id) return;
    if (onFailure) onFailure();
    else close(err.message);
  }
}

/** After the connection to the video service is lost: join again while the visit is live
 * (Wardline is the source of truth), else the visit is over for the TV. */
async function rejoin(id, attempt = 1) {
  setMode("joining");
  announce(t("The video connection was lost"));
  await new Promise((resolve) => setTimeout(resolve, Math.min(8000, 1000 * attempt)));
  if (visitId !== id) return;
  try {
    const { visit } = await api("GET", "/tv/visit");
    if (visit?.visit_id !== id || visit.state !== "live") {
      close(t("The video visit has ended"));
      return;
    }
    await join(() => rejoin(id, attempt + 1));
  } catch {
    if (visitId === id) rejoin(id, attempt + 1);
  }
}

async function close(text) {
  const r = room;
  room = null;
  visitId = null;
  setMode("");
  if (r) await r.leave().catch(() => {});
  if (text) announce(text);
  document.dispatchEvent(new CustomEvent("tv:go", { detail: { view: "home", by: "visit" } }));
}

async function backOut() {
  if (visitId === null) return;
  if (body.dataset.visit === "invited") {
    if (busy) backWhileBusy = true;
    else answer(false);
    return;
  }
  // Joining or in the visit: Back ends it for the patient at once.
  const id = visitId;
  await close(t("The video visit has ended"));
  try {
    await api("POST", `/tv/visits/${id}/leave`);
  } catch (err) {
    announce(err.message, "error");
  }
}

accept.addEventListener("click", () => answer(true));
decline.addEventListener("click", () => answer(false));

// While the overlay is up it owns the remote: the TV's views underneath do not move.
window.addEventListener("keydown", (ev) => {
  if (overlay.hidden) return;
  const key = ev.key;
  if (key === "Escape" || key === "BrowserBack" || key === "GoBack" || key === "Backspace") {
    backOut();
  } else if (key === "ArrowLeft" || key === "ArrowRight" || key === "ArrowUp" || key === "ArrowDown") {
    if (body.dataset.visit === "invited") (document.activeElement === accept ? decline : accept).focus();
  } else if (key === "Enter") {
    if (body.dataset.visit === "invited" && (document.activeElement === accept || document.activeElement === decline)) {
      document.activeElement.click();
    }
  } else {
    return;
  }
  ev.preventDefault();
  ev.stopImmediatePropagation();
}, { capture: true });

async function fromServer() {
  const { visit } = await api("GET", "/tv/visit");
  onVisit(visit);
}

function onVisit(visit) {
  if (!visit) { if (visitId !== null) close(t("The video visit has ended")); return; }
  if (visit.state === "invited" && body.dataset.visit !== "invited") showInvitation(visit);
  else if (visit.state === "live" && !room && body.dataset.visit !== "joining") {
    // The patient accepted before this page was (re)loaded: back into the visit.
    visitId = visit.visit_id;
    join();
  }
}

connectLive(["tv_visit"], {
  onSnapshot: (data) => { if (data.tv_visit) onVisit(data.tv_visit.visit); },
  onEvent: (topic, type, data) => {
    if (type === "VisitInvited") fromServer().catch(() => showInvitation(data));
    else if ((type === "VisitEnded" || type === "VisitDeclined") && data.visit_id === visitId) {
      close(t("The video visit has ended"));
    }
  },
});
setMode("");
