"""
``with sim.mock_aws():`` -- boto3 inside talks to moto and the simulation (issue 16, item 1).
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

import pytest

import esm_sim
import esm_sim.sources
from esm_sim.errors import ConfigError, UnsupportedFeatureError

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")
botocore_exceptions = pytest.importorskip("botocore.exceptions")

S = {"S": "x"}


def _sim() -> tuple[esm_sim.Simulation, Any]:
    sim = esm_sim.Simulation()
    table = sim.create_table("orders", partition_key=("pk", "S"))
    return sim, table


def _events(table: Any) -> list[tuple[str, str]]:
    return [
        (r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for s in table.shards for r in s.records
    ]


class TestDynamoDB:
    def test_boto3_writes_become_stream_records_at_sim_now(self) -> None:
        """put_item, update_item (expressions), delete_item, batch_write_item and transact_write_items through boto3 leave the records table.put_item would, at sim.now."""
        sim, table = _sim()
        sim.run_for(7)
        with sim.mock_aws():
            ddb = boto3.client("dynamodb")
            ddb.put_item(TableName="orders", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
            ddb.update_item(
                TableName="orders",
                Key={"pk": {"S": "a"}},
                UpdateExpression="ADD n :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
            ddb.batch_write_item(
                RequestItems={"orders": [{"PutRequest": {"Item": {"pk": {"S": "b"}}}}]}
            )
            ddb.transact_write_items(
                TransactItems=[{"Put": {"TableName": "orders", "Item": {"pk": {"S": "c"}}}}]
            )
            ddb.delete_item(TableName="orders", Key={"pk": {"S": "b"}})
            ddb.put_item(TableName="orders", Item={"pk": {"S": "c"}})  # unchanged: no record
        assert [
            ("INSERT", "a"),
            ("MODIFY", "a"),
            ("INSERT", "b"),
            ("INSERT", "c"),
            ("REMOVE", "b"),
        ] == _events(table)
        record = table.shards[0].records[1]["dynamodb"]
        assert {"n": {"N": "2"}, "pk": {"S": "a"}} == record["NewImage"]
        assert {"n": {"N": "1"}, "pk": {"S": "a"}} == record["OldImage"]
        assert sim.now.timestamp() == record["ApproximateCreationDateTime"]
        assert {"pk": "a", "n": Decimal(2)} == table.get_item({"pk": "a"})

    def test_a_failed_transaction_leaves_no_record(self) -> None:
        """A transaction whose condition fails changes nothing and leaves no stream record."""
        sim, table = _sim()
        table.put_item({"pk": "t"})
        with sim.mock_aws():
            ddb = boto3.client("dynamodb")
            with pytest.raises(botocore_exceptions.ClientError, match="TransactionCanceled"):
                ddb.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": "orders", "Item": {"pk": {"S": "new"}}}},
                        {
                            "Put": {
                                "TableName": "orders",
                                "Item": {"pk": {"S": "t"}},
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                    ]
                )
            assert "Item" not in ddb.get_item(TableName="orders", Key={"pk": {"S": "new"}})
        assert [("INSERT", "t")] == _events(table)

    def test_esm_sim_writes_are_visible_to_boto3(self) -> None:
        """Items written with table.put_item, before or inside the block, are what boto3 get_item reads."""
        sim, table = _sim()
        table.put_item({"pk": "before", "n": 1})
        with sim.mock_aws():
            table.put_item({"pk": "inside", "tags": {"a", "b"}})
            table.delete_item({"pk": "before"})
            ddb = boto3.client("dynamodb")
            inside = ddb.get_item(TableName="orders", Key={"pk": {"S": "inside"}})["Item"]
            before = ddb.get_item(TableName="orders", Key={"pk": {"S": "before"}})
        assert {"pk": {"S": "inside"}, "tags": {"SS": ["a", "b"]}} == inside
        assert "Item" not in before

    def test_table_created_through_boto3_with_a_stream_is_simulated(self) -> None:
        """create_table with a StreamSpecification makes a simulated table whose LatestStreamArn is its stream."""
        sim = esm_sim.Simulation()
        with sim.mock_aws():
            ddb = boto3.client("dynamodb")
            described = ddb.create_table(
                TableName="events",
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "N"},
                ],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
            )["TableDescription"]
            ddb.put_item(TableName="events", Item={"pk": {"S": "a"}, "sk": {"N": "1"}})
            plain = ddb.create_table(
                TableName="plain",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        table = sim.tables["events"]
        assert table.stream_arn == described["LatestStreamArn"]
        assert ("pk", "sk", "KEYS_ONLY") == (
            table.partition_key,
            table.sort_key,
            table.stream_view_type,
        )
        assert [("INSERT", "a")] == _events(table)
        assert "plain" not in sim.tables and plain

    def test_a_table_without_a_stream_holds_the_same_items_both_ways(self) -> None:
        """A plain table (no stream) is a moto table in the block: boto3 writes reach table.get_item and table.put_item reaches boto3, with no stream listed for it."""
        sim = esm_sim.Simulation()
        totals = sim.create_table("totals", partition_key=("pk", "S"), stream_view_type=None)
        totals.put_item({"pk": "before", "n": 1})
        with sim.mock_aws():
            ddb = boto3.client("dynamodb")
            ddb.put_item(TableName="totals", Item={"pk": {"S": "a"}, "n": {"N": "2"}})
            ddb.update_item(
                TableName="totals",
                Key={"pk": {"S": "a"}},
                UpdateExpression="ADD n :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
            totals.put_item({"pk": "b", "n": 5})
            seen = ddb.get_item(TableName="totals", Key={"pk": {"S": "b"}})["Item"]
            before = ddb.get_item(TableName="totals", Key={"pk": {"S": "before"}})["Item"]
            streams = boto3.client("dynamodbstreams").list_streams(TableName="totals")
        assert {"pk": "a", "n": 3} == totals.get_item({"pk": "a"})
        assert {"pk": {"S": "b"}, "n": {"N": "5"}} == seen
        assert {"N": "1"} == before["n"]
        assert [] == streams["Streams"]

    def test_changing_a_simulated_tables_stream_is_refused_and_changes_nothing(self) -> None:
        """update_table disabling a simulated table's stream (or enabling one on a simulated table without) raises UnsupportedFeatureError before any of the call is applied; later writes still stream, as the table says; disabling where there is no stream changes nothing."""
        sim, table = _sim()
        totals = sim.create_table("totals", partition_key=("pk", "S"), stream_view_type=None)
        with sim.mock_aws():
            ddb = boto3.client("dynamodb")
            with pytest.raises(
                UnsupportedFeatureError, match=r"^UpdateTable TableName='orders': disabling"
            ):
                ddb.update_table(
                    TableName="orders",
                    BillingMode="PROVISIONED",
                    ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
                    StreamSpecification={"StreamEnabled": False},
                )
            with pytest.raises(
                UnsupportedFeatureError, match=r"^UpdateTable TableName='totals': enabling"
            ):
                ddb.update_table(
                    TableName="totals",
                    StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
                )
            described = ddb.describe_table(TableName="orders")["Table"]
            ddb.put_item(TableName="orders", Item={"pk": {"S": "a"}})
            # No stream, and none wanted: nothing to change (DynamoDB reads StreamEnabled).
            for spec in (
                {"StreamEnabled": False},
                {"StreamEnabled": False, "StreamViewType": "NEW_IMAGE"},
            ):
                ddb.update_table(TableName="totals", StreamSpecification=spec)
            ddb.put_item(TableName="totals", Item={"pk": {"S": "t"}})
            plain = boto3.client("dynamodbstreams").list_streams(TableName="totals")["Streams"]
        assert {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"} == described[
            "StreamSpecification"
        ]
        assert table.stream_arn == described["LatestStreamArn"]
        assert "PAY_PER_REQUEST" == described["BillingModeSummary"]["BillingMode"]
        assert [("INSERT", "a")] == _events(table)
        assert [] == plain and not totals.has_stream
        assert {"pk": "t"} == totals.get_item({"pk": "t"})


