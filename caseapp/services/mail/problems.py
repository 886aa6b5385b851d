"""Mail problems: what the agency's admins must hear of until someone acts.

A problem is opened when some of an agency's mail failed for good ("mail") or the mail
server could not be used or refused every recipient ("server"); at most one is open per
agency (MailProblem.closed_at NULL), and further failures only update it. Opening one tells
the listeners (kinds.listen): accounts mails the agency's admins once per problem, through
the outbox. Every page of the agency's admins shows the open problem (`open_for_agency`:
one indexed query) until a Retry leaves no failed mail, an admin dismisses it, or, for a
server problem, the server accepts mail again.

Nothing here commits: delivery commits the problems it records with its batch, a person's
Retry or dismissal with their unit of work.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from caseapp.core import locking
from caseapp.extensions import db
from caseapp.models import MailProblem
from caseapp.services.mail import kinds, outbox

DETAIL_LIMIT = 1000


def open_for_agency(agency_id: int) -> MailProblem | None:
    return db.session.scalar(select(MailProblem).where(
        MailProblem.agency_id == agency_id, MailProblem.closed_at.is_(None)).limit(1))


def record(agency_id: int, kind: str, detail: str, now: datetime) -> MailProblem:
    """Open the agency's problem, or update the one open (a server problem stays one)."""
    problem = db.session.scalar(select(MailProblem).where(
        MailProblem.agency_id == agency_id, MailProblem.closed_at.is_(None)).limit(1)
        .with_for_update())
    if problem is not None:
        problem.last_seen_at = now
        if kind == "server" or problem.kind != "server":
            problem.kind, problem.detail = kind, detail[:DETAIL_LIMIT]
        return problem
    problem = MailProblem(agency_id=agency_id, kind=kind, detail=detail[:DETAIL_LIMIT],
                          opened_at=now, last_seen_at=now)
    db.session.add(problem)
    db.session.flush()
    kinds.tell_problem_opened(problem, now)
    return problem


def close(agency_id: int, now: datetime, why: str) -> MailProblem | None:
    problem = open_for_agency(agency_id)
    if problem is not None:
        problem.closed_at, problem.closed_why = now, why[:200]
    return problem


def after_retry(agency_id: int, now: datetime) -> None:
    """A Retry that leaves the agency no failed mail closes its problem."""
    if not outbox.has_failed(agency_id):
        close(agency_id, now, "failed mail retried")


def server_recovered(now: datetime) -> None:
    """The server accepted mail again: server problems end, or, where failed mail remains to
    be retried, become problems of that mail. Costs one read when there is none (the
    usual case, asked by every pass that sent mail)."""
    server_problems = select(MailProblem).where(MailProblem.closed_at.is_(None),
                                                MailProblem.kind == "server")
    if db.session.scalar(server_problems.with_only_columns(MailProblem.id).limit(1)) is None:
        return
    locking.write_lock()
    for problem in db.session.scalars(server_problems.with_for_update()):
        if outbox.has_failed(problem.agency_id):
            problem.kind = "mail"
            problem.detail = "The mail server accepts mail again; some failed mail is still to be retried."
        else:
            problem.closed_at, problem.closed_why = now, "the mail server accepts mail again"
