"""The clinic schedule as providers and schedulers use it: inviting through the form (its
errors first), rows arriving and changing live on every open schedule, the day picker,
the filter and the search, the row menu by mouse and by keyboard, the task list, and a
waiting patient turning the row green until a provider takes them.

Visits here are booked on days of their own (in July, when London is an hour ahead of
UTC, so a time shown in the browser's zone instead of the clinic's would be caught), except
where the test needs "now": a patient can only be online around the start of a visit.
"""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
from datetime import time as dtime
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import (
    ARTIFACTS,
    NAMES,
    assert_accessible,
    screenshot,
    tab_to,
    wait_live,
)
from tests.browser.test_dashboards import tapped

pytestmark = pytest.mark.browser

LONDON = ZoneInfo("Europe/London")
SIZES = {"1280": (1280, 800), "1920": (1920, 1080), "390": (390, 844)}
_mobiles = count(10_001)


# Helpers ----------------------------------------------------------------------------


def july(n: int) -> date:
    """A day in the coming July (British Summer Time), well in the future."""
    today = datetime.now(LONDON).date()
    day = date(today.year, 7, n)
    return day if day > today + timedelta(days=2) else date(today.year + 1, 7, n)


def label(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def demo_clinic(clinic) -> dict:
    found = clinic.api("scheduler", "GET", "/clinics").json()
    return next(c for c in found if c["name"] == "Riverside Clinic")


def member_id(riverside: dict, who: str) -> int:
    return next(m["id"] for m in riverside["members"] if m["name"] == NAMES[who])


def a_mobile() -> str:
    return f"+4479111{next(_mobiles):05d}"


def book(clinic, riverside, name, start: datetime, host="okafor", **details) -> dict:
    """The scheduler books through the API (as an outside system would)."""
    patient = {"name": name, "email": details.pop("email", None), **details.pop("patient", {})}
    if not patient["email"] and "mobile" not in patient:
        patient["email"] = f"{name.split()[0].lower()}@example.org"
    body = {
        "clinic_id": riverside["id"],
        "start": start.isoformat(),
        "host_id": member_id(riverside, host),
        "patient": patient,
        **details,
    }
    return clinic.api("scheduler", "POST", "/visits", body).json()


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=LONDON)


def open_schedule(page: Page, riverside: dict, day: date | None = None, **params) -> None:
    query = {**({"date": day.isoformat()} if day else {}), **params}
    suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    page.goto(f"/clinics/{riverside['id']}/schedule{suffix}")
    wait_live(page)


def row(page: Page, name: str):
    return page.locator("#rows > tr").filter(has_text=name)


def status_of(page: Page, name: str):
    return row(page, name).locator(".status-label")


def menu_button(page: Page, name: str):
    return row(page, name).get_by_role("button", name=re.compile(r"^Actions for"))


def day_rows(clinic, riverside, day: date, **params) -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in {"date": day.isoformat(), **params}.items())
    return clinic.api("scheduler", "GET", f"/clinics/{riverside['id']}/schedule?{query}").json()[
        "visits"
    ]


def guest_link(live_server, mobile: str, timeout: float = 10.0) -> str:
    """The link in the SMS the server sent to `mobile` (the log backend writes it down)."""
    pattern = re.compile(rf"SMS to {re.escape(mobile)} \(SMS_BACKEND=log\): .*?Join here: (\S+)")
    deadline = time.monotonic() + timeout
    while not (found := pattern.findall(live_server.read_log())):
        if time.monotonic() > deadline:
            raise AssertionError(f"no SMS to {mobile} in the server's log")
        time.sleep(0.1)
    return found[-1]


def shoot_sizes(page: Page, name: str, full_page: bool = True) -> dict[str, object]:
    """Screenshots at a desk, a big screen and a phone; back to the desk afterwards."""
    shots = {}
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(150)  # let the layout settle
        shots[size] = screenshot(page, f"{name}-{size}", full_page=full_page)
        assert_accessible(page, f"{name} at {width}×{height}")
    page.set_viewport_size({"width": 1280, "height": 800})
    return shots


# 1. Inviting through the form -----------------------------------------------------------


