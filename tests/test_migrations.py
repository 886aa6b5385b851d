"""Migration 0009_mail_secrets on a database that holds data, as a deploy would meet it:
calendar addresses people subscribed to keep working (their tokens are hashed in place), and
the reset and snooze/dismiss links older versions wrote into outbox bodies are taken out
(reminder mail still waiting gets its link when it is sent). On SQLite, or in a database of
its own beside the PostgreSQL test database of TEST_DATABASE_URL."""
from __future__ import annotations

import hashlib
import logging.config
from datetime import timedelta
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

from caseapp import create_app
from caseapp.extensions import db
from caseapp.models import Agency, OutboxMessage, PasswordReset, User, utcnow
from caseapp.services.appeals import calendar_feed
from caseapp.services.mail.links import PLACEHOLDER
from config import TestingConfig

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")
OLD_FEED_TOKEN = "Zk3v0u1xw6bq1-oldfeedtoken_subscribed-in-2025"
OLD_ACTION = "eyJyIjo3LCJ1IjozfQ.Z2sQ0A.7mXo3w2m1O8pJkQy0e1yM7y6x3A"
OLD_RESET = "q5Wz0x2m8Y8oZsX3-reset-token-from-an-old-version"


def by_name(table, **values) -> dict:
    """Values keyed by the columns' names in the database, whatever the model calls them."""
    columns = {column.name: column for column in table.columns}
    return {columns[name]: value for name, value in values.items()}


@pytest.fixture
def database(database_url, tmp_path):
    """An empty database of the kind under test."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'migrate.sqlite'}"
        return
    url = make_url(database_url)
    name = f"{url.database}_migration"
    server = create_engine(url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


@pytest.fixture
def migrated_app(database, monkeypatch):
    # Alembic's env.py applies alembic.ini's logging, which would switch off the app's
    # loggers for the tests that run after this one.
    monkeypatch.setattr(logging.config, "fileConfig", lambda *args, **kwargs: None)

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database

    app = create_app(Config)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_upgrade_keeps_calendar_addresses_and_takes_links_out_of_the_outbox(migrated_app):
    upgrade(directory=MIGRATIONS, revision="0008_scale_indexes")
    now = utcnow()
    with db.engine.begin() as connection:
        agency = connection.execute(insert(Agency.__table__).values(
            name="Old Agency", timezone="UTC", created_at=now).returning(Agency.__table__.c.id)).scalar()
        users = User.__table__
        person = connection.execute(insert(users).values(by_name(
            users, agency_id=agency, email="old@agency.example", name="Old Person", role="consultant",
            password_hash="x", created_at=now, calendar_token=OLD_FEED_TOKEN)).returning(users.c.id)).scalar()
        connection.execute(insert(PasswordReset.__table__).values(
            user_id=person, token_hash=hashlib.sha256(OLD_RESET.encode()).hexdigest(),
            created_at=now, expires_at=now + timedelta(hours=1)))
        action = f"http://caseapp.example/reminders/act/{OLD_ACTION}"
        reset = f"http://caseapp.example/password/reset/{OLD_RESET}"
        rows = [("reminder:7:3", "reminder", "sent"), ("escalation:7:4", "escalation", "pending"),
                ("password_reset:old", "password_reset", "pending")]
        for key, kind, status in rows:
            link = reset if kind == "password_reset" else action
            connection.execute(insert(OutboxMessage.__table__).values(
                idempotency_key=key, agency_id=agency, kind=kind, recipient="old@agency.example",
                subject=kind, status=status, send_after=now, attempts=0, last_error="",
                created_at=now, body_text=f"Hello,\n\nYour link: {link}\n\ncaseapp",
                body_html=f'<p><a href="{link}">Snooze</a> or <a href="{link}">dismiss</a></p>'))

    upgrade(directory=MIGRATIONS, revision="head")
    db.session.remove()

    # The address already in people's calendar apps still answers, and only its hash is kept.
    owner = calendar_feed.owner_of(OLD_FEED_TOKEN)
    assert owner.email == "old@agency.example"
    stored = db.session.execute(text("SELECT calendar_token FROM users")).scalar()
    assert stored == hashlib.sha256(OLD_FEED_TOKEN.encode()).hexdigest()
    assert migrated_app.test_client().get(f"/calendar/{OLD_FEED_TOKEN}.ics").status_code == 200

    messages = {m.idempotency_key: m for m in db.session.scalars(select(OutboxMessage))}
    for message in messages.values():
        for body in (message.body_text, message.body_html):
            assert OLD_ACTION not in body and OLD_RESET not in body
    sent, waiting, reset_mail = (messages[k] for k, _, _ in rows)
    assert PLACEHOLDER in sent.body_text and "Hello," in sent.body_text
    assert sent.body_html.count(PLACEHOLDER) == 2
    assert waiting.link_ref == "7:4" and waiting.status == "pending"  # its link is made when sent
    assert reset_mail.status == "cancelled" and "ask for a new" in reset_mail.last_error
    # A reset link an Outbox reader may have copied before the upgrade works no more.
    assert db.session.scalar(select(PasswordReset.used_at)) is not None
