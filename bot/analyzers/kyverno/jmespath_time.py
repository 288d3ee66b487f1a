"""Kyverno's ``time_*`` functions (``pkg/engine/jmespath/time.go``) and Go's time rules under them.

Times are RFC 3339 text in and out, formatted at seconds precision as Go's ``time.RFC3339``;
``time_parse`` and ``time_since`` read Go reference layouts (``Mon Jan _2 15:04:05 MST 2006``),
turned here into regexes. Separate because layouts, zones and durations are one body of rules
that only these functions use.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from functools import lru_cache
from typing import Any

from bot.analyzers.kyverno.jmespath_arguments import FunctionTable, arg, fail, string_args
from bot.analyzers.kyverno.values import format_duration, parse_duration

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
)


def _parse_rfc3339(name: str, text: str) -> datetime:
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise fail(name, f'parsing time "{text}" as "2006-01-02T15:04:05Z07:00": cannot parse')
    fraction = match[7] or ""
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    zone = match[8]
    if zone in ("Z", "z"):
        tz: Any = UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = _fixed_zone(sign * (int(zone[1:3]) * 60 + int(zone[4:6])))
    return datetime(
        int(match[1]),
        int(match[2]),
        int(match[3]),
        int(match[4]),
        int(match[5]),
        int(match[6]),
        micro,
        tzinfo=tz,
    )


def _fixed_zone(minutes: int) -> timezone:
    return timezone(timedelta(minutes=minutes))


def _format_rfc3339(moment: datetime) -> str:
    """Go ``time.RFC3339`` layout: seconds precision, ``Z`` for UTC."""
    offset = moment.utcoffset() or timedelta(0)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if offset == timedelta(0):
        return text + "Z"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


# Go layout elements (longest first, as time.nextStdChunk tries them) -> (regex, field)
_GO_LAYOUT: list[tuple[str, str, str]] = [
    ("January", "(" + "|".join(_MONTHS) + ")", "month_name"),
    ("Monday", "(" + "|".join(_DAYS) + ")", ""),
    ("2006", r"(\d{4})", "year"),
    ("Z07:00:00", r"(Z|[+-]\d\d:\d\d:\d\d)", "zone"),
    ("-07:00:00", r"([+-]\d\d:\d\d:\d\d)", "zone"),
    ("Z070000", r"(Z|[+-]\d{6})", "zone"),
    ("-070000", r"([+-]\d{6})", "zone"),
    ("Z07:00", r"(Z|[+-]\d\d:\d\d)", "zone"),
    ("-07:00", r"([+-]\d\d:\d\d)", "zone"),
    ("Z0700", r"(Z|[+-]\d{4})", "zone"),
    ("-0700", r"([+-]\d{4})", "zone"),
    ("Z07", r"(Z|[+-]\d\d)", "zone"),
    ("-07", r"([+-]\d\d)", "zone"),
    ("Jan", "(" + "|".join(m[:3] for m in _MONTHS) + ")", "month_name"),
    ("Mon", "(" + "|".join(d[:3] for d in _DAYS) + ")", ""),
    ("MST", r"([A-Z]{3,5}|[+-]\d+)", "zone_name"),
    ("002", r"(\d{3})", "yday"),
    ("_2", r" ?(\d{1,2})", "day"),
    ("01", r"(\d\d)", "month"),
    ("02", r"(\d\d)", "day"),
    ("03", r"(\d\d)", "hour12"),
    ("04", r"(\d\d)", "minute"),
    ("05", r"(\d\d)", "second"),
    ("06", r"(\d\d)", "year2"),
    ("15", r"(\d{1,2})", "hour"),
    ("PM", "(AM|PM)", "ampm"),
    ("pm", "(am|pm)", "ampm"),
    ("1", r"(\d{1,2})", "month"),
    ("2", r"(\d{1,2})", "day"),
    ("3", r"(\d{1,2})", "hour12"),
    ("4", r"(\d{1,2})", "minute"),
    ("5", r"(\d{1,2})", "second"),
]


_FRACTION = re.compile(r"[.,](0+|9+)")


@lru_cache(maxsize=64)
def _layout_regex(layout: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """A Go reference layout (``Mon Jan _2 15:04:05 MST 2006``) as a regex and its fields."""
    parts: list[str] = []
    fields: list[str] = []
    rest = layout
    while rest:
        fraction = _FRACTION.match(rest)
        if fraction is not None and (not rest[fraction.end() :][:1].isdigit()):
            digits = len(fraction[1])
            width = f"{{{digits}}}" if fraction[1][0] == "0" else f"{{1,{digits}}}"
            parts.append(r"(?:[.,](\d" + width + "))" + ("" if fraction[1][0] == "0" else "?"))
            fields.append("fraction")
            rest = rest[fraction.end() :]
            continue
        for token, pattern, field in _GO_LAYOUT:
            if rest.startswith(token):
                parts.append(pattern)
                fields.append(field)
                rest = rest[len(token) :]
                if field == "second" and not _FRACTION.match(rest):
                    # Go accepts fractional seconds after a seconds field in any layout
                    parts.append(r"(?:[.,](\d+))?")
                    fields.append("fraction")
                break
        else:
            parts.append(re.escape(rest[0]))
            rest = rest[1:]
    return re.compile("".join(parts)), tuple(fields)


def _parse_layout(name: str, layout: str, text: str) -> datetime:
    """Go ``time.Parse(layout, text)``; a zone abbreviation other than UTC reads as UTC+0, as
    Go does when the abbreviation is not the local zone's."""
    regex, fields = _layout_regex(layout)
    match = regex.fullmatch(text)
    if match is None:
        raise fail(name, f'parsing time "{text}" as "{layout}": cannot parse')
    found: dict[str, str] = {}
    for field, value in zip(fields, match.groups(), strict=True):
        if field and value is not None:
            found[field] = value
    try:
        return _assemble_time(found)
    except ValueError as error:
        raise fail(name, f'parsing time "{text}": {error}') from None


