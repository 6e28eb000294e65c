// Shared by every page: the API helper, the live connection with per-stream versions,
// the reconnecting banner and the idle sign-out.
import { io } from "/static/vendor/socket.io.esm.min.js";

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]').content;
}

/** Call the JSON API with the session cookie and CSRF header; never throws on HTTP errors. */
export async function api(method, url, body) {
  let response;
  try {
    response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { ok: false, status: 0, data: { error: { message: "No connection. Check the network and try again." } } };
  }
  if (response.status === 401) {
    window.location.assign("/auth/login");
  }
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  return { ok: response.ok, status: response.status, data };
}

export function errorMessage(result) {
  return result?.data?.error?.message || "That did not work. Please try again.";
}

export function showError(element, message) {
  element.textContent = message;
  element.hidden = !message;
}

/**
 * Follow the user's live streams. Each stream's snapshot replaces the page's state; each
 * event after it carries the next version. A gap means something was missed, so we ask
 * for a fresh snapshot instead of trusting the page.
 *
 * `streams` (optional): the only streams this page follows; others are ignored.
 * `reload(snapshot)` (optional): for a page that shows something a snapshot does not carry
 * (the clinic schedule of another day). Return null to take the snapshot, or a promise of
 * the page's own reading `{stream, version, data}`, made after the snapshot (from the API,
 * which reads the version first). The stream's events wait meanwhile, then go through the
 * same version checks, so the reading is never overwritten by older news or left behind.
 */
export function connectLive({ events, onSnapshot, onEvent, streams = null, reload = null }) {
  const versions = new Map();
  const held = new Map(); // stream → its events that arrived while the page was reloading it
  const follows = (stream) => !streams || streams.includes(stream);
  const socket = io({ transports: ["websocket", "polling"] });
  const initial = JSON.parse(document.getElementById("snapshots")?.textContent || "[]");
  for (const snapshot of initial) applySnapshot(snapshot);

  const banner = document.getElementById("connection");
  let everConnected = false;

  function applySnapshot(snapshot) {
    if (!follows(snapshot.stream)) return;
    const known = versions.get(snapshot.stream);
    if (known !== undefined && snapshot.version < known) return;
    versions.set(snapshot.stream, snapshot.version);
    const reading = reload?.(snapshot);
    if (reading) return reloadStream(snapshot.stream, reading);
    held.delete(snapshot.stream);
    onSnapshot(snapshot.stream, snapshot.data);
  }

  async function reloadStream(stream, reading) {
    const waiting = [];
    held.set(stream, waiting);
    let own = null;
    try { own = await reading; } catch { own = null; }
    if (held.get(stream) !== waiting) return; // a newer snapshot took over
    held.delete(stream);
    if (!own || own.version < versions.get(stream)) {
      // Could not read it (or read something older): ask again in a moment.
      setTimeout(() => socket.emit("resync", { stream }), 2000);
      return;
    }
    versions.set(stream, own.version);
    onSnapshot(stream, own.data);
    for (const [name, payload] of waiting) deliver(name, payload);
  }

  function deliver(name, payload) {
    if (!follows(payload.stream)) return;
    const waiting = held.get(payload.stream);
    if (waiting) return void waiting.push([name, payload]);
    const known = versions.get(payload.stream) ?? 0;
    if (payload.version <= known) return;
    if (payload.version > known + 1) socket.emit("resync", { stream: payload.stream });
    versions.set(payload.stream, payload.version);
    onEvent(name, payload);
  }

  socket.on("snapshot", applySnapshot);
  // The server may have lost events (its message queue was down): ask again for every
  // stream, a little later on each page, so thousands of pages do not ask at once.
  let staleTimer = null;
  socket.on("stale", () => {
    if (staleTimer) return;
    staleTimer = setTimeout(() => {
      staleTimer = null;
      for (const stream of versions.keys()) socket.emit("resync", { stream });
    }, Math.random() * 3000);
  });
  for (const name of events) socket.on(name, (payload) => deliver(name, payload));
  // A change its events do not describe (a provider added to the directory, or gone from
  // it): take its version, so what follows is not a gap, and read the stream again.
  socket.on("stream_changed", (payload) => {
    if (!follows(payload.stream)) return;
    if (payload.version <= (versions.get(payload.stream) ?? 0)) return;
    versions.set(payload.stream, payload.version);
    socket.emit("resync", { stream: payload.stream });
  });
  socket.on("connect", () => {
    banner.hidden = true;
    everConnected = true;
    // Tells tests (and any style that cares) that the page is following live updates.
    document.documentElement.dataset.live = "connected";
  });
  socket.on("disconnect", (reason) => {
    // Closed by the server (its session ended, or too many windows): socket.io does not
    // retry by itself; one try finds out why (and goes to sign-in if it must).
    if (reason === "io server disconnect") setTimeout(() => socket.connect(), 1000);
    document.documentElement.dataset.live = "reconnecting";
    banner.textContent = "Connection lost. Reconnecting…";
    banner.hidden = false;
  });
  socket.on("connect_error", (error) => {
    if (error?.message === "unauthorized") window.location.assign("/auth/login");
    if (error?.message === "too_many_connections") {
      banner.textContent = "Anteroom is open in too many windows. Close one, and this one reconnects.";
      banner.hidden = false;
      return;
    }
    if (everConnected || error) {
      banner.textContent = "Cannot reach Anteroom. Retrying…";
      banner.hidden = false;
    }
  });
  followSignOut(socket);
  watchIdle(socket);
  return socket;
}

