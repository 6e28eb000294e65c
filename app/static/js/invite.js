// The invite form: ADD and Remove participants in place (without this script they are
// submit buttons the server answers with the form one longer or shorter), and focus on
// the error summary when the form comes back with errors.

const config = JSON.parse(document.getElementById("invite-config").textContent);
const list = document.getElementById("participants");
const add = document.getElementById("add-participant");
const template = document.getElementById("participant-template");

// Buttons, not submit buttons: Enter in a text field must send the invitation, never add
// or remove a participant (a form's first submit button is the one Enter presses).
add.type = "button";
for (const button of list.querySelectorAll("[data-remove]")) button.type = "button";

function renumber() {
  const sets = [...list.querySelectorAll("fieldset.participant")];
  sets.forEach((set, i) => {
    for (const el of set.querySelectorAll(".number")) el.textContent = String(i + 1);
  });
  add.hidden = sets.length >= config.max_participants;
}

add.addEventListener("click", () => {
  const used = [...list.querySelectorAll("fieldset.participant")].map((set) => Number(set.dataset.index));
  if (used.length >= config.max_participants) return;
  const index = String(used.length ? Math.max(...used) + 1 : 0);
  const html = template.innerHTML.replaceAll("__index__", index);
  const holder = document.createElement("div");
  holder.innerHTML = html;
  const set = holder.firstElementChild;
  set.querySelector("[data-remove]").type = "button";
  list.append(set);
  renumber();
  set.querySelector("input").focus();
});

list.addEventListener("click", (event) => {
  const remove = event.target.closest("[data-remove]");
  if (!remove) return;
  const set = remove.closest("fieldset");
  const next = set.nextElementSibling || set.previousElementSibling;
  set.remove();
  renumber();
  (next?.querySelector("input") || add).focus();
});

document.getElementById("error-summary")?.focus();
