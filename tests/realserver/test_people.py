"""The host changes who takes part, through the real server and signaling, with aiortc
peers standing in for the browsers: moved back to the waiting room and admitted again
(the video flows again afterwards), removed, and a guest denied from the waiting room."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from media.peer import ColorTrack, HeadlessPeer, mean_yuv
from tests.realserver.live import accepted_visit
from tests.realserver.test_media import BLUE, RED, close_to, run_in_own_loop

pytestmark = pytest.mark.realserver


def post(server, token: str, path: str, json=None) -> dict:
    response = server.api("POST", path, token, json=json)
    assert response.status_code < 300, response.text
    return response.json()


def test_moved_back_then_admitted_again_the_call_resumes_and_removed_it_ends(server, accounts):
    provider, requester = accounts.provider(), accounts.requester()
    visit_id = accepted_visit(server, provider, requester)
    people = f"/visits/{visit_id}/participants"

    async def call():
        patient = HeadlessPeer(
            server.url, requester.token, visit_id, host=False,
            make_tracks=lambda: [ColorTrack(BLUE)],
        )  # fmt: skip
        host = HeadlessPeer(
            server.url, provider.token, visit_id, host=True,
            make_tracks=lambda: [ColorTrack(RED)],
        )  # fmt: skip
        seen = {}
        try:
            await patient.start()
            await host.start()
            await asyncio.wait_for(patient.admitted.wait(), 10)
            await host.wait_for_frames(5, timeout=15)

            # Move back: the patient waits again and the host's call with them closes.
            held = await asyncio.to_thread(
                post, server, provider.token, f"{people}/{patient.participant_id}/hold"
            )
            seen["held"] = held["presence"]
            await asyncio.wait_for(patient.moved_back.wait(), 10)
            while host.pc is not None:
                await asyncio.sleep(0.05)
            seen["patient_after_hold"] = patient.presence

            # Admit: the patient takes its place again; the video flows both ways again.
            before = host.frames_received, patient.frames_received
            await asyncio.to_thread(
                post, server, provider.token, f"{people}/{patient.participant_id}/admit"
            )
            await asyncio.wait_for(patient.admitted.wait(), 10)
            seen["at_host"] = await host.wait_for_frames(before[0] + 5, timeout=15)
            seen["at_patient"] = await patient.wait_for_frames(before[1] + 5, timeout=15)

            # Remove: out of the call for good; the relay no longer carries their signals.
            await asyncio.to_thread(
                post, server, provider.token, f"{people}/{patient.participant_id}/remove"
            )
            await asyncio.wait_for(patient.removed.wait(), 10)
            while host.pc is not None:
                await asyncio.sleep(0.05)
            seen["signal_after_removal"] = await patient.sio.call(
                "signal",
                {"visit_id": visit_id, "to": host.sid, "data": {"candidate": None}},
                timeout=10,
            )
            seen["rejoin_after_removal"] = await patient.sio.call(
                "join_visit", {"visit_id": visit_id}, timeout=10
            )
            return host, patient, seen
        finally:
            await asyncio.gather(host.close(), patient.close())

    host, patient, seen = run_in_own_loop(lambda: asyncio.wait_for(call(), 90))  # fmt: skip

    assert host.errors == patient.errors == []
    assert seen["held"] == "waiting"
    assert seen["patient_after_hold"] == "waiting"
    assert close_to(mean_yuv(seen["at_host"]), BLUE), mean_yuv(seen["at_host"])
    assert close_to(mean_yuv(seen["at_patient"]), RED), mean_yuv(seen["at_patient"])
    assert seen["signal_after_removal"]["error"]["code"] == "forbidden"
    assert seen["rejoin_after_removal"]["error"]["message"] == "You were removed from this session."


def test_a_denied_guest_is_told_and_their_connection_closes(server):
    token = server.token("okafor")
    clinic_id = server.api("GET", "/clinics", token).json()[0]["id"]
    start = (datetime.now(UTC) + timedelta(minutes=3)).replace(microsecond=0)
    visit = post(
        server, token, "/visits",
        {"clinic_id": clinic_id, "start": start.isoformat(),
         "patient": {"name": "Deny Me", "email": "deny.me@example.org"}},
    )  # fmt: skip
    link = server.api("GET", f"/visits/{visit['id']}/links", token).json()["patient_link"]
    browser = requests.Session()
    assert browser.get(link, timeout=10).status_code == 200
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)

    async def wait_and_be_denied():
        guest = HeadlessPeer(server.url, None, visit["id"], host=False, cookie=cookie)
        try:
            await guest.start()
            presence = guest.presence
            await asyncio.to_thread(
                post,
                server,
                token,
                f"/visits/{visit['id']}/participants/{guest.participant_id}/deny",
            )
            await asyncio.wait_for(guest.removed.wait(), 10)
            deadline = time.monotonic() + 15
            while guest.sio.connected and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            return presence, guest.sio.connected, guest.errors
        finally:
            await guest.close()

    presence, still_connected, errors = run_in_own_loop(
        lambda: asyncio.wait_for(wait_and_be_denied(), 40)
    )

    assert presence == "waiting"
    assert errors == []
    assert still_connected is False  # the link's authority ended with it
    assert requests.get(link, timeout=10).status_code == 404
