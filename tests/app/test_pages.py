"""Dashboards and the visit room as pages: embedded snapshots, who may open what."""

from __future__ import annotations

import html
import json
import re

import pytest

from app.models import Role
from tests.app.helpers import assert_no_trace, directory_of


def embedded(response, element_id: str):
    """The JSON a page embeds in <script type="application/json" id=...>."""
    text = response.get_data(as_text=True)
    match = re.search(
        rf'<script type="application/json" id="{element_id}">(.*?)</script>', text, re.S
    )
    assert match, f"no #{element_id} in the page"
    return json.loads(match.group(1))


@pytest.fixture
def pair(make_user, api):
    provider = make_user(Role.PROVIDER, name="Dr. Ada", services=["General"], available=True)
    requester = make_user(Role.REQUESTER, name="Station <A>")
    return provider, requester, api.token(provider), api.token(requester)


def test_provider_dashboard_embeds_its_queue_and_the_directory(client, auth, api, pair):
    provider, requester, _, r_token = pair
    request_id = api.post("/requests", r_token, json={"provider_id": provider.id}).get_json()["id"]
    auth.login(provider)

    response = client.get("/provider")

    assert response.status_code == 200
    snapshots = {s["stream"]: s for s in embedded(response, "snapshots")}
    assert set(snapshots) == {f"provider:{provider.id}", directory_of(provider)}
    mine = snapshots[f"provider:{provider.id}"]
    assert mine["version"] >= 1  # the request_created event advanced it
    assert mine["data"]["available"] is True
    assert [r["id"] for r in mine["data"]["requests"]] == [request_id]
    assert mine["data"]["requests"][0]["requester"]["name"] == "Station <A>"
    assert mine["data"]["sessions"] == []
    assert [p["id"] for p in snapshots[directory_of(provider)]["data"]["providers"]] == [
        provider.id
    ]
    assert embedded(response, "page-config") == {"notes_enabled": True, "user_id": provider.id}


def test_embedded_snapshot_cannot_break_out_of_its_script_tag(client, auth, make_user):
    provider = make_user(Role.PROVIDER, name="</script><script>alert(1)</script>")
    auth.login(provider)

    text = client.get("/provider").get_data(as_text=True)

    assert "<script>alert(1)" not in text


def test_provider_page_tells_the_script_when_notes_are_off(app, client, auth, pair, monkeypatch):
    monkeypatch.setitem(app.config, "DECLINE_NOTES_ENABLED", False)
    auth.login(pair[0])

    assert embedded(client.get("/provider"), "page-config")["notes_enabled"] is False


def test_requester_dashboard_embeds_its_requests_sessions_and_the_directory(
    client, auth, api, pair
):
    provider, requester, p_token, r_token = pair
    request_id = api.post("/requests", r_token, json={"provider_id": provider.id}).get_json()["id"]
    visit_id = api.post(f"/requests/{request_id}/accept", p_token).get_json()["visit_id"]
    auth.login(requester)

    response = client.get("/requester")

    assert response.status_code == 200
    snapshots = {s["stream"]: s for s in embedded(response, "snapshots")}
    assert set(snapshots) == {f"requester:{requester.id}", directory_of(requester)}
    mine = snapshots[f"requester:{requester.id}"]
    assert mine["data"]["requests"] == []  # accepted: no longer an open request
    assert [v["id"] for v in mine["data"]["sessions"]] == [visit_id]
    assert snapshots[directory_of(requester)]["data"]["providers"][0]["name"] == "Dr. Ada"


def test_requester_dashboard_keeps_a_declined_request_until_dismissed(client, auth, api, pair):
    provider, requester, p_token, r_token = pair
    request_id = api.post("/requests", r_token, json={"provider_id": provider.id}).get_json()["id"]
    api.post(f"/requests/{request_id}/decline", p_token, json={"note": "Later"})
    auth.login(requester)

    def open_requests():
        snapshots = embedded(client.get("/requester"), "snapshots")
        return next(s for s in snapshots if s["stream"].startswith("requester:"))["data"][
            "requests"
        ]

    assert [(r["id"], r["state"], r["decline_note"]) for r in open_requests()] == [
        (request_id, "declined", "Later")
    ]
    api.post(f"/requests/{request_id}/dismiss", r_token)
    assert open_requests() == []


@pytest.mark.parametrize(
    ("role", "path"),
    [
        (Role.REQUESTER, "/provider"),
        (Role.PROVIDER, "/requester"),
        (Role.SCHEDULER, "/provider"),
        (Role.ADMIN, "/requester"),
    ],
)
def test_dashboard_of_another_role_is_a_403_page(client, auth, make_user, role, path):
    auth.login(make_user(role))

    response = client.get(path)

    assert response.status_code == 403
    assert response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "Not allowed" in text
    assert "Your account cannot do this." in text
    assert_no_trace(response)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SCHEDULER])
def test_home_shows_the_overview_to_other_roles(client, auth, make_user, role):
    make_user(Role.PROVIDER, name="Dr. Listed")
    auth.login(make_user(role))

    response = client.get("/")

    assert response.status_code == 200
    assert "Dr. Listed" in html.unescape(response.get_data(as_text=True))


def _visit(api, pair) -> int:
    provider, _, p_token, r_token = pair
    request_id = api.post("/requests", r_token, json={"provider_id": provider.id}).get_json()["id"]
    return api.post(f"/requests/{request_id}/accept", p_token).get_json()["visit_id"]


@pytest.mark.parametrize(
    ("who", "role", "back"), [(0, "host", "/provider"), (1, "patient", "/requester")]
)
def test_visit_room_opens_for_its_participants(app, client, auth, api, pair, who, role, back):
    visit_id = _visit(api, pair)
    auth.login(pair[who])

    response = client.get(f"/visits/{visit_id}")

    assert response.status_code == 200
    config = embedded(response, "room-config")
    assert config["visit"]["id"] == visit_id
    assert config["me"]["role"] == role
    assert config["me"]["name"] == pair[who].name
    assert config["back_url"] == back
    assert config["ice_servers"] == app.config["ICE_SERVERS"]
    assert config["other_name"] == pair[1 - who].name


@pytest.mark.parametrize("role", [Role.PROVIDER, Role.REQUESTER, Role.ADMIN])
def test_visit_room_is_404_for_anyone_else(client, auth, api, pair, make_user, role):
    visit_id = _visit(api, pair)
    auth.login(make_user(role))

    response = client.get(f"/visits/{visit_id}")

    # Not 403: to anyone else the visit does not exist, so ids cannot be probed.
    assert response.status_code == 404
    unknown = client.get("/visits/424242")
    assert unknown.status_code == 404
    # The same page, but for its CSRF tokens (signed with the time: the head's and the
    # sign-out form's).
    token = re.compile(r'name="csrf-token" content="[^"]+"|name="csrf_token" value="[^"]+"')
    assert token.sub("", response.get_data(as_text=True)) == token.sub(
        "", unknown.get_data(as_text=True)
    )
    assert_no_trace(response)


def test_unknown_visit_is_404(client, auth, pair):
    auth.login(pair[0])

    response = client.get("/visits/424242")

    assert response.status_code == 404
    assert "No such session." in response.get_data(as_text=True)
    assert_no_trace(response)


def test_unknown_page_is_a_404_page_not_a_trace(client):
    response = client.get("/no/such/page")

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Not found" in response.get_data(as_text=True)
    assert_no_trace(response)
