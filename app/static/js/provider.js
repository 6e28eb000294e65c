// The provider's dashboard: availability, live requests, and sessions with presence.
import {
  age, api, chime, clock, connectLive, errorMessage, fromTemplate, isBusy, PRESENCE_PILL, reconcile,
  serviceLabel, setBusy, showError,
} from "./live.js";
import { noteCounts, notesDialog } from "./notes.js";

const config = JSON.parse(document.getElementById("page-config").textContent);
const state = { available: false, requests: new Map(), sessions: new Map() };
const toggle = document.getElementById("availability");
const errorBox = document.getElementById("action-error");
const requestList = document.getElementById("requests");
const sessionList = document.getElementById("sessions");
const baseTitle = document.title;
let ready = false;

function renderAvailability() {
  toggle.setAttribute("aria-checked", String(state.available));
  toggle.querySelector(".label").textContent = state.available
    ? "I am available for sessions"
    : "I am unavailable for sessions";
}

function requestCard(req) {
  const card = fromTemplate("request-template");
  card.dataset.id = req.id;
  card.querySelector(".name").textContent = req.requester.name;
  card.querySelector(".service").textContent = serviceLabel(req.service);
  card.querySelector(".age").textContent = age(req.created_at);
  card.querySelector(".age").dataset.since = req.created_at;
  card.setAttribute("aria-label", `Request from ${req.requester.name}`);
  const form = card.querySelector(".decline-form");
  const declineButton = card.querySelector('[data-action="decline"]');
  card.querySelector('[data-action="accept"]').addEventListener("click", () => accept(req.id, false, card));
  card.querySelector('[data-action="accept-enter"]').addEventListener("click", () => accept(req.id, true, card));
  declineButton.addEventListener("click", () => {
    if (!config.notes_enabled) return decline(req.id, null, card);
    form.hidden = false;
    form.querySelector("textarea").focus();
  });
  // Closing the form without sending puts the person back on the button that opened it.
  const keep = () => { form.hidden = true; declineButton.focus(); };
  card.querySelector('[data-action="keep"]').addEventListener("click", keep);
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !event.isComposing) { event.preventDefault(); keep(); }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    decline(req.id, form.querySelector("textarea").value, card);
  });
  return card;
}

function renderRequests(newIds = new Set()) {
  const pending = [...state.requests.values()]
    .filter((r) => r.state === "pending")
    .sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id - a.id);
  // Keep existing cards (and any half-typed decline note); add new ones at the top.
  reconcile(requestList, pending, (r) => r.id, (req) => {
    const li = requestCard(req);
    if (newIds.has(req.id)) li.classList.add("is-new");
    return li;
  });
  document.getElementById("request-count").textContent = pending.length;
  document.getElementById("requests-empty").hidden = pending.length > 0;
  // The tab's title counts what is waiting, so a provider in another tab still sees it.
  document.title = `${pending.length ? `(${pending.length}) ` : ""}${baseTitle}`;
}

function patientOf(visit) {
  return visit.participants.find((p) => p.role === "patient");
}