def test_a_scheduler_invites_through_the_form_and_colleagues_see_the_row_arrive(people, clinic):
    riverside = demo_clinic(clinic)
    day = july(1)
    provider = people.login("okafor")
    open_schedule(provider, riverside, day)
    expect(provider.get_by_role("heading", name=label(day))).to_be_visible()

    scheduler = people.login("scheduler")
    scheduler.get_by_role("navigation", name="Main").get_by_role("link", name="Schedule").click()
    expect(scheduler.get_by_role("heading", name="Riverside Clinic")).to_be_visible()
    scheduler.get_by_role("link", name="Invite patient").click()
    expect(scheduler.get_by_role("heading", name="Invite a patient")).to_be_visible()
    host = scheduler.get_by_label("Hosting provider")
    expect(host).to_have_value("")  # a scheduler chooses; nobody is assumed
    expect(scheduler.get_by_label("Duration (minutes)")).to_have_value("15")
    assert_accessible(scheduler, "invite form, empty")

    # First with mistakes: no host, a day gone by, too short, a broken email, and an extra
    # participant with no way to reach them.
    yesterday = datetime.now(LONDON).date() - timedelta(days=1)
    scheduler.get_by_label("Date", exact=True).fill(yesterday.isoformat())
    scheduler.get_by_label("Time", exact=True).fill("10:30")
    scheduler.get_by_label("Duration (minutes)").fill("2")
    scheduler.get_by_label("Patient's name").fill("Maya Patel")
    contact = scheduler.get_by_role("group", name="How to reach the patient")
    contact.get_by_label("Email").fill("maya@")
    scheduler.get_by_label("MRN (optional)").fill("RC-40121")
    scheduler.get_by_role("button", name="Add participant").click()
    first = scheduler.get_by_role("group", name="Participant 1")
    expect(first.get_by_label("Name")).to_be_focused()
    first.get_by_label("Name").fill("Ravi Patel")
    first.get_by_label("Role or job title").fill("Son")
    # Enter in a text field sends the form; it never adds or removes a participant.
    first.get_by_label("Role or job title").press("Enter")

    summary = scheduler.get_by_role("alert").filter(has_text="The invitation was not sent")
    expect(summary).to_be_focused()
    errors = {
        "Hosting provider": "Choose the provider who hosts the visit.",
        "Duration (minutes)": "Choose between 5 and 480 minutes.",
        "Date": "Choose a time in the future.",
    }
    for field_label, message in errors.items():
        field = scheduler.get_by_label(field_label, exact=True)
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_accessible_description(re.compile(re.escape(message)))
    expect(contact.get_by_label("Email")).to_have_accessible_description(
        "Enter a valid email address."
    )
    first = scheduler.get_by_role("group", name="Participant 1")
    expect(first.get_by_label("Email")).to_have_accessible_description(
        "Enter an email address or a mobile number."
    )
    # Kept as typed.
    expect(scheduler.get_by_label("Patient's name")).to_have_value("Maya Patel")
    expect(contact.get_by_label("Email")).to_have_value("maya@")
    expect(first.get_by_label("Name")).to_have_value("Ravi Patel")
    expect(scheduler.get_by_label("Date", exact=True)).to_have_value(yesterday.isoformat())
    shots = shoot_sizes(scheduler, "invite-form-errors")
    (ARTIFACTS / "readme-invite.png").write_bytes(shots["1280"].read_bytes())
    # Nothing was saved.
    assert [
        r for r in day_rows(clinic, riverside, yesterday) if r["patient"]["name"] == "Maya Patel"
    ] == []

    # The summary's links lead to the fields.
    summary.get_by_role("link", name="Choose the provider who hosts the visit.").click()
    expect(host).to_be_focused()
    host.select_option(label="Dr. Ada Okafor")
    scheduler.get_by_label("Date", exact=True).fill(day.isoformat())
    scheduler.get_by_label("Duration (minutes)").fill("20")
    contact.get_by_label("Email").fill("maya@example.org")
    first.get_by_label("Email").fill("ravi@example.org")
    scheduler.get_by_role("button", name="Send invitation").click()

    expect(scheduler).to_have_url(re.compile(rf"/clinics/{riverside['id']}/schedule\?date={day}"))
    expect(scheduler.get_by_role("status").filter(has_text="Invitation sent to")).to_have_text(
        "Invitation sent to Maya Patel and Ravi Patel."
    )
    wait_live(scheduler)
    for page in (scheduler, provider):  # the provider's page hears of it live
        mine = row(page, "Maya Patel")
        expect(mine.locator(".status-label")).to_have_text("Scheduled")
        expect(mine.locator(".time")).to_have_text("10:30")  # London's summer time, not UTC
        expect(mine.locator(".duration")).to_have_text("20 min")
        expect(mine.locator(".host")).to_have_text("Dr. Ada Okafor")
        expect(mine.locator(".mrn")).to_have_text("MRN RC-40121")
        expect(mine.locator(".others")).to_have_text("With Ravi Patel (Son)")
    [booked] = [r for r in day_rows(clinic, riverside, day) if r["patient"]["name"] == "Maya Patel"]
    assert booked["scheduled_for"] == f"{day.isoformat()}T09:30:00Z"
    assert_accessible(scheduler, "scheduler's schedule after inviting")
    assert_accessible(provider, "provider's schedule, a row arrived live")


