"""A waiting station sees its place in line and the estimated wait change live; the
provider's page alerts again while nobody answers; the station is told plainly when the
provider did not answer in time, with a way to ask again.

The live server's own job runner does the reminder and the expiry; the test only brings
each job's time forward in the server's database (they would be due in 30 s and 10 min).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, select, update

from app.models import Job, SessionRequest
from tests.browser.support import screenshot

pytestmark = pytest.mark.browser

PROVIDER = "Dr. Ben Lindqvist"


def server_database(clinic):
    url = clinic.server.env()["DATABASE_URL"]
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    return create_engine(url)


def answered_in_two_minutes_each(clinic, engine) -> None:
    """Three answered requests, then every answer this provider gave made to have taken two
    minutes: the estimate is then 2 minutes per place in line."""
    for _ in range(3):
        request = clinic.request_session("lindqvist")
        visit_id = clinic.api("lindqvist", "POST", f"/requests/{request['id']}/accept").json()[
            "visit_id"
        ]
        clinic.api("lindqvist", "POST", f"/visits/{visit_id}/end")
    provider_id = clinic.provider_id("lindqvist")
    with engine.begin() as conn:
        answered = conn.execute(
            select(SessionRequest.id, SessionRequest.updated_at).where(
                SessionRequest.provider_id == provider_id,
                SessionRequest.state == "accepted",
            )
        ).all()
        for request_id, answered_at in answered:
            conn.execute(
                update(SessionRequest)
                .where(SessionRequest.id == request_id)
                .values(created_at=answered_at - timedelta(minutes=2))
            )


def due_now(engine, kind: str, request_id: int) -> None:
    """Bring the request's job of this kind forward: the server's runner does the rest."""
    with engine.begin() as conn:
        moved = conn.execute(
            update(Job)
            .where(
                Job.kind == kind,
                Job.done_at.is_(None),
                Job.payload["request_id"].as_integer() == request_id,
            )
            .values(due_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        assert moved.rowcount == 1


def test_the_place_in_line_updates_live_and_an_expired_request_can_be_asked_again(people, clinic):
    engine = server_database(clinic)
    try:
        clinic.set_available("lindqvist", True)
        answered_in_two_minutes_each(clinic, engine)
        ahead = clinic.request_session("lindqvist")  # Riverside Station asks first
        harbour = people.login("harbour")
        card = harbour.get_by_role("listitem", name=PROVIDER)

        card.get_by_role("button", name="Request Session Now").click()
        expect(card.get_by_text(f"Waiting for {PROVIDER}…")).to_be_visible()
        expect(card.locator(".queue-position")).to_have_text("You are number 2 in line.")
        expect(card.locator(".queue-estimate")).to_have_text("Estimated wait: about 4 minutes.")
        screenshot(harbour, "requester-second-in-line")

        clinic.api("lindqvist", "POST", f"/requests/{ahead['id']}/accept")

        expect(card.locator(".queue-position")).to_have_text("You are next in line.")
        expect(card.locator(".queue-estimate")).to_have_text("Estimated wait: about 2 minutes.")

        [mine] = clinic.dashboard("harbour", "/requester")["requests"]
        # Nobody answers: the provider's page alerts again, then the request expires.
        provider = people.login("lindqvist")
        alerts = provider.evaluate("window.anteroomAlerts || 0")
        due_now(engine, "request_remind", mine["id"])
        waiting = provider.get_by_role("listitem", name="Request from Harbour Station")
        expect(waiting.get_by_text("Still waiting for your answer")).to_be_visible()
        provider.wait_for_function("(before) => window.anteroomAlerts > before", arg=alerts)
        due_now(engine, "request_expire", mine["id"])

        ended = card.get_by_role("alert")
        expect(ended).to_contain_text(f"{PROVIDER} did not answer in time.")
        expect(waiting).to_have_count(0)
        expect(card.get_by_text(f"Waiting for {PROVIDER}…")).to_be_hidden()
        expect(card.get_by_role("button", name="Choose another provider")).to_be_visible()
        screenshot(harbour, "requester-request-expired")

        card.get_by_role("button", name="Request again").click()
        expect(card.get_by_text(f"Waiting for {PROVIDER}…")).to_be_visible()
        expect(card.locator(".queue-position")).to_have_text("You are next in line.")
        expect(card.get_by_role("alert")).to_be_hidden()
        expect(card.get_by_role("button", name="Cancel")).to_be_focused()

        # Unanswered again: this time the station goes back to the list of providers.
        [again] = clinic.dashboard("harbour", "/requester")["requests"]
        assert again["id"] != mine["id"]
        due_now(engine, "request_expire", again["id"])
        card.get_by_role("button", name="Choose another provider").click()
        expect(card.get_by_role("alert")).to_be_hidden()
        expect(harbour.get_by_role("heading", name="Providers")).to_be_focused()
        expect(card.get_by_role("button", name="Request Session Now")).to_be_visible()
        assert clinic.dashboard("harbour", "/requester")["requests"] == []
    finally:
        engine.dispose()
