"""The call's own media controls and hanging up, as the people in the call see them.

What one page sends (app/static/js/media.js) is checked where it lands: on the other
person's page, in the frames their browser decodes. A shared screen (a tab titled "Lab
results", red) replaces the fake camera's green picture and stopping brings the camera
back; the blur makes the received picture clearly less sharp; another camera (the third
fake camera has yellow corners) replaces the first for everyone and is remembered after a
reload.
A host's Hang up offers to leave the session (the patient waits again), to end it for
everyone (after a confirmation), and, with a colleague in the call, to hand the session to
them first (app/static/js/hangup.js).

The clinician's pages run in a Chromium of their own ("the desk"): three fake cameras
(the second is a depth camera, whose 16-bit grey frames WebRTC does not send), and
instead of the shared browser's fake media UI (whose fake screen is the camera's green
picture again) a real tab capture, picked by the tab's title as a person would pick it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    EMAILS,
    FAKE_DEVICES,
    NAMES,
    VIEWPORT,
    People,
    assert_accessible,
    assert_audio_arriving,
    assert_in_call,
    assert_video_playing,
    screenshot,
    wait_live,
)
from tests.browser.test_people import (
    KIOSK,
    PATIENT,
    PHONE,
    WAITING,
    booker,
    end_all,
    enter_room,
    link_in,
    panel_of,
)
from tests.browser.test_snapshots import CONSENT, DECODE, ask_for_snapshot, snapshots

pytestmark = pytest.mark.browser

STATION = NAMES["station"]
SHARED_TAB = "Lab results"
# A tab only sends frames when it changes: a clock keeps this one changing, as a screen
# with someone working on it does.
LAB_RESULTS = f"""<!doctype html><title>{SHARED_TAB}</title>
<body style="margin:0;background:#c81e1e;color:#fff;font:bold 64px sans-serif;padding:48px">
<h1 style="margin:0">{SHARED_TAB}</h1><p>Haemoglobin 13.2 g/dL</p><p id="clock"></p>
<script>setInterval(() => {{ clock.textContent = new Date().toISOString(); }}, 100);</script>
</body>"""

# One decoded frame of a video: its mean colour, and how sharp its top fifth is (the mean
# absolute difference in brightness between neighbouring pixels: a blur lowers it). The
# fake cameras write the time there, in large digits; the blur's model takes the shape in
# the middle for a person and keeps it sharp, but the time is background.
FRAME = """(selector) => {
  const video = document.querySelector(selector);
  if (!video || !video.videoWidth || video.readyState < 2) return null;
  // At one size whatever size arrives (the encoder may scale it), so frames compare.
  const width = 320, height = Math.round((320 * video.videoHeight) / video.videoWidth);
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(video, 0, 0, width, height);
  const { data } = context.getImageData(0, 0, width, height);
  const luma = (i) => 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
  const top = Math.round(height / 5);
  const corner = { red: 0, green: 0, n: 0 };
  let red = 0, green = 0, blue = 0, edges = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      red += data[i]; green += data[i + 1]; blue += data[i + 2];
      if (x < width / 25 && y < height / 18) {
        corner.red += data[i]; corner.green += data[i + 1]; corner.n += 1;
      }
      if (y >= top || x === 0 || y === 0) continue;
      edges += Math.abs(luma(i) - luma(i - 4)) + Math.abs(luma(i) - luma(i - 4 * width));
    }
  }
  const n = width * height;
  return { width: video.videoWidth, height: video.videoHeight, red: red / n, green: green / n,
           blue: blue / n, sharpness: edges / (2 * (width - 1) * (top - 1)),
           corner: { red: corner.red / corner.n, green: corner.green / corner.n } };
}"""
# The first fake camera: green, with green squares in its corners.
GREEN = "frame.green > frame.red + 60 && frame.green > frame.blue + 60 && frame.corner.red < 15"
RED = "frame.red > frame.green + 80 && frame.red > frame.blue + 80"  # the shared tab
# The third fake camera (an MJPEG one, as many USB webcams are) draws no time and no shape,
# and yellow squares in its corners where the first has green ones.
YELLOW_CORNER = "frame.corner.red > 30 && frame.corner.green > 30"
PREVIEW_TRACK = "() => document.querySelector('#local-video').srcObject.getVideoTracks()[0]?.label"


def frame(page: Page, selector: str = "#remote-video") -> dict:
    seen = page.evaluate(FRAME, selector)
    assert seen is not None, f"no picture in {selector}"
    return seen


def wait_for_frame(
    page: Page, condition: str, selector: str = "#remote-video", timeout: int = 20_000
) -> dict:
    """Until a decoded frame of `selector` meets `condition` (JS over `frame`)."""
    page.wait_for_function(
        f"(selector) => {{ const frame = ({FRAME})(selector); return frame && ({condition}); }}",
        arg=selector,
        timeout=timeout,
        polling=250,
    )
    return frame(page, selector)


def sharpness(page: Page, selector: str = "#remote-video", samples: int = 5) -> float:
    """The median sharpness of a few frames (the fake camera's picture moves)."""
    values = []
    for _ in range(samples):
        values.append(frame(page, selector)["sharpness"])
        page.wait_for_timeout(200)
    return sorted(values)[len(values) // 2]


@pytest.fixture(scope="module")
def desk_browser(browser: Browser) -> Iterator[Browser]:
    """The clinician's Chromium: three fake cameras, and a real tab capture for the screen."""
    args = [
        a
        for a in CHROMIUM_ARGS
        if a != "--use-fake-ui-for-media-stream"
        and not a.startswith("--use-fake-device-for-media-stream")
    ]
    args += [
        f"--use-fake-device-for-media-stream=device-count=3,{FAKE_DEVICES}",
        f"--auto-select-tab-capture-source-by-title={SHARED_TAB}",
    ]
    desk = browser.browser_type.launch(executable_path=CHROMIUM, args=args)
    yield desk
    desk.close()


@pytest.fixture
def desk(desk_browser, live_server, people) -> People:
    """People signed in on the desk browser; their pages are `people`'s (checked for
    accessibility when the test passes, photographed when it fails, closed after it)."""
    crowd = People(desk_browser, live_server)
    crowd.contexts = people.contexts
    crowd.pages = people.pages
    return crowd


def on_demand_call(clinic, host_crowd: People, people: People) -> tuple[int, Page, Page]:
    """Riverside Station's accepted session with Dr. Ada Okafor, both in the call."""
    visit = clinic.accepted_visit("okafor", "General consultation")
    station = people.login("station")
    station.goto(f"/visits/{visit}")
    expect(station.get_by_role("heading", name="You are in the waiting room")).to_be_visible()
    host = host_crowd.login("okafor")
    host.goto(f"/visits/{visit}")
    assert_in_call(host, STATION)
    assert_in_call(station, NAMES["okafor"])
    return visit, host, station


def open_more(page: Page):
    more = page.get_by_role("button", name="More", exact=True)
    more.click()
    expect(more).to_have_attribute("aria-expanded", "true")
    menu = page.get_by_role("dialog", name="Camera, microphone and background")
    expect(menu).to_be_visible()
    return menu


def assert_controls_fit(page: Page) -> None:
    """Every call button on screen, none cut off, and every open menu inside the window."""
    size = page.viewport_size
    boxes = page.locator("#controls > button:visible, .call-menu:popover-open").evaluate_all(
        "(els) => els.map((el) => ({ id: el.id, ...el.getBoundingClientRect().toJSON() }))"
    )
    for box in boxes:
        assert box["left"] >= 0 and box["right"] <= size["width"], (size, box)
        assert box["top"] >= 0 and box["bottom"] <= size["height"], (size, box)
    assert page.evaluate(
        "(el) => el.scrollWidth <= el.clientWidth", page.locator("#controls").element_handle()
    )


def at_three_sizes(page: Page, name: str, label: str) -> None:
    """Screenshots at a desk's, a phone's and a kiosk's size, each checked for fit and for
    accessibility; then back to the desk's size."""
    for size in (VIEWPORT, PHONE, KIOSK):
        page.set_viewport_size(size)
        page.wait_for_timeout(400)  # the videos (and an open menu) take the new size
        assert_controls_fit(page)
        screenshot(page, f"{name}-{size['width']}x{size['height']}")
        assert_accessible(page, f"{label} at {size['width']}x{size['height']}")
    page.set_viewport_size(VIEWPORT)


# ---- Screen ------------------------------------------------------------------------------


def test_a_shared_screen_replaces_the_camera_for_the_patient_until_sharing_stops(
    clinic, desk, people, desk_browser
):
    _, host, station = on_demand_call(clinic, desk, people)
    wait_for_frame(station, GREEN)  # the provider's fake camera
    lab = desk_browser.new_page()  # the window the provider will share
    lab.set_content(LAB_RESULTS)

    share = host.get_by_role("button", name="Share screen")
    expect(share).to_have_attribute("aria-pressed", "false")
    share.click()

    # The patient receives the tab: red, and the screen's shape (16:9), no longer the camera.
    stop = host.get_by_role("button", name="Stop sharing")
    expect(stop).to_have_attribute("aria-pressed", "true")
    seen = wait_for_frame(station, RED)
    assert abs(seen["width"] / seen["height"] - 16 / 9) < 0.05, seen
    assert_video_playing(station)
    # The provider's self-view shows what is shared, not mirrored, and says so.
    preview = host.locator("#local-video")
    expect(preview).to_have_accessible_name("Your shared screen")
    expect(host.locator("#local-label")).to_have_text("Sharing your screen")
    wait_for_frame(host, RED, "#local-video")
    assert (
        host.evaluate("getComputedStyle(document.querySelector('#local-video')).transform")
        == "none"
    )
    expect(host.locator("#room-announce")).to_contain_text("You are sharing your screen")
    # A shared screen is a picture: the patient's tile does not say the camera is off.
    host.get_by_role("button", name="Camera off").click()
    station.wait_for_timeout(500)
    expect(station.locator("#remote-camera-off")).to_be_hidden()
    wait_for_frame(station, RED)
    at_three_sizes(host, "media-sharing-host", "the provider sharing a screen")
    screenshot(station, "media-sharing-patient-1280x800")

    # Stopped with the button: the camera comes back (switched off meanwhile, so it says so).
    stop.click()
    expect(share).to_have_attribute("aria-pressed", "false")
    expect(station.locator("#remote-camera-off")).to_be_visible()
    host.get_by_role("button", name="Camera on").click()
    wait_for_frame(station, GREEN)
    expect(preview).to_have_accessible_name("Your camera")
    expect(host.locator("#local-label")).to_be_hidden()

    # Stopped by the browser (the shared tab closed, as its own "Stop sharing" does): the
    # camera comes back too.
    share.click()
    wait_for_frame(station, RED)
    lab.close()
    expect(share).to_have_text("Share screen")
    wait_for_frame(station, GREEN)
    assert_video_playing(station)
    assert_in_call(host, STATION)


@pytest.fixture
def book(clinic):
    """Booked visits with Dr. Ada Okafor that do not outlive their test (asked for before
    `people`: the pages are checked as the test left them, then the visit goes)."""
    booked: list[int] = []
    yield booker(clinic, booked)
    end_all(clinic, booked)


def test_a_snapshot_is_of_the_camera_even_while_the_patient_shares_a_screen(
    book, desk_browser, desk, people, smtp_server
):
    visit = book(3)
    lab = desk_browser.new_page()
    lab.set_content(LAB_RESULTS)
    patient = desk.new_page("patient")
    patient.goto(link_in(smtp_server, visit.email))
    expect(patient.get_by_role("heading", name=WAITING)).to_be_visible()
    host = enter_room(people, visit.id)
    assert_in_call(host, PATIENT)
    assert_in_call(patient, NAMES["okafor"])

    patient.get_by_role("button", name="Share screen").click()
    wait_for_frame(host, RED)
    ask_for_snapshot(host)
    consent = patient.get_by_role("dialog", name=CONSENT)
    consent.get_by_role("button", name="Allow", exact=True).click()
    image = snapshots(host).first.get_by_role("img", name=re.compile("^Snapshot of"))
    expect(image).to_be_visible()
    host.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    # The camera's own picture (green, 4:3), not the red screen the call is showing.
    seen = host.evaluate(DECODE, image.get_attribute("src"))
    assert seen["green"] > seen["red"] + 40, seen
    assert (seen["width"], seen["height"]) == (640, 480), seen
    wait_for_frame(host, RED)  # and the screen is still shared
    expect(patient.get_by_role("button", name="Stop sharing")).to_be_visible()


NO_SCREEN_SHARING = "delete MediaDevices.prototype.getDisplayMedia;"


def test_a_browser_that_cannot_share_a_screen_says_so_instead_of_offering_it(clinic, people):
    visit = clinic.accepted_visit("okafor", "General consultation")
    station = people.login("station")
    station.add_init_script(NO_SCREEN_SHARING)
    station.goto(f"/visits/{visit}")
    expect(station.get_by_role("heading", name="You are in the waiting room")).to_be_visible()
    expect(station.get_by_role("button", name="Share screen")).to_have_count(0)
    menu = open_more(station)
    expect(menu.locator("#share-hint")).to_have_text(
        "Sharing a screen needs a computer's browser; this one cannot share."
    )
    expect(menu.get_by_role("button", name="Share screen")).to_have_count(0)


# ---- Blur --------------------------------------------------------------------------------


def test_the_blur_softens_what_the_patient_receives_and_follows_the_camera(clinic, desk, people):
    _, host, station = on_demand_call(clinic, desk, people)
    wait_for_frame(station, GREEN)
    sharp = sharpness(station)

    menu = open_more(host)
    blur = menu.get_by_role("button", name="Blur background")
    expect(blur).to_have_attribute("aria-pressed", "false")
    expect(blur).to_have_accessible_description("Blur the room behind you, so others see only you.")
    blur.click()
    # Starting (the model loads the first time): busy, and saying so.
    expect(blur).to_have_attribute("aria-pressed", "true", timeout=60_000)
    expect(blur).not_to_have_attribute("aria-busy", "true")
    expect(blur).to_have_accessible_description("Others see you, and the room behind you blurred.")
    expect(host.locator("#local-video")).to_have_accessible_name("Your camera, background blurred")
    expect(host.locator("#local-label")).to_have_text("Background blurred")
    station.wait_for_timeout(1_500)  # the blurred frames reach the patient
    blurred = sharpness(station)
    assert blurred < sharp * 0.6, (sharp, blurred)
    assert_video_playing(station)
    at_three_sizes(host, "media-blurred-menu", "the More menu with the blur on")
    host.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(host.get_by_role("button", name="More", exact=True)).to_be_focused()
    screenshot(station, "media-blurred-patient-1280x800")

    # Camera off while blurred: nothing of the camera goes out; on again: still blurred.
    host.get_by_role("button", name="Camera off").click()
    expect(station.locator("#remote-camera-off")).to_be_visible()
    wait_for_frame(station, "frame.red + frame.green + frame.blue < 30")  # black
    host.get_by_role("button", name="Camera on").click()
    expect(station.locator("#remote-camera-off")).to_be_hidden()
    wait_for_frame(station, GREEN)
    station.wait_for_timeout(500)
    assert sharpness(station) < sharp * 0.6

    # Another camera while blurred: the new one goes out blurred too (its flat picture has
    # nothing to blur, so its sharpness is not measured: the way back to the first camera,
    # still blurred, is).
    menu = open_more(host)
    camera = menu.get_by_label("Camera")
    camera.select_option(label="fake_device_2")
    wait_for_frame(station, YELLOW_CORNER)
    expect(host.locator("#local-video")).to_have_accessible_name("Your camera, background blurred")
    assert host.evaluate(PREVIEW_TRACK) != "fake_device_2"  # the blurred copy, not the camera
    camera.select_option(label="fake_device_0")
    wait_for_frame(station, GREEN)
    station.wait_for_timeout(1_000)
    assert sharpness(station) < sharp * 0.6

    # Off: the camera itself again, as sharp as before.
    blur = menu.get_by_role("button", name="Blur background")
    blur.click()
    expect(blur).to_have_attribute("aria-pressed", "false")
    expect(host.locator("#room-announce")).to_have_text("Background blur off.")
    station.wait_for_timeout(1_500)
    assert sharpness(station) > sharp * 0.8
    assert host.evaluate(PREVIEW_TRACK) == "fake_device_0"
    expect(host.locator("#local-video")).to_have_accessible_name("Your camera")
    expect(host.locator("#local-label")).to_be_hidden()


NO_WEBGL2 = """
  const getContext = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
    return kind === "webgl2" ? null : getContext.call(this, kind, ...rest);
  };
"""


def test_the_blur_is_unavailable_with_the_reason_where_the_browser_cannot_blur(clinic, people):
    visit = clinic.accepted_visit("okafor", "General consultation")
    station = people.login("station")
    station.add_init_script(NO_WEBGL2)
    station.goto(f"/visits/{visit}")
    expect(station.get_by_role("heading", name="You are in the waiting room")).to_be_visible()
    menu = open_more(station)
    blur = menu.get_by_role("button", name="Blur background")
    expect(blur).to_have_attribute("aria-disabled", "true")
    reason = "This browser or device has no WebGL 2, which the background blur needs."
    expect(blur).to_have_accessible_description(reason)
    expect(menu.get_by_text(reason)).to_be_visible()
    blur.dispatch_event("click")  # pressed anyway: nothing starts
    station.wait_for_timeout(300)
    expect(blur).to_have_attribute("aria-pressed", "false")
    expect(blur).to_have_attribute("aria-disabled", "true")
    assert_accessible(station, "the More menu without a blur")
    screenshot(station, "media-blur-unavailable-1280x800")


# ---- Devices -----------------------------------------------------------------------------


def test_the_chosen_camera_and_microphone_reach_the_patient_and_are_kept_after_a_reload(
    clinic, desk, people
):
    visit, host, station = on_demand_call(clinic, desk, people)
    wait_for_frame(station, GREEN)
    menu = open_more(host)
    camera = menu.get_by_label("Camera")
    microphone = menu.get_by_label("Microphone")
    expect(camera).to_be_focused()
    expect(camera.locator("option")).to_have_text(
        ["fake_device_0", "fake_device_1", "fake_device_2"]
    )
    expect(camera).to_have_value(
        host.evaluate(
            "() => document.querySelector('#local-video')"
            ".srcObject.getVideoTracks()[0].getSettings().deviceId"
        )
    )
    expect(microphone.locator("option")).to_contain_text(
        ["Fake Audio Input 1", "Fake Audio Input 2"]
    )
    at_three_sizes(host, "media-more-menu", "the More menu")

    camera.select_option(label="fake_device_2")
    wait_for_frame(station, YELLOW_CORNER)  # the third fake camera
    assert_video_playing(station)
    assert host.evaluate(PREVIEW_TRACK) == "fake_device_2"
    expect(host.locator("#room-announce")).to_have_text(
        "The call now uses the camera “fake_device_2”."
    )
    microphone.select_option(label="Fake Audio Input 2")
    expect(host.locator("#room-announce")).to_have_text(
        "The call now uses the microphone “Fake Audio Input 2”."
    )
    assert_audio_arriving(station)
    # Muting acts on the new microphone.
    host.keyboard.press("Escape")
    host.get_by_role("button", name="Mute").click()
    expect(station.locator("#remote-muted")).to_be_visible()
    mic = (
        "() => document.querySelector('#local-video').srcObject.getAudioTracks()"
        ".map((t) => [t.label, t.enabled])"
    )
    assert host.evaluate(mic) == [["Fake Audio Input 2", False]]
    host.get_by_role("button", name="Unmute").click()

    # A reload keeps the choice.
    host.reload()
    assert_in_call(host, STATION)
    wait_for_frame(station, YELLOW_CORNER)
    assert host.evaluate(PREVIEW_TRACK) == "fake_device_2"
    assert host.evaluate(mic) == [["Fake Audio Input 2", True]]
    menu = open_more(host)
    expect(menu.get_by_label("Camera").locator("option:checked")).to_have_text("fake_device_2")
    expect(menu.get_by_label("Microphone").locator("option:checked")).to_have_text(
        "Fake Audio Input 2"
    )
    host.keyboard.press("Escape")

    # The chosen camera is gone (here: as if unplugged, its track ends): the other takes
    # over for everyone, and the page says so.
    host.evaluate("""() => {
      const track = document.querySelector('#local-video').srcObject.getVideoTracks()[0];
      track.stop();
      track.dispatchEvent(new Event("ended"));
    }""")
    expect(host.locator("#room-notice")).to_contain_text(
        "Your camera “fake_device_2” stopped working, so the call now uses “fake_device_0”."
    )
    wait_for_frame(station, GREEN)
    assert_video_playing(station)

    # Remembered from another day on a device that is no longer there: the call starts on
    # the one that is, and says which.
    host.evaluate("""() => localStorage.setItem("anteroom.camera",
      JSON.stringify({ id: "no-such-camera", label: "Old webcam" }))""")
    host.reload()
    expect(host.locator("#room-notice")).to_contain_text(
        "Your camera “Old webcam” is not available, so the call uses “fake_device_0”."
    )
    assert_in_call(host, STATION)
    wait_for_frame(station, GREEN)


# ---- Hanging up --------------------------------------------------------------------------


def hang_up_menu(page: Page):
    page.get_by_role("button", name="Hang up").click()
    menu = page.get_by_role("dialog", name="Leave or end the consultation")
    expect(menu).to_be_visible()
    return menu


def test_a_host_leaves_the_session_for_the_patient_to_wait_or_ends_it_for_everyone(clinic, people):
    visit, host, station = on_demand_call(clinic, people, people)
    menu = hang_up_menu(host)
    leave = menu.get_by_role("button", name="Leave session", exact=True)
    end = menu.get_by_role("button", name="End consultation for all", exact=True)
    expect(leave).to_be_focused()
    expect(leave).to_have_accessible_description(
        f"{STATION} goes back to the waiting room until you or a colleague come back."
        " The session stays open."
    )
    expect(end).to_be_visible()
    expect(menu.get_by_role("button", name=re.compile("^Hand over"))).to_have_count(0)
    at_three_sizes(host, "media-hang-up-choices", "a host's hang-up choices")
    # Escape keeps the call, and the focus where it was.
    host.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    hang_up = host.get_by_role("button", name="Hang up")
    expect(hang_up).to_be_focused()
    expect(hang_up).to_have_attribute("aria-expanded", "false")

    # Leave session: the provider is back on the dashboard; the patient waits again.
    hang_up_menu(host).get_by_role("button", name="Leave session", exact=True).click()
    expect(host).to_have_url(re.compile(r"/provider$"))
    wait_live(host)
    expect(station.get_by_role("heading", name="Dr. Ada Okafor left the call")).to_be_visible()
    expect(station.locator("#room-status")).to_have_text("You are in the waiting room")
    row = host.get_by_role("listitem", name=f"Session with {STATION}")
    expect(row.locator(".pill")).to_have_text("In Waiting Room")

    # Back in; then End consultation for all, confirmed: every page is told.
    row.get_by_role("link", name="Enter Meeting").click()
    assert_in_call(host, STATION)
    assert_in_call(station, NAMES["okafor"])
    hang_up_menu(host).get_by_role("button", name="End consultation for all").click()
    dialog = host.get_by_role("dialog", name="End the consultation?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Keep the consultation")).to_be_focused()
    screenshot(host, "media-end-for-all-confirm-1280x800")
    # Kept: nothing ends, and the focus is back on Hang up.
    host.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(hang_up).to_be_focused()
    assert_in_call(station, NAMES["okafor"])

    hang_up_menu(host).get_by_role("button", name="End consultation for all").click()
    dialog.get_by_role("button", name="End for everyone").click()
    expect(host).to_have_url(re.compile(r"/provider$"))
    expect(station.get_by_role("heading", name="This session has ended")).to_be_visible()
    expect(station.locator("#controls")).to_be_hidden()
    assert visit not in [s["id"] for s in clinic.dashboard("okafor", "/provider")["sessions"]]


def test_a_host_hands_the_session_to_a_colleague_in_the_call_and_leaves(clinic, people):
    visit, host, station = on_demand_call(clinic, people, people)
    # Dr. Lindqvist is added by his email from the People panel: he joins as staff.
    host.get_by_role("button", name="People", exact=True).click()
    panel = panel_of(host)
    panel.get_by_role("button", name="Add participant").click()
    dialog = host.get_by_role("dialog", name="Add participant")
    dialog.get_by_label("Name").fill(NAMES["lindqvist"])
    dialog.get_by_label("Email").fill(EMAILS["lindqvist"])
    dialog.get_by_role("button", name="Send their link").click()
    expect(dialog).to_be_hidden()
    expect(panel.get_by_role("status")).to_have_text(
        f"{NAMES['lindqvist']} was sent a link to this session by email ({EMAILS['lindqvist']})."
        " As a provider of the clinic, they come straight into the call when they open it."
    )
    # Beside the panel, a host's call buttons keep to one row on a desk.
    tops = host.locator("#controls > button:visible").evaluate_all(
        "(buttons) => buttons.map((b) => Math.round(b.getBoundingClientRect().top))"
    )
    assert len(tops) == 7 and len(set(tops)) == 1, tops
    assert_controls_fit(host)
    screenshot(host, "media-controls-beside-panel-1280x800")
    host.get_by_role("button", name="People", exact=True).click()
    colleague = people.login("lindqvist")
    colleague.goto(f"/visits/{visit}")
    expect(colleague.locator("#tiles > .tile")).to_have_count(2)
    expect(host.locator("#tiles > .tile")).to_have_count(2)
    # Hosts first: his page shows Dr. Okafor, then the station.
    expect(colleague.locator("#room-status")).to_have_text(
        f"In the meeting with {NAMES['okafor']} and {STATION}"
    )

    menu = hang_up_menu(host)
    hand_over = menu.get_by_role("button", name="Hand over to Dr. Ben Lindqvist and leave")
    # Leave session comes first and takes the focus: Enter alone never hands it over.
    expect(menu.get_by_role("button", name="Leave session", exact=True)).to_be_focused()
    expect(menu.get_by_role("button")).to_have_text(
        ["Leave session", "Hand over to Dr. Ben Lindqvist and leave", "End consultation for all"]
    )
    expect(hand_over).to_have_accessible_description(
        f"The session becomes theirs: they carry on with {STATION}, and they end it."
    )
    expect(
        menu.get_by_role("button", name="Leave session", exact=True)
    ).to_have_accessible_description(
        "Dr. Ben Lindqvist carries on with the others; the session stays yours."
    )
    at_three_sizes(host, "media-hand-over-choices", "hang-up choices with a colleague in the call")

    hand_over.click()
    expect(host).to_have_url(re.compile(r"/provider$"))
    # His page says the session is his now, in the corner.
    expect(colleague.locator("#room-notice-text")).to_have_text(
        f"{NAMES['okafor']} handed this session to you. It is yours now: you end it when the"
        " consultation is over."
    )
    # The patient stays in the call, now with Dr. Lindqvist, whose session it is.
    assert_in_call(station, NAMES["lindqvist"])
    assert_in_call(colleague, STATION)
    sessions = clinic.dashboard("lindqvist", "/provider")["sessions"]
    summary = next(s for s in sessions if s["id"] == visit)
    assert summary["host"]["name"] == NAMES["lindqvist"], summary
    # His Hang up offers the end, which is his now.
    menu = hang_up_menu(colleague)
    expect(menu.get_by_role("button", name="End consultation for all")).to_be_visible()
    expect(menu.get_by_role("button", name=re.compile("^Hand over"))).to_have_count(0)
    colleague.keyboard.press("Escape")
