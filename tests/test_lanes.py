"""ParallelizationFactor lanes: the lane hash and the lane tables (spec 5, 11 row 1)."""

from __future__ import annotations

import zlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import esm_sim
from esm_sim._mapping.lanes import LaneTable, LaneView, key_hash
from esm_sim._streams.records import KEYS

_texts = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=8)
_key_attribute = st.one_of(
    st.tuples(_texts, st.just("S"), _texts),
    st.tuples(_texts, st.just("N"), st.integers(-(10**9), 10**9).map(str)),
    st.tuples(_texts, st.just("B"), st.binary(min_size=1, max_size=8)),
)


def reference_hash(keys: tuple[Any, ...]) -> int:
    """The lane hash as first defined: CRC-32 chained over name NUL type NUL value NUL."""
    crc = 0
    for i in range(0, len(keys), 3):
        name, code, value = keys[i : i + 3]
        raw = value if isinstance(value, bytes) else str(value).encode()
        crc = zlib.crc32(f"{name}\x00{code}\x00".encode() + raw + b"\x00", crc)
    return crc


class TestKeyHash:
    """The same keys always land in the same lane: the hash never changes (spec 11 row 1)."""

    @pytest.mark.parametrize(
        ("keys", "expected"),
        [
            pytest.param(("pk", "S", "k1"), 3182411918, id="S"),
            pytest.param(("pk", "N", "12"), 1876519704, id="N"),
            pytest.param(("pk", "B", b"\x00\x01"), 2079026318, id="B"),
            pytest.param(("pk", "S", "é", "sk", "S", "s1"), 845594952, id="S+S-utf8"),
            pytest.param(("id", "N", "-1.5", "sk", "B", b"z"), 3185085902, id="N+B"),
        ],
    )
    def test_pinned_values(self, keys: tuple[Any, ...], expected: int) -> None:
        """key_hash gives the values it gave before it was made faster (lanes never move)."""
        assert expected == key_hash(keys)

    @given(st.lists(_key_attribute, min_size=1, max_size=2))
    def test_crc_of_name_type_value_per_attribute(self, attributes: list[Any]) -> None:
        """key_hash is the CRC-32 chained over name, NUL, type, NUL, value, NUL per attribute."""
        keys = tuple(part for attribute in attributes for part in attribute)
        assert reference_hash(keys) == key_hash(keys)


def _shard_with(keys: list[str]) -> Any:
    sim = esm_sim.Simulation(seed=0)
    table = sim.create_table("orders", partition_key="pk", shard_count=1)
    for n, key in enumerate(keys):
        table.put_item({"pk": key, "v": n})  # a new value each time: every put is a record
    return table.shards[0]


class TestLaneTable:
    """Each lane holds, in shard order, exactly the records whose key hashes to it."""

    @pytest.mark.parametrize("factor", [2, 3, 10])
    def test_sync_in_pieces_deals_every_record_by_its_key(self, factor: int) -> None:
        """Records appended between syncs are dealt as if dealt one by one, in shard order."""
        sim = esm_sim.Simulation(seed=0)
        table = sim.create_table("orders", partition_key="pk", shard_count=1)
        shard = table.shards[0]
        lanes = LaneTable(shard, factor)
        for n in (0, 1, 7, 0, 40):
            for i in range(n):
                table.put_item({"pk": f"k{shard.end}-{i}", "v": 1})
            lanes.sync()
        expected: list[list[int]] = [[] for _ in range(factor)]
        for index in range(shard.end):
            expected[reference_hash(shard.at(index)[KEYS]) % factor].append(index)
        assert expected == lanes.lanes

    def test_slice_of_a_dense_and_of_a_sparse_lane(self) -> None:
        """A lane's slice is its records in order, however far apart they sit in the shard."""
        # Key "hot" fills one lane; a single "cold" key sits alone in another, far apart.
        keys = ["cold"] + ["hot"] * 300 + ["cold"]
        shard = _shard_with(keys)
        assert len(keys) == shard.end
        table = LaneTable(shard, 10)
        table.sync()
        for lane in range(10):
            view = LaneView(table, lane)
            indexes = table.lanes[lane]
            for start, stop in ((0, len(indexes)), (1, 3), (len(indexes) - 1, len(indexes) + 5)):
                assert [shard.at(i) for i in indexes[start:stop]] == view.slice(start, stop)
