"""Recording submissions to Amazon and Amazon's replies; the case status follows them.

Correcting or withdrawing either: corrections.py. A withdrawn row no longer counts here
(latest submission, counts, the clock, "already answered")."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import (AmazonResponse, Case, Evidence, PoaDraft, Submission, SubmissionEvidence,
                            User, utcnow)
from caseapp.models.submission import CHANNELS, OUTCOMES
from caseapp.services.cases import records
from caseapp.services.appeals import followups
from caseapp.services.cases import timeline
from caseapp.services.deadlines import alerts, clocks
from caseapp.services.appeals import workflow
from caseapp.core.errors import Conflict, ValidationFailed
from caseapp.core.parsing import parse_id

CHANNEL_LABELS = {
    "account_health_appeal": "Account Health appeal",
    "notification_reply": "Reply to a performance notification",
    "email": "Email",
    "other": "Other",
}
OUTCOME_LABELS = {
    "reinstated": "Reinstated",
    "rejected": "Rejected",
    "more_info_requested": "More information requested",
    "other": "Other",
}
# What Amazon's answer does to the case status (None: the status stays).
OUTCOME_STATUS = {"reinstated": "reinstated", "rejected": "denied",
                  "more_info_requested": "more_info_requested", "other": None}
# The outcomes that end the case or deny it: the page asks before recording them.
CONFIRM_OUTCOMES = {
    "reinstated": "Record Amazon's reply as Reinstated? The case is closed as won and its "
                  "follow-ups stop.",
    "rejected": "Record Amazon's reply as Rejected? The case moves to Denied and its follow-ups stop.",
}
# From this many rejected appeals on, the case page warns before the next one.
RISKY_AFTER_REJECTIONS = 2
MAX_BACKDATE_DAYS = 365


def _moment(value: Any, field: str, now: datetime, errors: dict[str, str]) -> datetime | None:
    """A moment given (None: now; False: given as empty, which a correction refuses)."""
    if value is None:
        return now
    if not isinstance(value, datetime) or value.tzinfo is None:
        errors[field] = "Give a date and time with a time zone."
        return None
    if value > now + timedelta(minutes=5):
        errors[field] = "This cannot be in the future."
        return None
    if value < now - timedelta(days=MAX_BACKDATE_DAYS):
        errors[field] = f"This cannot be more than {MAX_BACKDATE_DAYS} days ago."
        return None
    return value


def check_submission(actor: User, case_id: int, data: dict[str, Any],
                     now: datetime | None = None) -> None:
    """ValidationFailed naming every bad field of a submission at once, Conflict when the
    case cannot be submitted in its status; changes nothing (the page asks before it saves)."""
    case = records.get_case(actor, case_id)
    _clean_submission(case, data, now or utcnow())
    if case.status != "submitted":
        workflow.check_move(case.status, "submitted", workflow.SUBMISSION)


def _clean_submission(case: Case, data: dict[str, Any], now: datetime):
    errors: dict[str, str] = {}
    submitted_at = _moment(data.get("submitted_at"), "submitted_at", now, errors)
    channel = data.get("channel") or "account_health_appeal"
    if channel not in CHANNELS:
        errors["channel"] = "Choose one of: " + ", ".join(CHANNELS) + "."
    reference = data.get("amazon_reference") or ""
    if not isinstance(reference, str) or len(reference) > 200:
        errors["amazon_reference"] = "At most 200 characters of text."
    draft = None
    draft_id = data.get("poa_draft_id")
    if draft_id not in (None, ""):
        draft = _own_draft(case, draft_id)
        if draft is None:
            errors["poa_draft_id"] = "Choose a POA version of this case."
    files = _own_evidence(case, data.get("evidence_ids"), errors)
    if errors:
        raise ValidationFailed(errors)
    return submitted_at, channel, reference, draft, files


@transactional
def record_submission(actor: User, case_id: int, data: dict[str, Any],
                      now: datetime | None = None) -> Submission:
    """Record that the case went to Amazon; schedule its follow-up; supersede older ones."""
    now = now or utcnow()
    case = records.get_case(actor, case_id, for_update=True)
    submitted_at, channel, reference, draft, files = _clean_submission(case, data, now)
    if case.status != "submitted":
        workflow.check_move(case.status, "submitted", workflow.SUBMISSION)
    newer = latest_submission(case.id)
    is_latest = newer is None or newer.submitted_at <= submitted_at
    if is_latest:
        for older in db.session.scalars(select(Submission.id).where(Submission.case_id == case.id)):
            followups.cancel_for_submission(case, older, "superseded by a new submission", actor)
    submission = Submission(case_id=case.id, poa_draft_id=draft.id if draft else None,
                            submitted_at=submitted_at, channel=channel,
                            amazon_reference=reference.strip(), recorded_by_id=actor.id)
    db.session.add(submission)
    db.session.flush()
    if draft is not None and draft.submitted_at is None:
        draft.submitted_at = submitted_at
    for row in files:
        db.session.add(SubmissionEvidence(submission_id=submission.id, evidence_id=row.id))
    number = submission_count(case.id)
    summary = f"Submitted to Amazon ({CHANNEL_LABELS[channel]})"
    if draft is not None:
        summary += f" with POA v{draft.version}"
    if files:
        summary += f" and {len(files)} evidence file{'s' if len(files) != 1 else ''}"
    timeline.record(case, "submitted", actor, f"{summary}; submission {number}",
                    {"submission_id": submission.id, "poa_draft_id": draft.id if draft else None})
    if not is_latest:
        # Entered late: an earlier appeal than the one already recorded. It is history,
        # not something to chase, and the newer submission keeps its follow-ups.
        return submission
    if case.status != "submitted":
        workflow.set_status(actor, case, "submitted", by=workflow.SUBMISSION, now=now)
    followups.schedule_first(case, submission)
    followups.refresh_deadline(case)
    case.awaiting_since = submitted_at
    case.updated_at = now
    return submission


def _own_evidence(case: Case, raw: Any, errors: dict[str, str]) -> list[Evidence]:
    """The case's evidence files named by `raw` (a list of ids); errors name a wrong one."""
    if raw in (None, ""):
        return []
    ids = [parse_id(value) for value in raw] if isinstance(raw, list) else [None]
    rows = db.session.scalars(select(Evidence).where(
        Evidence.case_id == case.id, Evidence.id.in_([i for i in ids if i]))).all() if all(ids) else []
    if len(rows) != len(set(ids)) or not all(ids):
        errors["evidence_ids"] = "Choose evidence files of this case."
        return []
    return list(rows)


