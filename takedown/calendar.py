"""Business days from a real holiday calendar; statutory periods are counted in them.

The jurisdiction is configuration (country, optional subdivision); the day
a period starts from is passed in, never read from a clock here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import holidays


@dataclass(frozen=True)
class BusinessCalendar:
    country: str = "US"
    subdivision: str | None = None
    _cache: dict[int, holidays.HolidayBase] = field(default_factory=dict, compare=False, repr=False)

    def _holidays(self, year: int) -> holidays.HolidayBase:
        if year not in self._cache:
            self._cache[year] = holidays.country_holidays(self.country, subdiv=self.subdivision, years=year)
        return self._cache[year]

    def holiday(self, day: dt.date) -> str | None:
        return self._holidays(day.year).get(day)

    def is_business_day(self, day: dt.date) -> bool:
        return day.weekday() < 5 and self.holiday(day) is None

    def add_business_days(self, start: dt.date, days: int) -> dt.date:
        """The date `days` business days after `start` (start itself is day 0, whatever it is)."""
        if days < 0:
            raise ValueError("business days to add must not be negative")
        day = start
        while days:
            day += dt.timedelta(days=1)
            if self.is_business_day(day):
                days -= 1
        return day

    def business_days_between(self, start: dt.date, end: dt.date) -> int:
        """Business days after `start` up to and including `end` (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += dt.timedelta(days=1)
            count += self.is_business_day(day)
        return count
