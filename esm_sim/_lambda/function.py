"""
Simulated Lambda functions: the handler, its ``context``, and the record of each invocation.

A function is a plain callable ``handler(event, context) -> response``. It runs
in-process at the virtual instant its invocation starts; its virtual running
time is ``duration`` (seconds, or a callable of the event and context), capped
at ``timeout`` (spec 10). What it returns goes through JSON as it does in
Lambda, so the event source mapping judges the JSON the runtime would send.
"""

from __future__ import annotations

import json
import math
import re
import traceback
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType, TracebackType
from typing import Any, overload

from esm_sim._engine import display
from esm_sim._engine.chunked import FlatRows
from esm_sim._engine.timefmt import iso_ms, ms_to_datetime
from esm_sim._lambda.sandbox import HandlerHost, check_environment, reserved_variables
from esm_sim.errors import ConfigError, SimulationError

Handler = Callable[[dict[str, Any], "Context"], Any]
Duration = float | int | Callable[[dict[str, Any], "Context"], float]

# spec 10: synchronous invocations carry at most 6 MB each way. The runtime's
# error text quotes the limit in bytes.
MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
MAX_RESPONSE_BYTES = 6_291_556


_DAY_MS = 86_400_000
# The log stream's day prefix ("YYYY/MM/DD/[$LATEST]") of the last day asked for.
_day_prefix: list[Any] = [-1, ""]


def _log_stream_prefix(started_ms: int) -> str:
    day = started_ms // _DAY_MS
    if day != _day_prefix[0]:
        _day_prefix[1] = iso_ms(day * _DAY_MS)[:10].replace("-", "/") + "/[$LATEST]"
        _day_prefix[0] = day
    prefix: str = _day_prefix[1]
    return prefix


# The context's fields read from its function, filled on first read of any of them.
_CONTEXT_FROM_FUNCTION = (
    "client_context",
    "function_name",
    "function_version",
    "identity",
    "invoked_function_arn",
    "memory_limit_in_mb",
    "tenant_id",
)
_CONTEXT_LAZY = frozenset(_CONTEXT_FROM_FUNCTION)


