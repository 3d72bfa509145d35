"""
Append-only storage laid out for the cyclic GC: what a long run keeps.

ChunkedList holds objects (stream records: a million tuples in a big run). The
tuples themselves soon leave the collector's view, but a ``list`` holding them
stays tracked, and every full collection visits each of its items (perf-notes
4.4: with a million records that is most of a full collection's cost, paid
every time one runs). Here every full chunk is frozen into a tuple, which the
collector stops tracking once its items are untracked; only the open chunk,
under 1024 items, stays a list.

FlatRows holds rows of plain values (trace entries, invocation rows) with no
object per row at all: each object kept brings the next collection closer, and
rows are written several per invocation.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")

CHUNK_BITS = 10
CHUNK = 1 << CHUNK_BITS  # items per frozen chunk
LOW = CHUNK - 1


class ChunkedList(Sequence[T], Generic[T]):
    """
    Append-only, indexable, sliceable; slices are new lists.

    ``chunks`` (full, frozen) then ``tail`` (open) hold the items in order:
    item ``i`` is ``chunks[i >> CHUNK_BITS][i & LOW]`` while that chunk is full.
    """

    __slots__ = ("chunks", "dropped", "tail")

    def __init__(self) -> None:
        self.chunks: list[tuple[T, ...]] = []
        self.tail: list[T] = []
        # How many leading chunks were dropped (emptied by ``drop_chunks``):
        # their items are gone, and ``bisect`` searches after them.
        self.dropped = 0

    def drop_chunks(self, n: int) -> None:
        """
        Empty the first ``n`` full chunks (their items are freed; indexes are kept).

        Reading a dropped item is the owner's business to prevent: its chunk is
        an empty tuple. ``__iter__`` and ``slice`` skip what was dropped.
        """
        chunks = self.chunks
        for c in range(self.dropped, min(n, len(chunks))):
            chunks[c] = ()
        self.dropped = max(self.dropped, min(n, len(chunks)))

    def append(self, item: T) -> None:
        """Add one item at the end."""
        tail = self.tail
        tail.append(item)
        if len(tail) == CHUNK:
            self.chunks.append(tuple(tail))
            self.tail = []

    def __len__(self) -> int:
        return (len(self.chunks) << CHUNK_BITS) + len(self.tail)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return list(self)[index]
            return self.slice(start, stop)
        if index < 0:
            index += len(self)
            if index < 0:
                raise IndexError(index)
        return self.at(index)

    def at(self, index: int) -> T:
        """Item ``index`` (0 <= index < len): indexing without slices or negatives."""
        c = index >> CHUNK_BITS
        chunks = self.chunks
        if c < len(chunks):
            return chunks[c][index & LOW]
        return self.tail[index - (len(chunks) << CHUNK_BITS)]

    def slice(self, start: int, stop: int) -> list[T]:
        """Items ``start`` to ``stop - 1`` (0 <= start; stop clipped to the end)."""
        stop = min(stop, len(self))
        if start >= stop:
            return []
        chunks = self.chunks
        c = start >> CHUNK_BITS
        last = (stop - 1) >> CHUNK_BITS
        full = len(chunks)
        if c == last:  # the common case: within one chunk
            source: Sequence[T] = chunks[c] if c < full else self.tail
            return list(source[start & LOW : ((stop - 1) & LOW) + 1])
        out: list[T] = []
        for k in range(c, last + 1):
            source = chunks[k] if k < full else self.tail
            lo = start & LOW if k == c else 0
            hi = ((stop - 1) & LOW) + 1 if k == last else CHUNK
            out.extend(source[lo:hi])
        return out

    def bisect(self, value: Any, key: Callable[[T], Any], *, right: bool = False) -> int:
        """``bisect_left`` (or ``bisect_right``) of ``value`` over items sorted by ``key``."""
        find = bisect_right if right else bisect_left
        chunks = self.chunks
        # Every item of the chunks before c falls before the insertion point
        # (their last one does), so it lies in chunk c, or in the open chunk.
        c = find(chunks, value, lo=self.dropped, key=lambda chunk: key(chunk[-1]))
        source: Sequence[T] = chunks[c] if c < len(chunks) else self.tail
        return (c << CHUNK_BITS) + find(source, value, key=key)

    def __iter__(self) -> Iterator[T]:
        # Items appended while iterating are seen too, as with a list; the open
        # chunk may freeze meanwhile, so it is followed by position.
        k = 0
        while True:
            if k < len(self.chunks):
                yield from self.chunks[k]
                k += 1
                continue
            j = 0
            while True:
                if k < len(self.chunks):  # the open chunk froze: finish it as chunk k
                    yield from self.chunks[k][j:]
                    k += 1
                    break
                tail = self.tail
                if j >= len(tail):
                    return
                yield tail[j]
                j += 1

    def __repr__(self) -> str:
        return f"ChunkedList({list(self)!r})"


FLAT_CHUNK = 4096  # values per frozen chunk of FlatRows (rows never straddle two)


class FlatRows(Sequence[tuple[Any, ...]]):
    """
    Append-only rows of plain values, stored flat: no object per row.

    Every tuple a run keeps is an allocation the cyclic GC counts, and a few
    kept per invocation (trace entries, invocation rows) were what set the
    collector off, most often in the middle of rendering an event, which it
    then promoted to the old generation, so full collections came round every
    few thousand invocations (perf-notes 4.4). Here a row's values are copied
    onto the open chunk, a list, and each row's start goes into an ``array``,
    which the collector does not see at all; a chunk over ``FLAT_CHUNK`` values
    is frozen into one tuple. Reading a row builds its tuple again.
    """

    __slots__ = ("_bases", "_chunks", "_starts", "_tail", "_tail_base")

    def __init__(self) -> None:
        self._chunks: list[tuple[Any, ...]] = []  # frozen chunks of values
        self._bases: list[int] = []  # the offset of each frozen chunk's first value
        self._tail: list[Any] = []  # the open chunk
        self._tail_base = 0  # the offset of the open chunk's first value
        self._starts = array("q")  # the offset of each row's first value

    def append(self, row: tuple[Any, ...]) -> None:
        """Add one row (its values are copied; the tuple itself is not kept)."""
        tail = self._tail
        self._starts.append(self._tail_base + len(tail))
        tail += row
        if len(tail) >= FLAT_CHUNK:
            self._chunks.append(tuple(tail))
            self._bases.append(self._tail_base)
            self._tail_base += len(tail)
            self._tail = []

    def __len__(self) -> int:
        return len(self._starts)

    def forget(self, n: int) -> None:
        """
        Drop the first ``n`` rows (``Simulation(history_hours=...)``): indexes
        then count from the first row kept. Frozen chunks holding only dropped
        rows are freed; a chunk a kept row starts in stays whole.
        """
        n = min(n, len(self._starts))
        if n <= 0:
            return
        del self._starts[:n]
        first = self._starts[0] if self._starts else self._tail_base + len(self._tail)
        bases, chunks = self._bases, self._chunks
        k = bisect_right(bases, first) - 1 if bases and first < self._tail_base else len(bases)
        if k > 0:
            del bases[:k]
            del chunks[:k]

    def row(self, index: int) -> tuple[Any, ...]:
        """Row ``index`` (0 <= index < len), as a new tuple."""
        starts = self._starts
        start = starts[index]
        tail_base = self._tail_base
        end = starts[index + 1] if index + 1 < len(starts) else tail_base + len(self._tail)
        if start >= tail_base:
            return tuple(self._tail[start - tail_base : end - tail_base])
        c = bisect_right(self._bases, start) - 1
        base = self._bases[c]
        return self._chunks[c][start - base : end - base]

    @overload
    def __getitem__(self, index: int) -> tuple[Any, ...]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[Any, ...]]: ...

    def __getitem__(self, index: int | slice) -> tuple[Any, ...] | list[tuple[Any, ...]]:
        if isinstance(index, slice):
            return [self.row(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self.row(index)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        # Rows appended while iterating are seen too, as with a list.
        row = self.row
        i = 0
        while i < len(self._starts):
            yield row(i)
            i += 1
