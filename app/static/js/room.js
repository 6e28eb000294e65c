// The visit room: waiting room, then a 1:1 WebRTC call. Socket.IO carries only the
// signaling (offer/answer/ICE) between admitted participants; media goes peer to peer.
// Negotiation follows the "perfect negotiation" pattern: the host is impolite, so a
// glare (both offering at once) always resolves the same way.
//
// No idle sign-out while the room is open: a consultation has long stretches without a
// key press. The page keeps the session alive instead (keepalive, below).
//
// A guest (a patient from their link; back_url null) has no account and no dashboard: their
// waiting room previews their camera and microphone and shows the appointment; hanging up
// leaves the page where it is, with a way back in. The host of a booked visit (one with an
// appointment) can leave it to a colleague (Leave session) or end it (End consultation).
import { io } from "/static/vendor/socket.io.esm.min.js";
import { api, errorMessage, followSignOut, isBusy, setBusy, showError, watchIdle } from "./live.js";
import { connectPeople } from "./people.js";

const config = JSON.parse(document.getElementById("room-config").textContent);
const visitId = config.visit.id;
const isHost = config.me.role === "host";
const isGuest = config.back_url === null;
const booked = Boolean(config.appointment);
const polite = !isHost;
const remoteVideo = document.getElementById("remote-video");
const localVideo = document.getElementById("local-video");
const overlay = document.getElementById("overlay");
const statusText = document.getElementById("room-status");
const errorBox = document.getElementById("room-error");
const soundButton = document.getElementById("sound");
const controls = document.getElementById("controls");
const muteButton = document.getElementById("mute");
const cameraButton = document.getElementById("camera");
const remoteMuted = document.getElementById("remote-muted");
const remoteCameraOff = document.getElementById("remote-camera-off");
const stage = document.getElementById("stage");
const micCheck = document.getElementById("mic-check");
const micLevel = document.getElementById("mic-level");
const appointmentFacts = document.getElementById("appointment-facts");
// A guest's messages from the clinic, shown wherever the appointment is.
const waitingMessages = document.getElementById("waiting-messages");
// Visits in these states have a room to enter; any other opens as its end state. A booked
// visit is "scheduled" until its first arrival opens it.
const LIVE_STATES = ["scheduled", "open", "in_call"];
// What visit_ended says, by its reason.
const ENDINGS = {
  ended: {
    title: "The consultation has ended",
    guest: "Thank you for attending. You can close this page.",
  },
  cancelled: {
    title: "This appointment was cancelled",
    guest: "The clinic cancelled it. If you need a new appointment, contact them.",
  },
  completed: {
    title: "This appointment is over",
    guest: "The clinic marked it as complete. If you need to speak to them again, contact them.",
  },
};
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
// What each other participant said they have switched off (media_state), by socket id.
// Kept apart from the call: their state can arrive before the call with them is set up.
const remoteMedia = new Map();

function show(title, text, status = title) {
  document.getElementById("overlay-title").textContent = title;
  document.getElementById("overlay-text").textContent = text || "";
  overlay.hidden = false;
  statusText.textContent = status;
}

/** The page's last state: nothing running, no controls, a way back (a guest has none). */
function finish(title, text) {
  ended = true;
  closePeer();
  stopMedia();
  show(title, text);
  showWaitingRoom(false);
  if (appointmentFacts) appointmentFacts.hidden = true;
  if (waitingMessages) waitingMessages.hidden = true;
  controls.hidden = true;
  localVideo.hidden = true;
  const back = document.getElementById("overlay-back");
  if (back) back.hidden = false;
  document.getElementById("end-dialog")?.close(); // nothing left to end
  people?.stop();
  hideNotice();
  socket.disconnect();
}

/** A guest's waiting room: their camera's preview beside the appointment. */
function showWaitingRoom(on) {
  if (!isGuest) return;
  stage.classList.toggle("is-waiting", on);
  if (appointmentFacts) appointmentFacts.hidden = !on;
  if (waitingMessages) waitingMessages.hidden = !on;
  fitStage();
}

/** A waiting room taller than the window shows (a short window, several messages) scrolls
 * within the stage: it then takes the keyboard's focus too, so it can be scrolled without
 * a mouse. */
