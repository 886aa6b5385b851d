import pytest

from caseapp.services.accounts import tokens


class Api:
    """The test client speaking JSON with a bearer token."""

    def __init__(self, app, token: str | None):
        self.client = app.test_client()
        self.token = token

    def _headers(self, extra=None):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        headers.update(extra or {})
        return headers

    def request(self, method: str, path: str, json=None, **kwargs):
        headers = self._headers(kwargs.pop("headers", None))
        from flask import current_app

        with current_app.app_context():  # a fresh context per request, as a server has
            # buffered: a streamed body (an export) is read while its context is the current one
            return self.client.open("/api/v1" + path, method=method, json=json, headers=headers,
                                    buffered=True, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path, json=None, **kwargs):
        return self.request("PATCH", path, json=json, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def api_a(app, world) -> Api:
    return Api(app, tokens.create(world.consultant_a, "tests")[1])


@pytest.fixture
def admin_api_a(app, world) -> Api:
    return Api(app, tokens.create(world.admin_a, "tests")[1])


@pytest.fixture
def api_b(app, world) -> Api:
    return Api(app, tokens.create(world.admin_b, "tests")[1])


@pytest.fixture
def anonymous(app) -> Api:
    return Api(app, None)
