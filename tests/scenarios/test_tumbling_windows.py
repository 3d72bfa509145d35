"""Tumbling windows: spec 6 (bounds, state hand-off, final invocation, early end)."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from esm_sim.invariants import check_all
from tests.scenarios.helpers import (
    RBIF,
    build,
    counting,
    fates_by_record,
    keys,
    nonzero_fate_counts,
)


def write_every(w: Any, seconds: float, count: int, start: float = 0.0) -> None:
    """Schedule ``count`` writes, one every ``seconds``, from ``start`` seconds from now."""
    for i in range(count):
        w.sim.call_later(start + i * seconds, w.table.put_item, {"pk": f"w{i}"})


def finals(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in log if e["isFinalInvokeForWindow"]]


class TestWindows:
    def test_final_state_counts_the_records_written_in_each_window(self) -> None:
        """The count aggregated per window equals the records written in it (spec 6.3)."""
        log: list[dict[str, Any]] = []
        w = build(counting(log), records=0, TumblingWindowInSeconds=60)
        write_every(w, 7, 40)  # 280 s of writes
        w.sim.run_until_idle()
        written = Counter(
            datetime.fromtimestamp(
                float(r["dynamodb"]["ApproximateCreationDateTime"]) // 60 * 60, UTC
            ).strftime("%Y-%m-%dT%H:%M:%SZ")
            for r in w.table.shards[0].records
        )
        assert dict(written) == {e["window"]["start"]: e["state"]["n"] for e in finals(log)}
        assert {"processed": 40} == {k: v for k, v in w.sim.fate_counts(w.uuid).items() if v}

    def test_state_is_handed_from_each_invocation_to_the_next(self) -> None:
        """Each invocation of a window gets exactly the state the previous one returned (spec 6.2)."""
        log: list[dict[str, Any]] = []

        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            log.append(event)
            seen = event["state"].get("seen", [])
            return {"state": {"seen": [*seen, *keys(event)], "calls": len(log)}}

        w = build(handler, records=0, TumblingWindowInSeconds=120)
        write_every(w, 20, 5)
        w.sim.run_until_idle()
        assert {} == log[0]["state"]  # spec 6.2 (I): the first invoke of a window gets {}
        for before, after in itertools.pairwise(log):
            if before["window"] == after["window"]:
                assert {
                    "seen": before["state"].get("seen", []) + keys(before),
                    "calls": log.index(before) + 1,
                } == after["state"]

    @pytest.mark.parametrize("size", [1, 60, 120, 300, 900])
    def test_window_bounds_are_epoch_aligned(self, size: int) -> None:
        """window.start/end are [floor(t/W)*W, +W) as ISO-8601 seconds with Z (spec 6.1, 6.2)."""
        log: list[dict[str, Any]] = []
        w = build(counting(log), records=0, TumblingWindowInSeconds=size)
        w.sim.call_later(437.6, w.table.put_item, {"pk": "x"})
        w.sim.run_until_idle()
        t = int(
            w.sim.fate(w.seqs[0])
            .deliveries[0]
            .event["Records"][0]["dynamodb"]["ApproximateCreationDateTime"]
        )
        start = t - t % size
        expected = {
            "start": datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": datetime.fromtimestamp(start + size, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        assert [expected, expected] == [e["window"] for e in log]

    def test_event_carries_the_window_fields(self) -> None:
        """The event adds window, state, shardId, eventSourceARN and the two flags (spec 6.2)."""
        log: list[dict[str, Any]] = []
        w = build(counting(log), records=1, TumblingWindowInSeconds=60)
        w.sim.run_until_idle()
        assert [
            "Records",
            "window",
            "state",
            "shardId",
            "eventSourceARN",
            "isFinalInvokeForWindow",
            "isWindowTerminatedEarly",
        ] == list(log[0])
        assert w.table.shards[0].shard_id == log[0]["shardId"]
        assert w.table.stream_arn == log[0]["eventSourceARN"]
        assert (False, True) == (
            log[0]["isFinalInvokeForWindow"],
            log[-1]["isFinalInvokeForWindow"],
        )

    def test_final_invocation_fires_at_the_window_end_with_no_records(self) -> None:
        """The final invocation happens when the clock reaches window.end, Records empty (spec 6.3, I)."""
        log: list[dict[str, Any]] = []
        w = build(counting(log), records=1, TumblingWindowInSeconds=60)
        w.sim.run_until_idle()
        final = w.fn.invocations[-1]
        assert [] == final.event["Records"]
        assert final.event["window"]["end"] == final.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")

    def test_records_are_processed_only_after_the_final_invocation(self) -> None:
        """Until the final invocation succeeds, the window's records are not checkpointed (spec 6.3)."""
        log: list[dict[str, Any]] = []
        w = build(counting(log), records=2, TumblingWindowInSeconds=60)
        w.sim.run_for(30)
        assert 1 <= len(log)
        assert "pending" == w.sim.fate(w.seqs[0]).outcome
        w.sim.run_until_idle()
        assert "processed" == w.sim.fate(w.seqs[0]).outcome

    def test_missing_state_is_a_failed_invocation_and_is_retried(self) -> None:
        """A response without state counts as a failure and is retried (spec 3.1, 6.3)."""
        calls: list[dict[str, Any]] = []

        def handler(event: dict[str, Any], context: Any) -> Any:
            calls.append(event)
            if len(calls) == 1:
                return {"total": 1}  # no state
            return {"state": {"ok": True}}

        w = build(handler, records=1, TumblingWindowInSeconds=60, MaximumRetryAttempts=3)
        w.sim.run_until_idle()
        assert keys(calls[0]) == keys(calls[1])
        assert {} == calls[1]["state"]
        assert "processed" == w.sim.fate(w.seqs[0]).outcome

    def test_state_over_one_megabyte_ends_the_window_early(self) -> None:
        """A state over 1 MB ends the window early: isWindowTerminatedEarly is true (spec 6.1)."""
        log: list[dict[str, Any]] = []

        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            log.append(event)
            if event["isFinalInvokeForWindow"]:
                return {"state": {}}
            return {"state": {"blob": "x" * (1024 * 1024 + 1)}}

        w = build(handler, records=1, TumblingWindowInSeconds=60)
        w.sim.run_until_idle()
        assert [(False, False), (True, True)] == [
            (e["isFinalInvokeForWindow"], e["isWindowTerminatedEarly"]) for e in log
        ]
        assert log[0]["window"] == log[1]["window"]

    def test_failing_final_invocation_blocks_the_shard_until_it_succeeds(self) -> None:
        """If the final invocation fails, nothing after it is processed until it succeeds (spec 6.3)."""
        log: list[dict[str, Any]] = []
        failures = {"left": 3}

        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            log.append(event)
            if event["isFinalInvokeForWindow"] and failures["left"]:
                failures["left"] -= 1
                raise RuntimeError("final failed")
            return {"state": event["state"]}

        w = build(handler, records=1, TumblingWindowInSeconds=60)
        w.sim.call_later(70, w.table.put_item, {"pk": "next-window"})
        w.sim.run_until_idle()
        kinds = [
            ("final" if e["isFinalInvokeForWindow"] else keys(e)[0], e["window"]["start"][-9:])
            for e in log
        ]
        assert [
            ("k0", "00:00:00Z"),
            ("final", "00:00:00Z"),
            ("final", "00:00:00Z"),
            ("final", "00:00:00Z"),
            ("final", "00:00:00Z"),
            ("next-window", "00:01:00Z"),
            ("final", "00:01:00Z"),
        ] == kinds

    def test_final_failures_use_up_retries_then_the_window_is_discarded(self) -> None:
        """With MaximumRetryAttempts, a failing final discards the window's records (I)."""

        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            if event["isFinalInvokeForWindow"]:
                raise RuntimeError("final failed")
            return {"state": event["state"]}

        w = build(handler, records=2, TumblingWindowInSeconds=60, MaximumRetryAttempts=1)
        w.sim.run_until_idle()
        (message,) = w.queue.messages
        assert 2 == message["DDBStreamBatchInfo"]["batchSize"]
        assert ["destination", "destination"] == [w.sim.fate(s).outcome for s in w.seqs]

    def test_partial_batch_response_inside_a_window(self) -> None:
        """A partial response keeps the returned state; the failed suffix is retried in the window (I)."""
        log: list[dict[str, Any]] = []

        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            log.append(event)
            done = list(event["state"].get("done", []))
            state = {"done": done}
            failures = []
            for r in event["Records"]:
                key = r["dynamodb"]["Keys"]["pk"]["S"]
                if key == "k1" and len(log) == 1:
                    failures.append({"itemIdentifier": r["dynamodb"]["SequenceNumber"]})
                    break
                done.append(key)
            return {"state": state, "batchItemFailures": failures}

        w = build(
            handler, records=3, BatchSize=3, TumblingWindowInSeconds=60, FunctionResponseTypes=RBIF
        )
        w.sim.run_until_idle()
        assert [["k0", "k1", "k2"], ["k1", "k2"], []] == [keys(e) for e in log]
        assert {"done": ["k0"]} == log[1]["state"]
        assert {"done": ["k0", "k1", "k2"]} == log[2]["state"]

    def test_batches_never_mix_windows(self) -> None:
        """A backlog spanning windows arrives window by window, each closed by its final (spec 6)."""
        log: list[dict[str, Any]] = []
        w = build(
            counting(log),
            records=0,
            BatchSize=100,
            TumblingWindowInSeconds=10,
            sim_kwargs={"state_transition_delay": 60},
        )
        write_every(w, 3, 12)
        w.sim.run_until_idle()
        for event in log:
            starts = {
                int(r["dynamodb"]["ApproximateCreationDateTime"]) // 10 * 10
                for r in event["Records"]
            }
            assert len(starts) <= 1
        assert len(finals(log)) == 4


