"""The visit room: waiting room and call on one page."""

from flask import Blueprint, render_template
from flask_login import current_user

from app.auth.access import role_required
from app.services.ice import ice_servers_for
from app.services.serialize import visit_dict
from app.services.visits import load_visit

bp = Blueprint("visits", __name__)


@bp.get("/<int:visit_id>")
@role_required()
def room(visit_id: int):
    visit, me = load_visit(current_user, visit_id)
    return render_template(
        "visits/room.html",
        visit=visit_dict(visit),
        me={"participant_id": me.id, "role": me.role, "name": current_user.name},
        ice_servers=ice_servers_for(current_user.id),
        back_url="/provider" if me.role == "host" else "/requester",
    )
