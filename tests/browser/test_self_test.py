"""The device self-test in Chromium with its fake camera and microphone, against the real
media worker: on the requester's dashboard, and in a patient's waiting room."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser import test_booked_visit
from tests.browser.support import assert_accessible, screenshot
from tests.browser.test_booked_visit import link_from_invitation, open_waiting_room

pytestmark = pytest.mark.browser

book = test_booked_visit.book  # the fixture: a booked visit whose patient has a link

PHONE = {"width": 390, "height": 844}
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


def test_a_failed_test_warns_before_request_session_now(people, clinic):
    clinic.api(
        "harbour", "POST", "/self-tests",
        {"camera_ok": False, "microphone_ok": True, "round_trip_ms": 20,
         "packet_loss": 0, "bitrate_kbps": 500},
    )  # fmt: skip
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
