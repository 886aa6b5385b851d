"""POA drafts: starting from a starter, saving versions, marking final, review and export.

A version is never rewritten: every save adds the next version of the case's POA.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from caseapp.extensions import db
from caseapp.models import Case, Evidence, PoaDraft, PoaEvidenceLink, User, utcnow
from caseapp.services.accounts import audit
from caseapp.services.cases import records
from caseapp.services.poa import render
from caseapp.services.cases import timeline
from caseapp.core import timezones
from caseapp.core.errors import Conflict, ValidationFailed
from caseapp.core.transaction import transactional
from caseapp.services.evidence.filenames import slug
# The limits are re-exported: callers of this service read them from here.
from caseapp.services.poa.content import (
    LIST_SECTIONS,
    MAX_DRAFT_CHARS,
    MAX_ITEM_CHARS,
    MAX_ITEM_LINES,
    MAX_LIST_ITEMS,
    MAX_SECTION_CHARS,
    MAX_SECTION_LINES,
    MAX_SUBJECT_CHARS,
    SECTION_KEYS,
    CaseFacts,
    PoaContent,
)
from caseapp.services.poa.checks import ERROR, Finding
from caseapp.services.poa.checks import review as review_content
from caseapp.services.poa.starters import starter_for


def case_facts(case: Case, tz_name: str = "UTC") -> CaseFacts:
    """The facts of a case that starters and the review use; `case` has its client loaded.

    The notice date is the day in `tz_name` (the consultant's zone), as the case
    form took it and the case page shows it: a notice dated 3 March in Berlin is
    stored as 23:00 UTC on 2 March.
    """
    return CaseFacts(
        client_name=case.client.name,
        seller_id=case.client.seller_id,
        marketplace=case.client.marketplace,
        kind=case.kind,
        reason=case.reason,
        asins=tuple(case.asins),
        notice_date=timezones.to_local(case.opened_at, tz_name).date() if case.opened_at else None,
        case_title=case.title,
        evidence_count=evidence_count(case),
    )


def evidence_count(case: Case) -> int:
    return db.session.scalar(select(func.count(Evidence.id)).where(Evidence.case_id == case.id))


def content_of(draft: PoaDraft) -> PoaContent:
    return PoaContent.from_dict({key: getattr(draft, key) for key in SECTION_KEYS})


def _newlines(text: str) -> str:
    """Browsers send textareas with CRLF; store "\n" so an unchanged section compares equal."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def clean_content(data: dict[str, Any]) -> PoaContent:
    """Validate a body of sections (lists as lists or as text with one item per line).

    The limits are in poa/content.py; each bad field gets its own message. A section's or
    an item's length is counted as sent, before trimming (as the OpenAPI document's
    maxLength says: a line break a browser sends as CRLF counts two); lines and the whole
    draft are counted as stored.
    """
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for key in SECTION_KEYS:
        value = data.get(key)
        if key in LIST_SECTIONS:
            if value is None:
                value = []
            if isinstance(value, str):
                value = value.splitlines()
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                errors[key] = "Must be a list of texts."
                continue
            sent = [v for v in value if v.strip()]
            items = [_newlines(v).strip() for v in sent]
            if len(items) > MAX_LIST_ITEMS:
                errors[key] = f"At most {MAX_LIST_ITEMS} items."
            elif any(len(v) > MAX_ITEM_CHARS for v in sent):
                errors[key] = f"An item can be at most {MAX_ITEM_CHARS:,} characters."
            elif any(v.count("\n") >= MAX_ITEM_LINES for v in items):
                errors[key] = f"An item can be at most {MAX_ITEM_LINES} lines."
            values[key] = items
        else:
            if value is None:
                value = ""
            if not isinstance(value, str):
                errors[key] = "Must be text."
                continue
            limit = MAX_SUBJECT_CHARS if key == "subject" else MAX_SECTION_CHARS
            sent_length = len(value)
            value = _newlines(value).strip()
            if sent_length > limit:
                errors[key] = f"At most {limit:,} characters."
            elif value.count("\n") >= MAX_SECTION_LINES:
                errors[key] = f"At most {MAX_SECTION_LINES} lines."
            values[key] = value
    if errors:
        raise ValidationFailed(errors)
    sizes = {key: sum(map(len, value)) if key in LIST_SECTIONS else len(value) for key, value in values.items()}
    total = sum(sizes.values())
    if total > MAX_DRAFT_CHARS:
        longest = max(sizes, key=sizes.get)  # the message goes beside the section that can give most
        raise ValidationFailed(
            {longest: f"The whole POA can be at most {MAX_DRAFT_CHARS:,} characters and this one has "
                      f"{total:,}: shorten this section or another."},
            f"The POA is too long: at most {MAX_DRAFT_CHARS:,} characters in all.")
    return PoaContent.from_dict(values)


def _next_version(case_id: int) -> int:
    current = db.session.scalar(select(func.max(PoaDraft.version)).where(PoaDraft.case_id == case_id))
    return (current or 0) + 1


def _add_version(actor: User, case: Case, content: PoaContent, summary: str) -> PoaDraft:
    draft = PoaDraft(case_id=case.id, version=_next_version(case.id), author_id=actor.id,
                     **content.as_dict())
    db.session.add(draft)
    db.session.flush()
    kind = "poa_created" if draft.version == 1 else "poa_version"
    timeline.record(case, kind, actor, summary.format(v=draft.version),
                    {"poa_draft_id": draft.id, "version": draft.version})
    case.updated_at = utcnow()
    db.session.flush()
    return draft


@transactional
def start_from_starter(actor: User, case_id: int) -> PoaDraft:
    """A new version filled with the starter written for the case's reason."""
    case = records.get_case(actor, case_id, for_update=True)
    starter = starter_for(case_facts(case, actor.effective_timezone))
    return _add_version(actor, case, starter, "POA draft v{v} started from the starter")


EMPTY_MESSAGE = ("Every section is empty, so nothing was saved: the earlier versions stay as they were. "
                 "Write at least one section, or leave the editor without saving.")


@dataclass(frozen=True)
class Saved:
    """What a save did: `created` is False when the text was the latest version's already,
    and `draft` is then that latest version."""

    draft: PoaDraft
    created: bool


@transactional
def open_or_start(actor: User, case_id: int) -> tuple[PoaDraft, bool]:
    """The case's POA to work on, and whether it was started now: a case without one gets v1
    from its starter; a case that has one (a second click, a page left open while a colleague
    started it) gets its latest version, and nothing new is made."""
    case = records.get_case(actor, case_id, for_update=True)
    existing = latest(actor, case.id)
    if existing is not None:
        return existing, False
    return start_from_starter(actor, case.id), True


@transactional
def save(actor: User, case_id: int, data: dict[str, Any]) -> Saved:
    """Save the sections as the case's next version, unless they say what the latest
    version says (then no version is made). A POA with every section blank is refused."""
    case = records.get_case(actor, case_id, for_update=True)
    content = clean_content(data)
    if content == PoaContent():
        raise ValidationFailed({}, EMPTY_MESSAGE)
    newest = db.session.scalar(select(PoaDraft).where(PoaDraft.case_id == case.id)
                               .order_by(PoaDraft.version.desc()).limit(1))
    if newest is not None and content_of(newest) == content:
        return Saved(newest, created=False)
    return Saved(_add_version(actor, case, content, "POA v{v} saved"), created=True)


def save_version(actor: User, case_id: int, data: dict[str, Any]) -> PoaDraft:
    """The version the sections are now: a new one, or the latest when nothing changed."""
    return save(actor, case_id, data).draft


def get_draft(actor: User, draft_id: int) -> PoaDraft:
    return records.get_case_child(actor, PoaDraft, draft_id, "No such POA draft.",
                                joinedload(PoaDraft.author))


def versions(actor: User, case_id: int) -> list[PoaDraft]:
    case = records.get_case(actor, case_id)
    return list(db.session.scalars(
        select(PoaDraft).where(PoaDraft.case_id == case.id)
        .options(joinedload(PoaDraft.author)).order_by(PoaDraft.version.desc())))


def latest(actor: User, case_id: int) -> PoaDraft | None:
    found = versions(actor, case_id)
    return found[0] if found else None


class OpenReviewErrors(Conflict):
    """Marking final was asked without accepting the review's open errors; `errors` names them."""

    def __init__(self, draft: PoaDraft, errors: list[Finding]):
        count = len(errors)
        super().__init__(f"Version {draft.version} has {count} open review error{'' if count == 1 else 's'}: "
                         "fix them first, or confirm that it goes final as it is.")
        self.draft = draft
        self.errors = errors


def open_errors(actor: User, draft_id: int) -> list[Finding]:
    """The review's findings of severity error for this version."""
    return [f for f in review(actor, draft_id) if f.severity == ERROR]


@transactional
def mark_final(actor: User, draft_id: int, accept_errors: bool = False) -> PoaDraft:
    """Make this version the case's final one; any other final version stops being final.

    A version with open review errors is marked final only with `accept_errors` (the person
    confirmed it); otherwise OpenReviewErrors names them. The timeline says how many were open.
    """
    draft = get_draft(actor, draft_id)
    case = records.get_case(actor, draft.case_id, for_update=True)
    db.session.refresh(draft)  # read after the lock: a concurrent mark of this version has committed by now
    if draft.is_final:
        raise Conflict(f"Version {draft.version} is already the final one.")
    errors = [f for f in review_content(content_of(draft), case_facts(case, actor.effective_timezone))
              if f.severity == ERROR]
    if errors and not accept_errors:
        raise OpenReviewErrors(draft, errors)
    for other in db.session.scalars(
            select(PoaDraft).where(PoaDraft.case_id == case.id, PoaDraft.final_at.is_not(None))):
        other.final_at = None
    draft.final_at = utcnow()
    summary = f"POA v{draft.version} marked final"
    data: dict[str, Any] = {"poa_draft_id": draft.id, "version": draft.version}
    if errors:
        summary += f" with {len(errors)} open review error{'' if len(errors) == 1 else 's'}"
        data["open_review_errors"] = [f.code for f in errors]
    timeline.record(case, "poa_final", actor, summary, data)
    case.updated_at = utcnow()
    db.session.flush()
    return draft


def review(actor: User, draft_id: int) -> list:
    draft = get_draft(actor, draft_id)
    case = records.get_case(actor, draft.case_id)
    return review_content(content_of(draft), case_facts(case, actor.effective_timezone))


# Whole Content-Type values, sent as they are (the text is encoded as UTF-8 below).
EXPORT_TYPES = {
    "txt": "text/plain; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}


@transactional
def export(actor: User, draft_id: int, fmt: str, with_evidence: bool = False) -> tuple[bytes, str, str]:
    """The draft as a file: (bytes, content type, file name)."""
    if fmt not in EXPORT_TYPES:
        raise ValidationFailed({"format": "Choose txt, docx or pdf."}, "Choose txt, docx or pdf.")
    draft = get_draft(actor, draft_id)
    case = records.get_case(actor, draft.case_id)
    content = content_of(draft)
    evidence = evidence_index(case, draft) if with_evidence else None
    data = render.render(fmt, content, evidence, title=f"Plan of Action: {case.client.name}")
    filename = f"{export_basename(case, draft)}.{fmt}"
    audit.record("export", actor, target=f"POA v{draft.version} of case {case.id}", detail=fmt)
    return data, EXPORT_TYPES[fmt], filename


def export_basename(case: Case, draft: PoaDraft) -> str:
    """An ASCII file name: "Müller & Łódź GmbH" gives "POA-Muller-Lodz-GmbH-case7-v2"."""
    return f"POA-{slug(case.client.name)}-case{case.id}-v{draft.version}"


def evidence_entries(case: Case, draft: PoaDraft | None = None) -> list[tuple[Evidence, str]]:
    """The files a POA encloses, each with the description its export prints.

    The files linked to `draft` when it has any: those backing a corrective action
    first, in the order of the actions, then those backing the whole POA. Otherwise
    every file of the case, in upload order.
    """
    if draft is not None:
        linked = db.session.execute(
            select(Evidence, PoaEvidenceLink.action_index)
            .join(PoaEvidenceLink, PoaEvidenceLink.evidence_id == Evidence.id)
            .where(PoaEvidenceLink.poa_draft_id == draft.id)
            .order_by(PoaEvidenceLink.action_index.is_(None), PoaEvidenceLink.action_index,
                      Evidence.uploaded_at, Evidence.id)).all()
        if linked:
            return [(row, _backing(row.description, index)) for row, index in linked]
    rows = db.session.scalars(select(Evidence).where(Evidence.case_id == case.id)
                              .order_by(Evidence.uploaded_at, Evidence.id))
    return [(row, row.description) for row in rows]


def _backing(description: str, action_index: int | None) -> str:
    if action_index is None:
        return description
    note = f"supports corrective action {action_index + 1}"
    return f"{description} ({note})" if description.strip() else note[0].upper() + note[1:]


def evidence_index(case: Case, draft: PoaDraft | None = None) -> list[tuple[str, str]]:
    """(file name, description) of each file the POA encloses; see evidence_entries."""
    return [(row.filename, description) for row, description in evidence_entries(case, draft)]
