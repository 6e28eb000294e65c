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


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if value <= 0:
        raise ConfigError(f"{name} must be more than 0, got {raw!r}")
    return value


def _rate(env: dict[str, str], name: str, default: str) -> str:
    """A rate limit in the `limits` notation ("5/minute;20/hour"), checked now."""
    from limits import parse_many

    value = env.get(name) or default
    try:
        parse_many(value)
    except ValueError as exc:
        raise ConfigError(
            f"{name} must be a rate such as '5/minute;20/hour', got {value!r}"
        ) from exc
    return value


def _choice(env: dict[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name) or default
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _minutes_list(env: dict[str, str], name: str, default: str) -> list[timedelta]:
    """Minutes such as "1440,15" as [24 h, 15 min]; an empty value means none."""
    raw = env.get(name, default)
    try:
        minutes = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError as exc:
        raise ConfigError(f"{name} must be whole minutes separated by commas") from exc
    if any(m <= 0 for m in minutes):
        raise ConfigError(f"{name} must be whole minutes separated by commas")
    return [timedelta(minutes=m) for m in minutes]


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


def _networks(env: dict[str, str], name: str, default: str) -> tuple:
    """Networks such as "127.0.0.0/8,10.0.0.0/8,::1"; an empty value means none."""
    import ipaddress

    raw = env.get(name, default)
    try:
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False)
            for part in raw.split(",")
            if part.strip()
        )
    except ValueError as exc:
        raise ConfigError(
            f"{name} must be networks such as 10.0.0.0/8, separated by commas"
        ) from exc


def _worker_url(env: dict[str, str]) -> str:
    """The media worker's address: plain HTTP on this machine or a private network."""
    from urllib.parse import urlsplit

    url = (env.get("MEDIA_WORKER_URL") or "http://127.0.0.1:5001").rstrip("/")
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        raise ConfigError(f"MEDIA_WORKER_URL must look like http://127.0.0.1:5001, got {url!r}")
    return url


# What a chat attachment may be, by default: documents and photos a patient or a colleague
# shows in a consultation. Types are told from the content (app/services/attachments.py).
ATTACHMENT_TYPES = ("application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp")


def _attachment_types(env: dict[str, str]) -> tuple[str, ...]:
    """The allow-list of attachment types: each one must be a type the content can be
    recognised as (a misspelt "image/jpg" would otherwise refuse every photo in silence)."""
    import filetype

    raw = env.get("ATTACHMENT_TYPES")
    if raw is None or not raw.strip():
        return ATTACHMENT_TYPES
    types = tuple(dict.fromkeys(t.strip().lower() for t in raw.split(",") if t.strip()))
    known = {t.mime for t in filetype.TYPES} | {"text/plain"}
    unknown = [t for t in types if t not in known]
    if unknown:
        raise ConfigError(
            f"ATTACHMENT_TYPES has types that cannot be recognised: {', '.join(unknown)}"
        )
    return types


def _attachments_dir(env: dict[str, str], instance_path: Path) -> str:
    """Where attachments are kept: never under the web root (app/static), which serves
    whatever lies there to anyone."""
    folder = Path(env.get("ATTACHMENTS_DIR") or instance_path / "attachments").resolve()
    web_root = (BASE_DIR / "app" / "static").resolve()
    if folder == web_root or web_root in folder.parents:
        raise ConfigError("ATTACHMENTS_DIR must be outside the web root (app/static)")
    return str(folder)


