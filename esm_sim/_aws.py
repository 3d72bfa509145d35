"""
``with sim.mock_aws():`` -- boto3, anywhere in the process, talks to moto and the simulation.

How the two meet:

* **moto** (``moto.mock_aws``) serves every AWS API: DynamoDB's data plane (its
  expression language: ``UpdateExpression``, ``ConditionExpression``, batches,
  transactions, queries), SQS, SNS, S3 and everything else.
* **esm_sim** owns the streams and the mappings. Each table with a stream is
  one table in both: moto's table reports esm_sim's ``LatestStreamArn``, and
  its stream shard (the one place moto reports every change of an item, as old
  and new item) is replaced by :class:`_ShardBridge`, which hands the item moto
  wrote to ``Table.apply_image``: esm_sim writes the stream record at
  ``sim.now`` exactly as ``table.put_item`` would. A transaction's changes are
  handed over only once it commits. The other way, ``Table.mirror`` copies what
  esm_sim writes itself (``table.put_item``, TTL deletions, replays) into moto's
  items, so boto3 reads see them. A table created through boto3 with a
  ``StreamSpecification`` becomes a simulated table.
* botocore's ``before-send`` event (the hook moto itself uses) is answered by
  esm_sim for Lambda's event source mapping operations (and the tags and
  concurrency of the simulation's mappings and functions) and for every
  DynamoDB Streams operation on the simulation's streams: botocore validates and
  serializes the call as usual, esm_sim answers with the HTTP response AWS would
  send, and botocore parses it (so errors arrive as botocore's ``ClientError``).
  The call's parameters are taken from ``before-parameter-build`` (the same call,
  in the same thread) rather than parsed back from the request.
* The simulation's queues, topics and buckets exist in moto too; each failure
  record esm_sim delivers is also sent to moto's, so ``receive_message`` reads it.

Credentials (``testing``), region (the simulation's) and moto's account (the
simulation's) are set in ``os.environ`` for the block and restored after it.
"""

from __future__ import annotations

import base64
import inspect
import json
import os
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from esm_sim._engine.timefmt import datetime_to_ms
from esm_sim._sinks import Bucket, Queue, Topic
from esm_sim._streams.attributes import Image, render_image
from esm_sim._streams.records import SEQ
from esm_sim._streams.table import Table
from esm_sim._streams.wire import image_from_wire
from esm_sim.errors import ClientError, ConfigError, UnsupportedFeatureError

INSTALL = "pip install 'esm_sim[aws]'"

# Lambda operations the simulation serves (others go to moto).
_ESM_OPERATIONS = frozenset(
    (
        "CreateEventSourceMapping",
        "GetEventSourceMapping",
        "ListEventSourceMappings",
        "UpdateEventSourceMapping",
        "DeleteEventSourceMapping",
    )
)
_CONCURRENCY_OPERATIONS = frozenset(
    ("PutFunctionConcurrency", "GetFunctionConcurrency", "DeleteFunctionConcurrency")
)
_TAG_OPERATIONS = frozenset(("TagResource", "UntagResource", "ListTags"))
_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
_UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")
_STREAMS_ERROR = "com.amazonaws.dynamodb.v20120810#"
_MAX_GET_RECORDS = 1000

_active_lock = threading.Lock()
_active: list[MockAws] = []


def _wire(value: object) -> object:
    if isinstance(value, datetime):
        return datetime_to_ms(value) / 1000  # JSON protocols: epoch seconds
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    msg = f"{value!r} is not JSON"
    raise TypeError(msg)


class _Stash(threading.local):
    """The parameters of the call being made in this thread (before-parameter-build)."""

    operation: str = ""
    params: dict[str, Any] | None = None


class _ShardBridge:
    """Stands in for moto's StreamShard: each change moto makes goes to esm_sim's table."""

    def __init__(self, bridge: MockAws, table: Table) -> None:
        self.bridge = bridge
        self.table = table
        self.items: list[Any] = []  # moto reads none of its stream: esm_sim serves it

    def __deepcopy__(self, memo: dict[int, Any]) -> _ShardBridge:
        # moto deep-copies a table to roll a failed transaction back: the copy
        # must hand its changes to the same simulated table.
        return self

    def add(self, old: Any, new: Any) -> None:
        """moto changed one item: ``old`` and ``new`` moto Items (None for none)."""
        item = new if new is not None else old
        image = image_from_wire(item.to_json()["Attributes"], where=f"{self.table.name} item")
        change = (self.table, image, new is None)
        if self.bridge._transaction is not None:
            self.bridge._transaction.append(change)
        else:
            self.table.apply_image(image, deleted=new is None)


