"""What one client may send and how often: body sizes, JSON shapes and ids, Socket.IO
payloads, sign-in throttling, request creation and Socket.IO event rates."""

from __future__ import annotations

import io
import json
import logging
import re
import tempfile
from contextlib import ExitStack
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher
from flask import Blueprint
from flask import request as flask_request
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from app import security
from app.extensions import socketio
from app.models import Role
from app.security import accepts_upload
from app.services import passwords
from tests.app.helpers import assert_error, assert_no_trace, open_requests_of, separate_app
from tests.conftest import PASSWORD, Auth

MB = 1024 * 1024
WRONG = "not the right password"


@pytest.fixture
def build_app(app, database_url, tmp_path):
    """Factory: build_app(env={...}, **settings), a separate app torn down after the test."""
    with ExitStack() as stack:

        def build(env=None, **settings):
            return stack.enter_context(
                separate_app(database_url, tmp_path / "instance", env, **settings)
            )

        yield build


@pytest.fixture
def cast(make_user, api):
    """An available provider and a requester with its bearer token."""
    provider = make_user(Role.PROVIDER, services=["General"], available=True)
    requester = make_user(Role.REQUESTER)
    return SimpleNamespace(provider=provider, requester=requester, r=api.token(requester))


def json_of_size(size: int, **fields) -> bytes:
    """A JSON object of exactly `size` bytes: `fields` plus padding."""
    empty = len(json.dumps({**fields, "padding": ""}).encode())
    body = json.dumps({**fields, "padding": "x" * (size - empty)}).encode()
    assert len(body) == size
    return body


def raw_environ(path: str, body: bytes, headers: dict) -> dict:
    """The WSGI environ of a POST, to be adjusted before it is sent: the test client would
    otherwise recompute Content-Length from the body."""
    return EnvironBuilder(
        path,
        method="POST",
        input_stream=io.BytesIO(body),
        headers={"Content-Type": "application/json", **headers},
    ).get_environ()


def send_chunked(client, path: str, body: bytes, server: str = "gevent", **headers):
    """POST `body` the way a server hands a chunked request to the app: already de-chunked,
    Transfer-Encoding: chunked, no Content-Length. gevent's pywsgi marks such input
    wsgi.input_terminated; eventlet's server does not."""
    environ = raw_environ(path, body, {"Transfer-Encoding": "chunked", **headers})
    del environ["CONTENT_LENGTH"]
    if server == "gevent":
        environ["wsgi.input_terminated"] = True
    return client.open(Request(environ))


def send_declaring(client, path: str, body: bytes, length: int, **headers):
    """POST `body` under a Content-Length of `length`, whatever the body's own length."""
    environ = raw_environ(path, body, headers)
    environ["CONTENT_LENGTH"] = str(length)
    return client.open(Request(environ))


@pytest.fixture
def spools(monkeypatch):
    """The temporary files app.security spools chunked bodies into (the app closes each when
    its request ends; this closes any a failing test left behind, so the garbage
    collector's ResourceWarning never lands in whichever test runs next)."""
    made = []

    class Recorded(tempfile.SpooledTemporaryFile):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(security.tempfile, "SpooledTemporaryFile", Recorded)
    yield made
    for spool in made:
        spool.close()


