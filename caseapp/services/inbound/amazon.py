"""Mail from Amazon: which senders are Amazon's, what a message seems to say, and the proposal
"record as Amazon's reply" that a person confirms, corrects or dismisses.

Until a person decides, the case shows "Amazon wrote on …" (`Case.amazon_wrote_at`), the
follow-up reminder says Amazon wrote instead of calling it silent, and My day lists the case
first. Confirming records the reply through the submissions service, exactly as the case
page's form does: the follow-ups stop and the status moves.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from caseapp.core.errors import Conflict, NotFound, ValidationFailed
from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import Agency, AmazonResponse, Case, InboundMessage, Submission, User, utcnow
from caseapp.models.submission import OUTCOMES
from caseapp.services.appeals import submissions
from caseapp.services.cases import records, timeline

# Amazon's sender domains by marketplace (an agency may edit them): mail from these domains or
# their subdomains (marketplace.amazon.de, sellercentral.amazon.com) is Amazon's.
DOMAINS: dict[str, list[str]] = {
    "US": ["amazon.com"], "CA": ["amazon.ca"], "MX": ["amazon.com.mx"], "BR": ["amazon.com.br"],
    "UK": ["amazon.co.uk"], "DE": ["amazon.de"], "FR": ["amazon.fr"], "IT": ["amazon.it"],
    "ES": ["amazon.es"], "NL": ["amazon.nl"], "SE": ["amazon.se"], "PL": ["amazon.pl"],
    "BE": ["amazon.com.be"], "TR": ["amazon.com.tr"], "AE": ["amazon.ae"], "SA": ["amazon.sa"],
    "EG": ["amazon.eg"], "IN": ["amazon.in"], "JP": ["amazon.co.jp"], "AU": ["amazon.com.au"],
    "SG": ["amazon.sg"],
}

# What Amazon's words mean, strongest first: the first outcome with a phrase in the text.
_OUTCOME_PHRASES = (
    ("reinstated", (r"\breinstated\b", r"\breactivated\b", r"\bhas been restored\b", r"\bwieder ?hergestellt\b",
                    r"\breaktiviert\b", r"\brétabli", r"\bappeal (?:has been|was) (?:accepted|approved)\b",
                    r"\byou can (?:now )?(?:resume|start) selling\b")),
    ("more_info_requested", (r"\b(?:need|require|provide|send|submit)\b[^.\n]{0,60}\b(?:more|additional|further)\b"
                             r"[^.\n]{0,40}\b(?:information|documents?|details)\b",
                             r"\bplease provide\b", r"\bweitere (?:informationen|unterlagen)\b",
                             r"\bnot (?:sufficient|enough) to reinstate\b",
                             r"\bplan of action (?:is|was) (?:incomplete|insufficient)\b")),
    ("rejected", (r"\b(?:appeal|request) (?:has been|was|is) (?:denied|rejected|declined)\b",
                  r"\bunable to reinstate\b", r"\bwill not be reinstated\b", r"\bnot (?:be )?able to reinstate\b",
                  r"\bdecision is final\b", r"\babgelehnt\b", r"\bpermanently (?:deactivated|suspended|removed)\b")),
)
_COMPILED = tuple((outcome, tuple(re.compile(p, re.IGNORECASE) for p in phrases))
                  for outcome, phrases in _OUTCOME_PHRASES)
READ_LIMIT = 20_000  # characters read for the outcome: Amazon's decision comes first


def domains_of(agency: Agency) -> dict[str, list[str]]:
    return agency.amazon_domains if agency.amazon_domains else DOMAINS


def is_amazon(agency: Agency, address: str) -> bool:
    domain = address.rpartition("@")[2].lower().strip(".")
    if not domain:
        return False
    for names in domains_of(agency).values():
        for name in names:
            if domain == name or domain.endswith("." + name):
                return True
    return False


def read_outcome(text: str) -> str:
    """Amazon's outcome as its words say it; "other" when none is clear."""
    text = text[:READ_LIMIT]
    for outcome, patterns in _COMPILED:
        if any(p.search(text) for p in patterns):
            return outcome
    return "other"


