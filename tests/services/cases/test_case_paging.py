"""Keyset pages of the case list: following Next (and Previous) shows every case once, in
the sort's order, even where many cases tie on the sort's columns."""
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from caseapp.extensions import db
from caseapp.models import PRIORITIES, Case
from caseapp.services.cases import records
from caseapp.core import paging
from caseapp.services.cases.records import SORTS, CaseFilters
from tests.conftest import make_case, make_client

PER_PAGE = 4
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def crowd(world):
    """23 cases over three clients whose sort columns tie in runs: same times, same
    priority, no follow-up deadline for a third of them."""
    me = world.consultant_a
    second = make_client(me, name="Alder Trading", seller_id="A2ALDER00000")
    third = make_client(me, name="Zephyr Goods", seller_id="A3ZEPHYR0000")
    owners = [world.client_a, second, third]
    ids = [make_case(me, owners[i % 3], title=f"Case {i:02d}", asins="").id for i in range(23)]
    for i, case_id in enumerate(ids):
        db.session.execute(update(Case).where(Case.id == case_id).values(
            updated_at=T0 + timedelta(hours=i // 5),  # runs of five equal times
            opened_at=T0 - timedelta(days=i // 4),
            priority=PRIORITIES[i % 2 * 3],  # low and urgent only: long ties
            follow_up_due_at=None if i % 3 == 0 else T0 + timedelta(hours=i // 6),
            next_deadline_at=None if i % 3 == 1 else T0 + timedelta(hours=i // 6)))
    db.session.commit()
    return ids


def offset_order(actor, sort: str) -> list[int]:
    """The order by plain page numbers (OFFSET), which the cursors must reproduce."""
    return [c.id for c in records.list_cases(actor, CaseFilters(assignee="all", sort=sort), per_page=100).items]


def walk_forward(actor, sort: str) -> list[paging.Page]:
    f = CaseFilters(assignee="all", sort=sort)
    pages = [records.list_cases(actor, f, per_page=PER_PAGE)]
    while pages[-1].has_next:
        f = replace(f, **pages[-1].next_args)
        pages.append(records.list_cases(actor, f, per_page=PER_PAGE))
        assert len(pages) < 20, "the pager never ends"
    return pages


@pytest.mark.parametrize("sort", list(SORTS))
def test_next_links_show_every_case_once_in_order(world, crowd, sort):
    expected = offset_order(world.consultant_a, sort)
    assert len(expected) == 24  # the crowd and the world's own case

    pages = walk_forward(world.consultant_a, sort)

    assert [c.id for page in pages for c in page.items] == expected
    assert [page.page for page in pages] == list(range(1, 7))
    assert not pages[0].has_prev and all(page.has_prev for page in pages[1:])


@pytest.mark.parametrize("sort", list(SORTS))
def test_previous_links_lead_back_to_the_same_pages(world, crowd, sort):
    pages = walk_forward(world.consultant_a, sort)
    f = CaseFilters(assignee="all", sort=sort)
    page = pages[-1]
    for earlier in reversed(pages[:-1]):
        page = records.list_cases(world.consultant_a, replace(f, **page.prev_args), per_page=PER_PAGE)
        assert [c.id for c in page.items] == [c.id for c in earlier.items]
        assert page.page == earlier.page and page.has_next


def test_a_case_updated_meanwhile_does_not_shift_the_next_page(world, crowd):
    """With page numbers, a case moving to the top pushes one case onto the next page twice."""
    f = CaseFilters(assignee="all")
    first = records.list_cases(world.consultant_a, f, per_page=PER_PAGE)
    records.add_note(world.consultant_a, first.items[-1].id, "Called the seller")  # now the newest
    second = records.list_cases(world.consultant_a, replace(f, **first.next_args), per_page=PER_PAGE)
    assert not {c.id for c in first.items} & {c.id for c in second.items}


def test_a_cursor_only_fits_its_own_sort(world, crowd):
    first = records.list_cases(world.consultant_a, CaseFilters(assignee="all", sort="client"), per_page=PER_PAGE)
    with pytest.raises(paging.BadCursor):
        records.list_cases(world.consultant_a, CaseFilters(assignee="all", sort="updated",
                                                         after=first.next_cursor), per_page=PER_PAGE)


def test_cursors_with_values_no_database_takes_are_refused(world, crowd):
    """Well-formed, but a number beyond any id or a NUL in a name: a clear refusal, not a 500."""
    import base64
    import json

    for sort, values in (("updated", [{"t": "2026-11-01T09:00:00+00:00"}, 2**40]),
                         ("client", ["Harbor\x00Lane", 5]),
                         ("updated", [{"t": "0001-01-01T00:00:00+14:00"}, 5]),  # before year 1 in UTC
                         ("updated", [{"t": "9999-12-31T23:59:59-14:00"}, 5]),  # after year 9999
                         ("client", ["\ud800", 5])):  # a lone surrogate
        raw = base64.urlsafe_b64encode(json.dumps({"s": sort, "v": values}).encode()).decode()
        with pytest.raises(paging.BadCursor):
            records.list_cases(world.consultant_a, CaseFilters(assignee="all", sort=sort, after=raw),
                             per_page=PER_PAGE)


@pytest.mark.parametrize("cursor", ["", "x", "not base64!", "eyJzIjoidXBkYXRlZCJ9",  # {"s":"updated"}
                                    "eyJzIjoidXBkYXRlZCIsInYiOlsxLDJdfQ",  # a number for a time
                                    "eyJzIjoidXBkYXRlZCIsInYiOlt7InQiOiIyMDI2LTExLTAxIn0sMl19"])  # no zone
def test_made_up_cursors_are_refused(world, crowd, cursor):
    f = CaseFilters(assignee="all", after=cursor)
    if cursor == "":
        assert len(records.list_cases(world.consultant_a, f, per_page=PER_PAGE).items) == PER_PAGE
        return
    with pytest.raises(paging.BadCursor):
        records.list_cases(world.consultant_a, f, per_page=PER_PAGE)


def test_a_deeply_nested_or_overlong_cursor_is_refused(world, crowd):
    import base64

    for raw in (base64.urlsafe_b64encode(b"[" * 5000).decode(), "A" * 5000):
        with pytest.raises(paging.BadCursor):
            records.list_cases(world.consultant_a, CaseFilters(assignee="all", after=raw), per_page=PER_PAGE)
