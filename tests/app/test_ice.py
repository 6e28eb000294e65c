"""ICE servers handed to the room page, and coturn REST credentials."""

import base64
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta

from app.extensions import db
from app.models import Participant, Role
from app.services.guests import link_token
from app.services.ice import ice_servers_for, turn_credentials
from tests.app.calls import book, make_clinic, patient_of


def test_turn_credentials_follow_coturns_shared_secret_scheme():
    expires = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

    username, credential = turn_credentials("s3cret", 42, expires)

    assert username == f"{int(expires.timestamp())}:42"
    expected = hmac.new(b"s3cret", username.encode(), hashlib.sha1).digest()
    assert base64.b64decode(credential) == expected


def test_without_a_turn_secret_only_the_configured_servers_are_used(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "ICE_SERVERS", [{"urls": "stun:stun.example.org"}])
    monkeypatch.setitem(app.config, "TURN_SECRET", None)

    assert ice_servers_for(7) == [{"urls": "stun:stun.example.org"}]


def test_with_a_turn_secret_each_user_gets_expiring_credentials(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "ICE_SERVERS", [])
    monkeypatch.setitem(app.config, "TURN_SECRET", "s3cret")
    monkeypatch.setitem(app.config, "TURN_URLS", ["turn:turn.example.org:3478"])
    monkeypatch.setitem(app.config, "TURN_TTL", timedelta(hours=1))
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

    (turn,) = ice_servers_for(7, now)

    assert turn["urls"] == ["turn:turn.example.org:3478"]
    assert turn["username"] == f"{int((now + timedelta(hours=1)).timestamp())}:7"
    assert turn["credential"] == turn_credentials("s3cret", 7, now + timedelta(hours=1))[1]


def test_room_page_carries_the_minted_turn_server(app, client, auth, make_user, api, monkeypatch):
    monkeypatch.setitem(app.config, "TURN_SECRET", "s3cret")
    monkeypatch.setitem(app.config, "TURN_URLS", ["turn:turn.example.org:3478"])
    provider = make_user(Role.PROVIDER, services=["General"], available=True)
    requester = make_user(Role.REQUESTER)
    req = api.post("/requests", api.token(requester), json={"provider_id": provider.id})
    accepted = api.post(f"/requests/{req.get_json()['id']}/accept", api.token(provider))
    auth.login(requester)

    html = client.get(f"/visits/{accepted.get_json()['visit_id']}").get_data(as_text=True)

    config = json.loads(re.search(r'id="room-config">(.*?)</script>', html).group(1))
    (turn,) = config["ice_servers"]
    assert turn["urls"] == ["turn:turn.example.org:3478"]
    assert turn["username"].endswith(f":{requester.id}")


def test_a_guests_room_page_carries_turn_credentials_of_their_own(app, make_user, api, monkeypatch):
    monkeypatch.setitem(app.config, "TURN_SECRET", "s3cret")
    monkeypatch.setitem(app.config, "TURN_URLS", ["turn:turn.example.org:3478"])
    clinic = make_clinic(app, make_user, api)
    visit_id = book(api, clinic)
    with app.app_context():
        token = link_token(db.session.get(Participant, patient_of(app, visit_id)))

    html = app.test_client().get(f"/join/{token}").get_data(as_text=True)

    config = json.loads(re.search(r'id="room-config">(.*?)</script>', html).group(1))
    (turn,) = config["ice_servers"]
    assert turn["urls"] == ["turn:turn.example.org:3478"]
    assert turn["username"].endswith(f":guest-{patient_of(app, visit_id)}")
    assert datetime.now(UTC).timestamp() < int(turn["username"].split(":")[0])