def evidence_by_submission(case_id: int) -> dict[int, list[Evidence]]:
    found: dict[int, list[Evidence]] = {}
    rows = db.session.execute(
        select(SubmissionEvidence.submission_id, Evidence)
        .join(Evidence, Evidence.id == SubmissionEvidence.evidence_id)
        .where(Evidence.case_id == case_id).order_by(Evidence.filename))
    for submission_id, row in rows:
        found.setdefault(submission_id, []).append(row)
    return found


def _own_draft(case: Case, draft_id: Any) -> PoaDraft | None:
    draft_id = parse_id(draft_id)
    draft = db.session.get(PoaDraft, draft_id) if draft_id is not None else None
    return draft if draft is not None and draft.case_id == case.id else None


def get_submission(actor: User, submission_id: int) -> Submission:
    return records.get_case_child(actor, Submission, submission_id, "No such submission.")


def check_response(actor: User, submission_id: int, data: dict[str, Any],
                   now: datetime | None = None) -> dict[str, Any]:
    """The reply `data` cleaned (received_at, outcome, body), or ValidationFailed naming every
    bad field at once; Conflict when the submission was withdrawn or already has its reply.
    Changes nothing: the case page asks it before it asks the person to confirm."""
    now = now or utcnow()
    submission = get_submission(actor, submission_id)
    if submission.withdrawn_at is not None:
        raise Conflict("This submission was withdrawn; a reply cannot be recorded for it.")
    if answer_of(submission.id) is not None:
        raise Conflict("Amazon's reply to this submission is already recorded.")
    return clean_response(submission, data, now)


def clean_response(submission: Submission, data: dict[str, Any], now: datetime,
                   partial: bool = False) -> dict[str, Any]:
    """Check a reply's fields; `partial` (a correction): only those given."""
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    if not partial or "received_at" in data:
        cleaned["received_at"] = _moment(data.get("received_at") if not partial else
                                         data["received_at"] or False, "received_at", now, errors)
        if cleaned["received_at"] is not None and cleaned["received_at"] < submission.submitted_at:
            errors["received_at"] = "Amazon cannot have replied before the submission."
    if not partial or "outcome" in data:
        cleaned["outcome"] = data.get("outcome")
        if cleaned["outcome"] in (None, ""):
            errors["outcome"] = "Choose Amazon's outcome: " + ", ".join(OUTCOMES) + "."
        elif cleaned["outcome"] not in OUTCOMES:
            errors["outcome"] = "Choose one of: " + ", ".join(OUTCOMES) + "."
    if not partial or "body" in data:
        body = data.get("body") or ""
        if not isinstance(body, str) or len(body) > 50000:
            errors["body"] = "At most 50,000 characters of text."
        else:
            cleaned["body"] = body.strip()
    if errors:
        raise ValidationFailed(errors)
    return cleaned


