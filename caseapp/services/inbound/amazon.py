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

# What Amazon's words mean (read_outcome). Each pattern is a plain sequence of words and
# alternatives, with at most one bounded gap of characters that ends no sentence: no nested
# quantifier, so each search is linear in the text, and the text is cut at READ_LIMIT.
_GAP = r"[^.!?\n]{0,40}"  # a few words within one sentence


def _any(*patterns: str) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


# Done: the account, listing or privileges are back, said in the past or present tense.
_REINSTATED = _any(
    r"\b(?:has|have|was|were|is|are) (?:now |since |just )?(?:been )?(?:reinstated|reactivated|restored|re-?enabled)\b",
    r"\bwe(?: have|'ve)? (?:now )?(?:reinstated|reactivated|restored)\b",
    r"\b(?:appeal|plan of action|request) (?:has been|was|is) (?:accepted|approved|successful)\b",
    r"\byou (?:can|may) (?:now )?(?:resume|start|continue) selling\b",
    r"\bis (?:now )?(?:active|available for purchase) again\b",
    r"\bwurde (?:wieder |erfolgreich )?(?:freigeschaltet|reaktiviert|wiederhergestellt|wieder ?hergestellt)\b",
    r"\ba été (?:rétabli|réactivé|restauré)e?s?\b")
# Refused: a negated reinstatement ("unable to reinstate", "has not been reinstated"), a
# denial, an account that stays closed.
_REFUSED = _any(
    r"\b(?:not|unable|cannot|can't|won't|never|decided not|declined?|refuse[sd]?)\b" + _GAP
    + r"\b(?:reinstat|reactivat|restor|re-?enabl)",
    r"\b(?:appeal|request|plan of action)\b" + _GAP + r"\b(?:denied|rejected|declined|unsuccessful)\b",
    r"\b(?:appeal|request|plan of action) (?:has|was|is) not (?:been )?(?:accepted|approved|successful)\b",
    r"\b(?:remains?|will remain|stays?) (?:deactivated|suspended|blocked|closed|inactive)\b",
    r"\b(?:has|have|was|were|is|are) (?:been )?permanently (?:deactivated|suspended|removed|closed|banned)\b",
    r"\b(?:nicht|keine?n?)\b" + _GAP + r"(?:reaktivier|wiederherstell|wieder herstell|freischalt|freigeschaltet)",
    r"\b(?:abgelehnt|bleibt (?:deaktiviert|gesperrt))\b",
    r"\bpas (?:été |pu être |être )?(?:rétabli|réactiv)",
    r"\b(?:rejeté|refusé)e?\b")
# Final: nothing more will change it, whatever else the mail asks.
_FINAL = _any(
    r"\bdecision is final\b",
    r"\b(?:will not|won't|cannot|can't|no longer) (?:accept|review|respond to|consider) (?:any )?(?:further|more|additional|new) (?:appeals?|requests?|plans? of action|information)\b",
    r"\bno further (?:appeals?|reviews?|action will be taken)\b",
    r"\b(?:has|have|was|were|is|are) (?:been )?permanently (?:deactivated|suspended|closed|banned)\b",
    r"\bdie entscheidung ist endgültig\b")
# Asked: information, documents, a better plan of action.
_ASKED = _any(
    r"\bplease (?:provide|send|submit|upload|attach|include|resubmit|revise|clarify|explain|share)\b",
    r"\b(?:need|needs|require|requires|requesting|request) (?:some |the following |additional |more |further )(?:information|documents?|documentation|details|evidence|invoices?)\b",
    r"\b(?:additional|more|further) (?:information|documents?|documentation|details|evidence|invoices?) (?:is |are )?(?:needed|required|necessary)\b",
    r"\b(?:until|once|after|when|as soon as) you (?:have )?(?:provide|send|submit|upload|provided|sent|submitted|uploaded)\b",
    r"\bbefore we can (?:reinstate|reactivate|restore|make a decision|review)\b",
    r"\bresubmit\b",
    r"\bweitere (?:informationen|unterlagen|dokumente|nachweise)\b",
    r"\bbitte (?:senden|reichen|laden|übermitteln)\b",
    r"\bveuillez (?:fournir|envoyer|soumettre)\b")
# Found wanting: what the seller sent is not enough. Beside a refusal it explains the refusal
# ("denied: the plan of action did not show…"); alone, Amazon waits for a better one.
_LACKING = _any(
    r"\b(?:plan of action|poa|appeal|explanation|documents?|invoices?)\b" + _GAP
    + r"\b(?:unclear|incomplete|insufficient|not sufficient|not enough|illegible|could not be verified|"
    r"does not (?:address|explain|include|identify|show)|did not (?:address|explain|include|identify|show))\b",
    r"\bit is unclear\b", r"\bnot (?:sufficient|enough) to (?:reinstate|reactivate|restore)\b")
