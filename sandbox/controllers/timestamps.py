"""RFC 3339 timestamps as the API writes them (`2024-05-01T12:00:00Z`), and the arithmetic on them."""

from __future__ import annotations

from datetime import UTC, datetime

_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_FORMAT)


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text[:19] + "Z", _FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def seconds_since(text: str | None, now: str) -> float | None:
    """Seconds from `text` to `now` (both API timestamps); None when `text` is missing or malformed."""
    then, current = parse_time(text), parse_time(now)
    if then is None or current is None:
        return None
    return (current - then).total_seconds()
