// The patient's TV: views driven by arrow keys, OK (Enter) and Back (Escape / Backspace);
// mouse and touch work too. Live feed: nurse call state and incoming calls to this bed.
import { api, announce, connectLive, t } from "./wardline.js";

const body = document.body;
const views = [...document.querySelectorAll(".view")];
let current = "home";
const lastFocus = {};

export function currentView() { return current; }

function focusables() {
  const view = document.querySelector(`.view[data-view="${current}"]`);
  return [...view.querySelectorAll("button, input, video[controls]")]
    .filter((e) => !e.closest("[hidden]") && !e.disabled);
}

export function show(name) {
  if (!document.querySelector(`.view[data-view="${name}"]`)) return;
  lastFocus[current] = document.activeElement;
  current = name;
  body.dataset.view = name;
  for (const v of views) v.hidden = v.dataset.view !== name;
  const back = lastFocus[name];
  const items = focusables();
  (back && items.includes(back) ? back : items[0])?.focus();
  document.dispatchEvent(new CustomEvent("tv:view", { detail: name }));
}

function move(step) {
  const items = focusables();
  if (!items.length) return;
  const at = items.indexOf(document.activeElement);
  const next = at < 0 ? 0 : Math.min(items.length - 1, Math.max(0, at + step));
  items[next].focus();
}

function columns() {
  // Tiles are a grid: Up/Down jump a row there, one item elsewhere.
  const active = document.activeElement;
  if (!active?.classList.contains("tile")) return 1;
  const grid = getComputedStyle(active.parentElement).gridTemplateColumns.split(" ").length;
  return Math.max(1, grid);
}

document.addEventListener("keydown", (ev) => {
  const typing = ev.target instanceof HTMLInputElement;
  if (ev.key === "ArrowRight" && !typing) { move(1); ev.preventDefault(); }
  else if (ev.key === "ArrowLeft" && !typing) { move(-1); ev.preventDefault(); }
  else if (ev.key === "ArrowDown") { move(typing ? 1 : columns()); ev.preventDefault(); }
  else if (ev.key === "ArrowUp") { move(typing ? -1 : -columns()); ev.preventDefault(); }
  else if (ev.key === "Escape" || (ev.key === "Backspace" && !typing)) {
    if (current !== "home") { show("home"); ev.preventDefault(); }
  } else if (ev.key === "PageUp" || ev.key === "ChannelUp") { channelStep(1); ev.preventDefault(); }
  else if (ev.key === "PageDown" || ev.key === "ChannelDown") { channelStep(-1); ev.preventDefault(); }
});

for (const tile of document.querySelectorAll("[data-go]")) {
  tile.addEventListener("click", () => show(tile.dataset.go));
}

// --- clock ---
// Written by the server in the ward's zone and the page's language: shown as it is, never
// converted here (the terminal's own clock and zone may be anything).
const clock = document.getElementById("clock");
async function tick() {
  let wait = 15;
  try {
    const res = await fetch("/api/v1/tv/clock", { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (res.ok) {
      const now = await res.json();
      clock.textContent = now.text;
      clock.dateTime = now.at;
      wait = Math.min(15, now.seconds_to_next_minute + 0.2);
    }
  } catch { /* keep the last time shown; ask again */ }
  setTimeout(tick, wait * 1000);
}
tick();

// --- TV and radio ---
const channels = [...document.querySelectorAll(".channel")];
const player = document.getElementById("player");
let playing = -1;
function play(index) {
  if (!channels.length) return;
  playing = (index + channels.length) % channels.length;
  const c = channels[playing];
  for (const other of channels) other.setAttribute("aria-pressed", String(other === c));
  body.dataset.channel = c.dataset.channel;
  document.getElementById("now-playing").textContent = c.textContent;
  if (c.dataset.url) { player.src = c.dataset.url; player.play().catch(() => {}); }
  else { player.removeAttribute("src"); player.load(); }
}
function channelStep(step) {
  if (current !== "tv") return;
  play(playing < 0 ? 0 : playing + step);
  channels[playing].focus();
}
channels.forEach((c, i) => c.addEventListener("click", () => play(i)));

// --- meals ---
for (const dish of document.querySelectorAll(".dish")) {
  dish.addEventListener("click", async () => {
    try {
      await api("POST", "/tv/meals", { meal: dish.dataset.meal, dish: dish.dataset.dish });
      for (const other of document.querySelectorAll(`.dish[data-meal="${dish.dataset.meal}"]`)) {
        other.setAttribute("aria-pressed", String(other === dish));
      }
      announce(t("Ordered"));
    } catch (err) { announce(err.message, "error"); }
  });
}

// --- information pages ---
for (const button of document.querySelectorAll(".info-page")) {
  button.addEventListener("click", () => {
    const text = document.getElementById(`info-${button.dataset.page}`);
    text.hidden = !text.hidden;
    button.setAttribute("aria-expanded", String(!text.hidden));
  });
}

// --- survey (no identity is sent: the server keeps the ward and the day) ---
const scores = {};
for (const b of document.querySelectorAll(".score")) {
  b.addEventListener("click", () => {
    scores[b.dataset.question] = Number(b.dataset.score);
    for (const o of document.querySelectorAll(`.score[data-question="${b.dataset.question}"]`)) {
      o.setAttribute("aria-pressed", String(o === b));
    }
  });
}
document.getElementById("survey-send").addEventListener("click", async () => {
  try {
    await api("POST", "/tv/survey", { answers: scores });
    body.dataset.survey = "sent";
    announce(t("Thank you for your answers"));
  } catch (err) { announce(err.message, "error"); }
});

// --- language and larger text ---
for (const b of document.querySelectorAll(".lang")) {
  b.addEventListener("click", async () => {
    await api("POST", "/tv/language", { lang: b.dataset.lang });
    location.reload();
  });
}
const large = document.getElementById("large-text");
function setLarge(on) {
  body.classList.toggle("large", on);
  large.setAttribute("aria-pressed", String(on));
  localStorage.setItem("tv-large", on ? "1" : "0");
}
setLarge(localStorage.getItem("tv-large") === "1");
large.addEventListener("click", () => setLarge(!body.classList.contains("large")));

// --- nurse call and incoming calls ---
const nurseCall = document.getElementById("nurse-call");
function nurseState(state) {
  nurseCall.dataset.state = state;
  body.dataset.nurseCall = state;
  const text = { open: t("Call received"), acknowledged: t("The nurse is coming"),
                 cleared: t("Nurse call cleared") }[state];
  if (text) announce(text);
}
nurseCall.addEventListener("click", async () => {
  try {
    const view = await api("POST", "/tv/nurse-call");
    nurseState(view.state);
  } catch (err) { announce(err.message, "error"); }
});
const banner = document.getElementById("call-banner");
connectLive(["tv_bed"], {
  onSnapshot: () => {},
  onEvent: (topic, type, data) => {
    if (type === "NurseCallRaised") nurseState("open");
    else if (type === "NurseCallAcknowledged") nurseState("acknowledged");
    else if (type === "NurseCallCleared") nurseState("cleared");
    else if (type === "CallRinging") {
      banner.textContent = t("Incoming call from {caller}", { caller: data.caller });
      banner.hidden = false;
      body.dataset.ringing = data.call_id;
    } else if (type === "CallAnswered" || type === "CallEnded") {
      banner.hidden = true;
      delete body.dataset.ringing;
    }
  },
  onState: (state) => { body.dataset.live = state; },
});

show("home");
