"""This process's Prometheus metrics (prometheus_client), served at /metrics (app/health).

Each web instance counts what it sees itself and exposes it; Prometheus scrapes every
instance and sums across them. No multiprocess mode: one web process serves one port.

Labels are few and bounded by the code, never by what a client sends: a Flask endpoint
name (not a URL), a job kind, a credential kind.

Observing costs a dictionary lookup and a lock per value; nothing here does I/O except the
one COUNT query a scrape makes for the pending requests.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from flask import Flask, has_app_context, request
from prometheus_client import REGISTRY, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event, func, select

from app.extensions import db

logger = logging.getLogger(__name__)

CREDENTIAL_KINDS = ("session", "token", "guest", "station")
# session.info key: when this session's last commit ended (perf_counter), read by the
# Outbox when it publishes what that commit changed.
COMMITTED_AT = "anteroom_committed_at"

HTTP_SECONDS = Histogram(
    "anteroom_http_request_duration_seconds",
    "Time to answer an HTTP request, from the first hook to the end of its teardown, by "
    "Flask endpoint (Socket.IO traffic is not counted here).",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ACCEPT_SECONDS = Histogram(
    "anteroom_request_accept_seconds",
    "Time from a session request being asked to its acceptance by the provider.",
    buckets=(5, 10, 20, 30, 60, 120, 180, 300, 600, 900, 1800, 3600),
)
PUBLISH_SECONDS = Histogram(
    "anteroom_event_publish_seconds",
    "Time from a service's commit until each of its live events has been handed to "
    "Socket.IO (this process's sockets, or the message queue). End-to-end delivery to a "
    "browser is measured by bench/.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
JOB_LAG_SECONDS = Histogram(
    "anteroom_job_lag_seconds",
    "How late a background job was claimed: claim time minus its due time, by job kind.",
    ["kind"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)


class ScrapeTimeCollector:
    """Values read when /metrics is scraped: this process's Socket.IO connections (from the
    authority registry) and the requests pending in the whole database (one COUNT)."""

    def describe(self):
        # Names only: the default registry would otherwise call collect() at registration.
        yield GaugeMetricFamily("anteroom_socketio_connections", "", labels=["kind"])
        yield GaugeMetricFamily("anteroom_pending_requests", "")

    def collect(self):
        from app.realtime.authority import registry

        counts = dict.fromkeys(CREDENTIAL_KINDS, 0)
        for connection in registry.all():
            kind = connection.credential.kind
            counts[kind] = counts.get(kind, 0) + 1
        sockets = GaugeMetricFamily(
            "anteroom_socketio_connections",
            "Socket.IO connections open in this process, by the credential they were opened with.",
            labels=["kind"],
        )
        for kind, count in counts.items():
            sockets.add_metric([kind], count)
        yield sockets
        pending = _pending_requests()
        if pending is not None:
            yield GaugeMetricFamily(
                "anteroom_pending_requests",
                "Session requests waiting for an answer, in the whole database (every "
                "instance reports the same number: take max, not sum).",
                value=pending,
            )


def _pending_requests() -> int | None:
    """The count, or None (left out of the scrape) when the database does not answer."""
    if not has_app_context():
        return None
    from app.models import SessionRequest
    from clinicqueue import RequestState

    try:
        count = db.session.scalar(
            select(func.count())
            .select_from(SessionRequest)
            .where(SessionRequest.state == RequestState.PENDING)
        )
        db.session.rollback()  # end the read transaction
        return count
    except Exception:
        db.session.rollback()
        logger.warning("metrics: could not count pending requests", exc_info=True)
        return None


REGISTRY.register(ScrapeTimeCollector())


def observe_accept(created_at: datetime, accepted_at: datetime) -> None:
    ACCEPT_SECONDS.observe(max(0.0, (accepted_at - created_at).total_seconds()))


def observe_job_lag(kind: str, due_at: datetime, claimed_at: datetime) -> None:
    from app.services.jobs import HANDLERS

    # Kinds come from the code; a row of an unknown kind must not add a label value.
    label = kind if kind in HANDLERS else "other"
    JOB_LAG_SECONDS.labels(label).observe(max(0.0, (claimed_at - due_at).total_seconds()))


def take_commit_time() -> float | None:
    """When the current session's last commit ended (perf_counter), once: the next
    publish without a commit of its own measures nothing."""
    return db.session.info.pop(COMMITTED_AT, None)


def observe_publish(committed_at: float) -> None:
    PUBLISH_SECONDS.observe(time.perf_counter() - committed_at)


_TIMER = "anteroom.metrics_started"
_by_endpoint: dict[str, Histogram] = {}  # labelled children, looked up once each


def _start_timer() -> None:
    request.environ[_TIMER] = time.perf_counter()


def _observe_request(_exc=None) -> None:
    req = request._get_current_object()  # one context lookup, not one per attribute
    started = req.environ.pop(_TIMER, None)
    if started is None:
        return
    endpoint = req.endpoint or "unmatched"
    child = _by_endpoint.get(endpoint)
    if child is None:
        child = _by_endpoint.setdefault(endpoint, HTTP_SECONDS.labels(endpoint))
    child.observe(time.perf_counter() - started)


def _remember_commit(session) -> None:
    session.info[COMMITTED_AT] = time.perf_counter()


_commit_listener_added = False


def init_app(app: Flask) -> None:
    global _commit_listener_added
    # First of all before-request hooks (call after security.init_app, which inserts its
    # body limit first), so the body limit and the session loading are timed too.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    app.teardown_request(_observe_request)
    if not _commit_listener_added:  # one listener per process, however many apps
        event.listen(db.session, "after_commit", _remember_commit)
        _commit_listener_added = True
