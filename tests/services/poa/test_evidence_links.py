"""POA evidence: which files back a version (links, copying them to a new version, the
export index) and the bundle of every file with the POA text."""
from __future__ import annotations

import io
import zipfile

import pytest

from caseapp.extensions import db
from caseapp.models import PoaDraft, PoaEvidenceLink, utcnow
from caseapp.services.poa import bundle as poa_bundle
from caseapp.services.poa import drafts
from caseapp.services.poa import links as poa_links
from caseapp.core.errors import Conflict, NotFound, ValidationFailed
from tests.conftest import make_case, make_client
from tests.services.evidence.test_files import PDF, PNG, TEXT, upload


# ---------------------------------------------------------------- links, index and export

@pytest.fixture
def draft(world):
    started = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    return drafts.save_version(world.consultant_a, world.case_a.id, {
        **drafts.content_of(started).as_dict(),
        "corrective_actions": ["Removed the listing.", "Switched to an authorised supplier.",
                               "Refunded every complaining buyer."]})


def test_the_index_lists_every_file_in_upload_order_until_some_are_linked(world, draft):
    upload(world, PDF, "invoice.pdf", description="Acme invoice")
    upload(world, PNG, "listing.png")
    assert drafts.evidence_count(world.case_a) == 2
    assert drafts.evidence_index(world.case_a) == [("invoice.pdf", "Acme invoice"), ("listing.png", "")]
    assert drafts.evidence_index(world.case_a, draft) == drafts.evidence_index(world.case_a)


def test_linked_files_say_which_action_they_back(world, draft):
    invoice = upload(world, PDF, "invoice.pdf", description="Acme invoice")
    upload(world, PNG, "unrelated.png")
    letter = upload(world, TEXT, "letter.txt")
    poa_links.link(world.consultant_a, draft.id, letter.id)
    poa_links.link(world.consultant_a, draft.id, invoice.id, "1")
    assert drafts.evidence_index(world.case_a, draft) == [
        ("invoice.pdf", "Acme invoice (supports corrective action 2)"),
        ("letter.txt", ""),
    ]
    data, _, _ = drafts.export(world.consultant_a, draft.id, "txt", with_evidence=True)
    assert data.decode().endswith(
        "Evidence enclosed\n1. invoice.pdf \u2013 Acme invoice (supports corrective action 2)\n"
        "2. letter.txt\n")


def test_linking_again_moves_the_link_and_unlink_removes_it(world, draft):
    row = upload(world)
    poa_links.link(world.consultant_a, draft.id, row.id, 0)
    poa_links.link(world.consultant_a, draft.id, row.id, 2)
    assert [(l.evidence_id, l.action_index) for l in poa_links.for_draft(world.consultant_a, draft.id).links] == [(row.id, 2)]
    poa_links.unlink(world.consultant_a, draft.id, row.id)
    assert poa_links.for_draft(world.consultant_a, draft.id).links == []
    with pytest.raises(NotFound):
        poa_links.unlink(world.consultant_a, draft.id, row.id)


@pytest.mark.parametrize("action", ["3", "-1", "first", 1.5, True])
def test_an_action_that_does_not_exist_is_refused(world, draft, action):
    row = upload(world)
    with pytest.raises(ValidationFailed) as refused:
        poa_links.link(world.consultant_a, draft.id, row.id, action)
    assert "action_index" in refused.value.fields
    assert db.session.scalars(db.select(PoaEvidenceLink)).all() == []


def test_a_file_of_another_case_or_agency_cannot_be_linked(world, draft):
    other_case = make_case(world.consultant_a, world.client_a, title="Second case")
    row = upload(world, case=other_case)
    with pytest.raises(ValidationFailed) as refused:
        poa_links.link(world.consultant_a, draft.id, row.id)
    assert refused.value.fields == {"evidence_id": "That file belongs to another case."}
    with pytest.raises(NotFound):
        poa_links.link(world.admin_b, draft.id, row.id)
    for bad in ("", "abc", None, 999999, "-1", str(2**70), 1.5):
        with pytest.raises(ValidationFailed):
            poa_links.link(world.consultant_a, draft.id, bad)


def test_a_version_sent_to_amazon_keeps_its_links(world, draft):
    row = upload(world)
    poa_links.link(world.consultant_a, draft.id, row.id)
    db.session.execute(db.update(PoaDraft).where(PoaDraft.id == draft.id).values(submitted_at=utcnow()))
    db.session.commit()
    with pytest.raises(Conflict):
        poa_links.unlink(world.consultant_a, draft.id, row.id)
    with pytest.raises(Conflict):
        poa_links.link(world.consultant_a, draft.id, row.id, 1)
    assert [l.action_index for l in poa_links.for_draft(world.consultant_a, draft.id).links] == [None]


