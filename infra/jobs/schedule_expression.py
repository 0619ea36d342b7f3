"""EventBridge Scheduler's schedule expressions (`rate()`, `cron()`, `at()`), checked at load.

The grammar is the one "Schedule types in EventBridge Scheduler" documents
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html). Scheduler refuses a
wrong expression only at CreateSchedule, after the jobs it would start exist; no library parses
AWS's six-field cron (cron libraries read the five-field Unix one), so the table lives here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

EXAMPLES = "e.g. 'rate(1 day)', 'cron(0 3 ? * MON *)' or 'at(2030-01-31T09:00:00)'"
RATE = re.compile(r"rate\((?P<value>\d+) (?P<unit>minute|hour|day)(?P<plural>s?)\)")
CRON = re.compile(r"cron\((?P<fields>[^()]*)\)")
AT = re.compile(r"at\((?P<moment>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# `nth` of `<weekday>#<nth>`: a month has at most five of any weekday.
MAX_NTH_WEEKDAY = 5


@dataclass(frozen=True)
class CronField:
    """One of the six fields: its values and the wildcards it takes beyond `,` `-` `*`."""

    name: str
    low: int
    high: int
    wildcards: str
    names: tuple[str, ...] = ()


DAY_OF_MONTH = CronField("day-of-month", 1, 31, "?/LW")
DAY_OF_WEEK = CronField("day-of-week", 1, 7, "?L#", WEEKDAYS)
CRON_FIELDS = (
    CronField("minutes", 0, 59, "/"),
    CronField("hours", 0, 23, "/"),
    DAY_OF_MONTH,
    CronField("month", 1, 12, "/", MONTHS),
    DAY_OF_WEEK,
    CronField("year", 1970, 2199, "/"),
)


def check_schedule(value: str) -> str:
    """A rate, cron or one-time expression EventBridge Scheduler accepts."""
    try:
        if value.startswith("rate("):
            _check_rate(value)
        elif value.startswith("cron("):
            _check_cron(value)
        elif value.startswith("at("):
            _check_at(value)
        else:
            raise ValueError("it is none of rate(value unit), cron(fields), at(yyyy-mm-ddThh:mm:ss)")
    except ValueError as problem:
        raise ValueError(f"must be an EventBridge Scheduler expression ({problem}), {EXAMPLES}") from None
    return value


def _check_rate(value: str) -> None:
    match = RATE.fullmatch(value)
    if not match:
        raise ValueError("a rate is rate(<positive integer> minute(s)|hour(s)|day(s))")
    count, unit, plural = int(match["value"]), match["unit"], match["plural"]
    if count < 1:
        raise ValueError("a rate's value must be a positive integer")
    if count == 1 and plural:
        raise ValueError(f"a value of 1 takes the singular unit: rate(1 {unit})")
    if count > 1 and not plural:
        raise ValueError(f"a value above 1 takes the plural unit: rate({count} {unit}s)")


def _check_at(value: str) -> None:
    match = AT.fullmatch(value)
    if not match:
        raise ValueError("a one-time schedule is at(yyyy-mm-ddThh:mm:ss)")
    try:
        datetime.fromisoformat(match["moment"])
    except ValueError:
        raise ValueError(f"{match['moment']} is not a date and time") from None


def _check_cron(value: str) -> None:
    match = CRON.fullmatch(value)
    fields = match["fields"].split(" ") if match else []
    if len(fields) != len(CRON_FIELDS):
        raise ValueError("a cron takes six fields: minutes hours day-of-month month day-of-week year")
    for field, text in zip(CRON_FIELDS, fields, strict=True):
        _check_field(field, text)
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ValueError("exactly one of day-of-month and day-of-week must be ?")


def _check_field(field: CronField, text: str) -> None:
    if text == "?" and "?" in field.wildcards:
        return
    items = text.split(",")
    if "#" in text and len(items) > 1:
        raise ValueError(f"{field.name} {text!r}: with # the field holds one expression")
    for item in items:
        if not _special(field, item):
            _check_stepped(field, item)


def _special(field: CronField, item: str) -> bool:
    """The day fields' L, W and # forms: last day, nearest weekday, nth weekday of the month."""
    if field is DAY_OF_MONTH and item.endswith("W") and item[:-1].isdigit():
        _number(field, item[:-1])
        return True
    if field in (DAY_OF_MONTH, DAY_OF_WEEK) and item == "L":
        return True
    if field is DAY_OF_WEEK and item.endswith("L") and len(item) > 1:
        _number(field, item[:-1])
        return True
    if field is DAY_OF_WEEK and "#" in item:
        weekday, _, nth = item.partition("#")
        _number(field, weekday)
        if not (nth.isdigit() and 1 <= int(nth) <= MAX_NTH_WEEKDAY):
            raise ValueError(f"{field.name} {item!r}: the n of <weekday>#<n> is 1-{MAX_NTH_WEEKDAY}")
        return True
    return False


def _check_stepped(field: CronField, item: str) -> None:
    """`*`, a value or a range, optionally `/<increment>`."""
    start, slash, increment = item.partition("/")
    if slash and ("/" not in field.wildcards or not increment.isdigit() or int(increment) < 1):
        raise ValueError(f"{field.name} {item!r}: an increment is <start>/<positive integer>")
    if start == "*":
        return
    low, dash, high = start.partition("-")
    _number(field, low)
    if dash:
        _number(field, high)


def _number(field: CronField, text: str) -> int:
    """A value of the field: a number in its range, or a month's or weekday's name."""
    if text.upper() in field.names:
        return field.low + field.names.index(text.upper())
    if text.isdigit() and field.low <= int(text) <= field.high:
        return int(text)
    names = f" or {field.names[0]}-{field.names[-1]}" if field.names else ""
    raise ValueError(f"{field.name} {text!r} is not {field.low}-{field.high}{names}")
