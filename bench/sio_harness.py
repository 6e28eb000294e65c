"""A cheap Socket.IO client harness for thousands of connections on one machine.

The python-socketio client costs a thread and a full packet decode per message, and one
process of it cannot keep up with 2,000 sockets on two cores: it would measure itself. So
each client here is a bare asyncio Protocol speaking just enough of RFC 6455, Engine.IO 4
and Socket.IO 5 to do what a requester's dashboard does on the wire: open a websocket
(`/socket.io/?EIO=4&transport=websocket`, no polling), connect the default namespace with
auth, answer pings, count `snapshot` events, and note when one named event arrives. It
decodes nothing but the event name.

Clients live in worker processes (`Harness(processes=2)`), driven over a pipe. Every
timestamp is CLOCK_MONOTONIC in nanoseconds, which is one clock for every process on the
machine, so the parent's "sent" and a worker's "arrived" can be subtracted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import multiprocessing
import os
import struct
import time
from dataclasses import dataclass

SNAPSHOT_PREFIX = '42["snapshot"'


def now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


@dataclass(frozen=True)
class Target:
    """Where one client connects, and with what auth (a JSON object, or None)."""

    host: str
    port: int
    auth: str | None


def _frame(text: str) -> bytes:
    """A masked client text frame (a zero mask: the protocol asks for a key, not a secret)."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, 0x80 | size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 0x80 | 127, size)
    return header + b"\0\0\0\0" + payload


class Client(asyncio.Protocol):
    def __init__(self, worker: Worker, target: Target, expect_snapshots: int):
        self.worker = worker
        self.target = target
        self.expect = expect_snapshots
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.upgraded = False
        self.snapshots = 0
        self.ready_at: int | None = None  # when the last expected snapshot arrived
        self.arrived_at: int | None = None  # when the watched event arrived
        self.event_bytes = 0
        self.snapshot_bytes = 0
        self.error: str | None = None
        self.closed = False
        self.ready = asyncio.get_running_loop().create_future()

    # transport ----------------------------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: {self.target.host}:{self.target.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def connection_lost(self, exc):
        self.closed = True
        self._fail(f"closed: {exc}" if exc else "closed")

    def data_received(self, data: bytes):
        buffer = self.buffer + data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self._fail(buffer[: buffer.find(b"\r\n")].decode(errors="replace"))
                self.transport.close()
                return
            self.upgraded = True
            buffer = buffer[end + 4 :]
        offset, size = 0, len(buffer)
        while size - offset >= 2:
            first, second = buffer[offset], buffer[offset + 1] & 0x7F
            start = offset + 2
            if second == 126:
                if size - start < 2:
                    break
                (second,) = struct.unpack_from("!H", buffer, start)
                start += 2
            elif second == 127:
                if size - start < 8:
                    break
                (second,) = struct.unpack_from("!Q", buffer, start)
                start += 8
            if size - start < second:
                break
            payload = buffer[start : start + second]
            offset = start + second
            opcode = first & 0x0F
            if opcode == 1:
                self._message(payload)
            elif opcode == 9:  # websocket ping: pong with the same data
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
            elif opcode == 8:
                self.transport.close()
        self.buffer = buffer[offset:]

    def send(self, text: str) -> None:
        if not self.closed:
            self.transport.write(_frame(text))

    # Engine.IO / Socket.IO ----------------------------------------------------------
    def _message(self, payload: bytes) -> None:
        kind = payload[:1]
        if kind == b"4":  # an Engine.IO message: a Socket.IO packet
            packet = payload[1:2]
            if packet == b"2":
                watched = self.worker.watched
                if watched is not None and payload.startswith(watched):
                    if self.arrived_at is None:
                        self.arrived_at = now_ns()
                        self.event_bytes = len(payload)
                        self.worker.arrived()
                elif payload.startswith(b'42["snapshot"'):
                    self.snapshots += 1
                    self.snapshot_bytes += len(payload)
                    if self.snapshots == self.expect:
                        self.ready_at = now_ns()
                        if not self.ready.done():
                            self.ready.set_result(True)
            elif packet == b"0" and self.expect == 0:
                self.ready_at = now_ns()
                if not self.ready.done():
                    self.ready.set_result(True)
            elif packet == b"4":
                self._fail("refused: " + payload[2:].decode(errors="replace"))
        elif kind == b"2":  # Engine.IO ping
            self.send("3")
        elif kind == b"0":  # Engine.IO open: connect the default namespace
            self.send("40" + (self.target.auth or ""))
        elif kind == b"1":
            self.transport.close()

    def _fail(self, why: str) -> None:
        if self.error is None and self.ready_at is None:
            self.error = why
        if not self.ready.done():
            self.ready.set_result(False)

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(b"\x88\x80\0\0\0\0")
            self.transport.close()


