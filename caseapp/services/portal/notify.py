"""The portal's mail: to the client (with the portal link) and to the case's people.

- kind "portal": to the client's contact email. Its body carries the link as the mail
  package's placeholder, filled in only when sent (links.build_for_mail); a revoked or
  expired link cancels the message instead. It exists for its link, so the Outbox never
  shows its body (security).
- kind "portal_notice": to the case's assignee (the agency's admins when unassigned), at the
  end of their quiet hours: the client sent files, an answer, a message, or answered a POA.

Every message has one idempotency key per event, so whatever runs twice mails once.
"""
from __future__ import annotations

from datetime import datetime

from flask import render_template
from sqlalchemy import select

from caseapp.core import timezones
from caseapp.core.urls import external_url
from caseapp.extensions import db
from caseapp.models import (Agency, Case, CaseEvent, Client, DocumentRequest, DocumentRequestItem,
                            OutboxMessage, PoaShare, PortalLink, User)
from caseapp.services.accounts import people
from caseapp.services.mail import kinds, links as mail_links, outbox
from caseapp.services.portal import links

CLIENT = "portal"
NOTICE = "portal_notice"


def first_name(person: User | None) -> str:
    """The only staff name the client sees: the assignee's first name (none for someone
    who has left the agency: the client would write to a person who is not there)."""
    if person is None or not person.active or not person.name.strip():
        return ""
    return person.name.split()[0]


def _client_mail(case: Case, client: Client, link: PortalLink, key: str, subject: str,
                 paragraphs: list[str], now: datetime, items: list[dict] | None = None,
                 send_after: datetime | None = None, signer: User | None = None) -> bool:
    """Queue one mail to the client; False when the client has no contact email."""
    if not client.contact_email:
        return False
    agency = db.session.get(Agency, case.agency_id)
    assignee = db.session.get(User, case.assignee_id) if case.assignee_id else signer
    context = dict(greeting=client.contact_name or client.name, paragraphs=paragraphs,
                   items=items or [], link=mail_links.PLACEHOLDER,
                   expires=timezones.format_local(link.expires_at, agency.timezone),
                   signature=first_name(assignee) or "Your case team", agency=agency.name)
    outbox.queue(CLIENT, client.contact_email, subject,
                 render_template("email/portal_client.txt", **context),
                 render_template("email/portal_client.html", **context),
                 key=key, agency_id=case.agency_id, case_id=case.id,
                 send_after=send_after or now, link_ref=str(link.id))
    return True


def request_opened(case: Case, client: Client, request: DocumentRequest, link: PortalLink,
                   items, actor: User, now: datetime) -> bool:
    agency = db.session.get(Agency, case.agency_id)
    paragraphs = [f"To move your case \u201c{case.title}\u201d forward, we need the following from you "
                  f"by {timezones.format_local(request.due_at, agency.timezone)}:"]
    if request.message:
        paragraphs.insert(0, request.message)
    return _client_mail(case, client, link, f"portal:request:{request.id}",
                        f"Documents needed for your Amazon case: {case.title}", paragraphs, now,
                        items=[{"title": i.title, "note": ""} for i in items], signer=actor)


def item_rejected(case: Case, request: DocumentRequest, item, actor: User, now: datetime) -> bool:
    client = db.session.get(Client, case.client_id)
    link = links.link_to_mail(case, actor, now)  # an expired link is renewed: the client must hear why
    if link is None:
        return False  # the link was revoked: the consultant tells the client themselves
    paragraphs = [f"Thank you for what you sent for \u201c{item.title}\u201d. We cannot use it yet:",
                  item.reason, "Please send it again on your case page."]
    return _client_mail(case, client, link, f"portal:rejected:{item.id}:{now.isoformat()}",
                        f"Please send again: {item.title}", paragraphs, now, signer=actor)


def poa_shared(case: Case, share, actor: User, now: datetime) -> bool:
    client = db.session.get(Client, case.client_id)
    link = links.send_link(case, actor, now)
    paragraphs = [f"Version {share.version} of the Plan of Action for \u201c{case.title}\u201d is "
                  "ready for you to read.",
                  "Please read it on your case page and approve it, or tell us what to change."]
    return _client_mail(case, client, link, f"portal:poa:{share.id}",
                        f"Please approve your Plan of Action: {case.title}", paragraphs, now, signer=actor)


