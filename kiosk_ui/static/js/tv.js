// The patient's TV: views driven by the remote's arrows, OK (Enter), Back (Escape, Backspace)
// and Home; mouse and touch work too. The arrows move the focus to the nearest element in
// their direction, by position on the screen (spatial navigation), never in list order.
// Live feed: nurse call state and incoming calls to this bed.
import { api, announce, connectLive, t } from "./wardline.js";

const body = document.body;
const main = document.getElementById("main");
const views = [...document.querySelectorAll(".view")];
let current = "home";
const lastFocus = {};
const TUNE_MS = 8000; // a stream not playing by then: no signal

export function currentView() { return current; }

function viewOf(name) { return document.querySelector(`.view[data-view="${name}"]`); }

function focusables() {
  const view = viewOf(current);
  return [...view.querySelectorAll("button, input, [tabindex]:not([tabindex='-1'])")]
    .filter((e) => !e.closest("[hidden]") && !e.disabled && e.getClientRects().length);
}

function preferred(items) {
  // What the view is set to (the current language, the channel playing, the dish ordered),
  // else its first element.
  return items.find((e) => e.getAttribute("aria-pressed") === "true") ?? items[0];
}

/** Show a view; `by` says how (back, home, nav...), for those who listen to "tv:view". */
export function show(name, by = "nav") {
  if (!viewOf(name)) return;
  const from = current;
  if (from !== name) lastFocus[from] = document.activeElement;
  current = name;
  body.dataset.view = name;
  for (const v of views) v.hidden = v.dataset.view !== name;
  if (from !== name) announce(""); // a message belongs to the view it was shown on
  const items = focusables();
  const back = lastFocus[name];
  const target = back && items.includes(back) ? back : preferred(items);
  main.scrollTop = 0;
  if (target) target.focus();
  else document.activeElement?.blur();
  document.dispatchEvent(new CustomEvent("tv:view", { detail: { view: name, from, by } }));
}

document.addEventListener("tv:go", (ev) => show(ev.detail.view, ev.detail.by));
document.addEventListener("tv:forget", (ev) => { delete lastFocus[ev.detail.view]; });

// --- spatial navigation ---
const SLACK = 8; // px: margins and focus rings may overlap
const DIRECTIONS = { ArrowRight: "right", ArrowLeft: "left", ArrowDown: "down", ArrowUp: "up" };

/** The element nearest to `from` in direction `dir` among `items`, by position, or null. */
export function nearest(from, dir, items) {
  const a = from.getBoundingClientRect();
  const ax = (a.left + a.right) / 2;
  const ay = (a.top + a.bottom) / 2;
  let best = null;
  let bestScore = Infinity;
  for (const el of items) {
    if (el === from) continue;
    const b = el.getBoundingClientRect();
    const bx = (b.left + b.right) / 2;
    const by = (b.top + b.bottom) / 2;
    let along;
    let gap;
    let offset;
    if (dir === "left" || dir === "right") {
      along = dir === "right" ? b.left - a.right : a.left - b.right;
      if ((dir === "right" ? bx <= ax : bx >= ax) || along < -SLACK) continue;
      gap = Math.max(0, b.top - a.bottom, a.top - b.bottom);
      offset = Math.abs(by - ay);
    } else {
      along = dir === "down" ? b.top - a.bottom : a.top - b.bottom;
      if ((dir === "down" ? by <= ay : by >= ay) || along < -SLACK) continue;
      gap = Math.max(0, b.left - a.right, a.left - b.right);
      offset = Math.abs(bx - ax);
    }
    // Along the arrow first; leaving the row (or column) costs more than going further.
    const score = Math.max(0, along) + 3 * gap + 0.1 * offset;
    if (score < bestScore) { best = el; bestScore = score; }
  }
  return best;
}

function step(dir) {
  const items = focusables();
  const from = document.activeElement;
  if (!items.includes(from)) {
    if (items.length) preferred(items).focus();
    else scroll(dir);
    return;
  }
  let next = nearest(from, dir, items);
  const grid = from.closest("[data-wrap]");
  if (!next && grid && (dir === "left" || dir === "right")) {
    // A grid of tiles reads like text: past the end of a row, the next row.
    const cells = items.filter((e) => grid.contains(e));
    next = cells[cells.indexOf(from) + (dir === "right" ? 1 : -1)] ?? null;
  }
  if (next) next.focus();
  else scroll(dir);
}

function scroll(dir) {
  // Nothing further that way: what is left of the view scrolls into sight instead.
  const amount = main.clientHeight * 0.4;
  if (dir === "down") main.scrollBy({ top: amount });
  else if (dir === "up") main.scrollBy({ top: -amount });
}

