"""Which agency and which case a message is about (DESIGN.md, "Email in").

In order: the case's plus-address, a case tag in the subject, In-Reply-To/References naming
mail caseapp sent, then (within the one agency the mail is for) an Amazon reference of a
submission, an ASIN or a seller ID in the subject or text, and last the sender: a client
with exactly one open case. A text match counts only when it names exactly one case: two
cases with that ASIN leave the message in the triage inbox, which says why. A case that was
moved to another client takes no mail from the client it was moved from (by its address, tag
or a reply to our mail to them): that waits in the triage inbox too.

The agency comes from the case when one matched; else from the agency's plus-address, a
sender who is one agency's colleague or client, or the only agency there is. Text is never
matched across agencies: mail about another agency's ASIN stays out of this agency's cases.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import func, select

from caseapp.core import mailtags
from caseapp.extensions import db
from caseapp.models import Agency, Case, CaseAsin, Client, OutboxMessage, Submission, User
from caseapp.services.deadlines.clocks import CASE_ENDED

ASIN_RE = re.compile(r"\b(B0[A-Z0-9]{8})\b")
SELLER_RE = re.compile(r"\b(A[A-Z0-9]{11,14})\b")
REFERENCE_RE = re.compile(r"\b([A-Za-z0-9][A-Za-z0-9-]{5,60}[A-Za-z0-9])\b")
MAX_CANDIDATES = 200


@dataclass
class Match:
    agency_id: int | None = None
    case_id: int | None = None
    matched_by: str | None = None
    why: list[str] = field(default_factory=list)  # why nothing matched, when it did not


def _case(case_id: int) -> Case | None:
    return db.session.get(Case, case_id)


def _first_case(ids: list[int]) -> Case | None:
    for case_id in ids:
        case = _case(case_id)
        if case is not None:
            return case
    return None


def _by_thread(references: list[str]) -> tuple[Case | None, str]:
    """The case of the latest mail of ours the message answers, and whom that mail went to."""
    refs = [ref.strip("<>").partition("@")[0] for ref in references if "@" in ref][:50]
    if not refs:
        return None, ""
    row = db.session.execute(select(OutboxMessage.case_id, OutboxMessage.recipient).where(
        OutboxMessage.message_ref.in_(refs), OutboxMessage.case_id.is_not(None))
        .order_by(OutboxMessage.id.desc()).limit(1)).first()
    return (_case(row.case_id), row.recipient.lower()) if row else (None, "")


def _former_client(case: Case, addresses: list[str]) -> Client | None:
    """Another client of the case's agency whose contact address is among `addresses` (the
    sender, the person our answered mail went to), when the case's own client has none of them
    and no colleague has it either: the case was moved from that client to this one, and what
    they write must not land on the new client's case (nor be taken as the new client's)."""
    addresses = [a for a in dict.fromkeys(addresses) if a]
    if not addresses:
        return None
    own = db.session.scalar(select(Client.contact_email).where(Client.id == case.client_id)) or ""
    if own.lower() in addresses or db.session.scalar(select(User.id).where(
            User.agency_id == case.agency_id, func.lower(User.email).in_(addresses)).limit(1)):
        return None
    return db.session.scalar(select(Client).where(
        Client.agency_id == case.agency_id, Client.id != case.client_id,
        func.lower(Client.contact_email).in_(addresses)).limit(1))


def _agency_of_sender(address: str) -> int | None:
    if not address:
        return None
    users = set(db.session.scalars(select(User.agency_id).where(func.lower(User.email) == address).limit(5)))
    clients = set(db.session.scalars(select(Client.agency_id).where(func.lower(Client.contact_email) == address)
                                     .limit(5)))
    agencies = users | clients
    return agencies.pop() if len(agencies) == 1 else None


def _only_agency() -> int | None:
    ids = list(db.session.scalars(select(Agency.id).limit(2)))
    return ids[0] if len(ids) == 1 else None


def _unique(ids: list[int], what: str, why: list[str]) -> int | None:
    ids = list(dict.fromkeys(ids))
    if len(ids) == 1:
        return ids[0]
    if len(ids) > 1:
        why.append(f"{what} is on {len(ids)} cases; file it by hand.")
    return None


def _open(stmt):
    return stmt.where(Case.status.not_in(CASE_ENDED))


def by_text(agency_id: int, subject: str, text: str, sender: str, why: list[str]) -> tuple[int | None, str | None]:
    """The one open case of the agency the text names, and how; the first kind of name that
    finds exactly one wins. At most one statement per kind of name the text holds."""
    haystack = f"{subject}\n{text}"

    def candidates(pattern: re.Pattern, text: str) -> list[str]:
        return list(dict.fromkeys(pattern.findall(text)))[:MAX_CANDIDATES]

    by_client = select(Case.id).join(Client, Client.id == Case.client_id)
    steps = (
        ("The Amazon reference", "amazon_reference", candidates(REFERENCE_RE, haystack), lambda found: (
            select(Submission.case_id).join(Case, Case.id == Submission.case_id).where(
                Submission.amazon_reference.in_(found), Submission.amazon_reference != "",
                Submission.withdrawn_at.is_(None)))),
        ("The ASIN", "asin", candidates(ASIN_RE, haystack.upper()), lambda found: _open(
            select(CaseAsin.case_id).join(Case, Case.id == CaseAsin.case_id).where(CaseAsin.asin.in_(found)))),
        ("The seller ID", "seller_id", candidates(SELLER_RE, haystack.upper()), lambda found: _open(
            by_client.where(func.upper(Client.seller_id).in_(found)))),
        ("The client who wrote", "sender", [sender] if sender else [], lambda found: _open(
            by_client.where(func.lower(Client.contact_email) == found[0]))),
    )
    for what, how, found, query in steps:
        if found:
            ids = list(db.session.scalars(query(found).where(Case.agency_id == agency_id).limit(10)))
            case_id = _unique(ids, what, why)
            if case_id:
                return case_id, how
    return None, None


def match(to: list[str], subject: str, references: list[str], text: str, sender: str) -> Match:
    result = Match()
    case_ids, agency_ids = mailtags.in_addresses(to)
    steps = ((lambda: (_first_case(case_ids), ""), "address"),
             (lambda: (_first_case(mailtags.cases_in_subject(subject)), ""), "subject"),
             (lambda: _by_thread(references), "thread"))
    for find, how in steps:
        case, answered = find()
        if case is None:
            continue
        former = _former_client(case, [sender, answered])
        if former is None:
            return Match(case.agency_id, case.id, how)
        return Match(case.agency_id, None, None, [
            f"It is about case #{case.id}, but it came from or answers the address of {former.name}, "
            "another client of the agency (was the case moved?): a person decides where it goes."])
    agency_id = (agency_ids[0] if agency_ids and db.session.get(Agency, agency_ids[0]) else None) \
        or _agency_of_sender(sender) or _only_agency()
    result.agency_id = agency_id
    if agency_id is None:
        result.why.append("No agency could be told from the addresses or the sender.")
        return result
    case_id, how = by_text(agency_id, subject, text, sender, result.why)
    if case_id is not None:
        result.case_id, result.matched_by = case_id, how
    elif not result.why:
        result.why.append("Nothing in it names a case: no case address or tag, no reply to our "
                          "mail, no Amazon reference, ASIN or seller ID of one open case.")
    return result
