"""secret links out of stored mail, calendar tokens hashed, sent bodies cleared after a while

Revision ID: 0009_mail_secrets
Revises: 0008_scale_indexes
Create Date: 2026-12-01 09:00:00

Schema: outbox_messages.link_ref (what makes a message's secret link at send time),
outbox_messages.body_cleared_at and the partial index the retention pass reads,
password_resets.salt (the reset token is derived from it).

Data, because older versions wrote the secrets themselves into the database:
- users.calendar_token: each token is replaced by its SHA-256, in place, so the feed
  addresses people subscribed to keep working. (The column keeps its name: renaming it
  would make SQLite rebuild the users table, which every other table refers to.)
- outbox_messages bodies: every reset link and snooze/dismiss link is replaced by the
  placeholder. Reminder mail still to send gets its link_ref from its idempotency key
  ("reminder:<reminder id>:<person id>"), so it gets a working link when sent. Reset mail
  still to send is cancelled: its token cannot be made again.
- password_resets: every reset not used yet is ended; anyone who read a link on the
  Outbox page before this upgrade can no longer use it. A person mid-reset asks again.

Downgrade drops the new columns; calendar addresses then stop working (the tokens cannot
be recovered from their hashes) and are cleared, and reset mail still waiting is cancelled.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

import caseapp.models.types

# revision identifiers, used by Alembic.
revision = '0009_mail_secrets'
down_revision = '0008_scale_indexes'
branch_labels = None
depends_on = None

PLACEHOLDER = "[personal link, added when sent]"  # caseapp.services.mail.links.PLACEHOLDER
# Any scheme and host: APP_BASE_URL may have changed since the mail was written.
LINK_RE = re.compile(r"https?://[^\s\"'<>]*?/(?:reminders/act|password/reset)/[A-Za-z0-9_.\-]+")
KEY_RE = re.compile(r"(?:reminder|escalation):(\d+):(\d+)")
CHUNK = 1000
WAITING = ("pending", "sending")

users = sa.table("users", sa.column("id", sa.Integer), sa.column("calendar_token", sa.String))
outbox = sa.table(
    "outbox_messages", sa.column("id", sa.Integer), sa.column("kind", sa.String),
    sa.column("status", sa.String), sa.column("idempotency_key", sa.String),
    sa.column("body_text", sa.Text), sa.column("body_html", sa.Text),
    sa.column("link_ref", sa.String), sa.column("last_error", sa.String),
    sa.column("lease_until", caseapp.models.types.UTCDateTime()))
resets = sa.table("password_resets", sa.column("id", sa.Integer),
                  sa.column("used_at", caseapp.models.types.UTCDateTime()))


def upgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_ref', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('body_cleared_at', caseapp.models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_outbox_messages_bodies_to_clear', ['status', 'sent_at'], unique=False,
                              sqlite_where=sa.text("status = 'sent' AND body_cleared_at IS NULL"),
                              postgresql_where=sa.text("status = 'sent' AND body_cleared_at IS NULL"))

    with op.batch_alter_table('password_resets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('salt', sa.String(length=64), nullable=True))

    connection = op.get_bind()
    _hash_calendar_tokens(connection)
    _take_links_out_of_the_outbox(connection)
    connection.execute(resets.update().where(resets.c.used_at.is_(None))
                       .values(used_at=datetime.now(timezone.utc)))


def _hash_calendar_tokens(connection) -> None:
    rows = connection.execute(sa.select(users.c.id, users.c.calendar_token)
                              .where(users.c.calendar_token.is_not(None))).all()
    for user_id, token in rows:
        connection.execute(users.update().where(users.c.id == user_id).values(
            calendar_token=hashlib.sha256(token.encode()).hexdigest()))


def _take_links_out_of_the_outbox(connection) -> None:
    """In chunks by id, reading only rows whose bodies hold such a link."""
    holds_link = sa.or_(*(column.like(f"%/{path}/%") for column in (outbox.c.body_text, outbox.c.body_html)
                          for path in ("reminders/act", "password/reset")))
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(outbox.c.id, outbox.c.kind, outbox.c.status, outbox.c.idempotency_key,
                      outbox.c.body_text, outbox.c.body_html)
            .where(outbox.c.id > last_id, holds_link).order_by(outbox.c.id).limit(CHUNK)).all()
        if not rows:
            return
        for row in rows:
            values = {"body_text": LINK_RE.sub(PLACEHOLDER, row.body_text),
                      "body_html": LINK_RE.sub(PLACEHOLDER, row.body_html)}
            if row.status in WAITING:
                key = KEY_RE.fullmatch(row.idempotency_key)
                if row.kind in ("reminder", "escalation") and key:
                    values["link_ref"] = f"{key.group(1)}:{key.group(2)}"
                else:  # a reset link cannot be made again from its hash
                    values.update(status="cancelled", lease_until=None, last_error=(
                        "cancelled by the upgrade that stopped keeping links in stored mail"
                        + ("; ask for a new reset link" if row.kind == "password_reset" else "")))
            connection.execute(outbox.update().where(outbox.c.id == row.id).values(**values))
        last_id = rows[-1].id


def downgrade():
    connection = op.get_bind()
    connection.execute(users.update().values(calendar_token=None))
    # The older code would send the placeholder where the reset link goes. (Reminder mail
    # waiting goes out without its snooze/dismiss link; its case link is in the text.)
    connection.execute(outbox.update().where(
        outbox.c.kind == "password_reset", outbox.c.status.in_(WAITING), outbox.c.link_ref.is_not(None))
        .values(status="cancelled", lease_until=None,
                last_error="cancelled by a downgrade: this version cannot make its link"))
    with op.batch_alter_table('password_resets', schema=None) as batch_op:
        batch_op.drop_column('salt')

    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_bodies_to_clear',
                            sqlite_where=sa.text("status = 'sent' AND body_cleared_at IS NULL"),
                            postgresql_where=sa.text("status = 'sent' AND body_cleared_at IS NULL"))
        batch_op.drop_column('body_cleared_at')
        batch_op.drop_column('link_ref')
