"""What one dashboard's connect costs the server: CPU and queries (the connect storm's unit).

A micro-benchmark in one process (no server, no network): the demo organisation on a
fresh SQLite database (or `--database-url`), the demo station's account with an API token
(the connect storm's client: a requester's dashboard, two snapshots), and `--connects`
connections opened and closed one after another through Flask-SocketIO's test client.
Reports the median and mean CPU time of one connect (the thread's, from the kernel) and
the queries it ran (a `before_cursor_execute` listener). `--requests N` first gives the
station N requests on its screen (at most 2), so the requester's own snapshot is not empty.
`--credential session` connects with a signed-in browser's session cookie instead of the
token (the login form, then the socket with its cookie), `--who` as which demo account.

    python -m bench.connect_cost [--connects 300] [--requests 0] [--database-url URL]
        [--credential token|session] [--who station@example.org]

Writes bench/results/connect_cost.json (or --output). See BENCHMARKS.md section 2.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import event

from bench.results_file import provenance, write_result
from tests.app.helpers import separate_app

RESULTS = Path(__file__).resolve().parent / "results" / "connect_cost.json"
STATION = "station@example.org"


def populate(requests: int) -> None:
    """Put `requests` (at most one per demo provider: 2) on the demo station's screen: the
    first pending, the others declined and not yet dismissed; each provider also answered
    one earlier request (so the pending one's wait is estimated from a history)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Role, SessionRequest, User
    from app.models.types import utcnow

    station = db.session.scalar(select(User).where(User.email == STATION))
    providers = db.session.scalars(
        select(User).where(User.role == Role.PROVIDER).order_by(User.id)
    ).all()
    if requests > len(providers):
        raise SystemExit(f"--requests: at most {len(providers)} (one per demo provider)")
    now = utcnow()
    for n, provider in enumerate(providers[:requests]):
        service_id = provider.services[0].id
        for state, reason in (("accepted", None), ("pending" if n == 0 else "declined", None)):
            db.session.add(
                SessionRequest(
                    requester_id=station.id,
                    provider_id=provider.id,
                    service_id=service_id,
                    state=state,
                    decline_reason="declined" if state == "declined" else reason,
                    created_at=now,
                    updated_at=now,
                )
            )
    db.session.commit()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connects", type=int, default=300)
    parser.add_argument("--requests", type=int, default=0)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--credential", choices=["token", "session"], default="token")
    parser.add_argument("--who", default=STATION, help="a demo account's email")
    parser.add_argument("--label", default="")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from app.cli import DEMO_PASSWORD
    from app.extensions import db, socketio
    from app.services.snapshots import streams_for
    from app.services.tokens import issue_token
    from app.services.users import user_by_email
    from tests.conftest import Auth

    folder = Path(tempfile.mkdtemp(prefix="connect-cost-"))
    database = args.database_url or f"sqlite:///{folder / 'bench.db'}"
    env = {"MAX_SOCKETS_PER_USER": "1000000"}
    with separate_app(database, folder, env) as app:
        with app.app_context():
            upgrade()
            app.test_cli_runner().invoke(args=["demo"])
            populate(args.requests)
            who = user_by_email(args.who)
            token, _ = issue_token(who)
            expect = len(streams_for(who))
            engine = db.engine
            db.session.remove()
        # No app context is held from here: each connect has its own, as on a server (a
        # held one would share its database session and Flask-Login's user between them).
        opened_with = {"auth": {"token": token}}
        if args.credential == "session":
            browser = app.test_client()
            signed_in = Auth(browser).login(who, DEMO_PASSWORD)
            assert signed_in.status_code == 302, signed_in.status_code
            opened_with = {"flask_test_client": browser}
        queries = [0]

        def count(*_args, **_kwargs):
            queries[0] += 1

        event.listen(engine, "before_cursor_execute", count)
        cpu, per_connect = [], []
        for n in range(args.connects + 10):
            before_q = queries[0]
            start = time.thread_time()
            client = socketio.test_client(app, **opened_with)
            spent = time.thread_time() - start
            ran = queries[0] - before_q
            received = client.get_received()
            assert client.is_connected() and len(received) == expect, received
            client.disconnect()
            if n >= 10:  # the first ones warm SQLAlchemy's caches
                cpu.append(spent * 1000)
                per_connect.append(ran)
        event.remove(engine, "before_cursor_execute", count)
    result = {
        "benchmark": "connect_cost",
        "label": args.label,
        **provenance(),
        "parameters": {
            "connects": args.connects,
            "requests": args.requests,
            "credential": args.credential,
            "who": args.who,
        },
        "cpu_ms_median": round(statistics.median(cpu), 3),
        "cpu_ms_mean": round(statistics.mean(cpu), 3),
        "queries_per_connect": statistics.median(per_connect),
    }
    print(
        f"connect ({args.who}, {args.credential}, {args.requests} requests): "
        f"CPU median {result['cpu_ms_median']} ms, mean {result['cpu_ms_mean']} ms, "
        f"{result['queries_per_connect']} queries"
    )
    write_result(result, args.output)
    return result


if __name__ == "__main__":
    main()
