"""Tests of Simulation.redrive and testing.check_redrive_idempotent (issue 19 item 1)."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

import esm_sim
from esm_sim import testing
from esm_sim.errors import ConfigError, SimulationError
from esm_sim.strategies import Fault, FaultPlan, Scenario, Write

POISON = "k3"
POISONS: set[str] = set()  # more poison, as "p<n>" for key "k<n>" (the lane test)


class Store:
    """A handler over a dict 'database', failing on the poison key until fixed."""

    def __init__(self) -> None:
        self.fixed = False
        self.seen: list[list[int]] = []
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        self.seen.append([int(r["dynamodb"]["SequenceNumber"]) for r in event["Records"]])
        for r in event["Records"]:
            key = r["dynamodb"]["Keys"]["pk"]["S"]
            if (key == POISON and not self.fixed) or key.replace("k", "p") in POISONS:
                msg = "poison"
                raise ValueError(msg)
        return None


def _incident(
    *,
    sink: str = "queue",
    batch_size: int = 10,
    duration: float = 0.5,
    extra: dict[str, Any] | None = None,
) -> tuple[esm_sim.Simulation, Store, Any, dict[str, Any]]:
    """Ten writes, key k3 poisonous, no bisect, no retry: one batch of 10 goes to ``sink``."""
    sim = esm_sim.Simulation(seed=3)
    table = sim.create_table("things", partition_key="pk")
    store = Store()
    sim.create_function("fn", store, duration=duration)
    dest = {
        "queue": sim.create_queue("dlq"),
        "topic": sim.create_topic("dlt"),
        "bucket": sim.create_bucket("dlb"),
    }[sink]
    mapping = sim.lambda_client.create_event_source_mapping(
        FunctionName="fn",
        EventSourceArn=table.stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=batch_size,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": dest.arn}},
        **(extra or {}),
    )
    for i in range(10):
        table.put_item({"pk": f"k{i}", "v": i})
    sim.run_until_idle()
    return sim, store, dest, mapping


def _named(sim: esm_sim.Simulation) -> list[int]:
    shard = sim.tables["things"].shards[0]  # rollovers add more after 4 hours
    return [int(s) for s in shard.sequence_numbers]


class TestRedrive:
    def test_redrives_the_records_the_failure_record_names(self) -> None:
        """A queue's failure record is read back from the stream and sent to the function."""
        sim, store, dlq, _ = _incident()
        store.fixed = True
        result = sim.redrive(dlq)
        assert tuple(_named(sim)) == result.redriven
        assert () == result.lost
        assert [list(result.redriven)] == store.seen[-1:]

    def test_sequence_numbers_typed_as_invocation_sequence_numbers(self) -> None:
        """redriven, lost and failed hold ints, as Invocation.sequence_numbers does."""
        sim, _store, dlq, _ = _incident()
        result = sim.redrive(dlq)
        inv = result.invocations[0]
        assert inv.sequence_numbers == result.redriven
        assert all(type(s) is int for s in result.redriven + result.failed)

    def test_batches_of_the_mappings_batch_size(self) -> None:
        """The records go in batches of the mapping's BatchSize (as it is now), in order."""
        sim, store, dlq, mapping = _incident()
        sim.lambda_client.update_event_source_mapping(UUID=mapping["UUID"], BatchSize=3)
        sim.run_for(60)
        store.fixed = True
        result = sim.redrive(dlq)
        assert [3, 3, 3, 1] == [len(i.sequence_numbers) for i in result.invocations]
        assert result.redriven == tuple(s for i in result.invocations for s in i.sequence_numbers)

    def test_event_is_the_one_the_mapping_delivers(self) -> None:
        """A redrive event has the Records the mapping sent, eventSourceARN included."""
        sim, store, dlq, _ = _incident()
        original = store.events[0]
        sim.redrive(dlq)
        assert original == store.events[-1]
        assert sim.tables["things"].stream_arn == store.events[-1]["Records"][0]["eventSourceARN"]

    def test_default_function_is_the_mappings_and_function_name_overrides(self) -> None:
        """By default the mapping's function runs; function_name picks another."""
        sim, _store, dlq, _ = _incident()
        calls: list[int] = []
        sim.create_function("fixed", lambda e, c: calls.append(len(e["Records"])))
        assert "fn" == sim.redrive(dlq).function_name
        result = sim.redrive(dlq, function_name="fixed")
        assert ("fixed", [10]) == (result.function_name, calls)
        assert list(result.invocations) == list(sim.functions["fixed"].invocations)

    def test_records_past_retention_are_lost(self) -> None:
        """Records older than the stream's retention (24 h) are lost, never sent."""
        sim, store, dlq, _ = _incident()
        before = len(store.seen)
        sim.run_for(24 * 3600)
        result = sim.redrive(dlq)
        assert ((), tuple(_named(sim))) == (result.redriven, result.lost)
        assert before == len(store.seen)
        assert () == result.invocations

    def test_runs_from_now_and_returns_when_its_invocations_are_done(self) -> None:
        """The clock runs through each invocation's duration, one after the other."""
        sim, _store, dlq, mapping = _incident(duration=2.0)
        sim.lambda_client.update_event_source_mapping(UUID=mapping["UUID"], BatchSize=5)
        sim.run_for(60)
        start = sim.now_ms
        result = sim.redrive(dlq)
        assert [start, start + 2000] == [i.started_ms for i in result.invocations]
        assert (start, start + 4000, start + 4000) == (
            result.started_ms,
            result.ended_ms,
            sim.now_ms,
        )

    def test_fates_never_change(self) -> None:
        """A redriven record keeps its fate, destination included; counts do not move."""
        sim, store, dlq, mapping = _incident()
        counts = sim.fate_counts(mapping["UUID"])
        fates = [sim.fate(s) for s in _named(sim)]
        store.fixed = True
        sim.redrive(dlq)
        assert counts == sim.fate_counts(mapping["UUID"])
        assert fates == [sim.fate(s) for s in _named(sim)]
        assert {dlq.arn} == {f.destination for f in fates}

    def test_its_own_account(self) -> None:
        """Each redrive is kept in sim.redrives; its invocations have no mapping."""
        sim, _store, dlq, _ = _incident()
        first, second = sim.redrive(dlq), sim.redrive(dlq)
        assert [first, second] == sim.redrives
        assert (1, 2) == (first.number, second.number)
        assert {""} == {i.mapping_uuid for i in first.invocations}

    def test_in_the_trace_and_the_timeline(self) -> None:
        """The trace has redrive rows (start, sent, the result, lost); the timeline shows them."""
        sim, _store, dlq, _ = _incident()
        sim.redrive(dlq)
        sim.run_for(24 * 3600)
        sim.redrive(dlq)
        outcomes = [e.outcome for e in sim.trace.events(kind="redrive")]
        assert ["start", "sent", "failure", "start", "lost"] == outcomes
        text = sim.timeline()
        assert "redrive 1, " in text
        assert "redrive 2: queue 'dlq' -> fn" in text

    def test_failed_invocation_is_reported_not_retried(self) -> None:
        """A failed redrive invocation's records are in failed; no retry, no new failure record."""
        sim, _store, dlq, _ = _incident()
        result = sim.redrive(dlq)
        assert (result.redriven, ()) == (result.failed, result.succeeded)
        assert 1 == len(result.invocations)
        assert 1 == len(dlq.messages)

    def test_partial_batch_response_fails_from_the_first_reported_record(self) -> None:
        """Under ReportBatchItemFailures, records from the first reported one are failed."""
        sim = esm_sim.Simulation(seed=3)
        table = sim.create_table("things", partition_key="pk")
        reported: list[str] = []

        def handler(event: dict[str, Any], context: Any) -> Any:
            if reported:
                return {"batchItemFailures": [{"itemIdentifier": reported[0]}]}
            raise ValueError

        sim.create_function("fn", handler)
        dlq = sim.create_queue("dlq")
        sim.lambda_client.create_event_source_mapping(
            FunctionName="fn",
            EventSourceArn=table.stream_arn,
            StartingPosition="TRIM_HORIZON",
            MaximumRetryAttempts=0,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            DestinationConfig={"OnFailure": {"Destination": dlq.arn}},
        )
        for i in range(4):
            table.put_item({"pk": f"k{i}"})
        sim.run_until_idle()
        seqs = [int(s) for s in table.shards[0].sequence_numbers]
        reported.append(str(seqs[2]))
        assert tuple(seqs[2:]) == sim.redrive(dlq).failed

    def test_delete_removes_the_messages_that_succeeded(self) -> None:
        """delete=True removes a message whose records all succeeded, and keeps a failed one."""
        sim, store, dlq, _ = _incident()
        assert (0, 1) == (sim.redrive(dlq, delete=True).deleted, len(dlq.messages))
        store.fixed = True
        assert (1, 0) == (sim.redrive(dlq, delete=True).deleted, len(dlq.raw_messages))

    @pytest.mark.parametrize("sink", ["queue", "bucket"])
    def test_delete_inside_mock_aws_removes_the_copy_boto3_reads(self, sink: str) -> None:
        """Inside mock_aws, delete=True also removes the message (object) boto3 would receive."""
        boto3 = pytest.importorskip("boto3")
        pytest.importorskip("moto")
        sim = esm_sim.Simulation(seed=3)
        table = sim.create_table("things", partition_key="pk")
        store = Store()
        sim.create_function("fn", store)
        with sim.mock_aws():
            dest = sim.create_queue("dlq") if sink == "queue" else sim.create_bucket("dlb")
            sim.lambda_client.create_event_source_mapping(
                FunctionName="fn",
                EventSourceArn=table.stream_arn,
                StartingPosition="TRIM_HORIZON",
                MaximumRetryAttempts=0,
                DestinationConfig={"OnFailure": {"Destination": dest.arn}},
            )
            for i in range(10):
                table.put_item({"pk": f"k{i}", "v": i})
            sim.run_until_idle()
            if sink == "queue":
                sqs = boto3.client("sqs")
                url = sqs.get_queue_url(QueueName="dlq")["QueueUrl"]

                def left() -> int:
                    attrs = sqs.get_queue_attributes(
                        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
                    )
                    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])
            else:

                def left() -> int:
                    return len(boto3.client("s3").list_objects_v2(Bucket="dlb").get("Contents", []))

            assert 1 == left()
            store.fixed = True
            assert 1 == sim.redrive(dest, delete=True).deleted
            assert 0 == left()

    def test_default_keeps_the_destination(self) -> None:
        """Without delete, the destination keeps every failure record."""
        sim, store, dlq, _ = _incident()
        store.fixed = True
        sim.redrive(dlq)
        assert 1 == len(dlq.messages)

    @pytest.mark.parametrize("sink", ["topic", "bucket"])
    def test_topics_and_buckets(self, sink: str) -> None:
        """A topic's notifications and a bucket's objects are redriven like a queue's messages."""
        sim, _store, dest, _ = _incident(sink=sink)
        assert tuple(_named(sim)) == sim.redrive(dest).redriven

    @pytest.mark.parametrize("form", ["dict", "json", "sqs-message", "sns-notification"])
    def test_one_failure_record_as_delivered(self, form: str) -> None:
        """One failure record: the dict, its JSON text, an SQS message or an SNS notification."""
        sim, _store, dlq, _ = _incident()
        source: Any = {
            "dict": dlq.messages[0],
            "json": json.dumps(dlq.messages[0]),
            "sqs-message": dlq.raw_messages[0],
            "sns-notification": {"Type": "Notification", "Message": json.dumps(dlq.messages[0])},
        }[form]
        assert tuple(_named(sim)) == sim.redrive(source).redriven

    def test_metrics_count_redrive_invocations_without_a_mapping(self) -> None:
        """Invocations and Errors count redrive invocations for the function, not the mapping."""
        sim, _store, dlq, mapping = _incident()
        sim.redrive(dlq)
        assert 2 == sim.metrics.sum("Invocations", function_name="fn")
        assert 2 == sim.metrics.sum("Errors", function_name="fn")
        assert 1 == sim.metrics.sum("Invocations", uuid=mapping["UUID"])

    def test_only_the_failed_lane_with_parallelization(self) -> None:
        """With ParallelizationFactor, a range holds other lanes' records: only its lane's go."""
        sim, store, dlq, _ = _incident(batch_size=2, extra={"ParallelizationFactor": 4})
        store.fixed = True
        POISONS.update(f"p{i}" for i in range(10, 20))  # every lane fails
        try:
            sim.run_for(1)
            table = sim.tables["things"]
            for i in range(10, 20):
                table.put_item({"pk": f"k{i}", "v": i})
            sim.run_until_idle()
        finally:
            POISONS.clear()
        results = [sim.redrive(m) for m in dlq.messages]
        sent = [s for r in results for s in r.redriven]
        assert sorted(set(sent)) == sorted(sent)  # no record redriven twice
        assert [m["DDBStreamBatchInfo"]["batchSize"] for m in dlq.messages] == [
            len(r.redriven) for r in results
        ]

    @pytest.mark.parametrize("factor", [1, 2, 3, 5])
    def test_exactly_the_records_a_failure_record_describes(self, factor: int) -> None:
        """Each failure record gives back exactly its batchSize records, whatever changed since."""
        sim, store, dlq, mapping = _incident(batch_size=2, extra={"ParallelizationFactor": 4})
        store.fixed = True
        POISONS.update(f"p{i}" for i in range(10, 30))  # every lane fails
        try:
            table = sim.tables["things"]
            for i in range(10, 30):
                table.put_item({"pk": f"k{i}", "v": i})
            sim.run_until_idle()
        finally:
            POISONS.clear()
        sim.lambda_client.update_event_source_mapping(
            UUID=mapping["UUID"], ParallelizationFactor=factor
        )
        sim.run_for(60)
        results = [sim.redrive(m) for m in dlq.messages]
        sent = [s for r in results for s in r.redriven]
        assert (
            sorted(set(sent)),
            [m["DDBStreamBatchInfo"]["batchSize"] for m in dlq.messages],
        ) == (
            sorted(sent),
            [len(r.redriven) for r in results],
        )

    def test_a_record_made_by_hand_is_read_from_its_range(self) -> None:
        """A failure record the simulation did not deliver: its range's destination records go."""
        skip_k5 = {
            "Filters": [
                {"Pattern": '{"dynamodb": {"Keys": {"pk": {"S": [{"anything-but": ["k5"]}]}}}}'}
            ]
        }
        sim, _store, dlq, _ = _incident(extra={"FilterCriteria": skip_k5})
        made = json.loads(json.dumps(dlq.messages[0]))
        made["requestContext"]["requestId"] = "made-by-hand"
        filtered = _named(sim)[5]
        assert tuple(s for s in _named(sim) if s != filtered) == sim.redrive(made).redriven

    def test_uuid_picks_one_mappings_records_from_a_shared_destination(self) -> None:
        """Two mappings share a queue: a redrive needs uuid=, which takes that mapping's only."""
        sim, _store, dlq, first = _incident()
        other = sim.create_table("others", partition_key="pk")
        sim.create_function("fn2", lambda e, c: 1 / 0)
        second = sim.lambda_client.create_event_source_mapping(
            FunctionName="fn2",
            EventSourceArn=other.stream_arn,
            StartingPosition="TRIM_HORIZON",
            MaximumRetryAttempts=0,
            DestinationConfig={"OnFailure": {"Destination": dlq.arn}},
        )
        other.put_item({"pk": "x"})
        sim.run_until_idle()
        with pytest.raises(ConfigError, match=r"failure records of 2 mappings"):
            sim.redrive(dlq)
        result = sim.redrive(dlq, uuid=second["UUID"])
        assert (1, "fn2", (int(other.shards[0].sequence_numbers[0]),)) == (
            result.failure_records,
            result.function_name,
            result.redriven,
        )
        assert first["UUID"] == sim.redrive(dlq, uuid=first["UUID"]).mapping_uuid

    def test_deterministic(self) -> None:
        """The same seed and inputs give the same trace, redrives included."""

        def build() -> esm_sim.Simulation:
            sim, _store, dlq, _ = _incident()
            sim.redrive(dlq)
            return sim

        testing.assert_deterministic(build)

    def test_not_from_a_handler(self) -> None:
        """A handler cannot redrive: the simulation is running (SimulationError)."""
        sim, _store, dlq, _ = _incident()
        raised: list[BaseException] = []

        def handler(event: dict[str, Any], context: Any) -> None:
            try:
                sim.redrive(dlq)
            except SimulationError as exc:
                raised.append(exc)

        sim.create_function("inner", handler)
        sim.redrive(dlq, function_name="inner")
        assert 1 == len(raised)


