"""Clinics: teams of providers and schedulers sharing one schedule.

Colleagues in a clinic see each other's visits; nobody sees another clinic's (to them it
does not exist: NotFound). Admins see every clinic of their organisation. A clinic and its
members belong to one organisation.
"""

from __future__ import annotations

import functools

from sqlalchemy import Select, bindparam, select

from app.extensions import db
from app.models import Clinic, Organisation, Role, User, clinic_members
from app.services.errors import Invalid, NotFound
from app.services.organisations import organisation_for_clinic
from app.services.text import clean_line
from clinicqueue.schedule import zone

STAFF_ROLES = (Role.PROVIDER, Role.SCHEDULER)


def create_clinic(name: str, organisation: str, timezone: str, by: User | None = None) -> Clinic:
    """A new clinic in the named organisation (its name is shown to patients), with its
    time zone. An admin (`by`) creates clinics only in their own organisation; the command
    line and the demo create the organisation if there is none of that name. Commits."""
    name, organisation = clean_line(name or ""), clean_line(organisation or "")
    timezone = (timezone or "").strip()
    fields = {}
    if not name or len(name) > 120:
        fields["name"] = "Enter the clinic's name (up to 120 characters)."
    if not organisation or len(organisation) > 120:
        fields["organisation"] = "Enter the organisation's name (up to 120 characters)."
    try:
        zone(timezone)
    except ValueError:
        fields["timezone"] = "Choose a time zone such as Europe/London."
    own = db.session.get(Organisation, by.organisation_id) if by is not None else None
    if "organisation" not in fields and own is not None and organisation != own.name:
        fields["organisation"] = f"You create clinics in your organisation, {own.name}."
    if not fields and db.session.scalar(select(Clinic.id).where(Clinic.name == name)):
        fields["name"] = "A clinic with this name already exists."
    if fields:
        raise Invalid("The clinic could not be created.", fields=fields)
    clinic = Clinic(
        name=name, organisation=own or organisation_for_clinic(organisation), timezone=timezone
    )
    db.session.add(clinic)
    db.session.commit()
    return clinic


def add_member(clinic_id: int, email: str) -> User:
    """Add a provider or scheduler of the clinic's organisation to it (again is fine).
    Commits."""
    clinic = db.session.get(Clinic, clinic_id)
    if clinic is None:
        raise NotFound("No such clinic.")
    email = clean_line(email or "").lower() if isinstance(email, str) else ""
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None or user.organisation_id != clinic.organisation_id:
        raise Invalid("No account with this email.", fields={"email": "No such account."})
    if not user.has_role(*STAFF_ROLES):
        raise Invalid(
            "Only providers and schedulers belong to clinics.",
            fields={"email": "Not a provider or scheduler."},
        )
    if user not in clinic.members:
        clinic.members.append(user)
    db.session.commit()
    return user


def clinics_of(user: User) -> list[Clinic]:
    """The clinics a user works in (every clinic of their organisation, for an admin), by
    name."""
    query = select(Clinic).order_by(Clinic.name)
    if user.role == Role.ADMIN:
        query = query.where(Clinic.organisation_id == user.organisation_id)
    else:
        query = query.join(clinic_members).where(clinic_members.c.user_id == user.id)
    return list(db.session.scalars(query))


def is_member(user_id: int, clinic_id: int) -> bool:
    return (
        db.session.scalar(
            select(clinic_members.c.user_id).where(
                clinic_members.c.clinic_id == clinic_id, clinic_members.c.user_id == user_id
            )
        )
        is not None
    )


def clinic_for(user: User, clinic_id: int) -> Clinic:
    """A clinic the user may see; NotFound for any other."""
    clinic = db.session.get(Clinic, clinic_id)
    if clinic is None:
        raise NotFound("No such clinic.")
    if user.role == Role.ADMIN:
        if clinic.organisation_id != user.organisation_id:
            raise NotFound("No such clinic.")
    elif not is_member(user.id, clinic_id):
        raise NotFound("No such clinic.")
    return clinic


@functools.cache
def _home_clinic_staff_statement() -> Select:
    """Built once (every accept runs it): SQLAlchemy reuses its cache key and compiled form."""
    home = (
        select(clinic_members.c.clinic_id)
        .where(clinic_members.c.user_id == bindparam("user_id"))
        .order_by(clinic_members.c.clinic_id)
        .limit(1)
        .scalar_subquery()
    )
    return select(clinic_members.c.clinic_id, clinic_members.c.user_id).where(
        clinic_members.c.clinic_id == home
    )


def home_clinic_staff(user_id: int) -> tuple[int | None, set[int]]:
    """The clinic whose schedule shows a provider's on-demand sessions (their first), and
    everyone in it (its schedule tells staff from patients): one query."""
    rows = db.session.execute(_home_clinic_staff_statement(), {"user_id": user_id}).all()
    return (rows[0].clinic_id if rows else None), {row.user_id for row in rows}
