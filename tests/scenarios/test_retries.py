"""Retries of failing batches: spec 3.1 (kinds of failure) and 3.2 (retry limits)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.scenarios.helpers import build, failing_on, keys


class TestMaximumRetryAttempts:
    @pytest.mark.parametrize("retries", [0, 1, 3])
    def test_n_retries_give_n_plus_one_invocations(self, retries: int) -> None:
        """MaximumRetryAttempts N gives N+1 invocations of a failing batch (spec 3.2)."""
        w = build(failing_on("k0"), MaximumRetryAttempts=retries)
        w.sim.run_until_idle()
        assert retries + 1 == len(w.fn.invocations)
        assert retries + 1 == w.queue.messages[0]["requestContext"]["approximateInvokeCount"]

    def test_whole_batch_is_retried(self) -> None:
        """A function error retries the whole batch, good records included (spec 3.1)."""
        w = build(failing_on("k1"), records=3, BatchSize=3, MaximumRetryAttempts=1)
        w.sim.run_until_idle()
        assert [["k0", "k1", "k2"]] * 2 == [keys(i.event) for i in w.fn.invocations]

    def test_exhausted_batch_goes_to_destination_and_shard_moves_on(self) -> None:
        """After the last retry the batch is discarded and the next batch is read (spec 3.5)."""
        w = build(failing_on("k0"), records=4, BatchSize=2, MaximumRetryAttempts=1)
        w.sim.run_until_idle()
        assert [["k0", "k1"], ["k0", "k1"], ["k2", "k3"]] == [
            keys(i.event) for i in w.fn.invocations
        ]
        info = w.queue.messages[0]["DDBStreamBatchInfo"]
        assert (w.seqs[0], w.seqs[1], 2) == (
            info["startSequenceNumber"],
            info["endSequenceNumber"],
            info["batchSize"],
        )

    def test_shard_blocks_while_retrying(self) -> None:
        """Records after a failing batch are not delivered while it is retried (spec 3.1)."""
        calls: list[list[str]] = []

        def handler(event: dict[str, Any], context: Any) -> None:
            calls.append(keys(event))
            raise RuntimeError("down")

        w = build(handler, records=2, BatchSize=1, MaximumRetryAttempts=-1)
        w.sim.run_for(600)
        assert {"k0"} == {k for call in calls for k in call}
        assert len(calls) > 5

    def test_retries_wait_with_exponential_backoff(self) -> None:
        """Retries wait 1 s, 2 s, 4 s ... capped at 60 s, the documented default (spec 3.2, I)."""
        w = build(failing_on("k0"), MaximumRetryAttempts=8)
        w.sim.run_until_idle()
        starts = [i.started_ms for i in w.fn.invocations]
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000] == gaps

    def test_backoff_is_configurable(self) -> None:
        """retry_backoff_base and retry_backoff_max set the wait between attempts."""
        w = build(
            failing_on("k0"),
            MaximumRetryAttempts=3,
            sim_kwargs={"retry_backoff_base": 0.5, "retry_backoff_max": 1.0},
        )
        w.sim.run_until_idle()
        starts = [i.started_ms for i in w.fn.invocations]
        assert [500, 1000, 1000] == [b - a for a, b in itertools.pairwise(starts)]

    def test_infinite_retries_end_when_records_leave_the_stream(self) -> None:
        """With -1/-1 a poison record blocks its shard until it expires after 24 h (spec 3.1, 7.1)."""
        w = build(failing_on("k0"), BatchSize=1)
        w.sim.call_later(3600, w.table.put_item, {"pk": "k1"})
        w.sim.run_until_idle(max_seconds=2 * 86_400)
        fate = w.sim.fate(w.seqs[0])
        assert ("expired", "RetentionExpired") == (fate.outcome, fate.reason)
        assert "processed" == w.sim.fate(w.seqs[1]).outcome
        assert [] == w.queue.messages  # expiry by retention is not a discard (spec 3.5)
        last = w.fn.invocations[-1]
        assert ["k1"] == keys(last.event)
        assert last.started_ms - w.fn.invocations[0].started_ms >= 86_400_000 - 60_000


class TestFunctionErrors:
    def test_timeout_is_a_function_error(self) -> None:
        """A handler that runs past its timeout fails with Lambda's timeout message (spec 3.1)."""
        w = build(lambda e, c: None, duration=5, timeout=3, MaximumRetryAttempts=0)
        w.sim.run_until_idle()
        inv = w.fn.invocations[0]
        assert "Unhandled" == inv.error
        assert inv.error_message is not None
        assert inv.error_message.endswith("Task timed out after 3.00 seconds")
        assert 3000 == inv.duration_ms
        assert "Unhandled" == w.queue.messages[0]["responseContext"]["functionError"]

    def test_non_json_response_is_a_function_error(self) -> None:
        """A response that cannot be marshalled to JSON is a function error (spec 3.1)."""
        w = build(lambda e, c: {"x": {1, 2}}, MaximumRetryAttempts=0)
        w.sim.run_until_idle()
        inv = w.fn.invocations[0]
        assert ("Unhandled", "Runtime.MarshalError") == (inv.error, inv.error_type)
        assert 1 == len(w.queue.messages)

    def test_oversized_response_is_a_function_error(self) -> None:
        """A response over 6 MB is a function error (spec 10)."""
        w = build(lambda e, c: "x" * 6_300_000, MaximumRetryAttempts=0)
        w.sim.run_until_idle()
        assert "Function.ResponseSizeTooLarge" == w.fn.invocations[0].error_type

    def test_last_processing_result_reports_problem_then_ok(self) -> None:
        """LastProcessingResult moves to 'PROBLEM: Function call failed' and back to 'OK'."""
        w = build(failing_on("k0"), MaximumRetryAttempts=0)
        w.sim.run_until_idle()
        assert "PROBLEM: Function call failed" == w.mapping()["LastProcessingResult"]
        w.table.put_item({"pk": "fine"})
        w.sim.run_until_idle()
        assert "OK" == w.mapping()["LastProcessingResult"]
