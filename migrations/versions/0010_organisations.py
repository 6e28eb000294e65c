"""organisations: every account and clinic belongs to one

Revision ID: 0010_organisations
Revises: 0009_stations
Create Date: 2026-12-03 12:30:00

One organisation per distinct clinic organisation name; each clinic is linked to its
own, each clinic member to the organisation of their first clinic, and everyone else
(requesters, stations, admins) to the first organisation: the only one in a normal
single-organisation deployment, so an upgraded deployment shows everyone the same
providers as before. A deployment with accounts but no clinic gets one organisation,
"Anteroom" (the name patients already saw for visits without a clinic).

On SQLite the new columns are added in place (ADD COLUMN … REFERENCES) and stay NULL-able
in the schema: making them NOT NULL would mean rebuilding `users` and `clinics`, and
dropping the old table with foreign keys on would cascade-delete their dependents (sessions,
tokens, memberships …). The application always sets them. PostgreSQL gets NOT NULL.
"""
import logging

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_organisations'
down_revision = '0009_stations'
branch_labels = None
depends_on = None

logger = logging.getLogger('alembic.runtime.migration')
FALLBACK_NAME = 'Anteroom'


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def _add_organisation_id(table: str) -> None:
    fk = f'fk_{table}_organisation_id_organisations'
    if _sqlite():
        op.execute(
            f'ALTER TABLE {table} ADD COLUMN organisation_id INTEGER '
            f'CONSTRAINT {fk} REFERENCES organisations (id)'
        )
    else:
        op.add_column(table, sa.Column('organisation_id', sa.Integer(), nullable=True))
        op.create_foreign_key(fk, table, 'organisations', ['organisation_id'], ['id'])
    op.create_index(f'ix_{table}_organisation_id', table, ['organisation_id'], unique=False)


def upgrade():
    op.create_table('organisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisations')),
    sa.UniqueConstraint('name', name=op.f('uq_organisations_name'))
    )
    _add_organisation_id('clinics')
    _add_organisation_id('users')

    conn = op.get_bind()
    names = conn.execute(sa.text(
        'SELECT organisation FROM clinics GROUP BY organisation ORDER BY MIN(id)'
    )).scalars().all()
    for name in names:
        conn.execute(sa.text('INSERT INTO organisations (name) VALUES (:name)'), {'name': name})
    conn.execute(sa.text(
        'UPDATE clinics SET organisation_id = '
        '(SELECT o.id FROM organisations o WHERE o.name = clinics.organisation)'
    ))
    conn.execute(sa.text(
        'UPDATE users SET organisation_id = ('
        ' SELECT c.organisation_id FROM clinic_members m JOIN clinics c ON c.id = m.clinic_id'
        ' WHERE m.user_id = users.id ORDER BY m.clinic_id LIMIT 1)'
    ))
    unplaced = conn.execute(sa.text(
        'SELECT COUNT(*) FROM users WHERE organisation_id IS NULL'
    )).scalar_one()
    if unplaced:
        first = conn.execute(sa.text('SELECT MIN(id) FROM organisations')).scalar_one()
        if first is None:
            conn.execute(
                sa.text('INSERT INTO organisations (name) VALUES (:name)'), {'name': FALLBACK_NAME}
            )
            first = conn.execute(sa.text('SELECT MIN(id) FROM organisations')).scalar_one()
        elif len(names) > 1:
            logger.warning(
                '%d accounts outside any clinic joined the first of %d organisations; '
                'move them with `flask users set-organisation`', unplaced, len(names)
            )
        conn.execute(
            sa.text('UPDATE users SET organisation_id = :first WHERE organisation_id IS NULL'),
            {'first': first},
        )

    op.drop_column('clinics', 'organisation')
    if not _sqlite():
        op.alter_column('clinics', 'organisation_id', existing_type=sa.Integer(), nullable=False)
        op.alter_column('users', 'organisation_id', existing_type=sa.Integer(), nullable=False)


def downgrade():
    conn = op.get_bind()
    if _sqlite():
        op.execute("ALTER TABLE clinics ADD COLUMN organisation VARCHAR(120) NOT NULL DEFAULT ''")
    else:
        op.add_column('clinics', sa.Column('organisation', sa.String(length=120), nullable=True))
    conn.execute(sa.text(
        'UPDATE clinics SET organisation = '
        '(SELECT o.name FROM organisations o WHERE o.id = clinics.organisation_id)'
    ))
    if not _sqlite():
        op.alter_column('clinics', 'organisation', existing_type=sa.String(length=120), nullable=False)
    for table in ('users', 'clinics'):
        op.drop_index(f'ix_{table}_organisation_id', table_name=table)
        if not _sqlite():
            op.drop_constraint(f'fk_{table}_organisation_id_organisations', table, type_='foreignkey')
        op.drop_column(table, 'organisation_id')
    op.drop_table('organisations')
