"""The people of a visit: the host admits and denies whoever waits, removes people from
the call or moves them back to the waiting room, asks them to mute, and adds someone
during the call; over the JSON API and the room page's Socket.IO events, with what each
person hears and what nobody else may do."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from app.extensions import db, socketio
from app.models import AuditEvent, Job, Participant, Role, Visit
from app.services import jobs
from app.services.clinics import add_member, create_clinic
from app.services.guests import link_token
from tests.conftest import Auth


@pytest.fixture
def team(app, make_user, api):
    provider = make_user(Role.PROVIDER, name="Dr. Ada Okafor")
    colleague = make_user(Role.PROVIDER, name="Dr. Ben Lindqvist")
    with app.app_context():
        clinic_id = create_clinic("Wound care", "Riverside Health", "Europe/London").id
        for user in (provider, colleague):
            add_member(clinic_id, user.email)
    return SimpleNamespace(
        id=clinic_id,
        provider=provider,
        colleague=colleague,
        p=api.token(provider),
        c=api.token(colleague),
    )


def guest_of(app, visit_id: int, role: str) -> Participant:
    with app.app_context():
        found = db.session.scalars(
            db.select(Participant)
            .where(Participant.visit_id == visit_id, Participant.role == role)
            .order_by(Participant.id)
        ).first()
        db.session.expunge(found)
        return found


def token_for(app, participant_id: int) -> str | None:
    with app.app_context():
        return link_token(db.session.get(Participant, participant_id))


@pytest.fixture
def visit(app, api, team, socket_client):
    """A visit starting in 3 minutes with its patient (Jo) and her daughter (Ann), both
    through their links and waiting; the host's socket not yet in the room."""
    start = (datetime.now(UTC) + timedelta(minutes=3)).replace(microsecond=0)
    body = {
        "clinic_id": team.id,
        "start": start.isoformat(),
        "patient": {"name": "Jo Bloggs", "email": "jo@example.org"},
        "participants": [
            {"name": "Ann Bloggs", "email": "ann@example.org", "description": "Daughter"}
        ],
    }
    response = api.post("/visits", team.p, json=body)
    assert response.status_code == 201, response.get_json()
    visit_id = response.get_json()["id"]
    people = {}
    for role in ("patient", "guest"):
        participant = guest_of(app, visit_id, role)
        browser = app.test_client()
        assert browser.get(f"/join/{token_for(app, participant.id)}").status_code == 200
        sock = socket_client(flask_client=browser)
        assert sock.emit("join_visit", {"visit_id": visit_id}, callback=True)["presence"] == (
            "waiting"
        )
        people[role] = SimpleNamespace(id=participant.id, browser=browser, sock=sock)
    host_browser = app.test_client()
    Auth(host_browser).login(team.provider)
    host = socket_client(flask_client=host_browser)
    for sock in (people["patient"].sock, people["guest"].sock, host):
        sock.get_received()  # what came before the test
    return SimpleNamespace(
        id=visit_id, jo=people["patient"], ann=people["guest"], host=host, api_token=team.p
    )


def events(sock, name: str) -> list[dict]:
    return [e["args"][0] for e in sock.get_received() if e["name"] == name]


def about(sock, participant_id: int) -> list[str]:
    """The presences a socket heard for one participant, in order."""
    return [
        e["participant"]["presence"]
        for e in events(sock, "participant_updated")
        if e["participant"]["id"] == participant_id
    ]


def sid_of(sock) -> str:
    return socketio.server.manager.sid_from_eio_sid(sock.eio_sid, "/")


def presence(app, participant_id: int) -> str:
    with app.app_context():
        return db.session.get(Participant, participant_id).presence


def change(sock, visit_id: int, participant_id: int, action: str) -> dict:
    return sock.emit(
        "change_participant",
        {"visit_id": visit_id, "participant_id": participant_id, "action": action},
        callback=True,
    )


def enter(visit) -> None:
    assert visit.host.emit("join_visit", {"visit_id": visit.id}, callback=True)["presence"] == (
        "admitted"
    )


