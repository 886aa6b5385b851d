"""Reading the agency's mailbox over IMAP: `flask inbound fetch` and the scheduler.

`fetch()` files each message of the folder INBOUND_IMAP_URL names (`filing.receive`, one
message at a time, oldest UID first, at most LIMIT a run) and then moves it to the processed
folder (INBOUND_PROCESSED_FOLDER, created when missing). Nothing is ever deleted that was not
filed first: a server without MOVE gets COPY, then \\Deleted and a UID EXPUNGE of that one
message (UIDPLUS); a server without UIDPLUS either keeps the copy flagged \\Deleted in the
folder, for its owner to expunge, rather than expunge what a person flagged there.

Several fetchers at once (two schedulers) are harmless: whoever files a message second gets
the first one's row back (`receive` knows a Message-ID once), and moving a UID another fetcher
has moved already moves nothing. A message `receive` cannot file because the database is
down stays where it is and the fetch stops (DatabaseUnreachable): the next one tries again.
Any other trouble with one message is logged, leaves that message in place and stops nothing.

The password in the URL is used to log in and nowhere else: never logged, never in an error.
"""
from __future__ import annotations

import ipaddress
import logging
import re
import ssl
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote, unquote, urlsplit

from flask import current_app
from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientError, LoginError
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from caseapp.core.transaction import abandon, active, ping
from caseapp.services.inbound import filing

log = logging.getLogger(__name__)

LIMIT = 200  # messages a run: a full mailbox is worked off over several runs
BATCH_MESSAGES = 20  # bodies asked for in one FETCH...
BATCH_BYTES = 20 * 1024 * 1024  # ...unless they add up to more than this (one large one alone)
TIMEOUT = SocketTimeout(connect=15, read=120)
BYTES_REPR = re.compile(r"b(['\"])(.*)\1", re.DOTALL)
DEFAULT_PORTS = {"imaps": 993, "imap": 143}
DEFAULT_PROCESSED = "caseapp-processed"
# What the database raises when it cannot be reached (or answer): try again later.
DATABASE_DOWN = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)


class FetchError(Exception):
    """Why a fetch could not run or stopped, in a sentence without the password."""

    def __init__(self, message: str, report: FetchReport | None = None):
        super().__init__(message)
        self.report = report


class NotConfigured(FetchError):
    """INBOUND_IMAP_URL is not set, or is no IMAP URL caseapp can use."""


class MailboxUnreachable(FetchError):
    """The IMAP server cannot be reached, refused the login, or failed mid-way."""


class DatabaseUnreachable(FetchError):
    """The database cannot be reached: what was not filed stays in the mailbox."""


@dataclass
class FetchReport:
    fetched: int = 0
    filed: int = 0  # matched to a case
    unmatched: int = 0  # waiting in the triage inbox
    refused: int = 0  # kept with the reason (no agency, too large)
    duplicates: int = 0  # had come before: nothing changed
    failed: int = 0  # could not be filed: left in the mailbox for the next fetch
    left: int = 0  # still in the mailbox after this run
    errors: list[str] = field(default_factory=list)

    def count(self, received: filing.Received) -> None:
        if received.duplicate:
            self.duplicates += 1
        elif received.message.status == "matched":
            self.filed += 1
        elif received.message.status == "refused":
            self.refused += 1
        else:
            self.unmatched += 1

    def __str__(self) -> str:
        return (f"fetched {self.fetched}: {self.filed} filed on a case, {self.unmatched} unmatched "
                f"(triage inbox), {self.refused} refused, {self.duplicates} duplicates, "
                f"{self.failed} failed; {self.left} left in the mailbox")


