"""
Redrive: invoke a function again with the records an on-failure destination names.

Lambda's on-failure record (spec 3.6) holds only metadata: the shard, the
first and last sequence numbers, the condition. "To get the records themselves
you must read them from the stream before they expire" (spec 3.6,
DG:services-dynamodb-errors); the stream keeps them 24 hours (spec 7.1). This
module is the tool a team writes after its first incident, on the virtual
clock: it reads each failure record, finds its records in the stream, and
invokes the function with them, as ordinary batches of the mapping's
``BatchSize``. Records already past the stream's retention are *lost*.

What a redrive does, in order (``Simulation.redrive`` documents the rules):

- every failure record of the source, in the order the destination got them;
- per failure record, its records still in the stream, in batches of the
  mapping's ``BatchSize``, one invocation after the other from ``sim.now``
  (each lasts its function's duration; the clock runs through the scheduler,
  so whatever else is due in that time happens too);
- no retries, no failure record written anywhere: a failed invocation's
  records are reported in ``RedriveResult.failed``;
- the original fates never change: the redrive is its own account
  (``sim.redrives`` and the ``redrive`` trace rows).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from esm_sim._engine.rng import UuidSequence
from esm_sim._engine.timefmt import MAX_MS, iso_ms, ms_to_datetime
from esm_sim._lambda.function import Context, Function, Invocation, run_handler
from esm_sim._mapping.lanes import key_hash
from esm_sim._mapping.policies import FAILURE, PARTIAL, judge
from esm_sim._mapping.runtime import BatchEvent, MappingRuntime
from esm_sim._sinks import Bucket, Queue, Topic
from esm_sim._streams.records import CREATED_MS, KEYS, SEQ, Record
from esm_sim.errors import ConfigError, SimulationError

if TYPE_CHECKING:
    from datetime import datetime

    from esm_sim._engine.scheduler import Scheduler
    from esm_sim._engine.trace import Trace
    from esm_sim._mapping.config import Behaviour
    from esm_sim._streams.shard import Shard
    from esm_sim._streams.table import Table


class _MotoCopies(Protocol):
    """The active ``mock_aws`` block: moto holds a copy of each message and object."""

    def removed(
        self, sink: Queue | Bucket, *, body: str | None = None, key: str | None = None
    ) -> None: ...


class Simulation(Protocol):
    """What a redrive uses of the ``Simulation`` (which imports this module)."""

    @property
    def _aws(self) -> _MotoCopies | None: ...

    _sinks: dict[str, Queue | Topic | Bucket]
    _scheduler: Scheduler
    _redrive_ids: UuidSequence
    _failure_batches: dict[tuple[str, str, str, str], tuple[str, tuple[int, ...]]]
    tables_by_stream_arn: dict[str, Table]
    mappings: dict[str, MappingRuntime]
    functions: dict[str, Function]
    behaviour: Behaviour
    trace: Trace
    redrives: list[RedriveResult]
    _running: bool

    @property
    def now_ms(self) -> int: ...

    def _enter(self) -> None: ...

    def _leave(self) -> None: ...


# Trace outcomes of ``redrive`` rows besides a finished invocation's verdict
# ("success", "partial", "failure", as on ``result`` rows).
STARTED = "start"  # the redrive began: one row, detail names the source
SENT = "sent"  # one redrive invocation started
LOST = "lost"  # records of a failure record already past the stream's retention
RETENTION_REASON = "RetentionExpired"


@attrs.frozen(kw_only=True)
class RedriveResult:
    """
    What one :meth:`Simulation.redrive` did.

    Attributes:
        number: 1 for the simulation's first redrive, 2 for the next...
        source: what was redriven, in words (``"queue 'orders-dlq'"``).
        mapping_uuid: the mapping whose failure records these are.
        function_name: the function invoked.
        failure_records: how many failure records were read.
        redriven: the sequence numbers sent to the function, in the order sent
            (typed as ``Invocation.sequence_numbers``: ints).
        failed: those of ``redriven`` whose invocation failed (a function
            error, or, under ``ReportBatchItemFailures``, the records from the
            first reported failure on); they are not retried.
        lost: the sequence numbers no longer in the stream (past its retention,
            spec 7.1): never sent. ``redriven`` and ``lost`` together are every
            record the failure records name.
        invocations: the redrive's invocations, in order (also in the
            function's ``invocations``, with ``mapping_uuid`` "": the mapping
            did not make them).
        deleted: messages (or objects) removed from the source with ``delete=True``.
        started_ms, ended_ms: when the redrive began and when its last
            invocation returned (epoch ms).
    """

    number: int
    source: str
    mapping_uuid: str
    function_name: str
    failure_records: int
    redriven: tuple[int, ...]
    failed: tuple[int, ...]
    lost: tuple[int, ...]
    invocations: tuple[Invocation, ...]
    deleted: int
    started_ms: int
    ended_ms: int

    @property
    def succeeded(self) -> tuple[int, ...]:
        """The records of ``redriven`` whose invocation succeeded, in order."""
        failed = frozenset(self.failed)
        return tuple(seq for seq in self.redriven if seq not in failed)

    @property
    def started_at(self) -> datetime:
        """When the redrive began (timezone-aware UTC datetime)."""
        return ms_to_datetime(self.started_ms)

    @property
    def ended_at(self) -> datetime:
        """When its last invocation returned (timezone-aware UTC datetime)."""
        return ms_to_datetime(self.ended_ms)

    def __repr__(self) -> str:
        return (
            f"<RedriveResult {self.number} of {self.source}: redriven={len(self.redriven)} "
            f"failed={len(self.failed)} lost={len(self.lost)} "
            f"invocations={len(self.invocations)}>"
        )


@attrs.frozen
class _Item:
    """One failure record of the source, with where it came from."""

    record: dict[str, Any]
    where: str  # "message 2 of queue 'dlq'", for errors
    handle: str | None  # receipt handle or object key, for delete=True
    uuid_hint: str | None  # the ESM UUID an S3 key names


@attrs.frozen
class _Plan:
    """One failure record resolved: its mapping, shard and records."""

    item: _Item
    mapping: MappingRuntime
    table: Table
    shard: Shard
    records: list[Record]


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _unwrap(value: object, where: str) -> dict[str, Any]:
    """
    The failure record in ``value``: the record itself, its JSON text, an SNS
    notification (``Message``) or an SQS message as received (``Body``).
    """
    if isinstance(value, str | bytes | bytearray):
        try:
            value = json.loads(value)
        except ValueError:
            msg = f"{where}={_short(value)} is not an on-failure record: not JSON"
            raise ConfigError(msg) from None
    if isinstance(value, dict):
        if "DDBStreamBatchInfo" in value:
            _check_record(value, where)
            return value
        inner = value.get("Message") if value.get("Type") == "Notification" else value.get("Body")
        if isinstance(inner, str):
            return _unwrap(inner, where)
    msg = (
        f"{where}={_short(value)} is not an on-failure record of a DynamoDB stream "
        "(it needs DDBStreamBatchInfo with shardId, startSequenceNumber, "
        "endSequenceNumber and streamArn, spec 3.6)"
    )
    raise ConfigError(msg)


def _check_record(record: dict[str, Any], where: str) -> None:
    info = record["DDBStreamBatchInfo"]
    ok = isinstance(info, dict) and all(
        isinstance(info.get(k), str) and info[k]
        for k in ("shardId", "startSequenceNumber", "endSequenceNumber", "streamArn")
    )
    if ok and not (info["startSequenceNumber"].isdigit() and info["endSequenceNumber"].isdigit()):
        ok = False
    if not ok:
        msg = (
            f"{where}={_short(record)} is not an on-failure record of a DynamoDB stream: "
            "DDBStreamBatchInfo needs shardId, streamArn and digit-string "
            "startSequenceNumber and endSequenceNumber (spec 3.6)"
        )
        raise ConfigError(msg)


def _items(sim: Simulation, source: object, delete: bool) -> tuple[str, str | None, list[_Item]]:
    """The source in words, its ARN (None for a bare record), and its failure records."""
    if isinstance(source, Queue | Topic | Bucket):
        if sim._sinks.get(source.arn) is not source:
            msg = f"source={source!r} is not a destination of this simulation"
            raise ConfigError(msg)
        if isinstance(source, Topic) and delete:
            msg = (
                f"delete=True: source={source!r} is an SNS topic; a notification cannot be "
                "deleted (delete works for queues and buckets)"
            )
            raise ConfigError(msg)
        items: list[_Item] = []
        if isinstance(source, Queue):
            what = f"queue {source.name!r}"
            for i, raw in enumerate(source.raw_messages):
                where = f"message {i} of {what}"
                items.append(_Item(_unwrap(raw["Body"], where), where, raw["ReceiptHandle"], None))
        elif isinstance(source, Topic):
            what = f"topic {source.name!r}"
            for i, note in enumerate(source.messages):
                where = f"message {i} of {what}"
                items.append(_Item(_unwrap(note, where), where, None, None))
        else:
            what = f"bucket {source.name!r}"
            for key, body in source.objects.items():
                where = f"object {key!r} of {what}"
                parts = key.split("/")
                hint = parts[2] if len(parts) > 2 and parts[:2] == ["aws", "lambda"] else None
                items.append(_Item(_unwrap(body, where), where, key, hint))
        if not items:
            msg = f"source={source!r} holds no failure records: nothing to redrive"
            raise ConfigError(msg)
        return what, source.arn, items
    if isinstance(source, dict | str | bytes | bytearray):
        if delete:
            msg = "delete=True needs a queue or a bucket as source, not one failure record"
            raise ConfigError(msg)
        return "one failure record", None, [_Item(_unwrap(source, "source"), "source", None, None)]
    msg = (
        f"source={_short(source)} must be a Queue, Topic or Bucket of this simulation, or one "
        "on-failure record as delivered (a dict or its JSON text)"
    )
    raise ConfigError(msg)


def _resolve(
    sim: Simulation, item: _Item, uuid: str | None, arn: str | None, *, skip: bool = False
) -> _Plan | None:
    """
    Find the failure record's mapping, shard and records (spec 3.6: by shard and range).

    With ``skip``, a record of no mapping ``uuid`` gives None (another mapping's
    record in a shared destination) instead of an error.
    """
    info = item.record["DDBStreamBatchInfo"]
    where = item.where
    table = sim.tables_by_stream_arn.get(info["streamArn"])
    if table is None:
        msg = f"{where}: streamArn={info['streamArn']!r} is not a stream of this simulation"
        raise ConfigError(msg)
    shard = table.shards_by_id.get(info["shardId"])
    if shard is None:
        msg = f"{where}: shardId={info['shardId']!r} is not a shard of {info['streamArn']}"
        raise ConfigError(msg)
    first = shard.index_of(int(info["startSequenceNumber"]))
    last = shard.index_of(int(info["endSequenceNumber"]))
    if first is None or last is None or last < first:
        msg = (
            f"{where}: startSequenceNumber={info['startSequenceNumber']!r} .. "
            f"endSequenceNumber={info['endSequenceNumber']!r} is not a range of records "
            f"of shard {info['shardId']}"
        )
        raise ConfigError(msg)
    start_seq = shard.at(first)[SEQ]
    # A failure record this simulation delivered names its mapping and records exactly.
    request_id = _request_context(item.record).get("requestId")
    known = sim._failure_batches.get(
        (info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"], str(request_id))
    )
    if known is not None and known[0] in sim.mappings:
        owner, seqs = known
        if uuid is not None and owner != uuid:
            if skip:
                return None
            msg = f"{where}: the failure record is mapping {owner}'s, not uuid={uuid!r}'s"
            raise ConfigError(msg)
        wanted = frozenset(seqs)
        records = [r for r in shard.slice(first, last + 1) if r[SEQ] in wanted]
        return _Plan(item, sim.mappings[owner], table, shard, records)
    # Otherwise (a record made by hand), from the range and the ledgers:
    # The mapping whose failure record it is: one that reads the stream and sent
    # its first record to a destination; then, to tell several apart, the ESM UUID
    # an S3 key names, the function ARN the record names, the destination it is in.
    candidates = [
        m
        for m in sim.mappings.values()
        if m.table is table
        and (uuid is None or m.uuid == uuid)
        and m.ledger.entries.get(start_seq, ("",))[0] == "destination"
    ]
    narrowers: list[Callable[[MappingRuntime], bool]] = [
        lambda m: m.uuid == item.uuid_hint,
        lambda m: m.function.arn == _request_context(item.record).get("functionArn"),
        lambda m: m.ledger.entries[start_seq][2] == arn,
    ]
    for keep in narrowers:
        if len(candidates) > 1 and any(keep(m) for m in candidates):
            candidates = [m for m in candidates if keep(m)]
    if not candidates and skip:
        return None
    if len(candidates) != 1:
        if not candidates:
            msg = (
                f"{where}: no mapping{'' if uuid is None else f' uuid={uuid!r}'} sent record "
                f"{start_seq} of shard {info['shardId']} to an on-failure destination"
            )
        else:
            msg = (
                f"{where}: {len(candidates)} mappings sent record {start_seq} to a destination; "
                f"name one with uuid=, one of {[m.uuid for m in candidates]}"
            )
        raise ConfigError(msg)
    mapping = candidates[0]
    # The records the failure record describes: those of the range the mapping
    # discarded to a destination. A range may hold records that were never in the
    # failed batch: filtered out (spec 8), or of another lane (spec 5), which another
    # failure record may name. Its batchSize tells: when the range holds more, only
    # the first record's lane is kept (by the mapping's ParallelizationFactor now).
    entries = mapping.ledger.entries
    indexed = [
        (index, record)
        for index, record in enumerate(shard.slice(first, last + 1), first)
        if entries.get(record[SEQ], ("",))[0] == "destination"
    ]
    records = [record for _, record in indexed]
    factor = mapping.config.parallelization_factor
    if len(records) != info.get("batchSize") and factor > 1:

        def lane_of(index: int) -> int:
            # A trimmed record (spec 7.1) kept its key's lane hash only.
            if index < shard.trimmed:
                return shard.trimmed_key_hash(index) % factor
            return key_hash(shard.at(index)[KEYS]) % factor

        lane = lane_of(first)
        records = [r for i, r in indexed if lane_of(i) == lane]
    return _Plan(item, mapping, table, shard, records)


def _request_context(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """A failure record's ``requestContext`` (an object when present, else refused)."""
    context = record.get("requestContext", {})
    if not isinstance(context, Mapping):
        msg = f"requestContext={context!r} must be an object, as in Lambda's failure records"
        raise ConfigError(msg)
    return context


