// What this page sends into the call, and the More menu that changes it: which camera and
// microphone (remembered in localStorage for the next call), a shared screen, and a blurred
// background (blur.js).
//
// Three tracks can be the picture the others get: the shared screen while sharing, else the
// blurred camera while the blur is on, else the camera itself. Every change swaps the track
// in place for everyone in the call (call.js replaceTrack: no renegotiation) and in the
// self-view, and someone who joins later is sent whichever it is then. The camera's own
// stream (camera and microphone, from getUserMedia) stays what room.js holds as its local
// stream: mute and camera off act on it, and a camera snapshot is always a frame of its
// camera track, never of the screen.
//
// With the blur on, the unblurred camera is never sent: a new camera (chosen, or taking
// over from one unplugged) goes out only once its blurred picture is ready.
import { blurSupport, startBlur } from "./blur.js";
import { attachMenu } from "./callmenu.js";

const CAMERA = { width: 640, height: 480 };
const KINDS = {
  videoinput: { key: "anteroom.camera", noun: "camera", select: "camera-select" },
  audioinput: { key: "anteroom.microphone", noun: "microphone", select: "microphone-select" },
};

const canShare = typeof navigator.mediaDevices?.getDisplayMedia === "function";

/**
 * Wire the page's own media to the call. `notify(text)` tells the person something in the
 * corner; `announce(text)` only reads it out; `onChange()` runs whenever what is sent
 * changed (room.js then tells the others, media_state); `onTracks(stream)` whenever the
 * camera's stream got a new track (a guest's microphone level follows it).
 */
