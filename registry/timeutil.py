"""Dates and times: verdicts compare calendar days, T by its UTC date."""

from __future__ import annotations

import datetime as dt
import re


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


class MomentError(ValueError):
    """A date or date-time that is not RFC 3339, or not a moment the calendar can hold."""


# RFC 3339 section 5.6, ASCII digits only ("T", "Z" case-insensitive); a plain date is a full-date.
_FULL_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
EXPECTED_FORMS = "YYYY-MM-DD (2025-03-10) or an RFC 3339 date-time YYYY-MM-DDThh:mm:ssZ or with an offset ±hh:mm"


def parse_moment(text: str) -> dt.datetime:
    """A plain date (its UTC midnight) or an RFC 3339 date-time, in UTC.

    A leap second (hh:59:60) counts as the last second of its minute, so it falls on the same date.
    """
    if date := _FULL_DATE.fullmatch(text):
        year, month, day = (int(part) for part in date.groups())
        return _utc(year, month, day, 0, 0, 0, 0, dt.UTC)
    moment = _DATE_TIME.fullmatch(text)
    if moment is None:
        hint = " (a + in a query string must be sent as %2B)" if " " in text else ""
        raise MomentError(f"{text!r} is not a date or date-time in the expected form{hint}: write {EXPECTED_FORMS}")
    year, month, day, hour, minute, second = (int(part) for part in moment.groups()[:6])
    fraction, offset = moment.group(7), moment.group(8)
    if offset is None:
        raise MomentError(f"{text!r} has no time zone offset: add Z for UTC or ±hh:mm, e.g. 2025-03-10T12:00:00Z")
    if second == 60 and minute == 59:
        second = 59
    microsecond = int((fraction[1:] + "000000")[:6]) if fraction else 0
    zone = dt.UTC
    if offset not in ("Z", "z"):
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            raise MomentError(f"{text!r} has an offset beyond ±23:59")
        sign = -1 if offset[0] == "-" else 1
        zone = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    return _utc(year, month, day, hour, minute, second, microsecond, zone)


def _utc(
    year: int, month: int, day: int, hour: int, minute: int, second: int, microsecond: int, zone: dt.tzinfo
) -> dt.datetime:
    try:
        local = dt.datetime(year, month, day, hour, minute, second, microsecond, zone)
    except ValueError as error:
        raise MomentError(f"not a real date or time of day ({error})") from None
    try:
        return local.astimezone(dt.UTC)
    except OverflowError:
        raise MomentError("in UTC this moment falls outside the years 1 to 9999") from None


def format_moment(moment: dt.datetime) -> str:
    """An RFC 3339 UTC date-time to the second; four-digit years, unlike strftime's %Y for years before 1000."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"
