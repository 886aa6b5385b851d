"""The case list's Export buttons download the list as filtered: every case of it."""
from __future__ import annotations

import csv
import html
import io
import re

from caseapp.extensions import db
from tests.conftest import make_case


def _rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def test_the_buttons_carry_the_filters_and_the_file_holds_every_case(browser, world, app):
    app.config["CASES_PER_PAGE"] = 2
    actor = world.consultant_a
    for n in range(4):
        make_case(actor, world.client_a, title=f"IP complaint {n}", reason="intellectual_property")
    make_case(world.admin_a, world.client_a, title="Ada's own case", assignee_id=world.admin_a.id)
    db.session.commit()
    browser.login(actor.email)
    page = html.unescape(browser.get("/cases?reason=intellectual_property&sort=oldest").get_data(as_text=True))
    link = re.search(r'href="(/cases/export\?format=csv[^"]*)"', page).group(1)
    assert "reason=intellectual_property" in link and "sort=oldest" in link and "page=" not in link

    rows = _rows(browser.get(link))
    assert [r[1] for r in rows[1:]] == [f"IP complaint {n}" for n in range(4)]  # beyond the page of 2

    mine = [r[1] for r in _rows(browser.get("/cases/export?format=csv"))[1:]]
    assert "Ada's own case" not in mine and "Account suspended" in mine  # "My cases", as the list
    everyone = [r[1] for r in _rows(browser.get("/cases/export?format=csv&assignee=all"))[1:]]
    assert "Ada's own case" in everyone

    xlsx = browser.get("/cases/export?format=xlsx&reason=intellectual_property")
    assert xlsx.status_code == 200 and xlsx.get_data()[:2] == b"PK"
    assert xlsx.headers["Content-Disposition"].endswith('.xlsx"')


def test_a_format_there_is_none_of_says_so(browser, world):
    browser.login(world.consultant_a.email)
    response = browser.get("/cases/export?format=pdf")
    assert response.status_code in (400, 422) and "no export in that format" in response.get_data(as_text=True)
