"""Email in: mail from Amazon, clients and colleagues filed on its case (DESIGN.md, "Email in").

- `parsing`: raw bytes into headers, text, sanitised HTML and attachments, never raising.
- `matching`: which agency and case a message is about.
- `filing`: `receive(raw, source)` for the pipe and the IMAP fetch; the triage inbox.
- `amazon`: Amazon's senders, the outcome its words say, confirming a proposed reply.
- `imap`: `fetch()` for `flask inbound fetch` and the scheduler: the IMAP mailbox of
  INBOUND_IMAP_URL, each filed message moved to INBOUND_PROCESSED_FOLDER.
"""