def errors_logged(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# Bodies ----------------------------------------------------------------------------------


def test_a_json_body_over_the_limit_is_refused_with_413_and_nothing_is_created(api, cast):
    body = {"provider_id": cast.provider.id, "padding": "x" * MB}

    response = api.post("/requests", cast.r, json=body)

    error = assert_error(response, 413, "too_large")
    assert "1024 KB" in error["message"]
    assert open_requests_of(api.app, cast.requester.id) == []


def test_a_declared_length_over_the_limit_is_refused_whatever_the_body_holds(api, cast):
    # A small, valid body under a Content-Length beyond the limit: refused from the header.
    small = json.dumps({"provider_id": cast.provider.id}).encode()

    response = send_declaring(
        api.client, "/api/v1/requests", small, 2 * MB, Authorization=f"Bearer {cast.r}"
    )

    assert_error(response, 413, "too_large")
    assert open_requests_of(api.app, cast.requester.id) == []


def test_an_oversized_body_is_refused_before_anything_else_looks_at_the_request(api):
    # Before the bearer token is even looked up (that would answer 401).
    response = api.post("/requests", "not-a-token", json={"padding": "x" * MB})

    assert_error(response, 413, "too_large")


def test_a_form_post_over_the_limit_gets_the_413_page(client, auth, make_user):
    user = make_user(Role.PROVIDER)
    token = auth.csrf()

    response = client.post(
        "/auth/login",
        data={"email": user.email, "password": "x" * (MB + 1), "csrf_token": token},
    )

    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert "The request is too large (at most 1024 KB)." in response.get_data(as_text=True)
    assert_no_trace(response)
    assert client.get("/api/v1/tokens").status_code == 401  # nobody signed in


@pytest.fixture
def upload_app(build_app):
    """A separate app with MAX_UPLOAD_BYTES of 3 MB and two views that echo their body's
    length: /test/upload marked accepts_upload, /test/plain not."""
    other = build_app(env={"MAX_UPLOAD_BYTES": str(3 * MB)}, WTF_CSRF_ENABLED=False)
    bp = Blueprint("upload_test", __name__)

    @bp.post("/upload")
    @accepts_upload
    def upload():
        return {"received": len(flask_request.get_data())}

    @bp.post("/plain")
    def plain():
        return {"received": len(flask_request.get_data())}

    other.register_blueprint(bp, url_prefix="/test")
    return other


JSON_ACCEPT = {"Accept": "application/json"}


def test_an_upload_view_accepts_a_body_between_the_two_limits(upload_app):
    client = upload_app.test_client()
    body = b"x" * (2 * MB)

    upload = client.post("/test/upload", data=body, headers=JSON_ACCEPT)
    plain = client.post("/test/plain", data=body, headers=JSON_ACCEPT)
    api = client.post("/api/v1/tokens", data=body, content_type="application/json")

    assert upload.status_code == 200
    assert upload.get_json() == {"received": 2 * MB}
    assert "1024 KB" in assert_error(plain, 413, "too_large")["message"]
    assert_error(api, 413, "too_large")


def test_an_upload_view_refuses_a_body_over_the_upload_limit(upload_app):
    client = upload_app.test_client()

    exact = client.post("/test/upload", data=b"x" * (3 * MB), headers=JSON_ACCEPT)
    over = client.post("/test/upload", data=b"x" * (3 * MB + 1), headers=JSON_ACCEPT)

    assert exact.get_json() == {"received": 3 * MB}
    assert "3072 KB" in assert_error(over, 413, "too_large")["message"]


@pytest.mark.parametrize("server", ["gevent", "eventlet"])
def test_a_chunked_upload_is_held_to_the_upload_limit(upload_app, spools, server):
    client = upload_app.test_client()

    within = send_chunked(client, "/test/upload", b"x" * (2 * MB), server, **JSON_ACCEPT)
    over = send_chunked(client, "/test/upload", b"x" * (3 * MB + 1), server, **JSON_ACCEPT)
    plain = send_chunked(client, "/test/plain", b"x" * (2 * MB), server, **JSON_ACCEPT)

    assert within.get_json() == {"received": 2 * MB}
    assert_error(over, 413, "too_large")
    assert_error(plain, 413, "too_large")


# Werkzeug alone would hand the view an empty body (eventlet) or one cut at the limit
# (gevent); app.security reads a chunked body itself.
@pytest.mark.parametrize("server", ["gevent", "eventlet"])
def test_a_chunked_body_up_to_the_limit_arrives_whole(api, make_user, spools, server):
    user = make_user(Role.REQUESTER)
    body = json_of_size(MB, email=user.email, password=PASSWORD)

    response = send_chunked(api.client, "/api/v1/tokens", body, server)

    assert response.status_code == 201, response.get_data(as_text=True)[:300]
    assert api.get("/providers", response.get_json()["token"]).status_code == 200


@pytest.mark.parametrize("server", ["gevent", "eventlet"])
@pytest.mark.parametrize("size", [MB + 1, 3 * MB])
def test_a_chunked_body_over_the_limit_is_refused_not_cut_short(
    api, make_user, spools, server, size
):
    user = make_user(Role.REQUESTER)
    body = json_of_size(size, email=user.email, password=PASSWORD)

    response = send_chunked(api.client, "/api/v1/tokens", body, server)

    assert_error(response, 413, "too_large")


def test_the_spooled_chunked_body_is_closed_once_the_request_is_answered(api, make_user, spools):
    user = make_user(Role.REQUESTER)
    body = json_of_size(2 * 1024, email=user.email, password=PASSWORD)

    response = send_chunked(api.client, "/api/v1/tokens", body)
    response.close()

    assert response.status_code == 201
    assert len(spools) == 1
    assert spools[0].closed


# JSON shapes and ids ---------------------------------------------------------------------


def nested_lists(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ('{"email": ' + nested_lists(31) + "}", 422),  # 32 levels: read, then refused as a field
        ('{"email": ' + nested_lists(32) + "}", 400),
        ('{"email": ' + nested_lists(39) + "}", 400),
        (nested_lists(100_000), 400),  # deeper than the parser itself goes
    ],
    ids=["depth-32", "depth-33", "depth-40", "depth-100000"],
)
def test_json_nested_too_deep_is_a_clear_400(api, body, status):
    response = api.post("/tokens", data=body, content_type="application/json")

    if status == 400:
        error = assert_error(response, 400, "bad_request")
        assert error["message"] == "JSON nested deeper than 32 levels is not accepted."
    else:
        assert set(assert_error(response, 422, "invalid")["fields"]) == {"email", "password"}


