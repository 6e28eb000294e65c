"""The visit room itself: the call's own controls, and a browser that refuses sound."""

from __future__ import annotations

import asyncio
import threading

import pytest
from aiortc import RTCSessionDescription
from playwright.sync_api import expect

from media.peer import ColorTrack, HeadlessPeer
from tests.browser.support import assert_in_call, assert_video_playing

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
