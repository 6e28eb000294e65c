"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the tests
of invitations, reminders and cancellations. It can be made to refuse mail for a while,
as a mail server that is down would."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.server import free_port


class Mailbox:
    """What the server received, parsed; `down` makes it refuse every message."""

    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.down = False
        self._changed = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        if self.down:
            return "451 Requested action aborted: the test mail server is down"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def clear(self) -> None:
        with self._changed:
            self.messages.clear()
        self.down = False

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in m["To"]]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(self.messages)} of {count} messages arrived")
                self._changed.wait(remaining)
            return list(self.messages)


class SmtpServer:
    def __init__(self, mailbox: Mailbox | None = None):
        self.mailbox = mailbox or Mailbox()
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def body_of(message: EmailMessage, subtype: str) -> str:
    return message.get_body(preferencelist=(subtype,)).get_content()


def attachment(message: EmailMessage, filename: str) -> bytes:
    for part in message.iter_attachments():
        if part.get_filename() == filename:
            return (
                part.get_content()
                if isinstance(part.get_content(), bytes)
                else (part.get_content().encode())
            )
    raise AssertionError(f"no attachment {filename}")
