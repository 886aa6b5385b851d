"""Store and look up one-time keys (models/idempotency.py).

`claim` writes the key in the caller's unit of work, before or beside the effect it guards,
so both are saved together or neither is. Two requests racing with one key: the database's
unique (scope, key) lets one of them save; the other's unit of work fails with KeyTaken and
saves nothing, and its caller answers with what the first one answered.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import utcnow
from caseapp.models.idempotency import IdempotencyKey

KEEP = timedelta(hours=24)
MAX_KEY = 255
# Printable ASCII without spaces: what fits a header and a form field alike.
_KEY_RE = re.compile(r"^[!-~]{1,255}$")


class KeyTaken(Exception):
    """Another request saved the same key first (not a DomainError: no view may catch it as
    a refusal of what was typed)."""


def valid_key(key: str | None) -> bool:
    return bool(key) and bool(_KEY_RE.match(key))


def fingerprint(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def find(scope: str, key: str, now: datetime | None = None) -> IdempotencyKey | None:
    """The key's row while it is fresh (younger than 24 hours), else None."""
    now = now or utcnow()
    row = db.session.scalar(select(IdempotencyKey).where(
        IdempotencyKey.scope == scope, IdempotencyKey.key == key))
    if row is None or row.created_at <= now - KEEP:
        return None
    return row


def claim(scope: str, key: str, fingerprint_: str, now: datetime | None = None) -> IdempotencyKey:
    """Write the key in the current unit of work (the caller holds one open). An expired row
    of the same key goes first; the others are pruned by the scheduler's pass (`prune`), not
    here, where their row locks would be held for the whole request (a 25 MB upload)."""
    now = now or utcnow()
    db.session.execute(delete(IdempotencyKey).where(
        IdempotencyKey.scope == scope, IdempotencyKey.key == key, IdempotencyKey.created_at <= now - KEEP))
    row = IdempotencyKey(scope=scope, key=key, fingerprint=fingerprint_, created_at=now)
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError as error:
        raise KeyTaken(f"{scope} {key}") from error
    return row


def remember_answer(row: IdempotencyKey, *, status_code: int, location: str | None = None,
                    content_type: str | None = None, body: str | None = None) -> None:
    """What the first request answered, for its repeats."""
    row.status_code = status_code
    row.location = location[:2000] if location else None
    row.content_type = content_type
    row.body = body
    db.session.flush()


@transactional
def prune(now: datetime | None = None) -> int:
    """Forget keys older than 24 hours (the scheduler's pass calls this)."""
    now = now or utcnow()
    result = db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at <= now - KEEP))
    return result.rowcount or 0
