"""/healthz, /readyz and /metrics: what a load balancer and Prometheus see, and who may
read the metrics."""

from __future__ import annotations

import copy
import os
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.extensions import db, limiter
from app.models import Role, User
from app.models.types import utcnow
from app.services.jobs import enqueue, run_due
from app.services.session_requests import accept_request, create_request
from config import Config, ConfigError
from tests.app.helpers import separate_app

OUTSIDER = {"REMOTE_ADDR": "203.0.113.9"}
CLOSED_PORT = 1  # nothing listens there: connections are refused at once


def scrape(client, **kwargs) -> dict:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# Health and readiness ---------------------------------------------------------------------


def test_healthz_says_the_process_is_up_without_a_cookie(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_readyz_is_ok_while_the_database_answers(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert "Set-Cookie" not in response.headers


def test_readyz_is_503_naming_the_database_when_it_does_not_answer(tmp_path):
    unreachable = f"postgresql://anteroom:secret-password@127.0.0.1:{CLOSED_PORT}/test"
    with separate_app(unreachable, tmp_path) as other:
        client = other.test_client()
        assert client.get("/healthz").status_code == 200  # the process itself is fine

        response = client.get("/readyz")

    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "unavailable"
    assert error["failed"] == ["database"]
    assert "database" in error["message"]
    body = response.get_data(as_text=True)
    assert "secret-password" not in body and "127.0.0.1" not in body


def test_readyz_is_503_naming_redis_when_it_is_configured_and_does_not_answer(
    app, client, monkeypatch
):
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://:secret@127.0.0.1:{CLOSED_PORT}/0")

    response = client.get("/readyz")

    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["failed"] == ["redis"]
    assert "Redis" in error["message"] or "redis" in error["message"]
    assert "secret" not in response.get_data(as_text=True)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL names no Redis")
def test_readyz_pings_a_configured_redis(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", os.environ["REDIS_URL"])

    assert client.get("/readyz").status_code == 200


def test_health_endpoints_are_exempt_from_rate_limits(database_url, tmp_path, monkeypatch):
    # A limit on every route (were one ever configured) must not take an instance out of
    # the load balancer's rotation. The other app's default limit goes into a copy of the
    # shared limiter's limit manager (separate_app puts back only its attributes).
    monkeypatch.setattr(limiter, "limit_manager", copy.copy(limiter.limit_manager))
    with separate_app(database_url, tmp_path, RATELIMIT_DEFAULT="2/minute") as other:
        client = other.test_client()
        assert [client.get("/auth/login").status_code for _ in range(3)][-1] == 429
        for path in ("/healthz", "/readyz", "/metrics"):
            assert {client.get(path).status_code for _ in range(5)} == {200}, path


# Who may read /metrics --------------------------------------------------------------------


def test_metrics_are_refused_to_callers_outside_the_allowed_networks(client):
    response = client.get("/metrics", environ_base=OUTSIDER)

    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert "anteroom_" not in response.get_data(as_text=True)


def test_a_request_relayed_by_a_proxy_is_not_loopback(client):
    # nginx on the same machine connects from 127.0.0.1; without PROXY_COUNT the caller's
    # real address is unknown, so the relay must not make it local.
    response = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})

    assert response.status_code == 403


def test_loopback_may_read_the_metrics(client):
    samples = scrape(client)

    assert ("anteroom_socketio_connections", frozenset({("kind", "session")})) in samples
    assert ("anteroom_pending_requests", frozenset()) in samples


def test_the_metrics_token_opens_them_from_anywhere_and_nothing_else_does(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-me")

    assert (
        client.get(
            "/metrics", environ_base=OUTSIDER, headers={"Authorization": "Bearer scrape-me"}
        ).status_code
        == 200
    )
    assert (
        client.get(
            "/metrics", environ_base=OUTSIDER, headers={"Authorization": "Bearer guess"}
        ).status_code
        == 403
    )
    # A wrong token is a refusal even from loopback: whoever sent it meant to use one.
    assert client.get("/metrics", headers={"Authorization": "Bearer guess"}).status_code == 403


def test_configured_networks_may_read_the_metrics(app, client, monkeypatch):
    networks = Config.from_env({"ANTEROOM_ENV": "test", "METRICS_ALLOW": "10.0.0.0/8"})
    monkeypatch.setitem(app.config, "METRICS_ALLOW", networks.METRICS_ALLOW)

    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert client.get("/metrics").status_code == 403  # loopback is no longer listed


def test_metrics_networks_are_checked_when_the_app_starts():
    with pytest.raises(ConfigError, match="METRICS_ALLOW"):
        Config.from_env({"ANTEROOM_ENV": "test", "METRICS_ALLOW": "10.0.0.0/8,everyone"})
    assert Config.from_env({"ANTEROOM_ENV": "test", "METRICS_ALLOW": ""}).METRICS_ALLOW == ()


# What the metrics say ---------------------------------------------------------------------


def test_metrics_follow_a_request_from_asked_to_accepted(app, client, make_user):
    provider = make_user(Role.PROVIDER, services=["General"], available=True)
    requester = make_user(Role.REQUESTER)
    asked_at = utcnow()
    before = scrape(client)

    with app.app_context():
        req = create_request(db.session.get(User, requester.id), provider.id, None, now=asked_at)
        request_id = req.id
    asked = scrape(client)
    with app.app_context():
        accept_request(
            db.session.get(User, provider.id), request_id, now=asked_at + timedelta(seconds=42)
        )
    accepted = scrape(client)

    pending = "anteroom_pending_requests"
    assert value(asked, pending) == value(before, pending) + 1
    assert value(accepted, pending) == value(before, pending)
    count, total = "anteroom_request_accept_seconds_count", "anteroom_request_accept_seconds_sum"
    assert value(accepted, count) == value(before, count) + 1
    assert value(accepted, total) - value(before, total) == pytest.approx(42)
    # Every event of both commits was published, and timed from its commit.
    published = "anteroom_event_publish_seconds_count"
    assert value(asked, published) >= value(before, published) + 2
    assert value(accepted, published) >= value(asked, published) + 4


def test_metrics_count_this_processs_sockets_by_credential(client, api, make_user, socket_client):
    token = api.token(make_user(Role.REQUESTER))
    before = value(scrape(client), "anteroom_socketio_connections", kind="token")

    sc = socket_client(auth={"token": token})
    assert sc.is_connected()
    connected = value(scrape(client), "anteroom_socketio_connections", kind="token")
    sc.disconnect()
    gone = value(scrape(client), "anteroom_socketio_connections", kind="token")

    assert (connected, gone) == (before + 1, before)


def test_metrics_show_how_late_a_job_ran(app, client):
    due = utcnow() - timedelta(minutes=5)
    with app.app_context():
        enqueue("request_expire", due, payload={"request_id": 999_999})  # expires nothing
        db.session.commit()
    count = "anteroom_job_lag_seconds_count"
    total = "anteroom_job_lag_seconds_sum"
    before = scrape(client)

    with app.app_context():
        assert run_due(due + timedelta(seconds=30)) == 1
    after = scrape(client)

    kind = {"kind": "request_expire"}
    assert value(after, count, **kind) == value(before, count, **kind) + 1
    assert value(after, total, **kind) - value(before, total, **kind) == pytest.approx(30)


def test_metrics_time_http_requests_by_endpoint_never_by_url(client):
    count = "anteroom_http_request_duration_seconds_count"
    before = scrape(client)

    client.get("/healthz")
    client.get("/no/such/page/12345")
    after = scrape(client)

    assert value(after, count, endpoint="health.healthz") == (
        value(before, count, endpoint="health.healthz") + 1
    )
    assert (
        value(after, count, endpoint="unmatched") == value(before, count, endpoint="unmatched") + 1
    )
    assert not any("12345" in str(labels) for _, labels in after)
