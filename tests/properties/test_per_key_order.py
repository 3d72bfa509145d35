"""
Property: whatever the keys, write times, ParallelizationFactor, batching and
failures, each item's records are first delivered in write order, and every
record reaches a final fate (spec 5, 7.1, 11 row 1; issue 4).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import esm_sim

KEYS = [f"k{i}" for i in range(8)]

writes = st.lists(
    st.tuples(st.sampled_from(KEYS), st.integers(min_value=0, max_value=20_000)),
    min_size=1,
    max_size=60,
)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """A random workload and mapping configuration."""
    return {
        "writes": draw(writes),  # (key, write time in ms)
        "factor": draw(st.integers(min_value=1, max_value=10)),
        "batch_size": draw(st.integers(min_value=1, max_value=20)),
        "bisect": draw(st.booleans()),
        "retries": draw(st.sampled_from([-1, 0, 1, 2, 5])),
        "bad_keys": draw(st.sets(st.sampled_from(KEYS), max_size=3)),
        "fail_first": draw(st.integers(min_value=0, max_value=4)),
        "shards": draw(st.integers(min_value=1, max_value=3)),
        "duration_ms": draw(st.sampled_from([0, 50, 400])),
    }


def run(s: dict[str, Any]) -> tuple[esm_sim.Simulation, esm_sim.Table, esm_sim.Function, str]:
    """Build the scenario and run it until idle."""
    sim = esm_sim.Simulation(seed=0)
    table = sim.create_table("orders", partition_key="pk", shard_count=s["shards"])
    attempts: dict[str, int] = {}

    def handler(event: dict[str, Any], context: Any) -> None:
        # Fail the first ``fail_first`` attempts of any batch holding a bad key.
        bad = sorted({r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]} & s["bad_keys"])
        failing = [k for k in bad if attempts.get(k, 0) < s["fail_first"]]
        for k in bad:
            attempts[k] = attempts.get(k, 0) + 1
        if failing:
            msg = f"failing on {failing}"
            raise RuntimeError(msg)

    fn = sim.create_function("fn", handler, duration=s["duration_ms"] / 1000)
    uuid = sim.lambda_client.create_event_source_mapping(
        FunctionName="fn",
        EventSourceArn=table.stream_arn,
        StartingPosition="TRIM_HORIZON",
        ParallelizationFactor=s["factor"],
        BatchSize=s["batch_size"],
        BisectBatchOnFunctionError=s["bisect"],
        MaximumRetryAttempts=s["retries"],
    )["UUID"]
    for n, (key, at_ms) in enumerate(s["writes"]):
        sim.call_later(at_ms / 1000, table.put_item, {"pk": key, "n": n})
    sim.run_until_idle(max_seconds=3 * 3600)
    return sim, table, fn, uuid


@settings(max_examples=100, deadline=None, database=None)
@given(scenarios())
def test_per_key_first_delivery_order_is_write_order(s: dict[str, Any]) -> None:
    """Per key, first deliveries follow write order, and every record ends in a final fate."""
    sim, table, fn, uuid = run(s)
    owner: dict[int, str] = {}
    written: dict[str, list[int]] = {}
    for shard in table.shards:
        for r in shard.records:
            seq = int(r["dynamodb"]["SequenceNumber"])
            owner[seq] = r["dynamodb"]["Keys"]["pk"]["S"]
    for seq in sorted(owner):
        written.setdefault(owner[seq], []).append(seq)
    seen: set[int] = set()
    delivered: dict[str, list[int]] = {}
    for inv in sorted(fn.invocations, key=lambda i: i.started_ms):
        for seq in inv.sequence_numbers:
            if seq not in seen:
                seen.add(seq)
                delivered.setdefault(owner[seq], []).append(seq)
    assert written == delivered
    fates = [sim.fate(seq, uuid=uuid) for seq in sorted(owner)]
    assert [] == [f.sequence_number for f in fates if not f.final]
    assert 0 == sim.fate_counts(uuid)["pending"]
