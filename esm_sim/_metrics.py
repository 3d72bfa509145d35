"""
CloudWatch-style metrics of a simulation, computed from its trace (spec 9).

Every data point comes from a :class:`~esm_sim.TraceEvent`, and every judgement
from what the mapping recorded there once (the ``result`` row's outcome and its
``error``): nothing judges a response again, so a metric can never disagree with
the timeline, the fates or the invariants.

Function metrics (spec 9.1, namespace ``AWS/Lambda``): ``Invocations``,
``Errors``, ``Throttles``, ``Duration``, ``ConcurrentExecutions``,
``IteratorAge``, ``DestinationDeliveryFailures``. ESM event counts (spec 9.2,
only for mappings created or updated with ``MetricsConfig={"Metrics":
["EventCount"]}``): ``PolledEventCount``, ``FilteredOutEventCount``,
``InvokedEventCount``, ``FailedInvokeEventCount``, ``DroppedEventCount``,
``OnFailureDestinationDeliveredEventCount``.

A redrive (``Simulation.redrive``) counts in the function metrics
(``Invocations``, ``Errors``, ``Duration``, ``ConcurrentExecutions``) with no
mapping: filtered by ``uuid``, they are left out, and no ESM count includes them.

Count metrics have one point per occurrence, valued by the count; the
simulator writes no zero points (CloudWatch's ``Sum`` is the same either
way). ``ConcurrentExecutions`` is a level: one point per change.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from esm_sim._engine.timefmt import datetime_to_ms, ms_to_datetime, seconds_to_ms
from esm_sim._engine.trace import TraceEvent
from esm_sim._lambda import concurrency
from esm_sim.errors import ConfigError

if TYPE_CHECKING:
    from esm_sim._engine.trace import Trace

FUNCTION_METRICS = (
    "Invocations",
    "Errors",
    "Throttles",
    "Duration",
    "ConcurrentExecutions",
    "IteratorAge",
    "DestinationDeliveryFailures",
)
ESM_METRICS = (
    "PolledEventCount",
    "FilteredOutEventCount",
    "InvokedEventCount",
    "FailedInvokeEventCount",
    "DroppedEventCount",
    "OnFailureDestinationDeliveredEventCount",
)
METRIC_NAMES = FUNCTION_METRICS + ESM_METRICS
STATISTICS = ("SampleCount", "Sum", "Average", "Minimum", "Maximum")

# spec 10: the TooManyRequestsException reasons. Other refusals before
# invocation (an injected ServiceException) are not Throttles (spec 9.1).
THROTTLE_REASONS = ("TooManyRequestsException", *concurrency.THROTTLE_REASONS)

# One data point: (at_ms, value, function name, mapping uuid).
Point = tuple[int, float, str, str]
Period = tuple[datetime | float, datetime | float]


def invocation_outcome(result: TraceEvent) -> str:
    """
    How an invocation ended, for display, from what its ``result`` row recorded:
    "ok" (the mapping took the batch as a success), "error" (a function error,
    spec 3.1), "partial" (a partial batch response moved the checkpoint, spec 4)
    or "rejected" (the mapping failed the batch without a function error: a
    complete-failure item response, or a window response without ``state``).
    """
    if result.get("error") is not None:
        return "error"
    if result.outcome == "failure":
        return "rejected"
    if result.outcome == "partial":
        return "partial"
    return "ok"


class Metrics:
    """
    The metrics of one simulation (``sim.metrics``), recomputed from the trace as it grows.

    Filters: ``function_name`` (the function the mapping invoked at the time),
    ``uuid`` (the mapping), ``period`` (a ``(start, end)`` pair of datetimes or
    epoch seconds; points with ``start <= t < end``).
    """

    def __init__(
        self,
        trace: Trace,
        *,
        mappings: dict[str, Any],
        functions: Callable[[], Mapping[str, Any]] | None = None,
        iterator_age_at: str = "send",
        archive: MetricsArchive | None = None,
    ) -> None:
        self._trace = trace
        # The points of forgotten trace entries (history_hours), or None.
        self._archive = archive
        # uuid -> the mapping (its AWS fields and function), as the simulation keeps them.
        self._mappings = mappings
        # The simulation's functions by name, read on each query (a template re-keys
        # them); None: names are not checked.
        self._functions = functions
        self._iterator_age_at = iterator_age_at
        self._seen = -1
        self._points: dict[str, list[Point]] = {}
        self._deltas: list[Point] = []  # ConcurrentExecutions: +1 / -1

    def __repr__(self) -> str:
        return f"<Metrics of {len(self._trace)} trace entries>"

    # -- queries ---------------------------------------------------------------------

    def series(
        self,
        name: str,
        *,
        function_name: str | None = None,
        uuid: str | None = None,
        period: Period | None = None,
    ) -> list[tuple[datetime, float]]:
        """
        The time-ordered ``(datetime, value)`` points of metric ``name``.

        Raises:
            ConfigError: ``name`` is not a metric of spec 9, or a filter is malformed.
        """
        return [
            (ms_to_datetime(at), value)
            for at, value in self._series_ms(name, function_name, uuid, period)
        ]

    def sum(
        self,
        name: str,
        *,
        function_name: str | None = None,
        uuid: str | None = None,
        period: Period | None = None,
    ) -> float:
        """The ``Sum`` statistic of ``name`` over ``period`` (or the whole run); 0 with no data."""
        return sum(v for _, v in self._series_ms(name, function_name, uuid, period))

    def maximum(
        self,
        name: str,
        *,
        function_name: str | None = None,
        uuid: str | None = None,
        period: Period | None = None,
    ) -> float | None:
        """The ``Maximum`` statistic of ``name`` over ``period``; None with no data."""
        values = [v for _, v in self._series_ms(name, function_name, uuid, period)]
        return max(values) if values else None

    def statistics(
        self,
        name: str,
        period_seconds: int,
        stat: str,
        *,
        function_name: str | None = None,
        uuid: str | None = None,
    ) -> list[tuple[datetime, float]]:
        """
        One ``stat`` value per ``period_seconds`` bucket, as CloudWatch GetMetricStatistics.

        Buckets start at multiples of the period since the epoch and are
        labelled by their start; a bucket with no point gives no value.
        ``stat`` is one of SampleCount, Sum, Average, Minimum, Maximum.
        """
        if (
            not isinstance(period_seconds, int)
            or isinstance(period_seconds, bool)
            or period_seconds < 1
        ):
            msg = f"period_seconds={period_seconds!r} must be an int >= 1"
            raise ConfigError(msg)
        if stat not in STATISTICS:
            msg = f"stat={stat!r} must be one of {list(STATISTICS)}"
            raise ConfigError(msg)
        step = period_seconds * 1000
        buckets: dict[int, list[float]] = {}
        for at, value in self._series_ms(name, function_name, uuid, None):
            buckets.setdefault(at - at % step, []).append(value)
        reduce: Callable[[list[float]], float] = {
            "SampleCount": lambda vs: float(len(vs)),
            "Sum": lambda vs: float(sum(vs)),
            "Average": lambda vs: sum(vs) / len(vs),
            "Minimum": lambda vs: float(min(vs)),
            "Maximum": lambda vs: float(max(vs)),
        }[stat]
        return [(ms_to_datetime(start), reduce(vs)) for start, vs in sorted(buckets.items())]

    # -- computing ---------------------------------------------------------------------

    def _series_ms(
        self,
        name: str,
        function_name: str | None,
        uuid: str | None,
        period: Period | None,
    ) -> list[tuple[int, float]]:
        if name not in METRIC_NAMES:
            msg = f"name={name!r} is not a metric; choose one of {list(METRIC_NAMES)}"
            raise ConfigError(msg)
        if function_name is not None and not isinstance(function_name, str):
            msg = f"function_name={function_name!r} must be a str"
            raise ConfigError(msg)
        if (
            function_name is not None
            and self._functions is not None
            and function_name not in (functions := self._functions())
        ):
            # An unknown name would give 0 and make `assert Errors == 0` pass vacuously.
            known = list(functions)
            msg = (
                f"function_name={function_name!r} is not a function of this simulation; "
                f"one of {known}"
            )
            raise ConfigError(msg)
        if uuid is not None and uuid not in self._mappings:
            known = list(self._mappings)
            msg = f"uuid={uuid!r} is not a mapping of this simulation; one of {known}"
            raise ConfigError(msg)
        start, end = self._period_ms(period)
        self._refresh()
        opted_in = self._opted_in() if name in ESM_METRICS else None

        def keep(fn: str, mapping: str) -> bool:
            return (
                (function_name is None or fn == function_name)
                and (uuid is None or mapping == uuid)
                and (opted_in is None or mapping in opted_in)
            )

        if name == "ConcurrentExecutions":
            out: list[tuple[int, float]] = []
            level = 0.0
            before: float | None = None  # the level in force when the period starts
            for at, delta, fn, mapping in self._deltas:
                if not keep(fn, mapping):
                    continue
                if at >= end:
                    break
                level += delta
                if at < start:
                    before = level
                else:
                    out.append((at, level))
            if period is not None and before is not None and (not out or out[0][0] > start):
                out.insert(0, (start, before))
            return out
        return [
            (at, value)
            for at, value, fn, mapping in self._points.get(name, [])
            if start <= at < end and keep(fn, mapping)
        ]

    def _period_ms(self, period: Period | None) -> tuple[int, int]:
        if period is None:
            return -1, 2**62
        try:
            lo, hi = period
        except (TypeError, ValueError):
            msg = f"period={period!r} must be a (start, end) pair of datetimes or epoch seconds"
            raise ConfigError(msg) from None
        bounds: list[int] = []
        for when in (lo, hi):
            if isinstance(when, datetime) and when.tzinfo is not None:
                bounds.append(datetime_to_ms(when))
            elif isinstance(when, int | float) and not isinstance(when, bool):
                bounds.append(seconds_to_ms(when))
            else:
                msg = f"period={period!r} needs timezone-aware datetimes or epoch seconds"
                raise ConfigError(msg)
        if bounds[1] < bounds[0]:
            msg = f"period={period!r} ends before it starts: give (start, end)"
            raise ConfigError(msg)
        return bounds[0], bounds[1]

    def _opted_in(self) -> set[str]:
        # spec 9.2: the ESM event counts are emitted only with MetricsConfig EventCount.
        return {
            u
            for u, m in self._mappings.items()
            if "EventCount" in (m.fields.get("MetricsConfig") or {}).get("Metrics", [])
        }

    def _refresh(self) -> None:
        """Recompute every point when the trace has grown since the last query."""
        trace = self._trace
        archive = self._archive
        seen = trace.forgotten + len(trace)
        if seen == self._seen:
            return
        self._seen = seen
        if archive is None:
            fold = _Fold(self._mappings, self._iterator_age_at)
            fold.has_poll_events = any(e.kind == "poll" for e in trace)
            points: dict[str, list[Point]] = {n: [] for n in METRIC_NAMES}
            deltas: list[Point] = []
        else:
            # What the forgotten entries gave, then the entries kept (history_hours).
            fold = archive.fold.copy()
            fold.has_poll_events |= any(e.kind == "poll" for e in trace)
            points = {n: archive.points(n) for n in METRIC_NAMES}
            deltas = archive.points(_DELTAS)
        fold.run(trace, points, deltas, forget=False)
        for values in points.values():
            values.sort(key=lambda p: p[0])  # stable: trace order within one ms
        self._points = points
        self._deltas = deltas


_DELTAS = "~ConcurrentExecutions"  # the archive's name for the level's +1/-1 steps


class _Fold:
    """
    Turns trace entries into metric points, in trace order, remembering across
    calls what later entries need: each invocation's ``invoke`` entry until its
    result, each mapping's last function, each lane's high-water mark.
    """

    __slots__ = (
        "function_of",
        "has_poll_events",
        "high_water",
        "invokes",
        "iterator_age_at",
        "mappings",
    )

    def __init__(self, mappings: dict[str, Any], iterator_age_at: str) -> None:
        self.mappings = mappings
        self.iterator_age_at = iterator_age_at
        self.invokes: dict[str, TraceEvent] = {}
        self.function_of: dict[str, str] = {}  # mapping -> the function it last invoked
        self.high_water: dict[tuple[str, str, int], int] = {}
        self.has_poll_events = False

    def copy(self) -> _Fold:
        """A fold that goes on from this one's state, leaving this one as it is."""
        other = _Fold(self.mappings, self.iterator_age_at)
        other.invokes = dict(self.invokes)
        other.function_of = dict(self.function_of)
        other.high_water = dict(self.high_water)
        other.has_poll_events = self.has_poll_events
        return other

    def run(
        self,
        events: Iterable[TraceEvent],
        points: dict[str, list[Point]],
        deltas: list[Point],
        *,
        forget: bool,
    ) -> None:
        """
        Append the points of ``events`` to ``points`` and ``deltas``. With
        ``forget``, an invocation's ``invoke`` entry is let go at its result
        (the events are being forgotten: nothing will ask for it again).
        """
        at_finish = self.iterator_age_at == "finish"
        invokes, function_of, high_water = self.invokes, self.function_of, self.high_water
        has_poll_events = self.has_poll_events

        def fn_of(e: TraceEvent) -> str:
            fn = e.get("function")
            if isinstance(fn, str):
                function_of[e.mapping] = fn
                return fn
            if e.mapping in function_of:
                return function_of[e.mapping]
            m = self.mappings.get(e.mapping)
            return m.function.name if m is not None else ""

        def polled(e: TraceEvent, fn: str) -> None:
            # PolledEventCount without poll events: a batch's records were read
            # when the batch first appears (throttled, invoked or discarded); a
            # later event about records at or below the lane's high-water mark is
            # a retry, a bisect half or a remainder, not a new read.
            if has_poll_events or not e.first_seq:
                return
            lane = (e.mapping, e.shard, e.lane)
            if int(e.first_seq) > high_water.get(lane, -1):
                high_water[lane] = int(e.last_seq)
                points["PolledEventCount"].append((e.at_ms, e.count, fn, e.mapping))

        for e in events:
            kind = e.kind
            if kind == "poll":
                points["PolledEventCount"].append((e.at_ms, e.count, fn_of(e), e.mapping))
            elif kind == "invoke":
                fn = fn_of(e)
                invokes[e.get("request_id", e.detail)] = e
                polled(e, fn)
                points["Invocations"].append((e.at_ms, 1, fn, e.mapping))
                points["InvokedEventCount"].append((e.at_ms, e.count, fn, e.mapping))
                deltas.append((e.at_ms, 1, fn, e.mapping))
                if not at_finish:
                    # spec 9.1 / 11 row 10: age of the last record when the event is sent.
                    age = e.get("iterator_age_ms")
                    if age is not None:
                        points["IteratorAge"].append((e.at_ms, age, fn, e.mapping))
            elif kind == "result":
                rid = e.get("request_id", "")
                sent = invokes.pop(rid, None) if forget else invokes.get(rid)
                if sent is None:
                    continue
                fn = fn_of(sent)
                deltas.append((e.at_ms, -1, fn, e.mapping))
                outcome = e.outcome  # the mapping's verdict, recorded once
                duration = e.get("duration_ms", e.at_ms - sent.at_ms)
                # spec 9.1: Errors and Duration belong to the invocation (its start).
                points["Duration"].append((sent.at_ms, duration, fn, e.mapping))
                if e.get("error") is not None:
                    # spec 9.1: Errors counts function errors only, not a
                    # response the mapping rejected.
                    points["Errors"].append((sent.at_ms, 1, fn, e.mapping))
                if outcome != "success" or e.get("error") is not None:
                    # spec 9.2: timestamped at the end of the invocation.
                    points["FailedInvokeEventCount"].append((e.at_ms, sent.count, fn, e.mapping))
                age = sent.get("iterator_age_ms")
                if at_finish and age is not None:
                    # spec 11 row 10, old wording: the age when processing finished.
                    points["IteratorAge"].append(
                        (e.at_ms, age + (e.at_ms - sent.at_ms), fn, e.mapping)
                    )
            elif kind == "redrive":
                # Simulation.redrive invokes the function directly: function
                # metrics count it (spec 9.1), with no mapping (no ESM made it).
                fn = str(e.get("function", ""))
                rid = e.get("request_id", "")
                if e.outcome == "sent":
                    invokes[rid] = e
                    points["Invocations"].append((e.at_ms, 1, fn, ""))
                    deltas.append((e.at_ms, 1, fn, ""))
                elif rid in invokes and e.outcome in ("success", "partial", "failure"):
                    sent = invokes.pop(rid) if forget else invokes[rid]
                    deltas.append((e.at_ms, -1, fn, ""))
                    points["Duration"].append((sent.at_ms, e.get("duration_ms", 0), fn, ""))
                    if e.get("error") is not None:
                        points["Errors"].append((sent.at_ms, 1, fn, ""))
            elif kind == "throttle":
                fn = fn_of(e)
                polled(e, fn)
                if e.detail in THROTTLE_REASONS:
                    points["Throttles"].append((e.at_ms, 1, fn, e.mapping))
            elif kind == "filter":
                fn = fn_of(e)
                if not has_poll_events:
                    # Filtered records were read once, and are never in a batch.
                    points["PolledEventCount"].append((e.at_ms, e.count, fn, e.mapping))
                points["FilteredOutEventCount"].append((e.at_ms, e.count, fn, e.mapping))
            elif kind == "discard":
                fn = fn_of(e)
                polled(e, fn)
                if e.outcome == "destination":
                    points["OnFailureDestinationDeliveredEventCount"].append(
                        (e.at_ms, e.count, fn, e.mapping)
                    )
                else:
                    # spec 3.5 / 9.2: dropped for age or retries, with no destination.
                    points["DroppedEventCount"].append((e.at_ms, e.count, fn, e.mapping))
            elif kind == "delivery-failure":
                fn = fn_of(e)
                polled(e, fn)
                # spec 9.2: a failed delivery counts 1 failure and drops the records.
                points["DestinationDeliveryFailures"].append((e.at_ms, 1, fn, e.mapping))
                points["DroppedEventCount"].append((e.at_ms, e.count, fn, e.mapping))


