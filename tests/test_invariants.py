"""Tests of esm_sim.invariants: each check passes on real runs and catches a broken one."""

from __future__ import annotations

from typing import Any

import pytest

import esm_sim
from esm_sim import invariants
from esm_sim.testing import fail_on_keys


def _run(
    handler: Any = None, *, keys: tuple[str, ...] = ("k0", "k1", "k0"), **mapping: Any
) -> esm_sim.Simulation:
    sim = esm_sim.Simulation(seed=1)
    table = sim.create_table("orders", partition_key="pk")
    sim.create_function("fn", handler or (lambda e, c: None))
    sim.lambda_client.create_event_source_mapping(
        FunctionName="fn",
        EventSourceArn=table.stream_arn,
        StartingPosition="TRIM_HORIZON",
        **mapping,
    )
    for i, key in enumerate(keys):
        table.put_item({"pk": key, "v": i})
    sim.run_until_idle()
    return sim


def _mapping(sim: esm_sim.Simulation) -> Any:
    (mapping,) = sim.mappings.values()
    return mapping


def _seqs(sim: esm_sim.Simulation) -> list[int]:
    return [int(s) for s in sim.tables["orders"].shards[0].sequence_numbers]


class TestCheckAll:
    @pytest.mark.parametrize(
        "mapping",
        [
            pytest.param({"BatchSize": 1}, id="one-record batches"),
            pytest.param(
                {"BatchSize": 10, "BisectBatchOnFunctionError": True, "MaximumRetryAttempts": 1},
                id="bisect then discard",
            ),
            pytest.param(
                {
                    "BatchSize": 10,
                    "MaximumRetryAttempts": 0,
                    "FilterCriteria": {"Filters": [{"Pattern": '{"eventName": ["MODIFY"]}'}]},
                },
                id="filtered",
            ),
        ],
    )
    def test_real_runs_pass(self, mapping: dict[str, Any]) -> None:
        """A run of the simulator with failures, bisects, discards and filters breaks no invariant."""
        sim = _run(fail_on_keys({"k1"}), **mapping)
        invariants.check_all(sim)


class TestCheckAccounted:
    def test_double_counted_record_is_caught(self) -> None:
        """A record that reaches a second place is reported."""
        sim = _run()
        mapping = _mapping(sim)
        mapping.ledger.mark(
            [mapping.table.shards[0].at(0)], "dropped", "RetryAttemptsExhausted", None
        )
        with pytest.raises(AssertionError, match="record"):
            invariants.check_accounted(sim)

    def test_pending_record_after_idle_is_caught(self) -> None:
        """An idle simulation with a record still pending is reported, naming the record."""
        sim = _run()
        (reader,) = next(iter(_mapping(sim).readers.values()))
        reader.checkpoint = 2
        with pytest.raises(AssertionError, match=str(_seqs(sim)[2])):
            invariants.check_accounted(sim)


class _TamperedLog(list[esm_sim.Invocation]):
    """A mapping's invocation log as a plain list of objects a test can change."""

    def delivering(self, shard_id: str, sequence_number: int) -> tuple[esm_sim.Invocation, ...]:
        return tuple(
            i for i in self if i.shard_id == shard_id and sequence_number in i.sequence_numbers
        )


def _tamperable_invocations(sim: esm_sim.Simulation) -> list[esm_sim.Invocation]:
    # The mapping's log builds fresh objects on read; to fake a bug, swap in a list.
    mapping = _mapping(sim)
    mapping.invocations = _TamperedLog(mapping.invocations)  # type: ignore[assignment]
    return mapping.invocations  # type: ignore[return-value]


class TestCheckKeyOrder:
    def test_first_delivery_out_of_order_is_caught(self) -> None:
        """A later write of a key delivered first is reported with both records."""
        sim = _run(BatchSize=1)
        invocations = _tamperable_invocations(sim)
        first, _, third = _seqs(sim)
        invocations[0].sequence_numbers, invocations[2].sequence_numbers = (third,), (first,)
        with pytest.raises(AssertionError, match=f"record {first} .* after record {third}"):
            invariants.check_key_order(sim)

    def test_redelivery_of_an_earlier_record_is_fine(self) -> None:
        """Retries repeat earlier records; only first deliveries must keep order."""
        sim = _run(fail_on_keys({"k0"}, times=1), BatchSize=1)
        invariants.check_key_order(sim)


