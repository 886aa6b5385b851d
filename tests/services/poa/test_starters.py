"""Starter drafts: written for the case's reason, filled with its facts, and caught by the review if left as is."""
import re
from dataclasses import replace
from datetime import date

import pytest

from caseapp.services.poa.content import SECTION_KEYS, CaseFacts, PoaContent, section_items
from caseapp.services.poa.checks import has_errors, review
from caseapp.services.poa.starters import KINDS, REASONS, starter_for, starter_texts

FACTS = CaseFacts(
    client_name="Northwind Home Goods LLC",
    seller_id="A2NWHG7K3P9XQ1",
    marketplace="us",
    kind="listing_deactivation",
    reason="customer_complaints",
    asins=("b08n5wrwnw",),
    notice_date=date(2025, 3, 4),
    evidence_count=3,
)

# What a consultant makes of the customer-complaints starter for FACTS: every
# blank replaced, every section rewritten around this case.
WELL_WRITTEN = PoaContent(
    subject="Plan of Action: deactivated listing, ASIN B08N5WRWNW (Northwind Home Goods LLC, seller ID A2NWHG7K3P9XQ1)",
    introduction=(
        "On 4 March 2025 our listing for the Fjord stainless steel French press (ASIN B08N5WRWNW) was deactivated "
        "after five buyers reported receiving units with scratched carafes and missing filters that looked used. "
        "These complaints were justified. The units came from a batch we accepted without inspection, and that "
        "failure is ours."
    ),
    root_cause=(
        "In January we began buying this French press from a new wholesaler to cover a stock shortage. We chose the "
        "wholesaler on price alone, did not ask for proof that it was authorised by the brand, and did not check the "
        "goods on arrival: the 240-unit shipment went straight from the delivery van to our FBA prep line. About one "
        "unit in twelve in that shipment had been opened and repackaged. Our intake checklist only compared carton "
        "counts with the packing list, so no step in our process opened a box before it was sent to Amazon."
    ),
    corrective_actions=(
        "On 5 March we created a removal order for all 164 remaining units of the January shipment; 158 have come "
        "back and every one has been opened and inspected.",
        "We found 13 used or incomplete units, set them aside for disposal and have not sold any unit from that "
        "shipment since.",
        "We refunded all five buyers in full on 5 and 6 March and sent each of them a new unit from our authorised "
        "distributor at our cost.",
        "We stopped buying from the January wholesaler and now source this product only from Scandi Kitchen Supply, "
        "the brand's authorised US distributor; their invoices for our last three orders are enclosed.",
    ),
    preventive_measures=(
        "Every inbound shipment now goes through a receiving inspection: we open 10% of cartons (at least five "
        "units) and check the seal, filter, carafe and accessories before the shipment is prepared for FBA.",
        "A new supplier is approved only after the brand confirms their authorisation in writing and a test order "
        "of 20 units passes inspection.",
        "Our operations manager, Dana Whitfield, reads the Voice of the Customer dashboard and all return comments "
        "every Monday and Thursday and investigates any complaint that mentions a used or damaged item.",
        "All four warehouse staff completed a two-hour training on the new inspection steps on 10 March, and the "
        "checklist is posted at the receiving bay.",
    ),
    closure=(
        "Thank you for reviewing our plan. We have removed the faulty stock, looked after every affected buyer and "
        "changed how we buy and receive inventory so that used units cannot reach customers again. We respectfully "
        "ask that the listing for ASIN B08N5WRWNW be reactivated.\n\nDana Whitfield, Operations Manager\n"
        "Northwind Home Goods LLC"
    ),
)

ALL_CASES = [(kind, reason) for kind in KINDS for reason in REASONS]


def text_of(content: PoaContent) -> str:
    return "\n".join(piece for key in SECTION_KEYS for piece in section_items(content, key))


@pytest.mark.parametrize("kind,reason", ALL_CASES)
def test_every_starter_is_complete_and_names_the_client(kind, reason):
    starter = starter_for(replace(FACTS, kind=kind, reason=reason))
    assert all(section_items(starter, key) for key in SECTION_KEYS)
    assert "Northwind Home Goods LLC" in starter.subject and "A2NWHG7K3P9XQ1" in starter.subject
    assert "4 March 2025" in starter.introduction
    assert "US marketplace" in starter.introduction
    assert "Northwind Home Goods LLC" in starter.closure


