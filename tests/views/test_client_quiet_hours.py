"""The client quiet hours form on the agency page (/admin/agency#client-quiet-hours)."""
from __future__ import annotations

import html
import re

from caseapp.extensions import db
from caseapp.models import Agency


def field_messages(page: str, field_id: str) -> str:
    match = re.search(rf'id="{field_id}"[^>]*>(.*?)</div>\s*</div>', page, re.S)
    assert match, f"no field {field_id}"
    return " ".join(re.findall(r'<div class="invalid-feedback d-block">(.*?)</div>', match.group(0), re.S))


def test_the_agency_page_shows_and_saves_the_client_quiet_hours(browser, world):
    browser.login(world.admin_a.email)
    page = browser.get("/admin/agency").get_data(as_text=True)
    assert "Client quiet hours" in page
    assert re.search(r'id="client_quiet_start"[^>]*value="20:00"|value="20:00"[^>]*id="client_quiet_start"', page)
    response = browser.post("/admin/agency/client-quiet-hours",
                            data={"client_quiet_start": "21:00", "client_quiet_end": "7:15"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/agency#client-quiet-hours")
    db.session.expire_all()  # the request saved in a session of its own
    agency = db.session.get(Agency, world.agency_a.id)
    assert (agency.client_quiet_start, agency.client_quiet_end) == ("21:00", "07:15")
    page = browser.get("/admin/agency").get_data(as_text=True)
    assert 'value="07:15"' in page and "Client quiet hours saved" in html.unescape(page)


def test_mistakes_show_beside_each_field_with_what_was_typed(browser, world):
    browser.login(world.admin_a.email)
    response = browser.post("/admin/agency/client-quiet-hours",
                            data={"client_quiet_start": "late", "client_quiet_end": "24:00"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Use a 24-hour time such as 20:00." in field_messages(page, "client_quiet_start")
    assert "Use a 24-hour time such as 20:00." in field_messages(page, "client_quiet_end")
    assert 'value="late"' in page and 'value="24:00"' in page
    same = browser.post("/admin/agency/client-quiet-hours",
                        data={"client_quiet_start": "09:00", "client_quiet_end": "09:00"}).get_data(as_text=True)
    assert "Quiet hours must end at another time than they start." in field_messages(same, "client_quiet_end")
    db.session.expire_all()
    agency = db.session.get(Agency, world.agency_a.id)
    assert (agency.client_quiet_start, agency.client_quiet_end) == ("20:00", "08:00")


def test_consultants_are_refused(browser, world):
    browser.login(world.consultant_a.email)
    response = browser.post("/admin/agency/client-quiet-hours",
                            data={"client_quiet_start": "21:00", "client_quiet_end": "07:00"})
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Agency, world.agency_a.id).client_quiet_start == "20:00"
