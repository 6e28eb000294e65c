"""Config.from_env: what the environment must say before the app will start."""

from __future__ import annotations

import json
import stat
from datetime import timedelta

import pytest

from config import Config, ConfigError


def _env(tmp_path, **values) -> dict[str, str]:
    env = {"ANTEROOM_INSTANCE_PATH": str(tmp_path / "instance")}
    env.update(values)
    return env


@pytest.mark.parametrize("environment", [None, "production", "staging"])
def test_secret_key_is_required_outside_development(tmp_path, environment):
    env = _env(tmp_path)
    if environment:
        env["ANTEROOM_ENV"] = environment

    with pytest.raises(ConfigError, match="SECRET_KEY is required"):
        Config.from_env(env)

    assert not (tmp_path / "instance" / "secret_key").exists()


def test_production_uses_the_secret_key_it_is_given(tmp_path):
    config = Config.from_env(_env(tmp_path, ANTEROOM_ENV="production", SECRET_KEY="s3cret"))

    assert config.SECRET_KEY == "s3cret"
    assert config.ENV_NAME == "production"


def test_development_generates_a_private_secret_key_that_survives_a_restart(tmp_path):
    first = Config.from_env(_env(tmp_path, ANTEROOM_ENV="development"))
    second = Config.from_env(_env(tmp_path, ANTEROOM_ENV="development"))

    key_file = tmp_path / "instance" / "secret_key"
    assert len(first.SECRET_KEY) >= 32
    assert first.SECRET_KEY == second.SECRET_KEY == key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_development_keys_differ_between_instances(tmp_path):
    one = Config.from_env(
        {"ANTEROOM_ENV": "development", "ANTEROOM_INSTANCE_PATH": str(tmp_path / "a")}
    )
    two = Config.from_env(
        {"ANTEROOM_ENV": "development", "ANTEROOM_INSTANCE_PATH": str(tmp_path / "b")}
    )

    assert one.SECRET_KEY != two.SECRET_KEY


def test_server_runs_gevent_unless_told_otherwise(tmp_path):
    assert Config.from_env(_env(tmp_path, SECRET_KEY="k")).SOCKETIO_ASYNC_MODE == "gevent"


@pytest.mark.parametrize("mode", ["gevent", "eventlet", "threading"])
def test_supported_async_modes_are_accepted(tmp_path, mode):
    config = Config.from_env(_env(tmp_path, SECRET_KEY="k", SOCKETIO_ASYNC_MODE=mode))

    assert mode == config.SOCKETIO_ASYNC_MODE


@pytest.mark.parametrize("mode", ["asyncio", "auto", "GEVENT", "eventlet "])
def test_unknown_async_mode_is_refused(tmp_path, mode):
    with pytest.raises(ConfigError, match="SOCKETIO_ASYNC_MODE must be one of"):
        Config.from_env(_env(tmp_path, SECRET_KEY="k", SOCKETIO_ASYNC_MODE=mode))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/clinic", "postgresql+psycopg://u:p@db:5432/clinic"),
        ("postgresql://u:p@db/clinic", "postgresql+psycopg://u:p@db/clinic"),
        ("postgresql+psycopg://u@db/clinic", "postgresql+psycopg://u@db/clinic"),
        ("sqlite:////srv/anteroom.db", "sqlite:////srv/anteroom.db"),
    ],
)
def test_database_url_is_normalized_to_the_psycopg_driver(tmp_path, given, expected):
    config = Config.from_env(_env(tmp_path, SECRET_KEY="k", DATABASE_URL=given))

    assert expected == config.SQLALCHEMY_DATABASE_URI


def test_default_database_is_sqlite_under_the_instance_folder(tmp_path):
    config = Config.from_env(_env(tmp_path, SECRET_KEY="k"))

    assert f"sqlite:///{tmp_path / 'instance' / 'anteroom.db'}" == config.SQLALCHEMY_DATABASE_URI
    assert config.SQLALCHEMY_ENGINE_OPTIONS == {"connect_args": {"timeout": 15}}


def test_postgresql_connections_are_checked_before_use_and_give_up_connecting_soon(tmp_path):
    config = Config.from_env(_env(tmp_path, SECRET_KEY="k", DATABASE_URL="postgres://db/x"))

    assert config.SQLALCHEMY_ENGINE_OPTIONS == {
        "pool_pre_ping": True,
        "connect_args": {"connect_timeout": 5},
    }


def test_ice_servers_default_to_none(tmp_path):
    assert Config.from_env(_env(tmp_path, SECRET_KEY="k")).ICE_SERVERS == []


def test_ice_servers_are_parsed_from_json(tmp_path):
    servers = [
        {"urls": "stun:stun.example.org:3478"},
        {"urls": ["turn:turn.example.org"], "username": "u", "credential": "c"},
    ]

    config = Config.from_env(_env(tmp_path, SECRET_KEY="k", ICE_SERVERS=json.dumps(servers)))

    assert servers == config.ICE_SERVERS


@pytest.mark.parametrize(
    "raw",
    ["stun:stun.example.org", "{not json", '{"urls": "stun:x"}', '["stun:x"]', "[1, 2]", "null"],
)
def test_malformed_ice_servers_are_refused(tmp_path, raw):
    with pytest.raises(ConfigError, match="ICE_SERVERS must be a JSON list"):
        Config.from_env(_env(tmp_path, SECRET_KEY="k", ICE_SERVERS=raw))


