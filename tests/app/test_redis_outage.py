"""Redis down (restarting, say): what it carries between instances waits, but nobody's
sign-in or request fails for it. (tests/multi/test_faults.py restarts a real one.)"""

from __future__ import annotations

from flask_migrate import upgrade

from app.services.tokens import issue_token
from app.services.users import create_user
from tests.app.helpers import separate_app

CLOSED_PORT = 1  # nothing listens there: connections are refused at once
PASSWORD = "correct horse battery staple"


def test_asking_and_signing_in_work_while_redis_is_down(tmp_path):
    database = f"sqlite:///{tmp_path / 'outage.db'}"
    env = {"REDIS_URL": f"redis://127.0.0.1:{CLOSED_PORT}/0"}
    with separate_app(database, tmp_path, env=env) as other:
        with other.app_context():
            upgrade()
            provider = create_user("p@example.org", "Dr. P", "provider", PASSWORD, ["Check-up"])
            requester = create_user("r@example.org", "Station R", "requester", PASSWORD, [])
            token, _ = issue_token(requester)
            provider_id = provider.id
        client = other.test_client()

        asked = client.post(
            "/api/v1/requests",
            json={"provider_id": provider_id},
            headers={"Authorization": f"Bearer {token}"},
        )
        wrong = client.post("/api/v1/tokens", json={"email": "r@example.org", "password": "no"})
        right = client.post("/api/v1/tokens", json={"email": "r@example.org", "password": PASSWORD})

    assert asked.status_code == 201, asked.get_data(as_text=True)  # counted in memory meanwhile
    assert wrong.status_code == 401
    assert right.status_code == 201
