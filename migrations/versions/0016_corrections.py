"""submissions and Amazon's replies can be withdrawn (recorded by mistake)

The row stays, marked withdrawn (when and by whom), and no longer counts for the case's
status, follow-ups or clock (services/appeals/corrections.py).

Revision ID: 0016_corrections
Revises: 0015_mail_faults
Create Date: 2026-12-01 15:00:00

"""
from alembic import op
import sqlalchemy as sa

import caseapp.models.types


# revision identifiers, used by Alembic.
revision = '0016_corrections'
down_revision = '0015_mail_faults'
branch_labels = None
depends_on = None

TABLES = ('submissions', 'amazon_responses')


def upgrade():
    # Plain ADD COLUMN: on SQLite a batch (copy, drop, rename) of `submissions` would trip the
    # foreign keys of the rows that reference it (reminders, replies, outbox) in a database
    # that holds data. SQLite takes a REFERENCES clause in ADD COLUMN when the default is NULL.
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for table in TABLES:
        op.add_column(table, sa.Column('withdrawn_at', caseapp.models.types.UTCDateTime(timezone=True), nullable=True))
        name = op.f(f'fk_{table}_withdrawn_by_id_users')
        if sqlite:
            op.execute(f'ALTER TABLE {table} ADD COLUMN withdrawn_by_id INTEGER '
                       f'CONSTRAINT {name} REFERENCES users (id)')
        else:
            op.add_column(table, sa.Column('withdrawn_by_id', sa.Integer(), nullable=True))
            op.create_foreign_key(name, table, 'users', ['withdrawn_by_id'], ['id'])


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_withdrawn_by_id_users'), type_='foreignkey')
            batch_op.drop_column('withdrawn_by_id')
            batch_op.drop_column('withdrawn_at')
