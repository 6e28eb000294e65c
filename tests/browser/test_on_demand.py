"""The on-demand path end to end, as the two people at either end see it.

A station asks a provider for a session now; the provider accepts; both end up in the
same call, each seeing the other's camera. Every step shows up live, without a reload.
"""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import (
    ARTIFACTS,
    ROOT,
    assert_in_call,
    screenshot,
    side_by_side,
)

pytestmark = pytest.mark.browser

ROOM_URL = re.compile(r"/visits/(\d+)$")


def mark_document(page: Page) -> None:
    """Tag the loaded document; `assert_same_document` then proves nothing reloaded it."""
    page.evaluate("window.__sameDocument = true")


def assert_same_document(page: Page) -> None:
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"


def visit_id(page: Page) -> int:
    return int(ROOM_URL.search(page.url).group(1))


def test_provider_accepts_and_enters_and_both_see_each_other(people, clinic):
    provider = people.login("okafor")
    requester = people.login("station")
    expect(provider).to_have_url(re.compile(r"/provider$"))
    expect(requester).to_have_url(re.compile(r"/requester$"))
    okafor = requester.get_by_role("listitem", name="Dr. Ada Okafor")
    expect(okafor.get_by_text("Unavailable", exact=True)).to_be_visible()
    mark_document(requester)
    mark_document(provider)

    # The provider says they are available; the station sees it without reloading.
    provider.get_by_role("switch", name="I am unavailable for sessions").click()
    expect(provider.get_by_role("switch", name="I am available for sessions")).to_have_attribute(
        "aria-checked", "true"
    )
    expect(okafor.get_by_text("Available", exact=True)).to_be_visible()
    assert_same_document(requester)

    # Another station asked first, so the new request must land above it.
    clinic.request_session("okafor", "General consultation", requester="harbour")
    cards = provider.locator("#requests > li")
    expect(cards).to_have_count(1)

    okafor.get_by_role("radio", name="Wound care").check()
    okafor.get_by_role("button", name="Request Session Now").click()
    expect(okafor.get_by_text("Waiting for Dr. Ada Okafor…")).to_be_visible()
    expect(okafor.get_by_role("button", name="Cancel")).to_be_visible()

    expect(cards).to_have_count(2)
    newest = cards.first
    expect(newest).to_have_accessible_name("Request from Riverside Station")
    expect(newest.locator(".request-who")).to_have_text("Riverside Station (Wound care)")
    expect(cards.nth(1)).to_have_accessible_name("Request from Harbour Station")
    expect(provider.locator("#request-count")).to_have_text("2")
    assert_same_document(provider)
    screenshot(provider, "provider-two-requests")
    screenshot(requester, "requester-waiting-for-provider")

    newest.get_by_role("button", name="Accept and Enter").click()
    expect(provider).to_have_url(ROOM_URL)
    expect(provider.get_by_role("heading", name="Session with Riverside Station")).to_be_visible()

    # The station's card lets go of the request; the session appears above the providers.
    expect(okafor.get_by_text("Waiting for Dr. Ada Okafor…")).to_be_hidden()
    session = requester.get_by_role("listitem", name="Session with Dr. Ada Okafor")
    expect(session).to_contain_text("(Wound care)")
    assert_same_document(requester)
    session.get_by_role("link", name="Enter Waiting Room").click()
    expect(requester).to_have_url(ROOM_URL)
    assert visit_id(requester) == visit_id(provider)

    assert_in_call(provider, "Riverside Station")
    assert_in_call(requester, "Dr. Ada Okafor")
    screenshot(provider, "room-provider-in-call")
    screenshot(requester, "room-requester-in-call")

    # A host's Hang up asks what they mean: Leave session (the requester waits again).
    provider.get_by_role("button", name="Hang up").click()
    provider.get_by_role("button", name="Leave session", exact=True).click()
    expect(provider).to_have_url(re.compile(r"/provider$"))
    expect(requester.get_by_role("heading", name="Dr. Ada Okafor left the call")).to_be_visible()
    requester.get_by_role("button", name="Hang up").click()
    expect(requester).to_have_url(re.compile(r"/requester$"))


def test_requester_waits_in_the_waiting_room_until_the_provider_enters(people, clinic, browser):
    clinic.set_available("okafor", True)
    clinic.request_session("okafor", "General consultation", requester="harbour")
    provider = people.login("okafor")
    requester = people.login("station")
    mark_document(provider)

    okafor = requester.get_by_role("listitem", name="Dr. Ada Okafor")
    okafor.get_by_role("radio", name="Wound care").check()
    okafor.get_by_role("button", name="Request Session Now").click()
    request = provider.get_by_role("listitem", name="Request from Riverside Station")
    request.get_by_role("button", name="Accept", exact=True).click()
    expect(request).to_have_count(0)
    expect(provider.get_by_role("listitem", name="Request from Harbour Station")).to_be_visible()

    row = provider.get_by_role("listitem", name="Session with Riverside Station")
    expect(row.locator(".pill")).to_have_text("Not arrived")
    expect(row.get_by_role("link", name="Enter Meeting")).to_be_visible()

    requester.get_by_role("listitem", name="Session with Dr. Ada Okafor").get_by_role(
        "link", name="Enter Waiting Room"
    ).click()
    expect(requester.get_by_role("heading", name="You are in the waiting room")).to_be_visible()
    expect(requester.locator("#remote-video")).to_have_js_property("srcObject", None)

    # The provider's row turns to "In Waiting Room" with a running clock, live.
    expect(row.locator(".pill")).to_have_text("In Waiting Room")
    expect(row.locator(".waited")).to_have_text(re.compile(r"^waiting \d+:\d\d$"))
    assert_same_document(provider)
    first_tick = row.locator(".waited").text_content()
    expect(row.locator(".waited")).not_to_have_text(first_tick, timeout=3_000)
    provider.mouse.move(0, 0)  # no hover left on the next card's Accept in the picture
    dashboard_shot = screenshot(provider, "provider-session-in-waiting-room")

    row.get_by_role("link", name="Enter Meeting").click()
    expect(provider).to_have_url(ROOM_URL)
    assert visit_id(provider) == visit_id(requester)
    assert_in_call(provider, "Riverside Station")
    assert_in_call(requester, "Dr. Ada Okafor")
    call_shot = screenshot(requester, "requester-in-call-after-waiting")

    readme = side_by_side(
        browser,
        [
            ("The provider's dashboard: requests and the waiting room, live", dashboard_shot),
            ("The station's view once the provider enters the meeting", call_shot),
        ],
        ARTIFACTS / "readme-screenshot.png",
    )
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        (ROOT / "docs").mkdir(exist_ok=True)
        (ROOT / "docs" / "screenshot.png").write_bytes(readme.read_bytes())

    requester.get_by_role("button", name="Hang up").click()
    expect(requester).to_have_url(re.compile(r"/requester$"))
    expect(provider.get_by_role("heading", name="Riverside Station left the call")).to_be_visible()
    provider.get_by_role("button", name="Hang up").click()
    provider.get_by_role("button", name="Leave session", exact=True).click()
    expect(provider).to_have_url(re.compile(r"/provider$"))