def _assemble_time(found: dict[str, str]) -> datetime:
    year = int(found.get("year", "0"))
    if "year2" in found:
        short = int(found["year2"])
        year = short + (1900 if short >= 69 else 2000)
    if "month_name" in found:
        month = 1 + [m[: len(found["month_name"])] for m in _MONTHS].index(found["month_name"])
    else:
        month = int(found.get("month", "1"))
    day = int(found.get("day", "1"))
    hour = int(found.get("hour", "0"))
    if "hour12" in found:
        hour = int(found["hour12"]) % 12 + (12 if found.get("ampm", "").lower() == "pm" else 0)
    fraction = found.get("fraction", "")
    micro = int((fraction + "000000")[:6]) if fraction else 0
    tz: Any = UTC
    zone = found.get("zone")
    if zone and zone != "Z":
        digits = zone[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:4] or "0")
        tz = _fixed_zone(minutes if zone[0] == "+" else -minutes)
    moment = datetime(
        year or 1,
        month,
        day,
        hour,
        int(found.get("minute", "0")),
        int(found.get("second", "0")),
        micro,
        tzinfo=tz,
    )
    if "yday" in found:
        moment = moment.replace(month=1, day=1) + timedelta(days=int(found["yday"]) - 1)
    return moment


def _seconds_between(start: datetime, end: datetime) -> Fraction:
    delta = end - start
    return Fraction(delta.days * 86400 + delta.seconds) + Fraction(delta.microseconds, 10**6)


def _now() -> datetime:
    return datetime.now(UTC)


def _duration_arg(name: str, text: str) -> Fraction:
    duration = parse_duration(text)
    if duration is None:
        raise fail(name, f'time: invalid duration "{text}"')
    return duration


