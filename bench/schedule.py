"""How quickly the clinic schedule follows a booking, and how soon its invitation is in
the patient's mailbox.

Starts the real server (`python wsgi.py`, gevent by default) with a fresh demo clinic and a
real SMTP server on loopback (aiosmtpd, as the tests use). A scheduler's socket follows
the clinic's stream. Each sample books a visit for tomorrow (POST /api/v1/visits) and
measures, from just before the POST:

- row: until `visit_updated` with that visit's row reaches the scheduler's socket;
- mail: until the invitation email has arrived at the SMTP server (the background job
  runner claims it from the jobs table, renders it and sends it).

    python -m bench.schedule [--visits 50] [--poll 1.0] [--async-mode gevent]
        [--database-url postgresql://…] [--redis-url redis://…]

`--poll` is the job runner's JOBS_POLL_SECONDS; the mail time is bounded below by it.
Prints p50 and p99 in milliseconds and writes them to bench/results/schedule.json.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import socketio

from bench.in_call import summary
from bench.results_file import add_server_options, provenance, write_result
from tests.mail import SmtpServer
from tests.server import LiveServer

RESULTS = Path(__file__).resolve().parent / "results" / "schedule.json"
TIMEOUT = 15.0


class Board:
    """The scheduler's socket: when each visit's row first arrived."""

    def __init__(self, url: str, token: str):
        self.arrived: dict[int, float] = {}
        self._changed = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("visit_updated", self._row)
        self.sio.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)

    def _row(self, data: dict) -> None:
        at = time.perf_counter()
        with self._changed:
            self.arrived.setdefault(data["id"], at)
            self._changed.notify_all()

    def wait(self, visit_id: int) -> float:
        with self._changed:
            if not self._changed.wait_for(lambda: visit_id in self.arrived, TIMEOUT):
                raise RuntimeError(f"visit {visit_id} never reached the schedule")
            return self.arrived[visit_id]


def measure(server: LiveServer, smtp: SmtpServer, count: int) -> tuple[list, list]:
    token = server.token("scheduler")
    clinic_id = server.api("GET", "/clinics", token).json()[0]["id"]
    host_id = server.provider_id(token, "Dr. Ada Okafor")
    board = Board(server.url, token)
    rows, mails = [], []
    try:
        for n in range(count):
            start = (datetime.now(UTC) + timedelta(days=1, minutes=n)).replace(microsecond=0)
            body = {
                "clinic_id": clinic_id,
                "host_id": host_id,
                "start": start.isoformat(),
                "patient": {"name": f"Bench Patient {n}", "email": f"bench{n}@example.org"},
            }
            before = len(smtp.mailbox.messages)
            started = time.perf_counter()
            response = server.api("POST", "/visits", token, body)
            if response.status_code != 201:
                raise RuntimeError(f"booking failed: {response.status_code} {response.text}")
            rows.append((board.wait(response.json()["id"]) - started) * 1000)
            smtp.mailbox.wait_for(before + 1, timeout=TIMEOUT)
            mails.append((time.perf_counter() - started) * 1000)
    finally:
        board.sio.disconnect()
    return rows, mails


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visits", type=int, default=50)
    parser.add_argument("--poll", type=float, default=1.0, help="JOBS_POLL_SECONDS")
    add_server_options(parser)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    smtp = SmtpServer().start()
    try:
        with tempfile.TemporaryDirectory(prefix="anteroom-bench-") as workdir:
            server = LiveServer(
                Path(workdir),
                async_mode=args.async_mode,
                database_url=args.database_url,
                redis_url=args.redis_url,
                extra_env={
                    "MAIL_SERVER": "127.0.0.1",
                    "MAIL_PORT": str(smtp.port),
                    "JOBS_POLL_SECONDS": str(args.poll),
                },
            )
            try:
                server.start()
                rows, mails = measure(server, smtp, args.visits)
            finally:
                server.stop()
    finally:
        smtp.stop()

    result = {
        "benchmark": "schedule",
        "row": {
            "what": "POST /api/v1/visits → visit_updated on the clinic stream",
            **summary(rows),
        },
        "mail": {
            "what": "POST /api/v1/visits → the invitation at the SMTP server (job runner)",
            **summary(mails),
        },
        "jobs_poll_seconds": args.poll,
        "async_mode": args.async_mode,
        "database": "postgresql" if args.database_url else "sqlite",
        "message_queue": "redis" if args.redis_url else None,
        **provenance(),
    }
    write_result(result, args.output)
    for name in ("row", "mail"):
        r = result[name]
        print(
            f"{name}: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms "
            f"over {r['samples']} ({result['async_mode']}, {result['database']}"
            f"{', redis' if result['message_queue'] else ''}; job poll {args.poll} s)"
        )
    print(f"written to {args.output}")
    return result


if __name__ == "__main__":
    main()
