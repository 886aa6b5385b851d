"""What the mail package knows of each kind of message, told it by the feature that sends it.

Mail sits below every feature that sends mail, so it imports none of them. Each feature
registers its kinds when the app is made (`create_app` → `register_mail_kinds`):

- `link`: the builder of the secret link the body carries as `links.PLACEHOLDER`
  ((link_ref, now) -> the link, or None when it is no longer valid: the message is then
  cancelled instead of sent); None: the body is sent as it is;
- `security`: mail that exists for its link (a password reset, an invitation): the Outbox
  lists it but never shows its body;
- `withdrawn`: (messages) -> {id: why} of those their owner no longer wants sent (a
  reminder cancelled after its mail was queued: "its reminder was cancelled"); asked for
  each leased batch, once per hook;
- `on_outcome`: (message, status, now, how), told when a message was held, failed or sent
  through the ORM (`outbox.resolve`), in the same transaction: the owner records what it
  means (a reminder sent, a timeline entry);
- `after_sent`: the owner's share of the fast sent-write (`sent_log.py`), for kinds whose
  every send is recorded beside the message: SQL run in the same statement or transaction.

Beside the kinds, a feature may listen to what delivery learns of the agency's mail as a
whole (`listen`): `bounced` (agency id, address, now, what the server said), told when the
server refused one recipient for good while it took mail for others; `problem_opened`
(problem, now), told when a MailProblem row is opened (the admins are to be told, once).
Both run in delivery's transaction.

A kind nobody registered cannot be queued (`outbox.queue` raises): a typo is a bug found at
once, not mail the delivery pass does not know how to treat.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from caseapp.models import OutboxMessage

LinkBuilder = Callable[[str, datetime], "str | None"]
Withdrawn = Callable[[list[OutboxMessage]], dict[int, str]]
OnOutcome = Callable[[OutboxMessage, str, datetime, str], None]


@dataclass(frozen=True)
class AfterSent:
    """A kind's share of recording a sent message (see sent_log.py).

    `postgresql`: more data-modifying CTEs (and the final statement) that follow
    `WITH message AS (UPDATE outbox_messages ... RETURNING id, reminder_id, kind, recipient,
    case_id, deadline_id)`, run as one statement with bind parameters :now, :occurred_at and :limit.
    `sqlite`: (connection, the message row returned, now), run in the same transaction.
    """
    postgresql: str
    sqlite: Callable[[Any, Any, datetime], None]


@dataclass(frozen=True)
class MailKind:
    name: str
    link: LinkBuilder | None = None
    security: bool = False
    withdrawn: Withdrawn | None = None
    on_outcome: OnOutcome | None = None
    after_sent: AfterSent | None = None


_kinds: dict[str, MailKind] = {}

Bounced = Callable[[int, str, datetime, str], None]
ProblemOpened = Callable[[Any, datetime], None]
_bounced: list[Bounced] = []
_problem_opened: list[ProblemOpened] = []


def listen(*, bounced: Bounced | None = None, problem_opened: ProblemOpened | None = None) -> None:
    """Hear of bounces and of newly opened mail problems (create_app registers these once;
    registering the same function again changes nothing)."""
    if bounced is not None and bounced not in _bounced:
        _bounced.append(bounced)
    if problem_opened is not None and problem_opened not in _problem_opened:
        _problem_opened.append(problem_opened)


def tell_bounced(agency_id: int, address: str, now: datetime, error: str) -> None:
    for listener in _bounced:
        listener(agency_id, address, now, error)


def tell_problem_opened(problem, now: datetime) -> None:
    for listener in _problem_opened:
        listener(problem, now)


class UnknownKind(Exception):
    """Mail of a kind no feature registered: a bug."""


def register(name: str, *, link: LinkBuilder | None = None, security: bool = False,
             withdrawn: Withdrawn | None = None, on_outcome: OnOutcome | None = None,
             after_sent: AfterSent | None = None) -> None:
    _kinds[name] = MailKind(name, link, security, withdrawn, on_outcome, after_sent)


def get(name: str) -> MailKind | None:
    return _kinds.get(name)


def require(name: str) -> MailKind:
    kind = _kinds.get(name)
    if kind is None:
        raise UnknownKind(f"no feature registered {name!r} mail")
    return kind


def names() -> list[str]:
    return sorted(_kinds)


def is_security(name: str) -> bool:
    kind = _kinds.get(name)
    return kind is not None and kind.security


def security_kinds() -> frozenset[str]:
    return frozenset(name for name, kind in _kinds.items() if kind.security)
