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

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from caseapp.core import locking
from caseapp.core.transaction import transaction
from caseapp.extensions import db
from caseapp.models import Agency, Case, Client, DocumentRequest, DocumentRequestItem, PortalLink
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


def schedule(request: DocumentRequest, now: datetime) -> None:
    """Plan the request's next reminder (or none), from what is still missing."""
    if request.status != "open" or not waiting_items(request):
        request.next_client_reminder_at = None
        return
    after = request.last_client_reminder_at or request.created_at
    # A reminder 48 h ahead of a request made 2 days before it is due says nothing new.
    upcoming = [p for p in points(request) if p > after and p > request.created_at + timedelta(hours=12)]
    if not upcoming:
        request.next_client_reminder_at = None
        return
    moment = upcoming[0]
    if request.last_client_reminder_at is not None:
        moment = max(moment, request.last_client_reminder_at + DAY)
    request.next_client_reminder_at = moment


def quiet_end(agency: Agency, now: datetime) -> datetime:
    """`now`, or the end of the agency's client quiet hours when `now` falls inside them."""
    zone = ZoneInfo(agency.timezone or "UTC")
    local = now.astimezone(zone)
    start = time.fromisoformat(agency.client_quiet_start or "20:00")
    end = time.fromisoformat(agency.client_quiet_end or "08:00")
    if start == end:
        return now
    t = local.time()
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return now
    end_day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, zone).astimezone(now.tzinfo)


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
                if request.status != "open" or not waiting:
                    request.next_client_reminder_at = None
                    continue
                origin = db.session.get(PortalLink, request.link_id) if request.link_id else None
                if origin is not None and origin.revoked_at is not None and links.live_link(case, now) is None:
                    request.next_client_reminder_at = None  # the consultant closed the door
                    timeline.record(case, "document_reminder_skipped", None,
                                    "No reminder to the client: their portal link was revoked",
                                    {"request_id": request.id})
                    continue
                link = links.send_link(case, None, now)
                client = db.session.get(Client, case.client_id)
                agency = db.session.get(Agency, case.agency_id)
                number = request.client_reminders_sent + 1
                if notify.reminder(case, client, request, link, number, waiting, now, quiet_end(agency, now)):
                    queued += 1
                    timeline.record(case, "document_reminder", None,
                                    f"Reminder {number} to the client about the requested documents",
                                    {"request_id": request.id, "number": number})
                request.client_reminders_sent = number
                request.last_client_reminder_at = now
                schedule(request, now)
