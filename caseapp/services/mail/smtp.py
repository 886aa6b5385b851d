"""Sending one email over SMTP, with errors sorted into "try again later" and "give up"."""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate

from caseapp.core import mailtags

SMTP_TIMEOUT_SECONDS = 15


class TransientMailError(Exception):
    """The server or the network said "not now" (4xx, refused connection, timeout)."""


class PermanentMailError(Exception):
    """The server refused this message for good (5xx): retrying it will not help."""


class RecipientRefused(PermanentMailError):
    """The server refused this recipient's address for good (a 5xx to RCPT TO)."""


class ServerUnavailable(TransientMailError):
    """The mail server cannot be used at all right now (down, wrong password, refuses the
    sender). Not the message's fault: it keeps its place and its tries."""


@dataclass(frozen=True)
class MailSettings:
    server: str | None
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    use_ssl: bool
    sender: str

    @classmethod
    def from_config(cls, config) -> MailSettings:
        return cls(config.get("MAIL_SERVER"), int(config.get("MAIL_PORT") or 25),
                   config.get("MAIL_USERNAME"), config.get("MAIL_PASSWORD"),
                   bool(config.get("MAIL_USE_TLS")), bool(config.get("MAIL_USE_SSL")),
                   config.get("MAIL_DEFAULT_SENDER") or "caseapp@localhost")


def header_text(value: str, limit: int = 300) -> str:
    """One line, no control characters, at most `limit` characters: safe for a header."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())[:limit]


def message_id(idempotency_key: str, sender: str, ref: str | None = None) -> str:
    """`<ref@sender's domain>`: `ref` is the outbox row's message_ref (signed, so a reply
    naming it finds its case and a guessed one finds none); mail queued before refs were
    kept derives it from the key."""
    domain = sender.rpartition("@")[2].strip("<> ") or "caseapp.invalid"
    return f"<{ref or mailtags.key_ref(idempotency_key)}@{domain}>"


def build_message(sender: str, recipient: str, subject: str, text: str, html: str,
                  idempotency_key: str, message_ref: str | None = None) -> Message:
    """A text and an HTML part. Built with the compat32 MIME classes: the modern
    EmailMessage re-parses every header it is given, which cost more than the send itself."""
    message = MIMEMultipart("alternative")
    message["From"] = sender
    message["To"] = recipient
    subject = header_text(subject)
    # Header() folds and encodes character by character; an ASCII subject needs none of it.
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")
    message["Date"] = formatdate(localtime=False)
    # The same logical email always carries the same Message-ID, so a receiving
    # system can recognise a copy should one ever be delivered twice.
    message["Message-ID"] = message_id(idempotency_key, sender, message_ref)
    message["X-Caseapp-Key"] = idempotency_key
    message.attach(MIMEText(text, "plain", "utf-8"))
    message.attach(MIMEText(html, "html", "utf-8"))
    return message


class SmtpConnection:
    """One SMTP session reused for several messages; reconnects when the server hangs up."""

    def __init__(self, settings: MailSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            if s.use_ssl:
                smtp = smtplib.SMTP_SSL(s.server, s.port, timeout=SMTP_TIMEOUT_SECONDS,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(s.server, s.port, timeout=SMTP_TIMEOUT_SECONDS)
                if s.use_tls:
                    smtp.starttls(context=ssl.create_default_context())
            if s.username:
                smtp.login(s.username, s.password or "")
        except (OSError, smtplib.SMTPException) as exc:
            raise ServerUnavailable(f"mail server {s.server}:{s.port} unusable: {exc}") from exc
        return smtp

    def send(self, message: Message) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            refused = self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            codes = [code for code, _ in exc.recipients.values()]
            error = f"recipient refused: {exc.recipients}"
            raise (RecipientRefused(error) if any(c >= 500 for c in codes)
                   else TransientMailError(error)) from exc
        except smtplib.SMTPSenderRefused as exc:
            self.close()
            raise ServerUnavailable(f"the server refuses the sender {exc.sender}: {exc.smtp_code}") from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise _classify(exc) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise TransientMailError(f"connection lost: {exc}") from exc
        if refused:
            raise RecipientRefused(f"recipient refused: {refused}")

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._smtp = None


def _classify(exc: smtplib.SMTPResponseException) -> Exception:
    detail = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    text = f"{exc.smtp_code} {detail}".strip()
    if 400 <= exc.smtp_code < 500:
        return TransientMailError(text)
    return PermanentMailError(text)
