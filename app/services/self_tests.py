"""The device self-test: relaying its offer to the media worker, and keeping its results.

A station, a signed-in user or a guest in a waiting room tests their camera, microphone and
network (app/static/js/selftest.js): their browser offers audio and video, this server
relays the offer to the media worker (media/worker.py), which echoes the media back, and
the browser measures the round trip from its WebRTC statistics and sends the numbers here.
The server judges them (clinicqueue.self_test, the one place with the thresholds) and keeps
the result: a station's under its station, anyone else's under their account or their
participant. The worker is plain HTTP on loopback or a private network; urllib's sockets
are gevent's in the web process.
"""

from __future__ import annotations

import json
import logging
import math
import urllib.error
import urllib.request
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Participant, User
from app.models.station import SelfTest, Station
from app.models.types import utcnow
from app.realtime.publish import announce_station
from app.services.errors import Conflict, Invalid, Unavailable
from app.services.serialize import iso
from app.services.visits import Who
from clinicqueue.self_test import LABELS, Verdict, judge

log = logging.getLogger(__name__)

MAX_SDP_LENGTH = 64 * 1024  # a browser's offer of audio and video is ~5 KB
# Sane ranges: anything outside is a broken measurement or a made-up one.
LIMITS = {
    "round_trip_ms": 60_000.0,  # a minute
    "packet_loss": 1.0,  # a fraction
    "bitrate_kbps": 1_000_000.0,  # a gigabit
}
MAX_DETAILS = 24  # keys in `details`
MAX_DETAIL_TEXT = 200
FIELDS = {"camera_ok", "microphone_ok", "verdict", "details", *LIMITS}
UNAVAILABLE = (
    "The test service is unavailable right now. Try again in a few minutes; "
    "your session can still go ahead."
)


class SelfTestFailed(Conflict):
    code = "self_test_failed"


