"""The audit trail: appended with the action, chained by hashes, checked by the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, text, update

from app.extensions import db
from app.models import AuditEvent, Role, User
from app.services.audit import Actor, record, trail_of_visit, verify

T0 = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def append(n: int, user: User | None = None) -> list[int]:
    actor = Actor.user(user) if user else Actor.system()
    ids = []
    for i in range(n):
        entry = record(actor, "view", detail={"n": i}, now=T0 + timedelta(seconds=i))
        db.session.flush()
        ids.append(entry.id)
    db.session.commit()
    return ids


def test_entries_chain_each_onto_the_one_before(ctx, make_user):
    user = db.session.get(User, make_user(Role.SCHEDULER).id)

    append(3, user)

    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert rows[0].prev_hash == "0" * 64
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    assert rows[0].actor_kind == "user" and rows[0].actor_id == user.id
    assert user.email in rows[0].actor_label
    assert verify().intact and verify().checked == 3


def test_an_entry_rolled_back_with_its_action_leaves_no_trace(ctx):
    append(1)
    record(Actor.system(), "book", detail={"x": 1})
    db.session.rollback()

    assert verify().checked == 1
    assert verify().intact
    append(1)  # the chain goes on from the entry that was committed
    assert verify().intact


def test_a_changed_entry_is_named(ctx):
    first, second, third = append(3)
    db.session.execute(update(AuditEvent).where(AuditEvent.id == second).values(action="cancel"))
    db.session.commit()

    verdict = verify()

    assert (verdict.intact, verdict.broken_at) == (False, second)
    assert "changed" in verdict.reason


def test_a_deleted_entry_is_found_at_the_one_after_it(ctx):
    first, second, third = append(3)
    db.session.execute(delete(AuditEvent).where(AuditEvent.id == second))
    db.session.commit()

    verdict = verify()

    assert verdict.broken_at == third


def test_entries_deleted_from_the_end_are_found(ctx):
    append(3)
    last = db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    db.session.execute(delete(AuditEvent).where(AuditEvent.id == last))
    db.session.commit()

    verdict = verify()

    assert not verdict.intact and verdict.broken_at is None
    assert "end" in verdict.reason


def test_a_rehashed_forgery_is_still_found(ctx):
    """Someone who recomputes the changed entry's own hash still breaks the next link."""
    from app.services.audit import _digest

    first, second, third = append(3)
    entry = db.session.get(AuditEvent, second)
    entry.action = "cancel"
    entry.hash = _digest(entry)
    db.session.commit()

    assert verify().broken_at == third


def test_cli_says_intact_or_names_the_broken_entry(app, runner):
    with app.app_context():
        _, second, _ = append(3)

    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0
    assert "audit trail intact: 3 entries" in ok.output

    with app.app_context():
        db.session.execute(
            text("UPDATE audit_events SET actor_label = 'someone else' WHERE id = :id"),
            {"id": second},
        )
        db.session.commit()
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    assert f"audit trail broken at entry {second}: this entry was changed" in broken.output
    assert "Traceback" not in broken.output


def test_an_empty_trail_is_intact(ctx):
    assert verify().intact and verify().checked == 0


def test_a_visits_trail_lists_its_entries_oldest_first(ctx, make_user):
    from app.models import Visit

    provider = make_user(Role.PROVIDER)
    visit = Visit(source="invite", state="scheduled", host_id=provider.id)
    other = Visit(source="invite", state="scheduled", host_id=provider.id)
    db.session.add_all([visit, other])
    db.session.flush()
    record(Actor.system(), "book", visit=visit)
    record(Actor.system(), "book", visit=other)
    record(Actor.system(), "cancel", visit=visit)
    db.session.commit()

    assert [e.action for e in trail_of_visit(visit.id)] == ["book", "cancel"]


def test_appends_racing_from_many_threads_keep_one_chain(app):
    import threading

    barrier = threading.Barrier(4)
    errors = []

    def writer(n: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                for i in range(5):
                    record(Actor.system(), "view", detail={"writer": n, "i": i})
                    db.session.commit()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
                db.session.rollback()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with app.app_context():
        verdict = verify()
        assert (verdict.intact, verdict.checked) == (True, 20)
