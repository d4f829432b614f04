// A minimal client of Janus's VideoRoom plugin over Janus's WebSocket API
// ("janus-protocol"): a session opened with the per-participant token Wardline issued, one
// handle publishing this browser's camera and microphone (room PIN), one handle per other
// participant subscribing to them; trickle ICE both ways; a keepalive. The browser never has
// the rights to create, list or configure rooms: it only joins the room it was given.
//
// Written here rather than Debian's janus.js: an ES module served like the other static files
// (versioned URL, strict CSP, no global script, no adapter.js), and small enough to read.

const PLUGIN = "janus.plugin.videoroom";
const KEEPALIVE_MS = 25000;
const REQUEST_MS = 15000;

export class JanusError extends Error {
  constructor(code, reason) {
    super(reason || `Janus error ${code}`);
    this.code = code;
  }
}

function transactionId() {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The RTCPeerConnection settings of a join answer: its ICE servers, relay only if forced. */
export function peerConfig(iceServers, forceRelay = false) {
  const config = { iceServers: (iceServers || []).map((s) => ({ ...s })), bundlePolicy: "max-bundle" };
  if (forceRelay) config.iceTransportPolicy = "relay";
  return config;
}

/** One WebSocket to Janus: requests matched to answers by transaction, events by handle. */
class JanusSession {
  constructor(url, token) {
    this.url = url;
    this.token = token;
    this.pending = new Map();
    this.handles = new Map();
    this.id = null;
    this.closed = false;
    this.onclose = null;
  }

  async open() {
    this.ws = new WebSocket(this.url, "janus-protocol");
    await new Promise((resolve, reject) => {
      this.ws.addEventListener("open", resolve, { once: true });
      this.ws.addEventListener("error", () => reject(new JanusError("socket", "cannot reach the video service")), { once: true });
    });
    this.ws.addEventListener("message", (m) => this.receive(JSON.parse(m.data)));
    this.ws.addEventListener("close", () => this.lost());
    const created = await this.send({ janus: "create" });
    this.id = created.data.id;
    this.keepalive = setInterval(() => this.send({ janus: "keepalive" }).catch(() => {}), KEEPALIVE_MS);
  }

  send(message, { awaitEvent = false } = {}) {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new JanusError("closed", "the video connection is closed"));
    }
    const transaction = transactionId();
    const body = { ...message, transaction, token: this.token };
    if (this.id !== null && body.janus !== "create") body.session_id = this.id;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(transaction);
        reject(new JanusError("timeout", "the video service did not answer"));
      }, REQUEST_MS);
      this.pending.set(transaction, { resolve, reject, awaitEvent, timer });
      this.ws.send(JSON.stringify(body));
    });
  }

  receive(msg) {
    const waiting = msg.transaction && this.pending.get(msg.transaction);
    if (waiting) {
      if (msg.janus === "ack" && waiting.awaitEvent) return;
      this.pending.delete(msg.transaction);
      clearTimeout(waiting.timer);
      const failure = msg.janus === "error" ? msg.error
        : msg.plugindata?.data?.error_code ? { code: msg.plugindata.data.error_code, reason: msg.plugindata.data.error } : null;
      if (failure) waiting.reject(new JanusError(failure.code, failure.reason));
      else waiting.resolve(msg);
      return;
    }
    if (msg.janus === "timeout") { this.lost(); return; }
    const handle = this.handles.get(msg.sender);
    if (handle) handle.event(msg);
  }

  async attach(onEvent) {
    const answer = await this.send({ janus: "attach", plugin: PLUGIN });
    const handle = new Handle(this, answer.data.id, onEvent);
    this.handles.set(handle.id, handle);
    return handle;
  }

  lost() {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepalive);
    for (const w of this.pending.values()) { clearTimeout(w.timer); w.reject(new JanusError("closed", "the video connection is closed")); }
    this.pending.clear();
    this.onclose?.();
  }

  async destroy() {
    if (this.closed) return;
    await this.send({ janus: "destroy" }).catch(() => {});
    this.lost();
    this.ws.close();
  }
}

class Handle {
  constructor(session, id, onEvent) {
    this.session = session;
    this.id = id;
    this.onEvent = onEvent;
    this.pc = null;
  }

  /** A plugin request; with a JSEP, or when the plugin answers later, waits for its event. */
  async message(body, jsep, awaitEvent = true) {
    const msg = { janus: "message", handle_id: this.id, body };
    if (jsep) msg.jsep = jsep;
    return this.session.send(msg, { awaitEvent });
  }

  trickle(candidate) {
    const msg = { janus: "trickle", handle_id: this.id,
                  candidate: candidate ? { candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex } : { completed: true } };
    this.session.send(msg).catch(() => {});
  }

  peer(config) {
    this.pc = new RTCPeerConnection(config);
    this.pc.addEventListener("icecandidate", (ev) => this.trickle(ev.candidate));
    return this.pc;
  }

  event(msg) {
    if (msg.janus === "trickle" && this.pc) {
      const c = msg.candidate;
      if (c && !c.completed) this.pc.addIceCandidate(c).catch(() => {});
      return;
    }
    this.onEvent?.(msg);
  }

  async detach() {
    this.pc?.close();
    this.pc = null;
    this.session.handles.delete(this.id);
    await this.session.send({ janus: "detach", handle_id: this.id }).catch(() => {});
  }
}

