"""`flask users create` and `flask demo`, through Flask's CLI test runner."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.cli import DEMO_PASSWORD, DEMO_USERS
from app.extensions import db
from app.models import User
from app.services.users import authenticate

CREATE = ["users", "create", "--email", "Nurse@Example.org", "--name", "Nina Nurse"]


@pytest.fixture
def runner(app, monkeypatch):
    monkeypatch.delenv("ANTEROOM_PASSWORD", raising=False)
    return app.test_cli_runner()


def _user(app, email):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        if user is not None:
            user = {
                "role": user.role,
                "name": user.name,
                "services": [s.name for s in user.services],
                "hash": user.password_hash,
            }
        db.session.rollback()
        return user


def _signs_in(app, email, password) -> bool:
    with app.app_context():
        ok = authenticate(email, password) is not None
        db.session.rollback()
        return ok


def test_users_create_reads_the_password_from_stdin(app, runner):
    result = runner.invoke(args=[*CREATE, "--role", "requester"], input="a long passphrase\n")

    assert result.exit_code == 0, result.output
    assert "created requester nurse@example.org" in result.output
    assert _user(app, "nurse@example.org")["name"] == "Nina Nurse"
    assert _user(app, "nurse@example.org")["hash"].startswith("$argon2id$")
    assert _signs_in(app, "nurse@example.org", "a long passphrase")
    assert "a long passphrase" not in result.output


def test_users_create_reads_the_password_from_anteroom_password(app, runner):
    result = runner.invoke(
        args=[*CREATE, "--role", "provider", "--service", "Wound care", "--service", "Triage"],
        env={"ANTEROOM_PASSWORD": "from the environment"},
        input="ignored stdin password\n",
    )

    assert result.exit_code == 0, result.output
    user = _user(app, "nurse@example.org")
    assert user["role"] == "provider"
    assert user["services"] == ["Triage", "Wound care"]
    assert _signs_in(app, "nurse@example.org", "from the environment")
    assert not _signs_in(app, "nurse@example.org", "ignored stdin password")


def test_users_create_refuses_a_duplicate_email_without_a_traceback(app, runner, make_user):
    make_user(email="nurse@example.org")

    result = runner.invoke(args=[*CREATE, "--role", "requester"], input="a long passphrase\n")

    assert result.exit_code == 1
    assert "error: email: An account with this email already exists." in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_users_create_refuses_a_short_password_without_a_traceback(app, runner):
    result = runner.invoke(args=[*CREATE, "--role", "requester"], input="short\n")

    assert result.exit_code == 1
    assert "error: password: Use at least 12 characters." in result.output
    assert "Traceback" not in result.output
    assert _user(app, "nurse@example.org") is None


def test_users_create_refuses_services_for_someone_who_is_not_a_provider(app, runner):
    result = runner.invoke(
        args=[*CREATE, "--role", "requester", "--service", "Triage"],
        input="a long passphrase\n",
    )

    assert result.exit_code == 1
    assert "error: services: Not a provider." in result.output
    assert "Traceback" not in result.output
    assert _user(app, "nurse@example.org") is None


def test_users_create_refuses_an_unknown_role(app, runner):
    result = runner.invoke(args=[*CREATE, "--role", "wizard"], input="a long passphrase\n")

    assert result.exit_code == 2
    assert "Invalid value for '--role'" in result.output
    assert _user(app, "nurse@example.org") is None


def test_demo_seeds_every_account_and_prints_the_logins(app, runner):
    result = runner.invoke(args=["demo"])

    assert result.exit_code == 0, result.output
    assert f"password for all: {DEMO_PASSWORD}" in result.output
    for email, name, role, services in DEMO_USERS:
        assert email in result.output
        user = _user(app, email)
        assert (user["name"], user["role"], user["services"]) == (name, role.value, services)
        assert _signs_in(app, email, DEMO_PASSWORD)


def test_demo_run_twice_creates_nobody_twice(app, runner):
    assert runner.invoke(args=["demo"]).exit_code == 0

    again = runner.invoke(args=["demo"])

    assert again.exit_code == 0, again.output
    with app.app_context():
        emails = db.session.scalars(select(User.email)).all()
        db.session.rollback()
    assert sorted(emails) == sorted(email for email, *_ in DEMO_USERS)


def test_demo_if_empty_does_nothing_when_accounts_exist(app, runner, make_user):
    make_user(email="someone@example.org")

    result = runner.invoke(args=["demo", "--if-empty"])

    assert result.exit_code == 0
    assert result.output == ""
    assert _user(app, DEMO_USERS[0][0]) is None


def test_demo_if_empty_seeds_an_empty_database(app, runner):
    result = runner.invoke(args=["demo", "--if-empty"])

    assert result.exit_code == 0
    assert "Demo logins" in result.output
    assert _user(app, DEMO_USERS[0][0]) is not None
