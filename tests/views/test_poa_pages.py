"""The POA pages through the test client: start, save, validation, final mark, compare,
exports and the print view. (Another agency's drafts: tests/views/test_tenancy.py.)"""
import html
import re

import pytest

from caseapp.extensions import db
from caseapp.models import PoaDraft
from caseapp.services.poa import drafts as poa
from caseapp.services.poa.content import SECTION_KEYS
from tests.conftest import make_case, make_client

ASINS = ["B09K3LMN7Q", "B08N5WRWNW"]
HEADINGS = ["Subject", "Introduction", "Root cause", "Corrective actions", "Preventive measures", "Closure"]
HOSTILE = "<script>alert(1)</script>"


def form(**overrides):
    """The editor form as a browser sends it: list sections as one item per line."""
    data = {
        "subject": f"Plan of Action: deactivated listings, ASINs {', '.join(ASINS)} (Harbor Lane Home Goods)",
        "introduction": "On 3 March 2026 our listings were deactivated after a trademark complaint.\r\n"
                        "We used a protected brand name without permission and accept responsibility.",
        "root_cause": "Our catalogue assistant copied the title and two photos from a wholesale product sheet "
                      "that showed the brand, and our process had no step that checked brand names.",
        "corrective_actions": "Removed the brand name from both titles on 4 March 2026.\r\n"
                              "Replaced the disputed photos with our own on 5 March 2026.\r\n",
        "preventive_measures": "Our catalogue lead checks every new title against the trademark register.",
        "closure": "Thank you for your review.\r\n\r\nDana Reyes, Catalogue Lead",
    }
    data.update(overrides)
    return data


def drafts(case_id):
    db.session.expire_all()
    return db.session.scalars(
        db.select(PoaDraft).where(PoaDraft.case_id == case_id).order_by(PoaDraft.version)).all()