# 2. Day, filter, search -----------------------------------------------------------------


def test_the_day_picker_filter_and_search_choose_what_the_schedule_shows(people, clinic):
    riverside = demo_clinic(clinic)
    day = july(2)
    book(clinic, riverside, "Olivia Grant", at(day, 9), patient={"mrn": "RC-55501"})
    book(clinic, riverside, "Noah Fischer", at(day, 11), host="lindqvist")
    visit_id = clinic.accepted_visit("lindqvist")  # an on-demand session, today
    today = datetime.now(LONDON).date()

    scheduler = people.login("scheduler")
    open_schedule(scheduler, riverside)
    expect(scheduler.get_by_role("heading", name=f"{label(today)} Today")).to_be_visible()
    on_demand = scheduler.locator(f'#rows > tr[data-key="{visit_id}"]')
    expect(on_demand.locator(".duration")).to_have_text("On demand")
    expect(on_demand.locator(".patient-name")).to_have_text("Riverside Station")

    filters = scheduler.get_by_role("navigation", name="Which visits")
    filters.get_by_role("link", name="Direct invites").click()
    expect(filters.get_by_role("link", name="Direct invites")).to_have_attribute(
        "aria-current", "page"
    )
    wait_live(scheduler)
    expect(on_demand).to_have_count(0)
    filters.get_by_role("link", name="Live clinic list").click()
    wait_live(scheduler)
    expect(on_demand).to_be_visible()
    assert_accessible(scheduler, "schedule, the live clinic list")
    filters.get_by_role("link", name="Show all").click()
    wait_live(scheduler)

    # Another day, typed into the date picker.
    scheduler.get_by_label("Go to date").fill(day.isoformat())
    scheduler.get_by_role("button", name="Show day").click()
    expect(scheduler.get_by_role("heading", name=label(day))).to_be_visible()
    wait_live(scheduler)
    expect(scheduler.locator("#rows .patient-name")).to_have_text(["Olivia Grant", "Noah Fischer"])
    expect(scheduler.locator("#row-count")).to_have_text("2 visits")

    days = scheduler.get_by_role("navigation", name="Choose a day")
    days.get_by_role("link", name="Next day").click()
    expect(scheduler.get_by_role("heading", name=label(day + timedelta(days=1)))).to_be_visible()
    expect(scheduler.get_by_text("No visits on this day.")).to_be_visible()
    assert_accessible(scheduler, "schedule, an empty day")
    days.get_by_role("link", name="Previous day").click()
    expect(scheduler.get_by_role("heading", name=label(day))).to_be_visible()
    wait_live(scheduler)

    # Search: part of a name, or a whole MRN (any case).
    search = scheduler.get_by_role("search")
    search.get_by_label("Search by patient name or MRN").fill("grant")
    search.get_by_role("button", name="Search").click()
    wait_live(scheduler)
    expect(scheduler.locator("#rows .patient-name")).to_have_text(["Olivia Grant"])
    assert_accessible(scheduler, "schedule, searched")

    # While searching, a new booking that matches arrives live; one that does not, does not.
    book(clinic, riverside, "Grace Grantham", at(day, 10))
    book(clinic, riverside, "Liam Stone", at(day, 10, 30))
    book(clinic, riverside, "Zoe Grantley", at(day + timedelta(days=1), 10))  # another day
    expect(scheduler.locator("#rows .patient-name")).to_have_text(
        ["Olivia Grant", "Grace Grantham"]
    )

    search.get_by_label("Search by patient name or MRN").fill("rc-55501")
    search.get_by_role("button", name="Search").click()
    wait_live(scheduler)
    expect(scheduler.locator("#rows .patient-name")).to_have_text(["Olivia Grant"])
    scheduler.get_by_role("link", name="Clear").click()
    wait_live(scheduler)
    expect(scheduler.locator("#rows .patient-name")).to_have_text(
        ["Olivia Grant", "Grace Grantham", "Liam Stone", "Noah Fischer"]
    )
    days.get_by_role("link", name="Today").click()
    expect(scheduler.get_by_role("heading", name=f"{label(today)} Today")).to_be_visible()


