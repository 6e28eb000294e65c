"""Background jobs on real servers: every invitation and reminder goes out exactly once
with two web instances sharing one database, even when one is killed mid-send holding
claims. (A mail server that is down, then back, is tested with a controllable clock in
tests/app/test_booking.py, which need not wait out a real back-off.)

Each instance sends through its own SMTP server on loopback (tests/mail.py), so the test
knows who sent what. Instance A's server holds every message for a while before it
accepts it, and accepts nothing from a client that has gone: A is killed while it holds
claimed jobs and one message in flight, and B must send all of them, once.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.mail import Mailbox, SmtpServer
from tests.realserver.live import WAIT
from tests.server import DEMO, LiveServer, server_database_url

pytestmark = pytest.mark.realserver
VISITS = 10
LEASE_SECONDS = 3


class HoldingMailbox(Mailbox):
    """Holds each message before accepting it, `hold` seconds or (hold=None) until the
    test calls release(), and keeps only those whose sender is still connected then (a
    client killed mid-send never got its 250, so the message is not theirs to count as
    sent). Holding until released keeps a kill that comes late, on a busy machine, from
    finding the message already accepted: a send that died after its 250 is sent again
    by design, and is not what the test is about."""

    def __init__(self, hold: float | None):
        super().__init__()
        self.hold = hold
        self.in_flight = threading.Event()
        self.released = threading.Event()

    def release(self) -> None:
        self.released.set()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.in_flight.set()
        if self.hold is None:
            while not self.released.is_set():
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)  # the loop reads a killed sender's closed connection
        else:
            await asyncio.sleep(self.hold)
        if server.transport is None or server.transport.is_closing():
            return "451 The sender went away"
        return await super().handle_DATA(server, session, envelope)


def job_env(smtp: SmtpServer) -> dict:
    return {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp.port),
        "JOBS_POLL_SECONDS": "0.2",
        "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "REMINDER_MINUTES_BEFORE": "2",
    }


def api(server: LiveServer, token: str, method: str, path: str, json=None) -> requests.Response:
    response = server.api(method, path, token, json=json)
    assert response.status_code < 300, response.text
    return response


def demo_clinic_id(server: LiveServer, token: str) -> int:
    return api(server, token, "GET", "/clinics").json()[0]["id"]


def book_many(server: LiveServer, reminders_in: float) -> list[str]:
    """Book VISITS visits whose 2-minute reminder falls due in `reminders_in` seconds;
    returns the patients' emails (one each, so every message names its visit)."""
    token = server.token(DEMO["okafor"])
    clinic_id = demo_clinic_id(server, token)
    start = datetime.now(UTC) + timedelta(minutes=2, seconds=reminders_in)
    emails = []
    for n in range(VISITS):
        email = f"patient{n}@example.org"
        body = {
            "clinic_id": clinic_id,
            "start": start.isoformat(),
            "patient": {"name": f"Patient {n}", "email": email},
        }
        api(server, token, "POST", "/visits", body)
        emails.append(email)
    return emails


def delivered(*mailboxes: Mailbox) -> Counter:
    """(recipient, invitation or reminder) → how many times it arrived, in all mailboxes."""
    found = Counter()
    for mailbox in mailboxes:
        for message in list(mailbox.messages):
            kind = "reminder" if message["Subject"].startswith("Reminder") else "invitation"
            found[(message["To"], kind)] += 1
    return found


def wait_for_all(expected: set, *mailboxes: Mailbox, timeout: float) -> Counter:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = delivered(*mailboxes)
        if set(found) >= expected:
            return found
        time.sleep(0.2)
    missing = expected - set(delivered(*mailboxes))
    raise AssertionError(f"{len(missing)} messages never arrived: {sorted(missing)[:5]}")


@pytest.fixture
def mail_servers():
    holding = SmtpServer(HoldingMailbox(hold=None)).start()
    plain = SmtpServer().start()
    yield holding, plain
    holding.mailbox.release()  # nothing left held if the test stopped early
    holding.stop()
    plain.stop()


def test_each_message_goes_out_once_when_an_instance_dies_holding_claims(tmp_path, mail_servers):
    holding, plain = mail_servers
    first = LiveServer(
        tmp_path / "a", database_url=server_database_url(), extra_env=job_env(holding)
    ).start()
    second = None
    try:
        second = LiveServer(
            tmp_path / "b",
            database_url=first.env()["DATABASE_URL"],
            prepare=False,
            extra_env=job_env(plain),
        ).start()
        emails = book_many(first, reminders_in=6)

        # A takes claims and blocks on its slow mail server; kill it there, mid-send.
        assert holding.mailbox.in_flight.wait(WAIT), "instance A never started sending"
        first.process.kill()
        first.process.wait(timeout=WAIT)
        holding.mailbox.release()

        expected = {(e, kind) for e in emails for kind in ("invitation", "reminder")}
        found = wait_for_all(expected, holding.mailbox, plain.mailbox, timeout=40)
        assert set(found) == expected
        assert max(found.values()) == 1, [k for k, n in found.items() if n > 1]
        # Long past every lease: nothing comes a second time.
        time.sleep(LEASE_SECONDS + 1)
        assert max(delivered(holding.mailbox, plain.mailbox).values()) == 1
        assert len(plain.mailbox.messages) >= 1  # B took over what A held
    finally:
        if second is not None:
            second.stop()
        first.stop()


def test_two_instances_never_send_the_same_message_twice(tmp_path):
    """Each send takes half a second: the other instance polls many times meanwhile, and
    must leave a claimed job alone."""
    servers = [SmtpServer(HoldingMailbox(hold=0.5)).start() for _ in range(2)]
    first = LiveServer(
        tmp_path / "a", database_url=server_database_url(), extra_env=job_env(servers[0])
    ).start()
    second = None
    try:
        second = LiveServer(
            tmp_path / "b",
            database_url=first.env()["DATABASE_URL"],
            prepare=False,
            extra_env=job_env(servers[1]),
        ).start()

        emails = book_many(first, reminders_in=4)

        expected = {(e, kind) for e in emails for kind in ("invitation", "reminder")}
        found = wait_for_all(expected, *(s.mailbox for s in servers), timeout=60)
        time.sleep(LEASE_SECONDS + 1)
        found = delivered(*(s.mailbox for s in servers))
        assert set(found) == expected
        assert max(found.values()) == 1, [k for k, n in found.items() if n > 1]
        assert all(s.mailbox.messages for s in servers)  # both instances did some of it
    finally:
        if second is not None:
            second.stop()
        first.stop()
        for server in servers:
            server.stop()
