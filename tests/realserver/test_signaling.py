"""The visit room: waiting, admission, and the call-signaling relay between admitted people."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.realserver.live import PASSWORD, Account, LiveClient, accepted_visit

pytestmark = pytest.mark.realserver

OFFER = {"description": {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}}
ANSWER = {"description": {"type": "answer", "sdp": "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\n"}}
CANDIDATE = {
    "candidate": {
        "candidate": "candidate:1 1 udp 2122260223 192.0.2.2 50000 typ host",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
    }
}


@dataclass
class Call:
    provider: Account
    requester: Account
    visit_id: int
    host: LiveClient
    host_joined: dict  # join_visit's acknowledgement
    patient: LiveClient
    patient_joined: dict


@pytest.fixture
def call(server, accounts, connect) -> Call:
    """An accepted visit; the provider (host) joins the room, then the requester (patient)."""
    provider, requester = accounts.provider(), accounts.requester()
    visit_id = accepted_visit(server, provider, requester)
    host = connect(provider)
    host_joined = host.call("join_visit", {"visit_id": visit_id})
    patient = connect(requester)
    patient_joined = patient.call("join_visit", {"visit_id": visit_id})
    return Call(provider, requester, visit_id, host, host_joined, patient, patient_joined)


def signal(sender, visit_id: int, to: str, data: dict) -> dict:
    return sender.call("signal", {"visit_id": visit_id, "to": to, "data": data})


def test_host_and_patient_relay_offer_answer_and_candidates(call):
    assert call.host_joined["presence"] == "admitted"
    assert call.host_joined["sid"] == call.host.sid
    # the host is in the meeting, so the patient skips the waiting room
    assert call.patient_joined["presence"] == "admitted"
    joined = call.host.wait_for("peer_joined", sid=call.patient.sid)
    assert joined["visit_id"] == call.visit_id and joined["name"] == call.requester.name

    assert signal(call.host, call.visit_id, call.patient.sid, OFFER) == {"ok": True}
    assert signal(call.patient, call.visit_id, call.host.sid, ANSWER) == {"ok": True}
    assert signal(call.patient, call.visit_id, call.host.sid, CANDIDATE) == {"ok": True}

    offer = call.patient.wait_for("signal", **{"from": call.host.sid})
    assert {k: v for k, v in offer.items() if k != "sender"} == {
        "visit_id": call.visit_id,
        "from": call.host.sid,
        "data": OFFER,
    }
    assert offer["sender"]["host"] is True
    call.host.wait_for("signal", data=ANSWER)
    relayed = call.host.wait_for("signal", data=CANDIDATE)
    assert relayed["from"] == call.patient.sid


def test_patient_waits_until_the_host_opens_the_call(server, accounts, connect):
    provider, requester = accounts.provider(), accounts.requester()
    visit_id = accepted_visit(server, provider, requester)
    patient = connect(requester)
    waiting = patient.call("join_visit", {"visit_id": visit_id})
    assert waiting["presence"] == "waiting"
    host = connect(provider)  # on the dashboard, not yet in the room

    refused = signal(patient, visit_id, host.sid, OFFER)
    assert refused["error"]["code"] == "forbidden"

    assert host.call("join_visit", {"visit_id": visit_id})["presence"] == "admitted"
    patient.wait_for(
        "participant_updated",
        visit_id=visit_id,
        where=lambda d: (
            d["participant"]["id"] == waiting["participant_id"]
            and d["participant"]["presence"] == "admitted"
        ),
    )
    assert patient.call("join_visit", {"visit_id": visit_id})["presence"] == "admitted"
    host.wait_for("peer_joined", sid=patient.sid)
    in_call = host.wait_for("visit_updated", id=visit_id, state="in_call")
    assert {p["role"]: p["presence"] for p in in_call["participants"]}["host"] == "admitted"
    assert signal(patient, visit_id, host.sid, OFFER) == {"ok": True}
    assert host.wait_for("signal", data=OFFER)["from"] == patient.sid


def test_someone_outside_the_visit_can_neither_join_nor_signal_into_it(server, call, connect):
    email = "passer-by@example.org"
    server.flask(
        "users", "create", "--email", email, "--name", "Passer By", "--role", "requester",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    outsider = connect(server.token(email, PASSWORD))
    call.host.wait_for("peer_joined", sid=call.patient.sid)

    joined = outsider.call("join_visit", {"visit_id": call.visit_id})
    to_host = signal(outsider, call.visit_id, call.host.sid, OFFER)
    to_patient = signal(outsider, call.visit_id, call.patient.sid, CANDIDATE)

    assert joined["error"]["code"] == "not_found"  # to outsiders the visit does not exist
    assert to_host["error"]["code"] == to_patient["error"]["code"] == "forbidden"
    # A refused relay emits nothing; a later real signal arrives alone.
    assert signal(call.patient, call.visit_id, call.host.sid, ANSWER) == {"ok": True}
    call.host.wait_for("signal", data=ANSWER)
    assert [s["from"] for s in call.host.events("signal")] == [call.patient.sid]
    assert call.patient.events("signal") == []
    assert outsider.events("peer_joined") == outsider.events("signal") == []


def test_hanging_up_or_dropping_out_tells_the_other_side(call, connect):
    call.host.wait_for("peer_joined", sid=call.patient.sid)

    assert call.patient.call("leave_visit", {"visit_id": call.visit_id}) == {"ok": True}
    call.host.wait_for("peer_left", sid=call.patient.sid)
    assert signal(call.host, call.visit_id, call.patient.sid, OFFER)["error"]["code"] == "forbidden"

    back = connect(call.requester)
    assert back.call("join_visit", {"visit_id": call.visit_id})["presence"] == "admitted"
    call.host.wait_for("peer_joined", sid=back.sid)
    back_sid = back.sid
    back.disconnect()  # the tab closes without hanging up
    call.host.wait_for("peer_left", sid=back_sid)


def test_ending_the_visit_sends_everyone_home(server, call):
    call.host.wait_for("peer_joined", sid=call.patient.sid)

    r = server.api("POST", f"/visits/{call.visit_id}/end", call.provider.token)

    assert r.status_code == 200 and r.json()["state"] == "ended"
    call.patient.wait_for("visit_ended", visit_id=call.visit_id)
    call.host.wait_for("visit_ended", visit_id=call.visit_id)
    after = signal(call.host, call.visit_id, call.patient.sid, OFFER)
    assert after["error"]["code"] == "forbidden"
    rejoin = call.patient.call("join_visit", {"visit_id": call.visit_id})
    assert rejoin["error"]["code"] == "conflict"
