"""Shard lineage: rollovers, splits, parents read before children (spec 7.1, 5, 6.1)."""

from __future__ import annotations

from typing import Any

import pytest

import esm_sim
from esm_sim.invariants import check_all
from tests.scenarios.helpers import failing_on, key_of, keys, written_per_key

HOUR = 3600


def make(
    handler: Any,
    *,
    shards: int = 1,
    rollover_hours: float = 4.0,
    duration: float = 0.0,
    start_mapping: bool = True,
    **mapping: Any,
) -> tuple[esm_sim.Simulation, esm_sim.Table, esm_sim.Function, str]:
    """A table, a function and (unless told not to) a TRIM_HORIZON mapping."""
    sim = esm_sim.Simulation(seed=0, shard_rollover_hours=rollover_hours)
    table = sim.create_table("orders", partition_key="pk", shard_count=shards)
    fn = sim.create_function("fn", handler, duration=duration)
    uuid = ""
    if start_mapping:
        uuid = sim.lambda_client.create_event_source_mapping(
            FunctionName="fn",
            EventSourceArn=table.stream_arn,
            StartingPosition="TRIM_HORIZON",
            **mapping,
        )["UUID"]
    return sim, table, fn, uuid


def ok(event: dict[str, Any], context: Any) -> None:
    return None


def first_deliveries_per_key(table: esm_sim.Table, fn: esm_sim.Function) -> dict[str, list[int]]:
    who = key_of(table)
    seen: set[int] = set()
    out: dict[str, list[int]] = {}
    for inv in sorted(fn.invocations, key=lambda i: i.started_ms):
        for seq in inv.sequence_numbers:
            if seq not in seen:
                seen.add(seq)
                out.setdefault(who[seq], []).append(seq)
    return out


def outcomes(sim: esm_sim.Simulation, uuid: str) -> dict[str, int]:
    return {k: v for k, v in sim.fate_counts(uuid).items() if v}


class TestRollover:
    def test_shards_roll_over_every_four_hours_by_default(self) -> None:
        """Each open shard is sealed and replaced by a child every 4 h (spec 7.1, I: exactly)."""
        sim, table, _fn, _uuid = make(ok, shards=2, start_mapping=False)
        first = [s.shard_id for s in table.shards]
        sim.run_for(4 * HOUR - 1)
        assert 2 == len(table.shards)
        sim.run_for(1)
        assert 4 == len(table.shards)
        assert first == [s.parent_shard_id for s in table.open_shards]
        assert [4 * HOUR * 1000 + table.shards[0].created_ms] * 2 == [
            s.closed_ms for s in table.shards[:2]
        ]
        sim.run_for(8 * HOUR)
        assert 8 == len(table.shards)
        closed = [e.shard for e in sim.trace.events(kind="shard") if e.outcome == "closed"]
        opened = [e.shard for e in sim.trace.events(kind="shard") if e.outcome == "opened"]
        assert 6 == len(closed)
        assert [s.shard_id for s in table.shards[2:]] == opened  # children, as they open

    def test_each_child_names_its_parent(self) -> None:
        """Rollovers form one chain per hash range: each shard's parent is the one before it."""
        sim, table, _fn, _uuid = make(ok, rollover_hours=1, start_mapping=False)
        sim.run_for(3 * HOUR)
        chain = table.shards
        assert 4 == len(chain)
        assert [None] + [s.shard_id for s in chain[:-1]] == [s.parent_shard_id for s in chain]
        assert [chain[-1]] == table.open_shards

    def test_rollover_period_zero_turns_it_off(self) -> None:
        """shard_rollover_hours=0 keeps the first shards open for ever."""
        sim, table, _fn, _uuid = make(ok, rollover_hours=0, start_mapping=False)
        sim.run_for(30 * HOUR)
        assert [None] == [s.closed_ms for s in table.shards]

    def test_writes_after_a_rollover_go_to_the_child(self) -> None:
        """A sealed shard takes no more records; its child gets them (spec 7.1)."""
        sim, table, _fn, _uuid = make(ok, rollover_hours=1, start_mapping=False)
        table.put_item({"pk": "a", "n": 1})
        sim.run_for(HOUR)
        table.put_item({"pk": "a", "n": 2})
        assert [1, 1] == [len(s) for s in table.shards]


