"""A booked visit end to end, as the patient and the providers see it.

A scheduler books through the API; the live server emails the invitation to a real SMTP
server; the patient opens the link from that email, without an account, and waits with a
preview of their camera and microphone; a provider takes them into the call, leaves them
to a colleague, who takes them and ends the consultation. And what the link says when it
is opened too early or after the clinic cancelled.

The row's status on the provider's schedule is read from the schedule's API
(GET /api/v1/clinics/<id>/schedule, what the schedule page shows): the page itself was
being built alongside this test. Once it settles, read the row from the page and take the
patient from it.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import (
    NAMES,
    VIEWPORT,
    assert_accessible,
    assert_in_call,
    assert_video_playing,
    screenshot,
)
from tests.mail import body_of

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DEMO_CLINIC = "Riverside Clinic"
WAITING = "Please wait, your provider will let you in soon."
PATIENT = "Jo Bloggs"
# The camera's tracks on the page, all stopped: nothing is captured any more.
CAMERA_STOPPED = """() => {
  const stream = document.querySelector('#local-video').srcObject;
  return stream !== null && stream.getTracks().length > 0
    && stream.getTracks().every((track) => track.readyState === 'ended');
}"""


def when(start: datetime, timezone: str) -> str:
    """The appointment's time as the invitation and the waiting room word it."""
    local = start.astimezone(ZoneInfo(timezone))
    return f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M} ({timezone})"


@pytest.fixture
def book(clinic):
    """`book(minutes_ahead)`: the scheduler books Jo Bloggs (an address of their own) with
    Dr. Ada Okafor on the demo clinic, through the API. Whatever is still live afterwards
    is cancelled or ended, so no booked visit outlives its test. (Tests ask for `book`
    before `people`: the pages are checked as the test left them, then the visit goes.)"""
    booked: list[int] = []

    def book(minutes_ahead: float) -> SimpleNamespace:
        clinics = clinic.api("scheduler", "GET", "/clinics").json()
        demo = next(c for c in clinics if c["name"] == DEMO_CLINIC)
        host_id = next(m["id"] for m in demo["members"] if m["name"] == NAMES["okafor"])
        email = f"jo-{uuid4().hex[:12]}@example.org"
        start = (datetime.now(UTC) + timedelta(minutes=minutes_ahead)).replace(microsecond=0)
        body = {
            "clinic_id": demo["id"],
            "start": start.isoformat(),
            "host_id": host_id,
            "patient": {"name": PATIENT, "email": email},
        }
        row = clinic.api("scheduler", "POST", "/visits", body).json()
        booked.append(row["id"])
        day = start.astimezone(ZoneInfo(demo["timezone"])).date().isoformat()
        return SimpleNamespace(
            id=row["id"],
            clinic_id=demo["id"],
            email=email,
            start=start,
            timezone=demo["timezone"],
            when=when(start, demo["timezone"]),
            day=day,
        )

    yield book
    for visit_id in booked:
        server = clinic.server
        if server.api("POST", f"/visits/{visit_id}/cancel", clinic.token("scheduler")).ok:
            continue
        for provider in ("okafor", "lindqvist"):  # in a call: a host ends it
            server.api("POST", f"/visits/{visit_id}/end", clinic.token(provider))


def emailed(smtp_server, address: str, subject: str, timeout: float = 15) -> str:
    """The plain-text body of the message with `subject` the live server sent to `address`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in smtp_server.mailbox.to(address):
            if message["Subject"].startswith(subject):
                return body_of(message, "plain")
        time.sleep(0.1)
    raise AssertionError(f"no message {subject!r} reached {address}")


def link_from_invitation(smtp_server, live_server, visit) -> str:
    """The waiting-room link in the patient's invitation, as they would click it."""
    text = emailed(smtp_server, visit.email, "Your video appointment with Riverside Health")
    assert visit.when in text
    link = re.search(r"https?://\S+/join/\S+", text).group(0)
    assert link.startswith(f"{live_server.url}/join/")  # PUBLIC_BASE_URL: this server
    return link


