"""Concurrency across functions and mappings: account limit, shared reserved concurrency,
several mappings on one stream (spec 3.1, 7.4, 10)."""

from __future__ import annotations

from typing import Any

import esm_sim
from tests.scenarios.helpers import keys, max_overlap


def ok(event: dict[str, Any], context: Any) -> None:
    return None


def mapping(sim: esm_sim.Simulation, fn: str, table: esm_sim.Table, **params: Any) -> str:
    """A TRIM_HORIZON mapping from a table's stream to a function."""
    return str(
        sim.lambda_client.create_event_source_mapping(
            FunctionName=fn,
            EventSourceArn=table.stream_arn,
            StartingPosition="TRIM_HORIZON",
            **params,
        )["UUID"]
    )


def write(table: esm_sim.Table, count: int, keys_: int = 97) -> None:
    for i in range(count):
        table.put_item({"pk": f"k{i % keys_}", "n": i})


def outcomes(sim: esm_sim.Simulation, uuid: str) -> dict[str, int]:
    return {k: v for k, v in sim.fate_counts(uuid).items() if v}


class TestAccountConcurrency:
    def test_functions_together_stay_within_the_account_limit(self) -> None:
        """Three busy functions never run more than the account's 100 at once (spec 10)."""
        sim = esm_sim.Simulation(seed=0, account_concurrency=100)
        uuids = []
        for n in range(3):
            table = sim.create_table(f"table{n}", partition_key="pk", shard_count=5)
            sim.create_function(f"f{n}", ok, duration=2.0)
            uuids.append(mapping(sim, f"f{n}", table, ParallelizationFactor=10, BatchSize=1))
            write(table, 400)
        sim.run_until_idle()
        every = [i for fn in sim.functions.values() for i in fn.invocations]
        assert 100 == max_overlap(every)
        throttles = sim.trace.events(kind="throttle")
        assert {"ConcurrentInvocationLimitExceeded"} == {t.detail for t in throttles}
        assert [{"processed": 400}] * 3 == [outcomes(sim, u) for u in uuids]

    def test_reserved_concurrency_is_carved_out_of_the_account_limit(self) -> None:
        """A function reserving 50 of 200 leaves 150 for the others, and may use its 50 (spec 10)."""
        sim = esm_sim.Simulation(seed=0, account_concurrency=200)
        uuids = []
        for n in range(3):
            table = sim.create_table(f"table{n}", partition_key="pk", shard_count=10)
            sim.create_function(f"f{n}", ok, duration=2.0)
            uuids.append(mapping(sim, f"f{n}", table, ParallelizationFactor=10, BatchSize=1))
            write(table, 600, keys_=997)
        sim.lambda_client.put_function_concurrency(
            FunctionName="f0", ReservedConcurrentExecutions=50
        )
        sim.run_until_idle()
        reserved = sim.functions["f0"].invocations
        unreserved = sim.functions["f1"].invocations + sim.functions["f2"].invocations
        assert 50 == max_overlap(reserved)
        assert 150 == max_overlap(unreserved)
        assert [{"processed": 600}] * 3 == [outcomes(sim, u) for u in uuids]


class TestSharedFunction:
    def test_two_streams_share_one_functions_reserved_concurrency(self) -> None:
        """One function fed by two streams runs at most its reserved concurrency in all (spec 10)."""
        sim = esm_sim.Simulation(seed=0)
        fn = sim.create_function("fn", ok, duration=1.0)
        a = sim.create_table("orders", partition_key="pk", shard_count=2)
        b = sim.create_table("payments", partition_key="pk", shard_count=2)
        ua = mapping(sim, "fn", a, ParallelizationFactor=2, BatchSize=2)
        ub = mapping(sim, "fn", b, ParallelizationFactor=2, BatchSize=2)
        sim.lambda_client.put_function_concurrency(
            FunctionName="fn", ReservedConcurrentExecutions=3
        )
        write(a, 200)
        write(b, 200)
        sim.run_until_idle()
        assert 3 == max_overlap(fn.invocations)
        by_mapping = {i.mapping_uuid for i in fn.invocations}
        assert {ua, ub} == by_mapping
        # Both mappings were throttled at some point, and both got everything through.
        assert {ua, ub} == {t.mapping for t in sim.trace.events(kind="throttle")}
        assert [{"processed": 200}] * 2 == [outcomes(sim, ua), outcomes(sim, ub)]


