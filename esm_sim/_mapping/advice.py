"""
The warnings for usual mistakes (``esm_sim.SimulationWarning`` and its subclasses).

Each cause is warned about once: per mapping (its :class:`Advice` remembers what
it said) or per filter of a create/update call. Messages name the mapping and
what to change, and depend only on the simulation, so they are deterministic.
The warning points at the first caller outside esm_sim (the test's line).

Hooks, all cheap: ``MappingRuntime._call`` calls :func:`handler_mark` /
:func:`after_handler` around the handler and :func:`after_verdict` after the
verdict; the control plane calls :func:`check_filters`; ``run_until_idle``,
``invariants.check_all`` and the pytest fixture call :func:`report_cascades`
and (the last two) :func:`warn_pending`.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from esm_sim._streams.records import SEQ, Record
from esm_sim.errors import (
    IgnoredItemFailuresWarning,
    PendingRecordsWarning,
    SelfTriggerWarning,
    SimulationLimitExceeded,
    SimulationWarning,
    UnmatchableFilterWarning,
)

if TYPE_CHECKING:
    from esm_sim._mapping.filtering import FilterSet
    from esm_sim._streams.table import Table

# A MappingRuntime, and the Simulation (typed loosely: the runtime imports this
# module, and the simulation is a layer above; tests/test_layers.py).
MappingRuntime = Any
Simulation = Any

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# policies.judge's reason for a partial response on a mapping without ReportBatchItemFailures.
IGNORED_ITEM_FAILURES = "batchItemFailures ignored"


def _warn(message: str, category: type[SimulationWarning]) -> None:
    """``warnings.warn`` pointing at the first frame outside esm_sim."""
    level = 1
    frame = sys._getframe(0)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    warnings.warn(message, category, stacklevel=level)


# Generations of self-written records after which a cascade is taken for a loop.
MAX_CASCADE_DEPTH = 1000


class Advice:
    """What one mapping warned about, and the generations of the records its handler wrote."""

    __slots__ = ("depth", "generations", "self_writes", "warned")

    def __init__(self) -> None:
        self.warned: set[str] = set()
        # seq -> generation of a record the mapping's own handler wrote to its source table.
        self.generations: dict[int, int] = {}
        self.depth = 0  # the deepest generation so far
        self.self_writes = 0

    def once(self, cause: str) -> bool:
        """True the first time ``cause`` is asked about."""
        if cause in self.warned:
            return False
        self.warned.add(cause)
        return True


# -- ignored batchItemFailures ----------------------------------------------------------


def after_verdict(mapping: MappingRuntime, reason: str | None) -> None:
    """Warn when the verdict ignored a partial response (spec 4), once per mapping."""
    if reason is None or not reason.startswith(IGNORED_ITEM_FAILURES):
        return
    if mapping.advice.once("ignored-item-failures"):
        _warn(
            f"mapping {mapping.uuid}: function {mapping.function.name!r} returned "
            "batchItemFailures, but the mapping lacks ReportBatchItemFailures, so AWS "
            "ignores them: the batch counts as a success and the failed records as "
            "processed, never retried. Add "
            'FunctionResponseTypes=["ReportBatchItemFailures"] to the mapping '
            "(create_ or update_event_source_mapping).",
            IgnoredItemFailuresWarning,
        )


# -- a handler writing into its own source table ------------------------------------------


def handler_mark(table: Table) -> int:
    """Where ``table``'s stream stands before a handler runs (its last sequence number)."""
    return table.last_sequence


def after_handler(
    mapping: MappingRuntime, records: Sequence[Record], mark: int
) -> SimulationLimitExceeded | None:
    """
    Give the records the handler wrote into its own source table their generation.

    Returns an error to raise once the invocation's end is scheduled when the
    cascade reaches each further ``MAX_CASCADE_DEPTH`` generations: a handler
    that always writes into its own source table, with no stop, would otherwise
    run forever (at one instant when it takes no virtual time).
    """
    table = mapping.table
    if table.last_sequence == mark:
        return None  # the usual case: the handler did not write to its own source table
    advice = mapping.advice
    parent = max((advice.generations.get(r[SEQ], 0) for r in records), default=0)
    for shard in table.open_shards:
        i = shard.end
        while i > 0 and shard.at(i - 1)[SEQ] > mark:
            i -= 1
        for record in shard.slice(i, shard.end):
            advice.generations[record[SEQ]] = parent + 1
            advice.self_writes += 1
    if parent + 1 > advice.depth:
        advice.depth = parent + 1
        if advice.depth % MAX_CASCADE_DEPTH == 0:
            msg = (
                f"mapping {mapping.uuid}: function {mapping.function.name!r} wrote into its own "
                f"source table {table.name!r} {advice.depth} generations deep "
                f"({advice.self_writes} records): a loop with no end. Stop writing to the "
                "table that triggers the function, or add a condition that ends the cascade."
            )
            return SimulationLimitExceeded(msg)
    return None