def audited(app, visit_id: int) -> list[tuple[str, dict]]:
    with app.app_context():
        return [
            (e.action, e.detail)
            for e in db.session.scalars(
                db.select(AuditEvent).where(AuditEvent.visit_id == visit_id).order_by(AuditEvent.id)
            )
        ]


# Admission ------------------------------------------------------------------------------


def test_the_host_entering_lets_the_patient_in_but_an_added_guest_waits_for_admit(app, visit):
    enter(visit)

    assert presence(app, visit.jo.id) == "admitted"
    assert presence(app, visit.ann.id) == "waiting"
    assert "admitted" in about(visit.jo.sock, visit.jo.id)
    assert about(visit.ann.sock, visit.ann.id) == []  # nothing changed for her


def test_admit_lets_the_guest_into_the_call_where_the_host_meets_them(app, visit):
    enter(visit)
    visit.host.get_received()

    answer = change(visit.host, visit.id, visit.ann.id, "admit")

    assert answer["participant"]["presence"] == "admitted"
    assert answer["participant"]["status"] == "In Meeting"
    assert about(visit.ann.sock, visit.ann.id) == ["admitted"]
    # Her page takes its place in the call: the others are told to connect to her.
    rejoin = visit.ann.sock.emit("join_visit", {"visit_id": visit.id}, callback=True)
    assert rejoin["presence"] == "admitted"
    joined = events(visit.host, "peer_joined")
    assert [j["participant_id"] for j in joined] == [visit.ann.id]
    assert ("admit", {"participant_id": visit.ann.id}) in audited(app, visit.id)


def test_a_guest_arriving_while_the_host_is_in_the_call_waits_for_admit(app, visit):
    enter(visit)
    visit.ann.sock.disconnect()
    with app.app_context():
        jobs.run_due(
            datetime.now(UTC) + timedelta(seconds=app.config["RECONNECT_GRACE_SECONDS"] + 1)
        )
    assert presence(app, visit.ann.id) == "left"

    sock = socketio.test_client(app, flask_test_client=visit.ann.browser)
    try:
        assert sock.emit("join_visit", {"visit_id": visit.id}, callback=True)["presence"] == (
            "waiting"
        )
    finally:
        sock.disconnect()


def test_deny_sends_the_guest_away_and_their_link_stops_working(app, visit):
    enter(visit)
    token = token_for(app, visit.ann.id)

    answer = change(visit.host, visit.id, visit.ann.id, "deny")

    assert answer["participant"]["presence"] == "removed"
    assert about(visit.ann.sock, visit.ann.id) == ["removed"]
    assert token_for(app, visit.ann.id) is None
    assert app.test_client().get(f"/join/{token}").status_code == 404
    refused = visit.ann.sock.emit("join_visit", {"visit_id": visit.id}, callback=True)
    assert "error" in refused
    assert ("deny", {"participant_id": visit.ann.id}) in audited(app, visit.id)


def test_remove_takes_someone_out_of_the_call_and_out_of_its_room(app, visit):
    enter(visit)
    visit.jo.sock.emit("join_visit", {"visit_id": visit.id}, callback=True)
    jo_sid = sid_of(visit.jo.sock)
    visit.host.get_received()
    visit.jo.sock.get_received()

    answer = change(visit.host, visit.id, visit.jo.id, "remove")

    assert answer["participant"]["presence"] == "removed"
    assert [e["sid"] for e in events(visit.host, "peer_left")] == [jo_sid]
    assert about(visit.jo.sock, visit.jo.id) == ["removed"]
    # The call goes on without her: she hears nothing more of it.
    visit.host.emit("media_state", {"visit_id": visit.id, "audio": False, "video": True})
    assert events(visit.jo.sock, "media_state") == []
    # Her link no longer opens the visit: her guest session ends with it.
    refused = visit.jo.sock.emit("join_visit", {"visit_id": visit.id}, callback=True)
    assert refused["error"]["code"] == "unauthorized"
    assert visit.jo.browser.get(f"/visits/{visit.id}").status_code in (302, 401, 404)


