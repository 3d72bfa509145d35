"""Tests for esm_sim._engine.trace: TraceEvent lines, Trace text and digest."""

from __future__ import annotations

import pytest

from esm_sim._engine.trace import KINDS, Trace, TraceEvent
from tests.gc_helpers import tracked_growth

T2026 = 1_767_225_600_000
SHARD = "shardId-00000001767225600000-dba92c4c"
UUID = "abcdef01-2345-4678-89ab-cdef01234567"


def _invoke(at_ms: int = T2026 + 123, detail: str = "req-1") -> TraceEvent:
    return TraceEvent(
        at_ms=at_ms,
        kind="invoke",
        mapping=UUID,
        shard=SHARD,
        lane=0,
        first_seq="100000000000000000100",
        last_seq="100000000000000000300",
        count=3,
        outcome="sent",
        detail=detail,
        data=(("request_id", detail), ("iterator_age_ms", 5)),
    )


class TestTraceEventLine:
    """TraceEvent.line: one fixed-column line."""

    def test_exact_line(self) -> None:
        """An invoke entry renders with every column in its place."""
        span = "100000000000000000100..100000000000000000300"
        expected = (
            "2026-01-01T00:00:00.123Z  invoke     abcdef01 dba92c4c  0  "
            f"{span:<45}     3  sent         req-1"
        )
        assert expected == _invoke().line()

    def test_columns_align(self) -> None:
        """Entries of different kinds put the count column at the same offset."""
        a = _invoke().line()
        b = TraceEvent(
            at_ms=T2026,
            kind="discard",
            mapping=UUID,
            shard=SHARD,
            lane=1,
            first_seq="1",
            last_seq="2",
            count=12,
            outcome="destination",
            detail="x",
        ).line()
        assert a.index("  sent ") == b.index("  destination ")

    def test_mapping_first_8_shard_last_8(self) -> None:
        """The mapping column shows the first 8 characters and the shard column the last 8."""
        fields = _invoke().line().split()
        assert ["abcdef01", "dba92c4c"] == fields[2:4]

    def test_no_span_without_records(self) -> None:
        """An entry not about records has no '..' span and no trailing blanks."""
        line = TraceEvent(at_ms=0, kind="user", detail="write").line()
        assert ".." not in line
        assert line == line.rstrip()
        assert line.endswith("0  " + " " * 12 + " write")

    def test_get_reads_data(self) -> None:
        """get() returns a data field, or the default when absent."""
        e = _invoke()
        assert ("req-1", 5, "none") == (
            e.get("request_id"),
            e.get("iterator_age_ms"),
            e.get("zz", "none"),
        )

    def test_frozen(self) -> None:
        """A TraceEvent cannot be changed after it is made."""
        e = _invoke()
        with pytest.raises(AttributeError):
            e.kind = "state"  # type: ignore[misc]

    def test_kinds_documented(self) -> None:
        """Every kind the simulator writes is in KINDS."""
        assert {
            "state",
            "throttle",
            "invoke",
            "result",
            "split",
            "discard",
            "expire",
            "filter",
            "user",
            "delivery-failure",
        } <= set(KINDS)


class TestTrace:
    """Trace: append-only, text with a header, digest."""

    def test_text_header_first(self) -> None:
        """text() is the header line, then one line per entry in order."""
        t = Trace("# esm_sim trace seed=0")
        t.append(_invoke(detail="a"))
        t.append(_invoke(detail="b"))
        lines = t.text().split("\n")
        assert [
            "# esm_sim trace seed=0",
            _invoke(detail="a").line(),
            _invoke(detail="b").line(),
        ] == lines

    def test_empty_trace_text_is_header(self) -> None:
        """An empty trace's text is just its header."""
        assert "# h" == Trace("# h").text()

    def test_digest_equal_for_equal_traces(self) -> None:
        """Two traces with the same header and entries have the same digest."""
        a, b = Trace("# h"), Trace("# h")
        for t in (a, b):
            t.append(_invoke())
        assert a.digest() == b.digest()
        assert 64 == len(a.digest())

    @pytest.mark.parametrize(
        "change", ["header", "entry", "extra"], ids=["header", "entry-detail", "extra-entry"]
    )
    def test_digest_differs(self, change: str) -> None:
        """Any change of header or entries changes the digest."""
        a = Trace("# h")
        a.append(_invoke())
        b = Trace("# other" if change == "header" else "# h")
        b.append(_invoke(detail="changed") if change == "entry" else _invoke())
        if change == "extra":
            b.append(_invoke())
        assert a.digest() != b.digest()

    def test_events_filter(self) -> None:
        """events() filters by kind and by mapping."""
        t = Trace("# h")
        t.append(_invoke())
        t.append(TraceEvent(at_ms=1, kind="user"))
        t.append(TraceEvent(at_ms=2, kind="invoke", mapping="other"))
        assert 2 == len(t.events(kind="invoke"))
        assert [t[0]] == t.events(kind="invoke", mapping=UUID)
        assert [t[1]] == t.events(kind="user")

    def test_len_iter_getitem(self) -> None:
        """A trace has a length, iterates in order and indexes."""
        t = Trace("# h")
        e1, e2 = _invoke(detail="1"), _invoke(detail="2")
        t.append(e1)
        t.append(e2)
        assert (2, [e1, e2], e2) == (len(t), list(t), t[1])

    def test_entries_are_stored_with_no_object_each_for_the_gc(self) -> None:
        """Entries, data included, are kept with no object per entry for the cyclic GC, and read back equal."""
        t = Trace("# h")
        event = _invoke()
        added = tracked_growth(lambda: [t.append(event) for _ in range(5000)])
        assert added < 20  # a few frozen chunks, not 5000 rows
        assert (event, event) == (t[0], t[-1])

    def test_rows_with_int_sequence_numbers_read_back_as_text(self) -> None:
        """A hot-path row may hold sequence numbers as ints; its entry has them as text."""
        t = Trace("# h")
        t.add((5, "invoke", "m", "s", 0, 100, 200, 2, "sent", "rid", "request_id", "rid"))
        e = t[0]
        assert ("100", "200", (("request_id", "rid"),)) == (e.first_seq, e.last_seq, e.data)
