"""The OpenAPI 3.1 document of the JSON API, built from the blueprint's rules and each
route's `@operation` (app.api.spec): the same pydantic models that validate a body give its
schema (pydantic writes JSON Schema 2020-12, OpenAPI 3.1's own dialect).

A rule under the API without an `@operation` is an error here, so a new route cannot go
undocumented (tests/app/test_openapi.py builds the document).

Who may call each operation (its `x-roles`, and a sentence in its description) is read from
the view itself: the roles its `role_required` recorded, the contract's `public`, and
whether a station may reach it (app.auth.access). Nothing here restates them, so the
document cannot say other than what the server enforces (the tests call every operation
with every role to hold it to that).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, get_args, get_origin

from flask import current_app
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from werkzeug.routing import Map, Rule

from app.api.schemas import Error
from app.api.spec import OPERATIONS, Operation
from app.auth.access import station_may_reach
from app.models import Role
from app.models.types import MAX_ID

PREFIX = "/api/v1"
REF = "#/components/schemas/{model}"
ARGUMENT = re.compile(r"<(?:(?P<converter>\w+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")

ERRORS = {
    400: "The body is not a JSON object (or not JSON).",
    401: "No valid credential: sign in, or send a bearer token that is not unknown or expired.",
    403: "The caller's role (or a station) may not do this.",
    404: "No such record, or one the caller may not see.",
    409: "The record changed under the caller; `error` carries its current state.",
    413: "The body is too large.",
    415: "Not JSON (Content-Type: application/json), or a file of a type not accepted.",
    422: "A field is missing or wrong; `error.fields` says which.",
    429: "Too many requests; wait for Retry-After seconds.",
    503: "The database (or the service this needs) is briefly unavailable; retry.",
}


# x-roles: the account roles, and these three (described in the document's info).
ANYONE = "anyone"  # public: no sign-in
STATION = "station"  # a kiosk station (a requester confined to a requester's own things)
UNSTATED = "unstated"  # signed in, but no role_required: the view checks its caller itself
GUEST = "guest"  # a patient or guest admitted by their visit link (no account)

CALLERS = (
    "Each operation's `x-roles` lists who the server lets through, read from the route's "
    "own checks: the account roles (admin, provider, requester, scheduler; all four for "
    "any signed-in account), `station` where a kiosk station may call it too (a station is "
    "refused, 403, everywhere else, even where requesters may call), `guest` where a patient "
    "or guest who came in by their visit link may call it too, `anyone` where no "
    "sign-in is needed (security [] then), and `unstated` where the route checks its "
    "caller itself instead of by role. The description ends with the same in words "
    '("Who may call: providers."). A caller not listed gets 403 before anything is looked '
    "up; one listed may still get 403 or 404 from the route's own checks (a visit's host, "
    "a clinic's staff, records of the caller's organisation)."
)
REFUSED = "a station is refused (403)"
PLURAL = {
    Role.ADMIN.value: "admins",
    Role.PROVIDER.value: "providers",
    Role.REQUESTER.value: "requesters",
    Role.SCHEDULER.value: "schedulers",
    STATION: "stations",
}


def build_document(url_map: Map, views: Mapping[str, Callable] | None = None) -> dict:
    """The document of every rule under /api/v1 (LookupError for one without a contract);
    `views` (endpoint → view; the current app's by default) say who may call each."""
    rules = sorted(
        (r for r in url_map.iter_rules() if r.rule.startswith(PREFIX + "/")), key=lambda r: r.rule
    )
    found: list[tuple[Rule, Operation]] = []
    for rule in rules:
        contract = OPERATIONS.get(rule.endpoint.partition(".")[2])
        if contract is None:
            raise LookupError(f"{rule.endpoint} ({rule.rule}) has no @operation")
        found.append((rule, contract))
    refs, schemas = _schemas([contract for _, contract in found])
    views = current_app.view_functions if views is None else views
    paths: dict[str, dict] = {}
    for rule, contract in found:
        path, parameters = _path(rule)
        who = callers(rule.endpoint, contract, views[rule.endpoint])
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(
                rule, contract, parameters, refs, who
            )
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "Anteroom API",
            "version": "1",
            "description": (
                "The same services as the pages, for stations and integrations. Errors are "
                'always {"error": {"code", "message", "fields"?}}. A caller with a session '
                "cookie must send X-CSRFToken on state-changing calls; a bearer token needs none. "
                + CALLERS
            ),
        },
        "servers": [{"url": PREFIX}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "POST /tokens {email, password}, or a station's credential.",
                },
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
    }


def _schemas(contracts: list[Operation]) -> tuple[dict, dict]:
    """Each model's reference, and the JSON Schemas they point at (components.schemas)."""
    wanted: dict[tuple[type[BaseModel], str], None] = {(Error, "serialization"): None}
    for contract in contracts:
        for model in (contract.body, contract.query, contract.upload):
            if model is not None:
                wanted[(model, "validation")] = None
        returned = _model_of(contract.returns)
        if returned is not None:
            wanted[(returned, "serialization")] = None
    refs, top = models_json_schema(list(wanted), ref_template=REF)
    return refs, top.get("$defs", {})


def _model_of(returns: Any) -> type[BaseModel] | None:
    if get_origin(returns) is list:
        returns = get_args(returns)[0]
    return returns if isinstance(returns, type) and issubclass(returns, BaseModel) else None


