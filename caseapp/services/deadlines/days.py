"""My day: the open, running deadlines a person should act on, soonest first.

- Which deadlines: open and running (`clocks.running_sql`), overdue or due before the end of
  the seventh day after today in the viewer's zone (`User.effective_timezone`).
- Whose: a consultant sees the deadlines they own (`owner_id`, the case's assignee). An admin
  sees everyone's by default, and may narrow it to one person (`person` = a user id), to
  their own ("me") or to the unassigned cases ("none").
- One query per page: a keyset page over (due_at, id) through
  ix_deadlines_agency_id_owner_id_status_due_at (one person) or
  ix_deadlines_agency_id_status_due_at (everyone), with each deadline's case and client.
  The buckets (Overdue, Due today, This week) are worked out per row in Python.
- Amazon wrote: above the deadlines, on the first page, the cases of the same person filter
  with mail from Amazon filed and not yet recorded or dismissed (`Case.amazon_wrote_at`, set
  by services/inbound), longest waiting first: one more query, whatever the page holds. A
  follow-up row of such a case says so too (its case is in the row already).
- `overdue_count`: the nav's red figure. The overdue deadlines (`clocks.overdue_sql`) the
  person owns, and for an admin also those of unassigned cases (nobody else answers for
  them); counted through the same index, stopping at OVERDUE_CAP.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from caseapp.core import paging
from caseapp.core.parsing import parse_id
from caseapp.extensions import db
from caseapp.models import Case, Deadline, User
from caseapp.services.cases import records
from caseapp.services.deadlines import clocks

DAYS_AHEAD = 7  # today, and the seven days after it
PER_PAGE = 50
OVERDUE_CAP = 99  # above this the nav says "99+"
AMAZON_WROTE_LIMIT = 20  # cases listed under "Amazon wrote"; the dashboard lists them all
BUCKETS = ("Overdue", "Due today", "This week")
SOURCE_LABELS = {"notice": "from Amazon's notice", "submission": "from a submission",
                 "reply": "from Amazon's reply", "document_request": "from a document request",
                 "person": "added by a person"}

KEYSET = paging.Keyset("my_day", (
    paging.SortKey(Deadline.due_at, False, lambda row: row[0].due_at),
    paging.SortKey(Deadline.id, False, lambda row: row[0].id)))


@dataclass
class Row:
    deadline: Deadline
    case: Case
    clock: clocks.Clock
    bucket: str

    @property
    def kind_label(self) -> str:
        return clocks.KIND_LABELS.get(self.deadline.kind, self.deadline.kind)

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS.get(self.deadline.source, self.deadline.source)

    @property
    def is_follow_up(self) -> bool:
        return self.deadline.kind == clocks.FOLLOW_UP

    @property
    def amazon_wrote_at(self) -> datetime | None:
        """When Amazon's unrecorded mail came, for a follow-up: Amazon is not silent then."""
        return self.case.amazon_wrote_at if self.is_follow_up else None


@dataclass
class MyDay:
    person: str  # "me", "all", "none" or a user id as text: whose deadlines are shown
    page: paging.Page
    rows: list[Row]
    sections: list[tuple[str, list[Row]]] = field(default_factory=list)
    people: list[User] = field(default_factory=list)  # an admin's filter choices; else empty
    # Cases whose mail from Amazon waits to be recorded, longest waiting first (first page only).
    amazon_wrote: list[Case] = field(default_factory=list)


def day_bounds(zone: str, now: datetime) -> tuple[datetime, datetime]:
    """(the viewer's next local midnight, the end of the seventh day after today), in UTC."""
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)

    return midnight(today + timedelta(days=1)), midnight(today + timedelta(days=DAYS_AHEAD + 1))


def whose(actor: User, person: str | None) -> str:
    """The person filter as it applies: consultants always see their own."""
    if not actor.is_admin:
        return "me"
    if person in ("me", "all", "none"):
        return person
    chosen = parse_id(person)
    return str(chosen) if chosen else "all"


