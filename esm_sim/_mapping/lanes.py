"""
ParallelizationFactor lanes: the records of one shard split by item key (spec 5).

With ``ParallelizationFactor`` N > 1, each shard's records are dealt into N
lanes by a stable hash (CRC-32) of the item's full key, partition plus sort
key, so every record of one item goes to one lane and per-item order holds
(spec 11 row 1). Each lane is read by its own ``ShardReader``, with at most one
batch in flight, and a retry or bisect blocks only its own lane (spec 5,
simulator reading; how AWS assigns lanes is I).

A ``LaneView`` looks like a shard to its reader (``end``, ``at``, ``slice``,
``first_live``, ``index_of``, ``wait``), but indexes only its lane's records.
The lane tables are built lazily and incrementally, once per (shard, factor),
so lanes cost nothing for mappings with factor 1.
"""

from __future__ import annotations

import zlib
from bisect import bisect_left, bisect_right
from collections.abc import Callable

from esm_sim._streams.attributes import Image, triples
from esm_sim._streams.records import CREATED_MS, KEYS, SEQ, Record
from esm_sim._streams.shard import Shard

# Per key attribute, the bytes of ``<name>\x00<type>\x00`` that start its part of
# the lane hash, and their CRC-32 from 0 (the router's trick: crc32(v, crc32(p))
# equals crc32(p + v)), so a record's hash never builds the prefix again. Keyed by
# type code, then name; a table has one or two key names, so the cache stays small
# (and is cleared past _PREFIX_CACHE_MAX names, should a run make many tables).
_PREFIXES: dict[str, dict[str, tuple[bytes, int]]] = {"S": {}, "N": {}, "B": {}}
_PREFIX_CACHE_MAX = 1024
_NUL = b"\x00"
# LaneView.slice takes one shard slice when it spans under this many records per
# record wanted (ParallelizationFactor is at most 10, so lanes are rarely sparser).
_DENSE = 32
_crc32 = zlib.crc32


def _prefix(name: str, type_code: str) -> tuple[bytes, int]:
    """The bytes of a key attribute's hash prefix and their CRC-32 (cached)."""
    by_name = _PREFIXES.setdefault(type_code, {})
    found = by_name.get(name)
    if found is None:
        if len(by_name) >= _PREFIX_CACHE_MAX:
            by_name.clear()
        raw = f"{name}\x00{type_code}\x00".encode()
        found = by_name[name] = (raw, _crc32(raw))
    return found


def key_hash(keys: Image) -> int:
    """
    A stable 32-bit hash of an item's key (never ``hash()``, which varies per process).

    The CRC-32 of name, NUL, type code, NUL, value, NUL for each key attribute
    in turn (partition key, then sort key), strings as UTF-8. It picks a record's
    ``ParallelizationFactor`` lane: records of one item key share a lane, so
    their order holds (spec 5; the hash itself is an inferred choice, README
    "Where AWS is silent").
    """
    if len(keys) == 3:  # a partition key alone: start from its prefix's CRC
        name, type_code, value = keys
        found = _PREFIXES[type_code].get(name) if type_code in _PREFIXES else None
        if found is None:
            found = _prefix(name, type_code)
        raw = value if isinstance(value, bytes) else str(value).encode()
        return _crc32(_NUL, _crc32(raw, found[1]))
    crc = 0
    for name, type_code, value in triples(keys):
        raw = value if isinstance(value, bytes) else str(value).encode()
        crc = _crc32(_NUL, _crc32(raw, _crc32(_prefix(name, type_code)[0], crc)))
    return crc


