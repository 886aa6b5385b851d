"""The POA service: versions per case, validation of a body of sections, the final mark,
the review with the case's facts, the timeline entries, and exports by name."""
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from caseapp.extensions import db
from caseapp.models import CaseEvent, PoaDraft
from caseapp.services.poa import drafts
from caseapp.core.errors import Conflict, NotFound, ValidationFailed
from caseapp.services.poa.content import SECTION_KEYS
from tests.conftest import make_case, make_client

ASIN = "B09K3LMN7Q"


def body(**overrides):
    """A complete, specific POA for a listing deactivation of ASIN B09K3LMN7Q."""
    data = {
        "subject": f"Plan of Action: deactivated listing, ASIN {ASIN} (Harbor Lane Home Goods)",
        "introduction": f"On 3 March 2026 our listing for ASIN {ASIN} was deactivated after a trademark "
                        "complaint. We used a protected brand name without permission and accept responsibility.",
        "root_cause": "Our catalogue assistant copied the title and two photos from a wholesale product sheet "
                      "that showed the brand. Our listing process had no step that checked brand names or image "
                      "rights before a listing went live, so the name was published unchecked.",
        "corrective_actions": [f"Removed the brand name from the title of ASIN {ASIN} on 4 March 2026.",
                               "Replaced both disputed photos with our own on 5 March 2026."],
        "preventive_measures": ["Our catalogue lead checks every new title against the trademark register."],
        "closure": "Thank you for your review.\n\nDana Reyes, Catalogue Lead",
    }
    data.update(overrides)
    return data


def events(case_id, kinds=("poa_created", "poa_version", "poa_final")):
    return db.session.scalars(
        db.select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind.in_(kinds))
        .order_by(CaseEvent.id)).all()


@pytest.fixture
def listing_case(world):
    return make_case(world.consultant_a, world.client_a, title="Listing deactivated",
                     kind="listing_deactivation", reason="intellectual_property", asins=[ASIN])


# ---------------------------------------------------------------- versions

def test_versions_are_numbered_per_case(world, listing_case):
    c = world.consultant_a
    first = drafts.start_from_starter(c, world.case_a.id)
    other = drafts.start_from_starter(c, listing_case.id)
    second = drafts.save_version(c, world.case_a.id, body())
    third = drafts.start_from_starter(c, world.case_a.id)  # starting again is one more version
    assert (first.version, second.version, third.version) == (1, 2, 3)
    assert other.version == 1
    assert [d.version for d in drafts.versions(c, world.case_a.id)] == [3, 2, 1]
    assert drafts.latest(c, listing_case.id).id == other.id
    assert drafts.latest(c, make_case(c, world.client_a, title="Fresh").id) is None


def test_saving_adds_a_version_and_never_rewrites_one(world):
    c = world.consultant_a
    v1 = drafts.start_from_starter(c, world.case_a.id)
    before = {key: getattr(v1, key) for key in SECTION_KEYS}
    v2 = drafts.save_version(c, world.case_a.id, body())
    db.session.expire_all()
    v1 = db.session.get(PoaDraft, v1.id)
    assert {key: getattr(v1, key) for key in SECTION_KEYS} == before
    assert v2.id != v1.id and v2.root_cause == body()["root_cause"]
    assert v2.author_id == c.id


def test_starter_is_filled_with_the_case_facts(world, listing_case):
    draft = drafts.start_from_starter(world.consultant_a, listing_case.id)
    assert ASIN in draft.subject and "Harbor Lane Home Goods" in draft.subject
    assert "seller ID A1B2C3D4E5F6G7" in draft.introduction
    assert any(ASIN in item for item in draft.corrective_actions)
    assert "[" in draft.root_cause  # blanks only the consultant can fill stay marked


def test_starter_dates_the_notice_in_the_consultants_zone(world):
    # The case form reads "3 March" as midnight in Berlin, which is 2 March in UTC.
    opened = datetime.combine(date(2026, 3, 3), time(0, 0), ZoneInfo("Europe/Berlin"))
    case = make_case(world.consultant_a, world.client_a, title="Dated", opened_at=opened)
    draft = drafts.start_from_starter(world.consultant_a, case.id)
    assert draft.introduction.startswith("On 3 March 2026 ")


