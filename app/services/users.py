"""Accounts: create, authenticate, deactivate, change role or organisation.

Deactivation and a role change take effect at once everywhere: deactivation ends the
user's sessions and revokes their tokens, and both close the user's open Socket.IO
connections (app.realtime.authority), on every web instance.

A change to who the providers of an organisation are (one created, deactivated or
activated again, a role changed to or from provider, a provider moved to another
organisation) advances that organisation's directory stream with `stream_changed`, so open
dashboards read the list again instead of showing who is no longer there.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update

from app.extensions import db
from app.models import Clinic, Role, Service, User, clinic_members
from app.models.types import utcnow
from app.realtime import authority
from app.realtime.publish import Outbox, directory_stream
from app.services.auth_sessions import end_user_sessions
from app.services.availability import set_availability
from app.services.errors import Invalid, NotFound
from app.services.organisations import organisation_named
from app.services.passwords import (
    dummy_hash,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from app.services.text import clean_line
from app.services.tokens import delete_user_tokens


def create_user(
    email: str,
    name: str,
    role: str,
    password: str,
    services: list[str] | None = None,
    organisation: str | None = None,
) -> User:
    """Create an account (and the services a provider offers) in the named organisation,
    or the only one when none is named; commits."""
    email = clean_line(email or "").lower()
    name = clean_line(name or "")
    fields = {}
    if "@" not in email or len(email) > 254:
        fields["email"] = "Enter a valid email address."
    if not name:
        fields["name"] = "Enter a name."
    elif len(name) > 120:
        fields["name"] = "Keep the name under 120 characters."
    if role not in {r.value for r in Role}:
        fields["role"] = f"Role must be one of {', '.join(r.value for r in Role)}."
    problem = password_problem(password, email, name)
    if problem:
        fields["password"] = problem
    if not fields and db.session.scalar(select(User.id).where(User.email == email)):
        fields["email"] = "An account with this email already exists."
    try:
        home = organisation_named(organisation)
    except Invalid as exc:
        fields.update(exc.fields)
    if fields:
        raise Invalid("The account could not be created.", fields=fields)
    user = User(
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(password),
        organisation_id=home.id,
        active=True,
    )
    if services:
        if role != Role.PROVIDER:
            raise Invalid("Only providers offer services.", fields={"services": "Not a provider."})
        user.services = [_service_named(s) for s in services]
    db.session.add(user)
    outbox = _directories_changed(None, _listed_in(user))
    db.session.commit()
    outbox.publish()
    return user


def _listed_in(user: User) -> int | None:
    """The organisation whose directory lists this account (an active provider), or None."""
    return user.organisation_id if user.role == Role.PROVIDER and user.active else None


def _directories_changed(before: int | None, after: int | None) -> Outbox:
    """Where the account was listed before a change and where after it: when they differ,
    `stream_changed` on each of those directories, stamped in the open transaction (publish
    the outbox after the commit)."""
    outbox = Outbox()
    if before != after:
        for organisation_id in sorted({before, after} - {None}):
            outbox.add("stream_changed", directory_stream(organisation_id), {})
        outbox.stamp()
    return outbox


def _service_named(name: str) -> Service:
    name = clean_line(name)
    service = db.session.scalar(select(Service).where(Service.name == name))
    return service or Service(name=name)


def user_by_email(email: object) -> User | None:
    if not isinstance(email, str):
        return None
    return db.session.scalar(select(User).where(User.email == clean_line(email).lower()))


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None.

    The hash runs off the event loop (app.services.passwords); an unknown email costs the
    same as a wrong password.
    """
    user = user_by_email(email)
    matched = verify_password(user.password_hash if user else dummy_hash(), password or "")
    if not matched or user is None or not user.active:
        db.session.rollback()
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
    return user


def load_user(user_id: int) -> User | None:
    return db.session.get(User, user_id, populate_existing=True)


def _load(user_id: int) -> User:
    user = load_user(user_id)
    if user is None:
        raise NotFound("No such account.")
    return user


def deactivate_user(user_id: int, now: datetime | None = None) -> User:
    """Deactivate an account: its sessions end, its tokens are revoked and its sockets
    close; it can no longer sign in. A provider is made unavailable first, which declines
    whatever was waiting for them. Commits."""
    now = now or utcnow()
    user = _load(user_id)
    listed = _listed_in(user)
    if user.available:
        set_availability(user, False, now)
    db.session.execute(update(User).where(User.id == user.id).values(active=False))
    end_user_sessions(user.id, "deactivated", now)
    delete_user_tokens(user.id)
    outbox = _directories_changed(listed, None)
    db.session.commit()
    outbox.publish()
    authority.revoke(authority.Credential.of_user(user.id), "deactivated")
    return _load(user.id)


def activate_user(user_id: int) -> User:
    """Let a deactivated account sign in again (with new sessions and tokens). Commits."""
    user = _load(user_id)
    listed = _listed_in(user)
    user.active = True
    outbox = _directories_changed(listed, _listed_in(user))
    db.session.commit()
    outbox.publish()
    return user


def set_role(user_id: int, role: str) -> User:
    """Change an account's role. Its open sockets close, because what they may follow
    depends on the role; its pages follow the new role from their next request. Commits."""
    if role not in {r.value for r in Role}:
        raise Invalid("Choose a role.", fields={"role": "Not a role."})
    user = _load(user_id)
    if user.role == role:
        return user
    if user.role == Role.PROVIDER and user.available:
        set_availability(user, False)
        user = _load(user_id)
    listed = _listed_in(user)
    user.role = role
    outbox = _directories_changed(listed, _listed_in(user))
    db.session.commit()
    outbox.publish()
    authority.revoke(authority.Credential.of_user(user.id), "role_changed")
    return user


def set_organisation(user_id: int, organisation: str) -> User:
    """Move an account to another organisation: it leaves the clinics of the old one, a
    provider is made unavailable first (which declines whatever was waiting for them), and
    its open sockets close, because they follow the old organisation's directory. Commits."""
    home = organisation_named(organisation or None)
    user = _load(user_id)
    if user.organisation_id == home.id:
        return user
    if user.role == Role.PROVIDER and user.available:
        set_availability(user, False)
        user = _load(user_id)
    elsewhere = select(Clinic.id).where(Clinic.organisation_id != home.id)
    db.session.execute(
        delete(clinic_members).where(
            clinic_members.c.user_id == user.id, clinic_members.c.clinic_id.in_(elsewhere)
        )
    )
    listed = _listed_in(user)
    user.organisation_id = home.id
    outbox = _directories_changed(listed, _listed_in(user))
    db.session.commit()
    outbox.publish()
    authority.revoke(authority.Credential.of_user(user.id), "organisation_changed")
    return user


def count_users() -> int:
    return db.session.scalar(select(func.count(User.id))) or 0
