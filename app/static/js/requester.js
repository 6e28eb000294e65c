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
  // The newest request to this provider that still shows: pending, or declined and unread.
  return [...state.requests.values()]
    .filter((r) => r.provider.id === providerId)
    .filter((r) => r.state === "pending" || (r.state === "declined" && !r.dismissed))
    .sort((a, b) => b.id - a.id)[0];
}

function buildCard(provider) {
  const card = fromTemplate("provider-template");
  card.dataset.id = provider.id;
  card.querySelector('[data-action="request"]').addEventListener("click", () => requestSession(provider.id, card));
  card.querySelector('[data-action="cancel"]').addEventListener("click", () => act(card, "cancel"));
  card.querySelector('[data-action="dismiss"]').addEventListener("click", () => act(card, "dismiss"));
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
  idle.hidden = Boolean(req);
  pending.hidden = req?.state !== "pending";
  declined.hidden = req?.state !== "declined";
  card.dataset.requestId = req?.id ?? "";
  if (req?.state === "pending") {
    pending.querySelector(".pending-text").textContent = `Waiting for ${provider.name}…`;
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
}

function renderProviders() {
  const providers = [...state.providers.values()].sort((a, b) => a.name.localeCompare(b.name));
  // Cards are kept, never rebuilt: a chosen service and keyboard focus survive live updates.
  reconcile(providerList, providers, (p) => p.id, buildCard, renderProvider);
  document.getElementById("providers-empty").hidden = providers.length > 0;
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
}

async function requestSession(providerId, card) {
  const provider = state.providers.get(providerId);
  if (!provider?.available || isBusy(card.querySelector('[data-action="request"]'))) return;
  const inlineError = card.querySelector(".inline-error");
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

async function act(card, verb) {
  const id = Number(card.dataset.requestId);
  if (!id || isBusy(card.querySelector(`[data-action="${verb}"]`))) return;
  setBusy(card, true);
  const result = await api("POST", `/api/v1/requests/${id}/${verb}`);
  if (!result.ok) {
    showError(errorBox, errorMessage(result));
    if (result.data?.error?.request) upsertRequest(result.data.error.request);
    else renderProviders();
    return;
  }
  showError(errorBox, "");
  upsertRequest(result.data);
  keepFocusIn(card);
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
    if (stream === "directory") {
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
    } else if (name === "visit_updated") {
      state.sessions.set(payload.id, payload);
      renderSessions();
    }
  },
});
