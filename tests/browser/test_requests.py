"""What each person sees around a request: declines and their notes, availability, empty
states, choosing a service, and doing it all from the keyboard."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.support import screenshot, tab_to, wait_live

pytestmark = pytest.mark.browser

UNAVAILABLE_NOTE = "The provider is not available for sessions right now."


def provider_card(page: Page, name: str):
    return page.get_by_role("listitem", name=name)


def test_declined_request_shows_the_note_until_dismissed(people, clinic):
    clinic.set_available("lindqvist", True)
    provider = people.login("lindqvist")
    requester = people.login("station")
    card = provider_card(requester, "Dr. Ben Lindqvist")

    card.get_by_role("button", name="Request Session Now").click()
    expect(card.get_by_text("Waiting for Dr. Ben Lindqvist…")).to_be_visible()

    request = provider.get_by_role("listitem", name="Request from Riverside Station")
    request.get_by_role("button", name="Decline").click()
    note = request.get_by_label("Note to the requester (optional)")
    expect(note).to_be_focused()
    note.fill("Running late today. Dr. Okafor can see you now.")
    screenshot(provider, "provider-writing-decline-note")
    request.get_by_role("button", name="Send decline").click()
    expect(request).to_have_count(0)
    expect(provider.get_by_text("No requests waiting")).to_be_visible()

    declined = card.get_by_role("alert")
    expect(declined).to_contain_text("Dr. Ben Lindqvist declined your request.")
    expect(declined).to_contain_text("“Running late today. Dr. Okafor can see you now.”")
    expect(card.get_by_role("button", name="Request Session Now")).to_be_hidden()
    screenshot(requester, "requester-declined-with-note")

    # The note is not a passing toast: it is still there after a reload, and until it is
    # dismissed the station cannot ask this provider again.
    requester.reload()
    wait_live(requester)
    expect(card.get_by_role("alert")).to_contain_text("Running late today.")
    expect(card.get_by_role("button", name="Request Session Now")).to_be_hidden()
    blocked = requests.post(
        f"{clinic.server.url}/api/v1/requests",
        json={"provider_id": clinic.provider_id("lindqvist")},
        headers={"Authorization": f"Bearer {clinic.token('station')}"},
        timeout=10,
    )
    assert blocked.status_code == 409, blocked.text

    card.get_by_role("button", name="Dismiss").click()
    expect(card.get_by_role("alert")).to_be_hidden()
    ask_again = card.get_by_role("button", name="Request Session Now")
    expect(ask_again).to_be_visible()
    ask_again.click()
    expect(card.get_by_text("Waiting for Dr. Ben Lindqvist…")).to_be_visible()
    expect(provider.get_by_role("listitem", name="Request from Riverside Station")).to_be_visible()


def test_request_to_an_unavailable_provider_is_declined_at_once(people, clinic):
    provider = people.login("lindqvist")
    requester = people.login("station")
    card = provider_card(requester, "Dr. Ben Lindqvist")
    expect(card.get_by_text("Unavailable", exact=True)).to_be_visible()

    # The page offers no request to an unavailable provider (test_dashboards.py); a
    # station's integration can still ask, and the station's screen hears at once.
    clinic.request_session("lindqvist")
    declined = card.get_by_role("alert")
    # Not a refusal: the provider is away. Said once, not again in the standard note.
    expect(declined).to_contain_text("Dr. Ben Lindqvist is not available right now.")
    expect(declined).not_to_contain_text("declined")
    expect(declined).not_to_contain_text(UNAVAILABLE_NOTE)
    expect(card.get_by_role("button", name="Dismiss")).to_be_visible()
    # The provider was never bothered with it.
    expect(provider.get_by_text("No requests waiting")).to_be_visible()
    expect(provider.locator("#request-count")).to_have_text("0")


def test_turning_unavailable_declines_every_pending_request(people, clinic):
    clinic.set_available("okafor", True)
    clinic.request_session("okafor", "General consultation", requester="harbour")
    provider = people.login("okafor")
    requester = people.login("station")
    card = provider_card(requester, "Dr. Ada Okafor")
    card.get_by_role("radio", name="General consultation").check()
    card.get_by_role("button", name="Request Session Now").click()
    expect(provider.locator("#requests > li")).to_have_count(2)

    provider.get_by_role("switch", name="I am available for sessions").click()
    expect(provider.get_by_role("switch", name="I am unavailable for sessions")).to_have_attribute(
        "aria-checked", "false"
    )
    expect(provider.locator("#requests > li")).to_have_count(0)
    expect(provider.get_by_text("No requests waiting")).to_be_visible()

    expect(card.get_by_text("Unavailable", exact=True)).to_be_visible()
    expect(card.get_by_role("alert")).to_contain_text("Dr. Ada Okafor is not available right now.")
    expect(card.get_by_role("alert")).not_to_contain_text(UNAVAILABLE_NOTE)
    expect(card.get_by_role("button", name="Dismiss")).to_be_visible()
    harbour = clinic.dashboard("harbour", "/requester")["requests"]
    assert [(r["state"], r["decline_note"]) for r in harbour] == [("declined", UNAVAILABLE_NOTE)]


def test_a_quiet_dashboard_says_nothing_is_waiting(people, clinic):
    provider = people.login("okafor")
    expect(provider.get_by_role("heading", name="Your dashboard")).to_be_visible()
    expect(provider.get_by_text("No requests waiting")).to_be_visible()
    expect(provider.get_by_text("No sessions yet. Accepted requests appear here.")).to_be_visible()
    expect(provider.locator("#request-count")).to_have_text("0")
    expect(provider.get_by_role("button", name="Accept")).to_have_count(0)
    screenshot(provider, "provider-empty")


def test_a_provider_with_several_services_needs_one_chosen(people, clinic):
    clinic.set_available("okafor", True)
    provider = people.login("okafor")
    requester = people.login("station")
    card = provider_card(requester, "Dr. Ada Okafor")
    choice = card.get_by_role("group", name="Choose a service")
    expect(choice.get_by_role("radio")).to_have_count(2)
    # A single-service provider asks no question.
    expect(provider_card(requester, "Dr. Ben Lindqvist").get_by_role("radio")).to_have_count(0)

    card.get_by_role("button", name="Request Session Now").click()
    expect(card.get_by_role("alert")).to_have_text("Choose a service first.")
    expect(choice.get_by_role("radio", name="General consultation")).to_be_focused()
    expect(provider.get_by_text("No requests waiting")).to_be_visible()
    assert clinic.dashboard("okafor", "/provider")["requests"] == []
    screenshot(requester, "requester-choose-a-service")

    choice.get_by_role("radio", name="General consultation").check()
    card.get_by_role("button", name="Request Session Now").click()
    expect(card.get_by_text("Waiting for Dr. Ada Okafor…")).to_be_visible()
    expect(card.get_by_text("Choose a service first.")).to_be_hidden()
    # The choice now shows what was asked for; it cannot drift from the request.
    expect(choice.get_by_role("radio", name="General consultation")).to_be_checked()
    for radio in choice.get_by_role("radio").all():
        expect(radio).to_be_disabled()
    expect(provider.get_by_role("listitem", name="Request from Riverside Station")).to_contain_text(
        "(General consultation)"
    )


def focus_ring(page: Page) -> dict:
    return page.evaluate(
        """() => {
          const el = document.activeElement;
          const style = getComputedStyle(el);
          return {
            focusVisible: el.matches(":focus-visible"),
            outline: style.outlineStyle,
            width: parseFloat(style.outlineWidth),
          };
        }"""
    )


def test_a_station_can_request_from_the_keyboard(people, clinic):
    clinic.set_available("lindqvist", True)
    provider = people.login("lindqvist")
    requester = people.login("station")
    card = provider_card(requester, "Dr. Ben Lindqvist")
    button = card.get_by_role("button", name="Request Session Now")
    expect(button).to_be_visible()

    tab_to(requester, button)
    ring = focus_ring(requester)
    assert ring["focusVisible"] and ring["outline"] != "none" and ring["width"] >= 2, ring
    screenshot(requester, "requester-keyboard-focus")

    requester.keyboard.press("Enter")
    expect(card.get_by_text("Waiting for Dr. Ben Lindqvist…")).to_be_visible()
    # Focus is not lost with the hidden button: it moves to Cancel, so Enter can undo.
    cancel = card.get_by_role("button", name="Cancel")
    expect(cancel).to_be_focused()
    expect(provider.get_by_role("listitem", name="Request from Riverside Station")).to_be_visible()

    requester.keyboard.press("Enter")
    expect(button).to_be_focused()
    expect(provider.get_by_text("No requests waiting")).to_be_visible()


def test_a_provider_can_work_from_the_keyboard(people, clinic):
    provider = people.login("lindqvist")
    switch = provider.get_by_role("switch", name="I am unavailable for sessions")
    tab_to(provider, switch)
    assert focus_ring(provider)["focusVisible"]
    provider.keyboard.press("Space")
    expect(provider.get_by_role("switch", name="I am available for sessions")).to_be_focused()

    clinic.request_session("lindqvist")
    accept = provider.get_by_role("listitem", name="Request from Riverside Station").get_by_role(
        "button", name="Accept", exact=True
    )
    tab_to(provider, accept)
    ring = focus_ring(provider)
    assert ring["focusVisible"] and ring["outline"] != "none", ring
    provider.keyboard.press("Enter")
    # The answered card goes; focus stays near where the provider was working.
    expect(provider.get_by_role("heading", name="Requests")).to_be_focused()
    enter = provider.get_by_role("listitem", name="Session with Riverside Station").get_by_role(
        "link", name="Enter Meeting"
    )
    expect(enter).to_be_visible()
