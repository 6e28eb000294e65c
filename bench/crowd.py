"""Many providers and requesters for a benchmark, made on a LiveServer's database.

`make_crowd(server, n)` runs this module in a subprocess with the server's environment
(its database, as `flask` commands see it): it creates `n` providers (each offering one
service, members of the demo clinic, so an accepted session lands on a clinic schedule
as in a real clinic) and `n` requesters through app.services (create_user, add_member,
issue_token), and hands back each one's id and a bearer token. The providers are then made
available over the API, the way a dashboard does.

    python -m bench.crowd N    # (with a server's environment) prints the crowd as JSON
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from tests.server import DEMO_PASSWORD, ROOT, LiveServer

SERVICE = "General consultation"


@dataclass
class Member:
    id: int
    email: str
    name: str
    token: str


@dataclass
class Crowd:
    providers: list[Member]
    requesters: list[Member]


def make_crowd(server: LiveServer, count: int) -> Crowd:
    done = subprocess.run(
        [sys.executable, "-m", "bench.crowd", str(count)],
        cwd=ROOT,
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"could not make the crowd: {done.stderr}")
    made = json.loads(done.stdout.strip().splitlines()[-1])
    crowd = Crowd(
        providers=[Member(**m) for m in made["providers"]],
        requesters=[Member(**m) for m in made["requesters"]],
    )
    for provider in crowd.providers:
        r = server.api("PUT", "/providers/me/availability", provider.token, {"available": True})
        r.raise_for_status()
    return crowd


def _seed(count: int) -> dict:
    from sqlalchemy import select

    from app import create_app
    from app.extensions import db
    from app.models import Clinic, Role
    from app.services.clinics import add_member
    from app.services.tokens import issue_token
    from app.services.users import create_user

    app = create_app()
    made = {"providers": [], "requesters": []}
    with app.app_context():
        clinic = db.session.scalar(select(Clinic).order_by(Clinic.id).limit(1))  # the demo's
        for n in range(1, count + 1):
            for role, key, name in (
                (Role.PROVIDER, "providers", f"Dr. Bench Provider {n:03d}"),
                (Role.REQUESTER, "requesters", f"Bench Station {n:03d}"),
            ):
                email = f"bench-{role.value}-{n:03d}@example.org"
                services = [SERVICE] if role == Role.PROVIDER else []
                user = create_user(email, name, role, DEMO_PASSWORD, services)
                if role == Role.PROVIDER and clinic is not None:
                    add_member(clinic.id, email)
                token, _row = issue_token(user, "benchmark")
                made[key].append({"id": user.id, "email": email, "name": name, "token": token})
    return made


if __name__ == "__main__":
    print(json.dumps(_seed(int(sys.argv[1]))))
