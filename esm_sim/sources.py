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
from collections.abc import Mapping
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


# ---------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------


def read_stream(client: Any, stream_arn: str) -> list[dict[str, Any]]:
    """
    Every record of a DynamoDB stream, read through boto3's ``dynamodbstreams`` client.

    Pages through ``DescribeStream`` for all shards (parents before children, as
    DynamoDB lists them), reads each from ``TRIM_HORIZON`` with ``GetRecords``
    until the shard ends (``NextShardIterator`` is None) or an open shard runs
    out of records, and returns the records normalised (:func:`normalize_record`)
    with ``eventSourceARN`` set to ``stream_arn``.

    Args:
        client: ``boto3.client("dynamodbstreams")`` (or moto's, or a stub with the
            same three methods).
        stream_arn: the stream's ARN (``LatestStreamArn`` of the table).
    """
    shard_ids: list[str] = []
    start: str | None = None
    while True:
        params: dict[str, Any] = {"StreamArn": stream_arn}
        if start is not None:
            params["ExclusiveStartShardId"] = start
        description = client.describe_stream(**params)["StreamDescription"]
        shard_ids.extend(s["ShardId"] for s in description.get("Shards", []))
        start = description.get("LastEvaluatedShardId")
        if not start:
            break
    out: list[dict[str, Any]] = []
    for shard_id in shard_ids:
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