def schedule_row(clinic, visit) -> dict:
    path = f"/clinics/{visit.clinic_id}/schedule?date={visit.day}"
    rows = clinic.api("okafor", "GET", path).json()["visits"]
    return next(row for row in rows if row["id"] == visit.id)


def wait_for_status(clinic, visit, status: str, timeout: float = 10) -> dict:
    """The provider's schedule row reaches `status` (read from the schedule's API)."""
    deadline = time.monotonic() + timeout
    while True:
        row = schedule_row(clinic, visit)
        if row["status"] == status:
            return row
        if time.monotonic() > deadline:
            raise AssertionError(f"the row stayed {row['status']}, not {status}: {row}")
        time.sleep(0.2)


def at_desk_and_phone(page: Page, name: str, label: str) -> None:
    """Screenshots at a desk's size and a phone's, each checked for accessibility."""
    screenshot(page, f"{name}-1280x800")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)  # the videos take the new size
    screenshot(page, f"{name}-390x844")
    assert_accessible(page, f"{label} on a phone")
    if page.evaluate("() => document.scrollingElement.scrollHeight > window.innerHeight"):
        # A waiting room scrolls on a phone: its foot too (the call's buttons stay in view).
        page.evaluate("() => window.scrollTo(0, document.scrollingElement.scrollHeight)")
        screenshot(page, f"{name}-390x844-scrolled")
        page.evaluate("() => window.scrollTo(0, 0)")
    page.set_viewport_size(VIEWPORT)


def open_waiting_room(people, link: str) -> Page:
    """The patient's own browser (no account) opens their link: the waiting room."""
    patient = people.new_page("patient")
    response = patient.goto(link)
    assert response.status == 200
    expect(patient.get_by_role("heading", name=WAITING)).to_be_visible()
    expect(patient.locator("#room-status")).to_have_text("You are in the waiting room")
    return patient