# 3. The row menu ------------------------------------------------------------------------


def test_the_row_menu_cancels_reinvites_completes_and_files_a_task(people, clinic, smtp_server):
    riverside = demo_clinic(clinic)
    day = july(3)
    book(clinic, riverside, "Ellen Hughes", at(day, 9))
    samir = book(clinic, riverside, "Samir Haddad", at(day, 9, 30), email="samir@example.org")
    book(clinic, riverside, "Fatima Noor", at(day, 10))
    scheduler = people.login("scheduler")
    open_schedule(scheduler, riverside, day)
    provider = people.login("okafor")
    open_schedule(provider, riverside, day)

    # Cancel: asked first; "Keep" keeps it.
    menu = menu_button(scheduler, "Ellen Hughes")
    expect(menu).to_have_attribute("aria-haspopup", "menu")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    items = scheduler.get_by_role("menu").get_by_role("menuitem")
    expect(items).to_have_text(
        [
            "Cancel appointment",
            "Reinvite",
            "Email the link to the patient",
            "Copy the patient's link",
            "Copy the staff link",
            "Download the calendar entry (.ics)",
            "Show QR code",
            "Mark as complete",
            "Message the waiting room",
            "New task",
        ]
    )
    assert_accessible(scheduler, "schedule, a row's menu open")
    screenshot(scheduler, "schedule-row-menu")
    items.filter(has_text="Cancel appointment").click()
    dialog = scheduler.get_by_role("dialog", name="Cancel this appointment?")
    expect(dialog).to_contain_text(f"Ellen Hughes, 09:00 on {label(day)}.")
    assert_accessible(scheduler, "schedule, asked to confirm a cancellation")
    screenshot(scheduler, "schedule-cancel-dialog")
    dialog.get_by_role("button", name="Keep appointment").click()
    expect(dialog).to_be_hidden()
    expect(menu).to_be_focused()
    expect(status_of(scheduler, "Ellen Hughes")).to_have_text("Scheduled")

    menu.click()
    scheduler.get_by_role("menuitem", name="Cancel appointment").click()
    dialog.get_by_role("button", name="Cancel appointment").click()
    expect(dialog).to_be_hidden()
    expect(scheduler.get_by_role("status").filter(has_text="cancelled")).to_have_text(
        "The appointment with Ellen Hughes at 09:00 is cancelled."
    )
    for page in (scheduler, provider):
        expect(status_of(page, "Ellen Hughes")).to_have_text("Cancelled")
        expect(row(page, "Ellen Hughes")).to_have_class(re.compile(r"\bis-greyed\b"))
    menu.click()
    expect(scheduler.get_by_role("menu").get_by_role("menuitem")).to_have_text(["New task"])
    scheduler.keyboard.press("Escape")

    # Reinvite: the invitation goes again, and the row says so until it is out.
    before = len(smtp_server.mailbox.to("samir@example.org"))
    assert before >= 1
    smtp_server.mailbox.down = True
    try:
        menu_button(scheduler, "Samir Haddad").click()
        scheduler.get_by_role("menuitem", name="Reinvite").click()
        expect(scheduler.get_by_role("status").filter(has_text="again")).to_have_text(
            "Invitation sent again to everyone invited with Samir Haddad."
        )
        for page in (scheduler, provider):
            expect(row(page, "Samir Haddad").locator(".delivery")).to_have_text(
                "Not delivered yet to Samir Haddad"
            )
        assert_accessible(provider, "schedule, an invitation not delivered yet")
        screenshot(provider, "schedule-not-delivered-yet")
    finally:
        smtp_server.mailbox.down = False

    # Complete: attended another way.
    menu_button(scheduler, "Fatima Noor").click()
    scheduler.get_by_role("menuitem", name="Mark as complete").click()
    for page in (scheduler, provider):
        expect(status_of(page, "Fatima Noor")).to_have_text("Completed")
        expect(row(page, "Fatima Noor").locator(".dot")).to_be_hidden()

    # A task: refused empty (readably), then filed; the count shows on every schedule.
    menu_button(scheduler, "Samir Haddad").click()
    scheduler.get_by_role("menuitem", name="New task").click()
    task = scheduler.get_by_role("dialog", name="New task")
    expect(task.get_by_label("What needs doing")).to_be_focused()
    task.get_by_role("button", name="Add task").click()
    expect(task.get_by_role("alert")).to_have_text("Write what needs doing.")
    expect(task.get_by_label("What needs doing")).to_have_attribute("aria-invalid", "true")
    assert_accessible(scheduler, "schedule, the task form with an error")
    screenshot(scheduler, "schedule-task-form-error")
    task.get_by_label("What needs doing").fill("Call back about the scan results")
    task.get_by_role("button", name="Add task").click()
    expect(task).to_be_hidden()
    for page in (scheduler, provider):
        expect(row(page, "Samir Haddad").get_by_role("link", name="1 open task")).to_be_visible()

    # The task list, from the row's link.
    row(scheduler, "Samir Haddad").get_by_role("link", name="1 open task").click()
    expect(scheduler.get_by_role("heading", name="Tasks", exact=True)).to_be_visible()
    listed = scheduler.get_by_role("row").filter(has_text="Call back about the scan results")
    expect(listed).to_contain_text("Samir Haddad")
    expect(listed).to_contain_text(f"{day:%a} {day.day} {day:%b %Y}, 09:30")
    expect(listed).to_contain_text("Sam Scheduler")
    assert_accessible(scheduler, "task list")
    shoot_sizes(scheduler, "tasks")
    listed.get_by_role("button", name=re.compile(r"^Close")).click()
    expect(scheduler.get_by_role("status")).to_contain_text(
        "Task closed: “Call back about the scan results”"
    )
    expect(listed).to_have_count(0)
    expect(row(provider, "Samir Haddad").locator(".tasks-link")).to_be_hidden()
    scheduler.get_by_role("link", name="Show closed tasks too").click()
    expect(listed).to_contain_text("Closed by Sam Scheduler")
    assert_accessible(scheduler, "task list with closed tasks")
    assert samir["id"]


