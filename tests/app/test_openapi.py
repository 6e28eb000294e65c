"""The API's OpenAPI 3.1 document (/api/v1/openapi.json): valid, complete, and true.

True is schemathesis's part: it generates calls from the document for every operation, as a
provider, a requester and an admin, and checks that none is a 500 and every answer has a
status and a body the document gives. Bounded (a few examples each, derandomized, no
example database) so it runs the same in every CI pass.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from app.api.openapi import (
    ANYONE,
    GUEST,
    PREFIX,
    STATION,
    UNSTATED,
    build_document,
    who_may_call,
)
from app.api.spec import OPERATIONS, Operation
from app.auth.access import role_required
from app.extensions import db
from app.models import Role, User
from app.models.types import MAX_ID
from app.services import stations, tokens
from app.services.audit import Actor
from tests.app.helpers import assert_error

# Examples per operation and caller: valid calls, and calls the document says are wrong
# (wrong types, missing fields, ids out of range), which must be refused with a 4xx.
EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 4}
CLINIC = {"name": "Wound care", "organisation": "Riverside Health", "timezone": "Europe/London"}
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


def test_the_document_is_valid_openapi_3_1_and_needs_no_sign_in(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on anything OpenAPI 3.1 does not allow


def test_every_api_route_is_in_the_document(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = _openapi_path(rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            operation = document["paths"].get(path, {}).get(method.lower())
            if operation is None or not operation.get("responses"):
                missing.append(f"{method} {rule.rule}")
    assert not missing, missing


def test_a_route_without_a_contract_fails_the_document(app):
    from flask import Flask

    bare = Flask("bare")
    bare.add_url_rule(PREFIX + "/undocumented", "api.undocumented", lambda: "")
    with pytest.raises(LookupError, match="undocumented"):
        build_document(bare.url_map)


def test_each_operation_documents_its_errors_in_the_one_format(client):
    document = client.get("/api/v1/openapi.json").get_json()
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    book = document["paths"]["/visits"]["post"]
    assert {"201", "400", "401", "403", "413", "415", "422", "503"} <= set(book["responses"])
    assert book["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/BookVisitIn"
    )
    assert book["security"] == [{"bearer": []}, {"session": []}]
    assert document["paths"]["/tokens"]["post"]["security"] == []


# Who may call ------------------------------------------------------------------------------

# The self-test routes check their caller with their own decorator, which admits any account
# and also a patient or guest by their link (role_required admits only accounts); it says so
# on the view, and the document lists `guest`. No route is left `unstated`: a new route
# without role_required fails this test.
OPEN_TO_GUESTS = {"self_test_offer", "record_self_test", "latest_self_test"}
REFUSALS = {"Your account cannot do this.", "A station cannot do this."}


def _operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method.upper(), operation


def test_every_operation_says_who_may_call_it(client):
    document = client.get("/api/v1/openapi.json").get_json()
    known = {role.value for role in Role} | {ANYONE, STATION, GUEST}
    guests = set()
    for path, method, operation in _operations(document):
        where = f"{method} {path}"
        roles = operation["x-roles"]
        assert roles and set(roles) <= known, where
        assert operation["description"].endswith(who_may_call(roles)), where
        if ANYONE in roles:
            assert roles == [ANYONE] and operation["security"] == [], where
        else:
            assert operation["security"] == [{"bearer": []}, {"session": []}], where
        if GUEST in roles:
            guests.add(operation["operationId"])
    assert guests == OPEN_TO_GUESTS
    assert "x-roles" in document["info"]["description"]
    assert set(document["components"]["securitySchemes"]) == {"bearer", "session"}

    def who(path, method):
        operation = document["paths"][path][method]
        return operation["x-roles"], operation["description"].rpartition("Who may call: ")[2]

    assert who("/clinics", "post") == (["admin"], "admins; a station is refused (403).")
    assert who("/requests", "post") == (["requester", "station"], "requesters and stations.")
    assert who("/clinics", "get") == (
        ["admin", "provider", "scheduler"],
        "admins, providers and schedulers; a station is refused (403).",
    )
    assert who("/tokens", "get") == (
        ["admin", "provider", "requester", "scheduler"],
        "any signed-in account; a station is refused (403).",
    )
    assert who("/providers", "get")[0] == ["admin", "provider", "requester", "scheduler", STATION]
    assert who("/tokens", "post") == (
        [ANYONE],
        "anyone, without signing in; a station presenting its credential is refused (403).",
    )
    assert who("/self-tests", "post") == (
        ["admin", "provider", "requester", "scheduler", GUEST, STATION],
        "any signed-in account and patients and guests by their link, stations included.",
    )


def test_who_may_call_is_read_from_the_routes_own_role_check(app, monkeypatch):
    from flask import Flask

    bare = Flask("bare")

    @role_required(Role.SCHEDULER, Role.PROVIDER)
    def planning():
        return ""

    bare.add_url_rule(PREFIX + "/planning", "api.planning", planning)
    monkeypatch.setitem(OPERATIONS, "planning", Operation(returns=dict, summary="Planning"))
    operation = build_document(bare.url_map, bare.view_functions)["paths"]["/planning"]["get"]
    assert operation["x-roles"] == ["provider", "scheduler"]
    assert operation["description"] == (
        "Who may call: providers and schedulers; a station is refused (403)."
    )


def _fill(path: str, operation: dict, ids: dict, missing: bool) -> str:
    """The path with each id of a real record (or, `missing`, of none) and enums' first."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] != "path":
            continue
        name, schema = parameter["name"], parameter["schema"]
        if "enum" in schema:
            value = schema["enum"][0]
        else:
            value = MAX_ID if missing else ids.get(name, [1])[0]
        path = path.replace("{" + name + "}", str(value))
    return path


