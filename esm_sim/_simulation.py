"""
The ``Simulation``: one virtual clock, one seed, and everything that lives on them.

It wires the kernel (scheduler, seeded ids, trace) to the DynamoDB side
(tables and their streams), the Lambda side (functions, the control plane,
concurrency) and the destinations, and it is the only object users hold.
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections.abc import Callable, ItemsView, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from esm_sim import _progress
from esm_sim._control.client import ControlPorts, LambdaClient
from esm_sim._control.lifecycle import MappingLifecycle
from esm_sim._engine import display
from esm_sim._engine.rng import Rng, UuidSequence
from esm_sim._engine.scheduler import Scheduler
from esm_sim._engine.timefmt import (
    MAX_MS,
    duration_arg_ms,
    instant_arg_ms,
    iso_ms,
    ms_to_datetime,
)
from esm_sim._engine.trace import Trace, TraceEvent
from esm_sim._lambda.concurrency import (
    DEFAULT_ACCOUNT_CONCURRENCY,
    INJECTABLE_ERRORS,
    Concurrency,
)
from esm_sim._lambda.function import (
    Duration,
    ExceptionStore,
    Function,
    Handler,
    InvocationLog,
)
from esm_sim._lambda.sandbox import HandlerHost
from esm_sim._mapping import advice
from esm_sim._mapping.config import SETTINGS, Behaviour
from esm_sim._mapping.fates import OUTCOMES, Fate
from esm_sim._mapping.lanes import key_hash
from esm_sim._mapping.runtime import MappingPorts, MappingRuntime, expand_render
from esm_sim._metrics import Metrics, MetricsArchive
from esm_sim._redrive import RedriveResult
from esm_sim._redrive import redrive as _redrive
from esm_sim._sinks import Bucket, Queue, Topic, deliver_failure_record
from esm_sim._streams.attributes import Image
from esm_sim._streams.records import SEQUENCE_BASE, SEQUENCE_STEP
from esm_sim._streams.shard import Shard
from esm_sim._streams.table import Table
from esm_sim.errors import ConfigError, SimulationError, SimulationLimitExceeded

if TYPE_CHECKING:
    from esm_sim._aws import MockAws

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
# How deep a chain of user calls, each scheduled for the same instant by the one
# before, may go before a run stops with SimulationLimitExceeded: such a chain
# (call_later(0, itself)) would never let the virtual clock move.
MAX_USER_CHAIN = 100_000
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_ACCOUNT_ID = re.compile(r"\d{12}")


def _behaviour(settings: dict[str, Any]) -> tuple[Behaviour, str]:
    """The checked behaviour of ``settings`` and its repr, built once per distinct settings."""
    # The type is part of the key: True == 1 and 1.0 == 1, but they are checked apart.
    key = tuple((name, type(value), value) for name, value in settings.items())
    try:
        return _behaviour_once(key)
    except TypeError:  # an unhashable value: checked (and refused) afresh
        behaviour = Behaviour.from_settings(**settings)
        return behaviour, repr(behaviour)


@functools.lru_cache(maxsize=64)
def _behaviour_once(key: tuple[tuple[str, type, Any], ...]) -> tuple[Behaviour, str]:
    # Behaviour is frozen, so simulations with the same settings share one.
    behaviour = Behaviour.from_settings(**{name: value for name, _, value in key})
    return behaviour, repr(behaviour)


_RESOURCE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,80}")


# A delivered failure record: (shard id, first and last sequence number, request id).
FailureKey = tuple[str, str, str, str]


class FatesView(Protocol):
    """What ``Simulation.fates()`` returns (``esm_sim.FatesSummary``, made by the views)."""

    def __getitem__(self, uuid: str) -> dict[str, int]: ...
    def __iter__(self) -> Iterator[str]: ...
    def __len__(self) -> int: ...
    def items(self) -> ItemsView[str, dict[str, int]]: ...
    def reasons(self, uuid: str) -> dict[str, int]: ...
    def history(self, sequence_number: str | int, *, uuid: str | None = None) -> str: ...
    def text(self) -> str: ...


@attrs.frozen(kw_only=True)
class StepResult:
    """What :meth:`Simulation.step` ran: when, and which callback."""

    at: datetime
    at_ms: int
    callback: str


def _check_callable(fn: object) -> None:
    if not callable(fn):
        msg = f"fn={fn!r} must be callable (it is called as fn(*args))"
        raise ConfigError(msg)


# One simulation runs at a time per process (re-entrant: a handler may run another).
_RUN_LOCK = threading.RLock()


def _history_ms(history_hours: object) -> int | None:
    """``history_hours`` in ms: None, or a positive finite number of hours."""
    if history_hours is None:
        return None
    if (
        not isinstance(history_hours, int | float)
        or isinstance(history_hours, bool)
        or not math.isfinite(history_hours)
        or history_hours <= 0
    ):
        msg = f"history_hours={history_hours!r} must be None or a positive number of hours"
        raise ConfigError(msg)
    return max(1, round(history_hours * 3_600_000))


class _Trimmer:
    """
    What a table's shards ask before freeing trimmed records (``Shard.trim``,
    spec 7.1): the retention, the lowest index a mapping of the table still
    needs, the lane hash each trimmed record keeps; and the sweep over the
    table's shards, run when a shard fills a chunk or the table rolls over.
    """

    __slots__ = ("_done", "_wake_ms", "after", "mappings", "now_ms", "retention_ms", "table")

    def __init__(
        self,
        table: Table,
        mappings: dict[str, MappingRuntime],
        retention_ms: int,
        now_ms: Callable[[], int],
        after: Callable[[], None],
    ) -> None:
        self.after = after  # run after each sweep: the simulation drops old history
        self.table = table
        self.mappings = mappings
        self.retention_ms = retention_ms
        self.now_ms = now_ms
        self._done = 0  # the leading shards closed and trimmed to their end
        # No shard can free anything while the cutoff is below this (see sweep).
        self._wake_ms = -(2**63)

    def floor(self, shard: Shard) -> int:
        """The lowest first-open index over the mappings reading this table."""
        return min(
            (m.first_open_index(shard) for m in self.mappings.values() if m.table is self.table),
            default=shard.end,
        )

    def key_hash(self, keys: Image) -> int:
        """The lane hash (``ParallelizationFactor`` lanes, spec 5) of a key."""
        return key_hash(keys)

    def sweep(self, _shard: object = None) -> None:
        """
        Trim every shard of the table that may have records to free.

        Until the cutoff reaches the earliest time any shard could free a chunk
        (found by the last sweep; what is written after it is newer still), no
        shard is visited: a table that rolls over often does not pay one visit
        per shard per rollover while nothing is past retention.
        """
        now = self.now_ms()
        cutoff = now - self.retention_ms
        if cutoff >= self._wake_ms:
            shards = self.table.shards
            wake = now  # what is appended from now on is written at or after now
            for shard in shards[self._done :]:
                shard.trim(cutoff)
                at = shard.trimmable_from_ms()
                if at is not None and at < wake:
                    wake = at
            self._wake_ms = wake
            while (
                self._done < len(shards)
                and shards[self._done].closed_ms is not None
                and shards[self._done].trimmed >= shards[self._done].end
            ):
                self._done += 1
        self.after()


class Simulation:
    """
    A deterministic simulation of DynamoDB Streams feeding Lambda through event source mappings.

    Everything happens on a virtual clock in integer milliseconds, and every id
    and choice comes from ``seed``: the same seed and inputs give the same
    trace, byte for byte. The clock runs from ``start`` to at most
    9999-12-31T23:59:59.999Z, the last millisecond a datetime holds.

    Every argument after ``account_id`` is a setting of the table
    ``esm_sim._mapping.config.SETTINGS``, which checks it: durations are finite
    numbers of seconds (or hours), at most a week (168 hours), with millisecond
    resolution; booleans must be real bools and counts real ints.

    Args:
        seed: the seed of every id and choice.
        start: the virtual clock's start (timezone-aware, from 1970 on; default
            2026-01-01T00:00:00Z).
        region, account_id: what ARNs and records say.
        handler_clock: what the wall clock reads while a handler runs: "wall" (the
            default, the real time) or "virtual": ``time.time``, ``time.time_ns``,
            ``datetime.now``, ``datetime.utcnow`` and ``date.today`` read the
            invocation's virtual start (the clock stands still while the handler
            runs), through time-machine (``pip install 'esm_sim[aws]'``); the
            real clock is back between invocations. Opt-in, because it costs a
            patch and unpatch per invocation and because what a handler reads must
            not depend on which packages happen to be installed. Whatever the
            setting, each handler runs with its function's environment in
            ``os.environ`` and its output captured as ``Invocation.logs``.
        state_transition_delay: seconds each mapping state change takes
            (Creating, Enabling, Disabling, Updating, Deleting); AWS says "several
            minutes" (spec 1.4, I).
        poll_interval: seconds between polls of a shard with nothing to read
            (spec 2); at least 1 ms.
        retry_backoff_base, retry_backoff_max: the exponential wait before retries,
            for function errors and throttles alike (spec 3.2, I); each at least
            1 ms (a zero wait would retry at the same instant forever), and the
            cap not below the base.
        retention_hours: how long a stream keeps records (spec 7.1).
        shard_rollover_hours: how often each open shard is sealed and replaced by a
            child (spec 7.1, "about every 4 hours", I); 0 turns rollovers off.
        ttl_delay_hours: how long after its TTL time an expired item of a table
            with ``ttl_attribute`` is deleted (AWS: "typically within two days",
            I: exactly this long; 0: at the expiry time).
        max_readers_per_shard: throttle GetRecords when this many other mappings
            read a shard within a second (spec 7.4, I); 0, the default, never does.
        bisect_resets_retries: whether the halves of a split start a fresh retry
            count (spec 3.4, I; default: they inherit it).
        bisect_first_half_first: finish the first half before the second (spec 3.4, I).
        partial_progress_resets_retries: a partial batch response that moves the
            checkpoint gives the rest a fresh attempt count (spec 4, I from O).
        bisect_first_half_larger: a failing batch of n splits at ceil(n/2) (True,
            the default) or floor(n/2) (spec 3.4, I).
        partial_retry_delay: seconds before the failed suffix of a partial batch
            response is retried, at least 1 ms; None (the default) waits the retry
            backoff's first step, ``retry_backoff_base`` (spec 4, I).
        non_object_response: under ReportBatchItemFailures, a response that is not
            a JSON object (other than null, "" and []) is "success" (the default) or
            "failure" (spec 4, 11 rows 2 and 25, I).
        record_age_min_invoke_count: the least ``approximateInvokeCount`` of a
            RecordAgeExceeded record: 1 (the default, as recorded) or 0 (spec 3.3, I).
        tumbling_window_alignment: "epoch" (the default) or "first-record": windows
            counted from the first record each shard or lane reads (spec 6.1, I).
        tumbling_window_close: "clock" (the default): a window's final invocation
            is made when the virtual clock reaches its end; "record": only when a
            record of a later window is read or the shard ends (spec 6.3, I).
        get_records_per_poll: GetRecords calls one poll may make while the batch
            is not full and records remain (spec 2, 12.7, I); default 1.
        iterator_age_at: "send" or "finish" (spec 11 row 10).
        account_concurrency: the account's concurrent-executions limit (spec 10).
        max_filters: the filters-per-mapping quota (spec 8: 5 by default, up to 10).
        history_hours: None (the default) keeps the whole history; a positive number
            N keeps only about the last N virtual hours of the trace and of the
            invocation logs (functions' and mappings'), for long runs: entries are
            dropped in batches, so between N and N + N/32 hours stay. ``fate()``,
            ``fate_counts()`` and ``metrics`` stay exact (the metrics keep compact
            points of what is forgotten); ``Fate.deliveries``, timelines,
            ``trace.text()``/``digest()`` and the invariants cover only what is kept.
            Not a behaviour setting: what happens is the same, only less is remembered.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        start: datetime = DEFAULT_START,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        handler_clock: str = "wall",
        state_transition_delay: float = 5.0,
        poll_interval: float = 0.25,
        retry_backoff_base: float = 1.0,
        retry_backoff_max: float = 60.0,
        retention_hours: float = 24.0,
        shard_rollover_hours: float = 4.0,
        ttl_delay_hours: float = 48.0,
        max_readers_per_shard: int = 0,
        bisect_resets_retries: bool = False,
        bisect_first_half_first: bool = True,
        partial_progress_resets_retries: bool = True,
        bisect_first_half_larger: bool = True,
        partial_retry_delay: float | None = None,
        non_object_response: str = "success",
        record_age_min_invoke_count: int = 1,
        tumbling_window_alignment: str = "epoch",
        tumbling_window_close: str = "clock",
        get_records_per_poll: int = 1,
        iterator_age_at: str = "send",
        account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY,
        max_filters: int = 5,
        history_hours: float | None = None,
    ) -> None:
        # The settings, by name, before any other local exists: the table checks
        # and converts them all (tests/test_settings.py keeps it and this
        # signature in step).
        arguments = locals()
        settings = {s.name: arguments[s.name] for s in SETTINGS}
        history_ms = _history_ms(history_hours)
        if not isinstance(seed, int) or isinstance(seed, bool):
            msg = f"seed={seed!r} must be an int"
            raise ConfigError(msg)
        if not isinstance(start, datetime) or start.tzinfo is None:
            msg = f"start={start!r} must be a timezone-aware datetime"
            raise ConfigError(msg)
        start_ms = instant_arg_ms("start", start)
        if not _REGION.fullmatch(str(region)):
            msg = f"region={region!r} must be an AWS region name such as 'us-east-1'"
            raise ConfigError(msg)
        if not _ACCOUNT_ID.fullmatch(str(account_id)):
            msg = f"account_id={account_id!r} must be 12 digits"
            raise ConfigError(msg)
        self.seed = seed
        self.region = region
        # Environment, clock and log capture around every handler run (_lambda.sandbox).
        self._host = HandlerHost(region=region, handler_clock=handler_clock)
        self.handler_clock = self._host.handler_clock
        self.account_id = account_id
        self.behaviour, behaviour_repr = _behaviour(settings)
        self.max_filters = self.behaviour.max_filters
        # Injected duplicate deliveries still to make, per function name (spec 3.7).
        self._duplicates: dict[str, int] = {}
        self._scheduler = Scheduler(start_ms)
        self._rng = Rng.from_seed(seed)
        self._rng_ids = self._rng.child("ids")
        self._seq_counter = 0
        self._busy = 0  # readers with work, plus mappings settling toward Enabled
        self._user_pending = 0  # call_at / call_later work not yet run
        # The depth of the user call running now (-1: none): how many calls before it
        # each scheduled the next for the same instant (a call_later(0, ...) chain).
        self._user_depth = -1
        self._running = False
        self._concurrency = Concurrency(self.behaviour.account_concurrency)
        self.trace = Trace(
            f"# esm_sim trace seed={seed} start={iso_ms(self._scheduler.now_ms)} "
            f"region={region} account={account_id} {behaviour_repr}"
        )
        # history_hours: how long entries are kept, the next time to drop some, and
        # the metric points of those dropped.
        self.history_hours = history_hours
        self._history_ms = history_ms
        self._next_forget_ms = self._scheduler.now_ms
        # The horizon of the last forgetting that dropped anything (None: none did).
        self._history_start_ms: int | None = None
        self._metrics_archive: MetricsArchive | None = None
        self.tables: dict[str, Table] = {}
        self.tables_by_stream_arn: dict[str, Table] = {}
        # What handlers raised, shared by the invocation logs (InvocationLog).
        self._exceptions = ExceptionStore()
        self.functions: dict[str, Function] = {}
        self.functions_by_name = self.functions
        self.queues: dict[str, Queue] = {}
        self.topics: dict[str, Topic] = {}
        self.buckets: dict[str, Bucket] = {}
        self._sinks: dict[str, Queue | Topic | Bucket] = {}
        self.mappings: dict[str, MappingRuntime] = {}
        # The active ``mock_aws()`` block (moto and boto3 meet the simulation), if any.
        self._aws: MockAws | None = None
        # Every redrive, in order (its own account: it never changes a fate).
        self.redrives: list[RedriveResult] = []
        self._redrive_ids = UuidSequence(self._rng.child("redrive/request-ids"))
        # (shard, first, last, request id) of each delivered failure record -> its
        # mapping UUID and sequence numbers.
        self._failure_batches: dict[FailureKey, tuple[str, tuple[int, ...]]] = {}
        # What each mapping receives from the simulation: these, and nothing more.
        self._mapping_ports = MappingPorts(
            scheduler=self._scheduler,
            trace=self.trace,
            behaviour=self.behaviour,
            concurrency=self._concurrency,
            deliver=self._deliver,
            duplicates=self._duplicates,
            busy_changed=self._busy_changed,
            new_invocation_log=lambda: InvocationLog(self._expand_render, self._exceptions),
        )
        self._lifecycle = MappingLifecycle(
            scheduler=self._scheduler,
            trace=self.trace,
            transition_ms=self.behaviour.state_transition_ms,
            busy_changed=self._busy_changed,
        )
        self.lambda_client = LambdaClient(
            ControlPorts(
                region=self.region,
                account_id=self.account_id,
                max_filters=self.behaviour.max_filters,
                now_ms=lambda: self._scheduler.now_ms,
                function=self._function_named,
                tables_by_stream_arn=self.tables_by_stream_arn,
                mappings=self.mappings,
                concurrency=self._concurrency,
                ids=self._rng_ids,
                rng=self._rng,
                mapping_ports=self._mapping_ports,
                lifecycle=self._lifecycle,
            )
        )

    def __repr__(self) -> str:
        return (
            f"<Simulation seed={self.seed} now={iso_ms(self.now_ms)} tables={len(self.tables)} "
            f"functions={len(self.functions)} mappings={len(self.mappings)}>"
        )

    @classmethod
    def from_template(
        cls,
        path: Any,
        handlers: Mapping[str, Handler] | None = None,
        seed: int = 0,
        *,
        parameters: Mapping[str, Any] | None = None,
        stack_name: str = "esm-sim",
        **sim_kwargs: Any,
    ) -> Simulation:
        """
        A simulation built from a SAM or CloudFormation template (see ``esm_sim.templates``).

        ``handlers`` maps a function's logical id to its Python handler; a function
        without one runs the handler its ``Handler`` names in its ``CodeUri``
        folder. Tables and functions are then reachable as
        ``sim.tables[logical_id]`` and ``sim.functions[logical_id]``. Needs the
        ``esm_sim[templates]`` extra for YAML and SAM.
        """
        from esm_sim._control.template import build_into  # reads files: imported on use

        sim = cls(seed, **sim_kwargs)
        build_into(sim, path, handlers=handlers, parameters=parameters, stack_name=stack_name)
        return sim

    # -- the clock -----------------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        """The virtual clock, as integer epoch milliseconds."""
        return self._scheduler.now_ms

    @property
    def now(self) -> datetime:
        """The virtual clock, as a timezone-aware UTC datetime."""
        return ms_to_datetime(self._scheduler.now_ms)

    def _later_ms(self, name: str, seconds: object) -> int:
        """``seconds`` from now, as epoch ms; the clock may not pass ``MAX_MS``."""
        limit = self.now_ms + duration_arg_ms(name, seconds)
        if limit > MAX_MS:
            msg = (
                f"{name}={seconds!r} from now={iso_ms(self.now_ms)} is past "
                f"{iso_ms(MAX_MS)}, the last millisecond a datetime holds"
            )
            raise ConfigError(msg)
        return limit

    def _enter(self) -> None:
        if self._running:
            msg = "the simulation is already running: a handler cannot run the clock"
            raise SimulationError(msg)
        # Handlers run with process-wide state swapped (sys.stdout, os.environ,
        # logging, sys.path): simulations in threads of one process (a thread
        # pool sweep, a Dask worker's threads) take turns, one run at a time.
        _RUN_LOCK.acquire()
        self._running = True

    def _leave(self) -> None:
        # Control leaves the handlers: os.environ is the user's again.
        self._running = False
        try:
            self._host.restore()
        finally:
            _RUN_LOCK.release()

    def _run_clock(
        self,
        limit: int,
        stop: Callable[[], bool] | None,
        progress: object,
        *,
        bounded: bool = True,
    ) -> bool:
        """
        The scheduler's ``run_until(limit, stop)``, with a progress bar when one is shown.

        With a bar the run goes in slices of ``_progress.EVERY`` events (the same
        events in the same order) and the bar is updated between slices; without
        one, the scheduler's loop runs untouched.
        """
        start = self.now_ms
        bar = _progress.open_bar(
            progress,
            total=(limit - start) / 1000 if bounded else None,
            unit="s",
            desc="virtual",
            bar_format=None if bounded else "{desc}: {n:.0f}{unit} [{elapsed}{postfix}]",
        )
        if bar is None:
            done = self._scheduler.run_until(limit, stop)
            self._forget_history()
            return done
        seen: dict[str, int] = {}  # invocations counted so far, per function
        totals = [0, 0]  # records, invocations

        def postfix() -> str:
            for name, fn in self.functions.items():
                log = fn.invocations  # counted from its first invocation, forgotten or not
                before = seen.get(name, 0)
                totals[0] += log.records_from(max(0, before - log.forgotten))
                totals[1] += log.forgotten + len(log) - before
                seen[name] = log.forgotten + len(log)
            return f"t={iso_ms(self.now_ms)}, records={totals[0]}, invocations={totals[1]}"

        scheduler, every = self._scheduler, _progress.EVERY
        done = _progress.run_with_bar(
            bar,
            lambda: scheduler.run_events(limit, stop, every),
            seconds=lambda: (scheduler.now_ms - start) / 1000,
            postfix=postfix,
        )
        self._forget_history()
        return done

    def run_for(self, seconds: float, *, progress: object = None) -> None:
        """
        Advance the virtual clock by ``seconds``, running everything due on the way.

        ``progress``: None (a bar in a notebook or terminal once the run lasts
        over 2 wall seconds, never in CI), True (always; needs tqdm,
        ``pip install 'esm_sim[progress]'``), False (never), or a text stream to
        draw the bar on. It never changes what the run does.
        """
        limit = self._later_ms("seconds", seconds)
        _progress.check(progress)
        self._enter()
        try:
            self._run_clock(limit, None, progress)
        finally:
            self._leave()

    def run_until(self, when: datetime | float, *, progress: object = None) -> None:
        """
        Advance the virtual clock to ``when`` (datetime or epoch seconds); never backwards.

        ``progress`` as for :meth:`run_for`.
        """
        limit = instant_arg_ms("when", when)
        if limit < self.now_ms:
            msg = (
                f"when={iso_ms(limit)} is before now={iso_ms(self.now_ms)}: time can't go backwards"
            )
            raise ConfigError(msg)
        _progress.check(progress)
        self._enter()
        try:
            self._run_clock(limit, None, progress)
        finally:
            self._leave()

    def is_idle(self) -> bool:
        """
        True when nothing is left to do: every mapping that is meant to be Enabled
        has reached it and has every record checkpointed, discarded or expired,
        and no user work (``call_at``/``call_later``) is pending.
        """
        return self._busy == 0 and self._user_pending == 0

    def run_until_idle(self, max_seconds: float = 2 * 86_400, *, progress: object = None) -> None:
        """
        Run until :meth:`is_idle`, at most ``max_seconds`` of virtual time.

        ``progress`` as for :meth:`run_for` (the bar counts virtual seconds, with
        no total: the run usually ends long before ``max_seconds``).

        Raises:
            SimulationLimitExceeded: still busy after ``max_seconds`` (for example a
                poison record with MaximumRetryAttempts -1 blocks its shard until the
                record leaves the stream, 24 hours later).
        """
        limit = self._later_ms("max_seconds", max_seconds)
        _progress.check(progress)
        if self.is_idle():
            return
        self._enter()
        try:
            done = self._run_clock(limit, self.is_idle, progress, bounded=False)
        finally:
            self._leave()
        advice.report_cascades(self.mappings.values())  # SelfTriggerWarning
        if not done:
            # What is still pending, state changes included (a mapping settling toward
            # Enabled counts as busy), per mapping.
            busy = [f"mapping {u}: {what}" for u, what in advice.pending_names(self).items()]
            if self._user_pending:
                busy.append(f"{self._user_pending} user call(s) (call_at/call_later) pending")
            what = "; ".join(busy) or f"{self._busy} reader(s) or state change(s) busy"
            msg = f"not idle after max_seconds={max_seconds!r}: {what}"
            raise SimulationLimitExceeded(msg)

    def step(self) -> StepResult | None:
        """Run the next scheduled event and say what it was; None if nothing is scheduled."""
        self._enter()
        try:
            entry = self._scheduler.pop()
            if entry is None:
                return None
            self._scheduler.events_run += 1
            entry[2](*entry[3])
        finally:
            self._leave()
        callback = entry[2]
        name = getattr(callback, "__qualname__", repr(callback))
        return StepResult(at=ms_to_datetime(entry[0]), at_ms=entry[0], callback=name)

    def call_at(self, when: datetime | float, fn: Callable[..., object], *args: Any) -> None:
        """
        Run ``fn(*args)`` at ``when`` (datetime or epoch seconds), e.g. to write items.

        The bound on zero-delay chains of :meth:`call_later` holds here too.
        """
        at = instant_arg_ms("when", when)
        _check_callable(fn)
        if at < self.now_ms:
            msg = f"when={iso_ms(at)} is before now={iso_ms(self.now_ms)}"
            raise ConfigError(msg)
        self._schedule_user(at, fn, args)

    def call_later(self, seconds: float, fn: Callable[..., object], *args: Any) -> None:
        """
        Run ``fn(*args)`` ``seconds`` from now.

        A call that schedules itself again at zero delay would hold the virtual clock
        still forever: when a chain of calls, each scheduled for the same instant by
        the one before, reaches ``MAX_USER_CHAIN`` (100,000) links, the run raises
        :class:`SimulationLimitExceeded` (a call scheduling a finite burst at zero
        delay is one link for each call of the burst, however many there are).
        """
        at = self._later_ms("seconds", seconds)
        _check_callable(fn)
        self._schedule_user(at, fn, args)

    def _schedule_user(self, at: int, fn: Callable[..., object], args: tuple[Any, ...]) -> None:
        # Scheduled for now by a user call running now: one link deeper in its chain.
        depth = self._user_depth + 1 if self._user_depth >= 0 and at <= self.now_ms else 0
        self._user_pending += 1
        self._scheduler.call_at(at, self._run_user, fn, args, depth)

    def _run_user(self, fn: Callable[..., object], args: tuple[Any, ...], depth: int) -> None:
        self._user_pending -= 1
        now = self.now_ms
        name = getattr(fn, "__qualname__", type(fn).__name__)
        if depth >= MAX_USER_CHAIN:
            # The clock can never move again: every run would spin here forever.
            # This link is dropped, so the chain ends and the simulation goes on.
            msg = (
                f"a chain of {MAX_USER_CHAIN} user calls ran at {iso_ms(now)}, each "
                f"scheduled for that same instant by the one before (last: {name}): "
                "a call_later(0, ...) or call_at(now, ...) that reschedules itself "
                "never lets the virtual clock move; give it a delay above 0"
            )
            raise SimulationLimitExceeded(msg)
        self._host.step_out()  # user code sees the user's environment, not a function's
        self.trace.append(TraceEvent(at_ms=now, kind="user", detail=name))
        self._user_depth = depth
        try:
            fn(*args)
        finally:
            self._user_depth = -1

    # -- resources -----------------------------------------------------------------------

    def _next_sequence(self) -> int:
        self._seq_counter += 1
        return SEQUENCE_BASE + self._seq_counter * SEQUENCE_STEP

    def create_table(
        self,
        name: str,
        *,
        partition_key: str | tuple[str, str],
        sort_key: str | tuple[str, str] | None = None,
        stream_view_type: str | None = "NEW_AND_OLD_IMAGES",
        shard_count: int = 1,
        ttl_attribute: str | None = None,
    ) -> Table:
        """
        A table with its stream enabled (``stream_view_type=None``: without a stream).

        ``partition_key``/``sort_key`` are attribute names, or (name, type) pairs
        with type "S", "N" or "B" to have writes checked against it.
        ``ttl_attribute`` turns Time to Live on: an item whose attribute of that
        name holds a Number of epoch seconds in the past is deleted
        ``ttl_delay_hours`` after that time, leaving a REMOVE record by the
        service (spec 7.3).
        """
        if name in self.tables:
            msg = f"name={name!r}: a table of that name exists"
            raise ConfigError(msg)
        table = Table(
            name,
            partition_key=partition_key,
            sort_key=sort_key,
            stream_view_type=stream_view_type,
            shard_count=shard_count,
            region=self.region,
            account_id=self.account_id,
            now_ms=lambda: self._scheduler.now_ms,
            next_sequence=self._next_sequence,
            rng=self._rng.child(f"table/{name}"),
            call_later=self._scheduler.call_later,
            rollover_ms=self.behaviour.shard_rollover_ms or None,
            call_at_user=self.call_at,
            ttl_attribute=ttl_attribute,
            ttl_delay_ms=self.behaviour.ttl_delay_ms,
        )
        table.on_new_shard(self._trace_shard_opened)
        # spec 7.1: records past retention and every checkpoint are freed.
        trimmer = _Trimmer(
            table,
            self.mappings,
            self.behaviour.retention_ms,
            lambda: self._scheduler.now_ms,
            self._forget_history,
        )
        for shard in table.shards:
            shard.trimmer = trimmer
        table.on_new_shard(lambda shard: setattr(shard, "trimmer", trimmer))
        table.on_new_shard(trimmer.sweep)
        table.on_shard_closed(self._trace_shard_closed)
        self.tables[name] = table
        if table.has_stream:
            self.tables_by_stream_arn[table.stream_arn] = table
        if self._aws is not None:
            self._aws.table_created(table)
        return table

    def _trace_shard_opened(self, shard: Any) -> None:
        self.trace.append(
            TraceEvent(
                at_ms=self.now_ms,
                kind="shard",
                shard=shard.shard_id,
                outcome="opened",
                detail=f"parent {shard.parent_shard_id}",
            )
        )

    def _trace_shard_closed(self, shard: Any) -> None:
        self.trace.append(
            TraceEvent(at_ms=self.now_ms, kind="shard", shard=shard.shard_id, outcome="closed")
        )

    def create_function(
        self,
        name: str,
        handler: Handler,
        *,
        timeout: float = 3,
        duration: Duration = 0.0,
        memory_size: int = 128,
        environment: Mapping[str, str] | None = None,
    ) -> Function:
        """
        A Lambda function running ``handler(event, context)``.

        ``timeout`` is Lambda's Timeout in seconds (default 3); ``duration`` the
        virtual seconds each invocation takes, or a callable(event, context)
        returning them. ``environment`` is Lambda's ``Environment.Variables``
        (str to str, no reserved key, 4 KB at most): while the handler runs,
        ``os.environ`` holds them and Lambda's reserved variables
        (``AWS_LAMBDA_FUNCTION_NAME``, ``AWS_REGION``, ``_HANDLER``...), and
        what it prints or logs becomes ``Invocation.logs``.
        """
        if not isinstance(name, str) or not _FUNCTION_NAME.fullmatch(name):
            msg = f"name={name!r} must be 1-64 letters, digits, '-' or '_' (Lambda FunctionName)"
            raise ConfigError(msg)
        if name in self.functions:
            msg = f"name={name!r}: a function of that name exists"
            raise ConfigError(msg)
        fn = Function(
            name,
            handler,
            arn=f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}",
            timeout=timeout,
            duration=duration,
            memory_size=memory_size,
            environment=environment,
        )
        fn.host = self._host
        fn.invocations = InvocationLog(self._expand_render, self._exceptions)
        self.functions[name] = fn
        return fn

    def _expand_render(self, compact: Any) -> Callable[[], dict[str, Any]]:
        # The event renderer of a stored invocation row (InvocationLog).
        return expand_render(self.tables_by_stream_arn, compact)

    def _check_sink_name(self, name: str) -> None:
        if not isinstance(name, str) or not _RESOURCE_NAME.fullmatch(name):
            msg = f"name={name!r} must be 1-80 letters, digits, '-', '_' or '.'"
            raise ConfigError(msg)

    def create_queue(self, name: str) -> Queue:
        """An SQS queue for on-failure records (a name ending .fifo makes a FIFO queue)."""
        self._check_sink_name(name)
        arn = f"arn:aws:sqs:{self.region}:{self.account_id}:{name}"
        if arn in self._sinks:
            msg = f"name={name!r}: a queue of that name exists"
            raise ConfigError(msg)
        queue = Queue(
            name,
            arn=arn,
            url=f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{name}",
            rng=self._rng.child(f"queue/{name}"),
        )
        self.queues[name] = queue
        self._sinks[arn] = queue
        if self._aws is not None:
            self._aws.sink_created(queue)
        return queue

    def create_topic(self, name: str) -> Topic:
        """An SNS topic for on-failure records."""
        self._check_sink_name(name)
        arn = f"arn:aws:sns:{self.region}:{self.account_id}:{name}"
        if arn in self._sinks:
            msg = f"name={name!r}: a topic of that name exists"
            raise ConfigError(msg)
        topic = Topic(name, arn=arn, rng=self._rng.child(f"topic/{name}"))
        self.topics[name] = topic
        self._sinks[arn] = topic
        if self._aws is not None:
            self._aws.sink_created(topic)
        return topic

    def create_bucket(self, name: str) -> Bucket:
        """An S3 bucket for on-failure records."""
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", name):
            msg = f"name={name!r} must be an S3 bucket name (3-63 of a-z, 0-9, '.', '-')"
            raise ConfigError(msg)
        arn = f"arn:aws:s3:::{name}"
        if arn in self._sinks:
            msg = f"name={name!r}: a bucket of that name exists"
            raise ConfigError(msg)
        bucket = Bucket(name, arn=arn)
        self.buckets[name] = bucket
        self._sinks[arn] = bucket
        if self._aws is not None:
            self._aws.sink_created(bucket)
        return bucket

    def mock_aws(self) -> AbstractContextManager[Any]:
        """
        ``with sim.mock_aws():`` every boto3 client made inside talks to in-process AWS.

        moto (``moto.mock_aws``) serves every AWS API; the simulation serves its
        own part, on its account and region:

        - its tables are DynamoDB tables: a boto3 write (``put_item``,
          ``update_item`` with any expression moto supports, ``delete_item``,
          ``batch_write_item``, ``transact_write_items``) to a table with a stream
          becomes a stream record at ``sim.now``, as ``table.put_item`` does;
          reads see the same items both ways; a table created through boto3 with
          a ``StreamSpecification`` becomes a simulated table;
        - ``boto3.client("lambda")``'s event source mapping operations (and the
          tags and concurrency of the simulation's mappings and functions) are
          answered by ``sim.lambda_client``, through botocore's own validation
          and parsing;
        - ``boto3.client("dynamodbstreams")`` reads the simulated streams;
        - its queues, topics and buckets exist in moto, and each failure record
          delivered to one is sent there too (``receive_message`` reads it).

        Test credentials, the region and the account are set in ``os.environ``
        for the block and restored after it. Blocks do not nest. Needs
        ``pip install 'esm_sim[aws]'``.
        """
        from esm_sim._aws import MockAws

        return MockAws(self)

    def freeze_gc(self) -> int:
        """
        Move every object alive now out of the cyclic GC's reach (``gc.freeze()``).

        For large inputs: after writing a big backlog, the collector would walk
        every stored record again and again while the simulation runs (perf-notes
        4.4: 31-55 % faster runs). It is process-wide, so esm_sim never does it on
        its own; ``gc.unfreeze()`` undoes it. Returns how many objects were frozen.

        .. versionadded:: 0.1.0
        """
        import gc

        gc.collect()
        gc.freeze()
        return gc.get_freeze_count()

    def inject_invoke_errors(
        self, function_name: str, *, count: int = 1, code: str = "ServiceException"
    ) -> None:
        """
        Make the next ``count`` invocation requests of a function fail before it runs.

        Such failures (spec 3.1, "before invocation") are retried with backoff and
        never use up ``MaximumRetryAttempts``. ``code`` is one of
        ``INJECTABLE_ERRORS``: "ServiceException" (the default), or a throttle,
        "TooManyRequestsException" or one of its reasons (spec 10), such as
        "ReservedFunctionConcurrentInvocationLimitExceeded".
        """
        if function_name not in self.functions:
            msg = f"function_name={function_name!r} is not a function of this simulation"
            raise ConfigError(msg)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            msg = f"count={count!r} must be an int >= 1"
            raise ConfigError(msg)
        if not isinstance(code, str) or code not in INJECTABLE_ERRORS:
            msg = (
                f"code={code!r} must be an error Lambda answers before invoking (spec 3.1, "
                f"10), one of: {', '.join(INJECTABLE_ERRORS)}"
            )
            raise ConfigError(msg)
        self._concurrency.inject(function_name, count, code)

    def inject_duplicate_deliveries(self, function_name: str, *, count: int = 1) -> None:
        """
        Deliver the next ``count`` successful batches of a function twice.

        AWS delivers every record at least once, and may send a batch again even
        without an error (spec 3.7; the injection itself is the simulator's, I).
        Each of the next ``count`` invocations that carries records and that the
        mapping takes as a complete success (its records processed, or added to
        their tumbling window) is followed at once by a duplicate: the same event,
        a new request id, traced as an ``invoke`` with outcome ``duplicate``. The
        shard waits for the duplicate to return; its response is ignored, so no
        record's fate changes, and it shows up in ``fate(...).deliveries``. A
        tumbling window's final invocation (no records) is never duplicated.
        """
        if function_name not in self.functions:
            msg = f"function_name={function_name!r} is not a function of this simulation"
            raise ConfigError(msg)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            msg = f"count={count!r} must be an int >= 1"
            raise ConfigError(msg)
        self._duplicates[function_name] = self._duplicates.get(function_name, 0) + count

    def _function_named(self, name: str) -> Function | None:
        # Looked up on each call: a template re-keys the registry it keeps.
        return self.functions_by_name.get(name)

    def _busy_changed(self, delta: int) -> None:
        self._busy += delta

    def _deliver(
        self,
        destination: str,
        record: dict[str, Any],
        *,
        uuid: str,
        shard_id: str,
        payload: Callable[[], dict[str, Any]],
        rng: Rng,
        sequence_numbers: tuple[int, ...] = (),
    ) -> bool:
        sink = self._sinks.get(destination)
        if sink is None:
            return False  # spec 3.6: a missing destination is a delivery failure
        delivered = deliver_failure_record(
            sink, record, now_ms=self.now_ms, uuid=uuid, shard_id=shard_id, rng=rng, payload=payload
        )
        if delivered and self._aws is not None:
            self._aws.delivered(sink)
        if delivered:
            # What each delivered failure record describes, for a redrive: its mapping
            # and records (a range may hold others: another lane's, filtered ones).
            info = record["DDBStreamBatchInfo"]
            key = (
                shard_id,
                info["startSequenceNumber"],
                info["endSequenceNumber"],
                record["requestContext"]["requestId"],
            )
            self._failure_batches[key] = (uuid, sequence_numbers)
        return delivered

    # -- redrive ---------------------------------------------------------------------------

    def redrive(
        self,
        source: Queue | Topic | Bucket | dict[str, Any] | str,
        *,
        function_name: str | None = None,
        uuid: str | None = None,
        delete: bool = False,
    ) -> RedriveResult:
        """
        Invoke a function again with the records on-failure records name, now.

        Lambda's failure record holds only metadata; the records themselves
        must be read from the stream before it trims them (spec 3.6, 7.1). This
        is that tool: for each failure record of ``source`` (a queue, topic or
        bucket of this simulation, in the order it got them, or one failure
        record as delivered: the dict, its JSON text, an SNS notification or an
        SQS message with ``Body``), it finds the records of its shard from
        ``startSequenceNumber`` to ``endSequenceNumber`` that the mapping
        discarded with it (its ``batchSize`` records; for a record made by hand,
        those of the range the mapping sent to a destination), and invokes the
        function with those still in the stream, in batches of the mapping's
        ``BatchSize``, with the event the mapping sends (``Records`` as
        delivered, no tumbling-window fields).
        Records already past the stream's retention are ``lost``.

        The redrive runs at once, from ``sim.now``: one invocation after the
        other, each lasting its function's duration, on the scheduler (whatever
        else is due meanwhile happens too), and it returns when the last one
        returns. A failed invocation (a function error; under
        ``ReportBatchItemFailures``, the records from the first reported one) is
        not retried and writes no new failure record: its records are in
        ``result.failed``. The records' fates never change (a redriven record
        keeps ``destination``); the redrive is its own account: ``sim.redrives``,
        ``redrive`` rows in the trace, the timeline, and the function's
        ``invocations`` (``mapping_uuid`` "") and metrics (without a mapping).

        Args:
            source: where the failure records are, or one of them.
            function_name: the function to invoke; by default the mapping's
                (the one that reads the record's stream and sent its records to
                a destination).
            uuid: the mapping, when several sent these records to a destination.
            delete: remove from the queue (bucket) each message (object) none of
                whose records failed in the redrive, as a redrive tool does after
                its work; by default the destination keeps everything. Not for
                topics or a single record.

        Returns:
            A ``RedriveResult``: ``redriven`` and ``lost`` (sequence numbers as
            ints, like ``Invocation.sequence_numbers``; together every record the
            failure records name), ``failed`` and ``invocations``.

        Raises:
            ConfigError: a source holding no failure records, anything that is
                not a failure record of this simulation's streams, an unknown
                function or mapping, ``delete`` where nothing can be deleted.
            SimulationError: called while the simulation runs (from a handler).

        .. versionadded:: 0.1.0
        """
        return _redrive(self, source, function_name=function_name, uuid=uuid, delete=delete)

    # -- history (history_hours) ------------------------------------------------------------

    def _forget_history(self) -> None:
        """
        Drop trace entries and invocations older than ``history_hours``, in
        batches of a thirty-second of it (so the cost is amortised), keeping the
        metric points of the entries dropped.
        """
        history_ms = self._history_ms
        if history_ms is None:
            return
        horizon = self.now_ms - history_ms
        if horizon < self._next_forget_ms:
            return
        self._next_forget_ms = horizon + max(1, history_ms // 32)
        gone = self.trace.forget_before(horizon)
        if gone:
            if self._metrics_archive is None:
                self._metrics_archive = MetricsArchive(
                    self.mappings, self.behaviour.iterator_age_at
                )
                cached: Metrics | None = getattr(self, "_metrics", None)
                if cached is not None:
                    cached._archive = self._metrics_archive
            self._metrics_archive.absorb(gone)
        forgot = bool(gone)
        # Mappings' logs first: they list rows of their functions' logs, which
        # keep a row while any log still lists it.
        for mapping in self.mappings.values():
            forgot = bool(mapping.invocations.forget_ended_before(horizon)) or forgot
        for fn in self.functions.values():
            forgot = bool(fn.invocations.forget_ended_before(horizon)) or forgot
        if forgot:
            # What the forgotten invocations raised: every exception of an
            # invocation that started before the oldest one any log keeps.
            oldest = self.now_ms
            for fn in self.functions.values():
                started = fn.invocations.first_started_ms()
                if started is not None:
                    oldest = min(oldest, started)
            self._exceptions.forget_started_before(oldest)
            # Everything about a record written from here on is still kept
            # (invariants check only those records).
            self._history_start_ms = horizon

    # -- fates -----------------------------------------------------------------------------

    def _locate(self, sequence_number: int) -> tuple[Table, Any, int] | None:
        for table in self.tables.values():
            for shard in table.shards:
                index = shard.index_of(sequence_number)
                if index is not None:
                    return table, shard, index
        return None

    def fate(self, sequence_number: str | int, *, uuid: str | None = None) -> Fate:
        """
        Where one record ended (or stands) for a mapping.

        ``uuid`` picks the mapping when several read the record's stream.
        """
        try:
            seq = int(sequence_number)
        except (TypeError, ValueError):
            msg = f"sequence_number={sequence_number!r} must be a record's SequenceNumber"
            raise ConfigError(msg) from None
        found = self._locate(seq)
        if found is None:
            msg = f"sequence_number={sequence_number!r} is not a record of any stream"
            raise ConfigError(msg)
        table, shard, index = found
        candidates = [m for m in self.mappings.values() if m.table is table]
        if uuid is not None:
            candidates = [m for m in candidates if m.uuid == uuid]
        if len(candidates) != 1:
            msg = (
                f"uuid={uuid!r}: {len(candidates)} mappings read table {table.name!r}; "
                f"name one of {[m.uuid for m in self.mappings.values() if m.table is table]}"
            )
            raise ConfigError(msg)
        mapping = candidates[0]
        deliveries = mapping.invocations.delivering(shard.shard_id, seq)
        entry = mapping.ledger.entries.get(seq)
        if entry is not None:
            outcome, reason, destination = entry
            return Fate(
                sequence_number=str(seq),
                mapping_uuid=mapping.uuid,
                outcome=outcome,
                reason=reason,
                deliveries=deliveries,
                destination=destination,
            )
        outcome = mapping.record_status(shard, index)
        return Fate(
            sequence_number=str(seq),
            mapping_uuid=mapping.uuid,
            outcome=outcome,
            reason=None,
            deliveries=deliveries,
        )

    def fate_counts(self, uuid: str | None = None) -> dict[str, int]:
        """
        How many records of a mapping's stream reached each outcome (plus "pending"
        and "skipped"); they add up to the records in the stream.
        """
        mappings = [m for m in self.mappings.values() if uuid is None or m.uuid == uuid]
        if len(mappings) != 1:
            msg = f"uuid={uuid!r}: name one of {list(self.mappings)}"
            raise ConfigError(msg)
        mapping = mappings[0]
        counts = dict.fromkeys((*OUTCOMES, "pending", "skipped"), 0)
        for outcome in OUTCOMES:
            counts[outcome] = mapping.ledger.counts[outcome]
        total = sum(len(s) for s in mapping.table.shards)
        for shard in mapping.table.shards:
            counts["skipped"] += mapping.skipped_count(shard)
        counts["pending"] = total - sum(counts.values())
        return counts

    # -- views (issue 6) -------------------------------------------------------------------

    @property
    def metrics(self) -> Metrics:
        """CloudWatch-style metrics computed from the trace (spec 9), e.g. ``.series(name)``."""
        cached: Metrics | None = getattr(self, "_metrics", None)
        if cached is None:
            cached = self._metrics = Metrics(
                self.trace,
                mappings=self.mappings,
                functions=lambda: self.functions,
                iterator_age_at=self.behaviour.iterator_age_at,
                archive=self._metrics_archive,
            )
        return cached

    def timeline(self, *, uuid: str | None = None) -> str:
        """The trace as text with a column legend, one line per event (of one mapping)."""
        if uuid is not None and uuid not in self.mappings:
            msg = f"uuid={uuid!r} is not a mapping of this simulation; one of {list(self.mappings)}"
            raise ConfigError(msg)
        text: str = display.view("timeline")(self.trace, uuid=uuid)
        return text

    def fates(self, *, uuid: str | None = None) -> FatesView:
        """Where each mapping's records ended: a table (``.text()``, HTML, dict by UUID)."""
        summary: FatesView = display.view("fates")(self, uuid)
        return summary

    def _repr_html_(self) -> str:
        return display.html_of("simulation", self)
