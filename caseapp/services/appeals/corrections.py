"""Correcting or withdrawing a submission or Amazon's reply that was recorded wrongly.

Who: the person who recorded it, within CORRECTION_HOURS of recording it; the agency's
admins at any time (everyone else: Forbidden). A withdrawn row is kept, marked withdrawn,
and no longer counts; a withdrawn submission takes its replies with it. The timeline keeps
every original entry (those of withdrawn rows are marked) and says what was corrected.

After any correction the case is recomputed:

- Status. The case's history is replayed, oldest first, through the workflow's table of
  moves: from the status the timeline starts in, each submission and reply that still
  counts, with the values it has now, moves the status as recording it did (a submission
  that is the latest moves the case to "submitted"; a reply to the latest submission moves
  it to what Amazon decided), and each status change a person made is made again where the
  table still allows it (a person's choice is kept: a case someone closed stays closed).
  Moves a submission, a reply or an earlier correction made are not replayed: they follow
  from the rows. The whole history is replayed rather than from the corrected row on, so
  that an earlier correction cannot leave a status the timeline no longer explains. The
  case then goes to the replayed status in one `workflow.set_status(by=CORRECTION)`: one
  timeline entry says what the correction did to the status, rather than a re-enactment.
  A history the table does not allow (a reply corrected to "Reinstated" with a submission
  recorded after it) is refused (Conflict), naming what to withdraw first.
- Follow-ups. The case waits on its latest submission that counts, when the status is
  "submitted" and that submission has no reply that counts. Its follow-up is reopened if
  none is pending (unless a person dismissed it): the one it would have had, from now if
  that moment passed. Every other submission's pending reminders are cancelled. A
  corrected submission time moves its first follow-up with it.
- closed_at follows the status (set_status keeps it), and the POA version a submission
  sent keeps the date of its earliest submission that counts.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from caseapp.core.errors import Conflict, Forbidden, ValidationFailed
from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import AmazonResponse, Case, CaseEvent, PoaDraft, Submission, User, utcnow
from caseapp.models.submission import CHANNELS
from caseapp.services.appeals import followups, submissions, workflow
from caseapp.services.cases import records, timeline
from caseapp.services.deadlines import alerts, clocks

CORRECTION_HOURS = 24
REASON = "recorded by mistake"
SUBMISSION_FIELDS = ("submitted_at", "channel", "amazon_reference")
RESPONSE_FIELDS = ("outcome", "received_at", "body")


# ---- who may ------------------------------------------------------------------------------

def may_change(actor: User, row: Submission | AmazonResponse, now: datetime | None = None) -> bool:
    """Its recorder within CORRECTION_HOURS, an admin always; a withdrawn row no more."""
    if row.withdrawn_at is not None:
        return False
    if actor.is_admin:
        return True
    now = now or utcnow()
    return (row.recorded_by_id is not None and row.recorded_by_id == actor.id
            and now - row.created_at <= timedelta(hours=CORRECTION_HOURS))


def changeable(actor: User, submission_list: list[Submission],
               responses: dict[int, list[AmazonResponse]]) -> set[tuple[str, int]]:
    """("submission", id) and ("response", id) of the rows the actor may correct or withdraw."""
    now = utcnow()
    found = {("submission", s.id) for s in submission_list if may_change(actor, s, now)}
    found |= {("response", r.id) for rows in responses.values() for r in rows
              if may_change(actor, r, now)}
    return found


def _check(actor: User, row: Submission | AmazonResponse, what: str) -> None:
    if row.withdrawn_at is not None:
        raise Conflict(f"This {what} was withdrawn; it can no longer be changed.")
    if not may_change(actor, row):
        raise Forbidden(f"Only the person who recorded this {what} can correct or withdraw it, "
                        f"within {CORRECTION_HOURS} hours; after that, an agency admin.")


def changeable_submission(actor: User, submission_id: int) -> Submission:
    """The submission if the actor may correct it: NotFound for another agency's, Forbidden
    for someone else's (or after the day), Conflict for a withdrawn one."""
    row = submissions.get_submission(actor, submission_id)
    _check(actor, row, "submission")
    return row


def get_response(actor: User, response_id: int) -> AmazonResponse:
    return records.get_case_child(actor, AmazonResponse, response_id, "No such reply.")