def _station_token(app, api) -> str:
    with app.app_context():
        _, code = stations.create_station("Cart 3", "Elm House", Actor.system())
    enrolled = api.post("/stations/enroll", json={"code": code})
    assert enrolled.status_code == 201, enrolled.get_json()
    return enrolled.get_json()["station_token"]


def _fresh_token(app, user: User) -> str:
    """A new token for `user`, active in their role again (a call may have revoked their
    tokens or changed them)."""
    with app.app_context():
        row = db.session.get(User, user.id)
        row.active, row.role = True, str(user.role)
        db.session.commit()
        token, _ = tokens.issue_token(row, "who may call")
    return token


def test_every_caller_the_document_does_not_list_is_refused_before_anything_else(
    app, api, make_user
):
    """Each operation called by each role and by a station: those not in its x-roles get
    the role check's 403, on real records and on missing ones alike (before a 404, a body
    check or anything the route does); those listed are never refused by it."""
    seeded = _seed(app, api, make_user)
    users = {**seeded["users"], Role.SCHEDULER: make_user(Role.SCHEDULER)}
    station = _station_token(app, api)
    document = api.get("/openapi.json").get_json()
    wrong, refused = [], 0
    for path, method, operation in sorted(
        _operations(document), key=lambda o: o[1] == "DELETE" or o[0].endswith(ENDINGS)
    ):
        listed = set(operation["x-roles"])
        for caller in [*users, STATION]:
            if caller == STATION or not listed & {ANYONE, UNSTATED}:
                admitted = caller in listed
            elif UNSTATED in listed:
                continue  # the route decides which accounts it admits
            else:
                admitted = True  # anyone
            for missing in (False, True):
                url = _fill(path, operation, seeded["ids"], missing)
                token = station if caller == STATION else _fresh_token(app, users[caller])
                response = api.call(method, url, token, json={})
                status = response.status_code
                by_role = status == 403 and response.get_json()["error"]["message"] in REFUSALS
                if by_role == admitted:
                    wrong.append(
                        f"{method} {url} as {caller}: {status} {response.get_data()[:100]}"
                    )
                refused += by_role
    assert not wrong, "\n".join(wrong)
    assert refused >= 200  # a few callers refused per operation, twice each


def test_a_refused_body_keeps_its_message(api, make_user):
    provider = make_user(Role.PROVIDER)
    token = api.token(provider)
    error = assert_error(
        api.put("/providers/me/availability", token, json={"available": "yes"}), 422, "invalid"
    )
    assert error["message"] == "available must be true or false."
    assert error["fields"] == {"available": "Not a boolean."}
    error = assert_error(api.post("/tokens", json={"email": 3}), 422, "invalid")
    assert error["message"] == "Send email and password."
    assert error["fields"] == {"email": "Required.", "password": "Required."}