def report_cascades(mappings: Iterable[MappingRuntime]) -> None:
    """Warn, once per mapping, about a handler that wrote into its own source table."""
    for mapping in mappings:
        advice = mapping.advice
        if advice.depth and advice.once("self-trigger"):
            _warn(
                f"mapping {mapping.uuid}: function {mapping.function.name!r} writes into "
                f"table {mapping.table.name!r}, whose stream feeds this mapping: a loop. "
                f"Its cascade is {advice.depth} generation(s) of records deep so far "
                f"({advice.self_writes} record(s) written by the handler). Write to another "
                "table, or make the loop end: skip the records the handler wrote (a "
                "FilterCriteria on an attribute only those writes set) or stop writing.",
                SelfTriggerWarning,
            )


# -- records still pending ----------------------------------------------------------------


def warn_pending(sim: Simulation, where: str) -> None:
    """Warn, once per mapping, about records still pending at the end of ``where``."""
    report_cascades(sim.mappings.values())
    for uuid, mapping in sim.mappings.items():
        state = mapping.fields.get("State")
        if mapping.deleted or state in ("Deleting", "Disabling", "Disabled"):
            continue  # stopped on purpose: its records stay where they are
        pending = sim.fate_counts(uuid)["pending"]
        if pending and mapping.advice.once("pending"):
            _warn(
                f"mapping {uuid}: {pending} record(s) still pending at the end of {where} "
                f"(the mapping is {state}): the run stopped before they were done. Run "
                "sim.run_until_idle() (or sim.run_for(seconds)) before asserting on "
                "invocations, fates or metrics.",
                PendingRecordsWarning,
            )


# -- filters no DynamoDB record can match (spec 8, 7.3) --------------------------------

_LEAF = "leaf"  # a string or number leaf
_NUMBER = "number"  # a JSON number leaf: numeric can match it
_IMAGE = "image"  # attribute name -> typed value
_TYPED = "typed"  # type code -> value
_RECORD_KEYS: dict[str, Any] = {
    "eventID": _LEAF,
    "eventName": _LEAF,
    "eventVersion": _LEAF,
    "eventSource": _LEAF,
    "awsRegion": _LEAF,
    "eventSourceARN": _LEAF,
    "userIdentity": {"type": _LEAF, "principalId": _LEAF},  # TTL deletes (not simulated)
    "dynamodb": {
        "ApproximateCreationDateTime": _NUMBER,
        "Keys": _IMAGE,
        "NewImage": _IMAGE,
        "OldImage": _IMAGE,
        "SequenceNumber": _LEAF,
        "SizeBytes": _NUMBER,
        "StreamViewType": _LEAF,
    },
}
_TYPE_CODES = ("S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS")
_IMAGE_NAMES = ("Keys", "NewImage", "OldImage")


