"""
Hypothesis strategies for esm_sim: writes, mapping configurations, fault plans, scenarios.

This module owns the generated side of property-based testing with esm_sim.
Import it explicitly (``from esm_sim import strategies as ess``); ``import
esm_sim`` never loads Hypothesis.

The strategies follow Hypothesis's own API style: plural nouns, keyword-only
arguments with defaults, ``min_*``/``max_*`` bounds, defaults spanning the
whole range AWS accepts, plain values as arguments (never "a value or a
strategy"), and bad arguments raising :class:`hypothesis.errors.InvalidArgument`
when the strategy is drawn from, not when it is defined. Every draw shrinks
toward a small, readable case: few writes on one hot key, a small batch, no
retries, no destination, no fault.

A :class:`Scenario` is one complete, replayable situation: a seed, a table, a
timed write schedule, a mapping configuration, a :class:`FaultPlan` and the
simulation's behaviour settings (:func:`simulation_settings`).
``scenario.run(handler)`` builds the simulation, wraps the user's handler in
the fault plan (so the handler's side effects really see the redeliveries the
faults cause), runs it until idle and returns the finished simulation.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import attrs
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from esm_sim._lambda.function import Context, Handler
from esm_sim._lambda.validation import _DESTINATION_ARN
from esm_sim._mapping.config import SETTINGS, Setting
from esm_sim._simulation import Simulation
from esm_sim._streams.attributes import key_value_text
from esm_sim.errors import ConfigError

__all__ = [
    "BEHAVIOUR_KEYWORDS",
    "FAULT_KINDS",
    "FILTER_PATTERNS",
    "Fault",
    "FaultPlan",
    "InjectedFault",
    "Scenario",
    "Throttle",
    "Write",
    "batch_settings",
    "fault_plans",
    "items",
    "mapping_configs",
    "scenarios",
    "simulation_settings",
    "writes",
]

# What a fault does to one invocation, around the user's handler:
#   raise_before  raise without running the handler
#   raise_midway  run the handler on the records before the trigger record, then raise
#   raise_after   run the handler on the whole batch, then raise
#   timeout       run the handler on the whole batch, then run past the function timeout
#   partial       run the handler on the records before the trigger record and answer
#                 {"batchItemFailures": [...]} from the trigger record on (spec 4); without
#                 ReportBatchItemFailures on the mapping this is raise_midway, because AWS
#                 ignores the response (spec 4) and the unprocessed records would be lost
#                 by the fault plan itself, not by the handler under test.
MAX_DRAWN_FILTERS = 2  # FilterCriteria filters a drawn mapping has at most
FAULT_KINDS = ("raise_before", "raise_midway", "raise_after", "timeout", "partial")

# Filter patterns drawn by mapping_configs(); they only use record metadata
# (spec 8: eventName can be matched), so they suit any table.
FILTER_PATTERNS = (
    '{"eventName": ["INSERT"]}',
    '{"eventName": ["INSERT", "MODIFY"]}',
    '{"eventName": ["REMOVE"]}',
    '{"eventName": [{"anything-but": ["REMOVE"]}]}',
)

_STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST")
_TABLE = "esm-sim-table"
_FUNCTION = "esm-sim-handler"
_QUEUE = "esm-sim-dlq"
_DEFAULT_DESTINATION = f"arn:aws:sqs:us-east-1:123456789012:{_QUEUE}"


class InjectedFault(Exception):
    """The exception a fault plan raises inside the function (a function error, spec 3.1)."""


# ---------------------------------------------------------------------------
# Argument checks (Hypothesis style: name=value, raised at draw time)
# ---------------------------------------------------------------------------


def _check_int(name: str, value: object, low: int | None = None, high: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        msg = f"Expected int but got {name}={value!r} (type={type(value).__name__})"
        raise InvalidArgument(msg)
    if low is not None and value < low:
        msg = f"Invalid value {name}={value!r} < {low}"
        raise InvalidArgument(msg)
    if high is not None and value > high:
        msg = f"Invalid value {name}={value!r} > {high}"
        raise InvalidArgument(msg)
    return value


def _check_order(low_name: str, low: int, high_name: str, high: int) -> None:
    if high < low:
        msg = f"Cannot have {high_name}={high!r} < {low_name}={low!r}"
        raise InvalidArgument(msg)


def _check_bool_or_none(name: str, value: object) -> None:
    if value is not None and not isinstance(value, bool):
        msg = f"Expected bool or None but got {name}={value!r} (type={type(value).__name__})"
        raise InvalidArgument(msg)


def _check_strings(
    name: str, value: object, allowed: Sequence[str] | None = None
) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        msg = f"Expected a sequence of str but got {name}={value!r}"
        raise InvalidArgument(msg)
    out = tuple(value)
    for v in out:
        if not isinstance(v, str) or not v:
            msg = f"Expected non-empty str elements but got {name}={value!r}"
            raise InvalidArgument(msg)
        if allowed is not None and v not in allowed:
            msg = f"Invalid element {v!r} in {name}={value!r}; expected some of {allowed!r}"
            raise InvalidArgument(msg)
    return out


# Strategies are built once per argument tuple and reused by every draw
# (functools.lru_cache below): Hypothesis validates a new strategy object and
# computes its label on first use, which used to dominate drawing a scenario.
# The draws themselves (choices, spans, labels) are exactly those of strategies
# built afresh, so the examples generated and their shrinking are unchanged.
_CACHE = 256  # argument tuples kept per builder; the defaults need a handful


@functools.lru_cache(maxsize=_CACHE)
def _small_first(low: int, high: int, small: int) -> st.SearchStrategy[int]:
    # Shrinking prefers the first branch, so small values come first.
    return st.integers(low, min(high, low + small)) | st.integers(low, high)


@functools.lru_cache(maxsize=_CACHE)
def _windows(high: int) -> st.SearchStrategy[int]:
    """
    TumblingWindowInSeconds up to ``high``: 0 (none), often a window of at most a
    minute (so a scenario's writes span several and the clock closes them), up to
    ``high``. With ``high`` 0 a single choice, as before windows were drawn.
    """
    if high == 0:
        return st.integers(0, 0)
    return st.integers(0, high) | st.integers(1, min(high, 60))


_KEY_TYPES = ("S", "N", "B")


def _key_name(key: str | tuple[str, str]) -> str:
    return key if isinstance(key, str) else key[0]


def _check_sort_key(value: object) -> tuple[str, str] | None:
    return None if value is None else _check_key("sort_key", value, optional=True)


def _check_key(name: str, value: object, *, optional: bool = False) -> tuple[str, str]:
    """A key schema argument as (attribute name, type); a bare name is type "S"."""
    if isinstance(value, str) and value:
        return value, "S"
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and value[0]
        and value[1] in _KEY_TYPES
    ):
        return value[0], value[1]
    expected = "a non-empty str or a (name, type) pair with type 'S', 'N' or 'B'"
    msg = f"Expected {expected}{' or None' if optional else ''} but got {name}={value!r}"
    raise InvalidArgument(msg)


@functools.lru_cache(maxsize=_CACHE)
def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(low, high)


@functools.lru_cache(maxsize=_CACHE)
def _sampled(values: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


def _key_values(prefix: str, kind: str, count: int) -> tuple[Any, ...]:
    """``count`` key values of DynamoDB type ``kind``: k0, k1... (S), 0, 1... (N), b"k0"... (B)."""
    if kind == "N":
        return tuple(range(count))
    if kind == "B":
        return tuple(f"{prefix}{i}".encode() for i in range(count))
    return tuple(f"{prefix}{i}" for i in range(count))


# ---------------------------------------------------------------------------
# Value objects
# ---------------------------------------------------------------------------


def _one_of(choices: tuple[str, ...]) -> Any:
    """An attrs validator: the value is one of ``choices`` (ConfigError naming it)."""

    def check(instance: object, attribute: Any, value: object) -> None:
        if value not in choices:
            msg = f"{attribute.name}={value!r} must be one of {', '.join(map(repr, choices))}"
            raise ConfigError(msg)

    return check


@attrs.frozen(kw_only=True, eq=True, hash=False)
class Write:
    """
    One timed write: ``put`` an item or ``delete`` it, ``at_ms`` after the scenario starts.

    ``item`` holds plain Python values, as boto3's ``Table.put_item`` takes them;
    for a delete only its key attribute is used.
    """

    at_ms: int
    op: str = attrs.field(validator=_one_of(("put", "delete")))
    item: dict[str, Any]

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        # Hypothesis prints falsifying examples with its pretty-printer; use our repr.
        p.text(repr(self))

    def __repr__(self) -> str:
        return f"Write(at_ms={self.at_ms!r}, op={self.op!r}, item={self.item!r})"


@attrs.frozen(kw_only=True)
class Fault:
    """
    One way the function misbehaves, and when.

    ``kind`` is one of :data:`FAULT_KINDS`. The fault applies to an invocation
    whose batch holds a record of one of ``keys`` (partition-key values), or
    whose 1-based number among the function's invocations is in ``attempts``.
    It fires ``times`` times in all (None: every time it applies). The
    *trigger record* of ``raise_midway`` and ``partial`` is the first record of
    a chosen key, or the middle record for an attempt-chosen invocation.
    """

    kind: str = attrs.field(validator=_one_of(FAULT_KINDS))
    keys: tuple[str, ...] = ()
    attempts: tuple[int, ...] = ()
    times: int | None = 1

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def __repr__(self) -> str:
        parts = [f"kind={self.kind!r}"]
        if self.keys:
            parts.append(f"keys={self.keys!r}")
        if self.attempts:
            parts.append(f"attempts={self.attempts!r}")
        parts.append(f"times={self.times!r}")
        return f"Fault({', '.join(parts)})"


@attrs.frozen(kw_only=True)
class Throttle:
    """Reserved concurrency 0 from ``at_ms`` after the start, for ``for_ms`` (spec 3.1, 10)."""

    at_ms: int
    for_ms: int


@attrs.frozen(kw_only=True)
class FaultPlan:
    """
    How the function misbehaves around the user's handler: faults and throttles.

    The first fault of ``faults`` that applies to an invocation (and has not
    used up its ``times``) decides what happens to it; with none, the user's
    handler runs normally and its response is returned.
    """

    faults: tuple[Fault, ...] = ()
    throttles: tuple[Throttle, ...] = ()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def __repr__(self) -> str:
        parts = []
        if self.faults:
            parts.append(f"faults={self.faults!r}")
        if self.throttles:
            parts.append(f"throttles={self.throttles!r}")
        return f"FaultPlan({', '.join(parts)})"


def _record_key(record: dict[str, Any], partition_key: str = "pk") -> str:
    # The partition key's value as text, as the stream record has it (spec 7.3):
    # S as is, N as its decimal text, B as base64 (see key_value_text).
    keys = record["dynamodb"]["Keys"]
    value = keys.get(partition_key) or next(iter(keys.values()))
    return str(next(iter(value.values())))


def _item_key_text(record: dict[str, Any]) -> str:
    # The record's whole item key, e.g. "pk=k0 sk=s1" (partition key first, spec 7.3).
    keys = record["dynamodb"]["Keys"]
    return " ".join(f"{name}={next(iter(v.values()))}" for name, v in keys.items())


def _final(event: dict[str, Any]) -> tuple[str, str]:
    """A tumbling window's final invocation, as its shard and window start."""
    window = event.get("window")
    start = window.get("start") if isinstance(window, dict) else None
    return str(event.get("shardId")), str(start)


class _Harness:
    """The fault plan wrapped around one user handler, for one run."""

    def __init__(
        self,
        handler: Handler,
        plan: FaultPlan,
        *,
        report_batch_item_failures: bool,
        timeout_s: float,
        only: frozenset[int] | None = None,
        only_finals: frozenset[tuple[str, str]] = frozenset(),
        partition_key: str = "pk",
    ) -> None:
        self.handler = handler
        self.only_finals = only_finals
        self.partition_key = partition_key
        self.plan = plan
        self.rbif = report_batch_item_failures
        self.timeout_s = timeout_s
        self.only = only
        self.calls = 0
        self.fired = [0] * len(plan.faults)
        self.timed_out: set[str] = set()
        self.seen: set[int] = set()  # sequence numbers the user's handler was given
        # (shardId, window start) of the final invocations the user's handler was given
        self.finals: set[tuple[str, str]] = set()
        self.item_keys: dict[int, str] = {}  # sequence number -> "pk=k0 sk=s1"

    def _pick(self, records: list[dict[str, Any]]) -> tuple[Fault, int] | None:
        keys = [_record_key(r, self.partition_key) for r in records]
        for i, fault in enumerate(self.plan.faults):
            if fault.times is not None and self.fired[i] >= fault.times:
                continue
            if self.calls in fault.attempts:
                self.fired[i] += 1
                return fault, len(records) // 2
            for j, key in enumerate(keys):
                if key in fault.keys:
                    self.fired[i] += 1
                    return fault, j
        return None

    def _call(self, event: dict[str, Any], context: Context, records: list[dict[str, Any]]) -> Any:
        if self.only is not None:
            kept = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) in self.only]
            if (records and not kept) or (
                not records
                and event.get("isFinalInvokeForWindow")
                and _final(event) not in self.only_finals
            ):
                # Nothing for the handler: a tumbling window's state passes through
                # unchanged (spec 6.2); a final invocation (no records) still runs it
                # if the run compared with it gave that window's final to the handler.
                return {"state": event["state"]} if "window" in event else None
            records = kept
        self.seen.update(int(r["dynamodb"]["SequenceNumber"]) for r in records)
        if event.get("isFinalInvokeForWindow"):
            self.finals.add(_final(event))
        return self.handler({**event, "Records": records}, context)

    def __call__(self, event: dict[str, Any], context: Context) -> Any:
        self.calls += 1
        records = list(event["Records"])
        for r in records:
            self.item_keys[int(r["dynamodb"]["SequenceNumber"])] = _item_key_text(r)
        picked = self._pick(records)
        if picked is None:
            return self._call(event, context, records)
        fault, trigger = picked
        kind = fault.kind
        if kind == "partial" and not self.rbif:
            kind = "raise_midway"
        what = f"injected {kind} on invocation {self.calls} ({fault!r})"
        if kind == "raise_before":
            raise InjectedFault(what)
        if kind in ("raise_midway", "partial"):
            response = self._call(event, context, records[:trigger])
            if kind == "raise_midway":
                raise InjectedFault(what)
            failures = [
                {"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in records[trigger:]
            ]
            if "window" in event and isinstance(response, dict):
                # A tumbling window keeps the state the handler returned for the
                # records before the trigger (spec 4, 6.3).
                return {**response, "batchItemFailures": failures}
            return {"batchItemFailures": failures}
        self._call(event, context, records)
        if kind == "timeout":
            self.timed_out.add(context.aws_request_id)
            return None
        raise InjectedFault(what)

    def duration(self, event: dict[str, Any], context: Context) -> float:
        # A timeout fault runs the invocation just past the function's timeout (spec 3.1).
        return self.timeout_s + 0.001 if context.aws_request_id in self.timed_out else 0.0


@attrs.frozen(kw_only=True, eq=True, hash=False)
class Scenario:
    """
    One replayable situation: seed, table, writes, mapping configuration, fault plan.

    Draw them with :func:`scenarios`; run one with :meth:`run`.

    Attributes:
        seed: the simulation's seed (every id comes from it).
        shard_count: shards of the table's stream.
        writes: the timed write schedule, oldest first.
        mapping: keyword arguments for ``create_event_source_mapping`` (without
            ``FunctionName`` and ``EventSourceArn``, which :meth:`run` adds).
        faults: how the function misbehaves around the handler.
        timeout: the function's timeout in seconds.
        settings: keyword arguments for :class:`~esm_sim.Simulation`, the
            behaviour choices where AWS is silent (see :func:`simulation_settings`);
            empty: every default.
        partition_key, sort_key: the table's key schema, as
            ``Simulation.create_table`` takes it: a name, or a (name, type) pair
            with type "S", "N" or "B"; no sort key by default.

    .. versionchanged:: 0.1.0 ``settings``, ``partition_key``, ``sort_key``.
    """

    seed: int = 0
    shard_count: int = 1
    writes: tuple[Write, ...] = ()
    mapping: dict[str, Any] = attrs.field(factory=lambda: {"StartingPosition": "TRIM_HORIZON"})
    faults: FaultPlan = FaultPlan()
    timeout: float = 3.0
    settings: dict[str, Any] = attrs.field(factory=dict)
    partition_key: str | tuple[str, str] = "pk"
    sort_key: str | tuple[str, str] | None = None

    def _shown(self, name: str) -> bool:
        # Fields at their defaults that older scenarios lacked are not printed, so a
        # scenario on the default table reads as it did before they existed.
        if name == "settings":
            return bool(self.settings)
        if name == "partition_key":
            return self.partition_key != "pk"
        if name == "sort_key":
            return self.sort_key is not None
        return True

    @property
    def key_names(self) -> tuple[str, ...]:
        """The key attribute names: (partition,) or (partition, sort)."""
        names = [_key_name(self.partition_key)]
        if self.sort_key is not None:
            names.append(_key_name(self.sort_key))
        return tuple(names)

    def __repr__(self) -> str:
        extra = "".join(
            f", {name}={getattr(self, name)!r}"
            for name in ("settings", "partition_key", "sort_key")
            if self._shown(name)
        )
        return (
            f"Scenario(seed={self.seed!r}, shard_count={self.shard_count!r}, "
            f"writes={self.writes!r}, mapping={self.mapping!r}, faults={self.faults!r}"
            f"{extra})"
        )

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        # Hypothesis prints a falsifying example field by field, as it does any attrs
        # class; empty settings are left out, so a scenario with the defaults reads
        # as it did before the field existed.
        if cycle:
            p.text("Scenario(...)")
            return
        names = [a.name for a in attrs.fields(Scenario) if a.init and self._shown(a.name)]
        with p.group(1, "Scenario(", ")"):
            for i, name in enumerate(names):
                if i:
                    p.text(",")
                    p.breakable()
                p.text(f"{name}=")
                p.pretty(getattr(self, name))

    def run(self, handler: Handler, *, max_seconds: float = 3 * 86_400) -> Simulation:
        """
        Run the scenario with ``handler`` (wrapped in the fault plan) until idle.

        The simulation is ``Simulation(seed=seed, **settings)``. The table is
        ``esm-sim-table`` (keyed by :attr:`partition_key` and :attr:`sort_key`), the function
        ``esm-sim-handler``, and an SQS queue ``esm-sim-dlq`` exists for an
        on-failure destination. Writes and throttles run on the virtual clock
        from the simulation's start.

        Returns:
            The finished :class:`~esm_sim.Simulation`.

        Raises:
            SimulationLimitExceeded: still busy after ``max_seconds`` of virtual time.
        """
        sim, _ = self._run(handler, max_seconds=max_seconds)
        return sim

    def _run(
        self,
        handler: Handler,
        *,
        max_seconds: float = 3 * 86_400,
        faults: FaultPlan | None = None,
        only: frozenset[int] | None = None,
        only_finals: frozenset[tuple[str, str]] = frozenset(),
    ) -> tuple[Simulation, _Harness]:
        plan = self.faults if faults is None else faults
        sim = Simulation(seed=self.seed, **self.settings)
        table = sim.create_table(
            _TABLE,
            partition_key=self.partition_key,
            sort_key=self.sort_key,
            shard_count=self.shard_count,
        )
        sim.create_queue(_QUEUE)
        harness = _Harness(
            handler,
            plan,
            report_batch_item_failures="ReportBatchItemFailures"
            in self.mapping.get("FunctionResponseTypes", ()),
            timeout_s=self.timeout,
            only=only,
            only_finals=only_finals,
            partition_key=_key_name(self.partition_key),
        )
        sim.create_function(_FUNCTION, harness, timeout=self.timeout, duration=harness.duration)
        sim.lambda_client.create_event_source_mapping(
            FunctionName=_FUNCTION, EventSourceArn=table.stream_arn, **self.mapping
        )
        start = sim.now
        key_names = self.key_names
        for write in self.writes:
            target = table.put_item if write.op == "put" else table.delete_item
            item = write.item if write.op == "put" else {k: write.item[k] for k in key_names}
            sim.call_at(start + timedelta(milliseconds=write.at_ms), target, item)
        client = sim.lambda_client
        for throttle in plan.throttles:
            sim.call_at(
                start + timedelta(milliseconds=throttle.at_ms),
                _set_reserved,
                client,
                0,
            )
            sim.call_at(
                start + timedelta(milliseconds=throttle.at_ms + throttle.for_ms),
                _set_reserved,
                client,
                None,
            )
        sim.run_until_idle(max_seconds=max_seconds)
        return sim, harness


def _set_reserved(client: Any, value: int | None) -> None:
    if value is None:
        client.delete_function_concurrency(FunctionName=_FUNCTION)
    else:
        client.put_function_concurrency(FunctionName=_FUNCTION, ReservedConcurrentExecutions=value)


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

_ATTRIBUTE_NAMES = ("a", "b", "note", "tags", "flag")
# Fixed alphabets: Hypothesis builds no Unicode tables for them, so the first
# draw is as fast as the others (no too_slow health check in users' tests).
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_VALUES: st.SearchStrategy[Any] = st.one_of(
    st.integers(0, 1000),
    st.text(_ALPHABET + " -é", max_size=8),
    st.booleans(),
    st.none(),
    st.binary(min_size=1, max_size=4),
    st.lists(st.text(_ALPHABET, max_size=4), max_size=3),
)
_TEXT_KEYS = st.text(_ALPHABET, min_size=1, max_size=8)
_V = st.integers(0, 1000)


@functools.lru_cache(maxsize=_CACHE)
def _attribute_names(max_attributes: int) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(_ATTRIBUTE_NAMES), max_size=max_attributes, unique=True)


