"""
Test helpers: scripted handlers, a determinism check, and an idempotency check.

This module owns what a user's own tests need besides the simulator: handlers
that fail on purpose (on keys, on invocation numbers, during a time window, or
with a partial batch response), :func:`assert_deterministic`, and
:func:`check_idempotent`. It does not import Hypothesis, so ``import
esm_sim.testing`` stays light.

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
from esm_sim.errors import ConfigError

if TYPE_CHECKING:
    from esm_sim.strategies import Scenario

__all__ = [
    "ScriptedFailure",
    "assert_deterministic",
    "check_idempotent",
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

    Values are compared as text, so ``fail_on_keys({7})`` matches the N key 7.
    """
    values = tuple(str(next(iter(v.values()))) for v in record["dynamodb"]["Keys"].values())
    return values[0] if len(values) == 1 else values


def _wanted(keys: Collection[object]) -> set[object]:
    if isinstance(keys, str | bytes) or not isinstance(keys, Collection):
        msg = f"keys={keys!r} must be a collection of key values, e.g. {{'k1'}}"
        raise ConfigError(msg)
    return {tuple(map(str, k)) if isinstance(k, tuple) else str(k) for k in keys}


def _matches(record: dict[str, Any], wanted: set[object]) -> bool:
    key = record_key(record)
    return key in wanted or (isinstance(key, tuple) and key[0] in wanted)


def _check_times(times: int | None) -> None:
    if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
        msg = f"times={times!r} must be None (always) or an int >= 1"
        raise ConfigError(msg)


def _run_inner(handler: Handler | None, event: dict[str, Any], context: Context) -> Any:
    return None if handler is None else handler(event, context)


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

    spans = []
    for start, end in windows:
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
    ["ReportBatchItemFailures"]`` (AWS ignores the response otherwise).

    Args:
        times: report each key at most this many times; None: every time.
    """
    wanted = _wanted(keys)
    _check_times(times)
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
        _run_inner(handler, {**event, "Records": records[:first]}, context)
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in failed
            ]
        }

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
    clean_sim, _ = scenario._run(clean_handler, faults=_empty_plan(), only=frozenset(harness.seen))
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

    .. versionadded:: 0.1.0
    """
    import attrs

    from esm_sim._sinks import Bucket
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
    clean_sim, _ = with_destination._run(
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


__all__ += ["check_redrive_idempotent"]  # kept here, at the end, with its function
