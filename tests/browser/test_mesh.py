"""Calls of more than two people, and coming back into the call after a dropped connection.

A call is a browser mesh (app/static/js/call.js): each page holds one peer connection and
one tile per other person. These tests hold three real pages in one call, then break the
patient's connection twice (a reload, and the network cut for 20 seconds) and watch the
patient come back into the same call without anyone pressing anything, while the host's
page says honestly what is happening. Everyone joins from the links the live server
emails to the session's SMTP server (the helpers of test_people.py).
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import (
    VIEWPORT,
    Clinic,
    assert_accessible,
    assert_in_call,
    assert_video_playing,
    screenshot,
)
from tests.browser.test_people import (
    DAUGHTER,
    KIOSK,
    PATIENT,
    PHONE,
    booker,
    end_all,
    enter_room,
    link_in,
    open_link,
    panel_of,
)

pytestmark = pytest.mark.browser

HOST = "Dr. Ada Okafor"
RECONNECTING = f"{PATIENT} is reconnecting…"
# Every text the room's status line and its tiles' notes show from now on, in order: a
# state that lasts half a second (someone reconnecting after a reload) is still seen.
RECORD_WORDS = """() => {
  window.wordsSeen = [];
  const stage = document.querySelector("#stage");
  const status = document.querySelector("#room-status");
  const note = () => {
    const words = [status.textContent.trim()];
    for (const el of stage.querySelectorAll(".tile-status:not([hidden]) .tile-status-title")) {
      words.push(el.textContent.trim());
    }
    for (const text of words) {
      if (text && window.wordsSeen.at(-1) !== text) window.wordsSeen.push(text);
    }
  };
  const observer = new MutationObserver(note);
  for (const el of [stage, status]) {
    observer.observe(el, { subtree: true, childList: true, characterData: true, attributes: true });
  }
  note();
}"""


@pytest.fixture
def book(clinic):
    """Booked visits with Dr. Ada Okafor that do not outlive their test (asked for before
    `people`: the pages are checked as the test left them, then the visit goes)."""
    booked: list[int] = []
    yield booker(clinic, booked)
    end_all(clinic, booked)


def listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def assert_in_call_with(page: Page, others: list[str]) -> None:
    """A tile for each of `others` (in that order), each with their video playing and their
    sound arriving, on a page connected to every one of them."""
    expect(page.locator("#room-status")).to_have_text(f"In the meeting with {listed(others)}")
    expect(page.locator("#overlay")).to_be_hidden()
    tiles = page.locator("#tiles > .tile")
    expect(tiles).to_have_count(len(others))
    expect(tiles.locator(".tile-name")).to_have_text(others)
    for index, name in enumerate(others, start=1):
        expect(tiles.nth(index - 1).locator("video")).to_have_accessible_name(f"{name} video")
        assert_video_playing(page, f"#tiles > .tile:nth-child({index}) video")
    assert page.evaluate("window.anteroomCall.connected") is True
    peers = page.evaluate("window.anteroomCall.peers()")
    assert [(p["name"], p["state"], p["connection"]) for p in peers] == [
        (name, "connected", "connected") for name in others
    ], peers
    before = page.evaluate("window.anteroomCall.received()")
    before_each = {
        name: page.evaluate("(n) => window.anteroomCall.received(n)", name) for name in others
    }
    page.wait_for_timeout(500)
    after = page.evaluate("window.anteroomCall.received()")
    assert after["audio"]["samples"] > before["audio"]["samples"], (before, after)
    for name in others:  # from each of them, not only from one
        now = page.evaluate("(n) => window.anteroomCall.received(n)", name)
        assert now["audio"]["samples"] > before_each[name]["audio"]["samples"], (name, now)
        assert now["video"]["framesDecoded"] > before_each[name]["video"]["framesDecoded"], name
    expect(page.get_by_role("alert")).to_be_hidden()


# How many square pixels of each tile's picture (the video's frame as `contain` shows it,
# not its letterbox) lie under the self-view.
SELF_VIEW_OVER = """(videos) => {
  const self = document.querySelector("#local-video").getBoundingClientRect();
  return videos.map((v) => {
    const r = v.getBoundingClientRect();
    const ratio = v.videoWidth / v.videoHeight;
    const w = Math.min(r.width, r.height * ratio), h = Math.min(r.height, r.width / ratio);
    const left = r.left + (r.width - w) / 2, top = r.top + (r.height - h) / 2;
    const x = Math.max(0, Math.min(left + w, self.right) - Math.max(left, self.left));
    const y = Math.max(0, Math.min(top + h, self.bottom) - Math.max(top, self.top));
    return Math.round(x * y);
  });
}"""


def at_three_sizes(page: Page, name: str, label: str) -> None:
    """Screenshots at a desk's, a phone's and a kiosk's size, each checked for accessibility
    and each with every tile's picture on screen; then back to the desk's size."""
    for size in (VIEWPORT, PHONE, KIOSK):
        page.set_viewport_size(size)
        page.wait_for_timeout(400)  # the videos take the new size
        for box in page.locator("#tiles > .tile video").evaluate_all(
            "(videos) => videos.map((v) => v.getBoundingClientRect().toJSON())"
        ):
            assert box["width"] > 100 and box["height"] > 80, (size, box)
            assert box["bottom"] <= size["height"] and box["right"] <= size["width"], (size, box)
        # The self-view covers no one's picture (it has a corner or a strip of its own).
        assert page.locator("#tiles > .tile video").evaluate_all(SELF_VIEW_OVER) == [0] * len(
            page.locator("#tiles > .tile").all()
        ), size
        screenshot(page, f"{name}-{size['width']}x{size['height']}")
        assert_accessible(page, f"{label} at {size['width']}x{size['height']}")
    page.set_viewport_size(VIEWPORT)


def participant(clinic: Clinic, visit_id: int, name: str) -> dict:
    people = clinic.api("okafor", "GET", f"/visits/{visit_id}/participants").json()
    return next(p for p in people if p["name"] == name)


def test_three_people_see_and_hear_each_other_and_the_call_goes_on_when_one_hangs_up(
    book, people, smtp_server
):
    visit = book(3, guests=[(DAUGHTER, "Daughter")])
    patient = open_link(people, "patient", link_in(smtp_server, visit.email))
    host = enter_room(people, visit.id)
    assert_in_call(host, PATIENT)
    assert_in_call(patient, HOST)

    # The daughter waits; the host admits her from the People panel.
    daughter = open_link(people, "daughter", link_in(smtp_server, visit.guests[DAUGHTER]))
    host.locator("#people-toggle").click()
    panel_of(host).get_by_role("button", name=f"Admit {DAUGHTER}").click()

    # Everyone sees and hears both others; the host's first tile is still the patient.
    assert_in_call_with(host, [PATIENT, DAUGHTER])
    assert_in_call_with(patient, [HOST, DAUGHTER])
    assert_in_call_with(daughter, [HOST, PATIENT])
    expect(host.locator("#remote-video")).to_have_accessible_name(f"{PATIENT} video")
    host.locator("#people-toggle").click()  # the panel closes: the call has the stage
    expect(panel_of(host)).to_be_hidden()
    at_three_sizes(host, "mesh-three-party-host", "three-party call, host")
    at_three_sizes(patient, "mesh-three-party-patient", "three-party call, patient")

    # What each says about their own tile reaches everyone, tile by tile.
    daughter.get_by_role("button", name="Mute").click()
    for page in (host, patient):
        muted = page.locator("#tiles > .tile").nth(1).locator(".remote-muted")
        expect(muted).to_have_text(f"{DAUGHTER} is muted")
        expect(page.locator("#remote-muted")).to_be_hidden()  # the first tile is not muted
    daughter.get_by_role("button", name="Unmute").click()

    # The daughter hangs up: the other two stay in the call with each other.
    daughter.get_by_role("button", name="Hang up").click()
    expect(daughter.locator("#controls")).to_be_hidden()
    for page, other in ((host, PATIENT), (patient, HOST)):
        expect(page.locator("#tiles > .tile")).to_have_count(1)
        expect(page.locator("#stage-note")).to_have_text(f"{DAUGHTER} left the call")
        assert_in_call(page, other)
        assert [p["name"] for p in page.evaluate("window.anteroomCall.peers()")] == [other]
    screenshot(host, "mesh-after-hang-up-host-1280x800")


def test_a_patient_who_reloads_comes_back_into_the_same_call_by_themselves(
    book, people, clinic, smtp_server
):
    visit = book(3)
    patient = open_link(people, "patient", link_in(smtp_server, visit.email))
    host = enter_room(people, visit.id)
    assert_in_call(host, PATIENT)
    assert_in_call(patient, HOST)
    host.evaluate(RECORD_WORDS)

    patient.reload()

    # Straight back into the call: no waiting room, nobody pressed anything.
    assert_in_call(patient, HOST)
    assert_in_call(host, PATIENT)
    assert "joined_admitted" in patient.evaluate("window.anteroomCall.marks")
    assert "joined_waiting" not in patient.evaluate("window.anteroomCall.marks")
    assert_video_playing(host, "#remote-video")
    # Meanwhile the host was told the patient was reconnecting, never that they had left.
    seen = host.evaluate("window.wordsSeen")
    assert RECONNECTING in seen, seen
    assert not [words for words in seen if "left" in words], seen
    assert participant(clinic, visit.id, PATIENT)["presence"] == "admitted"


def test_a_patient_whose_network_is_cut_for_20_seconds_comes_back_into_the_same_call(
    book, people, clinic, smtp_server
):
    visit = book(3)
    patient = open_link(people, "patient", link_in(smtp_server, visit.email))
    host = enter_room(people, visit.id)
    assert_in_call(host, PATIENT)
    assert_in_call(patient, HOST)
    host.evaluate(RECORD_WORDS)

    # The network goes: the browser says it is offline (socket.io-client closes its
    # connection on that, as it would on a phone losing its signal), and nothing of the
    # room's reaches the server until it is back.
    def refuse(route):
        route.abort("internetdisconnected")

    cut_at = time.monotonic()
    patient.route("**/socket.io/**", refuse)
    patient.context.set_offline(True)

    expect(patient.get_by_role("heading", name="Connection lost")).to_be_visible()
    tile = host.locator("#tiles > .tile").first
    expect(tile.locator(".tile-status-title")).to_have_text(RECONNECTING)
    expect(host.locator("#room-status")).to_have_text(RECONNECTING)
    expect(host.locator("#overlay")).to_be_hidden()
    screenshot(host, "mesh-reconnecting-host-1280x800")
    screenshot(patient, "mesh-connection-lost-patient-1280x800")
    assert_accessible(host, "host while the patient reconnects")
    host.set_viewport_size(PHONE)
    host.wait_for_timeout(300)
    screenshot(host, "mesh-reconnecting-host-390x844")
    host.set_viewport_size(VIEWPORT)

    # For the whole cut the consultation goes on: not ended, the patient's place kept.
    while time.monotonic() - cut_at < 20:
        row = clinic.api("okafor", "GET", f"/visits/{visit.id}").json()
        assert row["state"] == "in_call", row
        jo = participant(clinic, visit.id, PATIENT)
        assert (jo["presence"], jo["reconnecting"]) == ("admitted", True), jo
        expect(tile.locator(".tile-status-title")).to_have_text(RECONNECTING)
        expect(patient.get_by_role("heading", name="Connection lost")).to_be_visible()
        host.wait_for_timeout(2_000)

    patient.context.set_offline(False)
    patient.unroute("**/socket.io/**", refuse)

    # socket.io-client's own retries (at most 5 s apart) bring the patient back.
    expect(patient.locator("#overlay")).to_be_hidden(timeout=20_000)
    assert_in_call(patient, HOST)
    assert_in_call(host, PATIENT)
    assert participant(clinic, visit.id, PATIENT)["reconnecting"] is False
    seen = host.evaluate("window.wordsSeen")
    assert not [words for words in seen if "left" in words], seen


def test_four_people_fill_the_call_and_each_sees_the_three_others(book, people, smtp_server):
    visit = book(3, guests=[(DAUGHTER, "Daughter"), ("Ravi Patel", "Interpreter")])
    patient = open_link(people, "patient", link_in(smtp_server, visit.email))
    daughter = open_link(people, "daughter", link_in(smtp_server, visit.guests[DAUGHTER]))
    ravi = open_link(people, "ravi", link_in(smtp_server, visit.guests["Ravi Patel"]))
    host = enter_room(people, visit.id)
    host.locator("#people-toggle").click()
    panel = panel_of(host)
    for name in (DAUGHTER, "Ravi Patel"):
        panel.get_by_role("button", name=f"Admit {name}").click()
    host.locator("#people-toggle").click()

    assert_in_call_with(host, [PATIENT, DAUGHTER, "Ravi Patel"])
    assert_in_call_with(ravi, [HOST, PATIENT, DAUGHTER])
    at_three_sizes(host, "mesh-four-party-host", "four-party call, host")
    for page in (patient, daughter):
        expect(page.locator("#tiles > .tile")).to_have_count(3)
