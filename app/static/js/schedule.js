// The clinic schedule: one day's visits, live from the clinic's stream, with each row's
// actions behind a menu button (WAI-ARIA menu button pattern): among them the six ways to
// hand out a booked visit's links, and one-way messages to its waiting room.
import {
  api, clock, connectLive, errorMessage, fromTemplate, isBusy, moveInMenu, reconcile, setBusy,
  showError,
} from "./live.js";
import { noteCounts, notesDialog } from "./notes.js";

const config = JSON.parse(document.getElementById("page-config").textContent);
const rows = new Map();
const list = document.getElementById("rows");
const statusBox = document.getElementById("action-status");
const errorBox = document.getElementById("action-error");
const isProvider = config.me.role === "provider";
const GREYED = new Set(["session_running", "completed", "cancelled"]);
const LIVE_STATES = ["scheduled", "open", "in_call"];
// How each booked visit's patient can be reached ({email: "jo@…", sms: "…3456"}, null for
// none), for the rows the server rendered. A visit booked since is not here: both ways are
// offered and a refusal is shown (and remembered).
const contacts = config.contacts ?? {};

// Times and days in the clinic's zone, whatever the zone of the computer showing them.
const timeFormat = new Intl.DateTimeFormat("en-GB", {
  timeZone: config.clinic.timezone, hour: "2-digit", minute: "2-digit",
});
const dayFormat = new Intl.DateTimeFormat("en-GB", {
  timeZone: config.clinic.timezone, year: "numeric", month: "2-digit", day: "2-digit",
});

/** When a row sits on the schedule: a booked visit's start, an on-demand session's acceptance. */
const startOf = (row) => row.scheduled_for ?? row.created_at;
const clinicTime = (iso) => timeFormat.format(new Date(iso));
const timeOf = (row) => clinicTime(startOf(row));

