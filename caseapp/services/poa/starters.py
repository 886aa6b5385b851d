"""Starter drafts: a first POA for a case, written for its reason and filled with its facts.

A starter is scaffolding, not a finished appeal. Everything only the consultant
can know is left as a blank in square brackets, e.g. ``[number] orders``, so
the review flags it (``placeholder``) until it is replaced. A draft that keeps
most of a starter's wording is flagged too (``generic_starter_text``): the
review compares it with ``starter_texts(facts)``.

Corrective actions are written in the past tense (things already done) and
preventive measures as standing practice, which is what the review expects.
"""
from __future__ import annotations

from dataclasses import replace

from caseapp.services.poa.content import CaseFacts, PoaContent

KINDS = ("account_suspension", "listing_deactivation", "other")
REASONS = ("policy_violation", "customer_complaints", "performance_metrics", "intellectual_property", "other")

# Per reason: why the notice came (completes the introduction's sentence),
# the root cause, corrective actions (done) and preventive measures (ongoing).
_BY_REASON: dict[str, dict] = {
    "policy_violation": {
        "why": "for a breach of [name the policy quoted in the notice]",
        "root_cause": (
            "We published [product] without checking it against [policy name]. No one on our team "
            "was responsible for reviewing new listings for policy compliance before they went live, "
            "and [describe the exact gap, e.g. the category rule nobody had read]. That gap let the "
            "violation reach buyers."
        ),
        "corrective": (
            "Took [the listings or products] that broke [policy name] off sale on [date].",
            "Reviewed all [number] active listings against the policy; [number] were corrected and [number] closed.",
            "Gave [name or role of the person who creates listings] a written checklist of the rules for our category.",
        ),
        "preventive": (
            "[Name or role] now checks every new listing against [policy name] before it is published.",
            "The team reviews Amazon policy updates for our category every [week or month], starting [date].",
            "[Describe any alert or tool now in place and what it catches.]",
        ),
    },
    "customer_complaints": {
        "why": "after buyers reported [counterfeit, used-as-new or damaged] items",
        "root_cause": (
            "Buyers received units that did not match our listing because [describe the gap, e.g. inbound "
            "stock was never inspected, or it came from a source we had not verified]. Of [number] orders "
            "between [start date] and [end date], [number] led to complaints about [authenticity or condition]. "
            "Our process had no step that would have stopped these units before they shipped."
        ),
        "corrective": (
            "Closed the affected listing and pulled [number] suspect units from inventory for inspection on [date].",
            "Contacted every buyer who complained and gave [a full refund or a replacement]; [number] cases are resolved.",
            "Stopped buying from [previous source] and moved to [describe the authorised distributor you switched to].",
            "Rewrote the listing so its title, description and images match the product exactly.",
        ),
        "preventive": (
            "Each inbound shipment is inspected against [describe the sampling rule] before it is sent to Amazon.",
            "A new source is approved only after [describe the checks, e.g. business registration and a test order].",
            "[Name or role] reads buyer messages and returns that mention [authenticity or condition] every day.",
        ),
    },
    "performance_metrics": {
        "why": "because our [order defect rate, late shipment rate or cancellation rate] reached [value], "
        "above the target of [target]",
        "root_cause": (
            "Our [metric] rose to [value] between [start date] and [end date]. We traced it to [describe the "
            "cause, e.g. a handling time shorter than our warehouse could meet during a sales spike]. Nobody "
            "checked account health daily, so the trend went unnoticed until the limit was crossed."
        ),
        "corrective": (
            "Changed our handling time to [number] days, which matches what our warehouse achieves.",
            "Moved shipping to [carrier and service] and uploaded valid tracking for every open order.",
            "Shipped or cancelled the [number] orders at risk on [date] and answered every affected buyer.",
        ),
        "preventive": (
            "[Name or role] checks the Account Health page every day and acts once [metric] passes [internal limit].",
            "Before peak periods we add [describe extra staff or stock] so dispatch keeps pace with orders.",
            "[Describe the carrier rule now in place, e.g. only services with tracking and an on-time rate above X].",
        ),
    },
    "intellectual_property": {
        "why": "following a [trademark, copyright or patent] complaint from [name of the rights owner]",
        "root_cause": (
            "We listed [product] using [the brand name, images or text] without proof that we were allowed to use them. "
            "Our listing process did not include a trademark search or a request for authorisation from "
            "[the brand or source], so the infringement went unnoticed until the complaint."
        ),
        "corrective": (
            "Deleted the {listing} for {asins} on [date] and removed the disputed [brand name, images or text].",
            "Contacted [rights owner] on [date] about the complaint; [describe the outcome].",
            "Checked all [number] listings in our catalogue for other protected brands and removed [number].",
        ),
        "preventive": (
            "Before any new product is listed, [name or role] checks the brand's trademark status and keeps "
            "proof of authorisation on file.",
            "We now use only images and text we created ourselves or hold a licence for.",
            "Any rights-owner complaint is answered within [number] hours by [name or role].",
        ),
    },
    "other": {
        "why": "because of [the reason given in the notice]",
        "root_cause": (
            "The problem happened because [describe the specific cause in two or three sentences]. "
            "Our process failed at [the step that should have caught it]."
        ),
        "corrective": (
            "[Describe the first change already made, in the past tense, with its date.]",
            "[Describe the second action already completed.]",
            "[Describe how affected buyers or listings were dealt with.]",
        ),
        "preventive": (
            "[Describe a lasting change to your process and who owns it.]",
            "[Describe how you will notice early if the problem starts again.]",
        ),
    },
}