function fitStage() {
  const scrolls = stage.classList.contains("is-waiting") && stage.scrollHeight > stage.clientHeight + 1;
  if (scrolls === (stage.getAttribute("role") === "region")) return;
  if (scrolls) {
    stage.tabIndex = 0;
    stage.setAttribute("role", "region");
    stage.setAttribute("aria-label", "Waiting room");
  } else {
    for (const name of ["tabindex", "role", "aria-label"]) stage.removeAttribute(name);
  }
}
if (isGuest) new ResizeObserver(fitStage).observe(stage);

// One-way messages from the clinic's staff to the waiting room: those written before we
// came (in join_visit's answer) and each new one (waiting_message), oldest first, each
// once (a rejoin answers with all of them again).
const messageList = document.getElementById("waiting-message-list");
const messageTime = new Intl.DateTimeFormat("en-GB", {
  timeZone: config.appointment?.timezone, hour: "2-digit", minute: "2-digit",
});

function showMessages(messages, live = false) {
  if (!messageList) return;
  const order = (el) => [Date.parse(el.dataset.at), Number(el.dataset.id)];
  for (const message of messages) {
    if (messageList.querySelector(`[data-id="${Number(message.id)}"]`)) continue;
    const item = document.createElement("li");
    item.className = "waiting-message";
    item.dataset.id = message.id;
    item.dataset.at = message.at;
    const meta = document.createElement("p");
    meta.className = "waiting-message-meta";
    const at = document.createElement("time");
    at.dateTime = message.at;
    at.textContent = messageTime.format(new Date(message.at));
    meta.append(`${message.author}, `, at);
    const text = document.createElement("p");
    text.className = "waiting-message-text";
    text.textContent = message.text;
    item.append(meta, text);
    const [at0, id0] = order(item);
    const later = [...messageList.children].find((el) => {
      const [at1, id1] = order(el);
      return at1 > at0 || (at1 === at0 && id1 > id0);
    });
    messageList.insertBefore(item, later ?? null);
    // Written now: in view (its live region reads it out). Beside the preview the list
    // scrolls in its own box; on a phone the page scrolls.
    if (live && !waitingMessages.hidden) {
      if (messageList.scrollHeight > messageList.clientHeight) {
        messageList.scrollTop = messageList.scrollHeight;
      } else {
        item.scrollIntoView({ block: "nearest" });
      }
    }
  }
  document.getElementById("waiting-messages-title").hidden = messageList.children.length === 0;
  fitStage();
}

/** Who is at the other end: a guest learns it when a provider takes them. */
function setOtherName(name) {
  if (!name || name === config.other_name) return;
  config.other_name = name;
  for (const element of document.querySelectorAll(".other-name")) element.textContent = name;
  remoteVideo.setAttribute("aria-label", `${name} video`);
}

function hideOverlay(status) {
  overlay.hidden = true;
  statusText.textContent = status;
}

async function startMedia() {
  try {
    localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
    mark("camera_ready");
    // A new stream (a guest coming back) keeps what the buttons say is switched off.
    for (const track of localStream.getAudioTracks()) track.enabled = muteButton.getAttribute("aria-pressed") !== "true";
    for (const track of localStream.getVideoTracks()) track.enabled = cameraButton.getAttribute("aria-pressed") !== "true";
    localVideo.srcObject = localStream;
    startMicCheck(localStream);
  } catch (error) {
    localStream = new MediaStream();
    showError(errorBox, "Your camera or microphone is blocked or missing. Others will not see or hear you; allow access in the browser and reload.");
    muteButton.disabled = true;
    cameraButton.disabled = true;
  }
  // The page may have ended while the camera started (join refused, visit ended).
  if (ended) stopMedia();
}

const socket = io({ transports: ["websocket", "polling"], autoConnect: false });
// The host's session information panel (people.js): who waits, who is in the call.
const people = isHost ? connectPeople({ socket, visitId, me: config.me }) : null;

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
  renderRemoteMedia();
}

/** What we send: on unless switched off, or missing (a blocked camera sends no picture). */
function localMedia() {
  const on = (tracks, button) => tracks?.length !== 0 && button.getAttribute("aria-pressed") !== "true";
  return {
    audio: on(localStream?.getAudioTracks(), muteButton),
    video: on(localStream?.getVideoTracks(), cameraButton),
  };
}

// Tell the others in the call what we have switched off; the server relays it to them.
function sendMediaState() {
  if (socket.connected && !ended) socket.emit("media_state", { visit_id: visitId, ...localMedia() });
}

function renderRemoteMedia() {
  const state = (remoteSid && remoteMedia.get(remoteSid)) || { audio: true, video: true };
  remoteMuted.hidden = state.audio !== false;
  remoteCameraOff.hidden = state.video !== false;
}