@st.composite
def items(
    draw: st.DrawFn,
    *,
    keys: Sequence[str] = (),
    partition_key: str = "pk",
    max_attributes: int = 3,
) -> dict[str, Any]:
    """
    Items as plain Python values (boto3 ``Table.put_item`` style), with an int ``v``.

    Args:
        keys: partition-key values to choose from; by default short text keys.
        partition_key: the name of the partition-key attribute.
        max_attributes: at most this many attributes besides the key and ``v``.

    Shrinks toward ``{partition_key: keys[0], "v": 0}``.
    """
    key_values = _check_strings("keys", keys)
    if not isinstance(partition_key, str) or not partition_key:
        msg = f"Expected a non-empty str but got partition_key={partition_key!r}"
        raise InvalidArgument(msg)
    _check_int("max_attributes", max_attributes, 0, len(_ATTRIBUTE_NAMES))
    key = draw(_sampled(key_values) if key_values else _TEXT_KEYS)
    item: dict[str, Any] = {partition_key: key}
    if partition_key != "v":  # a key named v is the key, not the int v
        item["v"] = draw(_V)
    names = draw(_attribute_names(max_attributes))
    for name in names:
        if name != partition_key:
            item[name] = draw(_VALUES)
    return item


_default_items = items  # the parameter named ``items`` below shadows the strategy
_SORT_KEYS = 3  # sort-key values drawn per partition-key type: s0..s2, 0..2, b"s0"..