def test_the_patient_joins_from_the_email_is_handed_to_a_colleague_and_sees_the_end(
    book, people, clinic, smtp_server, live_server
):
    visit = book(3)  # the link is open, and a waiting patient is online at once
    link = link_from_invitation(smtp_server, live_server, visit)

    # The waiting room: the camera and microphone previewed, the appointment, and no way
    # out to a dashboard the patient does not have.
    patient = open_waiting_room(people, link)
    facts = patient.locator("#appointment-facts")
    expect(facts).to_contain_text(visit.when)
    expect(facts).to_contain_text("Dr. Ada Okafor (Riverside Clinic)")
    expect(facts).to_contain_text("Riverside Health")
    expect(patient.locator("header").get_by_role("link")).to_have_count(0)
    expect(patient.get_by_role("link", name="Back to dashboard")).to_have_count(0)
    expect(patient.get_by_role("button", name="Sign out")).to_have_count(0)
    assert_video_playing(patient, "#local-video")
    # The level (a meter): More has a "Microphone" choice too, out of view.
    expect(patient.get_by_role("meter", name="Microphone")).to_be_visible()
    patient.wait_for_function("() => document.querySelector('#mic-level').value > 0.2")
    screenshot(patient, "readme-guest")  # now: the microphone level shows it hears
    assert_accessible(patient, "guest waiting room")
    at_desk_and_phone(patient, "guest-waiting-room", "guest waiting room")

    # The provider's schedule has the patient online, waiting.
    row = wait_for_status(clinic, visit, "patient_online")
    assert row["waiting_since"] is not None

    # Dr. Okafor takes the patient: both in the call.
    okafor = people.login("okafor")
    okafor.goto(f"/visits/{visit.id}")
    assert_in_call(okafor, PATIENT)
    assert_in_call(patient, "Dr. Ada Okafor")
    expect(okafor.get_by_role("heading", name=f"Session with {PATIENT}")).to_be_visible()
    # The host's Hang up offers Leave session and End consultation for all.
    expect(okafor.get_by_role("button", name="Hang up")).to_be_visible()
    expect(okafor.get_by_role("button", name="Leave session", exact=True)).to_be_hidden()
    assert wait_for_status(clinic, visit, "session_running")["provider_name"] == "Dr. Ada Okafor"
    assert_accessible(patient, "guest in the call")
    assert_accessible(okafor, "provider in a booked visit's call")
    screenshot(okafor, "booked-visit-provider-in-call-1280x800")
    at_desk_and_phone(patient, "guest-in-call", "guest in the call")

    # Leave session: the provider goes back to the schedule; the patient waits again.
    okafor.get_by_role("button", name="Hang up").click()
    okafor.get_by_role("button", name="Leave session", exact=True).click()
    expect(okafor).to_have_url(re.compile(r"/schedule$"))
    okafor.close()  # the schedule page is another's work; this test is about the room
    expect(patient.get_by_role("heading", name=WAITING)).to_be_visible()
    expect(patient.locator("#overlay")).to_contain_text("Dr. Ada Okafor left the call")
    expect(patient.locator("#room-status")).to_have_text("You are in the waiting room")
    expect(patient.locator("#remote-video")).to_have_js_property("srcObject", None)
    assert_video_playing(patient, "#local-video")  # the preview again
    wait_for_status(clinic, visit, "patient_online")
    assert_accessible(patient, "guest back in the waiting room")

    # A colleague takes the patient: in the call again, with him.
    lindqvist = people.login("lindqvist")
    lindqvist.goto(f"/visits/{visit.id}")
    assert_in_call(lindqvist, PATIENT)
    assert_in_call(patient, "Dr. Ben Lindqvist")
    expect(lindqvist.get_by_role("heading", name=f"Session with {PATIENT}")).to_be_visible()
    assert wait_for_status(clinic, visit, "session_running")["provider_name"] == (
        "Dr. Ben Lindqvist"
    )

    # End consultation, confirmed: everyone hangs up.
    lindqvist.get_by_role("button", name="Hang up").click()
    lindqvist.get_by_role("button", name="End consultation for all").click()
    dialog = lindqvist.get_by_role("dialog", name="End the consultation?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Keep the consultation")).to_be_focused()
    assert_accessible(lindqvist, "end consultation dialog")
    screenshot(lindqvist, "booked-visit-end-consultation-1280x800")
    dialog.get_by_role("button", name="End for everyone").click()
    expect(lindqvist).to_have_url(re.compile(r"/schedule$"))
    lindqvist.close()

    expect(patient.get_by_role("heading", name="The consultation has ended")).to_be_visible()
    expect(patient.locator("#room-status")).to_have_text("The consultation has ended")
    expect(patient.locator("#controls")).to_be_hidden()
    expect(patient.locator("#local-video")).to_be_hidden()
    patient.wait_for_function(CAMERA_STOPPED)
    patient.wait_for_timeout(1_500)  # no redirect follows: the page stays where it is
    assert patient.url == link
    assert schedule_row(clinic, visit)["status"] == "completed"
    assert_accessible(patient, "guest after the consultation ended")
    at_desk_and_phone(patient, "guest-ended", "guest after the consultation ended")


def test_a_patient_who_leaves_the_waiting_room_can_go_back_in(
    book, people, clinic, smtp_server, live_server
):
    visit = book(3)
    patient = open_waiting_room(people, link_from_invitation(smtp_server, live_server, visit))
    wait_for_status(clinic, visit, "patient_online")

    patient.get_by_role("button", name="Hang up").click()

    expect(patient.get_by_role("heading", name="You left the waiting room")).to_be_visible()
    expect(patient.locator("#controls")).to_be_hidden()
    patient.wait_for_function(CAMERA_STOPPED)
    back_in = patient.get_by_role("button", name="Return to the waiting room")
    expect(back_in).to_be_focused()
    expect(patient).to_have_url(re.compile(r"/join/"))
    wait_for_status(clinic, visit, "scheduled")  # no longer online
    assert_accessible(patient, "guest who left the waiting room")
    screenshot(patient, "guest-left-1280x800")

    back_in.click()

    expect(patient.get_by_role("heading", name=WAITING)).to_be_visible()
    assert_video_playing(patient, "#local-video")
    wait_for_status(clinic, visit, "patient_online")
    okafor = people.login("okafor")
    okafor.goto(f"/visits/{visit.id}")
    assert_in_call(okafor, PATIENT)
    assert_in_call(patient, "Dr. Ada Okafor")


