// The call's chat, and the host's private notes, in one side panel of the visit room.
//
// Chat: everyone in the call writes to everyone in it (chat_send), with a file if they like
// (POST /visits/<id>/attachments, multipart, with a progress bar). The page reads the chat
// so far whenever it (re)joins the call (chat_history: room.js calls reload with the join's
// answer) and each new message as it comes (chat_message). A message is kept by its id,
// which only grows, so it is shown once however often it arrives. While the chat is not in
// view, each new message from someone else lights a dot on the Chat button and is read out
// (#room-announce), until the chat is opened; what was seen is remembered for the tab
// (sessionStorage), so a reload does not light it again.
//
// Private notes (the host's): note_history and note_add. Nobody else is told.
//
// One side panel at a time: opening one says so ("room-panel" on document) and the others
// close. Only room.js knows about the call; this module never touches it.
import { csrfToken, isBusy, setBusy, setSheetModal, showError } from "./live.js";

const ANSWER_TIMEOUT = 10_000;
const UPLOAD_TIMEOUT = 10 * 60_000;
// A phone: the panel is a sheet over the call, and the rest of the page waits behind it.
const NARROW = window.matchMedia("(max-width: 640px)");
const NO_ANSWER = "No answer from the server. Check the connection and try again.";
const OFFLINE = "Not connected. Wait until the connection is back, then try again.";
const REFUSED = {
  413: "The file is too large to send.",
  415: "This kind of file cannot be sent here.",
};

