"""
The shard reader: one per (mapping, shard). Polls, batches, invokes, retries, bisects.

State machine (``ShardReader.state``)::

    stopped --start--> polling --records--> [window] --full/closed--> invoking
       ^                  |  ^                                          |
       |                  v  |                                          v
       +--stop------    idle (waits on the shard: no event per empty poll)
                                                backoff <--failure-- result --success--> polling

While a batch is in flight or being retried, the shard is blocked: nothing
after it is read (spec 3.1), which keeps order.

Timing (spec 2): the reader polls every ``poll_interval_ms`` (250 ms) on a grid
that starts when the mapping reports Enabled, but only while there is something
to read; an idle reader costs nothing until the shard wakes it, and then polls
at the next grid tick. Each poll is one GetRecords call: at most 1000 records
or 1 MB (spec 7.2); ``get_records_per_poll`` allows more calls while the batch
is not full and records remain (spec 12.7, I). With
``MaximumBatchingWindowInSeconds`` 0 a poll that returns records invokes at
once; otherwise the first poll with records opens a window, and the batch goes
when the window ends or ``BatchSize`` / 6 MB is reached. The next window starts
when the previous invocation completes (spec 2, simulator reading; spec 12.7:
GetRecords calls per window are I).

Tumbling windows (spec 6): with ``TumblingWindowInSeconds`` W, each record
belongs to the window ``[floor(t/W)*W, +W)`` of its ``ApproximateCreationDateTime``
(epoch-aligned, I; ``tumbling_window_alignment`` "first-record" counts from the
first record the reader reads instead). A batch never mixes windows.
Aggregation invocations carry the running ``state``; their records wait,
unprocessed, for the window's final invocation (``isFinalInvokeForWindow``),
which the reader makes once the virtual clock has passed the window's end and
no unread record of the window is left (or when the shard ends; with
``tumbling_window_close`` "record", only once a record of a later window has
been read, I). The final invocation carries no records (I). Only when it
succeeds are the window's records checkpointed and the state dropped. A state
over 1 MB ends the window early (``isWindowTerminatedEarly``): a final
invocation at once, then the same window goes on with a fresh state (I).

Injected duplicates (spec 3.7, I): after a batch the mapping takes as a complete
success, a pending ``Simulation.inject_duplicate_deliveries`` sends its event once
more before the reader moves on; the duplicate's response is ignored.
"""

from __future__ import annotations

import json
from operator import itemgetter
from typing import TYPE_CHECKING

from esm_sim._lambda.function import MAX_SYNC_PAYLOAD_BYTES, Invocation
from esm_sim._mapping.lanes import LaneView
from esm_sim._mapping.policies import COMPLETE_FAILURE, bisect_halves, judge_item_failures
from esm_sim._streams.records import (
    CREATED_MS,
    JSON_BOUND,
    SEQ,
    SIZE_BYTES,
    Record,
    payload_len,
)
from esm_sim._streams.shard import Shard

if TYPE_CHECKING:
    from esm_sim._mapping.runtime import MappingRuntime

GET_RECORDS_MAX_RECORDS = 1000  # spec 7.2
GET_RECORDS_MAX_BYTES = 1024 * 1024  # spec 7.2
MAX_WINDOW_STATE_BYTES = 1024 * 1024  # spec 6.1: state is at most 1 MB per shard

STOPPED = "stopped"
IDLE = "idle"
POLLING = "polling"
WINDOW = "window"
WINDOW_WAIT = "window-wait"  # caught up, a tumbling window waits for its end
INVOKING = "invoking"
BACKOFF = "backoff"

# Field readers for whole-call sums in _read.
_JSON_BOUND_OF = itemgetter(JSON_BOUND)
_SIZE_OF = itemgetter(SIZE_BYTES)


class Batch:
    """A batch on its way through the function: its records and its attempt counters."""

    __slots__ = (
        "early",
        "end_pos",
        "final",
        "invocations",
        "last",
        "records",
        "request_id",
        "retries",
        "throttles",
    )

    def __init__(
        self, records: list[Record], retries: int = 0, *, final: bool = False, early: bool = False
    ) -> None:
        self.records = records
        self.final = final  # a tumbling window's final invocation (no records)
        self.early = early  # ... ended early because the state passed 1 MB
        self.retries = retries  # function-error retries used (MaximumRetryAttempts)
        self.invocations = 0  # invocations of exactly these records (approximateInvokeCount)
        self.throttles = 0  # consecutive throttles (backoff only; never counted as retries)
        self.request_id: str | None = None  # of its last invocation
        # Where the reader stood after reading the batch's last record (its records
        # and any filtered ones read with them end there), when known; -1 if not.
        self.end_pos = -1
        self.last: Record | None = records[-1] if records else None


