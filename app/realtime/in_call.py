"""Socket.IO events of the room page besides joining and signaling: the session
information panel (people), the chat and the caller's private notes. The same services
as the JSON API, behind the same checks (`app.realtime.events.event`)."""

from __future__ import annotations

from flask_socketio import SocketIO

from app.extensions import db
from app.models import User
from app.models.types import MAX_ID
from app.realtime.events import event, refusal, visit_id_of
from app.services import camera_snapshots, chat, notes, participants


def register(socketio: SocketIO) -> None:
    register_people(socketio)
    register_chat(socketio)
    register_snapshots(socketio)


def _id(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        return None
    return value


def _participant_id(data: dict) -> int | None:
    return _id(data.get("participant_id"))


def register_people(socketio: SocketIO) -> None:
    """The session information panel's events: the same services as the JSON API."""

    @event(socketio, "list_participants")
    def list_participants(who, connection, data):
        """The room page (re)loads the people of its visit."""
        visit_id = visit_id_of(data)
        if visit_id is None:
            return refusal("invalid", "visit_id is required.")
        people = [participants.person_dict(p) for p in participants.people_of(who, visit_id)]
        db.session.rollback()
        return {"participants": people}

    @event(socketio, "change_participant")
    def change_participant(who, connection, data):
        """The host admits, denies, removes or moves someone back (action); everyone in
        the visit's rooms gets participant_updated, and the call peer_left when they go."""
        visit_id, participant_id = visit_id_of(data), _participant_id(data)
        action = data.get("action")
        if visit_id is None or participant_id is None or action not in participants.ACTIONS:
            return refusal(
                "invalid", "visit_id, participant_id and action (admit, deny, remove, hold)."
            )
        changed = participants.change_presence(who, visit_id, participant_id, action)
        return {"participant": participants.person_dict(changed)}

    @event(socketio, "add_participant")
    def add_participant(who, connection, data):
        """The host adds someone during the call: they are sent their own link at once."""
        visit_id = visit_id_of(data)
        if visit_id is None:
            return refusal("invalid", "visit_id is required.")
        if not isinstance(who, User):
            return refusal("forbidden", "Only the host can add people to this session.")
        person = {k: data.get(k) for k in ("name", "email", "mobile", "description")}
        added = participants.add_participant(who, visit_id, person)
        return {"participant": participants.person_dict(added)}

    @event(socketio, "hand_over_host")
    def hand_over_host(who, connection, data):
        """The host hands the visit to another provider in the call before leaving."""
        visit_id, participant_id = visit_id_of(data), _participant_id(data)
        if visit_id is None or participant_id is None:
            return refusal("invalid", "visit_id and participant_id are required.")
        changed = participants.hand_over_host(who, visit_id, participant_id)
        return {"participant": participants.person_dict(changed)}

    @event(socketio, "mute_participant")
    def mute_participant(who, connection, data):
        """The host asks someone in the call to mute; they get mute_requested."""
        visit_id, participant_id = visit_id_of(data), _participant_id(data)
        if visit_id is None or participant_id is None:
            return refusal("invalid", "visit_id and participant_id are required.")
        participants.ask_to_mute(who, visit_id, participant_id)
        return {"ok": True}


def register_chat(socketio: SocketIO) -> None:
    """The call's chat and the caller's private notes: the same services as the JSON API
    (files are sent over HTTP: app.visits.chat_routes)."""

    @event(socketio, "chat_send")
    def chat_send(who, connection, data):
        """Someone in the call writes to its chat; everyone in visit:<id> gets chat_message."""
        visit_id = visit_id_of(data)
        if visit_id is None:
            return refusal("invalid", "visit_id is required.")
        return {"ok": True, "message": chat.post_message(who, visit_id, data.get("text"))}

    @event(socketio, "chat_history")
    def chat_history(who, connection, data):
        """A room page (re)connects: the chat so far, oldest first."""
        visit_id = visit_id_of(data)
        if visit_id is None:
            return refusal("invalid", "visit_id is required.")
        return {"messages": chat.messages_for(who, visit_id)}

    @event(socketio, "note_add")
    def note_add(who, connection, data):
        """A member of staff writes a private note on the visit; nobody else is told."""
        visit_id = visit_id_of(data)
        if visit_id is None:
            return refusal("invalid", "visit_id is required.")
        return {"ok": True, "note": notes.add_note(who, visit_id, data.get("text"))}

    @event(socketio, "note_history")
    def note_history(who, connection, data):
        """The caller's own private notes on the visit, oldest first."""
        visit_id = visit_id_of(data)
        if visit_id is None:
            return refusal("invalid", "visit_id is required.")
        return {"notes": notes.notes_of(who, visit_id)}


def register_snapshots(socketio: SocketIO) -> None:
    """A camera snapshot with consent: the host asks, the participant answers."""

    @event(socketio, "request_snapshot")
    def request_snapshot(who, connection, data):
        """The host asks someone in the call; they get snapshot_requested."""
        visit_id, participant_id = visit_id_of(data), _participant_id(data)
        if visit_id is None or participant_id is None:
            return refusal("invalid", "visit_id and participant_id are required.")
        snapshot = camera_snapshots.request_snapshot(who, visit_id, participant_id)
        return {"snapshot": camera_snapshots.snapshot_dict(snapshot)}

    @event(socketio, "answer_snapshot")
    def answer_snapshot(who, connection, data):
        """The person asked allows or denies; the host gets snapshot_answered. On allow,
        the page then sends the frame over HTTP (app.visits.chat_routes)."""
        visit_id, snapshot_id, allow = visit_id_of(data), data.get("snapshot_id"), data.get("allow")
        if visit_id is None or not isinstance(allow, bool) or _id(snapshot_id) is None:
            return refusal("invalid", "visit_id, snapshot_id and allow are required.")
        snapshot = camera_snapshots.answer_snapshot(who, visit_id, snapshot_id, allow)
        return {"snapshot": camera_snapshots.snapshot_dict(snapshot)}
