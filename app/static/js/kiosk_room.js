// A kiosk station in the visit room: once the visit is over for it (ended, or it was
// removed; room.js then shows its last words and the way back), the station goes back to
// its home screen by itself after a few seconds, ready for the next person.
const { home_seconds: seconds } = JSON.parse(document.getElementById("kiosk-room").textContent);
const back = document.getElementById("overlay-back");

function goHomeSoon() {
  if (goHomeSoon.timer) return;
  back.querySelector("a")?.append(` (in ${seconds} s)`);
  goHomeSoon.timer = setTimeout(() => window.location.replace("/kiosk"), seconds * 1000);
}

if (back && !back.hidden) goHomeSoon();
else if (back) {
  new MutationObserver(() => { if (!back.hidden) goHomeSoon(); })
    .observe(back, { attributes: true, attributeFilter: ["hidden"] });
}
