// The device self-test (templates/selftest/_selftest.html): the camera, microphone and
// network, against the media worker, which sends our own media straight back.
//
// One test: getUserMedia (a camera or microphone that fails is a result, not an error) →
// an RTCPeerConnection whose offer the server relays to the worker (POST
// /api/v1/self-tests/offer) → the echo arrives → MEASURE_MS of WebRTC statistics:
//   round trip   the selected candidate pair's currentRoundTripTime (STUN checks), else
//                remote-inbound-rtp roundTripTime (the worker's RTCP reports)
//   packet loss  the worse of the echo's own loss (inbound-rtp packetsLost) and the
//                worker's report of ours (remote-inbound-rtp fractionLost)
//   bitrate      the echo's bytesReceived (audio and video) over the window
//   camera       echoed video frames decoded;  microphone: our track has energy
//                (media-source totalAudioEnergy) and echoed audio arrived
// → POST /api/v1/self-tests, whose answer is the server's verdict (Good, Poor or Not
// working, judged in clinicqueue/self_test.py) with plain advice, shown here.
import { api, errorMessage } from "./live.js";

const WARM_UP_MS = 1000; // let the encoder and the bandwidth estimate settle first
const MEASURE_MS = 4000;
const CONNECT_TIMEOUT_MS = 10000;
const GATHER_TIMEOUT_MS = 3000;

const root = document.getElementById("self-test");
const $ = (id) => document.getElementById(`self-test-${id}`);
const dialog = $("dialog");
const startButton = $("start");
const againButton = $("again");
const progress = $("progress");
const video = $("video");
let setup = null; // GET /api/v1/self-tests/latest: {self_test, blocks_request, ice_servers}
let running = false;

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

function withTimeout(promise, ms, what) {
  return Promise.race([promise, sleep(ms).then(() => { throw new Error(`${what} timed out`); })]);
}

/** The camera and microphone, each on its own if both together fail. */
async function openDevices() {
  const failures = {};
  try {
    return { stream: await navigator.mediaDevices.getUserMedia({ video: true, audio: true }), failures };
  } catch {
    const stream = new MediaStream();
    for (const kind of ["video", "audio"]) {
      try {
        const single = await navigator.mediaDevices.getUserMedia({ [kind]: true });
        single.getTracks().forEach((t) => stream.addTrack(t));
      } catch (error) {
        failures[kind] = error.name || "Error";
      }
    }
    return { stream, failures };
  }
}

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
    setTimeout(resolve, GATHER_TIMEOUT_MS); // whatever we have by then
  });
}

function connected(pc) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (pc.connectionState === "connected") resolve();
      else if (pc.connectionState === "failed" || pc.connectionState === "closed") reject(new Error("connection failed"));
    };
    pc.addEventListener("connectionstatechange", check);
    check();
  });
}

/** The numbers of one getStats() that the measurement needs. */
async function sample(pc) {
  const report = await pc.getStats();
  const s = {
    at: performance.now(), bytes: 0, lost: 0, received: 0, framesDecoded: 0, audioPackets: 0,
    echoEnergy: 0, micEnergy: 0, rtt: null, remoteRtt: null, remoteLoss: null, width: null, height: null, fps: null,
  };
  let selectedPair = null;
  report.forEach((stat) => {
    if (stat.type === "transport" && stat.selectedCandidatePairId) selectedPair = stat.selectedCandidatePairId;
  });
  report.forEach((stat) => {
    if (stat.type === "inbound-rtp") {
      s.bytes += stat.bytesReceived || 0;
      s.lost += Math.max(0, stat.packetsLost || 0);
      s.received += stat.packetsReceived || 0;
      if (stat.kind === "video") {
        s.framesDecoded += stat.framesDecoded || 0;
        s.width = stat.frameWidth ?? s.width;
        s.height = stat.frameHeight ?? s.height;
        s.fps = stat.framesPerSecond ?? s.fps;
      } else {
        s.audioPackets += stat.packetsReceived || 0;
        s.echoEnergy += stat.totalAudioEnergy || 0;
      }
    } else if (stat.type === "media-source" && stat.kind === "audio") {
      s.micEnergy += stat.totalAudioEnergy || 0;
    } else if (stat.type === "remote-inbound-rtp") {
      if (typeof stat.roundTripTime === "number") s.remoteRtt = Math.max(s.remoteRtt ?? 0, stat.roundTripTime);
      if (typeof stat.fractionLost === "number") s.remoteLoss = Math.max(s.remoteLoss ?? 0, stat.fractionLost);
    } else if (stat.type === "candidate-pair" && typeof stat.currentRoundTripTime === "number") {
      if (stat.id === selectedPair || (!selectedPair && stat.nominated && stat.state === "succeeded")) {
        s.rtt = stat.currentRoundTripTime;
      }
    }
  });
  return s;
}

