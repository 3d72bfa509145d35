"""
One event source mapping at run time: its readers, its ledger, its side effects.

The readers (``reader.py``) decide; the runtime carries out what touches the
rest of the world: invoking the function, counting concurrency, writing the
on-failure record to its destination, recording fates and the trace.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from esm_sim._engine.rng import Rng, UuidSequence
from esm_sim._engine.scheduler import Scheduler
from esm_sim._engine.timefmt import iso_ms, iso_seconds
from esm_sim._fates import Ledger
from esm_sim._lambda.function import Context, Function, Invocation, InvocationLog, run_handler
from esm_sim._mapping.config import Behaviour, MappingConfig
from esm_sim._mapping.lanes import LaneTable, LaneView
from esm_sim._mapping.reader import ShardReader
from esm_sim._sinks import Bucket, Queue, Topic
from esm_sim._streams.records import CREATED_MS, SEQ, Record
from esm_sim._streams.shard import Shard
from esm_sim._streams.table import Table

if TYPE_CHECKING:
    from esm_sim._simulation import Simulation


class MappingRuntime:
    """The moving parts of one mapping (its AWS-visible fields live in ``fields``)."""

    def __init__(
        self,
        sim: Simulation,
        *,
        uuid: str,
        arn: str,
        fields: dict[str, Any],
        function: Function,
        table: Table,
        config: MappingConfig,
        rng: Rng,
    ) -> None:
        self.sim = sim
        self.uuid = uuid
        self.arn = arn
        self.fields = fields
        self.function = function
        self.table = table
        self.config = config
        self.rng = rng
        # Request ids, one per invocation: a keyed counter, cheaper than two draws.
        self.request_ids = UuidSequence(rng.child("request-ids"))
        self.scheduler: Scheduler = sim._scheduler
        self.behaviour: Behaviour = sim.behaviour
        self.ledger = Ledger()
        # Per shard id, its readers: one, or one per ParallelizationFactor lane.
        self.readers: dict[str, list[ShardReader]] = {}
        self.invocations = InvocationLog(sim._expand_render, sim._exceptions)
        self.started = False  # has it ever reported Enabled (LATEST is taken then)
        self.enabled_intent = True  # the Enabled the user asked for (set by the control plane)
        self.settling = False  # counted busy while settling toward Enabled (run_until_idle)
        self.deleted = False
        self.destination_failures = 0
        # Injected duplicate deliveries still to make, per function name (spec 3.7,
        # I): the simulation's dict, shared by all its mappings.
        self.duplicates: dict[str, int] = sim._duplicates
        table.on_new_shard(self._on_new_shard)

    def _repr_html_(self) -> str:
        from esm_sim._views import mapping_html  # views are for notebooks: imported on use

        return mapping_html(self)

    # -- hooks the readers use ------------------------------------------------------

    def now_ms(self) -> int:
        """The virtual time."""
        return self.scheduler.now_ms

    def busy_changed(self, delta: int) -> None:
        """A reader started or stopped having work (for ``run_until_idle``)."""
        self.sim._busy += delta

    def set_last_processing_result(self, text: str) -> None:
        """Update ``LastProcessingResult`` (spec 1.3)."""
        self.fields["LastProcessingResult"] = text

    def _trace(
        self,
        kind: str,
        reader: ShardReader,
        records: Sequence[Record],
        *,
        outcome: str = "",
        detail: str = "",
        data: tuple[Any, ...] = (),
    ) -> None:
        # ``data``: keys and values, flattened (key, value, key, value...), as
        # the trace stores them (TraceEvent.data pairs them up again).
        self.sim.trace.add(self._head(kind, reader, records, outcome, detail) + data)

    def _head(
        self, kind: str, reader: ShardReader, records: Sequence[Record], outcome: str, detail: str
    ) -> tuple[Any, ...]:
        """A trace row's ten fields before ``data`` (positional: the hot paths call it)."""
        return (
            self.scheduler.now_ms,
            kind,
            self.uuid,
            reader.shard.shard_id,
            reader.lane,
            records[0][SEQ] if records else "",  # ints: text when read (Trace.add)
            records[-1][SEQ] if records else "",
            len(records),
            outcome,
            detail,
        )

    # -- starting and stopping -----------------------------------------------------

    def start(self) -> None:
        """The mapping now reports Enabled: every reader starts (LATEST taken the first time)."""
        latest = self.fields["StartingPosition"] == "LATEST" and not self.started
        for shard in self.table.shards:
            if shard.shard_id not in self.readers:
                self._add_readers(shard, latest=latest)
        self.started = True
        for shard in self.table.shards:
            if self._parent_done(shard):
                for reader in self.readers[shard.shard_id]:
                    reader.start()

    def _add_readers(self, shard: Shard, *, latest: bool) -> list[ShardReader]:
        # spec 1.4: LATEST is the shard's end when the mapping starts reading.
        factor = self.config.parallelization_factor
        if factor == 1:
            readers = [ShardReader(self, shard, shard.end if latest else 0)]
        else:
            table = LaneTable(shard, factor)
            views = [LaneView(table, lane) for lane in range(factor)]
            readers = [
                ShardReader(self, view, view.end if latest else 0, lane)
                for lane, view in enumerate(views)
            ]
        self.readers[shard.shard_id] = readers
        return readers

    def all_readers(self) -> list[ShardReader]:
        """Every reader of every shard, in shard order then lane order."""
        return [r for readers in self.readers.values() for r in readers]

    def _on_new_shard(self, shard: Shard) -> None:
        if self.deleted:
            return
        self._add_readers(shard, latest=False)  # a new shard is read from its start
        if (
            self.started
            and self.fields["State"] in ("Enabled", "Updating", "Disabling")
            and self._parent_done(shard)
        ):
            for reader in self.readers[shard.shard_id]:
                reader.start()

    def _parent_done(self, shard: Shard) -> bool:
        """spec 7.1: a parent shard is processed before its children."""
        parent = shard.parent_shard_id
        readers = self.readers.get(parent) if parent is not None else None
        if not readers:
            return True
        return all(r.finished() for r in readers)

    def reader_finished(self, reader: ShardReader) -> None:
        """A reader read its closed shard to the end: start the children it held back."""
        shard_id = reader.shard.shard_id
        if not all(r.finished() for r in self.readers.get(shard_id, ())):
            return
        for shard in self.table.shards:
            if shard.parent_shard_id == shard_id and self.fields["State"] in (
                "Enabled",
                "Updating",
                "Disabling",
            ):
                for child in self.readers.get(shard.shard_id, ()):
                    child.start()

    def record_status(self, shard: Shard, index: int) -> str:
        """For a record without a ledger entry: "skipped", "processed" or "pending"."""
        readers = self.readers.get(shard.shard_id)
        if not readers:
            return "pending"
        reader, position = readers[0], index
        if len(readers) > 1:
            view = readers[0].shard
            assert isinstance(view, LaneView)
            reader = readers[view.table.lane_of(shard.at(index))]
            lane_view = reader.shard
            assert isinstance(lane_view, LaneView)
            position = lane_view.position_of(index)
        if position < reader.start_index:
            return "skipped"
        if position < reader.checkpoint:
            return "processed"
        return "pending"

    def skipped_count(self, shard: Shard) -> int:
        """How many records of a shard this mapping does not own (before its LATEST start)."""
        return sum(r.start_index for r in self.readers.get(shard.shard_id, ()))

    def reconfigure(self, config: MappingConfig) -> None:
        """Settings from an update take effect (spec 1.4: when the state settles)."""
        self.config = config
        for reader in self.all_readers():
            reader.reconfigured()

    def stop(self) -> None:
        """The mapping now reports Disabled (or is being deleted): every reader stops."""
        for reader in self.all_readers():
            reader.stop()

    # -- invoking ---------------------------------------------------------------------

    def admit(self, reader: ShardReader) -> str | None:
        """Ask for a concurrency slot; None if granted, else the throttle reason (spec 3.1)."""
        refusal = self.sim._concurrency.acquire(self.function)
        if refusal is not None:
            self._trace(
                "throttle",
                reader,
                reader.batch.records if reader.batch else [],
                outcome="throttled",
                detail=refusal,
                data=("function", self.function.name),
            )
        return refusal

    def invoke(self, reader: ShardReader, records: list[Record]) -> None:
        """Run the function on a batch; its result reaches ``reader.on_result`` at the end time."""
        fn = self.function
        window = reader.window_info(reader.batch) if reader.batch is not None else None
        invocation = self._call(
            reader,
            records,  # never mutated in place: the reader only ever slices anew
            BatchEvent(records, self.table, reader.shard.shard_id, window),
            outcome="final" if window is not None and window[3] else "sent",
            data=()
            if window is None
            else ("window_start_ms", window[0], "window_final", window[3]),
        )
        if reader.batch is not None:
            reader.batch.request_id = invocation.request_id
        self.scheduler.call_at(invocation.ended_ms, self._finish, reader, invocation, fn)
        invocation._raise_pending()  # Ctrl-C or a duration ConfigError, now the end is due

    def _call(
        self,
        reader: ShardReader,
        records: list[Record],
        render: Callable[[], dict[str, Any]],
        *,
        outcome: str,
        data: tuple[Any, ...],
    ) -> Invocation:
        """Trace the invoke, run the handler on ``render()``'s event, keep the invocation."""
        fn = self.function
        now = self.scheduler.now_ms
        request_id = self.request_ids.next()
        invocation = Invocation(
            request_id=request_id,
            render=render,
            started_ms=now,
            mapping_uuid=self.uuid,
            shard_id=reader.shard.shard_id,
            sequence_numbers=None,  # the batch's, read from the renderer on use
        )
        context = Context(
            function=fn,
            request_id=request_id,
            deadline_ms=now + fn.timeout_ms,
            now_ms=self.now_ms,
            log_stream_name=None,  # made from the request id and start time when read
            started_ms=now,
        )
        head = self._head("invoke", reader, records, outcome, request_id)
        info: tuple[Any, ...] = ("request_id", request_id, "function", fn.name)
        if records:
            info += ("iterator_age_ms", now - records[-1][CREATED_MS])
        self.sim.trace.add(head + info + data)
        duration_ms = run_handler(invocation, fn, render(), context)
        invocation.ended_ms = now + duration_ms
        self.invocations.append_row(fn.invocations.append(invocation), fn.invocations)
        return invocation

    def _finish(self, reader: ShardReader, invocation: Invocation, fn: Function) -> None:
        # The slot goes back to the function that ran, even if the mapping was
        # pointed at another function meanwhile.
        self.sim._concurrency.release(fn)
        self._trace_result(reader, reader.batch.records if reader.batch else [], invocation)
        reader.on_result(invocation)

    def _trace_result(
        self, reader: ShardReader, records: list[Record], invocation: Invocation, *extra: Any
    ) -> None:
        if invocation.error is not None:
            outcome, detail = "error", f"{invocation.error_type}: {invocation.error_message}"
        else:
            outcome, detail = "ok", ""
        self.sim.trace.add(
            (
                *self._head("result", reader, records, outcome, detail),
                "request_id",
                invocation.request_id,
                "duration_ms",
                invocation.ended_ms - invocation.started_ms,
                # issue 6: metrics and views judge the response with the same rule.
                "report_batch_item_failures",
                self.config.report_batch_item_failures,
                *extra,
            )
        )

    def take_duplicate(self) -> bool:
        """Whether an injected duplicate delivery is due for this mapping's function (spec 3.7)."""
        name = self.function.name
        left = self.duplicates.get(name, 0)
        if not left:
            return False
        if left == 1:
            del self.duplicates[name]
        else:
            self.duplicates[name] = left - 1
        return True

    def invoke_duplicate(self, reader: ShardReader, original: Invocation) -> None:
        """
        Deliver ``original``'s event once more, as AWS's at-least-once delivery may
        (spec 3.7, injected, I): same records and event, a new request id. The
        records' fates are already decided; the duplicate's response is ignored
        and the reader goes on (``reader.duplicate_done``) when it returns.

        It takes no concurrency slot: it is the service sending again, not a new
        request that could be throttled.
        """
        records = reader.batch.records if reader.batch is not None else []
        invocation = self._call(
            reader,
            records,
            original._render,
            outcome="duplicate",
            data=("duplicate_of", original.request_id),
        )
        self.scheduler.call_at(
            invocation.ended_ms, self._finish_duplicate, reader, invocation, records
        )
        invocation._raise_pending()  # as in invoke

    def _finish_duplicate(
        self, reader: ShardReader, invocation: Invocation, records: list[Record]
    ) -> None:
        self._trace_result(reader, records, invocation, "duplicate", True)
        reader.duplicate_done()

    # -- fates -------------------------------------------------------------------------

    def processed(self, reader: ShardReader, records: list[Record]) -> None:
        """These records were processed: the checkpoint moves past them."""
        if not records:
            return
        self.ledger.processed(len(records))
        reader.advance_checkpoint(records)

    def filtered(self, reader: ShardReader, records: list[Record]) -> None:
        """These records did not match the filter criteria (spec 8): never sent."""
        self.ledger.mark([r[SEQ] for r in records], "filtered", "FilterCriteria", None)
        self._trace("filter", reader, records, outcome="filtered")

    def expire(self, reader: ShardReader, records: list[Record]) -> None:
        """These records left the stream (24 h retention) before they were processed."""
        self.ledger.mark([r[SEQ] for r in records], "expired", "RetentionExpired", None)
        self._trace("expire", reader, records, outcome="expired", detail="RetentionExpired")
        reader.advance_checkpoint(records)

    def discard(
        self,
        reader: ShardReader,
        records: list[Record],
        *,
        condition: str,
        invoke_count: int,
        function_error: str | None,
        with_response_context: bool,
    ) -> None:
        """
        Give up on these records (spec 3.5): to the on-failure destination, or dropped.

        The failure record describes only the records discarded (spec 3.6).
        """
        now = self.scheduler.now_ms
        destination = self.config.on_failure_destination
        seqs = [r[SEQ] for r in records]
        if destination is None:
            self.ledger.mark(seqs, "dropped", condition, None)
            self._trace("discard", reader, records, outcome="dropped", detail=condition)
        else:
            batch = reader.batch
            # spec 3.6: the request id of the failing batch's last invocation, or a
            # fresh one for records discarded before any invocation.
            request_id = (batch.request_id if batch is not None else None) or self.rng.uuid()
            record = failure_record(
                request_id=request_id,
                function_arn=self.function.arn,
                condition=condition,
                invoke_count=invoke_count,
                function_error=function_error,
                with_response_context=with_response_context,
                now_ms=now,
                shard_id=reader.shard.shard_id,
                records=records,
                stream_arn=self.table.stream_arn,
            )
            delivered = self.sim._deliver(
                destination,
                record,
                self,
                reader.shard.shard_id,
                lambda: {"Records": self.table.format.render_many(records)},
            )
            if delivered:
                self.ledger.mark(seqs, "destination", condition, destination)
                self._trace(
                    "discard",
                    reader,
                    records,
                    outcome="destination",
                    detail=f"{condition} -> {destination}",
                )
            else:
                # spec 9.2: a failed delivery counts DestinationDeliveryFailures and
                # the records are dropped.
                self.destination_failures += 1
                self.ledger.mark(seqs, "dropped", "DestinationDeliveryFailed", destination)
                self._trace(
                    "delivery-failure",
                    reader,
                    records,
                    outcome="dropped",
                    detail=f"{condition}; could not deliver to {destination}",
                    data=("function", self.function.name, "condition", condition),
                )
        reader.advance_checkpoint(records)

    def read_throttled(self, reader: ShardReader) -> None:
        """A GetRecords call was refused: too many readers on the shard (spec 7.4, I)."""
        self._trace(
            "read-throttle",
            reader,
            [],
            outcome="throttled",
            detail="LimitExceededException",
            data=("function", self.function.name),
        )

    def trace_split(self, reader: ShardReader, first: list[Record], second: list[Record]) -> None:
        """Bisect split a failing batch (spec 3.4)."""
        # As _trace would write it for first + second, without joining the halves.
        self.sim.trace.add(
            (
                self.scheduler.now_ms,
                "split",
                self.uuid,
                reader.shard.shard_id,
                reader.lane,
                first[0][SEQ],
                second[-1][SEQ],
                len(first) + len(second),
                "bisect",
                f"{len(first)}+{len(second)}",
            )
        )