@pytest.mark.parametrize(
    ("method", "path", "who"),
    [
        ("POST", "/requests/2147483648/cancel", "requester"),
        ("POST", "/requests/99999999999999999999/cancel", "requester"),
        ("GET", "/requests/9223372036854775808", "requester"),
        ("GET", "/requests/" + "9" * 5000, "requester"),  # past what int() will read
        ("POST", "/requests/2147483648/accept", "provider"),
        ("POST", "/visits/2147483648/end", "provider"),
        ("POST", "/visits/99999999999999999999/end", "provider"),
    ],
)
def test_ids_beyond_the_integer_range_in_api_urls_are_not_found(api, cast, method, path, who):
    token = cast.r if who == "requester" else api.token(cast.provider)

    response = api.call(method, path, token)

    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("visit_id", ["2147483648", "99999999999999999999", "0"])
def test_ids_beyond_the_integer_range_in_page_urls_are_not_found(client, auth, cast, visit_id):
    auth.login(cast.provider)

    response = client.get(f"/visits/{visit_id}")

    assert response.status_code == 404
    assert "Not found" in response.get_data(as_text=True)
    assert_no_trace(response)


@pytest.mark.parametrize(
    ("field", "value"),
    [("provider_id", 2**31), ("provider_id", 2**70), ("service_id", 2**31), ("service_id", 2**70)],
)
def test_ids_beyond_the_integer_range_in_json_are_invalid_fields(api, cast, field, value):
    body = {"provider_id": cast.provider.id, field: value}

    response = api.post("/requests", cast.r, json=body)

    error = assert_error(response, 422, "invalid")
    assert error["fields"] == {field: "Not an id."}
    assert open_requests_of(api.app, cast.requester.id) == []


# Socket.IO payloads ----------------------------------------------------------------------

NO_PAYLOAD = object()