# ---------------------------------------------------------------- clean_content

def test_clean_content_lists_every_bad_field_at_once():
    with pytest.raises(ValidationFailed) as error:
        drafts.clean_content(body(
            subject="x" * (drafts.MAX_SUBJECT_CHARS + 1),
            root_cause=42,
            corrective_actions=[f"Action {n}" for n in range(drafts.MAX_LIST_ITEMS + 1)],
            preventive_measures=["fine", 7],
            closure=["not", "text"],
        ))
    fields = error.value.fields
    assert set(fields) == {"subject", "root_cause", "corrective_actions", "preventive_measures", "closure"}
    assert fields["subject"] == "At most 3,000 characters."
    assert fields["root_cause"] == "Must be text."
    assert fields["corrective_actions"] == "At most 30 items."
    assert fields["preventive_measures"] == "Must be a list of texts."
    assert "introduction" not in fields


def test_clean_content_refuses_an_overlong_list_item():
    with pytest.raises(ValidationFailed) as error:
        drafts.clean_content(body(corrective_actions=["y" * (drafts.MAX_ITEM_CHARS + 1)]))
    assert set(error.value.fields) == {"corrective_actions"}


def test_clean_content_takes_lists_as_lines_and_trims():
    content = drafts.clean_content(body(
        subject="  Subject with spaces  ",
        corrective_actions="Removed the title.\r\n\r\n  Replaced the photos.  \n",
        preventive_measures=["  Checks every title.", "", "   "],
        closure="Thanks.\r\n\r\nDana",
        introduction=None,
    ))
    assert content.subject == "Subject with spaces"
    assert content.corrective_actions == ("Removed the title.", "Replaced the photos.")
    assert content.preventive_measures == ("Checks every title.",)
    assert content.closure == "Thanks.\n\nDana"  # browsers send CRLF; stored as "\n"
    assert content.introduction == ""


def test_a_list_of_exactly_the_maximum_is_accepted():
    items = [f"Action {n}" for n in range(drafts.MAX_LIST_ITEMS)]
    assert len(drafts.clean_content(body(corrective_actions=items)).corrective_actions) == drafts.MAX_LIST_ITEMS


@pytest.mark.parametrize("key,limit,message", [
    ("subject", drafts.MAX_SUBJECT_CHARS, "At most 3,000 characters."),
    ("introduction", drafts.MAX_SECTION_CHARS, "At most 10,000 characters."),
    ("root_cause", drafts.MAX_SECTION_CHARS, "At most 10,000 characters."),
    ("closure", drafts.MAX_SECTION_CHARS, "At most 10,000 characters."),
])
def test_each_text_section_takes_up_to_its_limit(key, limit, message):
    assert len(getattr(drafts.clean_content(body(**{key: "x" * limit})), key)) == limit
    with pytest.raises(ValidationFailed) as error:
        drafts.clean_content(body(**{key: "x" * (limit + 1)}))
    assert error.value.fields == {key: message}


def test_a_length_is_counted_as_sent_as_the_api_document_says():
    # maxLength in the OpenAPI document: what is sent, spaces and CRLF line breaks included.
    with pytest.raises(ValidationFailed) as error:
        drafts.clean_content(body(root_cause=" " + "x" * drafts.MAX_SECTION_CHARS))
    assert error.value.fields == {"root_cause": "At most 10,000 characters."}
    with pytest.raises(ValidationFailed):
        drafts.clean_content(body(corrective_actions=["y" * drafts.MAX_ITEM_CHARS + " "]))
    stored = drafts.clean_content(body(closure="Thanks.\r\n\r\nDana"))
    assert stored.closure == "Thanks.\n\nDana"


def test_a_section_takes_up_to_its_number_of_lines():
    lines = ["Thank you."] * drafts.MAX_SECTION_LINES
    assert drafts.clean_content(body(closure="\n".join(lines))).closure.count("\n") == drafts.MAX_SECTION_LINES - 1
    with pytest.raises(ValidationFailed) as error:
        drafts.clean_content(body(closure="\n".join(lines + ["Dana"])))
    assert error.value.fields == {"closure": "At most 100 lines."}