# 4. The menu by keyboard ----------------------------------------------------------------


def test_the_row_menu_and_the_task_form_work_from_the_keyboard(people, clinic):
    riverside = demo_clinic(clinic)
    day = july(4)
    book(clinic, riverside, "Hannah Cole", at(day, 14))
    scheduler = people.login("scheduler")
    open_schedule(scheduler, riverside, day)
    button = menu_button(scheduler, "Hannah Cole")
    expect(button).to_have_accessible_name("Actions for Hannah Cole, 14:00")

    def focused(name: str) -> None:
        expect(scheduler.get_by_role("menuitem", name=name)).to_be_focused()

    tab_to(scheduler, button)
    scheduler.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    focused("Cancel appointment")
    scheduler.keyboard.press("ArrowDown")
    focused("Reinvite")
    scheduler.keyboard.press("ArrowUp")
    scheduler.keyboard.press("ArrowUp")
    focused("New task")  # round the end
    scheduler.keyboard.press("Home")
    focused("Cancel appointment")
    scheduler.keyboard.press("End")
    focused("New task")
    scheduler.keyboard.press("m")
    focused("Mark as complete")
    scheduler.keyboard.press("Escape")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(scheduler.get_by_role("menu")).to_have_count(0)
    expect(button).to_be_focused()

    scheduler.keyboard.press("ArrowUp")
    focused("New task")
    scheduler.keyboard.press("Tab")  # leaving the menu closes it
    expect(button).to_have_attribute("aria-expanded", "false")
    button.focus()
    scheduler.keyboard.press("ArrowDown")
    focused("Cancel appointment")
    scheduler.keyboard.press("End")
    scheduler.keyboard.press("Enter")

    task = scheduler.get_by_role("dialog", name="New task")
    text = task.get_by_label("What needs doing")
    expect(text).to_be_focused()
    scheduler.keyboard.press("Escape")
    expect(task).to_be_hidden()
    expect(button).to_be_focused()

    scheduler.keyboard.press("ArrowUp")
    scheduler.keyboard.press("Enter")
    expect(text).to_be_focused()
    scheduler.keyboard.type("Send the leaflet on knee exercises")
    scheduler.keyboard.press("Tab")
    expect(task.get_by_role("button", name="Add task")).to_be_focused()
    scheduler.keyboard.press("Enter")
    expect(task).to_be_hidden()
    expect(button).to_be_focused()
    expect(row(scheduler, "Hannah Cole").get_by_role("link", name="1 open task")).to_be_visible()
    assert_accessible(scheduler, "schedule, a task filed from the keyboard")


