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

Trimming (spec 7.1: "Stream records are kept for 24 hours"; older records are
removed from the stream, "trimmed"). A record past the stream's retention that
every mapping reading the shard has also passed (its checkpoint is beyond it) can
be read by nobody any more: a reader meeting it only expires it, GetRecords starts
at the trim horizon, a redrive reports it lost. Its payload (images, keys, sizes,
eventID) is then freed, a chunk of 1024 records at a time when the shard's
:class:`Trimmer` allows it (checked once per chunk appended, so the cost is
amortised over the chunk; a table's rollover looks too, for shards that fill
slowly and closed shards). What stays per trimmed record is what ``fate()``,
``fate_counts()``, ``sequence_numbers`` and lane dealing need: its sequence
number and creation time (``array('q')``, 8 bytes each) and its key's lane
hash (``array("I")``, 4 bytes). Reading a trimmed record gives a *tombstone*: a
Record with its real SEQ and CREATED_MS and empty payload (no keys, no images,
size 0, eventID "").
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable
from operator import itemgetter
from typing import Any, Protocol

from esm_sim._engine.chunked import CHUNK_BITS, ChunkedList
from esm_sim._streams.attributes import Image
from esm_sim._streams.records import (
    CREATED_MS,
    KEYS,
    SEQ,
    SEQUENCE_BASE,
    Record,
    StreamFormat,
)

_seq_of = itemgetter(SEQ)
_created_of = itemgetter(CREATED_MS)


_SEQ_MAX = SEQUENCE_BASE + (1 << 63) - 1  # what an array("q") offset holds
_NO_KEYS: Image = ()


