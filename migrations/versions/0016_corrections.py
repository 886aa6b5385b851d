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
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('withdrawn_at', caseapp.models.types.UTCDateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column('withdrawn_by_id', sa.Integer(), nullable=True))
            batch_op.create_foreign_key(batch_op.f(f'fk_{table}_withdrawn_by_id_users'), 'users',
                                        ['withdrawn_by_id'], ['id'])


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_withdrawn_by_id_users'), type_='foreignkey')
            batch_op.drop_column('withdrawn_by_id')
            batch_op.drop_column('withdrawn_at')
