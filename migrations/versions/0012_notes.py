"""notes remember when they were last edited

Revision ID: 0012_notes
Revises: 0011_invitations
Create Date: 2026-12-01 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import caseapp.models.types


# revision identifiers, used by Alembic.
revision = '0012_notes'
down_revision = '0011_invitations'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('edited_at', caseapp.models.types.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.drop_column('edited_at')