function dayOf(iso) {
  const parts = Object.fromEntries(dayFormat.formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/** Whether a row belongs on this page: the day shown, the filter, the search (as the server's). */
function belongs(row) {
  if (dayOf(startOf(row)) !== config.date) return false;
  if (config.filter === "live" && row.source !== "request") return false;
  if (config.filter === "invites" && row.source !== "invite") return false;
  const query = config.q.toLowerCase();
  if (!query) return true;
  const names = [row.patient.name, ...row.participants.filter((p) => p.role === "patient").map((p) => p.name)];
  return names.some((name) => (name || "").toLowerCase().includes(query))
    || (row.patient.mrn || "").toLowerCase() === query;
}

/** A booked visit still to come or under way: its links work and can be handed out. */
const bookedLive = (row) => row.source === "invite" && LIVE_STATES.includes(row.state);

function reachable(row, channel) {
  const known = contacts[row.id]?.[channel];
  return known === undefined || Boolean(known);
}

// The signed-in person's private notes, by visit: how many they keep on each row's visit.
// Theirs alone, so never in the rows the clinic's stream broadcasts: asked of the API for
// the rows shown, again whenever the page comes back into view (a note written in the room
// in another tab) and for a row whose menu opens.
const notes = new Map();

// The row menu. Each item says when it applies: "Private notes" only where the signed-in
// person keeps some. A visit held in an external room offers its host link as "Get staff
// link", and has no waiting room here to write to.
const MENU = {
  cancel: (row) => row.source === "invite" && ["scheduled", "open"].includes(row.state),
  reinvite: (row) => row.source === "invite" && LIVE_STATES.includes(row.state),
  email: (row) => bookedLive(row) && reachable(row, "email"),
  sms: (row) => bookedLive(row) && reachable(row, "sms"),
  "copy-patient": bookedLive,
  "copy-staff": (row) => bookedLive(row) && !row.external,
  "get-staff": (row) => bookedLive(row) && row.external,
  ics: bookedLive,
  qr: bookedLive,
  complete: (row) => ["scheduled", "open"].includes(row.state),
  message: (row) => bookedLive(row) && !row.external,
  task: () => true,
  notes: (row) => (notes.get(row.id)?.count ?? 0) > 0,
};

function buildRow(row) {
  const tr = fromTemplate("row-template");
  tr.dataset.id = row.id;
  const button = tr.querySelector(".menu-button");
  const menu = tr.querySelector(".menu");
  menu.id = `menu-${row.id}`;
  button.id = `menu-button-${row.id}`;
  button.setAttribute("aria-controls", menu.id);
  menu.setAttribute("aria-labelledby", button.id);
  return tr;
}

function deliveryProblems(row) {
  if (!LIVE_STATES.includes(row.state)) return [];
  const problems = [];
  for (const person of row.participants) {
    const delivery = person.delivery;
    if (delivery?.state === "pending") problems.push(`Not delivered yet to ${person.name}`);
    if (delivery?.state === "failed") {
      problems.push(`Not delivered to ${person.name}${delivery.error ? `: ${delivery.error}` : ""}`);
    }
  }
  return problems;
}

function updateRow(tr, row) {
  // A provider who is with the patient (their call open elsewhere) can go back in; to
  // everyone else a running session is greyed: nobody else takes the patient.
  const mine = isProvider && row.status === "session_running" && row.provider_id === config.me.id;
  const takeable = isProvider && !row.external && row.status === "patient_online";
  tr.className = `visit-row status-${row.status}`;
  tr.classList.toggle("is-greyed", GREYED.has(row.status) && !mine);
  tr.classList.toggle("is-clickable", takeable || mine);

  tr.querySelector(".time").textContent = timeOf(row);
  tr.querySelector(".duration").textContent = row.source === "request"
    ? "On demand" : `${row.duration_minutes ?? 15} min`;
  tr.querySelector(".patient-name").textContent = row.patient.name;
  tr.querySelector(".mrn").textContent = row.patient.mrn ? `MRN ${row.patient.mrn}` : "";
  const others = row.participants.filter((p) => p.role === "guest")
    .map((p) => (p.description ? `${p.name} (${p.description})` : p.name));
  tr.querySelector(".others").textContent = others.length ? `With ${others.join(", ")}` : "";
  const delivery = tr.querySelector(".delivery");
  const problems = deliveryProblems(row);
  delivery.textContent = problems.join(". ");
  delivery.classList.toggle("is-failed", row.participants.some((p) => p.delivery?.state === "failed"));
  tr.querySelector(".host").textContent = row.host.name;

  tr.querySelector(".status-label").textContent = row.status_label;
  const detail = tr.querySelector(".status-detail");
  if (row.status === "patient_online" && row.waiting_since) {
    detail.dataset.since = row.waiting_since;
    detail.textContent = `waiting ${clock(row.waiting_since)}`;
  } else {
    delete detail.dataset.since;
    detail.textContent = row.status === "session_running" && row.provider_name ? `with ${row.provider_name}` : "";
  }

  const tasks = tr.querySelector(".tasks-link");
  tasks.hidden = !row.open_tasks;
  tasks.textContent = `${row.open_tasks} open task${row.open_tasks === 1 ? "" : "s"}`;
  tasks.href = config.tasks_url;

  const take = tr.querySelector(".take");
  take.hidden = !(takeable || mine);
  take.href = `/visits/${row.id}`;
  if (mine) take.textContent = "Return to session";
  else take.textContent = row.host.id === config.me.id ? "Enter" : "Take patient";
  // Held in an external room: the patient waits there, not here; the provider opens it.
  const join = tr.querySelector(".join");
  join.hidden = !(isProvider && row.external && LIVE_STATES.includes(row.state));
  join.href = `/visits/${row.id}/telehealth`;
  tr.querySelector(".external-tag").hidden = !row.external;

  tr.querySelector(".menu-button").setAttribute("aria-label", `Actions for ${row.patient.name}, ${timeOf(row)}`);
  tr.querySelector("[data-action=ics]").href = `/api/v1/visits/${row.id}/appointment.ics`;
  let group = null;
  for (const item of tr.querySelectorAll("[role=menuitem]")) {
    const li = item.parentElement;
    li.hidden = !MENU[item.dataset.action](row);
    if (li.hidden) continue;
    li.classList.toggle("group-start", group !== null && group !== li.dataset.group);
    group = li.dataset.group;
  }
  if (openMenu?.row === tr && !openMenu.menu.contains(document.activeElement)) {
    menuItems(openMenu.menu)[0]?.focus();
  }
}

let shownCount = null;
function render() {
  const shown = [...rows.values()]
    .sort((a, b) => Date.parse(startOf(a)) - Date.parse(startOf(b)) || a.id - b.id);
  const hadFocus = list.contains(document.activeElement);
  reconcile(list, shown, (row) => row.id, buildRow, updateRow);
  if (hadFocus && !list.contains(document.activeElement)) document.getElementById("day-title").focus();
  document.getElementById("empty").hidden = shown.length > 0;
  if (shownCount !== shown.length) {
    shownCount = shown.length;
    document.getElementById("row-count").textContent = !shown.length ? ""
      : shown.length === 1 ? "1 visit" : `${shown.length} visits`;
  }
}

function upsert(row) {
  if (belongs(row)) rows.set(row.id, row);
  else rows.delete(row.id);
  render();
}

// --- The row menu -------------------------------------------------------------------

let openMenu = null; // {row, button, menu}

function menuItems(menu) {
  return [...menu.querySelectorAll("[role=menuitem]")].filter((item) => !item.parentElement.hidden);
}

function showMenu(button, which = "first") {
  closeMenu(false);
  const menu = document.getElementById(button.getAttribute("aria-controls"));
  menu.hidden = false;
  // Downwards where it fits, else upwards where it fits; else downwards, the page
  // scrolled just enough to show all of it.
  menu.classList.remove("opens-up");
  const { height } = menu.getBoundingClientRect();
  const { top, bottom } = button.getBoundingClientRect();
  const fitsBelow = bottom + height + 8 <= window.innerHeight;
  if (!fitsBelow && top > height + 8) menu.classList.add("opens-up");
  button.setAttribute("aria-expanded", "true");
  openMenu = { row: button.closest("tr"), button, menu };
  const items = menuItems(menu);
  (which === "last" ? items.at(-1) : items[0])?.focus({ preventScroll: true });
  menu.scrollIntoView({ block: "nearest" });
  readNotes([Number(openMenu.row.dataset.id)]); // written since the page last asked?
}

function closeMenu(returnFocus) {
  if (!openMenu) return;
  const { button, menu } = openMenu;
  menu.hidden = true;
  button.setAttribute("aria-expanded", "false");
  openMenu = null;
  if (returnFocus) button.focus();
}

list.addEventListener("click", (event) => {
  const button = event.target.closest(".menu-button");
  if (button) {
    const wasOpen = openMenu?.button === button;
    closeMenu(false);
    if (!wasOpen) showMenu(button);
    return;
  }
  const item = event.target.closest("[role=menuitem]");
  if (item) {
    const tr = item.closest("tr");
    closeMenu(true);
    return runAction(item.dataset.action, rows.get(Number(tr.dataset.id)), tr);
  }
  // A click anywhere else on a patient's online row takes them, like its button.
  const tr = event.target.closest("tr.is-clickable");
  if (tr && !event.target.closest("a, button, .menu")) tr.querySelector(".take").click();
});

list.addEventListener("keydown", (event) => {
  const button = event.target.closest(".menu-button");
  if (button && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
    event.preventDefault();
    showMenu(button, event.key === "ArrowUp" ? "last" : "first");
    return;
  }
  if (!openMenu || !event.target.closest("[role=menu]")) return;
  if (event.key === "Escape") {
    event.preventDefault();
    closeMenu(true);
  } else if (event.key === "Tab") {
    closeMenu(false);
  } else if (event.key === " " && document.activeElement.matches("a[role=menuitem]")) {
    event.preventDefault(); // a link item answers Space as the button items do
    document.activeElement.click();
  } else {
    moveInMenu(event, menuItems(openMenu.menu));
  }
});

document.addEventListener("click", (event) => {
  if (openMenu && !openMenu.row.querySelector(".menu-wrap").contains(event.target)) closeMenu(false);
});
document.addEventListener("focusin", (event) => {
  if (openMenu && !openMenu.row.querySelector(".menu-wrap").contains(event.target)) closeMenu(false);
});

// --- Actions ------------------------------------------------------------------------

function say(message) {
  showError(errorBox, "");
  statusBox.textContent = message;
  statusBox.hidden = false;
}

function refocus(tr) {
  const button = tr?.isConnected ? tr.querySelector(".menu-button") : document.getElementById("day-title");
  button?.focus();
}

async function post(row, path, body) {
  const result = await api("POST", `/api/v1/visits/${row.id}/${path}`, body);
  if (result.ok && path !== "tasks") upsert(result.data);
  // The visit changed meanwhile (and this page missed it): fetch the truth.
  if (result.status === 409) socket.emit("resync", { stream: config.stream });
  return result;
}

async function simpleAction(row, verb, done) {
  statusBox.hidden = true;
  const result = await post(row, verb);
  if (!result.ok) return showError(errorBox, errorMessage(result));
  say(done);
}

function runAction(action, row, tr) {
  if (!row) return;
  const who = row.patient.name;
  if (action === "cancel") return confirmCancel(row, tr);
  if (action === "task") return newTask(row, tr);
  if (action === "reinvite") return simpleAction(row, "reinvite", `Invitation sent again to everyone invited with ${who}.`);
  if (action === "complete") return simpleAction(row, "complete", `The visit with ${who} at ${timeOf(row)} is marked as complete.`);
  if (action === "email" || action === "sms") return sendLink(row, tr, action);
  if (action === "copy-patient") return copyLink(row, tr, "patient");
  if (action === "copy-staff" || action === "get-staff") return copyLink(row, tr, "staff");
  // The link itself downloads the file; this only says so.
  if (action === "ics") return say(`The calendar entry for ${who} is downloading (appointment-${row.id}.ics).`);
  if (action === "qr") return showQr(row, tr);
  if (action === "message") return writeToWaitingRoom(row, tr);
  if (action === "notes") {
    return readNotesDialog.show(row.id, `The visit with ${row.patient.name}, ${timeOf(row)} on ${config.day_label}.`, tr.querySelector(".menu-button"));
  }
}

// --- Private notes ------------------------------------------------------------------

const readNotesDialog = notesDialog();

/** How many notes the signed-in person keeps on these visits (all the rows, by default). */
async function readNotes(ids = [...rows.keys()]) {
  if (!ids.length) return;
  const counts = await noteCounts(ids);
  if (!counts) return; // asked again on the next occasion
  for (const id of ids) {
    if (counts.has(id)) notes.set(id, counts.get(id));
    else notes.delete(id);
    const tr = list.querySelector(`tr[data-key="${id}"]`);
    if (tr && rows.has(id)) updateRow(tr, rows.get(id));
  }
}
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") readNotes();
});