BAD_INPUTS = [
    ("empty queue", lambda sim, dlq: sim.create_queue("empty"), {}, r"holds no failure records"),
    ("not a record", lambda sim, dlq: {"hello": 1}, {}, r"source=\{'hello': 1\} is not an on-"),
    ("not json", lambda sim, dlq: "nope", {}, r"source='nope' is not an on-failure record"),
    ("an int", lambda sim, dlq: 7, {}, r"source=7 must be a Queue, Topic or Bucket"),
    (
        "foreign queue",
        lambda sim, dlq: esm_sim.Simulation().create_queue("dlq"),
        {},
        r"is not a destination of this simulation",
    ),
    ("unknown function", lambda sim, dlq: dlq, {"function_name": "nope"}, r"function_name='nope'"),
    ("unknown mapping", lambda sim, dlq: dlq, {"uuid": "nope"}, r"uuid='nope' is not a mapping"),
    ("delete a record", lambda sim, dlq: dlq.messages[0], {"delete": True}, r"delete=True"),
    ("delete not bool", lambda sim, dlq: dlq, {"delete": 1}, r"delete=1 must be a bool"),
    (
        "unknown stream",
        lambda sim, dlq: {
            "DDBStreamBatchInfo": {
                **dlq.messages[0]["DDBStreamBatchInfo"],
                "streamArn": "arn:aws:dynamodb:us-east-1:1:table/x/stream/y",
            }
        },
        {},
        r"streamArn='arn:aws:dynamodb:us-east-1:1:table/x/stream/y' is not a stream",
    ),
    (
        "unknown shard",
        lambda sim, dlq: {
            "DDBStreamBatchInfo": {**dlq.messages[0]["DDBStreamBatchInfo"], "shardId": "s"}
        },
        {},
        r"shardId='s' is not a shard",
    ),
    (
        "message not a record",
        lambda sim, dlq: (dlq.send_message('{"x": 1}'), dlq)[1],
        {},
        r"message 1 of queue 'dlq'=\{'x': 1\} is not an on-failure record",
    ),
]


