"""Memory bounded by retention (issue 18): trimmed records freed, history_hours."""

from __future__ import annotations

from typing import Any

import pytest

from esm_sim import Simulation
from esm_sim._metrics import METRIC_NAMES
from esm_sim.errors import ConfigError
from esm_sim.invariants import check_all


def _map(sim: Simulation, table: Any, function: str, **settings: Any) -> str:
    """A mapping from the table's stream to the function (TRIM_HORIZON unless said); its UUID."""
    settings.setdefault("StartingPosition", "TRIM_HORIZON")
    response = sim.lambda_client.create_event_source_mapping(
        EventSourceArn=table.stream_arn, FunctionName=function, **settings
    )
    return str(response["UUID"])


def _poison(event: dict[str, Any], context: Any) -> None:
    """Fails a batch holding a record whose n ends in 07 (bisect isolates it)."""
    for record in event["Records"]:
        if record["dynamodb"]["NewImage"]["n"]["N"].endswith("07"):
            raise ValueError("poison")


def _run(
    hours: int, *, history: float | None = None, factor: int = 1, faults: bool = False
) -> tuple[Simulation, Any]:
    sim = Simulation(seed=3, history_hours=history)
    table = sim.create_table("tbl", partition_key="pk", shard_count=1)
    if not faults:
        sim.create_function("f", lambda event, context: None)
        _map(sim, table, "f", BatchSize=100, ParallelizationFactor=factor)
    else:  # failures, bisects, discards, a destination and the ESM metrics
        sim.create_function("f", _poison)
        dlq = sim.create_queue("dlq")
        _map(
            sim,
            table,
            "f",
            BatchSize=100,
            ParallelizationFactor=factor,
            BisectBatchOnFunctionError=True,
            MaximumRetryAttempts=1,
            DestinationConfig={"OnFailure": {"Destination": dlq.arn}},
            MetricsConfig={"Metrics": ["EventCount"]},
        )
    i = 0
    for _ in range(hours * 6):
        for _ in range(60):
            table.put_item({"pk": f"k{i % 50}", "n": i})
            i += 1
        sim.run_for(600)
    return sim, table


def test_records_past_retention_and_checkpoints_are_freed_and_still_answer() -> None:
    """A record past retention and every checkpoint loses its payload, but its
    sequence number, fate and counts stay, and the stream view agrees (spec 7.1)."""
    sim, table = _run(30)
    shards = table.shards
    trimmed = sum(s.trimmed for s in shards)
    assert trimmed > 0
    shard = next(s for s in shards if s.trimmed)
    first = shard.sequence_numbers[0]
    assert shard.index_of(int(first)) == 0
    assert sim.fate(first).outcome == "processed"
    counts = sim.fate_counts()
    assert counts["processed"] == sum(len(s) for s in shards)
    assert len(shard.records) == len(shard) - shard.trimmed
    assert shard.at(0)[3] == ()  # a tombstone: no keys kept
    check_all(sim)


def test_a_mapping_made_after_trimming_expires_trimmed_records() -> None:
    """A TRIM_HORIZON mapping created later, with lanes, meets trimmed records only
    to expire them (by sequence number), and accounts for every record."""
    sim, table = _run(30)
    sim.create_function("g", lambda event, context: None)
    uuid = _map(sim, table, "g", ParallelizationFactor=3)
    sim.run_for(600)
    counts = sim.fate_counts(uuid)
    trimmed = sum(s.trimmed for s in table.shards)
    assert trimmed > 0
    assert counts["expired"] >= trimmed
    assert sum(counts.values()) == sum(len(s) for s in table.shards)
    first = next(s for s in table.shards if s.trimmed).sequence_numbers[0]
    assert sim.fate(first, uuid=uuid).outcome == "expired"


def test_default_history_keeps_everything() -> None:
    """Without history_hours the trace starts at the beginning and logs keep every invocation."""
    sim, _ = _run(30)
    assert sim.trace.forgotten == 0
    assert sim.trace[0].at_ms == Simulation(seed=3).now_ms  # from the very start
    invocations = sim.functions["f"].invocations
    assert invocations.forgotten == 0
    assert invocations[0].started_ms < sim.now_ms - 24 * 3_600_000