# 5. Live versions on another day --------------------------------------------------------


def test_another_days_page_keeps_its_rows_true_when_events_come_late_or_go_missing(people, clinic):
    riverside = demo_clinic(clinic)
    day = july(5)
    book(clinic, riverside, "Oscar Wright", at(day, 9))
    scheduler = people.login("scheduler")
    open_schedule(scheduler, riverside, day)
    tap = tapped(scheduler)  # this day came from the API, at the stream's version then
    expect(status_of(scheduler, "Oscar Wright")).to_have_text("Scheduled")

    booked = book(clinic, riverside, "Isla Murray", at(day, 10))
    expect(status_of(scheduler, "Isla Murray")).to_have_text("Scheduled")
    booking = tap.last("visit_updated", "clinic:")
    clinic.api("okafor", "POST", f"/visits/{booked['id']}/cancel")
    expect(status_of(scheduler, "Isla Murray")).to_have_text("Cancelled")

    # The booking's event delivered again, late: older than what the page has, ignored.
    tap.replay(booking)
    tap.settle()
    expect(status_of(scheduler, "Isla Murray")).to_have_text("Cancelled")

    # A colleague completes a visit and this page misses the news: acting on the stale row
    # fails with a readable reason, and the row catches up.
    oscar = next(
        r for r in day_rows(clinic, riverside, day) if r["patient"]["name"] == "Oscar Wright"
    )
    # His invitation's own news (sent) has come first, so nothing else about him is due.
    expect(row(scheduler, "Oscar Wright").locator(".delivery")).to_have_text("")
    tap.settle()
    tap.drop_next("visit_updated", lambda r: r.get("id") == oscar["id"])
    clinic.api("okafor", "POST", f"/visits/{oscar['id']}/complete")
    tap.wait_until(lambda: tap.dropped, "the completion")
    expect(status_of(scheduler, "Oscar Wright")).to_have_text("Scheduled")
    menu_button(scheduler, "Oscar Wright").click()
    scheduler.get_by_role("menuitem", name="Cancel appointment").click()
    dialog = scheduler.get_by_role("dialog", name="Cancel this appointment?")
    dialog.get_by_role("button", name="Cancel appointment").click()
    expect(dialog.get_by_role("alert")).to_have_text("This visit is already completed.")
    expect(status_of(scheduler, "Oscar Wright")).to_have_text("Completed")
    assert_accessible(scheduler, "schedule, a stale action refused")
    dialog.get_by_role("button", name="Keep appointment").click()
    # Other days' news never lands here.
    book(clinic, riverside, "Jack Lewis", at(day + timedelta(days=1), 9))
    book(clinic, riverside, "Amara Obi", at(day, 11))
    expect(scheduler.locator("#rows .patient-name")).to_have_text(
        ["Oscar Wright", "Isla Murray", "Amara Obi"]
    )


# 6. Patients online, taken by a provider ------------------------------------------------