def test_cookies_are_secure_http_only_and_lax_in_production(tmp_path):
    config = Config.from_env(_env(tmp_path, SECRET_KEY="k"))

    assert config.SESSION_COOKIE_SECURE is True
    assert config.REMEMBER_COOKIE_SECURE is True
    assert config.SESSION_COOKIE_HTTPONLY is True
    assert config.SESSION_COOKIE_SAMESITE == "Lax"


@pytest.mark.parametrize(
    ("raw", "secure"), [(None, False), ("1", True), ("true", True), ("no", False)]
)
def test_development_cookies_follow_session_cookie_secure(tmp_path, raw, secure):
    env = _env(tmp_path, ANTEROOM_ENV="development")
    if raw is not None:
        env["SESSION_COOKIE_SECURE"] = raw

    assert Config.from_env(env).SESSION_COOKIE_SECURE is secure


def test_production_may_turn_secure_cookies_off_explicitly(tmp_path):
    config = Config.from_env(_env(tmp_path, SECRET_KEY="k", SESSION_COOKIE_SECURE="false"))

    assert config.SESSION_COOKIE_SECURE is False


def test_idle_logout_and_session_lifetime_come_from_idle_logout_minutes(tmp_path):
    config = Config.from_env(_env(tmp_path, SECRET_KEY="k", IDLE_LOGOUT_MINUTES="5"))

    assert timedelta(minutes=5) == config.IDLE_LOGOUT
    # The server ends idle sessions; the cookie lasts longer so the page can say why.
    assert timedelta(hours=12) == config.PERMANENT_SESSION_LIFETIME


def test_idle_logout_may_be_a_fraction_of_a_minute(tmp_path):
    config = Config.from_env(_env(tmp_path, SECRET_KEY="k", IDLE_LOGOUT_MINUTES="0.2"))

    assert timedelta(seconds=12) == config.IDLE_LOGOUT


@pytest.mark.parametrize(
    "name", ["API_TOKEN_HOURS", "MAIL_PORT", "MAX_SOCKETS_PER_USER", "MAX_BODY_BYTES"]
)
def test_whole_number_settings_refuse_other_text(tmp_path, name):
    with pytest.raises(ConfigError, match=f"{name} must be a whole number"):
        Config.from_env(_env(tmp_path, SECRET_KEY="k", **{name: "ten"}))


@pytest.mark.parametrize("name", ["IDLE_LOGOUT_MINUTES", "AUTHORITY_CHECK_SECONDS"])
@pytest.mark.parametrize("raw", ["ten", "0", "-1"])
def test_number_settings_refuse_other_text_and_nothing(tmp_path, name, raw):
    with pytest.raises(ConfigError, match=f"{name} must be"):
        Config.from_env(_env(tmp_path, SECRET_KEY="k", **{name: raw}))


@pytest.mark.parametrize(
    "name",
    [
        "SIGN_IN_ADDRESS_LIMIT",
        "SIGN_IN_FAILURE_LIMIT",
        "SIGN_IN_ACCOUNT_LIMIT",
        "REQUEST_CREATION_LIMIT",
        "SOCKET_EVENT_LIMIT",
    ],
)
def test_rate_limits_refuse_what_is_not_a_rate(tmp_path, name):
    with pytest.raises(ConfigError, match=f"{name} must be a rate"):
        Config.from_env(_env(tmp_path, SECRET_KEY="k", **{name: "lots"}))


def test_limits_and_their_storage_come_from_the_environment(tmp_path):
    config = Config.from_env(
        _env(
            tmp_path,
            SECRET_KEY="k",
            REDIS_URL="redis://127.0.0.1:6379/0",
            SIGN_IN_FAILURE_LIMIT="3/minute;6/hour",
            MAX_BODY_BYTES="2048",
            MAX_UPLOAD_BYTES="4096",
            MAX_SOCKETS_PER_USER="3",
        )
    )

    assert config.RATELIMIT_STORAGE_URI == "redis://127.0.0.1:6379/0"
    assert config.SIGN_IN_FAILURE_LIMIT == "3/minute;6/hour"
    assert config.MAX_CONTENT_LENGTH == 2048
    assert config.MAX_UPLOAD_BYTES == 4096
    assert config.MAX_SOCKETS_PER_USER == 3


def test_limits_are_kept_in_memory_without_redis(tmp_path):
    assert Config.from_env(_env(tmp_path, SECRET_KEY="k")).RATELIMIT_STORAGE_URI == "memory://"


@pytest.mark.parametrize(("raw", "enabled"), [(None, True), ("0", False), ("false", False)])
def test_decline_notes_can_be_turned_off(tmp_path, raw, enabled):
    env = _env(tmp_path, SECRET_KEY="k")
    if raw is not None:
        env["DECLINE_NOTES_ENABLED"] = raw

    assert Config.from_env(env).DECLINE_NOTES_ENABLED is enabled


def test_overrides_win_over_the_environment(tmp_path):
    config = Config.from_env(_env(tmp_path, SECRET_KEY="k"), TESTING=True, SECRET_KEY="other")

    assert config.TESTING is True
    assert config.SECRET_KEY == "other"


def test_environment_is_read_from_os_environ_when_none_is_given(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTEROOM_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "from-os-environ")
    monkeypatch.setenv("ANTEROOM_INSTANCE_PATH", str(tmp_path))

    assert Config.from_env().SECRET_KEY == "from-os-environ"
