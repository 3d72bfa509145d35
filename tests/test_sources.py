"""Tests for esm_sim.sources and Table.replay: recorded traffic replayed at its original times."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import esm_sim
from esm_sim import sources
from esm_sim.errors import ConfigError

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z in epoch seconds


def _record(
    name: str,
    pk: str,
    at: float,
    *,
    seq: str | None = None,
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
) -> dict[str, Any]:
    ddb: dict[str, Any] = {"ApproximateCreationDateTime": at, "Keys": {"pk": {"S": pk}}}
    if new is not None:
        ddb["NewImage"] = new
    if old is not None:
        ddb["OldImage"] = old
    if seq is not None:
        ddb["SequenceNumber"] = seq
    ddb["SizeBytes"] = 999
    ddb["StreamViewType"] = "NEW_AND_OLD_IMAGES"
    return {
        "eventID": "e" * 32,
        "eventName": name,
        "eventVersion": "1.0",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": ddb,
    }


def _item(pk: str, n: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "n": {"N": n}}


def _sim(start_s: int = T0) -> tuple[esm_sim.Simulation, esm_sim.Table, list[dict[str, Any]]]:
    sim = esm_sim.Simulation(seed=0, start=datetime.fromtimestamp(start_s, UTC))
    table = sim.create_table("orders", partition_key="pk")
    seen: list[dict[str, Any]] = []
    sim.create_function("fn", lambda event, ctx: seen.extend(event["Records"]))
    sim.lambda_client.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=table.stream_arn, StartingPosition="TRIM_HORIZON"
    )
    return sim, table, seen


class TestNormalizeRecord:
    def test_normalises_version_time_and_size(self) -> None:
        """A record comes out as Lambda delivers it: eventVersion 1.1, whole seconds, SizeBytes recomputed."""
        out = sources.normalize_record(
            _record("INSERT", "a", T0 + 0.75, seq="100", new=_item("a", "1"))
        )
        assert "1.1" == out["eventVersion"]
        assert float(T0) == out["dynamodb"]["ApproximateCreationDateTime"]
        # pk(2+1) in Keys, and pk(2+1) + n(1 + 2 for a one-digit number) in NewImage (spec 13).
        assert 3 + 3 + 3 == out["dynamodb"]["SizeBytes"]
        assert "100" == out["dynamodb"]["SequenceNumber"]

    def test_boto3_datetimes_and_bytes_become_lambda_form(self) -> None:
        """boto3's datetime and bytes values become epoch seconds and base64 text."""
        rec = _record("INSERT", "a", 0, new={"pk": {"S": "a"}, "b": {"B": b"\x00\x01"}})
        rec["dynamodb"]["ApproximateCreationDateTime"] = datetime(2026, 1, 1, 0, 0, 5, 900_000, UTC)
        out = sources.normalize_record(rec)
        assert float(T0 + 5) == out["dynamodb"]["ApproximateCreationDateTime"]
        assert {"B": "AAE="} == out["dynamodb"]["NewImage"]["b"]

    @pytest.mark.parametrize(
        ("record", "pattern"),
        [
            pytest.param(
                {"eventName": "PUT", "dynamodb": {}}, r"record\.eventName='PUT'", id="event-name"
            ),
            pytest.param({"eventName": "INSERT"}, r"record\.dynamodb=None", id="no-dynamodb"),
            pytest.param(
                {"eventName": "INSERT", "dynamodb": {"Keys": {}}},
                r"ApproximateCreationDateTime is missing",
                id="no-time",
            ),
            pytest.param(
                {
                    "eventName": "INSERT",
                    "dynamodb": {"ApproximateCreationDateTime": 1, "Keys": {"pk": {"X": 1}}},
                },
                r"record\.dynamodb\.Keys\.pk=\{'X': 1\} has an unknown type 'X'",
                id="bad-type",
            ),
            pytest.param(
                {
                    "eventName": "INSERT",
                    "dynamodb": {"ApproximateCreationDateTime": "soon", "Keys": {}},
                },
                r"ApproximateCreationDateTime='soon' must be",
                id="bad-time",
            ),
        ],
    )
    def test_malformed_records_are_refused_naming_the_field(
        self, record: Any, pattern: str
    ) -> None:
        """A malformed record raises ConfigError naming the field's path."""
        with pytest.raises(ConfigError, match=pattern):
            sources.normalize_record(record)