def answered_submission(case: Case) -> Submission | None:
    """The submission Amazon's mail most likely answers: the latest one still unanswered,
    else the latest."""
    rows = list(db.session.scalars(select(Submission).where(
        Submission.case_id == case.id, Submission.withdrawn_at.is_(None))
        .order_by(Submission.submitted_at.desc(), Submission.id.desc()).limit(20)))
    if not rows:
        return None
    answered = set(db.session.scalars(select(AmazonResponse.submission_id).where(
        AmazonResponse.submission_id.in_([r.id for r in rows]), AmazonResponse.withdrawn_at.is_(None))))
    return next((r for r in rows if r.id not in answered), rows[0])


def propose(message: InboundMessage, case: Case, text: str, now: datetime) -> None:
    """Mail from Amazon filed on a case (in the caller's unit of work): what it seems to say."""
    message.proposal = "proposed"
    message.proposed_outcome = read_outcome(text)
    submission = answered_submission(case)
    message.proposed_submission_id = submission.id if submission else None
    wrote = message.sent_at or message.received_at or now
    case.amazon_wrote_at = max(case.amazon_wrote_at, wrote) if case.amazon_wrote_at else wrote


def _settle(case: Case) -> None:
    """Amazon's newest mail on the case that nobody has decided on, if any."""
    case.amazon_wrote_at = db.session.scalar(select(
        func.max(func.coalesce(InboundMessage.sent_at, InboundMessage.received_at))).where(
        InboundMessage.case_id == case.id, InboundMessage.proposal == "proposed"))


def _proposal_of(actor: User, message_id: int) -> tuple[InboundMessage, Case]:
    message = db.session.get(InboundMessage, message_id)
    if message is None or message.agency_id != actor.agency_id or message.case_id is None:
        raise NotFound("No such message.")
    case = records.get_case(actor, message.case_id, for_update=True)
    db.session.refresh(message)
    if message.proposal != "proposed":
        raise Conflict("This mail has been decided on already." if message.proposal else
                       "This mail is not Amazon's; record Amazon's reply on the case page.")
    return message, case


@transactional
def confirm(actor: User, message_id: int, data: dict[str, Any] | None = None,
            now: datetime | None = None) -> AmazonResponse:
    """Record the mail as Amazon's reply: the proposed outcome and submission unless `data`
    corrects them (`outcome`, `submission_id`)."""
    now = now or utcnow()
    data = data or {}
    message, case = _proposal_of(actor, message_id)
    outcome = data.get("outcome") or message.proposed_outcome
    raw_submission = data.get("submission_id") or message.proposed_submission_id
    errors = {}
    if outcome not in OUTCOMES:
        errors["outcome"] = "Choose one of: " + ", ".join(OUTCOMES) + "."
    try:
        submission_id = int(raw_submission) if raw_submission not in (None, "") else None
    except (TypeError, ValueError):
        submission_id = None
        errors["submission_id"] = "Choose one of the case's submissions."
    submission = db.session.get(Submission, submission_id) if submission_id else None
    if submission is None or submission.case_id != case.id:
        errors.setdefault("submission_id", "Record the submission this answers first, on the case page."
                          if submission_id is None else "Choose one of the case's submissions.")
    if errors:
        raise ValidationFailed(errors)
    received = message.sent_at or message.received_at
    received = max(received, submission.submitted_at)
    response = submissions.record_response(actor, submission.id, {
        "outcome": outcome, "received_at": min(received, now), "body": message.body_text[:50000]}, now=now)
    message.proposal, message.response_id = "confirmed", response.id
    _settle(case)
    return response


@transactional
def dismiss(actor: User, message_id: int, now: datetime | None = None) -> InboundMessage:
    """Not Amazon's reply after all (a newsletter, a notice of something else)."""
    now = now or utcnow()
    message, case = _proposal_of(actor, message_id)
    message.proposal = "dismissed"
    timeline.record(case, "email_proposal_dismissed", actor,
                    f"Not recorded as Amazon's reply: {message.subject}"[:500], {"inbound_id": message.id})
    _settle(case)
    case.updated_at = now
    return message
