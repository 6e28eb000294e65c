// The visit room: waiting room, then the call. The call's media (one RTCPeerConnection per
// other person, a tile each, perfect negotiation, ICE restarts) is call.js; this page
// decides what the stage says around it. Socket.IO carries only the signaling between
// admitted participants; media goes peer to peer.
//
// A dropped connection is not the end: socket.io-client reconnects by itself, the page
// joins again and takes its place in the same call (the server keeps it for a grace
// period), and the others call its new connection. A reload does the same.
//
// No idle sign-out while the room is open: a consultation has long stretches without a
// key press. The page keeps the session alive instead (keepalive, below).
//
// A guest (a patient from their link; back_url null) has no account and no dashboard: their
// waiting room previews their camera and microphone and shows the appointment; hanging up
// leaves the page where it is, with a way back in. A host's Hang up asks what they mean
// (hangup.js): hand the session to a colleague, leave it, or end it for everyone. What the
// page sends (devices, a shared screen, the blur) is media.js.
import { io } from "/static/vendor/socket.io.esm.min.js";
import { api, errorMessage, followSignOut, isBusy, setBusy, showError, watchIdle } from "./live.js";
import { connectPeople } from "./people.js";
import { connectChat } from "./chat.js";
import { connectSnapshots } from "./snapshot.js";
import { createCall } from "./call.js";
import { createMedia } from "./media.js";
import { connectHangUp } from "./hangup.js";

const config = JSON.parse(document.getElementById("room-config").textContent);
const visitId = config.visit.id;
const isHost = config.me.role === "host";
const isGuest = config.back_url === null;
const booked = Boolean(config.appointment);
const localVideo = document.getElementById("local-video");
const overlay = document.getElementById("overlay");
const statusText = document.getElementById("room-status");
const errorBox = document.getElementById("room-error");
const controls = document.getElementById("controls");
const muteButton = document.getElementById("mute");
const cameraButton = document.getElementById("camera");
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
// What the tests and bench/call_setup read: received() and peers() come from call.js.
const stats = (window.anteroomCall = {
  presence: null, firstRemoteFrameAt: null, connected: false, marks: {},
});
// Milliseconds since navigation for each step of call setup, for bench/call_setup.
function mark(name) {
  stats.marks[name] ??= Math.round(performance.now());
}

let localStream = null;
let ended = false;

function show(title, text, status = title) {
  document.getElementById("overlay-title").textContent = title;
  document.getElementById("overlay-text").textContent = text || "";
  overlay.hidden = false;
  statusText.textContent = status;
}

/** The page's last state: nothing running, no controls, a way back (a guest has none). */
function finish(title, text) {
  ended = true;
  call.closeAll();
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
  hangUp.close();
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
}