class TestCheckCheckpoints:
    def test_resending_a_committed_record_is_caught(self) -> None:
        """An invocation of a record below the committed checkpoint is reported."""
        sim = _run(BatchSize=1)
        shard = sim.tables["orders"].shards[0]
        seq = shard.sequence_numbers[0]
        sim.trace.append(
            esm_sim.TraceEvent(
                at_ms=sim.now_ms,
                kind="invoke",
                mapping=_mapping(sim).uuid,
                shard=shard.shard_id,
                first_seq=seq,
                last_seq=seq,
                count=1,
                data=(("request_id", "replayed"),),
            )
        )
        with pytest.raises(AssertionError, match=f"sent record {seq}.*moved backwards"):
            invariants.check_checkpoints(sim)

    def test_reader_checkpoint_behind_the_trace_is_caught(self) -> None:
        """A record the trace committed but the reader still has pending is reported."""
        sim = _run(BatchSize=1)
        (reader,) = next(iter(_mapping(sim).readers.values()))
        reader.checkpoint = 1
        with pytest.raises(AssertionError, match=f"record {_seqs(sim)[1]} is pending"):
            invariants.check_checkpoints(sim)


def _deliver_again(sim: esm_sim.Simulation, mapping: Any, seq: int) -> None:
    """Tamper: an invocation, now, of record ``seq`` (as a buggy reader would send it)."""
    shard = sim.tables["orders"].shards[0]
    ghost = esm_sim.Invocation(
        request_id="ghost", render=dict, started_ms=sim.now_ms, sequence_numbers=[seq]
    )
    _tamperable_invocations(sim).append(ghost)
    sim.trace.append(
        esm_sim.TraceEvent(
            at_ms=sim.now_ms,
            kind="invoke",
            mapping=mapping.uuid,
            shard=shard.shard_id,
            first_seq=str(seq),
            last_seq=str(seq),
            count=1,
            data=(("request_id", "ghost"),),
        )
    )


class TestCheckNoDeliveryAfterDiscard:
    def test_delivery_after_discard_is_caught(self) -> None:
        """Delivering a record after it was dropped is reported with the discard."""
        sim = _run(fail_on_keys({"k1"}), BatchSize=1, MaximumRetryAttempts=0)
        mapping = _mapping(sim)
        dropped = _seqs(sim)[1]
        assert "dropped" == sim.fate(dropped).outcome
        _deliver_again(sim, mapping, dropped)
        with pytest.raises(
            AssertionError, match=f"record {dropped} was delivered .* reached its fate: .*dropped"
        ):
            invariants.check_no_delivery_after_discard(sim)

    def test_delivery_of_a_filtered_record_is_caught(self) -> None:
        """A record delivered after it was filtered is reported with the filter (spec 8)."""
        sim = _run(FilterCriteria={"Filters": [{"Pattern": '{"eventName": ["MODIFY"]}'}]})
        mapping = _mapping(sim)
        filtered = _seqs(sim)[0]
        assert "filtered" == sim.fate(filtered).outcome
        _deliver_again(sim, mapping, filtered)
        with pytest.raises(
            AssertionError, match=f"record {filtered} was delivered .* reached its fate: .*filter"
        ):
            invariants.check_no_delivery_after_discard(sim)


class TestCheckAtLeastOnce:
    def test_processed_but_never_delivered_is_caught(self) -> None:
        """A record counted as processed without any delivery is reported."""
        sim = _run()
        _tamperable_invocations(sim).clear()
        with pytest.raises(AssertionError, match=f"{_seqs(sim)[0]} \\(processed"):
            invariants.check_at_least_once(sim)