def changeable_response(actor: User, response_id: int) -> AmazonResponse:
    """As `changeable_submission`, for Amazon's reply."""
    row = get_response(actor, response_id)
    _check(actor, row, "reply")
    return row


def _locked(actor: User, model, row_id: int, what: str):
    """The row's case locked for update, then the row as the last change left it, checked again."""
    row = db.session.get(model, row_id)
    case = records.get_case(actor, row.case_id, for_update=True)
    row = db.session.scalar(select(model).where(model.id == row_id)
                            .execution_options(populate_existing=True))
    _check(actor, row, what)
    return case, row


# ---- submissions --------------------------------------------------------------------------

@transactional
def correct_submission(actor: User, submission_id: int, data: dict[str, Any],
                       now: datetime | None = None) -> Submission:
    """Correct when, how and with which reference a submission went to Amazon."""
    now = now or utcnow()
    changeable_submission(actor, submission_id)
    case, row = _locked(actor, Submission, submission_id, "submission")
    errors: dict[str, str] = {}
    changes: dict[str, tuple[Any, Any]] = {}
    if "submitted_at" in data:
        moment = submissions._moment(data["submitted_at"] or False, "submitted_at", now, errors)
        answered = db.session.scalar(select(AmazonResponse.received_at).where(
            AmazonResponse.submission_id == row.id, AmazonResponse.withdrawn_at.is_(None))
            .order_by(AmazonResponse.received_at).limit(1))
        if moment is not None and answered is not None and moment > answered:
            errors["submitted_at"] = (f"Amazon's reply to it came {followups.agency_time(case, answered)}: the "
                                      "submission must be before it.")
        elif moment is not None and not _same(row.submitted_at, moment):
            changes["submitted_at"] = (row.submitted_at, moment)
    if "channel" in data:
        if data["channel"] not in CHANNELS:
            errors["channel"] = "Choose one of: " + ", ".join(CHANNELS) + "."
        elif data["channel"] != row.channel:
            changes["channel"] = (row.channel, data["channel"])
    if "amazon_reference" in data:
        reference = data["amazon_reference"] or ""
        if not isinstance(reference, str) or len(reference) > 200:
            errors["amazon_reference"] = "At most 200 characters of text."
        elif reference.strip() != row.amazon_reference:
            changes["amazon_reference"] = (row.amazon_reference, reference.strip())
    if errors:
        raise ValidationFailed(errors)
    if not changes:
        return row
    when = followups.agency_time(case, row.submitted_at)
    for name, (_, after) in changes.items():
        setattr(row, name, after)
    words = []
    if "submitted_at" in changes:
        words.append(f"submitted at {when} → {followups.agency_time(case, row.submitted_at)}")
    if "channel" in changes:
        before, after = changes["channel"]
        words.append(f"channel {submissions.CHANNEL_LABELS[before]} → {submissions.CHANNEL_LABELS[after]}")
    if "amazon_reference" in changes:
        before, after = changes["amazon_reference"]
        words.append(f"reference {before or 'none'} → {after or 'none'}")
    timeline.record(case, "submission_corrected", actor,
                    f"Submission of {when} corrected by {actor.name}: " + "; ".join(words),
                    {"submission_id": row.id,
                     "previous": {k: _plain(v[0]) for k, v in changes.items()},
                     "now": {k: _plain(v[1]) for k, v in changes.items()}})
    if "submitted_at" in changes:
        before, after = changes["submitted_at"]
        followups.shift_first(case, row, after - before, "the submission's time was corrected", actor)
        _redate_draft(row.poa_draft_id)
    _recompute(actor, case, now, "a submission was corrected")
    return row