class BatchEvent:
    """
    Renders the event of one invocation, fresh on every call (spec 7.3, 6.2).

    An object rather than a closure: one small object kept per invocation.
    """

    __slots__ = ("records", "shard_id", "table", "window")

    def __init__(
        self,
        records: Sequence[Record],
        table: Table,
        shard_id: str,
        window: tuple[int, int, str, bool, bool] | None,
    ) -> None:
        self.records = records
        self.table = table
        self.shard_id = shard_id
        self.window = window

    def compact(self) -> tuple[Any, ...]:
        """Plain values to rebuild this renderer from: its source, then its records."""
        return (self.table.stream_arn, self.shard_id, self.window, *self.records)

    def __call__(self) -> dict[str, Any]:
        event: dict[str, Any] = {"Records": self.table.format.render_many(self.records)}
        if self.window is not None:
            # spec 6.2: what a tumbling-window event adds, in AWS's order.
            start_ms, end_ms, state_json, final, early = self.window
            event["window"] = {"start": iso_seconds(start_ms), "end": iso_seconds(end_ms)}
            event["state"] = json.loads(state_json)
            event["shardId"] = self.shard_id
            event["eventSourceARN"] = self.table.stream_arn
            event["isFinalInvokeForWindow"] = final
            event["isWindowTerminatedEarly"] = early
        return event


