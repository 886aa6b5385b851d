"""search: one index of what a person searches for, kept current with its text

A row per case, client, note, POA version, submission with an Amazon reference and filed
mail, with the full-text structures of each database beside it (PostgreSQL: a tsvector GIN
index and a pg_trgm index; SQLite: FTS5 tables kept in step by triggers). What is already
stored is indexed here.

pg_trgm is a trusted extension (PostgreSQL 13 and later): the database's owner may create it
without being a superuser.

Revision ID: 0024_search
Revises: 0023_imports
Create Date: 2026-12-02 06:20:00

"""
from alembic import op
import sqlalchemy as sa

from caseapp.models import search


# revision identifiers, used by Alembic.
revision = '0024_search'
down_revision = '0023_imports'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('search_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('codes', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_documents')),
    sa.UniqueConstraint('kind', 'object_id', name='uq_search_documents_kind_object_id')
    )
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.create_index('ix_search_documents_agency_id_kind', ['agency_id', 'kind'], unique=False)
    bind = op.get_bind()
    search.create_fulltext(bind)
    # What is stored already. This reads the tables as they are at this revision; should the
    # models move on incompatibly, freeze a copy of rebuild() here.
    search.rebuild(bind)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("search_fts_insert", "search_fts_delete", "search_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS search_fts")
        op.execute("DROP TABLE IF EXISTS search_fts_codes")
    else:
        op.execute("DROP INDEX IF EXISTS ix_search_documents_fts")
        op.execute("DROP INDEX IF EXISTS ix_search_documents_trgm")
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.drop_index('ix_search_documents_agency_id_kind')
    op.drop_table('search_documents')