/** "12 KB", "3.4 MB": a file's size as people read it. */
export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  const megabytes = bytes / (1024 * 1024);
  return `${megabytes < 10 ? megabytes.toFixed(1) : Math.round(megabytes)} MB`;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Wire the panel (rendered for everyone in a live visit) to the room's socket. Returns
 * `reload(presence)` (call it with each join's answer) and `stop()`; null without a panel.
 */
export function connectChat({ socket, visitId, me, timeZone }) {
  const panel = document.getElementById("chat-panel");
  const toggle = document.getElementById("chat-toggle");
  if (!panel || !toggle) return null;
  const title = document.getElementById("chat-panel-title");
  const log = document.getElementById("chat-log");
  const scroller = document.getElementById("chat-scroll");
  const empty = document.getElementById("chat-empty");
  const form = document.getElementById("chat-form");
  const text = document.getElementById("chat-text");
  const errorBox = document.getElementById("chat-error");
  const fileInput = document.getElementById("chat-file");
  const chosen = document.getElementById("chat-chosen");
  const chosenName = document.getElementById("chat-chosen-name");
  const sending = document.getElementById("chat-sending");
  const progress = document.getElementById("chat-progress");
  const progressLabel = document.getElementById("chat-progress-label");
  const unreadText = document.getElementById("chat-unread-text");
  const announcer = document.getElementById("room-announce");
  const controls = document.getElementById("controls");
  const tabs = [...panel.querySelectorAll("[role=tab]")];
  const maxBytes = Number(fileInput.dataset.maxBytes) || Infinity;
  const timeFormat = new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit" });
  const dayFormat = new Intl.DateTimeFormat("en-GB", {
    timeZone, weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  });

  const shown = new Map(); // message id → its element
  const unread = new Set(); // ids of others' messages not seen yet
  const seenKey = `anteroom.chat-seen.${visitId}.${me.participant_id}`;
  let seen = Number(sessionStorage.getItem(seenKey)) || 0; // the last id seen in this tab
  let inCall = false;
  let stopped = false;
  let chosenFile = null;
  let reading = null;

  // --- Talking to the server -------------------------------------------------------------

  /** Emit and wait for the answer, or {error: {code, message}}. */
  function ask(event, data = {}) {
    return new Promise((resolve) => {
      if (!socket.connected) {
        resolve({ error: { code: "offline", message: OFFLINE } });
        return;
      }
      socket.timeout(ANSWER_TIMEOUT).emit(event, { visit_id: visitId, ...data }, (timedOut, answer) => {
        resolve(timedOut ? { error: { code: "timeout", message: NO_ANSWER } } : answer ?? {});
      });
    });
  }

  function announce(words) {
    // Emptied first, so the same words twice are read twice.
    announcer.textContent = "";
    setTimeout(() => { announcer.textContent = words; }, 50);
  }

  // --- Messages --------------------------------------------------------------------------

  const mine = (message) => message.author?.participant_id === me.participant_id;
  const chatInView = () => !panel.hidden && (!tabs.length || tabs[0].getAttribute("aria-selected") === "true");
  const nearEnd = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
  const scrollToEnd = () => { scroller.scrollTop = scroller.scrollHeight; };

  function build(message) {
    const item = element("li", `chat-message${mine(message) ? " is-mine" : ""}`);
    item.dataset.id = message.id;
    const meta = element("p", "chat-meta");
    const author = element("span", "chat-author", mine(message) ? "You" : message.author?.name ?? "Someone");
    const at = element("time", "chat-time", timeFormat.format(new Date(message.sent_at)));
    at.dateTime = message.sent_at;
    meta.append(author, " ", at);
    item.append(meta);
    if (message.text) item.append(element("p", "chat-text", message.text));
    const file = message.attachment;
    if (file) {
      const line = element("p", "chat-attachment");
      // A download, never a page of its own: room.js lets links with `download` be.
      const link = element("a", "chat-file-link");
      link.href = file.url;
      link.download = file.name;
      link.append(element("span", "visually-hidden", "Download "), element("span", "chat-file-name", file.name));
      line.append(link, element("span", "chat-size", formatSize(file.size)));
      item.append(line);
    }
    return item;
  }

  /** Show a message once, in id order. Returns whether it is new to this page. */
  function add(message, live) {
    if (shown.has(message.id)) return false;
    const stick = nearEnd();
    const item = build(message);
    const later = [...log.children].find((el) => Number(el.dataset.id) > message.id);
    log.insertBefore(item, later ?? null);
    shown.set(message.id, item);
    empty.hidden = true;
    if (!mine(message) && message.id > seen) {
      unread.add(message.id);
      if (live && !chatInView()) {
        const what = message.text || (message.attachment ? `a file, ${message.attachment.name}` : "");
        announce(`New chat message from ${message.author?.name ?? "someone"}: ${what.slice(0, 200)}`);
      }
    }
    if (chatInView() && (stick || mine(message))) scrollToEnd();
    markSeen();
    return true;
  }

  /** The chat is in view: whatever it shows has been seen. */
  function markSeen() {
    if (chatInView() && shown.size) {
      unread.clear();
      seen = Math.max(seen, ...shown.keys());
      sessionStorage.setItem(seenKey, String(seen));
    }
    renderUnread();
  }

  function renderUnread() {
    const count = unread.size;
    for (const dot of document.querySelectorAll("#chat-toggle [data-unread], #chat-panel [data-unread]")) {
      dot.hidden = count === 0;
    }
    unreadText.textContent = count ? ` (${count} unread)` : "";
  }

  socket.on("chat_message", (message) => {
    if (stopped || message?.visit_id !== visitId) return;
    add(message, true);
  });

  async function readChat() {
    const asked = (reading = ask("chat_history"));
    const answer = await asked;
    if (asked !== reading || stopped) return;
    if (answer.error) {
      showError(errorBox, `The chat could not be loaded: ${answer.error.message}`);
      return;
    }
    const first = shown.size === 0;
    for (const message of answer.messages ?? []) add(message, false);
    if (first) scrollToEnd();
    document.documentElement.dataset.chat = "loaded"; // for tests: the server's chat is in
  }

  // --- Sending ---------------------------------------------------------------------------

  async function send() {
    if (isBusy(form.querySelector(".chat-send"))) return;
    if (!chosenFile && !text.value.trim()) {
      showError(errorBox, "Write a message first.");
      text.focus();
      return;
    }
    showError(errorBox, "");
    if (chosenFile) return sendFile(chosenFile, text.value);
    setBusy(form, true);
    const answer = await ask("chat_send", { text: text.value });
    setBusy(form, false);
    if (answer.error) {
      showError(errorBox, answer.error.message || "The message could not be sent.");
      text.focus();
      return;
    }
    text.value = "";
    add(answer.message, false);
    scrollToEnd();
    text.focus();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  text.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.altKey) return;
    event.preventDefault();
    send();
  });

  function choose(file) {
    chosenFile = file;
    chosen.hidden = !file;
    chosenName.textContent = file ? `${file.name} (${formatSize(file.size)})` : "";
    if (!file) fileInput.value = "";
  }

  fileInput.addEventListener("change", () => {
    const [file] = fileInput.files;
    if (!file) return;
    if (file.size > maxBytes) {
      choose(null);
      showError(errorBox, `${file.name} is too large to send (at most ${formatSize(maxBytes)}).`);
      return;
    }
    showError(errorBox, "");
    choose(file);
  });
  document.getElementById("chat-file-remove").addEventListener("click", () => {
    choose(null);
    fileInput.focus();
  });

  /** The file (and any words with it) over HTTP, with the progress shown. */
  function sendFile(file, words) {
    setBusy(form, true);
    fileInput.disabled = true;
    progress.value = 0;
    progressLabel.textContent = `Sending ${file.name}…`;
    sending.hidden = false;
    announce(`Sending ${file.name}…`);
    const body = new FormData();
    body.append("file", file, file.name);
    if (words.trim()) body.append("text", words);
    const request = new XMLHttpRequest();
    request.open("POST", `/visits/${visitId}/attachments`);
    request.setRequestHeader("X-CSRFToken", csrfToken());
    request.setRequestHeader("Accept", "application/json");
    request.timeout = UPLOAD_TIMEOUT;
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100);
    });
    const done = (problem, message) => {
      setBusy(form, false);
      fileInput.disabled = false;
      sending.hidden = true;
      if (problem) {
        showError(errorBox, problem);
        return;
      }
      choose(null);
      text.value = "";
      add(message, false);
      scrollToEnd();
      announce(`${file.name} was sent.`);
      text.focus();
    };
    request.addEventListener("load", () => {
      let data = null;
      try { data = JSON.parse(request.responseText); } catch { data = null; }
      if (request.status === 201 && data?.id) return done(null, data);
      done(data?.error?.message || REFUSED[request.status] || "The file could not be sent. Please try again.");
    });
    request.addEventListener("error", () => done("The file could not be sent: no connection. Check the network and try again."));
    request.addEventListener("timeout", () => done("Sending the file took too long. Please try again."));
    request.send(body);
  }

  // --- Private notes (the host's) ----------------------------------------------------------

  const noteList = document.getElementById("note-list");
  const noteForm = document.getElementById("note-form");
  const noteText = document.getElementById("note-text");
  const noteError = document.getElementById("note-error");
  const notes = new Set();

  function addNote(note) {
    if (notes.has(note.id)) return;
    notes.add(note.id);
    const item = element("li", "private-note");
    const at = element("time", "chat-time", dayFormat.format(new Date(note.written_at)));
    at.dateTime = note.written_at;
    const meta = element("p", "chat-meta");
    meta.append(at);
    item.append(meta, element("p", "chat-text", note.text));
    noteList.append(item);
    document.getElementById("notes-empty").hidden = true;
  }

  async function readNotes() {
    if (!noteList) return;
    const answer = await ask("note_history");
    if (answer.error) {
      showError(noteError, `Your notes could not be loaded: ${answer.error.message}`);
      return;
    }
    for (const note of answer.notes ?? []) addNote(note);
  }

  async function saveNote() {
    const button = noteForm.querySelector("[type=submit]");
    if (isBusy(button)) return;
    if (!noteText.value.trim()) {
      showError(noteError, "Write the note first.");
      noteText.focus();
      return;
    }
    setBusy(noteForm, true);
    const answer = await ask("note_add", { text: noteText.value });
    setBusy(noteForm, false);
    if (answer.error) {
      showError(noteError, answer.error.message || "The note could not be saved.");
      noteText.focus();
      return;
    }
    showError(noteError, "");
    noteText.value = "";
    addNote(answer.note);
    const notesScroller = document.getElementById("notes-scroll");
    notesScroller.scrollTop = notesScroller.scrollHeight;
    announce("Note saved. Only you can read it.");
    noteText.focus();
  }

  noteForm?.addEventListener("submit", (event) => {
    event.preventDefault();
    saveNote();
  });
  noteText?.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.isComposing) {
      event.preventDefault();
      saveNote();
    }
  });

  // --- Tabs (the host's: Chat, Private notes) ------------------------------------------------

  function selectTab(tab, focus = false) {
    for (const each of tabs) {
      const on = each === tab;
      each.setAttribute("aria-selected", String(on));
      each.tabIndex = on ? 0 : -1;
      document.getElementById(each.getAttribute("aria-controls")).hidden = !on;
    }
    if (focus) tab.focus();
    if (tab === tabs[0]) scrollToEnd();
    markSeen();
  }

  for (const tab of tabs) {
    tab.addEventListener("click", () => selectTab(tab));
    tab.addEventListener("keydown", (event) => {
      const at = tabs.indexOf(tab);
      const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 };
      if (!(event.key in moves)) return;
      event.preventDefault();
      selectTab(tabs[(moves[event.key] + tabs.length) % tabs.length], true);
    });
  }

  // --- The panel: open, close, and on a phone a sheet the rest of the page waits behind ------

  const setModal = () => setSheetModal(panel, NARROW);
  NARROW.addEventListener("change", () => { if (!panel.hidden) setModal(); });

  /** Where the focus goes in the panel: the box to write in (on a phone, the heading or tab,
   * so the keyboard does not cover the messages at once). */
  function focusInPanel() {
    const selected = tabs.find((tab) => tab.getAttribute("aria-selected") === "true");
    if (NARROW.matches) return (selected ?? title).focus();
    if (!selected || selected === tabs[0]) text.focus();
    else noteText.focus();
  }

  function openPanel() {
    if (stopped || !inCall) return;
    document.dispatchEvent(new CustomEvent("room-panel", { detail: "chat" })); // the others close
    panel.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    setModal();
    scrollToEnd();
    markSeen();
    focusInPanel();
  }

  function closePanel(returnFocus = true) {
    if (panel.hidden) return;
    panel.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    setModal();
    if (returnFocus && !toggle.hidden) toggle.focus();
  }

  toggle.addEventListener("click", () => (panel.hidden ? openPanel() : closePanel()));
  document.getElementById("chat-close").addEventListener("click", () => closePanel());
  document.addEventListener("room-panel", (event) => {
    if (event.detail !== "chat") closePanel(false);
  });
  panel.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented || event.isComposing) return;
    event.preventDefault();
    closePanel();
  });
  // The sheet on a phone closes when the dimmed page around it is pressed.
  document.addEventListener("click", (event) => {
    if (panel.hidden || !NARROW.matches) return;
    if (panel.contains(event.target) || event.target.closest("dialog, #chat-toggle")) return;
    closePanel();
  });

  // --- In the call, or not ----------------------------------------------------------------------

  function leaveCall() {
    inCall = false;
    toggle.hidden = true;
    closePanel(false);
  }

  // Moved back to the waiting room, or removed: the chat is for those in the call.
  socket.on("participant_updated", ({ participant } = {}) => {
    if (participant?.id === me.participant_id && participant.presence !== "admitted") leaveCall();
  });
  // The call's buttons go when the page leaves the call (it ended, or a guest hung up).
  new MutationObserver(() => { if (controls.hidden) leaveCall(); })
    .observe(controls, { attributes: true, attributeFilter: ["hidden"] });

  return {
    /** The page (re)joined the visit: in the call, the chat (and notes) so far. */
    reload(presence) {
      if (stopped) return;
      if (presence !== "admitted") return leaveCall();
      inCall = true;
      toggle.hidden = false;
      readChat();
      readNotes();
    },
    stop() {
      stopped = true;
      leaveCall();
    },
  };
}
