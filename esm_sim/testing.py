"""
Test helpers: scripted handlers, determinism, idempotency and batch-boundary checks.

This module owns what a user's own tests need besides the simulator: handlers
that fail on purpose (on keys, on invocation numbers, during a time window, or
with a partial batch response), :func:`assert_deterministic`,
:func:`check_idempotent` and :func:`check_batch_independent`. It does not
import Hypothesis, so ``import esm_sim.testing`` stays light.

A scripted handler is a plain callable ``handler(event, context)``; each takes
an optional inner ``handler`` that runs on the batches (or the parts of
batches) it does not fail.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from esm_sim._engine.timefmt import instant_arg_ms
from esm_sim._lambda.function import Context, Handler
from esm_sim._simulation import Simulation
from esm_sim._streams.attributes import key_value_text
from esm_sim.errors import ConfigError

if TYPE_CHECKING:
    from esm_sim.strategies import Scenario

__all__ = [
    "BATCH_KEYS",
    "BATCH_SETTINGS",
    "BatchBoundaryShift",
    "ScriptedFailure",
    "assert_deterministic",
    "check_batch_independent",
    "check_idempotent",
    "check_redrive_idempotent",
    "fail_on_attempts",
    "fail_on_keys",
    "fail_on_schedule",
    "partial_failures",
    "record_key",
]


class ScriptedFailure(Exception):
    """What a scripted handler raises: a function error (spec 3.1) on purpose."""


def record_key(record: dict[str, Any]) -> str | tuple[str, ...]:
    """
    A record's item key as text: the partition key's value, or (partition, sort) values.

    Values are compared as text, so ``fail_on_keys({7})`` matches the N key 7
    (as do ``7.0`` and ``Decimal("7.0")``), and ``fail_on_keys({b"k0"})`` the B key
    ``b"k0"`` (its base64 text).
    """
    values = tuple(str(next(iter(v.values()))) for v in record["dynamodb"]["Keys"].values())
    return values[0] if len(values) == 1 else values


def _wanted(keys: Collection[object]) -> set[object]:
    if isinstance(keys, str | bytes) or not isinstance(keys, Collection):
        msg = f"keys={keys!r} must be a collection of key values, e.g. {{'k1'}}"
        raise ConfigError(msg)
    return {
        tuple(map(key_value_text, k)) if isinstance(k, tuple) else key_value_text(k) for k in keys
    }


def _matches(record: dict[str, Any], wanted: set[object]) -> bool:
    key = record_key(record)
    return key in wanted or (isinstance(key, tuple) and key[0] in wanted)


def _check_times(times: int | None) -> None:
    if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
        msg = f"times={times!r} must be None (always) or an int >= 1"
        raise ConfigError(msg)


def _check_handler(handler: object) -> None:
    if handler is not None and not callable(handler):
        msg = f"handler={handler!r} must be None or a callable(event, context)"
        raise ConfigError(msg)


def _run_inner(handler: Handler | None, event: dict[str, Any], context: Context) -> Any:
    if handler is None:
        # Nothing to do; a tumbling window's state passes through (spec 6.2).
        return {"state": event["state"]} if "window" in event else None
    return handler(event, context)


def fail_on_keys(
    keys: Collection[object], *, times: int | None = None, handler: Handler | None = None
) -> Handler:
    """
    A handler that raises for any batch holding a record of one of ``keys``.

    Args:
        keys: partition-key values (or (partition, sort) tuples), compared as text.
        times: fail at most this many times per key, then let the key through;
            None fails every time (a poison record).
        handler: runs on batches that do not fail; None does nothing.
    """
    wanted = _wanted(keys)
    _check_times(times)
    _check_handler(handler)
    failures: dict[object, int] = {}

    def scripted(event: dict[str, Any], context: Context) -> Any:
        for record in event["Records"]:
            if not _matches(record, wanted):
                continue
            key = record_key(record)
            if times is None or failures.get(key, 0) < times:
                failures[key] = failures.get(key, 0) + 1
                msg = f"scripted failure on key {key!r}"
                raise ScriptedFailure(msg)
        return _run_inner(handler, event, context)

    return scripted


def fail_on_attempts(attempts: Collection[int], *, handler: Handler | None = None) -> Handler:
    """
    A handler that raises on the given invocations, numbered from 1 in the order
    it is called (every mapping and shard counted together).
    """
    if isinstance(attempts, str | bytes) or not isinstance(attempts, Collection):
        msg = f"attempts={attempts!r} must be a collection of invocation numbers"
        raise ConfigError(msg)
    for n in attempts:
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            msg = f"attempts={attempts!r} must hold ints >= 1 (got {n!r})"
            raise ConfigError(msg)
    _check_handler(handler)
    numbers = frozenset(attempts)
    calls = [0]

    def scripted(event: dict[str, Any], context: Context) -> Any:
        calls[0] += 1
        if calls[0] in numbers:
            msg = f"scripted failure on invocation {calls[0]}"
            raise ScriptedFailure(msg)
        return _run_inner(handler, event, context)

    return scripted


def fail_on_schedule(
    sim: Simulation,
    windows: Sequence[tuple[datetime | float, datetime | float]],
    *,
    handler: Handler | None = None,
) -> Handler:
    """
    A handler that raises while the virtual clock is inside one of ``windows``:
    a downstream outage. Each window is ``(start, end)``, half-open, as
    timezone-aware datetimes or epoch seconds.
    """

    if not isinstance(sim, Simulation):
        msg = f"sim={sim!r} must be the Simulation whose clock the outage follows"
        raise ConfigError(msg)
    _check_handler(handler)
    if isinstance(windows, str | bytes) or not isinstance(windows, Sequence):
        msg = f"windows={windows!r} must be a list of (start, end) pairs"
        raise ConfigError(msg)
    spans = []
    for window in windows:
        if not isinstance(window, Sequence) or isinstance(window, str | bytes) or len(window) != 2:
            msg = f"windows={windows!r} must be a list of (start, end) pairs, not {window!r}"
            raise ConfigError(msg)
        start, end = window
        lo, hi = instant_arg_ms("start", start), instant_arg_ms("end", end)
        if hi < lo:
            msg = f"windows: end={end!r} is before start={start!r}"
            raise ConfigError(msg)
        spans.append((lo, hi))

    def scripted(event: dict[str, Any], context: Context) -> Any:
        now = sim.now_ms
        for lo, hi in spans:
            if lo <= now < hi:
                msg = f"scripted outage at {sim.now.isoformat()}"
                raise ScriptedFailure(msg)
        return _run_inner(handler, event, context)

    return scripted


def partial_failures(
    keys: Collection[object], *, times: int | None = None, handler: Handler | None = None
) -> Handler:
    """
    A handler that answers a partial batch failure (spec 4) naming every record
    of one of ``keys``; the inner ``handler`` runs on the records before the
    first of them. Takes effect only on a mapping with ``FunctionResponseTypes:
    ["ReportBatchItemFailures"]`` (AWS ignores the response otherwise). In a
    tumbling window the response keeps the state the inner handler returned
    (with no inner handler, the state it was given).

    Args:
        times: report each key at most this many times; None: every time.
    """
    wanted = _wanted(keys)
    _check_times(times)
    _check_handler(handler)
    reported: dict[object, int] = {}

    def scripted(event: dict[str, Any], context: Context) -> Any:
        records = event["Records"]
        failed = []
        for record in records:
            if not _matches(record, wanted):
                continue
            key = record_key(record)
            if times is None or reported.get(key, 0) < times:
                reported[key] = reported.get(key, 0) + 1
                failed.append(record)
        if not failed:
            return _run_inner(handler, event, context)
        first = records.index(failed[0])
        response = _run_inner(handler, {**event, "Records": records[:first]}, context)
        failures = [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in failed]
        if "window" in event and isinstance(response, dict):
            # A tumbling window keeps the state the inner handler returned for the
            # records before the first failure (spec 4, 6.3).
            return {**response, "batchItemFailures": failures}
        return {"batchItemFailures": failures}

    return scripted


def assert_deterministic(build: Callable[[], Simulation]) -> None:
    """
    Run ``build`` twice and check both simulations left byte-identical traces.

    ``build`` must make a fresh simulation (and fresh handler state) each time
    and return it finished, e.g. ``lambda: scenario.run(make_handler())``.

    Raises:
        AssertionError: the traces differ; the message gives the first
            differing line of each.
    """
    first = build().trace.text().splitlines()
    second = build().trace.text().splitlines()
    if first == second:
        return
    for i, (a, b) in enumerate(zip(first, second, strict=False)):
        if a != b:
            msg = f"traces differ at line {i + 1}:\n  first run:  {a}\n  second run: {b}"
            raise AssertionError(msg)
    shorter, longer = ("first", second) if len(first) < len(second) else ("second", first)
    n = min(len(first), len(second))
    msg = f"traces differ at line {n + 1}: the {shorter} run ends; the other has:\n  {longer[n]}"
    raise AssertionError(msg)


def check_idempotent(
    handler_factory: Callable[[], tuple[Handler, Callable[[], object]]],
    scenario: Scenario,
) -> None:
    """
    Check a handler's side effects survive the redeliveries a scenario causes.

    ``handler_factory()`` returns a fresh ``(handler, effects)`` pair, where
    ``effects()`` reads the handler's side effects (e.g. a copy of the
    dict it writes to). The scenario runs once with its fault plan; then a
    fresh handler gets a clean single pass: the same writes, no faults, and
    only the records the first handler was given, each exactly once and in
    order. An idempotent handler ends with equal effects.

    Raises:
        AssertionError: the effects differ; the message shows both and the
            records the first run delivered more than once.
    """
    handler, effects = handler_factory()
    sim, harness = scenario._run(handler)
    after_faults = effects()
    clean_handler, clean_effects = handler_factory()
    clean_sim, _ = _clean(scenario)._run(
        clean_handler,
        faults=_empty_plan(),
        only=frozenset(harness.seen),
        only_finals=frozenset(harness.finals),
    )
    errors = [inv for inv in clean_sim.functions["esm-sim-handler"].invocations if inv.error]
    if errors:
        msg = (
            f"the handler failed in the clean pass ({errors[0].error_type}: "
            f"{errors[0].error_message}); it must succeed without faults to be compared"
        )
        raise AssertionError(msg)
    single = clean_effects()
    if after_faults == single:
        return
    counts: dict[int, int] = {}
    for inv in sim.functions["esm-sim-handler"].invocations:
        for seq in inv.sequence_numbers:
            counts[seq] = counts.get(seq, 0) + 1
    repeated = sorted(seq for seq, n in counts.items() if n > 1)
    # Each named by its item key too ("pk=k0 sk=s1"): the key is what a reader
    # matches against the scenario's writes and the handler's side effects.
    named = [
        f"{seq} ({harness.item_keys[seq]})" if seq in harness.item_keys else str(seq)
        for seq in repeated[:10]
    ]
    msg = (
        "the handler is not idempotent: its side effects after the scenario's "
        f"redeliveries differ from a single clean pass\n  with redeliveries: {after_faults!r}\n"
        f"  single pass:       {single!r}\n  records delivered more than once: "
        f"{', '.join(named) or 'none'}"
    )
    raise AssertionError(msg)


# ---------------------------------------------------------------------------
# Batch-boundary checks (issue 19)
# ---------------------------------------------------------------------------

BATCH_KEYS = ("BatchSize", "MaximumBatchingWindowInSeconds", "BisectBatchOnFunctionError")
"""The mapping settings :func:`check_batch_independent` varies: where batches begin and end."""

BATCH_SETTINGS: tuple[dict[str, Any], ...] = (
    {"BatchSize": 1, "MaximumBatchingWindowInSeconds": 0, "BisectBatchOnFunctionError": False},
    {"BatchSize": 2, "MaximumBatchingWindowInSeconds": 0, "BisectBatchOnFunctionError": False},
    {"BatchSize": 100, "MaximumBatchingWindowInSeconds": 0, "BisectBatchOnFunctionError": False},
    {"BatchSize": 100, "MaximumBatchingWindowInSeconds": 10, "BisectBatchOnFunctionError": False},
    {"BatchSize": 100, "MaximumBatchingWindowInSeconds": 10, "BisectBatchOnFunctionError": True},
)
"""
The default grid of :func:`check_batch_independent`, smallest first; each differs
from the one before it in one key. Every record alone; pairs; whatever one
read returns (a burst of writes at one instant); whatever 10 seconds gather;
and the same with bisect, where the first invocation of two or more records
fails before the handler runs and its batch is retried in halves (spec 3.4).
"""


class BatchBoundaryShift(Exception):
    """
    What :func:`check_batch_independent` raises, before the handler runs, to make
    a mapping with ``BisectBatchOnFunctionError`` split a batch (spec 3.4).
    """


def _check_batch_settings(settings: object) -> list[dict[str, Any]]:
    if isinstance(settings, str | bytes | dict) or not isinstance(settings, Sequence):
        msg = f"settings={settings!r} must be a list of dicts of {', '.join(BATCH_KEYS)}"
        raise ConfigError(msg)
    out = []
    for setting in settings:
        if not isinstance(setting, dict):
            msg = (
                f"settings: {setting!r} must be a dict of mapping settings, e.g. {{'BatchSize': 1}}"
            )
            raise ConfigError(msg)
        unknown = [k for k in setting if k not in BATCH_KEYS]
        if unknown:
            msg = (
                f"settings: {setting!r} has {', '.join(map(repr, unknown))}; "
                f"only {', '.join(BATCH_KEYS)} move batch boundaries"
            )
            raise ConfigError(msg)
        out.append(dict(setting))
    if len(out) < 2:
        msg = f"settings={settings!r} must hold at least two settings to compare"
        raise ConfigError(msg)
    return out


class _Boundaries:
    """The user's handler in one batch-boundary run: what it was given, and a bisect trigger."""

    def __init__(self, handler: Handler, *, split: bool) -> None:
        self.handler = handler
        self.split = split
        self.batches: list[list[int]] = []  # sequence numbers of each batch the handler ran on
        self.keys: dict[int, str | tuple[str, ...]] = {}
        self.error: str | None = None

    def __call__(self, event: dict[str, Any], context: Context) -> Any:
        records = event["Records"]
        if self.split and len(records) >= 2:
            self.split = False
            msg = f"batch of {len(records)} records failed on purpose, to be bisected"
            raise BatchBoundaryShift(msg)
        seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
        for seq, record in zip(seqs, records, strict=True):
            self.keys[seq] = record_key(record)
        if seqs:
            self.batches.append(seqs)
        try:
            response = self.handler(event, context)
        except Exception as error:
            if self.error is None:
                self.error = f"{type(error).__name__}: {error}"
            raise
        if self.error is None and isinstance(response, dict) and response.get("batchItemFailures"):
            self.error = f"it answered a partial batch failure: {response['batchItemFailures']!r}"
        return response

    def shown_batches(self) -> str:
        """The batches as item keys, e.g. ``[k0] [k1, k2]`` (the first 8)."""
        shown = [
            "[" + ", ".join(_key_str(self.keys[seq]) for seq in batch) + "]"
            for batch in self.batches[:8]
        ]
        more = f" ... ({len(self.batches)} in all)" if len(self.batches) > 8 else ""
        return " ".join(shown) + more if shown else "none"