def test_move_back_returns_them_to_the_waiting_room_until_admitted_again(app, visit):
    enter(visit)
    visit.jo.sock.emit("join_visit", {"visit_id": visit.id}, callback=True)
    jo_sid = sid_of(visit.jo.sock)
    visit.host.get_received()

    answer = change(visit.host, visit.id, visit.jo.id, "hold")

    assert answer["participant"]["presence"] == "waiting"
    assert answer["participant"]["waiting_since"] is not None
    assert [e["sid"] for e in events(visit.host, "peer_left")] == [jo_sid]
    assert about(visit.jo.sock, visit.jo.id)[-1] == "waiting"
    # Reloading, or the host entering again, does not let her back in by herself.
    assert visit.jo.sock.emit("join_visit", {"visit_id": visit.id}, callback=True)["presence"] == (
        "waiting"
    )
    visit.host.emit("leave_visit", {"visit_id": visit.id}, callback=True)
    enter(visit)
    assert presence(app, visit.jo.id) == "waiting"
    # Only Admit does.
    assert change(visit.host, visit.id, visit.jo.id, "admit")["participant"]["presence"] == (
        "admitted"
    )


@pytest.mark.parametrize(
    ("action", "who", "message"),
    [
        ("admit", "jo", "Only someone in the waiting room can be admitted."),
        ("deny", "jo", "Only someone in the waiting room can be denied."),
        ("remove", "ann", "Only someone in the call can be removed."),
        ("hold", "ann", "Only someone in the call can be moved back to the waiting room."),
    ],
)
def test_an_action_their_presence_does_not_allow_is_409_and_changes_nothing(
    app, api, visit, action, who, message
):
    enter(visit)  # Jo is in the call, Ann waits
    target = getattr(visit, who)
    before = presence(app, target.id)

    response = api.post(f"/visits/{visit.id}/participants/{target.id}/{action}", visit.api_token)

    assert response.status_code == 409
    assert response.get_json()["error"]["message"] == message
    assert presence(app, target.id) == before


def test_admitting_before_entering_the_call_is_refused(app, api, visit):
    response = api.post(f"/visits/{visit.id}/participants/{visit.ann.id}/admit", visit.api_token)

    assert response.status_code == 409
    assert "Enter the call" in response.get_json()["error"]["message"]
    assert presence(app, visit.ann.id) == "waiting"


def test_the_call_holds_no_more_than_the_mesh_limit(app, api, visit, monkeypatch):
    monkeypatch.setitem(app.config, "CALL_MESH_LIMIT", 2)
    enter(visit)  # the host and Jo: full

    response = api.post(f"/visits/{visit.id}/participants/{visit.ann.id}/admit", visit.api_token)

    assert response.status_code == 409
    assert "at most" not in response.get_json()["error"]["message"]
    assert "(2)" in response.get_json()["error"]["message"]
    assert presence(app, visit.ann.id) == "waiting"


# Who may ---------------------------------------------------------------------------------


def test_a_guest_cannot_admit_remove_or_mute(app, visit):
    enter(visit)
    for action in ("admit", "remove", "hold", "deny"):
        refused = change(visit.jo.sock, visit.id, visit.ann.id, action)
        assert refused["error"]["code"] == "forbidden"
    muted = visit.jo.sock.emit(
        "mute_participant", {"visit_id": visit.id, "participant_id": visit.ann.id}, callback=True
    )
    assert muted["error"]["code"] == "forbidden"
    added = visit.jo.sock.emit(
        "add_participant", {"visit_id": visit.id, "name": "X", "email": "x@example.org"},
        callback=True,
    )  # fmt: skip
    assert added["error"]["code"] == "forbidden"
    assert presence(app, visit.ann.id) == "waiting"


