"""Mail that reaches caseapp lands on its case: by the case's address, the subject tag, a
reply to our mail, or what it names; otherwise in the triage inbox. Amazon's mail proposes
its reply, which one confirmation records."""
from __future__ import annotations

import pytest

from caseapp.core import mailtags
from caseapp.core.errors import Conflict, NotFound
from caseapp.extensions import db
from caseapp.core.transaction import transaction
from caseapp.models import AmazonResponse, Case, CaseEvent, Evidence, InboundMessage, utcnow
from caseapp.services.mail import outbox
from caseapp.services.cases import records
from caseapp.services.inbound import amazon, filing
from tests.conftest import make_case, make_client
from tests.services.inbound.conftest import PDF, mail


def ours(world):
    """Agency A's own inbound address: two agencies share the test database."""
    return mailtags.agency_address(world.agency_a.id)


def events(case, kind):
    return list(db.session.scalars(db.select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == kind)))


def test_an_amazon_reply_to_the_case_address_is_filed_with_its_pdf_and_proposed(world, submitted):
    case = world.case_a
    raw = mail(to=mailtags.case_address(case.id), subject="Re: Your Account Health appeal",
               text="Hello,\n\nWe have reviewed your appeal and your account has been reinstated.\n",
               attachments=[("decision.pdf", PDF, "application/pdf")])
    got = filing.receive(raw)
    row = got.message
    assert not got.duplicate and row.status == "matched" and row.case_id == case.id
    assert row.matched_by == "address" and row.sender_role == "amazon"
    assert row.proposal == "proposed" and row.proposed_outcome == "reinstated"
    assert row.proposed_submission_id == submitted.id
    [event] = events(case, "email_received")
    assert row.event_id == event.id
    assert event.summary == "Email from Amazon: Re: Your Account Health appeal"
    [pdf] = db.session.scalars(db.select(Evidence).where(Evidence.case_id == case.id)).all()
    assert pdf.source == "email" and pdf.inbound_message_id == row.id and pdf.filename == "decision.pdf"
    assert db.session.get(Case, case.id).amazon_wrote_at is not None

    again = filing.receive(raw, source="imap")  # the same mail by the other way in
    assert again.duplicate and again.message.id == row.id
    assert db.session.query(InboundMessage).count() == 1 and len(events(case, "email_received")) == 1

    response = amazon.confirm(world.consultant_a, row.id)
    assert response.outcome == "reinstated" and response.submission_id == submitted.id
    db.session.expire_all()
    assert db.session.get(Case, case.id).status == "reinstated"
    assert db.session.get(Case, case.id).amazon_wrote_at is None
    assert db.session.get(InboundMessage, row.id).proposal == "confirmed"
    with pytest.raises(Conflict):
        amazon.confirm(world.consultant_a, row.id)


def test_a_reply_to_our_mail_finds_its_case_by_subject_tag_or_thread(world, submitted):
    case = world.case_a
    tagged = filing.receive(mail(subject=f"Re: Follow up {mailtags.subject_tag(case.id)}", message_id="<a@x>",
                                 sender="owner@harbor-lane.example", text="Here you go"))
    assert tagged.message.case_id == case.id and tagged.message.matched_by == "subject"
    assert tagged.message.sender_role == "client" and tagged.message.proposal is None
    with transaction():
        sent = outbox.queue("reminder", "carl@agency-a.example", "Follow up with Amazon", "text", "<p>html</p>",
                            key=f"test:followup:{case.id}", agency_id=case.agency_id, send_after=utcnow(),
                            case_id=case.id)
    assert sent.subject == f"Follow up with Amazon {mailtags.subject_tag(case.id)}"
    threaded = filing.receive(mail(subject="Re: something", message_id="<b@x>",
                                   headers={"In-Reply-To": f"<{sent.message_ref}@caseapp.example>"}))
    assert threaded.message.case_id == case.id and threaded.message.matched_by == "thread"