def expand_render(tables: dict[str, Table], compact: tuple[Any, ...]) -> BatchEvent:
    """The renderer ``BatchEvent.compact`` describes (tables by stream ARN)."""
    stream_arn, shard_id, window = compact[:3]
    return BatchEvent(compact[3:], tables[stream_arn], shard_id, window)


def failure_record(
    *,
    request_id: str,
    function_arn: str,
    condition: str,
    invoke_count: int,
    function_error: str | None,
    with_response_context: bool,
    now_ms: int,
    shard_id: str,
    records: list[Record],
    stream_arn: str,
) -> dict[str, Any]:
    """
    The on-failure invocation record, DynamoDB variant (spec 3.6), key for key.

    ``responseContext`` is left out of ``RecordAgeExceeded`` records (spec 3.3).
    Arrival times are whole seconds for DynamoDB; ``timestamp`` has milliseconds.
    """
    record: dict[str, Any] = {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        }
    }
    if with_response_context:
        record["responseContext"] = {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": function_error,
        }
    record["version"] = "1.0"
    record["timestamp"] = iso_ms(now_ms)
    record["DDBStreamBatchInfo"] = {
        "shardId": shard_id,
        "startSequenceNumber": str(records[0][SEQ]),
        "endSequenceNumber": str(records[-1][SEQ]),
        "approximateArrivalOfFirstRecord": iso_seconds(records[0][CREATED_MS]),
        "approximateArrivalOfLastRecord": iso_seconds(records[-1][CREATED_MS]),
        "batchSize": len(records),
        "streamArn": stream_arn,
    }
    return record


def deliver_to(
    sink: Queue | Topic | Bucket,
    record: dict[str, Any],
    *,
    now_ms: int,
    uuid: str,
    shard_id: str,
    rng: Rng,
    payload: Callable[[], dict[str, Any]],
) -> bool:
    """Write a failure record to a destination; False if it cannot take it (FIFO)."""
    if isinstance(sink, Queue):
        if sink.fifo:
            return False  # spec 3.6: standard queues only
        sink.send_message(json.dumps(record))
        return True
    if isinstance(sink, Topic):
        if sink.fifo:
            return False  # spec 3.6: standard topics only
        sink.publish(json.dumps(record), now_ms)
        return True
    # spec 3.6: S3 gets the metadata plus the whole invocation event as an
    # escaped JSON string (spec 11 row 22), under AWS's key layout.
    body = dict(record)
    body["payload"] = json.dumps(payload())
    stamp = iso_seconds(now_ms)  # 2019-11-14T00:13:19Z
    date = stamp[:10].replace("-", "/")
    key = f"aws/lambda/{uuid}/{shard_id}/{date}/{stamp[:-1].replace(':', '.')}-{rng.uuid()}"
    sink.put_object(key, json.dumps(body).encode())
    return True
