"""A real call: two aiortc peers find each other through the server and see each other's video."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from media.peer import ColorTrack, HeadlessPeer, mean_yuv
from tests.realserver.live import accepted_visit

pytestmark = pytest.mark.realserver

RED = (81, 90, 240)  # BT.601 YUV
BLUE = (41, 240, 110)


def run_in_own_loop(make_coroutine):
    """asyncio.run in a worker thread: the browser tier's Playwright keeps an event loop
    running on the main thread for the whole session, where asyncio.run refuses to start."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make_coroutine())).result()


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

    host, patient, at_host, at_patient = run_in_own_loop(lambda: asyncio.wait_for(call(), 30))

    assert host.errors == patient.errors == []
    assert (at_patient.width, at_patient.height) == (320, 240)
    assert close_to(mean_yuv(at_patient), RED), mean_yuv(at_patient)
    assert close_to(mean_yuv(at_host), BLUE), mean_yuv(at_host)