@dataclass(frozen=True)
class Mailbox:
    tls: bool
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    folder: str

    @property
    def where(self) -> str:
        """The mailbox as logs and errors name it: no password."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'imaps' if self.tls else 'imap'}://{quote(self.user, safe='')}@{host}:{self.port}/{self.folder}"


def parse_url(url: str) -> Mailbox:
    """`imaps://user:password@host[:port]/folder` (user and password percent-encoded, folder
    INBOX when the path is empty); `imap://` without TLS only to a loopback address."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise NotConfigured("INBOUND_IMAP_URL is not a URL caseapp can read; the form is "
                            "imaps://user:password@host/INBOX.") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise NotConfigured("INBOUND_IMAP_URL must look like imaps://user:password@host/INBOX "
                            "(or imap:// to a loopback address).")
    if parts.username is None or parts.password is None:
        raise NotConfigured(f"INBOUND_IMAP_URL names no user and password for {parts.hostname} "
                            "(imaps://user:password@host/INBOX; percent-encode @ : / in them).")
    if scheme == "imap" and not _loopback(parts.hostname):
        raise NotConfigured(f"INBOUND_IMAP_URL uses imap:// without TLS to {parts.hostname}: "
                            "only a loopback address may; use imaps://.")
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return Mailbox(tls=scheme == "imaps", host=parts.hostname, port=port or DEFAULT_PORTS[scheme],
                   user=unquote(parts.username), password=unquote(parts.password), folder=folder)


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def processed_folder() -> str:
    return (current_app.config.get("INBOUND_PROCESSED_FOLDER") or "").strip() or DEFAULT_PROCESSED


def fetch(url: str | None = None, now: datetime | None = None, limit: int = LIMIT) -> FetchReport:
    """Fetch once: file up to `limit` messages and move each filed one to the processed
    folder. Raises NotConfigured, MailboxUnreachable or DatabaseUnreachable (each carrying
    the report so far); commits message by message, so never call it inside a unit of work."""
    if active():
        raise RuntimeError("fetch() files each message in units of work of its own: call it outside one")
    url = url if url is not None else current_app.config.get("INBOUND_IMAP_URL") or ""
    if not url.strip():
        raise NotConfigured("INBOUND_IMAP_URL is not set: there is no mailbox to fetch from.")
    box = parse_url(url)
    if processed_folder() == box.folder:
        raise NotConfigured(f"INBOUND_PROCESSED_FOLDER is the folder fetched from ({box.folder}): "
                            "filed mail would be fetched again; name another folder.")
    report = FetchReport()
    _check_database(report)
    client = _connect(box)
    try:
        _fetch_all(client, box, now, limit, report)
    except (IMAPClientError, OSError) as error:  # the connection broke, timed out or the server said NO
        raise MailboxUnreachable(f"the mailbox {box.where} failed during the fetch: {_reason(error, box)}",
                                 report) from None
    finally:
        _close(client)
    log.info("inbound fetch from %s: %s", box.where, report)
    return report


def _check_database(report: FetchReport) -> None:
    """Before taking mail off the server, make sure it can be filed."""
    try:
        ping()
    except DATABASE_DOWN as error:
        abandon()
        raise DatabaseUnreachable(f"the database cannot be reached ({_db_reason(error)}); "
                                  "nothing was fetched", report) from None


def _connect(box: Mailbox) -> IMAPClient:
    try:
        client = IMAPClient(box.host, port=box.port, use_uid=True, ssl=box.tls,
                            ssl_context=ssl.create_default_context() if box.tls else None, timeout=TIMEOUT)
    except (IMAPClientError, OSError) as error:
        raise MailboxUnreachable(f"cannot reach the IMAP server {box.host}:{box.port}: "
                                 f"{_reason(error, box)}") from None
    try:
        client.login(box.user, box.password)
    except LoginError as error:
        _close(client)
        raise MailboxUnreachable(f"the IMAP server {box.host}:{box.port} refused the login of "
                                 f"{box.user}: {_reason(error, box)}") from None
    except (IMAPClientError, OSError) as error:
        _close(client)
        raise MailboxUnreachable(f"cannot log in to the IMAP server {box.host}:{box.port}: "
                                 f"{_reason(error, box)}") from None
    return client


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except (IMAPClientError, OSError):
        try:
            client.shutdown()
        except (IMAPClientError, OSError):
            pass