# A sentence that says what would happen ("If you believe…, please provide…", "To appeal,
# submit…") asks and grants nothing.
_CONDITIONAL = re.compile(r"^(?:if|when|once|should|to (?:appeal|reactivate|request|dispute|learn|avoid)|"
                          r"in order to|wenn|falls|si)\b", re.IGNORECASE)
# The mail answers what the seller sent (a reply to an appeal says so). "Your appeal" alone
# is not enough: a warning says "you can appeal" and "with your appeal" too.
_ANSWERS = _any(
    r"\bthank you for (?:your|sending|submitting|the) (?:appeal|plan of action|poa|submission|response|"
    r"explanation|documents?|invoices?|information|patience)\b",
    r"\b(?:regarding|about|on) your (?:appeal|plan of action|submission)\b",
    r"\byour (?:appeal|plan of action|request|submission) (?:has|was|is|had)\b",
    r"\b(?:information|documents?|invoices?) you (?:have )?(?:provided|submitted|sent)\b",
    r"\b(?:we|have|we've) (?:carefully )?reviewed\b",
    r"\bihr(?:en)? (?:einspruch|maßnahmenplan|antrag)\b", r"\bvotre (?:appel|plan d'action|demande)\b")
# A notice or a newsletter: not an answer unless it says it answers.
_NOTICE = _any(
    r"\bpolicy warning\b", r"\bno action is (?:required|needed)\b", r"\bunsubscribe\b", r"\bnewsletter\b",
    r"\bseller news\b", r"\byou are receiving this (?:e-?mail|message)\b", r"\bemail preferences\b",
    r"\bthis is an? (?:automated )?(?:notification|notice|reminder)\b", r"\bfor your information\b")
# "Your account has been reinstated" names what is back: an answer even in a notice.
_YOURS_BACK = _any(
    r"\byour (?:account|selling privileges|listings?|asins?|seller account)\b" + _GAP
    + r"\b(?:reinstated|reactivated|restored)\b")
_SENTENCE_END = re.compile(r"[.!?;\n]+")
READ_LIMIT = 20_000  # characters read for the outcome: Amazon's decision comes first


def _own_lines(text: str) -> str:
    """The text without quoted lines (">") and without the quoted history below an "On …
    wrote:" line or an "-----Original Message-----" (the seller's own words, often "reinstate")."""
    kept = []
    for line in text[:READ_LIMIT].splitlines():
        stripped = line.strip()
        if stripped.startswith(">"):
            continue
        lowered = stripped.lower()
        if (lowered.startswith("on ") and lowered.endswith("wrote:")) or lowered.startswith(
                ("-----original message", "---------- forwarded message")):
            if kept:  # below a forward's header comes Amazon's mail itself: keep reading that
                if lowered.startswith("---------- forwarded"):
                    continue
                break
            continue
        kept.append(line)
    return "\n".join(kept)


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
    """Amazon's outcome as its words say it; "other" when none is clear.

    Read sentence by sentence, the quoted history left out: a final refusal ("our decision is
    final") is rejected whatever else the mail says; a reinstatement with no refusal beside it
    is reinstated (both: "other", a partial answer a person reads); a request for information
    or a better plan of action is more_info_requested, also beside a refusal ("we cannot
    reinstate your account until you send…"), and so is a plan found wanting without a
    refusal ("your plan of action is unclear"); a refusal, with its reasons, is rejected. A
    sentence that says what would happen ("If you believe…, please provide…", "If this
    happens again, we will not reinstate…") counts for nothing, and a notice or newsletter
    that does not answer the seller's appeal is "other".
    """
    own = _own_lines(text)
    reinstated = refused = asked = lacking = final = False
    for sentence in _SENTENCE_END.split(own):
        sentence = " ".join(sentence.split())
        if not sentence:
            continue
        if _CONDITIONAL.match(sentence):
            continue
        final = final or bool(_FINAL.search(sentence))
        refusing = bool(_REFUSED.search(sentence))
        refused = refused or refusing
        # "has not been reinstated", "unable to reinstate": never a reinstatement.
        reinstated = reinstated or (not refusing and bool(_REINSTATED.search(sentence)))
        asked = asked or bool(_ASKED.search(sentence))
        lacking = lacking or bool(_LACKING.search(sentence))
    if final:
        return "rejected"
    if (reinstated or asked or lacking) and _NOTICE.search(own) and not _ANSWERS.search(own) \
            and not _YOURS_BACK.search(own):
        return "other"
    if reinstated:
        return "other" if refused else "reinstated"
    if asked or (lacking and not refused):
        return "more_info_requested"
    if refused and not (_NOTICE.search(own) and not _ANSWERS.search(own)):
        return "rejected"
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
    # A Date header in the future (a wrong clock, a forgery) is not when Amazon wrote.
    wrote = min(message.sent_at or message.received_at or now, now)
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
