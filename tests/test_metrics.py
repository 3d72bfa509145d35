"""Metrics (spec 9) against hand-computed values for small scenarios."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import esm_sim
from esm_sim.errors import ConfigError

START = datetime(2026, 1, 1, tzinfo=UTC)
ENABLED = START + timedelta(seconds=5)  # state_transition_delay 5 s
EVENT_COUNT = {"Metrics": ["EventCount"]}


def ok(event: dict[str, Any], context: Any) -> None:
    return None


def poison(event: dict[str, Any], context: Any) -> None:
    for record in event["Records"]:
        if record["dynamodb"]["Keys"]["pk"]["S"] == "k1":
            raise ValueError("poison")


def world(
    handler: Any = ok,
    *,
    records: int = 3,
    duration: float = 0.0,
    destination: str | None = "queue",
    shard_count: int = 1,
    sim_kwargs: dict[str, Any] | None = None,
    **mapping: Any,
) -> tuple[esm_sim.Simulation, esm_sim.Function, str]:
    """One table, one function, one mapping, ``records`` items written at t=0."""
    sim = esm_sim.Simulation(seed=1, **(sim_kwargs or {}))
    table = sim.create_table("orders", partition_key="pk", shard_count=shard_count)
    fn = sim.create_function("fn", handler, duration=duration)
    params: dict[str, Any] = {
        "FunctionName": "fn",
        "EventSourceArn": table.stream_arn,
        "StartingPosition": "TRIM_HORIZON",
        **mapping,
    }
    if destination == "queue":
        params["DestinationConfig"] = {"OnFailure": {"Destination": sim.create_queue("q").arn}}
    elif destination is not None:
        params["DestinationConfig"] = {"OnFailure": {"Destination": destination}}
    uuid = sim.lambda_client.create_event_source_mapping(**params)["UUID"]
    for i in range(records):
        table.put_item({"pk": f"k{i}", "n": i})
    return sim, fn, uuid


class TestFunctionMetrics:
    def test_invocations_sum_equals_invocations_made(self) -> None:
        """The sum of Invocations is the number of handler runs (spec 9.1)."""
        sim, fn, _ = world(poison, records=6, BatchSize=3, MaximumRetryAttempts=2)
        sim.run_until_idle()
        # The poison batch k0..k2: 1 attempt + 2 retries; then k3..k5 once.
        assert 4 == len(fn.invocations)
        assert len(fn.invocations) == sim.metrics.sum("Invocations")

    def test_errors_count_failed_invocations_at_invoke_time(self) -> None:
        """Errors counts function errors, timestamped when the invocation started (spec 9.1)."""
        sim, fn, _ = world(poison, records=3, duration=0.5, MaximumRetryAttempts=1)
        sim.run_until_idle()
        failed = [inv for inv in fn.invocations if inv.error]
        assert 2 == len(failed)
        assert [(inv.started_at, 1) for inv in failed] == sim.metrics.series("Errors")

    def test_duration_is_each_invocation_running_time(self) -> None:
        """Duration has one point per invocation, in ms (spec 9.1)."""
        sim, _fn, _ = world(records=3, duration=0.25, BatchSize=2)
        sim.run_until_idle()
        assert [(ENABLED, 250), (ENABLED + timedelta(milliseconds=250), 250)] == (
            sim.metrics.series("Duration")
        )

    def test_iterator_age_is_last_record_age_at_send(self) -> None:
        """IteratorAge is the age of the batch's last record when the event is sent (spec 9.1)."""
        sim, _fn, _ = world(records=1, duration=0.5)
        sim.call_later(2, lambda: sim.tables["orders"].put_item({"pk": "late"}))
        sim.run_until_idle()
        # Both records go at 5 s; the last was written at 2 s.
        assert [(ENABLED, 3000)] == sim.metrics.series("IteratorAge")

    def test_iterator_age_at_finish_adds_the_duration(self) -> None:
        """iterator_age_at="finish" measures when the invocation ends (spec 11 row 10)."""
        sim, _fn, _ = world(records=1, duration=0.5, sim_kwargs={"iterator_age_at": "finish"})
        sim.run_until_idle()
        assert [(ENABLED + timedelta(milliseconds=500), 5500)] == sim.metrics.series("IteratorAge")

    def test_throttles_under_reserved_concurrency_zero(self) -> None:
        """Reserved concurrency 0 throttles every attempt until the records pass max age (spec 3.1)."""
        sim, fn, _ = world(records=3, MaximumRecordAgeInSeconds=60)
        sim.lambda_client.put_function_concurrency(
            FunctionName="fn", ReservedConcurrentExecutions=0
        )
        sim.run_until_idle()
        # Attempts at 5, 6, 8, 12, 20, 36 s (backoff 1, 2, 4, 8, 16 s); at 68 s the
        # records are over 60 s old and are discarded before a seventh attempt.
        seconds = [5, 6, 8, 12, 20, 36]
        assert [(START + timedelta(seconds=s), 1) for s in seconds] == sim.metrics.series(
            "Throttles"
        )
        assert 0 == sim.metrics.sum("Invocations")
        assert [] == fn.invocations

    def test_injected_service_errors_are_not_throttles(self) -> None:
        """A refusal that is not TooManyRequestsException is not a Throttle (spec 9.1)."""
        sim, _fn, _ = world(records=1)
        sim.inject_invoke_errors("fn", count=2)
        sim.run_until_idle()
        assert 0 == sim.metrics.sum("Throttles")
        assert 1 == sim.metrics.sum("Invocations")

    def test_concurrent_executions_per_shard(self) -> None:
        """Two shards invoking at once make ConcurrentExecutions 2 (spec 9.1)."""
        sim, fn, _ = world(records=8, duration=1.0, shard_count=2)
        sim.run_until_idle()
        shards = {inv.shard_id for inv in fn.invocations}
        assert 2 == len(shards)
        assert 2 == sim.metrics.maximum("ConcurrentExecutions")
        assert 0 == sim.metrics.series("ConcurrentExecutions")[-1][1]

    def test_destination_delivery_failure_drops_the_records(self) -> None:
        """A FIFO destination fails: DestinationDeliveryFailures 1, DroppedEventCount += n (spec 9.2)."""
        sim, _fn, uuid = _fifo_world()
        sim.run_until_idle()
        m = sim.metrics
        assert 1 == m.sum("DestinationDeliveryFailures", function_name="fn")
        assert 3 == m.sum("DroppedEventCount", uuid=uuid)
        assert 0 == m.sum("OnFailureDestinationDeliveredEventCount", uuid=uuid)


