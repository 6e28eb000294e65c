// The host's session information panel ("People") in the visit room: who waits to be let in
// (Admit, Deny), who is in the call (Mute, Move back to waiting room, Remove), who was
// invited and is not here; adding someone during the call; and a notice in the corner, with
// a short sound, whenever someone waits to be let in while the panel is closed.
//
// The list is read with list_participants on every (re)join (room.js calls reload) and kept
// live from participant_updated. Every change is the server's: change_participant,
// add_participant and mute_participant answer with the person or a refusal, shown here.
// Only the call's own page (room.js) knows about media; this module never touches the call.
import { chime, clock, fromTemplate, isBusy, moveInMenu, reconcile, setBusy, setSheetModal, showError } from "./live.js";

const ANSWER_TIMEOUT = 10_000;
// A phone: the panel is a sheet over the call, and the rest of the page waits behind it.
const NARROW = window.matchMedia("(max-width: 640px)");
const NO_ANSWER = "No answer from the server. Check the connection and try again.";

const describe = (p) => (p.role === "patient" ? "Patient" : p.role === "host" ? "Provider" : p.description || "Guest");
const waitKey = (p) => `${p.id}@${p.waiting_since}`;
const waited = (since) => (since ? `waiting ${clock(since)}` : "waiting");
// Their connection dropped: they keep their place for a while (the server's grace period).
const dropped = (p) => (p.reconnecting ? ", reconnecting…" : "");

/**
 * Wire the panel (rendered for the host only) to the room's socket. Returns `reload` (call
 * it once the page has (re)joined the visit) and `stop` (the page ended); null when the page
 * has no panel.
 */
