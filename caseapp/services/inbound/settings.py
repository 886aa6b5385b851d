"""The agency's inbound settings: which sender domains are Amazon's.

`Agency.amazon_domains` maps a marketplace to its domains ({"US": ["amazon.com"], ...});
None means caseapp's shipped list (amazon.DOMAINS). Mail from one of them, or a subdomain
(sellercentral.amazon.com), is Amazon's: filed on its case it proposes "record as Amazon's
reply". The page edits them as text, a line per marketplace: `US: amazon.com`.
"""
from __future__ import annotations

import re

from caseapp.core.errors import ValidationFailed
from caseapp.core.transaction import transactional
from caseapp.extensions import db
from caseapp.models import MARKETPLACES, Agency, User
from caseapp.services.accounts import audit, roles
from caseapp.services.inbound import amazon

FIELD = "amazon_domains"
MAX_LINES = 100
MAX_DOMAINS = 500
_DOMAIN = re.compile(r"(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def as_text(domains: dict[str, list[str]]) -> str:
    return "\n".join(f"{market}: {', '.join(names)}" for market, names in domains.items())


def shown_text(agency: Agency) -> str:
    """The agency's list as the page's text box shows it (the shipped one when it has none)."""
    return as_text(amazon.domains_of(agency))


def parse(text: str) -> dict[str, list[str]]:
    """`US: amazon.com, amazon.us` a line; every wrong line named at once (line numbers from 1)."""
    found: dict[str, list[str]] = {}
    wrong: list[str] = []
    lines = [(n, line.strip()) for n, line in enumerate((text or "").splitlines(), 1) if line.strip()]
    if len(lines) > MAX_LINES:
        raise ValidationFailed({FIELD: f"At most {MAX_LINES} lines."})
    for number, line in lines:
        market, colon, rest = line.partition(":")
        market = market.strip().upper()
        names = [n.strip().lower().strip(".") for n in re.split(r"[,\s]+", rest) if n.strip()]
        if not colon or not names:
            wrong.append(f"line {number}: write it as “US: amazon.com”")
        elif market not in MARKETPLACES:
            wrong.append(f"line {number}: {market[:20]} is no marketplace (one of {', '.join(MARKETPLACES)})")
        else:
            bad = [n for n in names if not _DOMAIN.fullmatch(n)]
            if bad:
                wrong.append(f"line {number}: {bad[0][:60]} is no domain name")
            else:
                kept = found.setdefault(market, [])
                kept.extend(n for n in names if n not in kept)
    if wrong:
        raise ValidationFailed({FIELD: "; ".join(wrong[:10]) + "."})
    if sum(len(v) for v in found.values()) > MAX_DOMAINS:
        raise ValidationFailed({FIELD: f"At most {MAX_DOMAINS} domains."})
    return found


@transactional
def update_amazon_domains(actor: User, text: str) -> Agency:
    """Set the agency's Amazon sender domains (admins only); empty text restores the shipped list."""
    roles.require_admin(actor)
    domains = parse(text)
    agency = db.session.get(Agency, actor.agency_id)
    chosen = domains or None
    if chosen == amazon.DOMAINS:
        chosen = None  # the shipped list stays the shipped list as caseapp updates it
    before = agency.amazon_domains
    agency.amazon_domains = chosen
    if before != chosen:
        audit.record("settings_change", actor, "Amazon's sender domains",
                     "caseapp's shipped list" if chosen is None else
                     "; ".join(f"{m}: {', '.join(n)}" for m, n in chosen.items())[:1000])
    db.session.flush()
    return agency
