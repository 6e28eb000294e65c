"""The idle logout signs out an unattended dashboard, never a consultation.

A server of its own with a 12-second idle limit (IDLE_LOGOUT_MINUTES=0.2): a provider
and a station stay in a call with nobody touching either page for longer than that,
while a second provider's dashboard, left alone as long, is signed out.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.support import Clinic, People, assert_accessible, assert_in_call, wait_live
from tests.server import LiveServer, server_database_url

pytestmark = pytest.mark.browser
IDLE_SECONDS = 12


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory) -> Iterator[LiveServer]:
    server = LiveServer(
        workdir=tmp_path_factory.mktemp("idle-server"),
        database_url=server_database_url(),
        redis_url=os.environ.get("REDIS_URL"),
        extra_env={
            "IDLE_LOGOUT_MINUTES": str(IDLE_SECONDS / 60),
            "SOCKETIO_CHANNEL": f"anteroom-idle-{os.getpid()}",
        },
    )
    server.start()
    yield server
    server.stop()


def test_a_call_outlives_the_idle_limit_while_an_unattended_dashboard_is_signed_out(
    browser, idle_server
):
    clinic = Clinic(idle_server)
    visit_id = clinic.accepted_visit("lindqvist")
    people = People(browser, idle_server)
    try:
        provider = people.login("lindqvist")
        station = people.login("station")
        bystander = people.login("okafor")  # a dashboard nobody touches
        wait_live(bystander)
        station.goto(f"/visits/{visit_id}")
        provider.goto(f"/visits/{visit_id}")
        assert_in_call(provider, "Riverside Station")
        assert_in_call(station, "Dr. Ben Lindqvist")

        # Nobody presses anything, anywhere, for longer than the idle limit (and the
        # server's sweep of sockets that follows it).
        provider.wait_for_timeout((IDLE_SECONDS + 6) * 1000)

        expect(bystander).to_have_url(re.compile(r"/auth/login"), timeout=20_000)
        expect(bystander.get_by_text("signed out after a period of inactivity")).to_be_visible()
        assert_accessible(bystander, "signed out for inactivity")
        assert_in_call(provider, "Riverside Station")
        assert_in_call(station, "Dr. Ben Lindqvist")
        # Both sessions are alive on the server, not just the calls' connections.
        for page, dashboard in ((provider, "/provider"), (station, "/requester")):
            response = page.request.get(dashboard, max_redirects=0)
            assert response.status == 200, (dashboard, response.status)
    finally:
        people.close()
