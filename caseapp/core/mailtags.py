"""How mail caseapp sends names its case, so that what comes back finds it (services/inbound).

A case's tag is its number and a signature: `1234-k7f3q9x2`, the signature the first eight
characters of HMAC(SECRET_KEY, case number) in base32. Nothing is stored: a tag is checked by
computing it again, so a typed or guessed number without its signature names no case (and
never another agency's). The tag goes in the subject of every mail about a case
(`[Case 1234-k7f3q9x2]`) and in the case's own address, `cases+c1234-k7f3q9x2@agency.example`
when INBOUND_ADDRESS is `cases@agency.example`. An agency has an address of its own for mail
about no case in particular: `cases+a7-…@`. Changing SECRET_KEY changes every tag: mail
answering one sent before then lands in the triage inbox.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re

from flask import current_app

PURPOSE = b"caseapp inbound tag v1:"
# ASCII only: with IGNORECASE alone, [a-z] also matches "ſ" (U+017F) and "K" (U+212A).
TAG_RE = re.compile(r"\[Case ([0-9]{1,12})-([a-z2-7]{8})\]", re.IGNORECASE | re.ASCII)
PLUS_RE = re.compile(r"\+([ca])([0-9]{1,12})-([a-z2-7]{8})@", re.IGNORECASE | re.ASCII)


def _signature(kind: str, number: int) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, PURPOSE + f"{kind}{number}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:8].lower()


def case_tag(case_id: int) -> str:
    return f"{case_id}-{_signature('c', case_id)}"


def subject_tag(case_id: int) -> str:
    return f"[Case {case_tag(case_id)}]"


def tagged_subject(subject: str, case_id: int) -> str:
    """The subject with the case's tag at its end, once (a reply's "Re:" keeps it)."""
    tag = subject_tag(case_id)
    return subject if tag.lower() in subject.lower() else f"{subject} {tag}"


def _address(kind: str, number: int) -> str | None:
    inbound = (current_app.config.get("INBOUND_ADDRESS") or "").strip()
    local, at, domain = inbound.rpartition("@")
    if not at or not local or not domain:
        return None
    return f"{local.split('+', 1)[0]}+{kind}{number}-{_signature(kind, number)}@{domain}"


def case_address(case_id: int) -> str | None:
    """The case's own inbound address; None when INBOUND_ADDRESS is not set."""
    return _address("c", case_id)


def agency_address(agency_id: int) -> str | None:
    return _address("a", agency_id)


def _verified(kind: str, number: str, signature: str) -> int | None:
    if not (number.isascii() and signature.isascii()):
        return None
    value = int(number)
    return value if hmac.compare_digest(signature.lower(), _signature(kind, value)) else None


def cases_in_subject(subject: str) -> list[int]:
    """The case numbers whose tags in the subject are genuine, in order."""
    found = []
    for number, signature in TAG_RE.findall(subject[:2000]):
        case_id = _verified("c", number, signature)
        if case_id is not None and case_id not in found:
            found.append(case_id)
    return found


def in_addresses(addresses: list[str]) -> tuple[list[int], list[int]]:
    """(case numbers, agency numbers) whose genuine plus-address tags the addresses carry."""
    cases: list[int] = []
    agencies: list[int] = []
    for address in addresses[:100]:
        for kind, number, signature in PLUS_RE.findall(address[:500] + "@"):
            value = _verified(kind.lower(), number, signature)
            target = cases if kind.lower() == "c" else agencies
            if value is not None and value not in target:
                target.append(value)
    return cases, agencies


def key_ref(idempotency_key: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "." for ch in idempotency_key)[:180]


def message_ref(idempotency_key: str) -> str:
    """The local part of the Message-ID of the mail with this key (services/mail/smtp.py),
    which a reply's In-Reply-To or References names: the key and a signature, so that a
    Reference made up from a guessed key finds no case."""
    return f"{key_ref(idempotency_key)}.{_ref_signature(idempotency_key)}"


def _ref_signature(idempotency_key: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, PURPOSE + b"message:" + idempotency_key.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:10].lower()