def test_a_waiting_patient_turns_the_row_green_until_a_provider_takes_them(
    people, clinic, live_server
):
    riverside = demo_clinic(clinic)
    soon = (datetime.now(LONDON) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    last_minute = datetime.combine(soon.date(), dtime(23, 59), tzinfo=LONDON)

    def later(minutes: int) -> datetime:  # the same day as `soon`, even just before midnight
        return min(soon + timedelta(minutes=minutes), last_minute)

    margaret_mobile, samuel_mobile = a_mobile(), a_mobile()
    margaret = book(
        clinic, riverside, "Margaret Okonkwo", soon,
        patient={"mobile": margaret_mobile, "mrn": "RC-10234"},
    )  # fmt: skip
    samuel = book(
        clinic, riverside, "Samuel Otieno", later(1), host="lindqvist",
        patient={"mobile": samuel_mobile},
    )  # fmt: skip
    book(
        clinic, riverside, "Tom Ellis", later(3), host="lindqvist",
        duration_minutes=30,
        participants=[{"name": "Ann Ellis", "email": "ann@example.org", "description": "Daughter"}],
    )  # fmt: skip
    priya = book(clinic, riverside, "Priya Shah", later(4))
    clinic.api("scheduler", "POST", f"/visits/{priya['id']}/cancel")
    george = book(clinic, riverside, "George Brown", later(5), host="lindqvist")
    clinic.api("scheduler", "POST", f"/visits/{george['id']}/complete")
    clinic.api("scheduler", "POST", f"/visits/{george['id']}/tasks", {"text": "Post the results"})

    # Only the booked visits: other tests leave the day's on-demand sessions behind.
    provider = people.login("okafor")
    open_schedule(provider, riverside, soon.date(), filter="invites")
    colleague = people.login("lindqvist")
    open_schedule(colleague, riverside, soon.date(), filter="invites")
    scheduler = people.login("scheduler")
    open_schedule(scheduler, riverside, soon.date(), filter="invites")
    expect(status_of(provider, "Margaret Okonkwo")).to_have_text("Scheduled")
    expect(row(provider, "Margaret Okonkwo").get_by_role("link")).to_have_count(0)

    # The patients open the links from their SMS: each waits in the waiting room.
    for name, mobile in (("Margaret Okonkwo", margaret_mobile), ("Samuel Otieno", samuel_mobile)):
        people.new_page(f"guest {name}").goto(guest_link(live_server, mobile))
        for page in (provider, colleague, scheduler):
            expect(status_of(page, name)).to_have_text("Patient online")
    waiting = row(provider, "Margaret Okonkwo").locator(".status-detail")
    expect(waiting).to_have_text(re.compile(r"^waiting 0:\d\d$"))
    first_reading = waiting.text_content()
    expect(waiting).not_to_have_text(first_reading)  # the clock counts up
    # The host enters; a colleague takes the patient; a scheduler only watches.
    expect(row(provider, "Margaret Okonkwo").get_by_role("link", name="Enter")).to_be_visible()
    expect(
        row(colleague, "Margaret Okonkwo").get_by_role("link", name="Take patient")
    ).to_be_visible()
    expect(row(scheduler, "Margaret Okonkwo").get_by_role("link")).to_have_count(0)
    assert_accessible(provider, "schedule, patients online")

    # A click on the row itself takes the patient into the call.
    row(colleague, "Margaret Okonkwo").locator(".patient-name").click()
    expect(colleague).to_have_url(re.compile(rf"/visits/{margaret['id']}$"))
    for page in (provider, scheduler):
        expect(status_of(page, "Margaret Okonkwo")).to_have_text("Session running")
        running = row(page, "Margaret Okonkwo")
        expect(running.locator(".status-detail")).to_have_text("with Dr. Ben Lindqvist")
        expect(running).to_have_class(re.compile(r"\bis-greyed\b"))
        expect(running.get_by_role("link")).to_have_count(0)  # nobody else takes them
    expect(row(provider, "Samuel Otieno").get_by_role("link", name="Take patient")).to_be_visible()
    expect(row(provider, "Tom Ellis").locator(".status-label")).to_have_text("Scheduled")
    expect(row(provider, "Priya Shah").locator(".status-label")).to_have_text("Cancelled")
    expect(row(provider, "George Brown").locator(".status-label")).to_have_text("Completed")

    shots = shoot_sizes(provider, "schedule-every-status")
    (ARTIFACTS / "readme-schedule.png").write_bytes(shots["1280"].read_bytes())
    shoot_sizes(scheduler, "schedule-every-status-scheduler")

    # Leave nothing running for the tests after this one.
    colleague.close()
    clinic.api("lindqvist", "POST", f"/visits/{margaret['id']}/end")
    clinic.api("lindqvist", "POST", f"/visits/{samuel['id']}/end")
    for name in ("Margaret Okonkwo", "Samuel Otieno"):
        expect(status_of(provider, name)).to_have_text("Completed")
        people.pages[f"guest {name}"].close()