@st.composite
def _keyed_items(
    draw: st.DrawFn,
    *,
    names: tuple[str, ...],
    pools: tuple[st.SearchStrategy[Any], ...],
    rest: st.SearchStrategy[dict[str, Any]],
) -> dict[str, Any]:
    # Key attributes first (readable examples), then the non-key attributes drawn.
    item = {name: draw(pool) for name, pool in zip(names, pools, strict=True)}
    attributes = draw(rest)
    if not isinstance(attributes, dict):
        msg = f"items must draw dicts of non-key attributes, but drew {attributes!r}"
        raise InvalidArgument(msg)
    item.update((k, v) for k, v in attributes.items() if k not in item)
    return item


def _check_items(value: object) -> st.SearchStrategy[dict[str, Any]] | None:
    if value is not None and not isinstance(value, st.SearchStrategy):
        msg = (
            f"Expected a strategy of attribute dicts (or None) but got "
            f"items={value!r} (type={type(value).__name__})"
        )
        raise InvalidArgument(msg)
    return value


# Non-key attributes of the default items: an int ``v`` and at most one more.
_DEFAULT_ATTRIBUTES = _default_items(keys=("-",), max_attributes=1).map(
    lambda item: {k: v for k, v in item.items() if k != "pk"}
)


_OPS = st.sampled_from(("put", "delete"))
_PUT_ONLY = st.just("put")


