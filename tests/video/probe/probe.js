// The probe page of tests/video/test_janus_module.py: joins the room of the join answer in
// the page's JSON with kiosk_ui's janus_room.js, and keeps what it sees for the test.
import { joinRoom, mediaStats } from "/static/js/janus_room.js";

const join = JSON.parse(document.getElementById("join").textContent);
const relay = new URLSearchParams(location.search).get("relay") === "1";
const box = document.getElementById("remotes");
const manual = new URLSearchParams(location.search).get("manual") === "1";
window.probe = { state: manual ? "ready" : "joining", remotes: 0, ended: null };

async function run() {
window.probe.state = "joining";
try {
  const visit = await joinRoom(join, {
    forceRelay: relay,
    onRemote: (id, stream) => {
      let video = document.getElementById(`feed-${id}`);
      if (!video) {
        video = document.createElement("video");
        video.id = `feed-${id}`;
        video.autoplay = true;
        video.playsInline = true;
        video.requestVideoFrameCallback(() => { window.probe.firstFrameAt ??= Date.now(); });
        box.append(video);
        window.probe.remotes += 1;
      }
      video.srcObject = stream;
    },
    onRemoteGone: (id) => { document.getElementById(`feed-${id}`)?.remove(); window.probe.remotes -= 1; },
    onEnd: (reason) => { window.probe.ended = reason; },
  });
  window.probe.state = "joined";
  window.videoStats = () => mediaStats(visit.peers());
  window.probe.leave = () => visit.leave();
} catch (err) {
  window.probe.state = "failed";
  window.probe.error = `${err.code ?? ""} ${err.message}`;
}
}

// ?manual=1: the page is loaded, the join starts when window.probe.start() is called (the
// benchmark's baseline times the join only, like the visit's own timing).
if (manual) window.probe.start = () => { run(); };
else await run();
