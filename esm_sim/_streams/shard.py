"""
A shard: an append-only, time-ordered run of stream records, with its lineage.

Readers keep absolute indexes into the shard. Records are never moved, and a
record older than the stream's retention counts as trimmed wherever a reader
meets it (spec 7.1: data older than 24 h "is susceptible to trimming").

A reader with nothing to read does not poll: it leaves a callback with
:meth:`Shard.wait` and is called back on the next append (perf-notes 4.2: idle
shards cost nothing).

Records are kept in chunks of 1024: each full chunk is frozen into a tuple,
which the cyclic GC stops tracking once its records are untracked, so a full
collection walks one pointer per chunk instead of one per record (perf-notes
4.4: with a million stored records, a plain list is walked by every full
collection the run triggers).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from typing import Any

from esm_sim._streams.records import CREATED_MS, SEQ, Record, StreamFormat

CHUNK_BITS = 10
CHUNK = 1 << CHUNK_BITS  # records per frozen chunk
_LOW = CHUNK - 1


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
        "_chunks",
        "_fmt",
        "_tail",
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
        # Full chunks (tuples of CHUNK records), then the chunk being filled.
        self._chunks: list[tuple[Record, ...]] = []
        self._tail: list[Record] = []
        # Mapping UUID -> when it last called GetRecords here (the read throttle).
        self.recent_readers: dict[str, int] = {}
        self._waiters: list[Callable[[], object]] = []

    def __repr__(self) -> str:
        state = "open" if self.closed_ms is None else "closed"
        return f"<Shard {self.shard_id} {state} records={self.end}>"

    # -- writing ---------------------------------------------------------------

    def append(self, record: Record) -> None:
        """Add a record and wake every reader waiting for one."""
        tail = self._tail
        tail.append(record)
        if len(tail) == CHUNK:
            self._chunks.append(tuple(tail))
            self._tail = []
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
        return (len(self._chunks) << CHUNK_BITS) + len(self._tail)

    def at(self, index: int) -> Record:
        """The record at an absolute index (0 <= index < end)."""
        c = index >> CHUNK_BITS
        chunks = self._chunks
        if c < len(chunks):
            return chunks[c][index & _LOW]
        return self._tail[index - (len(chunks) << CHUNK_BITS)]

    def slice(self, start: int, stop: int) -> list[Record]:
        """Records ``start`` to ``stop - 1`` (clipped to the shard), as a new list."""
        stop = min(stop, self.end)
        if start >= stop:
            return []
        chunks = self._chunks
        c = start >> CHUNK_BITS
        last = (stop - 1) >> CHUNK_BITS
        full = len(chunks)
        if c == last:  # the common case: one batch within one chunk
            source = chunks[c] if c < full else self._tail
            return list(source[start & _LOW : ((stop - 1) & _LOW) + 1])
        out: list[Record] = []
        for k in range(c, last + 1):
            source = chunks[k] if k < full else self._tail
            lo = start & _LOW if k == c else 0
            hi = ((stop - 1) & _LOW) + 1 if k == last else CHUNK
            out.extend(source[lo:hi])
        return out

    def _bisect(self, field: int, value: int, *, right: bool) -> int:
        """``bisect_left``/``bisect_right`` of ``value`` over the records' ``field``."""
        find = bisect_right if right else bisect_left
        chunks: list[Any] = self._chunks  # records of atomic fields: Any for the key
        # Every record in the chunks before c falls before the insertion point
        # (their last one does), so it lies in chunk c, or in the tail.
        c = find(chunks, value, key=lambda chunk: chunk[-1][field])
        source: Sequence[Any] = chunks[c] if c < len(chunks) else self._tail
        return (c << CHUNK_BITS) + find(source, value, key=lambda r: r[field])

    def index_of(self, sequence_number: int) -> int | None:
        """The index of the record with this sequence number, or None."""
        i = self._bisect(SEQ, sequence_number, right=False)
        if i < self.end and self.at(i)[SEQ] == sequence_number:
            return i
        return None

    def first_live(self, start: int, cutoff_ms: int) -> int:
        """The first index at or after ``start`` whose record was written after ``cutoff_ms``."""
        if start >= self.end or self.at(start)[CREATED_MS] > cutoff_ms:
            return start  # the common case, asked once per poll: nothing has aged out
        return max(start, self._bisect(CREATED_MS, cutoff_ms, right=True))

    def _all(self) -> list[Record]:
        out: list[Record] = []
        for chunk in self._chunks:
            out.extend(chunk)
        out.extend(self._tail)
        return out

    # -- the user's view -------------------------------------------------------

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every record of the shard, rendered as Lambda delivers them (fresh dicts)."""
        render = self._fmt.render
        return [render(r) for r in self._all()]

    @property
    def sequence_numbers(self) -> list[str]:
        """The records' sequence numbers, in order, as strings."""
        return [str(r[SEQ]) for r in self._all()]

    def __len__(self) -> int:
        return self.end