def _fifo_world() -> tuple[esm_sim.Simulation, esm_sim.Function, str]:
    sim = esm_sim.Simulation(seed=1)
    table = sim.create_table("orders", partition_key="pk")
    fn = sim.create_function("fn", poison)
    fifo = sim.create_queue("dlq.fifo")
    uuid = sim.lambda_client.create_event_source_mapping(
        FunctionName="fn",
        EventSourceArn=table.stream_arn,
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=0,
        MetricsConfig=EVENT_COUNT,
        DestinationConfig={"OnFailure": {"Destination": fifo.arn}},
    )["UUID"]
    for i in range(3):
        table.put_item({"pk": f"k{i}"})
    return sim, fn, uuid


class TestEsmMetrics:
    def test_dropped_versus_delivered_to_destination(self) -> None:
        """Records past max age go to the destination if any, else they count as dropped (spec 9.2)."""
        for destination, delivered, dropped in (("queue", 3, 0), (None, 0, 3)):
            sim, _fn, uuid = world(
                records=3,
                destination=destination,
                MaximumRecordAgeInSeconds=60,
                MetricsConfig=EVENT_COUNT,
            )
            sim.lambda_client.put_function_concurrency(
                FunctionName="fn", ReservedConcurrentExecutions=0
            )
            sim.run_until_idle()
            at_68s = START + timedelta(seconds=68)
            m = sim.metrics
            assert delivered == m.sum("OnFailureDestinationDeliveredEventCount", uuid=uuid)
            assert dropped == m.sum("DroppedEventCount", uuid=uuid)
            name = "DroppedEventCount" if dropped else "OnFailureDestinationDeliveredEventCount"
            assert [(at_68s, 3)] == m.series(name)

    def test_polled_filtered_invoked_counts(self) -> None:
        """Polled = filtered + sent; InvokedEventCount counts records once per invocation (spec 9.2)."""
        pattern = {"dynamodb": {"Keys": {"pk": {"S": ["k0", "k2"]}}}}
        sim, _fn, _uuid = world(
            records=4,
            MetricsConfig=EVENT_COUNT,
            FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]},
        )
        sim.run_until_idle()
        m = sim.metrics
        assert 2 == m.sum("FilteredOutEventCount")
        assert 2 == m.sum("InvokedEventCount")
        assert 4 == m.sum("PolledEventCount")

    def test_retries_count_records_again_in_invoked_but_not_polled(self) -> None:
        """InvokedEventCount counts retried records again; PolledEventCount does not (spec 3.7)."""
        sim, fn, _uuid = world(poison, records=3, MaximumRetryAttempts=2, MetricsConfig=EVENT_COUNT)
        sim.run_until_idle()
        m = sim.metrics
        assert 3 == len(fn.invocations)
        assert 9 == m.sum("InvokedEventCount")
        assert 9 == m.sum("FailedInvokeEventCount")
        assert 3 == m.sum("PolledEventCount")
        assert 3 == m.sum("OnFailureDestinationDeliveredEventCount")

    def test_failed_invoke_count_includes_partial_responses_at_the_end(self) -> None:
        """A response listing item failures fails its records, timestamped at the end (spec 9.2)."""

        def partial(event: dict[str, Any], context: Any) -> dict[str, Any]:
            second = event["Records"][1]["dynamodb"]["SequenceNumber"]
            if len(event["Records"]) == 3:
                return {"batchItemFailures": [{"itemIdentifier": second}]}
            return {"batchItemFailures": []}

        sim, fn, _uuid = world(
            partial,
            records=3,
            duration=0.5,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            MetricsConfig=EVENT_COUNT,
        )
        sim.run_until_idle()
        assert 2 == len(fn.invocations)
        end = fn.invocations[0].ended_at
        assert [(end, 3)] == sim.metrics.series("FailedInvokeEventCount")
        assert 0 == sim.metrics.sum("Errors")

    def test_no_event_counts_without_opt_in(self) -> None:
        """ESM event counts exist only with MetricsConfig EventCount (spec 9.2)."""
        sim, _fn, _uuid = world(records=3)
        sim.run_until_idle()
        assert [] == sim.metrics.series("InvokedEventCount")
        assert 1 == sim.metrics.sum("Invocations")


