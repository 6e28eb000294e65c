// A host's Hang up: a menu of what hanging up means, since a host's leaving moves people.
//
// - Hand over to a colleague and leave (one choice per other provider in the call): the
//   session becomes theirs (hand_over_host), then we leave; the others stay with them.
// - Leave session: we go; the session stays open. With nobody else hosting, everyone in the
//   call goes back to the waiting room until a host comes back (the server's rule).
// - End consultation for all: after a confirmation (room.js's dialog), the session ends for
//   everyone (visit_ended takes every page to its end).
//
// Everyone else has a plain Hang up (room.js): they leave and the call goes on.
import { attachMenu } from "./callmenu.js";

const ANSWER_TIMEOUT = 8000;

/**
 * `participants`: the visit's people as rendered; `know(participant)` keeps them current.
 * `leave()` hangs up and goes back (room.js); `end()` opens the confirmation.
 */
export function connectHangUp({ socket, visitId, me, participants, otherName, leave, end }) {
  const button = document.getElementById("hangup");
  const menu = document.getElementById("hangup-menu");
  if (!menu) return { know() {}, close() {} };
  const list = menu.querySelector(".call-choices");
  const template = document.getElementById("handover-choice");
  const leaveText = document.getElementById("leave-text");
  const errorBox = document.getElementById("hangup-error");
  const people = new Map((participants ?? []).map((p) => [p.id, p]));
  let busy = false;

  /** Other providers in the call now: whoever could take the session over. */
  function colleagues() {
    return [...people.values()].filter(
      (p) => p.id !== me.participant_id && p.role === "host" && p.presence === "admitted" && !p.reconnecting,
    );
  }

  function render() {
    for (const item of list.querySelectorAll("li:has([data-handover])")) item.remove();
    const hosts = colleagues();
    // After Leave session, which takes the focus first: Enter alone never hands the
    // session over.
    let after = list.querySelector("#leave")?.closest("li") ?? null;
    hosts.forEach((colleague) => {
      const item = template.content.firstElementChild.cloneNode(true);
      const choice = item.querySelector("button");
      const text = item.querySelector(".call-choice-text");
      text.id = `handover-${colleague.id}-text`;
      choice.textContent = `Hand over to ${colleague.name} and leave`;
      text.textContent = `The session becomes theirs: they carry on with ${otherName()}, and they end it.`;
      choice.setAttribute("aria-describedby", text.id);
      choice.dataset.handover = String(colleague.id);
      list.insertBefore(item, after ? after.nextElementSibling : list.firstElementChild);
      after = item;
    });
    leaveText.textContent = hosts.length
      ? `${listed(hosts.map((h) => h.name))} carr${hosts.length > 1 ? "y" : "ies"} on with the others; the session stays yours.`
      : `${otherName()} goes back to the waiting room until you or a colleague come back. The session stays open.`;
    errorBox.hidden = true;
  }

  const control = attachMenu(button, menu, { onOpen: render });

  list.addEventListener("click", (event) => {
    const choice = event.target.closest("button");
    if (!choice || busy) return;
    if (choice.id === "leave") {
      busy = true;
      leave();
    } else if (choice.id === "end") {
      control.close();
      end();
    } else if (choice.dataset.handover) {
      handOver(Number(choice.dataset.handover), choice);
    }
  });

  function handOver(participantId, choice) {
    busy = true;
    choice.setAttribute("aria-busy", "true");
    socket.timeout(ANSWER_TIMEOUT).emit("hand_over_host", { visit_id: visitId, participant_id: participantId }, (timedOut, answer) => {
      choice.removeAttribute("aria-busy");
      if (timedOut || answer?.error) {
        busy = false;
        errorBox.textContent = timedOut
          ? "The server did not answer. Check the connection and try again."
          : answer.error.message;
        errorBox.hidden = false;
        return;
      }
      leave();
    });
  }

  return {
    /** What the server says about someone (participant_updated), in any order. */
    know(participant) {
      if (participant?.id == null) return;
      people.set(participant.id, { ...people.get(participant.id), ...participant });
      if (menu.matches(":popover-open") && !busy) render();
    },
    close: () => control.close(),
  };
}

/** "A", "A and B", "A, B and C". */
function listed(names) {
  return names.length < 2 ? names.join("") : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}
