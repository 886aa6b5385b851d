"""The client's side of a case: document requests, the portal, and the client's answer to a POA.

- `requests`: a consultant asks for documents (items from a checklist or typed, a due date that
  is a document_request deadline), accepts or sends back what came; the case waits on the
  client meanwhile and its agency clocks pause.
- `checklists`: what to ask for, per suspension reason; the shipped defaults and the agency's own.
- `links`: the client's portal link: signed, one case, expiring, revocable, stored hashed.
- `client`: what the client sees and does through the link (uploads, answers, messages, the POA).
- `sharing`: a POA version shared with the client for approval.
- `notify` and `reminders`: the mail to the client and to the case's people.
"""
from caseapp.services.portal import checklists, client, links, notify, reminders, requests, sharing, settings
from caseapp.services.portal.links import LinkClosed

__all__ = ["LinkClosed", "checklists", "client", "links", "notify", "reminders", "requests", "sharing", "settings"]
