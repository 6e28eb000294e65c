"""Handing out a booked visit's links from the schedule, as staff and patients see it: the
six ways in the row's menu (email and text to the patient, which really arrive; the
patient's link and the staff link copied, or shown selected where the browser refuses the
clipboard; the .ics; the QR code); a provider's own external meeting room, a visit booked
in it through the invite form and joined from its row; and a provider going back into the
session they are in from the schedule.

Visits here are booked on July days of their own (see test_schedule.py), except where a
patient must be able to wait now.
"""

from __future__ import annotations

import io
import re
import time
from datetime import datetime, timedelta
from uuid import uuid4

import pytest
import segno
from icalendar import Calendar
from playwright.sync_api import Page, expect

from tests.browser.support import (
    NAMES,
    assert_accessible,
    assert_in_call,
    screenshot,
    wait_live,
)
from tests.browser.test_schedule import (
    LONDON,
    a_mobile,
    at,
    book,
    demo_clinic,
    july,
    menu_button,
    open_schedule,
    row,
    status_of,
)
from tests.mail import body_of

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 800}
CLIPBOARD = ["clipboard-read", "clipboard-write"]
INVITATION = "Your video appointment with Riverside Health"
HOST_URL = "https://meet.example.com/host/dr-okafor?pwd=7f3a9c"
GUEST_URL = "https://meet.example.com/j/dr-okafor"
LINK_ITEMS = [
    "Email the link to the patient",
    "Text the link to the patient",
    "Copy the patient's link",
    "Copy the staff link",
    "Download the calendar entry (.ics)",
    "Show QR code",
]


# Helpers ----------------------------------------------------------------------------


def an_email(name: str) -> str:
    return f"{name.split()[0].lower()}-{uuid4().hex[:8]}@example.org"


def links_of(clinic, visit_id: int) -> dict:
    return clinic.api("scheduler", "GET", f"/visits/{visit_id}/links").json()


def menu_items(page: Page):
    return page.get_by_role("menu").get_by_role("menuitem")


def choose(page: Page, patient: str, item: str) -> None:
    """Open the row's menu and choose an item, as a mouse user does."""
    menu_button(page, patient).click()
    page.get_by_role("menuitem", name=item, exact=True).click()


def mails_to(smtp_server, address: str, subject: str = INVITATION) -> list:
    return [m for m in smtp_server.mailbox.to(address) if m["Subject"].startswith(subject)]


def wait_for_mails(smtp_server, address: str, count: int, timeout: float = 15) -> list:
    deadline = time.monotonic() + timeout
    while len(found := mails_to(smtp_server, address)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} of {count} invitations reached {address}")
        time.sleep(0.1)
    return found


def sms_links(live_server, mobile: str) -> list[str]:
    pattern = re.compile(rf"SMS to {re.escape(mobile)} \(SMS_BACKEND=log\): .*?Join here: (\S+)")
    return pattern.findall(live_server.read_log())


def wait_for_sms(live_server, mobile: str, count: int, timeout: float = 15) -> list[str]:
    deadline = time.monotonic() + timeout
    while len(found := sms_links(live_server, mobile)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} of {count} text messages went to {mobile}")
        time.sleep(0.1)
    return found


