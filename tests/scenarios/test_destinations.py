"""On-failure destinations: SQS, SNS, S3, and failed deliveries (spec 3.6, 9.2)."""

from __future__ import annotations

import base64
import hashlib
import json
import re

from tests.scenarios.helpers import build, failing_on

ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
ISO_S = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


class TestFailureRecord:
    def test_sqs_record_shape(self) -> None:
        """The SQS body is AWS's DynamoDB failure record, key for key (spec 3.6)."""
        w = build(failing_on("k0"), MaximumRetryAttempts=0)
        w.sim.run_until_idle()
        (record,) = w.queue.messages
        assert [
            "requestContext",
            "responseContext",
            "version",
            "timestamp",
            "DDBStreamBatchInfo",
        ] == list(record)
        assert "1.0" == record["version"]
        assert ISO_MS.fullmatch(record["timestamp"])
        ctx = record["requestContext"]
        assert UUID.fullmatch(ctx["requestId"])
        assert ctx["requestId"] == w.fn.invocations[-1].request_id
        assert w.fn.arn == ctx["functionArn"]
        info = record["DDBStreamBatchInfo"]
        assert [
            "shardId",
            "startSequenceNumber",
            "endSequenceNumber",
            "approximateArrivalOfFirstRecord",
            "approximateArrivalOfLastRecord",
            "batchSize",
            "streamArn",
        ] == list(info)
        assert ISO_S.fullmatch(info["approximateArrivalOfFirstRecord"])
        assert w.table.shards[0].shard_id == info["shardId"]
        assert w.table.stream_arn == info["streamArn"]
        assert "destination" == w.sim.fate(w.seqs[0]).outcome

    def test_sns_wraps_the_record_as_a_notification(self) -> None:
        """SNS delivers a Notification whose Message is the record as JSON text (spec 3.6)."""
        w = build(
            failing_on("k0"),
            MaximumRetryAttempts=0,
            destination="arn:aws:sns:us-east-1:123456789012:alerts",
        )
        topic = w.sim.create_topic("alerts")
        w.sim.run_until_idle()
        (note,) = topic.messages
        assert {"Type", "MessageId", "TopicArn", "Message", "Timestamp"} <= set(note)
        assert "Notification" == note["Type"]
        assert topic.arn == note["TopicArn"]
        assert (
            "RetryAttemptsExhausted" == json.loads(note["Message"])["requestContext"]["condition"]
        )

    def test_sns_notification_has_every_key_a_subscriber_receives(self) -> None:
        """An SNS notification has exactly the keys SNS sends an SQS or HTTP subscriber, no Subject or MessageAttributes when none are set (spec 3.6)."""
        w = build(
            failing_on("k0"),
            MaximumRetryAttempts=0,
            destination="arn:aws:sns:us-east-1:123456789012:alerts",
        )
        topic = w.sim.create_topic("alerts")
        w.sim.run_until_idle()
        (note,) = topic.messages
        assert [
            "Type",
            "MessageId",
            "TopicArn",
            "Message",
            "Timestamp",
            "SignatureVersion",
            "Signature",
            "SigningCertURL",
            "UnsubscribeURL",
        ] == list(note)
        assert UUID.fullmatch(note["MessageId"])
        assert ISO_MS.fullmatch(note["Timestamp"])
        assert "1" == note["SignatureVersion"]
        assert 256 == len(base64.b64decode(note["Signature"], validate=True))
        assert re.fullmatch(
            r"https://sns\.us-east-1\.amazonaws\.com/SimpleNotificationService-[0-9a-f]{32}\.pem",
            note["SigningCertURL"],
        )
        assert re.fullmatch(
            r"https://sns\.us-east-1\.amazonaws\.com/\?Action=Unsubscribe&SubscriptionArn="
            + re.escape(topic.arn)
            + ":"
            + UUID.pattern,
            note["UnsubscribeURL"],
        )

    def test_sns_notification_values_come_from_the_seed(self) -> None:
        """The same seed gives the same notification, signature and URLs included; another seed another signature."""

        def note(seed: int) -> dict[str, str]:
            w = build(
                failing_on("k0"),
                MaximumRetryAttempts=0,
                destination="arn:aws:sns:us-east-1:123456789012:alerts",
                seed=seed,
            )
            topic = w.sim.create_topic("alerts")
            w.sim.run_until_idle()
            return dict(topic.messages[0])

        first = note(1)
        assert first == note(1)
        assert first["Signature"] != note(2)["Signature"]

    def test_sqs_raw_message_is_what_receive_message_returns(self) -> None:
        """A raw SQS message has ReceiveMessage's keys: MessageId, ReceiptHandle, MD5OfBody and Body (spec 3.6)."""
        w = build(failing_on("k0"), MaximumRetryAttempts=0)
        w.sim.run_until_idle()
        (raw,) = w.queue.raw_messages
        assert ["MessageId", "ReceiptHandle", "MD5OfBody", "Body"] == list(raw)
        assert UUID.fullmatch(raw["MessageId"])
        assert raw["ReceiptHandle"].startswith("AQEB")
        assert 1 < len(base64.b64decode(raw["ReceiptHandle"], validate=True))
        assert hashlib.md5(raw["Body"].encode()).hexdigest() == raw["MD5OfBody"]
        assert w.queue.messages == [json.loads(raw["Body"])]

    def test_s3_object_has_payload_and_aws_key_layout(self) -> None:
        """S3 gets the record plus the invocation event as escaped JSON, under AWS's key (spec 3.6)."""
        w = build(failing_on("k0"), MaximumRetryAttempts=0, destination="arn:aws:s3:::failures")
        bucket = w.sim.create_bucket("failures")
        w.sim.run_until_idle()
        ((key, body),) = bucket.objects.items()
        shard = w.table.shards[0].shard_id
        pattern = (
            rf"aws/lambda/{w.uuid}/{shard}/\d{{4}}/\d\d/\d\d/"
            r"\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d-[0-9a-f-]{36}"
        )
        assert re.fullmatch(pattern, key)
        assert isinstance(body["payload"], str)
        payload = json.loads(body["payload"])
        assert [w.seqs[0]] == [r["dynamodb"]["SequenceNumber"] for r in payload["Records"]]

    def test_fifo_queue_is_a_delivery_failure_and_records_are_dropped(self) -> None:
        """A FIFO queue cannot take ESM failure records: delivery fails, records dropped (spec 3.6, 9.2)."""
        w = build(
            failing_on("k0"),
            MaximumRetryAttempts=0,
            destination="arn:aws:sqs:us-east-1:123456789012:dlq.fifo",
        )
        fifo = w.sim.create_queue("dlq.fifo")
        w.sim.run_until_idle()
        assert [] == fifo.messages
        fate = w.sim.fate(w.seqs[0])
        assert ("dropped", "DestinationDeliveryFailed") == (fate.outcome, fate.reason)
        assert 1 == len(w.sim.trace.events(kind="delivery-failure"))

    def test_missing_destination_is_a_delivery_failure(self) -> None:
        """A destination ARN that names nothing fails delivery; records are dropped (spec 9.2)."""
        w = build(
            failing_on("k0"),
            MaximumRetryAttempts=0,
            destination="arn:aws:sqs:us-east-1:123456789012:nowhere",
        )
        w.sim.run_until_idle()
        assert "dropped" == w.sim.fate(w.seqs[0]).outcome

    def test_removing_the_destination_with_an_empty_string(self) -> None:
        """Updating Destination to "" removes it: later discards are dropped (spec 1.2)."""
        w = build(failing_on("k0"), MaximumRetryAttempts=0)
        w.sim.run_until_idle()
        w.sim.lambda_client.update_event_source_mapping(
            UUID=w.uuid, DestinationConfig={"OnFailure": {"Destination": ""}}
        )
        w.sim.run_until_idle()
        w.table.put_item({"pk": "k0", "n": 99})
        w.sim.run_until_idle()
        assert {"OnFailure": {}} == w.mapping()["DestinationConfig"]
        assert "dropped" == w.sim.fate(w.seqs[-1]).outcome
