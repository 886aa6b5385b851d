"""A few SMTP connections used at once, each in a thread of its own.

The dispatcher records every message in the database right after the server accepted it.
With one connection, the mail server waited while the database recorded, and the database
waited while the server talked. With `SENDERS` connections a message is on the wire while
the one before it is being recorded. The threads only talk SMTP; the database stays with
the caller's thread.

The cost is the window a killed dispatcher leaves: up to `SENDERS` messages the server
accepted that the database has not recorded, sent again when their lease runs out (with the
same Message-ID, so the receiving side can tell a copy).
"""
from __future__ import annotations

import logging
import queue
from concurrent.futures import Future, ThreadPoolExecutor
from email.message import Message

from caseapp.services.mail.smtp import (
    MailSettings,
    PermanentMailError,
    RecipientRefused,
    ServerUnavailable,
    SmtpConnection,
    TransientMailError,
)

log = logging.getLogger(__name__)

SENDERS = 2


class Senders:
    def __init__(self, settings: MailSettings, count: int = SENDERS):
        self.settings = settings
        self.count = count
        self._pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="smtp")
        self._idle: queue.SimpleQueue[SmtpConnection] = queue.SimpleQueue()
        self._all: list[SmtpConnection] = []

    def submit(self, email: Message) -> Future:
        """Send in a thread; the future's result is (outcome, error), outcome one of "sent",
        "server" (the server is unusable), "retry" (4xx), "recipient" (a 5xx to this recipient's
        address) or "failed" (another 5xx, or unsendable)."""
        return self._pool.submit(self._send, email)

    def _send(self, email: Message) -> tuple[str, str]:
        try:
            connection = self._idle.get_nowait()
        except queue.Empty:
            connection = SmtpConnection(self.settings)
            self._all.append(connection)
        try:
            connection.send(email)
            return "sent", ""
        except ServerUnavailable as exc:
            return "server", str(exc)
        except TransientMailError as exc:
            return "retry", str(exc)
        except RecipientRefused as exc:
            return "recipient", str(exc)
        except PermanentMailError as exc:
            return "failed", str(exc)
        except Exception as exc:  # a message the library cannot send: give up on it, not the pass
            log.exception("message %s could not be sent", email.get("X-Caseapp-Key"))
            return "failed", f"could not be sent: {exc}"
        finally:
            self._idle.put(connection)

    def close(self) -> None:
        """Wait for sends under way (their outcome is the caller's to record), then hang up."""
        self._pool.shutdown(wait=True)
        for connection in self._all:
            connection.close()
