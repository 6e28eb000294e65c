"""A real call: two aiortc peers find each other through the server and see each other's video."""

from __future__ import annotations

import asyncio

import pytest

from media.peer import ColorTrack, HeadlessPeer, mean_yuv
from tests.realserver.live import accepted_visit

pytestmark = pytest.mark.realserver

RED = (81, 90, 240)  # BT.601 YUV
BLUE = (41, 240, 110)


def close_to(seen: tuple[float, ...], sent: tuple[int, ...], tolerance: float = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(seen, sent, strict=True))


def test_two_headless_peers_see_each_others_video(server, accounts):
    provider, requester = accounts.provider(), accounts.requester()
    visit_id = accepted_visit(server, provider, requester)

    async def call():
        patient = HeadlessPeer(
            server.url, requester.token, visit_id, host=False,
            make_tracks=lambda: [ColorTrack(BLUE)],
        )  # fmt: skip
        host = HeadlessPeer(
            server.url, provider.token, visit_id, host=True,
            make_tracks=lambda: [ColorTrack(RED)],
        )  # fmt: skip
        try:
            await patient.start()
            assert patient.presence == "waiting"  # the host is not there yet
            await host.start()  # admits the patient, who joins again; the host offers
            await asyncio.wait_for(patient.admitted.wait(), 10)
            at_patient = await patient.wait_for_frames(5, timeout=15)
            at_host = await host.wait_for_frames(5, timeout=15)
            return host, patient, at_host, at_patient
        finally:
            await asyncio.gather(host.close(), patient.close())

    host, patient, at_host, at_patient = asyncio.run(asyncio.wait_for(call(), 30))

    assert host.errors == patient.errors == []
    assert (at_patient.width, at_patient.height) == (320, 240)
    assert close_to(mean_yuv(at_patient), RED), mean_yuv(at_patient)
    assert close_to(mean_yuv(at_host), BLUE), mean_yuv(at_host)
