// The station screen. requester.js does the whole request flow (directory, live
// availability, requests, the stream's snapshot on every (re)connect, which is what brings
// a reloaded or restarted station back to where it was); this module listens to what it
// renders ("requester-state") and
//   - says the current request's state in big words, readable across a room;
//   - once a provider accepts, goes into the waiting room by itself (a power cut in the
//     waiting room or the call brings it back there the same way);
//   - with nothing in progress and nobody touching the screen for KIOSK_HOME_SECONDS, goes
//     back to its home state: notes dismissed, choices cleared, scrolled to the top.
import { api } from "./live.js";

const config = JSON.parse(document.getElementById("kiosk-config").textContent);
const box = document.getElementById("kiosk-status");
const title = document.getElementById("kiosk-status-title");
const detail = document.getElementById("kiosk-status-detail");
const action = document.getElementById("kiosk-status-action");
const LIVE = ["open", "in_call"];
const GONE = ["left", "removed"];

let state = null;
let phase = "home";
let entering = null; // the timer that goes into the waiting room
let lastTouch = Date.now();
let touched = false; // anything to put back since the screen was last at home

function show(next, words, more, link = null) {
  phase = next;
  box.dataset.phase = next;
  document.documentElement.dataset.kiosk = next; // for tests and anyone debugging a screen
  if (title.textContent !== words) title.textContent = words;
  if (detail.textContent !== more) detail.textContent = more;
  action.hidden = !link;
  if (link) {
    action.textContent = link.text;
    action.href = link.href;
  }
}

/** The station's own place in a live visit: its participant row. */
function mine(visit) {
  return visit.participants.find((p) => p.user_id === config.user_id);
}

function render() {
  if (!state) return;
  const visits = [...state.sessions.values()].filter((v) => LIVE.includes(v.state)).sort((a, b) => b.id - a.id);
  const ready = visits.find((v) => !GONE.includes(mine(v)?.presence));
  const left = visits.find((v) => mine(v)?.presence === "left"); // hung up; the provider stayed
  const requests = [...state.requests.values()].sort((a, b) => b.id - a.id);
  const pending = requests.find((r) => r.state === "pending");
  const unread = requests.find((r) => ["declined", "expired"].includes(r.state) && !r.dismissed);

  if (ready) {
    const room = `/visits/${ready.id}`;
    show("accepted", `${ready.host.name} is ready for you`, "Going to the waiting room…",
      { text: "Enter the waiting room now", href: room });
    if (!entering) entering = setTimeout(() => window.location.assign(room), config.enter_seconds * 1000);
    return;
  }
  clearTimeout(entering);
  entering = null;
  if (left) {
    show("left", `Your session with ${left.host.name} is still open`, "You left the call. You can go back in.",
      { text: "Go back to the session", href: `/visits/${left.id}` });
  } else if (pending) {
    show("pending", `Waiting for ${pending.provider.name}…`, "Your request has been sent. Please stay here.");
  } else if (unread?.state === "expired") {
    show("expired", `${unread.provider.name} did not answer in time`, "Ask again, or choose another provider.");
  } else if (unread) {
    show("declined", unread.decline_reason === "unavailable"
      ? `${unread.provider.name} is not available right now`
      : `${unread.provider.name} declined your request`, "Choose another provider, or try again later.");
  } else {
    show("home", "Request a session", "Choose a provider below and press Request Session Now.");
  }
}

document.addEventListener("requester-state", (event) => {
  state = event.detail;
  render();
});

for (const type of ["pointerdown", "keydown", "touchstart", "wheel"]) {
  window.addEventListener(type, () => {
    lastTouch = Date.now();
    touched = true;
  }, { passive: true });
}

/** Back to the home state: what the last person left on screen goes, for the next one. */
let goingHome = false;
async function goHome() {
  if (goingHome) return;
  goingHome = true;
  const unread = [...(state?.requests.values() ?? [])]
    .filter((r) => ["declined", "expired"].includes(r.state) && !r.dismissed);
  for (const req of unread) await api("POST", `/api/v1/requests/${req.id}/dismiss`);
  // A fresh page is the surest home: no choice, error, open dialog or scroll left over.
  window.location.replace("/kiosk");
}

setInterval(() => {
  const idle = Date.now() - lastTouch > config.home_seconds * 1000;
  const busy = ["pending", "accepted"].includes(phase);
  const unread = phase === "declined" || phase === "expired";
  if (idle && !busy && (touched || unread || window.scrollY > 0)) goHome();
}, 1000);