class MetricsArchive:
    """
    The metric points of forgotten trace entries (``Simulation(history_hours=...)``),
    kept compactly so every metric stays exact: per metric, the points' times
    (``array('q')``), values (``array('d')``) and (function, mapping) pairs (an
    ``array('I')`` of numbers into one shared list): 20 bytes a point, against
    the few hundred a trace entry keeps; plus the fold's state (invocations
    still running, each mapping's function, each lane's high-water mark).
    """

    __slots__ = ("_at", "_key", "_keys", "_numbers", "_value", "fold")

    def __init__(self, mappings: dict[str, Any], iterator_age_at: str) -> None:
        self.fold = _Fold(mappings, iterator_age_at)
        self._keys: list[tuple[str, str]] = []
        self._numbers: dict[tuple[str, str], int] = {}
        names = (*METRIC_NAMES, _DELTAS)
        self._at = {n: array("q") for n in names}
        self._value = {n: array("d") for n in names}
        self._key = {n: array("I") for n in names}

    def absorb(self, events: list[TraceEvent]) -> None:
        """Keep the points of entries the trace is forgetting (in trace order)."""
        if not events:
            return
        self.fold.has_poll_events |= any(e.kind == "poll" for e in events)
        points: dict[str, list[Point]] = {n: [] for n in METRIC_NAMES}
        deltas: list[Point] = []
        self.fold.run(events, points, deltas, forget=True)
        points[_DELTAS] = deltas
        numbers, keys = self._numbers, self._keys
        for name, values in points.items():
            at, value, key = self._at[name], self._value[name], self._key[name]
            for t, v, fn, mapping in values:
                pair = (fn, mapping)
                number = numbers.get(pair)
                if number is None:
                    number = numbers[pair] = len(keys)
                    keys.append(pair)
                at.append(t)
                value.append(v)
                key.append(number)

    def points(self, name: str) -> list[Point]:
        """The archived points of one metric (or ``_DELTAS``), in the order made."""
        keys = self._keys
        values = self._value[name]
        return [
            (t, _number(values[i]), *keys[k])
            for i, (t, k) in enumerate(zip(self._at[name], self._key[name], strict=True))
        ]


def _number(value: float) -> float:
    """A value as it was put in: whole numbers were ints (counts, milliseconds)."""
    return int(value) if value.is_integer() else value
