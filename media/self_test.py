"""The self-test from an aiortc peer: a stand-in for a station's browser, for tests and bench/.

It does what app/static/js/selftest.js does: offers audio and video through the web
server's relay (POST /api/v1/self-tests/offer) to the media worker, which sends both back,
then measures the round trip from WebRTC statistics over a few seconds: the round-trip time
from the worker's RTCP receiver reports (remote-inbound-rtp roundTripTime), the bitrate of
what comes back (the transport's bytesReceived over time) and the echoed video frames.

Runs in its own asyncio loop, never in a web process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import aiohttp
from aiortc import AudioStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from media.peer import ColorTrack


class OfferRefused(RuntimeError):
    """The web server would not relay the offer (its JSON error is the message)."""


@dataclass
class SelfTestResult:
    offer_to_answer_ms: float  # POST of the offer until its answer arrived
    connected_ms: float | None  # the offer until the peer connection was connected
    round_trip_ms: float | None
    bitrate_kbps: float | None  # what came back, audio and video, over the measuring window
    packet_loss: float | None  # the worker's receiver reports: fraction of ours it lost
    frames_echoed: int


async def run_self_test(
    offer_url: str, headers: dict[str, str], seconds: float = 4, timeout: float = 20
) -> SelfTestResult:
    """Offer to `offer_url`, wait for the echo, measure for `seconds`, then hang up."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # host candidates only
    frames = 0
    connected = asyncio.Event()
    readers: list[asyncio.Task] = []

    async def count_frames(track) -> None:
        nonlocal frames
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                if track.kind == "video":
                    frames += 1

    @pc.on("track")
    def on_track(track) -> None:
        readers.append(asyncio.ensure_future(count_frames(track)))

    @pc.on("connectionstatechange")
    def on_state() -> None:
        if pc.connectionState == "connected":
            connected.set()

    pc.addTrack(ColorTrack())
    pc.addTrack(AudioStreamTrack())
    try:
        await pc.setLocalDescription(await pc.createOffer())
        started = time.perf_counter()
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                offer_url,
                json={"type": "offer", "sdp": pc.localDescription.sdp},
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response,
        ):
            body = await response.json()
            if response.status != 200:
                raise OfferRefused(f"{response.status}: {body}")
        offer_to_answer_ms = (time.perf_counter() - started) * 1000
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type=body["type"]))
        await asyncio.wait_for(connected.wait(), timeout)
        connected_ms = (time.perf_counter() - started) * 1000

        # Measure over `seconds` once media flows, and until a receiver report has come
        # back (aiortc sends one every second or so).
        await asyncio.sleep(0.5)
        first_bytes, first_at = await _bytes_received(pc), time.perf_counter()
        await asyncio.sleep(seconds)
        round_trip, loss = await _remote_report(pc)
        deadline = time.perf_counter() + timeout
        while round_trip is None and time.perf_counter() < deadline:
            await asyncio.sleep(0.25)
            round_trip, loss = await _remote_report(pc)
        elapsed = time.perf_counter() - first_at
        received = await _bytes_received(pc) - first_bytes
        return SelfTestResult(
            offer_to_answer_ms=offer_to_answer_ms,
            connected_ms=connected_ms,
            round_trip_ms=None if round_trip is None else round_trip * 1000,
            bitrate_kbps=received * 8 / elapsed / 1000 if elapsed > 0 else None,
            packet_loss=loss,
            frames_echoed=frames,
        )
    finally:
        await pc.close()
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


async def _bytes_received(pc: RTCPeerConnection) -> int:
    stats = await pc.getStats()
    return sum(s.bytesReceived for s in stats.values() if s.type == "transport")


async def _remote_report(pc: RTCPeerConnection) -> tuple[float | None, float | None]:
    """The video sender's round-trip time (seconds) and loss, from the worker's reports."""
    for sender in pc.getSenders():
        if sender.track is None or sender.track.kind != "video":
            continue
        for stats in (await sender.getStats()).values():
            if stats.type == "remote-inbound-rtp" and stats.roundTripTime is not None:
                return stats.roundTripTime, stats.fractionLost
    return None, None