def test_a_link_opened_early_shows_the_appointment_and_when_the_waiting_room_opens(
    book, people, smtp_server, live_server
):
    visit = book(3 * 60)  # the waiting room opens 30 minutes before the start
    link = link_from_invitation(smtp_server, live_server, visit)
    opens = (visit.start - timedelta(minutes=30)).astimezone(ZoneInfo(visit.timezone))

    guest = people.new_page("patient")
    response = guest.goto(link)

    assert response.status == 200
    expect(guest.get_by_role("heading", name="Your video appointment")).to_be_visible()
    expect(guest.get_by_text("Riverside Health")).to_be_visible()
    opens_text = f"The waiting room opens at {opens:%H:%M} on {opens:%A} {opens.day} {opens:%B}"
    expect(guest.get_by_role("heading", name=opens_text)).to_be_visible()
    facts = guest.locator(".facts")
    expect(facts).to_contain_text(PATIENT)
    expect(facts).to_contain_text(visit.when)
    expect(facts).to_contain_text("Dr. Ada Okafor (Riverside Clinic)")
    expect(guest.locator("#room-config")).to_have_count(0)  # no room yet, no camera
    expect(guest.locator("header").get_by_role("link")).to_have_count(0)
    assert_accessible(guest, "early link page")
    at_desk_and_phone(guest, "guest-early", "early link page")


def test_cancelling_tells_the_waiting_patient_and_the_link_then_says_so(
    book, people, clinic, smtp_server, live_server
):
    visit = book(3)
    link = link_from_invitation(smtp_server, live_server, visit)
    patient = open_waiting_room(people, link)

    clinic.api("scheduler", "POST", f"/visits/{visit.id}/cancel")

    expect(patient.get_by_role("heading", name="This appointment was cancelled")).to_be_visible()
    expect(patient.locator("#controls")).to_be_hidden()
    patient.wait_for_function(CAMERA_STOPPED)
    assert patient.url == link
    assert_accessible(patient, "guest whose waiting room was cancelled")
    emailed(smtp_server, visit.email, "Cancelled: your video appointment with Riverside Health")

    again = people.new_page("patient-again")
    response = again.goto(link)

    assert response.status == 410
    expect(again.get_by_role("heading", name="This appointment was cancelled")).to_be_visible()
    expect(again.get_by_text(visit.when)).to_be_visible()
    assert_accessible(again, "cancelled link page")
    screenshot(again, "guest-cancelled-link-1280x800")


