"""The station screen in Chromium (fake camera and microphone), at 1920×1080: enrolled with
its code at /kiosk, it asks a provider for a session, goes into the waiting room by itself
when the provider accepts, holds the call, and goes back to its home screen when the visit
ends. A reload (or a restart at /kiosk) in each state comes back to the same state."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import (
    PERMISSIONS,
    Clinic,
    People,
    assert_accessible,
    assert_in_call,
    screenshot,
    start_server,
    wait_live,
)

pytestmark = pytest.mark.browser

KIOSK_VIEWPORT = {"width": 1920, "height": 1080}
ROOM_URL = re.compile(r"/visits/(\d+)$")
KIOSK_URL = re.compile(r"/kiosk$")
_numbers = itertools.count(1)


def enrolled_station(people, live_server) -> tuple[Page, str]:
    """A new station (the CLI), enrolled by typing its code into /kiosk on a fresh browser."""
    name = f"Ward Cart {next(_numbers)}"
    created = live_server.flask("stations", "create", "--name", name, "--site", "Elm House")
    code = created.stdout.strip().splitlines()[-1]
    context = people.browser.new_context(
        base_url=live_server.url, viewport=KIOSK_VIEWPORT, permissions=PERMISSIONS
    )
    people.contexts.append(context)
    page = context.new_page()
    people.pages["kiosk"] = page

    page.goto("/kiosk")
    expect(page.get_by_role("heading", name="Set up this station")).to_be_visible()
    page.get_by_label("Enrollment code").fill(code.lower())  # as typed on a touch keyboard
    page.get_by_role("button", name="Enroll this station").click()
    expect(page).to_have_url(KIOSK_URL)
    wait_live(page)
    # A new station tests its camera and network by itself; the person closes the result.
    expect(page.locator("#self-test-result")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Close").click()
    return page, name


def status(page: Page):
    return page.locator("#kiosk-status-title")


def test_a_station_runs_a_whole_visit_and_comes_back_to_each_state_after_a_reload(
    people, clinic, live_server
):
    kiosk, name = enrolled_station(people, live_server)
    clinic.set_available("okafor", True)
    provider = people.login("okafor")
    okafor = kiosk.get_by_role("listitem", name="Dr. Ada Okafor")
    expect(okafor.get_by_text("Available", exact=True)).to_be_visible()
    expect(status(kiosk)).to_have_text("Request a session")
    kiosk.mouse.move(0, 0)
    screenshot(kiosk, "kiosk-home-1920")

    # Asked: the state in big words, and again after a reload.
    okafor.get_by_role("radio", name="Wound care").check()
    okafor.get_by_role("button", name="Request Session Now").click()
    expect(status(kiosk)).to_have_text("Waiting for Dr. Ada Okafor…")
    screenshot(kiosk, "kiosk-pending-1920")
    kiosk.reload()
    wait_live(kiosk)
    expect(status(kiosk)).to_have_text("Waiting for Dr. Ada Okafor…")
    expect(okafor.get_by_role("button", name="Cancel")).to_be_visible()

    # Accepted (the provider not in yet): the station goes into the waiting room by itself.
    request = provider.get_by_role("listitem", name=f"Request from {name}")
    request.get_by_role("button", name="Accept", exact=True).click()
    expect(status(kiosk)).to_have_text("Dr. Ada Okafor is ready for you")
    expect(kiosk).to_have_url(ROOM_URL)
    waiting = kiosk.get_by_role("heading", name="You are in the waiting room")
    expect(waiting).to_be_visible()
    kiosk.reload()
    expect(waiting).to_be_visible()

    # The provider enters: the call. A reload, or a restart at /kiosk, comes back into it.
    provider.get_by_role("listitem", name=f"Session with {name}").get_by_role(
        "link", name="Enter Meeting"
    ).click()
    assert_in_call(kiosk, "Dr. Ada Okafor")
    assert_in_call(provider, name)
    # Big enough to use from across the room: the call's buttons as tall as the screen's.
    for button in kiosk.locator("#controls > button:visible").all():
        assert button.bounding_box()["height"] >= 64, button.text_content()
    screenshot(kiosk, "kiosk-in-call-1920")
    room = kiosk.url
    kiosk.reload()
    assert_in_call(kiosk, "Dr. Ada Okafor")
    kiosk.goto("/kiosk")
    expect(kiosk).to_have_url(room)
    assert_in_call(kiosk, "Dr. Ada Okafor")

    # The provider ends it: the station says so, then goes home by itself.
    visit_id = int(ROOM_URL.search(room).group(1))
    clinic.api("okafor", "POST", f"/visits/{visit_id}/end")
    expect(kiosk.get_by_role("heading", name="This session has ended")).to_be_visible()
    expect(kiosk).to_have_url(KIOSK_URL, timeout=20_000)
    wait_live(kiosk)
    expect(status(kiosk)).to_have_text("Request a session")
    expect(okafor.get_by_role("button", name="Request Session Now")).to_be_visible()
    screenshot(kiosk, "kiosk-home-again-1920")


def kiosk_context(people, live_server) -> Page:
    context = people.browser.new_context(
        base_url=live_server.url, viewport=KIOSK_VIEWPORT, permissions=PERMISSIONS
    )
    people.contexts.append(context)
    page = context.new_page()
    people.pages["kiosk"] = page
    return page


def test_the_admin_creates_watches_and_revokes_a_station_live(people, clinic, live_server):
    admin = people.login("admin")
    admin.get_by_role("link", name="Stations").click()
    name = f"Ward Cart {next(_numbers)}"
    admin.get_by_label("Name").fill(name)
    admin.get_by_label("Site").fill("Elm House, 2nd floor")
    admin.get_by_role("button", name="Create station").click()
    code = admin.locator("#enrollment-code").inner_text()
    wait_live(admin)
    row = admin.get_by_role("row", name=name)
    expect(row).to_contain_text("Waiting for enrollment")

    kiosk = kiosk_context(people, live_server)
    kiosk.goto("/kiosk")
    kiosk.get_by_label("Enrollment code").fill("ABCDE-FGHJK")
    kiosk.get_by_role("button", name="Enroll this station").click()
    expect(kiosk.get_by_text("That enrollment code is wrong, used or expired.")).to_be_visible()
    screenshot(kiosk, "kiosk-enroll-wrong-code-1920")
    kiosk.get_by_label("Enrollment code").fill(code)
    kiosk.get_by_role("button", name="Enroll this station").click()
    wait_live(kiosk)

    # Online, live, from the station's socket; its self-test result once it has one.
    expect(row.locator(".connection")).to_have_text("Online")
    expect(kiosk.locator("#self-test-result")).to_be_visible(timeout=30_000)
    kiosk.get_by_role("button", name="Close").click()
    admin.goto("/admin/stations")  # a self-test result is read when the list is
    expect(row.locator(".self-test")).to_contain_text(re.compile(r"Good|Poor|Not working"))
    admin.mouse.move(0, 0)
    screenshot(admin, "admin-stations")

    row.get_by_role("link", name=f"Revoke {name}").click()
    expect(admin.get_by_role("heading", name=f"Revoke {name}?")).to_be_visible()
    admin.get_by_role("button", name="Revoke station").click()
    expect(admin.get_by_text(f"{name} is revoked.")).to_be_visible()

    # The station's screen closes and asks for a code; the admin sees it go.
    expect(kiosk.get_by_role("heading", name="Set up this station")).to_be_visible(timeout=15_000)
    wait_live(admin)
    expect(row).to_contain_text("Revoked")
    expect(row.locator(".connection")).to_have_text("—")


HOME_SECONDS = 3  # KIOSK_HOME_SECONDS on the server of the next test


@pytest.fixture(scope="module")
def quick_home(tmp_path_factory, browser) -> Iterator[tuple[People, Clinic]]:
    """A server whose station screens go home after 3 s untouched, and people on it."""
    server = start_server(
        tmp_path_factory.mktemp("kiosk-home"),
        extra_env={
            "KIOSK_HOME_SECONDS": str(HOME_SECONDS),
            # On Redis, a channel of its own: the session's server must not hear its rooms.
            "SOCKETIO_CHANNEL": f"anteroom-kiosk-home-{os.getpid()}",
        },
    )
    crowd = People(browser, server)
    try:
        yield crowd, Clinic(server)
    finally:
        crowd.close()
        server.stop()


def test_the_screen_goes_home_by_itself_when_nothing_is_in_progress(quick_home):
    people, clinic = quick_home
    kiosk, _ = enrolled_station(people, people.server)
    clinic.set_available("okafor", True)
    okafor = kiosk.get_by_role("listitem", name="Dr. Ada Okafor")
    okafor.get_by_role("radio", name="General consultation").check()
    okafor.get_by_role("button", name="Request Session Now").click()
    expect(status(kiosk)).to_have_text("Waiting for Dr. Ada Okafor…")

    # In progress: however long nobody touches it, the screen stays where it is.
    kiosk.wait_for_timeout((HOME_SECONDS + 2) * 1000)
    expect(status(kiosk)).to_have_text("Waiting for Dr. Ada Okafor…")

    # The provider goes away: the answer shows, then the screen clears it for the next person.
    clinic.set_available("okafor", False)
    expect(status(kiosk)).to_have_text("Dr. Ada Okafor is not available right now")
    expect(okafor.get_by_text("Dr. Ada Okafor is not available right now.")).to_be_visible()
    expect(status(kiosk)).to_have_text("Request a session", timeout=(HOME_SECONDS + 10) * 1000)
    wait_live(kiosk)
    expect(okafor.get_by_role("button", name="Not available right now")).to_be_visible()
    expect(okafor.get_by_role("radio", name="General consultation")).not_to_be_checked()
    assert_accessible(kiosk, "the station screen, home again")
