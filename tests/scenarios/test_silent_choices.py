"""
The settings for behaviour AWS leaves open (spec tag I; README "Where AWS is silent").

Each test shows the default reading and the alternative the setting selects.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.scenarios.helpers import RBIF, build, counting, fail_items, failing_on, keys, returning


class TestBisectSplitPoint:
    @pytest.mark.parametrize(
        ("sim_kwargs", "split", "first_half"),
        [
            ({}, "3+2", ["k0", "k1", "k2"]),
            ({"bisect_first_half_larger": False}, "2+3", ["k0", "k1"]),
        ],
        ids=["default-ceil", "floor"],
    )
    def test_split_point(
        self, sim_kwargs: dict[str, Any], split: str, first_half: list[str]
    ) -> None:
        """A batch of 5 splits 3+2 by default, 2+3 with bisect_first_half_larger=False (spec 3.4, I)."""
        w = build(
            failing_on("k0"),
            records=5,
            BatchSize=5,
            MaximumRetryAttempts=0,
            BisectBatchOnFunctionError=True,
            sim_kwargs=sim_kwargs,
        )
        w.sim.run_until_idle()
        assert split == w.sim.trace.events(kind="split")[0].detail
        assert first_half == keys(w.fn.invocations[1].event)
        assert {"processed": 4, "destination": 1} == {
            k: v for k, v in w.sim.fate_counts(w.uuid).items() if v
        }


class TestPartialRetryDelay:
    @pytest.mark.parametrize(
        ("sim_kwargs", "gap_ms"),
        [
            ({}, 1000),
            ({"retry_backoff_base": 3}, 3000),
            ({"partial_retry_delay": 2.5}, 2500),
            ({"partial_retry_delay": 0.001}, 1),
            ({"partial_retry_delay": 0.2, "retry_backoff_base": 3}, 200),
        ],
        ids=["default-1s", "follows-backoff-base", "2.5s", "least-1ms", "overrides-backoff"],
    )
    def test_wait_before_the_failed_suffix_is_retried(
        self, sim_kwargs: dict[str, Any], gap_ms: int
    ) -> None:
        """The failed suffix is retried after partial_retry_delay, by default the first backoff step (spec 4, I)."""
        w = build(
            fail_items("k1"),
            records=2,
            BatchSize=2,
            MaximumRetryAttempts=0,
            FunctionResponseTypes=RBIF,
            duration=0.1,
            sim_kwargs=sim_kwargs,
        )
        w.sim.run_until_idle()
        first, second = w.fn.invocations
        assert ["k1"] == keys(second.event)
        assert gap_ms == second.started_ms - first.ended_ms

    def test_full_failures_still_use_the_backoff(self) -> None:
        """partial_retry_delay applies only after a partial response; a complete failure backs off (spec 3.2)."""
        w = build(
            failing_on("k0"),
            MaximumRetryAttempts=1,
            duration=0.1,
            sim_kwargs={"partial_retry_delay": 0.001},
        )
        w.sim.run_until_idle()
        first, second = w.fn.invocations
        assert 1000 == second.started_ms - first.ended_ms


class TestNonObjectResponse:
    @pytest.mark.parametrize(
        "response", [42, "ok", ["x"], True], ids=["number", "string", "list", "bool"]
    )
    def test_non_object_is_success_by_default(self, response: Any) -> None:
        """Under ReportBatchItemFailures a non-object response is success by default (spec 4, I)."""
        w = build(returning(response), MaximumRetryAttempts=1, FunctionResponseTypes=RBIF)
        w.sim.run_until_idle()
        assert 1 == len(w.fn.invocations)
        assert "processed" == w.sim.fate(w.seqs[0]).outcome

    @pytest.mark.parametrize(
        "response", [42, "ok", ["x"], True], ids=["number", "string", "list", "bool"]
    )
    def test_non_object_is_failure_when_asked(self, response: Any) -> None:
        """With non_object_response="failure" it is a complete failure, retried then discarded."""
        w = build(
            returning(response),
            MaximumRetryAttempts=1,
            FunctionResponseTypes=RBIF,
            sim_kwargs={"non_object_response": "failure"},
        )
        w.sim.run_until_idle()
        assert 2 == len(w.fn.invocations)
        (message,) = w.queue.messages
        assert "RetryAttemptsExhausted" == message["requestContext"]["condition"]
        assert "destination" == w.sim.fate(w.seqs[0]).outcome

    @pytest.mark.parametrize("response", [None, "", []], ids=["null", "empty-string", "empty-list"])
    def test_documented_empty_responses_stay_success(self, response: Any) -> None:
        """null, "" and [] are recorded success (spec 4 table), whatever non_object_response says."""
        w = build(
            returning(response),
            MaximumRetryAttempts=1,
            FunctionResponseTypes=RBIF,
            sim_kwargs={"non_object_response": "failure"},
        )
        w.sim.run_until_idle()
        assert 1 == len(w.fn.invocations)
        assert [] == w.queue.messages

    def test_ignored_without_report_batch_item_failures(self) -> None:
        """Without ReportBatchItemFailures the response is never read, so 42 is success (spec 4)."""
        w = build(
            returning(42), MaximumRetryAttempts=1, sim_kwargs={"non_object_response": "failure"}
        )
        w.sim.run_until_idle()
        assert 1 == len(w.fn.invocations)


class TestRecordAgeInvokeCount:
    @pytest.mark.parametrize(
        ("sim_kwargs", "count"),
        [({}, 1), ({"record_age_min_invoke_count": 0}, 0)],
        ids=["default-at-least-1", "zero"],
    )
    def test_never_invoked_record(self, sim_kwargs: dict[str, Any], count: int) -> None:
        """A record too old at first read reports approximateInvokeCount 1, or 0 if asked (spec 3.3, I)."""
        w = build(
            lambda e, c: None,
            MaximumRecordAgeInSeconds=60,
            sim_kwargs={"state_transition_delay": 120, **sim_kwargs},
        )
        w.sim.run_until_idle()
        assert [] == w.fn.invocations
        (message,) = w.queue.messages
        assert "RecordAgeExceeded" == message["requestContext"]["condition"]
        assert count == message["requestContext"]["approximateInvokeCount"]

    def test_invoked_record_reports_its_invocations_either_way(self) -> None:
        """A record that was invoked reports its invocations, whatever the floor (spec 3.3)."""
        w = build(
            failing_on("k0"),
            MaximumRecordAgeInSeconds=60,
            sim_kwargs={"record_age_min_invoke_count": 0},
        )
        w.sim.run_until_idle()
        (message,) = w.queue.messages
        assert len(w.fn.invocations) == message["requestContext"]["approximateInvokeCount"]


class TestTumblingWindowAlignment:
    @pytest.mark.parametrize(
        ("sim_kwargs", "window"),
        [
            ({}, ("2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z")),
            (
                {"tumbling_window_alignment": "first-record"},
                ("2026-01-01T00:00:37Z", "2026-01-01T00:01:37Z"),
            ),
        ],
        ids=["default-epoch", "first-record"],
    )
    def test_first_window_bounds(self, sim_kwargs: dict[str, Any], window: tuple[str, str]) -> None:
        """Windows align to the epoch, or with "first-record" to the first record's second (spec 6.1, I)."""
        log: list[dict[str, Any]] = []
        w = build(counting(log), records=0, TumblingWindowInSeconds=60, sim_kwargs=sim_kwargs)
        w.sim.call_later(37.6, w.table.put_item, {"pk": "a"})
        w.sim.run_until_idle()
        assert window == (log[0]["window"]["start"], log[0]["window"]["end"])

    def test_later_windows_follow_the_first_without_gaps(self) -> None:
        """With "first-record" later windows are the first one's start plus multiples of W (spec 6.1)."""
        log: list[dict[str, Any]] = []
        w = build(
            counting(log),
            records=0,
            TumblingWindowInSeconds=60,
            sim_kwargs={"tumbling_window_alignment": "first-record"},
        )
        for at, key in [(37.6, "a"), (90, "b"), (100, "c"), (220, "d")]:
            w.sim.call_later(at, w.table.put_item, {"pk": key})
        w.sim.run_until_idle()
        finals = [e for e in log if e["isFinalInvokeForWindow"]]
        assert [
            ("2026-01-01T00:00:37Z", 2),  # a at 37.6 s, b at 90 s
            ("2026-01-01T00:01:37Z", 1),  # c at 100 s
            ("2026-01-01T00:03:37Z", 1),  # d at 220 s: [217, 277)
        ] == [(e["window"]["start"], e["state"]["n"]) for e in finals]
        assert {"processed": 4} == {k: v for k, v in w.sim.fate_counts(w.uuid).items() if v}


