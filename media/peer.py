"""A headless call participant: python-socketio's AsyncClient for signaling, aiortc for media.

It speaks the room page's protocol (app/static/js/room.js), so it can stand in for either
side of a call with a browser or with another HeadlessPeer:

- emit join_visit; a patient who lands in the waiting room joins again once a
  participant_updated says they were admitted;
- whoever was in the call first hears peer_joined and makes the offer;
- signal data is {"description": {"type", "sdp"}} or {"candidate": {candidate, sdpMid,
  sdpMLineIndex} | null}; the host is the impolite side when both offer at once.

aiortc does not trickle: its descriptions already carry every candidate, and it sends no
candidate messages. It accepts a browser's trickled candidates.

Runs in its own asyncio loop (tests, benchmarks, the media worker), never in a web process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import socketio
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp
from av import VideoFrame

log = logging.getLogger(__name__)


class JoinRefused(RuntimeError):
    """The server would not let this peer into the visit (join_visit answered an error)."""


class ColorTrack(VideoStreamTrack):
    """Synthetic video: solid frames of one YUV colour at 30 fps, for checking what arrives."""

    def __init__(self, yuv: tuple[int, int, int] = (81, 90, 240), width=320, height=240):
        super().__init__()
        self.yuv, self.width, self.height = yuv, width, height

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=self.width, height=self.height, format="yuv420p")
        for plane, value in zip(frame.planes, self.yuv, strict=True):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        return frame


def mean_yuv(frame: VideoFrame) -> tuple[float, float, float]:
    """The average Y, U and V of a decoded frame (visible pixels only, no row padding)."""
    frame = frame.reformat(format="yuv420p") if frame.format.name != "yuv420p" else frame
    means = []
    for plane in frame.planes:
        data = bytes(plane)
        rows = [
            data[y * plane.line_size : y * plane.line_size + plane.width]
            for y in range(plane.height)
        ]
        means.append(sum(sum(row) for row in rows) / (plane.width * plane.height))
    return means[0], means[1], means[2]


class HeadlessPeer:
    """One participant's connection to a visit room, and its WebRTC call with one other peer.

    `make_tracks` returns fresh local tracks for each call attempt (a track belongs to one
    RTCPeerConnection); with none, the peer only receives. `ice_servers` are RTCIceServer
    dicts as the server's ICE_SERVERS config holds them; none means host candidates only
    (aiortc would otherwise fall back to a public STUN server).
    """

    def __init__(
        self,
        url: str,
        token: str,
        visit_id: int,
        *,
        host: bool,
        make_tracks: Callable[[], list[MediaStreamTrack]] | None = None,
        ice_servers: list[dict] | None = None,
        cookie: str | None = None,
    ):
        # A user's API token, or (a guest, from their link) the session cookie's header.
        self.url, self.token, self.visit_id = url, token, visit_id
        self.cookie = cookie
        self.polite = not host
        self.make_tracks = make_tracks or list
        self.ice_servers = [
            RTCIceServer(s["urls"], s.get("username"), s.get("credential"))
            for s in ice_servers or []
        ]
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sid: str | None = None
        self.presence: str | None = None
        self.participant_id: int | None = None
        self.pc: RTCPeerConnection | None = None
        self.remote_sid: str | None = None
        self.admitted = asyncio.Event()
        self.moved_back = asyncio.Event()  # the host moved us back to the waiting room
        self.removed = asyncio.Event()  # removed from the call, or denied from the waiting room
        self.connected = asyncio.Event()  # the WebRTC connection, not the socket
        self.ended = asyncio.Event()
        self.frames_received = 0
        self.first_frame_at: float | None = None  # time.perf_counter()
        self.last_frame: VideoFrame | None = None
        self.errors: list[str] = []
        self._making_offer = False
        self._signals = asyncio.Lock()  # one description or candidate at a time, in order
        self._frames = asyncio.Condition()
        self._local_tracks: list[MediaStreamTrack] = []
        self._seen_admitted: set[int] = set()
        self._tasks: set[asyncio.Task] = set()
        for event, handler in [
            ("participant_updated", self._on_participant_updated),
            ("peer_joined", self._on_peer_joined),
            ("peer_left", self._on_peer_left),
            ("signal", self._on_signal),
            ("visit_ended", self._on_visit_ended),
        ]:
            self.sio.on(event, self._guarded(handler))

    # Joining and leaving ------------------------------------------------------------------
    async def start(self, timeout: float = 10) -> HeadlessPeer:
        """Connect and enter the visit (the meeting, or its waiting room)."""
        await self.sio.connect(
            self.url,
            auth={"token": self.token} if self.token else None,
            headers={"Cookie": self.cookie} if self.cookie else {},
            transports=["websocket"],
            wait_timeout=timeout,
        )
        await self._join()
        return self

    async def _join(self) -> None:
        answer = await self.sio.call("join_visit", {"visit_id": self.visit_id}, timeout=10)
        if "error" in answer:
            raise JoinRefused(answer["error"]["message"])
        self.sid, self.participant_id = answer["sid"], answer["participant_id"]
        self.presence = answer["presence"]
        if self.presence == "admitted":
            self.admitted.set()
        elif self.participant_id in self._seen_admitted:
            # The admission overtook join_visit's answer on the wire: take our place now.
            await self._join()

    async def close(self) -> None:
        """Hang up (leave_visit), close the call and the socket."""
        if self.sio.connected and not self.ended.is_set():
            with contextlib.suppress(Exception):
                await self.sio.call("leave_visit", {"visit_id": self.visit_id}, timeout=5)
        await self._close_pc()
        if self.sio.connected:
            await self.sio.disconnect()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def wait_for_frames(self, count: int, timeout: float = 10) -> VideoFrame:
        """Wait until `count` remote video frames have been decoded; return the latest."""

        async def enough():
            async with self._frames:
                await self._frames.wait_for(lambda: self.frames_received >= count)

        await asyncio.wait_for(enough(), timeout)
        return self.last_frame

    # Socket.IO events -----------------------------------------------------------------------
    def _guarded(self, handler):
        async def run(data=None):
            try:
                await handler(data or {})
            except Exception as exc:  # a handler's failure must be visible to the caller
                log.exception("%s failed", handler.__name__)
                self.errors.append(f"{handler.__name__}: {exc!r}")

        return run

    async def _on_participant_updated(self, data: dict) -> None:
        participant = data.get("participant") or {}
        if data.get("visit_id") != self.visit_id:
            return
        mine = participant.get("id") == self.participant_id
        if mine and participant.get("presence") == "removed":
            self.presence = "removed"
            self.removed.set()
            async with self._signals:
                await self._close_pc()
            return
        if mine and participant.get("presence") == "waiting" and self.presence == "admitted":
            self.presence = "waiting"
            self.admitted.clear()
            self._seen_admitted.discard(self.participant_id)
            self.moved_back.set()
            async with self._signals:
                await self._close_pc()
            return
        if participant.get("presence") != "admitted":
            return
        self._seen_admitted.add(participant["id"])
        if participant["id"] == self.participant_id and self.presence == "waiting":
            # Joining again announces our admission once more, and that echo can overtake
            # join_visit's answer: ignore it, or the host hears peer_joined twice.
            self.presence = "joining"
            await self._join()

    async def _on_peer_joined(self, data: dict) -> None:
        # We were here first, so we offer (as room.js does).
        if data.get("visit_id") != self.visit_id:
            return
        async with self._signals:
            pc = await self._new_pc(data["sid"])
            self._add_tracks(pc)
            for kind in ("audio", "video"):  # receive whatever the other side sends
                if not any(t.kind == kind for t in self._local_tracks):
                    pc.addTransceiver(kind, direction="recvonly")
            self._making_offer = True
            try:
                await pc.setLocalDescription(await pc.createOffer())
            finally:
                self._making_offer = False
            await self._send({"description": _description(pc)})

    async def _on_peer_left(self, data: dict) -> None:
        if data.get("sid") == self.remote_sid:
            async with self._signals:
                await self._close_pc()

    async def _on_visit_ended(self, data: dict) -> None:
        if data.get("visit_id") == self.visit_id:
            self.ended.set()
            await self._close_pc()

    async def _on_signal(self, message: dict) -> None:
        if message.get("visit_id") != self.visit_id:
            return
        sender, data = message.get("from"), message.get("data") or {}
        async with self._signals:
            if "description" in data:
                await self._on_description(sender, data["description"])
            elif "candidate" in data:
                await self._on_candidate(sender, data["candidate"])

    async def _on_description(self, sender: str, description: dict) -> None:
        offer = description["type"] == "offer"
        if self.pc is None or self.remote_sid != sender:
            if offer:  # an answer for a call we dropped is ignored
                await self._answer(sender, description)
            return
        collision = offer and (self._making_offer or self.pc.signalingState != "stable")
        if collision and not self.polite:
            return
        if collision:
            # The polite side yields; aiortc cannot roll back, so it starts over as answerer.
            await self._answer(sender, description)
            return
        await self.pc.setRemoteDescription(RTCSessionDescription(**description))
        if offer:
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            await self._send({"description": _description(self.pc)})

    async def _answer(self, sender: str, offer: dict) -> None:
        pc = await self._new_pc(sender)
        await pc.setRemoteDescription(RTCSessionDescription(**offer))
        self._add_tracks(pc)  # onto the transceivers the offer created
        await pc.setLocalDescription(await pc.createAnswer())
        await self._send({"description": _description(pc)})

    async def _on_candidate(self, sender: str, candidate: dict | None) -> None:
        if self.pc is None or sender != self.remote_sid or self.pc.remoteDescription is None:
            return
        line = (candidate or {}).get("candidate") or ""
        if not line:
            await self.pc.addIceCandidate(None)  # end of candidates
            return
        ice = candidate_from_sdp(line.removeprefix("candidate:"))
        if ice.ip.endswith(".local"):
            return  # an mDNS name; aiortc's host candidates reach the browser anyway
        ice.sdpMid, ice.sdpMLineIndex = candidate.get("sdpMid"), candidate.get("sdpMLineIndex")
        await self.pc.addIceCandidate(ice)

    async def _send(self, data: dict) -> None:
        answer = await self.sio.call(
            "signal", {"visit_id": self.visit_id, "to": self.remote_sid, "data": data}, timeout=10
        )
        if "error" in (answer or {}):
            self.errors.append(f"signal refused: {answer['error']['message']}")

    # The RTCPeerConnection --------------------------------------------------------------------
    async def _new_pc(self, remote_sid: str) -> RTCPeerConnection:
        await self._close_pc()
        self.remote_sid = remote_sid
        pc = self.pc = RTCPeerConnection(RTCConfiguration(iceServers=self.ice_servers))

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            reader = self._read_video(track) if track.kind == "video" else _drain(track)
            task = asyncio.ensure_future(reader)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc is not self.pc:
                return
            if pc.connectionState == "connected":
                self.connected.set()
            elif pc.connectionState in ("failed", "closed"):
                self.connected.clear()

        return pc

    def _add_tracks(self, pc: RTCPeerConnection) -> None:
        self._local_tracks = self.make_tracks()
        for track in self._local_tracks:
            pc.addTrack(track)

    async def _close_pc(self) -> None:
        pc, self.pc, self.remote_sid = self.pc, None, None
        self.connected.clear()
        if pc is not None:
            await pc.close()
        for track in self._local_tracks:
            track.stop()
        self._local_tracks = []

    async def _read_video(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            async with self._frames:
                if self.first_frame_at is None:
                    self.first_frame_at = time.perf_counter()
                self.frames_received += 1
                self.last_frame = frame
                self._frames.notify_all()


def _description(pc: RTCPeerConnection) -> dict:
    return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}


async def _drain(track: MediaStreamTrack) -> None:
    # Unread remote tracks queue every frame they get; keep them empty.
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()