@functools.lru_cache(maxsize=_CACHE)
def _gaps(max_gap_seconds: int) -> st.SearchStrategy[int]:
    return st.one_of(
        st.just(0),
        st.integers(0, min(1000, max_gap_seconds * 1000)),
        st.integers(0, max_gap_seconds * 1000),
    )


@functools.lru_cache(maxsize=_CACHE)
def _per_write(
    pool: tuple[Any, ...],
    pk_name: str,
    pk_type: str,
    sort: tuple[str, str] | None,
    rest: st.SearchStrategy[dict[str, Any]] | None,
) -> st.SearchStrategy[dict[str, Any]]:
    """One write's item: the key attributes from ``pool`` (and a sort key), then the rest."""
    if sort is None and rest is None and pk_type == "S":
        # The original draw, choice for choice: shrunk examples stay as documented.
        return _default_items(keys=pool, partition_key=pk_name, max_attributes=1)
    names = (pk_name,) if sort is None else (pk_name, sort[0])
    pools = [st.sampled_from(pool)]
    if sort is not None:
        pools.append(st.sampled_from(_key_values("s", sort[1], _SORT_KEYS)))
    return _keyed_items(
        names=names,
        pools=tuple(pools),
        rest=_DEFAULT_ATTRIBUTES if rest is None else rest,
    )


