"""What Amazon's mail says, read from its words: reinstated, rejected, more information
requested, or other (a notice, a newsletter, an acknowledgement). Realistic replies in
tests/data/amazon/; negations and the seller's quoted words never read as a reinstatement;
the reading costs linear time on any text."""
from __future__ import annotations

from pathlib import Path

import pytest

from caseapp.services.inbound import amazon
from tests import cost

DATA = Path(__file__).resolve().parents[2] / "data" / "amazon"

EXPECTED = {
    "reinstated_account.txt": "reinstated",
    "reinstated_listing.txt": "reinstated",
    "reinstated_quoting_seller.txt": "reinstated",  # the seller's quoted "unable to reinstate" is not read
    "reinstated_german.txt": "reinstated",
    "rejected_unable.txt": "rejected",
    "rejected_not_reinstated.txt": "rejected",
    "rejected_denied.txt": "rejected",
    "rejected_german.txt": "rejected",
    "more_info_invoices.txt": "more_info_requested",
    "more_info_unclear_poa.txt": "more_info_requested",
    "more_info_cannot_until.txt": "more_info_requested",  # refused *until* a document comes
    "policy_warning.txt": "other",  # a warning, not an answer, though it says "please provide"
    "newsletter.txt": "other",  # "sellers have been reactivated" in a newsletter
    "acknowledgement.txt": "other",  # received, not decided
    "mixed_partial.txt": "other",  # one ASIN back, one not: a person reads it
}


def test_every_reply_text_in_the_data_folder_has_its_expected_reading():
    assert sorted(p.name for p in DATA.glob("*.txt")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 12


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_realistic_reply_is_read_as_a_person_would(name):
    text = (DATA / name).read_text(encoding="utf-8")
    assert amazon.read_outcome(text) == EXPECTED[name]


@pytest.mark.parametrize("text, outcome", [
    ("We are unable to reinstate your account.", "rejected"),
    ("Your account has not been reinstated.", "rejected"),
    ("Your account has been reinstated.", "reinstated"),
    ("We have decided not to reinstate your selling privileges.", "rejected"),
    ("Unfortunately we cannot reactivate the listing at this time.", "rejected"),
    ("Your selling account will not be reinstated.", "rejected"),
    ("We won't be able to restore your account.", "rejected"),
    ("Your appeal was not accepted.", "rejected"),
    ("Your appeal has been accepted. You can now resume selling.", "reinstated"),
    ("Our decision is final. Please provide no further documents.", "rejected"),
    ("Your account will be reinstated once you provide a valid invoice.", "more_info_requested"),
    ("If your account is reinstated, you will get an email.", "other"),
    ("If you believe this was a mistake, please provide an invoice.", "other"),
    ("Thank you for your appeal. Please send us the supplier's invoices.", "more_info_requested"),
    ("Your plan of action is incomplete.", "more_info_requested"),
    ("Hello, this is a test.", "other"),
    ("If this happens again, your account may be permanently deactivated.", "other"),
    ("If we do not receive the invoices, we will not be able to reinstate your account.", "other"),
    ("Your account has been permanently deactivated.", "rejected"),
    ("", "other"),
])
def test_negations_conditions_and_requests(text, outcome):
    assert amazon.read_outcome(text) == outcome


def test_the_sellers_quoted_appeal_below_an_on_wrote_line_is_not_amazons_words():
    text = ("Thank you for your patience. We are reviewing your documents.\n\n"
            "On Mon, 23 Nov 2026 at 10:00, Seller <owner@harbor-lane.example> wrote:\n"
            "Our account has been reinstated on the other marketplace, please do the same.\n")
    assert amazon.read_outcome(text) == "other"


def test_a_forward_of_amazons_mail_is_read_below_the_forward_line():
    text = ("FYI, see below.\n\n---------- Forwarded message ---------\nFrom: Amazon <seller-performance@amazon.com>\n"
            "Your account has been reinstated. You can now resume selling.\n")
    assert amazon.read_outcome(text) == "reinstated"


def test_only_the_start_of_a_huge_text_is_read():
    padding = "Selling tips for the holidays and more. " * 2000
    assert len(padding) > amazon.READ_LIMIT
    assert amazon.read_outcome(padding + "Your account has been reinstated.") == "other"
    assert amazon.read_outcome("Your account has been reinstated.\n" + padding) == "reinstated"


ADVERSARIAL = {
    "negations without end": lambda n: "not unable cannot " * (n // 18),
    "one run-on sentence": lambda n: ("your account " + "x" * 30 + " ") * (n // 44),
    "reinstat fragments": lambda n: "not reinstat " * (n // 13),
    "sentence ends only": lambda n: ". ! ? ;\n" * (n // 8),
    "quoted lines": lambda n: "> please reinstate\n" * (n // 19),
    "on wrote lines": lambda n: "On Monday someone wrote:\n" * (n // 25),
    "plan of action gaps": lambda n: ("plan of action " + "y" * 39 + " ") * (n // 55),
    "one long line": lambda n: "a" * n,
}


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_reading_the_outcome_costs_linear_time(name):
    # 4,000 and 16,000 characters: both under READ_LIMIT, where the whole text is read.
    ratio = cost.growth(ADVERSARIAL[name], amazon.read_outcome, 4000)
    assert ratio < cost.LINEAR_RATIO, f"{name}: 4x the text cost {ratio:.1f}x the CPU time"


def test_a_refusal_until_something_is_sent_asks_for_it_in_one_sentence():
    assert amazon.read_outcome("We cannot reinstate your account until you send a utility bill.") \
        == "more_info_requested"


def test_a_filed_reply_proposes_the_outcome_its_words_say(world, submitted):
    from datetime import timedelta

    from caseapp.core import mailtags
    from caseapp.extensions import db
    from caseapp.models import Case, utcnow
    from caseapp.services.inbound import filing
    from tests.services.inbound.conftest import mail

    now = utcnow()
    text = (DATA / "more_info_unclear_poa.txt").read_text(encoding="utf-8")
    # A Date header a year ahead (a wrong clock) is not when Amazon wrote.
    row = filing.receive(mail(to=mailtags.case_address(world.case_a.id), text=text,
                              date=now + timedelta(days=365)), now=now).message
    assert row.proposal == "proposed" and row.proposed_outcome == "more_info_requested"
    assert db.session.get(Case, world.case_a.id).amazon_wrote_at <= now + timedelta(seconds=1)
