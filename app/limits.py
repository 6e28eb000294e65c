"""Rate limits beyond a plain per-route count, on the storage Flask-Limiter was given.

`allowed()` and `spend()` check and consume named limits for explicit keys, so services
and the sign-in throttle can limit by account, by address or by both, and count only
failures. Socket.IO events are limited per connection in memory: a connection lives in
one process, so there is nothing to share.
"""

from __future__ import annotations

import math
import time

from flask import current_app
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from app.extensions import limiter
from app.services.errors import ServiceError


class TooManyRequests(ServiceError):
    """Answered 429 with Retry-After (seconds)."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


def rates(config_key: str) -> list[RateLimitItem]:
    return parse_many(current_app.config[config_key])


def wait_for(config_key: str, *keys: str) -> int | None:
    """Seconds until the named limits allow one more for these keys; None when they do."""
    if not current_app.config["RATELIMIT_ENABLED"]:
        return None
    strategy = limiter.limiter
    keys = _prefixed(keys)
    waits = []
    for item in rates(config_key):
        if not strategy.test(item, *keys):
            reset_at = strategy.get_window_stats(item, *keys).reset_time
            waits.append(max(1, math.ceil(reset_at - time.time())))
    return max(waits) if waits else None


def spend(config_key: str, *keys: str) -> None:
    """Count one against each of the named limits for these keys."""
    if not current_app.config["RATELIMIT_ENABLED"]:
        return
    for item in rates(config_key):
        limiter.limiter.hit(item, *_prefixed(keys))


def _prefixed(keys: tuple[str, ...]) -> tuple[str, ...]:
    """Deployments sharing one Redis count apart (Flask-Limiter prefixes only the keys of
    its own decorators)."""
    return (current_app.config["RATELIMIT_KEY_PREFIX"], *keys)


def in_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return f"{minutes} minutes"
    return f"{math.ceil(minutes / 60)} hours"


class ConnectionLimits:
    """Events per Socket.IO connection, counted in this process's memory."""

    def __init__(self):
        self._strategy = MovingWindowRateLimiter(MemoryStorage())

    def wait_for(self, sid: str) -> int | None:
        """Counts this event; seconds to wait when the connection is over its limit."""
        if not current_app.config["RATELIMIT_ENABLED"]:
            return None
        waits = []
        for item in rates("SOCKET_EVENT_LIMIT"):
            if not self._strategy.hit(item, "socket", sid):
                reset_at = self._strategy.get_window_stats(item, "socket", sid).reset_time
                waits.append(max(1, math.ceil(reset_at - time.time())))
        return max(waits) if waits else None

    def forget(self, sid: str) -> None:
        for item in rates("SOCKET_EVENT_LIMIT"):
            self._strategy.clear(item, "socket", sid)
