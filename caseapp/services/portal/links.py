"""Portal links: a client's way into one case's portal, without an account.

A link is scoped to one client and one case. It works for PORTAL_LINK_DAYS after it was last
sent, until the consultant revokes it. Its token is never stored: the row keeps a random
salt and the token's SHA-256, and the token is HMAC(SECRET_KEY, salt), so the mail that
carries it is filled in only when sent (services/mail/links.py) and a retried send carries
the same working link; the outbox, the database and any backup hold none.

A case has at most one live link: a new document request or a shared POA sends the live one
again (its validity renewed), or a new one when the last was revoked or expired.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from caseapp.core.errors import Conflict, NotFound
from caseapp.core.transaction import transactional
from caseapp.core.urls import external_url
from caseapp.extensions import db
from caseapp.models import Case, PortalLink, User, utcnow
from caseapp.services.accounts import audit
from caseapp.services.cases import records, timeline

TOKEN_PURPOSE = b"caseapp portal link v1:"
MAX_TOKEN_CHARS = 100


class LinkClosed(Exception):
    """A link that was valid once: expired or revoked. `link` says whose, for the page that
    tells the client whom to ask."""

    def __init__(self, link: PortalLink, state: str):
        super().__init__(state)
        self.link, self.state = link, state


def valid_for() -> timedelta:
    return timedelta(days=int(current_app.config.get("PORTAL_LINK_DAYS", 30)))


def token_for(link: PortalLink) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, TOKEN_PURPOSE + link.token_salt.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def url_for_link(link: PortalLink) -> str:
    return external_url("portal.home", token=token_for(link))


def live_link(case: Case, now: datetime) -> PortalLink | None:
    """The case's working link for its client now. A link made for the client the case had
    before (its client was corrected since) is never the case's live link: it opens nothing."""
    return db.session.scalar(select(PortalLink).where(
        PortalLink.case_id == case.id, PortalLink.client_id == case.client_id,
        PortalLink.revoked_at.is_(None), PortalLink.expires_at > now)
        .order_by(PortalLink.id.desc()).limit(1))


def newest_link(case: Case) -> PortalLink | None:
    """The case's latest link for its client, whatever its state: revoked means the
    consultant closed the door, and nothing automatic opens a new one behind them."""
    return db.session.scalar(select(PortalLink).where(PortalLink.case_id == case.id,
                                                      PortalLink.client_id == case.client_id)
                             .order_by(PortalLink.id.desc()).limit(1))


def link_to_mail(case: Case, actor: User | None, now: datetime) -> PortalLink | None:
    """The link for mail nobody asked to be sent by hand (a reminder, a send-back): the
    live one renewed, a fresh one when the last expired, None when the last was revoked."""
    newest = newest_link(case)
    if newest is not None and newest.revoked_at is not None:
        return None
    return send_link(case, actor, now)


def links_of(case: Case) -> list[PortalLink]:
    """The case's links for its client now (those of a client it had before open nothing)."""
    return list(db.session.scalars(select(PortalLink).where(PortalLink.case_id == case.id,
                                                            PortalLink.client_id == case.client_id)
                                   .order_by(PortalLink.id.desc()).limit(20)))


def send_link(case: Case, actor: User | None, now: datetime) -> PortalLink:
    """The case's live link, its validity renewed, or a new one (in the caller's unit of work)."""
    link = live_link(case, now)
    if link is None:
        salt = secrets.token_urlsafe(24)
        link = PortalLink(agency_id=case.agency_id, client_id=case.client_id, case_id=case.id,
                          token_salt=salt, token_hash="", created_by_id=actor.id if actor else None,
                          created_at=now, expires_at=now + valid_for())
        link.token_hash = _hash(token_for(link))
        db.session.add(link)
        db.session.flush()
        audit.record("portal", actor, target=f"portal link {link.id} of case {case.id}",
                     detail="portal link made", agency_id=case.agency_id)
    else:
        link.expires_at = max(link.expires_at, now + valid_for())
    return link


def resolve(token: str, now: datetime | None = None) -> PortalLink:
    """The link a token opens. NotFound for a token that never was a link; LinkClosed for
    one that expired or was revoked."""
    now = now or utcnow()
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise NotFound("This link is not a portal link.")
    link = db.session.scalar(select(PortalLink).where(PortalLink.token_hash == _hash(token)))
    if link is None:
        raise NotFound("This link is not a portal link.")
    state = link.state(now)
    if state != "active":
        raise LinkClosed(link, state)
    return link


def build_for_mail(link_ref: str, now: datetime) -> str | None:
    """The mail package's link builder for portal mail: the link while it works, else None
    (the message is then cancelled rather than sent with a dead link)."""
    try:
        link = db.session.get(PortalLink, int(link_ref))
    except (TypeError, ValueError):
        return None
    if link is None or link.state(now) != "active":
        return None
    client_now = db.session.scalar(select(Case.client_id).where(Case.id == link.case_id))
    if client_now != link.client_id:
        return None  # the case is another client's now: the old client's mail goes nowhere
    return url_for_link(link)


@transactional
def revoke(actor: User, case_id: int, now: datetime | None = None) -> PortalLink:
    """The consultant ends the case's live link: the client's page then says whom to ask."""
    now = now or utcnow()
    case = records.get_case(actor, case_id, for_update=True)
    link = live_link(case, now)
    if link is None:
        raise Conflict("This case has no portal link that works; there is nothing to revoke.")
    link.revoked_at, link.revoked_by_id = now, actor.id
    timeline.record(case, "portal_link_revoked", actor, "Portal link revoked: the client's link "
                    "stops working", {"link_id": link.id})
    audit.record("portal", actor, target=f"portal link {link.id} of case {case.id}",
                 detail="portal link revoked")
    return link


def get_link_of_case(actor: User, case_id: int) -> tuple[Case, PortalLink | None]:
    case = records.get_case(actor, case_id)
    return case, live_link(case, utcnow())


def require_case(link: PortalLink, case_id: int) -> None:
    if case_id != link.case_id:
        raise NotFound("Nothing here.")