Source = Shard | LaneView  # what a reader reads: a whole shard, or one lane of it


class ShardReader:
    """
    Reads one shard (or one ParallelizationFactor lane of it) for one mapping,
    and carries every batch to its end. Positions (``pos``, ``checkpoint``,
    ``start_index``) count records of the source it reads.
    """

    __slots__ = (
        "_close_timer",
        "_grid0_ms",
        "_poll_timer",
        "_retry_timer",
        "_stopping",
        "_window_deadline_ms",
        "batch",
        "checkpoint",
        "gather",
        "gather_exact",
        "gather_json",
        "halves",
        "lane",
        "pos",
        "runtime",
        "shard",
        "start_index",
        "state",
        "tw_end_ms",
        "tw_origin_ms",
        "tw_records",
        "tw_start_ms",
        "tw_state_json",
        "tw_timer",
    )

    def __init__(
        self, runtime: MappingRuntime, shard: Source, start_index: int, lane: int = 0
    ) -> None:
        self.runtime = runtime
        self.shard = shard
        self.lane = lane
        self.start_index = start_index  # records before it are not this mapping's (LATEST)
        self.pos = start_index  # next record to read
        self.checkpoint = start_index  # every record before it has reached its fate
        self.state = STOPPED
        self.gather: list[Record] = []
        # Upper bounds of the gathered records' JSON lengths, and their exact sum
        # once it is needed (-1 until then: only near the 6 MB cap).
        self.gather_json = 0
        self.gather_exact = -1
        self.batch: Batch | None = None
        self.halves: list[Batch] = []  # bisect: halves still to do, next on top
        self._grid0_ms = 0
        self._window_deadline_ms = -1
        self._poll_timer: int | None = None
        self._close_timer: int | None = None
        self._retry_timer: int | None = None
        self._stopping = False
        # The open tumbling window: bounds, running state (as JSON text), and the
        # records delivered to it that wait for its final invocation.
        self.tw_start_ms = -1
        self.tw_end_ms = -1
        self.tw_state_json = "{}"
        self.tw_records: list[Record] = []
        self.tw_timer: int | None = None
        # Where window bounds are counted from: the epoch (0), or, with
        # tumbling_window_alignment "first-record", the first record read (-1 until then).
        self.tw_origin_ms = 0 if runtime.behaviour.tumbling_window_alignment == "epoch" else -1

    def __repr__(self) -> str:
        return f"<ShardReader {self.shard.shard_id}/{self.lane} {self.state} pos={self.pos}>"

    # -- lifecycle -------------------------------------------------------------

    def _set_state(self, state: str) -> None:
        was_busy = self.state not in (STOPPED, IDLE)
        now_busy = state not in (STOPPED, IDLE)  # WINDOW_WAIT is busy: records wait
        if was_busy != now_busy:
            self.runtime.busy_changed(+1 if now_busy else -1)
        self.state = state

    def start(self) -> None:
        """Begin reading from the checkpoint (the mapping now reports Enabled)."""
        self._stopping = False
        if self.state != STOPPED:
            return
        self.pos = self.checkpoint
        self._grid0_ms = self.runtime.now_ms()
        self._schedule_poll(self._grid0_ms)

    def stop(self) -> None:
        """
        Stop reading (the mapping reports Disabled, or is being deleted).

        An invocation in flight finishes and its result is applied; everything
        not yet invoked is forgotten, and a later start reads again from the
        checkpoint, so a disable/enable cycle neither skips nor repeats a record.
        """
        self._cancel_timers()
        if self.state == INVOKING:
            self._stopping = True
            return
        self._reset_to_checkpoint()
        self._set_state(STOPPED)

    def reconfigured(self) -> None:
        """
        New settings took effect (an update settled): a batch being gathered is
        gathered again under them, so a shorter window or a smaller BatchSize
        applies at once.
        """
        if self.state != WINDOW or not self.gather:
            return
        self._cancel_timers()
        first = self.shard.index_of(self.gather[0][SEQ])
        if first is not None:
            self.pos = first
        self.gather = []
        self.gather_json = 0
        self.gather_exact = -1
        self._window_deadline_ms = -1
        self._schedule_poll(self.runtime.now_ms())

    def _reset_to_checkpoint(self) -> None:
        self.gather = []
        self.gather_json = 0
        self.gather_exact = -1
        self.batch = None
        self.halves = []
        self.pos = self.checkpoint
        self._window_deadline_ms = -1
        self._close_tumbling_window()

    def _close_tumbling_window(self) -> None:
        if self.tw_timer is not None:
            self.runtime.scheduler.cancel(self.tw_timer)
        self.tw_timer = None
        self.tw_start_ms = self.tw_end_ms = -1
        self.tw_state_json = "{}"
        self.tw_records = []

    def _cancel_timers(self) -> None:
        sched = self.runtime.scheduler
        for handle in (self._poll_timer, self._close_timer, self._retry_timer):
            if handle is not None:
                sched.cancel(handle)
        self._poll_timer = self._close_timer = self._retry_timer = None
        self.shard.unwait(self._on_append)

    # -- polling ---------------------------------------------------------------

    def _next_tick(self, t_ms: int) -> int:
        step = self.runtime.behaviour.poll_interval_ms
        if step <= 0:
            return t_ms
        g = self._grid0_ms
        return g - ((g - t_ms) // step) * step  # the first grid tick at or after t_ms

    def _schedule_poll(self, at_ms: int) -> None:
        self._set_state(POLLING if self.state != WINDOW else WINDOW)
        self._poll_timer = self.runtime.scheduler.call_at(at_ms, self._poll)

    def _on_append(self) -> None:
        # The shard woke us: poll at the next tick of the 250 ms grid.
        if self.state in (IDLE, WINDOW_WAIT):
            self._schedule_poll(self._next_tick(self.runtime.now_ms()))
        elif self.state == WINDOW and self._poll_timer is None:
            self._poll_timer = self.runtime.scheduler.call_at(
                self._next_tick(self.runtime.now_ms()), self._poll
            )

    def _settle_checkpoint(self) -> None:
        # Everything read is final, unless it waits in an open tumbling window.
        if not self.tw_records:
            self.checkpoint = max(self.checkpoint, self.pos)

    def finished(self) -> bool:
        """Whether the shard is sealed and every record of it reached its fate here."""
        return self.shard.closed_ms is not None and self.checkpoint >= self.shard.end

    def _go_idle(self) -> None:
        self._settle_checkpoint()
        # A window that only a later record can close (tumbling_window_close
        # "record") waits on the shard like an idle reader: not busy.
        waits = bool(self.tw_records) and self.runtime.behaviour.tumbling_window_close == "clock"
        self._set_state(WINDOW_WAIT if waits else IDLE)
        if self.finished():
            # spec 7.1: a sealed shard read to its end lets its children start.
            self.runtime.reader_finished(self)
            return
        self.shard.wait(self._on_append)

    # -- tumbling windows (spec 6) -----------------------------------------------

    def _window_of(self, record: Record) -> int:
        # spec 6.1: bounds come from ApproximateCreationDateTime (whole seconds),
        # aligned to the epoch, or to the first record read (I: tw_origin_ms).
        size = self.runtime.config.tumbling_window_ms
        seconds_ms = record[CREATED_MS] - record[CREATED_MS] % 1000
        return seconds_ms - (seconds_ms - self.tw_origin_ms) % size

    def _open_tumbling_window(self, start_ms: int) -> None:
        rt = self.runtime
        self.tw_start_ms = start_ms
        self.tw_end_ms = start_ms + rt.config.tumbling_window_ms
        self.tw_state_json = "{}"  # spec 6.2 (I): the first invoke of a window gets {}
        self.tw_records = []
        # The window closes on the virtual clock at its end (api-contract default),
        # unless tumbling_window_close is "record" (spec 6.3, I).
        if rt.behaviour.tumbling_window_close == "clock":
            self.tw_timer = rt.scheduler.call_at(self.tw_end_ms, self._on_tumbling_end)

    def _on_tumbling_end(self) -> None:
        self.tw_timer = None
        if self.state in (IDLE, WINDOW_WAIT):
            self.shard.unwait(self._on_append)
            self._schedule_poll(self.runtime.now_ms())

    def _tumbling_window_due(self) -> bool:
        """Whether the open tumbling window must get its final invocation now."""
        if self.tw_start_ms < 0 or not (self.tw_records or self.tw_state_json != "{}"):
            return False
        pos, shard = self.pos, self.shard
        if pos < shard.end and self._window_of(shard.at(pos)) == self.tw_start_ms:
            return False  # records of this window are still to be read
        if self.shard.closed_ms is not None and self.pos >= self.shard.end:
            return True  # spec 6.1: when a shard ends, its window is closed
        if self.runtime.behaviour.tumbling_window_close == "record":
            return pos < shard.end  # spec 6.3 (I): a record of a later window was read
        return self.runtime.now_ms() >= self.tw_end_ms

    def _invoke_final(self, *, early: bool) -> None:
        self._cancel_timers()
        self.batch = Batch([], final=True, early=early)
        self._attempt()

    def window_info(self, batch: Batch) -> tuple[int, int, str, bool, bool] | None:
        """What the event adds for a tumbling window: bounds, state, final and early flags."""
        if self.tw_start_ms < 0:
            return None
        return (self.tw_start_ms, self.tw_end_ms, self.tw_state_json, batch.final, batch.early)

    def _read(self) -> bool:
        """
        One GetRecords call into ``gather``; returns True when the batch is full.

        Trimmed records are expired on the way (spec 7.1); records that do not
        match the filter criteria are skipped and count as filtered (spec 8:
        filtering happens before batching).
        """
        rt = self.runtime
        cfg = rt.config
        now = rt.now_ms()
        shard = self.shard
        live = shard.first_live(self.pos, now - rt.behaviour.retention_ms)
        if live > self.pos:
            rt.expire(self, shard.slice(self.pos, live))
            self.pos = live
        end = shard.end
        limit = min(GET_RECORDS_MAX_RECORDS, cfg.batch_size - len(self.gather))
        filters = cfg.filters
        tumbling = cfg.tumbling_window_ms > 0
        if tumbling and self.tw_origin_ms < 0 and self.pos < end:
            # spec 6.1 (I): windows counted from the first record this reader reads.
            created = shard.at(self.pos)[CREATED_MS]
            self.tw_origin_ms = created - created % 1000
        render = None
        if filters is not None:
            render = rt.table.format.render
        exact_len = rt.table.format.record_json_len
        gather = self.gather
        read = read_bytes = 0
        full = False
        filtered: list[Record] = []
        pos = self.pos
        # One slice per GetRecords call rather than a lookup per record.
        records = shard.slice(pos, min(end, pos + limit))
        if records and not tumbling and filters is None and self.gather_exact < 0:
            # The common case, decided for the whole call at C speed: when even
            # the records' JSON upper bounds keep the payload under 6 MB and
            # their sizes stay within 1 MB, the record-by-record loop below
            # would take them all.
            bound = sum(map(_JSON_BOUND_OF, records))
            if (
                sum(map(_SIZE_OF, records)) <= GET_RECORDS_MAX_BYTES
                and payload_len(self.gather_json + bound, len(gather) + len(records))
                <= MAX_SYNC_PAYLOAD_BYTES
            ):
                gather.extend(records)
                self.gather_json += bound
                self.pos = pos + len(records)
                return len(gather) >= cfg.batch_size
        for rec in records:
            if read and read_bytes + rec[SIZE_BYTES] > GET_RECORDS_MAX_BYTES:
                break
            if tumbling:
                window = self._window_of(rec)
                if self.tw_start_ms < 0:
                    self._open_tumbling_window(window)
                elif window != self.tw_start_ms:
                    if gather or self.tw_records or self.tw_state_json != "{}":
                        full = bool(gather)  # spec 6: a batch never mixes windows
                        break
                    # Nothing reached the old window (all filtered): just move on.
                    self._close_tumbling_window()
                    self._open_tumbling_window(window)
            if (
                gather
                and payload_len(self.gather_json + rec[JSON_BOUND], len(gather) + 1)
                > MAX_SYNC_PAYLOAD_BYTES
            ):
                # Near the cap the bounds are not enough: decide on exact lengths.
                if self.gather_exact < 0:
                    self.gather_exact = sum(exact_len(r) for r in gather)
                if (
                    payload_len(self.gather_exact + exact_len(rec), len(gather) + 1)
                    > MAX_SYNC_PAYLOAD_BYTES
                ):
                    full = True  # spec 2: the 6 MB payload closes the batch
                    break
            read += 1
            read_bytes += rec[SIZE_BYTES]
            pos += 1
            if render is not None and filters is not None and not filters.matches(render(rec)):
                filtered.append(rec)
                continue
            gather.append(rec)
            self.gather_json += rec[JSON_BOUND]
            if self.gather_exact >= 0:
                self.gather_exact += exact_len(rec)
        self.pos = pos
        if filtered:
            rt.filtered(self, filtered)
            if not gather:
                self._settle_checkpoint()
        return full or len(gather) >= cfg.batch_size

    def _read_throttled(self) -> bool:
        """spec 7.4 (I): too many mappings read this shard within the last second."""
        rt = self.runtime
        limit = rt.behaviour.max_readers_per_shard
        if not limit:
            return False
        shard = self.shard.shard if isinstance(self.shard, LaneView) else self.shard
        now = rt.now_ms()
        recent = shard.recent_readers
        others = sum(1 for uuid, at in recent.items() if uuid != rt.uuid and at > now - 1000)
        if others >= limit:
            rt.read_throttled(self)
            self._schedule_poll(now + max(rt.behaviour.poll_interval_ms, 1))
            return True
        recent[rt.uuid] = now
        return False

    def _poll(self) -> None:
        self._poll_timer = None
        if self._read_throttled():
            return
        if self._tumbling_window_due() and not self.gather:
            self._invoke_final(early=False)
            return
        full = self._read()
        rt = self.runtime
        calls = rt.behaviour.get_records_per_poll
        while calls > 1 and not full and self.pos < self.shard.end:
            # spec 2, 12.7 (I): more GetRecords calls in the same poll.
            calls -= 1
            before = self.pos
            full = self._read()
            if self.pos == before:
                break  # stopped at a tumbling window's edge
        now = rt.now_ms()
        window_ms = rt.config.maximum_batching_window_ms
        more = self.pos < self.shard.end
        if self.gather:
            if window_ms == 0 or full:
                self._invoke_gathered()
                return
            if self._window_deadline_ms < 0:
                # spec 2: the first read with records opens the batching window.
                self._window_deadline_ms = now + window_ms
                self._close_timer = rt.scheduler.call_at(
                    self._window_deadline_ms, self._close_window
                )
            self._set_state(WINDOW)
            if more:
                self._poll_timer = rt.scheduler.call_at(
                    now + max(rt.behaviour.poll_interval_ms, 1), self._poll
                )
            else:
                self.shard.wait(self._on_append)
            return
        if self._tumbling_window_due():
            self._invoke_final(early=False)
        elif more:
            self._schedule_poll(now + max(rt.behaviour.poll_interval_ms, 1))
        else:
            self._go_idle()

    def _close_window(self) -> None:
        self._close_timer = None
        if self._poll_timer is not None:
            self.runtime.scheduler.cancel(self._poll_timer)
            self._poll_timer = None
        self._read()  # a last GetRecords call as the window ends
        self._invoke_gathered()

    # -- invoking ----------------------------------------------------------------

    def _invoke_gathered(self) -> None:
        self._cancel_timers()
        self._window_deadline_ms = -1
        batch = Batch(self.gather)
        batch.end_pos = self.pos
        self.gather = []
        self.gather_json = 0
        self.gather_exact = -1
        self.batch = batch
        self._attempt()

    def _attempt(self) -> None:
        """Try the current batch once: age checks, concurrency, then the function."""
        self._retry_timer = None
        rt = self.runtime
        batch = self.batch
        assert batch is not None
        now = rt.now_ms()
        records = batch.records
        if batch.final:
            self._attempt_invoke(batch)
            return
        # spec 7.1 / 3.2: with -1/-1, retries end when the records leave the stream.
        cutoff = now - rt.behaviour.retention_ms
        k = 0
        while k < len(records) and records[k][CREATED_MS] <= cutoff:
            k += 1
        if k:
            rt.expire(self, records[:k])
            records = batch.records = records[k:]
        # spec 3.2/3.3: records past MaximumRecordAgeInSeconds are split off and
        # discarded alone, before invocation or between retries; the rest goes on.
        max_age = rt.config.maximum_record_age_ms
        if max_age >= 0 and records:
            cutoff = now - max_age
            k = 0
            while k < len(records) and records[k][CREATED_MS] < cutoff:
                k += 1
            if k:
                rt.discard(
                    self,
                    records[:k],
                    condition="RecordAgeExceeded",
                    # spec 3.3 (I, from O): invocations so far, and 1 for a record
                    # that expired before it was ever sent (record_age_min_invoke_count).
                    invoke_count=max(rt.behaviour.record_age_min_invoke_count, batch.invocations),
                    function_error=None,
                    with_response_context=False,
                )
                records = batch.records = records[k:]
        if not records:
            self._batch_done()
            return
        self._attempt_invoke(batch)

    def _attempt_invoke(self, batch: Batch) -> None:
        rt = self.runtime
        records = batch.records
        # spec 3.1: throttles and service errors happen before invocation and
        # never count against MaximumRetryAttempts.
        refusal = rt.admit(self)
        if refusal is not None:
            batch.throttles += 1
            self._wait(rt.behaviour.backoff_ms(batch.throttles))
            return
        batch.throttles = 0
        batch.invocations += 1
        self._set_state(INVOKING)
        rt.invoke(self, records)

    def _wait(self, delay_ms: int) -> None:
        self._set_state(BACKOFF)
        self._retry_timer = self.runtime.scheduler.call_later(delay_ms, self._attempt)

    def on_result(self, invocation: Invocation) -> None:
        """Apply the outcome of the invocation of the current batch."""
        rt = self.runtime
        batch = self.batch
        assert batch is not None
        cfg = rt.config
        if invocation.error is not None:
            rt.set_last_processing_result("PROBLEM: Function call failed")
            if batch.final:
                self._failed(batch, function_error=invocation.error)
                return
            if cfg.bisect_batch_on_function_error and len(batch.records) > 1:
                self._split(batch)
                return
            self._failed(batch, function_error=invocation.error)
            return
        state_json = None
        if self.tw_start_ms >= 0:
            # spec 6.3: the response must hold a state object, or the invocation failed.
            response = invocation.response_json
            state = response.get("state") if isinstance(response, dict) else None
            if not isinstance(state, dict):
                rt.set_last_processing_result("PROBLEM: Function call failed")
                self._failed(batch, function_error=None)
                return
            state_json = json.dumps(state, separators=(",", ":"))
            if batch.final:
                self._final_done(batch)
                return
        if cfg.report_batch_item_failures:
            seqs = [str(r[SEQ]) for r in batch.records]
            verdict = judge_item_failures(
                invocation.response_json,
                seqs,
                non_object_fails=rt.behaviour.non_object_response == "failure",
            )
            if verdict is not None:
                rt.set_last_processing_result("PROBLEM: Function call failed")
                if verdict in (COMPLETE_FAILURE, 0):
                    # spec 4: a complete failure, or a partial one with no progress,
                    # is a failed attempt of the same batch.
                    self._failed(batch, function_error=None)
                    return
                # spec 4: the checkpoint moves to the lowest reported record; it
                # and everything after it is retried. In a tumbling window the
                # good records join the window and its state (I).
                self._done_records(batch.records[:verdict], state_json)
                batch.records = batch.records[verdict:]
                batch.invocations = 0
                if rt.behaviour.partial_progress_resets_retries:
                    batch.retries = 0  # spec 4 (I, read from O): a fresh attempt count
                else:
                    batch.retries += 1
                if self._check_stopping():
                    return
                self._wait(rt.behaviour.partial_retry_wait_ms())
                return
        rt.set_last_processing_result("OK")
        self._done_records(batch.records, state_json)
        if len(self.tw_state_json) > MAX_WINDOW_STATE_BYTES:
            # spec 6.1: a state over 1 MB ends the window early.
            self._end_window_early()
            return
        if rt.duplicates and rt.take_duplicate():
            # spec 3.7 (I): an injected duplicate of this delivered batch, made
            # before the reader moves on; the records' fates stand.
            self._set_state(INVOKING)
            rt.invoke_duplicate(self, invocation)
            return
        self._batch_done()

    def duplicate_done(self) -> None:
        """An injected duplicate delivery returned: go on as after the original's success."""
        self._batch_done()

    def _end_window_early(self) -> None:
        """End the tumbling window early, once any bisect halves are done (spec 6.1)."""
        if self.halves:
            self._batch_done()
            return
        self._invoke_final(early=True)

    def _done_records(self, records: list[Record], state_json: str | None) -> None:
        if state_json is None:
            self.runtime.processed(self, records)
            return
        self.tw_state_json = state_json
        self.tw_records.extend(records)

    def _final_done(self, batch: Batch) -> None:
        # spec 6.3: after the final invocation succeeds, the window's records are
        # checkpointed and the state dropped.
        rt = self.runtime
        rt.set_last_processing_result("OK")
        records = self.tw_records
        start = self.tw_start_ms
        self._close_tumbling_window()
        if records:
            rt.processed(self, records)
        if batch.early:
            # The same window goes on with a fresh state (I).
            self._open_tumbling_window(start)
        self._batch_done()

    def _split(self, batch: Batch) -> None:
        # spec 3.4: split in two and retry each half; splitting uses no retry.
        rt = self.runtime
        mid = bisect_halves(len(batch.records), first_larger=rt.behaviour.bisect_first_half_larger)
        retries = 0 if rt.behaviour.bisect_resets_retries else batch.retries
        first = Batch(batch.records[:mid], retries)
        second = Batch(batch.records[mid:], retries)
        second.end_pos = batch.end_pos  # same last record: its end position is known too
        rt.trace_split(self, first.records, second.records)
        if rt.behaviour.bisect_first_half_first:
            self.halves.append(second)
            self.batch = first
        else:
            self.halves.append(first)
            self.batch = second
        if self._check_stopping():
            return
        self._attempt()

    def _failed(self, batch: Batch, function_error: str | None) -> None:
        rt = self.runtime
        batch.retries += 1
        limit = rt.config.maximum_retry_attempts
        if limit != -1 and batch.retries > limit:
            # spec 3.2/3.5: N retries after the first attempt, then discard. A
            # window's final invocation takes the window's records with it (I).
            records = batch.records
            if batch.final:
                records = self.tw_records
                self._close_tumbling_window()
                if not records:
                    self._batch_done()
                    return
            rt.discard(
                self,
                records,
                condition="RetryAttemptsExhausted",
                invoke_count=batch.invocations,
                function_error=function_error,
                with_response_context=True,
            )
            self._batch_done()
            return
        if self._check_stopping():
            return
        self._wait(rt.behaviour.backoff_ms(batch.retries))

    def _check_stopping(self) -> bool:
        if not self._stopping:
            return False
        self._stopping = False
        self._reset_to_checkpoint()
        self._set_state(STOPPED)
        return True

    def _batch_done(self) -> None:
        if self.halves:
            self.batch = self.halves.pop()
            if self._check_stopping():
                return
            self._attempt()
            return
        self.batch = None
        self._settle_checkpoint()
        if self._check_stopping():
            return
        # spec 2: after a batch, keep reading until caught up.
        if self.pos < self.shard.end or self._tumbling_window_due():
            self._schedule_poll(self.runtime.now_ms())
        else:
            self._go_idle()

    def advance_checkpoint(self, records: list[Record]) -> None:
        """Move the checkpoint past these records (now at their fate)."""
        if self.tw_records:
            return  # earlier records wait for their window's final invocation
        batch = self.batch
        if batch is not None and batch.end_pos >= 0 and records[-1] is batch.last:
            # The batch as first read: its end position is known, no search needed.
            self.checkpoint = max(self.checkpoint, batch.end_pos)
            return
        seq = records[-1][SEQ]
        source = self.shard
        guess = self.checkpoint + len(records) - 1  # they usually start at the checkpoint
        if 0 <= guess < source.end and source.at(guess)[SEQ] == seq:
            self.checkpoint = guess + 1
            return
        index = source.index_of(seq)
        if index is not None:
            self.checkpoint = max(self.checkpoint, index + 1)