class TestRedriveLeavesNothingBehind:
    def test_the_functions_environment_is_gone_after_a_redrive(self) -> None:
        """After sim.redrive, os.environ is the user's again: no function variable or role credential stays."""
        sim = esm_sim.Simulation(seed=3)
        table = sim.create_table("things", partition_key="pk")
        sim.create_function("fn", lambda e, c: 1 / 0, environment={"ESM_SIM_TEST_STAGE": "prod"})
        dlq = sim.create_queue("dlq")
        sim.lambda_client.create_event_source_mapping(
            FunctionName="fn",
            EventSourceArn=table.stream_arn,
            StartingPosition="TRIM_HORIZON",
            MaximumRetryAttempts=0,
            DestinationConfig={"OnFailure": {"Destination": dlq.arn}},
        )
        table.put_item({"pk": "k0"})
        sim.run_until_idle()
        before = dict(os.environ)
        sim.redrive(dlq)
        assert before == dict(os.environ)

    def test_a_redrive_stopped_by_an_exception_is_accounted_and_runs_no_more(self) -> None:
        """When a scheduled call raises during a redrive, the redrive stops: it is in sim.redrives with the unsent records failed, and no batch of it runs later."""
        sim, _store, dlq, _ = _incident(batch_size=10, duration=0.5)
        sim.lambda_client.update_event_source_mapping(UUID=next(iter(sim.mappings)), BatchSize=2)
        sim.run_for(60)  # the update applies: the redrive sends batches of 2

        def boom() -> None:
            raise RuntimeError("boom")

        sim.call_later(0.7, boom)
        with pytest.raises(RuntimeError, match="boom"):
            sim.redrive(dlq)
        (result,) = sim.redrives
        made = len(sim.functions["fn"].invocations)
        sim.run_for(600)
        assert made == len(sim.functions["fn"].invocations)
        assert 0 < len(result.invocations) < 5
        assert 10 == len(result.redriven)
        assert set(result.failed) >= set(result.redriven[2 * len(result.invocations) :])


