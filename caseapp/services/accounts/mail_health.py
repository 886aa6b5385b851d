"""Mail that does not get through, as the agency's people meet it.

- A bouncing address: the mail server refused a person's address for good (delivery tells
  us through kinds.listen). The person's settings and the admins' People page say so until
  the address changes (models: User.email) or an admin clears it (`clear_bounce`).
- Mail problems (mail/problems.py): the admins see the open one on every page
  (`open_problem`), and are mailed once when it opens ("mail_problem" mail, to the admins
  whose own address is not bouncing); Retry (`retry`) and `dismiss` are how they act.

Each action of an admin here is audited.
"""
from __future__ import annotations

from datetime import datetime
from html import escape

from sqlalchemy import select

from caseapp.core.errors import Conflict, NotFound
from caseapp.core.transaction import transactional
from caseapp.core.urls import external_url
from caseapp.extensions import db
from caseapp.models import MailProblem, OutboxMessage, User
from caseapp.services.accounts import audit, people
from caseapp.services.accounts.roles import require_admin
from caseapp.services.mail import kinds, outbox, problems

PROBLEM_KIND = "mail_problem"


def open_problem(actor: User) -> MailProblem | None:
    """The agency's open mail problem, for its admins' pages (one indexed query); None for
    everyone else."""
    if not actor.is_admin:
        return None
    return problems.open_for_agency(actor.agency_id)


@transactional
def retry(actor: User, now: datetime, message_id: int | None = None) -> list[OutboxMessage]:
    """Send failed mail again: one message, or (None) every failed one of the agency. The
    next delivery pass sends each once. Another agency's message is a NotFound."""
    require_admin(actor)
    if message_id is not None:
        message = outbox.find(actor.agency_id, message_id)
        if message is None:
            raise NotFound("No such email.")
        if message.status != "failed":
            raise Conflict(f"This email is {message.status}, not failed: there is nothing to retry.")
    moved = outbox.retry(actor.agency_id, now, message_id)
    if message_id is not None and not moved:  # a second click, or a colleague, retried it meanwhile
        raise Conflict("This email is no longer failed (it was retried meanwhile): there is nothing to retry.")
    if moved:
        audit.record("mail_retry", actor,
                     target=moved[0].recipient if len(moved) == 1 else f"{len(moved)} emails",
                     detail=", ".join(f"#{m.id}" for m in moved))
    problems.after_retry(actor.agency_id, now)
    return moved


@transactional
def dismiss(actor: User, now: datetime) -> MailProblem | None:
    """Take the agency's mail problem off its admins' pages (failed mail stays listed)."""
    require_admin(actor)
    problem = problems.close(actor.agency_id, now, f"dismissed by {actor.name}")
    if problem is not None:
        audit.record("mail_problem_dismissed", actor, detail=problem.detail)
    return problem


@transactional
def clear_bounce(actor: User, user_id: int) -> User:
    """An admin says the address works again (the person's mailbox was fixed)."""
    require_admin(actor)
    person = people.get_user(actor, user_id)
    if person.email_bounced_at is not None:
        audit.record("bounce_cleared", actor, target=person.email, detail=person.email_bounce_message)
    person.email_bounced_at, person.email_bounce_message = None, ""
    db.session.flush()
    return person


# ---- what delivery tells us (kinds.listen) --------------------------------------------------

def _bounced(agency_id: int, address: str, now: datetime, error: str) -> None:
    person = db.session.scalar(select(User).where(User.agency_id == agency_id,
                                                  User.email == people.email_key(address)))
    if person is not None:
        person.email_bounced_at, person.email_bounce_message = now, error[:500]


def _problem_opened(problem: MailProblem, now: datetime) -> None:
    """Mail the agency's admins once about the problem: those whose own address works."""
    outbox_url = external_url("admin.outbox", status="failed")
    subject = ("caseapp cannot reach the mail server" if problem.kind == "server"
               else "caseapp: some email was not delivered")
    text = (f"{problem.detail}\n\nFollow-ups and deadlines stay open while their email is not delivered: "
            f"the cases keep their clocks. See what failed and retry it in the Outbox:\n{outbox_url}\n")
    html = (f"<p>{escape(problem.detail)}</p><p>Follow-ups and deadlines stay open while their email is "
            "not delivered: the cases keep their clocks. See what failed and retry it in the "
            f'<a href="{escape(outbox_url)}">Outbox</a>.</p>')
    for admin in people.active_admins({problem.agency_id})[problem.agency_id]:
        if admin.email_bounced_at is None:
            outbox.queue(PROBLEM_KIND, admin.email, subject, text, html,
                         key=f"{PROBLEM_KIND}:{problem.id}:{admin.id}", agency_id=problem.agency_id,
                         send_after=now, link_ref=None)


def _withdrawn(messages: list[OutboxMessage]) -> dict[int, str]:
    """Mail about a problem already closed (retried, dismissed, the server back) is not sent."""
    ids = {m.id: int(m.idempotency_key.split(":")[1]) for m in messages}
    closed = set(db.session.scalars(select(MailProblem.id).where(
        MailProblem.id.in_(set(ids.values())), MailProblem.closed_at.is_not(None))))
    return {mid: "the mail problem it told of was resolved" for mid, pid in ids.items() if pid in closed}


def register_mail_kinds() -> None:
    """Tell the mail package about the admins' mail on mail problems, and listen to bounces."""
    kinds.register(PROBLEM_KIND, withdrawn=_withdrawn)
    kinds.listen(bounced=_bounced, problem_opened=_problem_opened)