def test_history_hours_keeps_the_last_hours_and_exact_fates_and_metrics() -> None:
    """history_hours=N drops older trace entries and invocations, while fate counts
    and every metric equal those of the same run keeping everything (with failures,
    bisects, discards to a destination and the ESM event counts)."""
    full, _ = _run(30, faults=True)
    short, _ = _run(30, history=6, faults=True)
    horizon = short.now_ms - 6 * 3_600_000
    assert short.trace.forgotten > 0
    assert short.trace[0].at_ms >= horizon - 6 * 3_600_000 // 32 - 1
    assert all(inv.ended_ms >= horizon - 3_600_000 for inv in short.functions["f"].invocations)
    assert len(short.functions["f"].invocations) < len(full.functions["f"].invocations)
    # The function's log keeps no more than its one mapping's lists (no lag behind it).
    (mapping,) = short.mappings.values()
    assert list(short.functions["f"].invocations) == list(mapping.invocations)
    assert short.fate_counts() == full.fate_counts()
    assert full.fate_counts()["destination"] > 0
    for name in METRIC_NAMES:
        assert short.metrics.series(name) == full.metrics.series(name), name
    assert full.metrics.series("Errors") and full.metrics.series("PolledEventCount")


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), True, "24"])
def test_history_hours_must_be_a_positive_number(bad: object) -> None:
    """history_hours is None or a positive finite number; anything else is refused by name."""
    with pytest.raises(ConfigError, match="history_hours"):
        Simulation(history_hours=bad)  # type: ignore[arg-type]


def _two_mappings(history: float | None) -> Simulation:
    sim = Simulation(seed=5, history_hours=history)
    sim.create_function("f", lambda event, context: None)
    tables = [
        sim.create_table(name, partition_key="pk", shard_count=2) for name in ("tbl-a", "tbl-b")
    ]
    for table in tables:
        _map(sim, table, "f", BatchSize=7)
    for step in range(12 * 6):
        for i in range(20):
            tables[(step + i) % 2].put_item({"pk": f"k{i}", "n": step})
        sim.run_for(600)
    return sim


def test_history_hours_keeps_the_tail_of_each_log_when_mappings_share_a_function() -> None:
    """With history_hours, the function's log and each mapping's log (which shares
    the function's rows) keep exactly the last invocations of the same run keeping everything."""
    full, short = _two_mappings(None), _two_mappings(2)
    assert short.functions["f"].invocations.forgotten > 0

    def ids(log: Any) -> list[tuple[str, str, int]]:
        return [(inv.request_id, inv.shard_id, inv.ended_ms) for inv in log]

    kept = ids(short.functions["f"].invocations)
    assert kept == ids(full.functions["f"].invocations)[-len(kept) :]
    for uuid, mapping in short.mappings.items():
        kept = ids(mapping.invocations)
        assert kept
        assert mapping.invocations.forgotten > 0
        assert kept == ids(full.mappings[uuid].invocations)[-len(kept) :]
        assert [inv.sequence_numbers for inv in mapping.invocations] == [
            inv.sequence_numbers for inv in full.mappings[uuid].invocations[-len(kept) :]
        ]


def test_records_written_after_idle_sweeps_are_still_freed() -> None:
    """Sweeps over a table with nothing kept (idle rollovers) do not stop later
    records from being freed once they pass retention and the checkpoints."""
    sim = Simulation(seed=4)
    table = sim.create_table("tbl", partition_key="pk", shard_count=2)
    sim.create_function("f", lambda event, context: None)
    _map(sim, table, "f")
    sim.run_for(9 * 3600)  # rollovers of empty shards: each one sweeps the table
    for i in range(3000):
        table.put_item({"pk": f"k{i}"})
    sim.run_for(30 * 3600)  # the shards they were written to are sealed and swept
    assert sum(s.trimmed for s in table.shards) == 3000
    assert sim.fate_counts()["processed"] == 3000


def test_invariants_hold_on_a_run_that_dropped_history() -> None:
    """check_all passes on runs with history_hours once old invocations and trace
    entries are gone: records written before the history kept are not reported as
    never delivered, out of order or resent."""
    sim, _ = _run(30, history=6)
    assert sim.trace.forgotten > 0
    check_all(sim)
    check_all(_two_mappings(2))


class _Log(list[Any]):
    """A mapping's invocation log as a plain list a test can change."""

    def delivering(self, shard_id: str, sequence_number: int) -> tuple[Any, ...]:
        return tuple(
            i for i in self if i.shard_id == shard_id and sequence_number in i.sequence_numbers
        )


def test_invariants_still_check_records_written_within_the_history_kept() -> None:
    """With history dropped, a recent record counted processed but never delivered
    is still reported (only records older than the history kept are left out)."""
    from esm_sim import invariants

    sim, _ = _run(30, history=6)
    (mapping,) = sim.mappings.values()
    kept = list(mapping.invocations)
    last = kept[-1]
    mapping.invocations = _Log(kept[:-1])  # type: ignore[assignment]
    with pytest.raises(AssertionError, match=f"never delivered.*{last.sequence_numbers[0]}"):
        invariants.check_at_least_once(sim)