export function connectPeople({ socket, visitId, me, requestSnapshot = null }) {
  const panel = document.getElementById("people-panel");
  if (!panel) return null;
  const toggle = document.getElementById("people-toggle");
  const badge = document.getElementById("people-badge");
  const badgeText = document.getElementById("people-badge-text");
  const title = document.getElementById("people-title");
  const body = document.getElementById("people-body");
  const errorBox = document.getElementById("people-error");
  const statusBox = document.getElementById("people-status");
  const search = document.getElementById("people-search");
  const noMatch = document.getElementById("people-no-match");
  const announcer = document.getElementById("room-announce");
  const notice = document.getElementById("people-notice");
  const noticeList = document.getElementById("people-notice-list");
  const noticeMore = document.getElementById("people-notice-more");
  const soundRow = document.getElementById("people-sound-row");
  const sections = {
    waiting: panel.querySelector('[data-section="waiting"]'),
    "in-call": panel.querySelector('[data-section="in-call"]'),
    away: panel.querySelector('[data-section="away"]'),
  };

  const people = new Map(); // participant id → what the server last said about them
  const denied = new Set(); // removed while waiting: "Not let in" rather than "Removed"
  const alerted = new Set(); // waitKey of each wait already announced (once per wait)
  const dismissed = new Set(); // waitKey of each wait the host dismissed from the notice
  const quiet = new Set(); // ids the host is moving back: no alert for their own doing
  let stopped = false;
  let loaded = false; // the server's list has arrived (the page's own is from its rendering)
  let soundContext = null;
  let reloading = null;

  // --- Talking to the server -------------------------------------------------------------

  /** Emit and wait for the answer: {participant…} or {error: {code, message, fields}}. */
  function ask(event, data) {
    return new Promise((resolve) => {
      if (!socket.connected) {
        resolve({ error: { code: "offline", message: "Not connected. Wait until the connection is back, then try again." } });
        return;
      }
      socket.timeout(ANSWER_TIMEOUT).emit(event, { visit_id: visitId, ...data }, (timedOut, answer) => {
        resolve(timedOut ? { error: { code: "timeout", message: NO_ANSWER } } : answer ?? {});
      });
    });
  }

  function reload() {
    if (stopped) return;
    const asked = (reloading = ask("list_participants", {}));
    asked.then((answer) => {
      if (asked !== reloading || stopped || !answer.participants) return;
      loaded = true;
      document.documentElement.dataset.people = "loaded"; // for tests: the list is the server's
      const known = new Map(people);
      people.clear();
      for (const p of answer.participants) {
        noteChange(known.get(p.id), p);
        people.set(p.id, p);
      }
      render();
      alertWaiting(waitingPeople().filter((p) => !alerted.has(waitKey(p))));
    });
  }

  /** Remember what a change means for the page before it is applied. */
  function noteChange(before, after) {
    if (after.presence === "removed" && before?.presence === "waiting") denied.add(after.id);
  }

  function upsert(participant) {
    if (participant.id === me.participant_id) return;
    const before = people.get(participant.id);
    // participant_updated carries no description: keep the one the list gave.
    const after = { ...before, ...participant };
    noteChange(before, after);
    people.set(after.id, after);
    return { before, after };
  }

  socket.on("participant_updated", ({ participant } = {}) => {
    if (stopped || !participant) return;
    const change = upsert(participant);
    if (!change) return;
    render();
    const { before, after } = change;
    if (!before) reload(); // someone new (added elsewhere): the list has their description
    const arrived = after.presence === "waiting" && (before?.presence !== "waiting" || before.waiting_since !== after.waiting_since);
    if (arrived) alertWaiting([after]);
  });

  // --- Alerts: the sound, the corner notice, the words for screen readers ------------------

  function announce(text) {
    // Emptied first, so the same words twice are read twice.
    announcer.textContent = "";
    setTimeout(() => { announcer.textContent = text; }, 50);
  }

  function alertWaiting(list) {
    const fresh = list.filter((p) => !alerted.has(waitKey(p)));
    for (const p of fresh) alerted.add(waitKey(p));
    const heard = fresh.filter((p) => !quiet.has(p.id));
    if (!heard.length || stopped) return;
    const [first] = heard;
    announce(heard.length === 1
      ? `${first.name} (${describe(first)}) is waiting to join.`
      : `${heard.length} people are waiting to join.`);
    ring();
  }

  /** The alert sound (Web Audio, live.js). A browser that allows no sound before the page is
   * pressed leaves it silent: the notice then offers to turn it on. */
  function ring() {
    soundContext = chime() ?? soundContext;
    const context = soundContext;
    setTimeout(() => {
      soundRow.hidden = !context || context.state === "running";
    }, 400);
  }

  document.getElementById("people-sound").addEventListener("click", async () => {
    try { await soundContext?.resume(); } catch { /* no audio device */ }
    soundRow.hidden = true;
    ring(); // so they hear what it sounds like
    document.getElementById("people-notice-open").focus();
  });
  // Any press on the page lets the sound play from then on.
  for (const type of ["pointerdown", "keydown"]) {
    window.addEventListener(type, () => {
      if (soundContext?.state === "suspended") {
        soundContext.resume().then(() => { soundRow.hidden = true; }).catch(() => {});
      }
    }, { capture: true, passive: true });
  }

  // --- Rendering -------------------------------------------------------------------------

  const others = () => [...people.values()].filter((p) => p.id !== me.participant_id);
  const waitingPeople = () => others()
    .filter((p) => p.presence === "waiting")
    .sort((a, b) => Date.parse(a.waiting_since ?? 0) - Date.parse(b.waiting_since ?? 0) || a.id - b.id);

  function stateOf(p) {
    if (p.presence === "waiting") return `${waited(p.waiting_since)}${dropped(p)}`;
    if (p.presence === "admitted") return p.reconnecting ? "Reconnecting…" : "";
    if (p.presence === "absent") return p.role === "host" ? "Not arrived yet" : "Invited, not arrived yet";
    if (p.presence === "left") return "Left the session";
    if (p.presence === "removed") return denied.has(p.id) ? "Not let in" : "Removed";
    return "";
  }

  /** "Daughter · waiting 2:13": who they are, then where (the clock ticks: data-since). */
  function showMeta(meta, p) {
    const state = stateOf(p);
    meta.textContent = state ? `${describe(p)} · ${state}` : describe(p);
    meta.dataset.about = describe(p);
    meta.dataset.after = dropped(p);
    if (p.presence === "waiting" && p.waiting_since) meta.dataset.since = p.waiting_since;
    else delete meta.dataset.since;
  }

  function buildPerson(p) {
    const el = fromTemplate("person-template");
    const button = el.querySelector(".menu-button");
    const menu = el.querySelector(".menu");
    button.id = `person-menu-button-${p.id}`;
    menu.id = `person-menu-${p.id}`;
    button.setAttribute("aria-controls", menu.id);
    menu.setAttribute("aria-labelledby", button.id);
    return el;
  }

  function updatePerson(el, p) {
    el.dataset.presence = p.presence;
    el.querySelector(".person-name").textContent = p.name;
    showMeta(el.querySelector(".person-meta"), p);
    for (const label of el.querySelectorAll("[data-action] .visually-hidden")) label.textContent = ` ${p.name}`;
    el.querySelector(".menu-button").setAttribute("aria-label", `Actions for ${p.name}`);
    el.querySelector('[data-for="waiting"]').hidden = p.presence !== "waiting";
    el.querySelector('[data-for="in-call"]').hidden = p.presence !== "admitted" || p.role === "host";
  }

  function render() {
    const query = search.value.trim().toLowerCase();
    const matches = (p) => !query || p.name.toLowerCase().includes(query);
    const groups = {
      waiting: waitingPeople(),
      "in-call": others().filter((p) => p.presence === "admitted"),
      away: others().filter((p) => ["absent", "left", "removed"].includes(p.presence)),
    };
    let shown = 0;
    for (const [name, section] of Object.entries(sections)) {
      const found = groups[name].filter(matches);
      shown += found.length;
      reconcile(section.querySelector(".people-list"), found, (p) => p.id, buildPerson, updatePerson);
      section.querySelector("[data-count]").textContent = String(found.length);
      section.querySelector("[data-empty]").hidden = found.length > 0 || Boolean(query);
      // Searching: only where someone matches. The empty lists say what nobody is.
      section.hidden = Boolean(query) && found.length === 0;
    }
    noMatch.hidden = !query || shown > 0;
    noMatch.textContent = query ? `No one matches “${search.value.trim()}”.` : "";
    if (openMenu && !openMenu.button.isConnected) openMenu = null;

    const waiting = groups.waiting.length;
    badge.textContent = String(waiting);
    badge.hidden = waiting === 0;
    badgeText.textContent = waiting ? ` (${waiting} waiting)` : "";
    renderNotice(groups.waiting);
  }

  function renderNotice(waiting = waitingPeople()) {
    const wanted = waiting.filter((p) => !dismissed.has(waitKey(p)));
    notice.hidden = stopped || !loaded || !panel.hidden || wanted.length === 0;
    const shown = wanted.slice(0, 3);
    reconcile(noticeList, shown, (p) => p.id, () => fromTemplate("notice-template"), (el, p) => {
      el.querySelector(".person-name").textContent = p.name;
      showMeta(el.querySelector(".person-meta"), p);
      el.querySelector("[data-action] .visually-hidden").textContent = ` ${p.name}`;
    });
    const more = wanted.length - shown.length;
    noticeMore.hidden = more <= 0;
    noticeMore.textContent = more > 0 ? `And ${more} more waiting.` : "";
  }

  // The waiting clocks tick.
  const ticker = setInterval(() => {
    for (const el of document.querySelectorAll("#people-panel [data-since], #people-notice [data-since]")) {
      el.textContent = `${el.dataset.about} · ${waited(el.dataset.since)}${el.dataset.after}`;
    }
  }, 1000);

  search.addEventListener("input", render);
  search.addEventListener("search", render);

  // --- The panel: open, close, and on a phone a sheet the rest of the page waits behind ------

  const setModal = () => setSheetModal(panel, NARROW);
  NARROW.addEventListener("change", setModal);

  function openPanel(focus = title) {
    if (stopped) return;
    // One side panel at a time: the chat (chat.js) closes when this opens, and this when it does.
    document.dispatchEvent(new CustomEvent("room-panel", { detail: "people" }));
    panel.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    setModal();
    renderNotice();
    focus?.focus();
  }

  function closePanel(returnFocus = true) {
    if (panel.hidden) return;
    closeMenu(false);
    panel.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    setModal();
    showError(errorBox, "");
    renderNotice();
    if (returnFocus) toggle.focus();
  }

  toggle.addEventListener("click", () => (panel.hidden ? openPanel() : closePanel()));
  document.addEventListener("room-panel", (event) => {
    if (event.detail !== "people") closePanel(false);
  });
  document.getElementById("people-close").addEventListener("click", () => closePanel());
  panel.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    if (event.target === search && search.value) return; // Escape clears the search first
    event.preventDefault();
    closePanel();
  });
  // The sheet on a phone closes when the dimmed page around it is pressed.
  document.addEventListener("click", (event) => {
    if (panel.hidden || !NARROW.matches) return;
    if (panel.contains(event.target) || event.target.closest("dialog, #people-toggle, #people-notice")) return;
    closePanel();
  });

  // --- Saying what happened ------------------------------------------------------------------

  function say(text) {
    showError(errorBox, "");
    statusBox.textContent = text;
    if (panel.hidden) announce(text);
  }

  function refuse(error) {
    statusBox.textContent = "";
    if (panel.hidden) openPanel(); // from the notice, which closes: the focus goes with it
    showError(errorBox, error?.message || "That did not work. Please try again.");
    // The list may be behind (someone left meanwhile): read it again.
    if (error?.code === "conflict" || error?.code === "not_found") reload();
  }

  /** Focus what follows an action: the person's control where they are now, else a heading. */
  function focusAfter(id, fallback) {
    const row = panel.querySelector(`.people-list > [data-key="${id}"]`);
    const control = row && [...row.querySelectorAll('[data-action="admit"], .menu-button')]
      .find((el) => el.offsetParent !== null);
    (control ?? fallback ?? title).focus();
  }

  // --- The actions -----------------------------------------------------------------------------

  async function change(p, action) {
    if (action === "hold") quiet.add(p.id);
    const answer = await ask("change_participant", { participant_id: p.id, action });
    quiet.delete(p.id);
    if (answer.error) {
      refuse(answer.error);
      return null;
    }
    const changed = answer.participant;
    if (changed.presence === "waiting") alerted.add(waitKey(changed)); // their move, not news
    upsert(changed);
    render();
    return changed;
  }

  async function admit(p, button) {
    if (isBusy(button)) return;
    setBusy(button, true);
    const changed = await change(p, "admit");
    setBusy(button, false);
    if (!changed) return;
    say(`${p.name} is joining the call.`);
    if (!panel.hidden) focusAfter(p.id, sections["in-call"].querySelector("h3"));
    else if (!notice.hidden) noticeList.querySelector('[data-action="admit"]')?.focus();
    else toggle.focus();
  }

  async function holdBack(p) {
    if (!(await change(p, "hold"))) return;
    say(`${p.name} is back in the waiting room. Admit them when you are ready.`);
    focusAfter(p.id, sections.waiting.querySelector("h3"));
  }

  async function askToMute(p, button) {
    const answer = await ask("mute_participant", { participant_id: p.id });
    if (answer.error) {
      refuse(answer.error);
    } else {
      say(`${p.name} is muted. They can unmute when they need to.`);
    }
    if (button.isConnected) button.focus();
  }

  // Deny and Remove: the link stops working, so they are asked once more.
  const confirmDialog = document.getElementById("person-confirm");
  const confirmYes = document.getElementById("person-confirm-yes");
  const confirmError = document.getElementById("person-confirm-error");
  let confirming = null; // {person, action, returnTo, fallback}

  function confirmAction(p, action, returnTo) {
    const deny = action === "deny";
    confirming = { person: p, action, returnTo, fallback: sections[deny ? "waiting" : "in-call"].querySelector("h3") };
    document.getElementById("person-confirm-title").textContent = deny
      ? `Deny ${p.name}?`
      : `Remove ${p.name} from the session?`;
    document.getElementById("person-confirm-text").textContent = deny
      ? "They are told you did not let them in, and their link stops working. To let them in later, add them again."
      : "They leave the call at once and their link stops working. To bring them back, add them again.";
    confirmYes.textContent = deny ? "Deny" : "Remove";
    document.getElementById("person-confirm-no").textContent = deny ? "Keep them waiting" : "Keep them in the call";
    showError(confirmError, "");
    confirmDialog.showModal();
  }

  document.getElementById("person-confirm-no").addEventListener("click", () => confirmDialog.close());
  confirmYes.addEventListener("click", async () => {
    if (!confirming || isBusy(confirmYes)) return;
    const { person, action } = confirming;
    setBusy(confirmDialog, true);
    const answer = await ask("change_participant", { participant_id: person.id, action });
    setBusy(confirmDialog, false);
    if (answer.error) {
      showError(confirmError, answer.error.message || "That did not work. Please try again.");
      if (answer.error.code === "conflict") reload();
      return;
    }
    upsert(answer.participant);
    render();
    confirming.done = true;
    confirmDialog.close();
    say(action === "deny" ? `${person.name} was not let in.` : `${person.name} was removed from the session.`);
  });
  confirmDialog.addEventListener("close", () => {
    if (!confirming) return;
    const { returnTo, fallback, done } = confirming;
    confirming = null;
    if (!done && returnTo?.isConnected && returnTo.offsetParent !== null) returnTo.focus();
    else fallback.focus();
  });

  /** Ask them for one picture of their camera (snapshot.js); they choose whether to share it. */
  async function askSnapshot(p, button) {
    const problem = requestSnapshot ? await requestSnapshot(p.id) : "Snapshots cannot be asked for here.";
    if (problem) refuse({ message: problem });
    else say(`${p.name} is asked to share a picture from their camera.`);
    if (button?.isConnected) button.focus();
  }

  function run(action, p, origin) {
    if (!p || stopped) return;
    if (action === "admit") return admit(p, origin);
    if (action === "deny" || action === "remove") return confirmAction(p, action, origin);
    if (action === "hold") return holdBack(p);
    if (action === "mute") return askToMute(p, origin);
    if (action === "snapshot") return askSnapshot(p, origin);
  }

  const personOf = (el) => people.get(Number(el.closest("[data-key]")?.dataset.key));

  noticeList.addEventListener("click", (event) => {
    const button = event.target.closest('[data-action="admit"]');
    if (button) run("admit", personOf(button), button);
  });
  document.getElementById("people-notice-open").addEventListener("click", () => {
    openPanel(sections.waiting.querySelector("h3"));
  });
  document.getElementById("people-notice-dismiss").addEventListener("click", () => {
    for (const p of waitingPeople()) dismissed.add(waitKey(p));
    renderNotice();
    toggle.focus();
  });

  // --- The three-dots menu of someone in the call (WAI-ARIA menu button) -----------------------

  let openMenu = null; // {button, menu}
  const menuItems = (menu) => [...menu.querySelectorAll("[role=menuitem]")].filter((item) => !item.closest("[hidden]"));

  function showMenu(button, which = "first") {
    closeMenu(false);
    const menu = document.getElementById(button.getAttribute("aria-controls"));
    menu.hidden = false;
    // Below the button where it fits in the panel's scrolling body, else above it.
    menu.classList.remove("opens-up");
    const { height } = menu.getBoundingClientRect();
    const { top, bottom } = button.getBoundingClientRect();
    const area = body.getBoundingClientRect();
    const floor = Math.min(area.bottom, window.innerHeight);
    if (bottom + height + 8 > floor && top - height - 8 > area.top) menu.classList.add("opens-up");
    button.setAttribute("aria-expanded", "true");
    openMenu = { button, menu };
    const items = menuItems(menu);
    (which === "last" ? items.at(-1) : items[0])?.focus({ preventScroll: true });
    menu.scrollIntoView({ block: "nearest" });
  }

  function closeMenu(returnFocus) {
    if (!openMenu) return;
    const { button, menu } = openMenu;
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    openMenu = null;
    if (returnFocus && button.isConnected) button.focus();
  }

  panel.addEventListener("click", (event) => {
    const button = event.target.closest(".menu-button");
    if (button) {
      const wasOpen = openMenu?.button === button;
      closeMenu(false);
      if (!wasOpen) showMenu(button);
      return;
    }
    const item = event.target.closest("[data-action]");
    if (!item) return;
    const p = personOf(item);
    if (item.matches("[role=menuitem]")) {
      const { button } = openMenu ?? {};
      closeMenu(true);
      return run(item.dataset.action, p, button);
    }
    run(item.dataset.action, p, item);
  });

  panel.addEventListener("keydown", (event) => {
    const button = event.target.closest(".menu-button");
    if (button && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      showMenu(button, event.key === "ArrowUp" ? "last" : "first");
      return;
    }
    if (!openMenu || !event.target.closest("[role=menu]")) return;
    if (moveInMenu(event, menuItems(openMenu.menu))) return;
    if (event.key === "Escape") {
      event.preventDefault(); // closes the menu, not the panel
      closeMenu(true);
    } else if (event.key === "Tab") {
      closeMenu(false);
    }
  }, { capture: true });

  document.addEventListener("click", (event) => {
    if (openMenu && !openMenu.menu.parentElement.contains(event.target)) closeMenu(false);
  });
  document.addEventListener("focusin", (event) => {
    if (openMenu && !openMenu.menu.parentElement.contains(event.target)) closeMenu(false);
  });

  // --- Add participant ---------------------------------------------------------------------------

  const addDialog = document.getElementById("add-person-dialog");
  const addForm = document.getElementById("add-person-form");
  const addError = document.getElementById("add-person-error");
  const addButton = document.getElementById("people-add");
  const FIELDS = ["name", "email", "mobile", "description"];
  const input = (name) => document.getElementById(`add-person-${name}`);

  function showFieldErrors(fields = {}) {
    for (const name of FIELDS) {
      const message = fields[name];
      const field = input(name);
      field.closest(".field").classList.toggle("has-error", Boolean(message));
      if (message) field.setAttribute("aria-invalid", "true");
      else field.removeAttribute("aria-invalid");
      showError(document.getElementById(`add-person-${name}-error`), message || "");
    }
  }

  addButton.addEventListener("click", () => {
    addForm.reset();
    showFieldErrors();
    showError(addError, "");
    addDialog.showModal();
    input("name").focus();
  });
  addDialog.querySelector("[data-close]").addEventListener("click", () => addDialog.close());
  addDialog.addEventListener("close", () => addButton.focus());

  addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = addForm.querySelector("[type=submit]");
    if (isBusy(submit)) return;
    const values = Object.fromEntries(FIELDS.map((name) => [name, input(name).value.trim()]));
    setBusy(addForm, true);
    const answer = await ask("add_participant", values);
    setBusy(addForm, false);
    if (answer.error) {
      const fields = answer.error.fields ?? {};
      showFieldErrors(fields);
      showError(addError, answer.error.message || "That did not work. Please try again.");
      const first = FIELDS.find((name) => fields[name]);
      if (first) input(first).focus();
      return;
    }
    upsert(answer.participant);
    render();
    addDialog.close();
    const ways = [values.email && `by email (${values.email})`, values.mobile && `by text message (${values.mobile})`]
      .filter(Boolean).join(" and ");
    if (answer.participant.role === "host") {
      // A provider of the clinic: they join as staff, straight into the call.
      say(`${answer.participant.name} was sent a link to this session ${ways}. As a provider of the clinic, they come straight into the call when they open it.`);
    } else {
      say(`Their link was sent to ${answer.participant.name} ${ways}. They appear under Waiting to join when they open it.`);
    }
  });

  // --- The first picture: who the page was rendered with, until the server's list arrives ----

  const config = JSON.parse(document.getElementById("room-config").textContent);
  for (const p of config.visit.participants ?? []) upsert(p);
  render();

  return {
    reload,
    /** The page ended (the visit is over, or this page left it): nothing more to act on. */
    stop() {
      stopped = true;
      clearInterval(ticker);
      closeMenu(false);
      closePanel(false);
      notice.hidden = true;
      for (const dialog of [addDialog, confirmDialog]) if (dialog.open) dialog.close();
    },
  };
}