def test_a_message_from_the_schedule_reaches_the_waiting_patient_live_and_on_arrival(
    book, people, clinic, smtp_server, live_server
):
    visit = book(3)
    link = link_from_invitation(smtp_server, live_server, visit)
    patient = open_waiting_room(people, link)
    messages = patient.locator("#waiting-message-list > li")
    expect(messages).to_have_count(0)
    expect(patient.get_by_role("heading", name="Messages from the clinic")).to_be_hidden()

    # The scheduler writes from the visit's row on the schedule.
    scheduler = people.login("scheduler")
    scheduler.goto(f"/clinics/{visit.clinic_id}/schedule?date={visit.day}&filter=invites")
    expect(scheduler.locator("html")).to_have_attribute("data-live", "connected")
    jo = scheduler.locator(f'#rows > tr[data-key="{visit.id}"]')
    expect(jo.locator(".status-label")).to_have_text("Patient online")
    jo.get_by_role("button", name=re.compile(r"^Actions for")).click()
    scheduler.get_by_role("menuitem", name="Message the waiting room").click()
    dialog = scheduler.get_by_role("dialog", name="Message the waiting room")
    expect(dialog).to_contain_text("Nothing yet.")
    text = dialog.get_by_label("Your message")
    expect(text).to_be_focused()
    dialog.get_by_role("button", name="Send message").click()
    expect(dialog.get_by_role("alert")).to_have_text("Write a message.")
    expect(text).to_have_attribute("aria-invalid", "true")
    assert_accessible(scheduler, "message dialog, refused empty")
    text.fill("Dr. Okafor is running about ten minutes late. Thank you for waiting.")
    dialog.get_by_role("button", name="Send message").click()
    expect(dialog.get_by_role("status")).to_contain_text("Sent.")
    sent = dialog.locator("#sent-list > li")
    expect(sent).to_have_count(1)
    expect(sent).to_contain_text("Sam Scheduler")
    expect(text).to_have_value("")
    assert_accessible(scheduler, "message dialog, one sent")
    screenshot(scheduler, "schedule-message-dialog-1280x800")

    # The patient reads it at once, with who wrote it and when; they cannot answer.
    expect(messages).to_have_count(1)
    first = messages.first
    expect(first.locator(".waiting-message-meta")).to_have_text(
        re.compile(r"^Sam Scheduler, \d\d:\d\d$")
    )
    expect(first.locator(".waiting-message-text")).to_have_text(
        "Dr. Okafor is running about ten minutes late. Thank you for waiting."
    )
    expect(patient.get_by_role("heading", name="Messages from the clinic")).to_be_visible()
    expect(patient.locator("#waiting-message-list")).to_have_attribute("aria-live", "polite")
    # Nothing to answer with: the call's chat is for the call (its panel and its button
    # stay hidden until she is let in), and nothing in the waiting room takes text.
    expect(patient.locator("#chat-panel")).to_be_hidden()
    expect(patient.get_by_role("button", name=re.compile(r"^Chat"))).to_have_count(0)
    writable = patient.locator("main").locator("textarea, input, [contenteditable]")
    expect(writable.locator("visible=true")).to_have_count(0)
    assert_accessible(patient, "guest waiting room with a message")

    # A second one, from the provider: newest last.
    dialog.get_by_role("button", name="Close").click()
    clinic.api("okafor", "POST", f"/visits/{visit.id}/waiting-messages", {"text": "Nearly there."})
    expect(messages).to_have_count(2)
    expect(messages.last.locator(".waiting-message-meta")).to_contain_text("Dr. Ada Okafor")
    expect(messages.last.locator(".waiting-message-text")).to_have_text("Nearly there.")
    patient.wait_for_function("() => document.querySelector('#mic-level').value > 0.2")
    at_desk_and_phone(patient, "guest-waiting-room-messages", "guest waiting room with messages")

    # Reopened on the schedule, the dialog lists what was sent so far.
    jo.get_by_role("button", name=re.compile(r"^Actions for")).click()
    scheduler.get_by_role("menuitem", name="Message the waiting room").click()
    expect(dialog.locator("#sent-list > li .message-text")).to_have_text(
        ["Dr. Okafor is running about ten minutes late. Thank you for waiting.", "Nearly there."]
    )
    scheduler.keyboard.press("Escape")

    # The patient closes the page and comes back later (on another device): the messages
    # written so far are there, in order.
    patient.close()
    later = people.new_page("patient-later")
    later.goto(link)
    expect(later.get_by_role("heading", name=WAITING)).to_be_visible()
    expect(later.locator("#waiting-message-list > li .waiting-message-text")).to_have_text(
        ["Dr. Okafor is running about ten minutes late. Thank you for waiting.", "Nearly there."]
    )
    assert_accessible(later, "guest arriving after messages were written")
