"""What each API route accepts and answers, said once: `@operation(...)` records it for the
OpenAPI document (app.api.openapi) and validates the body and query string against the
same pydantic models (app.api.schemas) before the view runs.

A refused body is the one error format's 422 (Invalid), with the messages users have
always seen: the model's `wording` where a route words a field its own way, otherwise
"<field> must be text." and its kin.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import abort, request
from pydantic import BaseModel, ValidationError

from app.api.schemas import Body
from app.services.errors import Invalid

MAX_JSON_DEPTH = 32
M = TypeVar("M", bound=Body)


@dataclass(frozen=True)
class Operation:
    """One route's contract, as the document shows it."""

    # A model, list[model], dict (any JSON object), a tuple of media types (a file), or
    # None (204, no content).
    returns: Any = None
    status: int = 200
    body: type[Body] | None = None
    query: type[Body] | None = None
    upload: type[BaseModel] | None = None  # multipart/form-data besides JSON
    errors: tuple[int, ...] = ()
    public: bool = False
    summary: str | None = None
    description: str | None = None


# Endpoint name (the view function's name on the API blueprint) → its contract.
OPERATIONS: dict[str, Operation] = {}


def operation(
    returns: Any = None,
    *,
    status: int = 200,
    body: type[Body] | None = None,
    query: type[Body] | None = None,
    upload: type[BaseModel] | None = None,
    errors: tuple[int, ...] = (),
    public: bool = False,
):
    """Record a route's contract; with `body` or `query`, the view gets the validated model
    as a keyword argument of that name (a view that also takes uploads parses its own JSON
    with `parse`). Put it below `role_required`, so a caller is known before a body is read."""

    def decorator(view):
        doc = (view.__doc__ or "").strip()
        summary, _, rest = doc.partition("\n\n")
        OPERATIONS[view.__name__] = Operation(
            returns=returns,
            status=status,
            body=body,
            query=query,
            upload=upload,
            errors=errors,
            public=public,
            summary=" ".join(summary.split()) or view.__name__.replace("_", " ").capitalize(),
            description=" ".join(doc.split()) if rest else None,
        )
        if (body is None or upload is not None) and query is None:
            return view

        @wraps(view)
        def validated(*args, **kwargs):
            if query is not None:
                kwargs["query"] = parse(query, request.args.to_dict())
            if body is not None and upload is None:
                kwargs["body"] = parse(body, json_body())
            return view(*args, **kwargs)

        return validated

    return decorator


def json_body() -> dict:
    """The request's JSON object ({} for an empty body); 400 for anything else.

    Parsed here rather than by request.get_json so that JSON nested deeper than
    MAX_JSON_DEPTH (which would exhaust the parser's recursion) is a clean 400 too.
    """
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    if not request.is_json:
        abort(415, "Send JSON (Content-Type: application/json).")
    too_deep = f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not accepted."
    try:
        body = json.loads(raw)
    except ValueError:
        abort(400, "Send a JSON object: the body is not valid JSON.")
    except RecursionError:  # deeper than the parser itself will go
        abort(400, too_deep)
    if _depth(body) > MAX_JSON_DEPTH:
        abort(400, too_deep)
    if not isinstance(body, dict):
        abort(400, "Send a JSON object.")
    return body


def _depth(value, limit: int = MAX_JSON_DEPTH + 1) -> int:
    """How deep containers nest in `value` (counting stops past `limit`)."""
    deepest, level = 0, [value]
    while level and deepest <= limit:
        deepest += 1
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]
    return deepest


def parse(model: type[M], data: dict) -> M:
    """`data` as a `model`; Invalid (422) naming each wrong field otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _refusal(model, exc.errors(include_url=False)) from None


def _refusal(model: type[Body], errors: list[dict]) -> Invalid:
    unknown = [str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden"]
    if unknown:
        names = ", ".join(sorted(unknown))
        return Invalid(f"Unknown field: {names}.", fields=dict.fromkeys(unknown, "Unknown."))
    fields: dict[str, str] = {}
    first = None
    for error in errors:
        top = str(error["loc"][0])
        if top in model.wording:  # worded as a whole, as the route always has
            name, (message, note) = top, model.wording[top]
        else:
            name = _path(error["loc"])
            message, note = _generic(name, error)
        fields.setdefault(name, note)
        first = first or message
    return Invalid(model.invalid or first or "The request is not valid.", fields=fields)


def _path(loc: tuple) -> str:
    """patient.name, participants.0.email: the field's path, without pydantic's union tags."""
    parts = [str(p) for p in loc[:3] if isinstance(p, int) or str(p).isidentifier()]
    return ".".join(p for p in parts if p not in {"str", "int", "float", "bool"})


def _generic(name: str, error: dict) -> tuple[str, str]:
    kind = error["type"]
    if kind == "missing":
        return f"{name} is required.", "Required."
    if kind == "bool_type":
        return f"{name} must be true or false.", "Not a boolean."
    if kind == "string_type":
        return f"{name} must be text.", "Not text."
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"{name} must be an object.", "Not an object."
    if kind == "list_type":
        return f"{name} must be a list.", "Not a list."
    if kind == "literal_error":
        return f"{name} must be {error['ctx']['expected']}.", "Unknown."
    if name.endswith("id") and kind.startswith(("int", "greater", "less")):
        return f"{name} must be a positive whole number.", "Not an id."
    if kind.startswith(("int", "float", "greater", "less", "finite")):
        return f"{name} must be a number in range.", "Out of range."
    return f"{name} is not valid.", "Not valid."