class TestBadInput:
    @pytest.mark.parametrize(
        ("make", "kwargs", "pattern"),
        [pytest.param(m, k, p, id=i) for i, m, k, p in BAD_INPUTS],
    )
    def test_clear_error_naming_the_value(self, make: Any, kwargs: Any, pattern: str) -> None:
        """A bad source or keyword is refused with a ConfigError naming the value."""
        sim, _store, dlq, _ = _incident()
        source = make(sim, dlq)
        before = len(sim.trace)
        with pytest.raises(ConfigError, match=pattern):
            sim.redrive(source, **kwargs)
        assert before == len(sim.trace)

    def test_topic_cannot_delete(self) -> None:
        """delete=True with a topic is refused: a notification cannot be deleted."""
        sim, _store, topic, _ = _incident(sink="topic")
        with pytest.raises(ConfigError, match=r"delete=True: source=<Topic 'dlt'"):
            sim.redrive(topic, delete=True)


def _scenario(fault: str) -> Scenario:
    return Scenario(
        writes=(
            Write(at_ms=0, op="put", item={"pk": "k0", "v": 0}),
            Write(at_ms=5000, op="put", item={"pk": "k0", "v": 1}),
        ),
        mapping={"StartingPosition": "TRIM_HORIZON", "BatchSize": 1, "MaximumRetryAttempts": 0},
        faults=FaultPlan(faults=(Fault(kind=fault, keys=("k0",), times=1),)),
    )