def _request_waits(env: dict[str, str]) -> dict:
    """While a request waits: how often the provider's alert repeats, when they are also
    emailed, when the request expires, and how much history an estimated wait needs."""
    escalate = _float(env, "REQUEST_ESCALATE_AFTER_SECONDS", 120)
    expire = _float(env, "REQUEST_EXPIRE_AFTER_SECONDS", 600)
    if escalate >= expire:
        raise ConfigError(
            "REQUEST_ESCALATE_AFTER_SECONDS must be shorter than REQUEST_EXPIRE_AFTER_SECONDS"
        )
    min_answers = _int(env, "REQUEST_WAIT_MIN_ANSWERS", 3)
    history_days = _int(env, "REQUEST_WAIT_HISTORY_DAYS", 14)
    if min_answers < 1 or history_days < 1:
        raise ConfigError(
            "REQUEST_WAIT_MIN_ANSWERS and REQUEST_WAIT_HISTORY_DAYS must be 1 or more"
        )
    return dict(
        REQUEST_ALERT_REPEAT=timedelta(seconds=_float(env, "REQUEST_ALERT_REPEAT_SECONDS", 30)),
        REQUEST_ESCALATE_AFTER=timedelta(seconds=escalate),
        REQUEST_EXPIRE_AFTER=timedelta(seconds=expire),
        REQUEST_WAIT_MIN_ANSWERS=min_answers,
        REQUEST_WAIT_HISTORY=timedelta(days=history_days),
    )


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

        # Fractions allowed (0.2 = 12 s) so tests can watch a call outlive the limit.
        idle_minutes = _float(env, "IDLE_LOGOUT_MINUTES", 30)
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
            # The cookie outlives the idle limit: the server ends idle sessions itself, and
            # a page that comes back after one can then say why it is signed out.
            PERMANENT_SESSION_LIFETIME=max(timedelta(minutes=idle_minutes), timedelta(hours=12)),
            SESSION_COOKIE_HTTPONLY=True,
            SESSION_COOKIE_SAMESITE="Lax",
            SESSION_COOKIE_SECURE=secure_cookies,
            SESSION_COOKIE_NAME="anteroom_session",
            REMEMBER_COOKIE_HTTPONLY=True,
            REMEMBER_COOKIE_SECURE=secure_cookies,
            WTF_CSRF_TIME_LIMIT=None,  # the session's own idle limit bounds the token
            API_TOKEN_LIFETIME=timedelta(hours=_int(env, "API_TOKEN_HOURS", 12)),
            DECLINE_NOTES_ENABLED=_bool(env.get("DECLINE_NOTES_ENABLED"), True),
            # How often each web process re-checks the authority behind its open sockets
            # (sign-out, idle logout, deactivation, revocation, a role change).
            AUTHORITY_CHECK_SECONDS=_float(env, "AUTHORITY_CHECK_SECONDS", 2),
            MAX_SOCKETS_PER_USER=_int(env, "MAX_SOCKETS_PER_USER", 8),
            # Bodies: JSON and forms, and (per route) uploads. Werkzeug answers 413 from the
            # Content-Length, or as soon as a chunked body passes the limit.
            MAX_CONTENT_LENGTH=_int(env, "MAX_BODY_BYTES", 1024 * 1024),
            MAX_FORM_MEMORY_SIZE=_int(env, "MAX_BODY_BYTES", 1024 * 1024),
            MAX_UPLOAD_BYTES=_int(env, "MAX_UPLOAD_BYTES", 25 * 1024 * 1024),
            # Chat attachments: the types allowed (told from the content, not the name) and
            # the folder they are kept in, outside the web root, under random names.
            ATTACHMENT_TYPES=_attachment_types(env),
            ATTACHMENTS_DIR=_attachments_dir(env, instance_path),
            # Seconds a client may take to send a request's headers and body (slowloris).
            REQUEST_READ_TIMEOUT=_float(env, "REQUEST_READ_TIMEOUT_SECONDS", 30),
            # Reverse proxies in front (nginx: 1): trust that many X-Forwarded-For/-Proto hops.
            PROXY_COUNT=_int(env, "PROXY_COUNT", 0),
            # Strict-Transport-Security on answers over HTTPS (0 turns it off).
            HSTS_SECONDS=_int(env, "HSTS_SECONDS", 365 * 24 * 3600),
            # Rate limits (Flask-Limiter and its `limits` library); Redis shares them.
            RATELIMIT_ENABLED=_bool(env.get("RATELIMIT_ENABLED"), True),
            RATELIMIT_STORAGE_URI=env.get("REDIS_URL") or "memory://",
            RATELIMIT_KEY_PREFIX=env.get("SOCKETIO_CHANNEL", "anteroom"),
            RATELIMIT_STRATEGY="moving-window",
            RATELIMIT_HEADERS_ENABLED=True,
            # While Redis is down (a restart), each process counts in its own memory rather
            # than failing sign-ins and requests with a 500; back on Redis when it answers.
            RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
            SIGN_IN_ADDRESS_LIMIT=_rate(env, "SIGN_IN_ADDRESS_LIMIT", "30/minute"),
            SIGN_IN_FAILURE_LIMIT=_rate(
                env, "SIGN_IN_FAILURE_LIMIT", "5/minute;10/15 minutes;20/day"
            ),
            SIGN_IN_ACCOUNT_LIMIT=_rate(env, "SIGN_IN_ACCOUNT_LIMIT", "50/hour"),
            REQUEST_CREATION_LIMIT=_rate(env, "REQUEST_CREATION_LIMIT", "10/minute"),
            # Links that lead nowhere, per address: nobody guesses a 256-bit token, but a
            # client trying must not cost a database query each.
            LINK_ATTEMPT_LIMIT=_rate(env, "LINK_ATTEMPT_LIMIT", "20/minute"),
            SOCKET_EVENT_LIMIT=_rate(env, "SOCKET_EVENT_LIMIT", "100/10 seconds"),
            # Flask-Mail's own names. With no MAIL_SERVER, messages are written to the log
            # instead of sent (development); with one, they go out, under `make run` too.
            MAIL_SERVER=env.get("MAIL_SERVER") or None,
            MAIL_PORT=_int(env, "MAIL_PORT", 25),
            MAIL_USE_TLS=_bool(env.get("MAIL_USE_TLS"), False),
            MAIL_USE_SSL=_bool(env.get("MAIL_USE_SSL"), False),
            MAIL_USERNAME=env.get("MAIL_USERNAME") or None,
            MAIL_PASSWORD=env.get("MAIL_PASSWORD") or None,
            MAIL_DEFAULT_SENDER=env.get("MAIL_DEFAULT_SENDER", "anteroom@localhost"),
            MAIL_TIMEOUT=_float(env, "MAIL_TIMEOUT_SECONDS", 10),
            # SMS: "log" (the default: written to the log) or "http" (POST {to, body} as
            # JSON to SMS_HTTP_URL, with SMS_HTTP_TOKEN as a bearer token if set).
            SMS_BACKEND=_choice(env, "SMS_BACKEND", "log", ("log", "http")),
            SMS_HTTP_URL=env.get("SMS_HTTP_URL") or None,
            SMS_HTTP_TOKEN=env.get("SMS_HTTP_TOKEN") or None,
            # Links in messages start here; by default the address the server listens on.
            PUBLIC_BASE_URL=(
                env.get("PUBLIC_BASE_URL")
                or f"http://{env.get('HOST', '127.0.0.1')}:{env.get('PORT', '5000')}"
            ).rstrip("/"),
            GUEST_LINK_OPENS_MINUTES=_int(env, "GUEST_LINK_OPENS_MINUTES", 30),
            # Kiosk stations: how long an enrollment code works, how often a device may
            # try one (per address), how long the station's cookie lasts (revocation ends
            # it sooner), when a station with no live socket counts as offline, and how long
            # the station screen waits with nothing in progress (or after a visit) before going
            # home.
            STATION_CODE_LIFETIME=timedelta(hours=_int(env, "STATION_CODE_HOURS", 24)),
            STATION_ENROLL_LIMIT=_rate(env, "STATION_ENROLL_LIMIT", "10/minute;100/day"),
            STATION_COOKIE_DAYS=_int(env, "STATION_COOKIE_DAYS", 400),
            STATION_ONLINE_SECONDS=_int(env, "STATION_ONLINE_SECONDS", 30),
            KIOSK_HOME_SECONDS=_int(env, "KIOSK_HOME_SECONDS", 120),
            KIOSK_ENDED_SECONDS=_int(env, "KIOSK_ENDED_SECONDS", 10),  # after a visit ends
            # The most people in one call: browsers connect to each other (a mesh), which
            # carries four well; larger calls need the SFU (a later step).
            CALL_MESH_LIMIT=_int(env, "CALL_MESH_LIMIT", 4),
            # The device self-test: offers go to the media worker (media/worker.py, which
            # `make run` starts beside the web server) and wait at most this long for it.
            MEDIA_WORKER_URL=_worker_url(env),
            MEDIA_WORKER_TIMEOUT=_float(env, "MEDIA_WORKER_TIMEOUT_SECONDS", 5),
            SELF_TEST_LIMIT=_rate(env, "SELF_TEST_LIMIT", "10/minute"),
            # True: a requester whose latest self-test found something not working may not
            # request a session until a test passes; false: they are warned, and may.
            SELF_TEST_BLOCKS_REQUEST=_bool(env.get("SELF_TEST_BLOCKS_REQUEST"), False),
            # Someone whose connection drops keeps their place in the waiting room or the
            # call this long (a reload, a network drop) before they count as gone.
            RECONNECT_GRACE_SECONDS=_int(env, "RECONNECT_GRACE_SECONDS", 120),
            # A camera snapshot (one PNG or JPEG frame) may be at most this large.
            SNAPSHOT_MAX_BYTES=_int(env, "SNAPSHOT_MAX_BYTES", 5 * 1024 * 1024),
            # Mobile numbers without a country code are read as this region's (e.g. GB);
            # unset, numbers must be given in international form (+44 …).
            PHONE_REGION=env.get("PHONE_REGION") or None,
            REMINDER_OFFSETS=_minutes_list(env, "REMINDER_MINUTES_BEFORE", "1440,15"),
            DEFAULT_VISIT_MINUTES=_int(env, "DEFAULT_VISIT_MINUTES", 15),
            # Background jobs: each web process polls this often (0: no runner).
            JOBS_POLL_SECONDS=_float(env, "JOBS_POLL_SECONDS", 1),
            JOB_LEASE_SECONDS=_int(env, "JOB_LEASE_SECONDS", 60),
            JOB_MAX_ATTEMPTS=_int(env, "JOB_MAX_ATTEMPTS", 6),
            # Operations (app/health): how long /readyz waits for Redis; who may read
            # /metrics (networks, loopback by default; or anyone with the bearer token).
            READY_TIMEOUT=_float(env, "READY_TIMEOUT_SECONDS", 2),
            METRICS_ALLOW=_networks(env, "METRICS_ALLOW", "127.0.0.0/8,::1"),
            METRICS_TOKEN=env.get("METRICS_TOKEN") or None,
            **_request_waits(env),
            TESTING=False,
        )
        settings.update(overrides)
        return cls(**settings)


def _engine_options(database_url: str) -> dict:
    if database_url.startswith("sqlite"):
        # Writers wait for each other instead of failing with "database is locked".
        return {"connect_args": {"timeout": 15}}
    # A database that accepts no connection fails a request (and /readyz) within seconds,
    # not after the operating system's two minutes.
    return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 5}}