@pytest.mark.parametrize(
    "payload",
    [NO_PAYLOAD, [1, 2], ["visit_id", 1], "visit_id=1", 7, 7.5, True, None],
    ids=["no payload", "list", "pair", "text", "int", "float", "bool", "null"],
)
def test_a_socket_event_without_an_object_is_refused_as_invalid(
    cast, socket_client, caplog, payload
):
    sc = socket_client(auth={"token": cast.r})
    args = () if payload is NO_PAYLOAD else (payload,)

    ack = sc.emit("join_visit", *args, callback=True)

    assert ack["error"]["code"] == "invalid"
    assert ack["error"]["message"]
    assert errors_logged(caplog) == []
    assert sc.is_connected()
    assert sc.emit("keepalive", {}, callback=True) == {"ok": True}


def test_an_unknown_socket_event_is_answered_not_found(cast, socket_client, caplog):
    sc = socket_client(auth={"token": cast.r})

    ack = sc.emit("delete_everything", {"visit_id": 1}, callback=True)

    assert ack == {"error": {"code": "not_found", "message": "Unknown event."}}
    assert errors_logged(caplog) == []
    assert sc.is_connected()


@pytest.mark.parametrize(
    "auth",
    ["{token}", ["{token}"], {"token": 123}, {"token": ["{token}"]}, {"token": None}],
    ids=["text", "list", "number token", "list token", "null token"],
)
def test_connecting_with_auth_that_is_not_a_token_object_is_refused(
    cast, socket_client, caplog, auth
):
    # The valid token itself, but not as {"token": "<text>"}.
    shaped = json.loads(json.dumps(auth).replace("{token}", cast.r))

    assert not socket_client(auth=shaped).is_connected()
    assert errors_logged(caplog) == []
    assert socket_client(auth={"token": cast.r}).is_connected()


# Sign-in throttling ----------------------------------------------------------------------


def browser(app, address: str = "127.0.0.1") -> Auth:
    """A browser at `address`: a test client with its own cookies, and its sign-in helper."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return Auth(client)


def signed_in(who: Auth) -> bool:
    return who.client.get("/api/v1/tokens").status_code == 200


def token_attempt(api, user, password: str, address: str = "127.0.0.1"):
    return api.post(
        "/tokens",
        json={"email": user.email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def retry_after(response) -> int:
    value = response.headers["Retry-After"]
    assert value.isdigit(), value
    return int(value)


def assert_locked_page(response) -> None:
    """The sign-in form answered 429 with Retry-After and says why, in words."""
    assert response.status_code == 429
    assert 1 <= retry_after(response) <= 60
    html = response.get_data(as_text=True)
    assert re.search(r"Too many sign-in attempts\. Try again in \d+ seconds\.", html), html
    assert_no_trace(response)


def assert_locked_api(response) -> None:
    error = assert_error(response, 429, "too_many_requests")
    assert error["message"].startswith("Too many sign-in attempts.")
    assert error["retry_after"] == retry_after(response)
    assert 1 <= error["retry_after"] <= 60


class CountingHasher(PasswordHasher):
    """The tier's cheap argon2id, counting the passwords it checks."""

    def __init__(self):
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.verified = 0

    def verify(self, hash, password):  # noqa: A002 (argon2's own parameter name)
        self.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch):
    counting = CountingHasher()
    monkeypatch.setattr(passwords, "_hasher", counting)
    return counting


@pytest.fixture
def failure_limit(app, monkeypatch) -> int:
    monkeypatch.setitem(app.config, "SIGN_IN_FAILURE_LIMIT", "3/minute")
    return 3


def test_wrong_passwords_lock_that_address_out_of_that_account_even_with_the_right_one(
    app, make_user, failure_limit
):
    user = make_user(Role.PROVIDER)
    attacker = browser(app, "10.0.0.66")
    for _ in range(failure_limit):
        assert attacker.login(user, WRONG).status_code == 422

    response = attacker.login(user, PASSWORD)

    assert_locked_page(response)
    assert not signed_in(attacker)