class Context:
    """
    The ``context`` a Python handler receives, on the virtual clock (spec 10, RIC).

    ``memory_limit_in_mb`` is a ``str``, as the real runtime reads it from an
    environment variable. ``get_remaining_time_in_millis()`` never goes below 0.

    One is made for every handler call, so it is made cheaply: the fields that
    come from the function (``function_name``, ``function_version``,
    ``invoked_function_arn``, ``memory_limit_in_mb``, and ``identity``,
    ``client_context``, ``tenant_id``, always None here) are filled in on the
    first read of any of them, and ``log_stream_name`` on its first read.
    """

    __slots__ = (
        "_deadline_ms",
        "_function",
        "_log_stream_name",
        "_now_ms",
        "_started_ms",
        "aws_request_id",
        *_CONTEXT_FROM_FUNCTION,
    )

    aws_request_id: str
    client_context: Any
    function_name: str
    function_version: str
    identity: Any
    invoked_function_arn: str
    memory_limit_in_mb: str
    tenant_id: Any

    def __init__(
        self,
        *,
        function: Function,
        request_id: str,
        deadline_ms: int,
        now_ms: Callable[[], int],
        log_stream_name: str | None,
        started_ms: int | None = None,
    ) -> None:
        self._function = function
        self.aws_request_id = request_id
        self._log_stream_name = log_stream_name
        self._started_ms = now_ms() if started_ms is None else started_ms
        self._deadline_ms = deadline_ms
        self._now_ms = now_ms

    def __getattr__(self, name: str) -> Any:
        # Reached only for a slot not yet set: fill the function's fields once
        # (a field the handler already set keeps its value).
        if name not in _CONTEXT_LAZY:
            msg = f"'Context' object has no attribute {name!r}"
            raise AttributeError(msg)
        fn = self._function
        values = {
            "function_name": fn.name,
            "function_version": fn.version,
            "invoked_function_arn": fn.arn,
            "memory_limit_in_mb": str(fn.memory_size),
            "identity": None,
            "client_context": None,  # spec 10 (I): ESM invokes carry no client context
            "tenant_id": None,
        }
        get = object.__getattribute__
        for key, value in values.items():
            try:
                get(self, key)
            except AttributeError:
                object.__setattr__(self, key, value)
        return get(self, name)

    @property
    def log_group_name(self) -> str:
        """``/aws/lambda/<function name>``."""
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        """``YYYY/MM/DD/[$LATEST]<32 hex>``, as the runtime names an execution environment's log."""
        name = self._log_stream_name
        if name is None:
            name = self._log_stream_name = _log_stream_prefix(
                self._started_ms
            ) + self.aws_request_id.replace("-", "")
        return name

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function times out, never below 0."""
        return max(0, self._deadline_ms - self._now_ms())

    def __repr__(self) -> str:
        return f"<Context {self.function_name} request_id={self.aws_request_id}>"


class HandlerRun:
    """
    What one handler run produced, for the invocation log to keep as a row.

    The event source mapping's hot path fills this instead of an
    :class:`Invocation` (built only when the log is read). Fields that the run
    did not set keep their class defaults, so a plain success costs two.
    """

    response: Any = None
    response_json: Any = None
    error: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    exception: BaseException | None = None
    logs: str = ""
    _frames: tuple[Any, ...] = ()
    _pending: tuple[BaseException, TracebackType | None] | None = None

    def __init__(self, request_id: str, started_ms: int) -> None:
        self.request_id = request_id
        self.started_ms = started_ms


class Invocation:
    """
    One run of a function's handler: what it got, what it answered, when.

    ``event`` is rendered again on every access, exactly as it was delivered
    (the handler may have mutated its own copy). ``response`` is what the
    handler returned (None if it raised). ``error`` is None for a success,
    otherwise the ``X-Amz-Function-Error`` value (``"Unhandled"``), with
    ``error_type`` and ``error_message`` as the runtime reports them: that is
    Lambda's view. ``outcome`` is the mapping's view of the batch, as it judged
    the answer once (``"success"``, ``"partial"`` or ``"failure"``; a response
    the mapping rejects is a failure without a function error), and ``reason``
    says why in a sentence whenever the batch did not plainly succeed or the
    response was not taken at its word.
    ``exception`` is what the handler raised, without its traceback (whose frames
    would keep every event alive; a KeyboardInterrupt, raised again to stop the
    run, gets it back): read from a function's log, a plain exception
    (built-in construction, no attributes) is rebuilt equal in type, args and
    text rather than kept as the same object (see ``ExceptionStore``);
    ``stack_trace`` has the formatted stack. ``logs`` is what the handler printed
    or logged while it ran (``print``, ``logging``, Powertools' ``Logger``), as one
    string ("" when nothing).

    Two Invocation objects are equal when they describe the same invocation
    (same request id, start and mapping): the logs in ``Function.invocations``
    build a fresh object on every read.
    """

    __slots__ = (
        "_frames",
        "_pending",
        "_render",
        "_seqs",
        "ended_ms",
        "error",
        "error_message",
        "error_type",
        "exception",
        "logs",
        "mapping_uuid",
        "outcome",
        "reason",
        "request_id",
        "response",
        "response_json",
        "shard_id",
        "started_ms",
        "verdict",
    )

    def __init__(
        self,
        *,
        request_id: str,
        render: Callable[[], dict[str, Any]],
        started_ms: int,
        mapping_uuid: str = "",
        shard_id: str = "",
        sequence_numbers: Sequence[int] | None = (),
    ) -> None:
        self.request_id = request_id
        self._render = render
        self.started_ms = started_ms
        self.ended_ms = started_ms
        self.response: Any = None
        self.error: str | None = None
        self.error_type: str | None = None
        self.error_message: str | None = None
        self.exception: BaseException | None = None
        # What the handler printed or logged (stdout, stderr, logging), as one string.
        self.logs = ""
        # Where the handler raised: (file, line, function) per frame, flattened.
        self._frames: tuple[Any, ...] = ()
        # What the event source mapping read: the response after its trip through JSON.
        self.response_json: Any = None
        # What must stop the run once the invocation's end is scheduled (see run_handler).
        self._pending: tuple[BaseException, TracebackType | None] | None = None
        self.mapping_uuid = mapping_uuid
        self.shard_id = shard_id
        # The mapping's view of the batch, as it judged this answer (policies.judge):
        # "success", "partial" or "failure", and why when it was not a plain success.
        self.outcome: str | None = None
        self.reason: str | None = None
        self.verdict: Any = None  # the whole Verdict, while the result is on its way
        # None: the sequence numbers of the records the renderer holds (read on use).
        self._seqs: tuple[int, ...] | None = (
            None if sequence_numbers is None else tuple(sequence_numbers)
        )

    def _raise_pending(self) -> None:
        """
        Raise what run_handler held back (a KeyboardInterrupt, or a ConfigError
        from the ``duration`` callable), once; do nothing if there is none.

        The caller schedules the invocation's end first, so that the simulation,
        run again, finishes the invocation as recorded.
        """
        pending = self._pending
        if pending is not None:
            self._pending = None
            raise pending[0].with_traceback(pending[1])

    @property
    def sequence_numbers(self) -> tuple[int, ...]:
        """The sequence numbers of the records delivered, in order."""
        if self._seqs is None:
            records = getattr(self._render, "records", ())
            self._seqs = tuple(r[0] for r in records)  # field 0 of a record: SEQ
        return self._seqs

    @sequence_numbers.setter
    def sequence_numbers(self, value: Sequence[int]) -> None:
        self._seqs = tuple(value)

    @property
    def stack_trace(self) -> tuple[str, ...]:
        """The handler's traceback, formatted as the runtime reports it (empty if none)."""
        # Formatted on demand (source lines are read only now): formatting would
        # cost more than the whole simulated invocation if done every time.
        f = self._frames
        if not f:
            return ()
        frames = [(f[i], f[i + 1], f[i + 2], None) for i in range(0, len(f), 3)]
        return tuple(traceback.StackSummary.from_list(frames).format())

    @property
    def event(self) -> dict[str, Any]:
        """The event as delivered (a fresh copy)."""
        return self._render()

    @property
    def started_at(self) -> Any:
        """When the invocation started (timezone-aware UTC datetime)."""
        return ms_to_datetime(self.started_ms)

    @property
    def ended_at(self) -> Any:
        """When the invocation ended (timezone-aware UTC datetime)."""
        return ms_to_datetime(self.ended_ms)

    @property
    def duration_ms(self) -> int:
        """How long it ran, in virtual milliseconds."""
        return self.ended_ms - self.started_ms

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Invocation):
            return NotImplemented
        return (self.request_id, self.started_ms, self.mapping_uuid) == (
            other.request_id,
            other.started_ms,
            other.mapping_uuid,
        )

    def __hash__(self) -> int:
        return hash(self.request_id)

    def _repr_html_(self) -> str:
        return display.html_of("invocation", self)

    def __repr__(self) -> str:
        outcome = "ok" if self.error is None else f"{self.error}:{self.error_type}"
        return (
            f"<Invocation {self.request_id[:8]} at {iso_ms(self.started_ms)} "
            f"records={len(self.sequence_numbers)} {outcome}>"
        )


