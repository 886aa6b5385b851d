"""Configuration classes, read from environment variables.

`CASEAPP_ENV` picks the class: `development` (the default, what `make run` uses)
or `production`. Production refuses to start without the variables it cannot
guess, instead of running with an insecure fallback.
"""
import os
import secrets
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path((os.environ.get("CASEAPP_INSTANCE_DIR") or BASE_DIR / "instance"))


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _dev_secret_key() -> str:
    """A key generated once into instance/, so sessions survive restarts on a laptop."""
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


class Config:
    ENV_NAME = "base"
    SQLALCHEMY_DATABASE_URI = (os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'caseapp.sqlite'}"
    )
    EVIDENCE_DIR = (os.environ.get("EVIDENCE_DIR") or str(INSTANCE_DIR / "evidence"))
    MAX_UPLOAD_MB = _int("MAX_UPLOAD_MB", 25)
    MAX_CONTENT_LENGTH = MAX_UPLOAD_MB * 1024 * 1024

    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)
    MAIL_DEFAULT_SENDER = (os.environ.get("MAIL_DEFAULT_SENDER") or "caseapp@localhost")

    APP_BASE_URL = (os.environ.get("APP_BASE_URL") or "http://127.0.0.1:5000")
    FOLLOW_UP_HOURS = _int("FOLLOW_UP_HOURS", 48)
    FOLLOW_UP_REPEAT_HOURS = _int("FOLLOW_UP_REPEAT_HOURS", 24)
    SCHEDULER_ENABLED = _bool("SCHEDULER_ENABLED", False)

    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = (os.environ.get("RATELIMIT_STORAGE_URI") or "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = (os.environ.get("LOGIN_RATE_LIMIT") or "10 per minute")
    API_RATE_LIMIT = (os.environ.get("API_RATE_LIMIT") or "300 per minute")
    # Failed sign-ins per account, whatever the address they come from.
    LOGIN_ACCOUNT_RATE_LIMIT = (os.environ.get("LOGIN_ACCOUNT_RATE_LIMIT") or "5 per 10 minutes")
    SESSION_IDLE_MINUTES = _int("SESSION_IDLE_MINUTES", 60)
    REMEMBER_COOKIE_DURATION = timedelta(days=_int("REMEMBER_DAYS", 14))

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = True

    # Signs backup manifests (HMAC-SHA256): `flask restore` takes only archives signed with
    # one of these keys. Several keys, comma-separated (or one per line in the file): the
    # first signs, every one verifies. Only `flask backup` and `flask restore` need them.
    BACKUP_SIGNING_KEY = os.environ.get("BACKUP_SIGNING_KEY") or None
    BACKUP_SIGNING_KEY_FILE = os.environ.get("BACKUP_SIGNING_KEY_FILE") or None
    BACKUP_SIGNING_KEY_GENERATE = False

    BOOTSTRAP_SERVE_LOCAL = True
    WTF_CSRF_TIME_LIMIT = None  # a form left open all day must still submit
    CASES_PER_PAGE = 25

    @classmethod
    def engine_options(cls, uri: str) -> dict:
        if uri.startswith("sqlite"):
            return {"connect_args": {"timeout": 15}}
        return {"pool_pre_ping": True}


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY") or None  # filled lazily by create_app
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    SCHEDULER_ENABLED = _bool("SCHEDULER_ENABLED", True)
    # A laptop gets a key generated once into instance/, unless one is given.
    BACKUP_SIGNING_KEY_FILE = os.environ.get("BACKUP_SIGNING_KEY_FILE") or (
        None if os.environ.get("BACKUP_SIGNING_KEY") else str(INSTANCE_DIR / "backup_signing_key"))
    BACKUP_SIGNING_KEY_GENERATE = True

    @classmethod
    def init_secret(cls) -> str:
        return os.environ.get("SECRET_KEY") or _dev_secret_key()


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key"
    BACKUP_SIGNING_KEY = "testing-backup-signing-key-0123456789abcdef"
    BACKUP_SIGNING_KEY_FILE = None
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # fast hashing keeps the suite quick
    SQLALCHEMY_DATABASE_URI = (os.environ.get("TEST_DATABASE_URL") or "sqlite://")
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    SCHEDULER_ENABLED = False
    MAIL_SERVER = None


class ProductionConfig(Config):
    ENV_NAME = "production"
    REQUIRED = ("SECRET_KEY", "DATABASE_URL")

    @classmethod
    def init_secret(cls) -> str:
        missing = [name for name in cls.REQUIRED if not os.environ.get(name)]
        if missing:
            raise RuntimeError(
                "CASEAPP_ENV=production needs these environment variables: " + ", ".join(missing)
            )
        return os.environ["SECRET_KEY"]


CONFIGS = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestingConfig,
}


def config_from_env() -> type[Config]:
    name = (os.environ.get("CASEAPP_ENV") or "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"CASEAPP_ENV must be one of {', '.join(CONFIGS)}, not {name!r}") from None
