"""The directory follows who the providers are, not only whether they are available: a
provider created, deactivated, activated again, given another role or moved to another
organisation advances the directory stream with `stream_changed`, and a dashboard that
reads the stream again (live.js does, on that event) sees the list as it now is."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Role, User
from app.services.users import activate_user, deactivate_user, set_organisation, set_role
from tests.app.helpers import browser_tab, directory_of


@pytest.fixture
def watching(app, make_user, socket_client):
    """A requester's dashboard socket, its connect snapshots read."""
    requester = make_user(Role.REQUESTER)
    tab = browser_tab(app, socket_client, requester)
    tab.get_received()
    tab.requester = requester
    return tab


def changes(tab) -> list[dict]:
    return [e["args"][0] for e in tab.get_received() if e["name"] == "stream_changed"]


def listed(tab) -> list[int]:
    """The provider ids of a fresh snapshot of the directory (what a resync answers)."""
    stream = directory_of(tab.requester)
    ack = tab.emit("resync", {"stream": stream}, callback=True)
    assert ack == {"ok": True}
    [snapshot] = [e["args"][0] for e in tab.get_received() if e["name"] == "snapshot"]
    assert snapshot["stream"] == stream
    return [p["id"] for p in snapshot["data"]["providers"]]


def test_a_new_provider_is_announced_and_listed(watching, make_user):
    stream = directory_of(watching.requester)
    version = listed_version(watching)

    provider = make_user(Role.PROVIDER, services=["General"])

    assert changes(watching) == [{"stream": stream, "version": version + 1}]
    assert provider.id in listed(watching)


def test_accounts_that_are_not_providers_change_nothing(watching, make_user):
    for role in (Role.REQUESTER, Role.SCHEDULER, Role.ADMIN):
        make_user(role)

    assert watching.get_received() == []


def test_deactivating_and_activating_a_provider_takes_them_off_the_list_and_back(
    app, watching, make_user
):
    provider = make_user(Role.PROVIDER, available=True)
    watching.get_received()

    with app.app_context():
        deactivate_user(provider.id)
    names = [e["name"] for e in watching.get_received()]
    # Made unavailable first (what declines their waiting requests), then gone.
    assert names == ["availability_changed", "stream_changed"]
    assert provider.id not in listed(watching)

    with app.app_context():
        deactivate_user(provider.id)  # already inactive: nothing changes, nothing is said
    assert watching.get_received() == []

    with app.app_context():
        activate_user(provider.id)
    assert len(changes(watching)) == 1
    assert provider.id in listed(watching)


def test_a_role_change_to_or_from_provider_is_announced(app, watching, make_user):
    scheduler = make_user(Role.SCHEDULER)

    with app.app_context():
        set_role(scheduler.id, Role.PROVIDER.value)
    assert len(changes(watching)) == 1
    assert scheduler.id in listed(watching)

    with app.app_context():
        set_role(scheduler.id, Role.ADMIN.value)
    assert len(changes(watching)) == 1
    assert scheduler.id not in listed(watching)


def test_a_provider_moved_away_leaves_one_directory_for_the_other(
    app, watching, make_user, other_organisation, socket_client
):
    provider = make_user(Role.PROVIDER)
    far = make_user(Role.REQUESTER)
    harbour = other_organisation("Harbour Health")  # once there are two, make_user needs one
    with app.app_context():
        set_organisation(far.id, harbour)
        far = db.session.get(User, far.id)
        db.session.expunge(far)
    their_tab = browser_tab(app, socket_client, far)
    their_tab.requester = far
    their_tab.get_received()
    watching.get_received()

    with app.app_context():
        set_organisation(provider.id, harbour)

    assert len(changes(watching)) == 1
    assert provider.id not in listed(watching)
    assert len(changes(their_tab)) == 1
    assert provider.id in listed(their_tab)


def test_the_admins_api_announces_a_deactivation(api, watching, make_user):
    provider = make_user(Role.PROVIDER)
    watching.get_received()

    admin = api.token(make_user(Role.ADMIN))
    answer = api.call("PATCH", f"/users/{provider.id}", admin, json={"active": False})

    assert answer.status_code == 200
    assert len(changes(watching)) == 1
    assert provider.id not in listed(watching)


def listed_version(tab) -> int:
    stream = directory_of(tab.requester)
    tab.emit("resync", {"stream": stream}, callback=True)
    [snapshot] = [e["args"][0] for e in tab.get_received() if e["name"] == "snapshot"]
    return snapshot["version"]
