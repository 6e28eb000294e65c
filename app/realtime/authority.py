"""No Socket.IO connection outlives the authority it was opened with.

Every connection is opened with one credential: a signed-in browser session, an API
token, a guest's link or a kiosk station's credential. This process keeps a registry of
its own connections and the credential behind each. Three things close a connection whose
credential no longer counts:

- every event re-checks the credential before its handler runs (`caller`);
- `revoke()`, called by the service that ended a session, revoked a token, deactivated a
  user or changed a role, disconnects this process's matching connections at once and
  tells the pages (`signed_out`, through the message queue to every instance) to go to
  sign-in;
- a sweeper in each web process re-checks all of its connections every
  AUTHORITY_CHECK_SECONDS. It is what makes the guarantee hold on every instance, and on
  the embedded default when the change came from another process (the CLI).

The registry also caps how many connections one user may hold in a process.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from flask import Flask, current_app

from app.extensions import db, socketio
from app.models import Participant, User

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Credential:
    """What a connection was opened with; `user` names all of a user's, for revocation."""

    kind: str  # session | token | guest | station | user
    id: int

    @classmethod
    def session(cls, session_id: int) -> Credential:
        return cls("session", session_id)

    @classmethod
    def token(cls, token_id: int) -> Credential:
        return cls("token", token_id)

    @classmethod
    def guest(cls, participant_id: int) -> Credential:
        """A guest's link (their signed guest session) in one visit."""
        return cls("guest", participant_id)

    @classmethod
    def station(cls, station_id: int) -> Credential:
        """A kiosk station's credential (its cookie, or its bearer token)."""
        return cls("station", station_id)

    @classmethod
    def of_user(cls, user_id: int) -> Credential:
        return cls("user", user_id)

    @property
    def room(self) -> str:
        return f"user:{self.id}" if self.kind == "user" else f"auth:{self.kind}:{self.id}"


Owner = tuple[str, int]  # ("user", user id) or ("guest", participant id)


@dataclass(frozen=True)
class Connection:
    sid: str
    credential: Credential
    owner: Owner
    role: str

    def matches(self, credential: Credential) -> bool:
        if credential.kind == "user":
            return self.owner == ("user", credential.id)
        return self.credential == credential


class Registry:
    """This process's open connections, by socket id."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_sid: dict[str, Connection] = {}
        # How many each owner holds: counting them over every connection on each connect
        # made a storm of N reconnects cost N² (bench/connect_storm.py).
        self._held: dict[Owner, int] = {}

    def add(self, connection: Connection, per_user: int) -> bool:
        """Register a connection; False when its user already holds `per_user` here."""
        with self._lock:
            held = self._held.get(connection.owner, 0)
            if held >= per_user:
                return False
            replaced = self._by_sid.get(connection.sid)
            if replaced is not None:  # a sid is never reused; the counts stay right if it is
                self._release(replaced.owner)
            self._by_sid[connection.sid] = connection
            self._held[connection.owner] = self._held.get(connection.owner, 0) + 1
            return True

    def remove(self, sid: str) -> Connection | None:
        with self._lock:
            connection = self._by_sid.pop(sid, None)
            if connection is not None:
                self._release(connection.owner)
            return connection

    def _release(self, owner: Owner) -> None:
        held = self._held.get(owner, 0) - 1
        if held > 0:
            self._held[owner] = held
        else:
            self._held.pop(owner, None)

    def get(self, sid: str) -> Connection | None:
        return self._by_sid.get(sid)

    def all(self) -> list[Connection]:
        with self._lock:
            return list(self._by_sid.values())


registry = Registry()
_sweeper_started = False
_sweeper_lock = threading.Lock()


def owner_of(who: User | Participant) -> tuple[Owner, str]:
    if isinstance(who, Participant):
        return ("guest", who.id), "guest"
    return ("user", who.id), who.role


def admit(sid: str, credential: Credential, who: User | Participant) -> bool:
    """Register a new connection; False when its owner is at MAX_SOCKETS_PER_USER."""
    per_user = current_app.config["MAX_SOCKETS_PER_USER"]
    owner, role = owner_of(who)
    return registry.add(Connection(sid, credential, owner, role), per_user)


def forget(sid: str) -> Connection | None:
    """A connection closed: drop it from the registry; returns what it was."""
    return registry.remove(sid)


def holds(credential: Credential) -> bool:
    """Whether this process still has a connection opened with `credential`."""
    return any(c.matches(credential) for c in registry.all())


def _live(connections: list[Connection]) -> dict[Credential, tuple[Owner, str]]:
    """Which of these connections' credentials still count, with their owner and role."""
    from app.services.auth_sessions import live_sessions
    from app.services.guests import live_guests
    from app.services.stations import live_stations
    from app.services.tokens import live_tokens

    def of(kind: str) -> set[int]:
        return {c.credential.id for c in connections if c.credential.kind == kind}

    live = {}
    for kind, found in (
        ("session", live_sessions(of("session"))),
        ("token", live_tokens(of("token"))),
        ("station", live_stations(of("station"))),
    ):
        live.update(
            {Credential(kind, i): (("user", uid), role) for i, (uid, role) in found.items()}
        )
    live.update({Credential.guest(i): (("guest", i), "guest") for i in live_guests(of("guest"))})
    return live