class LaneTable:
    """For one shard and one factor: the shard indexes of each lane's records, in order."""

    __slots__ = ("factor", "lanes", "shard", "synced")

    def __init__(self, shard: Shard, factor: int) -> None:
        self.shard = shard
        self.factor = factor
        self.lanes: list[list[int]] = [[] for _ in range(factor)]
        self.synced = 0

    def sync(self) -> None:
        """Deal the records appended since the last call into their lanes (one slice)."""
        shard = self.shard
        lanes, factor = self.lanes, self.factor
        if self.synced < shard.trimmed:  # trimmed records kept their key's hash only
            for index, crc in enumerate(shard.trimmed_key_hashes(self.synced), self.synced):
                lanes[crc % factor].append(index)
            self.synced = shard.trimmed
        start, end = self.synced, shard.end
        if start >= end:
            return
        prefixes = _PREFIXES
        crc32, nul = _crc32, _NUL
        index = start
        for record in shard.slice(start, end):
            keys = record[KEYS]
            # key_hash inlined for the usual single S or N key (the same value).
            if len(keys) == 3 and type(keys[2]) is str:
                name, type_code, value = keys
                found = prefixes[type_code].get(name) if type_code in prefixes else None
                if found is None:
                    found = _prefix(name, type_code)
                h = crc32(nul, crc32(value.encode(), found[1]))
            else:
                h = key_hash(keys)
            lanes[h % factor].append(index)
            index += 1
        self.synced = end

    def lane_of(self, record: Record) -> int:
        """The lane of a record."""
        return key_hash(record[KEYS]) % self.factor


class LaneView:
    """One lane of a shard, shaped like the shard for its reader."""

    __slots__ = ("_seen", "_waiters", "lane", "shard", "table")

    def __init__(self, table: LaneTable, lane: int) -> None:
        self.table = table
        self.lane = lane
        self.shard = table.shard
        self._waiters: list[Callable[[], object]] = []
        self._seen = 0  # the lane's length when its reader started waiting

    @property
    def shard_id(self) -> str:
        """The shard's id."""
        return self.shard.shard_id

    @property
    def closed_ms(self) -> int | None:
        """When the shard was sealed, or None."""
        return self.shard.closed_ms

    @property
    def end(self) -> int:
        """One past the lane's last record."""
        self.table.sync()
        return len(self.table.lanes[self.lane])

    def at(self, position: int) -> Record:
        """The lane's record at a position."""
        return self.shard.at(self.table.lanes[self.lane][position])

    def slice(self, start: int, stop: int) -> list[Record]:
        """The lane's records ``start`` to ``stop - 1``."""
        indexes = self.table.lanes[self.lane][start:stop]
        if not indexes:
            return []
        first, last = indexes[0], indexes[-1]
        if last - first < _DENSE * len(indexes):
            # One slice of the shard covering the lane's records, then picked:
            # cheaper than a call per record while the lane is not too sparse.
            span = self.shard.slice(first, last + 1)
            return [span[i - first] for i in indexes]
        at = self.shard.at
        return [at(i) for i in indexes]

    def first_live(self, start: int, cutoff_ms: int) -> int:
        """The first position at or after ``start`` whose record is newer than ``cutoff_ms``."""
        self.table.sync()
        at = self.shard.at
        found = bisect_right(
            self.table.lanes[self.lane], cutoff_ms, key=lambda i: at(i)[CREATED_MS]
        )
        return max(start, found)

    def index_of(self, sequence_number: int) -> int | None:
        """The lane position of the record with this sequence number, or None."""
        self.table.sync()
        at = self.shard.at
        lane = self.table.lanes[self.lane]
        i = bisect_left(lane, sequence_number, key=lambda j: at(j)[SEQ])
        if i < len(lane) and at(lane[i])[SEQ] == sequence_number:
            return i
        return None

    def position_of(self, shard_index: int) -> int:
        """How many of the lane's records come before a shard index."""
        self.table.sync()
        return bisect_left(self.table.lanes[self.lane], shard_index)

    def wait(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` once, when a record arrives in this lane."""
        first = not self._waiters
        self._waiters.append(callback)
        if first:
            # The table is shared by every lane and synced by whichever wakes
            # first, so compare against the length seen now, not at wake-up.
            self.table.sync()
            self._seen = len(self.table.lanes[self.lane])
            self.shard.wait(self._on_append)

    def unwait(self, callback: Callable[[], object]) -> None:
        """Withdraw a callback left with :meth:`wait`."""
        if callback in self._waiters:
            self._waiters.remove(callback)
        if not self._waiters:
            self.shard.unwait(self._on_append)

    def _on_append(self) -> None:
        table = self.table
        table.sync()
        if len(table.lanes[self.lane]) == self._seen and self.shard.closed_ms is None:
            self.shard.wait(self._on_append)  # another lane's record: keep waiting
            return
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter()
