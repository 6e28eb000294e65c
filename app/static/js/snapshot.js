// A snapshot of one participant's camera, only with their consent.
//
// The host asks (request, from the People panel's menu of someone in the call). The person
// asked sees a dialog: Allow or Don't allow (Escape is Don't allow). On Allow their page
// first takes ONE frame of their own camera track (never the screen, never the page: the
// track room.js got from getUserMedia, whatever the call sends meanwhile), then answers,
// then sends it; a frame that cannot be taken (the camera is off) is said in the dialog
// before anything is answered. The host sees each request in the People panel: waiting,
// refused, or the picture to view or download. The server audits each step
// (app/services/camera_snapshots.py).
import { api, csrfToken } from "./live.js";

const ANSWER_TIMEOUT = 10_000;
const FIRST_FRAME_TIMEOUT = 3_000;
const UPLOAD_TRIES = 3;

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

// One frame of a camera track, as a PNG, at the camera's own size. Taken from a copy of
// the track, switched on: a camera switched off for the call gives its picture (the person
// allowed it) and stays off for the call.
export async function captureFrame(track) {
  if (!track || track.readyState !== "live") {
    throw new Error("This page has no camera to take a picture with. Choose Don't allow.");
  }
  const copy = track.clone();
  copy.enabled = true;
  const video = element("video");
  video.muted = true;
  video.playsInline = true;
  video.srcObject = new MediaStream([copy]);
  try {
    await video.play();
    if (!video.videoWidth) {
      await new Promise((resolve, reject) => {
        video.addEventListener("resize", resolve, { once: true });
        setTimeout(() => reject(new Error("Your camera gives no picture right now.")), FIRST_FRAME_TIMEOUT);
      });
    }
    const canvas = element("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return await new Promise((resolve, reject) =>
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("No picture was taken."))), "image/png"),
    );
  } finally {
    video.pause();
    video.srcObject = null;
    copy.stop();
  }
}

/** Words for screen readers only, through the page's live region. */
function announce(words) {
  const announcer = document.getElementById("room-announce");
  announcer.textContent = "";
  setTimeout(() => { announcer.textContent = words; }, 50); // the same words twice: read twice
}

/**
 * Wire snapshots to the room's socket. `cameraTrack()` gives the page's camera track now;
 * `notify(words)` shows and reads out what happened to this page (room.js's corner notice).
 * Returns {request(participantId)}: an error message, or null.
 */
