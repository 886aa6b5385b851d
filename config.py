"""Configuration classes, read from environment variables.

`CASEAPP_ENV` picks the class: `development` (the default, what `make run` uses)
or `production`. Production refuses to start without the variables it cannot
guess, or with values that would be unsafe (a guessable SECRET_KEY, an APP_BASE_URL
nobody can reach), instead of running with an insecure fallback.
"""
import ipaddress
import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from zxcvbn import zxcvbn

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path((os.environ.get("CASEAPP_INSTANCE_DIR") or BASE_DIR / "instance"))


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def _bool(name: str, default: bool) -> bool:
    """A switch from the environment; a word that is neither yes nor no stops start-up
    (a typo such as MAIL_USE_TLS=ture must not quietly mean "no")."""
    value = (os.environ.get(name) or "").strip().lower()
    if not value:
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise RuntimeError(f"caseapp cannot start: {name}={os.environ[name]!r} is neither true "
                       f"({', '.join(sorted(TRUE_WORDS))}) nor false ({', '.join(sorted(FALSE_WORDS))}).")


def _int(name: str, default: int) -> int:
    value = (os.environ.get(name) or "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise RuntimeError(f"caseapp cannot start: {name}={os.environ[name]!r} is not a whole number.") from None


def make_instance_dir(instance_dir: Path) -> None:
    """The instance folder holds the secret key, the development database and evidence: its
    owner's only, when caseapp is the one creating it (a folder that exists is left alone)."""
    instance_dir.mkdir(mode=0o700, parents=True, exist_ok=True)


def _dev_secret_key(instance_dir: Path) -> str:
    """A key generated once into instance/, so sessions survive restarts on a laptop."""
    path = instance_dir / "secret_key"
    if not path.exists():
        make_instance_dir(instance_dir)
        # Created 0600 in one step: never readable by others, not even for a moment.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(32))
    return path.read_text().strip()


MIN_SECRET_KEY_LENGTH = 32
MIN_SECRET_KEY_GUESSES_LOG10 = 20  # zxcvbn: 32 random hex digits score 27 or more, "changeme"s 8
# Words of the placeholders people paste from examples; none of them is likely in a random key.
PLACEHOLDER_WORDS = ("change", "secret", "example", "replace", "password", "default", "caseapp",
                     "insecure", "placeholder", "dummy", "sample")
MAKE_A_KEY = "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def secret_key_problem(key: str) -> str | None:
    """Why a production SECRET_KEY is refused, or None. Never repeats the key (logs keep it).

    The key signs the session and "keep me signed in" cookies: anyone who guesses it, offline
    from one cookie, can sign in as anybody.
    """
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return (f"SECRET_KEY has {len(key)} characters; it needs at least {MIN_SECRET_KEY_LENGTH} "
                f"random ones ({MAKE_A_KEY}).")
    lowered = key.lower()
    if any(word in lowered for word in PLACEHOLDER_WORDS):
        return f"SECRET_KEY looks like a placeholder from an example; {MAKE_A_KEY}."
    if zxcvbn(key[:100])["guesses_log10"] < MIN_SECRET_KEY_GUESSES_LOG10:
        return (f"SECRET_KEY is easy to guess (repeats, a sequence, a keyboard row or common "
                f"words); {MAKE_A_KEY}.")
    return None


DEFAULT_BASE_URL = "http://127.0.0.1:5000"


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def base_url_problem(url: str) -> str | None:
    """Why a production APP_BASE_URL is refused, or None.

    Links in every email (reminders, password resets, portal links) start with it, and the
    production cookies are Secure: it must be the https:// address people reach caseapp at.
    """
    example = "e.g. APP_BASE_URL=https://cases.agency.example"
    if url == DEFAULT_BASE_URL:
        return (f"APP_BASE_URL is not set: links in emails would point to {DEFAULT_BASE_URL}, "
                f"a laptop's address; set the https:// address people use, {example}.")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        return f"APP_BASE_URL {url!r} is not a web address; {example}."
    if parts.scheme != "https" or not host:
        return (f"APP_BASE_URL must be the https:// address people use to reach caseapp (links in "
                f"emails start with it), not {url!r}; {example}.")
    if _loopback(host):
        return (f"APP_BASE_URL points to this machine ({host}), so links in emails would lead "
                f"nowhere; set the public address, {example}.")
    if parts.query or parts.fragment or parts.username or parts.password:
        return f"APP_BASE_URL must be a plain address without query, fragment or password; {example}."
    return None


class Config:
    ENV_NAME = "base"
    INSTANCE_DIR = INSTANCE_DIR
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

    APP_BASE_URL = (os.environ.get("APP_BASE_URL") or DEFAULT_BASE_URL)
    FOLLOW_UP_HOURS = _int("FOLLOW_UP_HOURS", 48)
    FOLLOW_UP_REPEAT_HOURS = _int("FOLLOW_UP_REPEAT_HOURS", 24)
    SCHEDULER_ENABLED = _bool("SCHEDULER_ENABLED", False)
    # Sent mail's bodies are emptied this many days after sending (the row stays: who was
    # mailed what, when); 0 keeps them for ever.
    OUTBOX_BODY_RETENTION_DAYS = _int("OUTBOX_BODY_RETENTION_DAYS", 30)

    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = (os.environ.get("RATELIMIT_STORAGE_URI") or "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = (os.environ.get("LOGIN_RATE_LIMIT") or "10 per minute")
    API_RATE_LIMIT = (os.environ.get("API_RATE_LIMIT") or "300 per minute")
    # Failed sign-ins at one account from one address: that address waits, the account's
    # owner elsewhere does not.
    LOGIN_ACCOUNT_RATE_LIMIT = (os.environ.get("LOGIN_ACCOUNT_RATE_LIMIT") or "5 per 10 minutes")
    # Failed sign-ins at one account from all addresses together, counted for browsers that
    # never signed in to it: bounds a guesser with many addresses (see views/auth.py).
    LOGIN_ACCOUNT_TOTAL_RATE_LIMIT = (os.environ.get("LOGIN_ACCOUNT_TOTAL_RATE_LIMIT")
                                      or "100 per hour")
    # How many reverse proxies stand in front: their X-Forwarded-For and -Proto are believed.
    TRUSTED_PROXIES = (os.environ.get("TRUSTED_PROXIES") or "0")
    SESSION_IDLE_MINUTES = _int("SESSION_IDLE_MINUTES", 60)
    INVITATION_HOURS = _int("INVITATION_HOURS", 72)  # how long an invitation link works
    PORTAL_LINK_DAYS = _int("PORTAL_LINK_DAYS", 30)  # how long a client's portal link works
    # Uploads and other changes through one portal link (Flask-Limiter syntax).
    PORTAL_RATE_LIMIT = (os.environ.get("PORTAL_RATE_LIMIT") or "60 per hour")
    # Email in (services/inbound): the mailbox mail is forwarded to; each case answers at
    # its plus-address (core/mailtags.py). The IMAP mailbox `flask inbound fetch` and the
    # scheduler read (every INBOUND_FETCH_SECONDS, when it is set), and the folder filed mail
    # moves to (created when missing). Mail larger than INBOUND_MAX_MB is refused (its
    # headers kept).
    INBOUND_ADDRESS = (os.environ.get("INBOUND_ADDRESS") or "").strip()
    INBOUND_IMAP_URL = (os.environ.get("INBOUND_IMAP_URL") or "").strip()
    INBOUND_PROCESSED_FOLDER = (os.environ.get("INBOUND_PROCESSED_FOLDER") or "caseapp-processed").strip()
    INBOUND_FETCH_SECONDS = _int("INBOUND_FETCH_SECONDS", 60)
    INBOUND_MAX_MB = _int("INBOUND_MAX_MB", 50)
    # The authserv-id your receiving mail server writes in Authentication-Results (e.g.
    # "mx.agency.example"): its DKIM/DMARC "pass" for an Amazon domain verifies Amazon's mail.
    INBOUND_AUTHSERV_ID = (os.environ.get("INBOUND_AUTHSERV_ID") or "").strip()
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
    def problems(cls, config: dict) -> list[str]:
        """What keeps the app from starting with `config`, each in a sentence."""
        found = []
        for name in ("FOLLOW_UP_HOURS", "FOLLOW_UP_REPEAT_HOURS"):
            if int(config[name]) < 1:
                found.append(f"{name} must be at least 1 hour, not {config[name]}.")
        for name in ("INBOUND_FETCH_SECONDS", "INBOUND_MAX_MB"):
            if int(config.get(name, 1)) < 1:
                found.append(f"{name} must be at least 1, not {config[name]}.")
        proxies = str(config.get("TRUSTED_PROXIES", "0")).strip()
        if not proxies.isdigit():
            found.append(f"TRUSTED_PROXIES is the number of reverse proxies in front of caseapp "
                         f"(0, 1, 2...), not {proxies!r}.")
        return found

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
        return os.environ.get("SECRET_KEY") or _dev_secret_key(Path(cls.INSTANCE_DIR))


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

    @classmethod
    def problems(cls, config: dict) -> list[str]:
        found = super().problems(config)
        for problem in (secret_key_problem(config.get("SECRET_KEY") or ""),
                        base_url_problem(config.get("APP_BASE_URL") or "")):
            if problem:
                found.append(problem)
        return found


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