socket.on("waiting_message", (message) => showMessages([message], true));

socket.on("media_state", ({ sid, audio, video }) => {
  remoteMedia.set(sid, { audio, video });
  renderRemoteMedia();
});

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
  renderRemoteMedia();
  sendMediaState(); // someone new in the call: they learn what we have switched off
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
  if (stats.presence === "waiting") return; // from a call we were moved out of
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
      finish(isGuest ? "You cannot join this appointment" : "You cannot join this session", answer.error.message);
      return;
    }
    stats.presence = answer.presence;
    mark(`joined_${answer.presence}`);
    people?.reload(); // in the visit's rooms now: every change from here on reaches us
    showMessages(answer.messages ?? []);
    if (answer.presence === "admitted") {
      showWaitingRoom(false);
      if (!pc) show(`Waiting for ${config.other_name}`, isHost
        ? "They will join as soon as they enter the waiting room."
        : "The call starts in a moment.");
    } else {
      showWaiting();
    }
  });
}

function showWaiting(text) {
  if (isGuest) {
    show(
      "Please wait, your provider will let you in soon.",
      text || "Please stay on this page: your call starts here. Meanwhile, check that your camera shows you and that the microphone level moves when you speak.",
      "You are in the waiting room",
    );
    showWaitingRoom(true);
    return;
  }
  show("You are in the waiting room", `${config.other_name} will start the meeting shortly. Please stay on this page.`);
}

socket.on("connect", () => { mark("socket_connected"); join(); });
socket.on("disconnect", (reason) => {
  if (ended) return;
  // Closed by the server: socket.io does not retry by itself; one try finds out why.
  if (reason === "io server disconnect") setTimeout(() => socket.connect(), 1000);
  closePeer();
  show("Connection lost", "Reconnecting to the session…");
});
socket.on("connect_error", (error) => {
  if (error?.message !== "unauthorized") return;
  // A guest's link stopped opening the visit (it ended, or was cancelled): the link itself,
  // opened again, says which. Staff sign in again.
  if (isGuest) window.location.reload();
  else window.location.assign("/auth/login");
});
if (isGuest) {
  socket.on("signed_out", () => {
    if (ended) return;
    ended = true;
    socket.disconnect();
    window.location.reload();
  });
} else {
  followSignOut(socket);
}
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

// Which hosts are in the call, as this page last heard. Kept apart from the call's queue
// (below): the news of a host leaving, published with our own move back, is then in by
// the time we say why we are waiting again.
const hostsInCall = new Set(
  (config.visit.participants ?? []).filter((p) => p.role === "host" && p.presence === "admitted").map((p) => p.id),
);
socket.on("participant_updated", ({ participant } = {}) => {
  if (participant?.role !== "host") return;
  if (participant.presence === "admitted") hostsInCall.add(participant.id);
  else hostsInCall.delete(participant.id);
});

socket.on("participant_updated", inOrder(async ({ participant }) => {
  // A provider taking a guest enters the call just before admitting them: that is who
  // the guest is about to see.
  if (!isHost && participant.role === "host" && participant.presence === "admitted") {
    setOtherName(participant.name);
  }
  if (participant.id !== config.me.participant_id || ended) return;
  if (participant.presence === "removed") {
    // The host denied us from the waiting room, or removed us from the call: a guest's link
    // stops working, and the signed_out that follows must not replace these words (ended).
    const back = isGuest ? "" : " You can return to your dashboard.";
    if (stats.presence === "waiting") {
      finish("The host did not let you in", isGuest
        ? "Your link no longer opens this appointment. If you think this is a mistake, contact the clinic."
        : `You cannot join this session.${back}`);
    } else {
      finish("You were removed from this session", isGuest
        ? "The host ended your part in this consultation, and your link no longer opens it. You can close this page."
        : `The host ended your part in this session.${back}`);
    }
    stats.presence = "removed";
    return;
  }
  if (participant.presence === "admitted" && stats.presence === "waiting") {
    // We were admitted: take our place in the call room, once. Our own re-join announces
    // "admitted" again before its answer arrives; a second join would make the host start
    // a second call over the first.
    stats.presence = "joining";
    join();
  } else if (participant.presence === "waiting" && stats.presence === "admitted") {
    // Back in the waiting room: the host moved us back, or left the call.
    stats.presence = "waiting";
    mark("moved_back");
    closePeer();
    // A host leaving is published with our own move: let that news arrive first.
    await new Promise((resolve) => setTimeout(resolve, 300));
    if (ended || stats.presence !== "waiting") return;
    if (hostsInCall.size > 0) {
      show(
        "The host moved you back to the waiting room",
        "Please stay on this page: the call starts again when they let you in.",
        "You are in the waiting room",
      );
      showWaitingRoom(true);
      return;
    }
    if (isGuest) {
      // A booked visit's provider may hand the patient to a colleague: not "when they return".
      showWaiting(`${config.other_name} left the call. You are back in the waiting room; please stay on this page.`);
      return;
    }
    show(
      `${config.other_name} left the call`,
      "You are back in the waiting room. The call starts again when they return; please stay on this page.",
      "You are in the waiting room",
    );
  }
}));
socket.on("peer_joined", inOrder(({ sid }) => {
  // Only the admitted make calls; a late announcement must not start one from the waiting room.
  if (stats.presence === "waiting") return;
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
  let next = "Please wait here; they may come back.";
  if (booked && isHost) next = "They may come back. You can wait here, leave the session or end the consultation.";
  else if (isHost) next = "You can wait here or hang up.";
  show(`${config.other_name} left the call`, next);
}));
socket.on("signal", inOrder(onSignal));
socket.on("visit_ended", ({ reason } = {}) => {
  const ending = ENDINGS[reason] ?? ENDINGS.ended;
  if (isGuest) finish(ending.title, ending.guest);
  else if (booked) finish(ending.title, "You can return to the schedule.");
  else finish("This session has ended", "Thank you. You can return to your dashboard.");
});