def starter_for(facts: CaseFacts) -> PoaContent:
    """The starter for this case's reason and kind, with the case facts filled in."""
    words = _words(facts)
    part = _BY_REASON.get(facts.reason, _BY_REASON["other"])
    return PoaContent(
        subject=_subject(facts.kind, words),
        introduction=(
            f"On {words['notice']} we, {words['client']} (seller ID {words['seller_id']}), were notified that "
            f"{_what_happened(facts.kind, words)} {part['why']}. The failure was ours and we accept "
            "responsibility for it. Below we explain what caused it, what we have already done, "
            "and what now stops it from happening again."
        ),
        root_cause=part["root_cause"].format(**words),
        corrective_actions=tuple(item.format(**words) for item in part["corrective"]),
        preventive_measures=tuple(item.format(**words) for item in part["preventive"]),
        closure=(
            f"Thank you for reviewing this plan. {words['client']} has dealt with the cause of this problem "
            f"and put lasting checks in place, and we ask that {_what_to_restore(facts.kind, words)} be "
            "reinstated. We will gladly send any further information you need.\n\n"
            f"[Name and role of the person signing]\n{words['client']}, seller ID {words['seller_id']}"
        ),
    )


def starter_texts(facts: CaseFacts) -> tuple[PoaContent, ...]:
    """Every starter the app could have offered for these facts (all kinds and reasons).

    The review compares a draft with all of them, so a draft copied from a
    starter for another reason still counts as generic.
    """
    return tuple(
        starter_for(replace(facts, kind=kind, reason=reason)) for kind in KINDS for reason in REASONS
    )


def _words(facts: CaseFacts) -> dict[str, str]:
    asins = [asin.strip().upper() for asin in facts.asins if asin and asin.strip()]
    notice = facts.notice_date
    return {
        "client": facts.client_name.strip() or "[business name]",
        "seller_id": facts.seller_id.strip() or "[seller ID]",
        "marketplace": facts.marketplace.strip().upper() or "[marketplace]",
        "asins": ("ASINs " if len(asins) > 1 else "ASIN ") + (", ".join(asins) or "[ASIN]"),
        "notice": f"{notice.day} {notice:%B %Y}" if notice else "[date of the notice]",
        "listing": "listings" if len(asins) > 1 else "listing",
        "was": "were" if len(asins) > 1 else "was",
    }


def _subject(kind: str, words: dict[str, str]) -> str:
    who = f"{words['client']}, seller ID {words['seller_id']}"
    if kind == "listing_deactivation":
        return f"Plan of Action: deactivated {words['listing']}, {words['asins']} ({who}, {words['marketplace']} marketplace)"
    if kind == "account_suspension":
        return f"Plan of Action: reinstatement of the suspended selling account of {who} ({words['marketplace']} marketplace)"
    return f"Plan of Action: {who} ({words['marketplace']} marketplace)"


def _what_happened(kind: str, words: dict[str, str]) -> str:
    if kind == "listing_deactivation":
        return (
            f"our {words['listing']} for {words['asins']} on the {words['marketplace']} marketplace "
            f"{words['was']} deactivated"
        )
    if kind == "account_suspension":
        return f"our selling account on the {words['marketplace']} marketplace was suspended"
    return f"action was taken against our selling account on the {words['marketplace']} marketplace"


def _what_to_restore(kind: str, words: dict[str, str]) -> str:
    if kind == "listing_deactivation":
        return f"the {words['listing']} for {words['asins']}"
    return "our selling privileges"
