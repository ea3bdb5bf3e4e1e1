"""Is a bot open at an instant, and when does it open next: pure, in the bot's time zone.

Ranges are wall-clock times in the bot's IANA zone, so "08:00" is 08:00 local on
either side of a DST change. A local time that never happens (in the gap a DST
change skips) is read with the offset from before the change, as PEP 495 says
(02:30 in a gap skipping 02:00-03:00 is 03:30 of the new offset); one that happens
twice is its first occurrence. Holidays are local dates closed all day (a range
that began the evening before still runs into them). ``"24:00"`` is the next
midnight; a range whose end is not after its start ends on the next day
(``["22:00", "06:00"]`` is overnight, ``["08:00", "08:00"]`` 24 hours).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from handoff.protocol.bot import DAYS, BusinessHours

__all__ = ["Schedule"]

_HORIZON_DAYS = 800
"""How far ahead ``next_open_at`` looks: past a year of holidays in a row."""


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


class Schedule:
    """A bot's business hours, parsed once."""

    def __init__(self, hours: BusinessHours) -> None:
        self.zone = ZoneInfo(hours.time_zone)
        # Per weekday, (start, end) in minutes from that day's midnight; an end not
        # after its start is on the next day, so an end may reach 2880 (24:00 + 24 h).
        self._weekly: dict[int, list[tuple[int, int]]] = {}
        for day, ranges in hours.weekly.items():
            parsed = []
            for start, end in ranges:
                begin, stop = _minutes(start), _minutes(end)
                parsed.append((begin, stop if stop > begin else stop + 1440))
            self._weekly[DAYS.index(day)] = parsed
        self._holidays = {date.fromisoformat(d) for d in hours.holidays}

    @classmethod
    def from_stored(cls, stored: dict[str, Any] | None) -> Schedule | None:
        """The schedule a bot record keeps (None: always open)."""
        return None if stored is None else cls(BusinessHours.model_validate(stored))

    def _local(self, day: date, minutes: int) -> datetime:
        # Local wall time → the instant, through UTC (zoneinfo's gap rule: fold=0 takes
        # the offset before the change, which lands after the jump).
        at = datetime.combine(day + timedelta(days=minutes // 1440), time(0), tzinfo=self.zone)
        wall = at.replace(hour=minutes % 1440 // 60, minute=minutes % 60)
        return wall.astimezone(UTC)

    def _intervals(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The open intervals (UTC instants, half-open) of the local ``day``'s ranges."""
        if day in self._holidays:
            return
        for start, end in self._weekly.get(day.weekday(), []):
            yield self._local(day, start), self._local(day, end)

    def within(self, now: datetime) -> bool:
        """True when ``now`` (an aware instant) falls in an open range."""
        today = now.astimezone(self.zone).date()
        return any(
            start <= now < end
            for back in (2, 1, 0)  # a range may run up to two days past its own
            for start, end in self._intervals(today - timedelta(days=back))
        )

    def next_open_at(self, now: datetime) -> datetime | None:
        """When the bot opens next, in its zone; None when open now or never again."""
        if self.within(now):
            return None
        today = now.astimezone(self.zone).date()
        for offset in range(_HORIZON_DAYS):
            starts = [s for s, _ in self._intervals(today + timedelta(days=offset)) if s > now]
            if starts:
                return min(starts).astimezone(self.zone)
        return None