class TestSeveralMappingsOnOneStream:
    def test_a_failing_mapping_does_not_hold_back_another(self) -> None:
        """Two mappings on one stream keep their own positions: one stuck, the other done (spec 7.4)."""
        sim = esm_sim.Simulation(seed=0)
        table = sim.create_table("orders", partition_key="pk")
        good = sim.create_function("good", ok)

        def broken(event: dict[str, Any], context: Any) -> None:
            raise RuntimeError("always")

        bad = sim.create_function("bad", broken)
        ug = mapping(sim, "good", table, BatchSize=10)
        ub = mapping(sim, "bad", table, BatchSize=10, MaximumRetryAttempts=-1)
        for i in range(100):
            sim.call_later(i, table.put_item, {"pk": f"k{i % 7}", "n": i})
        sim.run_for(3600)
        assert {"processed": 100} == outcomes(sim, ug)
        assert {"pending": 100} == outcomes(sim, ub)
        seqs = table.shards[0].sequence_numbers
        assert ["processed", "pending"] == [
            sim.fate(seqs[0], uuid=ug).outcome,
            sim.fate(seqs[0], uuid=ub).outcome,
        ]
        # The failing mapping kept retrying its first batch; it never read past it.
        first_batch = bad.invocations[0].sequence_numbers
        assert len(bad.invocations) > 10
        assert [first_batch] * len(bad.invocations) == [i.sequence_numbers for i in bad.invocations]
        # The good one saw every record once, in write order.
        assert [int(s) for s in seqs] == [s for i in good.invocations for s in i.sequence_numbers]

    def test_a_stuck_mapping_recovers_independently(self) -> None:
        """Once the failing mapping's function is fixed, it resumes from its own checkpoint (spec 7.4)."""
        sim = esm_sim.Simulation(seed=0)
        table = sim.create_table("orders", partition_key="pk")
        broken = {"on": True}

        def flaky(event: dict[str, Any], context: Any) -> None:
            if broken["on"]:
                raise RuntimeError("down")

        sim.create_function("good", ok)
        bad = sim.create_function("bad", flaky)
        ug = mapping(sim, "good", table)
        ub = mapping(sim, "bad", table, MaximumRetryAttempts=-1)
        write(table, 50, keys_=5)
        sim.run_for(600)
        broken["on"] = False
        sim.run_until_idle()
        assert {"processed": 50} == outcomes(sim, ug)
        assert {"processed": 50} == outcomes(sim, ub)
        delivered = [k for i in bad.invocations if i.error is None for k in keys(i.event)]
        assert [f"k{i % 5}" for i in range(50)] == delivered

    def test_read_throttle_past_two_readers_delays_but_loses_nothing(self) -> None:
        """With the optional two-readers rule, a third mapping is read-throttled, yet all arrive (spec 7.4, I)."""
        sim = esm_sim.Simulation(seed=0, max_readers_per_shard=2)
        table = sim.create_table("orders", partition_key="pk")
        uuids = []
        for n in range(3):
            sim.create_function(f"f{n}", ok, duration=0.1)
            uuids.append(mapping(sim, f"f{n}", table, BatchSize=5))
        for i in range(60):
            sim.call_later(i * 0.1, table.put_item, {"pk": f"k{i}"})
        sim.run_until_idle()
        read_throttles = sim.trace.events(kind="read-throttle")
        assert len(read_throttles) > 0
        assert {"LimitExceededException"} == {t.detail for t in read_throttles}
        assert [{"processed": 60}] * 3 == [outcomes(sim, u) for u in uuids]

    def test_no_read_throttle_by_default(self) -> None:
        """Without max_readers_per_shard, three mappings on one shard are never read-throttled."""
        sim = esm_sim.Simulation(seed=0)
        table = sim.create_table("orders", partition_key="pk")
        for n in range(3):
            sim.create_function(f"f{n}", ok, duration=0.1)
            mapping(sim, f"f{n}", table, BatchSize=5)
        for i in range(60):
            sim.call_later(i * 0.1, table.put_item, {"pk": f"k{i}"})
        sim.run_until_idle()
        assert [] == sim.trace.events(kind="read-throttle")
        assert [] == sim.trace.events(kind="throttle")
