"""flask users create …, flask organisations create|list and flask demo."""

from __future__ import annotations

import os
import sys

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from app.extensions import db
from app.models import Clinic, Role, User
from app.services.audit import verify as verify_trail
from app.services.clinics import add_member, create_clinic
from app.services.errors import Invalid
from app.services.organisations import (
    create_organisation,
    organisation_for_clinic,
    organisation_sizes,
)
from app.services.tokens import revoke_user_tokens
from app.services.users import (
    activate_user,
    count_users,
    create_user,
    deactivate_user,
    set_organisation,
    set_role,
    user_by_email,
)

DEMO_PASSWORD = "anteroom-demo"
DEMO_CLINIC = ("Riverside Clinic", "Riverside Health", "Europe/London")
DEMO_USERS = [
    ("admin@example.org", "Avery Admin", Role.ADMIN, []),
    ("okafor@example.org", "Dr. Ada Okafor", Role.PROVIDER, ["General consultation", "Wound care"]),
    ("lindqvist@example.org", "Dr. Ben Lindqvist", Role.PROVIDER, ["Mental health check-in"]),
    ("station@example.org", "Riverside Station", Role.REQUESTER, []),
    ("scheduler@example.org", "Sam Scheduler", Role.SCHEDULER, []),
]


def _read_password() -> str:
    password = os.environ.get("ANTEROOM_PASSWORD")
    if password:
        return password
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\n")


def _errors(exc: Invalid) -> None:
    for field, message in (exc.fields or {"error": exc.message}).items():
        click.echo(f"error: {field}: {message}", err=True)
    raise SystemExit(1) from None


def init_app(app: Flask) -> None:
    # AppGroup, not click.Group: its commands get an app context however they are invoked.
    users = AppGroup("users", help="Manage accounts.")
    app.cli.add_command(users)

    @users.command("create")
    @click.option("--email", required=True)
    @click.option("--name", required=True)
    @click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
    @click.option("--service", "services", multiple=True, help="A service a provider offers.")
    @click.option("--organisation", help="Its organisation; needed when there are several.")
    def create(email: str, name: str, role: str, services: tuple[str, ...], organisation: str):
        """Create an account; the password comes from ANTEROOM_PASSWORD or stdin."""
        try:
            user = create_user(
                email, name, role, _read_password(), list(services), organisation or None
            )
        except Invalid as exc:
            db.session.rollback()
            _errors(exc)
        click.echo(f"created {user.role} {user.email} (id {user.id})")

    def _account(email: str) -> User:
        user = user_by_email(email)
        if user is None:
            click.echo(f"error: no account with email {email}", err=True)
            raise SystemExit(1)
        return user

    @users.command("deactivate")
    @click.option("--email", required=True)
    def deactivate(email: str):
        """Deactivate an account: its sessions and tokens end and its sockets close."""
        user = deactivate_user(_account(email).id)
        click.echo(f"deactivated {user.email}")

    @users.command("activate")
    @click.option("--email", required=True)
    def activate(email: str):
        """Let a deactivated account sign in again."""
        user = activate_user(_account(email).id)
        click.echo(f"activated {user.email}")

    @users.command("set-role")
    @click.option("--email", required=True)
    @click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
    def change_role(email: str, role: str):
        """Change an account's role; its open connections close."""
        user = set_role(_account(email).id, role)
        click.echo(f"{user.email} is now {user.role}")

    @users.command("set-organisation")
    @click.option("--email", required=True)
    @click.option("--organisation", required=True)
    def change_organisation(email: str, organisation: str):
        """Move an account to another organisation; it leaves the old one's clinics."""
        try:
            user = set_organisation(_account(email).id, organisation)
        except Invalid as exc:
            db.session.rollback()
            _errors(exc)
        click.echo(f"{user.email} is now in {organisation}")

    organisations = AppGroup("organisations", help="Organisations: who sees whose providers.")
    app.cli.add_command(organisations)

    @organisations.command("create")
    @click.option("--name", required=True, help="Shown to patients, e.g. 'Riverside Health'.")
    def create_org(name: str):
        """Create an organisation."""
        try:
            organisation = create_organisation(name)
        except Invalid as exc:
            db.session.rollback()
            _errors(exc)
        click.echo(f"created organisation {organisation.name!r} (id {organisation.id})")

    @organisations.command("list")
    def list_orgs():
        """Every organisation, with its number of accounts."""
        for organisation, accounts in organisation_sizes():
            click.echo(f"{organisation.name}\t{accounts} account(s)")

    @users.command("revoke-tokens")
    @click.option("--email", required=True)
    def revoke_tokens(email: str):
        """Revoke every API token of an account."""
        count = revoke_user_tokens(_account(email).id)
        click.echo(f"revoked {count} token(s) of {email}")

    audit = AppGroup("audit", help="The audit trail.")
    app.cli.add_command(audit)

    @audit.command("verify")
    def verify_audit():
        """Check the audit trail's hash chain; name the first entry that does not hold."""
        verdict = verify_trail()
        if verdict.intact:
            click.echo(f"audit trail intact: {verdict.checked} entries")
            return
        where = f"at entry {verdict.broken_at}" if verdict.broken_at else "at its end"
        click.echo(f"audit trail broken {where}: {verdict.reason}", err=True)
        raise SystemExit(1)

    @app.cli.command("demo")
    @click.option("--if-empty", is_flag=True, help="Do nothing when any account exists.")
    def demo(if_empty: bool):
        """Seed a demo organisation and print its logins."""
        if if_empty and count_users() > 0:
            return
        organisation = organisation_for_clinic(DEMO_CLINIC[1])  # everyone's, and the clinic's
        db.session.commit()
        click.echo(f"Demo logins (password for all: {DEMO_PASSWORD})")
        for email, name, role, services in DEMO_USERS:
            existing = db.session.scalar(select(User).where(User.email == email))
            if existing is None:
                create_user(email, name, role, DEMO_PASSWORD, services, organisation.name)
            offered = f"  offers: {', '.join(services)}" if services else ""
            click.echo(f"  {role.value:<10} {email:<24} {name}{offered}")
        clinic = db.session.scalar(select(Clinic).where(Clinic.name == DEMO_CLINIC[0]))
        if clinic is None:
            clinic = create_clinic(*DEMO_CLINIC)
        for email, _name, role, _services in DEMO_USERS:
            if role in (Role.PROVIDER, Role.SCHEDULER):
                add_member(clinic.id, email)
        click.echo(
            f"Clinic: {clinic.name} ({clinic.organisation.name}, {clinic.timezone}), with its "
            "providers and scheduler"
        )