def test_the_sign_in_form_and_the_token_endpoint_count_the_same_failures(
    app, api, make_user, failure_limit
):
    user = make_user(Role.REQUESTER)
    attacker = browser(app, "10.0.0.66")
    assert attacker.login(user, WRONG).status_code == 422
    assert attacker.login(user, WRONG).status_code == 422
    assert_error(token_attempt(api, user, WRONG, "10.0.0.66"), 401, "invalid_credentials")

    assert_locked_api(token_attempt(api, user, PASSWORD, "10.0.0.66"))
    assert_locked_page(attacker.login(user, PASSWORD))


def test_a_locked_address_does_not_lock_the_owner_out(app, api, make_user, failure_limit):
    user = make_user(Role.REQUESTER)
    attacker = browser(app, "10.0.0.66")
    for _ in range(failure_limit):
        attacker.login(user, WRONG)
    assert attacker.login(user, PASSWORD).status_code == 429

    owner = browser(app, "192.0.2.10")
    assert owner.login(user, PASSWORD).status_code == 302
    assert signed_in(owner)
    assert token_attempt(api, user, PASSWORD, "192.0.2.10").status_code == 201


def test_a_locked_address_can_still_sign_in_to_other_accounts(app, api, make_user, failure_limit):
    user, colleague = make_user(Role.REQUESTER), make_user(Role.REQUESTER)
    shared = browser(app, "10.0.0.66")
    for _ in range(failure_limit):
        shared.login(user, WRONG)
    assert shared.login(user, PASSWORD).status_code == 429

    assert shared.login(colleague, PASSWORD).status_code == 302
    assert signed_in(shared)
    assert token_attempt(api, colleague, PASSWORD, "10.0.0.66").status_code == 201


def test_no_password_is_checked_while_a_lock_holds(app, api, make_user, failure_limit, hasher):
    user = make_user(Role.REQUESTER)
    attacker = browser(app, "10.0.0.66")
    for _ in range(failure_limit):
        attacker.login(user, WRONG)
    assert hasher.verified == failure_limit  # one check per attempt until the lock

    assert attacker.login(user, PASSWORD).status_code == 429
    assert attacker.login(user, WRONG).status_code == 429
    assert token_attempt(api, user, PASSWORD, "10.0.0.66").status_code == 429

    assert hasher.verified == failure_limit


def test_one_address_cannot_try_many_accounts(app, api, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "SIGN_IN_ADDRESS_LIMIT", "3/minute")
    users = [make_user(Role.REQUESTER) for _ in range(4)]
    sprayer = browser(app, "10.0.0.7")
    for user in users[:3]:
        assert sprayer.login(user, WRONG).status_code == 422

    assert_locked_page(sprayer.login(users[3], PASSWORD))
    assert_locked_api(token_attempt(api, users[3], PASSWORD, "10.0.0.7"))
    assert not signed_in(sprayer)
    assert browser(app, "10.0.0.8").login(users[3], PASSWORD).status_code == 302


def test_the_address_limit_counts_successful_sign_ins_too(app, api, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "SIGN_IN_ADDRESS_LIMIT", "2/minute")
    user = make_user(Role.REQUESTER)

    assert token_attempt(api, user, PASSWORD, "10.0.0.7").status_code == 201
    assert token_attempt(api, user, PASSWORD, "10.0.0.7").status_code == 201
    assert_locked_api(token_attempt(api, user, PASSWORD, "10.0.0.7"))


@pytest.fixture
def account_limit(app, monkeypatch) -> int:
    monkeypatch.setitem(app.config, "SIGN_IN_ACCOUNT_LIMIT", "3/minute")
    return 3


def spread_failures(app, user, count: int) -> None:
    """Wrong passwords for `user`, one from each of `count` addresses."""
    for n in range(count):
        assert browser(app, f"10.0.1.{n + 1}").login(user, WRONG).status_code == 422


