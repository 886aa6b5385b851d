"""Secret links in outbox mail: stored as a placeholder, put in only on the wire.

A password reset link is a password for an hour; a reminder's snooze/dismiss link acts
as its recipient without a sign-in (and an invitation's "set your password" link will be
both). An outbox row outlives its send: admins read it on the Outbox page, and it is in
every backup. So the row keeps PLACEHOLDER where the link goes, and `link_ref`, which
says whose link it is without being one. Just before SMTP, the delivery pass asks the
builder registered for the message's kind to make the link, and puts it into the text
and (escaped) HTML parts of the email that goes on the wire; it is never written to the
database.

The builder of each kind's link is registered with the kind (kinds.py), so this module and
the delivery pass import no feature. A builder must give a working link for every try of
the same message: a retry, or the copy a dispatcher killed mid-send sends again.

A placeholder typed into a case title or a name is filled too: with the recipient's own
link, in the recipient's own email, so it shows nobody anything new.
"""
from __future__ import annotations

from datetime import datetime

from markupsafe import escape

from caseapp.services.mail import kinds

PLACEHOLDER = "[personal link, added when sent]"


class NoLinkBuilder(Exception):
    """A message needs a link that nothing registered can make: a bug, never sent as it is."""


def fill(kind: str, link_ref: str | None, text: str, html: str,
         now: datetime) -> tuple[str, str] | None:
    """The text and HTML to send, the link in place of PLACEHOLDER; None when the link is
    no longer valid. Raises NoLinkBuilder when the kind has no builder."""
    if link_ref is None:
        return text, html
    entry = kinds.get(kind)
    if entry is None or entry.link is None:
        raise NoLinkBuilder(f"no link builder is registered for {kind!r} mail")
    link = entry.link(link_ref, now)
    if link is None:
        return None
    return text.replace(PLACEHOLDER, link), html.replace(PLACEHOLDER, str(escape(link)))