def test_the_answers_of_a_whole_visit_are_as_documented(app, api, make_user, monkeypatch):
    """Every answer on the way through a clinic's day, successes included (which generated
    calls rarely reach), has a status and a body the document gives."""
    answers = []
    call = api.call

    def recorded(method, path, token=None, **kwargs):
        response = call(method, path, token, **kwargs)
        answers.append((method, path, response))
        return response

    monkeypatch.setattr(api, "call", recorded)
    seeded = _seed(app, api, make_user)
    provider, requester = seeded["users"][Role.PROVIDER], seeded["users"][Role.REQUESTER]
    p, r = api.token(provider), api.token(requester)
    visit_id, live = seeded["ids"]["visit_id"]
    clinic_id = seeded["ids"]["clinic_id"][0]
    room = {"host_url": "https://meet.example.org/h", "guest_url": "https://meet.example.org/g"}
    steps = [
        ("GET", "/tokens", p, None),
        ("GET", "/providers", r, None),
        ("GET", f"/requests/{seeded['ids']['request_id'][0]}", r, None),
        ("GET", "/clinics", p, None),
        ("GET", f"/clinics/{clinic_id}/schedule", p, None),
        ("GET", f"/clinics/{clinic_id}/tasks?all=1", p, None),
        ("GET", f"/visits/{visit_id}", p, None),
        ("GET", f"/visits/{visit_id}/links", p, None),
        ("POST", f"/visits/{visit_id}/waiting-messages", p, {"text": "Running late"}),
        ("GET", f"/visits/{visit_id}/waiting-messages", p, None),
        ("POST", f"/visits/{visit_id}/reinvite", p, None),
        ("PUT", "/providers/me/external-room", p, room),
        ("GET", "/providers/me/external-room", p, None),
        ("POST", f"/visits/{live}/participants", p, {"name": "Al", "email": "al@example.org"}),
        ("GET", f"/visits/{live}/participants", p, None),
        ("POST", f"/visits/{live}/messages", p, {"text": "Hello"}),
        ("GET", f"/visits/{live}/messages", p, None),
        ("GET", f"/visits/{live}/snapshots", p, None),
        ("GET", f"/visits/{visit_id}/notes", p, None),
        ("GET", "/notes", p, None),
        ("POST", f"/tasks/{seeded['ids']['task_id'][0]}/close", p, None),
        ("POST", "/self-tests", r, {"camera_ok": True, "microphone_ok": True}),
        ("GET", "/self-tests/latest", r, None),
        ("POST", f"/requests/{seeded['ids']['request_id'][0]}/decline", p, {"note": "Busy"}),
        ("POST", f"/requests/{seeded['ids']['request_id'][0]}/dismiss", r, None),
        ("PUT", "/providers/me/availability", p, {"available": False}),
        ("POST", f"/visits/{live}/end", p, None),
        ("POST", f"/visits/{visit_id}/complete", p, None),
        ("DELETE", "/providers/me/external-room", p, None),
        ("DELETE", "/tokens/current", p, None),
    ]
    for method, path, token, body in steps:
        api.call(method, path, token, **({"json": body} if body is not None else {}))
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    adapter = app.url_map.bind("localhost")
    wrong = []
    for method, path, response in answers:
        rule, _ = adapter.match(PREFIX + path.partition("?")[0], method, return_rule=True)
        operation = schema[_openapi_path(rule.rule)][method]
        if response.status_code >= 500:
            wrong.append(f"{method} {path}: {response.status_code}")
            continue
        try:
            operation.validate_response(response)
        except BaseException as exc:  # noqa: BLE001 (every wrong answer at once)
            wrong.append(f"{method} {path}: {response.status_code} {exc}")
    assert not wrong, "\n".join(wrong)
    assert sum(200 <= a[2].status_code < 300 for a in answers) >= 40


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule).removeprefix(PREFIX)


# schemathesis -----------------------------------------------------------------------------


