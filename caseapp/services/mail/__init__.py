"""Outgoing mail: the outbox and its delivery. Below every feature that sends mail.

- `outbox`: the one writer of outbox rows. `queue(kind, to, subject, text, html, key=...,
  agency_id=..., send_after=...)` adds an email to the caller's unit of work;
  `cancel_for_reminders(...)` withdraws queued mail; the delivery pass moves rows through
  their states with its other functions.
- `kinds`: the registry each feature fills at start-up (create_app → register_mail_kinds):
  a kind's secret-link builder, whether it is security mail, and the hooks that tell the
  feature what became of its mail. Mail imports no feature.
- `delivery`: `deliver(now, tally)`, the outbox to SMTP, and `clear_old_bodies(now)`; the
  only commits outside core.transaction, per batch, documented there.
- `problems`: the mail problems an agency's admins are shown until someone acts.
- `sent_log`: the fast write of a message the server accepted (with its kind's share).
- `links`: secret links kept out of stored mail, put in on the wire.
- `smtp`, `senders`: one SMTP conversation, and a few of them at once.

Stands on core and models only; every feature package may use it.
"""
from caseapp.services.mail import delivery, kinds, links, outbox, problems
from caseapp.services.mail.links import PLACEHOLDER

__all__ = ["PLACEHOLDER", "delivery", "kinds", "links", "outbox", "problems"]
