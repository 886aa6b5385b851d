"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives.

`fail_next(code, n)` makes it answer the next n DATA commands with that code, to
test the 4xx retry and 5xx failure paths against real SMTP replies; `refuse(address)`
answers RCPT TO for that address with a 550, as a server does for a mailbox it does not
have; `refuse_all(code)` answers every DATA with that code until `accept_all()`.
"""
from __future__ import annotations

import email
from email.policy import default
import socket
import threading
from email.message import Message

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    def __init__(self):
        self.messages: list[Message] = []
        self._failures: list[str] = []
        self._refused: set[str] = set()
        self._always: str | None = None
        self._lock = threading.Lock()

    def refuse(self, address: str) -> None:
        with self._lock:
            self._refused.add(address.lower())

    def refuse_all(self, code: int = 554) -> None:
        with self._lock:
            self._always = {554: "554 5.7.1 relaying denied", 550: "550 5.7.1 rejected"}[code]

    def accept_all(self) -> None:
        with self._lock:
            self._always = None
            self._refused.clear()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self._lock:
            if address.lower() in self._refused:
                return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def fail_next(self, code: int, count: int = 1) -> None:
        reply = {421: "421 4.3.2 try again later", 451: "451 4.3.0 temporary failure",
                 550: "550 5.1.1 mailbox unavailable", 554: "554 5.7.1 rejected"}[code]
        with self._lock:
            self._failures.extend([reply] * count)

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            if self._always:
                return self._always
            if self._failures:
                return self._failures.pop(0)
            self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


class SmtpServer:
    def __init__(self):
        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