class TestParentBeforeChild:
    def test_a_poison_record_in_the_parent_holds_back_the_child(self) -> None:
        """The child is read only after the parent is finished: its records wait (spec 7.1)."""
        sim, table, fn, uuid = make(
            failing_on("poison"),
            rollover_hours=0.01,
            MaximumRetryAttempts=6,
            BisectBatchOnFunctionError=True,
        )  # rollover at 36 s; the poison record's 6 retries take ~63 s of backoff
        table.put_item({"pk": "k1", "n": 0})
        table.put_item({"pk": "poison", "n": 0})
        for i in range(1, 20):
            sim.call_later(36 + i, table.put_item, {"pk": f"k{i % 3}", "n": i})
        sim.run_until_idle()
        parent, child = table.shards[0], table.shards[1]
        assert parent.shard_id == child.parent_shard_id
        assert len(child) > 0
        discard = sim.trace.events(kind="discard", mapping=uuid)
        assert 1 == len(discard)
        child_first = min(i.started_ms for i in fn.invocations if i.shard_id == child.shard_id)
        assert child_first >= discard[0].at_ms
        # Every child record was written well before the parent was finished.
        assert (
            max(int(r["dynamodb"]["ApproximateCreationDateTime"]) for r in child.records) * (1000)
            < discard[0].at_ms
        )
        assert written_per_key(table) == first_deliveries_per_key(table, fn)
        assert {"processed": 20, "dropped": 1} == outcomes(sim, uuid)

    @pytest.mark.parametrize("factor", [1, 4], ids=["factor-1", "factor-4"])
    def test_order_is_kept_over_a_day_of_rollovers(self, factor: int) -> None:
        """A write a minute on 20 keys for 24 h on 2 shards: per-key order holds, all processed (spec 7.1)."""
        sim, table, fn, uuid = make(
            ok, shards=2, ParallelizationFactor=factor, BatchSize=7, duration=0.5
        )
        for minute in range(24 * 60):
            sim.call_later(minute * 60 + 1, table.put_item, {"pk": f"k{minute % 20}", "n": minute})
        sim.run_until_idle()
        assert 2 * 6 == len(table.shards)  # rolled over at 4, 8, 12, 16 and 20 h
        assert written_per_key(table) == first_deliveries_per_key(table, fn)
        assert {"processed": 24 * 60} == outcomes(sim, uuid)
        assert all(s.closed_ms is not None for s in table.shards[:-2])


class TestSplit:
    def test_split_children_share_the_parents_range(self) -> None:
        """The two children of a split take exactly the parent's keys; other shards keep theirs (spec 7.1)."""
        _sim, table, _fn, _uuid = make(ok, shards=2, rollover_hours=0, start_mapping=False)
        for i in range(200):
            table.put_item({"pk": f"k{i}"})
        parent, other = table.shards
        before = {
            s.shard_id: {r["dynamodb"]["Keys"]["pk"]["S"] for r in s.records} for s in table.shards
        }
        first, second = table.split_shard(parent.shard_id)
        assert [parent.shard_id] * 2 == [first.parent_shard_id, second.parent_shard_id]
        assert parent.closed_ms is not None
        assert [first, second, other] == table.open_shards
        for i in range(200):
            table.put_item({"pk": f"k{i}", "v": 1})
        after = [{r["dynamodb"]["Keys"]["pk"]["S"] for r in s.records} for s in (first, second)]
        assert before[parent.shard_id] == after[0] | after[1]
        assert set() == after[0] & after[1]
        assert all(after)  # both children got some keys
        assert 200 * 2 == sum(len(s) for s in table.shards)
        # The other shard keeps exactly its own keys.
        rewritten = {
            r["dynamodb"]["Keys"]["pk"]["S"]
            for r in other.records
            if "v" in r["dynamodb"]["NewImage"]
        }
        assert before[other.shard_id] == rewritten

    def test_split_of_a_closed_shard_is_refused(self) -> None:
        """Only an open shard can split."""
        _sim, table, _fn, _uuid = make(ok, start_mapping=False)
        parent = table.shards[0]
        table.split_shard(parent.shard_id)
        with pytest.raises(esm_sim.errors.ConfigError, match="is not an open shard"):
            table.split_shard(parent.shard_id)

    @pytest.mark.parametrize("factor", [1, 3], ids=["factor-1", "factor-3"])
    def test_order_is_kept_across_a_split(self, factor: int) -> None:
        """Records of one key written before and after a split are delivered in write order."""
        sim, table, fn, uuid = make(
            failing_on("k4"),
            rollover_hours=0,
            ParallelizationFactor=factor,
            MaximumRetryAttempts=3,
            BisectBatchOnFunctionError=True,
            BatchSize=4,
        )
        for i in range(60):
            sim.call_later(i * 0.5, table.put_item, {"pk": f"k{i % 9}", "n": i})
        sim.call_later(12.2, lambda: table.split_shard(table.open_shards[0].shard_id))
        sim.run_until_idle()
        assert 3 == len(table.shards)
        assert all(len(s) for s in table.shards)
        assert written_per_key(table) == first_deliveries_per_key(table, fn)
        poison = len(written_per_key(table)["k4"])
        assert {"processed": 60 - poison, "dropped": poison} == outcomes(sim, uuid)


