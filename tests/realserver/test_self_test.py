"""The device self-test through the real server's relay to the real media worker, with an
aiortc peer standing in for a station's browser."""

from __future__ import annotations

import math

import pytest
import requests

from media.self_test import run_self_test
from tests.realserver.live import start_server
from tests.realserver.test_media import run_in_own_loop

pytestmark = pytest.mark.realserver


def enrolled_station(server, name: str) -> tuple[int, str]:
    """A kiosk station made by the admin's command and enrolled with its one-time code:
    its id and its credential (a bearer token)."""
    code = server.flask("stations", "create", "--name", name, "--site", "Ward 4").stdout
    enrolled = requests.post(
        server.url + "/api/v1/stations/enroll",
        json={"code": code.strip().splitlines()[-1]},
        timeout=10,
    )
    assert enrolled.status_code == 201, enrolled.text
    return enrolled.json()["station"]["id"], enrolled.json()["station_token"]


def test_a_station_measures_its_own_media_echoed_back_by_the_worker(server):
    station_id, token = enrolled_station(server, "Self-test cart")
    result = run_in_own_loop(
        lambda: run_self_test(
            server.url + "/api/v1/self-tests/offer",
            {"Authorization": f"Bearer {token}"},
            seconds=3,
        )
    )

    assert result.frames_echoed > 30, result  # ~30 fps came back for seconds
    for value in (result.round_trip_ms, result.bitrate_kbps):
        assert isinstance(value, float) and math.isfinite(value) and value > 0, result
    assert result.round_trip_ms < 1000, result  # on one machine: milliseconds
    assert result.packet_loss is not None and 0 <= result.packet_loss <= 1, result

    # What the page then stores, judged by the server, under the station: the admin's
    # stations page shows it.
    stored = server.api(
        "POST",
        "/self-tests",
        token,
        {
            "camera_ok": result.frames_echoed > 0,
            "microphone_ok": True,
            "round_trip_ms": result.round_trip_ms,
            "packet_loss": result.packet_loss,
            "bitrate_kbps": result.bitrate_kbps,
        },
    )
    assert stored.status_code == 201, stored.text
    assert stored.json()["station_id"] == station_id
    latest = server.api("GET", "/self-tests/latest", token).json()
    assert latest["self_test"]["id"] == stored.json()["id"]
    assert latest["self_test"]["round_trip_ms"] == pytest.approx(result.round_trip_ms)
    listing = server.api("GET", "/stations", server.token("admin")).json()["stations"]
    shown = next(s for s in listing if s["id"] == station_id)["self_test"]
    assert shown["verdict"] == stored.json()["verdict"]


def test_with_the_worker_down_the_offer_is_a_clean_503(tmp_path_factory):
    lonely = start_server(tmp_path_factory.mktemp("no-worker"), media_worker=False)
    try:
        token = lonely.token("station")
        answer = requests.post(
            lonely.url + "/api/v1/self-tests/offer",
            json={"type": "offer", "sdp": "v=0\r\n"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "unavailable"
        assert "test service is unavailable" in answer.json()["error"]["message"]
        assert "Traceback" not in lonely.read_log()
    finally:
        lonely.stop()
