// Private notes read later: which visits the signed-in member of staff keeps notes on
// (GET /api/v1/notes, which says nothing any note says), and a dialog with their notes on
// one visit (GET /api/v1/visits/<id>/notes, a reading the server audits). Used by the clinic
// schedule's row menu and the provider's dashboard; the room writes them (chat.js).
import { api, errorMessage } from "./live.js";

// The API answers about at most this many visits at a time.
const MAX_ASKED = 200;

/** How many notes the caller keeps on each of `visitIds` (or on their latest visits, when
 * none are given): Map visit id → count; null when the server could not be asked. */
export async function noteCounts(visitIds = null) {
  const counts = new Map();
  const batches = [];
  if (visitIds === null) batches.push("");
  for (let at = 0; visitIds && at < visitIds.length; at += MAX_ASKED) {
    batches.push(`?visit_id=${visitIds.slice(at, at + MAX_ASKED).join(",")}`);
  }
  for (const query of batches) {
    const result = await api("GET", `/api/v1/notes${query}`);
    if (!result.ok) return null;
    for (const visit of result.data) counts.set(visit.visit_id, visit);
  }
  return counts;
}

/** The dialog (visits/_notes_dialog.html): show(visitId, about, returnTo). */
export function notesDialog() {
  const dialog = document.getElementById("notes-dialog");
  const list = document.getElementById("notes-dialog-list");
  const empty = document.getElementById("notes-dialog-empty");
  const when = new Intl.DateTimeFormat("en-GB", {
    weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  });
  let returnTo = null;
  let showing = null;

  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    showing = null;
    // Back where it was opened from, unless the focus has moved on since (the close event
    // comes a moment after the dialog closed).
    const lost = !document.activeElement || document.activeElement === document.body;
    if (lost && returnTo?.isConnected) returnTo.focus();
  });

  return {
    async show(visitId, about, from) {
      returnTo = from;
      showing = visitId;
      document.getElementById("notes-dialog-for").textContent = about;
      list.replaceChildren();
      empty.textContent = "Loading…";
      empty.hidden = false;
      dialog.showModal();
      dialog.querySelector("[data-close]").focus();
      const result = await api("GET", `/api/v1/visits/${visitId}/notes`);
      if (showing !== visitId || !dialog.open) return; // closed, or another visit's
      if (!result.ok) {
        empty.textContent = errorMessage(result);
        return;
      }
      for (const note of result.data) {
        const item = document.createElement("li");
        item.className = "private-note";
        const meta = document.createElement("p");
        meta.className = "chat-meta";
        const at = document.createElement("time");
        at.className = "chat-time";
        at.dateTime = note.written_at;
        at.textContent = when.format(new Date(note.written_at));
        meta.append(at);
        const text = document.createElement("p");
        text.className = "chat-text";
        text.textContent = note.text;
        item.append(meta, text);
        list.append(item);
      }
      empty.textContent = "No notes on this visit.";
      empty.hidden = result.data.length > 0;
    },
  };
}