/** The session ended elsewhere (signed out in another tab, deactivated): go to sign-in. */
export function followSignOut(socket) {
  socket.on("signed_out", () => {
    socket.disconnect();
    window.location.assign("/auth/login");
  });
}

/**
 * The idle logout is the server's: a session with no activity for the idle time ends. While
 * the person uses the page (keys, pointer, wheel, touch), tell the server now and then, so
 * reading a dashboard without clicking anything counts. With no use for the idle time, go
 * to sign-in, where the page says why.
 */
export function watchIdle(socket) {
  const minutes = Number(document.querySelector('meta[name="idle-minutes"]')?.content || 0);
  if (!minutes) return;
  const idle = minutes * 60_000;
  const pingEvery = Math.min(60_000, idle / 3);
  let last = Date.now();
  let pinged = Date.now();
  const touch = () => {
    last = Date.now();
    if (socket?.connected && last - pinged > pingEvery) {
      pinged = last;
      socket.emit("keepalive", {});
    }
  };
  for (const type of ["pointerdown", "keydown", "wheel", "touchstart"]) {
    window.addEventListener(type, touch, { passive: true });
  }
  setInterval(() => {
    if (Date.now() - last > idle) window.location.assign("/auth/login");
  }, Math.min(15_000, pingEvery));
}

