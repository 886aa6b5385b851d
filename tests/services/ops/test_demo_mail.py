"""The demo shows email in at work: Amazon's mail proposed on its case, a client's mail filed
with its PDF, a stray message waiting in the triage inbox."""
from caseapp.extensions import db
from caseapp.models import Case, Evidence, InboundMessage
from caseapp.services.ops import demo


def test_the_demo_mail_lands_where_a_consultant_would_look(app):
    assert demo.seed_if_empty() is not None
    rows = {row.message_id: row for row in db.session.scalars(db.select(InboundMessage))}
    amazon = rows["<amazon-1@demo.example>"]
    assert amazon.status == "matched" and amazon.matched_by == "asin" and amazon.proposal == "proposed"
    assert amazon.proposed_outcome == "more_info_requested"
    assert db.session.get(Case, amazon.case_id).amazon_wrote_at is not None
    dana = rows["<dana-1@demo.example>"]
    assert dana.status == "matched" and dana.sender_role == "client"
    assert db.session.query(Evidence).filter_by(inbound_message_id=dana.id).count() == 1
    assert rows["<stray-1@demo.example>"].status == "unmatched"
