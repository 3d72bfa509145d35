"""Conversions at the edges: integer epoch milliseconds <-> datetimes and AWS's text forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Final

from esm_sim.errors import ConfigError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms_to_datetime(ms: int) -> datetime:
    """Epoch milliseconds -> timezone-aware UTC datetime (exact, no float)."""
    return _EPOCH + timedelta(milliseconds=ms)


def datetime_to_ms(when: datetime) -> int:
    """A timezone-aware datetime -> epoch milliseconds (sub-millisecond part truncated)."""
    if when.tzinfo is None:
        msg = f"when={when!r} must be timezone-aware (use datetime.timezone.utc)"
        raise ValueError(msg)
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def seconds_to_ms(seconds: float) -> int:
    """AWS seconds -> integer milliseconds, rounded to the nearest millisecond."""
    return round(seconds * 1000)


# -- time arguments at the public edge ------------------------------------------------

MAX_MS: Final = datetime_to_ms(datetime.max.replace(tzinfo=UTC))
"""
The latest instant the virtual clock may reach: 9999-12-31T23:59:59.999Z.

It is the last millisecond a ``datetime`` holds, so every instant of a run can be
shown as one. The clock starts no earlier than the Unix epoch (0 ms): AWS gives
times as epoch seconds, never negative.
"""

_CLOCK_RANGE = "1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z"


def duration_arg_ms(name: str, value: object) -> int:
    """
    A duration argument in seconds (``run_for``, ``call_later``...) as integer ms.

    Raises:
        ConfigError: naming ``name=value``, for a bool, a non-number, NaN, an
            infinity, a negative value, or more seconds than the clock can ever run
            (``MAX_MS``).
    """
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        # False for NaN and infinities too; exact for ints of any size.
        or not 0 <= value <= MAX_MS // 1000
    ):
        msg = f"{name}={value!r} must be a number of seconds from 0 to {MAX_MS // 1000}"
        raise ConfigError(msg)
    return seconds_to_ms(value)


def instant_arg_ms(name: str, value: object) -> int:
    """
    An instant argument, a timezone-aware datetime or epoch seconds, as epoch ms.

    Raises:
        ConfigError: naming ``name=value``, for a naive datetime, a bool, a
            non-number, NaN, an infinity, or an instant outside the clock's range
            (the Unix epoch to ``MAX_MS``).
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            msg = f"{name}={value!r} must be timezone-aware (use datetime.timezone.utc)"
            raise ConfigError(msg)
        ms = datetime_to_ms(value)
        if not 0 <= ms <= MAX_MS:
            msg = f"{name}={value!r} must be a time from {_CLOCK_RANGE}"
            raise ConfigError(msg)
        return ms
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and 0 <= value <= MAX_MS / 1000  # False for NaN and infinities too
    ):
        return seconds_to_ms(value)
    msg = (
        f"{name}={value!r} must be a timezone-aware datetime or epoch seconds, from {_CLOCK_RANGE}"
    )
    raise ConfigError(msg)


# Failure records and logs ask for the same few seconds over and over. A pure
# function's cache: it keeps nothing a simulation could tell apart.
@lru_cache(maxsize=8)
def _second_text(second: int) -> str:
    """``2019-11-14T00:13:19`` for epoch second ``second``."""
    return ms_to_datetime(second * 1000).strftime("%Y-%m-%dT%H:%M:%S")


def iso_ms(ms: int) -> str:
    """``2019-11-14T00:13:49.717Z``: ISO-8601 UTC with milliseconds."""
    return f"{_second_text(ms // 1000)}.{ms % 1000:03d}Z"


def iso_seconds(ms: int) -> str:
    """``2019-11-14T00:13:19Z``: ISO-8601 UTC, whole seconds (rounded down)."""
    return _second_text(ms // 1000) + "Z"


def stream_label(ms: int) -> str:
    """A DynamoDB stream label: ISO-8601 with milliseconds, no zone (spec 7.1)."""
    return ms_to_datetime(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}"


def epoch_seconds_float(ms: int) -> float:
    """Epoch seconds with a millisecond fraction, as Lambda's ``LastModified`` (spec 1.3)."""
    return ms / 1000
