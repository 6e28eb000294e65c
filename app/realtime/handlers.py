"""Socket.IO handlers: who may connect, which rooms they join, and the signaling relay.

Authorized on connect (session cookie, or auth={"token": ...}) and again on every event.
"""

from __future__ import annotations

from flask import request
from flask_login import current_user, login_user
from flask_socketio import SocketIO, emit, join_room, leave_room
from socketio.exceptions import ConnectionRefusedError as Refused

from app.auth.session import idle_expired
from app.extensions import db
from app.models import Participant
from app.realtime.publish import visit_room, waiting_room
from app.services import visits
from app.services.errors import ServiceError
from app.services.snapshots import streams_for, take_snapshot
from app.services.users import user_for_token


def _error(exc: ServiceError) -> dict:
    db.session.rollback()
    return {"error": {"code": exc.code, "message": exc.message}}


def _visit_id(data) -> int | None:
    value = data.get("visit_id") if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def register(socketio: SocketIO) -> None:
    @socketio.on("connect")
    def connect(auth=None):
        """A dashboard, room page or API client connects; joins its streams, gets snapshots."""
        user = None
        token = auth.get("token") if isinstance(auth, dict) else None
        if token:
            user = user_for_token(token)
        elif current_user.is_authenticated and not idle_expired():
            # The real object: login_user() below stores what it is given in g, and the
            # proxy stored there would resolve to itself forever.
            user = current_user._get_current_object()
        if user is None:
            db.session.rollback()
            # python-socketio's own exception: with the built-in one the client is told only
            # "Connection refused by server", and pages never learn to sign in again.
            raise Refused("unauthorized")
        login_user(user)  # this connection's own session, so later events know the user
        for stream in streams_for(user):
            join_room(stream)
            emit("snapshot", take_snapshot(user, stream))

    @socketio.on("disconnect")
    def disconnect(reason=None):
        """Whoever this connection held in a waiting room or call has left."""
        try:
            left = visits.disconnect_sid(request.sid)
        except ServiceError:
            db.session.rollback()
            return
        for visit_id in left:
            emit("peer_left", {"visit_id": visit_id, "sid": request.sid}, to=visit_room(visit_id))

    @socketio.on("resync")
    def resync(data):
        """A client saw a gap in a stream's versions; answers with a fresh snapshot."""
        if not current_user.is_authenticated:
            return {"error": {"code": "unauthorized", "message": "Sign in again."}}
        stream = data.get("stream") if isinstance(data, dict) else None
        try:
            snapshot = take_snapshot(current_user, stream)
        except ServiceError as exc:
            return _error(exc)
        emit("snapshot", snapshot)
        return {"ok": True}

    @socketio.on("join_visit")
    def join_visit(data):
        """A room page opens: the host enters the meeting, others the waiting room.

        Admitted connections join visit:<id> and the others there get peer_joined; the
        rest join waiting:<id> and hear participant_updated when they are admitted.
        """
        if not current_user.is_authenticated:
            return {"error": {"code": "unauthorized", "message": "Sign in again."}}
        visit_id = _visit_id(data)
        if visit_id is None:
            return {"error": {"code": "invalid", "message": "visit_id is required."}}
        try:
            _, me = visits.load_visit(current_user, visit_id)
        except ServiceError as exc:
            return _error(exc)
        # Listen in the waiting room before arriving, so an admission that lands between
        # our commit and our reply is never missed.
        join_room(waiting_room(visit_id))
        try:
            presence = visits.enter_visit(current_user, visit_id, request.sid)
        except ServiceError as exc:
            leave_room(waiting_room(visit_id))
            return _error(exc)
        db.session.rollback()
        if presence == "admitted":
            leave_room(waiting_room(visit_id))
            join_room(visit_room(visit_id))
            emit(
                "peer_joined",
                {
                    "visit_id": visit_id,
                    "sid": request.sid,
                    "participant_id": me.id,
                    "name": current_user.name,
                },
                to=visit_room(visit_id),
                include_self=False,
            )
        return {"presence": presence, "participant_id": me.id, "sid": request.sid}

    @socketio.on("leave_visit")
    def leave_visit_event(data):
        """Hang up: leave the room; the others get peer_left."""
        visit_id = _visit_id(data)
        if visit_id is None or not current_user.is_authenticated:
            return {"error": {"code": "invalid", "message": "visit_id is required."}}
        try:
            visits.leave_visit(current_user, visit_id, request.sid)
        except ServiceError as exc:
            return _error(exc)
        _announce_departure(visit_id, request.sid)
        return {"ok": True}

    @socketio.on("signal")
    def signal(data):
        """Relay an offer, answer or ICE candidate to one admitted peer of the same visit."""
        visit_id = _visit_id(data)
        target = data.get("to") if isinstance(data, dict) else None
        payload = data.get("data") if isinstance(data, dict) else None
        if visit_id is None or not isinstance(target, str) or not isinstance(payload, dict):
            return {"error": {"code": "invalid", "message": "visit_id, to and data are required."}}
        if not current_user.is_authenticated or not _both_admitted(visit_id, request.sid, target):
            db.session.rollback()
            return {"error": {"code": "forbidden", "message": "Not in this call."}}
        db.session.rollback()
        emit("signal", {"visit_id": visit_id, "from": request.sid, "data": payload}, to=target)
        return {"ok": True}


def _both_admitted(visit_id: int, sender: str, target: str) -> bool:
    rows = db.session.scalars(
        db.select(Participant.presence_sid).where(
            Participant.visit_id == visit_id,
            Participant.presence == "admitted",
            Participant.presence_sid.in_([sender, target]),
        )
    ).all()
    return sender != target and set(rows) == {sender, target}


def _announce_departure(visit_id: int, sid: str) -> None:
    leave_room(visit_room(visit_id))
    leave_room(waiting_room(visit_id))
    emit("peer_left", {"visit_id": visit_id, "sid": sid}, to=visit_room(visit_id))