class TestReadEvents:
    def test_reads_a_list_of_events(self, tmp_path: Path) -> None:
        """A file holding a list of Lambda events gives their records in order."""
        events = [
            {"Records": [_record("INSERT", "a", T0, new=_item("a", "1"))]},
            {"Records": [_record("REMOVE", "a", T0 + 1, old=_item("a", "1"))], "window": {}},
        ]
        path = tmp_path / "events.json"
        path.write_text(json.dumps(events))
        records = sources.read_events(path)
        assert ["INSERT", "REMOVE"] == [r["eventName"] for r in records]

    def test_reads_one_event(self, tmp_path: Path) -> None:
        """A file holding one event with Records gives its records."""
        path = tmp_path / "event.json"
        path.write_text(json.dumps({"Records": [_record("INSERT", "a", T0, new=_item("a", "1"))]}))
        assert 1 == len(sources.read_events(path))

    @pytest.mark.parametrize(
        ("text", "pattern"),
        [
            pytest.param("{not json", r"is not a readable JSON file", id="not-json"),
            pytest.param('{"records": []}', r"event \[0\] must be a Lambda event", id="no-records"),
            pytest.param(
                '[{"Records": [{"eventName": "X"}]}]',
                r"\[0\]\.Records\[0\]\.eventName='X'",
                id="bad-record",
            ),
        ],
    )
    def test_bad_files_are_refused(self, tmp_path: Path, text: str, pattern: str) -> None:
        """A file that is not captured DynamoDB stream events raises ConfigError."""
        path = tmp_path / "bad.json"
        path.write_text(text)
        with pytest.raises(ConfigError, match=pattern):
            sources.read_events(path)


class TestReplay:
    def test_records_are_written_at_their_original_times(self) -> None:
        """Each replayed record is written at its ApproximateCreationDateTime, in time order."""
        sim, table, seen = _sim(T0 - 60)
        records = [
            _record("MODIFY", "a", T0 + 30, new=_item("a", "2"), old=_item("a", "1")),
            _record("INSERT", "a", T0, new=_item("a", "1")),
        ]
        assert 2 == table.replay(records, call_at=sim.call_at)
        sim.run_until_idle()
        times = [r["dynamodb"]["ApproximateCreationDateTime"] for r in seen]
        assert [float(T0), float(T0 + 30)] == times
        assert ["INSERT", "MODIFY"] == [r["eventName"] for r in seen]
        assert {"pk": "a", "n": 2} == table.get_item({"pk": "a"})

    def test_images_are_used_as_recorded(self) -> None:
        """The recorded OldImage is delivered as is, even if the table never held that item."""
        sim, table, seen = _sim()
        old = _item("a", "41")
        table.replay([_record("REMOVE", "a", T0 + 1, old=old)], call_at=sim.call_at)
        sim.run_until_idle()
        assert old == seen[0]["dynamodb"]["OldImage"]
        assert "1.1" == seen[0]["eventVersion"]
        assert table.stream_arn == seen[0]["eventSourceARN"]

    def test_same_second_records_keep_sequence_order(self) -> None:
        """Records of one second are written in SequenceNumber order, whatever the input order."""
        sim, table, seen = _sim()
        records = [
            _record("MODIFY", "a", T0 + 2, seq="300", new=_item("a", "2"), old=_item("a", "1")),
            _record("INSERT", "a", T0 + 2, seq="200", new=_item("a", "1")),
        ]
        table.replay(records, call_at=sim.call_at)
        sim.run_until_idle()
        assert ["INSERT", "MODIFY"] == [r["eventName"] for r in seen]

    def test_run_until_idle_waits_for_replayed_writes(self) -> None:
        """Replayed writes are user work: run_until_idle waits for them without call_at."""
        sim, table, seen = _sim(T0 - 60)
        table.replay([_record("INSERT", "a", T0 + 600, new=_item("a", "1"))])
        sim.run_until_idle()
        assert [float(T0 + 600)] == [r["dynamodb"]["ApproximateCreationDateTime"] for r in seen]

    def test_records_before_the_clock_are_refused(self) -> None:
        """A record older than sim.now is refused, suggesting an earlier Simulation start."""
        sim, table, _ = _sim(T0 + 100)
        with pytest.raises(
            ConfigError,
            match=r"create the Simulation with start= at or before 2026-01-01T00:00:00\.000\+00:00",
        ):
            table.replay([_record("INSERT", "a", T0, new=_item("a", "1"))], call_at=sim.call_at)

    def test_keys_must_match_the_table(self) -> None:
        """A record whose Keys are not the table's key schema is refused."""
        sim, table, _ = _sim()
        rec = _record("INSERT", "a", T0, new=_item("a", "1"))
        rec["dynamodb"]["Keys"] = {"id": {"S": "a"}}
        with pytest.raises(
            ConfigError,
            match=r"records\[0\]\.dynamodb\.Keys=.* must hold exactly the table's key attributes \['pk'\]",
        ):
            table.replay([rec], call_at=sim.call_at)

    def test_replay_is_deterministic(self) -> None:
        """The same records and seed give the same trace digest."""

        def run() -> str:
            sim, table, _ = _sim()
            table.replay(
                [_record("INSERT", k, T0 + i, new=_item(k, str(i))) for i, k in enumerate("abcde")],
                call_at=sim.call_at,
            )
            sim.run_until_idle()
            return sim.trace.digest()

        assert run() == run()


