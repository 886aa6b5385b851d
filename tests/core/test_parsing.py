"""core.parsing: the one reading of numbers, ids, dates and text from outside."""
from __future__ import annotations

import json
import time
from datetime import date, datetime, timezone

import pytest

from caseapp.core import parsing


@pytest.mark.parametrize("text", ["²", "١٢", "１２", "+5", "1_000", "-1", "1.0", "", " ", "0x1f",
                                  "9" * 19, "9" * 10_000, "12\n3"])
def test_whole_number_takes_ascii_digits_only(text):
    assert parsing.whole_number(text) is None


@pytest.mark.parametrize("value, expected", [("0", 0), (" 42 ", 42), ("007", 7), (12, 12),
                                             (True, None), (1.0, None), (None, None), ([1], None)])
def test_whole_number_reads_digits_and_ints(value, expected):
    assert parsing.whole_number(value) == expected


def test_ids_fit_the_integer_column():
    assert parsing.parse_id("2147483647") == 2**31 - 1
    assert parsing.parse_id(2**31) is None and parsing.parse_id("99999999999999999999999") is None
    assert parsing.parse_id("0") is None and parsing.parse_id(-1) is None


def test_page_numbers_fall_back_to_the_first_page():
    assert parsing.page_number("3") == 3
    for text in ("²", "0", "-2", "100001", "9" * 10_000, None):
        assert parsing.page_number(text) == 1


def test_dates_lie_where_a_day_either_side_and_any_zone_stay_in_the_calendar():
    assert parsing.parse_date("2026-11-29") == date(2026, 11, 29)
    for text in ("9999-12-31", "0001-01-01", "２０２６-11-29", "2026-W48-7", "20261129", "2026-02-30", 7):
        assert parsing.parse_date(text) is None
    latest = parsing.parse_date(parsing.LATEST.isoformat())
    assert parsing.next_day(latest) > latest


def test_moments_need_their_offset_and_stay_convertible():
    moment = parsing.parse_moment("2026-11-29T14:30:00+01:00")
    assert moment == datetime(2026, 11, 29, 13, 30, tzinfo=timezone.utc)
    assert parsing.parse_moment("2026-11-29T14:30:00Z").tzinfo is not None
    for text in ("2026-11-29T14:30:00", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59",
                 "２０２６-11-29T14:30:00+01:00", "x" * 10_000, None, 20261129):
        assert parsing.parse_moment(text) is None
    for text in ("2999-12-31T23:59:59-23:59", "1900-01-01T00:00:00+23:59"):
        parsing.parse_moment(text).astimezone(timezone.utc)  # no OverflowError
    assert parsing.parse_local_moment("2026-11-29T14:30") == datetime(2026, 11, 29, 14, 30)
    assert parsing.parse_local_moment("0001-01-01T00:00") is None
    assert parsing.parse_local_moment("2026-11-29T14:30+01:00") is None


def test_text_problems_name_nul_and_lone_surrogates():
    assert parsing.text_problem("Harbor Lane Home Goods – ünïcode ✓ 🎉") is None
    assert "NUL" in parsing.text_problem("a\x00b")
    assert "surrogate" in parsing.text_problem("a\ud800b")
    assert "surrogate" in parsing.text_problem("\udfff")


def test_json_texts_walk_any_depth_without_recursion():
    value: object = "deep"
    for _ in range(100_000):
        value = [value]
    assert list(parsing.json_texts(value)) == ["deep"]
    assert sorted(parsing.json_texts({"a": ["b", {"c": 1}], "d": None})) == ["a", "b", "c", "d"]


def _depth(value) -> int:
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            pending.extend((inner, level + 1) for inner in (item.values() if isinstance(item, dict) else item))
    return deepest


@pytest.mark.parametrize("value", [
    [], {}, "[[[{{{", ["]]]", {"[": "{"}], [[[["a\\\"[b"]]]], {"a": {"b": {"c": [1, [2, [3]]]}}},
    "ü[\u2028", ["\\", ["\\\\\""], "[\\"]])
def test_json_depth_is_counted_on_the_text(value):
    text = json.dumps(value, ensure_ascii=False).encode()
    for limit in range(0, 6):
        assert parsing.json_depth_exceeds(text, limit) == (_depth(value) > limit), (text, limit)


def test_json_depth_of_a_body_cut_short_counts_its_open_levels():
    assert parsing.json_depth_exceeds(b"[" * 65)
    assert not parsing.json_depth_exceeds(b'[[["unterminated \\')
    assert parsing.json_depth_exceeds(b'[' * 100_000 + b'"')


def test_json_depth_is_linear_in_the_body():
    """The work for a body 4n long is about 4x that for n (linear), not 16x (quadratic),
    for the shapes that make a naive scanner backtrack or loop per byte."""
    for unit in (b'"\\', b'"\\"', b"[],", b"[" * 60 + b"]" * 60 + b",", b'"a' + b"\\" * 3):
        def cost(n):
            body = unit * n
            started = time.thread_time()
            for _ in range(3):
                parsing.json_depth_exceeds(body)
            return time.thread_time() - started
        small, large = cost(50_000), cost(200_000)
        assert large < 8 * max(small, 0.005), (unit, small, large)