def _seed(app, api, make_user) -> dict:
    """A small clinic with a booked visit, a request, a task, a note and a chat message, so
    that generated calls find real records as well as missing ones."""
    provider = make_user(Role.PROVIDER, available=True, services=["Wound care"])
    requester = make_user(Role.REQUESTER)
    admin = make_user(Role.ADMIN)
    scheduler = make_user(Role.SCHEDULER)
    a, p, r = api.token(admin), api.token(provider), api.token(requester)
    clinic = api.post("/clinics", a, json=CLINIC)
    assert clinic.status_code == 201, clinic.get_json()
    clinic_id = clinic.get_json()["id"]
    for user in (provider, scheduler):
        added = api.post(f"/clinics/{clinic_id}/members", a, json={"email": user.email})
        assert added.status_code == 201, added.get_json()
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0).isoformat()
    patient = {"name": "Jo Bloggs", "email": "jo@example.org"}
    booking = {"clinic_id": clinic_id, "start": start, "patient": patient}
    visit = api.post("/visits", p, json=booking)
    assert visit.status_code == 201, visit.get_json()
    visit_id = visit.get_json()["id"]
    task = api.post(f"/visits/{visit_id}/tasks", p, json={"text": "Call back"}).get_json()
    api.post(f"/visits/{visit_id}/notes", p, json={"text": "Looks well"})
    other = api.token(make_user(Role.REQUESTER))
    accepted = api.post("/requests", other, json={"provider_id": provider.id}).get_json()
    live = api.post(f"/requests/{accepted['id']}/accept", p).get_json()["visit_id"]
    pending = api.post("/requests", r, json={"provider_id": provider.id}).get_json()
    people = api.get(f"/visits/{visit_id}/participants", p).get_json()
    people += api.get(f"/visits/{live}/participants", p).get_json()
    return {
        "users": {Role.PROVIDER: provider, Role.REQUESTER: requester, Role.ADMIN: admin},
        "ids": {
            "clinic_id": [clinic_id],
            "visit_id": [visit_id, live],
            "request_id": [pending["id"], accepted["id"]],
            "task_id": [task["id"]],
            "participant_id": [person["id"] for person in people],
            "user_id": [provider.id, requester.id, scheduler.id],
            "token_id": [1],
            "attachment_id": [1],
        },
    }


ENDINGS = ("/cancel", "/complete", "/end", "/accept", "/decline", "/dismiss", "/close", "{action}")


def _ends_things(operation) -> bool:
    """Calls that end a visit, a request or a token go last, so the others meet live ones."""
    return operation.method.upper() == "DELETE" or operation.path.endswith(ENDINGS)


def _fresh_headers(app, users: dict) -> dict:
    """Each caller active in their role again, with a new token (a generated call may have
    deactivated, demoted or signed out one of them)."""
    headers = {}
    with app.app_context():
        for role, user in users.items():
            row = db.session.get(User, user.id)
            row.active, row.role = True, str(role)
            db.session.commit()
            token, _ = tokens.issue_token(row, "schemathesis")
            headers[role] = {"Authorization": f"Bearer {token}"}
    return headers


def _cases(operation, mode: GenerationMode, real: dict):
    """Generated calls; with ids of real records for half of them, where it has any."""
    cases = operation.as_strategy(generation_mode=mode)
    if not real:
        return cases
    ids = st.fixed_dictionaries({name: st.sampled_from(v) for name, v in real.items()})
    on_real = ids.flatmap(
        lambda chosen: operation.as_strategy(generation_mode=mode, path_parameters=chosen)
    )
    return st.one_of(cases, on_real)


def _fuzz(strategy, auth: dict, examples: int) -> None:
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        case.call_and_validate(headers=auth, checks=CHECKS)

    run()


@pytest.fixture
def _hypothesis_home(tmp_path):
    """Hypothesis keeps a cache of constants it read from the source (.hypothesis/) even with
    database=None: keep it out of the work tree."""
    set_hypothesis_home_dir(tmp_path / "hypothesis")
    yield
    set_hypothesis_home_dir(None)


@pytest.mark.usefixtures("_hypothesis_home")
def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(app, api, make_user):
    seeded = _seed(app, api, make_user)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    for operation in sorted((r.ok() for r in schema.get_all_operations()), key=_ends_things):
        names = [p.name for p in operation.path_parameters]
        real = {name: seeded["ids"][name] for name in names if name in seeded["ids"]}
        for role, auth in _fresh_headers(app, seeded["users"]).items():
            for mode, examples in EXAMPLES.items():
                try:
                    _fuzz(_cases(operation, mode, real), auth, examples)
                except BaseException as exc:  # noqa: BLE001 (one run shows every defect)
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    failures.append(f"{operation.label} as {role} ({mode.value}):\n{exc}")
    assert not failures, "\n\n".join(failures)
