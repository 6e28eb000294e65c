"""The media worker: the echo peer of the camera/microphone/network self-test.

`python -m media.worker` (started by `make run` beside the web server) listens on
MEDIA_WORKER_URL (loopback by default) for the web server, which relays each self-test's
SDP offer here (app/services/self_tests.py). For each offer it opens one aiortc peer that
sends every track it receives straight back, so the browser measures the whole round trip
(its camera and microphone, the network both ways, our encoder) from its own WebRTC
statistics. The worker measures nothing and stores nothing.

    POST /offer   {"sdp": "<offer>"}  →  200 {"type": "answer", "sdp": "<answer>"}
                  400 {"error": …} for an offer aiortc cannot read,
                  503 {"error": "busy"} with MEDIA_WORKER_MAX_PEERS tests already running
    GET  /health  →  200 {"peers": <open peers>, "max_peers": …}

A peer is closed when its connection fails or closes, and after MEDIA_WORKER_PEER_SECONDS
whatever happens. Only host candidates are gathered (no STUN, no TURN): a browser that
cannot reach them directly relays through the TURN server of its own ICE configuration.

Plain asyncio and aiortc, never inside a web process (aiortc needs its own event loop and
would fight gevent's monkey-patching). Nothing from an SDP (ICE passwords, fingerprints,
addresses) is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from urllib.parse import urlsplit

from aiohttp import web
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

log = logging.getLogger("media.worker")

DEFAULT_URL = "http://127.0.0.1:5001"
MAX_SDP_BYTES = 64 * 1024  # a browser's offer of audio and video is ~5 KB


class Busy(RuntimeError):
    """Every peer the worker may hold is in use."""


class BadOffer(ValueError):
    """The offer is not an SDP offer aiortc can answer."""


class EchoWorker:
    """The open echo peers: at most `max_peers` at once, each for at most `peer_seconds`."""

    def __init__(self, max_peers: int = 4, peer_seconds: float = 60):
        self.max_peers, self.peer_seconds = max_peers, peer_seconds
        self.peers: set[RTCPeerConnection] = set()

    async def answer(self, offer_sdp: str) -> str:
        """Open an echo peer for this offer and return its answer's SDP."""
        if len(self.peers) >= self.max_peers:
            raise Busy()
        # iceServers=[] explicitly: with none, aiortc would ask a public STUN server.
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.peers.add(pc)

        @pc.on("track")
        def echo(track: MediaStreamTrack) -> None:
            # Fired inside setRemoteDescription, so the answer already sends it back, on
            # the transceiver the offer made for it.
            pc.addTrack(track)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.close(pc)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:  # aiortc raises ValueError, KeyError, … for bad SDP
            await self.close(pc)
            raise BadOffer(type(exc).__name__) from exc
        asyncio.get_running_loop().call_later(
            self.peer_seconds, lambda: asyncio.ensure_future(self.close(pc))
        )
        log.info("echo peer opened (%d of %d)", len(self.peers), self.max_peers)
        return pc.localDescription.sdp

    async def close(self, pc: RTCPeerConnection) -> None:
        """Close one peer (again is harmless)."""
        if pc in self.peers:
            self.peers.discard(pc)
            log.info("echo peer closed (%d open)", len(self.peers))
        await pc.close()

    async def close_all(self) -> None:
        await asyncio.gather(*(self.close(pc) for pc in list(self.peers)))


def make_app(worker: EchoWorker) -> web.Application:
    """The worker's HTTP API (see the module's docstring)."""

    async def offer(request: web.Request) -> web.Response:
        if (request.content_length or 0) > MAX_SDP_BYTES:
            return web.json_response({"error": "The offer is too large."}, status=413)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "Send JSON."}, status=400)
        sdp = body.get("sdp") if isinstance(body, dict) else None
        if not isinstance(sdp, str) or not sdp.startswith("v=0"):
            return web.json_response({"error": "Send an SDP offer."}, status=400)
        try:
            answer = await worker.answer(sdp)
        except Busy:
            return web.json_response({"error": "busy"}, status=503)
        except BadOffer as exc:
            log.info("offer refused: %s", exc)
            return web.json_response({"error": "The offer could not be read."}, status=400)
        return web.json_response({"type": "answer", "sdp": answer})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"peers": len(worker.peers), "max_peers": worker.max_peers})

    app = web.Application(client_max_size=MAX_SDP_BYTES)
    app.add_routes([web.post("/offer", offer), web.get("/health", health)])
    return app


def listen_address(url: str) -> tuple[str, int]:
    """The host and port of MEDIA_WORKER_URL (http://host:port)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        raise SystemExit(f"MEDIA_WORKER_URL must look like {DEFAULT_URL}, got {url!r}")
    return parts.hostname, parts.port


def _positive(env: dict, name: str, default: float) -> float:
    raw = env.get(name) or str(default)
    try:
        value = float(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise SystemExit(f"{name} must be a number above 0, got {raw!r}")
    return value


async def serve(env: dict | None = None) -> None:
    """Serve until SIGINT or SIGTERM, then close every peer."""
    env = dict(os.environ if env is None else env)
    host, port = listen_address(env.get("MEDIA_WORKER_URL") or DEFAULT_URL)
    worker = EchoWorker(
        max_peers=int(_positive(env, "MEDIA_WORKER_MAX_PEERS", 4)),
        peer_seconds=_positive(env, "MEDIA_WORKER_PEER_SECONDS", 60),
    )
    runner = web.AppRunner(make_app(worker), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print(f"Media worker is serving on http://{host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await worker.close_all()
        await runner.cleanup()


def main() -> None:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    log.setLevel(logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
