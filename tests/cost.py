"""CPU cost of a call, for tests that an algorithm's work grows linearly with its input.

Never a speed target: a test compares the cost of the same call at two sizes (n and 4n),
where linear work gives a ratio near 4 and quadratic work near 16, and asserts it stays
under 8. Each figure is the best of a few rounds of repeated calls, so that a busy
machine or a timer's resolution does not decide it, and counts this thread's CPU time only:
a thread another test left running (a mail server, a scheduler) would otherwise be counted
too, and it skewed the ratios of the C renderers both ways (0.96 and 8.9 for 3.5).
"""
from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Callable

from sqlalchemy import event

from caseapp.extensions import db

LINEAR_RATIO = 8.0


def cpu_per_call(call: Callable[[], object], rounds: int = 3, at_least: float = 0.02) -> float:
    """Seconds of this thread's CPU for one call: the least single call seen in `rounds`
    rounds, each repeating the call for `at_least` seconds. The least, not the mean: on a
    busy machine a call that was interrupted (its cache refilled after another process ran)
    costs more, and some call of each size runs without that."""
    best = float("inf")
    for _ in range(rounds):
        started = time.thread_time()
        while True:
            before = time.thread_time()
            call()
            after = time.thread_time()
            best = min(best, after - before)
            if after - started >= at_least:
                break
    return best


def growth(make: Callable[[int], object], call: Callable[[object], object], n: int,
           attempts: int = 5) -> float:
    """cost(4n) / cost(n) of call(make(size)), each cost the least seen over up to
    `attempts` interleaved measurements, with the garbage collector held off.

    Another process taking the CPU (or the cache) in the middle of one measurement can
    double a ratio; interleaving the two sizes lets both see the same machine, the least
    of each is the work itself, and quadratic work gives about 16 every time.
    """
    small, large = make(n), make(4 * n)
    best_small = best_large = float("inf")
    ratio = float("inf")
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(attempts):
            best_small = min(best_small, cpu_per_call(lambda: call(small), rounds=1))
            best_large = min(best_large, cpu_per_call(lambda: call(large), rounds=1))
            best_small = min(best_small, cpu_per_call(lambda: call(small), rounds=1))
            ratio = best_large / best_small
            if ratio < LINEAR_RATIO:
                break
    finally:
        if enabled:
            gc.enable()
    return ratio


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements sent to the database inside the block, in order: for tests that a
    page or a pass costs the same number of statements however many rows it shows."""
    seen: list[str] = []

    def note(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