class Worker:
    """One process's clients, driven by commands from the parent over a pipe."""

    def __init__(self, conn):
        self.conn = conn
        self.clients: list[Client] = []
        self.watched: bytes | None = None
        self.pending = 0
        self.all_arrived: asyncio.Event | None = None

    def arrived(self) -> None:
        self.pending -= 1
        if self.pending <= 0 and self.all_arrived is not None:
            self.all_arrived.set()

    async def open(self, target: Target, expect: int, timeout: float) -> Client:
        loop = asyncio.get_running_loop()
        client = Client(self, target, expect)
        self.clients.append(client)
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: client, target.host, target.port), timeout
            )
            await asyncio.wait_for(asyncio.shield(client.ready), timeout)
        except (OSError, TimeoutError) as e:
            client._fail(f"{type(e).__name__}: {e}")
        return client

    async def connect(self, targets, expect, concurrency, timeout):
        """Open clients a batch at a time, each batch fully ready before the next."""
        started = len(self.clients)
        for at in range(0, len(targets), concurrency):
            batch = targets[at : at + concurrency]
            await asyncio.gather(*(self.open(t, expect, timeout) for t in batch))
        fresh = self.clients[started:]
        return [c.error for c in fresh if c.error]

    async def storm(self, targets, expect, start_at, timeout):
        """Open every client at once at start_at; when each had its snapshots (ns)."""
        await asyncio.sleep(max(0.0, (start_at - now_ns()) / 1e9))
        started = len(self.clients)
        await asyncio.gather(*(self.open(t, expect, timeout) for t in targets))
        fresh = self.clients[started:]
        return [(c.ready_at, c.error) for c in fresh]

    async def collect(self, timeout):
        with contextlib.suppress(TimeoutError):  # those that missed it count as lost
            await asyncio.wait_for(self.all_arrived.wait(), timeout)
        live = [c for c in self.clients if c.ready_at is not None]
        self.watched = None
        return {
            "arrivals": [c.arrived_at for c in live],
            "event_bytes": max((c.event_bytes for c in live), default=0),
        }

    def arm(self, event: str) -> None:
        live = [c for c in self.clients if c.ready_at is not None and not c.closed]
        for c in live:
            c.arrived_at = None
        self.pending = len(live)
        self.all_arrived = asyncio.Event()
        if not live:
            self.all_arrived.set()
        self.watched = f'42["{event}"'.encode()

    def snapshot_bytes(self) -> int:
        live = [c for c in self.clients if c.snapshots]
        return max((c.snapshot_bytes // c.snapshots for c in live), default=0)

    async def close_all(self) -> None:
        for c in self.clients:
            c.close()
        self.clients = []
        await asyncio.sleep(0.2)

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue = asyncio.Queue()
        loop.add_reader(self.conn.fileno(), lambda: inbox.put_nowait(self.conn.recv()))
        cpu = time.process_time()
        while True:
            command, args = await inbox.get()
            if command == "connect":
                answer = await self.connect(*args)
            elif command == "storm":
                answer = await self.storm(*args)
            elif command == "arm":
                self.arm(*args)
                answer = True
            elif command == "collect":
                answer = await self.collect(*args)
            elif command == "snapshot_bytes":
                answer = self.snapshot_bytes()
            elif command == "cpu":  # seconds of CPU this worker used since the last ask
                was, cpu = cpu, time.process_time()
                answer = cpu - was
            elif command == "close":
                await self.close_all()
                answer = True
            else:  # quit
                await self.close_all()
                self.conn.send(True)
                return
            self.conn.send(answer)


def _worker_main(conn) -> None:
    asyncio.run(Worker(conn).serve())


class Harness:
    """Worker processes holding the clients; targets are dealt out round-robin."""

    def __init__(self, processes: int = 2):
        context = multiprocessing.get_context("spawn")
        self.pipes = []
        self.processes = []
        for _ in range(processes):
            parent, child = context.Pipe()
            process = context.Process(target=_worker_main, args=(child,), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    def _ask(self, command: str, per_worker: list[tuple], timeout: float = 600) -> list:
        for pipe, args in zip(self.pipes, per_worker, strict=True):
            pipe.send((command, args))
        answers = []
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise RuntimeError(f"a harness worker did not answer {command!r}")
            answers.append(pipe.recv())
        return answers

    def _deal(self, targets: list[Target]) -> list[list[Target]]:
        return [targets[n :: len(self.pipes)] for n in range(len(self.pipes))]

    def connect(
        self, targets: list[Target], expect: int, concurrency: int = 50, timeout: float = 30
    ) -> list[str]:
        """Connect clients (a batch at a time per worker) until each has its snapshots;
        returns the errors of those that failed."""
        dealt = self._deal(targets)
        answers = self._ask("connect", [(d, expect, concurrency, timeout) for d in dealt])
        return [e for errors in answers for e in errors]

    def fanout(self, event: str, trigger, timeout: float = 30) -> tuple[int, list[int | None], int]:
        """Arm every client for `event`, call trigger(), and return (sent_ns, arrival_ns per
        client, the event's size in bytes)."""
        self._ask("arm", [(event,)] * len(self.pipes))
        sent = now_ns()
        trigger()
        answers = self._ask("collect", [(timeout,)] * len(self.pipes), timeout + 30)
        arrivals = [a for answer in answers for a in answer["arrivals"]]
        return sent, arrivals, max(a["event_bytes"] for a in answers)

    def storm(
        self, targets: list[Target], expect: int, timeout: float = 60
    ) -> tuple[int, list[tuple[int | None, str | None]]]:
        """Every client connects at the same moment; (start_ns, (ready_ns, error) each)."""
        start_at = now_ns() + 300_000_000  # time for every worker to be waiting
        dealt = self._deal(targets)
        answers = self._ask("storm", [(d, expect, start_at, timeout) for d in dealt], timeout + 60)
        return start_at, [r for answer in answers for r in answer]

    def snapshot_bytes(self) -> int:
        return max(self._ask("snapshot_bytes", [()] * len(self.pipes)))

    def cpu_seconds(self) -> float:
        return sum(self._ask("cpu", [()] * len(self.pipes)))

    def close(self) -> None:
        self._ask("close", [()] * len(self.pipes))

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, OSError, EOFError):
            self._ask("quit", [()] * len(self.pipes), timeout=10)
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()


def auth_json(token: str | None) -> str | None:
    return json.dumps({"token": token}, separators=(",", ":")) if token else None