const cancelDialog = document.getElementById("cancel-dialog");
const taskDialog = document.getElementById("task-dialog");
const copyDialog = document.getElementById("copy-dialog");
const qrDialog = document.getElementById("qr-dialog");
const messageDialog = document.getElementById("message-dialog");
let dialogRow = null; // {row, tr} the open dialog is about

for (const dialog of [cancelDialog, taskDialog, copyDialog, qrDialog, messageDialog]) {
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  // Closed by a button or Escape: back to the menu button of the row it was about. (The
  // close event comes a moment later: a menu opened meanwhile keeps the focus.)
  dialog.addEventListener("close", () => { if (!openMenu) refocus(dialogRow?.tr); });
}

function confirmCancel(row, tr) {
  dialogRow = { row, tr };
  document.getElementById("cancel-text").textContent = `${row.patient.name}, ${timeOf(row)} on ${config.day_label}. `
    + "The patient and anyone invited are told, and their links stop working.";
  showError(cancelDialog.querySelector(".inline-error"), "");
  cancelDialog.showModal();
  cancelDialog.querySelector("[data-close]").focus();
}

cancelDialog.querySelector("[data-confirm]").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  if (button.getAttribute("aria-disabled") === "true" || !dialogRow) return;
  button.setAttribute("aria-disabled", "true");
  const { row } = dialogRow;
  const result = await post(row, "cancel");
  button.removeAttribute("aria-disabled");
  if (!result.ok) return showError(cancelDialog.querySelector(".inline-error"), errorMessage(result));
  cancelDialog.close();
  say(`The appointment with ${row.patient.name} at ${timeOf(row)} is cancelled.`);
});