document.addEventListener("keydown", (ev) => {
  const typing = ev.target instanceof HTMLInputElement;
  const dir = DIRECTIONS[ev.key];
  if (dir) {
    if (typing && (dir === "left" || dir === "right")) return; // the caret moves
    ev.preventDefault();
    step(dir);
  } else if (ev.key === "Escape" || ev.key === "BrowserBack" || ev.key === "GoBack"
             || (ev.key === "Backspace" && !typing)) {
    if (current !== "home") show("home", "back");
    ev.preventDefault();
  } else if (ev.key === "BrowserHome" || ev.key === "GoHome" || (ev.key === "Home" && !typing)) {
    if (current !== "home") show("home", "home");
    ev.preventDefault();
  } else if (ev.key === "PageUp" || ev.key === "ChannelUp") { channelStep(1); ev.preventDefault(); }
  else if (ev.key === "PageDown" || ev.key === "ChannelDown") { channelStep(-1); ev.preventDefault(); }
});

for (const tile of document.querySelectorAll("[data-go]")) {
  tile.addEventListener("click", () => show(tile.dataset.go, "tile"));
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

// --- TV and radio: one player per page; a stream that fails says "no signal" ---
const players = {};
for (const box of document.querySelectorAll(".player")) {
  const p = {
    kind: box.dataset.kind,
    box,
    media: box.querySelector(".stream"),
    items: [...document.querySelectorAll(`.channel[data-kind="${box.dataset.kind}"]`)],
    playing: -1,
    watchdog: null,
  };
  players[p.kind] = p;
  p.media.addEventListener("playing", () => signal(p, "ok"));
  p.media.addEventListener("error", () => signal(p, "none"));
  p.media.addEventListener("waiting", () => watch(p));
  p.media.addEventListener("stalled", () => watch(p));
  p.items.forEach((c, i) => c.addEventListener("click", () => play(p, i)));
}

function signal(p, state) {
  clearTimeout(p.watchdog);
  p.box.dataset.signal = state;
  body.dataset.signal = state;
}

function watch(p) {
  clearTimeout(p.watchdog);
  p.watchdog = setTimeout(() => { if (p.media.paused || p.media.readyState < 3) signal(p, "none"); }, TUNE_MS);
}

function stop(p) {
  clearTimeout(p.watchdog);
  p.media.pause();
  p.media.removeAttribute("src");
  p.media.load();
  p.box.dataset.signal = "idle";
}

function play(p, index) {
  if (!p.items.length) return;
  for (const other of Object.values(players)) if (other !== p && other.playing >= 0) stop(other);
  p.playing = (index + p.items.length) % p.items.length;
  const c = p.items[p.playing];
  for (const o of p.items) o.setAttribute("aria-pressed", String(o === c));
  body.dataset.channel = c.dataset.channel;
  p.box.querySelector(".now").textContent = c.textContent;
  if (!c.dataset.url) { stop(p); signal(p, "none"); return; }
  signal(p, "tuning");
  p.media.src = c.dataset.url;
  p.media.play().catch(() => {}); // a failed stream says so with its "error" event
  watch(p);
}

function channelStep(step) {
  const p = players[current];
  if (!p || !p.items.length) return;
  play(p, p.playing < 0 ? 0 : p.playing + step);
  p.items[p.playing].focus();
}

document.addEventListener("tv:view", (ev) => {
  // The TV's picture stops when the patient leaves it; the radio plays on.
  if (ev.detail.from === "tv" && ev.detail.view !== "tv" && players.tv?.playing >= 0) {
    stop(players.tv);
    players.tv.playing = -1;
    for (const o of players.tv.items) o.setAttribute("aria-pressed", "false");
  }
});

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
    if (!text.hidden) text.scrollIntoView({ block: "nearest" });
  });
}

// --- survey (no identity is sent: the server keeps the ward and the day) ---
// An answer changes only with OK on a score; the arrows only move.
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
    try {
      await api("POST", "/tv/language", { lang: b.dataset.lang });
      sessionStorage.setItem("tv-view", "settings"); // back on this page, in the new language
      location.reload();
    } catch (err) { announce(err.message, "error"); }
  });
}
const large = document.getElementById("large-text");
function setLarge(on) {
  body.classList.toggle("large", on);
  large.setAttribute("aria-pressed", String(on));
  localStorage.setItem("tv-large", on ? "1" : "0");
  document.activeElement?.scrollIntoView({ block: "nearest" });
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

const resumed = sessionStorage.getItem("tv-view");
sessionStorage.removeItem("tv-view");
show(resumed && viewOf(resumed) ? resumed : "home", "page");