@transactional
def record_response(actor: User, submission_id: int, data: dict[str, Any],
                    now: datetime | None = None) -> AmazonResponse:
    """Log Amazon's reply: stop the follow-ups for that submission and move the case on."""
    now = now or utcnow()
    submission = get_submission(actor, submission_id)
    case = records.get_case(actor, submission.case_id, for_update=True)
    cleaned = check_response(actor, submission.id, data, now)
    outcome = cleaned["outcome"]
    response = AmazonResponse(submission_id=submission.id, case_id=case.id, recorded_by_id=actor.id,
                              **cleaned)
    db.session.add(response)
    db.session.flush()
    timeline.record(case, "amazon_replied", actor, f"Amazon replied: {OUTCOME_LABELS[outcome]}",
                    {"submission_id": submission.id, "response_id": response.id, "outcome": outcome})
    followups.cancel_for_submission(case, submission.id, "Amazon replied", actor)
    if outcome == "rejected":
        alerts.tell_closed_early(clocks.close_appeal_window_if_spent(case, actor, now), case, now)
    target = OUTCOME_STATUS[outcome]
    # A late reply to an older submission does not move a case that was resubmitted since,
    # and a reply logged on a closed case is kept for the record without reopening it.
    if submission.id == latest_submission(case.id).id:
        case.awaiting_since = None
        if target and workflow.may_move(case.status, target, workflow.AMAZON):
            workflow.set_status(actor, case, target, by=workflow.AMAZON, now=now)
    case.updated_at = now
    return response


def answer_of(submission_id: int) -> AmazonResponse | None:
    """Amazon's reply to the submission that still counts (not withdrawn), if any."""
    return db.session.scalar(select(AmazonResponse).where(
        AmazonResponse.submission_id == submission_id, AmazonResponse.withdrawn_at.is_(None)).limit(1))


def latest_submission(case_id: int) -> Submission | None:
    """The case's most recent submission: latest `submitted_at`, then latest recorded."""
    return db.session.scalar(select(Submission).where(Submission.case_id == case_id,
                                                      Submission.withdrawn_at.is_(None))
                             .order_by(Submission.submitted_at.desc(), Submission.id.desc()).limit(1))


def latest_submissions(case_ids: set[int]) -> dict[int, Submission]:
    """`latest_submission` of several cases at once (they hold a handful each): case id -> it."""
    latest: dict[int, Submission] = {}
    for submission in db.session.scalars(select(Submission).where(
            Submission.case_id.in_(case_ids), Submission.withdrawn_at.is_(None))):
        best = latest.get(submission.case_id)
        if best is None or (submission.submitted_at, submission.id) > (best.submitted_at, best.id):
            latest[submission.case_id] = submission
    return latest


def submission_count(case_id: int) -> int:
    """Submissions that count (a withdrawn one does not)."""
    return db.session.scalar(select(func.count(Submission.id)).where(
        Submission.case_id == case_id, Submission.withdrawn_at.is_(None)))


def submissions_for_case(case_id: int) -> list[Submission]:
    return list(db.session.scalars(
        select(Submission).where(Submission.case_id == case_id).order_by(Submission.submitted_at.desc())))


def responses_by_submission(case_id: int) -> dict[int, list[AmazonResponse]]:
    found: dict[int, list[AmazonResponse]] = {}
    for response in db.session.scalars(
            select(AmazonResponse).where(AmazonResponse.case_id == case_id)
            .order_by(AmazonResponse.received_at)):
        found.setdefault(response.submission_id, []).append(response)
    return found


@dataclass
class Clock:
    """How long Amazon has been silent on the latest submission, and what is due next."""

    submitted_at: datetime | None
    silent_hours: int | None
    follow_up: followups.FollowUp  # the case's next follow-up (followups.next_follow_up)
    submissions: int
    rejections: int
    # Mail from Amazon filed and not yet recorded or dismissed (services/inbound): Amazon is
    # not silent then, its reply waits to be recorded. Pages say "Amazon wrote on …".
    amazon_wrote_at: datetime | None = None

    @property
    def next_due_at(self) -> datetime | None:
        return self.follow_up.due_at

    @property
    def overdue(self) -> bool:
        return self.follow_up.overdue

    @property
    def risky(self) -> bool:
        return self.rejections >= RISKY_AFTER_REJECTIONS


def clock(case: Case, now: datetime | None = None) -> Clock:
    now = now or utcnow()
    latest = latest_submission(case.id)
    answered = latest is not None and answer_of(latest.id) is not None
    awaiting = latest is not None and not answered and case.status == "submitted"
    rejections = db.session.scalar(select(func.count(AmazonResponse.id)).where(
        AmazonResponse.case_id == case.id, AmazonResponse.outcome == "rejected",
        AmazonResponse.withdrawn_at.is_(None)))
    return Clock(
        submitted_at=latest.submitted_at if latest else None,
        silent_hours=int((now - latest.submitted_at).total_seconds() // 3600) if awaiting else None,
        follow_up=followups.next_follow_up(case, now),
        submissions=submission_count(case.id),
        rejections=rejections,
        amazon_wrote_at=case.amazon_wrote_at,
    )
