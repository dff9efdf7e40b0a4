"""Five-field cron expressions (minute hour day-of-month month day-of-week) evaluated in a time zone, as
CloudStack's VM schedules take them, and CloudStack's interval schedules ("MM", "MM:HH", "MM:HH:D") of snapshot
and backup policies expressed as cron."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
          "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_NAMES = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10,
          "nov": 11, "dec": 12, "sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


class CronError(ValueError):
    pass


def _value(text: str) -> int:
    t = text.lower()
    if t in _NAMES:
        return _NAMES[t]
    if not t.isdigit():
        raise CronError(f"'{text}' is not a number")
    return int(t)


def _field(text: str, lo: int, hi: int) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, _, s = part.partition("/")
            step = _value(s)
            if step < 1:
                raise CronError(f"step {s} must be positive")
        if part in ("*", "?"):
            a, b = lo, hi
        elif "-" in part:
            x, _, y = part.partition("-")
            a, b = _value(x), _value(y)
        else:
            a = _value(part)
            b = hi if step > 1 else a
        if a < lo or b > hi or a > b:
            raise CronError(f"'{part}' is out of range {lo}-{hi}")
        out.update(range(a, b + 1, step))
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class Cron:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    def _day_matches(self, d: date) -> bool:
        if d.month not in self.months:
            return False
        dom = d.day in self.days
        dow = (d.isoweekday() % 7) in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return dow
        if self.any_weekday:
            return dom
        return dom or dow  # cron's rule: both restricted -> either matches

    def next_after(self, after: datetime, tz: str = "UTC") -> datetime:
        """The first time strictly after ``after`` (aware) that matches, as an aware UTC datetime."""
        zone = zone_info(tz)
        local = after.astimezone(zone).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = local.date()
        for _ in range(366 * 5):
            if self._day_matches(day):
                for h in sorted(self.hours):
                    for m in sorted(self.minutes):
                        cand = datetime(day.year, day.month, day.day, h, m, tzinfo=zone)
                        if cand >= local:
                            return cand.astimezone(UTC)
            day += timedelta(days=1)
        raise CronError(f"schedule {self.text!r} never runs")


def parse(text: str) -> Cron:
    expr = MACROS.get(text.strip().lower(), text.strip())
    parts = expr.split()
    if len(parts) != 5:
        raise CronError(f"'{text}' must have 5 fields: minute hour day-of-month month day-of-week")
    fields = [_field(p, lo, hi) for p, (lo, hi) in zip(parts, _BOUNDS, strict=True)]
    weekdays = frozenset(d % 7 for d in fields[4])
    return Cron(expr, fields[0], fields[1], fields[2], fields[3], weekdays,
                parts[2] in ("*", "?"), parts[4] in ("*", "?"))


def zone_info(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")  # Java's TimeZone.getTimeZone: an unknown id is GMT


def zone_id(tz: str) -> str:
    """The id CloudStack keeps for a time zone name: the name itself when known, else GMT."""
    try:
        ZoneInfo(tz)
        return tz
    except (ZoneInfoNotFoundError, ValueError):
        return "GMT"


def interval_schedule(interval: str, schedule: str) -> Cron:
    """CloudStack's DateUtil schedules: HOURLY "MM", DAILY "MM:HH", WEEKLY "MM:HH:D" (1 = Sunday), MONTHLY
    "MM:HH:DD"."""
    parts = schedule.split(":")
    kind = interval.upper()
    want = {"HOURLY": 1, "DAILY": 2, "WEEKLY": 3, "MONTHLY": 3}.get(kind)
    if want is None or len(parts) != want or not all(p.isdigit() for p in parts):
        raise CronError(f"Invalid schedule: {schedule} for interval type: {interval}")
    vals = [int(p) for p in parts]
    if vals[0] > 59 or (len(vals) > 1 and vals[1] > 23):
        raise CronError(f"Invalid schedule: {schedule} for interval type: {interval}")
    if kind == "HOURLY":
        return parse(f"{vals[0]} * * * *")
    if kind == "DAILY":
        return parse(f"{vals[0]} {vals[1]} * * *")
    if kind == "WEEKLY":
        if not 1 <= vals[2] <= 7:
            raise CronError(f"Invalid schedule: {schedule} for interval type: {interval}")
        return parse(f"{vals[0]} {vals[1]} * * {vals[2] - 1}")
    if not 1 <= vals[2] <= 28:
        raise CronError(f"Invalid schedule: {schedule} for interval type: {interval}")
    return parse(f"{vals[0]} {vals[1]} {vals[2]} * *")