class MockAws:
    """The context manager ``Simulation.mock_aws()`` returns (see the module docstring)."""

    def __init__(self, sim: Any) -> None:
        # The Simulation (typed Any: it imports this module, on use).
        self.sim = sim
        self._stash = _Stash()
        self._transaction: list[tuple[Table, Image, bool]] | None = None
        self._undo: list[Callable[[], None]] = []
        self._mock: Any = None
        self._sqs: Any = None
        self._sns: Any = None
        self._s3: Any = None

    # -- entering and leaving ----------------------------------------------------

    def __enter__(self) -> MockAws:
        try:
            import boto3  # noqa: F401
            import moto
            from botocore import handlers
            from moto.core.models import botocore_stubber
            from moto.dynamodb.models import DynamoDBBackend
            from moto.dynamodb.models.table import Table as MotoTable
        except ImportError:
            msg = f"sim.mock_aws() needs moto and boto3: {INSTALL}"
            raise ConfigError(msg) from None
        with _active_lock:
            if _active:
                msg = "sim.mock_aws(): another mock_aws block is active; they do not nest"
                raise ConfigError(msg)
            _active.append(self)
        try:
            self._set_environment()
            # botocore calls every before-send handler (the first answer wins), so
            # moto's stubber is replaced by ours, which asks moto for what esm_sim
            # does not serve. moto appended its entry when imported.
            entries = handlers.BUILTIN_HANDLERS
            index = next(i for i, entry in enumerate(entries) if entry[1] is botocore_stubber)
            moto_entry = entries[index]
            mine = [
                ("before-parameter-build.lambda", self._remember),
                ("before-parameter-build.dynamodb-streams", self._remember),
                ("before-send", self._send),
            ]
            entries[index : index + 1] = mine

            def unhook() -> None:
                at = entries.index(mine[0])
                entries[at : at + len(mine)] = [moto_entry]

            self._undo.append(unhook)
            self._patch(MotoTable, "set_stream_specification", self._set_stream_specification)
            self._patch(DynamoDBBackend, "transact_write_items", self._transact_write_items)
            self._patch(DynamoDBBackend, "update_table", self._update_table)
            self._mock = moto.mock_aws()
            self._mock.start()
            self._undo.append(self._mock.stop)
            self._copy_resources()
            self.sim._aws = self
        except BaseException:
            self._leave()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._leave()

    def _leave(self) -> None:
        for table in self.sim.tables.values():
            table.mirror = None
        while self._undo:
            self._undo.pop()()
        self.sim._aws = None
        with _active_lock:
            if self in _active:
                _active.remove(self)

    def _set_environment(self) -> None:
        wanted = {
            **_CREDENTIALS,
            "AWS_DEFAULT_REGION": self.sim.region,
            "AWS_REGION": self.sim.region,
            "MOTO_ACCOUNT_ID": self.sim.account_id,
        }
        saved = {name: os.environ.get(name) for name in (*wanted, *_UNSET)}

        def restore() -> None:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

        self._undo.append(restore)
        for name in _UNSET:
            os.environ.pop(name, None)
        os.environ.update(wanted)

    def _patch(self, owner: type, name: str, make: Callable[[Any], Any]) -> None:
        original = owner.__dict__[name]
        setattr(owner, name, make(original))
        self._undo.append(lambda: setattr(owner, name, original))

    # -- resources both sides know -------------------------------------------------

    def _backend(self, service: str) -> Any:
        import moto.backends

        return moto.backends.get_backend(service)[self.sim.account_id][self.sim.region]  # type: ignore[call-overload]

    def _copy_resources(self) -> None:
        """Make the simulation's tables, queues, topics and buckets in moto."""
        for table in self.sim.tables.values():
            self.table_created(table)
        for sink in self.sim._sinks.values():
            self.sink_created(sink)

    def table_created(self, table: Table) -> None:
        """An esm_sim table: the same table in moto, holding the same items."""
        backend = self._backend("dynamodb")
        if table.name in backend.tables:
            return  # made through boto3: linked already
        key_types = _key_types(table)
        schema = [{"AttributeName": table.partition_key, "KeyType": "HASH"}]
        if table.sort_key is not None:
            schema.append({"AttributeName": table.sort_key, "KeyType": "RANGE"})
        backend.create_table(
            table.name,
            schema=schema,
            throughput=None,
            attr=[{"AttributeName": n, "AttributeType": t} for n, t in key_types.items()],
            global_indexes=None,
            indexes=None,
            streams=(
                {"StreamEnabled": True, "StreamViewType": table.stream_view_type}
                if table.has_stream
                else None
            ),
            billing_mode="PAY_PER_REQUEST",
            sse_specification=None,
            tags=[],
            deletion_protection_enabled=False,
            warm_throughput=None,
        )
        moto_table = backend.tables[table.name]
        if not table.has_stream:
            # A table without a stream (a template's plain table): moto tells its
            # shard of each change only when it has one, so it gets the bridge
            # alone, and boto3 writes reach esm_sim's items (leaving no record).
            moto_table.stream_shard = _ShardBridge(self, table)
        for keys, image in table._items.items():
            self._mirror_item(moto_table, keys, image)
        table.mirror = lambda keys, image: self._mirror_item(moto_table, keys, image)

    def _mirror_item(self, moto_table: Any, keys: Image, image: Image | None) -> None:
        """Copy one esm_sim change into moto's items (no stream record: esm_sim wrote it)."""
        from moto.dynamodb.models.dynamo_type import DynamoType, Item

        wire_keys = render_image(keys)
        hash_key = DynamoType(wire_keys[moto_table.hash_key_attr])
        range_key = (
            DynamoType(wire_keys[moto_table.range_key_attr])
            if moto_table.range_key_attr is not None
            else None
        )
        items = moto_table.items
        if image is None:
            if range_key is None:
                items.pop(hash_key, None)
            else:
                items.get(hash_key, {}).pop(range_key, None)
            return
        item = Item(hash_key, range_key, render_image(image))
        if range_key is None:
            items[hash_key] = item
        else:
            items[hash_key][range_key] = item

    def sink_created(self, sink: Queue | Topic | Bucket) -> None:
        """An esm_sim queue, topic or bucket: the same in moto."""
        if isinstance(sink, Queue):
            self._client("sqs").create_queue(
                QueueName=sink.name, Attributes={"FifoQueue": "true"} if sink.fifo else {}
            )
        elif isinstance(sink, Topic):
            self._client("sns").create_topic(
                Name=sink.name, Attributes={"FifoTopic": "true"} if sink.fifo else {}
            )
        else:
            options: dict[str, Any] = {}
            if self.sim.region != "us-east-1":
                options["CreateBucketConfiguration"] = {"LocationConstraint": self.sim.region}
            self._client("s3").create_bucket(Bucket=sink.name, **options)

    def delivered(self, sink: Queue | Topic | Bucket) -> None:
        """esm_sim just delivered a failure record to ``sink``: moto's gets it too."""
        if isinstance(sink, Queue):
            url = self._client("sqs").get_queue_url(QueueName=sink.name)["QueueUrl"]
            self._client("sqs").send_message(
                QueueUrl=url, MessageBody=sink.raw_messages[-1]["Body"]
            )
        elif isinstance(sink, Topic):
            self._client("sns").publish(TopicArn=sink.arn, Message=sink.messages[-1]["Message"])
        else:
            key = next(reversed(sink.raw_objects))
            self._client("s3").put_object(Bucket=sink.name, Key=key, Body=sink.raw_objects[key])

    def removed(
        self, sink: Queue | Bucket, *, body: str | None = None, key: str | None = None
    ) -> None:
        """
        esm_sim removed a message (its ``body``) or an object (its ``key``) from
        ``sink`` (a redrive with ``delete=True``): moto's copy goes too.
        """
        if isinstance(sink, Queue):
            queue = self._backend("sqs").get_queue(sink.name)
            with queue._messages_lock:
                for i, message in enumerate(queue._messages):
                    if message.body == body:
                        queue.pending_messages.discard(message)
                        del queue._messages[i]
                        return
        elif key is not None:
            self._client("s3").delete_object(Bucket=sink.name, Key=key)

    def _client(self, service: str) -> Any:
        import boto3

        attr = f"_{service}"
        client = getattr(self, attr)
        if client is None:
            client = boto3.session.Session().client(service, region_name=self.sim.region)
            setattr(self, attr, client)
        return client

    # -- moto's DynamoDB, patched for the block ----------------------------------------

    def _set_stream_specification(self, original: Any) -> Any:
        bridge = self

        def set_stream_specification(moto_table: Any, streams: Any) -> None:
            original(moto_table, streams)
            if moto_table.stream_shard is None:
                return
            sim = bridge.sim
            table = sim.tables.get(moto_table.name)
            if table is None:
                # Made through boto3 with a stream: a simulated table now.
                view = moto_table.stream_specification.get("StreamViewType") or "NEW_AND_OLD_IMAGES"
                sort_key = (
                    None
                    if moto_table.range_key_attr is None
                    else (moto_table.range_key_attr, moto_table.range_key_type)
                )
                sim._aws = None  # it is being made in moto: not again
                try:
                    table = sim.create_table(
                        moto_table.name,
                        partition_key=(moto_table.hash_key_attr, moto_table.hash_key_type),
                        sort_key=sort_key,
                        stream_view_type=view,
                    )
                finally:
                    sim._aws = bridge
                table.mirror = lambda keys, image: bridge._mirror_item(moto_table, keys, image)
            moto_table.latest_stream_label = table.stream_arn.rsplit("/", 1)[1]
            moto_table.stream_shard = _ShardBridge(bridge, table)

        return set_stream_specification

    def _update_table(self, original: Any) -> Any:
        bridge = self
        signature = inspect.signature(original)

        def update_table(backend: Any, *args: Any, **kwargs: Any) -> Any:
            call = signature.bind(backend, *args, **kwargs)
            known = bridge.sim.tables.get(call.arguments.get("name"))
            spec = call.arguments.get("stream_spec")
            if known is not None and spec:
                # Checked before moto changes anything, so a refusal changes nothing.
                enable = bool(spec.get("StreamEnabled"))  # DynamoDB's rule (moto's differs)
                if enable != known.has_stream:
                    what = "enabling" if enable else "disabling"
                    msg = (
                        f"UpdateTable TableName={known.name!r}: {what} a simulated "
                        "table's stream is not simulated (spec 7.1: disabling closes the "
                        "open shards, re-enabling makes a new stream); make the table "
                        "with the stream it keeps for the whole run"
                    )
                    raise UnsupportedFeatureError(msg)
                if not enable:
                    call.arguments["stream_spec"] = None  # no stream, and none wanted
                # Enabling an enabled stream: moto answers as DynamoDB does.
            return original(*call.args, **call.kwargs)

        return update_table

    def _transact_write_items(self, original: Any) -> Any:
        bridge = self

        def transact_write_items(backend: Any, transact_items: Any) -> None:
            # Changes reach the streams only if the whole transaction commits.
            outer = bridge._transaction
            bridge._transaction = []
            try:
                original(backend, transact_items)
                changes = bridge._transaction
            finally:
                bridge._transaction = outer
            for table, image, deleted in changes:
                table.apply_image(image, deleted=deleted)

        return transact_write_items

    # -- botocore hooks -------------------------------------------------------------------

    def _remember(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self._stash.operation = model.name
        self._stash.params = dict(params)

    def _send(self, request: Any, event_name: str = "", **kwargs: Any) -> Any:
        from moto.core.models import botocore_stubber

        if self.sim._aws is not self:
            # A client made inside the block, used after it: the block is over, so
            # it goes where moto's clients go then (moto's stubber, now off).
            return botocore_stubber(event_name, request, **kwargs)
        parts = event_name.split(".")
        service, operation = (parts[1], parts[2]) if len(parts) >= 3 else ("", "")
        answer: tuple[int, dict[str, str], str] | None = None
        if service in ("lambda", "dynamodb-streams") and self._stash.operation == operation:
            params = self._stash.params or {}
            if service == "lambda":
                answer = self._lambda(operation, params)
            else:
                answer = self._streams(operation, params)
        if answer is None:
            return botocore_stubber(event_name, request, **kwargs)
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse

        status, headers, body = answer
        return AWSResponse(request.url, status, headers, MockRawResponse(body))

    def _lambda(
        self, operation: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, str], str] | None:
        sim = self.sim
        if operation in _CONCURRENCY_OPERATIONS:
            name = str(params.get("FunctionName", "")).rsplit(":function:", 1)[-1].split(":")[0]
            if name not in sim.functions:
                return None  # a function of moto's
        elif operation in _TAG_OPERATIONS:
            if ":event-source-mapping:" not in str(params.get("Resource", "")):
                return None
        elif operation not in _ESM_OPERATIONS:
            return None
        method = getattr(sim.lambda_client, _snake(operation))
        try:
            result = method(**params)
        except ClientError as err:
            body = {k: v for k, v in err.response.items() if k not in ("Error", "ResponseMetadata")}
            headers = {"x-amzn-errortype": err.code, "content-type": "application/json"}
            return err.http_status, headers, json.dumps(body, default=_wire)
        meta = result.pop("ResponseMetadata")
        status = meta["HTTPStatusCode"]
        headers = dict(meta["HTTPHeaders"])
        text = "" if status == 204 else json.dumps(result, default=_wire)
        headers["content-length"] = str(len(text.encode()))
        return status, headers, text

    # -- DynamoDB Streams ------------------------------------------------------------------

    def _streams(self, operation: str, params: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        try:
            if operation == "ListStreams":
                body = self._list_streams(params)
            elif operation == "DescribeStream":
                body = self._describe_stream(params)
            elif operation == "GetShardIterator":
                body = self._get_shard_iterator(params)
            elif operation == "GetRecords":
                body = self._get_records(params)
            else:
                raise _StreamsError("UnknownOperationException", f"Unknown operation {operation}")
        except _StreamsError as err:
            error = {"__type": _STREAMS_ERROR + err.code, "message": err.message}
            return 400, {"content-type": "application/x-amz-json-1.0"}, json.dumps(error)
        return 200, {"content-type": "application/x-amz-json-1.0"}, json.dumps(body, default=_wire)

    def _table(self, stream_arn: object) -> Table:
        table: Table | None = self.sim.tables_by_stream_arn.get(str(stream_arn))
        if table is None:
            msg = f"Requested resource not found: Stream: {stream_arn} not found"
            raise _StreamsError("ResourceNotFoundException", msg)
        return table

    def _list_streams(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("TableName")
        streams = [
            {
                "StreamArn": t.stream_arn,
                "TableName": t.name,
                "StreamLabel": t.stream_arn.rsplit("/", 1)[1],
            }
            for t in self.sim.tables.values()
            if t.has_stream and (name is None or t.name == name)
        ]
        start = params.get("ExclusiveStartStreamArn")
        if start is not None:
            arns = [s["StreamArn"] for s in streams]
            streams = streams[arns.index(start) + 1 :] if start in arns else []
        limit = int(params.get("Limit", 100))
        out: dict[str, Any] = {"Streams": streams[:limit]}
        if len(streams) > limit:
            out["LastEvaluatedStreamArn"] = streams[limit - 1]["StreamArn"]
        return out

    def _describe_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        table = self._table(params.get("StreamArn"))
        shards = []
        for shard in table.shards:
            entry: dict[str, Any] = {"ShardId": shard.shard_id, "SequenceNumberRange": {}}
            if shard.parent_shard_id is not None:
                entry["ParentShardId"] = shard.parent_shard_id
            if shard.end:
                entry["SequenceNumberRange"]["StartingSequenceNumber"] = str(shard.at(0)[SEQ])
                if shard.closed_ms is not None:
                    last = str(shard.at(shard.end - 1)[SEQ])
                    entry["SequenceNumberRange"]["EndingSequenceNumber"] = last
            shards.append(entry)
        start = params.get("ExclusiveStartShardId")
        if start is not None:
            ids = [s["ShardId"] for s in shards]
            shards = shards[ids.index(start) + 1 :] if start in ids else []
        limit = int(params.get("Limit", 100))
        description: dict[str, Any] = {
            "StreamArn": table.stream_arn,
            "StreamLabel": table.stream_arn.rsplit("/", 1)[1],
            "StreamStatus": "ENABLED",
            "StreamViewType": table.stream_view_type,
            "CreationRequestDateTime": table.shards[0].created_ms / 1000,
            "TableName": table.name,
            "KeySchema": [{"AttributeName": table.partition_key, "KeyType": "HASH"}]
            + (
                []
                if table.sort_key is None
                else [{"AttributeName": table.sort_key, "KeyType": "RANGE"}]
            ),
            "Shards": shards[:limit],
        }
        if len(shards) > limit:
            description["LastEvaluatedShardId"] = shards[limit - 1]["ShardId"]
        return {"StreamDescription": description}

    def _trim_horizon(self, shard: Any) -> int:
        cutoff = self.sim.now_ms - self.sim.behaviour.retention_ms
        return int(shard.first_live(0, cutoff))

    def _get_shard_iterator(self, params: dict[str, Any]) -> dict[str, Any]:
        table = self._table(params.get("StreamArn"))
        shard = table.shards_by_id.get(str(params.get("ShardId")))
        if shard is None:
            msg = f"Requested resource not found: Shard: {params.get('ShardId')} not found"
            raise _StreamsError("ResourceNotFoundException", msg)
        kind = params.get("ShardIteratorType")
        if kind == "TRIM_HORIZON":
            index = self._trim_horizon(shard)
        elif kind == "LATEST":
            index = shard.end
        else:
            text = str(params.get("SequenceNumber") or "")
            found = shard.index_of(int(text)) if text.isdigit() else None
            if found is None:
                msg = f"Invalid SequenceNumber {params.get('SequenceNumber')} for shard"
                raise _StreamsError("ValidationException", msg)
            if found < self._trim_horizon(shard):
                raise _StreamsError("TrimmedDataAccessException", _TRIMMED)
            index = found + (1 if kind == "AFTER_SEQUENCE_NUMBER" else 0)
        return {
            "ShardIterator": _iterator(table.stream_arn, shard.shard_id, index, self.sim.now_ms)
        }

    def _get_records(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            arn, shard_id, index, issued_ms = json.loads(
                base64.b64decode(str(params["ShardIterator"]))
            )
            for number in (index, issued_ms):
                if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                    raise ValueError(number)
        except (ValueError, KeyError, TypeError):
            msg = "Invalid ShardIterator"
            raise _StreamsError("ValidationException", msg) from None
        table = self._table(arn)
        shard = table.shards_by_id.get(shard_id)
        if shard is None:
            msg = f"Requested resource not found: Shard: {shard_id} not found"
            raise _StreamsError("ResourceNotFoundException", msg)
        now_ms = self.sim.now_ms
        if now_ms - issued_ms > ITERATOR_LIFETIME_MS:
            # spec 7.2: an iterator expires 15 minutes after it is issued
            raise _StreamsError("ExpiredIteratorException", _EXPIRED)
        if index < self._trim_horizon(shard):
            # spec 7.2: the record it points at aged out before GetRecords ran
            raise _StreamsError("TrimmedDataAccessException", _TRIMMED)
        limit = min(int(params.get("Limit", _MAX_GET_RECORDS)), _MAX_GET_RECORDS)
        rows = shard.slice(index, index + limit)
        records = table.format.render_many(rows)
        for record in records:
            del record["eventSourceARN"]  # GetRecords' records name no stream
        after = index + len(rows)
        out: dict[str, Any] = {"Records": records}
        if shard.closed_ms is None or after < shard.end:
            out["NextShardIterator"] = _iterator(arn, shard_id, after, now_ms)
        return out


class _StreamsError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# DynamoDB Streams' iterators live 15 minutes (spec 7.2); messages are the model's.
ITERATOR_LIFETIME_MS = 15 * 60 * 1000
_EXPIRED = (
    "The shard iterator has expired and can no longer be used to retrieve stream records. "
    "A shard iterator expires 15 minutes after it is retrieved using the GetShardIterator action."
)
_TRIMMED = "The operation attempted to read past the oldest stream record in a shard."


def _iterator(stream_arn: str, shard_id: str, index: int, issued_ms: int) -> str:
    """An opaque iterator: the shard, the position and when it was issued (virtual ms)."""
    text = json.dumps([stream_arn, shard_id, index, issued_ms])
    return base64.b64encode(text.encode()).decode()


def _snake(operation: str) -> str:
    out: list[str] = []
    for ch in operation:
        if ch.isupper() and out:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def _key_types(table: Table) -> dict[str, str]:
    """Each key attribute's type: declared, else the stored items', else S."""
    types: dict[str, str] = {}
    for name, declared in table._key_specs:
        kind = declared
        if kind is None:
            for keys in table._items:  # the first item's type of this key
                kind = next(code for n, code, _ in zip(*[iter(keys)] * 3, strict=True) if n == name)
                break
        types[name] = kind or "S"
    return types
