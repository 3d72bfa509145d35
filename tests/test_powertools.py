"""Powertools for AWS Lambda (Python) handlers run in esm_sim unchanged, and its models accept esm_sim's events."""

from __future__ import annotations

from typing import Any

import pytest

import esm_sim

pytest.importorskip("aws_lambda_powertools")
pytest.importorskip("pydantic")

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
)
from aws_lambda_powertools.utilities.parser import models


def powertools_handler(fail: set[str], processed: list[str]) -> Any:
    """A handler written as the Powertools docs show: BatchProcessor + process_partial_response."""
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

    def record_handler(record: DynamoDBRecord) -> None:
        key = record.dynamodb.keys["pk"]  # the data class deserialises AttributeValues
        if key in fail:
            raise ValueError(f"cannot process {key}")
        processed.append(key)

    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return lambda_handler


def _sim(handler: Any, **mapping: Any) -> tuple[esm_sim.Simulation, esm_sim.Table]:
    sim = esm_sim.Simulation(seed=0)
    table = sim.create_table("orders", partition_key="pk")
    sim.create_function("fn", handler)
    sim.lambda_client.create_event_source_mapping(
        FunctionName="fn",
        EventSourceArn=table.stream_arn,
        StartingPosition="TRIM_HORIZON",
        **mapping,
    )
    return sim, table


class TestBatchProcessor:
    def test_partial_failures_are_reported_and_retried(self) -> None:
        """A failing record is reported in batchItemFailures and retried from its sequence number."""
        processed: list[str] = []
        handler = powertools_handler({"c"}, processed)
        sim, table = _sim(
            handler,
            BatchSize=5,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            MaximumRetryAttempts=1,
        )
        for key in "abcde":
            table.put_item({"pk": key})
        sim.run_until_idle()
        first = sim.functions["fn"].invocations[0]
        c_seq = table.shards[0].sequence_numbers[2]
        assert {"batchItemFailures": [{"itemIdentifier": c_seq}]} == first.response
        assert None is first.error

    def test_report_all_failures_style_causes_duplicates(self) -> None:
        """
        Powertools reports every failed record, but Lambda resumes at the lowest reported
        sequence number (spec 4), so each successful record after the first failure is
        processed again on every retry: duplicates the handler must be idempotent for.
        """
        processed: list[str] = []
        handler = powertools_handler({"b", "d"}, processed)
        sim, table = _sim(
            handler,
            BatchSize=5,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            MaximumRetryAttempts=2,
        )
        for key in "abcde":
            table.put_item({"pk": key})
        sim.run_until_idle()
        # The first batch: a, c, e succeed; b and d are reported. The checkpoint moves past
        # a, which gives b..e a fresh attempt count (esm_sim's partial_progress_resets_retries,
        # spec 4, I), so b..e are delivered 1 + 2 times more: c and e run each time.
        assert ["a", "c", "e", "c", "e", "c", "e", "c", "e"] == processed
        duplicates = {k: processed.count(k) - 1 for k in sorted(set(processed))}
        assert {"a": 0, "c": 3, "e": 3} == duplicates
        # And when the retries run out, the whole rest of the batch is discarded,
        # the records that succeeded included (spec 3.3).
        assert "dropped" == sim.fate(table.shards[0].sequence_numbers[2]).outcome


class TestDataClassesAndModels:
    def _events(self, **mapping: Any) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []

        def handler(event: dict[str, Any], context: Any) -> Any:
            events.append(event)
            if "window" in event:
                return {"state": {"n": len(event["Records"])}}
            return None

        sim, table = _sim(handler, **mapping)
        table.put_item({"pk": "a", "n": 1, "b": b"\x01", "tags": {"x", "y"}, "m": {"l": [1, "s"]}})
        table.put_item({"pk": "a", "n": 2})
        table.delete_item({"pk": "a"})
        sim.run_until_idle()
        return events

    @pytest.mark.parametrize(
        "mapping",
        [
            pytest.param({}, id="plain"),
            pytest.param({"TumblingWindowInSeconds": 30}, id="tumbling-window"),
            pytest.param({"BatchSize": 1}, id="one-record-batches"),
        ],
    )
    def test_every_delivered_event_is_accepted(self, mapping: dict[str, Any]) -> None:
        """DynamoDBStreamEvent and the parser models read every event esm_sim delivers."""
        events = self._events(**mapping)
        assert events
        for event in events:
            parsed = models.DynamoDBStreamModel.model_validate(event)
            assert len(event["Records"]) == len(parsed.Records)
            for raw in event["Records"]:
                record = models.DynamoDBStreamRecordModel.model_validate(raw)
                assert raw["dynamodb"]["SequenceNumber"] == record.dynamodb.SequenceNumber
            data = DynamoDBStreamEvent(event)
            for record, raw in zip(data.records, event["Records"], strict=True):
                assert raw["eventName"] == record.event_name.name
                assert "a" == record.dynamodb.keys["pk"]
                assert raw["dynamodb"]["SizeBytes"] == record.dynamodb.size_bytes

    def test_tumbling_window_fields_are_present(self) -> None:
        """Tumbling-window events carry window, state, shardId and isFinalInvokeForWindow beside Records."""
        events = self._events(TumblingWindowInSeconds=30)
        fields = {"window", "state", "shardId", "eventSourceARN", "isFinalInvokeForWindow"}
        assert all(fields <= set(e) for e in events)
        assert any(e["isFinalInvokeForWindow"] for e in events)

    def test_on_failure_record_parses(self) -> None:
        """The on-failure record sent to SQS parses with DynamoDBStreamLambdaOnFailureDestinationModel."""
        model = getattr(models, "DynamoDBStreamLambdaOnFailureDestinationModel", None)
        if model is None:
            pytest.skip(
                "this Powertools version has no DynamoDBStreamLambdaOnFailureDestinationModel"
            )

        def poison(event: dict[str, Any], context: Any) -> None:
            raise RuntimeError("poison")

        sim = esm_sim.Simulation(seed=0)
        table = sim.create_table("orders", partition_key="pk")
        queue = sim.create_queue("failed")
        sim.create_function("fn", poison)
        sim.lambda_client.create_event_source_mapping(
            FunctionName="fn",
            EventSourceArn=table.stream_arn,
            StartingPosition="TRIM_HORIZON",
            MaximumRetryAttempts=0,
            DestinationConfig={"OnFailure": {"Destination": queue.arn}},
        )
        table.put_item({"pk": "a"})
        sim.run_until_idle()
        (message,) = queue.messages
        parsed = model.model_validate(message)
        assert table.stream_arn == parsed.ddb_stream_batch_info.stream_arn
        assert 1 == parsed.ddb_stream_batch_info.batch_size
        assert (
            table.shards[0].sequence_numbers[0]
            == parsed.ddb_stream_batch_info.start_sequence_number
        )