def test_a_made_up_tag_or_reference_finds_no_case(world, submitted):
    case = world.case_a
    forged = filing.receive(mail(subject=f"[Case {case.id}-aaaaaaaa] hello", message_id="<f1@x>",
                                 to=mailtags.agency_address(world.agency_a.id),
                                 sender="stranger@example.net", text="nothing else",
                                 headers={"References": f"<test.followup.{case.id}@caseapp.example>"}))
    assert forged.message.case_id is None and forged.message.status == "unmatched"
    assert forged.message.agency_id == world.agency_a.id


def test_mail_no_agency_can_be_told_is_refused_with_the_reason(world):
    row = filing.receive(mail(message_id="<r1@x>", sender="stranger@example.net", text="hello")).message
    assert row.status == "refused" and row.agency_id is None
    assert "No agency could be told from the addresses or the sender." in row.flags


def test_the_text_names_one_case_by_reference_asin_or_seller_id(world, submitted):
    by_reference = filing.receive(mail(message_id="<t1@x>", sender="someone@example.net", to=ours(world),
                                       text="About CASE-998877: we looked again."))
    assert by_reference.message.case_id == world.case_a.id
    assert by_reference.message.matched_by == "amazon_reference"
    by_asin = filing.receive(mail(message_id="<t2@x>", sender="someone@example.net", to=ours(world),
                                  text="The listing B07XJ8C8F5 is active again."))
    assert by_asin.message.matched_by == "asin"
    make_case(world.consultant_a, make_client(world.consultant_a, name="Other"), asins=["B07XJ8C8F5"])
    two = filing.receive(mail(message_id="<t3@x>", sender="someone@example.net", to=ours(world),
                              text="The listing B07XJ8C8F5 is active again."))
    assert two.message.status == "unmatched"
    assert "The ASIN is on 2 cases; file it by hand." in two.message.flags


def test_unmatched_mail_waits_for_a_person_who_files_or_discards_it(world, submitted):
    lost = filing.receive(mail(message_id="<u1@x>", sender="someone@example.net", to=ours(world), text="Hi there",
                               attachments=[("scan.pdf", PDF + b"1", "application/pdf")]))
    assert lost.message.status == "unmatched" and lost.message.agency_id == world.agency_a.id
    assert [m.id for m in filing.list_messages(world.consultant_a, "unmatched")] == [lost.message.id]
    assert filing.list_messages(world.consultant_b) == []
    with pytest.raises(NotFound):
        filing.file_to_case(world.consultant_b, lost.message.id, world.case_a.id)
    filed = filing.file_to_case(world.consultant_a, lost.message.id, world.case_a.id)
    assert filed.status == "matched" and filed.matched_by == "person" and filed.filed_by_id == world.consultant_a.id
    assert db.session.query(Evidence).filter_by(inbound_message_id=filed.id).count() == 1
    other = filing.receive(mail(message_id="<u2@x>", sender="someone@example.net", to=ours(world), text="Spam"))
    assert filing.discard(world.consultant_a, other.message.id).status == "discarded"
    with pytest.raises(Conflict):
        filing.discard(world.consultant_a, filed.id)


def test_a_dismissed_proposal_records_nothing(world, submitted):
    row = filing.receive(mail(to=mailtags.case_address(world.case_a.id), message_id="<n1@amazon.com>",
                              text="Our newsletter: selling tips for December.")).message
    assert row.proposed_outcome == "other"
    amazon.dismiss(world.consultant_a, row.id)
    assert db.session.query(AmazonResponse).count() == 0
    assert db.session.get(Case, world.case_a.id).amazon_wrote_at is None


@pytest.mark.parametrize("raw", [
    b"", b"\x00\xff\xfe garbage", b"Subject: =?bogus?Q?x?=\r\nFrom: \xff\xfe@\r\n\r\nbody \xff",
    b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain; charset=klingon\r\n\r\nhi\r\n",
    b"Content-Type: text/html\r\nMessage-ID: <h@x>\r\n\r\n<script>alert(1)</script><p>Hello <b>there</b></p>",
])
def test_hostile_mail_is_kept_and_never_raises(world, raw):
    row = filing.receive(raw).message
    assert row.id is not None and row.status in ("unmatched", "refused")
    assert "<script" not in row.body_html and "alert" not in row.full_text