@st.composite
def writes(
    draw: st.DrawFn,
    *,
    keys: Sequence[Any] = (),
    max_keys: int = 4,
    min_size: int = 0,
    max_size: int = 20,
    max_gap_seconds: int = 120,
    allow_deletes: bool = True,
    partition_key: str | tuple[str, str] = "pk",
    sort_key: str | tuple[str, str] | None = None,
    items: st.SearchStrategy[dict[str, Any]] | None = None,
) -> tuple[Write, ...]:
    """
    Timed write schedules: inserts, modifies and deletes on a few hot keys, in bursts.

    Keys come from ``keys`` or from ``k0``..``k{max_keys-1}`` (``0``.. for an
    N partition key, ``b"k0"``.. for B); repeated writes to a key give MODIFY
    records, deletes give REMOVE records (a write that changes nothing gives
    none, spec 7.1). Gaps between writes are often 0 (a burst at one
    instant), often under a second, and up to ``max_gap_seconds``.

    Args:
        partition_key, sort_key: the table's key schema, as
            ``Simulation.create_table`` takes it: a name, or (name, type) with
            type "S", "N" or "B". A sort key takes one of three values of its
            type (``s0``..``s2``, ``0``..``2``, ``b"s0"``..).
        items: a strategy of dicts of the non-key attributes (e.g.
            ``st.fixed_dictionaries({"amount": st.integers(0, 100)})``); key
            attributes it draws are replaced. None: an int ``v`` and at most
            one more attribute.

    Shrinks toward few writes, all ``put`` on ``k0`` at time 0.

    .. versionchanged:: 0.1.0 ``partition_key``, ``sort_key``, ``items``.
    """
    pk_name, pk_type = _check_key("partition_key", partition_key)
    sort = _check_sort_key(sort_key)
    rest = _check_items(items)
    if pk_type == "S":
        key_values: tuple[Any, ...] = _check_strings("keys", keys)
    elif isinstance(keys, str | bytes) or not isinstance(keys, Sequence):
        msg = f"Expected a sequence of key values but got keys={keys!r}"
        raise InvalidArgument(msg)
    else:
        key_values = tuple(keys)
    _check_int("max_keys", max_keys, 1)
    _check_int("min_size", min_size, 0)
    _check_int("max_size", max_size, 0)
    _check_order("min_size", min_size, "max_size", max_size)
    _check_int("max_gap_seconds", max_gap_seconds, 0)
    if not isinstance(allow_deletes, bool):
        msg = f"Expected bool but got allow_deletes={allow_deletes!r}"
        raise InvalidArgument(msg)
    pool = key_values or _key_values("k", pk_type, max_keys)
    try:
        per_write = _per_write(pool, pk_name, pk_type, sort, rest)
    except TypeError:  # key values that cannot be cached (unhashable): built for this draw
        per_write = _per_write.__wrapped__(pool, pk_name, pk_type, sort, rest)
    gap_ms = _gaps(max_gap_seconds)
    ops = _OPS if allow_deletes else _PUT_ONLY
    n = draw(_integers(min_size, max_size))
    at = 0
    out = []
    for _ in range(n):
        at += draw(gap_ms)
        op = draw(ops)
        item = draw(per_write)
        out.append(Write(at_ms=at, op=op, item=item))
    return tuple(out)


_BOOLEANS = st.booleans()
# spec 1.2: -1 (retry until the record leaves the stream) up to 10000.
_RETRIES = st.integers(0, 3) | st.integers(-1, 10000)
# spec 1.2 / 11 row 5: -1, or 60..604800 (0..59 are rejected).
_RECORD_AGES = st.just(-1) | st.integers(60, 120) | st.integers(60, 604800)
_FILTER_LISTS = st.lists(st.sampled_from(FILTER_PATTERNS), max_size=MAX_DRAWN_FILTERS, unique=True)