def test_a_list_item_takes_up_to_its_length_and_lines():
    assert drafts.clean_content(body(corrective_actions=["y" * drafts.MAX_ITEM_CHARS])).corrective_actions
    with pytest.raises(ValidationFailed) as error:
        drafts.clean_content(body(preventive_measures=["fine", "line\n" * drafts.MAX_ITEM_LINES + "one too many"]))
    assert error.value.fields == {"preventive_measures": "An item can be at most 5 lines."}


def test_the_whole_draft_has_a_limit_named_beside_its_longest_section():
    # Every section within its own limit; 30,000 characters in all, then 31,000.
    fitting = body(subject="s" * 1000, introduction="i" * 9000, root_cause="r" * 10_000, closure="c" * 8000,
                   corrective_actions=["a" * 1000], preventive_measures=["p" * 1000])
    assert drafts.clean_content(fitting)
    with pytest.raises(ValidationFailed) as error:
        drafts.clean_content(dict(fitting, closure="c" * 9000))
    assert error.value.message == "The POA is too long: at most 30,000 characters in all."
    assert error.value.fields == {"root_cause": "The whole POA can be at most 30,000 characters and this one "
                                                "has 31,000: shorten this section or another."}


def test_a_starter_for_a_case_at_every_limit_can_be_saved_as_it_is(world):
    client = make_client(world.consultant_a, name="Harbor " * 28 + "Ltd", seller_id="A1B2C3D4E5F6G8")
    asins = [f"B{n:09d}" for n in range(200)]
    case = make_case(world.consultant_a, client, title="T" * 200, kind="listing_deactivation", asins=asins)
    starter = drafts.start_from_starter(world.consultant_a, case.id)
    content = drafts.clean_content(drafts.content_of(starter).as_dict())
    assert content == drafts.content_of(starter)
    assert asins[-1] in content.subject


def test_invalid_save_adds_no_version(world):
    drafts.start_from_starter(world.consultant_a, world.case_a.id)
    with pytest.raises(ValidationFailed):
        drafts.save_version(world.consultant_a, world.case_a.id, body(root_cause="z" * (drafts.MAX_SECTION_CHARS + 1)))
    db.session.rollback()
    assert [d.version for d in drafts.versions(world.consultant_a, world.case_a.id)] == [1]
    assert [e.kind for e in events(world.case_a.id)] == ["poa_created"]


# ---------------------------------------------------------------- final mark

def test_mark_final_moves_the_mark_and_refuses_a_second_mark(world):
    c = world.consultant_a
    v1 = drafts.start_from_starter(c, world.case_a.id)
    v2 = drafts.save_version(c, world.case_a.id, body())
    drafts.mark_final(c, v1.id, accept_errors=True)  # the starter's blanks are open errors
    drafts.mark_final(c, v2.id)
    db.session.expire_all()
    assert [(d.version, d.is_final) for d in drafts.versions(c, world.case_a.id)] == [(2, True), (1, False)]
    with pytest.raises(Conflict) as error:
        drafts.mark_final(c, v2.id)
    assert "already the final one" in error.value.message
    assert len(events(world.case_a.id, ("poa_final",))) == 2


# ---------------------------------------------------------------- review with the case's facts

def test_review_fires_subject_missing_asin_for_a_listing_case(world, listing_case):
    c = world.consultant_a
    draft = drafts.save_version(c, listing_case.id, body(subject="Plan of Action: Harbor Lane Home Goods"))
    findings = {f.code: f for f in drafts.review(c, draft.id)}
    assert "subject_missing_asin" in findings
    assert ASIN in findings["subject_missing_asin"].message
    assert findings["subject_missing_asin"].section == "subject"


def test_review_of_a_clean_listing_draft_has_no_asin_finding(world, listing_case):
    c = world.consultant_a
    draft = drafts.save_version(c, listing_case.id, body())
    assert "subject_missing_asin" not in {f.code for f in drafts.review(c, draft.id)}


def test_review_does_not_ask_an_account_case_for_an_asin(world):
    # case_a is an account suspension: its subject needs no ASIN.
    draft = drafts.save_version(world.consultant_a, world.case_a.id, body(subject="Plan of Action: account"))
    assert "subject_missing_asin" not in {f.code for f in drafts.review(world.consultant_a, draft.id)}