/** What the test measured, as POST /api/v1/self-tests takes it. */
function measurements(before, after, stream, failures) {
  const seconds = (after.at - before.at) / 1000;
  const rtt = after.rtt ?? after.remoteRtt;
  const packets = (after.received - before.received) + (after.lost - before.lost);
  const echoLoss = packets > 0 ? (after.lost - before.lost) / packets : null;
  const losses = [echoLoss, after.remoteLoss].filter((v) => typeof v === "number");
  const live = (kind) => stream.getTracks().some((t) => t.kind === kind && t.readyState === "live");
  const round = (value, places) => (value === null ? null : Number(value.toFixed(places)));
  return {
    camera_ok: live("video") && after.framesDecoded > before.framesDecoded,
    microphone_ok: live("audio") && after.micEnergy > before.micEnergy && after.audioPackets > before.audioPackets,
    round_trip_ms: typeof rtt === "number" ? round(rtt * 1000, 1) : null,
    packet_loss: losses.length ? round(Math.min(1, Math.max(...losses)), 4) : null,
    bitrate_kbps: seconds > 0 ? round(((after.bytes - before.bytes) * 8) / seconds / 1000, 1) : null,
    details: {
      frames_decoded: after.framesDecoded - before.framesDecoded,
      frame_width: after.width,
      frame_height: after.height,
      frames_per_second: after.fps,
      echo_audio_energy: round(after.echoEnergy - before.echoEnergy, 6),
      camera_error: failures.video ?? null,
      microphone_error: failures.audio ?? null,
    },
  };
}

/** Nothing came back (no connection): what the server is told. */
function unreachable(stream, failures, why) {
  return {
    camera_ok: false, microphone_ok: false, round_trip_ms: null, packet_loss: null, bitrate_kbps: null,
    details: { camera_error: failures.video ?? null, microphone_error: failures.audio ?? null, connection: why },
  };
}

async function runTest() {
  if (running) return;
  running = true;
  startButton.setAttribute("aria-busy", "true");
  againButton.hidden = true;
  $("result").hidden = true;
  video.hidden = false;
  if (!dialog.open) dialog.showModal();
  say("Starting your camera and microphone…");
  let stream = null;
  let pc = null;
  try {
    if (!setup) setup = await loadSetup();
    const devices = await openDevices();
    stream = devices.stream;
    pc = new RTCPeerConnection({ iceServers: setup?.ice_servers ?? [] });
    const echoed = new MediaStream();
    pc.addEventListener("track", (event) => {
      echoed.addTrack(event.track);
      if (event.track.kind === "video") video.srcObject = echoed; // never play the echo's sound
    });
    for (const kind of ["audio", "video"]) {
      const track = stream.getTracks().find((t) => t.kind === kind);
      if (track) pc.addTransceiver(track, { direction: "sendrecv", streams: [stream] });
      else pc.addTransceiver(kind, { direction: "recvonly" });
    }
    say("Connecting to the test service…");
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const answer = await api("POST", "/api/v1/self-tests/offer", { type: "offer", sdp: pc.localDescription.sdp });
    if (!answer.ok) {
      // The service being down is not the station's fault: nothing is stored.
      say(errorMessage(answer));
      return;
    }
    await pc.setRemoteDescription(answer.data);
    let results;
    try {
      await withTimeout(connected(pc), CONNECT_TIMEOUT_MS, "connecting");
      say("Measuring…");
      await sleep(WARM_UP_MS);
      const before = await sample(pc);
      await sleep(MEASURE_MS);
      results = measurements(before, await sample(pc), stream, devices.failures);
    } catch (error) {
      results = unreachable(stream, devices.failures, error.message);
    }
    say("Checking the results…");
    const saved = await api("POST", "/api/v1/self-tests", results);
    if (!saved.ok) {
      say(errorMessage(saved));
      return;
    }
    setup = { ...(setup ?? {}), self_test: saved.data };
    say("");
    showResult(saved.data);
    showLatest();
  } catch (error) {
    say("The test could not run in this browser. Reload the page and try again.");
  } finally {
    pc?.close();
    stream?.getTracks().forEach((t) => t.stop());
    video.srcObject = null;
    running = false;
    startButton.removeAttribute("aria-busy");
    againButton.hidden = false;
  }
}

