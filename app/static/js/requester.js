// The requester's dashboard: the provider directory, their requests and their sessions.
import {
  api, chime, connectLive, errorMessage, fromTemplate, isBusy, PRESENCE_PILL, reconcile, serviceLabel,
  setBusy, showError,
} from "./live.js";

const state = { providers: new Map(), requests: new Map(), sessions: new Map() };
const providerList = document.getElementById("providers");
const sessionList = document.getElementById("sessions");
const errorBox = document.getElementById("action-error");

function openRequestFor(providerId) {
  // The newest request to this provider, while it still shows: pending, or declined or
  // expired and not yet read (asking again replaces an expired one).
  const newest = [...state.requests.values()]
    .filter((r) => r.provider.id === providerId)
    .sort((a, b) => b.id - a.id)[0];
  const shows = newest?.state === "pending" || (["declined", "expired"].includes(newest?.state) && !newest.dismissed);
  return shows ? newest : undefined;
}

/** "You are next in line" and the estimated wait, in words. */
function queueWords(req) {
  const position = req.position === 1 ? "You are next in line." : req.position ? `You are number ${req.position} in line.` : "";
  const seconds = req.estimated_wait_seconds;
  let estimate = "Estimated wait: unknown.";
  if (seconds != null) {
    const minutes = Math.round(seconds / 60);
    estimate = minutes < 1 ? "Estimated wait: under a minute."
      : `Estimated wait: about ${minutes} minute${minutes === 1 ? "" : "s"}.`;
  }
  return { position, estimate: req.position ? estimate : "" };
}

function buildCard(provider) {
  const card = fromTemplate("provider-template");
  card.dataset.id = provider.id;
  card.querySelector('[data-action="request"]').addEventListener("click", () => requestSession(provider.id, card));
  card.querySelector('[data-action="cancel"]').addEventListener("click", () => act(card, "cancel"));
  card.querySelector('[data-action="dismiss"]').addEventListener("click", () => act(card, "dismiss"));
  card.querySelector('[data-action="again"]').addEventListener("click", () => requestSession(provider.id, card));
  card.querySelector('[data-action="choose-another"]').addEventListener("click", async () => {
    // The expiry is read; the person goes back to the list of providers to pick another.
    if (await act(card, "dismiss")) document.getElementById("providers-title").focus();
  });
  return card;
}

function renderProvider(card, provider) {
  card.setAttribute("aria-label", provider.name);
  card.querySelector(".name").textContent = provider.name;
  const pill = card.querySelector(".pill");
  pill.textContent = provider.available ? "Available" : "Unavailable";
  pill.className = `pill ${provider.available ? "pill-available" : "pill-unavailable"}`;
  card.querySelector(".services").textContent =
    provider.services.map((s) => s.name).join(" · ") || "General sessions";

  const choice = card.querySelector(".service-choice");
  const several = provider.services.length > 1;
  choice.hidden = !several;
  const signature = provider.services.map((s) => s.id).join(",");
  if (several && choice.dataset.signature !== signature) {
    choice.dataset.signature = signature;
    for (const label of choice.querySelectorAll("label")) label.remove();
    for (const service of provider.services) {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "radio";
      input.name = `service-${provider.id}`;
      input.value = service.id;
      label.append(input, document.createTextNode(service.name));
      choice.append(label);
    }
  }

  const req = openRequestFor(provider.id);
  choice.disabled = Boolean(req); // the choice is made; it shows what was asked for
  if (req?.service) {
    const asked = choice.querySelector(`input[value="${req.service.id}"]`);
    if (asked) asked.checked = true;
  }
  const idle = card.querySelector(".idle");
  const pending = card.querySelector(".status-pending");
  const declined = card.querySelector(".status-declined");
  const expired = card.querySelector(".status-expired");
  idle.hidden = Boolean(req);
  pending.hidden = req?.state !== "pending";
  declined.hidden = req?.state !== "declined";
  expired.hidden = req?.state !== "expired";
  card.dataset.requestId = req?.id ?? "";
  if (req?.state === "pending") {
    pending.querySelector(".pending-text").textContent = `Waiting for ${provider.name}…`;
    const words = queueWords(req);
    pending.querySelector(".queue-position").textContent = words.position;
    pending.querySelector(".queue-estimate").textContent = words.estimate;
  } else if (req?.state === "expired") {
    expired.querySelector(".expired-text").textContent = `${provider.name} did not answer in time.`;
  } else if (req?.state === "declined") {
    // Declined because the provider was (or became) unavailable is not a refusal: say so,
    // and leave out the standard note, which would only repeat it. Older servers send no
    // decline_reason; that reads as an ordinary decline.
    const unavailable = req.decline_reason === "unavailable";
    declined.classList.toggle("is-unavailable", unavailable);
    declined.querySelector(".declined-text").textContent = unavailable
      ? `${provider.name} is not available right now.`
      : `${provider.name} declined your request.`;
    const note = declined.querySelector(".note");
    const text = unavailable ? "" : req.decline_note;
    note.textContent = text ? `“${text}”` : "";
    note.hidden = !text;
  }
  setBusy(card, false);
  // Not `disabled`: a focused button that turns unavailable keeps keyboard focus, and
  // comes back to life in place when the provider does.
  const ask = card.querySelector('[data-action="request"]');
  ask.textContent = provider.available ? "Request Session Now" : "Not available right now";
  ask.classList.toggle("is-unavailable", !provider.available);
  if (!provider.available) ask.setAttribute("aria-disabled", "true");
  const again = card.querySelector('[data-action="again"]');
  again.textContent = provider.available ? "Request again" : "Not available right now";
  again.classList.toggle("is-unavailable", !provider.available);
  if (provider.available) again.removeAttribute("aria-disabled");
  else again.setAttribute("aria-disabled", "true");
}

