"""document requests and POA shares remember the client they were made for

A case moved to another client keeps its history, but the new client's portal shows only
what was asked of and shared with them. Existing rows take their case's client now.

Revision ID: 0021_portal_client
Revises: 0020_portal
Create Date: 2026-12-02 01:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0021_portal_client'
down_revision = '0020_portal'
branch_labels = None
depends_on = None

TABLES = ('document_requests', 'poa_shares')


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('client_id', sa.Integer(), nullable=True))
        op.execute(f"UPDATE {table} SET client_id = "
                   f"(SELECT cases.client_id FROM cases WHERE cases.id = {table}.case_id)")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('client_id', existing_type=sa.Integer(), nullable=False)


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('client_id')
