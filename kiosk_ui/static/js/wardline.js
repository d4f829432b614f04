// Shared by every page: translated messages, the API with its CSRF token, the live feed.

const messages = JSON.parse(document.getElementById("wl-messages")?.textContent || "{}");

/** The translation of an English message id, with {name} placeholders filled. */
export function t(id, values = {}) {
  const text = messages[id] ?? id;
  return text.replace(/\{(\w+)\}/g, (_, k) => (k in values ? String(values[k]) : `{${k}}`));
}

function csrf() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

const refusals = JSON.parse(document.getElementById("wl-refusals")?.textContent || "{}");
const lang = () => document.documentElement.lang || "fr";

/**
 * A refusal as the person reads it, in the page's language: the page's text for its stable id,
 * with the details filled in (a vital sign's kind translated, numbers written the language's
 * way); the server's own message only for an id the page does not know.
 */
export function refusalText(id, details = {}, fallback = "") {
  const template = refusals.refusals?.[id];
  if (!template) return fallback || refusals.refusals?.internal || id;
  return template.replace(/\{(\w+)\}/g, (whole, key) => {
    const value = details?.[key];
    if (value === undefined || value === null) return whole;
    if (typeof value === "number") return new Intl.NumberFormat(lang()).format(value);
    return refusals.terms?.[value] ?? String(value);
  });
}

export class ApiError extends Error {
  constructor(status, body) {
    const id = body?.error ?? "http";
    super(refusalText(id, body?.details ?? {}, body?.message));
    this.status = status;
    this.id = id;
    this.details = body?.details ?? {};
  }
}

/** fetch(), a network failure turned into the refusal "http" (the service cannot be reached). */
export async function reach(url, init) {
  try {
    return await fetch(url, init);
  } catch {
    throw new ApiError(0, null);
  }
}

/** Call /api/v1: JSON in and out; a refusal throws ApiError with the server's message. */
export async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (method !== "GET") init.headers["X-CSRF-Token"] = csrf();
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await reach(`/api/v1${path}`, init);
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    if (res.status === 401) window.location.assign(document.body.dataset.signin || "/signin");
    throw new ApiError(res.status, data);
  }
  return data;
}

/**
 * One WebSocket for the page. `onSnapshot(data)` runs on connect and after every reconnect;
 * `onEvent(topic, type, data)` for each event. Reconnects with exponential backoff + jitter.
 */
export function connectLive(topics, { onSnapshot, onEvent, onState }) {
  let delay = 500;
  let socket = null;
  const open = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws?topics=${topics.join(",")}`);
    socket.addEventListener("open", () => { delay = 500; onState?.("up"); });
    socket.addEventListener("message", (msg) => {
      const m = JSON.parse(msg.data);
      if (m.topic === "snapshot") onSnapshot(m.data);
      else if (m.topic !== "pong") onEvent(m.topic, m.type, m.data);
    });
    socket.addEventListener("close", () => {
      onState?.("down");
      const wait = delay * (0.8 + Math.random() * 0.4);
      delay = Math.min(delay * 2, 15000);
      setTimeout(open, wait);
    });
  };
  open();
  return { close: () => socket?.close() };
}

/** Announce a message to screen readers and show it in the page's status line. */
export function announce(text, kind = "info") {
  const box = document.getElementById("status-line");
  if (!box) return;
  box.textContent = text;
  box.dataset.kind = kind;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}
