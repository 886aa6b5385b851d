"""The comparison of two POA versions: ordinary edits marked as a reader expects, and the
work bounded whatever the two texts are (issue 12: the view was cubic in repeated words)."""
import re
from dataclasses import replace

import pytest

from caseapp.services.poa import diff
from caseapp.services.poa.bounded_match import Budget
from caseapp.services.poa.content import PoaContent
from tests.cost import LINEAR_RATIO, growth

PARAGRAPH = ("On 12 February our account was suspended because our late shipment rate reached 9.2%. "
             "We had promised one-day handling on every listing. Our packing team could not keep up. "
             "Nobody watched the rate while the sale went on.")


def marked(old: str, new: str, budget: Budget | None = None) -> tuple[str, str]:
    left, right = diff.diff_words(old, new) if budget is None else diff.diff_words(old, new, budget)
    return str(left), str(right)


# ------------------------------------------------------------------ ordinary edits

def test_one_changed_word_is_the_only_thing_marked():
    left, right = marked(PARAGRAPH, PARAGRAPH.replace("one-day", "two-day"))
    assert left == PARAGRAPH.replace("one-day", "<del>one-day</del>")
    assert right == PARAGRAPH.replace("one-day", "<ins>two-day</ins>")


def test_an_inserted_sentence_is_marked_whole_and_nothing_else():
    inserted = "We hired a third packer on 17 February. "
    new = PARAGRAPH.replace("Nobody", inserted + "Nobody")
    left, right = marked(PARAGRAPH, new)
    assert "<del>" not in left and left == PARAGRAPH
    assert right == PARAGRAPH.replace("Nobody", f"<ins>{inserted}</ins>Nobody")


def test_a_rewritten_text_is_one_run_on_each_side():
    left, right = marked("We blamed the carrier.", "Our handling time was too short.")
    assert (left, right) == ("<del>We blamed the carrier.</del>", "<ins>Our handling time was too short.</ins>")


def test_a_changed_phrase_is_one_run_not_word_by_word():
    left, right = marked(PARAGRAPH, PARAGRAPH.replace("could not keep up", "shipped late every day"))
    assert "team <del>could not keep up.</del> Nobody" in left
    assert "team <ins>shipped late every day.</ins> Nobody" in right


def test_an_added_list_item_is_the_only_item_marked():
    old = PoaContent(corrective_actions=("Set handling time to three days.", "Shipped the backlog."))
    new = replace(old, corrective_actions=(*old.corrective_actions, "Hired a third packer."))
    [section] = [s for s in diff.compare(old, new) if s.key == "corrective_actions"]
    assert section.changed
    assert "<del>" not in section.left
    assert str(section.right).endswith("backlog.<ins>\n3. Hired a third packer.</ins>")
    assert "1. Set handling time to three days." in section.right


def test_unchanged_sections_are_not_marked_and_text_is_escaped():
    old = PoaContent(subject="Appeal <b>now</b>", root_cause="Cause & effect.")
    new = replace(old, root_cause="Cause & <i>effect</i>.")
    sections = {s.key: s for s in diff.compare(old, new)}
    assert not sections["subject"].changed
    assert str(sections["subject"].left) == "Appeal &lt;b&gt;now&lt;/b&gt;"
    assert str(sections["root_cause"].right) == "Cause &amp; <ins>&lt;i&gt;effect&lt;/i&gt;.</ins>"
    assert "<b>" not in str(sections["subject"].right)


# ------------------------------------------------------------------ beyond the budget

def test_over_the_word_budget_sentences_are_compared_and_refined():
    old = " ".join(f"Sentence {n} says the same thing again." for n in range(40))
    new = old.replace("Sentence 7 says", "Sentence 7 now says").replace("Sentence 30 says", "Sentence 30 no longer says")
    words = Budget(10**9)
    diff.diff_words(old, new, words)
    # The word level may use half of a budget: give it too little, so the sentences decide.
    budget = Budget(words.spent)
    left, right = marked(old, new, budget)
    assert budget.spent <= words.spent
    # Only the added words are marked, each within its own sentence.
    assert re.search(r"Sentence 7 ?<ins> ?now ?</ins> ?says the same", right)
    assert re.search(r"Sentence 30 ?<ins> ?no longer ?</ins> ?says the same", right)
    assert right.count("<ins>") == 2 and "<del>" not in left
    assert right.replace("<ins>", "").replace("</ins>", "") == new


def test_without_any_budget_the_changed_middle_is_one_replaced_block():
    old, new = "Same start. Old middle words here. Same end.", "Same start. New middle text. Same end."
    assert marked(old, new, Budget(0)) == ("Same start. <del>Old middle words here.</del> Same end.",
                                           "Same start. <ins>New middle text.</ins> Same end.")


@pytest.mark.parametrize("old,new", [
    ("word " * 12_000, "word " * 6_000 + "edit " + "word " * 5_999),
    ("a a b " * 3_000, "a b b " * 3_000),
    ("the cat " * 4_000, "the dog " * 4_000),
])
def test_the_matching_work_never_passes_the_page_budget(old, new):
    budget = Budget(diff.PAGE_BUDGET)
    section = diff.compare(PoaContent(introduction=old), PoaContent(introduction=new), budget)[1]
    assert budget.spent <= diff.PAGE_BUDGET
    # Whatever level it ended at, each side still reads as its version.
    assert str(section.left).replace("<del>", "").replace("</del>", "") == old
    assert str(section.right).replace("<ins>", "").replace("</ins>", "") == new
    assert "<del>" in section.left and "<ins>" in section.right


# ------------------------------------------------------------------ cost grows linearly

def one_word_changed(words: int) -> tuple[str, str]:
    half = "word " * (words // 2)
    return half + "word " + half, half + "edit " + half


def every_other_word_changed(words: int) -> tuple[str, str]:
    return "a b " * (words // 2), "a c " * (words // 2)


@pytest.mark.parametrize("make", [one_word_changed, every_other_word_changed])
def test_comparing_four_times_the_words_costs_at_most_about_four_times_as_much(make):
    ratio = growth(make, lambda texts: diff.diff_words(*texts), 150)
    assert ratio < LINEAR_RATIO, f"4x the words cost {ratio:.1f}x"
