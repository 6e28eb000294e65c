"""Multi tier: two web instances on one PostgreSQL and one Redis, behind nginx configured
with deploy/nginx.conf (TLS, WebSocket upgrade, sticky Socket.IO), and the faults they must
survive. Everything is on loopback and started by the tier itself: its own nginx, its own
Redis (restarting it disturbs nobody), and a relay to PostgreSQL that can be cut.

Runs when TEST_DATABASE_URL and REDIS_URL are set (CI's second pass); sizes are short
unless ANTEROOM_FAULT_SCALE=full (`make bench`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.multi.support import Nginx, TcpRelay, restart
from tests.realserver.live import Accounts
from tests.server import LiveServer, RedisServer


@dataclass
class Cluster:
    a: LiveServer
    b: LiveServer
    nginx: Nginx
    redis: RedisServer
    database: TcpRelay
    accounts: Accounts

    @property
    def instances(self) -> tuple[LiveServer, LiveServer]:
        return self.a, self.b

    def heal(self) -> None:
        """Whatever a fault test broke is whole again for the next test."""
        self.database.restore()
        if self.redis.process.poll() is not None:
            self.redis.start()
        for server in self.instances:
            restart(server)


def _relayed(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    database_url, redis_url = os.environ.get("TEST_DATABASE_URL"), os.environ.get("REDIS_URL")
    if not (database_url and database_url.startswith("postgres") and redis_url):
        pytest.skip("TEST_DATABASE_URL (PostgreSQL) and REDIS_URL are not set: the multi tier "
                    "runs two instances on PostgreSQL with Redis between them")  # fmt: skip
    target = urlsplit(database_url).port or 5432
    started = []
    try:
        redis = RedisServer().start()
        started.append(redis)
        relay = TcpRelay(target).start()
        started.append(relay)
        env = {
            "PROXY_COUNT": "1",
            "SOCKETIO_CHANNEL": f"anteroom-multi-{os.getpid()}",
            # A crowd of dashboards from one address, and many sessions per test account.
            "MAX_SOCKETS_PER_USER": "1000",
        }
        a = LiveServer(
            tmp_path_factory.mktemp("instance-a"),
            database_url=_relayed(database_url, relay.port),
            redis_url=redis.url,
            media_worker=False,
            extra_env=env,
        )
        started.insert(0, a)
        a.start()
        b = LiveServer(
            tmp_path_factory.mktemp("instance-b"),
            database_url=a.env()["DATABASE_URL"],
            redis_url=redis.url,
            media_worker=False,
            prepare=False,
            extra_env=env,
        )
        started.insert(0, b)
        b.start()
        nginx = Nginx(tmp_path_factory.mktemp("nginx"), [a.port, b.port])
        started.insert(0, nginx)
        nginx.start()
        yield Cluster(a, b, nginx, redis, relay, Accounts(a))
    finally:
        for thing in started:  # nginx, instances (dropping their schema), relay, Redis
            if isinstance(thing, LiveServer):
                relay.restore()
            thing.stop()


@pytest.fixture
def healed(cluster):
    """The cluster, made whole again after a test that breaks it."""
    yield cluster
    cluster.heal()