def _fetch_all(client: IMAPClient, box: Mailbox, now: datetime | None, limit: int,
               report: FetchReport) -> None:
    target = processed_folder()
    if not client.folder_exists(target):
        try:
            client.create_folder(target)
        except IMAPClientError:  # another fetcher created it a moment ago, or a real refusal
            if not client.folder_exists(target):
                raise
    client.select_folder(box.folder)
    move = _mover(client, box, target)
    waiting = sorted(client.search(["NOT", "DELETED"]))
    taken = 0  # moved by this fetch or, meanwhile, by another
    try:
        for batch in _batches(client, waiting[:max(limit, 0)]):
            bodies = client.fetch(batch, ["BODY.PEEK[]"])  # PEEK: what stays is not marked read
            for uid in batch:
                raw = bodies.get(uid, {}).get(b"BODY[]")
                if raw is None:  # another fetcher moved it meanwhile
                    taken += 1
                    continue
                report.fetched += 1
                if _file_one(uid, raw, box, now, report):
                    move(uid)
                    taken += 1
    finally:
        report.left = len(waiting) - taken


def _batches(client: IMAPClient, uids: list[int]):
    """The UIDs in groups to fetch together: a few at a time, one alone when it is large."""
    if not uids:
        return
    sizes = client.fetch(uids, ["RFC822.SIZE"])
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0))  # none: gone, the body fetch says so
        if batch and (len(batch) >= BATCH_MESSAGES or total + size > BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


def _file_one(uid: int, raw: bytes, box: Mailbox, now: datetime | None, report: FetchReport) -> bool:
    """File one message; True when it is kept in the database (so it may leave the mailbox)."""
    try:
        received = filing.receive(bytes(raw), source="imap", now=now)
    except DATABASE_DOWN as error:
        abandon()
        report.failed += 1
        raise DatabaseUnreachable(f"the database cannot be reached ({_db_reason(error)}); message UID "
                                  f"{uid} and the rest stay in {box.folder} for the next fetch", report) from None
    except Exception as error:  # receive means not to raise for any mail: one that does stops nothing
        abandon()
        report.failed += 1
        report.errors.append(f"UID {uid}: {type(error).__name__}")
        log.exception("inbound fetch from %s: message UID %s could not be filed; it stays in %s",
                      box.where, uid, box.folder)
        return False
    report.count(received)
    return True


def _mover(client: IMAPClient, box: Mailbox, target: str):
    """A function that takes one filed message out of the fetched folder into `target`.
    A UID another fetcher has moved meanwhile is no error: there is nothing left to move."""
    if client.has_capability("MOVE"):
        def move(uid: int) -> None:
            client.move([uid], target)
    else:
        expunge = client.has_capability("UIDPLUS")
        if not expunge:
            log.warning("inbound fetch: %s has neither MOVE nor UIDPLUS: filed mail is copied to %s "
                        "and left flagged \\Deleted in %s for its owner to expunge",
                        box.host, target, box.folder)

        def move(uid: int) -> None:
            client.copy([uid], target)
            client.delete_messages([uid])  # only flags it \Deleted
            if expunge:
                client.uid_expunge([uid])  # this UID alone, never what a person flagged

    def unless_gone(uid: int) -> None:
        try:
            move(uid)
        except IMAPClientError:
            # Dovecot answers NO [EXPUNGEISSUED] when another session moved it; whatever the
            # server said, a message that is still here is a real failure.
            client.noop()
            if uid in client.search(["UID", str(uid)]):
                raise
    return unless_gone


def _reason(error: BaseException, box: Mailbox) -> str:
    """What the server or the socket said, on one line, the password blotted out should a
    server ever echo it."""
    said = error.args[0] if error.args else None
    text = said.decode(errors="replace") if isinstance(said, bytes) else str(error)
    quoted = BYTES_REPR.fullmatch(text)  # IMAPClient words some errors as str(bytes)
    text = quoted.group(2) if quoted else text
    text = " ".join(text.split())[:300] or type(error).__name__
    if box.password:
        text = text.replace(box.password, "***")
    return text


def _db_reason(error: BaseException) -> str:
    return str(getattr(error, "orig", None) or error).strip().splitlines()[0][:300]
