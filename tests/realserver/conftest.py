"""Realserver tier: `python wsgi.py` in a subprocess, python-socketio clients against it.

One gevent server (the default async mode) serves the whole session; each test takes fresh
accounts from `accounts`, so no test's streams see another's events. Modules that need a
server of their own (other async modes, two instances on Redis) start it themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.realserver.live import Account, Accounts, LiveClient, disconnect_all, start_server
from tests.server import LiveServer


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("realserver"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def accounts(server) -> Accounts:
    return Accounts(server)


@pytest.fixture
def connect(request) -> Iterator[Callable[..., LiveClient]]:
    """Factory: connect(account_or_token, server=None) → a connected LiveClient.

    Every client is disconnected when the test ends.
    """
    made: list[LiveClient] = []

    def make(who: Account | str | None, server: LiveServer | None = None) -> LiveClient:
        server = server or request.getfixturevalue("server")
        token = who.token if isinstance(who, Account) else who
        client = LiveClient(server.url, token)
        made.append(client)
        return client.connect()

    yield make
    disconnect_all(made)