def test_a_tag_of_lookalike_letters_names_no_case_and_does_not_break_the_pipe(world):
    row = filing.receive(mail(to=ours(world), message_id="<s1@x>", sender="x@example.net",
                              subject="[Case 1-\u017f\u017f\u017f\u017f\u017f\u017f\u017f\u017f] hi")).message
    assert row.status == "unmatched" and row.case_id is None


def test_control_characters_and_python_codecs_in_mail_are_kept_harmlessly(world):
    nul = filing.receive(mail(to=ours(world), message_id="<c1@x>", subject="a\x00b",
                              sender="x@example.net")).message
    assert nul.status == "unmatched" and "\x00" not in nul.subject
    raw = (b"From: x@example.net\r\nTo: " + ours(world).encode() + b"\r\nMessage-ID: <c2@x>\r\n"
           b"Content-Type: text/html; charset=unicode_escape\r\n\r\n<p>a \\ud800 b</p>")
    odd = filing.receive(raw).message
    assert odd.status == "unmatched" and "\\ud800" in odd.full_text
    assert any("unknown charset" in flag for flag in odd.flags)


def test_html_of_unclosed_tags_costs_linear_time():
    from caseapp.services.inbound import parsing
    from tests.cost import LINEAR_RATIO, growth

    for unit in ("<head ", "<br ", "<script ", "<p"):
        ratio = growth(lambda n: unit * (n // len(unit)), parsing.html_to_text, 2_000)  # in the caches
        assert ratio < LINEAR_RATIO, f"{unit!r}: 4x the HTML cost {ratio:.1f}x"


def test_the_same_mail_to_two_agencies_reaches_both(world):
    a = filing.receive(mail(to=ours(world), message_id="<both@seller.example>", sender="x@example.net")).message
    b = filing.receive(mail(to=mailtags.agency_address(world.agency_b.id), message_id="<both@seller.example>",
                            sender="x@example.net")).message
    assert a.id != b.id and {a.agency_id, b.agency_id} == {world.agency_a.id, world.agency_b.id}
    assert filing.receive(mail(to=ours(world), message_id="<both@seller.example>",
                               sender="x@example.net")).duplicate


def test_mail_without_a_message_id_is_one_message_by_pipe_and_mailbox(world):
    raw = mail(to=mailtags.case_address(world.case_a.id), sender="owner@seller.example", message_id=None)
    first = filing.receive(raw, source="pipe")
    again = filing.receive(b"Received: from mx by imap.example; Wed, 2 Dec 2026 01:00:00 +0000\r\n" + raw,
                           source="imap")
    assert again.duplicate and again.message.id == first.message.id


def test_a_storage_failure_is_a_try_again_and_the_next_copy_stores_the_file(world, monkeypatch):
    from caseapp.services.evidence import files as evidence_files

    raw = mail(to=mailtags.case_address(world.case_a.id), sender="owner@seller.example", message_id="<d1@x>",
               attachments=[("invoice.pdf", PDF, "application/pdf")])
    real = evidence_files.store

    def full_disk(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(evidence_files, "store", full_disk)
    with pytest.raises(filing.StorageUnavailable):
        filing.receive(raw)
    monkeypatch.setattr(evidence_files, "store", real)
    again = filing.receive(raw)
    assert again.duplicate and again.message.attachments_done
    assert db.session.query(Evidence).filter_by(inbound_message_id=again.message.id).count() == 1
    assert len(events(world.case_a, "email_received")) == 1


def test_a_colleague_forwarding_amazons_mail_gets_the_proposal(world, submitted):
    text = ("FYI\n\n---------- Forwarded message ---------\n"
            "From: Seller Performance <seller-performance@amazon.com>\nSubject: Your appeal\n\n"
            "We have reviewed your appeal. Your account has been reinstated.\n")
    row = filing.receive(mail(to=mailtags.case_address(world.case_a.id), sender=world.consultant_a.email,
                              message_id="<fw1@x>", subject="Fwd: Your appeal", text=text)).message
    assert row.sender_role == "staff" and row.proposal == "proposed"
    assert row.proposed_submission_id == submitted.id
    assert events(world.case_a, "email_received")[0].summary.startswith(
        "Email from a colleague (forwarded from Amazon)")


def test_amazon_mail_that_fails_the_servers_check_proposes_nothing(app, world, submitted):
    to = mailtags.case_address(world.case_a.id)
    failed = filing.receive(mail(to=to, message_id="<v1@x>", text="Your account has been reinstated.", headers={
        "Authentication-Results": "mx.agency.example; dmarc=fail header.from=amazon.com"})).message
    assert failed.proposal is None and any("failed this mail server's signature check" in f for f in failed.flags)
    app.config["INBOUND_AUTHSERV_ID"] = "mx.agency.example"
    try:
        passed = filing.receive(mail(to=to, message_id="<v2@x>", text="Your account has been reinstated.", headers={
            "Authentication-Results": "mx.agency.example; dkim=pass header.d=amazon.com; dmarc=pass "
                                      "header.from=amazon.com"})).message
    finally:
        app.config["INBOUND_AUTHSERV_ID"] = ""
    assert passed.proposal == "proposed" and not any("not verified" in f for f in passed.flags)
    unverified = filing.receive(mail(to=to, message_id="<v3@x>", text="Your account has been reinstated.")).message
    assert unverified.proposal == "proposed" and any("not verified" in f for f in unverified.flags)


@pytest.mark.parametrize("name", ["INBOUND_FETCH_SECONDS", "INBOUND_MAX_MB"])
def test_a_setting_of_zero_stops_the_app_with_a_sentence(app, name):
    from config import Config

    assert f"{name} must be at least 1, not 0." in Config.problems(dict(app.config, **{name: 0}))


def test_a_case_moved_to_another_client_no_longer_takes_the_first_clients_mail(world, submitted):
    case = world.case_a
    with transaction():
        sent = outbox.queue("portal", "owner@harbor-lane.example", "Documents we need", "text", "<p>html</p>",
                            key=f"test:portal:{case.id}", agency_id=case.agency_id, send_after=utcnow(),
                            case_id=case.id)
    newcomer = make_client(world.consultant_a, name="Juniper Outdoor", contact_email="ops@juniper.example")
    records.update_case(world.consultant_a, case.id, {"client_id": newcomer.id})
    db.session.commit()

    by_address = filing.receive(mail(to=mailtags.case_address(case.id), sender="owner@harbor-lane.example",
                                     message_id="<old1@x>", text="Our invoices"))
    by_thread = filing.receive(mail(subject="Re: Documents we need", sender="assistant@harbor-lane.example",
                                    message_id="<old2@x>", headers={"In-Reply-To": f"<{sent.message_ref}@x>"}))
    for got in (by_address, by_thread):
        assert got.message.status == "unmatched" and got.message.case_id is None
        assert "the address of Harbor Lane Home Goods, another client of the agency" in " ".join(got.message.flags)
    assert events(case, "email_received") == []

    own = filing.receive(mail(to=mailtags.case_address(case.id), sender="ops@juniper.example",
                              message_id="<new1@x>", text="Here is our letter"))
    assert own.message.case_id == case.id and own.message.sender_role == "client"
    colleague = filing.receive(mail(subject=f"Fwd: {mailtags.subject_tag(case.id)}", sender="consultant@agency-a.example",
                                    message_id="<new2@x>", headers={"In-Reply-To": f"<{sent.message_ref}@x>"}))
    assert colleague.message.case_id == case.id