function stopMedia() {
  stopMicCheck();
  for (const track of localStream?.getTracks() ?? []) track.stop();
}

// The microphone half of a guest's preview: a level that moves when they speak.
let micMeter = null;
function startMicCheck(stream) {
  if (!micCheck || !stream.getAudioTracks().length) return;
  stopMicCheck();
  try {
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const timer = setInterval(() => {
      if (!stage.classList.contains("is-waiting")) return;
      if (context.state === "suspended") context.resume().catch(() => {});
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const sample of samples) sum += sample * sample;
      const decibels = 20 * Math.log10(Math.sqrt(sum / samples.length) || 1e-6);
      micLevel.value = Math.max(0, Math.min(1, (decibels + 60) / 50)); // -60 dB silent, -10 dB loud
    }, 100);
    micMeter = { context, timer };
    micCheck.hidden = false;
  } catch {
    micMeter = null; // no Web Audio here: the preview shows the picture only
  }
}

function stopMicCheck() {
  if (micCheck) micCheck.hidden = true;
  if (!micMeter) return;
  clearInterval(micMeter.timer);
  micMeter.context.close().catch(() => {});
  micMeter = null;
}

function setMuted(muted) {
  for (const track of localStream?.getAudioTracks() ?? []) track.enabled = !muted;
  muteButton.setAttribute("aria-pressed", String(muted));
  muteButton.textContent = muted ? "Unmute" : "Mute";
  sendMediaState();
  if (!muted) hideNotice(); // "asked you to mute" is over
}
muteButton.addEventListener("click", () => setMuted(muteButton.getAttribute("aria-pressed") !== "true"));

// What the host did that concerns this page, in the corner until dismissed (or moot).
const notice = document.getElementById("room-notice");
function notify(text) {
  document.getElementById("room-notice-text").textContent = text;
  notice.hidden = false;
  const announcer = document.getElementById("room-announce");
  announcer.textContent = "";
  setTimeout(() => { announcer.textContent = text; }, 50); // the same words twice: read twice
}
function hideNotice() {
  notice.hidden = true;
}
document.getElementById("room-notice-close").addEventListener("click", () => {
  hideNotice();
  muteButton.focus();
});

// The host asked us to mute: muted as the Mute button does it, and told so.
socket.on("mute_requested", ({ by } = {}) => {
  if (ended) return;
  setMuted(true);
  notify(`${by || "The host"} asked you to mute. You can unmute when you need to.`);
});
cameraButton.addEventListener("click", () => {
  const off = cameraButton.getAttribute("aria-pressed") !== "true";
  for (const track of localStream?.getVideoTracks() ?? []) track.enabled = !off;
  cameraButton.setAttribute("aria-pressed", String(off));
  cameraButton.textContent = off ? "Camera on" : "Camera off";
  sendMediaState();
});
/** Hang up and go back to the dashboard (or the schedule); the visit goes on without us. */
function leaveAndGoBack(to = config.back_url) {
  ended = true;
  socket.emit("leave_visit", { visit_id: visitId }, () => {
    closePeer();
    stopMedia();
    socket.disconnect();
    window.location.assign(to);
  });
  setTimeout(() => window.location.assign(to), 1500);
}

