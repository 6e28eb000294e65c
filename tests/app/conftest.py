"""Helpers for the app tier: fast password hashing, an API client with bearer tokens."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from app.extensions import db
from app.models import Organisation
from app.services import passwords
from tests.conftest import PASSWORD

# Every test starts in a one-organisation deployment, like the demo's, so accounts made
# without naming one land in it; a test of organisation scoping adds a second.
ORGANISATION = "Riverside Health"


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    """argon2id at its cheapest: every sign-in here would otherwise cost ~0.1 s.

    Still argon2id through the same service code; only the cost parameters differ, and
    nothing in this tier measures them.
    """
    patch = pytest.MonkeyPatch()
    patch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    yield
    patch.undo()


@pytest.fixture(autouse=True)
def _one_organisation(request):
    """Before each test that has the app: exactly one organisation (the previous test's
    accounts and clinics, which point at it, are gone by then)."""
    if "app" not in request.fixturenames:
        yield
        return
    with request.getfixturevalue("app").app_context():
        db.session.execute(db.delete(Organisation))
        db.session.add(Organisation(name=ORGANISATION))
        db.session.commit()
    yield


@pytest.fixture
def other_organisation(app):
    """A second organisation: factory other_organisation(name="Harbour Health") -> its name."""

    def make(name="Harbour Health") -> str:
        with app.app_context():
            db.session.add(Organisation(name=name))
            db.session.commit()
        return name

    return make


class Api:
    """Calls /api/v1 with a bearer token (or with whatever client and headers it is given)."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()

    def token(self, user, password: str = PASSWORD) -> str:
        response = self.client.post(
            "/api/v1/tokens", json={"email": user.email, "password": password}
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()["token"]

    def call(self, method: str, path: str, token: str | None = None, *, client=None, **kwargs):
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return (client or self.client).open(
            "/api/v1" + path, method=method, headers=headers, **kwargs
        )

    def get(self, path, token=None, **kwargs):
        return self.call("GET", path, token, **kwargs)

    def post(self, path, token=None, **kwargs):
        return self.call("POST", path, token, **kwargs)

    def put(self, path, token=None, **kwargs):
        return self.call("PUT", path, token, **kwargs)


@pytest.fixture
def api(app):
    return Api(app)