/** What the page shows changed: a station's screen (kiosk.js) says it in big words. */
function announceState() {
  document.dispatchEvent(new CustomEvent("requester-state", { detail: state }));
}

function renderProviders() {
  const providers = [...state.providers.values()].sort((a, b) => a.name.localeCompare(b.name));
  // Cards are kept, never rebuilt: a chosen service and keyboard focus survive live updates.
  reconcile(providerList, providers, (p) => p.id, buildCard, renderProvider);
  document.getElementById("providers-empty").hidden = providers.length > 0;
  announceState();
}

function renderSessions() {
  const live = [...state.sessions.values()]
    .filter((v) => ["open", "in_call"].includes(v.state))
    .sort((a, b) => b.id - a.id);
  reconcile(sessionList, live, (v) => v.id, () => fromTemplate("session-template"), (card, visit) => {
    const host = visit.participants.find((p) => p.role === "host");
    card.setAttribute("aria-label", `Session with ${visit.host.name}`);
    card.querySelector(".name").textContent = visit.host.name;
    card.querySelector(".service").textContent = serviceLabel(visit.service);
    const pill = card.querySelector(".pill");
    const hostIn = host?.presence === "admitted";
    pill.textContent = hostIn ? `${visit.host.name} is in the meeting` : "Accepted: enter when ready";
    pill.className = `pill ${hostIn ? PRESENCE_PILL.admitted : PRESENCE_PILL.waiting}`;
    card.querySelector(".enter").href = `/visits/${visit.id}`;
  });
  document.getElementById("sessions-section").hidden = live.length === 0;
  announceState();
}

async function requestSession(providerId, card) {
  const provider = state.providers.get(providerId);
  if (!provider?.available || isBusy(card.querySelector('[data-action="request"]'))) return;
  // Asked again from an expired request's box, the card's own error line is hidden.
  const inlineError = card.querySelector(".idle").hidden ? errorBox : card.querySelector(".inline-error");
  const body = { provider_id: providerId };
  if (provider.services.length > 1) {
    const chosen = card.querySelector(`input[name="service-${providerId}"]:checked`);
    if (!chosen) {
      showError(inlineError, "Choose a service first.");
      card.querySelector(".service-choice input")?.focus();
      return;
    }
    body.service_id = Number(chosen.value);
  }
  showError(inlineError, "");
  setBusy(card, true);
  const result = await api("POST", "/api/v1/requests", body);
  if (!result.ok) {
    setBusy(card, false);
    showError(inlineError, errorMessage(result));
    return;
  }
  upsertRequest(result.data);
  keepFocusIn(card);
}

/** The button just pressed has been hidden: put keyboard focus on what replaced it. */
function keepFocusIn(card) {
  const focused = document.activeElement;
  const lost = !focused || focused === document.body || (card.contains(focused) && focused.offsetParent === null);
  if (!lost) return; // focus is somewhere the person put it; leave it there
  const target = [...card.querySelectorAll(".request-slot button")].find((b) => b.offsetParent !== null);
  target?.focus();
}

/** Cancel or dismiss the card's request; whether it worked. */
async function act(card, verb) {
  const id = Number(card.dataset.requestId);
  if (!id || isBusy(card.querySelector(`[data-action="${verb}"]`))) return false;
  setBusy(card, true);
  const result = await api("POST", `/api/v1/requests/${id}/${verb}`);
  if (!result.ok) {
    showError(errorBox, errorMessage(result));
    if (result.data?.error?.request) upsertRequest(result.data.error.request);
    else renderProviders();
    return false;
  }
  showError(errorBox, "");
  upsertRequest(result.data);
  keepFocusIn(card);
  return true;
}

function upsertRequest(req) {
  const known = state.requests.get(req.id);
  // The API answer and the live event carry the same shape; never step back in time.
  if (!(known && known.updated_at > req.updated_at)) {
    state.requests.set(req.id, { ...known, ...req, dismissed: req.dismissed ?? false });
  }
  renderProviders();
}

connectLive({
  events: ["request_updated", "availability_changed", "visit_updated"],
  onSnapshot(stream, data) {
    if (stream.startsWith("directory:")) {
      state.providers = new Map(data.providers.map((p) => [p.id, p]));
      renderProviders();
    } else {
      state.requests = new Map(data.requests.map((r) => [r.id, r]));
      state.sessions = new Map(data.sessions.map((v) => [v.id, v]));
      renderProviders();
      renderSessions();
    }
  },
  onEvent(name, payload) {
    if (name === "availability_changed") {
      const provider = state.providers.get(payload.provider_id);
      if (provider) { provider.available = payload.available; renderProviders(); }
    } else if (name === "request_updated") {
      const before = state.requests.get(payload.id)?.state;
      upsertRequest(payload);
      const now = state.requests.get(payload.id)?.state;
      // Accepted: the session is ready. Heard across the room, not only seen.
      if (now === "accepted" && before !== "accepted") chime();
      // Expired under the person's hands: focus goes to Request again, not to the page.
      if (now === "expired" && before === "pending") {
        const card = providerList.querySelector(`[data-key="${payload.provider.id}"]`);
        if (card) keepFocusIn(card);
      }
    } else if (name === "visit_updated") {
      state.sessions.set(payload.id, payload);
      renderSessions();
    }
  },
});
