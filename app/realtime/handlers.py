"""Socket.IO handlers: who may connect, which rooms they join, and the signaling relay.

A connection is opened with a session cookie or auth={"token": ...}. Every event then
goes through `app.realtime.events.event()` (rate, credential, payload checks, errors as
acknowledgements). The room page's other events live in app.realtime.in_call.
"""

from __future__ import annotations

import logging

from flask import current_app, request, session
from flask_login import current_user
from flask_socketio import SocketIO, emit, join_room, leave_room
from socketio.exceptions import ConnectionRefusedError as Refused

from app.auth.session import GUEST_KEY, GUEST_LINK_KEY, current_session, station_of_cookie
from app.extensions import db
from app.models import Participant, Role, User, Visit
from app.realtime import authority, in_call
from app.realtime.authority import Credential
from app.realtime.events import connection_limits, event, refusal, visit_id_of
from app.realtime.packets import MALFORMED
from app.realtime.publish import stations_admin_room, visit_room, waiting_room
from app.services import stations, visits
from app.services.auth_sessions import session_by_id, touch_session
from app.services.errors import ServiceError
from app.services.guests import guest_of_session
from app.services.snapshots import streams_for, take_snapshot, take_snapshots
from app.services.tokens import token_row
from app.services.waiting_messages import messages_of

logger = logging.getLogger(__name__)


def _opened_with(auth) -> tuple[Credential, User | Participant] | tuple[None, None]:
    """The credential a new connection presents: a token in auth (an API token or a
    station's), else the cookies (a guest's session from their link, a signed-in user's
    session, or a kiosk station's cookie)."""
    if isinstance(auth, dict) and "token" in auth:
        token = auth["token"]
        if isinstance(token, str) and token.startswith(stations.TOKEN_PREFIX):
            station = stations.station_for_token(token)
            return (Credential.station(station.id), station.user) if station else (None, None)
        row = token_row(token)
        return (Credential.token(row.id), row.user) if row else (None, None)
    if GUEST_KEY in session:
        guest = guest_of_session(session.get(GUEST_KEY), session.get(GUEST_LINK_KEY))
        return (Credential.guest(guest.id), guest) if guest else (None, None)
    if current_user.is_authenticated:
        row = current_session()
        if row is not None:
            return Credential.session(row.id), current_user._get_current_object()
    station = station_of_cookie()
    if station is not None:
        return Credential.station(station.id), station.user
    return None, None