def _text(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _field_problem(path: tuple[str, ...], shape: Any, rules: list[Any]) -> str | None:
    """Why the rules at ``path`` (whose record node is ``shape``) can never match, or None."""
    if any(isinstance(r, dict) and r.get("exists") is False for r in rules):
        return None  # {"exists": false} matches an absent field, or an intermediate node
    if shape == _TYPED:
        name = path[-1]
        if any(isinstance(r, dict) and "numeric" in r for r in rules):
            return (
                f'{_text(path)} holds a typed value such as {{"N": "101"}}, not a leaf, '
                "and N values are strings, so numeric never matches them even under the type "
                f"key: match the text under the type key, e.g. {json.dumps({name: {'N': ['1']}})}"
            )
        example = json.dumps({name: {"S": rules}})
        return (
            f'{_text(path)} holds a typed value such as {{"S": ...}}, not a leaf: put the '
            f"type key between the attribute and its rules, e.g. {example}"
        )
    if isinstance(shape, dict) or shape == _IMAGE:
        return f"{_text(path)} is an object in a stream record, never a leaf: name a field in it"
    numeric_only = all(isinstance(r, dict) and "numeric" in r for r in rules)
    if numeric_only and shape != _NUMBER:
        return (
            f"{_text(path)} holds a string (DynamoDB N values are strings too), so numeric "
            f"never matches it: match the text instead, e.g. {json.dumps({path[-1]: ['1']})} "
            "or a prefix"
        )
    return None


def _typed_problem(path: tuple[str, ...], node: dict[str, Any]) -> str | None:
    """``node`` sits under an attribute name: its keys must be type codes."""
    for key, value in node.items():
        if key == "$or":
            continue
        if key not in _TYPE_CODES:
            return (
                f"{_text((*path, key))}: a DynamoDB attribute holds a typed value, so the key "
                f"under {path[-1]!r} must be a type code ({', '.join(_TYPE_CODES)}), "
                f"not {key!r}"
            )
        if key == "M":
            shape: Any = _IMAGE
        elif key == "L":
            shape = _TYPED  # a list of typed values; arrays are crushed when matching
        else:
            shape = _NUMBER if key in ("BOOL", "NULL") else _LEAF
        problem = _node_problem((*path, key), shape, value)
        if problem:
            return problem
    return None


def _node_problem(path: tuple[str, ...], shape: Any, value: Any) -> str | None:
    if isinstance(value, list):
        return _field_problem(path, shape, value)
    if not isinstance(value, dict):
        return None
    if shape == _TYPED:
        return _typed_problem(path, value)
    if shape == _IMAGE:
        for name, sub in value.items():
            problem = None if name == "$or" else _node_problem((*path, name), _TYPED, sub)
            if problem:
                return problem
        return None
    if isinstance(shape, dict):
        return _object_problem(path, shape, value)
    return f"{_text(path)} is a leaf in a stream record, not an object: match it with a list"


def _object_problem(path: tuple[str, ...], shape: dict[str, Any], node: dict[str, Any]) -> str:
    problems: list[str] = []
    for key, value in node.items():
        if key == "$or" and isinstance(value, list):
            found = [_object_problem(path, shape, alt) for alt in value if isinstance(alt, dict)]
            if found and all(found):
                problems.append(found[0])
            continue
        if key not in shape:
            hint = ""
            if not path and key in (*_IMAGE_NAMES, "ApproximateCreationDateTime"):
                hint = f': it is under "dynamodb", e.g. {json.dumps({"dynamodb": {key: value}})}'
            elif not path and key in (*_TYPE_CODES, "pk", "sk"):
                hint = ': attributes are under "dynamodb" -> "NewImage" (or "Keys", "OldImage")'
            problems.append(
                f"{_text((*path, key))}: a DynamoDB stream record has no such key "
                f"(it has {', '.join(shape)}){hint}"
            )
            continue
        problem = _node_problem((*path, key), shape[key], value)
        if problem:
            problems.append(problem)
    return problems[0] if problems else ""


def unmatchable_reason(pattern: str) -> str | None:
    """Why no DynamoDB stream record can match ``pattern`` (a valid pattern), or None."""
    try:
        parsed = json.loads(pattern)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    return _object_problem((), _RECORD_KEYS, parsed) or None


def check_filters(filters: FilterSet | None, operation: str) -> None:
    """Warn about each pattern of a create/update call that no record can match."""
    if filters is None:
        return
    for index, pattern in enumerate(filters.patterns):
        reason = unmatchable_reason(pattern)
        if reason:
            _warn(
                f"{operation}: FilterCriteria Filters[{index}] {pattern} can never match "
                f"a DynamoDB stream record, so every record is filtered out: {reason}.",
                UnmatchableFilterWarning,
            )


def pending_names(sim: Simulation) -> Mapping[str, str]:
    """What keeps ``sim`` busy, per mapping: a state change or shard readers with work."""
    out: dict[str, str] = {}
    for uuid, mapping in sim.mappings.items():
        parts = []
        if mapping.settling:
            parts.append(f"settling from {mapping.fields.get('State')} toward Enabled")
        busy = [
            f"{r.shard.shard_id} {r.state}"
            for r in mapping.all_readers()
            if r.state not in ("stopped", "idle")
        ]
        if busy:
            parts.append(f"{len(busy)} shard reader(s) busy ({'; '.join(busy[:5])})")
        if parts:
            out[uuid] = ", ".join(parts)
    return out
