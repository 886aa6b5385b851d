"""spreadsheet imports: a case's own reference, and each agency's remembered column mapping

A re-imported sheet finds its cases again by the agency's reference (unique within the
agency; cases without one keep NULL); an agency remembers which of its headers meant which
field, per kind of import.

Revision ID: 0023_imports
Revises: 0022_inbound
Create Date: 2026-12-02 06:05:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023_imports'
down_revision = '0022_inbound'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('agencies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('import_mappings', sa.JSON(), nullable=True))

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reference', sa.String(length=100), nullable=True))
        batch_op.create_index('uq_cases_agency_id_reference', ['agency_id', 'reference'], unique=True)


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('uq_cases_agency_id_reference')
        batch_op.drop_column('reference')

    with op.batch_alter_table('agencies', schema=None) as batch_op:
        batch_op.drop_column('import_mappings')
