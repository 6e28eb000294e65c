"""Organisations: every account and clinic belongs to one, and sees only its providers.

A deployment usually has one, and then nobody needs to name it; with more, whoever
creates an account or a station names its organisation.
"""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import Organisation, User
from app.services.errors import Invalid
from app.services.text import clean_line


def create_organisation(name: str) -> Organisation:
    """A new organisation (its name is shown to patients). Commits."""
    name = clean_line(name or "")
    problem = None
    if not name or len(name) > 120:
        problem = "Enter the organisation's name (up to 120 characters)."
    elif _named(name) is not None:
        problem = "An organisation with this name already exists."
    if problem:
        raise Invalid("The organisation could not be created.", fields={"name": problem})
    organisation = Organisation(name=name)
    db.session.add(organisation)
    db.session.commit()
    return organisation


def list_organisations() -> list[Organisation]:
    return list(db.session.scalars(select(Organisation).order_by(Organisation.name)))


def _named(name: str) -> Organisation | None:
    return db.session.scalar(select(Organisation).where(Organisation.name == name))


def organisation_named(name: str | None) -> Organisation:
    """The organisation with this name; without a name, the only one there is. Invalid
    (on the field `organisation`) when there is no such organisation, or no name was given
    and there is not exactly one."""
    if name:
        found = _named(clean_line(name))
        if found is None:
            raise Invalid(
                "No such organisation.",
                fields={"organisation": f"No organisation is named {clean_line(name)!r}."},
            )
        return found
    count = db.session.scalar(select(func.count(Organisation.id)))
    if count == 1:
        return db.session.scalar(select(Organisation))
    problem = (
        "There is no organisation yet: create one first (flask organisations create)."
        if count == 0
        else f"There are {count} organisations: name one."
    )
    raise Invalid("Name the organisation.", fields={"organisation": problem})


def organisation_for_clinic(name: str) -> Organisation:
    """The organisation of this name, created if there is none (a clinic set up from the
    command line or the demo names its organisation); flushed, not committed."""
    organisation = _named(name)
    if organisation is None:
        organisation = Organisation(name=name)
        db.session.add(organisation)
        db.session.flush()
    return organisation


def organisation_sizes() -> list[tuple[Organisation, int]]:
    """Each organisation, by name, with its number of accounts."""
    counts = (
        select(User.organisation_id, func.count(User.id).label("accounts"))
        .group_by(User.organisation_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Organisation, func.coalesce(counts.c.accounts, 0))
        .outerjoin(counts, counts.c.organisation_id == Organisation.id)
        .order_by(Organisation.name)
    ).all()
    return [(organisation, accounts) for organisation, accounts in rows]
