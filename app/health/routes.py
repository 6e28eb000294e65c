"""For load balancers and monitoring, not people: liveness, readiness and metrics.

- /healthz: the process answers; touches neither the database nor Redis.
- /readyz: the database answers SELECT 1 and, with REDIS_URL, Redis answers PING; 503 naming
  what failed otherwise. A load balancer takes an instance out of rotation on it.
- /metrics: this instance's Prometheus metrics (app/metrics.py) in the text format, only to
  callers from METRICS_ALLOW (loopback by default) or with the METRICS_TOKEN bearer token:
  on the open internet they would tell anyone how busy the clinic is.

No session is made (nothing here writes one, so no Set-Cookie), no CSRF (GET only, and
exempt), no rate limit: a probe every second must never be refused.
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, REGISTRY, generate_latest

from app.auth.session import bearer_token
from app.errors import error_body
from app.extensions import csrf, limiter
from app.services.readiness import unready

bp = Blueprint("health", __name__)
csrf.exempt(bp)
limiter.exempt(bp)

# A request relayed by a proxy: without PROXY_COUNT its address is the proxy's (often
# loopback), not the caller's, so it never counts as coming from an allowed network.
FORWARDED = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    failed = unready()
    if failed:
        message = f"Not ready: the {' and '.join(failed)} did not answer."
        return jsonify(error_body("unavailable", message, failed=failed)), 503
    return jsonify(status="ok")


@bp.get("/metrics")
def metrics():
    if not may_scrape():
        message = "Metrics are served only to METRICS_ALLOW networks or with METRICS_TOKEN."
        return jsonify(error_body("forbidden", message)), 403
    # The classic text format (0.0.4): every Prometheus reads it, and our names need no
    # escaping (1.0.0 only adds UTF-8 names).
    return Response(generate_latest(REGISTRY), content_type=CONTENT_TYPE_PLAIN_0_0_4)


def may_scrape() -> bool:
    """The METRICS_TOKEN bearer token, from anywhere; or an address in METRICS_ALLOW (the
    client's own, read through PROXY_COUNT proxies)."""
    config = current_app.config
    token = bearer_token(request)
    if config["METRICS_TOKEN"] and token is not None:
        return hmac.compare_digest(token.encode(), config["METRICS_TOKEN"].encode())
    if not config["PROXY_COUNT"] and any(name in request.headers for name in FORWARDED):
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in config["METRICS_ALLOW"])
