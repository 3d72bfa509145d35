"""The shard's chunked record store: reads across chunk edges equal a plain list's."""

from __future__ import annotations

import bisect
from typing import Any

import pytest

from esm_sim._engine.chunked import CHUNK
from esm_sim._streams.records import CREATED_MS, SEQ
from esm_sim._streams.shard import Shard

SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 7]


def _shard(n: int) -> tuple[Shard, list[Any]]:
    # Sequence numbers 10, 20, ...; three records per millisecond of creation time.
    shard = Shard("shardId-00000000000000000000-00000000", None, 0, None)  # type: ignore[arg-type]
    records = [(10 * i + 10, i // 3, "INSERT", (), (), None, 1, 1) for i in range(n)]
    for record in records:
        shard.append(record)  # type: ignore[arg-type]
    return shard, records


class TestChunkedStore:
    @pytest.mark.parametrize("n", SIZES)
    def test_at_and_end_match_the_appended_order(self, n: int) -> None:
        """Record i is the i-th appended, and end counts every record, chunked or not."""
        shard, records = _shard(n)
        assert (records, n) == ([shard.at(i) for i in range(n)], shard.end)

    @pytest.mark.parametrize("n", SIZES)
    def test_slices_across_chunk_edges_equal_list_slices(self, n: int) -> None:
        """slice(a, b) is records[a:b] as a new list, wherever a and b fall."""
        shard, records = _shard(n)
        edges = sorted({0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, n - 1, n, n + 3})
        cases = [(a, b) for a in edges for b in edges if a >= 0 and b >= 0]
        assert [records[a:b] for a, b in cases] == [shard.slice(a, b) for a, b in cases]

    @pytest.mark.parametrize("n", SIZES)
    def test_index_of_finds_each_sequence_number_and_only_those(self, n: int) -> None:
        """index_of gives the record's index for a stored sequence number, None otherwise."""
        shard, _ = _shard(n)
        probes = range(0, 10 * n + 25, 5)
        expected = [v // 10 - 1 if v % 10 == 0 and 0 < v <= 10 * n else None for v in probes]
        assert expected == [shard.index_of(v) for v in probes]

    @pytest.mark.parametrize("n", SIZES)
    def test_first_live_skips_exactly_the_records_at_or_before_the_cutoff(self, n: int) -> None:
        """first_live(start, cutoff) is max(start, the first index written after cutoff)."""
        shard, records = _shard(n)
        cutoffs = range(-1, n // 3 + 2)
        expected = [
            max(1, bisect.bisect_right(records, c, key=lambda r: r[CREATED_MS])) for c in cutoffs
        ]
        assert expected == [shard.first_live(1, c) for c in cutoffs]

    def test_user_views_list_every_record_in_order(self) -> None:
        """sequence_numbers spans every chunk and the open tail, in order."""
        shard, records = _shard(2 * CHUNK + 3)
        assert [str(r[SEQ]) for r in records] == shard.sequence_numbers
