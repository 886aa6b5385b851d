"""Objects as the API shows them: ISO 8601 timestamps with offset, ids for relations."""
from __future__ import annotations

from datetime import datetime

from caseapp.models import (AmazonResponse, Case, CaseEvent, Client, Deadline, DocumentRequest,
                            DocumentRequestItem, Evidence, InboundMessage, Invitation, Note, PoaDraft, Reminder, Submission,
                            utcnow)
from caseapp.services.appeals import followups
from caseapp.services.deadlines import clocks


def ts(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def client(c: Client) -> dict:
    return {"id": c.id, "name": c.name, "seller_id": c.seller_id, "marketplace": c.marketplace,
            "contact_name": c.contact_name, "contact_email": c.contact_email, "notes": c.notes,
            "created_at": ts(c.created_at)}


def case(c: Case, next_deadline: Deadline | None, now: datetime | None = None) -> dict:
    """`next_deadline`: the case's soonest running deadline (deadlines.listing.next_deadlines,
    one query for a whole page of cases), or None."""
    now = now or utcnow()
    follow_up = followups.next_follow_up(c, now)  # the dashboard's and the case page's
    return {"id": c.id, "client_id": c.client_id, "title": c.title, "kind": c.kind, "reason": c.reason,
            "asins": c.asins, "assignee_id": c.assignee_id, "amazon_notice": c.amazon_notice,
            "priority": c.priority, "status": c.status, "opened_at": ts(c.opened_at),
            "closed_at": ts(c.closed_at), "follow_up_due_at": ts(follow_up.due_at),
            "follow_up_overdue": follow_up.overdue,
            "next_deadline": None if next_deadline is None else {
                "id": next_deadline.id, "kind": next_deadline.kind, "title": next_deadline.title,
                "due_at": ts(next_deadline.due_at), "overdue": clocks.clock(next_deadline, now).overdue},
            "waiting_on_client": c.waiting_on_client_since is not None,
            "waiting_on_client_since": ts(c.waiting_on_client_since),
            "amazon_wrote_at": ts(c.amazon_wrote_at),
            "created_at": ts(c.created_at), "updated_at": ts(c.updated_at)}


def deadline(d: Deadline, now: datetime | None = None) -> dict:
    return {"id": d.id, "case_id": d.case_id, "kind": d.kind, "title": d.title, "note": d.note,
            "due_at": ts(d.due_at), "status": d.status, "clock": d.clock,
            "business_days": d.business_days, "paused": d.paused,
            "overdue": clocks.clock(d, now or utcnow()).overdue, "source": d.source,
            "source_id": d.source_id, "owner_id": d.owner_id, "met_at": ts(d.met_at),
            "closed_at": ts(d.closed_at), "closed_reason": d.closed_reason or "",
            "created_at": ts(d.created_at), "updated_at": ts(d.updated_at)}


def event(e: CaseEvent) -> dict:
    return {"id": e.id, "kind": e.kind, "occurred_at": ts(e.occurred_at), "actor_id": e.actor_id,
            "summary": e.summary, "data": e.data or {}}


def note(n: Note) -> dict:
    return {"id": n.id, "case_id": n.case_id, "author_id": n.author_id, "body": n.body,
            "created_at": ts(n.created_at), "edited_at": ts(n.edited_at)}


def poa_draft(d: PoaDraft) -> dict:
    return {"id": d.id, "case_id": d.case_id, "version": d.version, "subject": d.subject,
            "introduction": d.introduction, "root_cause": d.root_cause,
            "corrective_actions": list(d.corrective_actions or []),
            "preventive_measures": list(d.preventive_measures or []), "closure": d.closure,
            "created_at": ts(d.created_at), "author_id": d.author_id, "final": d.is_final,
            "submitted_at": ts(d.submitted_at)}


def submission(s: Submission, follow_up_due_at: datetime | None, evidence_ids: list[int],
               note: str | None = None) -> dict:
    return {"id": s.id, "case_id": s.case_id, "poa_draft_id": s.poa_draft_id, "evidence_ids": evidence_ids,
            "submitted_at": ts(s.submitted_at), "channel": s.channel,
            "amazon_reference": s.amazon_reference, "follow_up_due_at": ts(follow_up_due_at),
            "note": note, "created_at": ts(s.created_at), "recorded_by_id": s.recorded_by_id,
            "withdrawn_at": ts(s.withdrawn_at), "withdrawn_by_id": s.withdrawn_by_id}


def response(r: AmazonResponse) -> dict:
    return {"id": r.id, "submission_id": r.submission_id, "case_id": r.case_id,
            "received_at": ts(r.received_at), "outcome": r.outcome, "body": r.body,
            "created_at": ts(r.created_at), "recorded_by_id": r.recorded_by_id,
            "withdrawn_at": ts(r.withdrawn_at), "withdrawn_by_id": r.withdrawn_by_id}


def reminder(r: Reminder) -> dict:
    return {"id": r.id, "case_id": r.case_id, "submission_id": r.submission_id, "sequence": r.sequence,
            "due_at": ts(r.due_at), "status": r.status, "sent_at": ts(r.sent_at),
            "recipient": r.recipient or None}


def evidence(e) -> dict:
    return {"id": e.id, "case_id": e.case_id, "filename": e.filename, "size": e.size,
            "sha256": e.sha256, "content_type": e.content_type, "category": e.category,
            "description": e.description, "uploaded_at": ts(e.uploaded_at),
            "uploaded_by_id": e.uploaded_by_id, "source": e.source, "request_item_id": e.request_item_id}


def invitation(i: Invitation) -> dict:
    return {"id": i.id, "email": i.email, "name": i.name, "role": i.role,
            "created_at": ts(i.created_at), "expires_at": ts(i.expires_at)}


def document_request_item(i: DocumentRequestItem, files: list[Evidence]) -> dict:
    """`files`: the client's files of the item (requests.files_by_item)."""
    return {"id": i.id, "request_id": i.request_id, "kind": i.kind, "title": i.title,
            "instructions": i.instructions, "category": i.category, "status": i.status,
            "answer": i.answer, "reason": i.reason, "evidence_ids": [e.id for e in files],
            "updated_at": ts(i.updated_at), "decided_at": ts(i.decided_at)}


def document_request(r: DocumentRequest, files: dict[int, list[Evidence]]) -> dict:
    return {"id": r.id, "case_id": r.case_id, "status": r.status, "message": r.message,
            "due_at": ts(r.due_at), "deadline_id": r.deadline_id, "created_by_id": r.created_by_id,
            "created_at": ts(r.created_at), "closed_at": ts(r.closed_at),
            "items": [document_request_item(i, files.get(i.id, [])) for i in r.items]}


def inbound(m: InboundMessage) -> dict:
    return {"id": m.id, "received_at": ts(m.received_at), "from": m.from_address, "subject": m.subject,
            "case_id": m.case_id, "status": m.status, "message_id": m.message_id}


def search_hit(hit) -> dict:
    return {"type": hit.kind, "id": hit.object_id, "case_id": hit.case_id, "title": hit.heading,
            "snippet": hit.plain_snippet}
