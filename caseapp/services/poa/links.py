"""Which evidence files back a POA version: as a whole, or one corrective action.

A version that went to Amazon keeps the files it was sent with; a newer version can copy
the links of an earlier one, each link following its action's text when the text moved.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from caseapp.core.errors import Conflict, NotFound, ValidationFailed
from caseapp.core.parsing import parse_id, whole_number
from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import Evidence, PoaDraft, PoaEvidenceLink, User, utcnow
from caseapp.services.evidence import files as evidence
from caseapp.services.poa import drafts as poa


def links_of(actor: User, evidence_id: int) -> list[tuple[PoaDraft, int | None]]:
    """The POA versions this file backs, newest first, each with its action index."""
    row = evidence.get(actor, evidence_id)
    return list(db.session.execute(
        select(PoaDraft, PoaEvidenceLink.action_index)
        .join(PoaEvidenceLink, PoaEvidenceLink.poa_draft_id == PoaDraft.id)
        .where(PoaEvidenceLink.evidence_id == row.id)
        .order_by(PoaDraft.version.desc())))



@dataclass
class DraftEvidence:
    """What the POA editor shows about evidence for one version."""

    links: list[PoaEvidenceLink]  # with .evidence loaded, in export order
    files: list[Evidence]  # every file of the case, oldest first
    copy_from: PoaDraft | None  # the latest earlier version with links, when this one has none


def for_draft(actor: User, draft_id: int) -> DraftEvidence:
    draft = poa.get_draft(actor, draft_id)
    links = _links(draft.id)
    copy_from = None if links else _earlier_with_links(draft)
    return DraftEvidence(links, evidence.list_for_case(actor, draft.case_id, oldest_first=True), copy_from)


def _links(draft_id: int) -> list[PoaEvidenceLink]:
    return list(db.session.scalars(
        select(PoaEvidenceLink).join(Evidence, Evidence.id == PoaEvidenceLink.evidence_id)
        .where(PoaEvidenceLink.poa_draft_id == draft_id)
        .options(joinedload(PoaEvidenceLink.evidence))
        .order_by(PoaEvidenceLink.action_index.is_(None), PoaEvidenceLink.action_index,
                  Evidence.uploaded_at, Evidence.id)))


def _earlier_with_links(draft: PoaDraft) -> PoaDraft | None:
    return db.session.scalar(
        select(PoaDraft).where(
            PoaDraft.case_id == draft.case_id, PoaDraft.version < draft.version,
            PoaDraft.id.in_(select(PoaEvidenceLink.poa_draft_id)))
        .order_by(PoaDraft.version.desc()).limit(1))


def _editable(draft: PoaDraft) -> None:
    if draft.is_read_only:
        raise Conflict(f"Version {draft.version} went to Amazon, so the files it was sent with "
                       "stay as they were. Link files to a newer version instead.")


def _action_index(draft: PoaDraft, raw: Any) -> int | None:
    if raw is None or raw == "":
        return None
    index = whole_number(raw)
    if index is None:
        raise ValidationFailed({"action_index": "Choose one of the corrective actions, or the whole POA."})
    if index >= len(draft.corrective_actions):
        raise ValidationFailed({"action_index": f"Version {draft.version} has "
                                f"{len(draft.corrective_actions)} corrective actions; choose one of them."})
    return index


@transactional
def link(actor: User, draft_id: int, evidence_id: Any, action_index: Any = None) -> PoaEvidenceLink:
    """Make a file back this POA version, as a whole or one corrective action (index from 0).

    Linking a file that is already linked moves it to the given action.
    """
    draft = poa.get_draft(actor, draft_id)
    wanted = parse_id(evidence_id)
    try:
        if wanted is None:
            raise NotFound("No such evidence file.")
        row = evidence.get(actor, wanted)
    except NotFound:  # another agency's file looks like a missing one
        raise ValidationFailed({"evidence_id": "Choose a file of this case."}) from None
    if row.case_id != draft.case_id:
        raise ValidationFailed({"evidence_id": "That file belongs to another case."})
    _editable(draft)
    index = _action_index(draft, action_index)
    found = db.session.get(PoaEvidenceLink, (draft.id, row.id))
    if found is None:
        found = PoaEvidenceLink(poa_draft_id=draft.id, evidence_id=row.id, action_index=index,
                                linked_at=utcnow())
        db.session.add(found)
    else:
        found.action_index = index
    try:
        db.session.flush()
    except IntegrityError:
        raise Conflict("Someone linked this file at the same moment. Reload the page to see it.") from None
    return found


@transactional
def unlink(actor: User, draft_id: int, evidence_id: int) -> None:
    draft = poa.get_draft(actor, draft_id)
    row = evidence.get(actor, evidence_id)
    _editable(draft)
    found = db.session.get(PoaEvidenceLink, (draft.id, row.id))
    if found is None:
        raise NotFound("That file is not linked to this version.")
    db.session.delete(found)
    db.session.flush()


@transactional
def copy_links(actor: User, draft_id: int) -> int:
    """Give this version the links of the latest earlier version that has some.

    A link to an action follows the action's text when the text is still there (it may
    have moved), else keeps its position when that still exists, else backs the whole
    POA. Files already linked to this version keep their link. Returns how many were added.
    """
    draft = poa.get_draft(actor, draft_id)
    _editable(draft)
    source = _earlier_with_links(draft)
    if source is None:
        raise Conflict("No earlier version has linked files to copy.")
    present = {link.evidence_id for link in _links(draft.id)}
    actions = list(draft.corrective_actions)
    added = 0
    for old in _links(source.id):
        if old.evidence_id in present:
            continue
        index = old.action_index
        if index is not None:
            old_text = source.corrective_actions[index] if index < len(source.corrective_actions) else None
            if old_text in actions:
                index = actions.index(old_text)
            elif index >= len(actions):
                index = None
        db.session.add(PoaEvidenceLink(poa_draft_id=draft.id, evidence_id=old.evidence_id,
                                       action_index=index, linked_at=utcnow()))
        added += 1
    db.session.flush()
    return added