def test_failures_from_many_addresses_lock_the_account_for_new_browsers_only(
    app, api, make_user, account_limit, hasher
):
    user = make_user(Role.PROVIDER)
    owner = browser(app, "192.0.2.10")
    assert owner.login(user, PASSWORD).status_code == 302
    owner.client.post("/auth/logout", data={"csrf_token": owner.csrf("/provider")})
    assert not signed_in(owner)
    spread_failures(app, user, account_limit)
    checked = hasher.verified

    stranger = browser(app, "10.0.2.1")
    assert_locked_page(stranger.login(user, PASSWORD))
    assert_locked_api(token_attempt(api, user, PASSWORD, "10.0.2.2"))
    assert hasher.verified == checked  # refused without checking the password

    assert owner.login(user, PASSWORD).status_code == 302
    assert signed_in(owner)


def test_a_device_cookie_earned_by_another_account_does_not_unlock_this_one(
    app, make_user, account_limit
):
    user, attacker_account = make_user(Role.PROVIDER), make_user(Role.PROVIDER)
    attacker = browser(app, "10.0.2.1")
    assert attacker.login(attacker_account, PASSWORD).status_code == 302
    attacker.client.post("/auth/logout", data={"csrf_token": attacker.csrf("/provider")})
    assert attacker.client.get_cookie("anteroom_device") is not None
    spread_failures(app, user, account_limit)

    assert_locked_page(attacker.login(user, PASSWORD))


def test_a_device_cookie_with_a_forged_signature_does_not_unlock_the_account(
    app, make_user, account_limit
):
    user = make_user(Role.PROVIDER)
    owner = browser(app, "192.0.2.10")
    assert owner.login(user, PASSWORD).status_code == 302
    # What the cookie names (the account) anyone can write; only the signature is secret.
    payload, _, signature = owner.client.get_cookie("anteroom_device").value.rpartition(".")
    forged = f"{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    spread_failures(app, user, account_limit)
    forger = browser(app, "10.0.2.1")
    forger.client.set_cookie("anteroom_device", forged)

    assert_locked_page(forger.login(user, PASSWORD))


def test_spelling_the_email_differently_does_not_reset_the_failure_count(
    api, make_user, failure_limit
):
    user = make_user(Role.REQUESTER)
    for n in range(failure_limit + 3):
        variant = user.email + "\u200e" * n  # the same account to authenticate()
        response = api.post("/tokens", json={"email": variant, "password": WRONG})
        assert response.status_code in (401, 429)

    assert token_attempt(api, user, PASSWORD).status_code == 429


# Request creation ------------------------------------------------------------------------


def test_a_requester_over_the_request_limit_gets_429_and_others_do_not(
    app, api, make_user, monkeypatch
):
    monkeypatch.setitem(app.config, "REQUEST_CREATION_LIMIT", "2/minute")
    providers = [make_user(Role.PROVIDER, available=True) for _ in range(3)]
    busy, other = make_user(Role.REQUESTER), make_user(Role.REQUESTER)
    busy_token, other_token = api.token(busy), api.token(other)
    for provider in providers[:2]:
        assert (
            api.post("/requests", busy_token, json={"provider_id": provider.id}).status_code == 201
        )

    response = api.post("/requests", busy_token, json={"provider_id": providers[2].id})

    assert_error(response, 429, "too_many_requests")
    assert 1 <= retry_after(response) <= 60
    assert len(open_requests_of(app, busy.id)) == 2
    answer = api.post("/requests", other_token, json={"provider_id": providers[2].id})
    assert answer.status_code == 201


# Socket.IO events per connection ---------------------------------------------------------


def test_a_connection_over_its_event_limit_is_told_to_slow_down(
    app, cast, socket_client, monkeypatch
):
    monkeypatch.setitem(app.config, "SOCKET_EVENT_LIMIT", "5/minute")
    chatty = socket_client(auth={"token": cast.r})
    quiet = socket_client(auth={"token": cast.r})  # the same user, another connection
    for _ in range(5):
        assert chatty.emit("keepalive", {}, callback=True) == {"ok": True}

    ack = chatty.emit("keepalive", {}, callback=True)

    error = ack["error"]
    assert (error["code"], error["message"]) == (
        "too_many_requests",
        "Too many messages; slow down.",
    )
    assert isinstance(error["retry_after"], int) and 1 <= error["retry_after"] <= 60
    assert chatty.is_connected()
    assert quiet.emit("keepalive", {}, callback=True) == {"ok": True}


