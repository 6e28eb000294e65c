"""The device self-test's API: relaying offers to the media worker, judging and keeping
results, and (when configured) holding back a request after a failed test."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.extensions import db
from app.models import Role
from app.models.station import SelfTest, Station
from app.services.self_tests import latest_for_stations
from tests.app.calls import book, guest_browser, make_clinic
from tests.app.helpers import assert_error
from tests.server import free_port

GOOD = {
    "camera_ok": True,
    "microphone_ok": True,
    "round_trip_ms": 42.5,
    "packet_loss": 0.0,
    "bitrate_kbps": 850.0,
}
OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}


@pytest.fixture
def requester(make_user, api):
    user = make_user(Role.REQUESTER)
    return user, api.token(user)


class FakeWorker:
    """A media worker on loopback that answers every offer with `status` and `body`."""

    def __init__(self, status: int = 200, body: dict | None = None):
        self.status, self.body, self.offers = status, body or {"sdp": "v=0\r\nanswer"}, []
        worker = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                worker.offers.append((self.path, json.loads(self.rfile.read(length))))
                data = json.dumps(worker.body).encode()
                self.send_response(worker.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def worker(app, monkeypatch):
    """Factory: worker(status, body) puts a fake media worker at MEDIA_WORKER_URL."""
    made = []

    def make(status=200, body=None):
        fake = FakeWorker(status, body)
        made.append(fake)
        monkeypatch.setitem(app.config, "MEDIA_WORKER_URL", fake.url)
        return fake

    yield make
    for fake in made:
        fake.close()


# Results ---------------------------------------------------------------------------------
def test_good_measurements_are_judged_good_and_are_the_callers_latest(api, requester):
    user, token = requester
    assert api.get("/self-tests/latest", token).get_json()["self_test"] is None

    stored = api.post("/self-tests", token, json={**GOOD, "details": {"fps": 29.5}})

    assert stored.status_code == 201, stored.get_json()
    result = stored.get_json()
    assert (result["verdict"], result["label"], result["advice"]) == ("good", "Good", [])
    assert result["round_trip_ms"] == 42.5 and result["bitrate_kbps"] == 850.0
    latest = api.get("/self-tests/latest", token).get_json()
    assert latest["self_test"]["id"] == result["id"]
    assert latest["blocks_request"] is False
    assert latest["ice_servers"] == []


@pytest.mark.parametrize(
    ("change", "verdict", "advice"),
    [
        ({"round_trip_ms": 450.0}, "poor", "people may talk over each other"),
        ({"packet_loss": 0.12}, "poor", "the call may freeze"),
        ({"bitrate_kbps": 60.0}, "poor", "picture may be blurry"),
        ({"camera_ok": False}, "failed", "Check it is plugged in"),
        ({"microphone_ok": False}, "failed", "microphone is not working"),
        ({"round_trip_ms": None, "bitrate_kbps": None}, "failed", "could not connect"),
    ],
)
def test_the_server_judges_each_problem_with_plain_advice(api, requester, change, verdict, advice):
    _, token = requester
    result = api.post("/self-tests", token, json={**GOOD, **change}).get_json()
    assert result["verdict"] == verdict
    assert result["label"] == {"poor": "Poor", "failed": "Not working"}[verdict]
    assert any(advice in line for line in result["advice"]), result["advice"]


def test_a_verdict_the_measurements_do_not_support_is_refused(api, requester):
    _, token = requester
    claimed = {**GOOD, "camera_ok": False, "verdict": "good"}
    error = assert_error(api.post("/self-tests", token, json=claimed), 422, "invalid")
    assert "verdict" in error["fields"]
    agreed = api.post("/self-tests", token, json={**GOOD, "verdict": "good"})
    assert agreed.status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"round_trip_ms": -1}, "round_trip_ms"),
        ({"round_trip_ms": 1e9}, "round_trip_ms"),
        ({"round_trip_ms": "42"}, "round_trip_ms"),
        ({"bitrate_kbps": True}, "bitrate_kbps"),
        ({"packet_loss": 1.5}, "packet_loss"),
        ({"camera_ok": "yes"}, "camera_ok"),
        ({"microphone_ok": None}, "microphone_ok"),
        ({"details": {"nested": {"a": 1}}}, "details"),
        ({"details": ["a"]}, "details"),
        ({"details": {"note": "x" * 500}}, "details"),
        ({"participant_id": 1}, "participant_id"),
        ({"station_id": 1}, "station_id"),
    ],
)
def test_impossible_measurements_are_a_clear_422(api, requester, change, field):
    _, token = requester
    error = assert_error(api.post("/self-tests", token, json={**GOOD, **change}), 422, "invalid")
    assert field in error["fields"]


def test_not_a_number_is_refused(api, requester):
    _, token = requester
    body = json.dumps(GOOD).replace("42.5", "NaN")
    response = api.post("/self-tests", token, data=body, content_type="application/json")
    assert "round_trip_ms" in assert_error(response, 422, "invalid")["fields"]


def test_nobody_signed_in_is_refused_everywhere(client):
    for method, path in [
        ("GET", "/api/v1/self-tests/latest"),
        ("POST", "/api/v1/self-tests"),
        ("POST", "/api/v1/self-tests/offer"),
    ]:
        assert_error(client.open(path, method=method, json=GOOD), 401, "unauthorized")


def test_a_signed_in_page_needs_its_csrf_token(client, auth, make_user):
    auth.login(make_user(Role.REQUESTER))
    assert_error(client.post("/api/v1/self-tests", json=GOOD), 400, "csrf_failed")
    token = auth.csrf("/requester")
    stored = client.post("/api/v1/self-tests", json=GOOD, headers={"X-CSRFToken": token})
    assert stored.status_code == 201


def test_a_guest_in_a_waiting_room_keeps_their_own_result_only(app, api, make_user):
    clinic = make_clinic(app, make_user, api)
    guest = guest_browser(app, book(api, clinic))
    other = make_user(Role.REQUESTER)

    assert_error(guest.client.post("/api/v1/self-tests", json=GOOD), 400, "csrf_failed")
    headers = {"X-CSRFToken": guest.csrf}
    stored = guest.client.post(
        "/api/v1/self-tests", json={**GOOD, "microphone_ok": False}, headers=headers
    )

    assert stored.status_code == 201, stored.get_json()
    assert stored.get_json()["verdict"] == "failed"
    latest = guest.client.get("/api/v1/self-tests/latest").get_json()
    assert latest["self_test"]["id"] == stored.get_json()["id"]
    assert latest["ice_servers"] == []
    with app.app_context():
        row = db.session.get(SelfTest, stored.get_json()["id"])
        assert row.participant_id == guest.participant_id
        assert row.user_id is None and row.station_id is None
    assert api.get("/self-tests/latest", api.token(other)).get_json()["self_test"] is None


def test_a_stations_result_is_kept_under_its_station(app, api, requester, make_user, socket_client):
    user, token = requester
    with app.app_context():
        station = Station(name="Ward 4 kiosk", site="Riverside", user_id=user.id)
        db.session.add(station)
        db.session.commit()
        station_id = station.id
    admin = socket_client(auth={"token": api.token(make_user(Role.ADMIN))})
    admin.get_received()

    stored = api.post("/self-tests", token, json=GOOD).get_json()

    assert stored["station_id"] == station_id
    # The admin's stations page hears of it at once, and reads the list again.
    heard = [e["args"][0] for e in admin.get_received() if e["name"] == "station_updated"]
    assert heard == [{"id": station_id, "changed": True}]
    latest = api.get("/self-tests/latest", token).get_json()["self_test"]
    assert latest["id"] == stored["id"]
    with app.app_context():  # what the admin's stations page shows
        assert latest_for_stations([station_id])[station_id].id == stored["id"]
        assert latest_for_stations([]) == {}


# Blocking a request ---------------------------------------------------------------------------
def test_a_failed_test_holds_back_a_request_only_when_configured(app, api, make_user, monkeypatch):
    user = make_user(Role.REQUESTER)
    token = api.token(user)
    provider = make_user(Role.PROVIDER, available=True)
    api.post("/self-tests", token, json={**GOOD, "camera_ok": False})

    monkeypatch.setitem(app.config, "SELF_TEST_BLOCKS_REQUEST", True)
    refused = api.post("/requests", token, json={"provider_id": provider.id})
    assert "test again" in assert_error(refused, 409, "self_test_failed")["message"]
    assert api.get("/self-tests/latest", token).get_json()["blocks_request"] is True

    api.post("/self-tests", token, json=GOOD)  # fixed: the camera works now
    assert api.post("/requests", token, json={"provider_id": provider.id}).status_code == 201


def test_a_failed_test_only_warns_by_default(api, make_user):
    token = api.token(make_user(Role.REQUESTER))
    provider = make_user(Role.PROVIDER, available=True)
    api.post("/self-tests", token, json={**GOOD, "camera_ok": False})
    assert api.post("/requests", token, json={"provider_id": provider.id}).status_code == 201


# Relaying the offer ---------------------------------------------------------------------------
def test_the_offer_goes_to_the_worker_and_its_answer_comes_back(api, requester, worker):
    _, token = requester
    fake = worker(200, {"type": "answer", "sdp": "v=0\r\nthe answer"})

    answer = api.post("/self-tests/offer", token, json=OFFER)

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"type": "answer", "sdp": "v=0\r\nthe answer"}
    assert fake.offers == [("/offer", {"sdp": OFFER["sdp"]})]


def test_with_the_worker_down_the_offer_is_a_503_saying_so(app, api, requester, monkeypatch):
    _, token = requester
    monkeypatch.setitem(app.config, "MEDIA_WORKER_URL", f"http://127.0.0.1:{free_port()}")
    error = assert_error(api.post("/self-tests/offer", token, json=OFFER), 503, "unavailable")
    assert "test service is unavailable" in error["message"]


def test_a_busy_worker_is_a_503_asking_to_wait(api, requester, worker):
    _, token = requester
    worker(503, {"error": "busy"})
    response = api.post("/self-tests/offer", token, json=OFFER)
    assert "busy" in assert_error(response, 503, "unavailable")["message"]


@pytest.mark.parametrize(("status", "body"), [(500, {"error": "boom"}), (200, {"no": "sdp"})])
def test_a_worker_that_answers_nonsense_is_unavailable_too(api, requester, worker, status, body):
    _, token = requester
    worker(status, body)
    error = assert_error(api.post("/self-tests/offer", token, json=OFFER), 503, "unavailable")
    assert "test service is unavailable" in error["message"]


def test_an_offer_the_worker_cannot_read_is_a_422(api, requester, worker):
    _, token = requester
    worker(400, {"error": "The offer could not be read."})
    assert_error(api.post("/self-tests/offer", token, json=OFFER), 422, "invalid")


@pytest.mark.parametrize(
    "offer",
    [
        {"type": "answer", "sdp": OFFER["sdp"]},
        {"type": "offer"},
        {"type": "offer", "sdp": "hello"},
        {"type": "offer", "sdp": "v=0" + "a" * 70_000},
    ],
)
def test_anything_but_an_sdp_offer_is_refused_before_the_worker(api, requester, worker, offer):
    _, token = requester
    fake = worker()
    assert_error(api.post("/self-tests/offer", token, json=offer), 422, "invalid")
    assert fake.offers == []


def test_offers_are_rate_limited_per_caller(app, api, requester, worker, monkeypatch):
    _, token = requester
    worker()
    monkeypatch.setitem(app.config, "SELF_TEST_LIMIT", "2/minute")
    for _ in range(2):
        assert api.post("/self-tests/offer", token, json=OFFER).status_code == 200
    assert_error(api.post("/self-tests/offer", token, json=OFFER), 429, "too_many_requests")