class TestReadStream:
    def test_reads_every_record_of_a_moto_stream(self) -> None:
        """read_stream reads all of a stream's records through a default boto3 client (moto) and they replay as written."""
        boto3 = pytest.importorskip("boto3")
        moto = pytest.importorskip("moto")
        from botocore.exceptions import ClientError

        with moto.mock_aws():
            ddb = boto3.client(
                "dynamodb",
                region_name="us-east-1",
                aws_access_key_id="x",
                aws_secret_access_key="x",
            )
            created = ddb.create_table(
                TableName="orders",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            )
            arn = created["TableDescription"]["LatestStreamArn"]
            ddb.put_item(
                TableName="orders", Item={"pk": {"S": "a"}, "n": {"N": "1"}, "b": {"B": b"\x00"}}
            )
            ddb.put_item(TableName="orders", Item={"pk": {"S": "a"}, "n": {"N": "2"}})
            ddb.delete_item(TableName="orders", Key={"pk": {"S": "a"}})
            # A default client: botocore would send the stream calls to the
            # account-based endpoint of the ARN's account, which older moto
            # releases do not serve; the read goes to the regional one.
            streams = boto3.client(
                "dynamodbstreams",
                region_name="us-east-1",
                aws_access_key_id="x",
                aws_secret_access_key="x",
            )
            hosts: list[str] = []

            def note_host(request: Any, **_: Any) -> None:
                hosts.append(urlsplit(request.url).hostname or "")

            streams.meta.events.register("before-send.dynamodb-streams", note_host)
            records = sources.read_stream(streams, arn)
            read_hosts = set(hosts)
            hosts.clear()
            with contextlib.suppress(ClientError):  # served or not, by moto's version
                streams.describe_stream(StreamArn=arn)
        # The read used the regional endpoint; the client's own routing is back after it.
        assert {"streams.dynamodb.us-east-1.amazonaws.com"} == read_hosts
        assert 1 == len(hosts) and hosts[0] != "streams.dynamodb.us-east-1.amazonaws.com"
        assert ["INSERT", "MODIFY", "REMOVE"] == [r["eventName"] for r in records]
        assert {"1.1"} == {r["eventVersion"] for r in records}
        assert {"B": "AA=="} == records[0]["dynamodb"]["NewImage"]["b"]
        assert arn == records[0]["eventSourceARN"]
        first = int(records[0]["dynamodb"]["ApproximateCreationDateTime"])
        sim, table, seen = _sim(first)
        table.replay(records, call_at=sim.call_at)
        sim.run_until_idle()
        assert [r["dynamodb"]["Keys"] for r in records] == [r["dynamodb"]["Keys"] for r in seen]
        assert None is table.get_item({"pk": "a"})

    def test_pages_shards_and_stops_on_a_closed_shard(self) -> None:
        """read_stream follows LastEvaluatedShardId and reads a closed shard until NextShardIterator is None."""

        class Client:
            def __init__(self) -> None:
                self.calls: list[str] = []

            def describe_stream(self, **kw: Any) -> dict[str, Any]:
                self.calls.append(f"describe {kw.get('ExclusiveStartShardId')}")
                if "ExclusiveStartShardId" not in kw:
                    return {
                        "StreamDescription": {
                            "Shards": [{"ShardId": "s1"}],
                            "LastEvaluatedShardId": "s1",
                        }
                    }
                return {"StreamDescription": {"Shards": [{"ShardId": "s2"}]}}

            def get_shard_iterator(self, **kw: Any) -> dict[str, Any]:
                assert "TRIM_HORIZON" == kw["ShardIteratorType"]
                return {"ShardIterator": f"{kw['ShardId']}/0"}

            def get_records(self, ShardIterator: str) -> dict[str, Any]:
                shard, page = ShardIterator.split("/")
                self.calls.append(ShardIterator)
                rec = _record("INSERT", f"{shard}-{page}", T0, new=_item(f"{shard}-{page}", "1"))
                if page == "0":
                    return {"Records": [rec], "NextShardIterator": f"{shard}/1"}
                return {"Records": [rec]}  # closed shard: no NextShardIterator

        client = Client()
        records = sources.read_stream(client, "arn")
        assert ["s1-0", "s1-1", "s2-0", "s2-1"] == [
            r["dynamodb"]["Keys"]["pk"]["S"] for r in records
        ]
        assert ["describe None", "describe s1", "s1/0", "s1/1", "s2/0", "s2/1"] == client.calls

    def test_explicit_account_endpoint_mode_is_kept(self) -> None:
        """A client configured with account_id_endpoint_mode="required" keeps it: read_stream only changes the default."""
        boto3 = pytest.importorskip("boto3")
        moto = pytest.importorskip("moto")
        from botocore.config import Config
        from botocore.exceptions import ClientError

        arn = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000"
        with moto.mock_aws():
            streams = boto3.client(
                "dynamodbstreams",
                region_name="us-east-1",
                aws_access_key_id="x",
                aws_secret_access_key="x",
                config=Config(account_id_endpoint_mode="required"),
            )
            urls: list[str] = []
            streams.meta.events.register(
                "before-send", lambda request, **_: urls.append(request.url)
            )
            with pytest.raises(ClientError):  # moto does not serve the account endpoint
                sources.read_stream(streams, arn)
        assert ["https://123456789012.streams-ddb.us-east-1.amazonaws.com/"] == urls

    def test_shards_are_read_parents_first_whatever_the_listed_order(self) -> None:
        """read_stream reads each parent shard before its children, even when DescribeStream lists children first (spec 7.1)."""
        listed = [
            {"ShardId": "grandchild", "ParentShardId": "child"},
            {"ShardId": "child", "ParentShardId": "root"},
            {"ShardId": "other", "ParentShardId": "trimmed"},
            {"ShardId": "root"},
        ]

        class Client:
            def describe_stream(self, **kw: Any) -> dict[str, Any]:
                return {"StreamDescription": {"Shards": listed}}

            def get_shard_iterator(self, **kw: Any) -> dict[str, Any]:
                return {"ShardIterator": kw["ShardId"]}

            def get_records(self, ShardIterator: str) -> dict[str, Any]:
                rec = _record("INSERT", ShardIterator, T0, new=_item(ShardIterator, "1"))
                return {"Records": [rec]}  # closed shard: no NextShardIterator

        records = sources.read_stream(Client(), "arn")
        assert ["other", "root", "child", "grandchild"] == [
            r["dynamodb"]["Keys"]["pk"]["S"] for r in records
        ]
