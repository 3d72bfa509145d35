"""Conversions at the edges: integer epoch milliseconds <-> datetimes and AWS's text forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

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
