"""saved views: a case list's filters and sort under a name, and a person's default view

Revision ID: 0025_saved_views
Revises: 0024_search
Create Date: 2026-12-02 07:05:00

"""
from alembic import op
import sqlalchemy as sa

import caseapp.models.types


# revision identifiers, used by Alembic.
revision = '0025_saved_views'
down_revision = '0024_search'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('saved_views',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('shared', sa.Boolean(), nullable=False),
    sa.Column('args', sa.JSON(), nullable=False),
    sa.Column('created_at', caseapp.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_saved_views_agency_id_agencies')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_saved_views_owner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_views'))
    )
    with op.batch_alter_table('saved_views', schema=None) as batch_op:
        batch_op.create_index('ix_saved_views_agency_id_owner_id', ['agency_id', 'owner_id'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('default_view_id', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('default_view_id')
    with op.batch_alter_table('saved_views', schema=None) as batch_op:
        batch_op.drop_index('ix_saved_views_agency_id_owner_id')
    op.drop_table('saved_views')
