"""The one error format: JSON {"error": {code, message, fields?}} on the API, a page elsewhere.

No stack trace reaches a user; unexpected errors are logged (without request bodies) and
answered with a plain 500.
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.services.errors import ServiceError

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "server_error",
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or (request.accept_mimetypes.best == "application/json")


def error_body(code: str, message: str, fields: dict | None = None, **extra) -> dict:
    error = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    error.update({k: v for k, v in extra.items() if v is not None})
    return {"error": error}


def respond(status: int, code: str, message: str, fields: dict | None = None, **extra):
    if wants_json():
        return jsonify(error_body(code, message, fields, **extra)), status
    return render_template("errors/error.html", status=status, message=message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        db.session.rollback()
        return respond(exc.status, exc.code, exc.message, exc.fields, **exc.extra)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return respond(400, "csrf_failed", "Your form expired. Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        return respond(status, CODES.get(status, "error"), exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return respond(500, "server_error", "Something went wrong on our side. Please try again.")