function renderSessions() {
  const live = [...state.sessions.values()]
    .filter((v) => ["open", "in_call"].includes(v.state))
    .sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id - a.id);
  // A session that ends takes its buttons with it; remember where focus was to hand it on.
  const cards = [...sessionList.children];
  const focusedAt = cards.findIndex((card) => card.contains(document.activeElement));
  // Rows are updated in place: the provider may be about to press this row's Enter Meeting.
  reconcile(sessionList, live, (v) => v.id, (visit) => {
    const card = fromTemplate("session-template");
    card.querySelector(".enter").href = `/visits/${visit.id}`;
    card.querySelector('[data-action="end"]').addEventListener("click", () => endSession(visit.id));
    return card;
  }, (card, visit) => {
    const patient = patientOf(visit);
    card.setAttribute("aria-label", `Session with ${patient?.name ?? "guest"}`);
    card.querySelector(".name").textContent = patient?.name ?? "Guest";
    card.querySelector(".service").textContent = serviceLabel(visit.service);
    const pill = card.querySelector(".pill");
    pill.textContent = patient?.status ?? "Not arrived";
    pill.className = `pill ${PRESENCE_PILL[patient?.presence] ?? "pill-absent"}`;
    const waited = card.querySelector(".waited");
    if (patient?.waiting_since) {
      waited.dataset.since = patient.waiting_since;
      waited.textContent = `waiting ${clock(patient.waiting_since)}`;
    } else {
      delete waited.dataset.since;
      waited.textContent = "";
    }
  });
  document.getElementById("session-count").textContent = live.length;
  document.getElementById("sessions-empty").hidden = live.length > 0;
  if (focusedAt >= 0 && !cards[focusedAt].isConnected) {
    // The next session down (now in the ended one's place), else the one above, else the heading.
    const next = cards.slice(focusedAt + 1).find((card) => card.isConnected)
      || cards.slice(0, focusedAt).reverse().find((card) => card.isConnected);
    (next?.querySelector(".enter") || document.getElementById("sessions-title")).focus();
  }
}

async function accept(id, enter, card) {
  if (isBusy(card.querySelector("button"))) return;
  setBusy(card, true);
  const result = await api("POST", `/api/v1/requests/${id}/accept`);
  if (!result.ok) {
    setBusy(card, false);
    showError(errorBox, errorMessage(result));
    if (result.data?.error?.request) upsertRequest(result.data.error.request);
    return;
  }
  showError(errorBox, "");
  if (enter) return window.location.assign(`/visits/${result.data.visit_id}`);
  settle(card, result.data);
}

async function decline(id, note, card) {
  if (isBusy(card.querySelector("button"))) return;
  setBusy(card, true);
  const result = await api("POST", `/api/v1/requests/${id}/decline`, note ? { note } : {});
  if (!result.ok) {
    setBusy(card, false);
    showError(errorBox, errorMessage(result));
    if (result.data?.error?.request) upsertRequest(result.data.error.request);
    return;
  }
  showError(errorBox, "");
  settle(card, result.data);
}

/** The request is answered and its card goes; keyboard focus goes to its neighbour. */
function settle(card, req) {
  const neighbour = card.nextElementSibling || card.previousElementSibling;
  const hadFocus = card.contains(document.activeElement) || document.activeElement === document.body;
  upsertRequest(req);
  if (!hadFocus || card.isConnected) return;
  const target = neighbour?.isConnected ? neighbour.querySelector("button") : document.getElementById("requests-title");
  target?.focus();
}

async function endSession(id) {
  const result = await api("POST", `/api/v1/visits/${id}/end`);
  if (!result.ok) return showError(errorBox, errorMessage(result));
  showError(errorBox, "");
  const visit = state.sessions.get(id);
  if (visit) { visit.state = result.data.state; renderSessions(); }
}

function upsertRequest(req) {
  state.requests.set(req.id, req);
  renderRequests();
}

toggle.addEventListener("click", async () => {
  if (isBusy(toggle)) return;
  const wanted = !state.available;
  setBusy(toggle, true);
  const result = await api("PUT", "/api/v1/providers/me/availability", { available: wanted });
  setBusy(toggle, false);
  if (!result.ok) return showError(errorBox, errorMessage(result));
  showError(errorBox, "");
  state.available = result.data.available;
  renderAvailability();
});

// --- Private notes, read later ---------------------------------------------------------
// The sessions and visits this provider keeps notes on, the latest written first: read
// when the page opens, when it comes back into view (a note written in the room in another
// tab) and when one of their sessions ends.
const NOTED_SHOWN = 20;
const notedList = document.getElementById("noted");
const readNotesDialog = notesDialog();
const notedWhen = new Intl.DateTimeFormat("en-GB", {
  weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
});

