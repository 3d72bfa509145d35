"""
The shard reader: one per (mapping, shard, lane). Polls, batches, invokes, retries, bisects.

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
at the next grid tick. Each poll is one GetRecords call (``gather.py``);
``get_records_per_poll`` allows more calls while the batch is not full and
records remain (spec 12.7, I). With ``MaximumBatchingWindowInSeconds`` 0 a
poll that returns records invokes at once; otherwise the first poll with
records opens a window, and the batch goes when the window ends or
``BatchSize`` / 6 MB is reached.

Every decision about an answer is made by ``policies.py`` and recorded by the
runtime; the reader carries it out.

Positions and the checkpoint. Positions count records of the source the
reader reads (a shard, or one lane of it). Each batch covers a span of
positions ``[start, end)``: its records and the records filtered among them.
When a span is finished (processed, discarded, expired) the checkpoint, the
lowest position not yet final, moves over it; a span finished out of order
(bisect's second half first, a record discarded inside an open tumbling
window) waits in ``ahead`` until the gap before it closes. A record that
reached a final fate is never read again (``final_hi``: below it, reads look
each record up in the ledger), so a disable/enable cycle or an update that
re-reads from the checkpoint neither repeats nor re-judges a final record.

Tumbling windows (spec 6, ``windows.py``): the final invocation is made once
the virtual clock has passed the window's end and no unread record of the
window is left (or when the shard ends; with ``tumbling_window_close``
"record", only once a record of a later window has been read, I). It carries
no records (I), obeys retries, record age and retention like any batch, and
when every record of the window has left the stream or aged out, the window
ends without it (I). Changing the window size by an update restarts the
reader from its checkpoint under the new size: the open window's records are
read again (I).

Injected duplicates (spec 3.7, I): after a batch the mapping takes as a complete
success, a pending ``Simulation.inject_duplicate_deliveries`` sends its event once
more before the reader moves on; the duplicate's response is ignored.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Protocol

from esm_sim._mapping.gather import GET_RECORDS_MAX_BYTES, GET_RECORDS_MAX_RECORDS, Gathering
from esm_sim._mapping.lanes import LaneView
from esm_sim._mapping.policies import (
    FAILURE,
    PARTIAL,
    Discard,
    Split,
    Verdict,
    after_failure,
    aged_prefix,
    backoff_ms,
    expired_prefix,
)
from esm_sim._mapping.windows import TumblingWindow
from esm_sim._streams.records import SEQ, SIZE_BYTES, Record
from esm_sim._streams.shard import Shard

if TYPE_CHECKING:
    from esm_sim._engine.scheduler import Scheduler
    from esm_sim._mapping.config import Behaviour, MappingConfig
    from esm_sim._mapping.fates import Ledger
    from esm_sim._streams.table import Table

STOPPED = "stopped"
IDLE = "idle"
POLLING = "polling"
WINDOW = "window"
WINDOW_WAIT = "window-wait"  # caught up, a tumbling window waits for its end
INVOKING = "invoking"
BACKOFF = "backoff"

Span = tuple[int, int]

# What the runtime tells a reader of an invocation it sent (no Invocation object
# is made for it): request id, started and ended ms, the function error, its
# type and message (None for none), and the event's renderer (for a duplicate).
Sent = tuple[str, int, int, "str | None", "str | None", "str | None", Callable[[], dict[str, Any]]]
SENT_ERROR: Final = 3


class Batch:
    """A batch on its way through the function: its records, its span and its counters."""

    __slots__ = (
        "early",
        "end",
        "final",
        "invocations",
        "records",
        "request_id",
        "retries",
        "start",
        "throttles",
    )

    def __init__(
        self,
        records: list[Record],
        start: int,
        end: int,
        retries: int = 0,
        *,
        final: bool = False,
        early: bool = False,
    ) -> None:
        self.records = records
        self.start = start  # the span of reader positions the batch covers
        self.end = end
        self.final = final  # a tumbling window's final invocation (no records)
        self.early = early  # ... ended early because the state passed 1 MB
        self.retries = retries  # function-error retries used (MaximumRetryAttempts)
        self.invocations = 0  # invocations of exactly these records (approximateInvokeCount)
        self.throttles = 0  # consecutive throttles (backoff only; never counted as retries)
        self.request_id: str | None = None  # of its last invocation


Source = Shard | LaneView  # what a reader reads: a whole shard, or one lane of it


class ReaderHost(Protocol):
    """
    What a reader needs from its mapping (``MappingRuntime`` provides it): the
    settings and clock, and the side effects the reader asks for by name.
    """

    uuid: str
    config: MappingConfig
    behaviour: Behaviour
    scheduler: Scheduler
    table: Table
    ledger: Ledger
    duplicates: dict[str, int]

    def now_ms(self) -> int: ...
    def busy_changed(self, delta: int) -> None: ...
    def set_last_processing_result(self, text: str) -> None: ...
    def reader_finished(self, reader: ShardReader) -> None: ...
    def reader_stopped(self, reader: ShardReader) -> None: ...
    def admit(self, reader: ShardReader) -> str | None: ...
    def invoke(self, reader: ShardReader, records: list[Record]) -> None: ...
    def take_duplicate(self) -> bool: ...
    def invoke_duplicate(self, reader: ShardReader, original: Sent) -> None: ...
    def processed(self, reader: ShardReader, records: list[Record], spans: list[Span]) -> None: ...
    def filtered(self, reader: ShardReader, runs: list[list[Record]]) -> None: ...
    def expire(self, reader: ShardReader, records: list[Record], spans: list[Span]) -> None: ...
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
    ) -> None: ...
    def read_throttled(self, reader: ShardReader) -> None: ...
    def released(self, reader: ShardReader, records: list[Record]) -> None: ...
    def trace_split(
        self, reader: ShardReader, first: list[Record], second: list[Record]
    ) -> None: ...


class ShardReader:
    """
    Reads one shard (or one ParallelizationFactor lane of it) for one mapping,
    and carries every batch to its end.
    """

    __slots__ = (
        "_close_timer",
        "_grid0_ms",
        "_interrupt",
        "_poll_timer",
        "_retry_timer",
        "_tw_timer",
        "_window_deadline_ms",
        "ahead",
        "batch",
        "checkpoint",
        "final_hi",
        "gathering",
        "halves",
        "lane",
        "pos",
        "retired",
        "runtime",
        "shard",
        "start_index",
        "state",
        "window",
    )

    def __init__(self, runtime: ReaderHost, shard: Source, start_index: int, lane: int = 0) -> None:
        self.runtime = runtime
        self.shard = shard
        self.lane = lane
        self.start_index = start_index  # records before it are not this mapping's (LATEST)
        self.pos = start_index  # next record to read
        self.checkpoint = start_index  # every record before it has reached its fate
        self.ahead: list[Span] = []  # spans finished beyond the checkpoint, by start
        self.final_hi = start_index  # records below it may be final already: look them up
        self.state = STOPPED
        self.gathering = Gathering(runtime.table.format.record_json_len)
        self.batch: Batch | None = None
        self.halves: list[Batch] = []  # bisect: halves still to do, next on top
        self.window = self._new_window()
        self._grid0_ms = 0
        self._window_deadline_ms = -1
        self._poll_timer: int | None = None
        self._close_timer: int | None = None
        self._retry_timer: int | None = None
        self._tw_timer: int | None = None
        # What to do once the invocation in flight returns: "stop", "restart", or
        # "retire" (stop for good: an update changed the lanes, spec 5).
        self._interrupt: str | None = None
        self.retired = False  # replaced by the readers of a new ParallelizationFactor

    def __repr__(self) -> str:
        return f"<ShardReader {self.shard.shard_id}/{self.lane} {self.state} pos={self.pos}>"

    def _new_window(self) -> TumblingWindow | None:
        size = self.runtime.config.tumbling_window_ms
        if size <= 0:
            return None
        return TumblingWindow(
            size, epoch_aligned=self.runtime.behaviour.tumbling_window_alignment == "epoch"
        )

    # -- lifecycle -------------------------------------------------------------

    def _set_state(self, state: str) -> None:
        was_busy = self.state not in (STOPPED, IDLE)
        now_busy = state not in (STOPPED, IDLE)  # WINDOW_WAIT is busy: records wait
        if was_busy != now_busy:
            self.runtime.busy_changed(+1 if now_busy else -1)
        self.state = state

    def start(self) -> None:
        """Begin reading from the checkpoint (the mapping now reports Enabled)."""
        if self.retired:
            return
        if self._interrupt == "stop":
            self._interrupt = None
        if self.state != STOPPED:
            return
        self.pos = self.checkpoint
        self._grid0_ms = self.runtime.now_ms()
        self._schedule_poll(self._grid0_ms)

    def stop(self) -> None:
        """
        Stop reading (the mapping reports Disabled, or is being deleted).

        An invocation in flight finishes and its result is applied; everything
        not yet final is forgotten, and a later start reads again from the
        checkpoint, skipping records already final, so a disable/enable cycle
        neither skips nor repeats a final record.
        """
        self._cancel_timers()
        if self.state == INVOKING:
            if self._interrupt != "retire":
                self._interrupt = "stop"
            return
        self._reset_to_checkpoint()
        self._set_state(STOPPED)

    def retire(self) -> None:
        """
        Stop for good, once any invocation in flight has returned and its result
        is applied (an update changed ParallelizationFactor: new readers take
        over from the checkpoint); then the mapping is told (``reader_stopped``).
        """
        self.retired = True
        self._cancel_timers()
        if self.state == INVOKING:
            self._interrupt = "retire"
            return
        self._reset_to_checkpoint()
        self._set_state(STOPPED)
        self.runtime.reader_stopped(self)

    def reconfigured(self) -> None:
        """
        New settings took effect (an update settled). A new tumbling window size
        restarts the reader from its checkpoint (the open window's records are
        read again, I); a batch being gathered is gathered again, so a shorter
        window, a smaller BatchSize or new filters apply at once.
        """
        if self.retired:
            return
        size = self.runtime.config.tumbling_window_ms
        if (self.window.size_ms if self.window is not None else 0) != size:
            if self.state == INVOKING:
                self._interrupt = self._interrupt or "restart"
            elif self.state == STOPPED:
                self._reset_to_checkpoint()
            else:
                self._restart()
            return
        if self.state != WINDOW or not self.gathering:
            return
        self._cancel_timers()
        self.pos = self.gathering.start
        self.gathering.clear()
        self._window_deadline_ms = -1
        self._schedule_poll(self.runtime.now_ms())

    def _restart(self) -> None:
        self._cancel_timers()
        self._reset_to_checkpoint()
        self._schedule_poll(self.runtime.now_ms())

    def _reset_to_checkpoint(self) -> None:
        window = self.window
        if window is not None and window.holds:
            # Not committed: the window's records are read again from the checkpoint.
            self.runtime.released(self, window.records)
        self.gathering.clear()
        self.batch = None
        self.halves = []
        self.pos = self.checkpoint
        self._window_deadline_ms = -1
        self._cancel_window_timer()
        self.window = self._new_window()

    def _cancel_window_timer(self) -> None:
        if self._tw_timer is not None:
            self.runtime.scheduler.cancel(self._tw_timer)
        self._tw_timer = None

    def _cancel_timers(self) -> None:
        sched = self.runtime.scheduler
        for handle in (self._poll_timer, self._close_timer, self._retry_timer):
            if handle is not None:
                sched.cancel(handle)
        self._poll_timer = self._close_timer = self._retry_timer = None
        self.shard.unwait(self._on_append)

    # -- positions and the checkpoint ------------------------------------------

    def finish(self, span: Span) -> None:
        """Every record of ``span`` is final: move the checkpoint over it when it can."""
        a, b = span
        if b <= self.checkpoint:
            return
        if a > self.checkpoint:
            insort(self.ahead, span)
            self.final_hi = max(self.final_hi, b)
            return
        checkpoint = b
        ahead = self.ahead
        while ahead and ahead[0][0] <= checkpoint:
            checkpoint = max(checkpoint, ahead.pop(0)[1])
        self.checkpoint = checkpoint

    def note_final(self, end: int) -> None:
        """Records below ``end`` may now be final out of order: reads look them up."""
        self.final_hi = max(self.final_hi, end)

    def position_of(self, record: Record) -> int:
        """The reader position of one of its records."""
        index = self.shard.index_of(record[SEQ])
        assert index is not None, "a batch's record is in its source"
        return index

    def _settle(self) -> None:
        # Nothing read is waiting (no batch, halves, gathering or window): every
        # record read is final, so the checkpoint may pass them all.
        window = self.window
        if (
            self.batch is None
            and not self.halves
            and not self.gathering
            and (window is None or not window.holds)
        ):
            self.finish((self.checkpoint, self.pos))

    def finished(self) -> bool:
        """Whether the shard is sealed and every record of it reached its fate here."""
        return self.shard.closed_ms is not None and self.checkpoint >= self.shard.end

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

    def _go_idle(self) -> None:
        self._settle()
        # A window that only a later record can close (tumbling_window_close
        # "record") waits on the shard like an idle reader: not busy.
        window = self.window
        waits = (
            window is not None
            and window.holds
            and self.runtime.behaviour.tumbling_window_close == "clock"
        )
        self._set_state(WINDOW_WAIT if waits else IDLE)
        if self.finished():
            # spec 7.1: a sealed shard read to its end lets its descendants start.
            self.runtime.reader_finished(self)
            return
        self.shard.wait(self._on_append)

    def _read(self) -> bool:
        """
        One GetRecords call into the gathering; returns True when the batch is full.

        Trimmed records are expired on the way (spec 7.1); records that do not
        match the filter criteria are skipped and count as filtered (spec 8:
        filtering happens before batching); records already final are passed over.
        """
        rt = self.runtime
        cfg = rt.config
        shard = self.shard
        pos = self.pos
        live = shard.first_live(pos, rt.now_ms() - rt.behaviour.retention_ms)
        if live > pos:
            rt.expire(self, shard.slice(pos, live), [(pos, live)])
            pos = self.pos = live
        gathering = self.gathering
        limit = min(GET_RECORDS_MAX_RECORDS, cfg.batch_size - len(gathering))
        # One slice per GetRecords call rather than a lookup per record.
        records = shard.slice(pos, min(shard.end, pos + limit))
        window = self.window
        filters = cfg.filters
        if (
            records
            and window is None
            and filters is None
            and pos >= self.final_hi
            and gathering.fits_whole_call(records)
        ):
            # The common case: the whole call joins the batch.
            gathering.extend(records, pos)
            self.pos = pos + len(records)
            return len(gathering) >= cfg.batch_size
        final = rt.ledger.entries if pos < self.final_hi else None
        render = rt.table.format.render if filters is not None else None
        start = pos
        read = read_bytes = 0
        full = False
        # Filtered records in runs of neighbours: each run is one trace row, so a
        # row's first..last span holds only records it filtered (a record gathered
        # between two filtered ones is not among them).
        filtered: list[list[Record]] = []
        run: list[Record] | None = None
        for rec in records:
            if read and read_bytes + rec[SIZE_BYTES] > GET_RECORDS_MAX_BYTES:
                break
            if final is not None and rec[SEQ] in final:
                # Already at its fate (filtered, discarded, processed out of
                # order): a final fate is never left, so never read again.
                read += 1
                read_bytes += rec[SIZE_BYTES]
                pos += 1
                run = None
                continue
            if window is not None:
                start_ms = window.window_of(rec)
                if not window.is_open:
                    self._open_window(start_ms)
                elif start_ms != window.start_ms:
                    if gathering or window.holds:
                        full = bool(gathering)  # spec 6: a batch never mixes windows
                        break
                    # Nothing reached the old window (all filtered): just move on.
                    self._close_window()
                    self._open_window(start_ms)
            if not gathering.fits(rec):
                full = True  # spec 2: the 6 MB payload closes the batch
                break
            read += 1
            read_bytes += rec[SIZE_BYTES]
            pos += 1
            if render is not None and filters is not None and not filters.matches(render(rec)):
                if run is None:
                    run = []
                    filtered.append(run)
                run.append(rec)
                continue
            run = None
            gathering.add(rec, start)
        self.pos = pos
        if filtered:
            rt.filtered(self, filtered)
            self.note_final(pos)
        if not gathering:
            self.finish((start, pos))  # everything this call read is final
        return full or len(gathering) >= cfg.batch_size

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
        if self._tumbling_window_due() and not self.gathering:
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
        if self.gathering:
            if window_ms == 0 or full:
                self._invoke_gathered()
                return
            if self._window_deadline_ms < 0:
                # spec 2: the first read with records opens the batching window.
                self._window_deadline_ms = now + window_ms
                self._close_timer = rt.scheduler.call_at(
                    self._window_deadline_ms, self._close_batching_window
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

    def _close_batching_window(self) -> None:
        self._close_timer = None
        if self._poll_timer is not None:
            self.runtime.scheduler.cancel(self._poll_timer)
            self._poll_timer = None
        self._read()  # a last GetRecords call as the window ends
        if self.gathering:
            self._invoke_gathered()
        else:  # everything left was filtered or already final
            self._window_deadline_ms = -1
            self._batch_done()

    # -- tumbling windows (spec 6) ---------------------------------------------

    def _open_window(self, start_ms: int) -> None:
        window = self.window
        assert window is not None
        window.open(start_ms)
        # The window closes on the virtual clock at its end (api-contract default),
        # unless tumbling_window_close is "record" (spec 6.3, I).
        if self.runtime.behaviour.tumbling_window_close == "clock":
            self._tw_timer = self.runtime.scheduler.call_at(window.end_ms, self._on_window_end)

    def _close_window(self) -> None:
        self._cancel_window_timer()
        if self.window is not None:
            self.window.close()

    def _on_window_end(self) -> None:
        self._tw_timer = None
        if self.state in (IDLE, WINDOW_WAIT):
            self.shard.unwait(self._on_append)
            self._schedule_poll(self.runtime.now_ms())

    def _tumbling_window_due(self) -> bool:
        """Whether the open tumbling window must get its final invocation now."""
        window = self.window
        if window is None or not window.is_open or not window.holds:
            return False
        pos, shard = self.pos, self.shard
        if pos < shard.end and window.window_of(shard.at(pos)) == window.start_ms:
            return False  # records of this window are still to be read
        if shard.closed_ms is not None and pos >= shard.end:
            return True  # spec 6.1: when a shard ends, its window is closed
        if self.runtime.behaviour.tumbling_window_close == "record":
            return pos < shard.end  # spec 6.3 (I): a record of a later window was read
        return self.runtime.now_ms() >= window.end_ms

    def _invoke_final(self, *, early: bool) -> None:
        self._cancel_timers()
        self.batch = Batch([], -1, -1, final=True, early=early)
        self._attempt()

    def window_info(self, batch: Batch) -> tuple[int, int, str, bool, bool] | None:
        """What the event adds for a tumbling window: bounds, state, final and early flags."""
        window = self.window
        if window is None or not window.is_open:
            return None
        return window.info(final=batch.final, early=batch.early)

    # -- invoking ----------------------------------------------------------------

    def _invoke_gathered(self) -> None:
        self._cancel_timers()
        self._window_deadline_ms = -1
        records, start = self.gathering.take()
        self.batch = Batch(records, start, self.pos)
        self._attempt()

    def _cut_window(self, batch: Batch) -> bool:
        """Cut a final invocation's window records past retention or age; False if none is left."""
        rt = self.runtime
        window = self.window
        assert window is not None
        now = rt.now_ms()
        # The window's spans stay open until it closes, so a record cut from it is
        # noted final: if the window is then released (a disable, an update), the
        # re-read from the checkpoint passes it over instead of judging it again.
        k = expired_prefix(window.records, now, rt.behaviour.retention_ms)
        if k:
            gone = window.drop_prefix(k)
            self.note_final(self.position_of(gone[-1]) + 1)
            rt.expire(self, gone, [])
        k = aged_prefix(window.records, now, rt.config.maximum_record_age_ms)
        if k:
            gone = window.drop_prefix(k)
            self.note_final(self.position_of(gone[-1]) + 1)
            rt.discard(
                self,
                gone,
                [],
                condition="RecordAgeExceeded",
                invoke_count=max(rt.behaviour.record_age_min_invoke_count, batch.invocations),
                function_error=None,
                with_response_context=False,
            )
        if window.holds:
            return True
        # Every record of the window left (I): it ends without its final invocation.
        spans = window.spans
        self._close_window()
        for span in spans:
            self.finish(span)
        return False

    def _attempt(self) -> None:
        """Try the current batch once: age checks, concurrency, then the function."""
        self._retry_timer = None
        rt = self.runtime
        batch = self.batch
        assert batch is not None
        if batch.final:
            if self._cut_window(batch):
                self._attempt_invoke(batch)
            else:
                self._batch_done()
            return
        now = rt.now_ms()
        records = batch.records
        # spec 7.1 / 3.2: with -1/-1, retries end when the records leave the stream.
        k = expired_prefix(records, now, rt.behaviour.retention_ms)
        if k:
            cut = self.position_of(records[k]) if k < len(records) else batch.end
            rt.expire(self, records[:k], [(batch.start, cut)])
            records = batch.records = records[k:]
            batch.start = cut
        # spec 3.2/3.3: records past MaximumRecordAgeInSeconds are split off and
        # discarded alone, before invocation or between retries; the rest goes on.
        k = aged_prefix(records, now, rt.config.maximum_record_age_ms)
        if k:
            cut = self.position_of(records[k]) if k < len(records) else batch.end
            rt.discard(
                self,
                records[:k],
                [(batch.start, cut)],
                condition="RecordAgeExceeded",
                # spec 3.3 (I, from O): invocations so far, and 1 for a record
                # that expired before it was ever sent (record_age_min_invoke_count).
                invoke_count=max(rt.behaviour.record_age_min_invoke_count, batch.invocations),
                function_error=None,
                with_response_context=False,
            )
            records = batch.records = records[k:]
            batch.start = cut
        if not records:
            self._batch_done()
            return
        self._attempt_invoke(batch)

    def _attempt_invoke(self, batch: Batch) -> None:
        rt = self.runtime
        # spec 3.1: throttles and service errors happen before invocation and
        # never count against MaximumRetryAttempts.
        refusal = rt.admit(self)
        if refusal is not None:
            batch.throttles += 1
            b = rt.behaviour
            self._wait(backoff_ms(batch.throttles, b.retry_backoff_base_ms, b.retry_backoff_max_ms))
            return
        batch.throttles = 0
        batch.invocations += 1
        self._set_state(INVOKING)
        rt.invoke(self, batch.records)

    def _wait(self, delay_ms: int) -> None:
        self._set_state(BACKOFF)
        self._retry_timer = self.runtime.scheduler.call_later(delay_ms, self._attempt)

    def on_result(self, invocation: Sent, verdict: Verdict) -> None:
        """Carry out the verdict on the invocation of the current batch (made by ``policies``)."""
        rt = self.runtime
        batch = self.batch
        assert batch is not None
        if verdict.outcome == FAILURE:
            rt.set_last_processing_result("PROBLEM: Function call failed")
            self._failed(batch, function_error=invocation[SENT_ERROR])
            return
        if batch.final:
            self._final_done(batch)
            return
        if verdict.outcome == PARTIAL:
            # spec 4: the checkpoint moves to the lowest reported record; it
            # and everything after it is retried. In a tumbling window the
            # good records join the window and its state (I).
            rt.set_last_processing_result("PROBLEM: Function call failed")
            k = verdict.resume_at
            assert k is not None
            cut = self.position_of(batch.records[k])
            self._done(batch.records[:k], (batch.start, cut), verdict.state_json)
            batch.records = batch.records[k:]
            batch.start = cut
            batch.invocations = 0
            if rt.behaviour.partial_progress_resets_retries:
                batch.retries = 0  # spec 4 (I, read from O): a fresh attempt count
            else:
                batch.retries += 1
            if self._check_interrupt():
                return
            self._wait(rt.behaviour.partial_retry_wait_ms())
            return
        rt.set_last_processing_result("OK")
        self._done(batch.records, (batch.start, batch.end), verdict.state_json)
        window = self.window
        if window is not None and window.over_size():
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

    def _done(self, records: list[Record], span: Span, state_json: str | None) -> None:
        window = self.window
        if window is None or state_json is None:
            self.runtime.processed(self, records, [span])
            return
        window.add(records, span, state_json)

    def _final_done(self, batch: Batch) -> None:
        # spec 6.3: after the final invocation succeeds, the window's records are
        # checkpointed and the state dropped.
        rt = self.runtime
        rt.set_last_processing_result("OK")
        window = self.window
        assert window is not None
        records, spans, start = window.records, window.spans, window.start_ms
        self._close_window()
        rt.processed(self, records, spans)
        if batch.early:
            self._open_window(start)  # the same window goes on with a fresh state (I)
        self._batch_done()

    def _failed(self, batch: Batch, function_error: str | None) -> None:
        rt = self.runtime
        b = rt.behaviour
        cfg = rt.config
        decision = after_failure(
            size=len(batch.records),
            retries_used=batch.retries,
            function_error=function_error is not None,
            final=batch.final,
            bisect=cfg.bisect_batch_on_function_error,
            maximum_retry_attempts=cfg.maximum_retry_attempts,
            backoff_base_ms=b.retry_backoff_base_ms,
            backoff_max_ms=b.retry_backoff_max_ms,
            first_half_larger=b.bisect_first_half_larger,
            split_resets_retries=b.bisect_resets_retries,
        )
        if isinstance(decision, Split):
            self._split(batch, decision)
            return
        if isinstance(decision, Discard):
            # spec 3.2/3.5: N retries after the first attempt, then discard. A
            # window's final invocation takes the window's records with it (I).
            if batch.final:
                window = self.window
                assert window is not None
                records, spans = window.records, window.spans
                self._close_window()
            else:
                records, spans = batch.records, [(batch.start, batch.end)]
            rt.discard(
                self,
                records,
                spans,
                condition=decision.condition,
                invoke_count=batch.invocations,
                function_error=function_error,
                with_response_context=True,
            )
            self._batch_done()
            return
        batch.retries += 1
        if self._check_interrupt():
            return
        self._wait(decision.delay_ms)

    def _split(self, batch: Batch, split: Split) -> None:
        # spec 3.4: split in two and retry each half; splitting uses no retry.
        mid = split.at
        cut = self.position_of(batch.records[mid])
        first = Batch(batch.records[:mid], batch.start, cut, split.retries)
        second = Batch(batch.records[mid:], cut, batch.end, split.retries)
        self.runtime.trace_split(self, first.records, second.records)
        if self.runtime.behaviour.bisect_first_half_first:
            self.halves.append(second)
            self.batch = first
        else:
            self.halves.append(first)
            self.batch = second
        if self._check_interrupt():
            return
        self._attempt()

    def _check_interrupt(self) -> bool:
        """Carry out a stop or restart asked for while an invocation was in flight."""
        interrupt = self._interrupt
        if interrupt is None:
            return False
        self._interrupt = None
        if interrupt == "stop":
            self._reset_to_checkpoint()
            self._set_state(STOPPED)
        elif interrupt == "retire":
            self._reset_to_checkpoint()
            self._set_state(STOPPED)
            self.runtime.reader_stopped(self)
        else:
            self._restart()
        return True

    def _batch_done(self) -> None:
        if self.halves:
            self.batch = self.halves.pop()
            if self._check_interrupt():
                return
            self._attempt()
            return
        self.batch = None
        self._settle()
        if self._check_interrupt():
            return
        # spec 2: after a batch, keep reading until caught up.
        if self.pos < self.shard.end or self._tumbling_window_due():
            self._schedule_poll(self.runtime.now_ms())
        else:
            self._go_idle()

    def held_in_window(self) -> list[Record]:
        """The records delivered to the open tumbling window and waiting for its end."""
        return list(self.window.records) if self.window is not None else []