def test_review_knows_the_case_has_no_evidence(world, listing_case):
    c = world.consultant_a
    draft = drafts.save_version(c, listing_case.id, body(
        corrective_actions=["Sent the supplier invoices and a screenshot of the corrected title."]))
    finding = next(f for f in drafts.review(c, draft.id) if f.code == "evidence_missing")
    assert finding.section == "corrective_actions"
    assert "invoices" in finding.message and "screenshot" in finding.message


def test_review_of_the_starter_flags_blanks_and_starter_text(world, listing_case):
    draft = drafts.start_from_starter(world.consultant_a, listing_case.id)
    codes = {f.code for f in drafts.review(world.consultant_a, draft.id)}
    assert {"placeholder", "generic_starter_text"} <= codes
    assert "subject_missing_asin" not in codes  # the starter puts the ASIN in the subject


# ---------------------------------------------------------------- timeline

def test_timeline_records_created_version_and_final(world):
    c = world.consultant_a
    v1 = drafts.start_from_starter(c, world.case_a.id)
    v2 = drafts.save_version(c, world.case_a.id, body())
    drafts.mark_final(c, v2.id)
    found = [(e.kind, e.summary, e.data, e.actor_id) for e in events(world.case_a.id)]
    assert found == [
        ("poa_created", "POA draft v1 started from the starter", {"poa_draft_id": v1.id, "version": 1}, c.id),
        ("poa_version", "POA v2 saved", {"poa_draft_id": v2.id, "version": 2}, c.id),
        ("poa_final", "POA v2 marked final", {"poa_draft_id": v2.id, "version": 2}, c.id),
    ]


def test_a_first_version_saved_without_the_starter_is_a_created_entry(world):
    drafts.save_version(world.consultant_a, world.case_a.id, body())
    assert [(e.kind, e.summary) for e in events(world.case_a.id)] == [("poa_created", "POA v1 saved")]


# ---------------------------------------------------------------- tenancy and export

def test_another_agency_cannot_reach_a_draft(world):
    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    for call in (lambda: drafts.get_draft(world.admin_b, draft.id),
                 lambda: drafts.review(world.admin_b, draft.id),
                 lambda: drafts.mark_final(world.admin_b, draft.id),
                 lambda: drafts.export(world.admin_b, draft.id, "txt"),
                 lambda: drafts.save_version(world.admin_b, world.case_a.id, body()),
                 lambda: drafts.start_from_starter(world.admin_b, world.case_a.id)):
        with pytest.raises(NotFound):
            call()
    db.session.rollback()
    assert [d.version for d in drafts.versions(world.consultant_a, world.case_a.id)] == [1]


def test_export_names_the_file_after_client_case_and_version(world):
    client = make_client(world.consultant_a, name="Łódź & Sons, Ltd.", seller_id="A9LODZSONS01")
    case = make_case(world.consultant_a, client, title="Export")
    draft = drafts.save_version(world.consultant_a, case.id, body())
    data, mimetype, filename = drafts.export(world.consultant_a, draft.id, "txt")
    assert filename == f"POA-Lodz-Sons-Ltd-case{case.id}-v1.txt"
    assert mimetype == "text/plain; charset=utf-8"
    assert data.decode("utf-8").startswith("Subject\nPlan of Action: deactivated listing")
    with pytest.raises(ValidationFailed):
        drafts.export(world.consultant_a, draft.id, "html")


