"""Security headers on every answer (pages, API, static files), HSTS only over HTTPS, and
pages whose HTML needs no inline script or style under the Content-Security-Policy."""

from __future__ import annotations

from html.parser import HTMLParser
from types import SimpleNamespace

import pytest

from app.models import Role
from tests.app.helpers import separate_app
from tests.conftest import Auth

PAGES = [
    "sign-in",
    "sign-in with errors",
    "provider dashboard",
    "requester dashboard",
    "overview",
    "room",
    "not found page",
    "forbidden page",
]
API = ["api providers", "api unauthorized", "api not found"]
STATIC = ["/static/css/app.css", "/static/js/room.js", "/static/img/logo.svg"]
HSTS = "max-age=31536000; includeSubDomains"


@pytest.fixture
def scene(app, make_user, api):
    """A provider and a requester in an accepted visit, a scheduler, each signed in."""
    provider = make_user(Role.PROVIDER, services=["General"], available=True)
    requester = make_user(Role.REQUESTER)
    scheduler = make_user(Role.SCHEDULER)
    r_token = api.token(requester)
    request_id = api.post("/requests", r_token, json={"provider_id": provider.id}).get_json()["id"]
    visit_id = api.post(f"/requests/{request_id}/accept", api.token(provider)).get_json()[
        "visit_id"
    ]
    browsers = {}
    for user in (provider, requester, scheduler):
        browsers[user.role] = app.test_client()
        assert Auth(browsers[user.role]).login(user).status_code == 302
    return SimpleNamespace(
        app=app,
        api=api,
        provider=provider,
        r_token=r_token,
        visit_id=visit_id,
        browsers=browsers,
    )


def fetch(scene, what: str, **kwargs):
    """One answer of the app, by name, through the client it takes to get it."""
    provider = scene.browsers["provider"]
    if what == "sign-in":
        return scene.app.test_client().get("/auth/login", **kwargs)
    if what == "sign-in with errors":
        anonymous = Auth(scene.app.test_client())
        return anonymous.login(scene.provider, password="not the password")
    if what == "provider dashboard":
        return provider.get("/provider", **kwargs)
    if what == "requester dashboard":
        return scene.browsers["requester"].get("/requester", **kwargs)
    if what == "overview":
        return scene.browsers["scheduler"].get("/", **kwargs)
    if what == "room":
        return provider.get(f"/visits/{scene.visit_id}", **kwargs)
    if what == "not found page":
        return provider.get("/no-such-page", **kwargs)
    if what == "forbidden page":
        return scene.browsers["requester"].get("/provider", **kwargs)
    if what == "api providers":
        return scene.api.get("/providers", scene.r_token, **kwargs)
    if what == "api unauthorized":
        return scene.api.get("/providers", "not-a-token", **kwargs)
    if what == "api not found":
        return scene.api.get("/no-such-thing", scene.r_token, **kwargs)
    # Buffered: a static file is streamed from an open file until the answer is read.
    return scene.app.test_client().get(what, buffered=True, **kwargs)


EXPECTED_STATUS = {
    "sign-in with errors": 422,
    "not found page": 404,
    "forbidden page": 403,
    "api unauthorized": 401,
    "api not found": 404,
}