class _Run:
    """One redrive on the clock: its batches, one invocation after the other."""

    def __init__(
        self,
        sim: Simulation,
        *,
        number: int,
        function: Function,
        batches: list[tuple[_Plan, list[Record]]],
        ids: UuidSequence,
    ) -> None:
        self.sim = sim
        self.number = number
        self.function = function
        self.batches = batches
        self.ids = ids
        self.next = 0
        self.done = not batches
        self.invocations: list[Invocation] = []
        self.failed: list[int] = []
        # An exception left the redrive (a scheduled call raised): no batch starts
        # after the one in flight, and the records not sent count as failed.
        self.aborted = False

    def start_next(self) -> None:
        """Invoke the function with the next batch; its end is scheduled."""
        sim = self.sim
        plan, records = self.batches[self.next]
        self.next += 1
        fn = self.function
        now = sim.now_ms
        request_id = self.ids.next()
        render = BatchEvent(records, plan.table, plan.shard.shard_id, None)
        invocation = Invocation(
            request_id=request_id,
            render=render,
            started_ms=now,
            mapping_uuid="",  # the mapping did not make it: a direct invocation
            shard_id=plan.shard.shard_id,
            sequence_numbers=[r[SEQ] for r in records],
        )
        context = Context(
            function=fn,
            request_id=request_id,
            deadline_ms=now + fn.timeout_ms,
            now_ms=lambda: sim.now_ms,
            log_stream_name=None,
            started_ms=now,
        )
        sim.trace.add(
            (
                *_row(now, plan, records, SENT, request_id),
                "request_id",
                request_id,
                "function",
                fn.name,
                "redrive",
                self.number,
            )
        )
        duration_ms = run_handler(invocation, fn, render(), context)
        invocation.ended_ms = now + duration_ms
        rbif = plan.mapping.config.report_batch_item_failures
        verdict = judge(
            error=invocation.error,
            error_type=invocation.error_type,
            response=invocation.response_json,
            sequence_numbers=[str(r[SEQ]) for r in records] if rbif else (),
            report_batch_item_failures=rbif,
            window=False,
            final=False,
            non_object_fails=sim.behaviour.non_object_response == "failure",
        )
        invocation.verdict = verdict
        invocation.outcome, invocation.reason = verdict.outcome, verdict.reason
        fn.invocations.append(invocation)
        self.invocations.append(invocation)
        if verdict.outcome == FAILURE:
            failed = records
        elif verdict.outcome == PARTIAL and verdict.resume_at is not None:
            failed = records[verdict.resume_at :]
        else:
            failed = []
        self.failed += [r[SEQ] for r in failed]
        sim._scheduler.call_at(invocation.ended_ms, self.finish, plan, records, invocation)
        invocation._raise_pending()  # Ctrl-C or a duration ConfigError, now the end is due

    def finish(self, plan: _Plan, records: list[Record], invocation: Invocation) -> None:
        """The invocation returned: trace its result, then start the next batch."""
        verdict = invocation.verdict
        assert verdict is not None
        if invocation.error is not None:
            detail = f"{invocation.error_type}: {invocation.error_message}"
        else:
            detail = verdict.reason or ""
        self.sim.trace.add(
            (
                *_row(self.sim.now_ms, plan, records, verdict.outcome, detail),
                "request_id",
                invocation.request_id,
                "function",
                self.function.name,
                "redrive",
                self.number,
                "duration_ms",
                invocation.duration_ms,
                "error",
                invocation.error,
                "error_type",
                invocation.error_type,
                "reason",
                verdict.reason,
            )
        )
        if self.next < len(self.batches) and not self.aborted:
            self.start_next()
        else:
            self.done = True

    def abort(self) -> None:
        """Start no more batches; the records of those not sent are failed."""
        self.aborted = True
        for _, records in self.batches[self.next :]:
            self.failed += [r[SEQ] for r in records]
        self.next = len(self.batches)


