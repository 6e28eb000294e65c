"""flask users create … and flask demo."""

from __future__ import annotations

import os
import sys

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from app.extensions import db
from app.models import Role, User
from app.services.errors import Invalid
from app.services.users import count_users, create_user

DEMO_PASSWORD = "anteroom-demo"
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


def init_app(app: Flask) -> None:
    # AppGroup, not click.Group: its commands get an app context however they are invoked.
    users = AppGroup("users", help="Manage accounts.")
    app.cli.add_command(users)

    @users.command("create")
    @click.option("--email", required=True)
    @click.option("--name", required=True)
    @click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
    @click.option("--service", "services", multiple=True, help="A service a provider offers.")
    def create(email: str, name: str, role: str, services: tuple[str, ...]):
        """Create an account; the password comes from ANTEROOM_PASSWORD or stdin."""
        try:
            user = create_user(email, name, role, _read_password(), list(services))
        except Invalid as exc:
            db.session.rollback()
            for field, message in (exc.fields or {}).items():
                click.echo(f"error: {field}: {message}", err=True)
            raise SystemExit(1) from None
        click.echo(f"created {user.role} {user.email} (id {user.id})")

    @app.cli.command("demo")
    @click.option("--if-empty", is_flag=True, help="Do nothing when any account exists.")
    def demo(if_empty: bool):
        """Seed a demo organisation and print its logins."""
        if if_empty and count_users() > 0:
            return
        click.echo(f"Demo logins (password for all: {DEMO_PASSWORD})")
        for email, name, role, services in DEMO_USERS:
            existing = db.session.scalar(select(User).where(User.email == email))
            if existing is None:
                create_user(email, name, role, DEMO_PASSWORD, services)
            offered = f"  offers: {', '.join(services)}" if services else ""
            click.echo(f"  {role.value:<10} {email:<24} {name}{offered}")