def csp(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = [part.split() for part in policy.split(";") if part.strip()]
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("what", PAGES + API + STATIC)
def test_every_answer_carries_the_security_headers(scene, what):
    response = fetch(scene, what)

    assert response.status_code == EXPECTED_STATUS.get(what, 200)
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    policy = csp(response)
    # The room alone may compile WebAssembly (the background blur's model); never eval.
    expected = ["'self'", "'wasm-unsafe-eval'"] if what == "room" else ["'self'"]
    assert policy["script-src"] == expected
    assert policy["style-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in headers["Content-Security-Policy"]


@pytest.mark.parametrize("what", PAGES + API + STATIC)
def test_only_the_room_shares_a_screen_and_only_it_and_the_self_test_use_the_camera(scene, what):
    policy = fetch(scene, what).headers["Permissions-Policy"]

    features = dict(part.strip().split("=", 1) for part in policy.split(","))
    expected = "(self)" if what == "room" else "()"
    # The requester's dashboard tests the camera and microphone (the device self-test),
    # and shares no screen.
    devices = "(self)" if what in ("room", "requester dashboard") else "()"
    assert features["camera"] == features["microphone"] == devices, policy
    assert features["display-capture"] == expected, policy
    assert features["geolocation"] == "()"


@pytest.mark.parametrize("what", PAGES + API)
def test_pages_and_api_answers_are_never_stored(scene, what):
    assert fetch(scene, what).headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", STATIC)
def test_static_files_may_be_cached(scene, path):
    response = fetch(scene, path)

    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")


# HSTS ------------------------------------------------------------------------------------


@pytest.mark.parametrize("what", ["sign-in", "room", "api providers", STATIC[0]])
def test_hsts_is_sent_over_https_only(scene, what):
    assert "Strict-Transport-Security" not in fetch(scene, what).headers

    secure = fetch(scene, what, base_url="https://localhost")

    assert secure.headers["Strict-Transport-Security"] == HSTS


def test_hsts_can_be_turned_off(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "HSTS_SECONDS", 0)

    response = client.get("/auth/login", base_url="https://localhost")

    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers


def test_a_forwarded_proto_is_not_believed_without_a_trusted_proxy(client):
    response = client.get("/auth/login", headers={"X-Forwarded-Proto": "https"})

    assert "Strict-Transport-Security" not in response.headers
    assert "ws://localhost" in csp(response)["connect-src"]


def test_behind_a_trusted_proxy_a_forwarded_https_request_gets_hsts(app, database_url, tmp_path):
    with separate_app(database_url, tmp_path / "instance", {"PROXY_COUNT": "1"}) as proxied:
        client = proxied.test_client()

        secure = client.get("/auth/login", headers={"X-Forwarded-Proto": "https"})
        plain = client.get("/auth/login", headers={"X-Forwarded-Proto": "http"})
        unsaid = client.get("/auth/login")

    assert secure.status_code == 200
    assert secure.headers["Strict-Transport-Security"] == HSTS
    assert "wss://localhost" in csp(secure)["connect-src"]
    assert "Strict-Transport-Security" not in plain.headers
    assert "Strict-Transport-Security" not in unsaid.headers


# No inline code --------------------------------------------------------------------------


class InlineCode(HTMLParser):
    """Collects what a strict CSP would block in a page: inline scripts, style attributes
    and elements, event-handler attributes and javascript: URLs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.elements = 0
        self._script: dict | None = None
        self._script_text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements += 1
        attributes = dict(attrs)
        for name, value in attrs:
            if name == "style":
                self.found.append(f"style attribute on <{tag}>: {value!r}")
            if name.startswith("on"):
                self.found.append(f"{name} handler on <{tag}>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"javascript: URL on <{tag}>")
        if tag == "style":
            self.found.append("<style> element")
        if tag == "script":
            self._script = attributes
            self._script_text = []

    def handle_data(self, data):
        if self._script is not None:
            self._script_text.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            text = "".join(self._script_text).strip()
            kind = self._script.get("type", "")
            if kind != "application/json":
                if not self._script.get("src"):
                    self.found.append(f"inline <script type={kind!r}>: {text[:60]!r}")
                elif text:
                    self.found.append(f"<script src> with a body: {text[:60]!r}")
            self._script = None


@pytest.mark.parametrize("what", PAGES)
def test_pages_hold_no_inline_script_or_style(scene, what):
    response = fetch(scene, what)
    assert response.mimetype == "text/html"

    parser = InlineCode()
    parser.feed(response.get_data(as_text=True))
    parser.close()

    assert parser.elements > 10  # a whole page was read
    assert parser.found == []
