"""The one place that emits.

A service collects messages in an Outbox while it works, stamps their stream versions in
its transaction, commits, and only then publishes. Room names are stream names.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import TextClause, select, text

from app.extensions import db, socketio
from app.metrics import observe_publish, take_commit_time
from app.models import StreamVersion

logger = logging.getLogger(__name__)


def provider_stream(user_id: int) -> str:
    return f"provider:{user_id}"


def requester_stream(user_id: int) -> str:
    return f"requester:{user_id}"


DIRECTORY_PREFIX = "directory:"


def directory_stream(organisation_id: int) -> str:
    """An organisation's providers and their availability: only its own accounts follow it."""
    return f"{DIRECTORY_PREFIX}{organisation_id}"


def clinic_stream(clinic_id: int) -> str:
    return f"clinic:{clinic_id}"


# Admins' stations page: each station's state and whether it is online (not versioned: the
# page reads the list again on every (re)connect).


def visit_room(visit_id: int) -> str:
    return f"visit:{visit_id}"


def waiting_room(visit_id: int) -> str:
    return f"waiting:{visit_id}"


@dataclass
class Message:
    event: str
    room: str
    payload: dict
    versioned: bool = True


@dataclass
class RoomMove:
    sid: str
    leave: tuple[str, ...]
    enter: tuple[str, ...]


@dataclass
class Outbox:
    messages: list[Message] = field(default_factory=list)
    moves: list[RoomMove] = field(default_factory=list)

    def add(self, event: str, stream: str, payload: dict) -> None:
        """A live update on a versioned stream (dashboards, directories)."""
        self.messages.append(Message(event, stream, payload))

    def add_call(self, event: str, room: str, payload: dict) -> None:
        """A call-room message (waiting and visit rooms); not versioned."""
        self.messages.append(Message(event, room, payload, versioned=False))

    def move(self, sid: str | None, leave: tuple[str, ...] = (), enter: tuple[str, ...] = ()):
        """Take a connection out of rooms and into others (the host admitted, moved back or
        removed someone): done after the messages, so it hears the news about itself, and
        wherever it is connected (the message queue carries it to its instance)."""
        if sid:
            self.moves.append(RoomMove(sid, tuple(leave), tuple(enter)))

    def stamp(self) -> None:
        """Advance each stream's version in the open transaction; call before commit."""
        counts = Counter(m.room for m in self.messages if m.versioned)
        if not counts:
            return
        latest = advance_streams(counts)
        next_version = {name: latest[name] - counts[name] + 1 for name in counts}
        for message in self.messages:
            if message.versioned:
                message.payload = {
                    **message.payload,
                    "stream": message.room,
                    "version": next_version[message.room],
                }
                next_version[message.room] += 1

    def publish(self) -> None:
        """Emit every message; call after commit.

        The change is already committed, so a failed emit (the message queue down) must not
        turn it into an error for the caller: screens catch up from their next snapshot or
        from the version gap the next event reveals.

        Each message's delay since that commit is observed (anteroom_event_publish_seconds).
        """
        committed_at = take_commit_time()
        for message in self.messages:
            try:
                socketio.emit(message.event, message.payload, to=message.room)
            except Exception:
                # Event and room only: payloads carry patient names.
                logger.exception("could not publish %s to %s", message.event, message.room)
            if committed_at is not None:
                observe_publish(committed_at)
        self.messages.clear()
        for move in self.moves:
            try:
                for room in move.leave:
                    socketio.server.leave_room(move.sid, room, namespace="/")
                for room in move.enter:
                    socketio.server.enter_room(move.sid, room, namespace="/")
            except Exception:
                logger.exception("could not move a connection between call rooms")
        self.moves.clear()


def stations_admin_room(organisation_id: int) -> str:
    """Where an organisation's admins' stations pages hear of its stations."""
    return f"admin:stations:{organisation_id}"


def add_station_update(outbox: Outbox, station_id: int, organisation_id: int, change: dict) -> None:
    """Queue `station_updated` for the organisation's open admin stations pages."""
    room = stations_admin_room(organisation_id)
    outbox.add_call("station_updated", room, {"id": station_id, **change})


def announce_station(station_id: int, organisation_id: int) -> None:
    """Tell the organisation's open admin stations pages that a station changed (they read
    the list again): after the commit that changed it (enrolled, revoked, a self-test…)."""
    outbox = Outbox()
    add_station_update(outbox, station_id, organisation_id, {"changed": True})
    outbox.publish()


def advance_streams(counts: dict[str, int]) -> dict[str, int]:
    """Add counts[name] to each stream's version (creating it) and return the new values."""
    # One statement for all of them (one round trip, however many streams). Rows are
    # written in the order given, and a fixed order keeps concurrent transactions from
    # locking rows in opposite orders.
    names = sorted(counts)
    params = {}
    for n, name in enumerate(names):
        params[f"name{n}"], params[f"count{n}"] = name, counts[name]
    rows = db.session.execute(_upsert_streams(len(names)), params)
    return {name: version for name, version in rows}


@functools.cache
def _upsert_streams(count: int) -> TextClause:
    """The upsert of `count` streams: the same SQL on SQLite and PostgreSQL. (A multi-row
    insert() construct has no cache key, so SQLAlchemy would compile it on every commit.)"""
    rows = ", ".join(f"(:name{n}, :count{n})" for n in range(count))
    table = StreamVersion.__tablename__
    return text(
        f"INSERT INTO {table} (name, version) VALUES {rows} ON CONFLICT (name) "
        f"DO UPDATE SET version = {table}.version + excluded.version RETURNING name, version"
    )


def stream_version(name: str) -> int:
    """The version a snapshot is taken at; read it before the snapshot's data."""
    version = db.session.execute(
        select(StreamVersion.version).where(StreamVersion.name == name)
    ).scalar_one_or_none()
    return version or 0
