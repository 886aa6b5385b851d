"""Delivery: the outbox to the SMTP server, a batch at a time.

`deliver(now, tally)` leases a batch of due messages (status "sending" with a lease,
committed), then talks to the SMTP server with no database transaction open, so a slow
mail server never holds locks that web requests need; a few messages are on the wire at
once (senders.py), and each is recorded in its own transaction as soon as the server
accepted it (sent_log.py). A dispatcher that dies leaves its leased messages to be picked
up again when the lease runs out: nothing is lost. Only what the server accepted just
before the death and was not yet recorded (at most one message per SMTP connection in use)
goes out twice, with the same Message-ID.

The commits. Everywhere else a unit of work (core.transaction) commits once, at its end;
delivery cannot: a lease must be visible to the other dispatchers before the slow SMTP
conversation starts, and each outcome must be saved as soon as it is known, or a crash
would send it again. So this module commits per batch (the leases, the holds, the
failures, the release of untried messages, each chunk of cleared bodies), and sent_log.py
per sent message. These, and nowhere else outside core, are the commits of caseapp.
Never call `deliver` inside a unit of work: it would commit the caller's half-done work.

Secret links (a password reset, a reminder's snooze/dismiss page) are not in the stored
bodies: they are asked of the kind's builder (links.py) while each email is built, in the
leasing transaction, so every try of a message carries a working link and none reaches
the database. A message whose link is no longer valid (the reset was used or expired) is
cancelled instead of sent.

What became of a message is told to its owner through its kind's hooks (kinds.py), never
by importing the owner: mail sits below every feature that sends mail. What a pass learns of
the mail as a whole (an address that bounces, a server that refuses or cannot be reached)
is recorded at its end (`_report_faults`, problems.py) and told to the listeners of kinds.py
(accounts marks the address, mails the admins once per problem).

Held mail (kept while no mail server was configured) is deliverable like pending mail once a
server is: the first pass with one sends it, once.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from time import monotonic
from typing import Protocol

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from caseapp.core import locking, transaction
from caseapp.extensions import db
from caseapp.models import OutboxMessage
from caseapp.services.mail import kinds, links, outbox, problems
from caseapp.services.mail.senders import Senders
from caseapp.services.mail.sent_log import SentLog
from caseapp.services.mail.smtp import MailSettings, build_message

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
CLAIM_BATCH = 20  # messages leased per commit; each is still recorded on its own
CLEAR_BATCH = 500  # sent bodies emptied per statement (one short write lock each)
CLEAR_BATCHES_PER_PASS = 20  # a backlog (after an upgrade) is worked off over several passes


class Tally(Protocol):
    """What a delivery pass counts (the dispatch pass's report has these and more)."""
    sent: int
    held: int
    retried: int
    failed: int
    server_error: str


@dataclass
class _Leased:
    id: int
    kind: str
    agency_id: int
    recipient: str
    email: object


@dataclass
class _Faults:
    """What one pass learned of the mail as a whole, reported at its end (`_report_faults`)."""
    sent: int = 0
    # (agency id, recipient, error, outcome): mail failed for good, outcome "recipient" (a
    # 5xx to its address), "failed" (another 5xx) or "gave_up" (4xx too often, no link).
    failures: list = field(default_factory=list)
    server_agencies: set = field(default_factory=set)  # whose mail met an unusable server
    server_error: str = ""


def deliver(now: datetime, tally: Tally) -> None:
    """Lease a batch of messages (one commit), then send them and record each (one commit each);
    at the end, what the pass learned of the agency's mail (bounces, problems: one commit)."""
    if transaction.active():
        raise RuntimeError("deliver() commits per batch: call it outside a unit of work")
    settings = MailSettings.from_config(current_app.config)
    if not settings.server:
        _hold_all(now, tally)
        return
    started = monotonic()

    def clock() -> datetime:
        # The pass's own time, moving on: a long pass must not hand out leases that have
        # already run out, nor take others' leases for expired while they still hold.
        return now + timedelta(seconds=monotonic() - started)

    senders = Senders(settings)
    sent_log = SentLog()
    faults = _Faults()
    try:
        usable = _deliver_due(senders, sent_log, settings, clock, now, tally, faults)
        # A problem just opened queued mail to the admins: send it now, if the server works.
        for _ in range(2):
            if not (_report_faults(now, faults) and usable):
                break
            usable = _deliver_due(senders, sent_log, settings, clock, now, tally, faults)
    finally:
        senders.close()
        sent_log.close()


def _deliver_due(senders: Senders, sent_log: SentLog, settings: MailSettings, clock, now: datetime,
                 tally: Tally, faults: _Faults) -> bool:
    """Every message due, a batch at a time. False: the server is unusable, the pass stops."""
    while True:
        claimed = locking.claim(outbox.deliverable(clock()), CLAIM_BATCH)
        if not claimed:
            db.session.rollback()
            return True
        lease = clock() + LEASE
        batch = []
        for message in outbox.still_wanted(claimed):
            bodies = _bodies(message, clock(), tally, faults)
            if bodies is None:
                continue
            batch.append(_Leased(message.id, message.kind, message.agency_id, message.recipient,
                                 build_message(settings.sender, message.recipient, message.subject,
                                               *bodies, message.idempotency_key, message.message_ref)))
            outbox.lease(message, lease)
        db.session.commit()  # the leases: visible to other dispatchers before any SMTP
        if not _send_batch(senders, sent_log, batch, lease, now, tally, faults):
            return False


def _hold_all(now: datetime, tally: Tally) -> None:
    """No mail server: pending mail is held (once; the first pass with a server sends it)."""
    while claimed := locking.claim(outbox.deliverable(now, held=False), CLAIM_BATCH):
        for message in claimed:
            outbox.resolve(message, "held", now, "kept in the outbox: no mail server is configured")
            tally.held += 1
        db.session.commit()  # one batch of holds
    db.session.rollback()


def _send_batch(senders: Senders, sent_log: SentLog, batch: list[_Leased], lease: datetime,
                now: datetime, tally: Tally, faults: _Faults) -> bool:
    """Send leased messages, `senders.count` at a time, and record each outcome in order,
    with no transaction open while a message is on the wire. False: the server is unusable;
    messages not yet tried are given back and the pass stops."""
    waiting = deque(batch)
    in_flight: deque = deque()
    server_down = False
    try:
        while in_flight or (waiting and not server_down):
            while waiting and not server_down and len(in_flight) < senders.count:
                leased = waiting.popleft()
                in_flight.append((leased, senders.submit(leased.email)))
            leased, future = in_flight[0]
            outcome, error = future.result()
            server_down = server_down or outcome == "server"
            _record_outcome(sent_log, leased, outcome, error, lease, now, tally, faults)
            in_flight.popleft()
    except BaseException:
        _settle_after_error(sent_log, in_flight, waiting, lease, now, tally, faults)
        raise
    if server_down:
        faults.server_agencies.update(leased.agency_id for leased in waiting)
    release([leased.id for leased in waiting], lease)
    return not server_down


def _record_outcome(sent_log: SentLog, leased: _Leased, outcome: str, error: str,
                    lease: datetime, now: datetime, tally: Tally, faults: _Faults) -> None:
    if outcome == "sent":
        sent_log.record(leased.id, leased.kind, now)
        tally.sent += 1
        faults.sent += 1
        return
    result = record_failure(leased.id, outcome, error, lease, now, tally)
    if result == "server":
        faults.server_agencies.add(leased.agency_id)
        faults.server_error = error
    elif result == "failed":
        faults.failures.append((leased.agency_id, leased.recipient, error,
                                outcome if outcome in ("recipient", "failed") else "gave_up"))


def _settle_after_error(sent_log: SentLog, in_flight: deque, waiting: deque, lease: datetime,
                        now: datetime, tally: Tally, faults: _Faults) -> None:
    """Recording an outcome failed (the database went away, a lock timed out...). The message
    it was about keeps its lease, to be tried again when it runs out; the others still on
    the wire finish and are recorded if the database lets us; those not tried are given back."""
    db.session.rollback()
    in_flight.popleft()  # the one whose recording failed
    for leased, future in in_flight:
        try:
            _record_outcome(sent_log, leased, *future.result(), lease, now, tally, faults)
        except Exception:  # noqa: BLE001 - already failing; its lease brings it back
            db.session.rollback()
            log.exception("outcome of message %s could not be recorded", leased.id)
    try:
        release([leased.id for leased in waiting], lease)
    except Exception:  # noqa: BLE001
        db.session.rollback()
        log.exception("leased messages could not be given back; their lease brings them back")


def _report_faults(now: datetime, faults: _Faults) -> bool:
    """Tell what the pass learned (one commit). An address the server refused while it took
    other mail (or refused at RCPT TO, for that address alone) is bouncing: its owner hears
    of it (kinds.tell_bounced). A server that could not be used, or refused every one of
    several recipients, is a server problem, blamed on no address. Any failure opens or
    updates the agency's mail problem. True when a problem was opened (its admins' mail
    was queued)."""
    failures, faults.failures = faults.failures, []
    server_agencies, faults.server_agencies = faults.server_agencies, set()
    if not (failures or server_agencies):
        if faults.sent:
            problems.server_recovered(now)
            db.session.commit()
        return False
    locking.write_lock()  # SQLite: before the reads the problems depend on
    opened = False

    def problem(agency_id: int, kind: str, detail: str) -> None:
        nonlocal opened
        before = problems.open_for_agency(agency_id)
        problems.record(agency_id, kind, detail, now)
        opened = opened or before is None

    refused = [f for f in failures if f[3] in ("recipient", "failed")]
    everyone_refused = not faults.sent and len({f[1] for f in refused}) >= 2
    for agency_id in sorted(server_agencies):
        problem(agency_id, "server", f"The mail server cannot be used: {faults.server_error}")
    for agency_id, recipient, error, outcome in failures:
        if outcome == "gave_up":
            problem(agency_id, "mail", f"An email to {recipient} failed: {error}")
        elif everyone_refused:
            problem(agency_id, "server", "The mail server refused every recipient "
                                         f"({len({f[1] for f in refused})} addresses): {error}")
        elif outcome == "recipient" or faults.sent:
            kinds.tell_bounced(agency_id, recipient, now, error)
            problem(agency_id, "mail", f"The mail server refused {recipient}: {error}")
        else:
            problem(agency_id, "mail", f"The mail server refused an email to {recipient}: {error}")
    db.session.commit()  # the pass's problems and bounces
    return opened


def _bodies(message: OutboxMessage, now: datetime, tally: Tally,
            faults: _Faults) -> tuple[str, str] | None:
    """The text and HTML to send, secret links put in (links.py). None: the message is not
    sent; it is cancelled (its link is no longer valid) or failed (no link can be made: the
    placeholder never goes out in place of a link)."""
    try:
        bodies = links.fill(message.kind, message.link_ref, message.body_text,
                            message.body_html, now)
    except SQLAlchemyError:
        raise  # the database, not the message: nothing leased yet, the pass stops
    except Exception as exc:  # noqa: BLE001 - a bug in one kind must not stop the others
        log.exception("the link of message %s could not be made", message.id)
        outbox.fail(message, now, f"its link could not be made: {exc}")
        tally.failed += 1
        faults.failures.append((message.agency_id, message.recipient, str(exc), "gave_up"))
        return None
    if bodies is None:
        outbox.cancel_for_dead_link(message)
    return bodies


def release(message_ids: list[int], lease: datetime) -> None:
    """Give back leased messages that were not tried (one commit)."""
    if message_ids:
        outbox.release(message_ids, lease)
        db.session.commit()


def record_failure(message_id: int, outcome: str, error: str, lease: datetime, now: datetime,
                   tally: Tally) -> str | None:
    """Record a send that failed, or is to be retried (one commit). Returns what became of
    the message (outbox.record_failure)."""
    result = outbox.record_failure(message_id, outcome, error, lease, now)
    if result is None:
        db.session.rollback()  # another pass holds it now
        return None
    if result == "server":
        tally.server_error = error[:300]
        log.warning("mail server unusable, delivery paused: %s", error)
    elif result == "retried":
        tally.retried += 1
    else:
        tally.failed += 1
    db.session.commit()
    return result


def clear_old_bodies(now: datetime) -> int:
    """Empty the bodies of mail sent more than OUTBOX_BODY_RETENTION_DAYS ago (0: keep them),
    a chunk per commit (one short write lock each). Returns how many."""
    if transaction.active():
        raise RuntimeError("clear_old_bodies() commits per chunk: call it outside a unit of work")
    days = int(current_app.config.get("OUTBOX_BODY_RETENTION_DAYS") or 0)
    if days <= 0:
        return 0
    cleared = 0
    for _ in range(CLEAR_BATCHES_PER_PASS):
        count = outbox.clear_bodies(now, days, CLEAR_BATCH)
        db.session.commit()
        cleared += count
        if count < CLEAR_BATCH:
            break
    return cleared


def bodies_to_clear(now: datetime, limit: int):
    """The select of ids `clear_old_bodies` empties next (for the query-plan test)."""
    days = int(current_app.config.get("OUTBOX_BODY_RETENTION_DAYS") or 0)
    return outbox.bodies_to_clear(now, days, limit)
