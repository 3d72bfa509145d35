"""BisectBatchOnFunctionError: spec 3.4."""

from __future__ import annotations

from typing import Any

from esm_sim.invariants import check_all
from tests.scenarios.helpers import (
    World,
    build,
    failing_on,
    fates_by_record,
    keys,
    nonzero_fate_counts,
)


class TestBisect:
    def test_poison_record_without_bisect_discards_the_whole_batch(self) -> None:
        """Without bisect one poison record takes its whole batch to the destination (spec 3.5)."""
        w = build(failing_on("k3"), records=8, BatchSize=8, MaximumRetryAttempts=1)
        w.sim.run_until_idle()
        assert 8 == w.queue.messages[0]["DDBStreamBatchInfo"]["batchSize"]
        assert 0 == w.sim.fate_counts(w.uuid)["processed"]

    def test_poison_record_with_bisect_isolates_it(self) -> None:
        """With bisect only the poison record is discarded; the rest is processed (spec 3.4)."""
        w = build(
            failing_on("k3"),
            records=8,
            BatchSize=8,
            MaximumRetryAttempts=1,
            BisectBatchOnFunctionError=True,
        )
        w.sim.run_until_idle()
        (message,) = w.queue.messages
        info = message["DDBStreamBatchInfo"]
        assert (w.seqs[3], w.seqs[3], 1) == (
            info["startSequenceNumber"],
            info["endSequenceNumber"],
            info["batchSize"],
        )
        assert {"processed": 7, "destination": 1} == {
            k: v for k, v in w.sim.fate_counts(w.uuid).items() if v
        }

    def test_halves_in_order_first_half_finished_before_second(self) -> None:
        """A split batch runs its first half to the end before the second (spec 3.4, I)."""
        w = build(
            failing_on("k1"),
            records=4,
            BatchSize=4,
            MaximumRetryAttempts=0,
            BisectBatchOnFunctionError=True,
        )
        w.sim.run_until_idle()
        assert [
            ["k0", "k1", "k2", "k3"],
            ["k0", "k1"],
            ["k0"],
            ["k1"],
            ["k2", "k3"],
        ] == [keys(i.event) for i in w.fn.invocations]

    def test_splitting_uses_no_retry(self) -> None:
        """Each split is free; the single poison record still gets 1 + N attempts (spec 3.4)."""
        w = build(
            failing_on("k0"),
            records=4,
            BatchSize=4,
            MaximumRetryAttempts=2,
            BisectBatchOnFunctionError=True,
        )
        w.sim.run_until_idle()
        alone = [i for i in w.fn.invocations if keys(i.event) == ["k0"]]
        assert 3 == len(alone)
        assert 3 == w.queue.messages[0]["requestContext"]["approximateInvokeCount"]

    def test_a_batch_of_one_is_retried_then_discarded(self) -> None:
        """A batch of 1 cannot split: it is retried up to the quota, then discarded (spec 3.4, I)."""
        w = build(
            failing_on("k0"), BatchSize=1, MaximumRetryAttempts=3, BisectBatchOnFunctionError=True
        )
        w.sim.run_until_idle()
        assert 4 == len(w.fn.invocations)
        assert "RetryAttemptsExhausted" == w.queue.messages[0]["requestContext"]["condition"]

    def test_halves_inherit_retries_unless_bisect_resets_retries(self) -> None:
        """Halves inherit the failed batch's retry count; bisect_resets_retries starts afresh."""

        def scenario(**sim_kwargs: object) -> int:
            calls = []

            def handler(event: dict[str, Any], context: Any) -> Any:
                calls.append(keys(event))
                if len(calls) == 1:  # a complete failure first: one retry used
                    return {"batchItemFailures": [{"itemIdentifier": ""}]}
                if "k0" in keys(event):
                    raise ValueError("poison")
                return None

            w = build(
                handler,
                records=2,
                BatchSize=2,
                MaximumRetryAttempts=1,
                BisectBatchOnFunctionError=True,
                FunctionResponseTypes=["ReportBatchItemFailures"],
                sim_kwargs=sim_kwargs,
            )
            w.sim.run_until_idle()
            return sum(1 for c in calls if c == ["k0"])

        assert 1 == scenario()
        assert 2 == scenario(bisect_resets_retries=True)

    def test_bisect_does_not_apply_to_throttles(self) -> None:
        """Bisect splits only on function errors, never on throttles (spec 3.4)."""
        w = build(lambda e, c: None, records=4, BatchSize=4, BisectBatchOnFunctionError=True)
        w.sim.inject_invoke_errors("fn", count=2)
        w.sim.run_until_idle()
        assert [["k0", "k1", "k2", "k3"]] == [keys(i.event) for i in w.fn.invocations]
        assert [] == w.sim.trace.events(kind="split")


def always_fails(event: dict[str, Any], context: Any) -> None:
    msg = "always fails"
    raise ValueError(msg)


def second_half_first() -> World:
    """[a, b] always failing, bisect on, 3 retries, the second half tried first, no destination."""
    return build(
        always_fails,
        records=2,
        destination=None,
        BatchSize=2,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=3,
        sim_kwargs={"bisect_first_half_first": False},
    )


class TestSecondHalfFirst:
    def test_a_failing_first_half_is_never_reported_processed(self) -> None:
        """With bisect_first_half_first=False, dropping the second half never lets the failing first half count as processed (spec 3.4, I, r05)."""
        w = second_half_first()
        a = w.seqs[0]
        seen: set[str] = set()
        while not w.sim.is_idle():
            assert w.sim.step() is not None
            seen.add(w.sim.fate(a).outcome)
        assert {"pending", "dropped"} == seen
        assert [["k0", "k1"], *[["k1"]] * 4, *[["k0"]] * 4] == [
            keys(i.event) for i in w.fn.invocations
        ]
        assert {"dropped": 2} == nonzero_fate_counts(w.sim, w.uuid)
        check_all(w.sim)

    def test_a_disable_while_the_first_half_backs_off_keeps_it_unfinished(self) -> None:
        """Disabled while the first half waits for its retry, then enabled: it is retried to its end, never processed (spec 3.4, 1.4, I, r05)."""
        w = second_half_first()
        a = w.seqs[0]
        while not any(inv.sequence_numbers == (int(a),) for inv in w.fn.invocations):
            assert w.sim.step() is not None
        w.sim.run_for(0.5)  # "a" alone failed once and waits for its retry
        assert "pending" == w.sim.fate(a).outcome
        lam = w.sim.lambda_client
        lam.update_event_source_mapping(UUID=w.uuid, Enabled=False)
        w.sim.run_for(10)
        assert "pending" == w.sim.fate(a).outcome
        lam.update_event_source_mapping(UUID=w.uuid, Enabled=True)
        w.sim.run_until_idle()
        fate = w.sim.fate(a)
        assert ("dropped", "RetryAttemptsExhausted") == (fate.outcome, fate.reason)
        assert all(inv.error == "Unhandled" for inv in fate.deliveries)
        assert {"dropped": 2} == nonzero_fate_counts(w.sim, w.uuid)
        assert fates_by_record(w.sim, w.uuid, w.table) == nonzero_fate_counts(w.sim, w.uuid)
        check_all(w.sim)
