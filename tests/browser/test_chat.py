"""The call's chat, its files and the provider's private notes, as people see them.

A booked visit: the patient joins from the link the live server emails, the provider
enters the room, both are in the call. They write to each other live; whoever has the
chat closed sees a flashing red dot on its button (a steady one when they ask for less
motion) and hears it from their screen reader, until they open it; a reload brings the
chat back as it was. A file goes from the patient to the provider byte for byte, and a
kind the clinic does not take is refused in words. The provider's private notes are
theirs alone: in the room, after a reload, on the clinic schedule's row menu and on their
dashboard, and never on the patient's page.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import VIEWPORT, assert_accessible, assert_in_call, screenshot
from tests.browser.test_people import (
    KIOSK,
    PATIENT,
    PHONE,
    booker,
    end_all,
    enter_room,
    link_in,
    open_link,
)

pytestmark = pytest.mark.browser

PROVIDER = "Dr. Ada Okafor"
UNREAD_DOT = "#chat-toggle .chat-dot"
TIME = r"\d\d:\d\d"


@pytest.fixture
def book(clinic):
    """Booked visits (as test_people's) that do not outlive their test."""
    booked: list[int] = []
    yield booker(clinic, booked)
    end_all(clinic, booked)


def in_a_call(book, people, smtp_server) -> tuple[int, Page, Page]:
    """A booked visit with its patient (from the emailed link) and its provider in the call."""
    visit = book(3)
    patient = open_link(people, "patient", link_in(smtp_server, visit.email))
    # In the waiting room there is nobody to write to yet.
    expect(patient.locator("#chat-toggle")).to_be_hidden()
    host = enter_room(people, visit.id)
    assert_in_call(host, PATIENT)
    assert_in_call(patient, PROVIDER)
    return visit.id, host, patient


def chat_button(page: Page):
    return page.locator("#chat-toggle")


def open_chat(page: Page):
    button = chat_button(page)
    expect(button).to_have_attribute("aria-expanded", "false")
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    panel = page.locator("#chat-panel")
    expect(panel).to_be_visible()
    return panel


def messages(page: Page):
    return page.locator("#chat-log > li")


def write(page: Page, text: str) -> None:
    box = page.locator("#chat-text")
    box.fill(text)
    box.press("Enter")


def dot_animation(page: Page) -> str:
    return page.locator(UNREAD_DOT).evaluate("(dot) => getComputedStyle(dot).animationName")


def test_provider_and_patient_chat_live_with_an_unread_dot_until_opened_and_after_a_reload(
    book, people, smtp_server
):
    _, host, patient = in_a_call(book, people, smtp_server)
    expect(chat_button(patient)).to_have_accessible_name("Chat")
    expect(patient.locator(UNREAD_DOT)).to_be_hidden()

    # The provider opens the chat: the box to write in has the focus, and nothing is there yet.
    panel = open_chat(host)
    expect(host.get_by_role("complementary", name="Chat and private notes")).to_be_visible()
    expect(host.get_by_label("Message", exact=True)).to_be_focused()
    expect(panel.get_by_text("No messages yet.")).to_be_visible()
    write(host, "Good morning, Jo. Can you hear me?")
    expect(messages(host)).to_have_count(1)
    mine = messages(host).first
    expect(mine).to_have_class(re.compile(r"\bis-mine\b"))
    expect(mine.locator(".chat-meta")).to_have_text(re.compile(rf"^You {TIME}$"))
    expect(host.locator("#chat-text")).to_have_value("")

    # The patient has the chat closed: a flashing red dot, the button says how many, and a
    # screen reader hears who wrote what.
    dot = patient.locator(UNREAD_DOT)
    expect(dot).to_be_visible()
    expect(chat_button(patient)).to_have_accessible_name("Chat (1 unread)")
    expect(patient.locator("#room-announce")).to_have_text(
        f"New chat message from {PROVIDER}: Good morning, Jo. Can you hear me?"
    )
    assert dot_animation(patient) == "chat-dot-flash"
    assert dot.evaluate("(d) => getComputedStyle(d).backgroundColor") == "rgb(220, 38, 38)"
    assert_in_call(patient, PROVIDER)  # the call goes on meanwhile
    for size in (VIEWPORT, PHONE, KIOSK):
        for page, who in ((host, "provider-chat-open"), (patient, "patient-chat-dot")):
            page.set_viewport_size(size)
            page.wait_for_timeout(300)  # the videos take the new size
            screenshot(page, f"chat-{who}-{size['width']}x{size['height']}")
            assert_accessible(page, f"{who} at {size['width']}x{size['height']}")
    for page in (host, patient):
        page.set_viewport_size(VIEWPORT)

    # Opened, the dot goes; the provider's message is there, with who and when.
    patient_panel = open_chat(patient)
    expect(patient.get_by_role("complementary", name="Chat", exact=True)).to_be_visible()
    expect(dot).to_be_hidden()
    expect(chat_button(patient)).to_have_accessible_name("Chat")
    theirs = messages(patient).first
    expect(theirs).not_to_have_class(re.compile(r"\bis-mine\b"))
    expect(theirs.locator(".chat-meta")).to_have_text(re.compile(rf"^{PROVIDER} {TIME}$"))
    expect(theirs.locator(".chat-text")).to_have_text("Good morning, Jo. Can you hear me?")
    expect(patient_panel.get_by_role("tab")).to_have_count(0)  # no private notes for a guest

    # Nothing to send is said so; Shift+Enter starts a new line, Enter sends.
    box = patient.get_by_label("Message", exact=True)
    box.press("Enter")
    expect(patient_panel.get_by_role("alert")).to_have_text("Write a message first.")
    box.fill("Yes, loud and clear.")
    box.press("Shift+Enter")
    box.press_sequentially("The dressing came off this morning.")
    expect(box).to_have_value("Yes, loud and clear.\nThe dressing came off this morning.")
    box.press("Enter")
    expect(patient_panel.get_by_role("alert")).to_be_hidden()
    expect(messages(patient)).to_have_count(2)
    # The provider, with the chat open, reads it at once: no dot for what is in view.
    expect(messages(host).last.locator(".chat-text")).to_have_text(
        "Yes, loud and clear.\nThe dressing came off this morning."
    )
    expect(host.locator(UNREAD_DOT)).to_be_hidden()
    patient.set_viewport_size(PHONE)  # the chat as a sheet over the call
    screenshot(patient, "chat-patient-chat-open-390x844")
    assert_accessible(patient, "the patient's chat on a phone")
    patient.set_viewport_size(VIEWPORT)

    # The provider closes the chat (Escape: the focus goes back to its button); the patient
    # writes again. Asking for less motion, the dot stays still.
    host.locator("#chat-text").press("Escape")
    expect(panel).to_be_hidden()
    expect(chat_button(host)).to_be_focused()
    host.emulate_media(reduced_motion="reduce")
    write(patient, "Should I send you a photo of it?")
    expect(chat_button(host)).to_have_accessible_name("Chat (1 unread)")
    assert dot_animation(host) == "none"

    # Reloaded, each page has the chat as it was, each message once; the provider has
    # still not read the last one, and the patient has read them all.
    for page in (host, patient):
        page.reload()
    assert_in_call(host, PATIENT)
    assert_in_call(patient, PROVIDER)
    for page in (host, patient):
        expect(page.locator("html")).to_have_attribute("data-chat", "loaded")
    expect(chat_button(host)).to_have_accessible_name("Chat (1 unread)")
    expect(host.locator(UNREAD_DOT)).to_be_visible()
    expect(chat_button(patient)).to_have_accessible_name("Chat")
    expect(patient.locator(UNREAD_DOT)).to_be_hidden()
    open_chat(host)
    expect(messages(host).locator(".chat-text")).to_have_text(
        [
            "Good morning, Jo. Can you hear me?",
            "Yes, loud and clear.\nThe dressing came off this morning.",
            "Should I send you a photo of it?",
        ]
    )
    expect(host.locator(UNREAD_DOT)).to_be_hidden()
    open_chat(patient)
    expect(messages(patient)).to_have_count(3)
    expect(messages(patient).locator(".chat-meta .chat-author")).to_have_text(
        [PROVIDER, "You", "You"]
    )


def png(width: int = 24, height: int = 16) -> bytes:
    """A real PNG (a small gradient), made here so its bytes are known."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    pixel = lambda x, y: bytes((x * 10 % 256, y * 15 % 256, 120))  # noqa: E731
    rows = b"".join(b"\x00" + b"".join(pixel(x, y) for x in range(width)) for y in range(height))
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x02\x00\x00\x00"
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# A zip archive (what a program would come in) named like a letter: told by its content.
NOT_A_PDF = b"PK\x03\x04" + b"\x14\x00\x00\x00\x08\x00" + bytes(40)
REFUSED = "This kind of file cannot be sent here: send a PDF, PNG, JPEG, GIF or WebP file."


def test_a_photo_from_the_patient_reaches_the_provider_byte_for_byte_and_a_program_is_refused(
    book, people, smtp_server, tmp_path: Path
):
    _, host, patient = in_a_call(book, people, smtp_server)
    photo = png()
    panel = open_chat(patient)

    # A file of a kind the clinic does not take is refused, in words, from its content.
    patient.locator("#chat-file").set_input_files(
        {"name": "letter.pdf", "mimeType": "application/pdf", "buffer": NOT_A_PDF}
    )
    expect(panel.locator("#chat-chosen")).to_contain_text("letter.pdf (50 bytes)")
    panel.get_by_role("button", name="Send").click()
    expect(panel.get_by_role("alert")).to_have_text(REFUSED)
    expect(messages(patient)).to_have_count(0)
    assert_accessible(patient, "a refused file")
    screenshot(patient, "chat-file-refused-1280x800")
    panel.get_by_role("button", name="Remove the file").click()
    expect(panel.locator("#chat-chosen")).to_be_hidden()
    expect(patient.get_by_label("Attach file")).to_be_focused()

    # The photo, with a word: while it goes, the form is busy and says so.
    held = []
    patient.route("**/attachments", lambda route: held.append(route))
    patient.get_by_label("Attach file").set_input_files(
        {"name": "wound.png", "mimeType": "image/png", "buffer": photo}
    )
    expect(panel.get_by_role("alert")).to_be_hidden()
    expect(panel.locator("#chat-chosen")).to_contain_text(f"wound.png ({len(photo)} bytes)")
    patient.locator("#chat-text").fill("Here is the photo.")
    patient.locator("#chat-text").press("Enter")
    sending = panel.locator("#chat-sending")
    expect(sending).to_be_visible()
    expect(sending).to_contain_text("Sending wound.png…")
    expect(panel.get_by_role("button", name="Send")).to_have_attribute("aria-disabled", "true")
    screenshot(patient, "chat-file-sending-1280x800")
    patient.wait_for_function("() => true")  # let the held request be recorded
    assert len(held) == 1
    held[0].continue_()
    expect(sending).to_be_hidden()
    sent = messages(patient).first
    expect(sent.locator(".chat-text")).to_have_text("Here is the photo.")
    expect(sent.locator(".chat-attachment")).to_have_text(f"Download wound.png{len(photo)} bytes")
    expect(panel.locator("#chat-chosen")).to_be_hidden()
    patient.unroute("**/attachments")

    # The provider, chat closed, is told; opened, the file downloads as it was sent.
    expect(chat_button(host)).to_have_accessible_name("Chat (1 unread)")
    expect(host.locator("#room-announce")).to_have_text(
        f"New chat message from {PATIENT}: Here is the photo."
    )
    open_chat(host)
    link = messages(host).first.get_by_role("link", name="Download wound.png")
    expect(link).to_have_attribute("download", "wound.png")
    expect(messages(host).first.locator(".chat-size")).to_have_text(f"{len(photo)} bytes")
    screenshot(host, "chat-file-received-1280x800")
    with host.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "wound.png"
    saved = tmp_path / "wound.png"
    download.value.save_as(saved)
    assert saved.read_bytes() == photo
    # Downloading a file of the visit is not leaving its call.
    assert_in_call(host, PATIENT)
    assert_in_call(patient, PROVIDER)


def test_private_notes_are_the_providers_alone_in_the_room_after_a_reload_and_later(
    book, people, clinic, smtp_server
):
    visit_id, host, patient = in_a_call(book, people, smtp_server)
    other = book(60)  # another visit today, with no notes

    # Private notes: a tab beside the chat, for the provider only.
    open_chat(host)
    tab = host.get_by_role("tab", name="Private notes")
    expect(host.get_by_role("tab", name="Chat")).to_have_attribute("aria-selected", "true")
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    notes_pane = host.get_by_role("tabpanel", name="Private notes")
    expect(notes_pane).to_contain_text("Only you can read your notes")
    expect(notes_pane.get_by_text("No notes yet.")).to_be_visible()
    box = notes_pane.get_by_label("New note")
    box.click()
    notes_pane.get_by_role("button", name="Save note").click()
    expect(notes_pane.get_by_role("alert")).to_have_text("Write the note first.")
    box.fill("Wound 2 cm, clean edges.\nReview in a week.")
    notes_pane.get_by_role("button", name="Save note").click()
    expect(notes_pane.get_by_role("alert")).to_be_hidden()
    box.fill("Anxious about the dressing.")
    box.press("Control+Enter")
    kept = host.locator("#note-list > li")
    expect(kept.locator(".chat-text")).to_have_text(
        ["Wound 2 cm, clean edges.\nReview in a week.", "Anxious about the dressing."]
    )
    expect(kept.locator("time").first).to_have_text(re.compile(rf"{TIME}$"))
    expect(box).to_have_value("")
    expect(box).to_be_focused()
    expect(host.locator("#room-announce")).to_have_text("Note saved. Only you can read it.")
    # Arrow keys move between the tabs, as tabs do.
    tab.press("ArrowLeft")
    expect(host.get_by_role("tab", name="Chat")).to_be_focused()
    expect(host.get_by_role("tab", name="Chat")).to_have_attribute("aria-selected", "true")
    expect(notes_pane).to_be_hidden()
    host.get_by_role("tab", name="Chat").press("ArrowRight")
    expect(notes_pane).to_be_visible()
    for size in (VIEWPORT, PHONE, KIOSK):
        host.set_viewport_size(size)
        host.wait_for_timeout(300)
        screenshot(host, f"chat-private-notes-{size['width']}x{size['height']}")
        assert_accessible(host, f"private notes at {size['width']}x{size['height']}")
    host.set_viewport_size(VIEWPORT)

    # Reloaded: the notes are there.
    host.reload()
    assert_in_call(host, PATIENT)
    open_chat(host)
    host.get_by_role("tab", name="Private notes").click()
    expect(host.locator("#note-list > li .chat-text")).to_have_count(2)

    # The patient sees no notes, no tab for them, and nothing of what they say.
    open_chat(patient)
    expect(patient.get_by_role("tab")).to_have_count(0)
    expect(patient.locator("#notes-pane, #note-list")).to_have_count(0)
    assert "Anxious" not in patient.content()
    assert "Wound 2 cm" not in patient.content()

    # Later, from the clinic schedule: "Private notes" on this visit's row only.
    schedule = host.context.new_page()
    people.pages["okafor-schedule"] = schedule
    schedule.goto("/schedule")
    expect(schedule.locator("html")).to_have_attribute("data-live", "connected")
    row = schedule.locator(f'#rows > tr[data-key="{visit_id}"]')
    row.get_by_role("button", name=re.compile(r"^Actions for")).click()
    item = schedule.get_by_role("menuitem", name="Private notes")
    expect(item).to_be_visible()
    schedule.keyboard.press("Escape")
    empty_row = schedule.locator(f'#rows > tr[data-key="{other.id}"]')
    empty_row.get_by_role("button", name=re.compile(r"^Actions for")).click()
    expect(schedule.get_by_role("menuitem", name="New task")).to_be_visible()
    expect(schedule.get_by_role("menuitem", name="Private notes")).to_have_count(0)
    schedule.keyboard.press("Escape")
    row.get_by_role("button", name=re.compile(r"^Actions for")).click()
    schedule.get_by_role("menuitem", name="Private notes").click()
    dialog = schedule.get_by_role("dialog", name="Your private notes")
    expect(dialog).to_contain_text(f"The visit with {PATIENT}")
    expect(dialog.locator("#notes-dialog-list > li .chat-text")).to_have_text(
        ["Wound 2 cm, clean edges.\nReview in a week.", "Anxious about the dressing."]
    )
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()
    assert_accessible(schedule, "private notes from the schedule")
    screenshot(schedule, "schedule-private-notes-1280x800")
    schedule.keyboard.press("Escape")
    expect(row.get_by_role("button", name=re.compile(r"^Actions for"))).to_be_focused()

    # A note written elsewhere while the schedule is open (here through the API): the row's
    # menu offers it as it opens.
    clinic.api("okafor", "POST", f"/visits/{other.id}/notes", {"text": "Needs an interpreter."})
    empty_row.get_by_role("button", name=re.compile(r"^Actions for")).click()
    expect(schedule.get_by_role("menuitem", name="Private notes")).to_be_visible()
    schedule.keyboard.press("Escape")

    # And from the provider's dashboard, after the visit.
    host.get_by_role("button", name="Hang up").click()
    host.get_by_role("button", name="End consultation for all").click()
    host.get_by_role("dialog", name="End the consultation?").get_by_role(
        "button", name="End for everyone"
    ).click()
    expect(host).to_have_url(re.compile(r"/schedule$"))
    dashboard = schedule
    dashboard.goto("/provider")
    expect(dashboard.locator("html")).to_have_attribute("data-live", "connected")
    cards = dashboard.locator("#noted > li")
    # The latest written first: the other visit's note came last.
    expect(cards).to_have_count(2)
    expect(cards.first).to_have_attribute("data-key", str(other.id))
    expect(cards.first).to_contain_text("1 note")
    card = cards.last
    expect(card).to_have_attribute("data-key", str(visit_id))
    expect(card).to_contain_text(PATIENT)
    expect(card).to_contain_text("2 notes")
    card.get_by_role(
        "button", name=re.compile(rf"^Read notes on the session with {PATIENT}")
    ).click()
    dialog = dashboard.get_by_role("dialog", name="Your private notes")
    expect(dialog.locator("#notes-dialog-list > li")).to_have_count(2)
    assert_accessible(dashboard, "private notes from the dashboard")
    screenshot(dashboard, "provider-private-notes-1280x800")
    dialog.get_by_role("button", name="Close").click()
    expect(card.get_by_role("button", name=re.compile("^Read notes"))).to_be_focused()