def relay_offer(offer) -> dict:
    """Hand a browser's SDP offer to the media worker; its answer {type, sdp} (503 when the
    worker is down or busy)."""
    if not isinstance(offer, dict) or offer.get("type") != "offer":
        raise Invalid("Send the offer as {type: 'offer', sdp}.", fields={"type": "Not 'offer'."})
    sdp = offer.get("sdp")
    if not isinstance(sdp, str) or not sdp.startswith("v=0") or len(sdp) > MAX_SDP_LENGTH:
        raise Invalid("The offer is not an SDP offer.", fields={"sdp": "Not an SDP offer."})
    config = current_app.config
    request = urllib.request.Request(
        config["MEDIA_WORKER_URL"] + "/offer",
        data=json.dumps({"sdp": sdp}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=config["MEDIA_WORKER_TIMEOUT"]) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 400:
            raise Invalid(
                "The test service could not read the browser's offer.",
                fields={"sdp": "Not readable."},
            ) from exc
        if exc.code == 503:
            raise Unavailable("The test service is busy. Try again in a minute.") from exc
        log.warning("media worker answered %s", exc.code)
        raise Unavailable(UNAVAILABLE) from exc
    except (OSError, ValueError) as exc:  # refused, timed out, unreadable
        log.warning("media worker unreachable: %s", type(exc).__name__)
        raise Unavailable(UNAVAILABLE) from exc
    if not isinstance(answer, dict) or not isinstance(answer.get("sdp"), str):
        raise Unavailable(UNAVAILABLE)
    return {"type": "answer", "sdp": answer["sdp"]}


def _number(body: dict, name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    limit = LIMITS[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= limit
    ):
        raise Invalid(
            f"{name} must be a number from 0 to {limit:g}, or null.",
            fields={name: "Out of range."},
        )
    return float(value)


def _details(raw) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > MAX_DETAILS:
        raise Invalid(
            f"details must be an object of at most {MAX_DETAILS} entries.",
            fields={"details": "Not an object."},
        )
    for key, value in raw.items():
        scalar = value is None or isinstance(value, bool | str | int | float)
        if (
            len(key) > 40
            or not scalar
            or (isinstance(value, str) and len(value) > MAX_DETAIL_TEXT)
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            raise Invalid(
                "details holds short text, numbers and true/false only.",
                fields={"details": f"{key[:40]!r} is not."},
            )
    return dict(raw)


def _owner(who: Who) -> dict:
    """Whose test it is: a station's (by its requester account), else the account's or the
    guest's."""
    if isinstance(who, Participant):
        return {"participant_id": who.id}
    station_id = db.session.scalar(select(Station.id).where(Station.user_id == who.id))
    return {"user_id": who.id, "station_id": station_id}


def record_self_test(who: Who, body: dict, now: datetime | None = None) -> SelfTest:
    """Judge a self-test's measurements and keep them for the caller. Commits."""
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise Invalid(
            f"Unknown field: {', '.join(unknown)}.", fields={k: "Unknown." for k in unknown}
        )
    flags = {}
    for name in ("camera_ok", "microphone_ok"):
        if not isinstance(body.get(name), bool):
            raise Invalid(f"{name} must be true or false.", fields={name: "Not a boolean."})
        flags[name] = body[name]
    numbers = {name: _number(body, name) for name in LIMITS}
    details = _details(body.get("details"))
    judgement = judge(**flags, **numbers)
    claimed = body.get("verdict")
    # The page shows the server's verdict; one it sends along must agree with it.
    if claimed is not None and claimed != judgement.verdict:
        raise Invalid(
            f"The measurements make this test {judgement.label}, not {claimed!r}.",
            fields={"verdict": "Does not match the measurements."},
        )
    test = SelfTest(
        **_owner(who),
        **flags,
        **numbers,
        verdict=judgement.verdict.value,
        details={**details, "advice": list(judgement.advice)},
        created_at=now or utcnow(),
    )
    db.session.add(test)
    db.session.commit()
    if test.station_id:
        announce_station(
            test.station_id, who.organisation_id
        )  # the admin's stations page shows it at once
    return test


def latest_self_test(who: Who) -> SelfTest | None:
    """The caller's most recent self-test (a station's: the station's), if any."""
    owner = _owner(who)
    query = select(SelfTest)
    if owner.get("station_id"):
        query = query.where(SelfTest.station_id == owner["station_id"])
    elif "participant_id" in owner:
        query = query.where(SelfTest.participant_id == owner["participant_id"])
    else:
        query = query.where(SelfTest.user_id == owner["user_id"])
    return db.session.scalar(query.order_by(SelfTest.created_at.desc(), SelfTest.id.desc()))


def latest_for_stations(station_ids: list[int]) -> dict[int, SelfTest]:
    """Each station's most recent self-test, for the admin's stations page."""
    if not station_ids:
        return {}
    rows = db.session.scalars(
        select(SelfTest)
        .where(SelfTest.station_id.in_(station_ids))
        .order_by(SelfTest.station_id, SelfTest.created_at.desc(), SelfTest.id.desc())
    )
    latest: dict[int, SelfTest] = {}
    for row in rows:
        latest.setdefault(row.station_id, row)
    return latest


def check_may_request(user: User) -> None:
    """With SELF_TEST_BLOCKS_REQUEST, refuse a requester whose latest self-test found
    something not working (409 self_test_failed) until a test passes."""
    if not current_app.config["SELF_TEST_BLOCKS_REQUEST"]:
        return
    latest = latest_self_test(user)
    if latest is not None and latest.verdict == Verdict.FAILED:
        raise SelfTestFailed(
            "Your last device test found a problem. Fix it and test again before you "
            "request a session."
        )


def self_test_dict(test: SelfTest) -> dict:
    advice = (test.details or {}).get("advice", [])
    return {
        "id": test.id,
        "verdict": test.verdict,
        "label": LABELS[Verdict(test.verdict)],
        "advice": advice,
        "camera_ok": test.camera_ok,
        "microphone_ok": test.microphone_ok,
        "round_trip_ms": test.round_trip_ms,
        "packet_loss": test.packet_loss,
        "bitrate_kbps": test.bitrate_kbps,
        "station_id": test.station_id,
        "tested_at": iso(test.created_at),
    }
