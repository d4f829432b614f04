// The guest's page: the code given by phone opens a guest session for this link (spent from
// then on), then the waiting room until the care team admits the guest, then the visit.
import { api, announce, connectLive, t } from "./wardline.js";
import { enterVisit } from "./video_view.js";

const page = document.getElementById("guest-page");
const form = document.getElementById("code-form");
const message = document.getElementById("guest-message");
const waiting = document.getElementById("waiting-room");
const area = document.getElementById("video-area");
let me = null; // { visit_id, guest_id, state }
let room = null;
let poll = null;

function show(state) {
  page.dataset.state = state;
  form.hidden = state !== "code";
  waiting.hidden = state !== "waiting";
  area.hidden = state !== "joined";
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  message.textContent = "";
  try {
    const code = document.getElementById("guest-code").value.trim();
    const entered = await api("POST", "/visit-guests/enter", { link: page.dataset.link, code });
    // A fresh session: its own token for what follows.
    document.querySelector('meta[name="csrf-token"]').content = entered.csrf_token;
    me = entered;
    follow();
  } catch (err) {
    message.textContent = err.message;
    message.dataset.error = err.id;
  }
});

async function check() {
  try {
    me = await api("GET", "/visit-guests/me");
  } catch (err) {
    message.textContent = err.message;
    return;
  }
  if (me.state === "admitted" && !room) await join();
  else if (me.state === "ended" || me.state === "left") finish(t("The video visit has ended"));
  else if (me.state === "waiting") show("waiting");
}

function follow() {
  show("waiting");
  connectLive(["visit_guest"], { onSnapshot: check, onEvent: check });
  poll = setInterval(check, 3000); // the feed may be down: ask now and then too
  check();
}

let joining = false;
async function join() {
  if (joining) return;
  joining = true;
  announce(t("Connecting…"));
  try {
    room = await enterVisit(me.visit_id, {
      remotes: document.getElementById("remotes"),
      local: document.getElementById("local-video"),
      onEnd: () => finish(t("The video visit has ended")),
    });
    show("joined");
    announce("");
  } catch (err) {
    announce(err.message, "error");
  } finally {
    joining = false;
  }
}

async function finish(text) {
  clearInterval(poll);
  if (room) { const r = room; room = null; await r.leave().catch(() => {}); }
  show("ended");
  message.textContent = text;
}

document.getElementById("visit-leave").addEventListener("click", async () => {
  if (me) await api("POST", `/visits/${me.visit_id}/leave`).catch(() => {});
  finish(t("The video visit has ended"));
});