def test_a_colleague_in_the_clinic_sees_the_people_but_does_not_change_them(app, api, team, visit):
    listed = api.get(f"/visits/{visit.id}/participants", team.c)
    assert listed.status_code == 200
    assert [(p["name"], p["role"], p["description"]) for p in listed.get_json()] == [
        ("Dr. Ada Okafor", "host", None),
        ("Jo Bloggs", "patient", None),
        ("Ann Bloggs", "guest", "Daughter"),
    ]

    response = api.post(f"/visits/{visit.id}/participants/{visit.ann.id}/deny", team.c)

    assert response.status_code == 404  # not their visit to change: they are not in it


def test_a_stranger_finds_no_such_visit(app, api, make_user, visit):
    stranger = make_user(Role.PROVIDER, name="Dr. Elsewhere")
    token = api.token(stranger)

    assert api.get(f"/visits/{visit.id}/participants", token).status_code == 404
    assert api.post(f"/visits/{visit.id}/participants/{visit.ann.id}/admit", token).status_code == (
        404
    )
    added = api.post(
        f"/visits/{visit.id}/participants", token, json={"name": "X", "email": "x@example.org"}
    )
    assert added.status_code == 404


def test_unknown_participants_and_actions_are_refused_cleanly(app, api, visit):
    enter(visit)

    assert (
        api.post(f"/visits/{visit.id}/participants/999999/admit", visit.api_token).status_code
        == 404
    )
    assert (
        api.post(
            f"/visits/{visit.id}/participants/{visit.ann.id}/promote", visit.api_token
        ).status_code
        == 404
    )
    junk = change(visit.host, visit.id, visit.ann.id, "explode")
    assert junk["error"]["code"] == "invalid"
    no_id = visit.host.emit(
        "change_participant", {"visit_id": visit.id, "action": "admit"}, callback=True
    )
    assert no_id["error"]["code"] == "invalid"  # fmt: skip


def test_the_host_cannot_remove_a_host(app, api, visit):
    enter(visit)
    host = guest_of(app, visit.id, "host")

    response = api.post(f"/visits/{visit.id}/participants/{host.id}/remove", visit.api_token)

    assert response.status_code == 409


# Mute ------------------------------------------------------------------------------------


def test_the_host_asks_someone_in_the_call_to_mute(app, visit):
    enter(visit)
    visit.jo.sock.emit("join_visit", {"visit_id": visit.id}, callback=True)
    visit.jo.sock.get_received()
    visit.ann.sock.get_received()

    answer = visit.host.emit(
        "mute_participant", {"visit_id": visit.id, "participant_id": visit.jo.id}, callback=True
    )

    assert answer == {"ok": True}
    assert events(visit.jo.sock, "mute_requested") == [
        {"visit_id": visit.id, "by": "Dr. Ada Okafor"}
    ]
    assert events(visit.ann.sock, "mute_requested") == []
    waiting = visit.host.emit(
        "mute_participant", {"visit_id": visit.id, "participant_id": visit.ann.id}, callback=True
    )
    assert waiting["error"]["code"] == "conflict"


# Adding someone during the call ----------------------------------------------------------


def test_adding_someone_sends_their_own_link_at_once_and_they_wait(app, api, visit, caplog):
    caplog.set_level(logging.INFO, logger="app")
    enter(visit)
    visit.host.get_received()

    response = api.post(
        f"/visits/{visit.id}/participants",
        visit.api_token,
        json={"name": "Nurse Kim", "email": "kim@example.org", "description": "District nurse"},
    )

    assert response.status_code == 201
    added = response.get_json()
    assert (added["name"], added["role"], added["presence"], added["description"]) == (
        "Nurse Kim",
        "guest",
        "absent",
        "District nurse",
    )
    assert about(visit.host, added["id"]) == ["absent"]
    with app.app_context():
        kinds = [
            j.kind
            for j in db.session.scalars(db.select(Job).where(Job.participant_id == added["id"]))
        ]
    assert kinds == ["send_join_now"]
    with app.app_context():
        jobs.run_due(datetime.now(UTC) + timedelta(seconds=1))
    token = token_for(app, added["id"])
    mail = "\n".join(r.getMessage() for r in caplog.records)
    assert "Join a video session with Dr. Ada Okafor now" in mail
    assert f"/join/{token}" in mail
    # Her link opens the waiting room, where she waits for Admit.
    browser = app.test_client()
    assert browser.get(f"/join/{token}").status_code == 200
    sock = socketio.test_client(app, flask_test_client=browser)
    try:
        assert sock.emit("join_visit", {"visit_id": visit.id}, callback=True)["presence"] == (
            "waiting"
        )
    finally:
        sock.disconnect()
    assert ("add_participant", {"participant_id": added["id"]}) in audited(app, visit.id)