def flashes(page: str) -> str:
    return " ".join(html.unescape(m) for m in re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', page, re.S))


@pytest.fixture
def listing_case(world):
    return make_case(world.consultant_a, world.client_a, title="Listings deactivated",
                     kind="listing_deactivation", reason="intellectual_property", asins=ASINS)


@pytest.fixture
def signed_in(browser, world):
    browser.login(world.consultant_a.email)
    return browser


# ---------------------------------------------------------------- start

def test_case_without_poa_offers_the_starter(signed_in, listing_case):
    page = signed_in.get(f"/cases/{listing_case.id}").get_data(as_text=True)
    assert "Start the POA" in page and "No draft yet." in page
    response = signed_in.get(f"/cases/{listing_case.id}/poa")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "This case has no POA yet" in page and "intellectual property" in page
    assert f'action="/cases/{listing_case.id}/poa/start"' in page
    assert drafts(listing_case.id) == []  # looking does not create a draft


def test_starting_creates_v1_from_the_starter_with_the_case_facts(signed_in, listing_case):
    response = signed_in.post(f"/cases/{listing_case.id}/poa/start")
    assert response.status_code == 302
    [v1] = drafts(listing_case.id)
    assert response.headers["Location"].endswith(f"/poa/{v1.id}")
    assert v1.version == 1
    assert "Harbor Lane Home Goods" in v1.subject and all(a in v1.subject for a in ASINS)
    assert "seller ID A1B2C3D4E5F6G7" in v1.introduction
    assert len(v1.corrective_actions) == 3 and "[" in v1.root_cause

    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "Plan of Action <span class=\"text-muted\">v1</span>" in page
    assert "Harbor Lane Home Goods" in page and all(a in page for a in ASINS)
    assert 'data-code="placeholder"' in page and 'data-code="generic_starter_text"' in page
    assert "Save as v2" in page
    # The case page now opens the POA, and the POA link of the case goes to the latest version.
    assert "Open the POA" in signed_in.get(f"/cases/{listing_case.id}").get_data(as_text=True)
    assert signed_in.get(f"/cases/{listing_case.id}/poa").headers["Location"].endswith(f"/poa/{v1.id}")


def test_list_sections_are_shown_one_item_per_line(signed_in, world):
    v1 = poa.start_from_starter(world.consultant_a, world.case_a.id)
    page = signed_in.get(f"/poa/{v1.id}").get_data(as_text=True)
    textarea = re.search(r'<textarea[^>]*name="corrective_actions"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert html.unescape(textarea).strip().split("\n") == list(v1.corrective_actions)


# ---------------------------------------------------------------- save

def test_saving_creates_v2_and_leaves_v1_unchanged(signed_in, listing_case, world):
    v1 = poa.start_from_starter(world.consultant_a, listing_case.id)
    before = {key: getattr(v1, key) for key in SECTION_KEYS}
    response = signed_in.post(f"/poa/{v1.id}", data=form())
    assert response.status_code == 302
    old, v2 = drafts(listing_case.id)
    assert response.headers["Location"].endswith(f"/poa/{v2.id}")
    assert {key: getattr(old, key) for key in SECTION_KEYS} == before
    assert v2.version == 2
    assert v2.root_cause == form()["root_cause"]
    assert v2.closure == "Thank you for your review.\n\nDana Reyes, Catalogue Lead"

    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved as version 2." in flashes(page)
    assert "Review of v2" in page and "Save as v3" in page
    assert 'data-code="placeholder"' not in page


def test_saving_from_an_older_version_still_adds_the_next_one(signed_in, world):
    v1 = poa.start_from_starter(world.consultant_a, world.case_a.id)
    signed_in.post(f"/poa/{v1.id}", data=form())
    response = signed_in.post(f"/poa/{v1.id}", data=form(closure="Thanks again."))
    assert [d.version for d in drafts(world.case_a.id)] == [1, 2, 3]
    assert drafts(world.case_a.id)[2].closure == "Thanks again."
    assert response.headers["Location"].endswith(f"/poa/{drafts(world.case_a.id)[2].id}")


def test_a_list_section_entered_one_item_per_line_becomes_a_list(signed_in, world):
    v1 = poa.start_from_starter(world.consultant_a, world.case_a.id)
    signed_in.post(f"/poa/{v1.id}", data=form(
        corrective_actions="  Removed the listing on 4 March.\r\n\r\nRefunded all 14 buyers.\r\n   \r\n",
        preventive_measures="Inspect every inbound carton.\nSample 10% of units."))
    v2 = drafts(world.case_a.id)[-1]
    assert v2.corrective_actions == ["Removed the listing on 4 March.", "Refunded all 14 buyers."]
    assert v2.preventive_measures == ["Inspect every inbound carton.", "Sample 10% of units."]


def test_validation_errors_rerender_the_editor_with_the_typed_text(signed_in, world):
    v1 = poa.start_from_starter(world.consultant_a, world.case_a.id)
    typed = "Our root cause, typed with care. " + "x" * poa.MAX_SECTION_CHARS
    response = signed_in.post(f"/poa/{v1.id}", data=form(
        root_cause=typed, closure="c" * (poa.MAX_SECTION_CHARS + 1), subject="s" * (poa.MAX_SUBJECT_CHARS + 1),
        introduction="My unsaved introduction & more"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Please correct the highlighted fields." in flashes(page)
    # Each bad field is highlighted, with its message beside it, once.
    assert page.count("At most 10,000 characters.") == 2
    assert page.count("At most 3,000 characters.") == 1
    for name, message in (("subject", "At most 3,000 characters."), ("root_cause", "At most 10,000 characters."),
                          ("closure", "At most 10,000 characters.")):
        assert re.search(rf'class="form-control is-invalid"[^>]*name="{name}"', page), name
        assert re.search(rf'name="{name}"[^>]*>[^<]*(</textarea>)?\s*<div class="invalid-feedback d-block">'
                         rf"{message}</div>", page), name
    assert not re.search(r'is-invalid[^"]*"[^>]*name="introduction"', page)
    assert "Our root cause, typed with care. xxx" in page        # the typed text is still in the box
    assert "My unsaved introduction &amp; more" in page
    assert "Review of v1" in page
    assert [d.version for d in drafts(world.case_a.id)] == [1]


def test_too_many_list_items_are_refused(signed_in, world):
    v1 = poa.start_from_starter(world.consultant_a, world.case_a.id)
    response = signed_in.post(f"/poa/{v1.id}", data=form(
        preventive_measures="\n".join(f"Measure {n}" for n in range(31))))
    assert response.status_code == 422
    assert "At most 30 items." in response.get_data(as_text=True)
    assert "Measure 30" in response.get_data(as_text=True)
    assert len(drafts(world.case_a.id)) == 1


def test_a_draft_too_long_in_all_is_refused_beside_its_longest_section(signed_in, world):
    v1 = poa.start_from_starter(world.consultant_a, world.case_a.id)
    response = signed_in.post(f"/poa/{v1.id}", data=form(
        introduction="i" * 9_000, root_cause="r" * 10_000, closure="c" * 9_000, subject="s" * 2_500))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "The POA is too long: at most 30,000 characters in all." in flashes(page)
    assert re.search(r'name="root_cause"[^>]*>[^<]*</textarea>\s*<div class="invalid-feedback d-block">'
                     r"The whole POA can be at most 30,000 characters and this one has 30,6\d\d: "
                     r"shorten this section or another.</div>", page)
    assert page.count("invalid-feedback d-block") == 1
    assert "r" * 10_000 in page  # what was typed is still there
    assert len(drafts(world.case_a.id)) == 1


def stored_before_the_limits(case_id, author_id):
    """A version of the size the code before issue 12 let a draft have, as it was stored."""
    def text(name):
        return " ".join(f"{name}{n}" for n in range(2_500))[:20_000].rsplit(" ", 1)[0] + f" END-{name}"
    draft = PoaDraft(case_id=case_id, version=len(drafts(case_id)) + 1, author_id=author_id,
                     subject=text("subject"), introduction=text("intro"), root_cause=text("cause"),
                     corrective_actions=[text(f"action{n}") for n in range(30)],
                     preventive_measures=[text(f"measure{n}") for n in range(30)], closure=text("closure"))
    db.session.add(draft)
    db.session.commit()
    return draft


def test_a_draft_stored_before_the_limits_still_shows_and_exports_whole(signed_in, world):
    v1 = poa.start_from_starter(world.consultant_a, world.case_a.id)
    old = stored_before_the_limits(world.case_a.id, world.consultant_a.id)
    editor = signed_in.get(f"/poa/{old.id}").get_data(as_text=True)
    assert 'data-code="over_limit"' in editor
    assert "END-closure" in editor and "END-measure29" in editor  # in the boxes, nothing cut
    printed = signed_in.get(f"/poa/{old.id}/print").get_data(as_text=True)
    assert "END-intro" in printed and "END-measure29" in printed
    text = signed_in.get(f"/poa/{old.id}/export/txt").get_data(as_text=True)
    for name in ("subject", "intro", "cause", "action29", "measure29", "closure"):
        assert f"END-{name}" in text, name
    for fmt in ("docx", "pdf"):
        assert signed_in.get(f"/poa/{old.id}/export/{fmt}").status_code == 200
    compare = signed_in.get(f"/poa/{old.id}/compare?with={v1.id}")
    assert compare.status_code == 200 and "END-closure" in compare.get_data(as_text=True)


def test_save_without_csrf_token_is_refused(browser, world):
    v1 = poa.start_from_starter(world.consultant_a, world.case_a.id)
    browser.login(world.consultant_a.email)
    response = browser.client.post(f"/poa/{v1.id}", data=form())
    assert response.status_code == 400
    assert len(drafts(world.case_a.id)) == 1


def test_poa_pages_need_sign_in(browser, world):
    v1 = poa.start_from_starter(world.consultant_a, world.case_a.id)
    for url in (f"/poa/{v1.id}", f"/poa/{v1.id}/export/pdf", f"/poa/{v1.id}/print", f"/cases/{world.case_a.id}/poa"):
        response = browser.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


# ---------------------------------------------------------------- final

def test_mark_final_moves_the_mark_and_a_second_mark_says_already_final(signed_in, world):
    v1 = poa.start_from_starter(world.consultant_a, world.case_a.id)
    v2 = poa.save_version(world.consultant_a, world.case_a.id, form())

    response = signed_in.post(f"/poa/{v1.id}/final", data={"confirmed": "yes"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Version 1 is now the final one." in flashes(page)
    assert [d.is_final for d in drafts(world.case_a.id)] == [True, False]
    assert "Mark v1 final" not in page

    response = signed_in.post(f"/poa/{v2.id}/final", follow_redirects=True)
    assert "Version 2 is now the final one." in flashes(response.get_data(as_text=True))
    assert [d.is_final for d in drafts(world.case_a.id)] == [False, True]

    response = signed_in.post(f"/poa/{v2.id}/final", follow_redirects=True)
    assert response.status_code == 200
    assert "Version 2 is already the final one." in flashes(response.get_data(as_text=True))
    assert [d.is_final for d in drafts(world.case_a.id)] == [False, True]

    page = signed_in.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "Final: v2." in page
    # v1 (with the starter's open errors), then v2; the refused mark added nothing
    assert len(re.findall(r"marked final( with \d+ open review errors?)?</a>", page)) == 2


def test_marking_final_with_open_review_errors_asks_first_and_the_timeline_says_so(signed_in, world):
    starter = poa.start_from_starter(world.consultant_a, world.case_a.id)  # [blanks] left: errors
    errors = [f for f in poa.review(world.consultant_a, starter.id) if f.severity == "error"]
    editor = html.unescape(signed_in.get(f"/poa/{starter.id}").get_data(as_text=True))
    form_tag = re.search(r'<form[^>]*id="mark-final"[^>]*>', editor, re.S).group(0)
    assert f"has {len(errors)} open review errors" in form_tag and errors[0].message in form_tag

    # Unconfirmed (no JavaScript, or a stale page): a page that names the errors; nothing marked.
    response = signed_in.post(f"/poa/{starter.id}/final")
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert f"Mark version 1 final with {len(errors)} open review errors?" in page
    assert all(f.message in page for f in errors)
    assert [d.is_final for d in drafts(world.case_a.id)] == [False]

    response = signed_in.post(f"/poa/{starter.id}/final", data={"confirmed": "yes"}, follow_redirects=True)
    assert "Version 1 is now the final one." in flashes(response.get_data(as_text=True))
    assert [d.is_final for d in drafts(world.case_a.id)] == [True]
    case_page = signed_in.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert f"POA v1 marked final with {len(errors)} open review errors" in case_page


def test_a_version_without_review_errors_is_marked_final_without_a_question(signed_in, world):
    v1 = poa.save_version(world.consultant_a, world.case_a.id, form())
    assert 'data-confirm' not in re.search(r'<form[^>]*id="mark-final"[^>]*>',
                                           signed_in.get(f"/poa/{v1.id}").get_data(as_text=True)).group(0)
    response = signed_in.post(f"/poa/{v1.id}/final", follow_redirects=True)
    assert "Version 1 is now the final one." in flashes(response.get_data(as_text=True))


# ---------------------------------------------------------------- saves that change nothing

def test_an_unchanged_save_makes_no_version_and_says_so(signed_in, world):
    v1 = poa.save_version(world.consultant_a, world.case_a.id, form())
    response = signed_in.post(f"/poa/{v1.id}", data=form(), follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "No changes to save" in flashes(page)
    assert [d.version for d in drafts(world.case_a.id)] == [1]
    assert "Review of v1" in page and "Save as v2" in page


def test_an_emptied_save_is_refused_beside_the_form(signed_in, world):
    v1 = poa.save_version(world.consultant_a, world.case_a.id, form())
    response = signed_in.post(f"/poa/{v1.id}", data={key: " \r\n" for key in SECTION_KEYS})
    assert response.status_code == 422
    assert "Every section is empty, so nothing was saved" in flashes(response.get_data(as_text=True))
    assert [d.version for d in drafts(world.case_a.id)] == [1]


def test_the_editor_tells_its_script_once_which_kept_text_a_save_took(signed_in, world):
    v1 = poa.start_from_starter(world.consultant_a, world.case_a.id)
    page = signed_in.get(f"/poa/{v1.id}").get_data(as_text=True)
    assert f'data-case-id="{world.case_a.id}" data-version="1"' in page and "data-saved-from" not in page
    assert "poa-editor.js" in page and 'id="poa-restore"' in page
    response = signed_in.post(f"/poa/{v1.id}", data=form(), follow_redirects=True)
    assert 'data-saved-from="1"' in response.get_data(as_text=True)
    assert "data-saved-from" not in signed_in.get(response.request.path).get_data(as_text=True)
    refused = signed_in.post(f"/poa/{v1.id}", data=form(subject="s" * 3_001))
    assert refused.status_code == 422 and 'data-unsaved="yes"' in refused.get_data(as_text=True)


# ---------------------------------------------------------------- compare

def test_compare_shows_changed_sections_side_by_side(signed_in, world):
    v1 = poa.start_from_starter(world.consultant_a, world.case_a.id)
    v2 = poa.save_version(world.consultant_a, world.case_a.id,
                          {**poa.content_of(v1).as_dict(), "root_cause": "A new root cause."})
    # Either version's page can ask for the comparison; the older one is always on the left.
    for here, other in ((v2, v1), (v1, v2)):
        response = signed_in.get(f"/poa/{here.id}/compare?with={other.id}")
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "Compare POA v1 and v2" in page
        changed = re.findall(r'data-section="(\w+)" data-changed="yes"', page)
        assert changed == ["root_cause"]
        cells = re.search(r'data-section="root_cause".*?</tr>', page, re.S).group(0)
        assert "<ins>A new root cause.</ins>" in cells and "<del>" in cells  # one run, not word by word


def test_compare_with_a_version_of_another_case_is_refused(signed_in, world):
    mine = poa.start_from_starter(world.consultant_a, world.case_a.id)
    other_case = make_case(world.consultant_a, world.client_a, title="Second case")
    other = poa.start_from_starter(world.consultant_a, other_case.id)
    response = signed_in.get(f"/poa/{mine.id}/compare?with={other.id}", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Only versions of the same case can be compared." in flashes(page)
    assert "data-changed" not in page
    assert response.request.path == f"/poa/{mine.id}"


def test_compare_with_another_agencys_version_is_not_found(signed_in, world):
    mine = poa.start_from_starter(world.consultant_a, world.case_a.id)
    client_b = make_client(world.consultant_b, name="Agency B client")
    case_b = make_case(world.consultant_b, client_b, title="Secret case of B")
    theirs = poa.start_from_starter(world.consultant_b, case_b.id)
    response = signed_in.get(f"/poa/{mine.id}/compare?with={theirs.id}")
    assert response.status_code == 404
    assert "Agency B client" not in response.get_data(as_text=True)


@pytest.mark.parametrize("value", ["", "abc", "-1"])
def test_compare_without_a_version_asks_for_one(signed_in, world, value):
    v1 = poa.start_from_starter(world.consultant_a, world.case_a.id)
    response = signed_in.get(f"/poa/{v1.id}/compare?with={value}", follow_redirects=True)
    assert "Choose a version to compare with." in flashes(response.get_data(as_text=True))


def test_pages_escape_html_in_sections(signed_in, world):
    v1 = poa.start_from_starter(world.consultant_a, world.case_a.id)
    v2 = poa.save_version(world.consultant_a, world.case_a.id, form(
        subject=f"Subject {HOSTILE}", root_cause=f"Cause {HOSTILE} [blank {HOSTILE}]",
        corrective_actions=f"Removed {HOSTILE}\n<img src=x onerror=alert(2)>",
        closure=f'Thanks "{HOSTILE}"'))
    pages = {
        "compare": signed_in.get(f"/poa/{v2.id}/compare?with={v1.id}"),
        "editor": signed_in.get(f"/poa/{v2.id}"),       # the review quotes the blank back
        "print": signed_in.get(f"/poa/{v2.id}/print"),
        "case": signed_in.get(f"/cases/{world.case_a.id}"),
    }
    for name, response in pages.items():
        page = response.get_data(as_text=True)
        assert response.status_code == 200, name
        assert "<script>alert" not in page, name
        assert "<img src=x" not in page, name
    compare_page = pages["compare"].get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in compare_page
    assert "&lt;img" in compare_page and "onerror=alert(2)&gt;" in compare_page
    assert "&lt;script&gt;" in pages["editor"].get_data(as_text=True)


# ---------------------------------------------------------------- exports and print

@pytest.mark.parametrize("fmt,mimetype,magic", [
    ("txt", "text/plain; charset=utf-8", b"Subject\n"),
    ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK"),
    ("pdf", "application/pdf", b"%PDF-"),
])
def test_export_content_types_and_attachment_names(signed_in, world, fmt, mimetype, magic):
    poa.start_from_starter(world.consultant_a, world.case_a.id)
    v2 = poa.save_version(world.consultant_a, world.case_a.id, form())
    response = signed_in.get(f"/poa/{v2.id}/export/{fmt}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == mimetype
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="POA-Harbor-Lane-Home-Goods-case{world.case_a.id}-v2.{fmt}"')
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.data.startswith(magic)


def test_export_names_are_ascii_for_any_client_name(signed_in, world):
    client = make_client(world.consultant_a, name='Müller & Łódź "GmbH"', seller_id="A9MULLER0001")
    case = make_case(world.consultant_a, client, title="Export name")
    draft = poa.save_version(world.consultant_a, case.id, form())
    response = signed_in.get(f"/poa/{draft.id}/export/pdf")
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="POA-Muller-Lodz-GmbH-case{case.id}-v1.pdf"')


def test_text_export_has_the_sections_in_order_without_markup(signed_in, world):
    draft = poa.save_version(world.consultant_a, world.case_a.id, form(
        introduction="We **accept** responsibility <b>fully</b>."))
    text = signed_in.get(f"/poa/{draft.id}/export/txt").get_data(as_text=True)
    positions = [text.index(f"{h}\n") for h in HEADINGS]
    assert positions == sorted(positions)
    assert "We accept responsibility fully." in text
    assert "1. Removed the brand name from both titles on 4 March 2026.\n2. Replaced" in text
    assert "<" not in text and "**" not in text and "\r" not in text


def test_unknown_export_format_is_refused(signed_in, world):
    draft = poa.start_from_starter(world.consultant_a, world.case_a.id)
    response = signed_in.get(f"/poa/{draft.id}/export/html")
    assert response.status_code == 422
    assert "Choose txt, docx or pdf." in response.get_data(as_text=True)


def test_print_view_shows_the_sections_in_order(signed_in, world):
    draft = poa.save_version(world.consultant_a, world.case_a.id, form())
    response = signed_in.get(f"/poa/{draft.id}/print")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert re.findall(r"<h2>([^<]+)</h2>", page) == HEADINGS
    assert "Harbor Lane Home Goods · seller ID A1B2C3D4E5F6G7 · US · version 1" in page
    items = re.search(r"<h2>Corrective actions</h2>\s*<ol>(.*?)</ol>", page, re.S).group(1)
    assert re.findall(r"<li>([^<]+)</li>", items) == [
        "Removed the brand name from both titles on 4 March 2026.",
        "Replaced the disputed photos with our own on 5 March 2026."]
    assert "<p>Dana Reyes, Catalogue Lead</p>" in page


def test_print_view_leaves_out_empty_sections(signed_in, world):
    draft = poa.save_version(world.consultant_a, world.case_a.id, form(introduction="", preventive_measures=""))
    page = signed_in.get(f"/poa/{draft.id}/print").get_data(as_text=True)
    assert re.findall(r"<h2>([^<]+)</h2>", page) == ["Subject", "Root cause", "Corrective actions", "Closure"]
