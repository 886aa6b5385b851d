"""GET /api/v1/poa-drafts/<id>/export: the same file, headers and name as the page's export."""
import pytest

from caseapp.services.poa import drafts


@pytest.mark.parametrize("fmt, content_type, magic", [
    ("txt", "text/plain; charset=utf-8", b"Subject\n"),
    ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK"),
    ("pdf", "application/pdf", b"%PDF-"),
])
def test_export_answers_one_content_type_with_one_charset(world, api_a, browser, fmt, content_type, magic):
    draft = drafts.start_from_starter(world.consultant_a, world.case_a.id)
    response = api_a.get(f"/poa-drafts/{draft.id}/export?format={fmt}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type  # was "...; charset=utf-8; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="POA-Harbor-Lane-Home-Goods-case{world.case_a.id}-v1.{fmt}"')
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.data.startswith(magic)

    browser.login(world.consultant_a.email)
    page = browser.get(f"/poa/{draft.id}/export/{fmt}")
    assert page.headers["Content-Type"] == response.headers["Content-Type"]
    assert page.headers["Content-Disposition"] == response.headers["Content-Disposition"]
