"""Follow-up tasks on visits ("send the results", "call back Tuesday"): written from the
schedule's row menu, listed for the clinic, closed when done."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from app.extensions import db
from app.models import Task, User
from app.models.types import utcnow
from app.realtime.publish import Outbox
from app.services import audit
from app.services.clinics import clinic_for
from app.services.errors import Conflict, Invalid, NotFound
from app.services.invitations import visit_for_staff
from app.services.schedule import announce_row
from app.services.text import clean_text

MAX_TASK_LENGTH = 500


def create_task(user: User, visit_id: int, text: str, now: datetime | None = None) -> Task:
    """A follow-up on a visit of the user's clinic. Emits the visit's row (its open-task
    count). Commits."""
    now = now or utcnow()
    visit = visit_for_staff(user, visit_id)
    text = clean_text(text if isinstance(text, str) else "")
    if not text:
        raise Invalid("Write what needs doing.", fields={"text": "Required."})
    if len(text) > MAX_TASK_LENGTH:
        raise Invalid(
            "The task is too long.", fields={"text": f"Keep it under {MAX_TASK_LENGTH} characters."}
        )
    task = Task(
        visit_id=visit.id,
        clinic_id=visit.clinic_id,
        text=text,
        created_by_id=user.id,
        created_at=now,
    )
    db.session.add(task)
    audit.record(audit.Actor.user(user), "task", visit=visit, now=now)
    db.session.flush()
    _publish(visit, now)
    return task


def close_task(user: User, task_id: int, now: datetime | None = None) -> Task:
    """Mark a task done (once). Commits."""
    now = now or utcnow()
    task = db.session.get(Task, task_id)
    if task is None:
        raise NotFound("No such task.")
    clinic_for(user, task.clinic_id)  # another clinic's task does not exist for you
    result = db.session.execute(
        update(Task)
        .where(Task.id == task.id, Task.closed_at.is_(None))
        .values(closed_at=now, closed_by_id=user.id)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise Conflict("This task is already closed.")
    db.session.flush()
    db.session.expire_all()
    task = db.session.get(Task, task_id)
    _publish(task.visit, now)
    return task


def clinic_tasks(user: User, clinic_id: int, include_closed: bool = False) -> list[Task]:
    """A clinic's tasks, open ones first, newest first."""
    clinic = clinic_for(user, clinic_id)
    query = select(Task).where(Task.clinic_id == clinic.id)
    if not include_closed:
        query = query.where(Task.closed_at.is_(None))
    return list(
        db.session.scalars(query.order_by(Task.closed_at.is_not(None), Task.created_at.desc()))
    )


def _publish(visit, now: datetime) -> None:
    outbox = Outbox()
    announce_row(outbox, visit, now)
    outbox.stamp()
    db.session.commit()
    outbox.publish()