def _still_valid(connection: Connection, live: dict[Credential, tuple[Owner, str]]) -> bool:
    return live.get(connection.credential) == (connection.owner, connection.role)


def caller(sid: str) -> tuple[User | Participant, Connection] | tuple[None, None]:
    """Who is behind this connection (a user, or a guest's participant), re-checked now; a
    connection whose credential no longer counts is closed and gets (None, None)."""
    connection = registry.get(sid)
    if connection is None:
        return None, None
    who = None
    if _still_valid(connection, _live([connection])):
        kind, owner_id = connection.owner
        who = db.session.get(User if kind == "user" else Participant, owner_id)
    if who is None:
        db.session.rollback()
        _disconnect(connection.sid)
        return None, None
    return who, connection


def revoke(credential: Credential, reason: str) -> None:
    """A credential stopped counting (its change is committed): close this process's
    connections opened with it now; with a message queue, tell the pages on the other
    instances too (their own sweep closes those connections within seconds)."""
    for connection in registry.all():
        if connection.matches(credential):
            _disconnect(connection.sid, reason)
    if current_app.config["REDIS_URL"]:
        try:
            socketio.emit("signed_out", {"reason": reason}, to=credential.room)
        except Exception:
            logger.exception("could not announce the end of %s %s", credential.kind, credential.id)


def sweep() -> int:
    """Close every connection of this process whose credential no longer counts.

    Returns how many were closed. One query per credential kind, whatever the number of
    connections."""
    connections = registry.all()
    if not connections:
        return 0
    live = _live(connections)
    db.session.rollback()  # end the read transaction
    stale = [c for c in connections if not _still_valid(c, live)]
    for connection in stale:
        _disconnect(connection.sid)
    _count_stations_seen([c for c in connections if c not in stale])
    return len(stale)


def _count_stations_seen(connections: list[Connection]) -> None:
    """A station with a live socket is online: its last_seen_at is kept fresh (the admin's
    stations page counts one unseen for STATION_ONLINE_SECONDS as offline)."""
    from app.services.stations import touch_stations

    touch_stations({c.credential.id for c in connections if c.credential.kind == "station"})


def _disconnect(sid: str, reason: str = "ended") -> None:
    """Tell the page to sign in again, then close the connection. The notice goes straight
    to this process's socket (not through the queue), so it arrives before the close: a
    client closed by the server does not reconnect by itself."""
    registry.remove(sid)
    try:
        socketio.emit("signed_out", {"reason": reason}, to=sid, ignore_queue=True)
        socketio.server.disconnect(sid, namespace="/")
    except Exception:
        logger.exception("could not close a socket whose authority ended")


def start_sweeper(app: Flask) -> None:
    """Start this process's sweeper (once), as a background task of the async mode."""
    global _sweeper_started
    interval = app.config["AUTHORITY_CHECK_SECONDS"]
    if not interval:
        return
    with _sweeper_lock:
        if _sweeper_started:
            return
        _sweeper_started = True
    socketio.start_background_task(_sweep_forever, app, interval)


def _sweep_forever(app: Flask, interval: float) -> None:
    while True:
        socketio.sleep(interval)
        with app.app_context():
            try:
                sweep()
            except Exception:
                db.session.rollback()
                logger.exception("the authority sweep failed; it runs again shortly")
            finally:
                db.session.remove()
