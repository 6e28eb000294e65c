// The visit room: waiting room, then a 1:1 WebRTC call. Socket.IO carries only the
// signaling (offer/answer/ICE) between admitted participants; media goes peer to peer.
// Negotiation follows the "perfect negotiation" pattern: the host is impolite, so a
// glare (both offering at once) always resolves the same way.
import { io } from "/static/vendor/socket.io.esm.min.js";
import { showError, watchIdle } from "./live.js";

const config = JSON.parse(document.getElementById("room-config").textContent);
const visitId = config.visit.id;
const isHost = config.me.role === "host";
const polite = !isHost;
const remoteVideo = document.getElementById("remote-video");
const localVideo = document.getElementById("local-video");
const overlay = document.getElementById("overlay");
const statusText = document.getElementById("room-status");
const errorBox = document.getElementById("room-error");
const soundButton = document.getElementById("sound");
const stats = (window.anteroomCall = {
  presence: null, firstRemoteFrameAt: null, connected: false, marks: {},
});
// What this page receives, per kind, from the call's own statistics (used by the tests).
stats.received = async () => {
  const seen = {};
  for (const report of (await pc?.getStats())?.values() ?? []) {
    if (report.type !== "inbound-rtp") continue;
    seen[report.kind] = {
      packets: report.packetsReceived ?? 0,
      framesDecoded: report.framesDecoded ?? 0,
      samples: report.totalSamplesReceived ?? 0,
    };
  }
  return seen;
};
// Milliseconds since navigation for each step of call setup, for bench/call_setup.
function mark(name) {
  stats.marks[name] ??= Math.round(performance.now());
}

let localStream = null;
let pc = null;
let remoteSid = null;
let makingOffer = false;
let ignoreOffer = false;
let ended = false;

function show(title, text) {
  document.getElementById("overlay-title").textContent = title;
  document.getElementById("overlay-text").textContent = text || "";
  overlay.hidden = false;
  statusText.textContent = title;
}

function hideOverlay(status) {
  overlay.hidden = true;
  statusText.textContent = status;
}

async function startMedia() {
  try {
    localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
    mark("camera_ready");
    localVideo.srcObject = localStream;
  } catch (error) {
    localStream = new MediaStream();
    showError(errorBox, "Your camera or microphone is blocked or missing. Others will not see or hear you; allow access in the browser and reload.");
    document.getElementById("mute").disabled = true;
    document.getElementById("camera").disabled = true;
  }
}

const socket = io({ transports: ["websocket", "polling"], autoConnect: false });

function send(data) {
  if (remoteSid) socket.emit("signal", { visit_id: visitId, to: remoteSid, data });
}

function closePeer() {
  if (pc) pc.close();
  earlyCandidates.delete(remoteSid);
  pc = null;
  remoteSid = null;
  remoteVideo.srcObject = null;
  remoteVideo.muted = false;
  soundButton.hidden = true;
  stats.connected = false;
}

function playRemote() {
  remoteVideo.play().catch((error) => {
    if (error?.name !== "NotAllowedError") return; // AbortError: a newer stream took over
    // The browser will not play sound before the page is pressed (it allows it while the
    // camera is on, so this is someone without one). Show the picture now, muted, and
    // offer the sound with one press.
    remoteVideo.muted = true;
    remoteVideo.play().catch(() => {});
    soundButton.hidden = false;
  });
}

soundButton.addEventListener("click", () => {
  remoteVideo.muted = false;
  remoteVideo.play().catch(() => {});
  soundButton.hidden = true;
});

function createPeer(sid, addTracks) {
  closePeer();
  remoteSid = sid;
  pc = new RTCPeerConnection({ iceServers: config.ice_servers });
  const peer = pc;
  peer.onicecandidate = ({ candidate }) => { if (peer === pc) send({ candidate }); };
  peer.ontrack = ({ streams, track }) => {
    const stream = streams[0] || new MediaStream([track]);
    if (remoteVideo.srcObject !== stream) {
      remoteVideo.srcObject = stream;
      playRemote();
    }
    if (track.kind === "video") watchFirstFrame();
  };
  peer.onconnectionstatechange = () => {
    if (peer !== pc) return;
    if (peer.connectionState === "connected") {
      mark("connected");
      stats.connected = true;
      hideOverlay(`In the meeting with ${config.other_name}`);
    } else if (peer.connectionState === "failed") {
      show("Connection problem", "Trying to reconnect the call…");
      peer.restartIce();
    }
  };
  peer.onnegotiationneeded = async () => {
    try {
      makingOffer = true;
      await peer.setLocalDescription();
      if (peer === pc) send({ description: peer.localDescription.toJSON() });
      mark("offer_sent");
    } catch (error) {
      showError(errorBox, `Could not start the call: ${error.message}`);
    } finally {
      makingOffer = false;
    }
  };
  if (addTracks) {
    addLocalTracks();
    // Without a camera or microphone we still offer to receive, or no offer would start.
    for (const kind of ["audio", "video"]) {
      if (!localStream.getTracks().some((t) => t.kind === kind)) {
        peer.addTransceiver(kind, { direction: "recvonly" });
      }
    }
  }
  return peer;
}

function addLocalTracks() {
  for (const track of localStream.getTracks()) pc.addTrack(track, localStream);
}

function watchFirstFrame() {
  if (stats.firstRemoteFrameAt || !("requestVideoFrameCallback" in remoteVideo)) return;
  remoteVideo.requestVideoFrameCallback(() => {
    stats.firstRemoteFrameAt = performance.timeOrigin + performance.now();
    mark("first_remote_frame");
  });
}