// Following a link away from the room (Back to dashboard, the menu) is leaving it: the
// others see them go at once. Only a dropped connection (a reload, a network cut, a
// closed tab) keeps their place for the grace period. The visit's own files open in
// place and are not a departure.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (!link || ended || event.defaultPrevented || event.button !== 0) return;
  if (event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  if (link.target === "_blank" || link.hasAttribute("download")) return;
  const url = new URL(link.href, window.location.href);
  if (url.origin !== window.location.origin) return;
  if (url.pathname === window.location.pathname || url.pathname.startsWith(`/visits/${visitId}/`)) return;
  event.preventDefault();
  leaveAndGoBack(url.href);
});

/** A guest hangs up: out of the waiting room or call, camera off, with a way back in. */
function leaveAsGuest() {
  ended = true;
  stats.presence = "left";
  let done = false;
  const left = () => {
    if (done) return;
    done = true;
    closePeer();
    stopMedia();
    socket.disconnect(); // the server counts a closed connection as gone, if the leave was lost
    show(
      "You left the waiting room",
      "If you left by mistake, you can go back in while your appointment is open.",
    );
    showWaitingRoom(false);
    if (appointmentFacts) appointmentFacts.hidden = false;
    if (waitingMessages) waitingMessages.hidden = false;
    controls.hidden = true;
    localVideo.hidden = true;
    document.getElementById("overlay-return").hidden = false;
    document.getElementById("rejoin").focus();
  };
  socket.timeout(1500).emit("leave_visit", { visit_id: visitId }, left);
}

/** A guest goes back in: the camera again, then the waiting room (or the call). */
function returnAsGuest() {
  ended = false;
  stats.presence = null;
  document.getElementById("overlay-return").hidden = true;
  controls.hidden = false;
  localVideo.hidden = false;
  showWaitingRoom(true);
  show("Starting your camera…", "", "Connecting…");
  document.getElementById("hangup").focus();
  mediaReady = startMedia();
  socket.connect();
}

document.getElementById("hangup")?.addEventListener("click", () => {
  if (isGuest) leaveAsGuest();
  else leaveAndGoBack();
});
document.getElementById("rejoin")?.addEventListener("click", returnAsGuest);
document.getElementById("leave")?.addEventListener("click", () => leaveAndGoBack());

// End consultation: asked once more in a dialog, since it ends the visit for everyone.
const endDialog = document.getElementById("end-dialog");
if (endDialog) {
  const endError = document.getElementById("end-error");
  const confirmButton = document.getElementById("end-confirm");
  document.getElementById("end").addEventListener("click", () => {
    showError(endError, "");
    endDialog.showModal();
  });
  document.getElementById("end-cancel").addEventListener("click", () => endDialog.close());
  confirmButton.addEventListener("click", async () => {
    if (isBusy(confirmButton)) return;
    setBusy(endDialog, true);
    const result = await api("POST", `/api/v1/visits/${visitId}/end`);
    setBusy(endDialog, false);
    // 409: it ended already (a colleague, or the clinic): everyone has hung up either way.
    if (!result.ok && result.status !== 409) {
      showError(endError, errorMessage(result));
      return;
    }
    ended = true;
    endDialog.close();
    closePeer();
    stopMedia();
    socket.disconnect();
    window.location.assign(config.back_url);
  });
}

/**
 * Keep the session alive while the room is open: the server counts a keepalive as activity.
 * Every minute, or every third of the idle time when that is shorter, so two can be lost.
 */
function keepAlive() {
  const minutes = Number(document.querySelector('meta[name="idle-minutes"]')?.content) || 0;
  const every = minutes > 0 ? Math.min(60_000, (minutes * 60_000) / 3) : 60_000;
  stats.keepaliveEvery = every;
  setInterval(() => {
    if (socket.connected && !ended) socket.emit("keepalive", {});
  }, every);
}

// A visit that is over: the page was rendered as its end state; never start the camera.
let mediaReady = Promise.resolve();
if (LIVE_STATES.includes(config.visit.state)) {
  show("Starting your camera…", "");
  mediaReady = startMedia();
  socket.connect();
  keepAlive();
} else {
  ended = true;
  watchIdle(); // nothing to keep alive on a page with no call
}
