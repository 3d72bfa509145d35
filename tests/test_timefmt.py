"""Tests for esm_sim._engine.timefmt: epoch milliseconds <-> datetimes and AWS's text forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from esm_sim._engine.timefmt import (
    datetime_to_ms,
    epoch_seconds_float,
    iso_ms,
    iso_seconds,
    ms_to_datetime,
    seconds_to_ms,
    stream_label,
)

T2026 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


class TestMsToDatetime:
    """ms_to_datetime: exact, timezone-aware UTC."""

    def test_known_instant(self) -> None:
        """2026-01-01T00:00:00.123Z is 1767225600123 ms."""
        assert datetime(2026, 1, 1, 0, 0, 0, 123_000, tzinfo=UTC) == ms_to_datetime(T2026 + 123)

    def test_is_aware_utc(self) -> None:
        """The datetime carries the UTC zone."""
        assert UTC == ms_to_datetime(0).tzinfo

    @given(st.integers(min_value=-(10**12), max_value=10**14))
    def test_round_trip(self, ms: int) -> None:
        """datetime_to_ms inverts ms_to_datetime exactly."""
        assert ms == datetime_to_ms(ms_to_datetime(ms))


class TestDatetimeToMs:
    """datetime_to_ms: aware datetimes only, sub-millisecond part dropped."""

    def test_other_zone(self) -> None:
        """An instant in another zone converts to the same epoch ms."""
        plus2 = timezone(timedelta(hours=2))
        assert T2026 == datetime_to_ms(datetime(2026, 1, 1, 2, 0, tzinfo=plus2))

    def test_truncates_microseconds(self) -> None:
        """Microseconds below a millisecond are truncated."""
        assert T2026 + 1 == datetime_to_ms(datetime(2026, 1, 1, 0, 0, 0, 1_999, tzinfo=UTC))

    def test_naive_refused(self) -> None:
        """A naive datetime is refused, naming the argument."""
        with pytest.raises(ValueError, match=r"^when=datetime\.datetime\(2026, 1, 1, 0, 0\) must"):
            datetime_to_ms(datetime(2026, 1, 1))


class TestSecondsToMs:
    """seconds_to_ms: AWS seconds to integer milliseconds."""

    @pytest.mark.parametrize(
        ("seconds", "ms"),
        [(0, 0), (1, 1000), (0.25, 250), (2.0015, 2002), (900, 900_000), (0.0004, 0)],
        ids=["zero", "one", "quarter", "round-up", "max-timeout", "round-down"],
    )
    def test_values(self, seconds: float, ms: int) -> None:
        """Seconds become the nearest whole millisecond."""
        assert ms == seconds_to_ms(seconds)

    def test_returns_int(self) -> None:
        """The result is an int, never a float."""
        assert int is type(seconds_to_ms(1.5))


class TestTextForms:
    """iso_ms, iso_seconds, stream_label, epoch_seconds_float."""

    def test_iso_ms(self) -> None:
        """iso_ms writes ISO-8601 UTC with three millisecond digits and a Z."""
        assert "2026-01-01T00:00:00.007Z" == iso_ms(T2026 + 7)

    def test_iso_ms_before_epoch(self) -> None:
        """iso_ms is right for instants before 1970 too."""
        assert "1969-12-31T23:59:59.999Z" == iso_ms(-1)

    def test_iso_seconds_rounds_down(self) -> None:
        """iso_seconds drops the milliseconds (rounds down)."""
        assert "2026-01-01T00:00:00Z" == iso_seconds(T2026 + 999)

    def test_stream_label(self) -> None:
        """A stream label is ISO-8601 with milliseconds and no zone (spec 7.1)."""
        assert "2026-01-01T00:00:01.291" == stream_label(T2026 + 1291)

    def test_epoch_seconds_float(self) -> None:
        """LastModified is epoch seconds as a float with the millisecond fraction (spec 1.3)."""
        value = epoch_seconds_float(1_560_209_851_963)
        assert float is type(value)
        assert 1560209851.963 == value