function say(text) {
  progress.textContent = text;
  progress.hidden = !text;
}

const PILL = { good: "pill-good", poor: "pill-poor", failed: "pill-failed" };

function number(value, unit, places = 0) {
  return typeof value === "number" ? `${value.toFixed(places)} ${unit}` : "Not measured";
}

function fillAdvice(list, advice) {
  list.replaceChildren(...advice.map((line) => {
    const item = document.createElement("li");
    item.textContent = line;
    return item;
  }));
  list.hidden = advice.length === 0;
}

function showResult(test) {
  video.hidden = true;
  $("result").hidden = false;
  const pill = $("verdict");
  pill.textContent = test.label;
  pill.className = `pill ${PILL[test.verdict]}`;
  $("camera").textContent = test.camera_ok ? "Working" : "Not working";
  $("microphone").textContent = test.microphone_ok ? "Working" : "Not working";
  $("rtt").textContent = number(test.round_trip_ms, "ms");
  $("loss").textContent = typeof test.packet_loss === "number" ? `${(test.packet_loss * 100).toFixed(1)} %` : "Not measured";
  $("bitrate").textContent = number(test.bitrate_kbps, "kbps");
  fillAdvice($("advice"), test.advice.length ? test.advice : ["Your camera, microphone and network are ready for a video call."]);
  againButton.focus();
}

/** The page's line about the latest test, and its warning when that test failed. */
function showLatest() {
  const test = setup?.self_test;
  const summary = $("summary");
  const warning = $("warning");
  if (!test) {
    summary.textContent = "Not tested yet.";
    warning.hidden = true;
    return;
  }
  summary.textContent = `Last test: ${test.label}. Round trip ${number(test.round_trip_ms, "ms")}, bitrate ${number(test.bitrate_kbps, "kbps")}.`;
  warning.hidden = test.verdict !== "failed";
  if (test.verdict === "failed") {
    $("warning-title").textContent = setup.blocks_request
      ? "Your last test found something not working. Fix it and test again: you can request a session once a test passes."
      : "Your last test found something not working. The provider may not see or hear you.";
    fillAdvice($("warning-advice"), test.advice);
  }
}

async function loadSetup() {
  const result = await api("GET", "/api/v1/self-tests/latest");
  return result.ok ? result.data : null;
}

const DAY_MS = 24 * 3600 * 1000;

async function init() {
  setup = await loadSetup();
  showLatest();
  const test = setup?.self_test;
  const stale = !test || test.verdict === "failed" || Date.now() - Date.parse(test.tested_at) > DAY_MS;
  if (root.hasAttribute("data-auto-start") && stale) runTest();
}

startButton.addEventListener("click", runTest);
againButton.addEventListener("click", runTest);
$("close").addEventListener("click", () => dialog.close());
dialog.addEventListener("close", () => startButton.focus());
init();