class TestLambda:
    def test_esm_operations_are_served_by_the_simulation(self) -> None:
        """create/get/list/update/delete of event source mappings, tags and concurrency through boto3 reach sim.lambda_client."""
        sim, table = _sim()
        sim.create_function("fn", lambda e, c: None)
        with sim.mock_aws():
            lam = boto3.client("lambda")
            created = lam.create_event_source_mapping(
                EventSourceArn=table.stream_arn, FunctionName="fn", StartingPosition="LATEST"
            )
            uuid = created["UUID"]
            assert 202 == created["ResponseMetadata"]["HTTPStatusCode"]
            assert [uuid] == list(sim.mappings)
            assert uuid == lam.get_event_source_mapping(UUID=uuid)["UUID"]
            listed = lam.list_event_source_mappings(FunctionName="fn")["EventSourceMappings"]
            assert [uuid] == [m["UUID"] for m in listed]
            sim.run_for(60)  # Creating -> Enabled
            lam.update_event_source_mapping(UUID=uuid, BatchSize=7)
            assert 7 == sim.mappings[uuid].fields["BatchSize"]
            lam.tag_resource(Resource=created["EventSourceMappingArn"], Tags={"team": "a"})
            assert {"team": "a"} == lam.list_tags(Resource=created["EventSourceMappingArn"])["Tags"]
            lam.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=3)
            assert 3 == sim.functions["fn"].reserved_concurrency
            sim.run_for(60)  # Updating -> Enabled
            assert "Deleting" == lam.delete_event_source_mapping(UUID=uuid)["State"]

    def test_errors_arrive_as_botocores_and_validation_is_botocores(self) -> None:
        """A missing mapping is botocore's ResourceNotFoundException; a malformed call fails botocore's own validation."""
        sim, _ = _sim()
        with sim.mock_aws():
            lam = boto3.client("lambda")
            with pytest.raises(lam.exceptions.ResourceNotFoundException):
                lam.get_event_source_mapping(UUID="00000000-0000-0000-0000-000000000000")
            with pytest.raises(botocore_exceptions.ParamValidationError):
                lam.get_event_source_mapping(UUID="short")