def _latest_by_sequence() -> tuple[Any, Any]:
    state: dict[str, tuple[int, str]] = {}

    def handler(event: dict[str, Any], context: Any) -> None:
        for r in event["Records"]:
            pk, seq = r["dynamodb"]["Keys"]["pk"]["S"], int(r["dynamodb"]["SequenceNumber"])
            if pk not in state or state[pk][0] < seq:
                state[pk] = (seq, r["dynamodb"]["NewImage"]["v"]["N"])

    return handler, lambda: {k: v[1] for k, v in state.items()}


def _last_arrival_wins() -> tuple[Any, Any]:
    state: dict[str, str] = {}

    def handler(event: dict[str, Any], context: Any) -> None:
        for r in event["Records"]:
            state[r["dynamodb"]["Keys"]["pk"]["S"]] = r["dynamodb"]["NewImage"]["v"]["N"]

    return handler, lambda: dict(state)


def _counting() -> tuple[Any, Any]:
    counts: dict[str, int] = {}

    def handler(event: dict[str, Any], context: Any) -> None:
        for r in event["Records"]:
            pk = r["dynamodb"]["Keys"]["pk"]["S"]
            counts[pk] = counts.get(pk, 0) + 1

    return handler, lambda: dict(counts)


class TestCheckRedriveIdempotent:
    def test_passes_a_handler_that_orders_by_sequence_number(self) -> None:
        """A handler keeping the newest version per key survives a late redrive."""
        testing.check_redrive_idempotent(_latest_by_sequence, _scenario("raise_before"))

    def test_catches_a_late_redrive_overwriting_newer_data(self) -> None:
        """A last-arrival-wins handler lets the redrive overwrite newer data: AssertionError."""
        with pytest.raises(AssertionError, match=r"(?s)after the redrive: \{'k0': '0'\}.*"):
            testing.check_redrive_idempotent(_last_arrival_wins, _scenario("raise_before"))

    def test_catches_double_counting_of_a_partly_processed_record(self) -> None:
        """A record processed, then failed, then redriven counts twice: AssertionError naming it."""
        with pytest.raises(AssertionError, match=r"records redriven: \d+ \(pk=k0\)"):
            testing.check_redrive_idempotent(_counting, _scenario("raise_after"))

    def test_the_clean_pass_delivers_records_an_age_limit_dropped(self) -> None:
        """With no faults, a record MaximumRecordAgeInSeconds drops is redriven, and the clean pass (no age limit) gives it to the handler too: an idempotent handler passes."""

        def latest() -> tuple[Any, Any]:
            seen: dict[str, str] = {}

            def handler(event: dict[str, Any], context: Any) -> None:
                for r in event["Records"]:
                    seen[r["dynamodb"]["Keys"]["pk"]["S"]] = r["eventName"]

            return handler, lambda: dict(seen)

        scenario = Scenario(
            writes=(Write(at_ms=0, op="put", item={"pk": "k0", "v": 0}),),
            mapping={
                "StartingPosition": "TRIM_HORIZON",
                "BatchSize": 2,
                "MaximumBatchingWindowInSeconds": 56,
                "MaximumRecordAgeInSeconds": 60,
            },
        )
        assert 1 == scenario.run(latest()[0]).fate_counts()["dropped"]  # by age, no fault
        testing.check_redrive_idempotent(latest, scenario)

    def test_a_tumbling_window_scenario_is_refused(self) -> None:
        """A redrive's events carry no window, so a windowed scenario is refused with ConfigError naming the setting."""
        scenario = _scenario("raise_before")
        windowed = Scenario(
            writes=scenario.writes,
            mapping={**scenario.mapping, "TumblingWindowInSeconds": 30},
            faults=scenario.faults,
        )
        with pytest.raises(ConfigError, match=r"^TumblingWindowInSeconds=30: check_redrive"):
            testing.check_redrive_idempotent(_latest_by_sequence, windowed)

    def test_a_handler_failing_in_the_redrive_is_reported(self) -> None:
        """A handler that fails without faults cannot be compared: AssertionError says so."""

        def broken() -> tuple[Any, Any]:
            def handler(event: dict[str, Any], context: Any) -> None:
                raise RuntimeError("always")

            return handler, dict

        with pytest.raises(AssertionError, match=r"failed in the redrive \(RuntimeError"):
            testing.check_redrive_idempotent(broken, _scenario("raise_before"))


class TestTimelinePlot:
    def test_redrive_bars_are_distinguishable_with_a_legend_entry(self) -> None:
        """plot_timeline draws redrive invocations on a redrive row, styled apart, in the legend."""
        pytest.importorskip("matplotlib")
        from esm_sim import viz

        sim, _store, dlq, _ = _incident()
        result = sim.redrive(dlq)
        sim.run_for(24 * 3600)
        sim.redrive(dlq)
        ax = viz.plot_timeline(sim).axes[0]
        (bar,) = [p for p in ax.patches if p.get_gid() == result.invocations[0].request_id]
        assert viz.REDRIVE_STYLE["hatch"] == bar.get_hatch()
        assert any(t.get_text().endswith("/ redrive") for t in ax.get_yticklabels())
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert {"redrive", "lost to retention (redrive)"} <= set(legend)
