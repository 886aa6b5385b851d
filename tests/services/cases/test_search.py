"""Search everywhere finds a case by anything a consultant remembers of it, best first, with
the passage that matched, kept current as the text changes, never another agency's."""
from __future__ import annotations

from caseapp.extensions import db
from caseapp.models import Note, SearchDocument
from caseapp.services.appeals import submissions
from caseapp.services.cases import records, search
from caseapp.services.cases.clients import update_client
from caseapp.services.poa import drafts
from tests.conftest import make_case, make_client


def found(actor, query):
    return [(h.kind, h.case_id if h.kind != "client" else h.object_id) for h in search.search(actor, query)]


def test_a_case_is_found_by_title_asin_part_seller_id_reference_and_notice(world):
    actor, case = world.consultant_a, world.case_a
    records.update_case(actor, case.id, {"amazon_notice": "Your account was deactivated for counterfeit "
                                                          "complaints about the blender jars."})
    submissions.record_submission(actor, case.id, {"amazon_reference": "CASE-998877"})
    db.session.commit()

    assert ("case", case.id) in found(actor, "suspended")  # the title, "Account suspended"
    assert found(actor, "B07XJ8C8F5")[0] == ("case", case.id)  # the ASIN
    assert found(actor, "XJ8C8")[0] == ("case", case.id)  # a part of it
    assert found(actor, "CASE-998877")[0] == ("submission", case.id)  # Amazon's reference
    assert found(actor, "998877")[0] == ("submission", case.id)
    assert found(actor, "blender counterfeit")[0] == ("case", case.id)  # words of the notice, any order
    assert ("client", world.client_a.id) in found(actor, world.client_a.seller_id[:6])  # a seller ID's start
    assert found(actor, "harbor lane")[0] == ("client", world.client_a.id)
    assert found(actor, "deactivation")  # "deactivated" and "deactivation" share their stem
    assert found(actor, "nothing-like-this-9") == []


def test_the_snippet_shows_the_matched_words(world):
    actor = world.consultant_a
    records.add_note(actor, world.case_a.id, "Called the client: the supplier invoices from Shenzhen arrive Friday.")
    db.session.commit()
    [hit] = search.search(actor, "shenzhen invoices")
    assert hit.kind == "note" and hit.case_id == world.case_a.id
    assert search.START + "Shenzhen" + search.STOP in hit.snippet
    assert "supplier" in hit.plain_snippet and search.START not in hit.plain_snippet
    assert hit.heading == "Note · Account suspended"


def test_the_index_follows_edits_and_deletions_in_the_same_transaction(world):
    actor = world.consultant_a
    note = records.add_note(actor, world.case_a.id, "Waiting for the letter of authorization from Brandco.")
    db.session.commit()
    assert found(actor, "brandco") == [("note", world.case_a.id)]
    records.edit_note(actor, note.id, "Waiting for the licence from Acme Brands.")
    db.session.commit()
    assert found(actor, "brandco") == [] and found(actor, "acme") == [("note", world.case_a.id)]
    records.delete_note(actor, note.id)
    db.session.commit()
    assert found(actor, "acme") == []

    records.update_case(actor, world.case_a.id, {"asins": ["B0NEWASIN1"]})
    db.session.commit()
    assert found(actor, "B07XJ8C8F5") == [] and found(actor, "B0NEWASIN1") == [("case", world.case_a.id)]
    update_client(actor, world.client_a.id, {"name": "Juniper Outdoor Goods"})
    db.session.commit()
    assert found(actor, "juniper")[0] == ("client", world.client_a.id)

    # A rolled-back change leaves the index as it was.
    world.case_a.title = "Renamed but never saved"
    db.session.flush()
    db.session.rollback()
    assert found(actor, "renamed") == []


def test_poa_text_is_searched(world):
    actor = world.consultant_a
    drafts.save_version(actor, world.case_a.id, {"subject": "Appeal",
                                                 "root_cause": "Our warehouse lead shipped expired moisturiser lots."})
    db.session.commit()
    hits = search.search(actor, "moisturiser")
    assert hits and hits[0].kind == "poa" and hits[0].case_id == world.case_a.id
    assert hits[0].heading.startswith("POA version ")


def test_another_agencys_rows_are_never_found(world):
    theirs = make_client(world.admin_b, name="Harbor Lane Imports", seller_id="AHARBORB00001")
    make_case(world.admin_b, theirs, title="Account suspended for harbor reasons", asins=["B07XJ8C8F5"])
    db.session.commit()
    mine = found(world.consultant_a, "harbor")
    assert mine and all(case_or_client in (world.case_a.id, world.client_a.id) for _, case_or_client in mine)
    assert found(world.consultant_a, "AHARBORB") == []
    assert {k for k, _ in found(world.admin_b, "B07XJ8C8F5")} == {"case"}
    assert len(found(world.admin_b, "B07XJ8C8F5")) == 1


def test_hostile_queries_are_words_not_syntax(world):
    actor = world.consultant_a
    for query in ['"', "suspended OR", "NEAR(a b)", "title:x", "a*", "-", "%", "_", "\\", "' OR 1=1 --",
                  "x" * 5000, "()", "^", ":*", "!", "&|"]:
        search.search(actor, query)  # never an error
    assert search.search(actor, "   ") == []


def test_rebuild_indexes_what_was_inserted_around_the_orm(world):
    db.session.execute(db.delete(SearchDocument))
    db.session.commit()
    assert found(world.consultant_a, "suspended") == []
    from caseapp.models.search import rebuild

    rebuild(db.session.connection())
    db.session.commit()
    assert ("case", world.case_a.id) in found(world.consultant_a, "suspended")
    assert db.session.query(Note).count() == 0


def test_a_title_word_english_would_stem_is_found_by_itself(world):
    actor = world.consultant_a
    for title in ("Beauty supply listing", "Happy jewelry store"):
        make_case(actor, world.client_a, title=title)
    db.session.commit()
    for word in ("beauty", "supply", "happy", "jewelry"):
        assert [k for k, _ in found(actor, word)] == ["case"], word


def test_a_long_number_is_no_case_and_no_error(world):
    assert search.search(world.consultant_a, "999999999999") == []
    assert search.search(world.consultant_a, "#99999999999999999999") == []


def test_removing_every_asin_takes_them_out_of_the_index(world):
    actor = world.consultant_a
    records.update_case(actor, world.case_a.id, {"asins": []})
    db.session.commit()
    assert found(actor, "B07XJ8C8F5") == []


def test_a_word_in_many_rows_answers_the_newest_first(world):
    actor = world.consultant_a
    made = [make_case(actor, world.client_a, title=f"Teapot case {n}") for n in range(6)]
    db.session.commit()
    hits = search.search(actor, "teapot", limit=3)
    assert [h.case_id for h in hits] == [c.id for c in reversed(made[-3:])]


def test_the_snippet_is_made_from_the_text_around_the_first_match():
    body = " ".join(f"w{n}" for n in range(40)) + " the Shenzhen invoices " + " ".join(f"x{n}" for n in range(40))
    snippet = search.snippet_of(body, ["shenz", "invoice"])
    assert f"{search.START}Shenzhen{search.STOP} {search.START}invoices{search.STOP}" in snippet
    assert snippet.startswith("…") and snippet.endswith("…") and len(snippet.split()) <= search.SNIPPET_WORDS + 1
    assert search.snippet_of("Deactivation notice", ["deactivated"]) == "Deactivation notice"  # a stem: the start
    assert search.snippet_of("", ["x"]) == ""