class TestStreamsAndSinks:
    def test_dynamodbstreams_reads_the_simulated_stream(self) -> None:
        """ListStreams, DescribeStream, GetShardIterator and GetRecords through boto3 read the simulation's records."""
        sim, table = _sim()
        for key in ("a", "b", "c"):
            table.put_item({"pk": key})
        with sim.mock_aws():
            streams = boto3.client("dynamodbstreams")
            listed = streams.list_streams(TableName="orders")["Streams"]
            records = esm_sim.sources.read_stream(streams, table.stream_arn)
        assert [table.stream_arn] == [s["StreamArn"] for s in listed]
        assert [r["dynamodb"]["SequenceNumber"] for r in records] == table.shards[
            0
        ].sequence_numbers

    @pytest.mark.parametrize(
        ("call", "code"),
        [
            ("unknown-shard-iterator", "ResourceNotFoundException"),
            ("bad-index-iterator", "ValidationException"),
            ("sequence-number-not-a-number", "ValidationException"),
        ],
    )
    def test_bad_stream_reads_are_client_errors(self, call: str, code: str) -> None:
        """A shard iterator naming no shard or a bad position, or a SequenceNumber that is not one, is answered with an AWS error, never a raw Python exception."""
        import base64

        sim, table = _sim()
        table.put_item({"pk": "a"})
        shard_id = table.shards[0].shard_id

        def iterator(shard: str, index: object) -> str:
            text = json.dumps([table.stream_arn, shard, index, sim.now_ms])
            return base64.b64encode(text.encode()).decode()

        with sim.mock_aws():
            streams = boto3.client("dynamodbstreams")
            with pytest.raises(botocore_exceptions.ClientError) as caught:
                if call == "unknown-shard-iterator":
                    streams.get_records(ShardIterator=iterator("shardId-nope-000000000000000", 0))
                elif call == "bad-index-iterator":
                    streams.get_records(ShardIterator=iterator(shard_id, "x"))
                else:
                    streams.get_shard_iterator(
                        StreamArn=table.stream_arn,
                        ShardId=shard_id,
                        ShardIteratorType="AT_SEQUENCE_NUMBER",
                        SequenceNumber="abcdefghijklmnopqrstu",
                    )
        assert code == caught.value.response["Error"]["Code"]

    def test_an_iterator_expires_15_minutes_after_it_is_issued(self) -> None:
        """GetRecords with an iterator older than 15 virtual minutes is ExpiredIteratorException (spec 7.2)."""
        sim, table = _sim()
        table.put_item({"pk": "a"})
        with sim.mock_aws():
            streams = boto3.client("dynamodbstreams")
            iterator = streams.get_shard_iterator(
                StreamArn=table.stream_arn,
                ShardId=table.shards[0].shard_id,
                ShardIteratorType="TRIM_HORIZON",
            )["ShardIterator"]
            sim.run_for(15 * 60)
            page = streams.get_records(ShardIterator=iterator)  # 15 minutes: still valid
            assert 1 == len(page["Records"])
            sim.run_for(1)
            with pytest.raises(streams.exceptions.ExpiredIteratorException):
                streams.get_records(ShardIterator=iterator)
            assert [] == streams.get_records(ShardIterator=page["NextShardIterator"])["Records"]

    def test_trimmed_records_are_trimmed_data_access(self) -> None:
        """Reading or pointing at a record past the 24 h retention is TrimmedDataAccessException (spec 7.2)."""
        sim, table = _sim()
        table.put_item({"pk": "a"})
        shard = table.shards[0]
        first = shard.sequence_numbers[0]
        with sim.mock_aws():
            streams = boto3.client("dynamodbstreams")
            sim.run_for(24 * 3600 - 10)
            iterator = streams.get_shard_iterator(
                StreamArn=table.stream_arn, ShardId=shard.shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            sim.run_for(11)
            with pytest.raises(streams.exceptions.TrimmedDataAccessException):
                streams.get_records(ShardIterator=iterator)  # 11 s old, its record gone
            with pytest.raises(streams.exceptions.TrimmedDataAccessException):
                streams.get_shard_iterator(
                    StreamArn=table.stream_arn,
                    ShardId=shard.shard_id,
                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                    SequenceNumber=first,
                )
            fresh = streams.get_shard_iterator(
                StreamArn=table.stream_arn, ShardId=shard.shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            assert [] == streams.get_records(ShardIterator=fresh)["Records"]

    def test_failure_record_is_received_from_the_dlq_through_boto3(self) -> None:
        """A failure record delivered to a simulated queue is read back with sqs receive_message."""
        sim, table = _sim()
        dlq = sim.create_queue("dlq")

        def handler(event: Any, context: Any) -> None:
            raise ValueError("boom")

        sim.create_function("fn", handler)
        with sim.mock_aws():
            boto3.client("lambda").create_event_source_mapping(
                EventSourceArn=table.stream_arn,
                FunctionName="fn",
                StartingPosition="TRIM_HORIZON",
                MaximumRetryAttempts=0,
                DestinationConfig={"OnFailure": {"Destination": dlq.arn}},
            )
            boto3.client("dynamodb").put_item(TableName="orders", Item={"pk": {"S": "a"}})
            sim.run_until_idle()
            sqs = boto3.client("sqs")
            url = sqs.get_queue_url(QueueName="dlq")["QueueUrl"]
            messages = sqs.receive_message(QueueUrl=url)["Messages"]
        assert [dlq.raw_messages[0]["Body"]] == [m["Body"] for m in messages]
        assert 1 == json.loads(messages[0]["Body"])["DDBStreamBatchInfo"]["batchSize"]


class TestBlock:
    def test_credentials_and_region_are_set_for_the_block_and_restored(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Inside: test credentials and the simulation's region; after: the user's environment."""
        monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
        monkeypatch.setenv("AWS_PROFILE", "prod")
        monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
        sim = esm_sim.Simulation(region="ap-southeast-2", account_id="111122223333")
        with sim.mock_aws():
            assert "ap-southeast-2" == os.environ["AWS_DEFAULT_REGION"]
            assert os.environ["AWS_ACCESS_KEY_ID"]  # test credentials (moto's own, inside)
            assert "AWS_PROFILE" not in os.environ
            identity = boto3.client("sts").get_caller_identity()
            assert "111122223333" == identity["Account"]
        assert "eu-west-3" == os.environ["AWS_DEFAULT_REGION"]
        assert "prod" == os.environ["AWS_PROFILE"]
        assert "AWS_ACCESS_KEY_ID" not in os.environ

    def test_a_client_made_inside_is_no_longer_served_after_the_block(self) -> None:
        """A boto3 client kept past the block goes where any client goes then, not to the simulation."""
        from botocore.awsrequest import AWSResponse

        class Raw:
            def stream(self, **_: Any) -> Any:
                yield b'{"EventSourceMappings": []}'

        sim, table = _sim()
        sim.create_function("fn", lambda e, c: None)
        with sim.mock_aws():
            lam = boto3.client("lambda")
            lam.create_event_source_mapping(
                EventSourceArn=table.stream_arn, FunctionName="fn", StartingPosition="LATEST"
            )
            assert 1 == len(lam.list_event_source_mappings()["EventSourceMappings"])
        # What answers after the block (a stand-in for the network, registered last).
        lam.meta.events.register(
            "before-send", lambda request, **_: AWSResponse(request.url, 200, {}, Raw())
        )
        assert [] == lam.list_event_source_mappings()["EventSourceMappings"]

    def test_blocks_do_not_nest(self) -> None:
        """A second mock_aws block inside the first is refused, and the first still works."""
        sim, _ = _sim()
        with sim.mock_aws():
            with pytest.raises(ConfigError, match="do not nest"), esm_sim.Simulation().mock_aws():
                pass
            assert "Table" in boto3.client("dynamodb").describe_table(TableName="orders")

    def test_missing_extra_names_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without moto, mock_aws() is a one-line error naming esm_sim[aws]."""
        import sys

        monkeypatch.setitem(sys.modules, "moto", None)
        with pytest.raises(ConfigError, match=r"pip install 'esm_sim\[aws\]'"):
            esm_sim.Simulation().mock_aws().__enter__()


def test_aws_simulation_fixture(aws_simulation: esm_sim.Simulation) -> None:
    """The aws_simulation fixture is a Simulation inside mock_aws with handlers on the virtual clock."""
    assert "virtual" == aws_simulation.handler_clock
    aws_simulation.create_table("orders", partition_key="pk")
    assert "orders" in boto3.client("dynamodb").list_tables()["TableNames"]
