"""
Tumbling-window state of one reader (spec 6): the open window, its running state, and
the records that wait in it for the window's final invocation.

With ``TumblingWindowInSeconds`` W, each record belongs to the window
``[floor(t/W)*W, +W)`` of its ``ApproximateCreationDateTime`` in whole seconds
(epoch-aligned, I; ``tumbling_window_alignment="first-record"`` counts from
the first record the reader reads instead). A batch never mixes windows.
Aggregation invocations carry the running ``state``; their records wait,
not yet processed, for the window's final invocation. Only when it succeeds
are the window's records checkpointed and the state dropped (spec 6.3).
"""

from __future__ import annotations

from operator import itemgetter

from esm_sim._streams.records import CREATED_MS, SEQ, Record

_seq_of = itemgetter(SEQ)

MAX_WINDOW_STATE_BYTES = 1024 * 1024  # spec 6.1: state is at most 1 MB per shard
EMPTY_STATE = "{}"  # spec 6.2 (I): the first invocation of a window gets {}


class TumblingWindow:
    """
    The open window of one reader, or none (``start_ms`` -1).

    ``records`` are the records delivered to the window and waiting for its
    final invocation; ``spans`` the reader positions ``[start, end)`` they
    (and the records filtered among them) cover, finished together when the
    final invocation succeeds.
    """

    __slots__ = ("end_ms", "origin_ms", "records", "size_ms", "spans", "start_ms", "state_json")

    def __init__(self, size_ms: int, *, epoch_aligned: bool) -> None:
        self.size_ms = size_ms
        # Where bounds are counted from: the epoch (0), or the first record read (-1 until then).
        self.origin_ms = 0 if epoch_aligned else -1
        self.start_ms = -1
        self.end_ms = -1
        self.state_json = EMPTY_STATE
        self.records: list[Record] = []
        self.spans: list[tuple[int, int]] = []

    @property
    def is_open(self) -> bool:
        """Whether a window is open."""
        return self.start_ms >= 0

    @property
    def holds(self) -> bool:
        """Whether the open window holds records waiting for its final invocation."""
        return bool(self.records)

    def window_of(self, record: Record) -> int:
        """The start (epoch ms) of the window a record belongs to (spec 6.1)."""
        created = record[CREATED_MS]
        seconds_ms = created - created % 1000
        if self.origin_ms < 0:
            self.origin_ms = seconds_ms  # spec 6.1 (I): counted from the first record read
        return seconds_ms - (seconds_ms - self.origin_ms) % self.size_ms

    def open(self, start_ms: int) -> None:
        """Open the window starting at ``start_ms`` with a fresh state."""
        self.start_ms = start_ms
        self.end_ms = start_ms + self.size_ms
        self.state_json = EMPTY_STATE
        self.records = []
        self.spans = []

    def close(self) -> None:
        """Forget the open window (its records are dealt with by the caller)."""
        self.start_ms = self.end_ms = -1
        self.state_json = EMPTY_STATE
        self.records = []
        self.spans = []

    def add(self, records: list[Record], span: tuple[int, int], state_json: str) -> None:
        """
        Records an aggregation invocation handled join the window, with the new
        state; the window keeps them in stream order (bisect may finish its second
        half first), so an age or retention cut takes the oldest.
        """
        self.state_json = state_json
        if records and self.records and records[0][SEQ] < self.records[-1][SEQ]:
            self.records = sorted([*self.records, *records], key=_seq_of)
            self.spans = sorted([*self.spans, span])
            return
        self.records.extend(records)
        self.spans.append(span)

    def drop_prefix(self, k: int) -> list[Record]:
        """Take the window's ``k`` oldest records out of it (they expired or aged out)."""
        gone, self.records = self.records[:k], self.records[k:]
        return gone

    def over_size(self) -> bool:
        """Whether the state passed 1 MB, which ends the window early (spec 6.1)."""
        return len(self.state_json) > MAX_WINDOW_STATE_BYTES

    def info(self, *, final: bool, early: bool) -> tuple[int, int, str, bool, bool]:
        """What an invocation's event adds: bounds, state, final and early flags (spec 6.2)."""
        return (self.start_ms, self.end_ms, self.state_json, final, early)
