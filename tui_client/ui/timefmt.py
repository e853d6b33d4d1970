"""How timestamps are shown: one formatter, with a time zone that tests can pin.

The engine gives server timestamps in milliseconds since the epoch. Everything the UI prints about
time goes through `TimeFormatter`, so a snapshot test that passes `tz=timezone.utc` renders the
same on every machine, and nothing here reads the clock ("today"/"yesterday" would).
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from ..records import record


@record
class TimeFormatter:
    tz: tzinfo | None = None  # None: the local time zone

    def to_datetime(self, ts_ms: int) -> datetime:
        moment = datetime.fromtimestamp(ts_ms / 1000, tz=self.tz)
        return moment if self.tz is not None else moment.astimezone()

    def time(self, ts_ms: int) -> str:
        """Time of day for a message header, e.g. "14:05"."""
        return self.to_datetime(ts_ms).strftime("%H:%M")

    def day_of(self, ts_ms: int) -> date:
        return self.to_datetime(ts_ms).date()

    def day(self, ts_ms: int) -> str:
        """A day separator, e.g. "Monday 3 March 2025"."""
        moment = self.to_datetime(ts_ms)
        return f"{moment:%A} {moment.day} {moment:%B %Y}"

    def full(self, ts_ms: int) -> str:
        """Date and time to the second, for the detail line, e.g. "2025-03-03 14:05:09"."""
        return self.to_datetime(ts_ms).strftime("%Y-%m-%d %H:%M:%S")