def clipboard(page: Page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def action_status(page: Page):
    return page.locator("#action-status")


def at_desk_and_phone(page: Page, name: str, label: str, full_page: bool = False) -> None:
    """Screenshots at a desk's size and a phone's, each checked for accessibility."""
    screenshot(page, f"{name}-1280x800", full_page=full_page)
    assert_accessible(page, label)
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(200)
    screenshot(page, f"{name}-390x844", full_page=full_page)
    assert_accessible(page, f"{label} on a phone")
    page.set_viewport_size(DESK)
    page.wait_for_timeout(100)


@pytest.fixture
def soon(clinic):
    """`soon(name)`: a visit with Dr. Okafor starting in 3 minutes (its patient can wait
    now); whatever is still live afterwards is cancelled or ended."""
    riverside = demo_clinic(clinic)
    booked: list[int] = []

    def soon(name: str) -> dict:
        start = (datetime.now(LONDON) + timedelta(minutes=3)).replace(second=0, microsecond=0)
        visit = book(clinic, riverside, name, start, email=an_email(name))
        booked.append(visit["id"])
        return visit

    yield soon
    for visit_id in booked:
        server = clinic.server
        if server.api("POST", f"/visits/{visit_id}/cancel", clinic.token("scheduler")).ok:
            continue
        for provider in ("okafor", "lindqvist"):
            server.api("POST", f"/visits/{visit_id}/end", clinic.token(provider))


@pytest.fixture
def no_meeting_room(clinic_api):
    """Dr. Okafor starts and ends without an external room (other tests share the server)."""
    clinic_api.server.api("DELETE", "/providers/me/external-room", clinic_api.token("okafor"))
    yield
    clinic_api.server.api("DELETE", "/providers/me/external-room", clinic_api.token("okafor"))


# 1. Email and text ----------------------------------------------------------------------


def test_the_link_is_emailed_and_texted_to_the_patient_from_the_row_menu(
    people, clinic, smtp_server, live_server
):
    riverside = demo_clinic(clinic)
    day = july(11)
    email, mobile = an_email("Grace Adeyemi"), a_mobile()
    grace = book(clinic, riverside, "Grace Adeyemi", at(day, 9), email=email,
                 patient={"mobile": mobile})  # fmt: skip
    book(clinic, riverside, "Omar Said", at(day, 9, 30))  # an email address only
    first_invitation = wait_for_mails(smtp_server, email, 1)
    wait_for_sms(live_server, mobile, 1)
    patient_link = links_of(clinic, grace["id"])["patient_link"]
    scheduler = people.login("scheduler")
    open_schedule(scheduler, riverside, day)

    menu_button(scheduler, "Grace Adeyemi").click()
    expect(menu_items(scheduler)).to_have_text(
        ["Cancel appointment", "Reinvite", *LINK_ITEMS, "Mark as complete",
         "Message the waiting room", "New task"]
    )  # fmt: skip
    expect(menu_items(scheduler).first).to_be_focused()
    at_desk_and_phone(scheduler, "links-row-menu", "schedule, a booked row's menu with its links")

    scheduler.get_by_role("menuitem", name="Email the link to the patient").click()
    expect(action_status(scheduler)).to_have_text(
        f"Email with the link on its way to {email.split('@')[0]}@… (Grace Adeyemi)."
    )
    expect(menu_button(scheduler, "Grace Adeyemi")).to_be_focused()
    assert_accessible(scheduler, "schedule, the link emailed")
    [_, again] = wait_for_mails(smtp_server, email, 2)
    assert patient_link in body_of(again, "plain")
    assert patient_link in body_of(first_invitation[0], "plain")  # the same link, resent

    choose(scheduler, "Grace Adeyemi", "Text the link to the patient")
    expect(action_status(scheduler)).to_have_text(
        f"Text message with the link on its way to …{mobile[-4:]} (Grace Adeyemi)."
    )
    assert wait_for_sms(live_server, mobile, 2)[-1] == patient_link

    # Omar has no mobile number: there is nothing to text.
    menu_button(scheduler, "Omar Said").click()
    expect(menu_items(scheduler)).to_contain_text(["Email the link to the patient"])
    expect(scheduler.get_by_role("menuitem", name="Text the link to the patient")).to_have_count(0)
    scheduler.keyboard.press("Escape")

    # A visit booked while the page is open: both are offered; the one that cannot work
    # says why, and is offered no more.
    late_mobile = a_mobile()
    book(clinic, riverside, "Lena Vogel", at(day, 10), patient={"mobile": late_mobile})
    expect(status_of(scheduler, "Lena Vogel")).to_have_text("Scheduled")
    choose(scheduler, "Lena Vogel", "Email the link to the patient")
    expect(scheduler.locator("#action-error")).to_have_text(
        "Lena Vogel has no email address on record, so the link cannot be emailed."
    )
    assert_accessible(scheduler, "schedule, a link that cannot be emailed")
    menu_button(scheduler, "Lena Vogel").click()
    expect(scheduler.get_by_role("menuitem", name="Email the link to the patient")).to_have_count(0)
    scheduler.get_by_role("menuitem", name="Text the link to the patient").click()
    expect(action_status(scheduler)).to_have_text(
        "Text message with the link on its way to Lena Vogel."
    )
    expect(scheduler.locator("#action-error")).to_be_hidden()
    wait_for_sms(live_server, late_mobile, 2)


# 2. Copy --------------------------------------------------------------------------------


def test_copying_puts_the_patients_link_and_the_staff_link_on_the_clipboard(
    people, clinic, live_server
):
    riverside = demo_clinic(clinic)
    day = july(12)
    visit = book(clinic, riverside, "Pablo Ruiz", at(day, 14))
    links = links_of(clinic, visit["id"])
    scheduler = people.login("scheduler")
    scheduler.context.grant_permissions(CLIPBOARD, origin=live_server.url)
    open_schedule(scheduler, riverside, day)

    choose(scheduler, "Pablo Ruiz", "Copy the patient's link")
    expect(action_status(scheduler)).to_have_text("Link copied: the patient's link for Pablo Ruiz.")
    assert clipboard(scheduler) == links["patient_link"]
    assert re.fullmatch(
        rf"{re.escape(live_server.url)}/join/[A-Za-z0-9_-]{{43}}", clipboard(scheduler)
    )

    choose(scheduler, "Pablo Ruiz", "Copy the staff link")
    expect(action_status(scheduler)).to_have_text(
        "Link copied: the staff link for the visit with Pablo Ruiz."
    )
    assert clipboard(scheduler) == f"{live_server.url}/visits/{visit['id']}"
    assert_accessible(scheduler, "schedule, a link copied")


def test_where_the_browser_refuses_the_clipboard_the_link_is_shown_selected_to_copy(people, clinic):
    riverside = demo_clinic(clinic)
    day = july(12)
    visit = book(clinic, riverside, "Ines Moreau", at(day, 15))
    links = links_of(clinic, visit["id"])
    provider = people.login("okafor")  # no clipboard permission in this browser
    open_schedule(provider, riverside, day)

    choose(provider, "Ines Moreau", "Copy the patient's link")

    dialog = provider.get_by_role("dialog", name="Copy the patient's link")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Your browser did not let Anteroom copy it.")
    field = dialog.get_by_label("Ines Moreau's link")
    expect(field).to_have_value(links["patient_link"])
    expect(field).to_have_attribute("readonly", "")
    expect(field).to_be_focused()
    selected = field.evaluate("(el) => [el.selectionStart, el.selectionEnd]")
    assert selected == [0, len(links["patient_link"])]  # Ctrl+C copies all of it
    assert_accessible(provider, "schedule, the link to copy by hand")
    screenshot(provider, "links-copy-by-hand-1280x800")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    expect(menu_button(provider, "Ines Moreau")).to_be_focused()

    choose(provider, "Ines Moreau", "Copy the staff link")
    dialog = provider.get_by_role("dialog", name="Copy the staff link")
    expect(dialog.get_by_label("Staff link for the visit with Ines Moreau")).to_have_value(
        links["staff_link"]
    )
    provider.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(menu_button(provider, "Ines Moreau")).to_be_focused()


# 3. The calendar entry ------------------------------------------------------------------


def test_the_calendar_entry_downloads_from_the_keyboard_and_opens_as_the_appointment(
    people, clinic
):
    riverside = demo_clinic(clinic)
    day = july(13)
    start = at(day, 11, 15)
    visit = book(clinic, riverside, "Tomasz Nowak", start)
    link = links_of(clinic, visit["id"])["patient_link"]
    scheduler = people.login("scheduler")
    open_schedule(scheduler, riverside, day)

    menu_button(scheduler, "Tomasz Nowak").focus()
    scheduler.keyboard.press("ArrowDown")
    scheduler.keyboard.press("d")  # type-ahead: "Download the calendar entry (.ics)"
    item = scheduler.get_by_role("menuitem", name="Download the calendar entry (.ics)")
    expect(item).to_be_focused()
    with scheduler.expect_download() as download:
        scheduler.keyboard.press("Enter")

    assert download.value.suggested_filename == f"appointment-{visit['id']}.ics"
    [event] = Calendar.from_ical(download.value.path().read_bytes()).walk("VEVENT")
    assert event.decoded("dtstart") == start
    assert event.decoded("dtend") == start + timedelta(minutes=15)
    assert str(event["url"]) == link
    assert "Riverside Health" in str(event["summary"])
    expect(action_status(scheduler)).to_have_text(
        f"The calendar entry for Tomasz Nowak is downloading (appointment-{visit['id']}.ics)."
    )
    expect(menu_button(scheduler, "Tomasz Nowak")).to_be_focused()

    # Space works on it as on the other items.
    scheduler.keyboard.press("ArrowUp")
    scheduler.keyboard.press("d")
    with scheduler.expect_download() as again:
        scheduler.keyboard.press(" ")
    assert again.value.suggested_filename == f"appointment-{visit['id']}.ics"


# 4. The QR code -------------------------------------------------------------------------


def test_the_qr_code_of_the_patients_link_shows_in_a_dialog_and_opens_to_print(
    people, clinic, live_server
):
    riverside = demo_clinic(clinic)
    day = july(13)
    visit = book(clinic, riverside, "Yusuf Demir", at(day, 16))
    link = links_of(clinic, visit["id"])["patient_link"]
    scheduler = people.login("scheduler")
    open_schedule(scheduler, riverside, day)

    choose(scheduler, "Yusuf Demir", "Show QR code")

    dialog = scheduler.get_by_role("dialog", name="QR code of the patient's link")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"Yusuf Demir, 16:00 on {day:%A} {day.day} {day:%B %Y}")
    image = dialog.get_by_role("img", name="QR code of the patient's link")
    scheduler.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 100", arg=image.element_handle()
    )
    box = image.bounding_box()
    assert box["width"] >= 200 and abs(box["width"] - box["height"]) < 2  # square, scannable
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()
    at_desk_and_phone(scheduler, "links-qr-dialog", "schedule, the QR code dialog")

    # The picture to print: a PNG of exactly the patient's link.
    png_link = dialog.get_by_role("link", name=re.compile(r"^Open as a picture to print"))
    expect(png_link).to_have_attribute("target", "_blank")
    expect(png_link).to_have_attribute("rel", "noopener")
    png = scheduler.request.get(png_link.get_attribute("href"))
    assert png.ok and png.headers["content-type"] == "image/png"
    expected = io.BytesIO()
    segno.make(link, error="m").save(expected, kind="png", scale=8, border=2)
    assert png.body() == expected.getvalue()
    with scheduler.context.expect_page() as opened:
        png_link.click()
    printable = opened.value
    printable.wait_for_load_state()
    assert printable.url == f"{live_server.url}/api/v1/visits/{visit['id']}/qr.png"
    printable.close()

    scheduler.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(menu_button(scheduler, "Yusuf Demir")).to_be_focused()


