"""Seller clients: validation, tenancy and listing."""
from __future__ import annotations

import re
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select

from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import MARKETPLACES, Case, Client, User
from caseapp.core import paging
from caseapp.services.accounts import audit
from caseapp.services.accounts.people import require_admin
from caseapp.core.errors import Conflict, NotFound, ValidationFailed

FIELDS = ("name", "seller_id", "marketplace", "contact_name", "contact_email", "notes")
LIMITS = {"name": 200, "seller_id": 40, "marketplace": 10, "contact_name": 120, "contact_email": 254,
          "notes": 20000}
# Amazon seller IDs (merchant tokens) are upper-case letters and digits, usually 13-14 long.
SELLER_ID_RE = re.compile(r"^[A-Z0-9]{8,20}$")


def clean_fields(data: dict[str, Any], partial: bool = False, *, actor: User | None = None,
                 client_id: int | None = None) -> dict[str, str]:
    """Validate client fields; return them cleaned or raise ValidationFailed listing each bad one.

    With `actor`, a seller ID another client of the actor's agency has (not `client_id`
    itself) is refused too, in the same round as every other mistake: a Conflict (409) when it
    is the only one, naming the existing client (error.existing)."""
    errors: dict[str, str] = {}
    out: dict[str, str] = {}
    for field in FIELDS:
        if field not in data:
            continue
        value = data[field]
        if value is None:
            value = ""
        if not isinstance(value, str):
            errors[field] = "Must be text."
            continue
        if len(value) > LIMITS[field]:  # counted as sent, before trimming
            errors[field] = f"At most {LIMITS[field]:,} characters."
            continue
        out[field] = value.strip()
    if (not partial or "name" in data) and "name" not in errors and not out.get("name"):
        errors["name"] = "The seller's business name is required."

    if out.get("seller_id"):
        out["seller_id"] = out["seller_id"].upper()
        if not SELLER_ID_RE.match(out["seller_id"]):
            errors["seller_id"] = "A seller ID (merchant token) is 8 to 20 letters and digits."
    if "marketplace" in out or not partial:
        out["marketplace"] = (out.get("marketplace") or "US").upper()
        if out["marketplace"] not in MARKETPLACES:
            errors["marketplace"] = "Choose one of: " + ", ".join(MARKETPLACES) + "."
    if out.get("contact_email"):
        try:
            out["contact_email"] = validate_email(
                out["contact_email"], check_deliverability=False
            ).normalized
        except EmailNotValidError as exc:
            errors["contact_email"] = str(exc)
    same = None
    if actor is not None and out.get("seller_id") and "seller_id" not in errors:
        same = same_seller(actor, out["seller_id"], client_id)
        if same is not None:
            errors["seller_id"] = (f"{same.name} already has seller ID {same.seller_id} in your "
                                   "agency: open that client instead of adding it again.")
    if errors:
        error = (Conflict(errors["seller_id"], errors) if same is not None and len(errors) == 1
                 else ValidationFailed(errors))
        raise error.naming("client", same.id, "seller_id") if same is not None else error
    return out


def same_seller(actor: User, seller_id: str, other_than: int | None = None) -> Client | None:
    """The agency's client with this seller ID (another agency's is none of our business)."""
    stmt = select(Client).where(Client.agency_id == actor.agency_id, Client.seller_id == seller_id)
    if other_than is not None:
        stmt = stmt.where(Client.id != other_than)
    return db.session.scalar(stmt.order_by(Client.id).limit(1))


@transactional
def create_client(actor: User, data: dict[str, Any]) -> Client:
    fields = clean_fields(data, actor=actor)
    client = Client(agency_id=actor.agency_id, **fields)
    db.session.add(client)
    db.session.flush()
    return client


def get_client(actor: User, client_id: int) -> Client:
    client = db.session.get(Client, client_id)
    if client is None or client.agency_id != actor.agency_id:
        raise NotFound("No such client.")
    return client


@transactional
def update_client(actor: User, client_id: int, data: dict[str, Any]) -> Client:
    client = get_client(actor, client_id)
    for field, value in clean_fields(data, partial=True, actor=actor, client_id=client.id).items():
        setattr(client, field, value)
    return client


@transactional
def delete_client(actor: User, client_id: int) -> None:
    """Admins may delete a client that has no cases; cases are never deleted this way."""
    require_admin(actor)
    client = get_client(actor, client_id)
    if db.session.scalar(select(Case.id).where(Case.client_id == client.id).limit(1)):
        raise Conflict("This client has cases; close them instead of deleting the client.")
    audit.record("deletion", actor, target=f"client {client.id}", detail=client.name)
    db.session.delete(client)


def list_clients(actor: User, q: str = "", page: int = 1, per_page: int = 50, count: bool = False) -> paging.Page:
    """A page of the agency's clients by name, those whose name or seller ID holds `q`; with
    `count`, its `total` counted up to paging.COUNT_CAP + 1 (the client list shows it)."""
    stmt = select(Client).where(Client.agency_id == actor.agency_id)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(
            func.lower(Client.name).like(like) | func.lower(Client.seller_id).like(like)
        )
    found = paging.fetch(stmt.order_by(Client.name, Client.id), page, per_page)
    if count:
        found.total = paging.capped_count(stmt)
    return found


def client_choices(actor: User, limit: int | None = None) -> list[tuple[int, str]] | None:
    """(id, name) of the agency's clients by name; None when there are more than `limit`."""
    stmt = select(Client.id, Client.name).where(Client.agency_id == actor.agency_id).order_by(Client.name)
    rows = db.session.execute(stmt.limit(limit + 1) if limit else stmt).all()
    if limit and len(rows) > limit:
        return None
    return [(row.id, row.name) for row in rows]