class TestLatest:
    def test_latest_mapping_created_after_a_rollover(self) -> None:
        """LATEST skips what the parent and child held at start, then reads new writes (spec 1.4, 7.1)."""
        sim, table, fn, _ = make(ok, rollover_hours=1, start_mapping=False)
        table.put_item({"pk": "old", "n": 1})
        sim.run_for(HOUR + 60)
        table.put_item({"pk": "old", "n": 2})  # in the child, before the mapping starts
        uuid = sim.lambda_client.create_event_source_mapping(
            FunctionName="fn", EventSourceArn=table.stream_arn, StartingPosition="LATEST"
        )["UUID"]
        sim.run_for(10)  # Enabled: LATEST is taken now
        table.put_item({"pk": "new", "n": 1})
        sim.run_for(HOUR)  # a second rollover
        table.put_item({"pk": "new", "n": 2})
        sim.run_until_idle()
        assert 3 == len(table.shards)
        assert ["new", "new"] == [k for inv in fn.invocations for k in keys(inv.event)]
        assert {"processed": 2, "skipped": 2} == outcomes(sim, uuid)


class TestTumblingWindowAcrossRollover:
    def test_sealed_shard_closes_its_window_and_the_child_starts_fresh(self) -> None:
        """When a shard ends, its window gets its final invocation; the child starts with {} (spec 6.1)."""
        log: list[dict[str, Any]] = []

        def counting(event: dict[str, Any], context: Any) -> dict[str, Any]:
            log.append(event)
            state = dict(event["state"])  # the logged event keeps what was sent
            state["n"] = state.get("n", 0) + len(event["Records"])
            return {"state": state}

        # Rollover at 360 s, inside the first 900 s window.
        sim, table, _fn, uuid = make(counting, rollover_hours=0.1, TumblingWindowInSeconds=900)
        for i in range(10):
            sim.call_later(30 + 30 * i, table.put_item, {"pk": f"p{i}"})  # 30..300 s: parent
        for i in range(5):
            sim.call_later(400 + 30 * i, table.put_item, {"pk": f"c{i}"})  # 400..520 s: child
        sim.run_until_idle()
        parent, child = table.shards[0], table.shards[1]
        assert parent.shard_id == child.parent_shard_id
        finals = [e for e in log if e["isFinalInvokeForWindow"]]
        assert [parent.shard_id, child.shard_id] == [e["shardId"] for e in finals]
        assert [10, 5] == [e["state"]["n"] for e in finals]
        assert next(e["window"] for e in finals) == [e["window"] for e in finals][1]
        # The parent's window closed at the seal (360 s), not at the window's end (900 s).
        final_parent = next(
            e
            for e in sim.trace.events(kind="invoke", mapping=uuid)
            if e.shard == parent.shard_id and e.outcome == "final"
        )
        assert parent.closed_ms == final_parent.at_ms
        first_child = next(e for e in log if e["shardId"] == child.shard_id)
        assert {} == first_child["state"]
        assert {"processed": 15} == outcomes(sim, uuid)


def split_empty_levels(table: esm_sim.Table, levels: int) -> list[esm_sim.Shard]:
    """Split every open shard ``levels`` times over, before any write: the shards between stay empty."""
    for _ in range(levels):
        for shard in table.open_shards:
            table.split_shard(shard.shard_id)
    return table.open_shards