export function createMedia({ call, notify, announce, onChange, onTracks }) {
  const preview = document.getElementById("local-video");
  const previewLabel = document.getElementById("local-label");
  const moreButton = document.getElementById("more");
  const menu = document.getElementById("media-menu");
  const errorBox = document.getElementById("media-error");
  const blurButton = document.getElementById("blur");
  const blurHint = document.getElementById("blur-hint");
  const shareButtons = [...document.querySelectorAll("[data-share]")];
  const shareHint = document.getElementById("share-hint");
  const selects = {
    videoinput: document.getElementById(KINDS.videoinput.select),
    audioinput: document.getElementById(KINDS.audioinput.select),
  };
  const blurWhyNot = blurSupport();

  let camera = null; // the camera's stream: what getUserMedia gave, with the chosen devices
  let screen = null; // the shared screen's track, while sharing
  let blur = null; // the running blur, {track, stop}
  let blurOn = false; // what the person asked for (the blur may still be starting)
  let blurStarting = false;
  let cameraOff = false;
  let stopped = true;
  let devices = [];
  let switching = Promise.resolve(); // device changes, one at a time

  const menuControl = menu && moreButton ? attachMenu(moreButton, menu, { onOpen: () => listDevices() }) : null;

  const current = (kind) => (kind === "videoinput" ? camera?.getVideoTracks()[0] : camera?.getAudioTracks()[0]) ?? null;
  const outgoingVideo = () => screen ?? blur?.track ?? current("videoinput");

  // ---- What is sent, and what the self-view shows --------------------------------------

  /** The tracks a new peer connection sends (call.js localTracks). */
  function outgoing() {
    const tracks = [current("audioinput"), outgoingVideo()].filter(Boolean);
    return [new MediaStream(tracks), tracks];
  }

  function showPreview() {
    const tracks = [current("audioinput"), outgoingVideo()].filter(Boolean);
    const shown = preview.srcObject?.getTracks() ?? [];
    if (tracks.length !== shown.length || tracks.some((t) => !shown.includes(t))) {
      preview.srcObject = tracks.length ? new MediaStream(tracks) : null;
    }
    preview.classList.toggle("is-screen", Boolean(screen));
    const what = screen ? "Your shared screen" : blur ? "Your camera, background blurred" : "Your camera";
    preview.setAttribute("aria-label", what);
    if (previewLabel) {
      previewLabel.textContent = screen ? "Sharing your screen" : "Background blurred";
      previewLabel.hidden = !screen && !blur;
      previewLabel.classList.toggle("is-screen", Boolean(screen));
    }
  }

  /** Everyone in the call and the self-view get the picture of the moment. */
  async function send() {
    showPreview();
    await call.replaceTrack("video", outgoingVideo());
    render();
    onChange();
  }

  // ---- Starting and stopping -------------------------------------------------------------

  function saved(kind) {
    try {
      const choice = JSON.parse(localStorage.getItem(KINDS[kind].key));
      return typeof choice?.id === "string" ? choice : null;
    } catch {
      return null;
    }
  }

  function save(kind, track) {
    try {
      localStorage.setItem(KINDS[kind].key, JSON.stringify({ id: track.getSettings().deviceId, label: track.label }));
    } catch {
      // Private browsing without storage: the choice lasts this page only.
    }
  }

  /** The camera and microphone, the ones chosen last time where they are still here.
   * Throws what getUserMedia throws (room.js says the camera is blocked or missing). */
  async function start({ muted = false, off = false } = {}) {
    stopped = false;
    cameraOff = off;
    const want = (kind) => (saved(kind) ? { deviceId: { ideal: saved(kind).id } } : {});
    try {
      camera = await navigator.mediaDevices.getUserMedia({
        audio: { ...want("audioinput") },
        video: { ...CAMERA, ...want("videoinput") },
      });
    } catch (error) {
      camera = null; // blocked or missing: the menu says there is nothing to choose
      await listDevices();
      render();
      throw error;
    }
    for (const track of camera.getAudioTracks()) track.enabled = !muted;
    for (const track of camera.getTracks()) watch(track);
    setCameraOff(off);
    showPreview();
    await listDevices();
    for (const kind of Object.keys(KINDS)) await honourChoice(kind);
    render();
    return camera;
  }

  /** The page is done with media (the call ended, the guest left): everything stops. */
  function stop() {
    stopped = true;
    menuControl?.close();
    screen?.stop();
    screen = null;
    blur?.stop();
    blur = null;
    blurOn = false; // a guest who comes back starts without it (pressed again, it blurs)
    for (const track of camera?.getTracks() ?? []) track.stop();
    render();
  }

  /** Camera off: the camera sends black, and so does its blurred picture; a shared screen
   * goes on (it is not the camera). */
  function setCameraOff(off) {
    cameraOff = off;
    for (const track of camera?.getVideoTracks() ?? []) track.enabled = !off;
    if (blur) blur.track.enabled = !off;
  }

  /** Whether the others get a picture from us: the screen, or a camera that is on. */
  function sendsVideo() {
    return Boolean(screen) || (Boolean(current("videoinput")) && !cameraOff);
  }

  // ---- Devices ---------------------------------------------------------------------------

  async function listDevices() {
    try {
      devices = await navigator.mediaDevices.enumerateDevices();
    } catch {
      devices = [];
    }
    for (const [kind, select] of Object.entries(selects)) {
      if (!select) continue;
      const options = devices.filter((d) => d.kind === kind && d.deviceId);
      const using = current(kind)?.getSettings().deviceId;
      select.replaceChildren(...options.map((device, index) => {
        const option = new Option(device.label || `${capital(KINDS[kind].noun)} ${index + 1}`, device.deviceId);
        option.selected = device.deviceId === using;
        return option;
      }));
      if (!options.length || !current(kind)) {
        select.replaceChildren(new Option(current(kind) ? "This device" : `No ${KINDS[kind].noun} available`, ""));
      }
      select.disabled = !current(kind) || options.length < 2;
    }
  }

  const listed = (kind) => devices.filter((d) => d.kind === kind && d.deviceId);

  /** Started on another device than the one chosen last time: the chosen one by its name
   * (browsers may give a device a new id), else say which one the call uses instead. */
  async function honourChoice(kind, quiet = false) {
    const choice = saved(kind);
    const track = current(kind);
    if (!choice || !track || track.getSettings().deviceId === choice.id) return;
    const same = listed(kind).find((d) => d.deviceId === choice.id)
      ?? listed(kind).find((d) => choice.label && d.label === choice.label);
    if (same) {
      try {
        await use(kind, same.deviceId);
        if (quiet) notify(`Your ${KINDS[kind].noun} “${same.label}” is back: the call uses it again.`);
        return;
      } catch {
        // Listed but not usable (another program holds it): say so below.
      }
    }
    if (!quiet) {
      notify(`Your ${KINDS[kind].noun} “${choice.label || "chosen last time"}” is not available, so the call uses “${track.label}”.`);
    }
  }

  function getUserMedia(kind, deviceId) {
    const exact = deviceId ? { deviceId: { exact: deviceId } } : {};
    return navigator.mediaDevices.getUserMedia(kind === "videoinput" ? { video: { ...CAMERA, ...exact } } : { audio: { ...exact } });
  }

  /** Switch to another camera or microphone: the new device's track takes the old one's
   * place in the camera's stream, in the call and in the self-view; then the old one stops. */
  function use(kind, deviceId) {
    const work = switching.then(() => swap(kind, deviceId));
    switching = work.catch(() => {});
    return work;
  }

  async function swap(kind, deviceId) {
    if (stopped) return;
    const old = current(kind);
    let fresh;
    try {
      fresh = (await getUserMedia(kind, deviceId)).getTracks()[0];
    } catch (error) {
      // Some devices cannot be open twice at once (phones: one camera at a time).
      if (!old || error.name !== "NotReadableError") throw error;
      old.stop();
      fresh = (await getUserMedia(kind, deviceId)).getTracks()[0];
    }
    if (stopped || !camera) {
      fresh.stop();
      return;
    }
    fresh.enabled = kind === "videoinput" ? !cameraOff : (old?.enabled ?? true);
    let nextBlur = null;
    if (kind === "videoinput" && blurOn) {
      try {
        nextBlur = await startBlur(fresh);
      } catch (error) {
        fresh.stop();
        throw new Error(`the blur could not start on it (${error.message})`);
      }
      nextBlur.track.enabled = !cameraOff;
    }
    watch(fresh);
    if (old) camera.removeTrack(old);
    camera.addTrack(fresh);
    if (kind === "videoinput") {
      const oldBlur = blur;
      if (nextBlur) blur = nextBlur;
      await send();
      oldBlur?.stop();
    } else {
      showPreview();
      await call.replaceTrack("audio", fresh);
      onChange();
    }
    old?.stop();
    onTracks(camera);
    await listDevices();
    return fresh;
  }

  /** A device that stops by itself (unplugged, taken by another program) hands over to
   * another one of its kind, if there is one. */
  function watch(track) {
    track.addEventListener("ended", () => lost(track), { once: true });
  }

  async function lost(track) {
    if (stopped || !camera?.getTracks().includes(track)) return;
    const kind = track.kind === "video" ? "videoinput" : "audioinput";
    const noun = KINDS[kind].noun;
    await listDevices();
    const gone = track.getSettings().deviceId;
    const next = listed(kind).find((d) => d.deviceId !== gone) ?? listed(kind)[0];
    try {
      if (!next) throw new Error("none left");
      const fresh = await use(kind, next.deviceId);
      notify(`Your ${noun} “${track.label}” stopped working, so the call now uses “${fresh?.label ?? next.label}”.`);
    } catch {
      // Nothing to take over: the others see that our camera is off, or hear nothing.
      if (camera?.getTracks().includes(track)) camera.removeTrack(track);
      notify(`Your ${noun} “${track.label}” stopped working, and there is no other ${noun} to use.`);
      showPreview();
      render();
      onChange();
    }
  }

  navigator.mediaDevices?.addEventListener?.("devicechange", async () => {
    if (stopped || !camera) return;
    await listDevices();
    for (const kind of Object.keys(KINDS)) {
      const track = current(kind);
      // Gone from the list without its track ending (some browsers): take another.
      if (track && !listed(kind).some((d) => d.deviceId === track.getSettings().deviceId)) {
        await lost(track);
      } else {
        await honourChoice(kind, true); // the chosen one plugged back in
      }
    }
  });

  for (const [kind, select] of Object.entries(selects)) {
    select?.addEventListener("change", async () => {
      const deviceId = select.value;
      if (!deviceId) return;
      showError("");
      select.setAttribute("aria-busy", "true");
      try {
        const fresh = await use(kind, deviceId);
        if (fresh) {
          save(kind, fresh);
          announce(`The call now uses the ${KINDS[kind].noun} “${fresh.label}”.`);
        }
      } catch (error) {
        showError(`Could not switch to that ${KINDS[kind].noun}: ${error.message}.`);
        await listDevices(); // the list shows the one still in use
      } finally {
        select.removeAttribute("aria-busy");
      }
    });
  }

  // ---- Screen --------------------------------------------------------------------------

  async function toggleShare() {
    if (screen) {
      await stopSharing();
      return;
    }
    let display;
    try {
      display = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
    } catch (error) {
      if (error.name === "NotAllowedError" && /system/i.test(error.message)) {
        showError("Your computer does not let this browser record the screen. Allow it in the system's privacy settings, then try again.");
      } else if (error.name !== "NotAllowedError" && error.name !== "AbortError") {
        showError(`Could not share your screen: ${error.message}`);
      } // else: they chose nothing
      return;
    }
    const track = display.getVideoTracks()[0];
    if (stopped || !track) {
      track?.stop();
      return;
    }
    if ("contentHint" in track) track.contentHint = "detail"; // text stays sharp
    // The browser's own "Stop sharing" (or the shared window closing) ends the track.
    track.addEventListener("ended", () => {
      if (screen === track) stopSharing();
    });
    screen = track;
    menuControl?.close();
    await send();
    announce("You are sharing your screen: everyone in the call sees it.");
  }

  async function stopSharing() {
    const track = screen;
    if (!track) return;
    screen = null;
    await send();
    track.stop();
    announce(cameraOff ? "You stopped sharing your screen." : "You stopped sharing your screen: the others see your camera again.");
  }

  for (const button of shareButtons) {
    button.addEventListener("click", () => {
      if (button.getAttribute("aria-disabled") === "true") return;
      toggleShare();
    });
  }

  // ---- Blur ----------------------------------------------------------------------------

  /** Blur on or off. Queued with the device switches: one blur starts at a time, and a
   * camera switched meanwhile is blurred by its own switch. */
  function setBlur(on) {
    if (blurStarting) return;
    showError("");
    blurOn = on;
    blurStarting = on;
    render();
    const work = switching.then(() => (on ? blurOn && blurCamera() : unblur()));
    switching = work.catch(() => {});
  }

  async function unblur() {
    const old = blur;
    blur = null;
    await send();
    old?.stop();
    announce("Background blur off.");
  }

  async function blurCamera() {
    const track = current("videoinput");
    let started = null;
    try {
      if (!track || blurWhyNot) throw new Error(blurWhyNot || "no camera");
      started = await startBlur(track);
    } catch (error) {
      blurOn = false;
      showError(`The background blur could not start: ${error.message}`);
    } finally {
      blurStarting = false;
    }
    if (started && (stopped || !blurOn)) {
      started.stop(); // turned off (or the page ended) while it started
      started = null;
    }
    if (started) {
      started.track.enabled = !cameraOff;
      const old = blur;
      blur = started;
      await send();
      old?.stop();
      announce("Background blurred.");
    }
    render();
  }

  blurButton?.addEventListener("click", () => {
    if (blurButton.getAttribute("aria-disabled") === "true") return;
    setBlur(!blurOn);
  });

  // ---- The controls' words ---------------------------------------------------------------

  function render() {
    for (const button of shareButtons) {
      button.hidden = !canShare;
      button.textContent = screen ? "Stop sharing" : "Share screen";
      button.setAttribute("aria-pressed", String(Boolean(screen)));
    }
    if (shareHint) {
      shareHint.hidden = canShare;
      shareHint.textContent = "Sharing a screen needs a computer's browser; this one cannot share.";
    }
    if (blurButton) {
      const why = blurWhyNot
        ?? (!stopped && !current("videoinput") ? "The blur needs your camera, which this browser is not using." : null);
      blurButton.setAttribute("aria-pressed", String(blurOn && !blurStarting && Boolean(blur)));
      if (blurStarting) blurButton.setAttribute("aria-busy", "true");
      else blurButton.removeAttribute("aria-busy");
      if (why || blurStarting) blurButton.setAttribute("aria-disabled", "true");
      else blurButton.removeAttribute("aria-disabled");
      blurHint.textContent = why
        ?? (blurStarting ? "Starting the blur…" : blur ? "Others see you, and the room behind you blurred." : "Blur the room behind you, so others see only you.");
      blurHint.classList.toggle("is-unavailable", Boolean(why));
    }
  }

  function showError(message) {
    if (!message) {
      if (errorBox) errorBox.hidden = true;
      return;
    }
    // In the menu while it is open; otherwise in the corner (the share button is on the bar).
    if (errorBox && menu?.matches(":popover-open")) {
      errorBox.textContent = message;
      errorBox.hidden = false;
    } else {
      notify(message);
    }
  }

  render();
  return {
    start,
    stop,
    setCameraOff,
    sendsVideo,
    outgoing,
    /** The camera's own track (snapshots): never the screen, never the blurred copy. */
    cameraTrack: () => current("videoinput"),
    sharing: () => Boolean(screen),
  };
}

function capital(word) {
  return word[0].toUpperCase() + word.slice(1);
}