@st.composite
def mapping_configs(
    draw: st.DrawFn,
    *,
    starting_positions: Sequence[str] = _STARTING_POSITIONS,
    min_batch_size: int = 1,
    max_batch_size: int = 10000,
    max_batching_window_in_seconds: int = 300,
    max_parallelization_factor: int = 10,
    max_tumbling_window_in_seconds: int = 900,
    bisect_batch_on_function_error: bool | None = None,
    report_batch_item_failures: bool | None = None,
    destination_arns: Sequence[str] = (),
    allow_filters: bool = True,
) -> dict[str, Any]:
    """
    Keyword dicts for ``create_event_source_mapping``, over AWS's full valid ranges (spec 1.2).

    ``FunctionName`` and ``EventSourceArn`` are left for the caller to add.
    Every draw is accepted by the control plane: BatchSize 1..10000,
    MaximumBatchingWindowInSeconds 0..300, MaximumRetryAttempts -1..10000,
    MaximumRecordAgeInSeconds -1 or 60..604800 (spec 1.6), both booleans,
    FunctionResponseTypes, an optional on-failure destination from
    ``destination_arns``, optional filters from :data:`FILTER_PATTERNS`.

    ParallelizationFactor and TumblingWindowInSeconds are drawn up to
    ``max_parallelization_factor`` and ``max_tumbling_window_in_seconds``
    (AWS's 10 and 900 by default); a tumbling window is drawn only with factor
    1, the combination esm_sim simulates, and is often a minute or less, so a
    scenario's writes span several windows (spec 6). A handler under a window
    must answer ``{"state": ...}`` (spec 6.2).

    Args:
        bisect_batch_on_function_error, report_batch_item_failures: fix the
            setting, or None to draw it.

    Shrinks toward BatchSize 1, no window, no retries, no age limit, no
    destination, no filter.
    """
    positions = _check_strings("starting_positions", starting_positions, _STARTING_POSITIONS)
    if not positions:
        msg = f"Cannot draw from starting_positions={starting_positions!r}: it is empty"
        raise InvalidArgument(msg)
    _check_int("min_batch_size", min_batch_size, 1, 10000)
    _check_int("max_batch_size", max_batch_size, 1, 10000)
    _check_order("min_batch_size", min_batch_size, "max_batch_size", max_batch_size)
    _check_int("max_batching_window_in_seconds", max_batching_window_in_seconds, 0, 300)
    _check_int("max_parallelization_factor", max_parallelization_factor, 1, 10)
    _check_int("max_tumbling_window_in_seconds", max_tumbling_window_in_seconds, 0, 900)
    _check_bool_or_none("bisect_batch_on_function_error", bisect_batch_on_function_error)
    _check_bool_or_none("report_batch_item_failures", report_batch_item_failures)
    arns = _check_strings("destination_arns", destination_arns)
    for arn in arns:
        if not _DESTINATION_ARN.fullmatch(arn):
            msg = (
                f"Expected ARNs of SQS queues, SNS topics or S3 buckets (spec 3.6) but got "
                f"destination_arns={arns!r}: the control plane refuses {arn!r}"
            )
            raise InvalidArgument(msg)
    if not isinstance(allow_filters, bool):
        msg = f"Expected bool but got allow_filters={allow_filters!r}"
        raise InvalidArgument(msg)

    config: dict[str, Any] = {
        "StartingPosition": draw(_sampled(positions)),
        "BatchSize": draw(_small_first(min_batch_size, max_batch_size, 9)),
        "MaximumBatchingWindowInSeconds": draw(_small_first(0, max_batching_window_in_seconds, 2)),
        # spec 1.2: -1 (retry until the record leaves the stream) up to 10000.
        "MaximumRetryAttempts": draw(_RETRIES),
        "MaximumRecordAgeInSeconds": draw(_RECORD_AGES),
        "ParallelizationFactor": draw(_integers(1, max_parallelization_factor)),
    }
    # Always drawn, so every config has the same number of choices and shrinking
    # (which prefers fewer choices) still moves the factor toward 1.
    window = draw(_windows(max_tumbling_window_in_seconds))
    config["TumblingWindowInSeconds"] = window if config["ParallelizationFactor"] == 1 else 0
    bisect = bisect_batch_on_function_error
    config["BisectBatchOnFunctionError"] = draw(_BOOLEANS) if bisect is None else bisect
    rbif = report_batch_item_failures
    if draw(_BOOLEANS) if rbif is None else rbif:
        config["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
    else:
        config["FunctionResponseTypes"] = []
    if arns:
        destination = draw(_sampled((None, *arns)))
        if destination is not None:
            config["DestinationConfig"] = {"OnFailure": {"Destination": destination}}
    if allow_filters:
        patterns = draw(_FILTER_LISTS)
        if patterns:
            config["FilterCriteria"] = {"Filters": [{"Pattern": p} for p in patterns]}
    if draw(_BOOLEANS):
        config["MetricsConfig"] = {"Metrics": ["EventCount"]}
    return config


@st.composite
def batch_settings(
    draw: st.DrawFn,
    *,
    max_batch_size: int = 10000,
    max_batching_window_in_seconds: int = 300,
    bisect_batch_on_function_error: bool | None = None,
) -> dict[str, Any]:
    """
    Settings that move batch boundaries, for :func:`esm_sim.testing.check_batch_independent`.

    Dicts of ``BatchSize`` (1..``max_batch_size``), ``MaximumBatchingWindowInSeconds``
    (0..``max_batching_window_in_seconds``) and ``BisectBatchOnFunctionError``
    (drawn, or fixed by ``bisect_batch_on_function_error``), within AWS's
    ranges (spec 1.2). Draw two and compare them::

        @given(scenarios(), batch_settings(), batch_settings())
        def test_batch_independent(scenario, a, b):
            check_batch_independent(make_handler, scenario, settings=[a, b])

    Shrinks toward ``{"BatchSize": 1, "MaximumBatchingWindowInSeconds": 0,
    "BisectBatchOnFunctionError": False}``: a failing pair shrinks until its
    settings are as small as they can be and still disagree.

    .. versionadded:: 0.1.0
    """
    _check_int("max_batch_size", max_batch_size, 1, 10000)
    _check_int("max_batching_window_in_seconds", max_batching_window_in_seconds, 0, 300)
    _check_bool_or_none("bisect_batch_on_function_error", bisect_batch_on_function_error)
    bisect = bisect_batch_on_function_error
    return {
        "BatchSize": draw(_small_first(1, max_batch_size, 9)),
        "MaximumBatchingWindowInSeconds": draw(_small_first(0, max_batching_window_in_seconds, 10)),
        "BisectBatchOnFunctionError": draw(_BOOLEANS) if bisect is None else bisect,
    }


def _setting_values(setting: Setting) -> st.SearchStrategy[Any]:
    """What to draw for one setting: every choice, or whole ms (or counts) in its typical range."""
    if setting.choices:
        return st.sampled_from(setting.choices)
    assert setting.typical is not None and setting.min_value is not None
    low, high = setting.typical
    if setting.kind == "count":
        values: st.SearchStrategy[Any] = st.integers(int(low), int(high))
    else:
        unit_ms = 1000 if setting.unit == "seconds" else 3_600_000
        least = round(setting.min_value * unit_ms)
        values = st.integers(max(least, round(low * unit_ms)), round(high * unit_ms)).map(
            lambda ms: ms / unit_ms
        )
    if setting.special_values:
        values = st.sampled_from(setting.special_values) | values
    return values


# Every behaviour keyword of Simulation (the choices where AWS is silent, README
# "Where AWS is silent") and the values drawn for it, read from the one settings
# table (esm_sim._mapping.config.SETTINGS): every choice, and whole milliseconds
# (or minutes) over each setting's typical range. Built once, at import.
_SETTING_VALUES: dict[str, st.SearchStrategy[Any]] = {
    setting.name: _setting_values(setting) for setting in SETTINGS
}
# A quota below the filters mapping_configs draws would refuse the drawn mapping.
_SETTING_VALUES["max_filters"] = st.integers(MAX_DRAWN_FILTERS, 10)

_VARY = st.booleans()  # whether a keyword is drawn (shrinks to False: its default)

BEHAVIOUR_KEYWORDS: tuple[str, ...] = tuple(_SETTING_VALUES)
"""The keyword arguments of :class:`~esm_sim.Simulation` that :func:`simulation_settings` draws."""


@st.composite
def simulation_settings(
    draw: st.DrawFn, *, keywords: Sequence[str] = BEHAVIOUR_KEYWORDS
) -> dict[str, Any]:
    """
    Keyword dicts for :class:`~esm_sim.Simulation`: the behaviour choices where AWS is silent.

    Each keyword of ``keywords`` (by default :data:`BEHAVIOUR_KEYWORDS`, every
    one) is left out, so the simulation uses its default, or drawn from the
    settings table's typical range for it: delays and backoffs in whole
    milliseconds (never 0), retention from an hour to two days, rollovers from
    none to every 8 hours, every choice of every either-or setting. Use them with
    ``scenarios(settings=simulation_settings())`` or ``Simulation(**settings)``.

    Small backoffs with a fault that never stops and ``MaximumRetryAttempts`` -1
    make many retries (one per backoff until the record leaves the stream):
    realistic, but slow; narrow ``keywords`` or fix values with ``.map`` if
    that matters.

    Shrinks toward ``{}``: every default.

    .. versionadded:: 0.1.0
    """
    names = _check_strings("keywords", keywords, BEHAVIOUR_KEYWORDS)
    settings: dict[str, Any] = {}
    for name in BEHAVIOUR_KEYWORDS:  # a fixed order, whatever order ``keywords`` has
        if name in names and draw(_VARY):
            settings[name] = draw(_SETTING_VALUES[name])
    return settings


@functools.lru_cache(maxsize=_CACHE)
def _times(max_times: int, allow_permanent: bool) -> st.SearchStrategy[int | None]:
    """How many times a fault fires: 1..``max_times``, or None (permanent) if allowed."""
    times: st.SearchStrategy[int | None] = st.integers(1, max_times)
    return st.one_of(times, st.none()) if allow_permanent else times


@functools.lru_cache(maxsize=_CACHE)
def _selectors(
    key_values: tuple[str, ...], max_attempt: int
) -> st.SearchStrategy[tuple[tuple[str, ...], tuple[int, ...]]]:
    """What a fault targets: (keys, ()) from ``key_values``, or ((), invocation numbers)."""
    selectors: list[st.SearchStrategy[tuple[tuple[str, ...], tuple[int, ...]]]] = []
    if key_values:
        selectors.append(
            st.lists(st.sampled_from(key_values), min_size=1, max_size=2, unique=True).map(
                lambda ks: (tuple(ks), ())
            )
        )
    selectors.append(
        st.lists(st.integers(1, max_attempt), min_size=1, max_size=3, unique=True).map(
            lambda ns: ((), tuple(sorted(ns)))
        )
    )
    return st.one_of(selectors)


@st.composite
def fault_plans(
    draw: st.DrawFn,
    *,
    keys: Sequence[str] = (),
    kinds: Sequence[str] = FAULT_KINDS,
    max_faults: int = 3,
    max_times: int = 8,
    max_attempt: int = 20,
    allow_permanent: bool = True,
    max_throttles: int = 1,
    max_throttle_seconds: int = 300,
    max_start_seconds: int = 600,
) -> FaultPlan:
    """
    How the function misbehaves: raise before, midway or after the handler, time
    out, answer a partial batch failure, on chosen keys or invocation numbers;
    and windows of reserved concurrency 0 (throttles, spec 3.1).

    Args:
        keys: partition-key values faults may target; with none, faults target
            invocation numbers (1..``max_attempt``) only.
        kinds: the fault kinds to draw from (a subset of :data:`FAULT_KINDS`).
        max_faults: at most this many faults.
        max_times: a fault fires at most this many times, unless it is permanent
            (``times=None``, drawn only with ``allow_permanent``).
        max_throttles, max_throttle_seconds, max_start_seconds: throttle windows
            start within ``max_start_seconds`` of the start and last at most
            ``max_throttle_seconds``.

    Shrinks toward ``FaultPlan()``: no fault at all.
    """
    key_values = _check_strings("keys", keys)
    kind_values = _check_strings("kinds", kinds, FAULT_KINDS)
    _check_int("max_faults", max_faults, 0)
    _check_int("max_times", max_times, 1)
    _check_int("max_attempt", max_attempt, 1)
    _check_int("max_throttles", max_throttles, 0)
    _check_int("max_throttle_seconds", max_throttle_seconds, 1)
    _check_int("max_start_seconds", max_start_seconds, 0)
    if max_faults and not kind_values:
        msg = f"Cannot draw faults from kinds={kinds!r} with max_faults={max_faults!r}"
        raise InvalidArgument(msg)
    if not isinstance(allow_permanent, bool):
        msg = f"Expected bool but got allow_permanent={allow_permanent!r}"
        raise InvalidArgument(msg)
    times = _times(max_times, allow_permanent)
    selectors = _selectors(key_values, max_attempt)
    kind = _sampled(kind_values)
    faults = []
    for _ in range(draw(_integers(0, max_faults))):
        chosen_keys, attempts = draw(selectors)
        faults.append(
            Fault(
                kind=draw(kind),
                keys=chosen_keys,
                attempts=attempts,
                times=draw(times),
            )
        )
    throttles = []
    starts, lengths = _integers(0, max_start_seconds), _integers(1, max_throttle_seconds)
    for _ in range(draw(_integers(0, max_throttles))):
        throttles.append(Throttle(at_ms=draw(starts) * 1000, for_ms=draw(lengths) * 1000))
    return FaultPlan(faults=tuple(faults), throttles=tuple(throttles))


_SEEDS = st.integers(0, 2**32 - 1)


def _built(factory: Any, /, **kwargs: Any) -> st.SearchStrategy[Any]:
    """``factory(**kwargs)``, built once per argument tuple (afresh if one is unhashable)."""
    try:
        return _built_once(factory, tuple(kwargs.items()))
    except TypeError:
        return factory(**kwargs)  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=_CACHE)