_ATOMIC = (str, int, float, bool, type(None), bytes)
# Built-in exceptions that keep nothing but ``args`` (no errno, name, value or
# position fields the interpreter fills in): ``cls(*args)`` remakes them exactly.
_ARGS_ONLY = frozenset(
    (
        BaseException,
        Exception,
        ArithmeticError,
        AssertionError,
        EOFError,
        IndexError,
        KeyError,
        LookupError,
        MemoryError,
        NotImplementedError,
        OverflowError,
        RecursionError,
        RuntimeError,
        TypeError,
        ValueError,
        ZeroDivisionError,
    )
)


def _leading_before(times: array[int], at_ms: int) -> int:
    """How many leading ``times`` are before ``at_ms`` (a scan: no order is assumed)."""
    n = 0
    while n < len(times) and times[n] < at_ms:
        n += 1
    return n


class ExceptionStore:
    """
    What handlers raised, kept so the cyclic GC need not walk them for the run.

    Exceptions are objects the collector always tracks, and a run with a
    poison record raises tens of thousands of them, which every full collection
    then visits (perf-notes 4.4). An exception that its type and ``args``
    rebuild exactly is kept as ``(type number, *args)`` and rebuilt on read,
    equal in type, args and text: its built-in base keeps nothing but ``args``
    (``ValueError``, ``KeyError``, ``RuntimeError``... not ``OSError`` or
    ``AttributeError``), no Python class in its MRO defines ``__init__`` or
    ``__new__``, it has no attributes, notes, cause or context, and its args are
    plain values. Any other is kept as it is.
    """

    __slots__ = (
        "_class_index",
        "_kept_at",
        "_kept_dropped",
        "_plain",
        "_plain_at",
        "_plain_class",
        "_plain_dropped",
        "classes",
        "kept",
    )

    def __init__(self) -> None:
        self.classes: list[type[BaseException]] = []
        self._class_index: dict[type[BaseException], int] = {}
        # Per type: do its type and args rebuild it exactly (asked once per type).
        self._plain_class: dict[type[BaseException], bool] = {}
        self._plain = FlatRows()  # (type number, *args) of each plain exception
        self.kept: list[BaseException] = []
        # When each entry's invocation started, and how many leading entries of
        # each kind were forgotten (history_hours): references count from the
        # first entry ever stored.
        self._plain_at = array("q")
        self._kept_at = array("q")
        self._plain_dropped = 0
        self._kept_dropped = 0

    def __len__(self) -> int:
        """How many exceptions are stored now."""
        return len(self._plain_at) + len(self._kept_at)

    def put(self, exc: BaseException, started_ms: int) -> int:
        """
        A reference to ``exc`` (raised by an invocation that started at
        ``started_ms``) for :meth:`get`: an int (no object is made for it).
        """
        cls = type(exc)
        if self._rebuilds(exc):
            number = self._class_index.get(cls)
            if number is None:
                number = self._class_index[cls] = len(self.classes)
                self.classes.append(cls)
            self._plain.append((number, *exc.args))
            self._plain_at.append(started_ms)
            return self._plain_dropped + len(self._plain) - 1
        self.kept.append(exc)
        self._kept_at.append(started_ms)
        return -(self._kept_dropped + len(self.kept))

    def get(self, ref: int) -> BaseException:
        """The exception ``put`` stored (rebuilt, or the same object)."""
        if ref < 0:
            return self.kept[-ref - 1 - self._kept_dropped]
        number, *args = self._plain.row(ref - self._plain_dropped)
        rebuilt: BaseException = self.classes[number](*args)
        return rebuilt

    def forget_started_before(self, at_ms: int) -> int:
        """
        Drop the leading exceptions of invocations that started before ``at_ms``
        (``Simulation(history_hours=...)``: no invocation kept started that
        early); returns how many.
        """
        n, k = _leading_before(self._plain_at, at_ms), _leading_before(self._kept_at, at_ms)
        if n:
            self._plain.forget(n)
            del self._plain_at[:n]
            self._plain_dropped += n
        if k:
            del self.kept[:k]
            del self._kept_at[:k]
            self._kept_dropped += k
        return n + k

    def _rebuilds(self, exc: BaseException) -> bool:
        cls = type(exc)
        plain = self._plain_class.get(cls)
        if plain is None:
            # The first built-in class in the MRO decides how the exception is
            # made; only those that keep nothing but ``args`` qualify, and no
            # Python class on the way may override __init__ or __new__.
            builtin = next(base for base in cls.__mro__ if base.__module__ == "builtins")
            plain = self._plain_class[cls] = (
                type(cls) is type
                and builtin in _ARGS_ONLY
                and not any(
                    "__init__" in vars(base) or "__new__" in vars(base)
                    for base in cls.__mro__[: cls.__mro__.index(builtin)]
                )
            )
        return (
            plain
            and not getattr(exc, "__dict__", None)
            and exc.__cause__ is None
            and exc.__context__ is None
            and not exc.__suppress_context__
            and all(type(a) in _ATOMIC for a in exc.args)
        )


