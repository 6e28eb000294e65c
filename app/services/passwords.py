"""Passwords: argon2id hashing off the event loop, and what counts as strong enough.

argon2id is deliberately slow (tens of milliseconds of CPU and 64 MiB each). Under gevent
or eventlet a hash computed on the hub would stall every other connection of the process
while it runs, so each hash runs in a small pool of real threads (argon2-cffi releases the
GIL while it works) and only the greenlet that asked waits for it. The pool is bounded so a
flood of sign-ins cannot take more than POOL_SIZE × 64 MiB.
"""

from __future__ import annotations

import functools
import re
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

MIN_LENGTH = 12
# zxcvbn scores 0-4; 3 is "safely unguessable: moderate protection from offline attacks".
MIN_SCORE = 3
POOL_SIZE = 4

# argon2id with the library's RFC 9106 "low memory" profile defaults.
_hasher = PasswordHasher()
T = TypeVar("T")


def _monkey_patched() -> str | None:
    """Which cooperative library has taken over the socket module in this process, if any.

    Only asks a library that is already imported: importing eventlet just to ask would
    warn, and neither can have patched anything without being imported."""
    if "gevent" in sys.modules:
        from gevent import monkey

        if monkey.is_module_patched("socket"):
            return "gevent"
    if "eventlet" in sys.modules:
        from eventlet import patcher

        if patcher.is_monkey_patched("socket"):
            return "eventlet"
    return None


class _Offloader:
    """Runs a blocking call in a bounded pool of OS threads, whatever the async mode."""

    def __init__(self, size: int):
        self.size = size
        self._lock = threading.Lock()
        self._gevent_pool = None
        # Real threads (threading mode, the CLI): the caller already has its own thread;
        # only bound how many hash at once.
        self._slots = threading.BoundedSemaphore(size)

    def run(self, fn: Callable[..., T], *args) -> T:
        mode = _monkey_patched()
        if mode == "gevent":
            return self._gevent().apply(fn, args)
        if mode == "eventlet":
            from eventlet import tpool

            return tpool.execute(fn, *args)
        with self._slots:
            return fn(*args)

    def _gevent(self):
        with self._lock:
            if self._gevent_pool is None:
                from gevent.threadpool import ThreadPool

                self._gevent_pool = ThreadPool(self.size)
            return self._gevent_pool


_offloader = _Offloader(POOL_SIZE)


def hash_password(password: str) -> str:
    return _offloader.run(_hasher.hash, password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; never raises for a wrong or malformed hash."""

    def verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError, ValueError):
            # ValueError: a hash that is not even ASCII (corrupted, or imported badly).
            return False

    return _offloader.run(verify)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@functools.cache
def dummy_hash() -> str:
    """Compared against when the email is unknown, so a miss costs what a wrong password
    does. Made on first use, not at import."""
    return _hasher.hash("anteroom-dummy-password")


def password_problem(password: str, email: str = "", name: str = "") -> str | None:
    """Why this password will not do, in words for the person choosing it, or None.

    At least MIN_LENGTH characters, not built from the account's own email or name, and
    rated at least MIN_SCORE by zxcvbn, which ships its own dictionaries (no network).
    """
    password = password or ""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > 1024:
        return "Use at most 1024 characters."
    personal = _personal_words(email, name)
    lowered = password.lower()
    if any(word in lowered for word in personal):
        return "Do not use your name or email address in your password."
    # zxcvbn's cost grows with length; the first 100 characters decide the score.
    verdict = zxcvbn(password[:100], user_inputs=sorted(personal))
    if verdict["score"] < MIN_SCORE:
        hint = verdict["feedback"].get("warning") or "It would be easy to guess."
        return f"Choose a stronger password. {hint}".strip()
    return None


def _personal_words(email: str, name: str) -> set[str]:
    """The account's own words, at least 4 letters long: email local part and its pieces,
    the domain's first label, and each part of the name."""
    words = set()
    local, _, domain = (email or "").lower().partition("@")
    words.update([local, domain.split(".")[0]])
    words.update(re.split(r"[^a-z0-9]+", local))
    words.update(re.split(r"[^\w]+", (name or "").lower()))
    return {w for w in words if len(w) >= 4}
