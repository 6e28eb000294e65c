"""Whether this instance can serve: the database answers, and Redis when it is configured.

Each check is bounded (READY_TIMEOUT_SECONDS for Redis; PostgreSQL connections give up after
the engine's connect_timeout) and names what failed, never where it lives: an address or
a URL may carry a password.
"""

from __future__ import annotations

import logging

from flask import current_app
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import text

from app.extensions import db

logger = logging.getLogger(__name__)


def unready() -> list[str]:
    """What does not answer now: [] when ready, else "database" and/or "redis"."""
    failed = []
    if not _database_answers():
        failed.append("database")
    if current_app.config["REDIS_URL"] and not _redis_answers():
        failed.append("redis")
    return failed


def _database_answers() -> bool:
    try:
        # A connection of its own from the pool, not the request's session.
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception as exc:
        logger.warning("readiness: the database does not answer (%s)", type(exc).__name__)
        return False


def _redis_answers() -> bool:
    try:
        return bool(_redis().ping())
    except Exception as exc:
        logger.warning("readiness: Redis does not answer (%s)", type(exc).__name__)
        return False


def _redis() -> Redis:
    """One client per app (its own small pool), with short timeouts and no retries: a
    probe wants an answer now, not after redis-py's back-off."""
    url = current_app.config["REDIS_URL"]
    kept = current_app.extensions.get("readiness_redis")
    if kept is None or kept[0] != url:
        timeout = current_app.config["READY_TIMEOUT"]
        client = Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )
        kept = current_app.extensions["readiness_redis"] = (url, client)
    return kept[1]