// ICE candidates that arrive before the description they belong to wait here, per sender.
const earlyCandidates = new Map();

async function addCandidates(from) {
  const waiting = earlyCandidates.get(from) ?? [];
  earlyCandidates.delete(from);
  for (const candidate of waiting) {
    try {
      await pc.addIceCandidate(candidate);
    } catch (error) {
      if (!ignoreOffer) throw error;
    }
  }
}

async function onSignal({ from, data }) {
  try {
    if (data.description) {
      if (!pc || remoteSid !== from) {
        if (data.description.type !== "offer") return; // an answer for a call we dropped
        // Answer first, then attach our tracks to the transceivers the offer created.
        createPeer(from, false);
        await pc.setRemoteDescription(data.description);
        addLocalTracks();
        await pc.setLocalDescription();
        send({ description: pc.localDescription.toJSON() });
        await addCandidates(from);
        return;
      }
      const collision = data.description.type === "offer" && (makingOffer || pc.signalingState !== "stable");
      ignoreOffer = !polite && collision;
      if (ignoreOffer) return;
      await pc.setRemoteDescription(data.description);
      if (data.description.type === "offer") {
        await pc.setLocalDescription();
        send({ description: pc.localDescription.toJSON() });
      }
      await addCandidates(from);
    } else if (data.candidate !== undefined) {
      earlyCandidates.set(from, [...(earlyCandidates.get(from) ?? []), data.candidate]);
      if (pc && remoteSid === from && pc.remoteDescription) await addCandidates(from);
    }
  } catch (error) {
    showError(errorBox, `Call setup failed: ${error.message}`);
  }
}

function join() {
  socket.emit("join_visit", { visit_id: visitId }, (answer) => {
    if (answer?.error) {
      ended = true;
      show("You cannot join this session", answer.error.message);
      return;
    }
    stats.presence = answer.presence;
    mark(`joined_${answer.presence}`);
    if (answer.presence === "admitted") {
      if (!pc) show(`Waiting for ${config.other_name}`, isHost
        ? "They will join as soon as they enter the waiting room."
        : "The call starts in a moment.");
    } else {
      show("You are in the waiting room", `${config.other_name} will start the meeting shortly. Please stay on this page.`);
    }
  });
}

socket.on("connect", () => { mark("socket_connected"); join(); });
socket.on("disconnect", () => {
  if (ended) return;
  closePeer();
  show("Connection lost", "Reconnecting to the session…");
});
socket.on("connect_error", (error) => {
  if (error?.message === "unauthorized") window.location.assign("/auth/login");
});
socket.on("participant_updated", ({ participant }) => {
  if (participant.id === config.me.participant_id && participant.presence === "admitted" && stats.presence === "waiting") {
    // We were admitted: take our place in the call room, once. Our own re-join announces
    // "admitted" again before its answer arrives; a second join would make the host start
    // a second call over the first.
    stats.presence = "joining";
    join();
  }
});
// Call events are handled one at a time, in arrival order, and only once the camera is
// ready: the socket connects while the camera starts, and an ICE candidate must never
// overtake the offer it belongs to.
let callWork = Promise.resolve();
function inOrder(handler) {
  return (message) => {
    callWork = callWork
      .then(() => mediaReady)
      .then(() => handler(message))
      .catch((error) => showError(errorBox, `Call setup failed: ${error.message}`));
  };
}

socket.on("peer_joined", inOrder(({ sid }) => {
  // The same connection announced twice: the call with it is already under way.
  if (pc && sid === remoteSid && !["failed", "closed"].includes(pc.connectionState)) return;
  // We were here first: we make the offer (negotiationneeded fires when tracks are added).
  mark("peer_joined");
  createPeer(sid, true);
  show(`Connecting to ${config.other_name}…`, "");
}));
socket.on("peer_left", inOrder(({ sid }) => {
  if (sid !== remoteSid) return;
  closePeer();
  show(`${config.other_name} left the call`, isHost ? "You can wait here or hang up." : "Please wait here; they may come back.");
}));
socket.on("signal", inOrder(onSignal));
socket.on("visit_ended", () => {
  ended = true;
  closePeer();
  stopMedia();
  show("This session has ended", "Thank you. You can return to your dashboard.");
  document.getElementById("controls").hidden = true;
  socket.disconnect();
});

function stopMedia() {
  for (const track of localStream?.getTracks() ?? []) track.stop();
}

document.getElementById("mute").addEventListener("click", (event) => {
  const button = event.currentTarget;
  const muted = button.getAttribute("aria-pressed") !== "true";
  for (const track of localStream.getAudioTracks()) track.enabled = !muted;
  button.setAttribute("aria-pressed", String(muted));
  button.textContent = muted ? "Unmute" : "Mute";
});
document.getElementById("camera").addEventListener("click", (event) => {
  const button = event.currentTarget;
  const off = button.getAttribute("aria-pressed") !== "true";
  for (const track of localStream.getVideoTracks()) track.enabled = !off;
  button.setAttribute("aria-pressed", String(off));
  button.textContent = off ? "Camera on" : "Camera off";
});
document.getElementById("hangup").addEventListener("click", () => {
  ended = true;
  socket.emit("leave_visit", { visit_id: visitId }, () => {
    closePeer();
    stopMedia();
    socket.disconnect();
    window.location.assign(config.back_url);
  });
  setTimeout(() => window.location.assign(config.back_url), 1500);
});

show("Starting your camera…", "");
const mediaReady = startMedia();
socket.connect();
watchIdle();