def test_links_are_copied_to_a_new_version_following_the_action_text(world, draft):
    moved, kept, whole = upload(world, PDF, "a.pdf"), upload(world, PNG, "b.png"), upload(world, TEXT, "c.txt")
    poa_links.link(world.consultant_a, draft.id, moved.id, 1)  # "Switched to an authorised supplier."
    poa_links.link(world.consultant_a, draft.id, kept.id, 2)   # reworded below: keeps position 3
    poa_links.link(world.consultant_a, draft.id, whole.id)
    newer = drafts.save_version(world.consultant_a, world.case_a.id, {
        **drafts.content_of(draft).as_dict(),
        "corrective_actions": ["Switched to an authorised supplier.", "Removed the listing.",
                               "Refunded all buyers who complained."]})
    panel = poa_links.for_draft(world.consultant_a, newer.id)
    assert panel.links == [] and panel.copy_from.id == draft.id
    assert poa_links.copy_links(world.consultant_a, newer.id) == 3
    copied = {l.evidence_id: l.action_index for l in poa_links.for_draft(world.consultant_a, newer.id).links}
    assert copied == {moved.id: 0, kept.id: 2, whole.id: None}
    assert poa_links.for_draft(world.consultant_a, newer.id).copy_from is None
    with pytest.raises(Conflict):
        poa_links.copy_links(world.consultant_a, draft.id)  # v2 has no earlier version with links


def test_uploaded_evidence_satisfies_the_review(world, draft):
    def codes():
        return {f.code for f in drafts.review(world.consultant_a, draft.id)}

    with_invoices = drafts.save_version(world.consultant_a, world.case_a.id, {
        **drafts.content_of(draft).as_dict(),
        "corrective_actions": ["Attached the supplier invoices for every unit sold."]})
    draft = with_invoices
    assert "evidence_missing" in codes()
    upload(world)
    assert "evidence_missing" not in codes()


# ---------------------------------------------------------------- bundle

def open_bundle(result) -> zipfile.ZipFile:
    data = result.file.read()
    result.file.close()
    return zipfile.ZipFile(io.BytesIO(data))


def test_bundle_holds_the_files_the_final_version_links_and_all_of_them_on_request(world, draft):
    invoice = upload(world, PDF, "invoice.pdf", description="Acme invoice")
    upload(world, PNG, "listing.png")
    duplicate_name = upload(world, TEXT, "Invoice.PDF")
    poa_links.link(world.consultant_a, draft.id, invoice.id, 1)
    drafts.mark_final(world.consultant_a, draft.id, accept_errors=True)
    drafts.save_version(world.consultant_a, world.case_a.id, {**drafts.content_of(draft).as_dict(),
                                                          "closure": "A later, not final, version."})
    result = poa_bundle.bundle(world.consultant_a, world.case_a.id)
    assert result.filename == f"Evidence-Harbor-Lane-Home-Goods-case{world.case_a.id}.zip"
    archive = open_bundle(result)
    poa_name = f"POA-Harbor-Lane-Home-Goods-case{world.case_a.id}-v{draft.version}.txt"
    # The POA lists one file, so the bundle holds that one: what the appeal says it encloses.
    assert archive.namelist() == [poa_name, "evidence/invoice.pdf"]
    assert archive.read("evidence/invoice.pdf") == PDF
    assert archive.testzip() is None
    text = archive.read(poa_name).decode("utf-8")
    assert text == drafts.export(world.consultant_a, draft.id, "txt", with_evidence=True)[0].decode()
    assert "Switched to an authorised supplier." in text
    assert "A later, not final, version." not in text
    assert text.endswith("1. invoice.pdf \u2013 Acme invoice (supports corrective action 2)\n")

    everything = open_bundle(poa_bundle.bundle(world.consultant_a, world.case_a.id, all_files=True))
    assert everything.namelist() == [poa_name, "evidence/invoice.pdf", "evidence/listing.png",
                                     "evidence/Invoice (2).PDF"]
    assert everything.read("evidence/listing.png") == PNG
    assert everything.read("evidence/Invoice (2).PDF") == TEXT
    assert everything.read(poa_name).decode("utf-8") == text  # the POA still lists what it links
    assert duplicate_name.filename == "Invoice.PDF"


def test_bundle_uses_the_latest_version_when_none_is_final_and_zip_names_match_the_list(world, draft):
    upload(world, PDF, "invoice.pdf")
    upload(world, PDF + b"\n", "invoice.pdf", description="the same invoice again")  # other bytes
    archive = open_bundle(poa_bundle.bundle(world.consultant_a, world.case_a.id))
    poa_name = f"POA-Harbor-Lane-Home-Goods-case{world.case_a.id}-v{draft.version}.txt"
    text = archive.read(poa_name).decode()
    assert text.endswith("1. invoice.pdf\n2. invoice (2).pdf \u2013 the same invoice again\n")
    assert archive.read("evidence/invoice (2).pdf") == PDF + b"\n"


def test_bundle_without_a_poa_has_only_the_files(world):
    upload(world, PNG, "listing.png")
    assert open_bundle(poa_bundle.bundle(world.consultant_a, world.case_a.id)).namelist() == ["evidence/listing.png"]


def test_an_empty_case_has_nothing_to_bundle(world):
    with pytest.raises(Conflict):
        poa_bundle.bundle(world.consultant_a, world.case_a.id)


def test_bundle_name_is_ascii_for_any_client_name(world):
    client = make_client(world.consultant_a, name="Müller & Söhne  GmbH")
    case = make_case(world.consultant_a, client)
    upload(world, PNG, case=case)
    result = poa_bundle.bundle(world.consultant_a, case.id)
    result.file.close()
    assert result.filename == f"Evidence-Muller-Sohne-GmbH-case{case.id}.zip"