# 5. An external meeting room ------------------------------------------------------------


def test_a_provider_registers_a_meeting_room_books_a_visit_in_it_and_joins_it_from_the_row(
    people, clinic, smtp_server, no_meeting_room, live_server
):
    demo_clinic(clinic)
    day = july(14)
    provider = people.login("okafor")
    provider.context.grant_permissions(CLIPBOARD, origin=live_server.url)

    # My meeting room, from the top bar: first with a link that is not https.
    provider.get_by_role("navigation", name="Main").get_by_role(
        "link", name="My meeting room"
    ).click()
    expect(provider.get_by_role("heading", name="My meeting room", level=1)).to_be_visible()
    expect(provider.get_by_role("button", name="Remove")).to_have_count(0)
    assert_accessible(provider, "my meeting room, none yet")
    provider.get_by_label("Name of the room").fill("Zoom room")
    provider.get_by_label("Host link").fill("http://meet.example.com/host/dr-okafor")
    provider.get_by_role("button", name="Save my meeting room").click()
    summary = provider.get_by_role("alert").filter(has_text="Your meeting room was not saved")
    expect(summary).to_be_focused()
    expect(provider.get_by_label("Host link")).to_have_accessible_description(
        re.compile("Enter an https:// link.")
    )
    expect(provider.get_by_label("Guest link")).to_have_accessible_description(
        re.compile("Enter the link.")
    )
    expect(provider.get_by_label("Host link")).to_have_attribute("aria-invalid", "true")
    at_desk_and_phone(provider, "meeting-room-errors", "my meeting room, refused", full_page=True)

    provider.get_by_label("Host link").fill(HOST_URL)
    provider.get_by_label("Guest link").fill(GUEST_URL)
    provider.get_by_role("button", name="Save my meeting room").click()
    expect(provider.get_by_role("status").filter(has_text="saved")).to_contain_text(
        "Your meeting room is saved."
    )
    room = provider.get_by_role("region", name="Zoom room")
    expect(room).to_contain_text(HOST_URL)
    expect(room).to_contain_text(GUEST_URL)
    at_desk_and_phone(provider, "meeting-room", "my meeting room, saved", full_page=True)

    # Invite, held in the host's room: first for a colleague who has none.
    provider.get_by_role("navigation", name="Main").get_by_role("link", name="Schedule").click()
    expect(provider.get_by_role("heading", name="Riverside Clinic")).to_be_visible()
    provider.get_by_role("link", name="Invite patient").click()
    external = provider.get_by_label("Hold it in the host's external meeting room")
    expect(external).to_have_accessible_description(re.compile("Registered now: Dr. Ada Okafor."))
    email = an_email("Nadia Rahman")
    provider.get_by_label("Hosting provider").select_option(label=NAMES["lindqvist"])
    provider.get_by_label("Date", exact=True).fill(day.isoformat())
    provider.get_by_label("Time", exact=True).fill("11:00")
    provider.get_by_label("Patient's name").fill("Nadia Rahman")
    provider.get_by_role("group", name="How to reach the patient").get_by_label("Email").fill(email)
    external.check()
    provider.get_by_role("button", name="Send invitation").click()
    expect(provider.get_by_role("alert").filter(has_text="not sent")).to_be_focused()
    expect(external).to_have_accessible_description(
        re.compile("The host has no external meeting room registered.")
    )
    expect(external).to_be_checked()  # kept as chosen
    assert_accessible(provider, "invite form, no room for that host")

    provider.get_by_label("Hosting provider").select_option(label=NAMES["okafor"])
    provider.get_by_role("button", name="Send invitation").click()
    expect(provider.get_by_role("status").filter(has_text="Invitation sent")).to_have_text(
        "Invitation sent to Nadia Rahman."
    )
    wait_live(provider)

    # The invitation carries the room's guest link, not a link to Anteroom's waiting room.
    [invitation] = wait_for_mails(smtp_server, email, 1)
    assert GUEST_URL in body_of(invitation, "plain")
    assert "/join/" not in body_of(invitation, "plain")

    # The row: marked, and joined in the room itself (a new tab, with no way back to us).
    nadia = row(provider, "Nadia Rahman")
    expect(nadia.locator(".external-tag")).to_have_text("External room")
    expect(nadia.get_by_role("link", name="Enter")).to_have_count(0)
    join = nadia.get_by_role("link", name="Join telehealth session")
    expect(join).to_have_attribute("target", "_blank")
    expect(join).to_have_attribute("rel", "noopener")
    assert_accessible(provider, "schedule, a visit in an external room")
    screenshot(provider, "links-external-row-1280x800")
    asked: list[str] = []
    provider.context.on("request", lambda request: asked.append(request.url))
    with provider.context.expect_page() as opened:
        join.click()
    tab = opened.value
    tab.wait_for_load_state()
    visit_id = int(nadia.get_attribute("data-key"))
    assert asked[-2:] == [f"{live_server.url}/visits/{visit_id}/telehealth", HOST_URL]
    assert tab.evaluate("window.opener") is None
    tab.close()

    # Its menu: the host link as "Get staff link"; no waiting room here to write to.
    menu_button(provider, "Nadia Rahman").click()
    expect(menu_items(provider)).to_have_text(
        ["Cancel appointment", "Reinvite", "Email the link to the patient",
         "Copy the patient's link", "Get staff link", "Download the calendar entry (.ics)",
         "Show QR code", "Mark as complete", "New task"]
    )  # fmt: skip
    screenshot(provider, "links-external-row-menu-1280x800")
    provider.get_by_role("menuitem", name="Get staff link").click()
    expect(action_status(provider)).to_have_text(
        "Link copied: the staff link for the visit with Nadia Rahman"
        " (the external room's host link)."
    )
    assert clipboard(provider) == HOST_URL
    choose(provider, "Nadia Rahman", "Copy the patient's link")
    expect(action_status(provider)).to_have_text(
        "Link copied: the patient's link for Nadia Rahman."
    )
    assert clipboard(provider) == GUEST_URL

    # Removed from the same page.
    provider.get_by_role("link", name="My meeting room").click()
    provider.get_by_role("button", name="Remove").click()
    expect(provider.get_by_role("status").filter(has_text="removed")).to_have_text(
        "Your meeting room is removed."
    )
    expect(provider.get_by_role("heading", name="Register your room")).to_be_visible()
    expect(provider.get_by_role("button", name="Remove")).to_have_count(0)
    assert (
        clinic.server.api("GET", "/providers/me/external-room", clinic.token("okafor")).status_code
        == 404
    )
    assert_accessible(provider, "my meeting room, removed")


