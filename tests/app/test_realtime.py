"""Socket.IO through Flask-SocketIO's test client: auth, snapshots, versioned events,
resync, the waiting room and the signaling relay."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from app.extensions import socketio
from app.models import Role
from app.services import jobs
from tests.app.helpers import browser_tab, directory_of, presence_of, set_last_seen, visit_rows

VERSIONED = {"request_created", "request_updated", "availability_changed", "visit_updated"}


@pytest.fixture
def clinic(app, make_user, api, socket_client):
    """A provider and a requester with tokens, and a way to open sockets as anyone."""
    provider = make_user(Role.PROVIDER, name="Dr. Ada", services=["General"], available=True)
    requester = make_user(Role.REQUESTER, name="Station A")

    def connect(user):
        return browser_tab(app, socket_client, user)

    return SimpleNamespace(
        provider=provider,
        requester=requester,
        p=api.token(provider),
        r=api.token(requester),
        connect=connect,
    )


def received(sc, name=None) -> list[dict]:
    """Payloads of the events a socket got since the last call (optionally one name)."""
    events = sc.get_received()
    return [e["args"][0] for e in events if name is None or e["name"] == name]


def sid_of(sc) -> str:
    """The Socket.IO id the server knows a test client by."""
    return socketio.server.manager.sid_from_eio_sid(sc.eio_sid, "/")


def named(sc) -> list[tuple[str, dict]]:
    return [(e["name"], e["args"][0]) for e in sc.get_received()]


def snapshots(sc) -> dict[str, dict]:
    return {s["stream"]: s for s in received(sc, "snapshot")}


def open_request(api, clinic) -> int:
    response = api.post("/requests", clinic.r, json={"provider_id": clinic.provider.id})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def accepted_visit(api, clinic) -> int:
    request_id = open_request(api, clinic)
    return api.post(f"/requests/{request_id}/accept", clinic.p).get_json()["visit_id"]


# Connecting --------------------------------------------------------------------------


def test_connect_without_a_session_or_token_is_refused(app, socket_client):
    assert not socket_client().is_connected()
    assert not socket_client(flask_client=app.test_client()).is_connected()


@pytest.mark.parametrize("auth", [{"token": "not-a-token"}, {"token": ""}, {"other": 1}, "x"])
def test_connect_with_a_bad_token_is_refused(socket_client, auth):
    assert not socket_client(auth=auth).is_connected()


def test_connect_from_an_idle_session_is_refused(app, client, auth, make_user, socket_client):
    provider = make_user(Role.PROVIDER)
    auth.login(provider)
    set_last_seen(app, provider.id, app.config["IDLE_LOGOUT"].total_seconds() + 5)

    assert not socket_client(flask_client=client).is_connected()


def test_provider_gets_a_snapshot_of_each_stream_on_connect(clinic, api):
    request_id = open_request(api, clinic)

    sc = clinic.connect(clinic.provider)

    assert sc.is_connected()
    got = snapshots(sc)
    assert set(got) == {f"provider:{clinic.provider.id}", directory_of(clinic.provider)}
    mine = got[f"provider:{clinic.provider.id}"]
    assert mine["version"] == 1  # one request_created so far
    assert [r["id"] for r in mine["data"]["requests"]] == [request_id]
    assert got[directory_of(clinic.provider)]["version"] == 1  # the provider was listed
    assert got[directory_of(clinic.provider)]["data"]["providers"][0]["id"] == clinic.provider.id


def test_requester_connecting_with_a_token_gets_its_snapshots(clinic, socket_client):
    sc = socket_client(auth={"token": clinic.r})

    assert sc.is_connected()
    got = snapshots(sc)
    assert set(got) == {f"requester:{clinic.requester.id}", directory_of(clinic.provider)}
    assert got[f"requester:{clinic.requester.id}"]["data"] == {"requests": [], "sessions": []}


@pytest.mark.parametrize("role", [Role.SCHEDULER, Role.ADMIN])
def test_other_roles_follow_only_the_directory(clinic, make_user, role):
    sc = clinic.connect(make_user(role))

    assert set(snapshots(sc)) == {directory_of(clinic.provider)}


# Versioned events ------------------------------------------------------------------------


def test_new_request_reaches_the_provider_and_the_requester_at_the_next_version(clinic, api):
    provider_sc = clinic.connect(clinic.provider)
    requester_sc = clinic.connect(clinic.requester)
    p_version = snapshots(provider_sc)[f"provider:{clinic.provider.id}"]["version"]
    r_version = snapshots(requester_sc)[f"requester:{clinic.requester.id}"]["version"]

    request_id = open_request(api, clinic)

    [(name, event)] = named(provider_sc)
    assert name == "request_created"
    assert (event["stream"], event["version"]) == (f"provider:{clinic.provider.id}", p_version + 1)
    assert (event["id"], event["state"]) == (request_id, "pending")
    [(name, event)] = named(requester_sc)
    assert name == "request_updated"
    assert (event["stream"], event["version"]) == (
        f"requester:{clinic.requester.id}",
        r_version + 1,
    )


def test_nobody_else_hears_of_a_request(clinic, api, make_user):
    other_provider = clinic.connect(make_user(Role.PROVIDER, available=True))
    other_requester = clinic.connect(make_user(Role.REQUESTER))
    other_provider.get_received()
    other_requester.get_received()

    open_request(api, clinic)

    assert other_provider.get_received() == []
    assert other_requester.get_received() == []


def test_request_to_an_unavailable_provider_is_not_announced_to_them(clinic, api):
    api.put("/providers/me/availability", clinic.p, json={"available": False})
    provider_sc = clinic.connect(clinic.provider)
    requester_sc = clinic.connect(clinic.requester)
    provider_sc.get_received()
    requester_sc.get_received()

    open_request(api, clinic)

    assert provider_sc.get_received() == []
    [update] = received(requester_sc, "request_updated")
    assert update["state"] == "declined"


def test_accepting_tells_both_dashboards_about_the_request_and_the_visit(clinic, api):
    request_id = open_request(api, clinic)
    provider_sc = clinic.connect(clinic.provider)
    requester_sc = clinic.connect(clinic.requester)
    provider_sc.get_received()
    requester_sc.get_received()

    visit_id = api.post(f"/requests/{request_id}/accept", clinic.p).get_json()["visit_id"]

    for sc in (provider_sc, requester_sc):
        events = named(sc)
        assert [name for name, _ in events] == ["request_updated", "visit_updated"]
        assert events[0][1]["state"] == "accepted"
        assert events[1][1]["id"] == visit_id
        assert [p["role"] for p in events[1][1]["participants"]] == ["host", "patient"]


def test_availability_change_reaches_the_directory_and_the_provider(clinic, api):
    provider_sc = clinic.connect(clinic.provider)
    requester_sc = clinic.connect(clinic.requester)
    directory_version = snapshots(requester_sc)[directory_of(clinic.provider)]["version"]
    provider_sc.get_received()

    api.put("/providers/me/availability", clinic.p, json={"available": False})

    [change] = received(requester_sc, "availability_changed")
    assert change == {
        "provider_id": clinic.provider.id,
        "available": False,
        "stream": directory_of(clinic.provider),
        "version": directory_version + 1,
    }
    streams = sorted(e["stream"] for e in received(provider_sc, "availability_changed"))
    assert streams == [directory_of(clinic.provider), f"provider:{clinic.provider.id}"]


def test_setting_the_same_availability_again_emits_nothing(clinic, api):
    requester_sc = clinic.connect(clinic.requester)
    requester_sc.get_received()

    api.put("/providers/me/availability", clinic.p, json={"available": True})

    assert requester_sc.get_received() == []


def test_every_event_carries_its_stream_and_versions_rise_by_exactly_one(clinic, api, make_user):
    provider_sc = clinic.connect(clinic.provider)
    requester_sc = clinic.connect(clinic.requester)
    start = {**snapshots(provider_sc), **snapshots(requester_sc)}

    # A busy stretch: every kind of event, several on one stream in one transaction.
    first = open_request(api, clinic)
    visit_id = api.post(f"/requests/{first}/accept", clinic.p).get_json()["visit_id"]
    api.post(f"/visits/{visit_id}/end", clinic.p)  # one live session per pair at a time
    second = open_request(api, clinic)
    api.post(f"/requests/{second}/decline", clinic.p, json={"note": "Later"})
    api.post(f"/requests/{second}/dismiss", clinic.r)
    third = open_request(api, clinic)
    api.post(f"/requests/{third}/cancel", clinic.r)
    open_request(api, clinic)
    api.put("/providers/me/availability", clinic.p, json={"available": False})
    api.put("/providers/me/availability", clinic.p, json={"available": True})

    by_stream = defaultdict(list)
    names = set()
    for sc, own in ((provider_sc, "provider"), (requester_sc, "requester")):
        for name, event in named(sc):
            assert name in VERSIONED, name
            names.add(name)
            if event["stream"] == directory_of(clinic.provider) and own == "provider":
                continue  # the directory is checked once, on the requester's socket
            by_stream[event["stream"]].append(event["version"])
    assert names == VERSIONED
    assert set(by_stream) == set(start)
    for stream, versions in by_stream.items():
        begin = start[stream]["version"]
        assert versions == list(range(begin + 1, begin + 1 + len(versions))), stream
    # created, accepted+visit, visit ended, created, declined, created, cancelled, created,
    # declined by unavailability+availability, availability
    assert len(by_stream[f"provider:{clinic.provider.id}"]) == 12


def test_reconnecting_client_gets_a_snapshot_at_the_latest_version(clinic, api):
    first = clinic.connect(clinic.provider)
    open_request(api, clinic)
    last_seen = received(first, "request_created")[-1]["version"]
    first.disconnect()

    # Missed while away: the pending request is declined, then availability changes.
    api.put("/providers/me/availability", clinic.p, json={"available": False})

    again = clinic.connect(clinic.provider)
    mine = snapshots(again)[f"provider:{clinic.provider.id}"]
    assert mine["version"] == last_seen + 2  # request_updated (declined) + availability
    assert mine["data"]["available"] is False
    assert mine["data"]["requests"] == []


# Resync ------------------------------------------------------------------------------


def test_resync_answers_with_a_fresh_snapshot(clinic, api):
    sc = clinic.connect(clinic.provider)
    sc.get_received()
    request_id = open_request(api, clinic)
    sc.get_received()

    ack = sc.emit("resync", {"stream": f"provider:{clinic.provider.id}"}, callback=True)

    assert ack == {"ok": True}
    [snapshot] = received(sc, "snapshot")
    assert snapshot["stream"] == f"provider:{clinic.provider.id}"
    assert snapshot["version"] == 1
    assert [r["id"] for r in snapshot["data"]["requests"]] == [request_id]


def test_resync_of_the_directory_works_for_everyone(clinic):
    sc = clinic.connect(clinic.requester)
    sc.get_received()

    directory = directory_of(clinic.provider)
    assert sc.emit("resync", {"stream": directory}, callback=True) == {"ok": True}
    assert [s["stream"] for s in received(sc, "snapshot")] == [directory]


@pytest.mark.parametrize(
    "stream",
    ["provider:{other}", "requester:{requester}", "provider:{requester}", "visit:1", "", None],
)
def test_resync_refuses_streams_the_user_may_not_follow(clinic, make_user, stream):
    other = make_user(Role.PROVIDER)
    sc = clinic.connect(clinic.provider)
    sc.get_received()
    if stream is not None:
        stream = stream.format(other=other.id, requester=clinic.requester.id)

    ack = sc.emit("resync", {"stream": stream}, callback=True)

    assert ack["error"]["code"] == "forbidden"
    assert sc.get_received() == []


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (None, "forbidden"),  # no stream named: not one of the user's
        ("provider:1", "invalid"),  # not an object
        (["directory"], "invalid"),
        (7, "invalid"),
    ],
)
def test_resync_with_malformed_data_is_refused(clinic, data, code):
    sc = clinic.connect(clinic.provider)
    sc.get_received()

    ack = sc.emit("resync", data, callback=True)

    assert ack["error"]["code"] == code
    assert sc.get_received() == []


# Waiting room and call ---------------------------------------------------------------


def test_patient_waits_until_the_host_joins_then_is_admitted(app, clinic, api):
    visit_id = accepted_visit(api, clinic)
    dashboard = clinic.connect(clinic.provider)
    patient = clinic.connect(clinic.requester)
    host = clinic.connect(clinic.provider)
    for sc in (dashboard, patient, host):
        sc.get_received()

    waiting = patient.emit("join_visit", {"visit_id": visit_id}, callback=True)

    assert waiting["presence"] == "waiting"
    assert presence_of(app, visit_id, clinic.requester.id) == "waiting"
    [summary] = received(dashboard, "visit_updated")
    patient_row = next(p for p in summary["participants"] if p["role"] == "patient")
    assert (patient_row["presence"], patient_row["status"]) == ("waiting", "In Waiting Room")
    assert patient_row["waiting_since"] is not None
    patient.get_received()

    admitted = host.emit("join_visit", {"visit_id": visit_id}, callback=True)

    assert admitted["presence"] == "admitted"
    assert visit_rows(app, visit_id)["state"] == "in_call"
    assert presence_of(app, visit_id, clinic.requester.id) == "admitted"
    updates = received(patient, "participant_updated")
    me = next(u for u in updates if u["participant"]["user_id"] == clinic.requester.id)
    assert me["visit_id"] == visit_id
    assert (me["participant"]["presence"], me["participant"]["status"]) == (
        "admitted",
        "In Meeting",
    )
    [summary] = received(dashboard, "visit_updated")
    assert summary["state"] == "in_call"
    assert {p["presence"] for p in summary["participants"]} == {"admitted"}


def test_patient_arriving_while_the_host_is_in_the_call_is_admitted_at_once(clinic, api):
    visit_id = accepted_visit(api, clinic)
    host = clinic.connect(clinic.provider)
    host.emit("join_visit", {"visit_id": visit_id}, callback=True)
    host.get_received()
    patient = clinic.connect(clinic.requester)

    ack = patient.emit("join_visit", {"visit_id": visit_id}, callback=True)

    assert ack["presence"] == "admitted"
    [joined] = received(host, "peer_joined")
    assert joined == {
        "visit_id": visit_id,
        "sid": ack["sid"],
        "participant_id": ack["participant_id"],
        "name": "Station A",
    }


@pytest.mark.parametrize("role", [Role.PROVIDER, Role.REQUESTER, Role.ADMIN])
def test_non_participant_cannot_join_a_visit(app, clinic, api, make_user, role):
    visit_id = accepted_visit(api, clinic)
    stranger = clinic.connect(make_user(role))
    stranger.get_received()

    ack = stranger.emit("join_visit", {"visit_id": visit_id}, callback=True)

    assert ack["error"]["code"] == "not_found"  # to strangers the visit does not exist
    assert visit_rows(app, visit_id)["participants"] == [
        ("host", clinic.provider.id, "absent"),
        ("patient", clinic.requester.id, "absent"),
    ]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"visit_id": 424242}, "not_found"),
        ({}, "invalid"),
        ({"visit_id": "1"}, "invalid"),
        ({"visit_id": True}, "invalid"),
        (None, "invalid"),
    ],
)
def test_join_visit_refuses_unknown_or_malformed_visits(clinic, data, code):
    sc = clinic.connect(clinic.requester)

    assert sc.emit("join_visit", data, callback=True)["error"]["code"] == code


def test_nobody_joins_an_ended_visit(clinic, api):
    visit_id = accepted_visit(api, clinic)
    api.post(f"/visits/{visit_id}/end", clinic.p)
    patient = clinic.connect(clinic.requester)

    ack = patient.emit("join_visit", {"visit_id": visit_id}, callback=True)

    assert ack["error"]["code"] == "conflict"


def test_ending_the_visit_tells_everyone_in_the_rooms(app, clinic, api):
    visit_id = accepted_visit(api, clinic)
    patient = clinic.connect(clinic.requester)
    patient.emit("join_visit", {"visit_id": visit_id}, callback=True)
    patient.get_received()

    api.post(f"/visits/{visit_id}/end", clinic.p)

    events = named(patient)
    assert ("visit_ended", {"visit_id": visit_id, "reason": "ended"}) in events
    assert presence_of(app, visit_id, clinic.requester.id) == "left"


# Signaling -----------------------------------------------------------------------------


@pytest.fixture
def call(clinic, api):
    """Host and patient both admitted to one visit, with their socket ids."""
    visit_id = accepted_visit(api, clinic)
    host = clinic.connect(clinic.provider)
    patient = clinic.connect(clinic.requester)
    patient_sid = patient.emit("join_visit", {"visit_id": visit_id}, callback=True)["sid"]
    host_sid = host.emit("join_visit", {"visit_id": visit_id}, callback=True)["sid"]
    host.get_received()
    patient.get_received()
    return SimpleNamespace(
        visit_id=visit_id, host=host, patient=patient, host_sid=host_sid, patient_sid=patient_sid
    )


def test_signal_is_relayed_between_the_two_admitted_participants(call):
    host_id = participant_id_of(call.host, call.visit_id)
    patient_id = participant_id_of(call.patient, call.visit_id)
    call.host.get_received()
    offer = {"type": "offer", "sdp": "v=0 fake"}

    ack = call.host.emit(
        "signal", {"visit_id": call.visit_id, "to": call.patient_sid, "data": offer}, callback=True
    )

    assert ack == {"ok": True}
    assert received(call.patient, "signal") == [
        {
            "visit_id": call.visit_id,
            "from": call.host_sid,
            "sender": {"participant_id": host_id, "host": True},
            "data": offer,
        }
    ]
    assert call.host.get_received() == []

    # What the sender says of itself is not who it is: the server says who sent it.
    answer = {"type": "answer", "sdp": "v=0 fake answer", "participant_id": host_id, "host": True}
    call.patient.emit(
        "signal", {"visit_id": call.visit_id, "to": call.host_sid, "data": answer}, callback=True
    )
    assert received(call.host, "signal") == [
        {
            "visit_id": call.visit_id,
            "from": call.patient_sid,
            "sender": {"participant_id": patient_id, "host": False},
            "data": answer,
        }
    ]


def participant_id_of(sock, visit_id: int) -> int:
    """The participant a connection holds in the visit (joining again answers with it)."""
    answer = sock.emit("join_visit", {"visit_id": visit_id}, callback=True)
    sock.get_received()
    return answer["participant_id"]


def test_signal_from_someone_outside_the_call_is_refused(clinic, call, make_user):
    stranger = clinic.connect(make_user(Role.PROVIDER))
    call.patient.get_received()  # the directory's news of the new provider

    ack = stranger.emit(
        "signal",
        {"visit_id": call.visit_id, "to": call.patient_sid, "data": {"type": "offer"}},
        callback=True,
    )

    assert ack["error"]["code"] == "forbidden"
    assert call.patient.get_received() == []


def test_signal_to_a_socket_outside_the_call_is_refused(clinic, call, make_user):
    outsider = clinic.connect(make_user(Role.REQUESTER))
    outsider.get_received()

    for target in (sid_of(outsider), "no-such-sid", "", call.host_sid):
        ack = call.host.emit(
            "signal", {"visit_id": call.visit_id, "to": target, "data": {"x": 1}}, callback=True
        )
        assert ack["error"]["code"] == "forbidden", target
    assert outsider.get_received() == []
    assert call.host.get_received() == []
    assert call.patient.get_received() == []


def test_signal_for_another_visit_is_refused(clinic, call, api, make_user):
    other_requester = make_user(Role.REQUESTER)
    token = api.token(other_requester)
    request_id = api.post("/requests", token, json={"provider_id": clinic.provider.id}).get_json()[
        "id"
    ]
    other_visit = api.post(f"/requests/{request_id}/accept", clinic.p).get_json()["visit_id"]

    ack = call.host.emit(
        "signal", {"visit_id": other_visit, "to": call.patient_sid, "data": {}}, callback=True
    )

    assert ack["error"]["code"] == "forbidden"
    assert call.patient.get_received() == []


def test_participants_not_both_admitted_cannot_signal_each_other(app, clinic, api):
    visit_id = accepted_visit(api, clinic)
    host = clinic.connect(clinic.provider)
    host_sid = host.emit("join_visit", {"visit_id": visit_id}, callback=True)["sid"]
    host.emit("leave_visit", {"visit_id": visit_id}, callback=True)
    patient = clinic.connect(clinic.requester)
    patient_sid = patient.emit("join_visit", {"visit_id": visit_id}, callback=True)["sid"]
    assert presence_of(app, visit_id, clinic.requester.id) == "waiting"
    host.get_received()
    patient.get_received()

    from_waiting = patient.emit(
        "signal", {"visit_id": visit_id, "to": host_sid, "data": {}}, callback=True
    )
    to_waiting = host.emit(
        "signal", {"visit_id": visit_id, "to": patient_sid, "data": {}}, callback=True
    )

    assert from_waiting["error"]["code"] == "forbidden"
    assert to_waiting["error"]["code"] == "forbidden"
    assert host.get_received() == []
    assert patient.get_received() == []


@pytest.mark.parametrize(
    "data",
    [None, {}, {"visit_id": "1", "to": "x", "data": {}}, {"visit_id": 1, "to": 5, "data": {}}],
)
def test_malformed_signal_is_refused(call, data):
    if isinstance(data, dict) and data.get("to") == "x":
        data = {**data, "to": call.patient_sid}

    ack = call.host.emit("signal", data, callback=True)

    assert ack["error"]["code"] == "invalid"
    assert call.patient.get_received() == []


def test_signal_without_a_payload_object_is_refused(call):
    ack = call.host.emit(
        "signal", {"visit_id": call.visit_id, "to": call.patient_sid, "data": "sdp"}, callback=True
    )

    assert ack["error"]["code"] == "invalid"
    assert call.patient.get_received() == []


# Leaving -----------------------------------------------------------------------------


def test_leave_visit_marks_the_patient_left_and_the_provider_dashboard_sees_it(app, clinic, call):
    dashboard = clinic.connect(clinic.provider)
    dashboard.get_received()

    ack = call.patient.emit("leave_visit", {"visit_id": call.visit_id}, callback=True)

    assert ack == {"ok": True}
    assert presence_of(app, call.visit_id, clinic.requester.id) == "left"
    [summary] = received(dashboard, "visit_updated")
    patient = next(p for p in summary["participants"] if p["role"] == "patient")
    assert (patient["presence"], patient["status"]) == ("left", "Not arrived")
    assert {"visit_id": call.visit_id, "sid": call.patient_sid} in received(call.host, "peer_left")
    # Gone from the call: the relay refuses to reach it now.
    refused = call.host.emit(
        "signal", {"visit_id": call.visit_id, "to": call.patient_sid, "data": {}}, callback=True
    )
    assert refused["error"]["code"] == "forbidden"


def grace_runs_out(app, seconds: float | None = None) -> None:
    """Run the jobs due once the reconnection grace period (or `seconds`) has passed."""
    wait = app.config["RECONNECT_GRACE_SECONDS"] if seconds is None else seconds
    with app.app_context():
        jobs.run_due(datetime.now(UTC) + timedelta(seconds=wait + 1))


def test_a_dropped_connection_is_reconnecting_then_left_after_the_grace_period(app, clinic, call):
    dashboard = clinic.connect(clinic.provider)
    dashboard.get_received()

    call.patient.disconnect()

    # They keep their place for the grace period: the others see them reconnecting.
    assert presence_of(app, call.visit_id, clinic.requester.id) == "admitted"
    [summary] = received(dashboard, "visit_updated")
    patient = next(p for p in summary["participants"] if p["role"] == "patient")
    assert (patient["presence"], patient["reconnecting"], patient["status"]) == (
        "admitted",
        True,
        "Reconnecting",
    )
    left = received(call.host, "peer_left")
    assert {"visit_id": call.visit_id, "sid": call.patient_sid, "reconnecting": True} in left

    grace_runs_out(app, seconds=app.config["RECONNECT_GRACE_SECONDS"] - 5)
    assert presence_of(app, call.visit_id, clinic.requester.id) == "admitted"  # not yet

    grace_runs_out(app)
    assert presence_of(app, call.visit_id, clinic.requester.id) == "left"
    [summary] = received(dashboard, "visit_updated")
    assert summary["state"] == "in_call"
    patient = next(p for p in summary["participants"] if p["role"] == "patient")
    assert (patient["presence"], patient["reconnecting"]) == ("left", False)


def test_coming_back_within_the_grace_period_returns_to_the_same_call(app, clinic, call):
    call.patient.disconnect()
    call.host.get_received()
    again = clinic.connect(clinic.requester)

    ack = again.emit("join_visit", {"visit_id": call.visit_id}, callback=True)

    assert ack["presence"] == "admitted"  # straight back into the call, nobody admits
    joined = received(call.host, "peer_joined")
    assert [j["sid"] for j in joined] == [ack["sid"]]  # the host calls the new connection
    grace_runs_out(app)  # the old connection's grace ends: nothing changes
    assert presence_of(app, call.visit_id, clinic.requester.id) == "admitted"


def test_the_host_dropping_for_good_moves_the_patient_back_after_the_grace_period(
    app, clinic, call
):
    call.host.disconnect()
    assert presence_of(app, call.visit_id, clinic.requester.id) == "admitted"

    grace_runs_out(app)

    assert presence_of(app, call.visit_id, clinic.provider.id) == "left"
    assert presence_of(app, call.visit_id, clinic.requester.id) == "waiting"


def test_host_leaving_moves_the_patient_back_to_the_waiting_room(app, clinic, call):
    dashboard = clinic.connect(clinic.provider)
    dashboard.get_received()
    call.patient.get_received()

    call.host.emit("leave_visit", {"visit_id": call.visit_id}, callback=True)

    # The visit goes on, but nobody sits in an empty call that says "In Meeting".
    assert presence_of(app, call.visit_id, clinic.provider.id) == "left"
    assert presence_of(app, call.visit_id, clinic.requester.id) == "waiting"
    assert visit_rows(app, call.visit_id)["state"] == "in_call"
    [summary] = received(dashboard, "visit_updated")
    patient = next(p for p in summary["participants"] if p["role"] == "patient")
    assert (patient["presence"], patient["status"]) == ("waiting", "In Waiting Room")
    assert patient["waiting_since"] is not None  # the waiting clock runs again
    moved = [
        e["participant"]
        for e in received(call.patient, "participant_updated")
        if e["participant"]["user_id"] == clinic.requester.id
    ]
    assert [m["presence"] for m in moved] == ["waiting"]


def test_host_coming_back_admits_the_patient_moved_back(app, clinic, call):
    call.host.emit("leave_visit", {"visit_id": call.visit_id}, callback=True)
    host_again = clinic.connect(clinic.provider)

    ack = host_again.emit("join_visit", {"visit_id": call.visit_id}, callback=True)

    assert ack["presence"] == "admitted"
    assert presence_of(app, call.visit_id, clinic.requester.id) == "admitted"


def test_a_stale_connection_closing_does_not_undo_a_newer_arrival(app, clinic, api):
    visit_id = accepted_visit(api, clinic)
    old_tab = clinic.connect(clinic.requester)
    old_tab.emit("join_visit", {"visit_id": visit_id}, callback=True)
    new_tab = clinic.connect(clinic.requester)
    new_tab.emit("join_visit", {"visit_id": visit_id}, callback=True)

    old_tab.disconnect()
    grace_runs_out(app)

    assert presence_of(app, visit_id, clinic.requester.id) == "waiting"
    new_tab.disconnect()
    grace_runs_out(app)
    assert presence_of(app, visit_id, clinic.requester.id) == "left"


def test_leave_visit_needs_a_visit_id(clinic):
    sc = clinic.connect(clinic.requester)

    assert sc.emit("leave_visit", {}, callback=True)["error"]["code"] == "invalid"


def test_non_participant_cannot_leave_someone_elses_visit(app, clinic, call, make_user):
    stranger = clinic.connect(make_user(Role.REQUESTER))

    ack = stranger.emit("leave_visit", {"visit_id": call.visit_id}, callback=True)

    assert ack["error"]["code"] == "not_found"
    assert presence_of(app, call.visit_id, clinic.requester.id) == "admitted"


# Mute and camera state -------------------------------------------------------------------


def test_mute_and_camera_state_reaches_the_others_in_the_call(call):
    ack = call.patient.emit(
        "media_state", {"visit_id": call.visit_id, "audio": False, "video": True}, callback=True
    )

    assert ack == {"ok": True}
    assert received(call.host, "media_state") == [
        {"visit_id": call.visit_id, "sid": call.patient_sid, "audio": False, "video": True}
    ]
    assert received(call.patient, "media_state") == []  # not echoed to the sender


def test_someone_waiting_cannot_announce_media_state_into_the_call(app, clinic, api, make_user):
    visit_id = accepted_visit(api, clinic)
    patient = clinic.connect(clinic.requester)
    patient.emit("join_visit", {"visit_id": visit_id}, callback=True)  # waits for the host
    stranger = clinic.connect(make_user(Role.REQUESTER))

    body = {"visit_id": visit_id, "audio": True, "video": True}
    assert patient.emit("media_state", body, callback=True)["error"]["code"] == "forbidden"
    assert stranger.emit("media_state", body, callback=True)["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    "data",
    [
        {"audio": True, "video": True},
        {"visit_id": 1, "audio": "yes", "video": True},
        {"visit_id": 1, "audio": True},
        {"visit_id": 2**40, "audio": True, "video": True},
    ],
)
def test_malformed_media_state_is_refused(call, data):
    ack = call.host.emit("media_state", data, callback=True)

    assert ack["error"]["code"] == "invalid"
    assert received(call.patient, "media_state") == []


# Failures inside a handler ---------------------------------------------------------------


def test_an_unexpected_failure_in_a_handler_is_an_error_ack_and_the_socket_lives_on(
    clinic, monkeypatch, caplog
):
    sc = clinic.connect(clinic.provider)
    sc.get_received()

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("app.realtime.handlers.take_snapshot", broken)
    ack = sc.emit("resync", {"stream": directory_of(clinic.provider)}, callback=True)

    assert ack == {
        "error": {"code": "server_error", "message": "Something went wrong on our side."}
    }
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "Socket.IO event resync failed"
    ]
    monkeypatch.undo()
    again = sc.emit("resync", {"stream": directory_of(clinic.provider)}, callback=True)
    assert again == {"ok": True}


def test_leaving_twice_is_harmless(app, clinic, call):
    first = call.patient.emit("leave_visit", {"visit_id": call.visit_id}, callback=True)
    second = call.patient.emit("leave_visit", {"visit_id": call.visit_id}, callback=True)

    assert first == second == {"ok": True}
    assert presence_of(app, call.visit_id, clinic.requester.id) == "left"
