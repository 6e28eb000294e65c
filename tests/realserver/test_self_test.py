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


def test_a_station_measures_its_own_media_echoed_back_by_the_worker(server, accounts):
    station = accounts.requester()
    result = run_in_own_loop(
        lambda: run_self_test(
            server.url + "/api/v1/self-tests/offer",
            {"Authorization": f"Bearer {station.token}"},
            seconds=3,
        )
    )

    assert result.frames_echoed > 30, result  # ~30 fps came back for seconds
    for value in (result.round_trip_ms, result.bitrate_kbps):
        assert isinstance(value, float) and math.isfinite(value) and value > 0, result
    assert result.round_trip_ms < 1000, result  # on one machine: milliseconds
    assert result.packet_loss is not None and 0 <= result.packet_loss <= 1, result

    # What the page then stores, judged by the server.
    stored = server.api(
        "POST",
        "/self-tests",
        station.token,
        {
            "camera_ok": result.frames_echoed > 0,
            "microphone_ok": True,
            "round_trip_ms": result.round_trip_ms,
            "packet_loss": result.packet_loss,
            "bitrate_kbps": result.bitrate_kbps,
        },
    )
    assert stored.status_code == 201, stored.text
    latest = server.api("GET", "/self-tests/latest", station.token).json()
    assert latest["self_test"]["id"] == stored.json()["id"]
    assert latest["self_test"]["round_trip_ms"] == pytest.approx(result.round_trip_ms)


def test_with_the_worker_down_the_offer_is_a_clean_503(tmp_path_factory, accounts):
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
