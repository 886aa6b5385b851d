"""core.workdays: the agency calendar, business time on the local wall clock.

Every date below was read off `calendar.month(2026, m)`: in 2026 the DST changes (29 Mar,
25 Oct in Europe; 8 Mar, 1 Nov in the US) fall on Sundays, 3 Oct is a Saturday, 25 Dec a
Friday, 26 Nov (Thanksgiving) a Thursday."""
from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from caseapp.core import workdays
from caseapp.core.workdays import Calendar, add_business_days, add_business_time, business_seconds_between

UTC = timezone.utc
DAY = 86_400
BERLIN = Calendar("Europe/Berlin")


def local(zone: str, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def weekday(day: date) -> str:
    return calendar.day_name[day.weekday()]


def test_the_2026_dates_these_tests_rely_on():
    assert [weekday(date(2026, 3, 29)), weekday(date(2026, 10, 25)), weekday(date(2026, 3, 8)),
            weekday(date(2026, 11, 1))] == ["Sunday"] * 4
    assert weekday(date(2026, 10, 3)) == "Saturday" and weekday(date(2026, 12, 25)) == "Friday"
    assert weekday(date(2026, 11, 26)) == "Thursday" and weekday(date(2026, 12, 28)) == "Monday"


def test_weekends_are_skipped():
    friday = local("Europe/Berlin", 2026, 11, 6, 15)
    assert add_business_days(BERLIN, friday, 1) == local("Europe/Berlin", 2026, 11, 9, 15)  # Monday
    assert add_business_days(BERLIN, friday, 5) == local("Europe/Berlin", 2026, 11, 13, 15)  # Friday
    assert add_business_days(BERLIN, friday, 5).tzinfo is UTC


def test_a_weekday_is_a_working_day_and_a_weekend_is_not():
    assert BERLIN.is_working_day(date(2026, 11, 6)) and not BERLIN.is_working_day(date(2026, 11, 7))
    assert BERLIN.holiday_name(date(2026, 12, 25)) is None  # no country: no holidays


def test_german_holidays_are_named_and_skipped():
    germany = Calendar("Europe/Berlin", "DE")
    assert germany.holiday_name(date(2026, 10, 3)) == "German Unity Day"
    assert not germany.is_working_day(date(2026, 10, 3))
    assert germany.holiday_name(date(2026, 10, 5)) is None
    # Christmas Friday, Second Day of Christmas on the Saturday: Thursday's clock ends Monday.
    assert add_business_days(germany, local("Europe/Berlin", 2026, 12, 24, 10), 1) == \
        local("Europe/Berlin", 2026, 12, 28, 10)


def test_thanksgiving_is_skipped_and_a_subdivision_adds_its_own_days():
    wednesday = local("America/New_York", 2026, 11, 25, 9)
    us = Calendar("America/New_York", "US")
    assert us.holiday_name(date(2026, 11, 26)) == "Thanksgiving Day"
    assert add_business_days(us, wednesday, 1) == local("America/New_York", 2026, 11, 27, 9)
    california = Calendar("America/New_York", "US", "CA")  # also the Day After Thanksgiving
    assert california.holiday_name(date(2026, 11, 27)) == "Day After Thanksgiving"
    assert add_business_days(california, wednesday, 1) == local("America/New_York", 2026, 11, 30, 9)


def test_uk_christmas_and_boxing_day_observed_on_monday():
    uk = Calendar("Europe/London", "GB")
    assert uk.holiday_name(date(2026, 12, 28)) == "Boxing Day (observed)"
    assert add_business_days(uk, utc(2026, 12, 24, 12), 1) == utc(2026, 12, 29, 12)  # Thursday -> Tuesday
    assert business_seconds_between(uk, utc(2026, 12, 24, 12), utc(2026, 12, 29, 12)) == DAY


@pytest.mark.parametrize("zone, start, end", [
    # Europe/Berlin springs forward on Sunday 29 Mar: Friday 15:00 CET -> Friday 15:00 CEST.
    ("Europe/Berlin", utc(2026, 3, 27, 14), utc(2026, 4, 3, 13)),
    # ... and falls back on Sunday 25 Oct: 15:00 CEST -> 15:00 CET.
    ("Europe/Berlin", utc(2026, 10, 23, 13), utc(2026, 10, 30, 14)),
    # America/New_York on Sunday 8 Mar (EST -> EDT) and Sunday 1 Nov (EDT -> EST).
    ("America/New_York", utc(2026, 3, 6, 20), utc(2026, 3, 13, 19)),
    ("America/New_York", utc(2026, 10, 30, 19), utc(2026, 11, 6, 20)),
])
def test_five_business_days_across_a_dst_change_keep_the_local_wall_time(zone, start, end):
    cal = Calendar(zone)
    assert start.astimezone(ZoneInfo(zone)).hour == 15 and weekday(start.astimezone(ZoneInfo(zone))) == "Friday"
    assert add_business_days(cal, start, 5) == end
    assert end.astimezone(ZoneInfo(zone)).hour == 15
    assert business_seconds_between(cal, start, end) == 5 * DAY
    assert abs((end - start) - timedelta(days=7)) == timedelta(hours=1)  # the real hours differ


def test_dst_week_with_easter_holidays():
    # From Friday 27 Mar 15:00 CET five days end on Good Friday; Easter Monday is off too.
    assert add_business_days(Calendar("Europe/Berlin", "DE"), utc(2026, 3, 27, 14), 5) == \
        local("Europe/Berlin", 2026, 4, 7, 15)


def test_tokyo_monday_morning_is_sunday_in_utc():
    tokyo = Calendar("Asia/Tokyo")
    sunday_utc = utc(2026, 11, 29, 23)  # Monday 08:00 JST
    assert add_business_days(tokyo, sunday_utc, 1) == utc(2026, 11, 30, 23)  # Tuesday 08:00 JST
    friday_utc = utc(2026, 11, 27, 20)  # already Saturday 05:00 in Tokyo: counts from Monday 00:00 JST
    assert add_business_time(tokyo, friday_utc, DAY / 2) == local("Asia/Tokyo", 2026, 11, 30, 12)
    assert business_seconds_between(tokyo, friday_utc, local("Asia/Tokyo", 2026, 11, 30, 12)) == DAY / 2


def test_auckland_saturday_is_friday_in_utc():
    auckland = Calendar("Pacific/Auckland")
    friday_utc = utc(2026, 11, 27, 12)  # Saturday 01:00 NZDT (UTC+13)
    assert friday_utc.astimezone(ZoneInfo("Pacific/Auckland")).date() == date(2026, 11, 28)
    assert add_business_days(auckland, friday_utc, 1) == local("Pacific/Auckland", 2026, 12, 1, 0)
    assert add_business_days(auckland, friday_utc, 1) == utc(2026, 11, 30, 11)


def test_los_angeles_friday_evening_is_saturday_in_utc():
    los_angeles = Calendar("America/Los_Angeles")
    saturday_utc = utc(2026, 11, 28, 3)  # Friday 19:00 PST, a working day there
    assert add_business_days(los_angeles, saturday_utc, 1) == utc(2026, 12, 1, 3)  # Monday 19:00 PST
    assert business_seconds_between(los_angeles, saturday_utc, utc(2026, 11, 28, 8)) == 5 * 3600  # to midnight


def test_a_clock_started_on_saturday_starts_on_monday_at_midnight():
    saturday = local("Europe/Berlin", 2026, 11, 7, 10)
    assert add_business_days(BERLIN, saturday, 1) == local("Europe/Berlin", 2026, 11, 10, 0)
    assert add_business_time(BERLIN, saturday, 1) == local("Europe/Berlin", 2026, 11, 9, 0, 0, 1)
    assert business_seconds_between(BERLIN, saturday, local("Europe/Berlin", 2026, 11, 9, 9)) == 9 * 3600


def test_no_time_leaves_the_start_as_it_is_even_on_a_weekend():
    saturday = utc(2026, 11, 7, 10)
    assert add_business_time(BERLIN, saturday, 0) == saturday
    assert add_business_days(BERLIN, local("Europe/Berlin", 2026, 11, 7, 10), 0).tzinfo is UTC


def test_fractional_days():
    friday = local("Europe/Berlin", 2026, 11, 6, 18)
    assert add_business_time(BERLIN, friday, DAY / 2) == local("Europe/Berlin", 2026, 11, 9, 6)  # 6h + 6h
    assert add_business_time(BERLIN, friday, 1.5 * DAY) == local("Europe/Berlin", 2026, 11, 10, 6)
    assert add_business_time(BERLIN, friday, 0.000001) == friday + timedelta(microseconds=1)


def test_a_clock_ending_with_the_working_day_ends_at_its_midnight():
    # Friday ends at Saturday 00:00, not Monday 00:00: the earliest moment the time is used up.
    assert add_business_time(BERLIN, local("Europe/Berlin", 2026, 11, 6, 18), 6 * 3600) == \
        local("Europe/Berlin", 2026, 11, 7, 0)


def test_business_seconds_between_counts_only_working_days():
    assert business_seconds_between(BERLIN, utc(2026, 11, 6), utc(2026, 11, 16)) == 6 * DAY
    assert business_seconds_between(BERLIN, utc(2026, 11, 16), utc(2026, 11, 6)) == 0
    assert business_seconds_between(BERLIN, utc(2026, 11, 7, 12), utc(2026, 11, 8, 12)) == 0  # the weekend
    germany = Calendar("Europe/Berlin", "DE")
    assert business_seconds_between(germany, local("Europe/Berlin", 2026, 12, 21),
                                    local("Europe/Berlin", 2027, 1, 4)) == 8 * DAY  # 25, 26 Dec, 1 Jan off


@pytest.mark.parametrize("cal", [BERLIN, Calendar("Europe/Berlin", "DE"), Calendar("America/New_York", "US"),
                                 Calendar("Pacific/Auckland", "NZ"), Calendar("Asia/Dubai", "AE", "", "71234")])
@pytest.mark.parametrize("seconds", [1, 3600.5, 0.25 * DAY, DAY, 2.75 * DAY, 5 * DAY, 23 * DAY + 0.123456])
def test_business_seconds_between_undoes_add_business_time(cal, seconds):
    # Starts every 7 hours for five and two weeks over the European and US DST changes, weekends included.
    for start in (utc(2026, 3, 1) + timedelta(hours=7 * n) for n in range(120)):
        end = add_business_time(cal, start, seconds)
        assert end > start
        assert business_seconds_between(cal, start, end) == pytest.approx(seconds, abs=1e-6)
    for start in (utc(2026, 10, 20) + timedelta(hours=7 * n) for n in range(48)):
        end = add_business_time(cal, start, seconds)
        assert business_seconds_between(cal, start, end) == pytest.approx(seconds, abs=1e-6)


def test_a_sunday_to_thursday_week():
    dubai = Calendar("Asia/Dubai", "AE", "", "71234")
    assert dubai.working_days == "12347"
    assert add_business_days(dubai, local("Asia/Dubai", 2026, 11, 26, 15), 1) == \
        local("Asia/Dubai", 2026, 11, 29, 15)  # Thursday -> Sunday
    # Tuesday 1 Dec; National Day on Wednesday and Thursday, then the weekend: Sunday 6 Dec.
    assert add_business_days(dubai, local("Asia/Dubai", 2026, 12, 1, 15), 1) == local("Asia/Dubai", 2026, 12, 6, 15)
    assert weekday(date(2026, 12, 6)) == "Sunday"


def test_a_skipped_wall_time_lands_after_the_jump():
    every_day = Calendar("Europe/Berlin", working_days="1234567")
    # Saturday 02:30 CET + 1 day is Sunday 02:30, which the clock skips: it lands on 03:30 CEST.
    end = add_business_days(every_day, local("Europe/Berlin", 2026, 3, 28, 2, 30), 1)
    assert end == utc(2026, 3, 29, 1, 30) == local("Europe/Berlin", 2026, 3, 29, 3, 30)
    assert business_seconds_between(every_day, local("Europe/Berlin", 2026, 3, 28, 2, 30), end) == DAY + 3600


def test_a_repeated_wall_time_is_its_first_occurrence_unless_that_is_before_the_start():
    every_day = Calendar("Europe/Berlin", working_days="1234567")
    end = add_business_days(every_day, local("Europe/Berlin", 2026, 10, 24, 2, 30), 1)
    assert end == utc(2026, 10, 25, 0, 30)  # 02:30 CEST, the first of the two
    second_pass = utc(2026, 10, 25, 1, 10)  # 02:10 CET, the second time the clock shows 02:10
    assert add_business_time(every_day, second_pass, 600) == utc(2026, 10, 25, 1, 20)
    assert business_seconds_between(every_day, second_pass, utc(2026, 10, 25, 1, 20)) == 600


def test_countries_are_sorted_by_name_with_iso_codes():
    found = workdays.countries()
    assert ("DE", "Germany") in found and ("GB", "United Kingdom") in found and ("AE", "United Arab Emirates") in found
    assert ("US", "United States of America") in found
    assert [name for _, name in found] == sorted(name for _, name in found)
    assert all(len(code) == 2 and code.isupper() for code, _ in found)
    assert len({code for code, _ in found}) == len(found)


def test_valid_countries_and_subdivisions():
    assert workdays.is_valid_country("DE") and workdays.is_valid_country("GB")
    for code in ("", "de", "UK", "DEU", "XX", None, "D" * 10_000):
        assert not workdays.is_valid_country(code)
    assert workdays.is_valid_subdivision("US", "CA") and workdays.is_valid_subdivision("US", "")
    assert workdays.is_valid_subdivision("", "")
    for country, subdivision in (("US", "ca"), ("US", "XX"), ("", "CA"), ("XX", ""), ("DE", "CA"), ("US", None)):
        assert not workdays.is_valid_subdivision(country, subdivision)


@pytest.mark.parametrize("text, expected", [("12345", "12345"), ("1,2,3,4,5", "12345"), ("71234", "12347"),
                                            ("5, 4, 3", "345"), ("1123", "123"), ("7", "7")])
def test_working_days_are_normalised(text, expected):
    assert workdays.parse_working_days(text) == expected


@pytest.mark.parametrize("text", ["", " , ", "0", "8", "12345 6 9", "1;2", "١٢", "１２", "mon", None, 12345])
def test_working_days_that_are_not_weekday_numbers_are_refused(text):
    with pytest.raises(ValueError) as error:
        workdays.parse_working_days(text)
    assert "working day" in str(error.value).lower()


@pytest.mark.parametrize("arguments, message", [
    (("Mars/Olympus",), "time zone"), (("Europe/Berlin", "XX"), "country"), (("Europe/London", "UK"), "country"),
    (("America/New_York", "US", "XX"), "subdivision"), (("America/New_York", "", "CA"), "subdivision"),
    (("Europe/Berlin", "DE", "", ""), "working day"), (("Europe/Berlin", "DE", "", "6,7,8"), "working day"),
])
def test_a_calendar_refuses_what_it_cannot_count_with(arguments, message):
    with pytest.raises(ValueError, match=f"(?i){message}"):
        Calendar(*arguments)


def test_clock_inputs_are_checked():
    monday = utc(2026, 11, 9, 9)
    for seconds in (-1, float("nan"), float("inf"), "60", None, True):
        with pytest.raises(ValueError):
            add_business_time(BERLIN, monday, seconds)
    with pytest.raises(ValueError, match="aware"):
        add_business_time(BERLIN, datetime(2026, 11, 9, 9), 60)
    with pytest.raises(ValueError, match="aware"):
        business_seconds_between(BERLIN, monday, datetime(2026, 11, 10))
    with pytest.raises(ValueError):
        add_business_days(BERLIN, monday, 1.5)


def test_a_clock_runs_at_most_ten_years():
    start = utc(2026, 11, 9, 9)
    assert add_business_days(BERLIN, start, 2500) > start + timedelta(days=3400)
    with pytest.raises(ValueError, match="3660"):
        add_business_days(BERLIN, start, 3661)
    with pytest.raises(ValueError, match="3660"):  # one working day a week: 600 of them take 11 years
        add_business_days(Calendar("UTC", working_days="1"), start, 600)
    with pytest.raises(ValueError, match="3660"):
        business_seconds_between(BERLIN, start, start + timedelta(days=3700))
    with pytest.raises(ValueError, match="calendar"):
        add_business_days(Calendar("UTC"), utc(9999, 12, 29), 5)