/**
 * Join a visit's room with a join answer of Wardline (docs/video.md:
 * `{janus:{url, room, pin, token, display, feed_id}, ice_servers, ice_transport_policy}`): publish the camera and microphone,
 * show every other participant. Callbacks: `onRemote(feedId, stream, display)` when a
 * participant's media arrives, `onRemoteGone(feedId)`, `onLocal(stream)`, `onEnd(reason)` when
 * the connection to Janus is lost or the room is destroyed.
 */
export async function joinRoom(join, { forceRelay = false, media = { audio: true, video: true },
  onLocal, onRemote, onRemoteGone, onEnd } = {}) {
  const { url, room, pin, token, display, feed_id: feedId } = join.janus;
  const config = peerConfig(join.ice_servers, forceRelay || join.ice_transport_policy === "relay");
  const session = new JanusSession(url, token);
  const feeds = new Map();
  let privateId = null;
  let ended = false;
  const end = (reason) => {
    if (ended) return;
    ended = true;
    onEnd?.(reason);
  };
  session.onclose = () => end("lost");

  const subscribe = async (publisher) => {
    if (feeds.has(publisher.id) || ended) return;
    feeds.set(publisher.id, null);
    let handle;
    try {
      handle = await session.attach((msg) => {
        const data = msg.plugindata?.data;
        if (msg.janus === "hangup" || data?.videoroom === "destroyed") gone(publisher.id);
      });
      feeds.set(publisher.id, handle);
      const pc = handle.peer(config);
      const stream = new MediaStream();
      pc.addEventListener("track", (ev) => {
        stream.addTrack(ev.track);
        onRemote?.(publisher.id, stream, publisher.display || "");
      });
      const attached = await handle.message({ request: "join", ptype: "subscriber", room, pin, token,
        private_id: privateId, streams: [{ feed: publisher.id }] });
      await pc.setRemoteDescription(attached.jsep);
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      await handle.message({ request: "start", room }, { type: answer.type, sdp: answer.sdp });
    } catch (err) {
      if (!ended) console.warn("video: subscription failed", err?.message);
      if (handle) await handle.detach();
      feeds.delete(publisher.id);
    }
  };
  const gone = (id) => {
    const handle = feeds.get(id);
    if (!feeds.has(id)) return;
    feeds.delete(id);
    handle?.detach();
    onRemoteGone?.(id);
  };
  const fromRoom = (data) => {
    for (const p of data?.publishers || []) subscribe(p);
    const left = data?.unpublished ?? data?.leaving;
    if (left !== undefined && left !== "ok") gone(left);
    if (data?.videoroom === "destroyed") end("ended");
  };

  let local = null;
  try {
    await session.open();
    const publisher = await session.attach((msg) => fromRoom(msg.plugindata?.data));
    const join_ = { request: "join", ptype: "publisher", room, pin, token, display };
    if (feedId !== undefined && feedId !== null) join_.id = feedId;
    const joined = await publisher.message(join_);
    const data = joined.plugindata.data;
    privateId = data.private_id;
    local = await navigator.mediaDevices.getUserMedia(media);
    onLocal?.(local);
    const pc = publisher.peer(config);
    for (const track of local.getTracks()) pc.addTrack(track, local);
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const configured = await publisher.message({ request: "publish", display }, { type: offer.type, sdp: offer.sdp });
    await pc.setRemoteDescription(configured.jsep);
    fromRoom(data);
    return {
      participantId: data.id,
      publisher: pc,
      peers: () => [pc, ...[...feeds.values()].filter(Boolean).map((h) => h.pc).filter(Boolean)],
      async leave() {
        // Also after the connection was lost: the camera and every connection stop here.
        ended = true;
        for (const track of local?.getTracks() || []) track.stop();
        pc.close();
        for (const handle of feeds.values()) handle?.pc?.close();
        await session.destroy();
      },
    };
  } catch (err) {
    ended = true;
    for (const track of local?.getTracks() || []) track.stop();
    await session.destroy().catch(() => {});
    throw err;
  }
}

/**
 * What the browser receives and how: inbound video frames decoded and audio packets received
 * over every subscription, and whether each connection's selected candidate pair is relayed.
 */
export async function mediaStats(peers) {
  const out = { videoFramesDecoded: 0, audioPacketsReceived: 0, remoteFeeds: 0, pairs: [] };
  for (const pc of peers) {
    const report = await pc.getStats();
    const byId = new Map();
    report.forEach((s) => byId.set(s.id, s));
    let receiving = false;
    report.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") { out.videoFramesDecoded += s.framesDecoded || 0; receiving ||= s.framesDecoded > 0; }
      if (s.type === "inbound-rtp" && s.kind === "audio") out.audioPacketsReceived += s.packetsReceived || 0;
      if (s.type === "transport" && s.selectedCandidatePairId) {
        const pair = byId.get(s.selectedCandidatePairId);
        const localC = pair && byId.get(pair.localCandidateId);
        const remoteC = pair && byId.get(pair.remoteCandidateId);
        out.pairs.push({ local: localC?.candidateType, remote: remoteC?.candidateType, state: pair?.state,
                         localAddress: localC?.address, remoteAddress: remoteC?.address });
      }
    });
    if (receiving) out.remoteFeeds += 1;
  }
  return out;
}
