"""Cron schedules as CronJobs write them: five fields (`*/5 * * * *`), names, and `@hourly`-style macros.

Day-of-month and day-of-week combine as in Vixie cron (and robfig/cron, which Kubernetes uses):
when both are restricted, a day matches if either does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTHS = {name: i + 1 for i, name in enumerate(_MONTH_NAMES)}
_DAYS = {name: i for i, name in enumerate(_DAY_NAMES)}
# A schedule that never fires (30 February) must not loop forever.
_SEARCH_LIMIT = timedelta(days=366 * 5)
_WINDOWS = (timedelta(hours=2), timedelta(days=2), timedelta(days=62), timedelta(days=366 * 5))


class ScheduleError(ValueError):
    """A schedule that cannot be parsed."""


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"invalid step {step_text!r}")
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise ScheduleError(f"value out of range in {text!r}: {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ScheduleError(f"invalid value {text!r}")
    return int(text)


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def parse(cls, text: str) -> Schedule:
        spec = _MACROS.get(text.strip(), text.strip())
        fields = spec.split()
        if len(fields) != 5:
            raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: {text}")
        weekdays = _field(fields[4], 0, 7, _DAYS)
        return cls(
            minutes=_field(fields[0], 0, 59),
            hours=_field(fields[1], 0, 23),
            days=_field(fields[2], 1, 31),
            months=_field(fields[3], 1, 12, _MONTHS),
            weekdays=frozenset(0 if d == 7 else d for d in weekdays),
            days_restricted=fields[2] not in ("*", "?"),
            weekdays_restricted=fields[4] not in ("*", "?"),
        )

    def _day_matches(self, moment: datetime) -> bool:
        day_ok = moment.day in self.days
        weekday_ok = (moment.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return day_ok or weekday_ok
        return day_ok and weekday_ok

    def next_after(self, moment: datetime) -> datetime | None:
        """The first scheduled minute strictly after `moment` (same time zone), or None."""
        current = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = moment + _SEARCH_LIMIT
        while current <= limit:
            if current.month not in self.months:
                month = current.month % 12 + 1
                year = current.year + (1 if month == 1 else 0)
                current = current.replace(year=year, month=month, day=1, hour=0, minute=0)
                continue
            if not self._day_matches(current):
                current = (current + timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if current.hour not in self.hours:
                current = (current + timedelta(hours=1)).replace(minute=0)
                continue
            if current.minute not in self.minutes:
                current += timedelta(minutes=1)
                continue
            return current
        return None

    def most_recent(self, after: datetime, now: datetime) -> tuple[datetime | None, int]:
        """The latest scheduled time in (after, now], and how many fell in the window searched.

        Windows grow backwards from `now`, so a schedule missed for a long time is found without
        walking every minute since `after`.
        """
        for window in _WINDOWS:
            start = max(after, now - window)
            latest: datetime | None = None
            count = 0
            current = self.next_after(start)
            while current is not None and current <= now:
                latest = current
                count += 1
                current = self.next_after(current)
            if latest is not None or start == after:
                return latest, count
        return None, 0
