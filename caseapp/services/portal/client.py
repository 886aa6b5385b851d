"""What the client sees and does through a portal link: no account, no session.

The link (services/portal/links.py) is the client's only key, and it opens one case of one
client. Everything here is reached through it: an item, a share or a file of another case is
NotFound, exactly like one that does not exist. The page shows the case's status in plain
words, what is requested, the client's own files and answers, the POA version shared with
them, and the assignee's first name; never notes, the timeline, other evidence or other people.

Every client action is on the case's timeline (actor None, `by: client`), in the audit log
with the link's id, and told to the assignee (notify.tell_people).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from caseapp.core import locking
from caseapp.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from caseapp.core.transaction import active, transaction, transactional
from caseapp.extensions import db
from caseapp.models import (Agency, Case, Client, DocumentRequest, DocumentRequestItem, Evidence, PoaDraft,
                            PoaShare, PortalLink, User, utcnow)
import caseapp.services.evidence as evidence
from caseapp.services.accounts import audit
from caseapp.services.evidence.filenames import safe_display_name
from caseapp.services.cases import timeline
from caseapp.services.poa.content import PoaContent
from caseapp.services.poa.drafts import content_of
from caseapp.services.poa.render import print_blocks
from caseapp.services.portal import links, notify, requests

ANSWER_LIMIT = 5000
MESSAGE_LIMIT = 5000
COMMENT_LIMIT = 5000

# The case's status as the client reads it: where it stands, and what happens next.
STATUS_WORDS = {
    "open": ("We are working on your case.",
             "We are looking into what Amazon said and preparing your appeal."),
    "drafting": ("We are writing your Plan of Action.",
                 "When it is ready we may ask you to read and approve it here."),
    "submitted": ("Your appeal is with Amazon.",
                  "We are waiting for Amazon's answer and will follow up if Amazon is silent."),
    "more_info_requested": ("Amazon asked for more information.",
                            "We are preparing the answer; we may need documents from you."),
    "reinstated": ("Amazon reinstated your account or listings.", "Nothing more is needed from you."),
    "denied": ("Amazon did not accept the appeal.", "We will contact you about the next steps."),
    "closed": ("This case is closed.", "Contact us if anything changes."),
}


@dataclass
class ItemView:
    item: DocumentRequestItem
    files: list[Evidence]


@dataclass
class RequestView:
    request: DocumentRequest
    items: list[ItemView]


@dataclass
class PortalPage:
    link: PortalLink
    agency_name: str
    client_name: str
    case_title: str
    status: str
    status_words: str
    next_words: str
    consultant: str  # the assignee's first name, or ""
    timezone: str
    requests: list[RequestView] = field(default_factory=list)
    share: PoaShare | None = None
    poa_blocks: list = field(default_factory=list)


def _case_of(link: PortalLink, for_update: bool = False) -> Case:
    stmt = select(Case).where(Case.id == link.case_id, Case.agency_id == link.agency_id,
                              Case.client_id == link.client_id)
    if for_update:
        stmt = locking.for_update(stmt, of=Case)  # as records.get_case
    case = db.session.scalar(stmt)
    if case is None:
        raise NotFound("Nothing here.")
    return case


def page(token: str, now: datetime | None = None) -> PortalPage:
    now = now or utcnow()
    link = links.resolve(token, now)
    case = _case_of(link)
    agency = db.session.get(Agency, case.agency_id)
    client = db.session.get(Client, case.client_id)
    assignee = db.session.get(User, case.assignee_id) if case.assignee_id else None
    # Only what was asked of this client: a case moved from another client keeps the other
    # client's requests and shares in its history, never in this client's portal.
    shown = [r for r in requests.for_case(case) if r.client_id == link.client_id and (
             r.status == "open" or (r.status == "fulfilled" and r.closed_at and (now - r.closed_at).days < 14))]
    files = requests.files_by_item(shown)
    status_words, next_words = STATUS_WORDS.get(case.status, ("", ""))
    view = PortalPage(link, agency.name, client.name, case.title, case.status, status_words, next_words,
                      notify.first_name(assignee), agency.timezone,
                      [RequestView(r, [ItemView(i, files.get(i.id, [])) for i in r.items]) for r in shown])
    share = db.session.scalar(select(PoaShare).where(PoaShare.case_id == case.id,
                                                     PoaShare.client_id == link.client_id,
                                                     PoaShare.status != "withdrawn")
                              .order_by(PoaShare.shared_at.desc(), PoaShare.id.desc()).limit(1))
    if share is not None:
        draft = db.session.get(PoaDraft, share.poa_draft_id)
        view.share, view.poa_blocks = share, print_blocks(content_of(draft) if draft else PoaContent())
    return view


def closed_link_page(error: links.LinkClosed) -> dict:
    """What the page of an expired or revoked link says: whom to ask for a new one."""
    link = error.link
    case = db.session.get(Case, link.case_id)
    agency = db.session.get(Agency, link.agency_id)
    assignee = db.session.get(User, case.assignee_id) if case is not None and case.assignee_id else None
    return {"state": error.state, "agency_name": agency.name, "consultant": notify.first_name(assignee)}


def _item_of(link: PortalLink, case: Case, item_id: int,
             kind: str | None = None) -> tuple[DocumentRequestItem, DocumentRequest]:
    """The item, read after the case's lock (as it is now, not as the session last saw it);
    with `kind`, one that asks for that (files, or a written answer)."""
    item = db.session.scalar(select(DocumentRequestItem).where(DocumentRequestItem.id == item_id)
                             .execution_options(populate_existing=True))
    request = requests.reload(item.request_id) if item is not None else None
    if request is None or request.case_id != case.id or request.client_id != link.client_id:
        raise NotFound("Nothing here.")
    if request.status != "open":
        raise Conflict("This request is closed: nothing more is needed for it.")
    if item.status == "accepted":
        raise Conflict("We have accepted what you sent for this item: nothing more is needed.")
    if kind is not None and item.kind != kind:
        raise Conflict("This item asks for a written answer, not files." if item.kind == "answer"
                       else "This item asks for files, not a written answer.")
    return item, request


def _record(link: PortalLink, case: Case, kind: str, summary: str, data: dict, detail: str,
            now: datetime, subject: str, paragraphs: list[str]) -> None:
    event = timeline.record(case, kind, None, summary, dict(data, by="client", link_id=link.id))
    audit.record("portal", None, target=f"portal link {link.id} of case {case.id}", detail=detail,
                 agency_id=case.agency_id)
    link.last_used_at = now
    case.updated_at = now
    db.session.flush()
    notify.tell_people(case, event, subject, paragraphs, now)


@dataclass
class Uploaded:
    saved: list[str]
    refused: list[tuple[str, str]]  # (file name, why)


def upload(token: str, item_id: int, files, now: datetime | None = None) -> Uploaded:
    """The client sends files for an item: each stored on its own (a refused one does not
    stop the others), as evidence "from the client" of the item's category. One timeline
    entry and one notice to the case's people name every file saved."""
    if active():
        raise RuntimeError("upload saves each file on its own: call it outside transaction()")
    files = [f for f in files or () if f is not None and (f.filename or "").strip()]
    if not files:
        raise ValidationFailed({"files": "Choose one or more files to send."})
    with transaction():  # a closed link, another case's item, a closed request: before any file
        link = links.resolve(token, now or utcnow())
        _item_of(link, _case_of(link), item_id, "file")
        link_id = link.id
    result = Uploaded([], [])
    for index, file in enumerate(files):
        name = safe_display_name(file.filename)
        try:
            with transaction():
                now_ = now or utcnow()
                try:
                    link = links.resolve(token, now_)
                    case = _case_of(link, for_update=True)
                    item, request = _item_of(link, case, item_id, "file")
                except (links.LinkClosed, NotFound, Conflict) as error:
                    raise _Stop(error) from error
                try:
                    row = evidence.store(case, file, item.category, f"Sent by the client for: {item.title}",
                                         None, source="client", request_item_id=item.id,
                                         summary="Evidence from the client")
                except evidence.AlreadyAttached as error:
                    raise _Again(_already(error, item)) from error
                requests.item_received(item, request, case, now_)
                audit.record("portal", None, target=f"portal link {link.id} of case {case.id}",
                             detail=f"uploaded {row.filename} for item {item.id}", agency_id=case.agency_id)
                link.last_used_at = now_
            result.saved.append(row.filename)
        except _Again as again:
            result.refused.append((name, str(again)))
        except _Stop as stop:
            error = stop.error
            if not result.saved:
                raise error from None
            # The link was revoked, or the item decided, while the files went one by one:
            # those saved stay saved (and are told below); the rest are not taken.
            why = ("Your link stopped working before this file was saved." if isinstance(error, links.LinkClosed)
                   else str(error))
            result.refused += [(safe_display_name(f.filename), why) for f in files[index:]]
            break
        except DomainError as error:
            result.refused.append((name, str(error)))
    if result.saved:
        with transaction():
            # The link by its id, not the token: what was saved is told even when the link
            # was revoked a moment after the last file.
            link = db.session.get(PortalLink, link_id)
            case = _case_of(link, for_update=True)
            item = db.session.get(DocumentRequestItem, item_id)
            names = ", ".join(result.saved)
            _record(link, case, "client_upload", f"The client sent for {item.title}: {names}"[:500],
                    {"item_id": item.id, "files": result.saved}, f"upload for item {item.id} told",
                    now or utcnow(), f"The client sent files: {item.title}",
                    [f"The client sent {len(result.saved)} file(s) for \u201c{item.title}\u201d: {names}.",
                     "Open the case to accept them or send them back."])
    return result


