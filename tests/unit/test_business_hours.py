"""Business hours at fixed instants: weekdays, weekends, holidays, DST, the week's wrap."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from handoff.protocol.bot import BusinessHours
from handoff.routing.business_hours import Schedule

WEEKDAYS = {d: [["08:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def schedule(**kwargs: Any) -> Schedule:
    values: dict[str, Any] = {"time_zone": "Africa/Johannesburg", "weekly": WEEKDAYS, **kwargs}
    return Schedule(BusinessHours.model_validate(values))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_open_on_a_weekday_in_the_bots_zone() -> None:
    s = schedule()
    # Tuesday 2026-12-01: Johannesburg is UTC+2, so 08:00 there is 06:00 UTC.
    assert not s.within(utc(2026, 12, 1, 5, 59))
    assert s.within(utc(2026, 12, 1, 6, 0))
    assert s.within(utc(2026, 12, 1, 14, 59))
    assert not s.within(utc(2026, 12, 1, 15, 0))  # 17:00 local: the end is not included
    assert s.next_open_at(utc(2026, 12, 1, 10, 0)) is None  # open now
    opens = s.next_open_at(utc(2026, 12, 1, 3, 0))
    assert opens is not None and opens.isoformat() == "2026-12-01T08:00:00+02:00"


def test_evening_opens_next_morning_and_the_weekend_wraps_to_monday() -> None:
    s = schedule()
    opens = s.next_open_at(utc(2026, 12, 1, 16, 0))  # Tuesday 18:00 local
    assert opens is not None and opens.isoformat() == "2026-12-02T08:00:00+02:00"
    friday_night = utc(2026, 12, 4, 20, 0)
    assert not s.within(friday_night)
    opens = s.next_open_at(friday_night)
    assert opens is not None and opens.isoformat() == "2026-12-07T08:00:00+02:00"  # Monday
    sunday = utc(2026, 12, 6, 10, 0)
    assert not s.within(sunday)


def test_holidays_are_closed_all_day_and_skipped() -> None:
    s = schedule(holidays=["2026-12-25", "2026-12-28"])
    christmas_noon = utc(2026, 12, 25, 10, 0)  # a Friday
    assert not s.within(christmas_noon)
    opens = s.next_open_at(christmas_noon)
    # Saturday and Sunday closed, Monday the 28th a holiday: Tuesday the 29th.
    assert opens is not None and opens.isoformat() == "2026-12-29T08:00:00+02:00"
    assert s.within(utc(2026, 12, 24, 10, 0))


def test_several_ranges_a_day_and_midnight() -> None:
    s = schedule(
        weekly={"sat": [["09:00", "12:00"], ["14:00", "24:00"]], "sun": [["00:00", "02:00"]]}
    )
    assert s.within(utc(2026, 12, 5, 8, 0))  # Saturday 10:00 local
    assert not s.within(utc(2026, 12, 5, 11, 0))  # 13:00: the lunch gap
    opens = s.next_open_at(utc(2026, 12, 5, 11, 0))
    assert opens is not None and opens.isoformat() == "2026-12-05T14:00:00+02:00"
    assert s.within(utc(2026, 12, 5, 21, 59))  # 23:59 Saturday
    assert s.within(utc(2026, 12, 5, 22, 30))  # 00:30 Sunday: the ranges join up
    assert not s.within(utc(2026, 12, 6, 0, 0))  # 02:00 Sunday
    opens = s.next_open_at(utc(2026, 12, 6, 0, 0))
    assert opens is not None and opens.isoformat() == "2026-12-12T09:00:00+02:00"


def test_wall_clock_hours_hold_across_dst() -> None:
    s = schedule(time_zone="Europe/London", weekly=WEEKDAYS)
    # 2026-03-29 (Sunday) London moves from GMT to BST: 08:00 is 08:00 UTC before, 07:00 after.
    friday = utc(2026, 3, 27, 7, 59)
    assert not s.within(friday)
    assert s.within(utc(2026, 3, 27, 8, 0))
    monday = s.next_open_at(utc(2026, 3, 27, 18, 0))
    assert monday is not None and monday.isoformat() == "2026-03-30T08:00:00+01:00"
    assert monday.astimezone(UTC) == utc(2026, 3, 30, 7, 0)
    assert s.within(utc(2026, 3, 30, 7, 0))
    # And back: 2026-10-25 BST ends; Monday 08:00 is 08:00 UTC again.
    autumn = s.next_open_at(utc(2026, 10, 24, 12, 0))
    assert autumn is not None and autumn.astimezone(UTC) == utc(2026, 10, 26, 8, 0)


def test_a_range_that_starts_in_the_dst_gap() -> None:
    # New York skips 02:00-03:00 on 2026-03-08 (a Sunday): 02:30 reads as 03:30 EDT.
    s = schedule(time_zone="America/New_York", weekly={"sun": [["02:30", "05:00"]]})
    opens = s.next_open_at(utc(2026, 3, 8, 5, 0))  # 00:00 EST
    assert opens is not None and opens.astimezone(UTC) == utc(2026, 3, 8, 7, 30)
    assert not s.within(utc(2026, 3, 8, 7, 15))  # 03:15 EDT
    assert s.within(utc(2026, 3, 8, 7, 30))
    assert not s.within(utc(2026, 3, 8, 9, 0))  # 05:00 EDT


def test_an_end_not_after_the_start_is_on_the_next_day() -> None:
    # A night shift Friday 22:00 to Saturday 06:00, and Sunday around the clock from 08:00.
    s = schedule(weekly={"fri": [["22:00", "06:00"]], "sun": [["08:00", "08:00"]]})
    assert not s.within(utc(2026, 12, 4, 19, 59))  # Friday 21:59 local
    assert s.within(utc(2026, 12, 4, 20, 0))
    assert s.within(utc(2026, 12, 5, 3, 59))  # Saturday 05:59
    assert not s.within(utc(2026, 12, 5, 4, 0))  # Saturday 06:00
    opens = s.next_open_at(utc(2026, 12, 5, 4, 0))
    assert opens is not None and opens.isoformat() == "2026-12-06T08:00:00+02:00"
    assert s.within(utc(2026, 12, 7, 5, 59))  # Monday 07:59: still Sunday's 24 hours
    assert not s.within(utc(2026, 12, 7, 6, 0))
    # A holiday closes the day's own ranges; one begun the evening before runs on.
    held = schedule(weekly={"fri": [["22:00", "06:00"]]}, holidays=["2026-12-05"])
    assert held.within(utc(2026, 12, 5, 1, 0))
    closed_friday = schedule(weekly={"fri": [["22:00", "06:00"]]}, holidays=["2026-12-04"])
    assert not closed_friday.within(utc(2026, 12, 5, 1, 0))


def test_no_open_day_has_no_next_opening() -> None:
    s = schedule(weekly={})
    assert not s.within(utc(2026, 12, 1, 10, 0))
    assert s.next_open_at(utc(2026, 12, 1, 10, 0)) is None
    assert Schedule.from_stored(None) is None


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"time_zone": "Mars/Olympus", "weekly": {}}, "time_zone"),
        ({"time_zone": "../etc/passwd", "weekly": {}}, "time_zone"),
        ({"time_zone": "UTC", "weekly": {"mon": [["8:00", "17:00"]]}}, "weekly.mon.0.0"),
        ({"time_zone": "UTC", "weekly": {"mon": [["08:00", "25:00"]]}}, "weekly.mon.0.1"),
        (
            {"time_zone": "UTC", "weekly": {"mon": [["09:00", "17:00"], ["17:00", "8:0"]]}},
            "weekly.mon.1.1",
        ),
        ({"time_zone": "UTC", "weekly": {"mon": [["08:00"]]}}, "weekly.mon.0"),
        ({"time_zone": "UTC", "weekly": {"monday": []}}, "weekly.monday.[key]"),
        ({"time_zone": "UTC", "weekly": {}, "holidays": ["2026-02-30"]}, "holidays.0"),
        ({"time_zone": "UTC", "weekly": {}, "holidays": ["25/12/2026"]}, "holidays.0"),
        ({"time_zone": "UTC", "weekly": {}, "extra": 1}, "extra"),
    ],
)
def test_bad_hours_are_refused_naming_the_field(value: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        BusinessHours.model_validate(value)
    loc = ".".join(str(p) for p in caught.value.errors()[0]["loc"])
    assert loc == field, caught.value
