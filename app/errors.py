"""The one error format: JSON {"error": {code, message, fields?}} on the API, a page elsewhere.

No stack trace reaches a user; unexpected errors are logged (without request bodies) and
answered with a plain 500.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge

from app.extensions import db
from app.services.errors import ServiceError

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "server_error",
    503: "unavailable",
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


logger = logging.getLogger("app.requests")


def init_app(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        db.session.rollback()
        response = make_response(
            respond(exc.status, exc.code, exc.message, exc.fields, **exc.extra)
        )
        retry_after = exc.extra.get("retry_after")
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(exc: RateLimitExceeded):
        # Flask-Limiter adds Retry-After to this response in its after_request hook.
        return respond(429, "too_many_requests", "Too many requests. Wait a moment and retry.")

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge):
        limit = request.max_content_length or 0
        return respond(413, "too_large", f"The request is too large (at most {limit // 1024} KB).")

    @app.errorhandler(ClientDisconnected)
    @app.errorhandler(TimeoutError)
    def body_cut_off(exc: Exception):
        # A browser closed the tab mid-upload, or stopped sending and hit the server's read
        # timeout (Werkzeug reports that as a disconnect caused by the timeout). Nothing
        # went wrong here: one line, no traceback.
        if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
            logger.info("client stalled mid-request: %s %s", request.method, request.path)
            return respond(408, "timeout", "The request took too long to arrive.")
        logger.info("client went away mid-request: %s %s", request.method, request.path)
        return respond(400, "bad_request", "The request was cut off.")

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return respond(400, "csrf_failed", "Your form expired. Reload the page and try again.")

    @app.errorhandler(OperationalError)
    @app.errorhandler(DisconnectionError)
    @app.errorhandler(PoolTimeout)
    def database_unavailable(exc: Exception):
        # The database refused or dropped the connection (a restart, a network cut, a
        # failover), or every pooled connection stayed busy. The transaction is rolled back
        # by the server with the connection, so nothing is half-written; the caller may
        # simply try again. One line in the log: no traceback for an outage.
        try:
            db.session.rollback()
        except Exception:  # the connection is gone; the session is reset all the same
            db.session.close()
        logger.warning(
            "database unavailable on %s %s: %s", request.method, request.path, type(exc).__name__
        )
        response = make_response(
            respond(
                503,
                "unavailable",
                "The service is briefly unavailable. Please try again in a moment.",
            )
        )
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        return respond(status, CODES.get(status, "error"), exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return respond(500, "server_error", "Something went wrong on our side. Please try again.")
