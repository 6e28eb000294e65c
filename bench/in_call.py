"""How quickly things happen inside a call: a chat message reaching the other side, and
the host's Admit reaching the person admitted.

Starts the real server (`python wsgi.py`, gevent by default) with a fresh demo clinic.
The station requests Dr. Lindqvist, he accepts; both sockets (websocket) join the visit,
so the station is in the call with him. Then:

- chat: he sends a message with `chat_send`; each sample is the time from just before the
  emit to `chat_message` arriving on the station's socket;
- admit: he moves the station back to the waiting room (`change_participant` hold), then
  admits it; each sample is the time from just before the admit to `participant_updated`
  (admitted) arriving on the station's socket.

    python -m bench.in_call [--messages 200] [--admissions 50] [--async-mode gevent]
        [--database-url postgresql://…] [--redis-url redis://…]

Prints p50 and p99 in milliseconds and writes them to bench/results/in_call.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests
import socketio

from bench.request_latency import percentile
from bench.results_file import add_server_options, provenance, write_result
from tests.server import LiveServer

RESULTS = Path(__file__).resolve().parent / "results" / "in_call.json"
TIMEOUT = 10.0


class Listener:
    """A socket in the visit, noting when each awaited event arrives."""

    def __init__(self, url: str, token: str, visit_id: int):
        self.visit_id = visit_id
        self.events: list[tuple[str, dict, float]] = []
        self._changed = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        for name in ("chat_message", "participant_updated"):
            self.sio.on(name, self._note(name))
        self.sio.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)

    def _note(self, name: str):
        def noted(data: dict) -> None:
            at = time.perf_counter()
            with self._changed:
                self.events.append((name, data, at))
                self._changed.notify_all()

        return noted

    def call(self, event: str, **data) -> dict:
        answer = self.sio.call(event, {"visit_id": self.visit_id, **data}, timeout=TIMEOUT)
        if "error" in answer:
            raise RuntimeError(f"{event}: {answer['error']}")
        return answer

    def wait_for(self, test) -> float:
        with self._changed:
            found = None

            def seen():
                nonlocal found
                found = next((at for name, data, at in self.events if test(name, data)), None)
                return found is not None

            if not self._changed.wait_for(seen, TIMEOUT):
                raise RuntimeError("the event never arrived")
            return found

    def clear(self) -> None:
        with self._changed:
            self.events.clear()


def in_call(server: LiveServer) -> tuple[Listener, Listener]:
    station_token, provider_token = server.token("station"), server.token("lindqvist")
    provider_id = server.provider_id(provider_token, "Dr. Ben Lindqvist")
    server.api("PUT", "/providers/me/availability", provider_token, {"available": True})
    api = server.url + "/api/v1"
    headers = {"Authorization": f"Bearer {station_token}"}
    made = requests.post(api + "/requests", json={"provider_id": provider_id}, headers=headers)
    request_id = made.json()["id"]
    accepted = server.api("POST", f"/requests/{request_id}/accept", provider_token)
    visit_id = accepted.json()["visit_id"]
    station = Listener(server.url, station_token, visit_id)
    provider = Listener(server.url, provider_token, visit_id)
    station.call("join_visit")
    provider.call("join_visit")
    station.call("join_visit")  # admitted: takes its place in the call
    return provider, station


def measure_chat(provider: Listener, station: Listener, count: int, warmup: int) -> list[float]:
    samples = []
    for n in range(warmup + count):
        station.clear()
        text = f"message {n}"
        started = time.perf_counter()
        provider.call("chat_send", text=text)
        arrived = station.wait_for(
            lambda name, data, text=text: name == "chat_message" and data["text"] == text
        )
        if n >= warmup:
            samples.append((arrived - started) * 1000)
    return samples


def measure_admit(provider: Listener, station: Listener, count: int, warmup: int) -> list[float]:
    me = station.call("join_visit")["participant_id"]

    def admitted(name, data):
        person = data.get("participant", {})
        return (
            name == "participant_updated"
            and person.get("id") == me
            and person.get("presence") == "admitted"
        )

    samples = []
    for n in range(warmup + count):
        provider.call("change_participant", participant_id=me, action="hold")
        station.clear()
        started = time.perf_counter()
        provider.call("change_participant", participant_id=me, action="admit")
        arrived = station.wait_for(admitted)
        if n >= warmup:
            samples.append((arrived - started) * 1000)
    return samples


def summary(samples: list[float]) -> dict:
    return {
        "samples": len(samples),
        "p50_ms": round(percentile(samples, 50), 2),
        "p99_ms": round(percentile(samples, 99), 2),
        "mean_ms": round(statistics.fmean(samples), 2),
        "max_ms": round(max(samples), 2),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--admissions", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    add_server_options(parser)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="anteroom-bench-") as workdir:
        server = LiveServer(
            Path(workdir),
            async_mode=args.async_mode,
            database_url=args.database_url,
            redis_url=args.redis_url,
            # One connection sends far faster than a person types: lift the per-connection
            # event limit, which would otherwise pace the measurement.
            extra_env={"SOCKET_EVENT_LIMIT": "100000/10 seconds"},
        )
        try:
            server.start()
            provider, station = in_call(server)
            try:
                chat = measure_chat(provider, station, args.messages, args.warmup)
                admit = measure_admit(provider, station, args.admissions, args.warmup)
            finally:
                provider.sio.disconnect()
                station.sio.disconnect()
        finally:
            server.stop()

    result = {
        "benchmark": "in_call",
        "chat": {"what": "chat_send emitted → chat_message on the other socket", **summary(chat)},
        "admit": {
            "what": "change_participant admit emitted → participant_updated (admitted) on the "
            "admitted person's socket",
            **summary(admit),
        },
        "async_mode": args.async_mode,
        "database": "postgresql" if args.database_url else "sqlite",
        "message_queue": "redis" if args.redis_url else None,
        **provenance(),
    }
    write_result(result, args.output)
    for name in ("chat", "admit"):
        r = result[name]
        print(
            f"{name}: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms "
            f"over {r['samples']} ({result['async_mode']}, {result['database']}"
            f"{', redis' if result['message_queue'] else ''})"
        )
    print(f"written to {args.output}")
    return result


if __name__ == "__main__":
    main()
