"""Checklists: what to ask a client for, per suspension reason, agency-editable.

An agency that never saved its checklists uses the shipped DEFAULTS, which follow what Amazon
states it needs (README, "Client portal", gives the source of each); saving the checklists page
writes the agency's whole list, and "Restore the defaults" deletes it again.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select

from caseapp.core.errors import NotFound, ValidationFailed
from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import CATEGORIES, ITEM_KINDS, REASONS, DocumentChecklist, User, utcnow
from caseapp.services.accounts import audit, roles

MAX_CHECKLISTS = 30
MAX_ITEMS = 20
TITLE_LIMIT = 200
INSTRUCTIONS_LIMIT = 2000
NAME_LIMIT = 200
_KEY = re.compile(r"^[a-z0-9_]{1,40}$")


@dataclass(frozen=True)
class Item:
    title: str
    instructions: str
    category: str = "other"
    kind: str = "file"  # "file": the client uploads; "answer": the client writes

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "title": self.title, "instructions": self.instructions,
                "category": self.category}


@dataclass(frozen=True)
class Checklist:
    key: str
    name: str
    reason: str | None  # suggested for cases of this reason; None: any
    items: tuple[Item, ...] = field(default_factory=tuple)


INVOICES = Item(
    "Supplier invoices",
    "Invoices from your supplier dated within the last 365 days. Each must show the supplier's "
    "name, address, phone number and website, your business name and address, the product "
    "names, and quantities that cover the units you sold. Send them exactly as the supplier "
    "issued them, as PDF or a photo: do not edit, crop or retype them. You may hide prices.",
    "invoice")
SUPPLIER_CONTACT = Item(
    "Supplier contact details",
    "A letter or email from your supplier confirming they sold you these products, with a "
    "contact person, phone number and email Amazon can reach.",
    "supplier_letter")
AUTHORIZATION = Item(
    "Letter of authorization or licence",
    "A letter of authorization or a licence agreement from the rights owner (the brand, or "
    "the owner of the trademark, copyright or patent) that lets you sell these products. It "
    "must name your business, be signed, and show the rights owner's contact details.",
    "supplier_letter")
RETRACTION = Item(
    "Retraction from the rights owner",
    "If you settled the complaint with the rights owner, a copy of the retraction they sent "
    "to Amazon (or their written confirmation that they will send it), naming the complaint "
    "ID or the ASINs.",
    "supplier_letter")
GOVERNMENT_ID = Item(
    "Government-issued ID",
    "A clear colour photo or scan of the passport or national ID card of the account's "
    "primary contact, all four corners visible, not expired, with the same name as on the "
    "seller account.",
    "other")
UTILITY_BILL = Item(
    "Utility bill",
    "A utility bill (electricity, water, gas, internet or phone) issued less than 90 days "
    "ago, with the name and address exactly as they are on the seller account.",
    "other")
BANK_STATEMENT = Item(
    "Bank statement",
    "A bank or credit card statement for the account Amazon pays into or charges, with the "
    "account holder's name and address as on the seller account. You may hide the "
    "transactions and balance.",
    "other")


def _answer(title: str, instructions: str) -> Item:
    return Item(title, instructions, "other", "answer")


DEFAULTS: tuple[Checklist, ...] = (
    Checklist("authenticity", "Proof of authenticity", "policy_violation", (
        INVOICES, SUPPLIER_CONTACT,
        _answer("Where do you buy these products?",
                "Tell us who your supplier is, how long you have bought from them, and how you "
                "check that the products are genuine."),
    )),
    Checklist("intellectual_property", "Rights owner's permission", "intellectual_property", (
        AUTHORIZATION, RETRACTION, INVOICES,
    )),
    Checklist("customer_complaints", "Customer complaints", "customer_complaints", (
        INVOICES,
        _answer("What went wrong for these buyers?",
                "In your own words: what the buyers complained about, what you found when you "
                "looked into it, and what you have changed since."),
    )),
    Checklist("performance_metrics", "Performance", "performance_metrics", (
        _answer("What happened to your orders?",
                "In your own words: what caused the late, cancelled or defective orders, and "
                "what you have changed in how you ship and answer buyers."),
        Item("Shipping or carrier records",
             "Reports from your carrier or warehouse for the orders in question (tracking, "
             "handover dates), as exported: PDF, spreadsheet or screenshot.", "screenshot"),
    )),
    Checklist("identity", "Identity and address", None, (
        GOVERNMENT_ID, UTILITY_BILL, BANK_STATEMENT,
    )),
    Checklist("question", "A written answer", None, (
        _answer("Your answer", "Please answer the question in the message above."),
    )),
)


def _from_row(row: DocumentChecklist) -> Checklist:
    return Checklist(row.key, row.name, row.reason,
                     tuple(Item(i["title"], i.get("instructions", ""), i.get("category", "other"),
                                i.get("kind", "file")) for i in row.items or ()))


def for_agency(agency_id: int) -> list[Checklist]:
    rows = list(db.session.scalars(select(DocumentChecklist).where(DocumentChecklist.agency_id == agency_id)
                                   .order_by(DocumentChecklist.position, DocumentChecklist.id)))
    return [_from_row(row) for row in rows] if rows else list(DEFAULTS)


def uses_defaults(agency_id: int) -> bool:
    return db.session.scalar(select(DocumentChecklist.id).where(
        DocumentChecklist.agency_id == agency_id).limit(1)) is None


def for_reason(agency_id: int, reason: str) -> list[Checklist]:
    """The agency's checklists, those suggested for `reason` first, then those for any case."""
    every = for_agency(agency_id)
    return ([c for c in every if c.reason == reason] + [c for c in every if c.reason is None]
            + [c for c in every if c.reason not in (None, reason)])


