"""The visit room itself: the call's own controls, and a browser that refuses sound."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest
from aiortc import RTCSessionDescription
from playwright.sync_api import Page, expect

from media.peer import ColorTrack, HeadlessPeer
from tests.browser.support import (
    VIEWPORT,
    assert_accessible,
    assert_in_call,
    assert_video_playing,
    screenshot,
    wait_live,
)

pytestmark = pytest.mark.browser

# What Chrome does to a page that has no camera running and has not been pressed yet:
# play() with sound is refused, muted play() is allowed. Simulated here because this test
# browser grants the camera, which lifts the rule.
REFUSE_SOUND_UNTIL_PRESSED = """
  let pressed = false;
  for (const type of ["pointerdown", "keydown"]) {
    addEventListener(type, () => { pressed = true; }, true);
  }
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    if (!this.muted && !pressed) {
      return Promise.reject(new DOMException("play() needs a press first", "NotAllowedError"));
    }
    return play.call(this);
  };
"""


@pytest.fixture
def visit(clinic) -> int:
    """An accepted session between Riverside Station and Dr. Ben Lindqvist."""
    return clinic.accepted_visit("lindqvist")


def test_the_picture_plays_even_when_the_browser_refuses_sound(people, visit):
    provider = people.login("lindqvist")
    requester = people.login("station")
    requester.add_init_script(REFUSE_SOUND_UNTIL_PRESSED)
    requester.goto(f"/visits/{visit}")
    expect(requester.get_by_role("heading", name="You are in the waiting room")).to_be_visible()
    provider.goto(f"/visits/{visit}")

    assert_in_call(provider, "Riverside Station")
    assert_video_playing(requester)
    remote = requester.locator("#remote-video")
    expect(remote).to_have_js_property("muted", True)
    sound = requester.get_by_role("button", name="Turn on sound")
    expect(sound).to_be_visible()

    sound.click()
    expect(sound).to_be_hidden()
    expect(remote).to_have_js_property("muted", False)
    assert_in_call(requester, "Dr. Ben Lindqvist")


def test_mute_and_camera_off_stop_what_the_other_side_gets(people, visit):
    provider = people.login("lindqvist")
    requester = people.login("station")
    requester.goto(f"/visits/{visit}")
    provider.goto(f"/visits/{visit}")
    assert_in_call(provider, "Riverside Station")
    assert_in_call(requester, "Dr. Ben Lindqvist")
    expect(requester.get_by_role("button", name="Turn on sound")).to_be_hidden()

    tracks = (
        "(kind) => document.querySelector('#local-video').srcObject.getTracks()"
        ".filter((t) => t.kind === kind).map((t) => t.enabled)"
    )
    requester.get_by_role("button", name="Mute").click()
    unmute = requester.get_by_role("button", name="Unmute")
    expect(unmute).to_have_attribute("aria-pressed", "true")
    assert requester.evaluate(tracks, "audio") == [False]

    requester.get_by_role("button", name="Camera off").click()
    expect(requester.get_by_role("button", name="Camera on")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert requester.evaluate(tracks, "video") == [False]

    unmute.click()
    expect(requester.get_by_role("button", name="Mute")).to_have_attribute("aria-pressed", "false")
    assert requester.evaluate(tracks, "audio") == [True]


NO_CAMERA_OR_MICROPHONE = """
  navigator.mediaDevices.getUserMedia = () =>
    Promise.reject(new DOMException("Permission denied", "NotAllowedError"));
