"""case list indexes: a person's cases by status in order, and the reason filter

Revision ID: 0027_case_list_indexes
Revises: 0026_bulk
Create Date: 2026-12-03 09:55:00

bench/run.py at 100,000 cases: the board's columns of one person (agency, assignee, status,
newest first) sorted each status's rows, and a saved view filtered by reason walked every
case of a status (the status counts) and every case waiting on Amazon (its count) to read the
reason. The first index replaces (agency_id, assignee_id, status), its prefix.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0027_case_list_indexes'
down_revision = '0026_bulk'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_agency_id_assignee_id_status_updated_at',
                              ['agency_id', 'assignee_id', 'status', 'updated_at', 'id'], unique=False)
        batch_op.create_index('ix_cases_agency_id_reason_status_awaiting_since',
                              ['agency_id', 'reason', 'status', 'awaiting_since'], unique=False)
        batch_op.drop_index('ix_cases_agency_id_assignee_id_status')


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_agency_id_assignee_id_status', ['agency_id', 'assignee_id', 'status'],
                              unique=False)
        batch_op.drop_index('ix_cases_agency_id_reason_status_awaiting_since')
        batch_op.drop_index('ix_cases_agency_id_assignee_id_status_updated_at')