def _path(rule: Rule) -> tuple[str, list[dict]]:
    """/visits/{visit_id}/…, with a parameter for each of the rule's arguments."""
    parameters = []
    for match in ARGUMENT.finditer(rule.rule):
        converter, name = match["converter"], match["name"]
        if converter == "id":
            schema: dict = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        elif converter == "any":
            schema = {"type": "string", "enum": [a.strip() for a in match["args"].split(",")]}
        else:
            schema = {"type": "string"}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    path = ARGUMENT.sub(lambda m: "{" + m["name"] + "}", rule.rule)
    return path.removeprefix(PREFIX), parameters


def callers(endpoint: str, contract: Operation, view: Callable) -> list[str]:
    """The operation's x-roles: who gets past its role check and a station's confinement."""
    roles = getattr(view, "required_roles", None)
    if contract.public:
        names = [ANYONE]
    elif roles is None:
        names = [UNSTATED]
    else:
        names = [role.value for role in Role if not roles or role in roles]
    # The confinement of app.auth.access.confine_station, then the role check as a requester.
    if getattr(view, "admits_guests", False):
        names.append(GUEST)
    if station_may_reach(endpoint) and (Role.REQUESTER.value in names or names == [UNSTATED]):
        names.append(STATION)
    return names


def who_may_call(names: list[str]) -> str:
    """x-roles in words: "Who may call: providers; a station is refused (403)." """
    roles = [name for name in names if name not in (STATION, GUEST)]
    phrase = {
        ANYONE: "anyone, without signing in",
        UNSTATED: "whoever the route itself admits (it checks its caller without a role)",
    }.get(roles[0])
    if roles == [role.value for role in Role]:
        phrase = "any signed-in account"
    parts = [phrase] if phrase else [PLURAL[name] for name in roles]
    if GUEST in names:
        parts.append("patients and guests by their link")
    if STATION in names:
        if phrase or GUEST in names:
            return f"Who may call: {_and(parts)}, stations included."
        parts.append(PLURAL[STATION])
        return f"Who may call: {_and(parts)}."
    if ANYONE in names:
        return f"Who may call: {_and(parts)}; a station presenting its credential is refused (403)."
    return f"Who may call: {_and(parts)}; {REFUSED}."


def _and(words: list[str]) -> str:
    return " and ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else words[0]


def _operation(
    rule: Rule, contract: Operation, parameters: list[dict], refs: dict, who: list[str]
) -> dict:
    found: dict[str, Any] = {
        "operationId": rule.endpoint.partition(".")[2],
        "summary": contract.summary,
        "tags": [rule.rule.removeprefix(PREFIX + "/").split("/")[0]],
        "x-roles": who,
    }
    found["description"] = " ".join(filter(None, [contract.description, who_may_call(who)]))
    if contract.query is not None:
        parameters = parameters + _query(contract.query)
    if parameters:
        found["parameters"] = parameters
    if contract.body is not None:
        found["requestBody"] = _request_body(contract, refs)
    found["responses"] = _responses(contract, bool(parameters), refs)
    found["security"] = [] if contract.public else [{"bearer": []}, {"session": []}]
    return found


def _query(model: type[BaseModel]) -> list[dict]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": _not_null(prop),
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _not_null(prop: dict) -> dict:
    """A query parameter's schema: absent, not null, is how a query string leaves it out."""
    schema = {k: v for k, v in prop.items() if k not in ("title", "description", "anyOf")}
    if schema.get("default", "") is None:
        del schema["default"]
    for option in prop.get("anyOf", []):
        if option != {"type": "null"}:
            schema.update(option)
    return schema


def _request_body(contract: Operation, refs: dict) -> dict:
    model = contract.body
    assert model is not None
    content = {"application/json": {"schema": refs[(model, "validation")]}}
    if contract.upload is not None:
        content["multipart/form-data"] = {"schema": refs[(contract.upload, "validation")]}
    required = bool(model.model_json_schema().get("required"))
    return {"required": required, "content": content}


def _responses(contract: Operation, has_path_parameters: bool, refs: dict) -> dict:
    answers: dict[str, dict] = {str(contract.status): _success(contract, refs)}
    codes = {401, 403, 503, *contract.errors}
    if has_path_parameters:
        codes.add(404)
    if contract.body is not None:
        codes |= {400, 413, 415, 422}
    if contract.query is not None:
        codes.add(422)
    error = {"application/json": {"schema": refs[(Error, "serialization")]}}
    for code in sorted(codes):
        answers[str(code)] = {"description": ERRORS[code], "content": error}
    return answers


def _success(contract: Operation, refs: dict) -> dict:
    returns = contract.returns
    if returns is None:
        return {"description": "Done; no content."}
    if returns is dict:
        json_object = {"application/json": {"schema": {"type": "object"}}}
        return {"description": "Success.", "content": json_object}
    if isinstance(returns, tuple):  # media types other than JSON
        binary = {"type": "string", "format": "binary"}
        return {"description": "The file.", "content": {m: {"schema": binary} for m in returns}}
    model = _model_of(returns)
    assert model is not None, f"cannot document {returns!r}"
    schema = refs[(model, "serialization")]
    if get_origin(returns) is list:
        schema = {"type": "array", "items": schema}
    return {"description": "Success.", "content": {"application/json": {"schema": schema}}}