async function renderNoted() {
  const counts = await noteCounts();
  if (!counts) return;
  const noted = [...counts.values()].slice(0, NOTED_SHOWN);
  reconcile(notedList, noted, (v) => v.visit_id, () => fromTemplate("noted-template"), (card, visit) => {
    const when = notedWhen.format(new Date(visit.starts_at));
    card.querySelector(".name").textContent = visit.patient;
    card.querySelector(".service").textContent = serviceLabel(visit.service ? { name: visit.service } : null);
    const time = card.querySelector(".when");
    time.dateTime = visit.starts_at;
    time.textContent = when;
    card.querySelector(".how-many").textContent = visit.count === 1 ? "1 note" : `${visit.count} notes`;
    card.querySelector(".visually-hidden").textContent = ` on the session with ${visit.patient}, ${when}`;
    card.dataset.about = `The session with ${visit.patient}, ${when}.`;
  });
  document.getElementById("noted-count").textContent = counts.size;
  document.getElementById("noted-empty").hidden = noted.length > 0;
}

notedList.addEventListener("click", (event) => {
  const button = event.target.closest('[data-action="read-notes"]');
  if (!button) return;
  const card = button.closest("[data-key]");
  readNotesDialog.show(Number(card.dataset.key), card.dataset.about, button);
});
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") renderNoted();
});
renderNoted();

// Alerts: a short chime and, when permitted, a desktop notification.
function announce(req) {
  chime();
  if ("Notification" in window && Notification.permission === "granted") {
    const service = req.service ? ` (${req.service.name})` : "";
    new Notification("New session request", { body: `${req.requester.name}${service}`, tag: `request-${req.id}` });
  }
}

/**
 * A request still unanswered (request_reminded, repeated by the server while it waits):
 * the chime again, its card flashes and says it is still waiting, and a desktop alert.
 */
function remind(req) {
  if (state.requests.get(req.id)?.state !== "pending") return; // answered meanwhile
  const card = requestList.querySelector(`[data-key="${req.id}"]`);
  if (card) {
    card.querySelector(".still-waiting").hidden = false;
    card.classList.remove("is-new");
    void card.offsetWidth; // restart the arrival flash
    card.classList.add("is-new");
  }
  chime();
  if ("Notification" in window && Notification.permission === "granted") {
    new Notification("Still waiting for your answer", { body: req.requester.name, tag: `request-${req.id}` });
  }
}

const hint = document.getElementById("notify-hint");
if ("Notification" in window && Notification.permission === "default") {
  hint.hidden = false;
  document.getElementById("enable-notifications").addEventListener("click", async () => {
    await Notification.requestPermission();
    hint.hidden = true;
  });
}

connectLive({
  events: ["request_created", "request_updated", "request_reminded", "availability_changed", "visit_updated"],
  onSnapshot(stream, data) {
    if (!stream.startsWith("provider:")) return;
    state.available = data.available;
    state.requests = new Map(data.requests.map((r) => [r.id, r]));
    state.sessions = new Map(data.sessions.map((v) => [v.id, v]));
    renderAvailability();
    renderRequests();
    renderSessions();
    ready = true;
  },
  onEvent(name, payload) {
    if (!payload.stream.startsWith("provider:")) return;
    if (name === "request_created") {
      const isNew = !state.requests.has(payload.id);
      state.requests.set(payload.id, payload);
      renderRequests(isNew ? new Set([payload.id]) : new Set());
      if (isNew && ready) announce(payload);
    } else if (name === "request_updated") {
      state.requests.set(payload.id, payload);
      renderRequests();
    } else if (name === "request_reminded") {
      remind(payload);
    } else if (name === "availability_changed") {
      state.available = payload.available;
      renderAvailability();
    } else if (name === "visit_updated") {
      state.sessions.set(payload.id, payload);
      renderSessions();
      if (!["open", "in_call"].includes(payload.state)) renderNoted(); // a session is over
    }
  },
});

// Ages and waiting clocks tick in place; fixed-width digits keep the layout still.
setInterval(() => {
  for (const el of document.querySelectorAll(".age[data-since]")) el.textContent = age(el.dataset.since);
  for (const el of document.querySelectorAll(".waited[data-since]")) el.textContent = `waiting ${clock(el.dataset.since)}`;
}, 1000);