@pytest.mark.parametrize("kind,reason", ALL_CASES)
def test_blanks_are_square_brackets_and_nothing_is_left_unformatted(kind, reason):
    text = text_of(starter_for(replace(FACTS, kind=kind, reason=reason)))
    assert "{" not in text and "}" not in text
    assert re.search(r"\[[^\]]+\]", text), "a starter always leaves the case's specifics to the consultant"
    assert text.count("[") == text.count("]")


@pytest.mark.parametrize("reason,expected", [
    ("policy_violation", ["policy"]),
    ("customer_complaints", ["complaints", "authenticity or condition"]),
    ("performance_metrics", ["order defect rate", "late shipment rate", "cancellation rate"]),
    ("intellectual_property", ["trademark", "rights owner"]),
    ("other", ["[the reason given in the notice]"]),
])
def test_the_starter_is_written_for_the_reason(reason, expected):
    starter = starter_for(replace(FACTS, kind="account_suspension", reason=reason))
    text = text_of(starter).lower()
    for phrase in expected:
        assert phrase.lower() in text


def test_each_reason_has_its_own_root_cause_and_actions():
    starters = [starter_for(replace(FACTS, reason=reason)) for reason in REASONS]
    assert len({s.root_cause for s in starters}) == len(REASONS)
    assert len({s.corrective_actions for s in starters}) == len(REASONS)


def test_a_listing_deactivation_subject_carries_the_asins_upper_cased():
    assert "ASIN B08N5WRWNW" in starter_for(FACTS).subject
    two = starter_for(replace(FACTS, asins=("B08N5WRWNW", "b0c1d2e3f4")))
    assert "ASINs B08N5WRWNW, B0C1D2E3F4" in two.subject
    assert "listings" in two.introduction and "were deactivated" in two.introduction


def test_an_account_suspension_subject_has_no_asin_blank():
    starter = starter_for(replace(FACTS, kind="account_suspension", asins=()))
    assert "ASIN" not in starter.subject
    assert "suspended" in starter.introduction


def test_missing_facts_become_blanks_the_review_flags():
    facts = replace(FACTS, asins=(), notice_date=None, seller_id="")
    starter = starter_for(facts)
    assert "[ASIN]" in starter.subject and "[seller ID]" in starter.subject
    assert starter.introduction.startswith("On [date of the notice]")
    flagged = {f.section for f in review(starter, facts) if f.code == "placeholder"}
    assert {"subject", "introduction"} <= flagged


@pytest.mark.parametrize("reason", REASONS)
def test_the_untouched_starter_is_flagged_as_generic_and_unfinished(reason):
    facts = replace(FACTS, reason=reason, evidence_count=0)
    findings = review(starter_for(facts), facts)
    codes = {f.code for f in findings}
    assert {"generic_starter_text", "placeholder"} <= codes
    assert has_errors(findings)


@pytest.mark.parametrize("kind,reason", ALL_CASES)
def test_starters_model_what_the_review_asks_for(kind, reason):
    """No blame, no promises among corrective actions, no 'we do not know'."""
    facts = replace(FACTS, kind=kind, reason=reason)
    codes = {f.code for f in review(starter_for(facts), facts)}
    assert not codes & {"blame", "promise_in_corrective", "root_cause_unknown", "missing_section",
                        "subject_missing_asin"}


def test_starter_texts_cover_every_kind_and_reason_for_the_facts():
    texts = starter_texts(FACTS)
    assert starter_for(FACTS) in texts
    assert len(set(texts)) == len(KINDS) * len(REASONS)
    assert all("A2NWHG7K3P9XQ1" in t.subject for t in texts)


def test_the_consultants_rewrite_of_the_starter_passes_the_review():
    assert review(WELL_WRITTEN, FACTS, starter=starter_for(FACTS)) == []
    assert review(WELL_WRITTEN, FACTS) == []


def test_content_round_trips_through_a_json_body():
    body = WELL_WRITTEN.as_dict()
    assert body["corrective_actions"] == list(WELL_WRITTEN.corrective_actions)
    assert PoaContent.from_dict({**body, "id": 7, "version": 2}) == WELL_WRITTEN
    assert PoaContent.from_dict({"subject": "POA", "closure": None}) == PoaContent(subject="POA")
