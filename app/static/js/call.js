// The call's media on the room page: one RTCPeerConnection per other person in the call (a
// browser mesh: the server holds at most CALL_MESH_LIMIT people in one call), each shown in
// a tile of the stage with their name, what they switched off and how their connection is.
// Socket.IO carries only the signaling, between admitted participants; media goes peer to
// peer. room.js owns the page (its overlay, the waiting room, the event queue) and hands
// this module the call's events in order.
//
// Who offers: whoever is already in the call, to whoever arrives (peer_joined); the
// newcomer answers each offer. Negotiation is "perfect negotiation" per pair: when both
// sides offer at once (an ICE restart, a renegotiation), the polite side rolls its own
// offer back and the impolite side ignores the other's. Both must agree who is which, so it
// is decided from facts both sides hold: the host is impolite towards everyone; between two
// non-hosts (or two hosts) the side whose socket id sorts after the other's is impolite.
// Each description names its sender (participant id, host or not) for that, and for the
// newcomer, who learns who called them only from the offer.
//
// A person's tile is theirs (keyed by participant id), not their connection's: when their
// connection drops (peer_left with reconnecting) the tile stays and says so; when they come
// back on a new connection (peer_joined, a new socket id) the call with them is made again
// in the same tile. ICE failing under a live socket (a network blip) is repaired without a
// new join: the impolite side restarts ICE.

const DISCONNECTED_GRACE_MS = 3000; // ICE "disconnected" often recovers by itself
const CAMERA_RATIO = 4 / 3; // a picture's shape until its first frame says otherwise
const TILE_GAP = 8; // px, the CSS gap and padding between tiles (.5rem)
const DEPARTURE_WORDS_MS = 400; // peer_left comes before the participant_updated saying why

/**
 * Wire the call to the stage. `participants` is the visit's list as rendered; `know` keeps
 * it current. Returns the call's operations; room.js calls them from its ordered queue.
 */
