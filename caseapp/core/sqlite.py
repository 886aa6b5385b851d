"""SQLite settings for one-machine use: WAL, a busy timeout and foreign keys; and a new
database file that only its owner can read."""
import os
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from config import make_instance_dir


def create_private_database_file(uri: str, instance_dir: Path) -> None:
    """Create a missing SQLite database file 0600 before SQLite does (it would make it 0644).

    The file holds password hashes and every client's data. SQLite gives the -wal and -shm
    files it makes beside a database the database file's own permissions, so they are private
    too. The instance folder is created (0700) when the database lives in it; an existing file
    or folder is left as its owner set it.
    """
    path = sqlite_file(uri)
    if path is None or path.exists():
        return
    if path.parent.resolve() == instance_dir.resolve():
        make_instance_dir(instance_dir)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # another process made it first
    except OSError:
        pass  # e.g. no such folder: SQLite's own error on connecting says it best


def sqlite_file(uri: str) -> Path | None:
    """The file of a SQLite URL, or None (another database, in memory, or a `file:` URI)."""
    url = make_url(uri)
    name = url.database
    if url.get_backend_name() != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def create_file_on_first_connect(engine: Engine, instance_dir: Path) -> None:
    """Make a missing SQLite file private (create_private_database_file) when something
    connects, not when the app is made: `flask --help`, or a command refused because the
    database has no tables, creates no empty database file."""
    if sqlite_file(engine.url.render_as_string(hide_password=False)) is None:
        return

    @event.listens_for(engine, "do_connect")
    def _before_connect(_dialect, _record, _cargs, _cparams):
        create_private_database_file(engine.url.render_as_string(hide_password=False), instance_dir)


def enable_sqlite_pragmas(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            # Safe in WAL mode (a power cut may lose the last commits, never corrupt),
            # and it spares an fsync per commit.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