async function startMedia() {
  try {
    // The devices chosen last time (media.js). A new stream (a guest coming back) keeps
    // what the buttons say is switched off.
    localStream = await media.start({
      muted: muteButton.getAttribute("aria-pressed") === "true",
      off: cameraButton.getAttribute("aria-pressed") === "true",
    });
    mark("camera_ready");
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
const people = isHost
  ? connectPeople({ socket, visitId, me: config.me, requestSnapshot: (id) => snapshots.request(id) })
  : null;
// Camera snapshots with consent: always a frame of the camera's own track (localStream's),
// never whatever the call sends instead (a shared screen).
const snapshots = connectSnapshots({
  socket, visitId, isHost, notify, cameraTrack: () => media.cameraTrack(),
});
// The chat for everyone in the call, and the host's private notes (chat.js).
const chat = connectChat({ socket, visitId, me: config.me, timeZone: config.appointment?.timezone });
// The call itself: a tile and a peer connection for each other person in it (call.js).
const call = createCall({
  socket,
  visitId,
  me: config.me,
  iceServers: config.ice_servers,
  participants: config.visit.participants,
  stats,
  mark,
  localTracks: () => media.outgoing(), // the screen, the blurred camera, or the camera
  fallbackName: () => config.other_name,
  onPeer: sendMediaState,
  onChange: renderCall,
  onDeparture: sayDeparture,
  onError: (message) => showError(errorBox, message),
});
// What we send (media.js): the camera and microphone chosen, a shared screen, the blur.
const media = createMedia({
  call,
  notify,
  announce,
  onChange: sendMediaState,
  onTracks: (stream) => { if (micMeter) startMicCheck(stream); },
});
// A host's Hang up: hand over, leave or end (hangup.js).
const hangUp = connectHangUp({
  socket,
  visitId,
  me: config.me,
  participants: config.visit.participants,
  otherName: () => config.other_name,
  leave: () => leaveAndGoBack(),
  end: () => openEndDialog(),
});

/** What we send: on unless switched off, or missing (a blocked camera sends no picture). */
function localMedia() {
  const on = (tracks, button) => tracks?.length !== 0 && button.getAttribute("aria-pressed") !== "true";
  return {
    audio: on(localStream?.getAudioTracks(), muteButton),
    video: media.sendsVideo(), // a shared screen is a picture even with the camera off
  };
}

// Tell the others in the call what we have switched off; the server relays it to them.
function sendMediaState() {
  if (socket.connected && !ended) socket.emit("media_state", { visit_id: visitId, ...localMedia() });
}

/** "A", "A and B", "A, B and C". */
function listed(names) {
  return names.length < 2 ? names.join("") : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

/** The stage while anyone else is in the call: their tiles speak for themselves; the status
 * line (read out) says who we are with, and who is being waited for. With nobody, the
 * overlay keeps what was last said (waiting for them, someone left, connection lost). */
function renderCall() {
  if (ended || stats.presence === "waiting") return;
  const tiles = call.summary();
  if (!tiles.length) return;
  overlay.hidden = true;
  const connected = tiles.filter((t) => t.state === "connected").map((t) => t.name);
  const reconnecting = tiles.filter((t) => t.state === "reconnecting").map((t) => t.name);
  const parts = [];
  if (connected.length) parts.push(`In the meeting with ${listed(connected)}`);
  if (reconnecting.length) parts.push(`${listed(reconnecting)} ${reconnecting.length > 1 ? "are" : "is"} reconnecting…`);
  if (!parts.length) parts.push(tiles[0].state === "restoring" ? `Reconnecting to ${tiles[0].name}…` : `Connecting to ${listed(tiles.map((t) => t.name))}…`);
  const status = parts.join(". ");
  if (statusText.textContent !== status) statusText.textContent = status;
}

// Someone left while others stay: a line on the stage for a few seconds, read out too.
const stageNote = document.getElementById("stage-note");
let stageNoteTimer = null;
function noteOnStage(text) {
  stageNote.textContent = text;
  stageNote.hidden = false;
  clearTimeout(stageNoteTimer);
  stageNoteTimer = setTimeout(() => { stageNote.hidden = true; }, 6000);
  announce(text);
}

/** Someone is out of the call: why, in honest words. The host moved them back or removed
 * them themselves (the People panel says so): no "they left" for that. */
function sayDeparture({ name, reason, remaining }) {
  if (ended || stats.presence === "waiting") return;
  if (remaining > 0) {
    if (isHost && reason !== "left") return;
    noteOnStage({
      left: `${name} left the call`,
      moved_back: `${name} went back to the waiting room`,
      removed: `${name} is no longer in the call`,
    }[reason]);
    return;
  }
  // Nobody else in the call any more: the whole stage says it, as in a call of two.
  if (reason === "moved_back" && isHost) {
    show(`${name} is back in the waiting room`, "Admit them from People when you are ready.");
  } else if (reason === "removed" && isHost) {
    show("No one else is in the call", "You can wait here, leave the session or end the consultation.");
  } else if (reason === "left") {
    let next = "Please wait here; they may come back.";
    if (isHost) next = "They may come back. You can wait here, leave the session or end the consultation.";
    show(`${name} left the call`, next);
  } else {
    show(`Waiting for ${config.other_name}`, "The call goes on when they are back.");
  }
}

socket.on("waiting_message", (message) => showMessages([message], true));
socket.on("media_state", (state) => call.mediaState(state));

function join() {
  socket.emit("join_visit", { visit_id: visitId }, (answer) => {
    if (answer?.error) {
      finish(isGuest ? "You cannot join this appointment" : "You cannot join this session", answer.error.message);
      return;
    }
    stats.presence = answer.presence;
    mark(`joined_${answer.presence}`);
    people?.reload(); // in the visit's rooms now: every change from here on reaches us
    chat?.reload(answer.presence);
    showMessages(answer.messages ?? []);
    if (answer.presence === "admitted") {
      showWaitingRoom(false);
      // Back after a dropped connection: the others call our new connection in a moment.
      if (!call.summary().length) show(`Waiting for ${config.other_name}`, isHost
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
  // The server counts this connection as gone (the others see us "reconnecting"); the next
  // one joins again and is called afresh, so every call of this one ends here.
  call.closeAll();
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
  call.know(participant); // the latest about everyone, for the words the call chooses later
  hangUp.know(participant); // who could take the session over
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
  if (stats.presence !== "waiting" && !ended) call.participantUpdated(participant);
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
    call.closeAll();
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
socket.on("peer_joined", inOrder((joined) => {
  // Only the admitted make calls; a late announcement must not start one from the waiting room.
  if (stats.presence === "waiting" || ended) return;
  call.peerJoined(joined); // we were here first: we call them
}));
socket.on("peer_left", inOrder((left) => call.peerLeft(left)));
socket.on("signal", inOrder((message) => {
  if (stats.presence === "waiting" || ended) return; // from a call we were moved out of
  return call.signal(message);
}));
socket.on("visit_ended", ({ reason } = {}) => {
  const ending = ENDINGS[reason] ?? ENDINGS.ended;
  if (isGuest) finish(ending.title, ending.guest);
  else if (booked) finish(ending.title, "You can return to the schedule.");
  else finish("This session has ended", "Thank you. You can return to your dashboard.");
});

function stopMedia() {
  stopMicCheck();
  media.stop(); // the camera, microphone, a shared screen and the blur
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
  announce(text);
}
function announce(text) {
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

// The host handed the session to a colleague in the call (hand_over_host): the colleague is
// told it is theirs now, and everyone else whom they carry on with.
socket.on("host_changed", ({ visit_id: changedVisit, host, name, by } = {}) => {
  if (ended || changedVisit !== visitId || !host) return;
  if (host.participant_id === config.me.participant_id) {
    notify(`${by || "The host"} handed this session to you. It is yours now: you end it when the consultation is over.`);
  } else if (!isHost) {
    setOtherName(name);
  }
});

// The host asked us to mute: muted as the Mute button does it, and told so.
socket.on("mute_requested", ({ by } = {}) => {
  if (ended) return;
  setMuted(true);
  notify(`${by || "The host"} asked you to mute. You can unmute when you need to.`);
});
cameraButton.addEventListener("click", () => {
  const off = cameraButton.getAttribute("aria-pressed") !== "true";
  media.setCameraOff(off); // the blurred picture too; a shared screen goes on
  cameraButton.setAttribute("aria-pressed", String(off));
  cameraButton.textContent = off ? "Camera on" : "Camera off";
  sendMediaState();
});
/** Hang up and go back to the dashboard (or the schedule); the visit goes on without us. */
function leaveAndGoBack(to = config.back_url) {
  ended = true;
  socket.emit("leave_visit", { visit_id: visitId }, () => {
    call.closeAll();
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
    call.closeAll();
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

// A host's Hang up opens their choices (hangup.js); anyone else's leaves.
document.getElementById("hangup")?.addEventListener("click", () => {
  if (isHost) return;
  if (isGuest) leaveAsGuest();
  else leaveAndGoBack();
});
document.getElementById("rejoin")?.addEventListener("click", returnAsGuest);

// End consultation for all: asked once more in a dialog, since it ends the visit for everyone.
const endDialog = document.getElementById("end-dialog");
function openEndDialog() {
  showError(document.getElementById("end-error"), "");
  endDialog.showModal();
}
if (endDialog) {
  const confirmButton = document.getElementById("end-confirm");
  const endError = document.getElementById("end-error");
  document.getElementById("end-cancel").addEventListener("click", () => endDialog.close());
  // Kept (Cancel, Escape): back to the button that asked, the menu it was in being closed.
  endDialog.addEventListener("close", () => {
    if (!ended) document.getElementById("hangup")?.focus();
  });
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
    call.closeAll();
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