class TestQueries:
    def test_statistics_bucket_by_period(self) -> None:
        """statistics gives one value per period bucket with data, as CloudWatch (spec 9)."""
        sim, _fn, _ = world(records=4, duration=0.6, BatchSize=1)
        sim.run_until_idle()
        # Invocations at 5.0, 5.6, 6.2, 6.8 s.
        assert [(ENABLED, 2.0), (ENABLED + timedelta(seconds=1), 2.0)] == (
            sim.metrics.statistics("Invocations", 1, "Sum")
        )
        assert [(START, 600.0)] == sim.metrics.statistics("Duration", 60, "Maximum")
        assert [(START, 4.0)] == sim.metrics.statistics("Duration", 60, "SampleCount")

    def test_period_restricts_points(self) -> None:
        """period=(start, end) keeps points with start <= t < end."""
        sim, _fn, _ = world(records=4, duration=0.6, BatchSize=1)
        sim.run_until_idle()
        window = (ENABLED + timedelta(milliseconds=600), ENABLED + timedelta(seconds=2))
        assert 3 == sim.metrics.sum("Invocations", period=window)  # 5.6, 6.2, 6.8 s
        assert 1 == sim.metrics.maximum("ConcurrentExecutions", period=window)

    def test_filters_by_function_and_mapping(self) -> None:
        """function_name and uuid select the points of one function or mapping."""
        sim, _fn, uuid = world(records=2)
        sim.run_until_idle()
        sim.create_function("other", lambda event, context: None)
        assert 1 == sim.metrics.sum("Invocations", function_name="fn", uuid=uuid)
        assert 0 == sim.metrics.sum("Invocations", function_name="other")

    def test_metrics_follow_a_growing_trace(self) -> None:
        """Querying, running on and querying again sees the new events."""
        sim, _fn, _ = world(records=1)
        assert 0 == sim.metrics.sum("Invocations")
        sim.run_until_idle()
        assert 1 == sim.metrics.sum("Invocations")

    @pytest.mark.parametrize(
        ("call", "message"),
        [
            pytest.param(
                lambda m: m.series("Invocation"),
                r"name='Invocation' is not a metric; choose one of \['Invocations'",
                id="unknown-name",
            ),
            pytest.param(
                lambda m: m.statistics("Errors", 60, "p99"),
                r"stat='p99' must be one of",
                id="unknown-stat",
            ),
            pytest.param(
                lambda m: m.statistics("Errors", 0, "Sum"),
                r"period_seconds=0 must be an int >= 1",
                id="zero-period",
            ),
            pytest.param(
                lambda m: m.sum("Errors", uuid="nope"),
                r"uuid='nope' is not a mapping",
                id="unknown-uuid",
            ),
            pytest.param(
                lambda m: m.sum("Errors", period=(1,)),
                r"period=\(1,\) must be a \(start, end\) pair",
                id="bad-period",
            ),
            pytest.param(
                lambda m: m.sum("Errors", period=(20, 10)),
                r"period=\(20, 10\) ends before it starts",
                id="reversed-period",
            ),
        ],
    )
    def test_bad_arguments_raise_config_error(self, call: Any, message: str) -> None:
        """Unknown metric names, statistics and filters raise ConfigError naming the value."""
        sim, _, _ = world(records=1)
        with pytest.raises(ConfigError, match=message):
            call(sim.metrics)