def reminder(case: Case, client: Client, request: DocumentRequest, link: PortalLink, number: int,
             waiting: list, now: datetime, send_after: datetime) -> bool:
    agency = db.session.get(Agency, case.agency_id)
    due = timezones.format_local(request.due_at, agency.timezone)
    if request.due_at > send_after:  # said as it is when the mail goes, after any quiet hours
        lead, subject = f"A reminder: we still need the following from you by {due}:", "Reminder"
    else:
        lead, subject = (f"We still need the following from you; it was due {due}. Without it "
                         "we cannot move your case forward:"), "Overdue"
    return _client_mail(case, client, link, f"portal:reminder:{request.id}:{number}",
                        f"{subject}: documents for your Amazon case {case.title}", [lead], now,
                        items=[{"title": i.title, "note": "sent back" if i.status == "rejected" else ""}
                               for i in waiting], send_after=send_after)


def tell_people(case: Case, event: CaseEvent, subject: str, paragraphs: list[str], now: datetime) -> int:
    """Tell the case's assignee (or, unassigned, its agency's admins) what the client did."""
    assignee = db.session.get(User, case.assignee_id) if case.assignee_id else None
    recipients = ([assignee] if assignee is not None and assignee.active
                  else people.active_admins({case.agency_id})[case.agency_id])
    client = db.session.get(Client, case.client_id)
    context = dict(paragraphs=paragraphs, case=case, client_name=client.name,
                   case_url=external_url("cases.detail", case_id=case.id))
    text = render_template("email/portal_notice.txt", **context)
    html = render_template("email/portal_notice.html", **context)
    for person in recipients:
        outbox.queue(NOTICE, person.email, subject, text, html, key=f"{NOTICE}:{event.id}:{person.id}",
                     agency_id=case.agency_id, case_id=case.id,
                     send_after=people.quiet_hours_end(person, now))
    return len(recipients)


def _withdrawn(messages: list[OutboxMessage]) -> dict[int, str]:
    """Client mail that says what is no longer true by the time it can go (held by quiet
    hours, no mail server, a retry): a reminder or request of a request that was fulfilled
    or cancelled (the case ended), or whose every item the client has sent since; a
    send-back of an item the client has sent again or that was accepted; a POA share that
    a later version replaced. Asked for each batch the delivery pass leases."""
    wanted: dict[str, list[tuple[OutboxMessage, int]]] = {"request": [], "reminder": [],
                                                          "rejected": [], "poa": []}
    for message in messages:
        parts = (message.idempotency_key or "").split(":")
        if message.kind == CLIENT and len(parts) >= 3 and parts[1] in wanted and parts[2].isdigit():
            wanted[parts[1]].append((message, int(parts[2])))
    why: dict[int, str] = {}
    request_ids = {i for _, i in wanted["request"] + wanted["reminder"]}
    if request_ids:
        found = {r.id: r for r in db.session.scalars(
            select(DocumentRequest).where(DocumentRequest.id.in_(request_ids)))}
        for message, request_id in wanted["request"] + wanted["reminder"]:
            request = found.get(request_id)
            if request is None or request.status != "open":
                why[message.id] = f"its document request is {request.status if request else 'gone'}"
            elif message.idempotency_key.startswith(f"{CLIENT}:reminder:") and not any(
                    item.status in ("requested", "rejected") for item in request.items):
                why[message.id] = "the client has sent everything it asked for"
            elif message.idempotency_key.startswith(f"{CLIENT}:reminder:"):
                number = message.idempotency_key.rsplit(":", 1)[1]
                if number.isdigit() and int(number) < request.client_reminders_sent:
                    # held (no mail server) or retried for days: the newest says it all,
                    # rather than a burst of stale reminders at once
                    why[message.id] = f"reminder {request.client_reminders_sent} of the same request superseded it"
    item_ids = {i for _, i in wanted["rejected"]}
    if item_ids:
        rows = {row.id: row for row in db.session.execute(
            select(DocumentRequestItem.id, DocumentRequestItem.status, DocumentRequest.status.label("open"))
            .join(DocumentRequest, DocumentRequest.id == DocumentRequestItem.request_id)
            .where(DocumentRequestItem.id.in_(item_ids))).all()}
        for message, item_id in wanted["rejected"]:
            row = rows.get(item_id)
            if row is None or row.open != "open" or row.status != "rejected":
                why[message.id] = "the item it sends back was sent again or decided since"
    share_ids = {i for _, i in wanted["poa"]}
    if share_ids:
        statuses = dict(db.session.execute(select(PoaShare.id, PoaShare.status)
                                           .where(PoaShare.id.in_(share_ids))).all())
        for message, share_id in wanted["poa"]:
            if statuses.get(share_id) == "withdrawn":
                why[message.id] = "a later POA version was shared since"
    return why


def register_mail_kinds() -> None:
    kinds.register(CLIENT, link=links.build_for_mail, security=True, withdrawn=_withdrawn)
    kinds.register(NOTICE)
