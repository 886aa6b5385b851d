"""mail faults: bouncing addresses on users, and the mail problems admins are told of

A failed reminder email no longer ends a case's follow-ups; instead the agency's admins are
told (a banner on every page, one email per problem) and an address the mail server refuses
is marked on its person. Schema only: existing rows get no bounce and no open problem.

Revision ID: 0015_mail_faults
Revises: 0014_closed_at
Create Date: 2026-12-01 15:00:00

"""
from alembic import op
import sqlalchemy as sa

from caseapp.models.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0015_mail_faults'
down_revision = '0014_closed_at'
branch_labels = None
depends_on = None


def upgrade():
    # add_column outside batch mode: SQLite adds a column in place, without rebuilding the
    # users table that every other table refers to.
    op.add_column("users", sa.Column("email_bounced_at", UTCDateTime(), nullable=True))
    op.add_column("users", sa.Column("email_bounce_message", sa.String(length=500),
                                     server_default="", nullable=False))
    op.create_table(
        "mail_problems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=1000), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_why", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_mail_problems_agency_id_agencies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_problems")),
    )
    op.create_index("ix_mail_problems_agency_id_closed_at", "mail_problems", ["agency_id", "closed_at"])


def downgrade():
    op.drop_index("ix_mail_problems_agency_id_closed_at", table_name="mail_problems")
    op.drop_table("mail_problems")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("email_bounce_message")
        batch_op.drop_column("email_bounced_at")