def _built_once(factory: Any, kwargs: tuple[tuple[str, Any], ...]) -> st.SearchStrategy[Any]:
    return factory(**dict(kwargs))  # type: ignore[no-any-return]


@st.composite
def scenarios(
    draw: st.DrawFn,
    *,
    min_writes: int = 0,
    max_writes: int = 12,
    max_keys: int = 4,
    max_shards: int = 2,
    max_batch_size: int = 10000,
    max_parallelization_factor: int = 1,
    max_tumbling_window_in_seconds: int = 0,
    bisect_batch_on_function_error: bool | None = None,
    report_batch_item_failures: bool | None = None,
    fault_kinds: Sequence[str] = FAULT_KINDS,
    max_faults: int = 2,
    allow_permanent_faults: bool = False,
    max_throttles: int = 1,
    settings: st.SearchStrategy[dict[str, Any]] | None = None,
    partition_key: str | tuple[str, str] = "pk",
    sort_key: str | tuple[str, str] | None = None,
    items: st.SearchStrategy[dict[str, Any]] | None = None,
) -> Scenario:
    """
    Whole scenarios: a seed, a table of 1..``max_shards`` shards, writes on up to
    ``max_keys`` keys, a mapping configuration (with the SQS queue
    ``esm-sim-dlq`` as a possible on-failure destination) and a fault plan
    aimed at the keys written.

    ``settings`` is a strategy of keyword dicts for :class:`~esm_sim.Simulation`
    (``simulation_settings()``, or ``st.just({...})`` for fixed values); each
    scenario's draw is its :attr:`Scenario.settings`. None (the default): every
    behaviour at its default. Tumbling windows are drawn with
    ``max_tumbling_window_in_seconds`` > 0 (with ParallelizationFactor 1; the
    handler must then return ``{"state": ...}``, spec 6.2).

    Faults fire a bounded number of times unless ``allow_permanent_faults``:
    a permanent fault with MaximumRetryAttempts -1 blocks its shard for the
    stream's 24-hour retention (spec 3.1), about 1,440 invocations, which is
    realistic but slow for a property test's default deadline.

    ``partition_key``, ``sort_key`` and ``items`` describe your table (see
    :func:`writes`): e.g. ``scenarios(partition_key="order_id", sort_key=("line",
    "N"), items=st.fixed_dictionaries({"qty": st.integers(1, 5)}))``. The
    scenario records the key schema and creates its table with it; faults
    target partition-key values as the stream's Keys show them (text).

    Shrinks toward seed 0, one shard, few writes, the simplest mapping and no
    fault. Run one with :meth:`Scenario.run`.

    .. versionchanged:: 0.1.0 ``partition_key``, ``sort_key``, ``items``.
    """
    _check_int("max_shards", max_shards, 1, 16)
    _check_int("min_writes", min_writes, 0)
    _check_int("max_writes", max_writes, 0)
    _check_order("min_writes", min_writes, "max_writes", max_writes)
    _check_int("max_keys", max_keys, 1)
    if settings is not None and not isinstance(settings, st.SearchStrategy):
        msg = (
            f"Expected a strategy of Simulation keyword dicts (or None) but got "
            f"settings={settings!r} (type={type(settings).__name__})"
        )
        raise InvalidArgument(msg)
    pk_name, pk_type = _check_key("partition_key", partition_key)
    _check_sort_key(sort_key)
    _check_items(items)
    pool = _key_values("k", pk_type, max_keys)
    seed = draw(_SEEDS)
    shard_count = draw(_integers(1, max_shards))
    write_schedule = draw(
        _built(
            writes,
            keys=pool,
            min_size=min_writes,
            max_size=max_writes,
            max_gap_seconds=60,
            partition_key=partition_key,
            sort_key=sort_key,
            items=items,
        )
    )
    mapping = draw(
        _built(
            mapping_configs,
            max_batch_size=max_batch_size,
            max_parallelization_factor=max_parallelization_factor,
            max_tumbling_window_in_seconds=max_tumbling_window_in_seconds,
            bisect_batch_on_function_error=bisect_batch_on_function_error,
            report_batch_item_failures=report_batch_item_failures,
            destination_arns=(_DEFAULT_DESTINATION,),
        )
    )
    used = tuple(dict.fromkeys(key_value_text(w.item[pk_name]) for w in write_schedule))
    plan = draw(
        _built(
            fault_plans,
            keys=used,
            kinds=fault_kinds,
            max_faults=max_faults,
            max_attempt=max(1, 2 * max_writes),
            allow_permanent=allow_permanent_faults,
            max_throttles=max_throttles,
        )
    )
    # Drawn last, so scenarios without settings draw exactly what they did before.
    drawn = {} if settings is None else draw(settings)
    if not isinstance(drawn, dict):
        msg = f"settings must draw dicts of Simulation keywords, but drew {drawn!r}"
        raise InvalidArgument(msg)
    return Scenario(
        seed=seed,
        shard_count=shard_count,
        writes=write_schedule,
        mapping=mapping,
        faults=plan,
        settings=drawn,
        partition_key=partition_key,
        sort_key=sort_key,
    )
