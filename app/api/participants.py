"""JSON API v1: the people of a visit. Its host admits, denies, removes and moves people
back to the waiting room, and adds someone during the call; its participants and its
clinic's staff list them.

The same services as the room page's Socket.IO events; errors in the one format.
Registered on the API blueprint of app.api.routes.
"""

from __future__ import annotations

from flask import jsonify
from flask_login import current_user

from app.api import schemas as s
from app.api.routes import bp
from app.api.spec import operation
from app.auth.access import role_required
from app.services import camera_snapshots, participants


@bp.get("/visits/<id:visit_id>/participants")
@role_required()
@operation(list[s.PersonOut])
def list_participants(visit_id: int):
    """The people of a visit (its participants and its clinic's staff see them)."""
    people = participants.people_of(current_user, visit_id)
    return jsonify([participants.person_dict(p) for p in people])


@bp.post("/visits/<id:visit_id>/participants")
@role_required()
@operation(s.PersonOut, status=201, body=s.ParticipantIn, errors=(409,))
def add_participant(visit_id: int, body: s.ParticipantIn):
    """Someone joins by their own link, sent at once; they wait to be admitted."""
    added = participants.add_participant(
        current_user, visit_id, body.model_dump(exclude_unset=True)
    )
    return jsonify(participants.person_dict(added)), 201


@bp.post(
    "/visits/<id:visit_id>/participants/<id:participant_id>/<any(admit, deny, remove, hold):action>"
)
@role_required()
@operation(s.PersonOut, errors=(409,))
def change_participant(visit_id: int, participant_id: int, action: str):
    """admit | deny (someone waiting); remove | hold (someone in the call; hold moves them
    back to the waiting room). 409 when their presence does not allow it."""
    changed = participants.change_presence(current_user, visit_id, participant_id, action)
    return jsonify(participants.person_dict(changed))


@bp.post("/visits/<id:visit_id>/participants/<id:participant_id>/snapshot")
@role_required()
@operation(s.SnapshotOut, status=201, errors=(409,))
def request_snapshot(visit_id: int, participant_id: int):
    """Ask someone in the call for a snapshot of their camera; they are asked to consent."""
    snapshot = camera_snapshots.request_snapshot(current_user, visit_id, participant_id)
    return jsonify(camera_snapshots.snapshot_dict(snapshot)), 201


@bp.get("/visits/<id:visit_id>/snapshots")
@role_required()
@operation(list[s.SnapshotOut])
def list_snapshots(visit_id: int):
    """The visit's snapshot requests and their answers (staff of the visit)."""
    found = camera_snapshots.snapshots_of(current_user, visit_id)
    return jsonify([camera_snapshots.snapshot_dict(s) for s in found])


@bp.post("/visits/<id:visit_id>/participants/<id:participant_id>/host")
@role_required()
@operation(s.PersonOut, errors=(409,))
def hand_over_host(visit_id: int, participant_id: int):
    """The host hands the visit to another provider in the call (before leaving it)."""
    changed = participants.hand_over_host(current_user, visit_id, participant_id)
    return jsonify(participants.person_dict(changed))