const taskText = document.getElementById("task-text");
const taskError = document.getElementById("task-error");

function newTask(row, tr) {
  dialogRow = { row, tr };
  document.getElementById("task-for").textContent = `For the visit with ${row.patient.name}, ${timeOf(row)}`;
  taskText.value = "";
  taskText.removeAttribute("aria-invalid");
  showError(taskError, "");
  taskDialog.showModal();
  taskText.focus();
}

document.getElementById("task-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const submit = event.currentTarget.querySelector("[type=submit]");
  if (submit.getAttribute("aria-disabled") === "true" || !dialogRow) return;
  submit.setAttribute("aria-disabled", "true");
  const { row } = dialogRow;
  const result = await post(row, "tasks", { text: taskText.value });
  submit.removeAttribute("aria-disabled");
  if (!result.ok) {
    const fields = result.data?.error?.fields;
    showError(taskError, fields?.text && fields.text !== "Required." ? fields.text : errorMessage(result));
    taskText.setAttribute("aria-invalid", "true");
    taskText.focus();
    return;
  }
  taskDialog.close();
  say(`Task added for ${row.patient.name}. It is on the task list.`);
});

// --- Handing out the links ---------------------------------------------------------

/** Email or text the patient their link now (a background job sends it). */
async function sendLink(row, tr, channel) {
  statusBox.hidden = true;
  const result = await api("POST", `/api/v1/visits/${row.id}/send`, { channel });
  if (!result.ok) {
    if (result.status === 409) socket.emit("resync", { stream: config.stream });
    if (result.status === 422 && result.data?.error?.fields?.channel) {
      // No such contact (a visit booked after this page was made): stop offering it.
      contacts[row.id] = { ...contacts[row.id], [channel]: null };
      if (tr.isConnected) updateRow(tr, rows.get(row.id) ?? row);
      const [contact, verb] = channel === "email" ? ["email address", "emailed"] : ["mobile number", "texted"];
      return showError(errorBox, `${row.patient.name} has no ${contact} on record, so the link cannot be ${verb}.`);
    }
    return showError(errorBox, errorMessage(result));
  }
  const to = contacts[row.id]?.[channel];
  const what = channel === "email" ? "Email" : "Text message";
  say(`${what} with the link on its way to ${to ? `${to} (${row.patient.name})` : row.patient.name}.`);
}

