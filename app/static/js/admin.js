// The admin's stations page: each station's state, whether it is online (live, from its
// socket), when it was last seen and its latest self-test. The list is read again on every
// (re)connect and whenever a station changes; `station_updated` {id, online, last_seen_at}
// moves one row between online and offline as its socket connects, beats or closes.
import { io } from "/static/vendor/socket.io.esm.min.js";
import { age, api, followSignOut, fromTemplate, reconcile, watchIdle } from "./live.js";

const list = document.getElementById("stations");
const empty = document.getElementById("stations-empty");
const STATES = {
  waiting: "Waiting for enrollment",
  enrolled: "Enrolled",
  expired: "Code expired: issue a new one",
  revoked: "Revoked",
};
const VERDICTS = { good: "Good", poor: "Poor", failed: "Not working" };
const VERDICT_PILL = { good: "pill-available", poor: "pill-waiting", failed: "pill-failed" };

let onlineSeconds = 30;
// id → the station's row, plus `heard`: when (this browser's clock) it was last seen.
const rows = new Map();

function take(listing) {
  onlineSeconds = listing.online_seconds;
  // The server's "now" against ours: last_seen_at becomes a time on this browser's clock.
  const skew = Date.now() - Date.parse(listing.now);
  rows.clear();
  for (const row of listing.stations) {
    rows.set(row.id, { ...row, heard: row.last_seen_at ? Date.parse(row.last_seen_at) + skew : null });
  }
  render();
}

function online(row) {
  return row.state === "enrolled" && row.online && row.heard !== null
    && Date.now() - row.heard <= onlineSeconds * 1000;
}

function render() {
  const items = [...rows.values()].sort((a, b) => a.name.localeCompare(b.name));
  reconcile(list, items, (r) => r.id, () => fromTemplate("station-row"), (el, row) => {
    el.setAttribute("aria-label", row.name);
    el.querySelector(".name").textContent = row.name;
    el.querySelector(".state").textContent = STATES[row.state] ?? row.state;
    el.querySelector(".site").textContent = row.site;
    const pill = el.querySelector(".connection");
    const up = online(row);
    pill.textContent = row.state === "enrolled" ? (up ? "Online" : "Offline") : "—";
    pill.className = `pill connection ${up ? "pill-available" : "pill-unavailable"}`;
    el.querySelector(".seen").textContent = row.heard ? age(new Date(row.heard).toISOString()) : "Never";
    const test = el.querySelector(".self-test");
    test.replaceChildren();
    if (row.self_test) {
      const verdict = document.createElement("span");
      verdict.className = `pill ${VERDICT_PILL[row.self_test.verdict] ?? ""}`;
      verdict.textContent = VERDICTS[row.self_test.verdict] ?? row.self_test.verdict;
      const when = document.createElement("span");
      when.className = "muted";
      when.textContent = ` ${age(row.self_test.at)}`;
      test.append(verdict, when);
    } else {
      test.textContent = "Not tested";
    }
    const revoke = el.querySelector(".revoke");
    revoke.hidden = row.state === "revoked";
    revoke.href = `/admin/stations/${row.id}/revoke`;
    revoke.setAttribute("aria-label", `Revoke ${row.name}`);
    const code = el.querySelector(".new-code");
    code.href = `/admin/stations/${row.id}/code`;
    code.setAttribute("aria-label", `New code for ${row.name}`);
  });
  empty.hidden = rows.size > 0;
}

async function reload() {
  const result = await api("GET", "/api/v1/stations");
  if (result.ok) take(result.data);
}

take(JSON.parse(document.getElementById("stations-data").textContent));

const socket = io({ transports: ["websocket", "polling"] });
socket.on("connect", () => {
  document.documentElement.dataset.live = "connected";
  reload();
});
socket.on("disconnect", () => { document.documentElement.dataset.live = "reconnecting"; });
socket.on("station_updated", (event) => {
  const row = rows.get(event.id);
  if (!row || event.changed) return void reload();
  row.online = event.online;
  row.heard = Date.now();
  render();
});
followSignOut(socket);
watchIdle(socket);
// Online turns to offline by itself once a station has not been heard of for a while (its
// process died without closing the socket); ages move on. Every change (a new self-test
// too) is announced; the list is read again now and then all the same, should one be missed.
setInterval(render, 5000);
setInterval(() => { if (socket.connected) reload(); }, 30_000);
