"""Reminders to the client of an open document request, through the outbox.

While something the client must send is still missing (an item requested or sent back), the
client is reminded BEFORE the due date, when it falls due, then once a day while it is overdue,
for at most OVERDUE_DAYS days: at most one mail a day, and none in the agency's client quiet
hours (the mail then waits in the outbox until they end). `next_client_reminder_at` is when the
next one goes; the dispatch pass (services/appeals/dispatch.py `run_pass`) calls
`dispatch_due(now)`, which claims due requests with row locks, queues one mail per reminder
number (`portal:reminder:<request>:<n>`) and plans the next, in one unit of work: a crash or a
second scheduler neither loses nor doubles one.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from caseapp.core import locking, timezones
from caseapp.core.transaction import transaction
from caseapp.extensions import db
from caseapp.models import Agency, Case, Client, DocumentRequest, DocumentRequestItem
from caseapp.services.cases import timeline
from caseapp.services.portal import links, notify

BEFORE = timedelta(hours=48)
DAY = timedelta(days=1)
OVERDUE_DAYS = 7
BATCH = 100


def waiting_items(request: DocumentRequest) -> list[DocumentRequestItem]:
    return [item for item in request.items if item.status in ("requested", "rejected")]


def points(request: DocumentRequest) -> list[datetime]:
    due = request.due_at
    return [due - BEFORE, due] + [due + DAY * k for k in range(1, OVERDUE_DAYS + 1)]


def last_contact(request: DocumentRequest) -> datetime:
    """When the client last had mail about this request: the request itself, the last
    reminder (when it went, after any quiet hours), or an item sent back to them."""
    moments = [request.created_at]
    if request.last_client_reminder_at is not None:
        moments.append(request.last_client_reminder_at)
    moments += [item.decided_at for item in request.items
                if item.status == "rejected" and item.decided_at is not None]
    return max(moments)


def schedule(request: DocumentRequest, now: datetime) -> None:
    """Plan the request's next reminder (or none), from what is still missing.

    The next is the first reminder point (48 h before the due time, at it, then daily while
    overdue, for at most OVERDUE_DAYS days) after `now` and after the last reminder; never
    within a day of the client's last mail about the request (the request, a reminder, a
    send-back). A point already past is not sent late: a send-back on an overdue request
    does not fire the missed 48-hour reminder at once."""
    if request.status != "open" or not waiting_items(request):
        request.next_client_reminder_at = None
        return
    after = max(now, request.last_client_reminder_at or request.created_at)
    upcoming = [p for p in points(request) if p > after]
    if not upcoming:
        request.next_client_reminder_at = None
        return
    moment = max(upcoming[0], last_contact(request) + DAY)
    if moment > points(request)[-1] + DAY:
        moment = None  # pushed past the last overdue day: reminding has ended
    request.next_client_reminder_at = moment


def quiet_end(agency: Agency, now: datetime) -> datetime:
    """`now`, or the end of the agency's client quiet hours when `now` falls inside them."""
    start, end = agency.client_quiet_start or "20:00", agency.client_quiet_end or "08:00"
    return now if start == end else timezones.quiet_until(now, agency.timezone, start, end)


def _due(now: datetime):
    return (select(DocumentRequest).join(Case, Case.id == DocumentRequest.case_id)
            .where(DocumentRequest.next_client_reminder_at.is_not(None),
                   DocumentRequest.next_client_reminder_at <= now)
            .order_by(DocumentRequest.next_client_reminder_at, DocumentRequest.id))


def dispatch_due(now: datetime) -> int:
    """Queue every client reminder due at `now`; returns how many. Commits a batch at a time."""
    queued = 0
    while True:
        with transaction():
            batch = locking.claim(_due(now), BATCH, of=[DocumentRequest, Case])
            if not batch:
                return queued
            for request in batch:
                case = db.session.get(Case, request.case_id)
                waiting = waiting_items(request)
                if request.status != "open" or not waiting or request.client_id != case.client_id:
                    # Nothing missing, or asked of the client the case had before: a reminder
                    # never goes to (nor makes a link for) a client who was not asked.
                    request.next_client_reminder_at = None
                    continue
                link = links.link_to_mail(case, None, now)
                if link is None:
                    # The consultant closed the door: no reminder makes a new link behind
                    # their back (one that expired is renewed; a revoked one is not).
                    request.next_client_reminder_at = None
                    timeline.record(case, "document_reminder_skipped", None,
                                    "No reminder to the client: their portal link was revoked",
                                    {"request_id": request.id})
                    continue
                client = db.session.get(Client, case.client_id)
                agency = db.session.get(Agency, case.agency_id)
                number = request.client_reminders_sent + 1
                goes_at = quiet_end(agency, now)
                if notify.reminder(case, client, request, link, number, waiting, now, goes_at):
                    queued += 1
                    timeline.record(case, "document_reminder", None,
                                    f"Reminder {number} to the client about the requested documents",
                                    {"request_id": request.id, "number": number,
                                     "send_after": goes_at.isoformat()})
                request.client_reminders_sent = number
                # When it reaches the client (after their quiet hours): the next is a day later.
                request.last_client_reminder_at = goes_at
                schedule(request, now)