def test_adding_over_the_socket_answers_with_the_form_errors(app, visit):
    enter(visit)

    refused = visit.host.emit(
        "add_participant",
        {"visit_id": visit.id, "name": "", "email": "not-an-email"},
        callback=True,
    )

    assert refused["error"]["code"] == "invalid"
    assert set(refused["error"]["fields"]) == {"name", "email"}
    with app.app_context():
        assert (
            len(
                db.session.scalars(
                    db.select(Participant).where(Participant.visit_id == visit.id)
                ).all()
            )
            == 3
        )


def test_adding_someone_needs_an_email_or_a_mobile(app, api, visit):
    response = api.post(f"/visits/{visit.id}/participants", visit.api_token, json={"name": "Kim"})

    assert response.status_code == 422
    assert "email" in response.get_json()["error"]["fields"]


def test_adding_beyond_the_call_limit_is_refused_saying_why(app, api, visit, monkeypatch):
    monkeypatch.setitem(app.config, "CALL_MESH_LIMIT", 3)  # host, Jo and Ann already

    response = api.post(
        f"/visits/{visit.id}/participants",
        visit.api_token,
        json={"name": "Kim", "mobile": "+44 7911 123457"},
    )

    assert response.status_code == 409
    message = response.get_json()["error"]["message"]
    assert "3 people" in message and "(3)" in message


def test_someone_added_to_an_on_demand_session_is_invited_to_join_now(app, api, make_user, caplog):
    caplog.set_level(logging.INFO, logger="app")
    provider = make_user(Role.PROVIDER, name="Dr. Ada", services=["General"], available=True)
    requester = make_user(Role.REQUESTER, name="Station A")
    p, r = api.token(provider), api.token(requester)
    request_id = api.post("/requests", r, json={"provider_id": provider.id}).get_json()["id"]
    visit_id = api.post(f"/requests/{request_id}/accept", p).get_json()["visit_id"]

    response = api.post(
        f"/visits/{visit_id}/participants",
        p,
        json={"name": "Interpreter", "mobile": "+44 7911 123457"},
    )

    assert response.status_code == 201
    with app.app_context():
        jobs.run_due(datetime.now(UTC) + timedelta(seconds=1))
    token = token_for(app, response.get_json()["id"])
    sms = [r.getMessage() for r in caplog.records if "SMS to" in r.getMessage()]
    assert len(sms) == 1
    assert "Dr. Ada asks you to join a video session now" in sms[0]
    assert f"/join/{token}" in sms[0]
    assert app.test_client().get(f"/join/{token}").status_code == 200
    # The requester (the patient of an on-demand visit) may not add anyone.
    assert (
        api.post(
            f"/visits/{visit_id}/participants", r, json={"name": "X", "mobile": "+44 7911 123458"}
        ).status_code
        == 403
    )