def _owner_condition(actor: User, person: str):
    if person == "me":
        return Deadline.owner_id == actor.id
    if person == "none":
        return Deadline.owner_id.is_(None)
    if person == "all":
        return None
    return Deadline.owner_id == int(person)


def _assignee_condition(actor: User, person: str):
    """The same filter on the cases themselves (a deadline's owner is its case's assignee)."""
    if person == "me":
        return Case.assignee_id == actor.id
    if person == "none":
        return Case.assignee_id.is_(None)
    if person == "all":
        return None
    return Case.assignee_id == int(person)


def amazon_wrote(actor: User, person: str, limit: int = AMAZON_WROTE_LIMIT) -> list[Case]:
    """The cases (of the person filter) with Amazon's mail waiting to be recorded: one query."""
    stmt = (select(Case).where(Case.agency_id == actor.agency_id, Case.amazon_wrote_at.is_not(None))
            .options(joinedload(Case.client), joinedload(Case.assignee))
            .order_by(Case.amazon_wrote_at, Case.id).limit(limit))
    assignee = _assignee_condition(actor, person)
    if assignee is not None:
        stmt = stmt.where(assignee)
    return list(db.session.scalars(stmt).unique())


def bucket_of(clock: clocks.Clock, today_ends: datetime) -> str:
    if clock.overdue:
        return "Overdue"
    return "Due today" if clock.deadline.due_at < today_ends else "This week"


def my_day(actor: User, now: datetime, person: str | None = None, after: str = "", before: str = "",
           page: int = 1, per_page: int = PER_PAGE) -> MyDay:
    """A page of the actor's day (see the module's docstring).

    Raises paging.BadCursor for a cursor this list did not make."""
    person = whose(actor, person)
    today_ends, week_ends = day_bounds(actor.effective_timezone, now)
    stmt = (select(Deadline, Case).join(Case, Case.id == Deadline.case_id)
            .where(Deadline.agency_id == actor.agency_id, clocks.running_sql(),
                   Deadline.due_at < week_ends)
            .options(joinedload(Case.client), joinedload(Case.assignee)))
    owner = _owner_condition(actor, person)
    if owner is not None:
        stmt = stmt.where(owner)
    found = paging.fetch_keyset(stmt, KEYSET, per_page, after=after, before=before, page=page,
                                 tuples=True)
    rows = []
    for deadline, case in found.items:
        clock = clocks.Clock(deadline, now)
        rows.append(Row(deadline, case, clock, bucket_of(clock, today_ends)))
    sections = [(name, [r for r in rows if r.bucket == name]) for name in BUCKETS]
    people = records.assignee_choices(actor, include_inactive=True) if actor.is_admin else []
    first_page = not after and not before and page <= 1
    wrote = amazon_wrote(actor, person) if first_page else []
    return MyDay(person, found, rows, [s for s in sections if s[1]], people, wrote)


def _capped_overdue(actor: User, now: datetime, owner):
    found = (select(Deadline.id).where(Deadline.agency_id == actor.agency_id, owner,
                                       clocks.overdue_sql(now))
             .limit(OVERDUE_CAP + 1).subquery())
    return select(func.count()).select_from(found).scalar_subquery()


def overdue_count(actor: User, now: datetime) -> int:
    """How many overdue deadlines the person answers for (their own; an admin's also those of
    unassigned cases), up to OVERDUE_CAP + 1: one statement, an index range per owner."""
    count = _capped_overdue(actor, now, Deadline.owner_id == actor.id)
    if actor.is_admin:
        count = count + _capped_overdue(actor, now, Deadline.owner_id.is_(None))
    return db.session.scalar(select(count)) or 0


def count_label(count: int) -> str:
    return f"{OVERDUE_CAP}+" if count > OVERDUE_CAP else str(count)