class Trimmer(Protocol):
    """What a shard asks before freeing trimmed records (given by the simulation)."""

    def floor(self, shard: Shard) -> int:
        """The lowest shard index some mapping reading ``shard`` has not passed (its checkpoint)."""
        ...

    def key_hash(self, keys: Image) -> int:
        """The 32-bit lane hash of an item key (kept per trimmed record for later lane tables)."""
        ...

    def sweep(self) -> None:
        """Trim every shard of the table as far as it may be (``Shard.trim``)."""
        ...


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
        "_trimmed_created",
        "_trimmed_hash",
        "_trimmed_seq",
        "_waiters",
        "closed_ms",
        "created_ms",
        "parent_shard_id",
        "recent_readers",
        "shard_id",
        "trimmed",
        "trimmer",
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
        # Trimming: records below ``trimmed`` are freed; what each keeps (module doc).
        self.trimmer: Trimmer | None = None
        self.trimmed = 0
        self._trimmed_seq = array("q")  # sequence number - SEQUENCE_BASE
        self._trimmed_created = array("q")
        self._trimmed_hash = array("I")

    def __repr__(self) -> str:
        state = "open" if self.closed_ms is None else "closed"
        return f"<Shard {self.shard_id} {state} records={self.end}>"

    # -- writing ---------------------------------------------------------------

    def append(self, record: Record) -> None:
        """Add a record and wake every reader waiting for one."""
        records = self._records
        records.append(record)
        if not records.tail and self.trimmer is not None:
            self.trimmer.sweep()  # a chunk just filled: once per 1024 records, look
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

    # -- trimming --------------------------------------------------------------

    def trim(self, cutoff_ms: int) -> None:
        """
        Free the payload of records written at or before ``cutoff_ms`` (past
        retention) that every mapping reading the shard has passed, whole
        chunks at a time; a closed shard trimmed to its end frees its last,
        partial chunk too (its slots stay, empty).
        """
        trimmer = self.trimmer
        records = self._records
        chunks = records.chunks
        end = self.end
        trimmed = self.trimmed
        if trimmer is None or trimmed >= end:
            return
        # The cheap common case: the oldest kept chunk is not all past retention.
        oldest = chunks[records.dropped] if records.dropped < len(chunks) else records.tail
        if oldest[-1][CREATED_MS] > cutoff_ms:
            return
        limit = min(self.first_live(trimmed, cutoff_ms), trimmer.floor(self))
        stop = min(limit >> CHUNK_BITS, len(chunks))
        whole = self.closed_ms is not None and limit >= end
        if stop <= records.dropped and not whole:
            return
        seqs, created, hashes = self._trimmed_seq, self._trimmed_created, self._trimmed_hash
        key_hash = trimmer.key_hash
        parts = [chunks[c] for c in range(records.dropped, stop)]
        if whole:
            parts.append(tuple(records.tail))
        for part in parts:
            if part and not SEQUENCE_BASE <= part[0][SEQ] <= part[-1][SEQ] <= _SEQ_MAX:
                return  # cannot be kept compactly (never with the simulation's numbers)
        for part in parts:
            seqs.extend([r[SEQ] - SEQUENCE_BASE for r in part])
            created.extend([r[CREATED_MS] for r in part])
            hashes.extend([key_hash(r[KEYS]) for r in part])
        if whole:
            # Nothing of a sealed shard is left to read: its storage goes (``end``
            # is then ``trimmed``).
            self._records = ChunkedList()
            self.trimmed = end
        else:
            records.drop_chunks(stop)
            self.trimmed = stop << CHUNK_BITS

    def trimmable_from_ms(self) -> int | None:
        """
        The earliest cutoff at which :meth:`trim` could free anything now: when
        the last record of the oldest chunk kept was written (None: none kept).
        Records appended later are newer, so this only grows until then.
        """
        if self.trimmer is None or self.trimmed >= self.end:
            return None
        records = self._records
        chunks = records.chunks
        oldest = chunks[records.dropped] if records.dropped < len(chunks) else records.tail
        return int(oldest[-1][CREATED_MS])

    def _tombstone(self, index: int) -> Record:
        """What a trimmed record reads as: its sequence number and creation time only."""
        return (
            self._trimmed_seq[index] + SEQUENCE_BASE,
            self._trimmed_created[index],
            "",
            _NO_KEYS,
            None,
            None,
            0,
            0,
            "",
        )

    def trimmed_key_hash(self, index: int) -> int:
        """The lane hash a trimmed record kept of its key (0 <= index < trimmed)."""
        return self._trimmed_hash[index]

    def trimmed_key_hashes(self, start: int) -> array[int]:
        """The lane hashes of trimmed records ``start`` to ``trimmed - 1`` (lane dealing)."""
        return self._trimmed_hash[start : self.trimmed]

    # -- reading ---------------------------------------------------------------

    @property
    def end(self) -> int:
        """The index one past the last record."""
        return len(self._records) or self.trimmed  # a sealed shard trimmed whole keeps none

    def at(self, index: int) -> Record:
        """The record at an absolute index (0 <= index < end); a trimmed one is a tombstone."""
        if index < self.trimmed:
            return self._tombstone(index)
        return self._records.at(index)

    def slice(self, start: int, stop: int) -> list[Record]:
        """Records ``start`` to ``stop - 1`` (clipped to the shard), as a new list."""
        if start < self.trimmed:
            head = [self._tombstone(i) for i in range(start, min(stop, self.trimmed))]
            return head + self._records.slice(self.trimmed, stop)
        return self._records.slice(start, stop)

    def index_of(self, sequence_number: int) -> int | None:
        """The index of the record with this sequence number, or None."""
        trimmed = self.trimmed
        if trimmed and sequence_number - SEQUENCE_BASE <= self._trimmed_seq[trimmed - 1]:
            offset = sequence_number - SEQUENCE_BASE
            i = bisect_left(self._trimmed_seq, offset)
            return i if i < trimmed and self._trimmed_seq[i] == offset else None
        if trimmed >= self.end:
            return None
        i = self._records.bisect(sequence_number, key=_seq_of)
        if i < self.end and self.at(i)[SEQ] == sequence_number:
            return i
        return None

    def first_live(self, start: int, cutoff_ms: int) -> int:
        """The first index at or after ``start`` whose record was written after ``cutoff_ms``."""
        # Trimmed records were all past retention, and the cutoff only grows.
        start = max(start, self.trimmed)
        if start >= self.end or self.at(start)[CREATED_MS] > cutoff_ms:
            return start  # the common case, asked once per poll: nothing has aged out
        return max(start, self._records.bisect(cutoff_ms, key=_created_of, right=True))

    # -- the user's view -------------------------------------------------------

    @property
    def records(self) -> list[dict[str, Any]]:
        """
        Every record still kept, rendered as Lambda delivers them (fresh dicts).

        Trimmed records (past retention and every checkpoint, spec 7.1) are gone
        from the stream and are not included; ``sequence_numbers`` still lists them.
        """
        return self._fmt.render_many(self._records.slice(self.trimmed, self.end))

    @property
    def sequence_numbers(self) -> list[str]:
        """Every record's sequence number (trimmed ones too), in order, as strings."""
        base = SEQUENCE_BASE
        return [str(s + base) for s in self._trimmed_seq] + [
            str(r[SEQ]) for r in self._records.slice(self.trimmed, self.end)
        ]

    def __len__(self) -> int:
        return self.end
