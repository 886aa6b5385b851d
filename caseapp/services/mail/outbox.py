"""The outbox: the one module that writes outbox rows and changes their status.

Features queue mail here (`queue`) and withdraw it (`cancel_for_reminders`); the delivery
pass (delivery.py) moves it through its states with the functions below and commits its
batches. Nothing here commits: a feature's mail is saved with the feature's own change, in
its unit of work, or not at all (a reminder's mail and the reminder marked dispatched are
one commit). The fast write of a sent message is sent_log.py's, for speed.

States: pending (waiting for `send_after`) → sending (leased by a delivery pass until
`lease_until`) → sent, or back to pending (a 4xx, the server down, given back untried), or
failed (a 5xx, too many tries, no link can be made), or cancelled (withdrawn by its owner,
its link no longer valid). Without a mail server, held: kept, shown on the Outbox page, and
sent by the first delivery pass that has a server. An admin's Retry (`retry`) moves failed
mail back to pending, to be sent once by the next pass.

Which kinds exist, and what their owner wants to hear of them, is kinds.py's.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Select, or_, select, text, update

from caseapp.core import locking, mailtags
from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import OutboxMessage
from caseapp.services.mail import kinds

MAX_ATTEMPTS = 8
SUBJECT_LIMIT = 300
ERROR_LIMIT = 1000
RETRIED = "retried by an admin; it had failed: "


def queue(kind: str, to: str, subject: str, text: str, html: str, *, key: str, agency_id: int,
          send_after: datetime, case_id: int | None = None, reminder_id: int | None = None,
          deadline_id: int | None = None, link_ref: str | None = None) -> OutboxMessage:
    """Add one email to the caller's unit of work. `key` names the logical email: a second
    row with the same key is refused by the database (IntegrityError at the flush), so
    whatever runs twice, the email is queued once. Where the body carries
    `links.PLACEHOLDER`, `link_ref` is what the kind's link builder makes the link from.
    Not flushed: a batch of mail reaches the database in one statement."""
    kinds.require(kind)
    message = OutboxMessage(
        idempotency_key=key, agency_id=agency_id, case_id=case_id, reminder_id=reminder_id,
        deadline_id=deadline_id,
        kind=kind, recipient=to, body_text=text, body_html=html, send_after=send_after, link_ref=link_ref,
        # Mail about a case names it, so that a reply finds it (services/inbound).
        subject=(mailtags.tagged_subject(subject[:SUBJECT_LIMIT - 30], case_id) if case_id is not None
                 else subject[:SUBJECT_LIMIT]),
        message_ref=mailtags.message_ref(key))
    db.session.add(message)
    return message


def cancel_for_reminders(reminder_ids: Select, reason: str) -> None:
    """Withdraw the pending and held mail of these reminders (a select of reminder ids). Mail
    a delivery pass holds ("sending") is left to it, and so is failed mail an admin may
    retry: the pass asks the kind whether the mail is still wanted before sending
    (`still_wanted`)."""
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status.in_(("pending", "held")),
               OutboxMessage.reminder_id.in_(reminder_ids))
        .values(status="cancelled", last_error=reason)
        .execution_options(synchronize_session=False))


def cancel_for_deadline(deadline_id: int, reason: str) -> None:
    """Withdraw a deadline's pending and held mail (it was moved or renamed: what the mail
    says is no longer true); as `cancel_for_reminders`, mail being sent or failed is left."""
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status.in_(("pending", "held")), OutboxMessage.deadline_id == deadline_id)
        .values(status="cancelled", last_error=reason)
        .execution_options(synchronize_session=False))


def for_agency(agency_id: int, status: str = "", limit: int = 200) -> list[OutboxMessage]:
    """An agency's mail, newest first, optionally of one status."""
    stmt = select(OutboxMessage).where(OutboxMessage.agency_id == agency_id)
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    return list(db.session.scalars(stmt.order_by(OutboxMessage.id.desc()).limit(limit)))


def find(agency_id: int, message_id: int) -> OutboxMessage | None:
    """One of the agency's messages (None: no such message, or another agency's)."""
    message = db.session.get(OutboxMessage, message_id)
    return message if message is not None and message.agency_id == agency_id else None


def has_failed(agency_id: int) -> bool:
    return db.session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.agency_id == agency_id, OutboxMessage.status == "failed").limit(1)) is not None


@transactional
def retry(agency_id: int, now: datetime, message_id: int | None = None) -> list[OutboxMessage]:
    """Failed mail of the agency back to pending, due now, its tries counted afresh: the next
    delivery pass sends each once (a message its owner withdrew meanwhile is cancelled then,
    not sent). One message (`message_id`; None if it is not the agency's or has not failed),
    or every failed one. Returns the messages moved."""
    locking.write_lock()
    stmt = select(OutboxMessage).where(OutboxMessage.agency_id == agency_id,
                                       OutboxMessage.status == "failed")
    if message_id is not None:
        stmt = stmt.where(OutboxMessage.id == message_id)
    messages = list(db.session.scalars(stmt.order_by(OutboxMessage.id).with_for_update()))
    for message in messages:
        message.status, message.send_after, message.attempts = "pending", now, 0
        message.lease_until = None
        before = message.last_error.removeprefix(RETRIED)
        message.last_error = f"{RETRIED}{before}"[:ERROR_LIMIT]
    db.session.flush()
    return messages


# ---- what the delivery pass does to a message ----------------------------------------------