def _key_str(key: str | tuple[str, ...]) -> str:
    return key if isinstance(key, str) else "/".join(key)


def _batch_run(
    handler_factory: Callable[[], tuple[Handler, Callable[[], object]]],
    scenario: Scenario,
    setting: dict[str, Any],
) -> tuple[object, _Boundaries]:
    import attrs

    handler, effects = handler_factory()
    boundaries = _Boundaries(handler, split=bool(setting.get("BisectBatchOnFunctionError")))
    # No record may be discarded, so a clean run gives the handler every record
    # once: retries and record age unlimited (a batching window could otherwise
    # outlive a 60-second age limit, spec 3.3).
    mapping = {
        **scenario.mapping,
        **setting,
        "MaximumRetryAttempts": -1,
        "MaximumRecordAgeInSeconds": -1,
    }
    attrs.evolve(scenario, mapping=mapping)._run(boundaries, faults=_empty_plan())
    return effects(), boundaries


def _changed_keys(a: dict[str, Any], b: dict[str, Any]) -> int:
    return sum(1 for k in BATCH_KEYS if a.get(k) != b.get(k))


def check_batch_independent(
    handler_factory: Callable[[], tuple[Handler, Callable[[], object]]],
    scenario: Scenario,
    *,
    settings: Sequence[dict[str, Any]] = BATCH_SETTINGS,
) -> None:
    """
    Check a handler's side effects do not depend on how its records are batched.

    In production batch boundaries shift with load, batching windows, bisect
    and retries; a handler that processes only ``Records[0]``, drops a record,
    keeps state across invocations or aggregates per batch is wrong there.
    ``handler_factory()`` returns a fresh ``(handler, effects)`` pair, as for
    :func:`check_idempotent`. The scenario's writes run once per setting of
    ``settings`` (by default :data:`BATCH_SETTINGS`), each on a fresh handler,
    with the scenario's mapping changed by that setting's keys
    (:data:`BATCH_KEYS`) and without the scenario's fault plan: a clean run in
    which every record reaches the handler once, in order (retries and record
    age are unlimited, so nothing is discarded). With
    ``BisectBatchOnFunctionError`` true, the first invocation of two or more
    records fails (:class:`BatchBoundaryShift`) before the handler runs, so
    the batch is retried in halves (spec 3.4). A batch-independent handler
    ends every run with equal effects.

    Of the pairs of settings that disagree, the one reported differs in the
    fewest keys, then comes first in ``settings`` (its first setting earliest,
    then its second).

    Args:
        settings: at least two dicts of mapping settings, keys from
            :data:`BATCH_KEYS`, values as ``create_event_source_mapping``
            takes them (AWS's error for a value it refuses). For a property
            test draw two with :func:`esm_sim.strategies.batch_settings`.

    Raises:
        AssertionError: two settings gave different effects (or the handler
            failed under one); the message shows both settings, both effects
            and the batches each gave the handler. Or the handler failed
            under every setting: it must succeed without faults to be compared.
        ConfigError: ``settings`` is not a list of at least two such dicts.

    .. versionadded:: 0.1.0
    """
    chosen = _check_batch_settings(settings)
    runs = [_batch_run(handler_factory, scenario, setting) for setting in chosen]
    if all(b.error is not None for _, b in runs):
        msg = (
            f"the handler failed under every batch setting ({runs[0][1].error}); it must "
            "succeed without faults to be compared"
        )
        raise AssertionError(msg)
    pairs = [
        (_changed_keys(chosen[i], chosen[j]), i, j)
        for i in range(len(runs))
        for j in range(i + 1, len(runs))
        if runs[i][0] != runs[j][0] or (runs[i][1].error is None) != (runs[j][1].error is None)
    ]
    if not pairs:
        return
    _, i, j = min(pairs)
    lines = [
        "the handler's side effects depend on how its records are batched: "
        "two batch settings give different side effects"
    ]
    for n, k in enumerate((i, j)):
        effects, boundaries = runs[k]
        label = ("first", "second")[n]
        lines.append(f"  {label} setting:  {chosen[k]!r}")
        lines.append(f"    side effects:  {effects!r}")
        lines.append(f"    batches:       {boundaries.shown_batches()}")
        if boundaries.error is not None:
            lines.append(f"    handler failed: {boundaries.error}")
    raise AssertionError("\n".join(lines))


