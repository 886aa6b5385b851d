"""The demo data shows the client portal: a document request from a checklist with one item
the client sent (a PDF, evidence from the client) and one still requested; a POA version the
client approved."""
from __future__ import annotations

from sqlalchemy import select

from caseapp.extensions import db
from caseapp.models import Case, CaseEvent, Client, DocumentRequest, Evidence, PoaShare
from caseapp.services.evidence.files import get_storage
from caseapp.services.ops import demo


def test_the_demo_has_a_half_answered_document_request_and_an_approved_poa(app):
    assert demo.seed_if_empty() is not None
    (request,) = db.session.scalars(select(DocumentRequest)).all()
    case = db.session.get(Case, request.case_id)
    assert db.session.get(Client, case.client_id).name == "Maple & Pine Crafts" and case.waiting_on_client_since is not None
    assert request.status == "open"
    assert sorted((i.kind, i.status) for i in request.items) == [("answer", "requested"), ("file", "uploaded")]
    sent = next(i for i in request.items if i.kind == "file")
    (evidence,) = db.session.scalars(select(Evidence).where(Evidence.request_item_id == sent.id)).all()
    assert (evidence.source, evidence.content_type, evidence.case_id) == ("client", "application/pdf", case.id)
    with get_storage().open(evidence.sha256) as stored:
        data = stored.read()
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF") and b"Carrier report" in data
    assert db.session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                     CaseEvent.kind == "client_upload")) is not None

    (share,) = db.session.scalars(select(PoaShare)).all()
    assert share.status == "approved" and share.answered_at is not None
    assert db.session.get(Client, db.session.get(Case, share.case_id).client_id).name == "Kiefer Outdoor GmbH"


def test_the_demo_pdf_is_the_same_every_time():
    one = demo.demo_pdf("Title (one)", ["a line", "another"])
    assert one == demo.demo_pdf("Title (one)", ["a line", "another"])
    assert b"(Title \\(one\\)) Tj" in one
    offset = int(one.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert one[offset:offset + 4] == b"xref"  # a well-formed cross-reference table