def deliverable(now: datetime, held: bool = True) -> Select:
    """Mail due now, and mail whose lease ran out (its dispatcher died or hung); with `held`,
    also mail held while no mail server was configured (the pass that holds mail asks
    without)."""
    waiting = ("pending", "held") if held else ("pending",)
    return (select(OutboxMessage)
            .where(or_(
                OutboxMessage.status.in_(waiting) & (OutboxMessage.send_after <= now),
                (OutboxMessage.status == "sending") & (OutboxMessage.lease_until < now)))
            .order_by(OutboxMessage.send_after, OutboxMessage.id))


def lease(message: OutboxMessage, until: datetime) -> None:
    message.status, message.lease_until = "sending", until
    message.attempts += 1


def still_wanted(claimed: list[OutboxMessage]) -> list[OutboxMessage]:
    """Cancel the mail its owner withdrew after it was queued (Amazon replied, the case
    closed...): a message retried after a dead dispatcher's lease must not go out then.
    Each kind's `withdrawn` hook is asked once for the batch."""
    hooks: dict = {}
    for message in claimed:
        entry = kinds.get(message.kind)
        if entry is not None and entry.withdrawn is not None:
            hooks.setdefault(entry.withdrawn, []).append(message)
    withdrawn: dict[int, str] = {}
    for hook, messages in hooks.items():
        withdrawn.update(hook(messages))
    wanted = []
    for message in claimed:
        why = withdrawn.get(message.id)
        if why is not None:
            # "sending" here means a dispatcher's lease ran out: it may have died after the
            # server accepted the message. Say so rather than claim it never went out.
            cancel(message, f"{why}; an earlier try by a dispatcher that stopped mid-send may "
                            "already have delivered it" if message.status == "sending"
                   else f"{why} before it could be sent")
        else:
            wanted.append(message)
    return wanted


def cancel(message: OutboxMessage, why: str) -> None:
    message.status, message.lease_until, message.last_error = "cancelled", None, why[:ERROR_LIMIT]


def cancel_for_dead_link(message: OutboxMessage) -> None:
    cancel(message, "not sent: its link was used or has expired; an earlier try by a "
                    "dispatcher that stopped mid-send may have delivered it"
           if message.status == "sending"
           else "not sent: its link was used or had expired by the time it could go out")


def fail(message: OutboxMessage, now: datetime, why: str) -> None:
    message.lease_until, message.last_error = None, why[:ERROR_LIMIT]
    resolve(message, "failed", now, message.last_error)


def resolve(message: OutboxMessage, status: str, now: datetime, how: str) -> None:
    """The message was sent, held (no mail server) or failed for good; its owner is told
    through its kind's `on_outcome`, in the same transaction."""
    message.status = status
    if status == "sent":
        message.sent_at = now
    entry = kinds.get(message.kind)
    if entry is not None and entry.on_outcome is not None:
        entry.on_outcome(message, status, now, how)


def release(message_ids: list[int], lease_until: datetime) -> None:
    """Give back leased messages that were not tried: their place and their tries unchanged.
    Only under this pass's lease: one that ran out may be another pass's by now."""
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(message_ids), OutboxMessage.status == "sending",
               OutboxMessage.lease_until == lease_until)
        .values(status="pending", lease_until=None, attempts=OutboxMessage.attempts - 1)
        .execution_options(synchronize_session=False))


def record_failure(message_id: int, outcome: str, error: str, lease_until: datetime,
                   now: datetime) -> str | None:
    """Record a send that did not succeed: `outcome` "server" (the server is unusable),
    "retry" (4xx), "recipient" (a 5xx for its address) or "failed" (another 5xx). Returns
    what became of the message ("server", "retried", "failed"), or None when this pass's lease ran out and another pass took
    the message over (its outcome is that pass's to record)."""
    locking.write_lock()
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id)
                                .with_for_update().execution_options(populate_existing=True))
    if message.status != "sending" or message.lease_until != lease_until:
        return None
    message.lease_until = None
    message.last_error = error[:ERROR_LIMIT]
    if outcome == "server":
        # The server, not the message: keep its place and its tries.
        message.status, message.attempts = "pending", message.attempts - 1
        return "server"
    if outcome == "retry" and message.attempts < MAX_ATTEMPTS:
        message.status = "pending"
        message.send_after = now + timedelta(minutes=2 ** (message.attempts - 1))
        return "retried"
    why = (f"failed after {message.attempts} tries: {error}" if outcome == "retry"
           else f"refused by the mail server: {error}")
    message.last_error = why[:ERROR_LIMIT]
    resolve(message, "failed", now, why)
    return "failed"


def bodies_to_clear(now: datetime, days: int, limit: int) -> Select:
    """Ids of sent messages whose bodies have been kept `days`. The status and the NULL test
    are literal SQL, as the partial index ix_outbox_messages_bodies_to_clear says them: a
    bound parameter would hide from the planner that the index applies."""
    return (select(OutboxMessage.id)
            .where(text("outbox_messages.status = 'sent' AND outbox_messages.body_cleared_at IS NULL"),
                   OutboxMessage.sent_at < now - timedelta(days=days))
            .order_by(OutboxMessage.sent_at).limit(limit))


def clear_bodies(now: datetime, days: int, limit: int) -> int:
    """Empty the bodies of up to `limit` messages sent more than `days` ago; the row stays,
    so the Outbox still lists who was mailed what and when. Returns how many."""
    ids = bodies_to_clear(now, days, limit).scalar_subquery()
    result = db.session.execute(
        # Re-tested on the row itself: a second scheduler clearing the same rows waits
        # for the first, then finds them cleared and leaves them.
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.body_cleared_at.is_(None))
        .values(body_text="", body_html="", body_cleared_at=now)
        .execution_options(synchronize_session=False))
    return result.rowcount
