"""Fixtures shared by every tier: the app, its clients, and factories for users.

The database is SQLite in a temporary folder, or PostgreSQL when TEST_DATABASE_URL is set.
Either way the schema comes from the migrations, so they are tested on every run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from app.extensions import db, limiter, socketio
from app.models import Role
from app.services.users import create_user
from config import Config

PASSWORD = "correct horse battery"
TABLES = [
    "api_tokens",
    "auth_sessions",
    "audit_events",
    "audit_head",
    "jobs",
    "tasks",
    "camera_snapshots",
    "chat_messages",
    "attachments",
    "private_notes",
    "visit_messages",
    "session_requests",
    "participants",
    "visits",
    "patients",
    "clinic_members",
    "clinics",
    "external_rooms",
    "provider_services",
    "services",
    "users",
    "stream_versions",
]


TIER_ORDER = ["unit", "app", "realserver", "multi", "browser"]


def _own_services_per_worker() -> None:
    """`make test` runs the suite in two pytest-xdist workers (gw0, gw1). What they share
    must not mix: with TEST_DATABASE_URL each worker gets a PostgreSQL database of its own
    (`test_gw0`, …, made here when missing), and the live servers a worker starts get a
    Socket.IO channel and rate-limit key prefix of their own on the shared Redis.
    Runs at import, in each worker, before any fixture reads the environment."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    os.environ.setdefault("SOCKETIO_CHANNEL", f"anteroom-test-{worker}")
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = f"{parsed.database}_{worker}"
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        conn.autocommit = True
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["TEST_DATABASE_URL"] = parsed.set(database=name).render_as_string(False)


_own_services_per_worker()


def tier(item) -> int:
    parts = item.nodeid.split("/")
    return TIER_ORDER.index(parts[1]) if len(parts) > 2 and parts[1] in TIER_ORDER else 0


def pytest_collection_modifyitems(config, items):
    """Fast tiers first: a broken transition fails in a second, before any browser starts.
    Under pytest-xdist the browser tier goes first instead, as one unit of work (below)."""
    items.sort(key=tier)
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: tier(item) != TIER_ORDER.index("browser"))


@pytest.hookimpl(optionalhook=True)  # the suite runs without pytest-xdist too
def pytest_xdist_make_scheduler(config, log):
    """`make test`'s two workers: the browser tier is one unit of work, sent first, so one
    worker runs it from start to end with one Chromium and one live server, while the other
    takes every other module, one module at a time (so a module's servers start once).
    (pytest-xdist's own `loadgroup` cannot do this with pytest 9.2: it renames items through
    an attribute pytest no longer reads.)"""
    from xdist.scheduler import LoadScopeScheduling

    class TierScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "tests/browser" if module.startswith("tests/browser/") else module

    return TierScheduling(config, log)


def _database_url_for_tests(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'anteroom-test.db'}"


def reset_database(url: str) -> None:
    """Drop everything so the migrations build the schema from nothing."""
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        return
    from sqlalchemy import create_engine

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = _database_url_for_tests(tmp_path_factory)
    reset_database(url)
    return url


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    config = Config.from_env(
        {
            "ANTEROOM_ENV": "test",
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": database_url,
            "SOCKETIO_ASYNC_MODE": "threading",
            "ANTEROOM_INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
        },
        TESTING=True,
        # Tests run the authority sweep themselves (app.realtime.authority.sweep).
        AUTHORITY_CHECK_SECONDS=0,
        # Tests sign in and ask for sessions far faster than people do; the tests of these
        # limits set the limit they exercise (see tests/app/test_limits.py).
        SIGN_IN_ADDRESS_LIMIT="10000/minute",
        REQUEST_CREATION_LIMIT="10000/minute",
    )
    app = create_app(config)
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(autouse=True)
def _clean_tables(request):
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        db.session.rollback()
        for table in TABLES:
            db.session.execute(text(f"DELETE FROM {table}"))
        db.session.commit()
        limiter.reset()  # every test starts with no sign-in attempts counted


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server on loopback for the whole run (see tests/mail.py)."""
    from tests.mail import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(app, smtp_server, monkeypatch):
    """Mail from the app goes to the test SMTP server; the mailbox starts empty."""
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server.port)
    smtp_server.mailbox.clear()
    yield smtp_server.mailbox
    smtp_server.mailbox.clear()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.rollback()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(app):
    """Factory: make_user(role="provider", name=..., services=[...], available=False)."""
    counter = iter(range(1, 10_000))

    def make(role=Role.REQUESTER, name=None, services=None, available=False, email=None):
        n = next(counter)
        with app.app_context():
            user = create_user(
                email or f"{role}{n}@example.org",
                name or f"{str(role).capitalize()} {n}",
                str(role),
                PASSWORD,
                services,
            )
            if available:
                user.available = True
                db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    return make


class Auth:
    """Sign a test client in through the real login form (CSRF and all)."""

    def __init__(self, client):
        self.client = client

    def csrf(self, path="/auth/login") -> str:
        import re

        html = self.client.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
            r'name="csrf_token"[^>]*value="([^"]+)"', html
        )
        return match.group(1)

    def login(self, user, password=PASSWORD):
        token = self.csrf()
        return self.client.post(
            "/auth/login",
            data={"email": user.email, "password": password, "csrf_token": token},
        )


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def socket_client(app):
    """Factory: a Flask-SocketIO test client for a logged-in Flask test client."""
    made = []

    def make(flask_client=None, auth=None):
        sc = socketio.test_client(app, flask_test_client=flask_client, auth=auth)
        made.append(sc)
        return sc

    yield make
    for sc in made:
        if sc.is_connected():
            sc.disconnect()
