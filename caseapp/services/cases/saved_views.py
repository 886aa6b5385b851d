"""Saved views of the case list: a name for the current filters and sort, the person's own or
shared with the agency, and one of them as the person's default (what "Cases" opens with).

A view stores the list's query arguments, never a page or a cursor. Another agency's view,
or a colleague's view that is not shared, is a NotFound. Its owner or an admin deletes it.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select, update

from caseapp.core.errors import Forbidden, NotFound, ValidationFailed
from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import SavedView, User
from caseapp.services.accounts import audit

ARGS = ("status", "client_id", "assignee", "reason", "q", "sort", "per_page")
NAME_LIMIT = 80
MAX_VIEWS = 100  # per person: a list of views longer than this helps nobody


def visible(actor: User) -> list[SavedView]:
    """The person's own views and the agency's shared ones, by name."""
    return list(db.session.scalars(select(SavedView).where(
        SavedView.agency_id == actor.agency_id,
        or_(SavedView.owner_id == actor.id, SavedView.shared.is_(True)))
        .order_by(func.lower(SavedView.name), SavedView.id).limit(2 * MAX_VIEWS)))


def get(actor: User, view_id: int | None) -> SavedView:
    view = db.session.get(SavedView, view_id) if view_id else None
    if view is None or view.agency_id != actor.agency_id or not (view.shared or view.owner_id == actor.id):
        raise NotFound("No such view.")
    return view


def default_of(actor: User) -> SavedView | None:
    try:
        return get(actor, actor.default_view_id) if actor.default_view_id else None
    except NotFound:
        return None  # deleted, or no longer shared


def clean_args(args: dict[str, Any]) -> dict[str, str]:
    return {k: str(args[k]) for k in ARGS if args.get(k) not in (None, "")}


@transactional
def save(actor: User, name: str, args: dict[str, Any], shared: bool = False, make_default: bool = False) -> SavedView:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed({"name": "Give the view a name."})
    if len(name) > NAME_LIMIT:
        raise ValidationFailed({"name": f"At most {NAME_LIMIT} characters."})
    mine = select(SavedView).where(SavedView.agency_id == actor.agency_id, SavedView.owner_id == actor.id)
    same = db.session.scalar(mine.where(func.lower(SavedView.name) == name.lower()))
    if same is None and db.session.scalar(select(func.count()).select_from(mine.subquery())) >= MAX_VIEWS:
        raise ValidationFailed({"name": f"You have {MAX_VIEWS} views; delete one first."})
    view = same or SavedView(agency_id=actor.agency_id, owner_id=actor.id, name=name)
    view.args, view.shared = clean_args(args), bool(shared)  # the same name again: updated
    db.session.add(view)
    db.session.flush()
    if make_default:
        actor.default_view_id = view.id
    if shared:
        audit.record("settings_change", actor, f"view:{view.id}", f"shared the case list view {name!r}")
    return view


@transactional
def delete(actor: User, view_id: int) -> None:
    view = get(actor, view_id)
    if view.owner_id != actor.id and not actor.is_admin:
        raise Forbidden("Only its owner or an admin deletes a shared view.")
    db.session.execute(update(User).where(User.default_view_id == view.id).values(default_view_id=None))
    db.session.delete(view)


@transactional
def set_default(actor: User, view_id: int | None) -> None:
    actor.default_view_id = get(actor, view_id).id if view_id else None
