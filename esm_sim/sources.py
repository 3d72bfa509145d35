"""
Recorded streams: real DynamoDB Streams traffic, read and normalised for :meth:`Table.replay`.

This module owns the way in for captured traffic. Records come either from a
live (or mocked) stream through boto3's ``dynamodbstreams`` client
(:func:`read_stream`) or from a JSON file of Lambda events someone logged
(:func:`read_events`). Both return records in the form Lambda delivers them
(:func:`normalize_record`): ``eventVersion`` "1.1", ``ApproximateCreationDateTime``
in whole epoch seconds as a float, binary values base64 text and ``SizeBytes``
recomputed from the images (spec 7.3, 11 row 9, 13). ``table.replay(records)``
then writes them into a simulated stream at their original times, so any
mapping configuration can be tried on real traffic::

    records = esm_sim.sources.read_events("captured.json")
    sim = esm_sim.Simulation(start=datetime(2025, 3, 1, tzinfo=UTC))
    table = sim.create_table("orders", partition_key="pk")
    table.replay(records, call_at=sim.call_at)

boto3 is not a dependency: :func:`read_stream` takes a client the caller made.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from esm_sim._streams.wire import normalize_record
from esm_sim.errors import ConfigError

__all__ = ["normalize_record", "read_events", "read_stream"]

# GetRecords returns at most 1000 records per call; an open shard with no new
# records answers with an empty page and a next iterator forever, so a run of
# empty pages ends the read (the DynamoDB Streams API reference, GetRecords).
_EMPTY_PAGES_TO_STOP = 2
_MAX_PAGES_PER_SHARD = 100_000
# a bound, so a misbehaving endpoint cannot loop forever

# botocore's endpoint-ruleset builtin for account-based endpoints.
_ACCOUNT_ID_ENDPOINT_MODE = "AWS::Auth::AccountIdEndpointMode"


# ---------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------


def read_stream(client: Any, stream_arn: str) -> list[dict[str, Any]]:
    """
    Every record of a DynamoDB stream, read through boto3's ``dynamodbstreams`` client.

    Pages through ``DescribeStream`` for all shards and reads them parents first,
    by ``ParentShardId`` lineage (spec 7.1: DescribeStream promises no order, and a
    parent must be read before its children); shards with no listed parent keep
    DescribeStream's order. Each shard is read from ``TRIM_HORIZON`` with
    ``GetRecords`` until it ends (``NextShardIterator`` is None) or an open shard
    runs out of records. Returns the records normalised (:func:`normalize_record`)
    with ``eventSourceARN`` set to ``stream_arn``.

    A default boto3 client works, moto's included: where the client leaves
    ``account_id_endpoint_mode`` at its default ("preferred"), the calls go to the
    regional endpoint (``streams.dynamodb.<region>.amazonaws.com``), which serves
    every account, instead of the account-based one botocore derives from the
    stream ARN (``<account>.streams-ddb.<region>.amazonaws.com``), which moto does
    not serve. A mode the caller set ("required", "disabled") is kept.

    Args:
        client: ``boto3.client("dynamodbstreams")`` (or moto's, or a stub with the
            same three methods).
        stream_arn: the stream's ARN (``LatestStreamArn`` of the table).
    """
    with _regional_endpoint(client):
        return _read_stream(client, stream_arn)


@contextmanager
def _regional_endpoint(client: Any) -> Iterator[None]:
    """Route a botocore client left in the default account-endpoint mode to the regional one."""
    meta = getattr(client, "meta", None)
    events = getattr(meta, "events", None)
    mode = getattr(getattr(meta, "config", None), "account_id_endpoint_mode", None)
    if events is None or mode not in (None, "preferred"):
        yield
        return

    def regional(builtins: dict[str, Any], **_: Any) -> None:
        # "preferred" allows the regional endpoint; botocore's handlers edit builtins in place.
        builtins[_ACCOUNT_ID_ENDPOINT_MODE] = "disabled"

    event = "before-endpoint-resolution.dynamodb-streams"
    unique_id = "esm_sim.sources.read_stream"
    events.register(event, regional, unique_id=unique_id)
    try:
        yield
    finally:
        events.unregister(event, unique_id=unique_id)


def _lineage_order(shards: list[Mapping[str, Any]]) -> list[str]:
    """
    Shard ids, each parent before its children (spec 7.1).

    A shard whose parent is not listed (trimmed, or never had one) is a root;
    roots keep the listed order, and each shard's children follow it in listed
    order, breadth first.
    """
    ids = [s["ShardId"] for s in shards]
    listed = set(ids)
    children: dict[str, list[str]] = {}
    roots: deque[str] = deque()
    for shard in shards:
        parent = shard.get("ParentShardId")
        if parent and parent in listed and parent != shard["ShardId"]:
            children.setdefault(parent, []).append(shard["ShardId"])
        else:
            roots.append(shard["ShardId"])
    out: list[str] = []
    seen: set[str] = set()
    while roots:
        shard_id = roots.popleft()
        if shard_id in seen:
            continue
        seen.add(shard_id)
        out.append(shard_id)
        roots.extend(children.get(shard_id, ()))
    # A cycle of parents (a malformed answer) has no root: read its shards as listed.
    for shard_id in ids:
        if shard_id not in seen:
            seen.add(shard_id)
            out.append(shard_id)
    return out


def _read_stream(client: Any, stream_arn: str) -> list[dict[str, Any]]:
    shards: list[Mapping[str, Any]] = []
    start: str | None = None
    while True:
        params: dict[str, Any] = {"StreamArn": stream_arn}
        if start is not None:
            params["ExclusiveStartShardId"] = start
        description = client.describe_stream(**params)["StreamDescription"]
        shards.extend(description.get("Shards", []))
        start = description.get("LastEvaluatedShardId")
        if not start:
            break
    out: list[dict[str, Any]] = []
    for shard_id in _lineage_order(shards):
        iterator = client.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        ).get("ShardIterator")
        empty = 0
        for _ in range(_MAX_PAGES_PER_SHARD):
            if iterator is None:
                break
            page = client.get_records(ShardIterator=iterator)
            records = page.get("Records", [])
            for record in records:
                normal = normalize_record(record, where=f"{shard_id}[{len(out)}]")
                normal["eventSourceARN"] = stream_arn
                out.append(normal)
            empty = 0 if records else empty + 1
            if empty >= _EMPTY_PAGES_TO_STOP:
                break
            iterator = page.get("NextShardIterator")
    return out


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """
    The stream records of a JSON file of captured Lambda events, normalised.

    The file holds one event (``{"Records": [...]}``) or a list of them, as a
    handler that logs ``json.dumps(event)`` captures them. Records keep their
    order; tumbling-window fields and the like are ignored.

    Raises:
        ConfigError: the file is not JSON, or not events of DynamoDB stream records.
    """
    where = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"path={where!r} is not a readable JSON file: {exc}"
        raise ConfigError(msg) from None
    events = data if isinstance(data, list) else [data]
    out: list[dict[str, Any]] = []
    for i, event in enumerate(events):
        if not isinstance(event, Mapping) or not isinstance(event.get("Records"), list):
            msg = f"path={where!r}: event [{i}] must be a Lambda event with a Records list"
            raise ConfigError(msg)
        for j, record in enumerate(event["Records"]):
            out.append(normalize_record(record, where=f"[{i}].Records[{j}]"))
    return out