def _row(
    at_ms: int, plan: _Plan, records: list[Record], outcome: str, detail: str
) -> tuple[Any, ...]:
    return (
        at_ms,
        "redrive",
        plan.mapping.uuid,
        plan.shard.shard_id,
        0,
        records[0][SEQ] if records else "",
        records[-1][SEQ] if records else "",
        len(records),
        outcome,
        detail,
    )


def redrive(
    sim: Simulation,
    source: object,
    *,
    function_name: str | None,
    uuid: str | None,
    delete: bool,
) -> RedriveResult:
    """Carry out ``Simulation.redrive`` (see there for the rules)."""
    sim._enter()  # not from a handler or a scheduled call: it runs the clock
    try:
        return _redrive(sim, source, function_name=function_name, uuid=uuid, delete=delete)
    finally:
        sim._leave()  # os.environ is the user's again


def _redrive(
    sim: Simulation,
    source: object,
    *,
    function_name: str | None,
    uuid: str | None,
    delete: bool,
) -> RedriveResult:
    if not isinstance(delete, bool):
        msg = f"delete={delete!r} must be a bool"
        raise ConfigError(msg)
    if uuid is not None and uuid not in sim.mappings:
        msg = f"uuid={uuid!r} is not a mapping of this simulation; one of {list(sim.mappings)}"
        raise ConfigError(msg)
    function: Function | None = None
    if function_name is not None:
        function = sim.functions.get(function_name) if isinstance(function_name, str) else None
        if function is None:
            msg = (
                f"function_name={function_name!r} is not a function of this simulation; "
                f"one of {list(sim.functions)}"
            )
            raise ConfigError(msg)
    what, arn, items = _items(sim, source, delete)
    # With uuid=, a shared destination gives that mapping's failure records only.
    skip = uuid is not None and arn is not None
    resolved = [_resolve(sim, item, uuid, arn, skip=skip) for item in items]
    plans = [p for p in resolved if p is not None]
    items = [p.item for p in plans]
    if not plans:
        msg = f"{what} holds no failure records of mapping uuid={uuid!r}: nothing to redrive"
        raise ConfigError(msg)
    mappings = {p.mapping.uuid: p.mapping for p in plans}
    if len(mappings) > 1:
        msg = (
            f"{what} holds failure records of {len(mappings)} mappings "
            f"({', '.join(mappings)}); redrive one with uuid="
        )
        raise ConfigError(msg)
    mapping = plans[0].mapping
    fn = function if function is not None else mapping.function
    now = sim.now_ms
    cutoff = now - sim.behaviour.retention_ms  # spec 7.1, as the readers trim
    size = mapping.config.batch_size
    lost: list[int] = []
    redriven: list[int] = []
    batches: list[tuple[_Plan, list[Record]]] = []
    for plan in plans:
        live = [r for r in plan.records if r[CREATED_MS] > cutoff]
        redriven += [r[SEQ] for r in live]
        batches += [(plan, live[i : i + size]) for i in range(0, len(live), size)]
    # Every invocation lasts at most its function's timeout.
    limit = now + len(batches) * fn.timeout_ms
    if limit > MAX_MS:
        msg = f"a redrive of {len(batches)} batches from {iso_ms(now)} could pass {iso_ms(MAX_MS)}"
        raise ConfigError(msg)
    number = len(sim.redrives) + 1
    sim.trace.add(
        (
            now,
            "redrive",
            mapping.uuid,
            "",
            0,
            "",
            "",
            0,
            STARTED,
            f"{what} -> {fn.name}",
            "redrive",
            number,
            "function",
            fn.name,
            "failure_records",
            len(items),
        )
    )
    for plan in plans:
        gone = [r for r in plan.records if r[CREATED_MS] <= cutoff]
        if gone:
            lost += [r[SEQ] for r in gone]
            sim.trace.add(
                (
                    *_row(now, plan, gone, LOST, RETENTION_REASON),
                    "redrive",
                    number,
                    "function",
                    fn.name,
                )
            )
    run = _Run(sim, number=number, function=fn, batches=batches, ids=sim._redrive_ids)

    def account(deleted: int) -> RedriveResult:
        result = RedriveResult(
            number=number,
            source=what,
            mapping_uuid=mapping.uuid,
            function_name=fn.name,
            failure_records=len(items),
            redriven=tuple(redriven),
            failed=tuple(run.failed),
            lost=tuple(lost),
            invocations=tuple(run.invocations),
            deleted=deleted,
            started_ms=now,
            ended_ms=sim.now_ms,
        )
        sim.redrives.append(result)
        return result

    if batches:
        try:
            run.start_next()
            if not run.done and not sim._scheduler.run_until(limit, lambda: run.done):
                msg = f"redrive {number} did not finish by {iso_ms(limit)}"  # a simulator bug
                raise SimulationError(msg)
        except BaseException:
            # Something else due meanwhile raised (or Ctrl-C): the redrive stops
            # here and is accounted for as far as it went, nothing left to run later.
            run.abort()
            account(0)
            raise
    return account(_delete(sim, source, plans, run) if delete else 0)


def _delete(sim: Simulation, source: object, plans: list[_Plan], run: _Run) -> int:
    """Remove the messages (objects) none of whose records failed in the redrive."""
    failed = frozenset(run.failed)
    handles = [
        p.item.handle
        for p in plans
        if p.item.handle is not None and not any(r[SEQ] in failed for r in p.records)
    ]
    aws = sim._aws  # inside mock_aws, moto holds a copy of each message and object
    for handle in handles:
        if isinstance(source, Queue):
            body = next(m["Body"] for m in source.raw_messages if m["ReceiptHandle"] == handle)
            source.delete_message(handle)
            if aws is not None:
                aws.removed(source, body=body)
        elif isinstance(source, Bucket):
            source.delete_object(handle)
            if aws is not None:
                aws.removed(source, key=handle)
    return len(handles)