/** The patient's link or the staff link onto the clipboard; where the browser refuses,
 * the link selected in a dialog to copy by hand. */
async function copyLink(row, tr, which) {
  statusBox.hidden = true;
  const result = await api("GET", `/api/v1/visits/${row.id}/links`);
  if (!result.ok) return showError(errorBox, errorMessage(result));
  const link = which === "patient" ? result.data.patient_link : result.data.staff_link;
  if (!link) return showError(errorBox, "This visit's links no longer work.");
  const what = which === "patient"
    ? `the patient's link for ${row.patient.name}`
    : `the staff link for the visit with ${row.patient.name}${result.data.external ? " (the external room's host link)" : ""}`;
  try {
    await navigator.clipboard.writeText(link);
  } catch {
    return copyByHand(row, tr, which, link);
  }
  say(`Link copied: ${what}.`);
}

const copyInput = document.getElementById("copy-link");
const copyStatus = document.getElementById("copy-status");

function copyByHand(row, tr, which, link) {
  dialogRow = { row, tr };
  document.getElementById("copy-title").textContent = which === "patient" ? "Copy the patient's link" : "Copy the staff link";
  document.getElementById("copy-label").textContent = which === "patient"
    ? `${row.patient.name}'s link` : `Staff link for the visit with ${row.patient.name}`;
  copyInput.value = link;
  copyStatus.textContent = "";
  copyDialog.showModal();
  copyInput.focus();
}

// All of it selected, from the end back to the start: the field shows where the link begins.
copyInput.addEventListener("focus", () => copyInput.setSelectionRange(0, copyInput.value.length, "backward"));
copyInput.addEventListener("copy", () => { copyStatus.textContent = "Link copied."; });

const qrImage = document.getElementById("qr-image");
const qrError = document.getElementById("qr-error");

function showQr(row, tr) {
  dialogRow = { row, tr };
  document.getElementById("qr-for").textContent = `${row.patient.name}, ${timeOf(row)} on ${config.day_label}`;
  document.getElementById("qr-text").textContent = row.external
    ? "The patient points their phone's camera at it to open the external meeting room."
    : "The patient points their phone's camera at it to open their waiting room.";
  showError(qrError, "");
  qrImage.removeAttribute("src"); // never the last patient's code, even for a moment
  qrImage.src = `/api/v1/visits/${row.id}/qr.svg`;
  document.getElementById("qr-png").href = `/api/v1/visits/${row.id}/qr.png`;
  qrDialog.showModal();
  qrDialog.querySelector("[data-close]").focus();
}

