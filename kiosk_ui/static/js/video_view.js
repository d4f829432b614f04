// What the staff page, the guest page and the TV share once a person is let into a visit:
// join through Wardline (POST /api/v1/visits/{id}/join), then Janus with the answer; the
// other participants' pictures in a box, one's own small. `window.videoStats()` tells what the
// browser receives (frames decoded, audio packets, relayed or not): support staff read it in
// the browser's console, the browser tests through it.
import { api } from "./wardline.js";
import { joinRoom, mediaStats } from "./janus_room.js";

function remoteVideo(box, id) {
  let video = box.querySelector(`video[data-feed="${id}"]`);
  if (!video) {
    video = document.createElement("video");
    video.dataset.feed = String(id);
    video.autoplay = true;
    video.playsInline = true;
    video.className = "remote-video";
    // When the first picture of anyone is on screen (Date.now(): the benchmark reads it).
    video.requestVideoFrameCallback?.(() => { window.videoFirstFrameAt ??= Date.now(); });
    box.append(video);
  }
  return video;
}

/**
 * Join visit `visitId` (the join call is `joinPath`, the TV's or anyone's) and show it.
 * Resolves to `{ leave(), visit }`; `onEnd(reason)` when Janus is lost or the room goes.
 */
export async function enterVisit(visitId, { remotes, local, onEnd, joinPath }) {
  window.videoFirstFrameAt = undefined;
  const join = await api("POST", joinPath ?? `/visits/${visitId}/join`);
  let visit = null;
  visit = await joinRoom(join, {
    onLocal: (stream) => { if (local) local.srcObject = stream; },
    onRemote: (id, stream) => {
      const video = remoteVideo(remotes, id);
      if (video.srcObject !== stream) video.srcObject = stream;
      video.play().catch(() => { video.muted = true; video.play().catch(() => {}); });
    },
    onRemoteGone: (id) => remotes.querySelector(`video[data-feed="${id}"]`)?.remove(),
    onEnd: (reason) => onEnd?.(reason),
  });
  window.videoStats = () => mediaStats(visit.peers());
  return {
    visit,
    async leave() {
      delete window.videoStats;
      delete window.videoFirstFrameAt;
      for (const v of remotes.querySelectorAll("video")) v.remove();
      if (local) local.srcObject = null;
      await visit.leave();
    },
  };
}
