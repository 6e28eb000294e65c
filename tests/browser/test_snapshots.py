"""A camera snapshot, only with the patient's consent, as the provider and the patient see it.

In a booked visit's call the provider asks for a snapshot from the People panel's menu of
the patient. The patient's page asks them (Allow, or Don't allow; Escape is Don't allow).
Allowed, their page takes one frame of their own camera and sends it; the provider sees
the picture in the People panel, to view or download: a real frame of the patient's
(fake) camera, at the camera's size. Not allowed, the provider is told. A camera switched
off for the call gives the one picture allowed, and stays off for the call.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import VIEWPORT, assert_accessible, assert_in_call, screenshot
from tests.browser.test_chat import PROVIDER, in_a_call
from tests.browser.test_people import KIOSK, PATIENT, PHONE, booker, end_all

pytestmark = pytest.mark.browser

CONSENT = "Share a picture from your camera?"
# The image as the provider's browser decodes it: its size, and how much it varies (a blank
# or black frame does not). Drawn small to count its colours.
DECODE = """async (url) => {
  const blob = await (await fetch(url)).blob();
  const bitmap = await createImageBitmap(blob);
  const canvas = new OffscreenCanvas(64, 48);
  const context = canvas.getContext("2d");
  context.drawImage(bitmap, 0, 0, 64, 48);
  const { data } = context.getImageData(0, 0, 64, 48);
  const greens = [];
  let red = 0, green = 0, blue = 0;
  for (let i = 0; i < data.length; i += 4) {
    red += data[i]; green += data[i + 1]; blue += data[i + 2];
    greens.push(data[i + 1]);
  }
  const n = data.length / 4;
  const mean = green / n;
  const spread = Math.sqrt(greens.reduce((sum, g) => sum + (g - mean) ** 2, 0) / n);
  return {
    type: blob.type, width: bitmap.width, height: bitmap.height,
    red: red / n, green: mean, blue: blue / n, spread,
  };
}"""
CAMERA_ON = """() => document.querySelector("#local-video").srcObject
  .getVideoTracks().map((track) => track.enabled)"""
CAMERA_SIZE = """() => {
  const { width, height } = document.querySelector("#local-video").srcObject
    .getVideoTracks()[0].getSettings();
  return { width, height };
}"""


@pytest.fixture
def book(clinic):
    """Booked visits (as test_people's) that do not outlive their test."""
    booked: list[int] = []
    yield booker(clinic, booked)
    end_all(clinic, booked)


def ask_for_snapshot(host: Page) -> None:
    """From the People panel: the patient's menu, Request snapshot."""
    people_button = host.get_by_role("button", name="People", exact=True)
    if people_button.get_attribute("aria-expanded") != "true":
        people_button.click()
    panel = host.get_by_role("complementary", name="Session information")
    panel.get_by_role("button", name=f"Actions for {PATIENT}").click()
    host.get_by_role("menuitem", name="Request snapshot").click()
    expect(panel.get_by_role("status")).to_have_text(
        f"{PATIENT} is asked to share a picture from their camera."
    )


def snapshots(host: Page):
    return host.locator("#snapshot-list > li")


def test_allowed_the_snapshot_is_a_real_frame_of_the_patients_camera_in_the_people_panel(
    book, people, smtp_server
):
    _, host, patient = in_a_call(book, people, smtp_server)
    ask_for_snapshot(host)
    expect(snapshots(host)).to_have_count(1)
    expect(snapshots(host).first).to_contain_text(f"Waiting for {PATIENT} to allow a snapshot…")

    # The patient is asked: who asks, what is taken; the safe answer has the focus.
    consent = patient.get_by_role("dialog", name=CONSENT)
    expect(consent).to_be_visible()
    expect(consent).to_have_accessible_description(
        f"{PROVIDER} asks for one still picture from your camera, to keep with your visit."
        " Only your camera is captured, once, and only if you allow it."
    )
    expect(consent.get_by_role("button", name="Don't allow")).to_be_focused()
    for size in (VIEWPORT, PHONE, KIOSK):
        patient.set_viewport_size(size)
        patient.wait_for_timeout(300)
        screenshot(patient, f"snapshot-consent-{size['width']}x{size['height']}")
        assert_accessible(patient, f"snapshot consent at {size['width']}x{size['height']}")
    patient.set_viewport_size(VIEWPORT)
    camera = patient.evaluate(CAMERA_SIZE)

    consent.get_by_role("button", name="Allow", exact=True).click()
    expect(consent).to_be_hidden()
    shared = f"You shared one picture from your camera with {PROVIDER}."
    expect(patient.locator("#room-notice")).to_contain_text(shared)
    expect(patient.locator("#room-announce")).to_have_text(shared)

    # The provider has the picture in the panel, to view or to download.
    item = snapshots(host).first
    image = item.get_by_role(
        "img", name=re.compile(rf"^Snapshot of {PATIENT}'s camera, \d\d:\d\d$")
    )
    expect(image).to_be_visible()
    host.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    expect(host.locator("#room-announce")).to_have_text(
        f"The snapshot of {PATIENT}'s camera is saved. It is under Snapshots in the People panel."
    )
    view = item.get_by_role("link", name=re.compile("^View the snapshot"))
    expect(view).to_have_attribute("target", "_blank")
    download_link = item.get_by_role("link", name=f"Download the snapshot of {PATIENT}")
    expect(download_link).to_have_attribute("download", "")
    url = image.get_attribute("src")

    # It is a frame of the patient's camera: the camera's size, and not blank or black
    # (the fake camera draws bright green shapes on a darker green).
    seen = host.evaluate(DECODE, url)
    assert seen["type"] == "image/png", seen
    assert (seen["width"], seen["height"]) == (camera["width"], camera["height"]), (seen, camera)
    assert seen["green"] > seen["red"] + 40 and seen["green"] > seen["blue"] + 40, seen
    assert seen["spread"] > 10, seen
    with host.expect_download() as download:
        download_link.click()
    assert re.fullmatch(r"snapshot-visit-\d+-[\d-]+\.png", download.value.suggested_filename)
    kept = host.request.get(url)
    assert download.value.path().read_bytes() == kept.body()
    # The PNG's own header says the same size.
    size = camera["width"].to_bytes(4, "big") + camera["height"].to_bytes(4, "big")
    assert kept.body()[16:24] == size
    assert_in_call(host, PATIENT)  # downloading it did not leave the call

    for size in (VIEWPORT, PHONE, KIOSK):
        host.set_viewport_size(size)
        host.wait_for_timeout(300)
        item.scroll_into_view_if_needed()
        screenshot(host, f"snapshot-saved-{size['width']}x{size['height']}")
        assert_accessible(host, f"saved snapshot at {size['width']}x{size['height']}")
    host.set_viewport_size(VIEWPORT)

    # One side panel at a time: the chat takes the People panel's place, and back.
    host.get_by_role("button", name="Chat", exact=True).click()
    expect(host.locator("#chat-panel")).to_be_visible()
    expect(host.locator("#people-panel")).to_be_hidden()
    host.get_by_role("button", name="People", exact=True).click()
    expect(host.locator("#chat-panel")).to_be_hidden()
    expect(snapshots(host)).to_have_count(1)


def test_not_allowed_the_provider_is_told_and_a_camera_off_for_the_call_stays_off(
    book, people, smtp_server
):
    _, host, patient = in_a_call(book, people, smtp_server)

    # Escape is "Don't allow".
    ask_for_snapshot(host)
    consent = patient.get_by_role("dialog", name=CONSENT)
    expect(consent).to_be_visible()
    patient.keyboard.press("Escape")
    expect(consent).to_be_hidden()
    expect(patient.locator("#room-notice")).to_contain_text(
        f"You did not share a picture. {PROVIDER} is told."
    )
    expect(snapshots(host).first).to_contain_text(f"{PATIENT} did not allow a snapshot.")
    expect(host.locator("#room-announce")).to_have_text(f"{PATIENT} did not allow a snapshot.")
    screenshot(host, "snapshot-denied-1280x800")
    assert_accessible(host, "snapshot denied")

    # With the camera switched off for the call, the patient is told, and allowing takes
    # the one picture while the call still gets none.
    patient.locator("#room-notice-close").click()
    patient.get_by_role("button", name="Camera off").click()
    ask_for_snapshot(host)
    expect(consent).to_be_visible()
    expect(consent).to_have_accessible_description(
        re.compile(r"Your camera is off in the call: it takes this one picture and stays off\.$")
    )
    assert_accessible(patient, "snapshot consent with the camera off")
    screenshot(patient, "snapshot-camera-off-1280x800")
    consent.get_by_role("button", name="Allow", exact=True).click()
    expect(snapshots(host).first.get_by_role("img")).to_be_visible()
    image = snapshots(host).first.get_by_role("img").get_attribute("src")
    seen = host.evaluate(DECODE, image)
    assert seen["spread"] > 10 and seen["green"] > seen["red"] + 40, seen  # a picture, not black
    assert patient.evaluate(CAMERA_ON) == [False]  # still off for the call
    expect(patient.get_by_role("button", name="Camera on")).to_have_attribute(
        "aria-pressed", "true"
    )

    # The provider's page, reloaded, lists both answers (newest first).
    host.reload()
    assert_in_call(host, PATIENT)
    host.get_by_role("button", name="People", exact=True).click()
    expect(snapshots(host)).to_have_count(2)
    expect(snapshots(host).first.get_by_role("img")).to_be_visible()
    expect(snapshots(host).last).to_contain_text(f"{PATIENT} did not allow a snapshot.")
