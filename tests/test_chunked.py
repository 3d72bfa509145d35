"""ChunkedList and FlatRows: append-only storage the cyclic GC need not walk item by item."""

from __future__ import annotations

import gc

import pytest

from esm_sim._engine.chunked import CHUNK, FLAT_CHUNK, ChunkedList, FlatRows
from tests.gc_helpers import tracked_growth

SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7]


def _filled(n: int) -> ChunkedList[int]:
    items: ChunkedList[int] = ChunkedList()
    for i in range(n):
        items.append(i)
    return items


class TestChunkedList:
    @pytest.mark.parametrize("n", SIZES)
    def test_behaves_as_a_list_for_reading(self, n: int) -> None:
        """len, iteration, indexing (negative too) and slices (any step) equal a list's."""
        items, expected = _filled(n), list(range(n))
        assert (n, expected) == (len(items), list(items))
        assert expected[-3:] == [items[i] for i in range(-min(3, n), 0)]
        cuts = [slice(None), slice(1, -1), slice(CHUNK - 2, CHUNK + 3), slice(None, None, 7)]
        assert [expected[c] for c in cuts] == [items[c] for c in cuts]

    def test_out_of_range_raises_index_error(self) -> None:
        """Reading past either end raises IndexError, as a list does."""
        items = _filled(CHUNK + 1)
        with pytest.raises(IndexError):
            items[CHUNK + 1]
        with pytest.raises(IndexError):
            items[-(CHUNK + 2)]

    def test_iteration_sees_items_appended_meanwhile(self) -> None:
        """Items appended while iterating are reached, even when the open chunk freezes."""
        items = _filled(CHUNK - 2)
        seen = []
        for item in items:
            seen.append(item)
            if item < 2 * CHUNK:
                items.append(item + CHUNK - 2)
        assert list(range(len(items))) == seen

    def test_full_chunks_leave_the_gc(self) -> None:
        """Full chunks of untracked items are untracked; only the open chunk stays a tracked list."""
        items: ChunkedList[tuple[int, str]] = ChunkedList()
        for i in range(2 * CHUNK + 1):
            items.append((i, "x"))
        for _ in range(2):  # the items, then the chunks holding them
            gc.collect()
        assert ([False, False], True) == (
            [gc.is_tracked(c) for c in items.chunks],
            gc.is_tracked(items.tail),
        )


def _rows(n: int) -> list[tuple[int, ...]]:
    """Rows of varied lengths (1 to 23 values), so chunks fill unevenly."""
    return [tuple(range(i, i + 1 + (i * 7) % 23)) for i in range(n)]


ROW_COUNTS = [0, 1, 2, FLAT_CHUNK // 12, FLAT_CHUNK, 3 * FLAT_CHUNK // 5 + 3]


class TestFlatRows:
    @pytest.mark.parametrize("n", ROW_COUNTS)
    def test_reads_back_every_row_as_appended(self, n: int) -> None:
        """len, iteration, indexing (negative too) and slices (any step) equal a list of the rows."""
        expected = _rows(n)
        rows = FlatRows()
        for row in expected:
            rows.append(row)
        assert (n, expected) == (len(rows), list(rows))
        assert expected[-3:] == [rows[i] for i in range(-min(3, n), 0)]
        cuts = [slice(None), slice(1, -1), slice(n // 2 - 2, n // 2 + 3), slice(None, None, -7)]
        assert [expected[c] for c in cuts] == [rows[c] for c in cuts]

    def test_out_of_range_raises_index_error(self) -> None:
        """Reading past either end raises IndexError, as a list does."""
        rows = FlatRows()
        rows.append((1, 2))
        with pytest.raises(IndexError):
            rows[1]
        with pytest.raises(IndexError):
            rows[-2]

    def test_iteration_sees_rows_appended_meanwhile(self) -> None:
        """Rows appended while iterating are reached, even when the open chunk freezes."""
        rows = FlatRows()
        rows.append((0, "x"))
        seen = []
        for row in rows:
            seen.append(row)
            if row[0] < FLAT_CHUNK:
                rows.append((row[0] + 1, "x"))
        assert list(range(FLAT_CHUNK + 1)) == [r[0] for r in seen]

    def test_keeps_no_object_per_row(self) -> None:
        """Appending thousands of rows of plain values adds only a few objects the cyclic GC tracks."""
        rows = FlatRows()
        count = 10 * FLAT_CHUNK
        added = tracked_growth(
            lambda: [rows.append((i, "invoke", None, True, 2.5)) for i in range(count)]
        )
        # One frozen tuple per FLAT_CHUNK values (5 a row), until a collection
        # untracks it: 50 here, against 40960 rows.
        assert added <= count * 5 // FLAT_CHUNK + 2
        assert (0, "invoke", None, True, 2.5) == rows[0]
