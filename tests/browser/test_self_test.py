"""The device self-test in Chromium with its fake camera and microphone, against the real
media worker: on the requester's dashboard, and in a patient's waiting room."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser import test_booked_visit
from tests.browser.support import Clinic, People, assert_accessible, screenshot
from tests.browser.test_booked_visit import link_from_invitation, open_waiting_room
from tests.server import LiveServer, server_database_url

pytestmark = pytest.mark.browser

book = test_booked_visit.book  # the fixture: a booked visit whose patient has a link

PHONE = {"width": 390, "height": 844}
WORKING = {"camera_ok": True, "microphone_ok": True, "round_trip_ms": 20,
           "packet_loss": 0, "bitrate_kbps": 500}  # fmt: skip
NUMBER = re.compile(r"^\d+(\.\d+)? (ms|kbps)$")


def run_the_test(page: Page) -> dict:
    """Press the button, wait for the verdict; the numbers it shows."""
    page.get_by_role("button", name="Test camera and network").click()
    dialog = page.get_by_role("dialog", name="Testing your camera and network")
    expect(dialog).to_be_visible()
    expect(page.locator("#self-test-result")).to_be_visible(timeout=30_000)
    shown = {
        key: page.locator(f"#self-test-{key}").inner_text()
        for key in ("verdict", "camera", "microphone", "rtt", "loss", "bitrate")
    }
    return shown


def test_a_station_tests_its_camera_and_network_from_the_dashboard(people, clinic, live_server):
    station = people.login("station")
    expect(station.locator("#self-test-summary")).to_have_text("Not tested yet.")

    shown = run_the_test(station)

    assert shown["camera"] == "Working" and shown["microphone"] == "Working", shown
    assert NUMBER.match(shown["rtt"]) and NUMBER.match(shown["bitrate"]), shown
    assert float(shown["bitrate"].split()[0]) > 0, shown
    assert shown["verdict"] in ("Good", "Poor"), shown  # a loaded CI machine may be slow
    screenshot(station, "self-test-requester")
    assert_accessible(station, "self-test dialog")

    station.get_by_role("button", name="Close").click()
    expect(station.locator("#self-test-summary")).to_contain_text(f"Last test: {shown['verdict']}")
    expect(station.locator("#self-test-warning")).to_be_hidden()
    # Kept on the server: the latest result is the station's.
    latest = clinic.api("station", "GET", "/self-tests/latest").json()["self_test"]
    assert latest["camera_ok"] and latest["round_trip_ms"] >= 0


NO_CAMERA = """(() => {
  const devices = navigator.mediaDevices;
  const real = devices.getUserMedia.bind(devices);
  devices.getUserMedia = (constraints) => constraints.video
    ? Promise.reject(new DOMException("Requested device not found", "NotFoundError"))
    : real(constraints);
})();"""


@pytest.fixture
def harbour_passes_afterwards(clinic):
    """Harbour Station's latest test is a passing one again when the test ends, so no other
    test finds its dashboard warning about a camera."""
    yield
    clinic.api("harbour", "POST", "/self-tests", WORKING)


def test_a_camera_that_fails_is_reported_not_working_with_what_to_do(
    people, clinic, harbour_passes_afterwards
):
    station = people.login("harbour")
    station.context.add_init_script(NO_CAMERA)
    station.reload()

    shown = run_the_test(station)

    assert shown["verdict"] == "Not working" and shown["camera"] == "Not working", shown
    assert shown["microphone"] == "Working" and NUMBER.match(shown["rtt"]), shown
    expect(station.locator("#self-test-advice")).to_contain_text("Check it is plugged in")
    station.get_by_role("button", name="Close").click()
    expect(station.locator("#self-test-warning")).to_be_visible()
    details = clinic.api("harbour", "GET", "/self-tests/latest").json()["self_test"]
    assert details["verdict"] == "failed" and not details["camera_ok"]
    # A passing test clears the warning.
    clinic.api("harbour", "POST", "/self-tests", WORKING)
    station.reload()
    expect(station.locator("#self-test-summary")).to_contain_text("Last test: Good")
    expect(station.locator("#self-test-warning")).to_be_hidden()


def test_a_failed_test_warns_before_request_session_now(people, clinic, harbour_passes_afterwards):
    clinic.api("harbour", "POST", "/self-tests", {**WORKING, "camera_ok": False})
    station = people.login("harbour")
    warning = station.locator("#self-test-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("The provider may not see or hear you.")
    expect(warning).to_contain_text("Check it is plugged in")
    expect(station.locator("#self-test-summary")).to_contain_text("Last test: Not working")
    # The warning comes before the providers and their Request Session Now buttons.
    above = station.evaluate(
        """() => Boolean(document.getElementById('self-test-warning').compareDocumentPosition(
             document.getElementById('providers')) & Node.DOCUMENT_POSITION_FOLLOWING)"""
    )
    assert above
    screenshot(station, "self-test-warning")


def test_a_patient_tests_from_the_waiting_room(book, people, smtp_server, live_server):
    visit = book(3)
    patient = open_waiting_room(people, link_from_invitation(smtp_server, live_server, visit))

    shown = run_the_test(patient)

    assert shown["camera"] == "Working" and shown["microphone"] == "Working", shown
    assert NUMBER.match(shown["rtt"]) and NUMBER.match(shown["bitrate"]), shown
    screenshot(patient, "self-test-waiting-room")
    patient.get_by_role("button", name="Close").click()
    expect(patient.locator("#self-test-summary")).to_contain_text("Last test:")
    screenshot(patient, "self-test-waiting-room-after")
    patient.set_viewport_size(PHONE)
    patient.locator("#self-test-start").scroll_into_view_if_needed()
    expect(patient.locator("#self-test-start")).to_be_in_viewport()
    screenshot(patient, "self-test-waiting-room-390x844")


@pytest.fixture(scope="module")
def blocking_server(tmp_path_factory) -> Iterator[LiveServer]:
    """A server of its own where a failed self-test blocks a request."""
    server = LiveServer(
        workdir=tmp_path_factory.mktemp("blocking-server"),
        database_url=server_database_url(),
        redis_url=os.environ.get("REDIS_URL"),
        extra_env={
            "SELF_TEST_BLOCKS_REQUEST": "true",
            "SOCKETIO_CHANNEL": f"anteroom-self-test-{os.getpid()}",
        },
    )
    server.start()
    yield server
    server.stop()


def test_where_configured_a_failed_test_blocks_request_session_now(browser, blocking_server):
    clinic = Clinic(blocking_server)
    clinic.set_available("lindqvist", True)
    clinic.api("station", "POST", "/self-tests", {**WORKING, "microphone_ok": False})
    people = People(browser, blocking_server)
    try:
        station = people.login("station")
        expect(station.locator("#self-test-warning")).to_contain_text(
            "you can request a session once a test passes"
        )
        card = station.get_by_role("listitem", name="Dr. Ben Lindqvist")
        card.get_by_role("button", name="Request Session Now").click()

        expect(card.locator(".inline-error")).to_contain_text("test again before you request")
        assert clinic.dashboard("station", "/requester")["requests"] == []
        screenshot(station, "self-test-blocks-request")
    finally:
        people.close()