def _clean(scenario: Scenario) -> Scenario:
    """
    The scenario for a clean pass: no MaximumRecordAgeInSeconds, so each record it
    is to give the handler gets there (a slow batching window could age it out).
    """
    import attrs

    return attrs.evolve(scenario, mapping={**scenario.mapping, "MaximumRecordAgeInSeconds": -1})


def _empty_plan() -> Any:
    from esm_sim.strategies import FaultPlan

    return FaultPlan()


def check_redrive_idempotent(
    handler_factory: Callable[[], tuple[Handler, Callable[[], object]]],
    scenario: Scenario,
) -> None:
    """
    Check that fixing the failures and redriving them ends where one clean pass does.

    ``handler_factory()`` returns a fresh ``(handler, effects)`` pair, as for
    :func:`check_idempotent`. The scenario runs once with its fault plan and an
    on-failure destination (its own, or the queue ``esm-sim-dlq`` when it has
    none). Then the fix is deployed: the same handler, now without the fault
    plan around it and keeping its side effects (the database survives the
    deploy), redrives everything in the destination (``Simulation.redrive``).
    A fresh handler then makes one clean pass: the same writes, no faults, only
    the records the first handler was given or the redrive sent, each exactly
    once and in order. The effects must be equal: a handler that double-counts
    a record it partly processed before failing, or that lets a late redrive
    overwrite newer data, is caught here.

    Raises:
        AssertionError: the effects differ (the message shows both, the
            records redriven and those lost to retention), or the handler
            failed in the redrive or the clean pass.

        ConfigError: a tumbling-window scenario: a redrive's events carry no
            window or state (``Simulation.redrive``), so a windowed handler's
            effects cannot match a clean windowed pass.

    .. versionadded:: 0.1.0
    """
    import attrs

    from esm_sim._sinks import Bucket

    if scenario.mapping.get("TumblingWindowInSeconds"):
        msg = (
            f"TumblingWindowInSeconds={scenario.mapping['TumblingWindowInSeconds']!r}: "
            "check_redrive_idempotent takes scenarios without tumbling windows (a "
            "redrive's events carry no window or state to compare)"
        )
        raise ConfigError(msg)
    from esm_sim.strategies import _DEFAULT_DESTINATION

    mapping = dict(scenario.mapping)
    mapping.setdefault("DestinationConfig", {"OnFailure": {"Destination": _DEFAULT_DESTINATION}})
    with_destination = attrs.evolve(scenario, mapping=mapping)
    handler, effects = handler_factory()
    sim, harness = with_destination._run(handler)
    destination = mapping["DestinationConfig"].get("OnFailure", {}).get("Destination")
    sink = sim._sinks.get(destination or "")
    redriven: tuple[int, ...] = ()
    lost: tuple[int, ...] = ()
    if sink is not None and (sink.objects if isinstance(sink, Bucket) else sink.messages):
        sim.create_function("esm-sim-fixed", handler, timeout=scenario.timeout)
        result = sim.redrive(sink, function_name="esm-sim-fixed")
        redriven, lost = result.redriven, result.lost
        broken = [inv for inv in result.invocations if inv.error]
        if broken:
            msg = (
                f"the handler failed in the redrive ({broken[0].error_type}: "
                f"{broken[0].error_message}); it must succeed without faults to be compared"
            )
            raise AssertionError(msg)
    after_redrive = effects()
    clean_handler, clean_effects = handler_factory()
    clean_sim, _ = _clean(with_destination)._run(
        clean_handler, faults=_empty_plan(), only=frozenset(harness.seen) | frozenset(redriven)
    )
    errors = [inv for inv in clean_sim.functions["esm-sim-handler"].invocations if inv.error]
    if errors:
        msg = (
            f"the handler failed in the clean pass ({errors[0].error_type}: "
            f"{errors[0].error_message}); it must succeed without faults to be compared"
        )
        raise AssertionError(msg)
    single = clean_effects()
    if after_redrive == single:
        return

    def named(seqs: Sequence[int]) -> str:
        shown = [
            f"{seq} ({harness.item_keys[seq]})" if seq in harness.item_keys else str(seq)
            for seq in seqs[:10]
        ]
        return ", ".join(shown) + (f" and {len(seqs) - 10} more" if len(seqs) > 10 else "")

    msg = (
        "the handler is not redrive-idempotent: its side effects after the scenario's "
        "failures and a redrive of its on-failure destination differ from a single clean "
        f"pass\n  after the redrive: {after_redrive!r}\n  single pass:       {single!r}\n"
        f"  records redriven: {named(redriven) or 'none'}\n"
        f"  records lost to retention: {named(lost) or 'none'}"
    )
    raise AssertionError(msg)
