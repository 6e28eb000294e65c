"""ICE servers for a call: the configured ones, plus TURN credentials minted per user."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from flask import current_app

from app.models.types import utcnow


def turn_credentials(secret: str, user_id: int | str, expires_at: datetime) -> tuple[str, str]:
    """coturn's REST scheme (use-auth-secret): username "<expiry>:<id>", HMAC-SHA1 password."""
    username = f"{int(expires_at.timestamp())}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers_for(user_id: int | str, now: datetime | None = None) -> list[dict]:
    """What a room page hands to RTCPeerConnection; TURN passwords expire after TURN_TTL."""
    config = current_app.config
    servers = list(config["ICE_SERVERS"])
    if config["TURN_SECRET"] and config["TURN_URLS"]:
        expires_at = (now or utcnow()) + config["TURN_TTL"]
        username, credential = turn_credentials(config["TURN_SECRET"], user_id, expires_at)
        servers.append(
            {"urls": config["TURN_URLS"], "username": username, "credential": credential}
        )
    return servers
