"""The hostile mail corpus of tests/services/inbound/test_hostile_mail.py, as raw bytes.

`python tests/data/mail/make.py` writes the .eml files next to this script (they are
committed: the test reads them as an MTA would hand them over). The bytes are built by
hand, not by the email package, because the point is mail that package would never write:
unclosed boundaries, broken base64, 8-bit headers, lying charsets. The few that are large
(a 1 MB header line, a message over INBOUND_MAX_MB) are made by the test in its tmp_path
with `large(name, ...)`, never committed.

Every message is addressed To: cases@agency.example; a test that wants it filed on a case
swaps that for the case's signed address (`addressed`).
"""
from __future__ import annotations

import base64
import io
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TO = b"cases@agency.example"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
DATE = b"Date: Tue, 01 Dec 2026 09:30:00 +0000\r\n"


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def head(message_id: bytes | None, subject: bytes, sender: bytes = b"Sam Seller <seller@example.com>",
         extra: bytes = b"") -> bytes:
    lines = b"From: " + sender + b"\r\nTo: " + TO + b"\r\nSubject: " + subject + b"\r\n" + DATE
    if message_id:
        lines += b"Message-ID: " + message_id + b"\r\n"
    return lines + b"MIME-Version: 1.0\r\n" + extra


def missing_boundary_end() -> bytes:
    """multipart/mixed whose closing boundary never comes; the PDF part is cut short."""
    return head(b"<hostile-boundary@example.com>", b"Invoices (cut off)",
                extra=b'Content-Type: multipart/mixed; boundary="XYZ"\r\n') + (
        b"\r\n--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHere are the invoices.\r\n"
        b"--XYZ\r\nContent-Type: application/pdf; name=invoice.pdf\r\n"
        b"Content-Disposition: attachment; filename=invoice.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + _b64(PDF)[:30] + b"\r\n")


def broken_base64() -> bytes:
    """A base64 text part and a base64 attachment that are not valid base64."""
    return head(b"<hostile-base64@example.com>", b"Broken base64",
                extra=b'Content-Type: multipart/mixed; boundary="b64"\r\n') + (
        b"\r\n--b64\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"SGVsbG8sIHRoaXMgaXMgdGhlIGludm9pY2U!!!*** not base64 at all ===\r\n"
        b"--b64\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"scan.pdf\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK%%%%\x00\x01garbage=\r\n--b64--\r\n")


def wrong_charset() -> bytes:
    """Declares UTF-8 but is Latin-1; a second part names a charset that does not exist."""
    return head(b"<hostile-charset@example.com>", b"Wrong charsets",
                extra=b'Content-Type: multipart/mixed; boundary="cs"\r\n') + (
        b"\r\n--cs\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"Gr\xfc\xdfe aus M\xfcnchen, die Rechnung ist anbei.\r\n"
        b"--cs\r\nContent-Type: text/plain; charset=x-klingon-9\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"Second part in an unknown charset \xe9\xe8.\r\n--cs--\r\n")


def missing_charset() -> bytes:
    """No charset at all, 8-bit Latin-1 body."""
    return head(b"<hostile-nocharset@example.com>", b"No charset",
                extra=b"Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n") + (
        b"\r\nBonjour, voil\xe0 la facture d\xe9finitive. Merci beaucoup.\r\n")


def raw_latin1_subject() -> bytes:
    """Subject and From name in raw Latin-1 bytes, no encoded words."""
    return head(b"<hostile-latin1@example.com>", b"Einspruch f\xfcr unser Konto \x96 R\xfcckmeldung",
                sender=b"J\xfcrgen M\xfcller <seller@example.com>",
                extra=b"Content-Type: text/plain; charset=utf-8\r\n") + b"\r\nHallo, anbei die Unterlagen.\r\n"


def raw_utf8_subject() -> bytes:
    """Subject in raw UTF-8 bytes, no encoded words."""
    return head(b"<hostile-utf8@example.com>", "Réponse à votre appel – 返信 ✓".encode(),
                extra=b"Content-Type: text/plain; charset=utf-8\r\n") + "\r\nMerci, voilà.\r\n".encode()


def tnef() -> bytes:
    """Outlook's winmail.dat (application/ms-tnef) beside the text."""
    blob = b"\x78\x9f\x3e\x22" + b"\x01\x06\x90\x08\x00" + b"TNEF attachment body " * 20
    return head(b"<hostile-tnef@example.com>", b"Documents from Outlook",
                extra=b'Content-Type: multipart/mixed; boundary="tn"\r\n') + (
        b"\r\n--tn\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nPlease find the documents attached.\r\n"
        b"--tn\r\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\r\n"
        b"Content-Disposition: attachment; filename=\"winmail.dat\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + _b64(blob) + b"--tn--\r\n")


def forwarded_rfc822() -> bytes:
    """A colleague forwards Amazon's decision as an attachment (message/rfc822) holding a PDF."""
    inner = (b"From: Seller Performance <seller-performance@amazon.com>\r\nTo: seller@example.com\r\n"
             b"Subject: Your Account Health appeal\r\nDate: Mon, 30 Nov 2026 18:00:00 +0000\r\n"
             b"Message-ID: <inner-decision@amazon.com>\r\nMIME-Version: 1.0\r\n"
             b'Content-Type: multipart/mixed; boundary="inner"\r\n\r\n'
             b"--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
             b"Hello,\r\n\r\nWe reviewed your appeal. Your account has been reinstated.\r\n"
             b"--inner\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"decision.pdf\"\r\n"
             b"Content-Transfer-Encoding: base64\r\n\r\n" + _b64(PDF + b"decision") + b"--inner--\r\n")
    return head(b"<hostile-forward@example.com>", b"Fwd: Your Account Health appeal",
                extra=b'Content-Type: multipart/mixed; boundary="outer"\r\n') + (
        b"\r\n--outer\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee Amazon's answer below.\r\n"
        b"--outer\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"decision.eml\"\r\n\r\n"
        + inner + b"\r\n--outer--\r\n")


def html_only_script() -> bytes:
    """An HTML-only body with every way to run script a mail client must refuse."""
    markup = (b"<html><head><script>alert('head')</script><style>body{background:url(javascript:alert(1))}</style>"
              b"</head><body onload=\"alert('body')\"><p>Dear seller,</p>"
              b"<p>Your <b>invoice</b> is attached.<script type=\"text/javascript\">document.cookie</script></p>"
              b"<img src=\"x\" onerror=\"alert('img')\"><img src=\"logo.png\" onload=alert(2)>"
              b"<a href=\"javascript:alert('link')\">Open</a> "
              b"<a href=\"JaVaScRiPt:alert(3)\">Mixed case</a> "
              b"<a href=\"java&#x73;cript:alert(4)\">Entity</a> "
              b"<a href=\"https://sellercentral.amazon.com/\" onclick=\"steal()\">Seller Central</a>"
              b"<iframe src=\"https://evil.example/\"></iframe><svg onload=\"alert(5)\"><circle/></svg>"
              b"<form action=\"javascript:alert(6)\"><input onfocus=\"alert(7)\" autofocus></form>"
              b"<div style=\"background-image:url('javascript:alert(8)')\">styled</div>"
              b"</body></html>")
    return head(b"<hostile-html@example.com>", b"HTML only", sender=b"Someone <someone@example.net>",
                extra=b"Content-Type: text/html; charset=utf-8\r\n") + b"\r\n" + markup + b"\r\n"


def zip_with_exe() -> bytes:
    """A zip holding an executable, and an executable that says it is a PDF."""
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 48 + b"This program cannot be run in DOS mode."
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in (("setup.exe", exe), ("readme.txt", b"run setup.exe")):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 12, 1, 9, 30, 0)), data)  # the same bytes each run
    return head(b"<hostile-zip@example.com>", b"Invoice archive",
                extra=b'Content-Type: multipart/mixed; boundary="zz"\r\n') + (
        b"\r\n--zz\r\nContent-Type: text/plain\r\n\r\nThe invoices are in the zip.\r\n"
        b"--zz\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=\"invoices.zip\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + _b64(buffer.getvalue())
        + b"--zz\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"invoice.pdf.exe\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + _b64(exe) + b"--zz--\r\n")


def auto_reply() -> bytes:
    """The client's out-of-office answer to our mail."""
    return head(b"<hostile-autoreply@example.com>", b"Automatic reply: Documents needed for your case",
                extra=b"Auto-Submitted: auto-replied\r\nX-Autoreply: yes\r\n"
                      b"Content-Type: text/plain; charset=utf-8\r\n") + (
        b"\r\nI am out of the office until 7 December with limited access to email.\r\n")


def amazon_auto_ack() -> bytes:
    """Amazon's automatic acknowledgement (auto-generated, bulk): never answered, never a reply."""
    return head(b"<hostile-ack@amazon.com>", b"We received your appeal",
                sender=b"Seller Performance <seller-performance@amazon.com>",
                extra=b"Auto-Submitted: auto-generated\r\nPrecedence: bulk\r\n"
                      b"Content-Type: text/plain; charset=utf-8\r\n") + (
        b"\r\nThank you for your appeal. We received your message and will respond within 48 hours.\r\n")


def bounce() -> bytes:
    """A delivery status notification: multipart/report, empty Return-Path, from MAILER-DAEMON."""
    return (b"Return-Path: <>\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\nTo: " + TO + b"\r\n"
            b"Subject: Undelivered Mail Returned to Sender\r\n" + DATE
            + b"Message-ID: <hostile-bounce@mx.example.com>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/report; report-type=delivery-status; boundary="rp"\r\n\r\n'
            b"--rp\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered to seller@example.com.\r\n"
            b"--rp\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n"
            b"Final-Recipient: rfc822; seller@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
            b"--rp\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: caseapp@agency.example\r\n"
            b"Subject: Documents needed\r\n--rp--\r\n")


def no_message_id() -> bytes:
    return head(None, b"No Message-ID", extra=b"Content-Type: text/plain\r\n") + b"\r\nA message without an id.\r\n"


def many_references() -> bytes:
    refs = b" ".join(b"<ref-%05d@example.com>" % i for i in range(10_000))
    return head(b"<hostile-refs@example.com>", b"Re: Re: Re: a long thread",
                extra=b"In-Reply-To: <ref-09999@example.com>\r\nReferences: " + refs + b"\r\n"
                      b"Content-Type: text/plain\r\n") + b"\r\nStill about the invoice.\r\n"


def long_line_body() -> bytes:
    line = (b"invoice " * 12_500)[:100_000]
    return head(b"<hostile-longline@example.com>", b"One long line",
                extra=b"Content-Type: text/plain; charset=us-ascii\r\n") + b"\r\n" + line + b"\r\n"


def deep_nesting(levels: int = 50) -> bytes:
    body = b"Content-Type: text/plain\r\n\r\nThe bottom of fifty levels.\r\n"
    for level in range(levels, 0, -1):
        boundary = b"lvl%d" % level
        body = (b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n--' + boundary + b"\r\n"
                + body + b"\r\n--" + boundary + b"--\r\n")
    return head(b"<hostile-deep@example.com>", b"Fifty levels deep") + body


def nul_and_control() -> bytes:
    """NUL bytes and control characters in a header and the body."""
    return head(b"<hostile-nul@example.com>", b"Nul\x00 and \x1b[31mcontrol\x07",
                extra=b"Content-Type: text/plain; charset=utf-8\r\n") + b"\r\nbody\x00with\x00nuls\x1b[0m and a bell\x07\r\n"


CORPUS = {
    "missing_boundary_end.eml": missing_boundary_end,
    "broken_base64.eml": broken_base64,
    "wrong_charset.eml": wrong_charset,
    "missing_charset.eml": missing_charset,
    "raw_latin1_subject.eml": raw_latin1_subject,
    "raw_utf8_subject.eml": raw_utf8_subject,
    "tnef_winmail.eml": tnef,
    "forwarded_rfc822_pdf.eml": forwarded_rfc822,
    "html_only_script.eml": html_only_script,
    "zip_with_exe.eml": zip_with_exe,
    "auto_reply.eml": auto_reply,
    "amazon_auto_ack.eml": amazon_auto_ack,
    "bounce.eml": bounce,
    "no_message_id.eml": no_message_id,
    "references_10000.eml": many_references,
    "long_line_body.eml": long_line_body,
    "deep_nesting_50.eml": deep_nesting,
    "nul_and_control.eml": nul_and_control,
}


def large(name: str, size: int = 0) -> bytes:
    """The large ones, made where the test wants them: "header_line_1mb" (a 1 MB header
    line) and "sized" (a message of exactly `size` bytes with a PDF attachment)."""
    if name == "header_line_1mb":
        return head(b"<hostile-header1mb@example.com>", b"A huge header",
                    extra=b"X-Junk: " + b"x" * (1024 * 1024) + b"\r\nContent-Type: text/plain\r\n") + b"\r\nsmall body\r\n"
    if name == "sized":
        top = head(b"<hostile-sized-%d@example.com>" % size, b"A large scan",
                   extra=b'Content-Type: multipart/mixed; boundary="big"\r\n') + (
            b"\r\n--big\r\nContent-Type: text/plain\r\n\r\nThe scan is attached.\r\n"
            b"--big\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"scan.pdf\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n")
        tail = b"--big--\r\n"
        room = size - len(top) - len(tail)
        # base64 lines of 76 characters + CRLF hold 57 bytes each.
        raw_len = max(0, (room // 78) * 57)
        payload = _b64(PDF + b"0" * max(0, raw_len - len(PDF)))
        message = top + payload + tail
        return message + b" " * (size - len(message)) if len(message) < size else message
    raise KeyError(name)


def write(folder: Path = HERE) -> list[Path]:
    written = []
    for name, build in CORPUS.items():
        path = folder / name
        path.write_bytes(build())
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(f"{path.name}: {path.stat().st_size:,} bytes")
