"""ParallelizationFactor: lanes per shard, per-item order, concurrency bounds (spec 5, 10)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import esm_sim
from esm_sim._mapping.lanes import key_hash
from esm_sim._streams.attributes import serialize_item
from esm_sim.invariants import check_all
from tests.scenarios.helpers import failing_on, key_of, keys, max_overlap, written_per_key

FACTOR = 10


def make(
    handler: Any,
    *,
    shards: int = 1,
    duration: Any = 0.0,
    sim_kwargs: dict[str, Any] | None = None,
    **mapping: Any,
) -> tuple[esm_sim.Simulation, esm_sim.Table, esm_sim.Function, str, esm_sim.Queue]:
    """A table of ``shards`` shards, a function, an on-failure queue and a mapping."""
    sim = esm_sim.Simulation(seed=0, **(sim_kwargs or {}))
    table = sim.create_table("orders", partition_key="pk", shard_count=shards)
    fn = sim.create_function("fn", handler, duration=duration, timeout=60)
    queue = sim.create_queue("dlq")
    uuid = sim.lambda_client.create_event_source_mapping(
        FunctionName="fn",
        EventSourceArn=table.stream_arn,
        StartingPosition="TRIM_HORIZON",
        DestinationConfig={"OnFailure": {"Destination": queue.arn}},
        **mapping,
    )["UUID"]
    return sim, table, fn, uuid, queue


def first_deliveries_per_key(
    table: esm_sim.Table, fn: esm_sim.Function, *, successful: bool = False
) -> dict[str, list[int]]:
    """Per key, the sequence numbers in the order each was first delivered (or first succeeded)."""
    owner = key_of(table)
    seen: set[int] = set()
    out: dict[str, list[int]] = {}
    for inv in sorted(fn.invocations, key=lambda i: i.started_ms):
        if successful and inv.error is not None:
            continue
        for seq in inv.sequence_numbers:
            if seq not in seen:
                seen.add(seq)
                out.setdefault(owner[seq], []).append(seq)
    return out


def lane(key: str, factor: int = FACTOR) -> int:
    """The lane a partition key is dealt to (the simulator's documented CRC-32 rule)."""
    return key_hash(serialize_item({"pk": key})) % factor


def all_final(sim: esm_sim.Simulation, table: esm_sim.Table, uuid: str) -> list[str]:
    """The outcome of every record of the table for one mapping."""
    return [sim.fate(seq, uuid=uuid).outcome for seq in key_of(table)]


class TestPerKeyOrder:
    def test_first_deliveries_follow_write_order_with_retries_and_bisect(self) -> None:
        """Under factor 10, each key's records are first delivered in write order (spec 5, 11 row 1)."""
        sim, table, fn, uuid, queue = make(
            failing_on("k7"),
            ParallelizationFactor=FACTOR,
            MaximumRetryAttempts=2,
            BisectBatchOnFunctionError=True,
            BatchSize=8,
            duration=0.3,
        )
        for i in range(400):
            sim.call_later(i * 0.05, table.put_item, {"pk": f"k{i % 23}", "n": i})
        sim.run_until_idle()
        assert written_per_key(table) == first_deliveries_per_key(table, fn)
        assert len(sim.trace.events(kind="split")) > 0
        # The poison key's records went to the destination, the rest were processed.
        counts = sim.fate_counts(uuid)
        poison = len(written_per_key(table)["k7"])
        assert {"processed": 400 - poison, "destination": poison} == {
            k: v for k, v in counts.items() if v
        }
        assert poison == sum(m["DDBStreamBatchInfo"]["batchSize"] for m in queue.messages)

    def test_successful_deliveries_follow_write_order(self) -> None:
        """Each key's records succeed in write order too: a retry never lets a later record pass."""
        sim, table, fn, _uuid, _queue = make(
            failing_on("k7"),
            ParallelizationFactor=FACTOR,
            MaximumRetryAttempts=2,
            BisectBatchOnFunctionError=True,
            BatchSize=8,
            duration=0.3,
        )
        for i in range(300):
            sim.call_later(i * 0.05, table.put_item, {"pk": f"k{i % 23}", "n": i})
        sim.run_until_idle()
        expected = {k: v for k, v in written_per_key(table).items() if k != "k7"}
        assert expected == first_deliveries_per_key(table, fn, successful=True)

    def test_records_are_dealt_to_lanes_by_item_key(self) -> None:
        """Every record of one item goes to one lane, and the invoke trace names that lane (spec 5, I)."""
        sim, table, _fn, uuid, _queue = make(lambda e, c: None, ParallelizationFactor=FACTOR)
        for i in range(200):
            table.put_item({"pk": f"k{i % 31}", "n": i})
        sim.run_until_idle()
        owner = key_of(table)
        lanes_seen: dict[str, set[int]] = {}
        for event in sim.trace.events(kind="invoke", mapping=uuid):
            for inv in [i for i in sim.mappings[uuid].invocations if i.request_id == event.detail]:
                for seq in inv.sequence_numbers:
                    lanes_seen.setdefault(owner[seq], set()).add(event.lane)
        assert {k: {lane(k)} for k in written_per_key(table)} == lanes_seen
        assert FACTOR == len(sim.mappings[uuid].readers[table.shards[0].shard_id])


class TestLaneIsolation:
    def test_a_retry_blocks_only_its_own_lane(self) -> None:
        """While one lane retries, keys of the other lanes keep flowing (spec 5, simulator reading)."""
        poison = "k3"
        others = [f"k{i}" for i in range(40) if lane(f"k{i}") != lane(poison)]
        same = next(f"k{i}" for i in range(40, 400) if lane(f"k{i}") == lane(poison))
        sim, table, fn, uuid, _queue = make(
            failing_on(poison), ParallelizationFactor=FACTOR, MaximumRetryAttempts=6
        )
        table.put_item({"pk": poison})
        sim.run_for(20)  # the poison lane is now retrying with backoff
        for k in others:
            table.put_item({"pk": k})
        table.put_item({"pk": same})
        sim.run_for(5)
        delivered = {k for inv in fn.invocations for k in keys(inv.event)}
        assert set(others) <= delivered
        assert same not in delivered  # stuck behind the poison record in its lane
        poison_seq = table.shards[0].sequence_numbers[0]
        assert "pending" == sim.fate(poison_seq).outcome
        sim.run_until_idle()
        assert "destination" == sim.fate(poison_seq).outcome
        order = [keys(i.event) for i in fn.invocations]  # invocations in start order
        last_poison = max(n for n, ks in enumerate(order) if poison in ks)
        same_first = min(n for n, ks in enumerate(order) if same in ks)
        assert same_first > last_poison
        assert 7 == sum(1 for i in fn.invocations if poison in keys(i.event))
        assert 0 == sim.fate_counts(uuid)["pending"]


class TestConcurrencyBounds:
    def test_concurrency_never_exceeds_shards_times_factor(self) -> None:
        """A mapping never runs more than shards x factor invocations at once (spec 5)."""
        sim, table, fn, uuid, _queue = make(
            lambda e, c: None, shards=2, ParallelizationFactor=4, BatchSize=2, duration=1.0
        )
        for i in range(600):
            sim.call_later(i * 0.01, table.put_item, {"pk": f"k{i % 97}", "n": i})
        sim.run_until_idle()
        assert 2 * 4 == max_overlap(fn.invocations)
        for shard in table.shards:
            per_shard = [i for i in fn.invocations if i.shard_id == shard.shard_id]
            assert 4 == max_overlap(per_shard)
        assert ["processed"] * 600 == all_final(sim, table, uuid)

    def test_reserved_concurrency_caps_a_parallel_mapping(self) -> None:
        """Reserved concurrency 3 with factor 10: at most 3 run, the rest are throttled (spec 10)."""
        sim, table, fn, uuid, _queue = make(
            lambda e, c: None,
            ParallelizationFactor=FACTOR,
            MaximumRetryAttempts=0,
            BatchSize=5,
            duration=2.0,
        )
        sim.lambda_client.put_function_concurrency(
            FunctionName="fn", ReservedConcurrentExecutions=3
        )
        for i in range(300):
            table.put_item({"pk": f"k{i % 50}", "n": i})
        sim.run_until_idle()
        assert 3 == max_overlap(fn.invocations)
        throttles = sim.trace.events(kind="throttle", mapping=uuid)
        assert len(throttles) > 0
        assert {"ReservedFunctionConcurrentInvocationLimitExceeded"} == {
            t.detail for t in throttles
        }
        # Throttled batches were delivered later: none lost, none discarded, no retry used.
        assert ["processed"] * 300 == all_final(sim, table, uuid)
        assert [] == [i for i in fn.invocations if i.error is not None]
        per_record = Counter(s for i in fn.invocations for s in i.sequence_numbers)
        assert {1} == set(per_record.values())
        assert 300 == len(per_record)


class TestFatesAndCheckpoints:
    def test_fates_add_up_under_a_factor(self) -> None:
        """With factor 10, every record ends in exactly one place and the counts add up (issue 3)."""
        sim, table, _fn, uuid, _queue = make(
            failing_on("k1", "k2"),
            shards=3,
            ParallelizationFactor=FACTOR,
            MaximumRetryAttempts=1,
            BisectBatchOnFunctionError=True,
            FilterCriteria={
                "Filters": [
                    {"Pattern": '{"dynamodb": {"Keys": {"pk": {"S": [{"anything-but": ["k5"]}]}}}}'}
                ]
            },
        )
        for i in range(500):
            sim.call_later(i * 0.02, table.put_item, {"pk": f"k{i % 40}", "n": i})
        sim.run_until_idle()
        outcomes = Counter(all_final(sim, table, uuid))
        counts = {k: v for k, v in sim.fate_counts(uuid).items() if v}
        assert dict(outcomes) == counts
        assert 500 == sum(counts.values())
        assert {"processed", "destination", "filtered"} == set(counts)
        written = written_per_key(table)
        assert len(written["k1"]) + len(written["k2"]) == counts["destination"]
        assert len(written["k5"]) == counts["filtered"]

    def test_a_record_is_processed_only_after_its_lane_processed_it(self) -> None:
        """A record waits 'pending' while its lane is busy, though other lanes moved on (spec 5)."""
        slow = "k3"
        same = next(f"k{i}" for i in range(40, 400) if lane(f"k{i}") == lane(slow))
        others = [f"k{i}" for i in range(10) if lane(f"k{i}") != lane(slow)]

        def duration(event: dict[str, Any], context: Any) -> float:
            return 30.0 if slow in keys(event) else 0.1

        sim, table, _fn, uuid, _queue = make(
            lambda e, c: None, ParallelizationFactor=FACTOR, duration=duration
        )
        table.put_item({"pk": slow})
        sim.run_for(6)  # Enabled at 5 s; the slow invocation started
        table.put_item({"pk": same})
        for k in others:
            table.put_item({"pk": k})
        sim.run_for(5)
        seq = {v: k for k, v in key_of(table).items()}
        assert "pending" == sim.fate(seq[slow]).outcome
        assert "pending" == sim.fate(seq[same]).outcome
        assert ["processed"] * len(others) == [sim.fate(seq[k]).outcome for k in others]
        sim.run_until_idle()
        assert "processed" == sim.fate(seq[slow]).outcome
        assert "processed" == sim.fate(seq[same]).outcome
        assert {"processed": 2 + len(others)} == {
            k: v for k, v in sim.fate_counts(uuid).items() if v
        }


class TestFailureRecordUnderAFactor:
    def test_failure_record_names_the_failing_lanes_invocation(self) -> None:
        """The on-failure record's requestId is the last invocation of the discarded batch,
        not another lane's (spec 3.6 with spec 5)."""
        sim, table, fn, _uuid, queue = make(
            failing_on("k3"), ParallelizationFactor=FACTOR, MaximumRetryAttempts=2, duration=0.5
        )
        table.put_item({"pk": "k3"})
        for i in range(200):  # other lanes keep invoking while k3's lane retries
            sim.call_later(i * 0.1, table.put_item, {"pk": f"x{i}"})
        sim.run_until_idle()
        poison_seq = int(table.shards[0].sequence_numbers[0])
        carrying = [i.request_id for i in fn.invocations if poison_seq in i.sequence_numbers]
        assert 3 == len(carrying)
        assert 1 == len(queue.messages)
        assert carrying[-1] == queue.messages[0]["requestContext"]["requestId"]


class TestFactorUpdate:
    """spec 1.4, 5 (I): an update that changes ParallelizationFactor rebuilds the lanes."""

    @staticmethod
    def _run(old: int, new: int, *, poison: bool) -> tuple[esm_sim.Simulation, str, Any, Any]:
        bad = {"k3"} if poison else set()
        sim, table, fn, uuid, _queue = make(
            failing_on(*bad),
            duration=0.4,
            ParallelizationFactor=old,
            BatchSize=3,
            MaximumRetryAttempts=1,
            BisectBatchOnFunctionError=True,
        )
        sim.run_for(6)
        for i in range(40):
            table.put_item({"pk": f"k{i % 12}", "v": i})
        sim.run_for(1.3)  # mid-stream: batches in flight, others waiting
        sim.lambda_client.update_event_source_mapping(UUID=uuid, ParallelizationFactor=new)
        for i in range(40, 60):
            sim.call_later(1 + i / 10, table.put_item, {"pk": f"k{i % 12}", "v": i})
        sim.run_until_idle()
        return sim, uuid, table, fn

    def test_every_record_keeps_one_fate_across_the_update(self) -> None:
        """Raising or lowering the factor mid-stream loses no record and repeats no final one."""
        for old, new in ((1, 4), (4, 1), (3, 7)):
            sim, uuid, _table, _ = self._run(old, new, poison=True)
            counts = sim.fate_counts(uuid)
            assert 60 == sum(counts.values())
            assert 0 == counts["pending"]
            assert 60 == counts["processed"] + counts["destination"]
            check_all(sim)

    def test_per_key_order_holds_across_the_update(self) -> None:
        """Per item key, first deliveries keep write order before and after the rebuild (spec 5)."""
        _sim, _, table, fn = self._run(2, 5, poison=False)
        firsts = first_deliveries_per_key(table, fn)
        assert firsts == {k: sorted(v) for k, v in firsts.items()}
        assert written_per_key(table) == {k: sorted(v) for k, v in firsts.items()}

    def test_the_new_factor_governs_concurrency_after_the_update(self) -> None:
        """After the update settles, up to the new factor of batches run at once per shard (spec 5)."""
        sim, _, _table, fn = self._run(1, 4, poison=False)
        settled_ms = min(e.at_ms for e in sim.trace.events(kind="state") if e.outcome == "Enabled")
        later = [i for i in fn.invocations if i.started_ms > settled_ms + 5_000]
        assert 1 < max_overlap(later) <= 4


class TestWindowsPerLane:
    """spec 5, 6.1 (I): with ParallelizationFactor > 1, each lane has its own tumbling window."""

    def test_each_lane_aggregates_its_own_keys(self) -> None:
        """A lane's window state holds only its own keys, and every record ends processed."""
        seen: dict[str, set[str]] = {}

        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            state = dict(event["state"])
            for r in event["Records"]:
                state[r["dynamodb"]["Keys"]["pk"]["S"]] = 1
            if event["isFinalInvokeForWindow"]:
                seen.setdefault(event["window"]["start"], set()).update(state)
            return {"state": state}

        sim, table, fn, uuid, _ = make(handler, ParallelizationFactor=3, TumblingWindowInSeconds=30)
        sim.run_for(6)
        for i in range(30):
            table.put_item({"pk": f"k{i % 9}", "v": i})
        sim.run_until_idle()
        finals = [i for i in fn.invocations if i.event["isFinalInvokeForWindow"]]
        lanes = {lane(f"k{k}", 3) for k in range(9)}
        assert len(lanes) <= len(finals)
        for inv in finals:
            keys_in_state = set(inv.event["state"])
            assert 1 == len({lane(k, 3) for k in keys_in_state})
        assert 30 == sim.fate_counts(uuid)["processed"]
        check_all(sim)