def _fn_time_since(name: str, args: list[Any]) -> Any:
    layout, first, second = string_args(name, args)

    def parse(text: str) -> datetime:
        return _parse_layout(name, layout, text) if layout else _parse_rfc3339(name, text)

    start = parse(first)
    end = parse(second) if second else _now()
    return format_duration(_seconds_between(start, end))


def _fn_time_now(name: str, args: list[Any]) -> Any:
    return _format_rfc3339(datetime.now().astimezone())


def _fn_time_now_utc(name: str, args: list[Any]) -> Any:
    return _format_rfc3339(_now())


def _fn_time_to_cron(name: str, args: list[Any]) -> Any:
    moment = _parse_rfc3339(name, arg(name, args, 0, "string"))
    weekday = (moment.weekday() + 1) % 7  # Go: Sunday = 0
    return f"{moment.minute} {moment.hour} {moment.day} {moment.month} {weekday}"


def _fn_time_add(name: str, args: list[Any]) -> Any:
    moment = _parse_rfc3339(name, arg(name, args, 0, "string"))
    delta = _duration_arg(name, arg(name, args, 1, "string"))
    return _format_rfc3339(moment + timedelta(seconds=float(delta)))


def _fn_time_parse(name: str, args: list[Any]) -> Any:
    layout, text = string_args(name, args)
    if re.fullmatch(r"[+-]?\d+", layout):  # an epoch layout
        if re.fullmatch(r"[+-]?\d+", text) is None:
            raise fail(name, f'strconv.ParseInt: parsing "{text}": invalid syntax')
        return _format_rfc3339(datetime.fromtimestamp(int(text), UTC))
    return _format_rfc3339(_parse_layout(name, layout, text))


def _fn_time_utc(name: str, args: list[Any]) -> Any:
    moment = _parse_rfc3339(name, arg(name, args, 0, "string"))
    return _format_rfc3339(moment.astimezone(UTC))


def _fn_time_diff(name: str, args: list[Any]) -> Any:
    first, second = (_parse_rfc3339(name, text) for text in string_args(name, args))
    return format_duration(_seconds_between(first, second))


def _fn_time_before(name: str, args: list[Any]) -> Any:
    first, second = (_parse_rfc3339(name, text) for text in string_args(name, args))
    return first < second


def _fn_time_after(name: str, args: list[Any]) -> Any:
    first, second = (_parse_rfc3339(name, text) for text in string_args(name, args))
    return first > second


def _fn_time_between(name: str, args: list[Any]) -> Any:
    moment, start, end = (_parse_rfc3339(name, text) for text in string_args(name, args))
    return start < moment < end


def _fn_time_truncate(name: str, args: list[Any]) -> Any:
    moment = _parse_rfc3339(name, arg(name, args, 0, "string"))
    step = _duration_arg(name, arg(name, args, 1, "string"))
    if step <= 0:
        return _format_rfc3339(moment)
    # Go truncates the absolute time since the zero time (UTC), which for whole-second
    # steps equals truncating the Unix time
    epoch = Fraction(int(moment.timestamp() * 10**6), 10**6)
    truncated = epoch - (epoch % step)
    return _format_rfc3339(datetime.fromtimestamp(float(truncated), UTC).astimezone(moment.tzinfo))


FUNCTIONS: FunctionTable = {
    "time_since": (3, _fn_time_since),
    "time_now": (0, _fn_time_now),
    "time_now_utc": (0, _fn_time_now_utc),
    "time_to_cron": (1, _fn_time_to_cron),
    "time_add": (2, _fn_time_add),
    "time_parse": (2, _fn_time_parse),
    "time_utc": (1, _fn_time_utc),
    "time_diff": (2, _fn_time_diff),
    "time_before": (2, _fn_time_before),
    "time_after": (2, _fn_time_after),
    "time_between": (3, _fn_time_between),
    "time_truncate": (2, _fn_time_truncate),
}