# 6. Return to session -------------------------------------------------------------------


def test_the_provider_with_the_patient_returns_to_the_session_from_the_schedule(
    soon, people, clinic
):
    visit = soon("Rosa Lima")
    riverside = demo_clinic(clinic)
    day = datetime.fromisoformat(visit["scheduled_for"].replace("Z", "+00:00"))
    day = day.astimezone(LONDON).date()
    patient = people.new_page("patient")
    patient.goto(links_of(clinic, visit["id"])["patient_link"])
    expect(patient.locator("#room-status")).to_have_text("You are in the waiting room")

    provider = people.login("okafor")
    provider.goto(f"/visits/{visit['id']}")
    assert_in_call(provider, "Rosa Lima")

    # The provider looks at the schedule in another tab while the call goes on.
    schedule = provider.context.new_page()
    people.pages["okafor's schedule"] = schedule
    open_schedule(schedule, riverside, day, filter="invites")
    colleague = people.login("lindqvist")
    open_schedule(colleague, riverside, day, filter="invites")
    mine = schedule.locator(f'#rows > tr[data-key="{visit["id"]}"]')
    expect(mine.locator(".status-label")).to_have_text("Session running")
    back = mine.get_by_role("link", name="Return to session")
    expect(back).to_be_visible()
    expect(mine).not_to_have_class(re.compile(r"\bis-greyed\b"))
    theirs = colleague.locator(f'#rows > tr[data-key="{visit["id"]}"]')
    expect(theirs.locator(".status-detail")).to_have_text("with Dr. Ada Okafor")
    expect(theirs).to_have_class(re.compile(r"\bis-greyed\b"))
    expect(theirs.get_by_role("link")).to_have_count(0)
    assert_accessible(schedule, "schedule, the provider's own running session")
    assert_accessible(colleague, "schedule, a colleague's running session")

    back.click()
    expect(schedule).to_have_url(re.compile(rf"/visits/{visit['id']}$"))
    provider.close()  # the old tab
    assert_in_call(schedule, "Rosa Lima")
    assert_in_call(patient, "Dr. Ada Okafor")
    expect(theirs.locator(".status-label")).to_have_text("Session running")
