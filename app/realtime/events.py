"""The one door every Socket.IO event goes through.

`event()` limits the connection's rate, re-checks its credential (app.realtime.authority),
refuses a payload that is not an object, and turns refusals and unexpected errors into an
error acknowledgement {"error": {"code", "message", "fields"?}}, so no junk reaches a
handler and no traceback reaches the log for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from flask import request
from flask_socketio import SocketIO

from app.extensions import db
from app.limits import ConnectionLimits
from app.models import User
from app.models.types import MAX_ID
from app.realtime import authority
from app.realtime.authority import Connection
from app.services.errors import ServiceError

logger = logging.getLogger("app.realtime.handlers")
_limits: ConnectionLimits | None = None

# The events a kiosk station's connection may send: a requester's (its dashboard's resync,
# and being the patient in its visits' waiting room and call). Any other is refused here,
# whatever its handler would decide: a new event is closed to stations until added.
STATION_EVENTS = frozenset(
    {
        "resync",
        "keepalive",
        "join_visit",
        "leave_visit",
        "signal",
        "media_state",
        "chat_send",
        "chat_history",
        "answer_snapshot",
    }
)


def connection_limits() -> ConnectionLimits:
    global _limits
    if _limits is None:
        _limits = ConnectionLimits()
    return _limits


def refusal(code: str, message: str, **extra) -> dict:
    error = {"code": code, "message": message}
    error.update(extra)
    return {"error": error}


def visit_id_of(data: dict) -> int | None:
    value = data.get("visit_id")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        return None
    return value


def event(socketio: SocketIO, name: str):
    """Register `handler(who, connection, data)` for event `name`, behind the checks; `who`
    is the User, or for a guest their Participant."""

    def decorator(handler: Callable[[User, Connection, dict], dict | None]):
        @wraps(handler)
        def checked(data=None, *_ignored):
            sid = request.sid
            wait = connection_limits().wait_for(sid)
            if wait is not None:
                return refusal(
                    "too_many_requests", "Too many messages; slow down.", retry_after=wait
                )
            if data is not None and not isinstance(data, dict):
                return refusal("invalid", "Send an object.")
            try:
                who, connection = authority.caller(sid)
                if who is None:
                    return refusal("unauthorized", "Sign in again.")
                if connection.credential.kind == "station" and name not in STATION_EVENTS:
                    db.session.rollback()
                    return refusal("forbidden", "A station cannot do this.")
                return handler(who, connection, data or {})
            except ServiceError as exc:
                db.session.rollback()
                return refusal(
                    exc.code, exc.message, **({"fields": exc.fields} if exc.fields else {})
                )
            except Exception:
                db.session.rollback()
                logger.exception("Socket.IO event %s failed", name)
                return refusal("server_error", "Something went wrong on our side.")

        socketio.on_event(name, checked)
        return checked

    return decorator