/** "just now", "3 min ago", "1 h 5 min ago" */
export function age(iso, now = Date.now()) {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min ago`;
}

/** "0:42", "12:05", "1:02:09" */
export function clock(iso, now = Date.now()) {
  const total = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

let audio = null;
/**
 * The alert sound: two short rising tones. Counts every alert in window.anteroomAlerts, so
 * tests (and anyone debugging a silent kiosk) can see an alert was raised. Returns the
 * AudioContext (null without one): still "suspended" a moment later, the browser is holding
 * the sound until the page is pressed.
 */
export function chime() {
  window.anteroomAlerts = (window.anteroomAlerts || 0) + 1;
  try {
    audio = audio || new AudioContext();
    // Created before the page was ever pressed, the context starts suspended; once the
    // person has pressed anything, resuming is allowed.
    if (audio.state === "suspended") audio.resume().catch(() => {});
    const now = audio.currentTime;
    for (const [i, freq] of [[0, 880], [1, 1320]]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + i * 0.18);
      gain.gain.exponentialRampToValueAtTime(0.25, now + i * 0.18 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.18 + 0.35);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + i * 0.18);
      osc.stop(now + i * 0.18 + 0.4);
    }
  } catch { /* no audio device: the visual alert still shows */ }
  return audio;
}

export function serviceLabel(service) {
  return service ? `(${service.name})` : "";
}

/**
 * Mark buttons busy while a call is in flight. Not `disabled`: disabling the focused button
 * throws keyboard focus back to the top of the page. Busy buttons ignore presses instead.
 */
export function setBusy(container, busy) {
  const buttons = container.matches?.("button") ? [container] : container.querySelectorAll("button");
  for (const button of buttons) {
    if (busy) button.setAttribute("aria-disabled", "true");
    else button.removeAttribute("aria-disabled");
  }
}

export function isBusy(button) {
  return button.getAttribute("aria-disabled") === "true";
}

/**
 * Make `list` show one child per item, in order, reusing the element already there for an
 * item (found by data-key). Elements are moved only when out of place and never rebuilt,
 * so a live update leaves keyboard focus, half-typed text and open forms where they were.
 */
export function reconcile(list, items, key, build, update) {
  const existing = new Map([...list.children].map((el) => [el.dataset.key, el]));
  const wanted = new Set(items.map((item) => String(key(item))));
  for (const [k, el] of existing) if (!wanted.has(k)) el.remove();
  let previous = null;
  for (const item of items) {
    const k = String(key(item));
    let el = existing.get(k);
    if (!el) {
      el = build(item);
      el.dataset.key = k;
    }
    update?.(el, item);
    const anchor = previous ? previous.nextElementSibling : list.firstElementChild;
    if (el !== anchor) list.insertBefore(el, anchor);
    previous = el;
  }
}

export function fromTemplate(id) {
  return document.getElementById(id).content.firstElementChild.cloneNode(true);
}

export const PRESENCE_PILL = {
  absent: "pill-absent",
  left: "pill-absent",
  removed: "pill-absent",
  waiting: "pill-waiting",
  admitted: "pill-meeting",
};

/**
 * The arrow keys, Home, End and type-ahead inside an open menu (WAI-ARIA menu pattern):
 * moves the focus among `items` and answers true when the key was one of those.
 * Escape and Tab are the caller's: what closing means differs per menu.
 */
export function moveInMenu(event, items) {
  const at = items.indexOf(document.activeElement);
  const moves = {
    ArrowDown: (at + 1) % items.length,
    ArrowUp: (at - 1 + items.length) % items.length,
    Home: 0,
    End: items.length - 1,
  };
  if (event.key in moves) {
    event.preventDefault();
    items[moves[event.key]]?.focus();
    return true;
  }
  if (event.key.length === 1 && /\S/.test(event.key) && !event.ctrlKey && !event.metaKey && !event.altKey) {
    // Type-ahead: the next item starting with that letter.
    const next = [...items.slice(at + 1), ...items.slice(0, at + 1)]
      .find((item) => item.textContent.trim().toLowerCase().startsWith(event.key.toLowerCase()));
    next?.focus();
    return true;
  }
  return false;
}

/**
 * A side panel that is a sheet over the call on a phone (`narrow` matches): everything
 * else on the page waits behind it (inert) while it is open, except what must stay in
 * reach above it: dialogs, the announcer, and the corner notices (someone waiting to be
 * admitted, what the host did), which show over the sheet (app.css).
 */
export function setSheetModal(panel, narrow) {
  const modal = !panel.hidden && narrow.matches;
  const outside = [
    document.querySelector(".topbar"),
    document.querySelector(".skip-link"),
    ...panel.parentElement.children,
  ];
  for (const el of outside) {
    if (!el || el === panel || el.matches("dialog, script, #room-announce, .people-notice, .room-notice")) continue;
    el.inert = modal;
  }
}