class TestDeepLineage:
    @pytest.mark.parametrize(
        ("levels", "factor"),
        [
            pytest.param(2, 1, id="spec7.1-grandchildren"),
            pytest.param(3, 1, id="spec7.1-three-empty-levels"),
            pytest.param(2, 3, id="spec7.1-grandchildren-factor-3"),
        ],
    )
    def test_descendants_wait_for_the_ancestors_records(self, levels: int, factor: int) -> None:
        """A shard is read only after every ancestor is consumed, however deep and however empty the shards between (spec 7.1, r09)."""
        sim, table, fn, _ = make(ok, rollover_hours=0, duration=0.1, start_mapping=False)
        for i in range(20):
            table.put_item({"pk": f"k{i}", "v": 1})  # in the root
        root = table.shards[0]
        leaves = split_empty_levels(table, levels)
        assert 2**levels == len(leaves)
        for i in range(20):
            table.put_item({"pk": f"k{i}", "v": 2})  # in the leaves
        uuid = sim.lambda_client.create_event_source_mapping(
            FunctionName="fn",
            EventSourceArn=table.stream_arn,
            StartingPosition="TRIM_HORIZON",
            BatchSize=1,
            ParallelizationFactor=factor,
        )["UUID"]
        sim.run_until_idle()
        root_done = max(i.ended_ms for i in fn.invocations if i.shard_id == root.shard_id)
        leaf_ids = {s.shard_id for s in leaves}
        leaf_first = min(i.started_ms for i in fn.invocations if i.shard_id in leaf_ids)
        assert root_done <= leaf_first
        assert {i.shard_id for i in fn.invocations} == {root.shard_id} | {
            s.shard_id for s in leaves if len(s)
        }
        assert written_per_key(table) == first_deliveries_per_key(table, fn)
        assert {"processed": 40} == outcomes(sim, uuid)
        check_all(sim)

    def test_a_split_under_a_blocked_root_waits_for_it(self) -> None:
        """With the root blocked by a failing record, records written after two levels of splits wait for the root (spec 7.1, 3.1)."""
        calls = {"n": 0}

        def handler(event: dict[str, Any], context: Any) -> None:
            if "first" in keys(event) and calls["n"] < 5:
                calls["n"] += 1
                msg = "downstream outage"
                raise ValueError(msg)

        sim, table, fn, uuid = make(handler, rollover_hours=0, BatchSize=1)
        sim.run_for(6)
        table.put_item({"pk": "first", "v": 1})
        table.put_item({"pk": "acct", "v": 1})
        sim.run_for(1)  # "first" failed once; the root is blocked, in backoff
        split_empty_levels(table, 2)
        table.put_item({"pk": "acct", "v": 2})  # in a grandchild
        sim.run_until_idle()
        assert [1, 2] == [
            int(r["dynamodb"]["NewImage"]["v"]["N"])
            for inv in fn.invocations
            for r in inv.event["Records"]
            if r["dynamodb"]["Keys"]["pk"]["S"] == "acct"
        ]
        assert written_per_key(table) == first_deliveries_per_key(table, fn)
        assert {"processed": 3} == outcomes(sim, uuid)
        check_all(sim)

    def test_rollover_during_an_outage_keeps_per_key_order(self) -> None:
        """Default settings: an outage blocks the root past two 4-hourly rollovers, the middle shard stays empty, and a key's later write still waits (spec 7.1, 3.1, r09b)."""
        outage_until_ms: list[int] = []

        def handler(event: dict[str, Any], context: Any) -> None:
            if "first" in keys(event) and sim.now_ms < outage_until_ms[0]:
                msg = "downstream outage until 10 h"
                raise ValueError(msg)

        sim, table, fn, uuid = make(handler, BatchSize=1)
        outage_until_ms.append(sim.now_ms + 10 * HOUR * 1000)
        sim.run_for(6)
        table.put_item({"pk": "first", "v": 0})
        table.put_item({"pk": "acct-1", "v": 1})
        sim.run_for(9 * HOUR - 6)  # rollovers at 4 h and 8 h; no writes meanwhile
        table.put_item({"pk": "acct-1", "v": 2})
        sim.run_until_idle()
        assert [2, 0, 1] == [len(s) for s in table.shards]
        acct = [
            (inv.started_ms, int(r["dynamodb"]["NewImage"]["v"]["N"]))
            for inv in fn.invocations
            for r in inv.event["Records"]
            if r["dynamodb"]["Keys"]["pk"]["S"] == "acct-1"
        ]
        assert [1, 2] == [v for _, v in acct]
        assert all(at >= outage_until_ms[0] for at, _ in acct)
        assert written_per_key(table) == first_deliveries_per_key(table, fn)
        assert {"processed": 3} == outcomes(sim, uuid)
        check_all(sim)