# The fields of an invocation row, in order; then how many values the frames
# take and the frames themselves (file, line, function...); then whether the
# render is compact, and the render (its compact fields, or the callable itself).
_ROW_FIELDS = (
    "request_id",
    "started_ms",
    "ended_ms",
    "mapping_uuid",
    "shard_id",
    "_seqs",
    "response",
    "response_json",
    "error",
    "error_type",
    "error_message",
    "exception",
    "outcome",
    "reason",
    "logs",
)
_FRAMES = len(_ROW_FIELDS)
_SEQS = _ROW_FIELDS.index("_seqs")
_SHARD = _ROW_FIELDS.index("shard_id")
_ENDED = _ROW_FIELDS.index("ended_ms")
_STARTED = _ROW_FIELDS.index("started_ms")

Row = tuple[Any, ...]
Expand = Callable[[tuple[Any, ...]], Callable[[], dict[str, Any]]]


class InvocationLog(Sequence[Invocation]):
    """
    Invocations in the order they started, kept as rows of plain values.

    A list of Invocation objects would keep several objects per invocation
    for the whole run, each one an allocation that brings the cyclic GC's
    next collection closer and that every full collection then walks (perf-notes
    4.4). A row is a run of plain values in FlatRows, which keeps no object per
    row. The event's renderer is stored in compact form when it offers one
    (``render.compact()``: where the batch came from, then its records) and
    rebuilt with ``expand`` on read.

    An invocation listed in two logs (a function's and its mapping's) is kept
    once: the second log holds a reference to the first's row
    (:meth:`append_ref`), two integers in arrays the collector does not see.

    Reading an item builds a fresh :class:`Invocation`, equal to the one the
    handler's run filled in. Slices are lists.
    """

    __slots__ = (
        "_dropped",
        "_exceptions",
        "_expand",
        "_indexed",
        "_ref_index",
        "_ref_source",
        "_referrers",
        "_rows",
        "_seq_index",
        "_sources",
        "forgotten",
    )

    def __init__(
        self, expand: Expand | None = None, exceptions: ExceptionStore | None = None
    ) -> None:
        self._rows = FlatRows()
        self._expand = expand
        # Exceptions are objects the collector always tracks: with a store, a row
        # holds an int reference to it instead.
        self._exceptions = exceptions
        # Which rows carried each sequence number: built only when asked
        # (delivering), extended by the rows added since (_indexed of them done).
        self._seq_index: dict[int, list[int]] = {}
        self._indexed = 0
        # Once a reference is added, every item is one: item i is own row
        # _ref_index[i] (counted from the first ever kept) of the log
        # _sources[_ref_source[i]] (self for its own rows).
        self._sources: list[InvocationLog] = []
        self._ref_source: array[int] | None = None
        self._ref_index = array("q")
        self.forgotten = 0  # invocations dropped by forget_ended_before
        self._dropped = 0  # own rows dropped by forget_ended_before
        # The logs that list some of this log's own rows (they pin them).
        self._referrers: list[InvocationLog] = []

    def append(self, invocation: Invocation) -> Row:
        """Keep a finished handler run (its fields no longer change); returns its row."""
        render = invocation._render
        compact = getattr(render, "compact", None) if self._expand is not None else None
        row = self._row_of(
            invocation,
            ended_ms=invocation.ended_ms,
            mapping_uuid=invocation.mapping_uuid,
            shard_id=invocation.shard_id,
            seqs=invocation._seqs,
            outcome=invocation.outcome,
            reason=invocation.reason,
            render=(True, *compact()) if compact is not None else (False, render),
        )
        self._add_own(row)
        return row

    def keep(
        self,
        run: HandlerRun,
        *,
        ended_ms: int,
        mapping_uuid: str,
        shard_id: str,
        outcome: str | None,
        reason: str | None,
        compact: tuple[Any, ...],
    ) -> int:
        """
        Keep a mapping's handler run as one row; returns its index (for :meth:`append_ref`).

        ``compact`` is the event renderer's compact form (``render.compact()``):
        the row is built in one pass, with no :class:`Invocation` made. Its
        sequence numbers are read from the records on use.
        """
        if self._expand is None:
            msg = "a handler run is kept in compact form only by a log that expands it"
            raise SimulationError(msg)
        index = self._dropped + len(self._rows)
        self._add_own(
            self._row_of(
                run,
                ended_ms=ended_ms,
                mapping_uuid=mapping_uuid,
                shard_id=shard_id,
                seqs=None,
                outcome=outcome,
                reason=reason,
                render=(True, *compact),
            )
        )
        return index

    def _row_of(
        self,
        run: Invocation | HandlerRun,
        *,
        ended_ms: int,
        mapping_uuid: str | None,
        shard_id: str | None,
        seqs: Any,
        outcome: str | None,
        reason: str | None,
        render: tuple[Any, ...],
    ) -> Row:
        """The row of a handler run, in the order of ``_ROW_FIELDS``, then frames, then render."""
        exception: Any = run.exception
        if exception is not None and self._exceptions is not None:
            exception = self._exceptions.put(exception, run.started_ms)
        frames = run._frames
        return (
            run.request_id,
            run.started_ms,
            ended_ms,
            mapping_uuid,
            shard_id,
            seqs,
            run.response,
            run.response_json,
            run.error,
            run.error_type,
            run.error_message,
            exception,
            outcome,
            reason,
            run.logs,
            len(frames),
            *frames,
            *render,
        )

    def _add_own(self, row: Row) -> None:
        refs = self._ref_source
        if refs is not None:
            refs.append(self._source_number(self))
            self._ref_index.append(self._dropped + len(self._rows))
        self._rows.append(row)

    def _source_number(self, source: InvocationLog) -> int:
        sources = self._sources
        for number, known in enumerate(sources):
            if known is source:
                return number
        sources.append(source)
        if source is not self:
            source._referrers.append(self)
        return len(sources) - 1

    def _pin(self) -> int:
        """How many leading own rows no other log still lists (only those may go)."""
        pin = len(self._rows)
        for log in self._referrers:
            refs = log._ref_source
            number = next((k for k, known in enumerate(log._sources) if known is self), None)
            if refs is None or number is None:
                continue
            try:
                first = refs.index(number)
            except ValueError:
                continue  # it lists none of them any more
            pin = min(pin, log._ref_index[first] - self._dropped)
        return pin

    def append_ref(self, source: InvocationLog, index: int) -> None:
        """List row ``index`` of ``source``'s own rows here too, without copying it."""
        if (self._expand is None) != (source._expand is None) or (
            source._exceptions is not self._exceptions
        ):
            msg = "an invocation row is shared only between logs that expand it the same way"
            raise SimulationError(msg)
        refs = self._ref_source
        if refs is None:
            # From now on every item is a reference (own rows to self first).
            refs = self._ref_source = array("q")
            if len(self._rows):
                number = self._source_number(self)
                refs.extend([number] * len(self._rows))
                self._ref_index.extend(range(self._dropped, self._dropped + len(self._rows)))
        refs.append(self._source_number(source))
        self._ref_index.append(index)

    def _row(self, i: int) -> Row:
        """Item ``i``'s row (0 <= i < len)."""
        refs = self._ref_source
        if refs is None:
            return self._rows.row(i)
        source = self._sources[refs[i]]
        return source._rows.row(self._ref_index[i] - source._dropped)

    def _make(self, row: Row) -> Invocation:
        inv = Invocation.__new__(Invocation)
        inv.verdict = None
        for name, value in zip(_ROW_FIELDS, row, strict=False):
            setattr(inv, name, value)
        inv._pending = None  # already raised, if there was one
        if inv.exception is not None and self._exceptions is not None:
            inv.exception = self._exceptions.get(inv.exception)  # type: ignore[arg-type]
        end = _FRAMES + 1 + row[_FRAMES]
        inv._frames = row[_FRAMES + 1 : end]
        expand = self._expand
        if row[end] and expand is not None:
            inv._render = expand(row[end + 1 :])
        else:
            inv._render = row[end + 1]
        return inv

    def __len__(self) -> int:
        refs = self._ref_source
        return len(self._rows) if refs is None else len(refs)

    def first_started_ms(self) -> int | None:
        """
        When the oldest of this log's own rows kept started (None: it keeps
        none). Rows are kept as invocations start, on a clock that never goes
        back, so no row kept started earlier.
        """
        rows = self._rows
        return rows.row(0)[_STARTED] if len(rows) else None

    def forget_ended_before(self, at_ms: int) -> int:
        """
        Drop the leading invocations that ended before ``at_ms``
        (``Simulation(history_hours=...)``); returns how many. Indexes then
        count from the first invocation kept.
        """
        n, total = 0, len(self)
        refs = self._ref_source
        # Own rows another log still lists stay (that log forgets its items in
        # its own order: one repointed to another function may lag behind).
        pin = self._pin() if self._referrers else len(self._rows)
        while n < total:
            if refs is not None:
                source = self._sources[refs[n]]
                own = self._ref_index[n] - source._dropped
                if own < 0:  # its source forgot it already (ended before at_ms)
                    n += 1
                    continue
                if source is self and own >= pin:
                    break
                ended = source._rows.row(own)[_ENDED]
            else:
                if n >= pin:
                    break
                ended = self._rows.row(n)[_ENDED]
            if ended >= at_ms:
                break
            n += 1
        if n:
            if refs is None:
                mine = n
            else:
                # Own rows are kept in order, so those among the first n items
                # are this log's first own rows.
                me = self._source_number(self)
                mine = sum(1 for k in range(n) if refs[k] == me)
                del refs[:n]
                del self._ref_index[:n]
            self._rows.forget(mine)
            self._dropped += mine
            self.forgotten += n
            self._seq_index = {}  # item numbers moved: index again when asked
            self._indexed = 0
        return n

    def records_from(self, start: int) -> int:
        """How many records the invocations from index ``start`` on carried."""
        total = 0
        row_of = self._row
        for i in range(start, len(self)):
            row = row_of(i)
            seqs = row[_SEQS]
            if seqs is not None:
                total += len(seqs)
                continue
            end = _FRAMES + 1 + row[_FRAMES]
            if row[end]:  # compact: the source's three fields, then the records
                total += len(row) - end - 4
            else:  # sequence numbers not kept in the row are read from its batch
                total += len(self._make(row).sequence_numbers)
        return total

    def delivering(self, shard_id: str, sequence_number: int) -> tuple[Invocation, ...]:
        """
        The invocations, in order, whose batch carried ``sequence_number`` of ``shard_id``.

        The first call indexes the rows by sequence number and later calls index
        only the rows added since, so asking for every record's deliveries costs
        one pass over the log, not one per record.
        """
        row_of, index = self._row, self._seq_index
        n = len(self)
        for i in range(self._indexed, n):
            row = row_of(i)
            seqs = row[_SEQS]
            if seqs is None:
                seqs = self._make(row).sequence_numbers
            for seq in seqs:
                index.setdefault(seq, []).append(i)
        self._indexed = n
        make = self._make
        rows = [row_of(i) for i in index.get(sequence_number, ())]
        return tuple(make(row) for row in rows if row[_SHARD] == shard_id)

    @overload
    def __getitem__(self, index: int) -> Invocation: ...

    @overload
    def __getitem__(self, index: slice) -> list[Invocation]: ...

    def __getitem__(self, index: int | slice) -> Invocation | list[Invocation]:
        n = len(self)
        if isinstance(index, slice):
            return [self._make(self._row(i)) for i in range(*index.indices(n))]
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(index)
        return self._make(self._row(index))

    def __iter__(self) -> Iterator[Invocation]:
        # Rows added while iterating are seen too, as with a list.
        make, row_of = self._make, self._row
        i = 0
        while i < len(self):
            yield make(row_of(i))
            i += 1

    def __eq__(self, other: object) -> bool:
        if isinstance(other, InvocationLog | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __add__(self, other: Sequence[Invocation]) -> list[Invocation]:
        return [*self, *other]

    def __radd__(self, other: Sequence[Invocation]) -> list[Invocation]:
        return [*other, *self]

    def __repr__(self) -> str:
        return repr(list(self))


class Function:
    """
    A simulated Lambda function. Create it with ``Simulation.create_function``.

    ``invocations`` lists, in order, every request that ran the handler; a
    throttled request is not an invocation (as for the ``Invocations`` metric).
    """

    def __init__(
        self,
        name: str,
        handler: Handler,
        *,
        arn: str,
        timeout: float,
        duration: Duration,
        memory_size: int,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        if not callable(handler):
            msg = f"handler={handler!r} must be a callable handler(event, context)"
            raise ConfigError(msg)
        # spec 10: 900 s for normal functions; the model allows 1..900 here. The
        # clock counts whole ms, so a timeout must be at least 1 ms (NaN fails too).
        if (
            not isinstance(timeout, int | float)
            or isinstance(timeout, bool)
            or not (0.0005 <= timeout <= 900)
        ):
            msg = (
                f"timeout={timeout!r} must be a number of seconds from 1 ms to 900 (Lambda Timeout)"
            )
            raise ConfigError(msg)
        if not callable(duration) and (
            not isinstance(duration, int | float)
            or isinstance(duration, bool)
            # False for NaN and infinities; exact (no OverflowError) for a huge int.
            # Any finite size is meaningful: past the timeout, the invocation times out.
            or not 0 <= duration < math.inf
        ):
            msg = (
                f"duration={duration!r} must be a finite number of seconds >= 0 or a "
                "callable(event, context)"
            )
            raise ConfigError(msg)
        if not isinstance(memory_size, int) or not 128 <= memory_size <= 10240:
            msg = f"memory_size={memory_size!r} must be MB in 128..10240 (Lambda MemorySize)"
            raise ConfigError(msg)
        self.name = name
        self.handler = handler
        self.arn = arn
        self.version = "$LATEST"
        self.timeout = timeout
        self.timeout_ms = round(timeout * 1000)
        self.duration = duration
        self.memory_size = memory_size
        self.reserved_concurrency: int | None = None
        self.in_flight = 0
        self.invocations = InvocationLog()
        # The variables given to create_function (checked as Lambda checks them).
        # Read-only: the handler's os.environ is built from it once (Lambda changes
        # a function's variables only through UpdateFunctionConfiguration).
        self.environment: Mapping[str, str] = MappingProxyType(check_environment(environment))
        # What runs the handler in its environment (set by the simulation; None: bare).
        self.host: HandlerHost | None = None
        self._variables: tuple[tuple[str, int, Handler], dict[str, str]] | None = None

    def environment_variables(self, region: str) -> dict[str, str]:
        """``os.environ`` for the handler: Lambda's reserved variables, then ``environment``."""
        cached = self._variables
        # memory_size and handler (its _HANDLER) are plain attributes: keep up with them
        key = (region, self.memory_size, self.handler)
        if cached is None or cached[0] != key:
            cached = self._variables = (
                key,
                {**reserved_variables(self, region), **self.environment},
            )
        return cached[1]

    def __repr__(self) -> str:
        return f"<Function {self.name!r} invocations={len(self.invocations)}>"

    def duration_ms(self, event: dict[str, Any], context: Context) -> int:
        """
        The virtual running time of one invocation, in ms.

        Raises:
            ConfigError: the ``duration`` callable raised (anything but a
                KeyboardInterrupt, which propagates), or returned no seconds >= 0.
        """
        duration = self.duration
        if callable(duration):
            try:
                seconds = duration(event, context)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # test configuration, not the function's behaviour
                msg = (
                    f"duration callable of function {self.name!r} raised "
                    f"{type(exc).__name__}: {exception_text(exc)}"
                )
                raise ConfigError(msg) from exc
        else:
            seconds = duration
        kind = type(seconds)
        if (kind is float or kind is int) and 0 <= seconds < math.inf:  # the usual answer
            return round(seconds * 1000)
        if (
            not isinstance(seconds, int | float)
            or isinstance(seconds, bool)
            or not 0 <= seconds < math.inf
        ):
            msg = (
                f"duration callable returned {seconds!r}; it must return a finite number of "
                "seconds >= 0"
            )
            raise ConfigError(msg)
        return round(seconds * 1000)


_INTEGER_TEXT = re.compile(r"-?[0-9]+")
# The default repr of an object names its memory address ("<Foo object at
# 0x7f...>"), which differs from run to run: kept out of error messages, whose
# text reaches the trace (determinism, style 14).
_ADDRESS = re.compile(r"(<[^<>]*?) at 0x[0-9a-fA-F]+(?=>)")


def exception_text(exc: BaseException) -> str:
    """
    ``str(exc)`` as the runtime reports it, the same in every run.

    An object's memory address in it is dropped (``<Foo object>``); a ``__str__``
    that itself fails gives ``<exception str() failed>``, as Python's own
    traceback printing says.
    """
    try:
        text = str(exc)
    except Exception:  # a broken __str__ is the handler's bug, not the simulator's
        return "<exception str() failed>"
    return _ADDRESS.sub(r"\1", text) if " at 0x" in text else text


def _json_default(value: object) -> object:
    # The Python runtime's marshaller (RIC lambda_runtime_marshaller.Encoder) writes
    # a Decimal as its own text, str(d), as a raw JSON number (NaN as NaN). What the
    # mapping reads back is that text parsed as JSON: an int when it has no point or
    # exponent, else a float. Decimal("1.0") is 1.0, Decimal("1E+2") is 100.0.
    if isinstance(value, Decimal):
        if value.is_nan():
            return math.nan
        text = str(value)
        return int(text) if _INTEGER_TEXT.fullmatch(text) else float(text)
    msg = f"Object of type {type(value).__name__} is not JSON serializable"
    raise TypeError(msg)


def _raised(
    invocation: Invocation | HandlerRun, exc: BaseException, error_type: str, message: str
) -> None:
    """Record what the handler raised as an Unhandled function error."""
    invocation.error = "Unhandled"
    invocation.error_type = error_type
    invocation.error_message = message
    # Keep where it happened (file, line, function: cheap, no source read),
    # not the traceback itself: its frames, through f_back, would keep every
    # caller's locals and the whole event alive for the GC to walk as long as
    # the invocation is remembered.
    tb = exc.__traceback__
    frames: list[Any] = []
    tb = tb.tb_next if tb is not None else None  # from the handler down, not _call
    while tb is not None:
        code = tb.tb_frame.f_code
        frames += (code.co_filename, tb.tb_lineno, code.co_name)
        tb = tb.tb_next
    invocation._frames = tuple(frames)
    if isinstance(exc, KeyboardInterrupt):
        # Ctrl-C must still stop the run: the caller raises it again, with its
        # traceback, once the invocation's end is scheduled (Invocation._raise_pending).
        invocation._pending = (exc, exc.__traceback__)
    invocation.exception = exc.with_traceback(None)


def _exit_status(exc: BaseException) -> str:
    """How the Python process ends when ``exc`` goes uncaught (CPython), as Go words it."""
    if isinstance(exc, KeyboardInterrupt):
        # Since Python 3.8 an uncaught KeyboardInterrupt ends the process by SIGINT.
        return "signal: interrupt"
    if not isinstance(exc, SystemExit):
        return "exit status 1"  # the traceback is printed, then exit status 1
    try:
        code = exc.code
    except Exception:  # _Py_HandleSystemExit prints the exception itself, then status 1
        return "exit status 1"
    if code is None:
        return "exit status 0"
    if isinstance(code, int):
        # _Py_HandleSystemExit: a C long (-1 when it does not fit), of which the
        # parent sees the low 8 bits. int.__int__ reads the value as C does, past
        # any operator an int subclass overrides.
        value = int.__int__(code)
        return f"exit status {value & 0xFF if -(2**63) <= value < 2**63 else 255}"
    return "exit status 1"  # any other code is printed to stderr, then exit status 1


def _exit_message(request_id: str, exc: BaseException) -> str:
    """What Lambda reports when the runtime process ends during an invocation."""
    # Runtime.ExitError, in the words of Lambda's runtime supervisor (RAPID, as in
    # aws-lambda-runtime-interface-emulator): "Runtime exited without providing a
    # reason" for exit status 0, else "Runtime exited with error: <how>" (Go's
    # "exit status N" or "signal: interrupt"), after "RequestId: <id> Error: ".
    status = _exit_status(exc)
    if status == "exit status 0":
        return f"RequestId: {request_id} Error: Runtime exited without providing a reason"
    return f"RequestId: {request_id} Error: Runtime exited with error: {status}"


def _call(
    invocation: Invocation | HandlerRun,
    function: Function,
    event: dict[str, Any],
    context: Context,
) -> Any:
    """The handler's answer, or None with what it raised recorded on ``invocation``."""
    try:
        return function.handler(event, context)
    except Exception as exc:  # any exception a handler raises is a function error
        _raised(invocation, exc, type(exc).__name__, exception_text(exc))
        return None
    except BaseException as exc:
        # Not an Exception: the runtime lets it end the process (spec 3.1, "runtime crash").
        _raised(invocation, exc, "Runtime.ExitError", _exit_message(invocation.request_id, exc))
        return None


def run_handler(
    invocation: Invocation | HandlerRun,
    function: Function,
    event: dict[str, Any],
    context: Context,
) -> int:
    """
    Run the handler once and fill ``invocation``; return the virtual duration in ms.

    ``invocation`` is an :class:`Invocation`, or a :class:`HandlerRun` that the
    invocation log keeps as a row (the event source mapping's hot path).

    Function errors (spec 3.1, "during invocation"): the handler raises; it runs
    past its timeout; its response cannot be marshalled to JSON; or the response
    is over 6 MB. Each sets ``invocation.error = "Unhandled"``, as Lambda's
    ``X-Amz-Function-Error`` header does.

    What the handler raises that is not an ``Exception`` (``sys.exit()``,
    ``GeneratorExit``, a custom ``BaseException``) the runtime does not catch: it
    ends the runtime process, which Lambda reports as ``Runtime.ExitError`` with
    the process's exit status (spec 3.1, "runtime crash").

    Two things must still stop the run, but only after the invocation is
    recorded and its end scheduled, so that running the simulation again
    finishes it: they are kept on the invocation for the caller to raise with
    ``invocation._raise_pending()``.

    - A ``KeyboardInterrupt`` (Ctrl-C) is recorded as the process dying of
      SIGINT, ``Runtime.ExitError`` "... Runtime exited with error: signal:
      interrupt" (I), and raised again.
    - The ``duration`` callable is test configuration, not the function's
      behaviour: if it raises or returns no seconds >= 0, a ``ConfigError``
      naming the function is raised; the invocation keeps the handler's outcome
      and lasts 0 ms (I). It is not called after a KeyboardInterrupt.
    """
    host = function.host
    if host is None:
        response = _call(invocation, function, event, context)
    else:
        # In the function's environment, on its clock, its output captured (sandbox).
        response, invocation.logs = host.run(
            function, context, _call, invocation, function, event, context
        )
    if invocation._pending is not None and callable(function.duration):
        duration_ms = 0  # interrupted: no more user code runs
    else:
        try:
            duration_ms = function.duration_ms(event, context)
        except (KeyboardInterrupt, ConfigError) as exc:
            # Raised out of the run once the invocation is recorded and its end
            # scheduled (_raise_pending); it lasted 0 ms, with the handler's outcome.
            invocation._pending = (exc, exc.__traceback__)
            duration_ms = 0
    if duration_ms > function.timeout_ms:
        # The runtime says "<timestamp> <request id> Task timed out after N.NN seconds".
        ended = invocation.started_ms + function.timeout_ms
        invocation.error = "Unhandled"
        invocation.error_type = "Sandbox.Timedout"
        invocation.error_message = (
            f"{iso_ms(ended)} {invocation.request_id} Task timed out after "
            f"{function.timeout_ms / 1000:.2f} seconds"
        )
        invocation.response = response
        return function.timeout_ms
    if invocation.error is not None:
        return duration_ms
    if response is None:  # the commonest answer needs no trip through JSON
        return duration_ms
    try:
        if isinstance(response, bytes):
            # The runtime sends bytes as they are (application/unknown), not as JSON.
            body_bytes = response
        else:
            body_bytes = json.dumps(response, default=_json_default).encode()
    except Exception as exc:
        # spec 3.1 ("bad response"): the runtime (RIC LambdaMarshaller.marshal_response)
        # turns any exception its encoder raises into Runtime.MarshalError, "Unable to
        # marshal response: <str(e)>": a value JSON has no form for, but also a
        # RecursionError from nesting too deep or whatever a dict subclass's items() raises.
        invocation.error = "Unhandled"
        invocation.error_type = "Runtime.MarshalError"
        invocation.error_message = f"Unable to marshal response: {exception_text(exc)}"
        invocation.response = response
        return duration_ms
    except BaseException as exc:  # sys.exit() in a __str__ or items(): the process ends
        _raised(invocation, exc, "Runtime.ExitError", _exit_message(invocation.request_id, exc))
        invocation.response = response
        return duration_ms
    if len(body_bytes) > MAX_RESPONSE_BYTES:
        invocation.error = "Unhandled"
        invocation.error_type = "Function.ResponseSizeTooLarge"
        invocation.error_message = (
            f"Response payload size exceeded maximum allowed payload size "
            f"({MAX_RESPONSE_BYTES} bytes)."
        )
        invocation.response = response
        return duration_ms
    # The mapping judges what came through JSON (a tuple arrives as a list, and so on).
    invocation.response = response
    try:
        invocation.response_json = json.loads(body_bytes)
    except (ValueError, RecursionError):
        # I: a bytes payload that is not JSON, or JSON nested deeper than the parser
        # goes; the mapping finds no batchItemFailures in it, so it reads as None here.
        invocation.response_json = None
    return duration_ms
