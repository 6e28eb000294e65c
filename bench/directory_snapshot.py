"""The directory snapshot alone: what every connecting dashboard reads.

A micro-benchmark in one process (no server): an organisation of `--providers` providers
with two services each, on a fresh SQLite database (or `--database-url`), and the time of
`list_providers` (app/services/snapshots.py), median of `--repeats` reads.

    python -m bench.directory_snapshot [--providers 300] [--repeats 50]

Writes bench/results/directory_snapshot.json. (tests/multi's kill -9 at full size is
where it showed: 250 dashboards reconnecting to one instance; see BENCHMARKS.md.)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade

from bench.results_file import provenance, write_result
from tests.app.helpers import separate_app

RESULTS = Path(__file__).resolve().parent / "results" / "directory_snapshot.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()

    from app.extensions import db
    from app.models import Organisation, Service, User
    from app.services.snapshots import list_providers

    folder = Path(tempfile.mkdtemp(prefix="directory-snapshot-"))
    database = args.database_url or f"sqlite:///{folder / 'bench.db'}"
    with separate_app(database, folder) as app, app.app_context():
        upgrade()
        home = Organisation(name="Bench Health")
        services = [Service(name=f"Service {n}") for n in range(7)]
        db.session.add_all([home, *services])
        db.session.flush()
        for n in range(args.providers):
            db.session.add(
                User(
                    organisation_id=home.id,
                    email=f"p{n}@bench.invalid",
                    name=f"Dr {n:05d}",
                    role="provider",
                    password_hash="!",
                    active=True,
                    services=[services[0], services[1 + n % 6]],
                )
            )
        db.session.commit()
        listed = list_providers(home.id)
        assert len(listed) == args.providers
        times = []
        for _ in range(args.repeats):
            db.session.rollback()
            start = time.perf_counter()
            list_providers(home.id)
            times.append((time.perf_counter() - start) * 1000)
    result = {
        **provenance(),
        "parameters": {"providers": args.providers, "repeats": args.repeats},
        "median_ms": round(statistics.median(times), 2),
        "min_ms": round(min(times), 2),
    }
    print(f"list_providers, {args.providers} providers: median {result['median_ms']} ms,"
          f" min {result['min_ms']} ms")  # fmt: skip
    write_result(result, RESULTS)


if __name__ == "__main__":
    main()