export function createCall({
  socket, visitId, me, iceServers, participants, stats, mark,
  localTracks, fallbackName, onPeer, onChange, onDeparture, onError,
}) {
  const isHost = me.role === "host";
  const tilesBox = document.getElementById("tiles");
  const soundButton = document.getElementById("sound");
  // A clean copy of the rendered tile, without its ids: every further tile is one of these.
  const blank = tilesBox.querySelector(".tile").cloneNode(true);
  for (const element of blank.querySelectorAll("[id]")) element.removeAttribute("id");

  const known = new Map(); // participant id → what the server last said about them
  for (const participant of participants ?? []) known.set(participant.id, participant);
  const peers = new Map(); // socket id → one RTCPeerConnection and its negotiation state
  const tiles = new Map(); // participant id → their tile
  let idle = tile(tilesBox.querySelector(".tile"), null); // the empty tile of an empty call
  const remoteMedia = new Map(); // socket id → what they switched off (media_state)
  const earlyCandidates = new Map(); // socket id → ICE candidates ahead of their description

  function tile(element, participantId) {
    return {
      element,
      participantId,
      video: element.querySelector("video"),
      sid: null,
      state: "connecting", // connecting | connected | restoring | reconnecting
    };
  }

  const nameOf = (participantId) => known.get(participantId)?.name ?? fallbackName();
  const roleOf = (participantId) => known.get(participantId)?.role;

  // ---- Tiles --------------------------------------------------------------------------

  function claimTile(participantId) {
    let claimed = tiles.get(participantId);
    if (claimed) return claimed;
    if (idle) {
      claimed = idle;
      claimed.participantId = participantId;
      idle = null;
    } else {
      claimed = tile(blank.cloneNode(true), participantId);
      tilesBox.append(claimed.element);
    }
    tiles.set(participantId, claimed);
    arrange();
    return claimed;
  }

  function dropTile(gone) {
    tiles.delete(gone.participantId);
    gone.sid = null;
    gone.video.srcObject = null;
    gone.video.muted = false;
    delete gone.video.dataset.soundHeld;
    if (tiles.size === 0) {
      gone.participantId = null;
      gone.state = "connecting";
      idle = gone; // the stage keeps one (empty) tile, the one #remote-video names
    } else {
      gone.element.remove();
    }
    if (!tilesBox.querySelector("[data-sound-held]")) soundButton.hidden = true;
    arrange();
    render(gone);
  }

  /** Hosts first, then in the order people were added; the first tile holds the ids the
   * page has always had (#remote-video, #remote-muted, #remote-camera-off). */
  function arrange() {
    const rank = (t) => [roleOf(t.participantId) === "host" ? 0 : 1, Number(t.participantId) || 0];
    const ordered = [...tiles.values()].sort((a, b) => {
      const [ra, ia] = rank(a);
      const [rb, ib] = rank(b);
      return ra - rb || ia - ib;
    });
    ordered.forEach((t, index) => {
      if (tilesBox.children[index] !== t.element) tilesBox.insertBefore(t.element, tilesBox.children[index] ?? null);
    });
    const first = tilesBox.firstElementChild;
    for (const element of tilesBox.children) {
      const primary = element === first;
      for (const [selector, id] of [["video", "remote-video"], [".remote-muted", "remote-muted"], [".remote-camera-off", "remote-camera-off"]]) {
        const part = element.querySelector(selector);
        if (primary) part.id = id;
        else part.removeAttribute("id");
      }
    }
    tilesBox.dataset.count = String(Math.max(1, tiles.size));
    fit();
  }

  /** As many columns as shows everyone's picture largest on this stage, now: side by side on
   * a wide one, stacked on a phone held upright; three in a square rather than a row unless
   * the row is clearly larger (the square leaves the self-view a corner of its own). */
  function fit() {
    const count = tiles.size;
    const { width, height } = tilesBox.getBoundingClientRect();
    let columns = 1;
    if (count > 1 && width > 0 && height > 0) {
      const ratios = [...tiles.values()].map((t) => (t.video.videoHeight ? t.video.videoWidth / t.video.videoHeight : CAMERA_RATIO));
      const shown = (cols) => {
        const rows = Math.ceil(count / cols);
        const w = (width - TILE_GAP * (cols + 1)) / cols;
        const h = (height - TILE_GAP * (rows + 1)) / rows;
        return ratios.reduce((sum, r) => sum + Math.min(w, h * r) * Math.min(h, w / r), 0);
      };
      const options = [1, 2, 3].filter((cols) => cols <= count);
      const bonus = (cols) => (cols === count && count === 3 ? 1 / 1.15 : 1);
      columns = options.reduce((best, cols) => (shown(cols) * bonus(cols) > shown(best) * bonus(best) ? cols : best), 1);
    }
    tilesBox.dataset.columns = String(columns);
  }
  new ResizeObserver(fit).observe(tilesBox);

  const STATUS = {
    connecting: (name) => [`Connecting to ${name}…`, ""],
    restoring: (name) => [`Reconnecting to ${name}…`, "The connection is unstable; the picture comes back by itself."],
    reconnecting: (name) => [`${name} is reconnecting…`, "Their connection dropped. They keep their place in the call."],
  };

  function render(t) {
    const element = t.element;
    const name = t.participantId === null ? fallbackName() : nameOf(t.participantId);
    element.dataset.state = t.participantId === null ? "idle" : t.state;
    t.video.setAttribute("aria-label", `${name} video`);
    element.querySelector(".tile-name").textContent = name;
    for (const person of element.querySelectorAll(".tile-person")) person.textContent = name;
    const media = (t.sid && remoteMedia.get(t.sid)) || { audio: true, video: true };
    const live = t.sid !== null && t.state !== "reconnecting";
    element.querySelector(".remote-muted").hidden = !live || media.audio !== false;
    element.querySelector(".remote-camera-off").hidden = !live || media.video !== false;
    const status = element.querySelector(".tile-status");
    const words = t.participantId !== null && STATUS[t.state]?.(name);
    status.hidden = !words;
    if (words) {
      status.querySelector(".tile-status-title").textContent = words[0];
      status.querySelector(".tile-status-text").textContent = words[1];
    }
  }

  function changed(t) {
    if (t) render(t);
    stats.connected = [...peers.values()].some((p) => p.pc.connectionState === "connected");
    onChange();
  }

  // ---- Sound --------------------------------------------------------------------------

  function play(video) {
    video.play().catch((error) => {
      if (error?.name !== "NotAllowedError") return; // AbortError: a newer stream took over
      // The browser will not play sound before the page is pressed (it allows it while the
      // camera is on, so this is someone without one). Show the picture now, muted, and
      // offer the sound with one press (for everyone in the call at once).
      video.muted = true;
      video.dataset.soundHeld = "";
      video.play().catch(() => {});
      soundButton.hidden = false;
    });
  }

  soundButton.addEventListener("click", () => {
    for (const video of tilesBox.querySelectorAll("video[data-sound-held]")) {
      delete video.dataset.soundHeld;
      video.muted = false;
      video.play().catch(() => {});
    }
    soundButton.hidden = true;
  });

  function watchFirstFrame(video) {
    if (stats.firstRemoteFrameAt || !("requestVideoFrameCallback" in video)) return;
    video.requestVideoFrameCallback(() => {
      if (stats.firstRemoteFrameAt) return;
      stats.firstRemoteFrameAt = performance.timeOrigin + performance.now();
      mark("first_remote_frame");
    });
  }

  // ---- Peers --------------------------------------------------------------------------

  function send(to, data) {
    socket.emit("signal", { visit_id: visitId, to, data });
  }

  /** A description, with who sends it (see the top of this file). */
  function describe(pc) {
    return { description: pc.localDescription.toJSON() };
  }

  function isPolite(peer) {
    const theyHost = peer.host ?? roleOf(peer.participantId) === "host";
    if (isHost !== theyHost) return !isHost;
    return (socket.id ?? "") < peer.sid;
  }

  function addLocalTracks(pc) {
    const [stream, tracks] = localTracks();
    for (const track of tracks) pc.addTrack(track, stream);
    return tracks;
  }

  function createPeer(sid, participantId, offering) {
    // The same person on a new connection (a reload, a network drop): the new one replaces
    // the old, in the same tile.
    for (const other of [...peers.values()]) {
      if (other.participantId === participantId) closePeer(other.sid);
    }
    closePeer(sid);
    const place = claimTile(participantId);
    place.sid = sid;
    place.state = "connecting";
    place.video.srcObject = null;
    const pc = new RTCPeerConnection({ iceServers });
    const peer = { sid, participantId, pc, tile: place, host: null, makingOffer: false, ignoreOffer: false, restartTimer: null };
    peers.set(sid, peer);
    const current = () => peers.get(sid) === peer;
    pc.onicecandidate = ({ candidate }) => { if (current()) send(sid, { candidate }); };
    pc.ontrack = ({ streams, track }) => {
      if (!current()) return;
      const stream = streams[0] || new MediaStream([track]);
      if (place.video.srcObject !== stream) {
        place.video.srcObject = stream;
        place.video.onresize = fit; // its picture's shape is known (or changed)
        play(place.video);
      }
      if (track.kind === "video") watchFirstFrame(place.video);
    };
    pc.onconnectionstatechange = () => { if (current()) connectionChanged(peer); };
    pc.onnegotiationneeded = async () => {
      try {
        peer.makingOffer = true;
        await pc.setLocalDescription();
        if (current()) send(sid, describe(pc));
        mark("offer_sent");
      } catch (error) {
        if (current()) onError(`Could not start the call: ${error.message}`);
      } finally {
        peer.makingOffer = false;
      }
    };
    if (offering) {
      const sent = addLocalTracks(pc);
      // Without a camera or microphone we still offer to receive, or no offer would start.
      for (const kind of ["audio", "video"]) {
        if (!sent.some((t) => t.kind === kind)) pc.addTransceiver(kind, { direction: "recvonly" });
      }
    }
    changed(place);
    onPeer(); // someone new in the call: they learn what we have switched off
    return peer;
  }

  function connectionChanged(peer) {
    const { pc } = peer;
    clearTimeout(peer.restartTimer);
    peer.restartTimer = null;
    if (pc.connectionState === "connected") {
      mark("connected");
      peer.tile.state = "connected";
    } else if (pc.connectionState === "disconnected") {
      // Often back within a second or two; beyond that, repair it as a failure.
      peer.restartTimer = setTimeout(() => restartIce(peer), DISCONNECTED_GRACE_MS);
    } else if (pc.connectionState === "failed") {
      restartIce(peer);
    }
    changed(peer.tile);
  }

  /** The network under the call changed or broke while the socket lives: the impolite side
   * restarts ICE (negotiationneeded follows, with a fresh offer); the polite side waits for
   * that offer. Either way the tile says the picture is being restored. */
  function restartIce(peer) {
    if (peers.get(peer.sid) !== peer || peer.pc.connectionState === "connected") return;
    peer.tile.state = "restoring";
    changed(peer.tile);
    if (!isPolite(peer)) peer.pc.restartIce();
  }

  function closePeer(sid) {
    const peer = peers.get(sid);
    if (!peer) return null;
    peers.delete(sid);
    earlyCandidates.delete(sid);
    clearTimeout(peer.restartTimer);
    peer.pc.close();
    if (peer.tile.sid === sid) {
      peer.tile.sid = null;
      peer.tile.video.srcObject = null;
    }
    return peer;
  }

  async function addCandidates(peer) {
    const waiting = earlyCandidates.get(peer.sid) ?? [];
    earlyCandidates.delete(peer.sid);
    for (const candidate of waiting) {
      try {
        await peer.pc.addIceCandidate(candidate);
      } catch (error) {
        if (!peer.ignoreOffer) throw error;
      }
    }
  }

  /** Their tile goes now; what to say waits for the news of why (moved back and removed
   * are published after peer_left, a hang-up before it). */
  function depart(gone) {
    const participantId = gone.participantId;
    const name = nameOf(participantId);
    dropTile(gone);
    changed();
    setTimeout(() => {
      if (tiles.has(participantId)) return; // back already (admitted again)
      const presence = known.get(participantId)?.presence;
      const reason = presence === "removed" ? "removed" : presence === "waiting" ? "moved_back" : "left";
      onDeparture({ name, reason, remaining: tiles.size });
    }, DEPARTURE_WORDS_MS);
  }

  // ---- What room.js hands over --------------------------------------------------------

  /** Someone took their place in the call: we were here first, so we call them. */
  function peerJoined({ sid, participant_id: participantId, name }) {
    if (name && participantId != null) known.set(participantId, { ...known.get(participantId), id: participantId, name });
    const current = peers.get(sid);
    // The same connection announced twice: the call with it is already under way.
    if (current && !["failed", "closed"].includes(current.pc.connectionState)) return;
    mark("peer_joined");
    createPeer(sid, participantId ?? `sid:${sid}`, true); // negotiationneeded makes the offer
  }

  /** Their connection left the call: a drop keeps their tile ("reconnecting"); anything
   * else takes it away. */
  function peerLeft({ sid, reconnecting }) {
    const peer = closePeer(sid);
    if (!peer || peer.tile.sid !== null) return; // unknown, or they are back on a newer one
    if (reconnecting) {
      peer.tile.state = "reconnecting";
      changed(peer.tile);
    } else {
      depart(peer.tile);
    }
  }

  async function signal({ from, sender, data }) {
    // Who sent it comes from the server (sender), never from the payload's own claim.
    const who = { participant_id: sender?.participant_id, host: sender?.host };
    let peer = peers.get(from);
    if (data.description) {
      const { description } = data;
      const offer = description.type === "offer";
      if (!peer) {
        if (!offer) return; // an answer for a call we dropped
        // We are the newcomer: answer first, then attach our tracks to the transceivers the
        // offer created.
        const participantId = Number.isInteger(who.participant_id) ? who.participant_id : `sid:${from}`;
        peer = createPeer(from, participantId, false);
        if (typeof who.host === "boolean") peer.host = who.host;
        await peer.pc.setRemoteDescription(description);
        addLocalTracks(peer.pc);
        await peer.pc.setLocalDescription();
        send(from, describe(peer.pc));
        await addCandidates(peer);
        return;
      }
      if (typeof who.host === "boolean") peer.host = who.host;
      const collision = offer && (peer.makingOffer || peer.pc.signalingState !== "stable");
      peer.ignoreOffer = !isPolite(peer) && collision;
      if (peer.ignoreOffer) return;
      await peer.pc.setRemoteDescription(description); // a polite collision rolls ours back
      if (offer) {
        await peer.pc.setLocalDescription();
        send(from, describe(peer.pc));
      }
      await addCandidates(peer);
    } else if (data.candidate !== undefined) {
      earlyCandidates.set(from, [...(earlyCandidates.get(from) ?? []), data.candidate]);
      if (peer?.pc.remoteDescription) await addCandidates(peer);
    }
  }

  /** What the server says about someone (participant_updated): kept, unordered, as soon as
   * it arrives, so words chosen later are the latest. */
  function know(participant) {
    if (participant?.id == null) return;
    known.set(participant.id, { ...known.get(participant.id), ...participant });
    const t = tiles.get(participant.id);
    if (t) render(t);
  }

  /** participant_updated, in the call's order: someone out of the call (their grace ran
   * out, moved back, removed) loses their tile, connected or reconnecting. */
  function participantUpdated(participant) {
    const t = tiles.get(participant?.id);
    if (!t || participant.presence === "admitted") return;
    if (t.sid) closePeer(t.sid);
    depart(t);
  }

  function mediaState({ sid, audio, video }) {
    remoteMedia.set(sid, { audio, video });
    for (const t of tiles.values()) if (t.sid === sid) render(t);
  }

  /** Our own connection dropped, we left, or the page ended: every call goes, quietly. */
  function closeAll() {
    for (const sid of [...peers.keys()]) closePeer(sid);
    for (const t of [...tiles.values()]) dropTile(t);
    earlyCandidates.clear();
    changed();
  }

  /** Send another track of a kind (say, a blurred camera) to everyone in the call. */
  async function replaceTrack(kind, track) {
    for (const peer of peers.values()) {
      // The transceiver of that kind, even one that sends nothing yet (a page without a
      // camera sharing its screen): it starts sending, which renegotiates that call.
      const transceiver = peer.pc.getTransceivers().find((t) => !t.stopped && t.receiver.track.kind === kind);
      if (!transceiver) continue;
      await transceiver.sender.replaceTrack(track);
      if (track && transceiver.direction === "recvonly") transceiver.direction = "sendrecv";
    }
  }

  /** The tiles in order, each with whose they are and how the call with them is. */
  function summary() {
    return [...tilesBox.children]
      .map((element) => [...tiles.values()].find((t) => t.element === element))
      .filter(Boolean)
      .map((t) => ({
        name: nameOf(t.participantId),
        participantId: t.participantId,
        sid: t.sid,
        state: t.state,
        connection: peers.get(t.sid)?.pc.connectionState ?? null,
      }));
  }

  // What this page receives, per kind, from the call's own statistics (used by the tests):
  // summed over everyone in the call, or only from `who` (a name or a socket id).
  stats.received = async (who) => {
    const seen = {};
    for (const peer of [...peers.values()]) {
      if (who !== undefined && who !== peer.sid && who !== nameOf(peer.participantId)) continue;
      for (const report of (await peer.pc.getStats()).values()) {
        if (report.type !== "inbound-rtp") continue;
        const sum = (seen[report.kind] ??= { packets: 0, framesDecoded: 0, samples: 0 });
        sum.packets += report.packetsReceived ?? 0;
        sum.framesDecoded += report.framesDecoded ?? 0;
        sum.samples += report.totalSamplesReceived ?? 0;
      }
    }
    return seen;
  };
  stats.peers = summary;

  render(idle);
  return { peerJoined, peerLeft, signal, know, participantUpdated, mediaState, closeAll, replaceTrack, summary };
}
