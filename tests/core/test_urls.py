"""external_url: links for mail and feeds, from the URL map, at APP_BASE_URL."""
from __future__ import annotations

import pytest
from werkzeug.routing import BuildError

from caseapp.core.urls import external_url


def test_outside_a_request_it_uses_the_configured_address(app):
    app.config["APP_BASE_URL"] = "https://cases.agency.example"
    assert external_url("cases.detail", case_id=7) == "https://cases.agency.example/cases/7"


def test_a_path_prefix_is_kept(app):
    app.config["APP_BASE_URL"] = "https://agency.example/caseapp/"
    assert (external_url("submissions.calendar", token="abc")
            == "https://agency.example/caseapp/calendar/abc.ics")


def test_inside_a_request_the_request_host_is_not_used(app):
    app.config["APP_BASE_URL"] = "https://cases.agency.example"
    with app.test_request_context("/", base_url="http://evil.example"):
        assert external_url("auth.reset_password", token="t") == \
            "https://cases.agency.example/password/reset/t"


def test_an_endpoint_that_does_not_exist_is_an_error_not_a_dead_link(app):
    with pytest.raises(BuildError):
        external_url("cases.no_such_page", case_id=1)