qrImage.addEventListener("error", () => {
  if (qrImage.getAttribute("src")) showError(qrError, "The QR code could not be made. Close this and try again.");
});

// --- Messages to the waiting room -----------------------------------------------------

const messageText = document.getElementById("message-text");
const messageError = document.getElementById("message-error");
const messageStatus = document.getElementById("message-status");
const sentList = document.getElementById("sent-list");
const sentEmpty = document.getElementById("sent-empty");

function showSent(messages) {
  for (const message of messages) {
    const item = document.createElement("li");
    const meta = document.createElement("p");
    meta.className = "message-meta";
    const at = document.createElement("time");
    at.dateTime = message.at;
    at.textContent = clinicTime(message.at);
    meta.append(`${message.author}, `, at);
    const text = document.createElement("p");
    text.className = "message-text";
    text.textContent = message.text;
    item.append(meta, text);
    sentList.append(item);
  }
  sentEmpty.hidden = sentList.children.length > 0;
}

async function writeToWaitingRoom(row, tr) {
  dialogRow = { row, tr };
  const others = row.participants.some((p) => p.role === "guest") ? " and those invited with them" : "";
  document.getElementById("message-for").textContent = `To ${row.patient.name}${others}, ${timeOf(row)}. `
    + "They read it in the waiting room, and cannot answer.";
  messageText.value = "";
  messageText.removeAttribute("aria-invalid");
  showError(messageError, "");
  messageStatus.textContent = "";
  sentList.replaceChildren();
  sentEmpty.textContent = "Loading…";
  sentEmpty.hidden = false;
  messageDialog.showModal();
  messageText.focus();
  const result = await api("GET", `/api/v1/visits/${row.id}/waiting-messages`);
  if (dialogRow?.row.id !== row.id || !messageDialog.open) return; // closed, or another row's
  sentEmpty.textContent = result.ok ? "Nothing yet." : errorMessage(result);
  if (result.ok) showSent(result.data);
}

document.getElementById("message-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const submit = event.currentTarget.querySelector("[type=submit]");
  if (isBusy(submit) || !dialogRow) return;
  setBusy(submit, true);
  const { row } = dialogRow;
  messageStatus.textContent = "";
  const result = await api("POST", `/api/v1/visits/${row.id}/waiting-messages`, { text: messageText.value });
  setBusy(submit, false);
  if (!result.ok) {
    if (result.status === 409) socket.emit("resync", { stream: config.stream });
    const fields = result.data?.error?.fields;
    showError(messageError, fields?.text && fields.text !== "Required." ? fields.text : errorMessage(result));
    messageText.setAttribute("aria-invalid", "true");
    messageText.focus();
    return;
  }
  showError(messageError, "");
  messageText.removeAttribute("aria-invalid");
  showSent([result.data]);
  messageText.value = "";
  messageText.focus();
  messageStatus.textContent = `Sent. Whoever waits for the visit with ${row.patient.name} reads it now, and so will anyone arriving later.`;
});

// --- Live ---------------------------------------------------------------------------

/** The day shown, from the API, with the stream version it was read at. */
async function readDay() {
  const params = new URLSearchParams({ date: config.date, filter: config.filter, q: config.q });
  const result = await api("GET", `/api/v1/clinics/${config.clinic.id}/schedule?${params}`);
  if (!result.ok) throw new Error(errorMessage(result));
  return { stream: config.stream, version: result.data.version, data: result.data };
}

const socket = connectLive({
  events: ["visit_updated"],
  streams: [config.stream],
  // The stream's snapshot is today's schedule: another day is read from the API instead.
  reload: (snapshot) => (snapshot.data.date === config.date ? null : readDay()),
  onSnapshot(stream, data) {
    rows.clear();
    for (const row of data.visits) if (belongs(row)) rows.set(row.id, row);
    render();
    readNotes();
  },
  onEvent(name, row) {
    upsert(row);
  },
});

// Waiting clocks count up in place.
setInterval(() => {
  for (const el of list.querySelectorAll(".status-detail[data-since]")) {
    el.textContent = `waiting ${clock(el.dataset.since)}`;
  }
}, 1000);