def test_an_export_is_made_once_until_what_it_prints_changes(world, monkeypatch):
    from caseapp.services.evidence import files
    from caseapp.services.poa import render
    from werkzeug.datastructures import FileStorage
    from io import BytesIO

    made = []
    real = render.to_pdf
    monkeypatch.setattr(render, "to_pdf", lambda *args, **kwargs: made.append(1) or real(*args, **kwargs))
    # Text no other test exports, so no earlier test's file is kept for it.
    draft = drafts.save_version(world.consultant_a, world.case_a.id, body(closure=f"Thanks, {id(made)}."))
    upload = FileStorage(stream=BytesIO(b"Invoice 1: 14 units.\n"), filename="invoice.txt", content_type="text/plain")
    row = files.upload(world.consultant_a, world.case_a.id, upload, "invoice", "Supplier invoice")
    first = drafts.export(world.consultant_a, draft.id, "pdf", with_evidence=True)[0]
    assert drafts.export(world.consultant_a, draft.id, "pdf", with_evidence=True)[0] == first
    assert len(made) == 1
    # Each thing the file prints besides the version makes a new one: the evidence index...
    files.update(world.consultant_a, row.id, "Supplier invoice, March", "invoice")
    drafts.export(world.consultant_a, draft.id, "pdf", with_evidence=True)
    assert len(made) == 2
    # ... and the client's name in the title.
    from caseapp.services.cases import clients
    clients.update_client(world.consultant_a, world.client_a.id, {"name": "Harbor Lane Home Goods GmbH"})
    drafts.export(world.consultant_a, draft.id, "pdf", with_evidence=True)
    assert len(made) == 3
    drafts.export(world.consultant_a, draft.id, "pdf")  # without the index
    assert len(made) == 4


# ---------------------------------------------------------------- saves that change nothing (issue 14)

def test_an_unchanged_save_makes_no_version_and_no_timeline_entry(world):
    c = world.consultant_a
    v1 = drafts.save_version(c, world.case_a.id, body())
    # The same text as a browser sends it: CRLF line breaks, blank lines, spaces around items.
    again = drafts.save(c, world.case_a.id, body(
        closure="Thank you for your review.\r\n\r\nDana Reyes, Catalogue Lead  ",
        preventive_measures=["  Our catalogue lead checks every new title against the trademark register.", " "]))
    assert again.created is False and again.draft.id == v1.id
    assert [d.version for d in drafts.versions(c, world.case_a.id)] == [1]
    assert [e.kind for e in events(world.case_a.id)] == ["poa_created"]
    changed = drafts.save(c, world.case_a.id, body(closure="Thank you."))
    assert changed.created is True and changed.draft.version == 2


def test_an_unchanged_save_compares_with_the_latest_version(world):
    c = world.consultant_a
    drafts.save_version(c, world.case_a.id, body())
    drafts.save_version(c, world.case_a.id, body(closure="Thank you."))
    restored = drafts.save(c, world.case_a.id, body())  # v1's text again: differs from v2
    assert restored.created is True and restored.draft.version == 3


def test_an_emptied_save_is_refused_and_keeps_the_versions(world):
    c = world.consultant_a
    drafts.save_version(c, world.case_a.id, body())
    blank = {key: ([] if key in ("corrective_actions", "preventive_measures") else "  \r\n ") for key in SECTION_KEYS}
    with pytest.raises(ValidationFailed) as error:
        drafts.save(c, world.case_a.id, blank)
    assert "Every section is empty, so nothing was saved" in error.value.message
    db.session.rollback()
    assert [d.version for d in drafts.versions(c, world.case_a.id)] == [1]


# ---------------------------------------------------------------- final with open review errors (issue 14)

def test_marking_final_with_open_errors_needs_acceptance_and_the_timeline_says_so(world):
    c = world.consultant_a
    starter = drafts.start_from_starter(c, world.case_a.id)  # its [blanks] are review errors
    open_errors = drafts.open_errors(c, starter.id)
    assert open_errors
    with pytest.raises(drafts.OpenReviewErrors) as error:
        drafts.mark_final(c, starter.id)
    assert error.value.errors == open_errors
    assert f"has {len(open_errors)} open review errors" in error.value.message
    db.session.rollback()
    assert not drafts.get_draft(c, starter.id).is_final
    assert events(world.case_a.id, ("poa_final",)) == []

    drafts.mark_final(c, starter.id, accept_errors=True)
    [entry] = events(world.case_a.id, ("poa_final",))
    assert entry.summary == f"POA v1 marked final with {len(open_errors)} open review errors"
    assert entry.data["open_review_errors"] == [f.code for f in open_errors]


def test_a_version_without_errors_is_marked_final_without_asking(world):
    draft = drafts.save_version(world.consultant_a, world.case_a.id, body())
    assert drafts.open_errors(world.consultant_a, draft.id) == []
    drafts.mark_final(world.consultant_a, draft.id)
    assert [e.summary for e in events(world.case_a.id, ("poa_final",))] == ["POA v1 marked final"]
