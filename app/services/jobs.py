"""Background jobs: rows in `jobs`, written with the change that makes them due, run by
one runner in each web process.

A runner claims due rows with a conditional update that sets a lease (PostgreSQL: the
candidates are read FOR UPDATE SKIP LOCKED), so any number of processes run each job
once; a claim whose process died is taken again when its lease runs out. A job that
fails is tried again later (clinicqueue.schedule.retry_delay) until JOB_MAX_ATTEMPTS,
then marked failed with its last error. Tests drive `run_due(now)` with their own clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import or_, select, update

from app.extensions import db, socketio
from app.metrics import observe_job_lag
from app.models import Job
from app.models.types import utcnow
from clinicqueue.schedule import retry_delay

logger = logging.getLogger(__name__)
Handler = Callable[[Job, datetime], None]
HANDLERS: dict[str, Handler] = {}
# Called after each attempt has been recorded (done, retried later, or given up), outside
# its transaction: for what screens show about a job (an invitation "not delivered yet").
AFTER_HOOKS: dict[str, Handler] = {}
_runner_started = False


class JobFailed(Exception):
    """A job could not do its work this time (a mail server down); it will be retried."""


def handles(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that does jobs of this kind."""

    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


def enqueue(
    kind: str,
    due_at: datetime,
    visit_id: int | None = None,
    participant_id: int | None = None,
    payload: dict | None = None,
) -> Job:
    """Add a job in the caller's transaction: it exists exactly when the change does."""
    job = Job(
        kind=kind,
        due_at=due_at,
        visit_id=visit_id,
        participant_id=participant_id,
        payload=payload or {},
    )
    db.session.add(job)
    return job


def settle(job: Job, now: datetime) -> bool:
    """Mark a job done in the caller's transaction, with its effect: False when another
    attempt already did (its lease ran out mid-run), so the effect happens once."""
    result = db.session.execute(
        update(Job).where(Job.id == job.id, Job.done_at.is_(None)).values(done_at=now)
    )
    return result.rowcount == 1


def _claimable(now: datetime):
    return (
        Job.done_at.is_(None),
        Job.failed_at.is_(None),
        Job.due_at <= now,
        or_(Job.locked_until.is_(None), Job.locked_until <= now),
    )


def claim_one(now: datetime) -> int | None:
    """Claim the next due job for this process; its id, or None when nothing is due.

    One at a time, run at once: a batch claimed together would see its last leases run
    out while the first jobs were still being done, and another process would do those
    jobs again. Commits."""
    lease = timedelta(seconds=current_app.config["JOB_LEASE_SECONDS"])
    query = (
        select(Job.id, Job.kind, Job.due_at, Job.locked_until)
        .where(*_claimable(now))
        .order_by(Job.due_at, Job.id)
        .limit(5)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    for job_id, kind, due_at, locked_until in db.session.execute(query).all():
        result = db.session.execute(
            update(Job)
            .where(Job.id == job_id, *_claimable(now))
            .values(locked_until=now + lease, attempts=Job.attempts + 1)
        )
        if result.rowcount == 1:
            db.session.commit()
            # Late by how long it waited once claimable: a retry counts from its back-off.
            observe_job_lag(kind, max(due_at, locked_until or due_at), now)
            return job_id
    db.session.commit()
    return None


def run_job(job_id: int, now: datetime) -> bool:
    """Do one claimed job; True when it is done. Commits."""
    job = db.session.get(Job, job_id, populate_existing=True)
    handler = HANDLERS.get(job.kind)
    try:
        if handler is None:
            raise JobFailed(f"no handler for jobs of kind {job.kind!r}")
        handler(job, now)
    except Exception as exc:
        db.session.rollback()
        _failed(job_id, exc, now)
        return False
    db.session.execute(
        update(Job).where(Job.id == job_id).values(done_at=now, locked_until=None, last_error=None)
    )
    db.session.commit()
    _after(job_id, now)
    return True


def _after(job_id: int, now: datetime) -> None:
    job = db.session.get(Job, job_id, populate_existing=True)
    hook = AFTER_HOOKS.get(job.kind)
    if hook is not None:
        try:
            hook(job, now)
        except Exception:
            db.session.rollback()
            logger.exception("after job %s (%s)", job.id, job.kind)


def _failed(job_id: int, exc: Exception, now: datetime) -> None:
    job = db.session.get(Job, job_id, populate_existing=True)
    error = f"{type(exc).__name__}: {exc}"[:500]
    if job.attempts >= current_app.config["JOB_MAX_ATTEMPTS"]:
        values = {"failed_at": now, "locked_until": None, "last_error": error}
        logger.warning("job %s (%s) gave up after %s attempts", job.id, job.kind, job.attempts)
    else:
        values = {"locked_until": now + retry_delay(job.attempts), "last_error": error}
        logger.info("job %s (%s) failed, retried later: %s", job.id, job.kind, error)
    db.session.execute(update(Job).where(Job.id == job_id).values(**values))
    db.session.commit()
    _after(job_id, now)


def after_each(*kinds: str) -> Callable[[Handler], Handler]:
    """Register what to do after each attempt at jobs of these kinds."""

    def register(fn: Handler) -> Handler:
        for kind in kinds:
            AFTER_HOOKS[kind] = fn
        return fn

    return register


def run_due(now: datetime | None = None, limit: int = 20) -> int:
    """Claim and run what is due now, one job at a time, at most `limit`; returns how many
    finished. Without a fixed `now`, each claim reads the clock afresh."""
    finished = 0
    for _ in range(limit):
        at = now or utcnow()
        job_id = claim_one(at)
        if job_id is None:
            break
        finished += run_job(job_id, at)
    return finished


def start_runner(app: Flask) -> None:
    """Start this process's runner (once), as a background task of the async mode."""
    global _runner_started
    interval = app.config["JOBS_POLL_SECONDS"]
    if not interval or _runner_started:
        return
    _runner_started = True
    socketio.start_background_task(_run_forever, app, interval)


def _run_forever(app: Flask, interval: float) -> None:
    while True:
        socketio.sleep(interval)
        with app.app_context():
            try:
                run_due(limit=100)
            except Exception:
                db.session.rollback()
                logger.exception("the job runner failed; it runs again shortly")
            finally:
                db.session.remove()
