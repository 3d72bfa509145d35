"""
A shard: an append-only, time-ordered run of stream records, with its lineage.

Readers keep absolute indexes into the shard. Records are never moved, and a
record older than the stream's retention counts as trimmed wherever a reader
meets it (spec 7.1: data older than 24 h "is susceptible to trimming").

A reader with nothing to read does not poll: it leaves a callback with
:meth:`Shard.wait` and is called back on the next append (perf-notes 4.2: idle
shards cost nothing).

Records are kept in a :class:`~esm_sim._engine.chunked.ChunkedList`, which a
full collection of the cyclic GC walks one pointer per 1024 records rather than
one per record (perf-notes 4.4).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

from esm_sim._engine.chunked import ChunkedList
from esm_sim._streams.records import CREATED_MS, SEQ, Record, StreamFormat

_seq_of = itemgetter(SEQ)
_created_of = itemgetter(CREATED_MS)


class Shard:
    """
    One shard of a DynamoDB stream.

    Attributes:
        shard_id: ``shardId-<20 digits>-<8 hex>``, as DynamoDB names them.
        parent_shard_id: the shard this one followed, or None.
        created_ms: when the shard opened (epoch ms).
        closed_ms: when it was sealed, or None while open.
    """

    __slots__ = (
        "_fmt",
        "_records",
        "_waiters",
        "closed_ms",
        "created_ms",
        "parent_shard_id",
        "recent_readers",
        "shard_id",
    )

    def __init__(
        self, shard_id: str, parent_shard_id: str | None, created_ms: int, fmt: StreamFormat
    ) -> None:
        self.shard_id = shard_id
        self.parent_shard_id = parent_shard_id
        self.created_ms = created_ms
        self.closed_ms: int | None = None
        self._fmt = fmt
        self._records: ChunkedList[Record] = ChunkedList()
        # Mapping UUID -> when it last called GetRecords here (the read throttle).
        self.recent_readers: dict[str, int] = {}
        self._waiters: list[Callable[[], object]] = []

    def __repr__(self) -> str:
        state = "open" if self.closed_ms is None else "closed"
        return f"<Shard {self.shard_id} {state} records={self.end}>"

    # -- writing ---------------------------------------------------------------

    def append(self, record: Record) -> None:
        """Add a record and wake every reader waiting for one."""
        self._records.append(record)
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                waiter()

    def close(self, now_ms: int) -> None:
        """Seal the shard (read-only from now on) and wake its waiting readers."""
        self.closed_ms = now_ms
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                waiter()

    def wait(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` once, on the next append."""
        self._waiters.append(callback)

    def unwait(self, callback: Callable[[], object]) -> None:
        """Withdraw a callback left with :meth:`wait` (no error if it is not there)."""
        if callback in self._waiters:
            self._waiters.remove(callback)

    # -- reading ---------------------------------------------------------------

    @property
    def end(self) -> int:
        """The index one past the last record."""
        return len(self._records)

    def at(self, index: int) -> Record:
        """The record at an absolute index (0 <= index < end)."""
        return self._records.at(index)

    def slice(self, start: int, stop: int) -> list[Record]:
        """Records ``start`` to ``stop - 1`` (clipped to the shard), as a new list."""
        return self._records.slice(start, stop)

    def index_of(self, sequence_number: int) -> int | None:
        """The index of the record with this sequence number, or None."""
        i = self._records.bisect(sequence_number, key=_seq_of)
        if i < self.end and self.at(i)[SEQ] == sequence_number:
            return i
        return None

    def first_live(self, start: int, cutoff_ms: int) -> int:
        """The first index at or after ``start`` whose record was written after ``cutoff_ms``."""
        if start >= self.end or self.at(start)[CREATED_MS] > cutoff_ms:
            return start  # the common case, asked once per poll: nothing has aged out
        return max(start, self._records.bisect(cutoff_ms, key=_created_of, right=True))

    # -- the user's view -------------------------------------------------------

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every record of the shard, rendered as Lambda delivers them (fresh dicts)."""
        return self._fmt.render_many(list(self._records))

    @property
    def sequence_numbers(self) -> list[str]:
        """The records' sequence numbers, in order, as strings."""
        return [str(r[SEQ]) for r in self._records]

    def __len__(self) -> int:
        return self.end