def test_invariants_still_check_key_order_and_checkpoints_within_the_history_kept() -> None:
    """With history dropped, a recent first delivery out of key order and a recent
    committed record sent again are still reported."""
    from esm_sim import TraceEvent, invariants

    sim, _ = _run(30, history=6)
    (mapping,) = sim.mappings.values()
    kept = list(mapping.invocations)
    earlier, later = kept[-2], kept[-1]  # same keys (k0..k49), later writes
    earlier.sequence_numbers, later.sequence_numbers = (
        later.sequence_numbers,
        earlier.sequence_numbers,
    )
    mapping.invocations = _Log(kept)  # type: ignore[assignment]
    with pytest.raises(AssertionError, match="first delivered"):
        invariants.check_key_order(sim)

    sim, _ = _run(30, history=6)
    (mapping,) = sim.mappings.values()
    last = list(mapping.invocations)[-1]
    seq = str(last.sequence_numbers[0])
    sim.trace.append(
        TraceEvent(
            at_ms=sim.now_ms,
            kind="invoke",
            mapping=mapping.uuid,
            shard=last.shard_id,
            first_seq=seq,
            last_seq=seq,
            count=1,
            data=(("request_id", "replayed"),),
        )
    )
    with pytest.raises(AssertionError, match=f"sent record {seq}.*moved backwards"):
        invariants.check_checkpoints(sim)


def test_a_mapping_repointed_to_another_function_keeps_reading_its_rows() -> None:
    """With history_hours, a function keeps the rows a mapping's log still lists: a
    mapping repointed while a slow invocation runs lists rows of two functions and
    forgets them later than the new function would (its log read the wrong rows)."""
    sim = Simulation(seed=1, history_hours=0.05)  # 3 virtual minutes
    table = sim.create_table("tbl", partition_key="pk", shard_count=2)
    sim.create_function("slow", lambda event, context: None, duration=600, timeout=900)
    fast = sim.create_function("fast", lambda event, context: None, duration=1)
    uuid = _map(sim, table, "slow", StartingPosition="LATEST", BatchSize=1)
    sim.run_for(60)
    table.put_item({"pk": "a"})
    sim.run_for(10)
    sim.lambda_client.update_event_source_mapping(UUID=uuid, FunctionName="fast")
    sim.run_for(30)
    for i in range(20):
        table.put_item({"pk": f"k{i}"})
        sim.run_for(1)
    log = sim.mappings[uuid].invocations
    expected = [(inv.request_id, inv.sequence_numbers) for inv in log]
    for _ in range(16):  # past the slow invocation's end: then both logs forget
        sim.run_for(60)
        kept = [(inv.request_id, inv.sequence_numbers) for inv in log]
        known = {request_id for request_id, _ in expected}
        expected += [item for item in kept if item[0] not in known]  # new since
        assert kept == expected[len(expected) - len(kept) :]
    assert fast.invocations.forgotten > 0
    assert len(log) < len(expected)
    check_all(sim)


def _raising(event: dict[str, Any], context: Any) -> None:
    """Raises for two records of three: a plain ValueError, or an OSError (kept as it is)."""
    n = int(event["Records"][0]["dynamodb"]["NewImage"]["n"]["N"])
    if n % 3 == 0:
        raise ValueError("plain", n)  # stored as its type and args, rebuilt on read
    if n % 3 == 1:
        raise OSError(5, f"kept {n}")  # an OSError keeps more than args: stored whole


def _raising_run(history: float | None) -> Simulation:
    sim = Simulation(seed=5, history_hours=history)
    table = sim.create_table("tbl", partition_key="pk", shard_count=1)
    sim.create_function("f", _raising)
    _map(sim, table, "f", BatchSize=1, MaximumRetryAttempts=0)
    i = 0
    for _ in range(12 * 6):
        for _ in range(20):
            table.put_item({"pk": f"k{i % 50}", "n": i})
            i += 1
        sim.run_for(600)
    return sim


def test_history_hours_frees_what_forgotten_invocations_raised() -> None:
    """With history_hours, the exceptions of forgotten invocations are freed too (a
    failing handler no longer grows memory without bound), and every invocation
    kept still shows exactly what it raised."""
    full, short = _raising_run(None), _raising_run(2)
    kept = list(short.functions["f"].invocations)
    assert short.functions["f"].invocations.forgotten > 0
    raised = [inv for inv in kept if inv.exception is not None]
    assert len(raised) > 100
    assert len(short._exceptions) == len(raised)  # nothing older is held
    assert len(short._exceptions) < len(full._exceptions) / 3
    by_id = {inv.request_id: inv for inv in full.functions["f"].invocations}
    kinds = set()
    for inv in raised:
        want = by_id[inv.request_id].exception
        assert want is not None
        assert (type(inv.exception), inv.exception.args) == (type(want), want.args)
        kinds.add(type(want))
    assert kinds == {ValueError, OSError}
    assert short.fate_counts() == full.fate_counts()