"""


def test_a_provider_without_camera_still_sees_and_hears_the_patient(people, visit):
    provider = people.login("lindqvist")
    provider.add_init_script(NO_CAMERA_OR_MICROPHONE)
    requester = people.login("station")
    provider.goto(f"/visits/{visit}")  # first in the room, so it makes the offer
    expect(provider.get_by_role("alert")).to_contain_text("camera or microphone is blocked")

    requester.goto(f"/visits/{visit}")

    expect(provider.locator("#room-status")).to_have_text("In the meeting with Riverside Station")
    assert_video_playing(provider)
    received = provider.evaluate(
        "() => document.querySelector('#remote-video').srcObject.getTracks().map((t) => t.kind)"
    )
    assert sorted(received) == ["audio", "video"]


class CandidateFirstPeer(HeadlessPeer):
    """A patient's peer whose first ICE candidate reaches the provider ahead of its answer,
    as any relay that reorders messages would deliver them."""

    async def _answer(self, sender: str, offer: dict) -> None:
        pc = await self._new_pc(sender)
        await pc.setRemoteDescription(RTCSessionDescription(**offer))
        self._add_tracks(pc)
        await pc.setLocalDescription(await pc.createAnswer())
        answer = {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}
        first = next(line for line in answer["sdp"].splitlines() if line.startswith("a=candidate:"))
        await self._send({"candidate": {"candidate": first[2:], "sdpMid": "0", "sdpMLineIndex": 0}})
        await self._send({"description": answer})


def test_a_candidate_that_overtakes_the_answer_waits_for_it(people, clinic, live_server, visit):
    provider = people.login("lindqvist")
    provider.goto(f"/visits/{visit}")  # first in the room: the provider's page makes the offer
    expect(provider.get_by_role("heading", name="Waiting for Riverside Station")).to_be_visible()
    done = threading.Event()
    outcome: dict = {}

    async def patient() -> None:
        peer = CandidateFirstPeer(
            live_server.url, clinic.token("station"), visit, host=False,
            make_tracks=lambda: [ColorTrack()],
        )  # fmt: skip
        try:
            await peer.start()
            await peer.wait_for_frames(3, timeout=15)  # the provider's camera reaches us
            outcome["errors"] = list(peer.errors)
            while not done.is_set():
                await asyncio.sleep(0.05)
        finally:
            await peer.close()

    worker = threading.Thread(target=lambda: asyncio.run(patient()), daemon=True)
    worker.start()
    try:
        expect(provider.locator("#room-status")).to_have_text(
            "In the meeting with Riverside Station"
        )
        assert_video_playing(provider)  # the headless patient sends video only
        expect(provider.get_by_role("alert")).to_be_hidden()  # no "remote description was null"
    finally:
        done.set()
        worker.join(timeout=20)
    assert outcome.get("errors") == []


# The two screens a room must work on besides a desk: a phone, and a kiosk's big screen.
PHONE = {"width": 390, "height": 844}
KIOSK = {"width": 1920, "height": 1080}


def screenshots_at_phone_and_kiosk(page: Page, name: str) -> None:
    """The room as it is now, on a phone and on a kiosk screen; then back to the desk size."""
    for size in (PHONE, KIOSK):
        page.set_viewport_size(size)
        page.wait_for_timeout(300)  # the video elements take the new size
        screenshot(page, f"{name}-{size['width']}x{size['height']}")
    page.set_viewport_size(VIEWPORT)


def luminance(css_color: str, behind: tuple[float, ...] = (1.0, 1.0, 1.0)) -> float:
    """WCAG relative luminance of a computed `rgb()`/`rgba()` colour (over `behind`)."""
    parts = [float(x) for x in re.findall(r"[\d.]+", css_color)]
    alpha = parts[3] if len(parts) == 4 else 1.0
    channels = [alpha * (c / 255) + (1 - alpha) * b for c, b in zip(parts[:3], behind, strict=True)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


SETTLED_COLORS = """async (button) => {
  await Promise.all(button.getAnimations().map((a) => a.finished));  // hover transitions
  const style = getComputedStyle(button);
  return { color: style.color, background: style.backgroundColor };
}"""


def test_a_pressed_call_button_stays_readable_under_the_pointer_and_focus(people, visit):
    requester = people.login("station")
    requester.goto(f"/visits/{visit}")
    expect(requester.get_by_role("heading", name="You are in the waiting room")).to_be_visible()
    requester.get_by_role("button", name="Mute").click()
    pressed = requester.get_by_role("button", name="Unmute")
    expect(pressed).to_have_attribute("aria-pressed", "true")

    pressed.hover()
    hovered = pressed.evaluate(SETTLED_COLORS)
    assert contrast(hovered["color"], hovered["background"]) >= 4.5, hovered
    screenshot(requester, "room-pressed-button-hovered", clip=_around(pressed))

    requester.mouse.move(0, 0)
    pressed.focus()
    requester.keyboard.press("Shift+Tab")  # focus by keyboard, so :focus-visible applies
    requester.keyboard.press("Tab")
    expect(pressed).to_be_focused()
    focused = pressed.evaluate(SETTLED_COLORS)
    assert contrast(focused["color"], focused["background"]) >= 4.5, focused


def _around(locator, margin: int = 12) -> dict:
    box = locator.bounding_box()
    return {
        "x": box["x"] - margin,
        "y": box["y"] - margin,
        "width": box["width"] + 2 * margin,
        "height": box["height"] + 2 * margin,
    }


# Counts every camera/microphone request, and keeps what it returned.
COUNT_CAMERA_REQUESTS = """
  window.cameraRequests = 0;
  window.cameraStreams = [];
  const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    window.cameraRequests += 1;
    const stream = await getUserMedia(constraints);
    window.cameraStreams.push(stream);
    return stream;
  };