@transactional
def withdraw_submission(actor: User, submission_id: int, now: datetime | None = None) -> Submission:
    """Withdraw a submission recorded by mistake, and Amazon's replies to it with it."""
    now = now or utcnow()
    changeable_submission(actor, submission_id)
    case, row = _locked(actor, Submission, submission_id, "submission")
    row.withdrawn_at, row.withdrawn_by_id = now, actor.id
    replies = list(db.session.scalars(select(AmazonResponse).where(
        AmazonResponse.submission_id == row.id, AmazonResponse.withdrawn_at.is_(None))))
    for reply in replies:
        reply.withdrawn_at, reply.withdrawn_by_id = now, actor.id
    _mark_entries(case, "submission_id", row.id)
    summary = f"Submission of {followups.agency_time(case, row.submitted_at)} withdrawn by {actor.name}: {REASON}"
    if replies:
        summary += ", with Amazon's reply to it"
    timeline.record(case, "submission_withdrawn", actor, summary,
                    {"submission_id": row.id, "response_ids": [r.id for r in replies]})
    followups.cancel_for_submission(case, row.id, "the submission was withdrawn", actor)
    _redate_draft(row.poa_draft_id)
    _recompute(actor, case, now, "a submission was withdrawn")
    return row


def _same(before: Any, after: Any) -> bool:
    """Unchanged: equal, or a time given to the minute (as a form shows it) of the same minute."""
    if isinstance(before, datetime) and isinstance(after, datetime) and after.second == after.microsecond == 0:
        return before.replace(second=0, microsecond=0) == after
    return before == after


# ---- Amazon's replies ---------------------------------------------------------------------

@transactional
def correct_response(actor: User, response_id: int, data: dict[str, Any],
                     now: datetime | None = None) -> AmazonResponse:
    """Correct Amazon's reply: its outcome, when it came, its text."""
    now = now or utcnow()
    changeable_response(actor, response_id)
    case, row = _locked(actor, AmazonResponse, response_id, "reply")
    submission = db.session.get(Submission, row.submission_id)
    cleaned = submissions.clean_response(submission, {k: v for k, v in data.items()
                                                      if k in RESPONSE_FIELDS}, now, partial=True)
    changes = {name: (getattr(row, name), value) for name, value in cleaned.items()
               if not _same(getattr(row, name), value)}
    if not changes:
        return row
    for name, (_, after) in changes.items():
        setattr(row, name, after)
    words = []
    if "outcome" in changes:
        before, after = changes["outcome"]
        words.append(f"outcome {submissions.OUTCOME_LABELS[before]} → {submissions.OUTCOME_LABELS[after]}")
    if "received_at" in changes:
        before, after = changes["received_at"]
        words.append(f"received {followups.agency_time(case, before)} → {followups.agency_time(case, after)}")
    if "body" in changes:
        words.append("text corrected")
    timeline.record(case, "reply_corrected", actor,
                    f"Amazon's reply corrected by {actor.name}: " + "; ".join(words),
                    {"response_id": row.id, "submission_id": row.submission_id,
                     "previous": {k: _plain(v[0]) for k, v in changes.items()},
                     "now": {k: _plain(v[1]) for k, v in changes.items()}})
    if "outcome" in changes:
        _mark_entries(case, "response_id", row.id, outcome=row.outcome, corrected=True)
        _recompute(actor, case, now, "Amazon's reply was corrected")
    return row


@transactional
def withdraw_response(actor: User, response_id: int, now: datetime | None = None) -> AmazonResponse:
    """Withdraw Amazon's reply recorded by mistake: the submission is waiting again."""
    now = now or utcnow()
    changeable_response(actor, response_id)
    case, row = _locked(actor, AmazonResponse, response_id, "reply")
    row.withdrawn_at, row.withdrawn_by_id = now, actor.id
    _mark_entries(case, "response_id", row.id)
    timeline.record(case, "reply_withdrawn", actor,
                    f"Amazon's reply ({submissions.OUTCOME_LABELS[row.outcome]}, received "
                    f"{followups.agency_time(case, row.received_at)}) withdrawn by {actor.name}: {REASON}",
                    {"response_id": row.id, "submission_id": row.submission_id})
    _recompute(actor, case, now, "Amazon's reply was withdrawn")
    return row


# ---- the recomputation ----------------------------------------------------------------------

def _order(submission: Submission) -> tuple[datetime, int]:
    return submission.submitted_at, submission.id


