"""
One event source mapping at run time: its readers, its ledger, its side effects.

The readers (``reader.py``) carry out the decisions of ``policies.py``; the
runtime does what touches the rest of the world: invoking the function,
counting concurrency, writing the on-failure record to its destination, and
recording each decision once: fates in the ledger, the verdict on each
invocation in the invocation log and the ``result`` trace row.

It receives the few things it uses (:class:`MappingPorts`), never the
``Simulation``.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import attrs

from esm_sim._engine import display
from esm_sim._engine.rng import Rng, UuidSequence
from esm_sim._engine.scheduler import Scheduler
from esm_sim._engine.timefmt import iso_ms, iso_seconds
from esm_sim._engine.trace import Trace
from esm_sim._lambda.concurrency import Concurrency
from esm_sim._lambda.function import Context, Function, HandlerRun, InvocationLog, run_handler
from esm_sim._mapping import advice
from esm_sim._mapping.config import Behaviour, MappingConfig
from esm_sim._mapping.fates import Ledger
from esm_sim._mapping.lanes import LaneTable, LaneView
from esm_sim._mapping.policies import FAILURE, SUCCESS, Verdict, judge
from esm_sim._mapping.reader import Batch, Sent, ShardReader, Span
from esm_sim._streams.records import CREATED_MS, SEQ, Record
from esm_sim._streams.shard import Shard
from esm_sim._streams.table import Table


class Deliver(Protocol):
    """Write a failure record to a destination ARN; False if it could not take it."""

    def __call__(
        self,
        destination: str,
        record: dict[str, Any],
        *,
        uuid: str,
        shard_id: str,
        payload: Callable[[], dict[str, Any]],
        rng: Rng,
        sequence_numbers: tuple[int, ...] = (),
    ) -> bool: ...


DUPLICATE_REASON = "an injected duplicate delivery: its response is ignored (spec 3.7)"
# Verdicts are immutable: the common ones are made once and shared.
_DUPLICATE_VERDICT = Verdict(outcome=SUCCESS, reason=DUPLICATE_REASON)


def _judged_plainly(error: str | None, error_type: str | None) -> Verdict:
    """policies.judge with no response to read (outside a window, without RBIF)."""
    return judge(
        error=error,
        error_type=error_type,
        response=None,
        sequence_numbers=(),
        report_batch_item_failures=False,
        window=False,
        final=False,
        non_object_fails=False,
    )


# What policies.judge answers for no error and nothing to read, asked once.
_PLAIN_SUCCESS = _judged_plainly(None, None)
_FAILED: dict[str | None, Verdict] = {}  # per error type: policies.judge on a function error


@attrs.frozen(kw_only=True)
class MappingPorts:
    """What a mapping needs from the simulation around it, and nothing more."""

    scheduler: Scheduler
    trace: Trace
    behaviour: Behaviour
    concurrency: Concurrency
    deliver: Deliver
    # Injected duplicate deliveries still to make, per function name (spec 3.7, I):
    # one dict shared by every mapping of the simulation.
    duplicates: dict[str, int]
    # A reader started or stopped having work (for ``run_until_idle``).
    busy_changed: Callable[[int], None]
    # A new, empty invocation log that expands stored rows as the simulation's do.
    new_invocation_log: Callable[[], InvocationLog]


class MappingRuntime:
    """The moving parts of one mapping (its AWS-visible fields live in ``fields``)."""

    def __init__(
        self,
        ports: MappingPorts,
        *,
        uuid: str,
        arn: str,
        fields: dict[str, Any],
        function: Function,
        table: Table,
        config: MappingConfig,
        rng: Rng,
    ) -> None:
        self.ports = ports
        self.uuid = uuid
        self.arn = arn
        self.fields = fields
        self.function = function
        self.table = table
        self.config = config
        self.rng = rng
        # Request ids, one per invocation: a keyed counter, cheaper than two draws.
        self.request_ids = UuidSequence(rng.child("request-ids"))
        self.scheduler: Scheduler = ports.scheduler
        self.behaviour: Behaviour = ports.behaviour
        self.trace: Trace = ports.trace
        self.ledger = Ledger()
        # Per shard id, its readers: one, or one per ParallelizationFactor lane.
        self.readers: dict[str, list[ShardReader]] = {}
        self.invocations = ports.new_invocation_log()
        self.started = False  # has it ever reported Enabled (LATEST is taken then)
        self.enabled_intent = True  # the Enabled the user asked for (set by the control plane)
        self.settling = False  # counted busy while settling toward Enabled (run_until_idle)
        self.deleted = False
        self.destination_failures = 0
        self.duplicates: dict[str, int] = ports.duplicates
        self.advice = advice.Advice()  # what it warned about (esm_sim._mapping.advice)
        table.on_new_shard(self._on_new_shard)

    def _repr_html_(self) -> str:
        return display.html_of("mapping", self)

    # -- hooks the readers use ------------------------------------------------------

    def now_ms(self) -> int:
        """The virtual time."""
        return self.scheduler.now_ms

    def busy_changed(self, delta: int) -> None:
        """A reader started or stopped having work (for ``run_until_idle``)."""
        self.ports.busy_changed(delta)

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
        self.trace.add(self._head(kind, reader, records, outcome, detail) + data)

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

    def _reading(self) -> bool:
        return self.started and self.fields["State"] in ("Enabled", "Updating", "Disabling")

    def start(self) -> None:
        """The mapping now reports Enabled: every reader starts (LATEST taken the first time)."""
        latest = self.fields["StartingPosition"] == "LATEST" and not self.started
        for shard in self.table.shards:
            if shard.shard_id not in self.readers:
                self._add_readers(shard, latest=latest)
        self.started = True
        for shard in self.table.shards:
            if self._ancestors_done(shard):
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
        if self._reading() and self._ancestors_done(shard):
            for reader in self.readers[shard.shard_id]:
                reader.start()

    def _shard_done(self, shard_id: str) -> bool:
        readers = self.readers.get(shard_id)
        return not readers or all(r.finished() for r in readers)

    def _ancestors_done(self, shard: Shard) -> bool:
        """
        spec 7.1: a shard is read only after every ancestor is fully consumed,
        however deep the lineage and however empty the shards on the way.
        """
        by_id = self.table.shards_by_id
        parent = shard.parent_shard_id
        while parent is not None:
            if not self._shard_done(parent):
                return False
            ancestor = by_id.get(parent)
            parent = ancestor.parent_shard_id if ancestor is not None else None
        return True

    def reader_finished(self, reader: ShardReader) -> None:
        """
        A reader read its closed shard to the end: start the children it held
        back. Deeper descendants follow as each child finishes in turn (an empty
        child finishes at its first poll), so a shard starts only after every
        ancestor is consumed.
        """
        shard_id = reader.shard.shard_id
        if not self._shard_done(shard_id) or not self._reading():
            return
        for shard in self.table.shards:
            if shard.parent_shard_id == shard_id and self._ancestors_done(shard):
                for child in self.readers.get(shard.shard_id, ()):
                    child.start()

    def _reader_of(self, shard: Shard, index: int) -> tuple[ShardReader | None, int]:
        readers = self.readers.get(shard.shard_id)
        if not readers:
            return None, index
        if len(readers) == 1:
            return readers[0], index
        view = readers[0].shard
        assert isinstance(view, LaneView)
        if index < shard.trimmed:
            # A trimmed record keeps no key: find its lane in the lane table.
            view.table.sync()
            for reader in readers:
                lane_view = reader.shard
                assert isinstance(lane_view, LaneView)
                lane = view.table.lanes[lane_view.lane]
                position = bisect_left(lane, index)
                if position < len(lane) and lane[position] == index:
                    return reader, position
        reader = readers[view.table.lane_of(shard.at(index))]
        lane_view = reader.shard
        assert isinstance(lane_view, LaneView)
        return reader, lane_view.position_of(index)

    def record_status(self, shard: Shard, index: int) -> str:
        """For a record without a ledger entry: "skipped", "processed" or "pending"."""
        reader, position = self._reader_of(shard, index)
        if reader is None:
            return "pending"
        if position < reader.start_index:
            return "skipped"
        if position < reader.checkpoint:
            return "processed"
        return "pending"

    def first_open_index(self, shard: Shard) -> int:
        """
        The lowest shard index this mapping's readers of ``shard`` have not
        finished (their checkpoints); the shard's end when none reads it (a
        reader made later meets trimmed records only to expire or skip them).
        """
        if self.deleted:
            return shard.end
        readers = self.readers.get(shard.shard_id)
        if not readers:
            return shard.end
        return min(_first_open(r, shard) for r in readers)

    def skipped_count(self, shard: Shard) -> int:
        """How many records of a shard this mapping does not own (before its LATEST start)."""
        return sum(r.start_index for r in self.readers.get(shard.shard_id, ()))

    def held_in_windows(self) -> list[int]:
        """Sequence numbers delivered to open tumbling windows, waiting for their end."""
        return [r[SEQ] for reader in self.all_readers() for r in reader.held_in_window()]

    def reconfigure(self, config: MappingConfig) -> None:
        """
        Settings from an update take effect (spec 1.4: when the state settles).

        A new ParallelizationFactor rebuilds each shard's lanes (spec 5, I): the
        old readers retire (an invocation in flight returns first and its result
        is applied), then readers for the new factor take over from the
        checkpoint, so no final record is read again and none is lost. The open
        tumbling windows of the old lanes are released, not committed.
        """
        old_factor = self.config.parallelization_factor
        self.config = config
        if config.parallelization_factor != old_factor:
            for readers in list(self.readers.values()):
                for reader in readers:
                    reader.retire()
            return
        for reader in self.all_readers():
            reader.reconfigured()

    def reader_stopped(self, reader: ShardReader) -> None:
        """A reader stopped; when a retired shard's readers all have, its new lanes take over."""
        shard_id = reader.shard.shard_id
        old = self.readers.get(shard_id, [])
        if not reader.retired or not all(r.retired and r.state == "stopped" for r in old):
            return
        shard = self.table.shards_by_id[shard_id]
        new = self._relane(shard, old)
        if self._reading() and self._ancestors_done(shard):
            for r in new:
                r.start()

    def _relane(self, shard: Shard, old: list[ShardReader]) -> list[ShardReader]:
        """
        Readers of ``shard`` for the current factor, taking over from ``old``
        (spec 5, I): records written before a LATEST start stay skipped; every
        record below the lowest old checkpoint is final; records the old lanes
        had processed beyond it get ledger entries of their own.
        """
        skipped = sum(r.start_index for r in old)  # a LATEST start skips a prefix
        # Each old lane's records below its checkpoint are final; below the
        # lowest first open record over all lanes, every record is.
        low = min((_first_open(r, shard) for r in old), default=0)
        beyond = [
            shard.at(i)[SEQ]
            for r in old
            for i in _shard_indexes(r, _position_of(r.shard, low), r.checkpoint)
            if i >= skipped
        ]
        self.ledger.note_processed([seq for seq in beyond if seq not in self.ledger.entries])
        new = self._add_readers(shard, latest=False)
        for r in new:
            r.start_index = _position_of(r.shard, skipped)
            r.checkpoint = r.pos = max(r.start_index, _position_of(r.shard, low))
            r.final_hi = r.shard.end  # past the checkpoint, reads look records up
        return new

    def stop(self) -> None:
        """The mapping now reports Disabled (or is being deleted): every reader stops."""
        for reader in self.all_readers():
            reader.stop()

    # -- invoking ---------------------------------------------------------------------

    def admit(self, reader: ShardReader) -> str | None:
        """Ask for a concurrency slot; None if granted, else the throttle reason (spec 3.1)."""
        refusal = self.ports.concurrency.acquire(self.function)
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
        batch = reader.batch
        assert batch is not None
        window = reader.window_info(batch) if reader.window is not None else None
        sent, verdict, pending = self._call(
            reader,
            records,  # never mutated in place: the reader only ever slices anew
            BatchEvent(records, self.table, reader.shard.shard_id, window),
            outcome="final" if window is not None and window[3] else "sent",
            data=()
            if window is None
            else ("window_start_ms", window[0], "window_final", window[3]),
            judge_as=(window is not None, batch.final),
        )
        batch.request_id = sent[0]
        self.scheduler.call_at(sent[2], self._finish, reader, sent, verdict, fn)
        if pending is not None:  # Ctrl-C or a duration ConfigError, now the end is due
            raise pending[0].with_traceback(pending[1])

    def _call(
        self,
        reader: ShardReader,
        records: list[Record],
        render: BatchEvent,
        *,
        outcome: str,
        data: tuple[Any, ...],
        judge_as: tuple[bool, bool] | None,
    ) -> tuple[Sent, Verdict, tuple[BaseException, Any] | None]:
        """
        Trace the invoke, run the handler on ``render()``'s event, judge the answer
        (``policies.judge``, with the settings the batch was sent under; a
        duplicate's answer is ignored: ``judge_as`` None) and keep the invocation
        with its verdict, as one row shared by the function's log and the
        mapping's. Returns what the reader needs of it, the verdict, and what
        must be raised once its end is scheduled (or None).

        No :class:`Invocation` is made: the logs build one when read.
        """
        fn = self.function
        now = self.scheduler.now_ms
        request_id = self.request_ids.next()
        shard_id = reader.shard.shard_id
        context = Context(
            function=fn,
            request_id=request_id,
            deadline_ms=now + fn.timeout_ms,
            now_ms=self.now_ms,
            log_stream_name=None,  # made from the request id and start time when read
            started_ms=now,
        )
        if records:
            self.trace.add(
                (
                    now,
                    "invoke",
                    self.uuid,
                    shard_id,
                    reader.lane,
                    records[0][SEQ],
                    records[-1][SEQ],
                    len(records),
                    outcome,
                    request_id,
                    "request_id",
                    request_id,
                    "function",
                    fn.name,
                    "iterator_age_ms",
                    now - records[-1][CREATED_MS],
                    *data,
                )
            )
        else:
            head = self._head("invoke", reader, records, outcome, request_id)
            self.trace.add((*head, "request_id", request_id, "function", fn.name, *data))
        table = self.table
        mark = table.last_sequence  # advice.handler_mark
        run = HandlerRun(request_id, now)
        duration_ms = run_handler(run, fn, render(), context)
        pending = run._pending
        if table.last_sequence != mark:  # the handler wrote into its own source table
            runaway = advice.after_handler(self, records, mark)
            if runaway is not None and pending is None:
                pending = (runaway, None)  # raised once the end is scheduled
        ended = now + duration_ms
        error = run.error
        if judge_as is None:
            verdict = _DUPLICATE_VERDICT
        elif error is not None:
            # policies.judge's first rule (spec 3.1): one verdict per error type.
            failed = _FAILED.get(run.error_type)
            if failed is None:
                failed = _FAILED[run.error_type] = _judged_plainly(error, run.error_type)
            verdict = failed
        else:
            in_window, final = judge_as
            rbif = self.config.report_batch_item_failures
            response = run.response_json
            if response is None and not in_window and not rbif:
                verdict = _PLAIN_SUCCESS  # what judge answers: nothing to read
            else:
                verdict = judge(
                    error=None,
                    error_type=None,
                    response=response,
                    sequence_numbers=[str(r[SEQ]) for r in records] if rbif else (),
                    report_batch_item_failures=rbif,
                    window=in_window,
                    final=final,
                    non_object_fails=self.behaviour.non_object_response == "failure",
                )
        reason = verdict.reason
        if reason is not None:
            advice.after_verdict(self, reason)
        log = fn.invocations
        index = log.keep(
            run,
            ended_ms=ended,
            mapping_uuid=self.uuid,
            shard_id=shard_id,
            outcome=verdict.outcome,
            reason=reason,
            compact=render.compact(),
        )
        self.invocations.append_ref(log, index)
        sent: Sent = (request_id, now, ended, error, run.error_type, run.error_message, render)
        return sent, verdict, pending

    def _finish(self, reader: ShardReader, sent: Sent, verdict: Verdict, fn: Function) -> None:
        # The slot goes back to the function that ran, even if the mapping was
        # pointed at another function meanwhile.
        self.ports.concurrency.release(fn)
        batch = reader.batch
        assert batch is not None
        self._trace_result(reader, batch, sent, verdict)
        reader.on_result(sent, verdict)

    def _trace_result(
        self,
        reader: ShardReader,
        batch: Batch | None,
        sent: Sent,
        verdict: Verdict,
        *extra: Any,
    ) -> None:
        """
        The ``result`` row: Lambda's view (``error``, ``error_type``) and the
        mapping's (the outcome column, ``reason``), with how many of the
        batch's leading records are now done (``committed``) or joined their
        tumbling window (``joined``), and whether a window's final invocation
        committed the window (``window_committed``). Metrics, views, fates and
        the invariants read these; nothing judges the response again.
        """
        records = batch.records if batch is not None else []
        committed = joined = 0
        window_committed = False
        if verdict.outcome != FAILURE and batch is not None and not extra:
            done = len(records) if verdict.resume_at is None else verdict.resume_at
            if batch.final:
                window_committed = True
            elif verdict.state_json is not None:
                joined = done
            else:
                committed = done
        request_id, started_ms, ended_ms, error, error_type, error_message, _ = sent
        detail = f"{error_type}: {error_message}" if error is not None else verdict.reason or ""
        self.trace.add(
            (
                *self._head("result", reader, records, verdict.outcome, detail),
                "request_id",
                request_id,
                "duration_ms",
                ended_ms - started_ms,
                "error",
                error,
                "error_type",
                error_type,
                "reason",
                verdict.reason,
                "committed",
                committed,
                "joined",
                joined,
                "window_committed",
                window_committed,
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

    def invoke_duplicate(self, reader: ShardReader, original: Sent) -> None:
        """
        Deliver ``original``'s event once more, as AWS's at-least-once delivery may
        (spec 3.7, injected, I): same records and event, a new request id. The
        records' fates are already decided; the duplicate's response is ignored
        and the reader goes on (``reader.duplicate_done``) when it returns.

        It takes no concurrency slot: it is the service sending again, not a new
        request that could be throttled.
        """
        records = reader.batch.records if reader.batch is not None else []
        render = original[6]
        assert isinstance(render, BatchEvent)
        sent, verdict, pending = self._call(
            reader,
            records,
            render,
            outcome="duplicate",
            data=("duplicate_of", original[0]),
            judge_as=None,
        )
        self.scheduler.call_at(sent[2], self._finish_duplicate, reader, sent, verdict)
        if pending is not None:  # as in invoke
            raise pending[0].with_traceback(pending[1])

    def _finish_duplicate(self, reader: ShardReader, sent: Sent, verdict: Verdict) -> None:
        self._trace_result(reader, reader.batch, sent, verdict, "duplicate", True)
        reader.duplicate_done()

    # -- fates -------------------------------------------------------------------------

    def _mark(
        self,
        reader: ShardReader,
        records: list[Record],
        spans: list[Span],
        *,
        outcome: str,
        reason: str | None,
        destination: str | None,
        strict: bool = True,
    ) -> list[Record]:
        """
        Give records their final fate (once: a record already final keeps its
        fate) and finish their spans; returns the records newly marked.
        """
        fresh = self.ledger.mark(records, outcome, reason, destination, strict=strict)
        for span in spans:
            reader.finish(span)
        if spans:
            reader.note_final(spans[-1][1])
        return fresh

    def processed(self, reader: ShardReader, records: list[Record], spans: list[Span]) -> None:
        """These records were processed: their spans are final, the checkpoint moves when it can."""
        for span in spans:
            reader.finish(span)
        if not records:
            return
        if reader.checkpoint >= spans[-1][1]:
            self.ledger.processed(len(records))  # below the checkpoint: no entry needed
        else:
            # Done out of order (a gap before them is still open): recorded each.
            self.ledger.mark(records, "processed", None, None)
            reader.note_final(spans[-1][1])

    def filtered(self, reader: ShardReader, runs: list[list[Record]]) -> None:
        """
        These records did not match the filter criteria (spec 8): never sent.

        ``runs``: the filtered records in runs of neighbours (nothing the reader
        kept between them); one ``filter`` row per run, so the row's span names
        exactly the records it filtered.
        """
        mark = self.ledger.mark
        for records in runs:
            fresh = mark(records, "filtered", "FilterCriteria", None, strict=False)
            if fresh:
                self._trace("filter", reader, fresh, outcome="filtered")

    def expire(self, reader: ShardReader, records: list[Record], spans: list[Span]) -> None:
        """These records left the stream (retention) before they were processed (spec 7.1)."""
        fresh = self._mark(
            reader,
            records,
            spans,
            outcome="expired",
            reason="RetentionExpired",
            destination=None,
            strict=False,
        )
        if fresh:
            self._trace("expire", reader, fresh, outcome="expired", detail="RetentionExpired")

    def discard(
        self,
        reader: ShardReader,
        records: list[Record],
        spans: list[Span],
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
        if not records:
            for span in spans:
                reader.finish(span)
            return
        destination = self.config.on_failure_destination
        if destination is None:
            self._mark(
                reader, records, spans, outcome="dropped", reason=condition, destination=None
            )
            self._trace("discard", reader, records, outcome="dropped", detail=condition)
            return
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
            now_ms=self.scheduler.now_ms,
            shard_id=reader.shard.shard_id,
            records=records,
            stream_arn=self.table.stream_arn,
        )
        delivered = self.ports.deliver(
            destination,
            record,
            uuid=self.uuid,
            shard_id=reader.shard.shard_id,
            payload=lambda: {"Records": self.table.format.render_many(records)},
            rng=self.rng,
            # Which records the failure record describes (a redrive reads them back).
            sequence_numbers=tuple(r[SEQ] for r in records),
        )
        if delivered:
            self._mark(
                reader,
                records,
                spans,
                outcome="destination",
                reason=condition,
                destination=destination,
            )
            self._trace(
                "discard",
                reader,
                records,
                outcome="destination",
                detail=f"{condition} -> {destination}",
            )
            return
        # spec 9.2: a failed delivery counts DestinationDeliveryFailures and
        # the records are dropped.
        self.destination_failures += 1
        self._mark(
            reader,
            records,
            spans,
            outcome="dropped",
            reason="DestinationDeliveryFailed",
            destination=destination,
        )
        self._trace(
            "delivery-failure",
            reader,
            records,
            outcome="dropped",
            detail=f"{condition}; could not deliver to {destination}",
            data=("function", self.function.name, "condition", condition),
        )

    def released(self, reader: ShardReader, records: list[Record]) -> None:
        """A reset dropped an open tumbling window: its uncommitted records will be read again."""
        self._trace(
            "release",
            reader,
            records,
            outcome="released",
            detail="tumbling window dropped uncommitted: read again from the checkpoint",
        )

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
        self.trace.add(
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


def _position_of(source: Shard | LaneView, shard_index: int) -> int:
    """How many of the source's records come before a shard index."""
    return source.position_of(shard_index) if isinstance(source, LaneView) else shard_index


def _first_open(reader: ShardReader, shard: Shard) -> int:
    """The shard index of a reader's first record not yet final (the shard's end if none)."""
    source = reader.shard
    if isinstance(source, LaneView):
        source.table.sync()
        lane = source.table.lanes[source.lane]
        return lane[reader.checkpoint] if reader.checkpoint < len(lane) else shard.end
    return reader.checkpoint


def _shard_indexes(reader: ShardReader, start: int, stop: int) -> list[int]:
    """The shard indexes of a reader's positions ``start`` to ``stop - 1``."""
    source = reader.shard
    if isinstance(source, LaneView):
        source.table.sync()
        return source.table.lanes[source.lane][start:stop]
    return list(range(start, stop))
