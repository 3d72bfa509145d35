"""
The append-only trace: what happened, in order, one entry per happening.

Metrics, fates, timelines and plots are all computed from the trace, so what a
notebook shows and what a test asserts can never disagree. Entries are written
once per invocation, decision or state change, never once per record, so the
trace grows with the work done, not with the data.

One line per entry (``TraceEvent.line``), fixed columns::

    time  kind  mapping  shard  lane  first..last seq  n  outcome  detail

``mapping`` is the first 8 characters of the mapping UUID; ``shard`` the last 8
characters of the shard id; ``first..last`` the batch's sequence-number range.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Iterator
from operator import itemgetter
from typing import Any, NamedTuple, overload

from esm_sim._engine.chunked import FlatRows
from esm_sim._engine.timefmt import iso_ms

KINDS = (
    "state",  # a mapping changed State
    "throttle",  # an invocation request was throttled (no invocation, no retry used)
    "read-throttle",  # a GetRecords call was refused: too many readers (spec 7.4, opt-in)
    "invoke",  # the ESM sent a batch to the function
    "result",  # the invocation ended: ok, error, partial
    "split",  # bisect split a failing batch in two
    "discard",  # records left the mapping: destination or dropped
    "expire",  # records aged out of the stream before being processed
    "filter",  # a run of neighbouring records that did not match the filter criteria
    "user",  # scheduled user work ran
    "shard",  # a shard opened or closed
    "delivery-failure",  # an on-failure destination could not take the record
    "release",  # a reset dropped an open tumbling window: its records will be read again
    "redrive",  # a redrive of failure records (Simulation.redrive): start, sent, result, lost
)


class TraceEvent(NamedTuple):
    """
    One happening in a simulation (an immutable named tuple).

    ``first_seq``/``last_seq`` are sequence numbers as text ('' when not about
    records); ``count`` the number of records concerned; ``detail`` a short
    free text (request id, error, reason).

    A named tuple rather than a frozen attrs class: several are written per
    invocation, a tuple builds several times faster, and a tuple of plain
    values is left alone by the cyclic GC (perf-notes 4.4-4.5).
    """

    at_ms: int
    kind: str
    mapping: str = ""
    shard: str = ""
    lane: int = 0
    first_seq: str = ""
    last_seq: str = ""
    count: int = 0  # type: ignore[assignment]  # shadows tuple.count, by design
    outcome: str = ""
    detail: str = ""
    data: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        """A structured field from ``data`` (e.g. ``request_id``)."""
        for k, v in self.data:
            if k == key:
                return v
        return default

    def line(self) -> str:
        """The entry as one fixed-column line of text."""
        span = f"{self.first_seq}..{self.last_seq}" if self.first_seq else ""
        return (
            f"{iso_ms(self.at_ms)}  {self.kind:<10} {self.mapping[:8]:<8} "
            f"{self.shard[-8:]:<8} {self.lane:>2}  {span:<45} {self.count:>5}  "
            f"{self.outcome:<12} {self.detail}"
        ).rstrip()


_HEAD = 10  # the fields before ``data``


def _event(row: tuple[Any, ...]) -> TraceEvent:
    """The TraceEvent a stored row describes (its data pairs were flattened)."""
    first, last = row[5], row[6]
    if type(first) is int:  # the hot path stores sequence numbers as ints: text on read
        row = (*row[:5], str(first), str(last), *row[7:])
    if len(row) == _HEAD:
        return TraceEvent._make((*row, ()))
    return TraceEvent._make(
        (*row[:_HEAD], tuple(zip(row[_HEAD::2], row[_HEAD + 1 :: 2], strict=True)))
    )


class Trace:
    """
    An append-only list of :class:`TraceEvent` with text rendering and a digest.

    Entries are stored as rows of plain values with ``data`` flattened into
    them, in FlatRows (no object per entry), and read back as TraceEvents: a
    long run writes hundreds of thousands of entries, and an object kept for
    each would make the cyclic GC run, and walk them, far more often.
    """

    __slots__ = ("_rows", "forgotten", "header")

    def __init__(self, header: str) -> None:
        self.header = header
        self._rows = FlatRows()
        # Entries dropped by ``forget_before`` (``Simulation(history_hours=...)``).
        self.forgotten = 0

    def forget_before(self, at_ms: int) -> list[TraceEvent]:
        """
        Drop the leading entries that happened before ``at_ms`` and return them
        (for what keeps aggregates of them: the metrics). Indexes, ``text()`` and
        ``digest()`` then cover only the entries kept.
        """
        rows = self._rows
        # Entries are in time order: the first at or after at_ms.
        lo = bisect_left(rows, at_ms, key=itemgetter(0))
        gone = [_event(rows.row(i)) for i in range(lo)]
        rows.forget(lo)
        self.forgotten += lo
        return gone

    def append(self, event: TraceEvent) -> None:
        """Record one happening (the only way the trace grows)."""
        self._rows.append((*event[:_HEAD], *(x for pair in event.data for x in pair)))

    def add(self, row: tuple[Any, ...]) -> None:
        """
        Record one happening given as a plain row: the ten fields before
        ``data``, then data's keys and values, flattened (the hot path's form).
        ``first_seq`` and ``last_seq`` may be ints (both, or both text): they
        read back as text, and turning them into text costs more than the rest
        of the row, so it waits until somebody reads the entry.
        """
        self._rows.append(row)

    def __iter__(self) -> Iterator[TraceEvent]:
        return map(_event, self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> TraceEvent: ...

    @overload
    def __getitem__(self, index: slice) -> list[TraceEvent]: ...

    def __getitem__(self, index: int | slice) -> TraceEvent | list[TraceEvent]:
        if isinstance(index, slice):
            return [_event(r) for r in self._rows[index]]  # a list slice
        return _event(self._rows[index])

    def events(self, kind: str | None = None, mapping: str | None = None) -> list[TraceEvent]:
        """The entries, optionally only those of one kind and/or one mapping UUID."""
        return [
            _event(r)
            for r in self._rows
            if (kind is None or r[1] == kind) and (mapping is None or r[2] == mapping)
        ]

    def text(self) -> str:
        """The whole trace: its header line, then one line per entry."""
        return "\n".join([self.header, *(e.line() for e in self)])

    def digest(self) -> str:
        """A SHA-256 over the full text: equal digests mean byte-identical traces."""
        return hashlib.sha256(self.text().encode()).hexdigest()
