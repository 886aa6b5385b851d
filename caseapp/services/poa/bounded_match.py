"""difflib's SequenceMatcher with a bound on the work it may do.

SequenceMatcher is quadratic in the common case and worse when a few tokens repeat
("the the the ..."): each longest-match search visits every pair of equal tokens, and
there is one search per matching block. A ``BoundedMatcher`` counts those visits
before each search (an upper bound, from prefix sums of how often each token of ``a``
occurs in ``b``) and raises ``WorkExceeded`` once its ``Budget`` is spent, so a caller
can fall back to something coarser. Pure Python, no Flask, no database.
"""
from __future__ import annotations

from difflib import SequenceMatcher


class WorkExceeded(Exception):
    """The matcher would go over its budget; what it found so far is not usable."""


class Budget:
    """Steps of matching work left. ``part(n)`` gives at most n of them to one attempt;
    what that attempt spends is spent here too."""

    def __init__(self, steps: int, parent: Budget | None = None):
        self.left = steps
        self.spent = 0
        self.parent = parent

    def spend(self, steps: int) -> None:
        """Take `steps` from this budget and every one it is part of, or raise WorkExceeded
        (taking nothing) when any of them has fewer left."""
        budget: Budget | None = self
        while budget is not None:
            if steps > budget.left:
                raise WorkExceeded()
            budget = budget.parent
        budget = self
        while budget is not None:
            budget.left -= steps
            budget.spent += steps
            budget = budget.parent

    def part(self, steps: int) -> Budget:
        return Budget(max(0, min(steps, self.left)), self)


class BoundedMatcher(SequenceMatcher):
    """A SequenceMatcher (autojunk off) that spends ``budget`` on each longest-match search.

    The charge for a search over a[alo:ahi] and b[blo:bhi] is, for each i in alo..ahi,
    one step plus the number of positions of a[i] in b (what the search loops over),
    plus the two ranges' lengths (extending the match found): never less than the
    search really does.
    """

    def __init__(self, isjunk=None, a=(), b=(), *, budget: Budget):
        self.budget = budget
        self._cost_prefix: list[int] | None = None
        super().__init__(isjunk, a, b, autojunk=False)

    def set_seq1(self, a) -> None:
        self._cost_prefix = None
        super().set_seq1(a)

    def set_seq2(self, b) -> None:
        self._cost_prefix = None
        super().set_seq2(b)

    def find_longest_match(self, alo=0, ahi=None, blo=0, bhi=None):
        if ahi is None:
            ahi = len(self.a)
        if bhi is None:
            bhi = len(self.b)
        if self._cost_prefix is None:
            self.budget.spend(len(self.a))
            prefix, total, b2j = [0], 0, self.b2j
            for token in self.a:
                total += 1 + len(b2j.get(token, ()))
                prefix.append(total)
            self._cost_prefix = prefix
        self.budget.spend(self._cost_prefix[ahi] - self._cost_prefix[alo] + (ahi - alo) + (bhi - blo))
        return super().find_longest_match(alo, ahi, blo, bhi)