def get(agency_id: int, key: str) -> Checklist:
    for checklist in for_agency(agency_id):
        if checklist.key == key:
            return checklist
    raise NotFound(f"No checklist {key!r}.")


def clean_item(raw: Any, prefix: str, errors: dict[str, str]) -> Item | None:
    """One item from a form or the API ({title, instructions, category, kind}); None for a
    row left empty. Errors are named `prefix` + field."""
    if not isinstance(raw, dict):
        errors[prefix.rstrip(".")] = "Each item needs a title, instructions and a category."
        return None
    values = {}
    for name, limit in (("title", TITLE_LIMIT), ("instructions", INSTRUCTIONS_LIMIT)):
        value = raw.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            errors[prefix + name] = "Must be text."
            continue
        value = value.replace("\r\n", "\n").strip()
        if len(value) > limit:
            errors[prefix + name] = f"At most {limit:,} characters."
        values[name] = value
    category = raw.get("category") or "other"
    kind = raw.get("kind") or "file"
    if category not in CATEGORIES:
        errors[prefix + "category"] = "Choose one of the evidence categories."
    if kind not in ITEM_KINDS:
        errors[prefix + "kind"] = "Choose a file upload or a written answer."
    if not values.get("title") and not values.get("instructions"):
        return None
    if not values.get("title"):
        errors[prefix + "title"] = "Give the item a title the client understands."
    if any(key.startswith(prefix) for key in errors):
        return None
    return Item(values["title"], values.get("instructions", ""), category, kind)


@transactional
def save(actor: User, checklists: list[dict[str, Any]]) -> list[Checklist]:
    """Replace the agency's checklists: each {key, name, reason, items: [...]}; a checklist
    without name and items is dropped."""
    roles.require_admin(actor)
    errors: dict[str, str] = {}
    kept: list[Checklist] = []
    seen: set[str] = set()
    if len(checklists) > MAX_CHECKLISTS:
        raise ValidationFailed({"checklists": f"At most {MAX_CHECKLISTS} checklists."})
    for index, raw in enumerate(checklists):
        prefix = f"checklists-{index}-"
        name = (raw.get("name") or "").strip() if isinstance(raw.get("name"), str) else ""
        raw_items = raw.get("items") or []
        items = [item for n, r in enumerate(raw_items[:MAX_ITEMS + 1])
                 if (item := clean_item(r, f"{prefix}items-{n}-", errors)) is not None]
        if not name and not items:
            continue
        if not name:
            errors[prefix + "name"] = "Give the checklist a name."
        elif len(name) > NAME_LIMIT:
            errors[prefix + "name"] = f"At most {NAME_LIMIT} characters."
        if len(raw_items) > MAX_ITEMS:
            errors[prefix + "items"] = f"At most {MAX_ITEMS} items."
        if not items:
            errors[prefix + "items"] = "Add at least one item."
        key = (raw.get("key") or "").strip() if isinstance(raw.get("key"), str) else ""
        key = key or re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40] or f"list_{index + 1}"
        if not _KEY.match(key):
            errors[prefix + "key"] = "Lower-case letters, digits and _ only."
        elif key in seen:
            errors[prefix + "key"] = "Another checklist has this key."
        seen.add(key)
        reason = raw.get("reason") or None
        if reason is not None and reason not in REASONS:
            errors[prefix + "reason"] = "Choose a suspension reason, or any."
        kept.append(Checklist(key, name, reason, tuple(items)))
    if errors:
        raise ValidationFailed(errors)
    if not kept:
        raise ValidationFailed({"checklists": "Keep at least one checklist, or restore the defaults."})
    db.session.execute(delete(DocumentChecklist).where(DocumentChecklist.agency_id == actor.agency_id))
    now = utcnow()
    for position, checklist in enumerate(kept):
        db.session.add(DocumentChecklist(
            agency_id=actor.agency_id, key=checklist.key, name=checklist.name, reason=checklist.reason,
            position=position, items=[item.as_dict() for item in checklist.items], created_at=now))
    audit.record("settings_change", actor, target="document checklists",
                 detail=f"{len(kept)} checklists saved")
    return kept


@transactional
def restore_defaults(actor: User) -> list[Checklist]:
    roles.require_admin(actor)
    db.session.execute(delete(DocumentChecklist).where(DocumentChecklist.agency_id == actor.agency_id))
    audit.record("settings_change", actor, target="document checklists", detail="defaults restored")
    return list(DEFAULTS)