class _Stop(Exception):
    """The link closed, or the item or request changed, between two files."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


class _Again(Exception):
    """These exact bytes are a file of the case already (the message says what to do)."""


def _already(error, item: DocumentRequestItem) -> str:
    existing = getattr(error, "existing", None)
    same = db.session.get(Evidence, existing[1]) if existing else None
    if same is not None and same.request_item_id == item.id and item.status == "rejected":
        return ("You sent this exact file before and we sent it back: " + (item.reason.rstrip(". ") or "see above")
                + ". Please send a corrected file.")
    if same is not None and same.request_item_id == item.id:
        return "You sent this exact file for this item already."
    return "We have this exact file already, so it was not added again."


@transactional
def answer(token: str, item_id: int, text: str | None, now: datetime | None = None) -> DocumentRequestItem:
    """The client writes the answer an item asks for."""
    now = now or utcnow()
    link = links.resolve(token, now)
    case = _case_of(link, for_update=True)
    item, request = _item_of(link, case, item_id, "answer")
    text = (text or "").replace("\r\n", "\n").strip() if isinstance(text, str) or text is None else None
    if text is None:
        raise ValidationFailed({"answer": "Must be text."})
    if not text:
        raise ValidationFailed({"answer": "Write your answer first."})
    if len(text) > ANSWER_LIMIT:
        raise ValidationFailed({"answer": f"At most {ANSWER_LIMIT:,} characters; yours has {len(text):,}."})
    item.answer = text
    requests.item_received(item, request, case, now)
    _record(link, case, "client_answer", f"The client answered {item.title}: {text}"[:500],
            {"item_id": item.id, "answer": text}, f"answer for item {item.id}", now,
            f"The client answered: {item.title}",
            [f"The client answered \u201c{item.title}\u201d:", text])
    return item


@transactional
def message(token: str, body: str | None, now: datetime | None = None) -> None:
    """The client writes to the consultant: on the timeline, and mailed to the assignee."""
    now = now or utcnow()
    link = links.resolve(token, now)
    case = _case_of(link, for_update=True)
    if body is not None and not isinstance(body, str):
        raise ValidationFailed({"message": "Must be text."})
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise ValidationFailed({"message": "Write your message first."})
    if len(body) > MESSAGE_LIMIT:
        raise ValidationFailed({"message": f"At most {MESSAGE_LIMIT:,} characters; yours has {len(body):,}."})
    _record(link, case, "client_message", f"Message from the client: {body}"[:500], {"body": body},
            "message sent", now, f"Message from the client: {case.title}"[:200],
            ["The client wrote:", body])


@transactional
def answer_poa(token: str, share_id: int, decision: str | None, comment: str | None,
               now: datetime | None = None) -> PoaShare:
    """The client approves the shared POA version, or asks for changes (a comment is then needed)."""
    now = now or utcnow()
    link = links.resolve(token, now)
    case = _case_of(link, for_update=True)
    share = db.session.scalar(select(PoaShare).where(PoaShare.id == share_id)
                              .execution_options(populate_existing=True))  # as it is after the lock
    if share is None or share.case_id != case.id or share.client_id != link.client_id:
        raise NotFound("Nothing here.")
    errors = {}
    if comment is not None and not isinstance(comment, str):
        errors["comment"] = "Must be text."
    comment = comment.replace("\r\n", "\n").strip() if isinstance(comment, str) else ""
    if decision not in ("approve", "changes"):
        errors["decision"] = "Approve the plan, or ask for changes."
    if decision == "changes" and not comment:
        errors["comment"] = "Tell us what to change."
    if len(comment) > COMMENT_LIMIT:
        errors["comment"] = f"At most {COMMENT_LIMIT:,} characters; yours has {len(comment):,}."
    if errors:
        raise ValidationFailed(errors)
    if share.status == "withdrawn":
        raise Conflict("A newer version of the plan has been shared with you since; please read that one.")
    if share.status != "pending":
        raise Conflict("You have answered this version already. Write us a message if anything changed.")
    share.status = "approved" if decision == "approve" else "changes_requested"
    share.comment, share.answered_at, share.link_id = comment, now, link.id
    said = "approved" if decision == "approve" else "asked for changes to"
    _record(link, case, "poa_approved" if decision == "approve" else "poa_changes_requested",
            f"The client {said} POA version {share.version}" + (f": {comment}" if comment else ""),
            {"share_id": share.id, "version": share.version, "poa_draft_id": share.poa_draft_id,
             "comment": comment}, f"{said} POA version {share.version}", now,
            f"The client {said} POA version {share.version}",
            [f"The client {said} version {share.version} of the Plan of Action."]
            + ([f"Their comment: {comment}"] if comment else []))
    return share
