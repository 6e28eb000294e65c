"""Kiosk stations: created by an admin, enrolled once with a one-time code, then holding a
long-lived credential until revoked.

A station acts as its own requester account (a `users` row with a password nothing can
match), so every requester flow serves it unchanged. The enrollment code is short enough
to type on a touch screen (10 characters, 50 bits) and lives 24 hours; guessing it is
bounded by the rate limit on enrollment. The credential is 256 random bits. Only the
SHA-256 of either is stored. Enrollment is one conditional update, so a code works once.
Revoking (or re-issuing a code) ends the credential: its sockets close at once in this
process and within AUTHORITY_CHECK_SECONDS everywhere else (app.realtime.authority).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.limits import TooManyRequests, in_words, spend, wait_for
from app.models import Role, Station, User
from app.models.types import utcnow
from app.realtime import authority
from app.realtime.publish import Outbox, add_station_update, announce_station
from app.services import audit
from app.services.errors import Conflict, Invalid, NotFound
from app.services.organisations import organisation_named
from app.services.self_tests import latest_for_stations
from app.services.serialize import iso
from app.services.text import clean_line

TOKEN_PREFIX = "st_"  # tells a station's bearer token from an API token without a query
# Crockford's base32 without I, L, O, U: nothing to misread on a card or a touch keyboard.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10
UNUSABLE_PASSWORD = "!station"  # not an argon2 hash: no password ever matches it
# A live station's last_seen_at is written at most this often.
SEEN_EVERY = timedelta(seconds=10)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalize_code(code: object) -> str | None:
    """A typed code as issued: upper case, without spaces or dashes; None if it cannot be one."""
    if not isinstance(code, str):
        return None
    code = re.sub(r"[\s-]", "", code).upper()
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


def _new_code() -> str:
    """Ten characters of CODE_ALPHABET (50 bits), shown as ABCDE-FGHJK."""
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{code[:5]}-{code[5:]}"


def _issue_code(station: Station, now: datetime) -> str:
    """A new code for the station (its hash and expiry set, in the caller's transaction)."""
    code = _new_code()
    station.enrollment_code_hash = _digest(normalize_code(code))
    station.enrollment_expires_at = now + current_app.config["STATION_CODE_LIFETIME"]
    return code


def _load(station_id: int, organisation_id: int | None = None) -> Station:
    """The station; with an organisation (an admin's), only one of that organisation's:
    another's is as missing as one that does not exist."""
    station = db.session.get(Station, station_id, populate_existing=True)
    if station is None or organisation_id not in (None, station.user.organisation_id):
        raise NotFound("No such station.")
    return station


def _organisations_of(station_ids: list[int]) -> dict[int, int]:
    """{station id: its organisation id}."""
    rows = db.session.execute(
        select(Station.id, User.organisation_id)
        .join(User, User.id == Station.user_id)
        .where(Station.id.in_(station_ids))
    ).all()
    return dict(rows)


def station_by_name(name: object) -> Station | None:
    """The station with this name (as typed: spaces and control characters cleaned)."""
    if not isinstance(name, str):
        return None
    return db.session.scalar(select(Station).where(Station.name == clean_line(name)))


def create_station(
    name: str,
    site: str,
    by: audit.Actor,
    now: datetime | None = None,
    organisation: str | None = None,
) -> tuple[Station, str]:
    """A new station and its own requester account, in the organisation of the admin
    creating it (from the command line: the named one, or the only one); returns it with
    its one-time enrollment code (shown once: only its hash is kept). Audited. Commits."""
    now = now or utcnow()
    name, site = clean_line(name or ""), clean_line(site or "")
    fields = {}
    if not name:
        fields["name"] = "Enter a name."
    elif len(name) > 80:
        fields["name"] = "Keep the name under 80 characters."
    if not site:
        fields["site"] = "Enter a site."
    elif len(site) > 120:
        fields["site"] = "Keep the site under 120 characters."
    if not fields and station_by_name(name) is not None:
        fields["name"] = "A station with this name already exists."
    admin = db.session.get(User, by.id) if by.kind == "user" else None
    try:
        home_id = admin.organisation_id if admin else organisation_named(organisation).id
    except Invalid as exc:
        fields.update(exc.fields)
    if fields:
        raise Invalid("The station could not be created.", fields=fields)
    user = User(
        organisation_id=home_id,
        email=f"station-{secrets.token_hex(8)}@stations.invalid",
        name=name,
        role=Role.REQUESTER.value,
        password_hash=UNUSABLE_PASSWORD,
        active=True,
    )
    station = Station(name=name, site=site, user=user, created_at=now)
    code = _issue_code(station, now)
    db.session.add(station)
    try:
        db.session.flush()
    except IntegrityError:  # the same name, created a moment ago by someone else
        db.session.rollback()
        raise Invalid(
            "The station could not be created.",
            fields={"name": "A station with this name already exists."},
        ) from None
    audit.record(by, "station_create", detail={"station_id": station.id, "name": name}, now=now)
    db.session.commit()
    announce_station(station.id, home_id)
    return station, code


def reissue_code(
    station_id: int,
    by: audit.Actor,
    now: datetime | None = None,
    organisation_id: int | None = None,
) -> str:
    """A new enrollment code for a station (a new device, or a code that expired): the
    credential it held until now ends, and its sockets close. An admin passes their
    organisation: another's station is not found. Audited. Commits."""
    now = now or utcnow()
    station = _load(station_id, organisation_id)
    code = _issue_code(station, now)
    station.token_hash = None
    station.enrolled_at = None
    station.revoked_at = None
    audit.record(by, "station_reissue", detail={"station_id": station.id}, now=now)
    db.session.commit()
    authority.revoke(authority.Credential.station(station.id), "revoked")
    announce_station(station.id, station.user.organisation_id)
    return code


def enroll_station(code: object, now: datetime | None = None) -> tuple[Station, str]:
    """Trade a live enrollment code for the station's credential (256 bits, only its hash
    kept). The code works once: two devices racing with it, one wins. Audited. Commits."""
    now = now or utcnow()
    normalized = normalize_code(code)
    if normalized is None:
        raise Invalid(
            f"Enter the {CODE_LENGTH}-character enrollment code.",
            fields={"code": "Not an enrollment code."},
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    won = db.session.execute(
        update(Station)
        .where(
            Station.enrollment_code_hash == _digest(normalized),
            Station.enrollment_expires_at > now,
            Station.revoked_at.is_(None),
        )
        .values(
            enrollment_code_hash=None,
            enrollment_expires_at=None,
            token_hash=_digest(token),
            enrolled_at=now,
            last_seen_at=now,
        )
        .returning(Station.id)
    ).scalar_one_or_none()
    if won is None:
        db.session.rollback()
        raise Invalid(
            "That enrollment code is wrong, used or expired. Ask an administrator for a new one.",
            fields={"code": "Wrong, used or expired."},
        )
    station = _load(won)
    audit.record(
        audit.Actor.station(station), "station_enroll", detail={"station_id": station.id}, now=now
    )
    db.session.commit()
    announce_station(station.id, station.user.organisation_id)
    return station, token


def enroll_from(address: str, code: object, now: datetime | None = None) -> tuple[Station, str]:
    """enroll_station for a device at `address`, which may get STATION_ENROLL_LIMIT codes
    wrong (a 10-character code is never guessed at that rate); then 429 until it passes."""
    wait = wait_for("STATION_ENROLL_LIMIT", "station-enroll", address)
    if wait is not None:
        raise TooManyRequests(f"Too many wrong codes. Try again in {in_words(wait)}.", wait)
    try:
        return enroll_station(code, now)
    except Invalid:
        spend("STATION_ENROLL_LIMIT", "station-enroll", address)
        raise


def station_for_token(token: object, now: datetime | None = None) -> Station | None:
    """The live station holding this credential (not revoked, its account active), counted
    as seen now; None for anything else."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    station = db.session.scalar(select(Station).where(Station.token_hash == _digest(token)))
    if station is None or station.revoked_at is not None or not station.user.active:
        return None
    now = now or utcnow()
    if station.last_seen_at is None or now - station.last_seen_at >= SEEN_EVERY:
        touch_stations({station.id}, now)
    return station


def station_of_user(user_id: int) -> Station | None:
    """The station an account belongs to, if it is a station's."""
    return db.session.scalar(select(Station).where(Station.user_id == user_id))


def revoke_station(
    station_id: int,
    by: audit.Actor,
    now: datetime | None = None,
    organisation_id: int | None = None,
) -> Station:
    """Revoke a station: its credential stops counting at once and its sockets close (here
    now, on other processes at their next sweep). An admin passes their organisation:
    another's station is not found. Audited. Commits."""
    now = now or utcnow()
    station = _load(station_id, organisation_id)
    if station.revoked_at is not None:
        raise Conflict("This station is already revoked.")
    station.revoked_at = now
    station.token_hash = None
    station.enrollment_code_hash = None
    station.enrollment_expires_at = None
    audit.record(by, "station_revoke", detail={"station_id": station.id}, now=now)
    db.session.commit()
    authority.revoke(authority.Credential.station(station.id), "revoked")
    announce_station(station.id, station.user.organisation_id)
    return station


def live_stations(ids: set[int]) -> dict[int, tuple[int, str]]:
    """Of these stations, those whose credential still counts: {id: (user id, role)}."""
    if not ids:
        return {}
    rows = db.session.execute(
        select(Station.id, Station.user_id, User.role)
        .join(User, User.id == Station.user_id)
        .where(
            Station.id.in_(ids),
            Station.token_hash.is_not(None),
            Station.revoked_at.is_(None),
            User.active.is_(True),
        )
    ).all()
    return {row.id: (row.user_id, row.role) for row in rows}


def touch_stations(ids: set[int], now: datetime | None = None, *, force: bool = False) -> None:
    """Count these stations as seen now (at most one write per station per SEEN_EVERY,
    unless forced: a socket just connected); the admin page hears of each write as the
    station being online. Commits when it wrote."""
    if not ids:
        return
    now = now or utcnow()
    query = update(Station).where(Station.id.in_(ids), Station.revoked_at.is_(None))
    if not force:
        query = query.where(
            (Station.last_seen_at.is_(None)) | (Station.last_seen_at < now - SEEN_EVERY)
        )
    touched = db.session.scalars(query.values(last_seen_at=now).returning(Station.id)).all()
    if not touched:
        db.session.rollback()  # release the write lock the UPDATE took (SQLite)
        return
    db.session.commit()
    outbox = Outbox()
    for station_id, organisation_id in _organisations_of(touched).items():
        change = {"online": True, "last_seen_at": iso(now)}
        add_station_update(outbox, station_id, organisation_id, change)
    outbox.publish()


def station_went_offline(station_id: int, now: datetime | None = None) -> None:
    """A station's last socket in this process closed: seen now, and offline on the admin
    page. Commits."""
    now = now or utcnow()
    db.session.execute(update(Station).where(Station.id == station_id).values(last_seen_at=now))
    db.session.commit()
    outbox = Outbox()
    for organisation_id in _organisations_of([station_id]).values():
        change = {"online": False, "last_seen_at": iso(now)}
        add_station_update(outbox, station_id, organisation_id, change)
    outbox.publish()


@dataclass(frozen=True)
class StationRow:
    """One line of the admin's stations page."""

    id: int
    name: str
    site: str
    state: str  # waiting | enrolled | expired | revoked
    online: bool
    last_seen_at: str | None
    code_expires_at: str | None
    self_test: dict | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def list_stations(organisation_id: int | None, now: datetime | None = None) -> list[StationRow]:
    """The organisation's stations (None: every one, for the command line), by name:
    state, online (seen within STATION_ONLINE_SECONDS), last seen and the verdict of its
    latest self-test."""
    now = now or utcnow()
    online_within = timedelta(seconds=current_app.config["STATION_ONLINE_SECONDS"])
    query = select(Station).order_by(Station.name)
    if organisation_id is not None:
        query = query.join(User, User.id == Station.user_id).where(
            User.organisation_id == organisation_id
        )
    stations = db.session.scalars(query).all()
    latest = latest_for_stations([s.id for s in stations])
    rows = []
    for s in stations:
        if s.revoked_at is not None:
            state = "revoked"
        elif s.token_hash is not None:
            state = "enrolled"
        elif s.enrollment_expires_at is not None and s.enrollment_expires_at > now:
            state = "waiting"
        else:
            state = "expired"
        test = latest.get(s.id)
        rows.append(
            StationRow(
                id=s.id,
                name=s.name,
                site=s.site,
                state=state,
                online=state == "enrolled"
                and s.last_seen_at is not None
                and now - s.last_seen_at <= online_within,
                last_seen_at=iso(s.last_seen_at),
                code_expires_at=iso(s.enrollment_expires_at) if state == "waiting" else None,
                self_test=({"verdict": test.verdict, "at": iso(test.created_at)} if test else None),
            )
        )
    db.session.rollback()
    return rows


def station_listing(organisation_id: int, now: datetime | None = None) -> dict:
    """What an admin's stations page shows of their organisation's stations:
    {now, online_seconds, stations: [rows]}."""
    now = now or utcnow()
    return {
        "now": iso(now),
        "online_seconds": current_app.config["STATION_ONLINE_SECONDS"],
        "stations": [row.as_dict() for row in list_stations(organisation_id, now)],
    }