def test_a_requester_removed_from_an_on_demand_call_cannot_come_back(
    app, api, make_user, socket_client
):
    provider = make_user(Role.PROVIDER, name="Dr. Ada", services=["General"], available=True)
    requester = make_user(Role.REQUESTER, name="Station A")
    p, r = api.token(provider), api.token(requester)
    request_id = api.post("/requests", r, json={"provider_id": provider.id}).get_json()["id"]
    visit_id = api.post(f"/requests/{request_id}/accept", p).get_json()["visit_id"]
    socks = {}
    for user in (requester, provider):
        browser = app.test_client()
        Auth(browser).login(user)
        socks[user.id] = socket_client(flask_client=browser)
        socks[user.id].emit("join_visit", {"visit_id": visit_id}, callback=True)
    station = guest_of(app, visit_id, "patient")
    assert presence(app, station.id) == "admitted"

    response = api.post(f"/visits/{visit_id}/participants/{station.id}/remove", p)

    assert response.status_code == 200
    refused = socks[requester.id].emit("join_visit", {"visit_id": visit_id}, callback=True)
    assert refused["error"]["message"] == "You were removed from this session."
    assert presence(app, station.id) == "removed"


# A colleague joins, and takes the visit over -------------------------------------------


def test_a_colleague_added_by_email_joins_as_staff_and_enters_without_admit(
    app, api, team, visit, caplog
):
    caplog.set_level(logging.INFO, logger="app")
    enter(visit)

    response = api.post(
        f"/visits/{visit.id}/participants",
        visit.api_token,
        json={"name": "Ben", "email": team.colleague.email.upper(), "description": "Consultant"},
    )

    assert response.status_code == 201
    added = response.get_json()
    assert (added["name"], added["role"]) == ("Dr. Ben Lindqvist", "host")
    with app.app_context():
        jobs.run_due(datetime.now(UTC) + timedelta(seconds=1))
    mail = "\n".join(r.getMessage() for r in caplog.records)
    assert f"/visits/{visit.id}" in mail  # the room itself, where they sign in
    again = api.post(
        f"/visits/{visit.id}/participants",
        visit.api_token,
        json={"name": "Ben", "email": team.colleague.email},
    )
    assert again.status_code == 409
    browser = app.test_client()
    Auth(browser).login(team.colleague)
    sock = socketio.test_client(app, flask_test_client=browser)
    try:
        assert sock.emit("join_visit", {"visit_id": visit.id}, callback=True)["presence"] == (
            "admitted"
        )
    finally:
        sock.disconnect()


def test_the_host_hands_the_visit_to_a_colleague_in_the_call_before_leaving(
    app, api, team, visit, socket_client
):
    enter(visit)
    added = api.post(
        f"/visits/{visit.id}/participants",
        visit.api_token,
        json={"name": "Ben", "email": team.colleague.email},
    ).get_json()
    browser = app.test_client()
    Auth(browser).login(team.colleague)
    colleague = socket_client(flask_client=browser)
    colleague.emit("join_visit", {"visit_id": visit.id}, callback=True)

    # Only to a provider in the call: not the patient.
    refused = visit.host.emit(
        "hand_over_host", {"visit_id": visit.id, "participant_id": visit.jo.id}, callback=True
    )
    assert refused["error"]["code"] == "conflict"
    handed = visit.host.emit(
        "hand_over_host", {"visit_id": visit.id, "participant_id": added["id"]}, callback=True
    )
    assert handed["participant"]["role"] == "host"
    # Everyone in the call is told in so many words whose session it is now.
    for sock in (colleague, visit.jo.sock):
        (told,) = events(sock, "host_changed")
        assert told == {
            "visit_id": visit.id,
            "host": {"participant_id": added["id"], "user_id": team.colleague.id},
            "name": "Dr. Ben Lindqvist",
            "by": team.provider.name,
        }
    visit.host.emit("leave_visit", {"visit_id": visit.id}, callback=True)

    with app.app_context():
        assert db.session.get(Visit, visit.id).host_id == team.colleague.id
    assert presence(app, visit.jo.id) == "admitted"  # a host is still with her
    listed = api.get(f"/visits/{visit.id}", team.c).get_json()
    assert listed["host"]["name"] == "Dr. Ben Lindqvist"
    # The new host ends it.
    assert api.post(f"/visits/{visit.id}/end", team.c).status_code == 200
    assert (
        "hand_over",
        {"participant_id": added["id"], "from_user_id": team.provider.id},
    ) in audited(app, visit.id)