# Switched off ----------------------------------------------------------------------------


def test_with_rate_limiting_off_nothing_is_limited(build_app, make_user):
    one = "1/minute"
    other = build_app(
        env={
            "RATELIMIT_ENABLED": "false",
            "SIGN_IN_ADDRESS_LIMIT": one,
            "SIGN_IN_FAILURE_LIMIT": one,
            "SIGN_IN_ACCOUNT_LIMIT": one,
            "REQUEST_CREATION_LIMIT": one,
            "SOCKET_EVENT_LIMIT": one,
        }
    )
    providers = [make_user(Role.PROVIDER, available=True) for _ in range(3)]
    requester = make_user(Role.REQUESTER)
    client = other.test_client()

    def sign_in(password):
        return client.post("/api/v1/tokens", json={"email": requester.email, "password": password})

    for _ in range(3):
        assert sign_in(WRONG).status_code == 401
    answer = sign_in(PASSWORD)
    assert answer.status_code == 201
    headers = {"Authorization": f"Bearer {answer.get_json()['token']}"}
    for provider in providers:
        created = client.post(
            "/api/v1/requests", json={"provider_id": provider.id}, headers=headers
        )
        assert created.status_code == 201
    sc = socketio.test_client(other, auth={"token": answer.get_json()["token"]})
    try:
        for _ in range(3):
            assert sc.emit("keepalive", {}, callback=True) == {"ok": True}
    finally:
        sc.disconnect()


# How long to wait, in words, and packets nobody can read ---------------------------------


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(1, "1 seconds"), (89, "89 seconds"), (90, "2 minutes"), (900, "15 minutes"),
     (5400, "2 hours"), (86400, "24 hours")],
)  # fmt: skip
def test_a_wait_is_said_in_the_largest_sensible_unit(seconds, words):
    from app.limits import in_words

    assert in_words(seconds) == words


@pytest.mark.parametrize(
    "raw",
    [  # Socket.IO packets as Engine.IO hands them on (its own "4" already taken off)
        '51-["signal",{"_placeholder":true,"num":0}]',  # a binary event: never sent by us
        '7["x"]',  # not a Socket.IO packet type
        "5",  # a binary event with nothing in it
        "29[7,{}]",  # an event whose name is not text
        "29[]",  # an event with no name
        '29{"event":"x"}',  # an event that is not a list
        "29garbage",  # not JSON
        "29" + "[" * 5000 + "]" * 5000,  # deeper than the parser goes
    ],
)
def test_an_unreadable_packet_becomes_the_malformed_event_with_its_ack_id(raw):
    from socketio import packet

    from app.realtime.packets import MALFORMED, SafePacket

    read = SafePacket(encoded_packet=raw)

    assert (read.packet_type, read.data) == (packet.EVENT, [MALFORMED])
    if raw.startswith("29"):
        assert read.id == 9  # so the sender's acknowledgement still arrives


def test_a_connect_packet_with_unreadable_auth_connects_as_if_it_had_none():
    from socketio import packet

    from app.realtime.packets import SafePacket

    read = SafePacket(encoded_packet="0" + "[" * 5000 + "]" * 5000)

    assert (read.packet_type, read.data) == (packet.CONNECT, None)


def test_a_readable_event_is_left_alone():
    from socketio import packet

    from app.realtime.packets import SafePacket

    read = SafePacket(encoded_packet='23["join_visit",{"visit_id":5}]')

    assert (read.packet_type, read.id, read.data) == (
        packet.EVENT,
        3,
        ["join_visit", {"visit_id": 5}],
    )
