"""ReportBatchItemFailures on streams: spec 4 (and the LocalStack recordings against AWS)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scenarios.helpers import RBIF, build, fail_items, keys, returning


class TestSuccessResponses:
    @pytest.mark.parametrize(
        "response",
        [None, "", [], {}, {"batchItemFailures": []}, {"batchItemFailures": None}],
        ids=[
            "null",
            "empty-string",
            "empty-list",
            "empty-object",
            "empty-failures",
            "null-failures",
        ],
    )
    def test_complete_success(self, response: Any) -> None:
        """These responses are complete success: exactly one invocation (spec 4 table)."""
        w = build(returning(response), MaximumRetryAttempts=3, FunctionResponseTypes=RBIF)
        w.sim.run_until_idle()
        assert 1 == len(w.fn.invocations)
        assert [] == w.queue.messages

    def test_capitalised_key_reads_as_success(self) -> None:
        """Keys are case-sensitive: BatchItemFailures is a missing key, so success (spec 11 row 2)."""
        w = build(
            lambda e, c: {
                "BatchItemFailures": [
                    {"ItemIdentifier": e["Records"][0]["dynamodb"]["SequenceNumber"]}
                ]
            },
            MaximumRetryAttempts=3,
            FunctionResponseTypes=RBIF,
        )
        w.sim.run_until_idle()
        assert 1 == len(w.fn.invocations)
        assert "processed" == w.sim.fate(w.seqs[0]).outcome


class TestCompleteFailureResponses:
    @pytest.mark.parametrize(
        "entry",
        [
            {"itemIdentifier": "123"},
            {"itemIdentifier": ""},
            {"itemIdentifier": None},
            {"foo": "bar"},
            {"foo": None},
        ],
        ids=["not-in-batch", "empty-string", "null", "wrong-key", "wrong-key-null"],
    )
    def test_bad_identifier_fails_whole_batch(self, entry: dict[str, Any]) -> None:
        """A bad itemIdentifier fails the whole batch: 4 invocations with 3 retries (spec 4; LS-DDB)."""
        w = build(
            returning({"batchItemFailures": [entry]}),
            MaximumRetryAttempts=3,
            FunctionResponseTypes=RBIF,
        )
        w.sim.run_until_idle()
        assert 4 == len(w.fn.invocations)
        (message,) = w.queue.messages
        assert 4 == message["requestContext"]["approximateInvokeCount"]
        assert "RetryAttemptsExhausted" == message["requestContext"]["condition"]
        # spec 11 row 23: functionError null after an item-failure exhaustion.
        assert {"statusCode": 200, "executedVersion": "$LATEST", "functionError": None} == (
            message["responseContext"]
        )
        info = message["DDBStreamBatchInfo"]
        assert (1, w.seqs[0], w.seqs[0]) == (
            info["batchSize"],
            info["startSequenceNumber"],
            info["endSequenceNumber"],
        )

    def test_exception_with_rbif_reports_unhandled(self) -> None:
        """A thrown error under ReportBatchItemFailures gives functionError Unhandled (spec 11 row 23)."""

        def handler(event: dict[str, Any], context: Any) -> None:
            raise RuntimeError("boom")

        w = build(handler, MaximumRetryAttempts=3, FunctionResponseTypes=RBIF)
        w.sim.run_until_idle()
        assert 4 == len(w.fn.invocations)
        assert "Unhandled" == w.queue.messages[0]["responseContext"]["functionError"]


class TestPartialFailure:
    def test_recorded_scenario_six_records_sixth_fails(self) -> None:
        """BatchSize 3, 6 records, the 6th fails, 3 retries: it is delivered 5 times (LS-DDB, spec 4)."""
        w = build(
            fail_items("k5"),
            records=6,
            BatchSize=3,
            MaximumRetryAttempts=3,
            FunctionResponseTypes=RBIF,
        )
        w.sim.run_until_idle()
        deliveries = [keys(i.event) for i in w.fn.invocations]
        assert [["k0", "k1", "k2"], ["k3", "k4", "k5"]] + [["k5"]] * 4 == deliveries
        (message,) = w.queue.messages
        assert 4 == message["requestContext"]["approximateInvokeCount"]
        assert 1 == message["DDBStreamBatchInfo"]["batchSize"]
        assert w.seqs[5] == message["DDBStreamBatchInfo"]["startSequenceNumber"]

    def test_checkpoint_at_lowest_reported_record(self) -> None:
        """Records before the lowest reported one are processed; it and all after are retried."""
        w = build(
            fail_items("k3", "k1"),
            records=5,
            BatchSize=5,
            MaximumRetryAttempts=0,
            FunctionResponseTypes=RBIF,
        )
        w.sim.run_until_idle()
        assert ["k0", "k1", "k2", "k3", "k4"] == keys(w.fn.invocations[0].event)
        assert ["k1", "k2", "k3", "k4"] == keys(w.fn.invocations[1].event)
        assert "processed" == w.sim.fate(w.seqs[0]).outcome

    def test_good_records_after_the_failure_are_delivered_again(self) -> None:
        """Partial responses cut re-delivery but do not remove it: duplicates (spec 3.7)."""
        w = build(
            fail_items("k1"),
            records=3,
            BatchSize=3,
            MaximumRetryAttempts=1,
            FunctionResponseTypes=RBIF,
        )
        w.sim.run_until_idle()
        fate = w.sim.fate(w.seqs[2])
        assert "processed" != fate.outcome or len(fate.deliveries) >= 2
        assert 3 == len(fate.deliveries)

    def test_shorter_batch_gets_fresh_attempt_count(self) -> None:
        """After the checkpoint moves, the rest gets a fresh 1 + N attempts (spec 4, I from O)."""
        w = build(
            fail_items("k1"),
            records=2,
            BatchSize=2,
            MaximumRetryAttempts=1,
            FunctionResponseTypes=RBIF,
        )
        w.sim.run_until_idle()
        assert [["k0", "k1"], ["k1"], ["k1"]] == [keys(i.event) for i in w.fn.invocations]

    def test_no_progress_counts_as_a_failed_attempt(self) -> None:
        """Reporting the first record of the batch is a failed attempt of the same batch."""
        w = build(
            fail_items("k0"),
            records=2,
            BatchSize=2,
            MaximumRetryAttempts=1,
            FunctionResponseTypes=RBIF,
        )
        w.sim.run_until_idle()
        assert [["k0", "k1"], ["k0", "k1"]] == [keys(i.event) for i in w.fn.invocations]
        assert 2 == w.queue.messages[0]["DDBStreamBatchInfo"]["batchSize"]

    def test_ignored_without_function_response_types(self) -> None:
        """A partial response is ignored unless ReportBatchItemFailures is on (spec 4)."""
        w = build(fail_items("k0"), records=2, BatchSize=2, MaximumRetryAttempts=1)
        w.sim.run_until_idle()
        assert 1 == len(w.fn.invocations)
        assert "processed" == w.sim.fate(w.seqs[0]).outcome

    def test_with_bisect_split_happens_at_the_returned_record(self) -> None:
        """With bisect on, a partial response splits at the returned sequence number (spec 3.4)."""
        w = build(
            fail_items("k2"),
            records=4,
            BatchSize=4,
            MaximumRetryAttempts=0,
            FunctionResponseTypes=RBIF,
            BisectBatchOnFunctionError=True,
        )
        w.sim.run_until_idle()
        assert ["k2", "k3"] == keys(w.fn.invocations[1].event)
