// My meeting room: a form that came back with errors puts the focus on their summary.
document.getElementById("error-summary")?.focus();
