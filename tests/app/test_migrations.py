"""Migration 0010 (organisations) on a database that already holds accounts and clinics:
an upgraded deployment shows everyone the providers they saw before.

On SQLite a fresh file; with TEST_DATABASE_URL, a schema of its own on that PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, text

from app.extensions import db
from tests.app.helpers import separate_app

BEFORE = "0009_stations"
WHEN = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SCHEMA = "migration_test"


@pytest.fixture
def old_app(database_url, tmp_path) -> Iterator:
    """An app on an empty database of its own, migrated up to just before organisations."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        url = f"{database_url}?options=-csearch_path%3D{SCHEMA}"
    with separate_app(url, tmp_path) as app, app.app_context():
        upgrade(revision=BEFORE)
        yield app
    if not database_url.startswith("sqlite"):
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {SCHEMA} CASCADE"))
        engine.dispose()


def run(sql: str, **params):
    return db.session.execute(text(sql), params)


def clinic(name: str, organisation: str) -> int:
    return run(
        "INSERT INTO clinics (name, organisation, timezone, created_at) "
        "VALUES (:name, :organisation, 'UTC', :at) RETURNING id",
        name=name,
        organisation=organisation,
        at=WHEN,
    ).scalar_one()


def user(email: str, role: str, *clinic_ids: int) -> int:
    user_id = run(
        "INSERT INTO users (email, name, role, password_hash, available, active, created_at) "
        "VALUES (:email, :email, :role, 'x', false, true, :at) RETURNING id",
        email=email,
        role=role,
        at=WHEN,
    ).scalar_one()
    for clinic_id in clinic_ids:
        run(
            "INSERT INTO clinic_members (clinic_id, user_id) VALUES (:c, :u)",
            c=clinic_id,
            u=user_id,
        )
    return user_id


def organisation_of() -> dict[str, str]:
    """Each account's organisation, by email."""
    rows = run(
        "SELECT u.email, o.name FROM users u JOIN organisations o ON o.id = u.organisation_id"
    )
    return dict(rows.all())


def test_a_single_organisation_deployment_keeps_everyone_together(old_app):
    first = clinic("Wound care", "Riverside Health")
    second = clinic("Triage", "Riverside Health")
    user("ada@example.org", "provider", first)
    user("ben@example.org", "provider", second)
    requester = user("station@example.org", "requester")
    user("admin@example.org", "admin")
    run(
        "INSERT INTO auth_sessions (user_id, secret_hash, created_at, last_seen_at) "
        "VALUES (:u, 'h', :at, :at)",
        u=requester,
        at=WHEN,
    )
    db.session.commit()

    upgrade()

    assert run("SELECT name FROM organisations").scalars().all() == ["Riverside Health"]
    assert set(organisation_of().values()) == {"Riverside Health"}
    assert len(organisation_of()) == 4
    linked = run(
        "SELECT c.name, o.name FROM clinics c JOIN organisations o ON o.id = c.organisation_id"
    )
    assert dict(linked.all()) == {"Wound care": "Riverside Health", "Triage": "Riverside Health"}
    # Nothing that points at an account was lost on the way (no table was rebuilt).
    assert run("SELECT COUNT(*) FROM auth_sessions").scalar_one() == 1
    assert run("SELECT COUNT(*) FROM clinic_members").scalar_one() == 2


def test_members_follow_their_clinics_and_everyone_else_joins_the_first_organisation(old_app):
    riverside = clinic("Wound care", "Riverside Health")
    harbour = clinic("Harbour", "Harbour Health")
    user("ada@example.org", "provider", riverside)
    user("hal@example.org", "provider", harbour)
    user("sam@example.org", "scheduler", harbour, riverside)  # their first clinic decides
    user("station@example.org", "requester")
    db.session.commit()

    upgrade()

    assert organisation_of() == {
        "ada@example.org": "Riverside Health",
        "hal@example.org": "Harbour Health",
        "sam@example.org": "Riverside Health",
        "station@example.org": "Riverside Health",
    }


def test_accounts_without_any_clinic_get_one_organisation(old_app):
    user("station@example.org", "requester")
    user("dr@example.org", "provider")
    db.session.commit()

    upgrade()

    assert organisation_of() == {"station@example.org": "Anteroom", "dr@example.org": "Anteroom"}


def test_downgrading_puts_the_organisation_names_back_on_the_clinics(old_app):
    clinic("Wound care", "Riverside Health")
    clinic("Harbour", "Harbour Health")
    db.session.commit()
    upgrade()

    downgrade(revision=BEFORE)

    names = run("SELECT name, organisation FROM clinics ORDER BY id").all()
    assert [tuple(row) for row in names] == [
        ("Wound care", "Riverside Health"),
        ("Harbour", "Harbour Health"),
    ]
    db.session.rollback()  # end the read before migrating again (PostgreSQL's locks)
    upgrade()  # and up again
    assert run("SELECT COUNT(*) FROM organisations").scalar_one() == 2