def keep_state(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A window handler that returns the state it got (an empty one outside windows)."""
    return {"state": event.get("state", {})}


DAYS = 86_400


class TestDiscardInsideAWindow:
    def test_a_record_discarded_in_an_open_window_is_not_delivered_after_disable_enable(
        self,
    ) -> None:
        """A record discarded while its window is open keeps its fate through a disable/enable: one DLQ message, no new delivery (spec 3.5, 1.4, r01)."""

        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            if "poison" in keys(event):
                msg = "poison"
                raise ValueError(msg)
            return {"state": {}}

        w = build(
            handler,
            records=0,
            BatchSize=1,
            TumblingWindowInSeconds=60,
            MaximumRetryAttempts=0,
        )
        w.sim.run_for(6)  # Enabled at 5 s
        w.table.put_item({"pk": "ok"})
        w.table.put_item({"pk": "poison"})
        w.sim.run_for(3)  # "ok" aggregated in the open window, "poison" discarded
        assert 1 == len(w.queue.messages)
        lam = w.sim.lambda_client
        lam.update_event_source_mapping(UUID=w.uuid, Enabled=False)
        w.sim.run_for(10)
        lam.update_event_source_mapping(UUID=w.uuid, Enabled=True)
        w.sim.run_until_idle()
        ok, poison = (w.sim.fate(s) for s in w.seqs)
        assert 1 == len(w.queue.messages)
        assert ("destination", "RetryAttemptsExhausted", 1) == (
            poison.outcome,
            poison.reason,
            len(poison.deliveries),
        )
        assert "processed" == ok.outcome
        assert {"processed": 1, "destination": 1} == nonzero_fate_counts(w.sim, w.uuid)
        assert fates_by_record(w.sim, w.uuid, w.table) == nonzero_fate_counts(w.sim, w.uuid)
        check_all(w.sim)


def final_fails(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Aggregates fine; every final invocation raises."""
    if event["isFinalInvokeForWindow"]:
        msg = "final fails"
        raise RuntimeError(msg)
    return {"state": event["state"]}


class TestAFinalThatNeverSucceeds:
    @pytest.mark.parametrize(
        ("how", "limit", "fate"),
        [
            pytest.param(
                "error",
                {"MaximumRecordAgeInSeconds": 120},
                ("destination", "RecordAgeExceeded"),
                id="spec3.2-6.1-error-ends-at-MaximumRecordAge",
            ),
            pytest.param(
                "throttle",
                {"MaximumRecordAgeInSeconds": 120},
                ("destination", "RecordAgeExceeded"),
                id="spec3.1-6.1-throttle-ends-at-MaximumRecordAge",
            ),
            pytest.param(
                "error",
                {"retention_hours": 1},
                ("expired", "RetentionExpired"),
                id="spec7.1-6.1-error-ends-at-retention",
            ),
            pytest.param(
                "throttle",
                {"retention_hours": 1},
                ("expired", "RetentionExpired"),
                id="spec7.1-6.1-throttle-ends-at-retention",
            ),
        ],
    )
    def test_it_ends_when_the_windows_records_leave(
        self, how: str, limit: dict[str, Any], fate: tuple[str, str]
    ) -> None:
        """With retries unlimited (-1), a final invocation that always fails or is throttled ends once its records age out or leave the stream, and the run goes idle (spec 6.1, 3.1, 3.2, 7.1, r03)."""
        sim_kwargs = {k: v for k, v in limit.items() if k == "retention_hours"}
        mapping = {k: v for k, v in limit.items() if k != "retention_hours"}
        w = build(
            final_fails if how == "error" else keep_state,
            records=2,
            TumblingWindowInSeconds=60,
            MaximumRetryAttempts=-1,
            sim_kwargs=sim_kwargs,
            **mapping,
        )
        w.sim.run_for(10)  # both records aggregated; the final is due at 00:01:00
        assert ["pending", "pending"] == [w.sim.fate(s).outcome for s in w.seqs]
        if how == "throttle":
            w.sim.lambda_client.put_function_concurrency(
                FunctionName="fn", ReservedConcurrentExecutions=0
            )
        w.sim.run_until_idle(max_seconds=3 * DAYS)  # returns: no SimulationLimitExceeded
        assert w.sim.is_idle()
        assert [fate, fate] == [(w.sim.fate(s).outcome, w.sim.fate(s).reason) for s in w.seqs]
        assert w.sim.now_ms < 2 * DAYS * 1000 + w.fn.invocations[0].started_ms
        if how == "error":
            assert all(i.outcome == "failure" for i in w.fn.invocations[1:])
        check_all(w.sim)

    def test_a_record_cut_from_the_window_is_not_judged_again_after_a_release(self) -> None:
        """A record the failing final cut from its window (past MaximumRecordAge) keeps its one fate when a disable releases the window and the enable reads it again: one failure record each (spec 6.1, 3.2, 1.4)."""
        w = build(final_fails, records=1, TumblingWindowInSeconds=60, MaximumRecordAgeInSeconds=60)
        w.sim.call_later(30, w.table.put_item, {"pk": "late"})
        w.sim.run_for(70)  # the final fails from 00:01:00; k0 ages out and is cut at 60 s old
        first, late = w.table.shards[0].sequence_numbers
        assert ("destination", "pending") == (w.sim.fate(first).outcome, w.sim.fate(late).outcome)
        assert 1 == len(w.queue.messages)
        lam = w.sim.lambda_client
        lam.update_event_source_mapping(UUID=w.uuid, Enabled=False)  # the window is released
        w.sim.run_for(30)
        lam.update_event_source_mapping(UUID=w.uuid, Enabled=True)
        w.sim.run_until_idle()
        assert [("destination", "RecordAgeExceeded")] * 2 == [
            (w.sim.fate(s).outcome, w.sim.fate(s).reason) for s in (first, late)
        ]
        named = [m["DDBStreamBatchInfo"]["startSequenceNumber"] for m in w.queue.messages]
        assert [first, late] == named  # one failure record each, none repeated
        assert {"destination": 2} == nonzero_fate_counts(w.sim, w.uuid)
        check_all(w.sim)


class TestWindowSizeUpdate:
    @pytest.mark.parametrize(
        ("size", "duration"),
        [
            pytest.param(0, 0.0, id="spec6.1-windows-off"),
            pytest.param(30, 0.0, id="spec6.1-smaller"),
            pytest.param(120, 0.0, id="spec6.1-larger"),
            pytest.param(0, 10.0, id="spec6.1-windows-off-while-invoking"),
            pytest.param(300, 10.0, id="spec6.1-larger-while-invoking"),
        ],
    )
    def test_a_new_size_mid_window_loses_no_record(self, size: int, duration: float) -> None:
        """Updating TumblingWindowInSeconds while a window holds records neither crashes nor loses one: every record reaches a final fate (spec 6.1, 1.4, r10)."""
        w = build(keep_state, records=0, TumblingWindowInSeconds=60, duration=duration, timeout=30)
        w.sim.run_for(6)
        w.table.put_item({"pk": "a"})
        w.sim.run_for(2)  # "a" sent to its window (and, with a duration, still in flight)
        assert 1 == len(w.fn.invocations)
        w.sim.lambda_client.update_event_source_mapping(UUID=w.uuid, TumblingWindowInSeconds=size)
        w.sim.run_for(6)  # the update settles
        w.table.put_item({"pk": "b"})
        w.sim.run_until_idle()
        assert {"processed": 2} == nonzero_fate_counts(w.sim, w.uuid)
        assert fates_by_record(w.sim, w.uuid, w.table) == nonzero_fate_counts(w.sim, w.uuid)
        assert ["a", "b"] == sorted({k for i in w.fn.invocations for k in keys(i.event)})
        assert (size == 0) == ("window" not in w.fn.invocations[-1].event)
        check_all(w.sim)


class TestCloseOnRecord:
    def test_a_window_waits_idle_for_a_later_record(self) -> None:
        """With tumbling_window_close="record" a window's records stay pending while idle, and check_all accepts that (spec 6.3, I)."""
        log: list[dict[str, Any]] = []
        w = build(
            counting(log),
            records=2,
            TumblingWindowInSeconds=60,
            sim_kwargs={"tumbling_window_close": "record"},
        )
        w.sim.run_until_idle()
        assert w.sim.is_idle()
        assert [] == finals(log)
        assert {"pending": 2} == nonzero_fate_counts(w.sim, w.uuid)
        check_all(w.sim)
        w.sim.call_later(120, w.table.put_item, {"pk": "later"})
        w.sim.run_until_idle()
        assert [2] == [e["state"]["n"] for e in finals(log)]
        assert {"processed": 2, "pending": 1} == nonzero_fate_counts(w.sim, w.uuid)
        assert fates_by_record(w.sim, w.uuid, w.table) == nonzero_fate_counts(w.sim, w.uuid)
        check_all(w.sim)
