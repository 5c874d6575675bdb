"""The one clock of the app: every service gets `now` from here (via the view)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    """Current time, timezone-aware UTC. The only place the app reads the clock."""
    return datetime.now(UTC)


def local_day(moment: datetime, tz: str) -> date:
    """The calendar day of `moment` in time zone `tz`."""
    return moment.astimezone(ZoneInfo(tz)).date()


def day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of a calendar day in `tz`, as UTC datetimes."""
    start = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))
    end = start + timedelta(days=1)
    return start.astimezone(UTC), end.astimezone(UTC)


def iso(moment: datetime | None, tz: str) -> str | None:
    """ISO 8601 with offset in the contest's zone, seconds precision."""
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")
