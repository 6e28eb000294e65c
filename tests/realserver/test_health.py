"""The real gevent server as a load balancer and Prometheus see it: /healthz, /readyz, and
/metrics that count its own sockets and what its services did."""

from __future__ import annotations

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.realserver.live import accepted_visit

pytestmark = pytest.mark.realserver


def scrape(server) -> dict:
    response = requests.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_the_server_is_live_and_ready(server):
    live = requests.get(f"{server.url}/healthz", timeout=10)
    ready = requests.get(f"{server.url}/readyz", timeout=10)

    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})
    assert "Set-Cookie" not in live.headers and "Set-Cookie" not in ready.headers


def test_metrics_count_a_connected_socket_and_an_accepted_request(server, accounts, connect):
    provider, requester = accounts.provider(), accounts.requester()
    before = scrape(server)

    connect(requester)
    accepted_visit(server, provider, requester)
    after = scrape(server)

    assert value(after, "anteroom_socketio_connections", kind="token") >= 1
    accepted = "anteroom_request_accept_seconds_count"
    assert value(after, accepted) == value(before, accepted) + 1
    published = "anteroom_event_publish_seconds_count"
    assert value(after, published) > value(before, published)
    timed = "anteroom_http_request_duration_seconds_count"
    assert (
        value(after, timed, endpoint="api.accept")
        == value(before, timed, endpoint="api.accept") + 1
    )
    assert ("process_resident_memory_bytes", frozenset()) in after