def register(socketio: SocketIO) -> None:
    @socketio.on("connect")
    def connect(auth=None):
        """A dashboard, room page, station or API client connects; joins its streams, gets
        snapshots. A station is announced online to admins (station_updated)."""
        credential, who = _opened_with(auth)
        if who is None:
            db.session.rollback()
            # python-socketio's own exception: with the built-in one the client is told only
            # "Connection refused by server", and pages never learn to sign in again.
            raise Refused("unauthorized")
        if not authority.admit(request.sid, credential, who):
            db.session.rollback()
            raise Refused("too_many_connections")
        authority.start_sweeper(current_app._get_current_object())
        join_room(credential.room)
        if credential.kind == "station":
            stations.touch_stations({credential.id}, force=True)  # online on the admin page
        if isinstance(who, Participant):
            return  # a guest follows no dashboard: only their visit's rooms, when they join
        join_room(Credential.of_user(who.id).room)
        if who.role == Role.ADMIN:
            join_room(stations_admin_room(who.organisation_id))  # its stations page, live
        streams = streams_for(who)
        for stream in streams:
            join_room(stream)  # before the snapshot: no event falls between the two
        for snapshot in take_snapshots(who, streams):
            emit("snapshot", snapshot)

    @socketio.on("disconnect")
    def disconnect(reason=None):
        """Whoever this connection held in a waiting room or call is reconnecting; a station
        whose last socket here closed is announced offline to admins (station_updated)."""
        connection = authority.forget(request.sid)
        connection_limits().forget(request.sid)
        if (
            connection is not None
            and connection.credential.kind == "station"
            and not authority.holds(connection.credential)
        ):
            stations.station_went_offline(connection.credential.id)
        # The call with this connection is over; its person may come back on a new one.
        reconnecting = current_app.config["RECONNECT_GRACE_SECONDS"] > 0
        for visit_id in visits.disconnect_sid(request.sid):
            emit(
                "peer_left",
                {"visit_id": visit_id, "sid": request.sid, "reconnecting": reconnecting},
                to=visit_room(visit_id),
            )

    @socketio.on(MALFORMED)
    def malformed(*_ignored):
        """A packet that could not be read (app.realtime.packets): an error, no traceback."""
        return refusal("invalid", "That message could not be read.")

    @socketio.on("*")
    def unknown(event_name, *_ignored):
        """Any event without a handler: a caller waiting for an answer gets one."""
        return refusal("not_found", "Unknown event.")

    @event(socketio, "resync")
    def resync(who, connection, data):
        """A client saw a gap in a stream's versions; answers with a fresh snapshot."""
        if not isinstance(who, User):
            return refusal("forbidden", "You cannot follow this stream.")
        stream = data.get("stream")
        emit("snapshot", take_snapshot(who, stream if isinstance(stream, str) else ""))
        return {"ok": True}

    @event(socketio, "keepalive")
    def keepalive(who, connection, data):
        """An open room page (or a dashboard in use) counts as activity for the idle logout."""
        if connection.credential.kind == "session":
            row = session_by_id(connection.credential.id)
            if row is not None:
                touch_session(row)
        db.session.rollback()
        return {"ok": True}

    @event(socketio, "join_visit")
    def join_visit(who, connection, data):
        """A room page opens: the host enters the meeting, others the waiting room.

        Admitted connections join visit:<id> and the others there get peer_joined; the
        rest join waiting:<id> and hear participant_updated when they are admitted.
        """
        visit_id = visit_id_of(data)
        if visit_id is None:
            return refusal("invalid", "visit_id is required.")
        _, me = visits.load_visit(who, visit_id)
        # Listen in the waiting room before arriving, so an admission that lands between
        # our commit and our reply is never missed.
        join_room(waiting_room(visit_id))
        try:
            presence = visits.enter_visit(who, visit_id, request.sid)
        except ServiceError:
            leave_room(waiting_room(visit_id))
            raise
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
                    "name": me.display_name,
                },
                to=visit_room(visit_id),
                include_self=False,
            )
        # What staff wrote to the waiting room so far; new ones arrive as waiting_message.
        messages = messages_of(db.session.get(Visit, visit_id))
        db.session.rollback()
        return {
            "presence": presence,
            "participant_id": me.id,
            "sid": request.sid,
            "messages": messages,
        }

    @event(socketio, "leave_visit")
    def leave_visit_event(who, connection, data):
        """Hang up: leave the room; the others get peer_left."""
        visit_id = visit_id_of(data)
        if visit_id is None:
            return refusal("invalid", "visit_id is required.")
        visits.leave_visit(who, visit_id, request.sid)
        _announce_departure(visit_id, request.sid)
        return {"ok": True}

    @event(socketio, "signal")
    def signal(who, connection, data):
        """Relay an offer, answer or ICE candidate to one admitted peer of the same visit,
        saying who sent it (their participant id, and whether they host)."""
        visit_id = visit_id_of(data)
        target, payload = data.get("to"), data.get("data")
        if visit_id is None or not isinstance(target, str) or not isinstance(payload, dict):
            return refusal("invalid", "visit_id, to and data are required.")
        admitted = _admitted_in(visit_id, [request.sid, target])
        if target == request.sid or set(admitted) != {request.sid, target}:
            db.session.rollback()
            return refusal("forbidden", "Not in this call.")
        me = admitted[request.sid]
        # Who sent it, as the server knows them: the receiver never trusts the payload's word.
        sender = {"participant_id": me.id, "host": me.role == "host"}
        db.session.rollback()
        emit(
            "signal",
            {"visit_id": visit_id, "from": request.sid, "sender": sender, "data": payload},
            to=target,
        )
        return {"ok": True}

    @event(socketio, "media_state")
    def media_state(who, connection, data):
        """Someone in the call muted or turned their camera off (or on): the others are told."""
        visit_id = visit_id_of(data)
        audio, video = data.get("audio"), data.get("video")
        if visit_id is None or not isinstance(audio, bool) or not isinstance(video, bool):
            return refusal("invalid", "visit_id, audio and video are required.")
        if not _admitted(visit_id, request.sid):
            db.session.rollback()
            return refusal("forbidden", "Not in this call.")
        db.session.rollback()
        emit(
            "media_state",
            {"visit_id": visit_id, "sid": request.sid, "audio": audio, "video": video},
            to=visit_room(visit_id),
            include_self=False,
        )
        return {"ok": True}

    in_call.register(socketio)


def _admitted_in(visit_id: int, sids: list[str]) -> dict[str, Participant]:
    """Of these connections, those holding someone admitted to the visit's call."""
    found = db.session.scalars(
        db.select(Participant).where(
            Participant.visit_id == visit_id,
            Participant.presence == "admitted",
            Participant.presence_sid.in_(sids),
        )
    ).all()
    return {p.presence_sid: p for p in found}


def _admitted(visit_id: int, sid: str) -> bool:
    return sid in _admitted_in(visit_id, [sid])


def _announce_departure(visit_id: int, sid: str) -> None:
    leave_room(visit_room(visit_id))
    leave_room(waiting_room(visit_id))
    emit("peer_left", {"visit_id": visit_id, "sid": sid}, to=visit_room(visit_id))
