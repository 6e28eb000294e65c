"""Sign-in throttling, shared by the sign-in form and POST /api/v1/tokens.

Three limits, counted in Flask-Limiter's storage (Redis when configured, so every web
instance sees the same attempts):

- per address, every attempt (SIGN_IN_ADDRESS_LIMIT): one address cannot try many accounts;
- per account and address, failures only (SIGN_IN_FAILURE_LIMIT, several windows): after a
  few wrong passwords that address waits, longer the more it fails: a growing lock that
  touches nobody else;
- per account, failures from anywhere (SIGN_IN_ACCOUNT_LIMIT): a guess spread over many
  addresses is stopped too, except on a browser where this account signed in before.

So an attacker's failures never lock the account's owner out: they come from another
address, and the owner's browser carries a device cookie from an earlier sign-in. While a
limit holds, the password is not even checked (and costs no hash).
"""

from __future__ import annotations

import hashlib

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer

from app.limits import TooManyRequests, in_words, spend, wait_for
from app.models import User
from app.services.text import clean_line
from app.services.users import authenticate

DEVICE_COOKIE = "anteroom_device"
DEVICE_COOKIE_DAYS = 365
MAX_DEVICE_ACCOUNTS = 10


def _account_key(email: object) -> str:
    """The account an attempt aims at, normalised exactly as authenticate() looks it up:
    spelling the email with invisible characters must not start a fresh count."""
    normalised = clean_line(email).lower() if isinstance(email, str) else ""
    return hashlib.sha256(normalised.encode()).hexdigest()[:32]


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="anteroom-device")


def _device_accounts() -> list[str]:
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return []
    try:
        accounts = _serializer().loads(raw)
    except BadSignature:
        return []
    return [a for a in accounts if isinstance(a, str)] if isinstance(accounts, list) else []


def checked_authenticate(email: object, password: object) -> User | None:
    """authenticate(), behind the limits; raises TooManyRequests while one holds."""
    address = request.remote_addr or "unknown"
    account = _account_key(email)
    waits = [
        wait_for("SIGN_IN_ADDRESS_LIMIT", "sign-in-address", address),
        wait_for("SIGN_IN_FAILURE_LIMIT", "sign-in-failures", account, address),
    ]
    if account not in _device_accounts():
        waits.append(wait_for("SIGN_IN_ACCOUNT_LIMIT", "sign-in-account", account))
    spend("SIGN_IN_ADDRESS_LIMIT", "sign-in-address", address)
    wait = max((w for w in waits if w is not None), default=None)
    if wait is not None:
        raise TooManyRequests(
            f"Too many sign-in attempts. Try again in {in_words(wait)}.", retry_after=wait
        )
    user = authenticate(
        email if isinstance(email, str) else "", password if isinstance(password, str) else ""
    )
    if user is None:
        spend("SIGN_IN_FAILURE_LIMIT", "sign-in-failures", account, address)
        spend("SIGN_IN_ACCOUNT_LIMIT", "sign-in-account", account)
    return user


def remember_device(response, email: str):
    """After a successful sign-in: this browser is known for this account from now on."""
    account = _account_key(email)
    accounts = [a for a in _device_accounts() if a != account]
    accounts = [account, *accounts][:MAX_DEVICE_ACCOUNTS]
    response.set_cookie(
        DEVICE_COOKIE,
        _serializer().dumps(accounts),
        max_age=DEVICE_COOKIE_DAYS * 24 * 3600,
        httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        samesite="Lax",
    )
    return response
