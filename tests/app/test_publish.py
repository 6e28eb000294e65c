"""Publishing happens after commit, and a failed emit never undoes or hides a change."""

import logging

from app.extensions import socketio
from app.models import Role


def test_a_request_survives_when_its_alert_cannot_be_published(api, make_user, monkeypatch, caplog):
    provider = make_user(Role.PROVIDER, services=["General"], available=True)
    requester = make_user(Role.REQUESTER, name="Station Zeta")
    token, provider_token = api.token(requester), api.token(provider)

    def message_queue_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(socketio, "emit", message_queue_down)
    with caplog.at_level(logging.ERROR, logger="app.realtime.publish"):
        response = api.post("/requests", token, json={"provider_id": provider.id})

    assert response.status_code == 201
    assert response.get_json()["state"] == "pending"
    # The provider's next snapshot (on reconnect) shows it: nothing was lost.
    monkeypatch.undo()
    pending = api.get(f"/requests/{response.get_json()['id']}", provider_token)
    assert pending.get_json()["state"] == "pending"
    assert "could not publish request_created" in caplog.text
    assert "Station Zeta" not in caplog.text  # no patient data in logs