def replayed_status(case: Case) -> str:
    """The status the case's history leads to with its rows as they are now (module docstring)."""
    events = db.session.execute(
        select(CaseEvent.kind, CaseEvent.data).where(CaseEvent.case_id == case.id)
        .order_by(CaseEvent.id)).all()
    changes = [data for kind, data in events if kind == "status_changed"]
    if not changes:
        return case.status
    rows = {s.id: s for s in db.session.scalars(select(Submission).where(Submission.case_id == case.id))}
    replies = {r.id: r for r in db.session.scalars(
        select(AmazonResponse).where(AmazonResponse.case_id == case.id))}
    status = (changes[0] or {}).get("from", case.status)
    seen: list[Submission] = []
    previous = None
    for kind, data in events:
        data = data or {}
        if kind == "submitted":
            row = rows.get(data.get("submission_id"))
            if row is not None and row.withdrawn_at is None:
                latest = max(seen, key=_order) if seen else None
                seen.append(row)
                if (latest is None or latest.submitted_at <= row.submitted_at) and status != "submitted":
                    if not workflow.may_move(status, "submitted", workflow.SUBMISSION):
                        raise Conflict(
                            f"With this change the case would be {workflow.LABELS[status]} when the "
                            f"submission of {followups.agency_time(case, row.submitted_at)} was recorded, which the "
                            "workflow does not allow; withdraw or correct that submission first.")
                    status = "submitted"
        elif kind == "amazon_replied":
            reply = replies.get(data.get("response_id"))
            if (reply is not None and reply.withdrawn_at is None and seen
                    and reply.submission_id == max(seen, key=_order).id):
                target = submissions.OUTCOME_STATUS[reply.outcome]
                if target and workflow.may_move(status, target, workflow.AMAZON):
                    status = target
        elif kind == "status_changed":
            # Entries before the mover was written down: the move right after recording a
            # submission or a reply (reminders cancelled between) was theirs.
            by = data.get("by") or (workflow.SUBMISSION if previous in ("submitted", "amazon_replied")
                                    else workflow.PERSON)
            target = data.get("to")
            if by == workflow.PERSON and target != status and workflow.may_move(status, target, by):
                status = target
        if kind != "reminder_cancelled":
            previous = kind
    return status


def _recompute(actor: User, case: Case, now: datetime, reason: str) -> None:
    db.session.flush()
    status = replayed_status(case)
    if status != case.status:
        workflow.set_status(actor, case, status, by=workflow.CORRECTION, now=now)
    active = list(db.session.scalars(select(Submission).where(
        Submission.case_id == case.id, Submission.withdrawn_at.is_(None))))
    latest = max(active, key=_order) if active else None
    waiting = (latest if latest is not None and case.status == "submitted"
               and submissions.answer_of(latest.id) is None else None)
    for row in db.session.scalars(select(Submission).where(Submission.case_id == case.id)):
        if (waiting is None or row.id != waiting.id) and followups.has_pending(row.id):
            followups.cancel_for_submission(
                case, row.id, "the submission was withdrawn" if row.withdrawn_at
                else "the case is no longer waiting on this submission", actor)
    if waiting is not None and not followups.was_dismissed(waiting.id):
        followups.reopen(case, waiting, now, reason, actor)
    case.awaiting_since = waiting.submitted_at if waiting is not None else None
    followups.refresh_deadline(case)
    # Two rejections close the appeal window early; a correction can make it one, or two.
    clocks.reopen_appeal_window_if_unspent(case, actor, now)
    alerts.tell_closed_early(clocks.close_appeal_window_if_spent(case, actor, now), case, now)
    case.updated_at = now


def _mark_entries(case: Case, key: str, row_id: int, **values) -> None:
    """Mark the timeline entries that recorded a row: withdrawn, or with its corrected values."""
    # A withdrawn submission's replies go with it: their entries carry its id too.
    kinds = ("submitted", "amazon_replied") if key == "submission_id" else ("amazon_replied",)
    for event in db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                            CaseEvent.kind.in_(kinds))):
        if (event.data or {}).get(key) == row_id:
            event.data = {**event.data, **(values or {"withdrawn": True})}


def _redate_draft(draft_id: int | None) -> None:
    """A POA version was submitted when its earliest submission that counts went out."""
    if draft_id is None:
        return
    draft = db.session.get(PoaDraft, draft_id)
    draft.submitted_at = db.session.scalar(
        select(Submission.submitted_at).where(Submission.poa_draft_id == draft_id,
                                              Submission.withdrawn_at.is_(None))
        .order_by(Submission.submitted_at).limit(1))


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