class TestTumblingWindowClose:
    def test_clock_closes_the_window_by_default(self) -> None:
        """By default the final invocation comes when the clock reaches window.end (spec 6.3, I)."""
        log: list[dict[str, Any]] = []
        w = build(counting(log), records=1, TumblingWindowInSeconds=60)
        w.sim.run_until_idle()
        assert [False, True] == [e["isFinalInvokeForWindow"] for e in log]
        assert "processed" == w.sim.fate(w.seqs[0]).outcome

    def test_record_close_waits_for_a_later_record(self) -> None:
        """With tumbling_window_close="record" a window closes only when a later window's record is read."""
        log: list[dict[str, Any]] = []
        w = build(
            counting(log),
            records=1,
            TumblingWindowInSeconds=60,
            sim_kwargs={"tumbling_window_close": "record"},
        )
        w.sim.run_until_idle()  # idle: nothing but a new write can close the window
        assert [False] == [e["isFinalInvokeForWindow"] for e in log]
        assert "pending" == w.sim.fate(w.seqs[0]).outcome
        w.sim.run_for(600)
        w.table.put_item({"pk": "late"})
        w.sim.run_until_idle()
        assert [False, True, False] == [e["isFinalInvokeForWindow"] for e in log]
        final = w.fn.invocations[1]
        assert [] == final.event["Records"]
        assert "late" not in keys(final.event)
        assert "processed" == w.sim.fate(w.seqs[0]).outcome
        assert "pending" == w.sim.fate(w.seqs[1]).outcome

    def test_record_close_still_closes_at_the_shard_end(self) -> None:
        """A shard that ends closes its window whatever the setting (spec 6.1)."""
        log: list[dict[str, Any]] = []
        w = build(
            counting(log),
            records=1,
            TumblingWindowInSeconds=60,
            sim_kwargs={"tumbling_window_close": "record", "shard_rollover_hours": 0.1},
        )
        w.sim.run_for(400)
        assert [False, True] == [e["isFinalInvokeForWindow"] for e in log]
        assert "processed" == w.sim.fate(w.seqs[0]).outcome