"""


@pytest.mark.parametrize("who", ["station", "lindqvist"])
def test_an_ended_visit_opens_without_camera_or_call_controls(people, clinic, visit, who):
    clinic.api("lindqvist", "POST", f"/visits/{visit}/end")
    page = people.login(who)
    page.add_init_script(COUNT_CAMERA_REQUESTS)
    page.goto(f"/visits/{visit}")

    expect(page.get_by_role("heading", name="This session has ended")).to_be_visible()
    expect(page.locator("#room-status")).to_have_text("This session has ended")
    expect(page.locator("#controls")).to_be_hidden()
    expect(page.get_by_role("button", name="Hang up")).to_be_hidden()
    expect(page.get_by_role("button", name="Mute")).to_be_hidden()
    expect(page.locator("#local-video")).to_be_hidden()
    back = page.locator("#overlay").get_by_role("link", name="Back to dashboard")
    expect(back).to_be_visible()
    page.wait_for_timeout(1_000)  # time for a camera request, if the page were to make one
    assert page.evaluate("window.cameraRequests") == 0
    assert_accessible(page, "ended visit's room")
    if who == "station":
        screenshots_at_phone_and_kiosk(page, "room-ended")

    back.click()
    expect(page).to_have_url(re.compile("/requester$" if who == "station" else "/provider$"))


def test_a_refused_join_stops_the_camera_and_hides_the_controls(people, clinic, visit):
    requester = people.login("station")
    requester.add_init_script(COUNT_CAMERA_REQUESTS)

    # The page is rendered while the visit is open; it ends before the page joins it (the
    # page's script loads after its HTML). Documents themselves are not rerouted: Chromium's
    # local network checks would then block the page's own WebSocket.
    def end_then_load(route):
        clinic.api("lindqvist", "POST", f"/visits/{visit}/end")
        route.fallback()

    requester.route("**/static/js/room.js", end_then_load)
    requester.goto(f"/visits/{visit}")

    expect(requester.get_by_role("heading", name="You cannot join this session")).to_be_visible()
    expect(requester.locator("#overlay")).to_contain_text("This session has ended.")
    expect(requester.locator("#controls")).to_be_hidden()
    back = requester.locator("#overlay").get_by_role("link", name="Back to dashboard")
    expect(back).to_be_visible()
    requester.wait_for_function(
        """() => window.cameraStreams.length > 0 && window.cameraStreams.every(
          (stream) => stream.getTracks().every((track) => track.readyState === "ended"))"""
    )


def count_joins(page: Page) -> list[str]:
    """Every join_visit this page sends from now on (Socket.IO frames on its WebSocket)."""
    joins: list[str] = []

    def follow(ws) -> None:
        ws.on("framesent", lambda frame: joins.append(frame) if "join_visit" in frame else None)

    page.on("websocket", follow)
    return joins


def test_the_patient_waits_again_when_the_provider_leaves_and_rejoins_when_they_return(
    people, visit
):
    provider = people.login("lindqvist")
    requester = people.login("station")
    joins = count_joins(requester)
    requester.goto(f"/visits/{visit}")
    expect(requester.get_by_role("heading", name="You are in the waiting room")).to_be_visible()
    provider.goto(f"/visits/{visit}")
    assert_in_call(provider, "Riverside Station")
    assert_in_call(requester, "Dr. Ben Lindqvist")
    assert len(joins) == 2  # arriving, then taking the place in the call once admitted

    provider.get_by_role("link", name="Back to dashboard").click()
    expect(provider).to_have_url(re.compile(r"/provider$"))
    wait_live(provider)

    # The patient is back in the waiting room: told so, and the call is gone.
    expect(requester.get_by_role("heading", name="Dr. Ben Lindqvist left the call")).to_be_visible()
    expect(requester.locator("#overlay")).to_contain_text("back in the waiting room")
    expect(requester.locator("#room-status")).to_have_text("You are in the waiting room")
    expect(requester.locator("#remote-video")).to_have_js_property("srcObject", None)
    assert requester.evaluate("window.anteroomCall.connected") is False
    assert_accessible(requester, "waiting room after the provider left")
    screenshots_at_phone_and_kiosk(requester, "room-moved-back-to-waiting")

    # The provider's dashboard has the patient waiting again, with a running clock.
    row = provider.get_by_role("listitem", name="Session with Riverside Station")
    expect(row.locator(".pill")).to_have_text("In Waiting Room")
    expect(row.locator(".waited")).to_have_text(re.compile(r"^waiting \d+:\d\d$"))
    first_tick = row.locator(".waited").text_content()
    expect(row.locator(".waited")).not_to_have_text(first_tick, timeout=3_000)

    row.get_by_role("link", name="Enter Meeting").click()
    expect(provider).to_have_url(re.compile(rf"/visits/{visit}$"))
    assert_in_call(provider, "Riverside Station")
    assert_in_call(requester, "Dr. Ben Lindqvist")
    requester.wait_for_timeout(500)  # a second re-join would have been sent by now
    assert len(joins) == 3, joins


def test_the_provider_sees_when_the_patient_is_muted_or_has_the_camera_off(people, visit):
    provider = people.login("lindqvist")
    requester = people.login("station")
    requester.goto(f"/visits/{visit}")
    expect(requester.get_by_role("heading", name="You are in the waiting room")).to_be_visible()
    # Muted before the call starts: the provider learns it on arriving.
    requester.get_by_role("button", name="Mute").click()
    provider.goto(f"/visits/{visit}")
    assert_in_call(provider, "Riverside Station")
    assert_in_call(requester, "Dr. Ben Lindqvist")
    screenshots_at_phone_and_kiosk(provider, "room-provider-in-call")

    muted = provider.locator("#remote-muted")
    camera_off = provider.locator("#remote-camera-off")
    expect(muted).to_be_visible()
    expect(muted).to_have_text("Riverside Station is muted")
    expect(camera_off).to_be_hidden()
    expect(requester.locator("#remote-muted")).to_be_hidden()  # the provider is not muted

    requester.get_by_role("button", name="Camera off").click()
    expect(camera_off).to_be_visible()
    expect(camera_off).to_contain_text("Camera off")
    expect(camera_off).to_contain_text("Riverside Station turned their camera off")
    expect(muted).to_be_visible()
    assert_accessible(provider, "call with the patient muted and camera off")
    screenshots_at_phone_and_kiosk(provider, "room-remote-muted-camera-off")

    requester.get_by_role("button", name="Unmute").click()
    expect(muted).to_be_hidden()
    expect(camera_off).to_be_visible()
    requester.get_by_role("button", name="Camera on").click()
    expect(camera_off).to_be_hidden()
    assert_video_playing(provider)
    assert_accessible(requester, "call")


# The page reads 3 seconds of idle time, as from a server configured with that.
SHORT_IDLE = """
  const content = Object.getOwnPropertyDescriptor(HTMLMetaElement.prototype, "content");
  Object.defineProperty(HTMLMetaElement.prototype, "content", {
    ...content,
    get() { return this.name === "idle-minutes" ? "0.05" : content.get.call(this); },
  });
"""


def test_the_room_keeps_the_session_alive_instead_of_signing_out_when_idle(people, visit):
    requester = people.login("station")
    keepalives: list[str] = []

    def follow(ws) -> None:
        ws.on("framesent", lambda frame: keepalives.append(frame) if "keepalive" in frame else None)

    requester.on("websocket", follow)

    requester.add_init_script(SHORT_IDLE)
    requester.goto(f"/visits/{visit}")
    expect(requester.get_by_role("heading", name="You are in the waiting room")).to_be_visible()

    # A third of the idle time: a keepalive about every second, with nobody touching anything.
    requester.wait_for_timeout(3_500)
    assert len(keepalives) >= 2, keepalives
    # Past the idle time and past the old idle check (every 15 s): still in the room.
    requester.wait_for_timeout(13_000)
    expect(requester).to_have_url(re.compile(rf"/visits/{visit}$"))
    expect(requester.get_by_role("heading", name="You are in the waiting room")).to_be_visible()
    assert len(keepalives) >= 12, keepalives
