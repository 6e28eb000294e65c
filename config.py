"""Configuration read from the environment.

`Config.from_env()` is the one place that reads os.environ for the web app. Development
(ANTEROOM_ENV=development, what `make run` uses) may generate its SECRET_KEY; every other
environment must set it.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
ASYNC_MODES = ("gevent", "eventlet", "threading")


class ConfigError(RuntimeError):
    """The environment does not describe a runnable configuration."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _development_secret(instance_path: Path) -> str:
    """A random key kept under instance/ so development sessions survive a restart."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def _ice_servers(env: dict[str, str]) -> list[dict]:
    raw = env.get("ICE_SERVERS")
    if not raw:
        # Host candidates are enough on one machine or LAN; production adds STUN/TURN.
        return []
    try:
        servers = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError("ICE_SERVERS must be a JSON list of RTCIceServer objects") from exc
    if not isinstance(servers, list) or not all(isinstance(s, dict) for s in servers):
        raise ConfigError("ICE_SERVERS must be a JSON list of RTCIceServer objects")
    return servers


class Config:
    """Flask settings plus Anteroom's own (prefixed ANTEROOM_ where Flask has no name)."""

    def __init__(self, **settings):
        for key, value in settings.items():
            setattr(self, key, value)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> Config:
        env = dict(os.environ if env is None else env)
        environment = env.get("ANTEROOM_ENV", "production")
        development = environment in ("development", "test")
        instance_path = Path(env.get("ANTEROOM_INSTANCE_PATH", BASE_DIR / "instance"))

        secret = env.get("SECRET_KEY")
        if not secret:
            if not development:
                raise ConfigError(
                    "SECRET_KEY is required outside development "
                    "(set ANTEROOM_ENV=development for a local generated key)"
                )
            secret = _development_secret(instance_path)

        async_mode = env.get("SOCKETIO_ASYNC_MODE", "gevent")
        if async_mode not in ASYNC_MODES:
            raise ConfigError(f"SOCKETIO_ASYNC_MODE must be one of {', '.join(ASYNC_MODES)}")

        database_url = env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'anteroom.db'}"
        if database_url.startswith("postgres://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
        elif database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]

        idle_minutes = _int(env, "IDLE_LOGOUT_MINUTES", 30)
        secure_cookies = _bool(env.get("SESSION_COOKIE_SECURE"), not development)
        settings = dict(
            ENV_NAME=environment,
            SECRET_KEY=secret,
            INSTANCE_PATH=str(instance_path),
            SQLALCHEMY_DATABASE_URI=database_url,
            SQLALCHEMY_ENGINE_OPTIONS=_engine_options(database_url),
            REDIS_URL=env.get("REDIS_URL") or None,
            # Deployments sharing one Redis must not hear each other's events.
            SOCKETIO_CHANNEL=env.get("SOCKETIO_CHANNEL", "anteroom"),
            SOCKETIO_ASYNC_MODE=async_mode,
            ICE_SERVERS=_ice_servers(env),
            # coturn's shared-secret REST scheme: the app mints short-lived credentials.
            TURN_URLS=[u.strip() for u in env.get("TURN_URLS", "").split(",") if u.strip()],
            TURN_SECRET=env.get("TURN_SECRET") or None,
            TURN_TTL=timedelta(seconds=_int(env, "TURN_TTL_SECONDS", 4 * 3600)),
            IDLE_LOGOUT=timedelta(minutes=idle_minutes),
            PERMANENT_SESSION_LIFETIME=timedelta(minutes=idle_minutes),
            SESSION_COOKIE_HTTPONLY=True,
            SESSION_COOKIE_SAMESITE="Lax",
            SESSION_COOKIE_SECURE=secure_cookies,
            SESSION_COOKIE_NAME="anteroom_session",
            REMEMBER_COOKIE_HTTPONLY=True,
            REMEMBER_COOKIE_SECURE=secure_cookies,
            WTF_CSRF_TIME_LIMIT=None,  # the session's own idle limit bounds the token
            API_TOKEN_LIFETIME=timedelta(hours=_int(env, "API_TOKEN_HOURS", 12)),
            DECLINE_NOTES_ENABLED=_bool(env.get("DECLINE_NOTES_ENABLED"), True),
            MAIL_SERVER=env.get("MAIL_SERVER", "localhost"),
            MAIL_PORT=_int(env, "MAIL_PORT", 25),
            MAIL_DEFAULT_SENDER=env.get("MAIL_DEFAULT_SENDER", "anteroom@localhost"),
            MAIL_SUPPRESS_SEND=_bool(env.get("MAIL_SUPPRESS_SEND"), development),
            TESTING=False,
        )
        settings.update(overrides)
        return cls(**settings)


def _engine_options(database_url: str) -> dict:
    if database_url.startswith("sqlite"):
        # Writers wait for each other instead of failing with "database is locked".
        return {"connect_args": {"timeout": 15}}
    return {"pool_pre_ping": True}