class TestGetRecordsPerPoll:
    @pytest.mark.parametrize(
        ("sim_kwargs", "sizes"),
        [
            ({}, [1000, 1000, 1000]),
            ({"get_records_per_poll": 3}, [3000]),
            ({"get_records_per_poll": 2}, [2000, 1000]),
        ],
        ids=["default-one-call", "three-calls", "two-calls"],
    )
    def test_window_zero_backlog(self, sim_kwargs: dict[str, Any], sizes: list[int]) -> None:
        """With window 0 a poll makes get_records_per_poll GetRecords calls of 1000 records (spec 2, 12.7, I)."""
        w = build(lambda e, c: None, records=3000, BatchSize=5000, sim_kwargs=sim_kwargs)
        w.sim.run_until_idle()
        assert sizes == [len(i.sequence_numbers) for i in w.fn.invocations]
        assert w.seqs == [str(s) for i in w.fn.invocations for s in i.sequence_numbers]

    def test_more_calls_never_pass_batch_size(self) -> None:
        """Extra calls stop once BatchSize is reached (spec 2)."""
        w = build(
            lambda e, c: None,
            records=2500,
            BatchSize=1200,
            sim_kwargs={"get_records_per_poll": 5},
        )
        w.sim.run_until_idle()
        assert [1200, 1200, 100] == [len(i.sequence_numbers) for i in w.fn.invocations]

    def test_more_calls_never_mix_tumbling_windows(self) -> None:
        """Extra calls stop at a tumbling window's edge: a batch never mixes windows (spec 6)."""
        log: list[dict[str, Any]] = []
        w = build(
            counting(log),
            records=0,
            TumblingWindowInSeconds=60,
            BatchSize=100,
            sim_kwargs={"get_records_per_poll": 4, "state_transition_delay": 200},
        )
        for i in range(6):
            w.sim.call_later(50 + 10 * i, w.table.put_item, {"pk": f"k{i}"})
        w.sim.run_until_idle()
        aggregations = [keys(e) for e in log if not e["isFinalInvokeForWindow"]]
        assert [["k0"], ["k1", "k2", "k3", "k4", "k5"]] == aggregations
