// A snapshot of one participant's camera, only with their consent.
//
// The host asks (requestSnapshot, from the people panel's menu). The person asked sees a
// dialog: Allow or Don't allow. On Allow their page takes ONE frame of their own camera
// track (never the screen, never the page) and sends it at once; the host is told the
// answer, and gets the image to view or download when it is saved. The server audits each
// step (app/services/camera_snapshots.py).
import { csrfToken } from "./live.js";

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

// One frame of a camera track, as a PNG, at the camera's own size.
export async function captureFrame(track) {
  if (!track || track.readyState !== "live") throw new Error("Your camera is off.");
  const video = element("video", { muted: "", playsinline: "" });
  video.muted = true;
  video.srcObject = new MediaStream([track]);
  try {
    await video.play();
    if (!video.videoWidth) {
      await new Promise((resolve) => video.addEventListener("resize", resolve, { once: true }));
    }
    const canvas = element("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return await new Promise((resolve, reject) =>
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("No picture."))), "image/png"),
    );
  } finally {
    video.pause();
    video.srcObject = null;
  }
}

export function connectSnapshots({ socket, visitId, isHost, cameraTrack, announce }) {
  // --- The person asked -------------------------------------------------------------
  const dialog = element(
    "dialog",
    { class: "dialog snapshot-consent", id: "snapshot-consent", "aria-labelledby": "snapshot-consent-title" },
    element("h2", { id: "snapshot-consent-title", text: "Share a snapshot of your camera?" }),
    element("p", { id: "snapshot-consent-text" }),
    element(
      "p",
      { class: "dialog-actions" },
      element("button", { type: "button", class: "btn btn-primary", id: "snapshot-allow", text: "Allow" }),
      element("button", { type: "button", class: "btn btn-secondary", id: "snapshot-deny", text: "Don't allow" }),
    ),
  );
  document.body.append(dialog);
  let asked = null; // the request waiting for an answer

  async function answer(allow) {
    const request = asked;
    asked = null;
    dialog.close();
    if (!request) return;
    const reply = await socket.emitWithAck("answer_snapshot", {
      visit_id: visitId, snapshot_id: request.snapshot_id, allow,
    });
    if (reply?.error) {
      announce(reply.error.message);
      return;
    }
    if (!allow) {
      announce("You did not share a snapshot.");
      return;
    }
    try {
      const frame = await captureFrame(cameraTrack());
      const body = new FormData();
      body.append("file", frame, "snapshot.png");
      const response = await fetch(`/visits/${visitId}/snapshots/${request.snapshot_id}`, {
        method: "POST",
        body,
        headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) {
        const problem = await response.json().catch(() => null);
        throw new Error(problem?.error?.message ?? "The snapshot could not be sent.");
      }
      announce(`A snapshot of your camera was sent to ${request.by}.`);
    } catch (error) {
      announce(error.message);
    }
  }
  dialog.querySelector("#snapshot-allow").addEventListener("click", () => answer(true));
  dialog.querySelector("#snapshot-deny").addEventListener("click", () => answer(false));
  // Escape is "Don't allow": nothing is taken without a yes.
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    answer(false);
  });

  socket.on("snapshot_requested", (request) => {
    if (request.visit_id !== visitId) return;
    asked = request;
    dialog.querySelector("#snapshot-consent-text").textContent =
      `${request.by} asks for a still picture from your camera, to keep with your visit. ` +
      "Only your camera is captured, once, and only if you allow it.";
    if (!dialog.open) dialog.showModal();
    dialog.querySelector("#snapshot-allow").focus();
  });

  if (!isHost) return { request: async () => null };

  // --- The host ---------------------------------------------------------------------
  const list = element("ul", { class: "snapshot-list", id: "snapshot-list", "aria-live": "polite" });
  const panel = element(
    "section",
    { class: "snapshots", id: "snapshots", "aria-labelledby": "snapshots-title", hidden: "" },
    element("h2", { id: "snapshots-title", text: "Snapshots" }),
    list,
  );
  document.getElementById("stage")?.after(panel);

  function show(snapshot) {
    panel.hidden = false;
    let item = list.querySelector(`[data-snapshot="${snapshot.id}"]`);
    if (!item) {
      item = element("li", { class: "snapshot", "data-snapshot": String(snapshot.id) });
      list.prepend(item);
    }
    item.replaceChildren();
    if (snapshot.state === "saved") {
      item.append(
        element("img", { src: snapshot.url, alt: `Snapshot of ${snapshot.name}'s camera`, class: "snapshot-image" }),
        element(
          "p",
          { class: "snapshot-actions" },
          element("span", { class: "snapshot-name", text: snapshot.name }),
          element("a", { href: snapshot.url, target: "_blank", rel: "noopener", text: "View" }),
          element("a", { href: `${snapshot.url}?download=1`, download: "", text: "Download" }),
        ),
      );
    } else {
      const words = {
        requested: `Waiting for ${snapshot.name} to allow a snapshot…`,
        allowed: `${snapshot.name} allowed it; taking the snapshot…`,
        denied: `${snapshot.name} did not allow a snapshot.`,
      };
      item.append(element("p", { class: `snapshot-state is-${snapshot.state}`, text: words[snapshot.state] ?? "" }));
    }
  }
  socket.on("snapshot_answered", (snapshot) => {
    if (snapshot.visit_id !== visitId) return;
    show(snapshot);
    if (snapshot.state === "denied") announce(`${snapshot.name} did not allow a snapshot.`);
  });
  socket.on("snapshot_saved", (snapshot) => {
    if (snapshot.visit_id !== visitId) return;
    show(snapshot);
    announce(`Snapshot of ${snapshot.name}'s camera saved.`);
  });

  return {
    // Ask one participant; answers with an error message, or null.
    async request(participantId) {
      const reply = await socket.emitWithAck("request_snapshot", {
        visit_id: visitId, participant_id: participantId,
      });
      if (reply?.error) return reply.error.message;
      show(reply.snapshot);
      return null;
    },
  };
}