export function connectSnapshots({ socket, visitId, isHost, cameraTrack, notify }) {
  function ask(event, data) {
    return new Promise((resolve) => {
      if (!socket.connected) {
        resolve({ error: { message: "Not connected. Wait until the connection is back, then try again." } });
        return;
      }
      socket.timeout(ANSWER_TIMEOUT).emit(event, { visit_id: visitId, ...data }, (timedOut, answer) => {
        resolve(timedOut ? { error: { message: "No answer from the server. Try again." } } : answer ?? {});
      });
    });
  }

  // --- The person asked -------------------------------------------------------------
  const dialog = element(
    "dialog",
    {
      class: "dialog snapshot-consent", id: "snapshot-consent",
      "aria-labelledby": "snapshot-consent-title", "aria-describedby": "snapshot-consent-text",
    },
    element("h2", { id: "snapshot-consent-title", text: "Share a picture from your camera?" }),
    element("p", { id: "snapshot-consent-text" }),
    element("p", { class: "inline-error", id: "snapshot-consent-error", role: "alert", hidden: "" }),
    element(
      "div",
      { class: "actions" },
      element("button", { type: "button", class: "btn btn-primary", id: "snapshot-allow", text: "Allow" }),
      element("button", { type: "button", class: "btn btn-secondary", id: "snapshot-deny", text: "Don't allow" }),
    ),
  );
  document.body.append(dialog);
  const allowButton = dialog.querySelector("#snapshot-allow");
  const denyButton = dialog.querySelector("#snapshot-deny");
  const consentError = dialog.querySelector("#snapshot-consent-error");
  let asked = null; // the request waiting for an answer
  let answering = false;

  function showConsentError(message) {
    consentError.textContent = message;
    consentError.hidden = !message;
  }

  async function upload(request, frame) {
    const body = new FormData();
    body.append("file", frame, "snapshot.png");
    let problem = "The picture could not be sent.";
    for (let attempt = 1; attempt <= UPLOAD_TRIES; attempt += 1) {
      try {
        const response = await fetch(`/visits/${visitId}/snapshots/${request.snapshot_id}`, {
          method: "POST",
          body,
          headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
          credentials: "same-origin",
        });
        if (response.ok) return null;
        const answer = await response.json().catch(() => null);
        problem = answer?.error?.message ?? problem;
        if (response.status < 500) return problem; // refused: trying again changes nothing
      } catch {
        problem = "The picture could not be sent: no connection.";
      }
      await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
    }
    return problem;
  }

  async function answer(allow) {
    const request = asked;
    if (!request || answering) return;
    answering = true;
    allowButton.setAttribute("aria-disabled", "true");
    denyButton.setAttribute("aria-disabled", "true");
    let frame = null;
    if (allow) {
      try {
        frame = await captureFrame(cameraTrack());
      } catch (error) {
        // Nothing answered yet: they can turn the camera on and allow, or not allow.
        showConsentError(error.message);
        answering = false;
        allowButton.removeAttribute("aria-disabled");
        denyButton.removeAttribute("aria-disabled");
        allowButton.focus();
        return;
      }
    }
    const reply = await ask("answer_snapshot", { snapshot_id: request.snapshot_id, allow });
    answering = false;
    asked = null;
    allowButton.removeAttribute("aria-disabled");
    denyButton.removeAttribute("aria-disabled");
    dialog.close();
    if (reply?.error) {
      notify(reply.error.message);
      return;
    }
    if (!allow) {
      notify(`You did not share a picture. ${request.by} is told.`);
      return;
    }
    const problem = await upload(request, frame);
    notify(problem ?? `You shared one picture from your camera with ${request.by}.`);
  }
  allowButton.addEventListener("click", () => answer(true));
  denyButton.addEventListener("click", () => answer(false));
  // Escape is "Don't allow": nothing is taken without a yes.
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    answer(false);
  });

  // The page left the call (it ended, or they hung up): nothing is asked of it any more.
  const controls = document.getElementById("controls");
  new MutationObserver(() => {
    if (!controls.hidden || !dialog.open) return;
    asked = null;
    dialog.close();
  }).observe(controls, { attributes: true, attributeFilter: ["hidden"] });

  socket.on("snapshot_requested", (request) => {
    if (request?.visit_id !== visitId) return;
    asked = request;
    showConsentError("");
    const cameraOff = cameraTrack()?.enabled === false;
    dialog.querySelector("#snapshot-consent-text").textContent =
      `${request.by} asks for one still picture from your camera, to keep with your visit. ` +
      "Only your camera is captured, once, and only if you allow it." +
      (cameraOff ? " Your camera is off in the call: it takes this one picture and stays off." : "");
    if (!dialog.open) dialog.showModal();
    // The safe choice has the focus: Enter alone must not share a picture.
    denyButton.focus();
  });

  if (!isHost) return { request: async () => "Only the host can ask for a snapshot." };

  // --- The host: the People panel's Snapshots section ---------------------------------
  const section = document.getElementById("snapshots");
  const list = document.getElementById("snapshot-list");
  if (!section || !list) return { request: async () => "Open the People panel to ask for a snapshot." };
  const timeFormat = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" });
  const known = new Map(); // snapshot id → the state shown

  /** Show a request as it stands; `reveal` scrolls it into the panel's view (news, not a reload). */
  function show(snapshot, reveal = false) {
    if (known.get(snapshot.id) === snapshot.state) return;
    known.set(snapshot.id, snapshot.state);
    section.hidden = false;
    section.querySelector("[data-count]").textContent = String(known.size);
    let item = list.querySelector(`[data-snapshot="${snapshot.id}"]`);
    if (!item) {
      item = element("li", { class: "snapshot", "data-snapshot": String(snapshot.id) });
      const later = [...list.children].find((el) => Number(el.dataset.snapshot) < snapshot.id);
      list.insertBefore(item, later ?? null); // newest first
    }
    item.dataset.state = snapshot.state;
    const when = snapshot.saved_at ?? snapshot.answered_at ?? snapshot.requested_at;
    const time = element("time", { datetime: when, text: timeFormat.format(new Date(when)) });
    const head = element("p", { class: "snapshot-head" }, element("span", { class: "person-name", text: snapshot.name }), " ", time);
    if (snapshot.state === "saved") {
      const image = element("img", {
        src: snapshot.url, class: "snapshot-image", width: "640", height: "480",
        alt: `Snapshot of ${snapshot.name}'s camera, ${time.textContent}`,
      });
      if (reveal) image.addEventListener("load", () => item.scrollIntoView({ block: "nearest" }), { once: true });
      item.replaceChildren(
        head,
        image,
        element(
          "p",
          { class: "snapshot-actions" },
          element("a", { class: "btn btn-secondary btn-small", href: snapshot.url, target: "_blank", rel: "noopener" },
            "View", element("span", { class: "visually-hidden", text: ` the snapshot of ${snapshot.name} (opens in a new tab)` })),
          element("a", { class: "btn btn-secondary btn-small", href: `${snapshot.url}?download=1`, download: "" },
            "Download", element("span", { class: "visually-hidden", text: ` the snapshot of ${snapshot.name}` })),
        ),
      );
      return;
    }
    const words = {
      requested: `Waiting for ${snapshot.name} to allow a snapshot…`,
      allowed: `${snapshot.name} allowed it; the picture is on its way…`,
      denied: `${snapshot.name} did not allow a snapshot.`,
    };
    item.replaceChildren(head, element("p", { class: `snapshot-state is-${snapshot.state}`, text: words[snapshot.state] ?? "" }));
    if (reveal) item.scrollIntoView({ block: "nearest" });
  }

  /** The visit's snapshots so far (a reload, a reconnection): the server's list. */
  async function reload() {
    const result = await api("GET", `/api/v1/visits/${visitId}/snapshots`);
    if (result.ok) for (const snapshot of result.data) show(snapshot);
  }
  socket.on("connect", reload);

  socket.on("snapshot_answered", (snapshot) => {
    if (snapshot?.visit_id !== visitId) return;
    show(snapshot, true);
    if (snapshot.state === "denied") announce(`${snapshot.name} did not allow a snapshot.`);
    else announce(`${snapshot.name} allowed a snapshot; the picture is on its way.`);
  });
  socket.on("snapshot_saved", (snapshot) => {
    if (snapshot?.visit_id !== visitId) return;
    show(snapshot, true);
    announce(`The snapshot of ${snapshot.name}'s camera is saved. It is under Snapshots in the People panel.`);
  });

  return {
    // Ask one participant; answers with an error message, or null.
    async request(participantId) {
      const reply = await ask("request_snapshot", { participant_id: participantId });
      if (reply?.error) return reply.error.message || "The snapshot could not be asked for.";
      show(reply.snapshot, true);
      return null;
    },
  };
}
