"""
Invariants over a finished simulation: what must hold whatever the configuration and faults.

This module owns the oracles of property-based testing. Each ``check_*``
function looks at a :class:`~esm_sim.Simulation` after it ran (its trace, its
invocations and the fates of its records) and raises :class:`AssertionError`
naming the mapping, shard and records involved when the rule is broken.
``check_all`` runs every check.

The rules, per mapping (spec 3.7, 7.1):

- every record is accounted for exactly once (``check_accounted``);
- per item key, records are first delivered in write order (``check_key_order``;
  records already trimmed from the stream, whose keys are freed, are left out);
- the checkpoint never moves backwards (``check_checkpoints``);
- nothing is delivered after it was discarded, expired or filtered
  (``check_no_delivery_after_discard``);
- every record not discarded, filtered, expired or skipped is delivered at
  least once (``check_at_least_once``).

With ``Simulation(history_hours=N)``, once older trace entries and invocations
were dropped, the checks that read them look only at records written at or
after the oldest moment still kept (everything about those is kept); fates and
fate counts are still checked for every record.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from esm_sim._engine.trace import TraceEvent
from esm_sim._mapping.fates import OUTCOMES
from esm_sim._mapping.runtime import MappingRuntime
from esm_sim._simulation import Simulation
from esm_sim._streams.attributes import triples
from esm_sim._streams.records import CREATED_MS, KEYS, SEQ
from esm_sim._streams.shard import Shard

__all__ = [
    "check_accounted",
    "check_all",
    "check_at_least_once",
    "check_checkpoints",
    "check_key_order",
    "check_no_delivery_after_discard",
]

# Trace kinds that give records their last place, and the outcome each counts as.
_TERMINAL = {"expire": "expired", "filter": "filtered", "delivery-failure": "dropped"}


def _mappings(sim: Simulation) -> Iterator[MappingRuntime]:
    yield from sim.mappings.values()


def _records(mapping: MappingRuntime) -> Iterator[tuple[int, Any]]:
    """
    Every record of the mapping's stream as (sequence number, item key); the
    key is None for a trimmed record (its payload was freed, spec 7.1).
    """
    for shard in mapping.table.shards:
        for i in range(len(shard)):
            record = shard.at(i)
            yield record[SEQ], record[KEYS] if i >= shard.trimmed else None


def _hidden(sim: Simulation, mapping: MappingRuntime) -> set[int]:
    """
    The records written before the history ``Simulation(history_hours=...)``
    still keeps: their invocations and trace entries may be gone (empty when
    nothing was dropped).
    """
    start = sim._history_start_ms
    if start is None:
        return set()
    return {
        record[SEQ]
        for shard in mapping.table.shards
        for record in (shard.at(i) for i in range(len(shard)))
        if record[CREATED_MS] < start
    }


def _span(shard: Shard, event: TraceEvent) -> list[int]:
    """The sequence numbers of ``shard`` from the event's first to its last record."""
    first = shard.index_of(int(event.first_seq))
    last = shard.index_of(int(event.last_seq))
    if first is None or last is None:
        msg = (
            f"trace names records {event.first_seq}..{event.last_seq} not in shard {shard.shard_id}"
        )
        raise AssertionError(msg)
    return [shard.at(i)[SEQ] for i in range(first, last + 1)]


def _shards_by_id(mapping: MappingRuntime) -> dict[str, Shard]:
    return {s.shard_id: s for s in mapping.table.shards}


def _outcome_of(event: TraceEvent) -> str | None:
    if event.kind == "discard":
        return event.outcome  # "destination" or "dropped"
    return _TERMINAL.get(event.kind)


def check_accounted(sim: Simulation) -> None:
    """
    Every record of a mapping's stream is in exactly one place (issue 3 fates).

    The per-outcome counts (``sim.fate_counts``) add up to the records in the
    stream with nothing negative; they agree with the fate of each record
    (``sim.fate``) and with the records the trace says reached each outcome
    (so no record reached two); and once the simulation is idle no record of
    an enabled mapping is still pending.
    """
    for mapping in _mappings(sim):
        uuid = mapping.uuid
        if mapping.ledger.conflicts:
            seq, had, again = mapping.ledger.conflicts[0]
            msg = (
                f"mapping {uuid}: record {seq} reached {had!r}, then {again!r}: a final fate "
                f"was given twice ({len(mapping.ledger.conflicts)} time(s) in all)"
            )
            raise AssertionError(msg)
        counts = sim.fate_counts(uuid)
        total = sum(len(s) for s in mapping.table.shards)
        if sum(counts.values()) != total or any(v < 0 for v in counts.values()):
            msg = f"mapping {uuid}: fate counts {counts} do not add up to the {total} records"
            raise AssertionError(msg)
        tally: Counter[str] = Counter()
        pending: list[int] = []
        for seq, _ in _records(mapping):
            outcome = sim.fate(seq, uuid=uuid).outcome
            tally[outcome] += 1
            if outcome == "pending":
                pending.append(seq)
        live = mapping.enabled_intent and not mapping.deleted
        # Records in an open tumbling window that only a later record can close
        # (tumbling_window_close="record") wait, idle, by design (spec 6.3, I).
        held = set(mapping.held_in_windows())
        pending = [seq for seq in pending if seq not in held]
        if sim.is_idle() and live and pending:
            msg = (
                f"mapping {uuid}: the simulation is idle but {len(pending)} record(s) are "
                f"still pending: {', '.join(map(str, pending[:10]))}"
            )
            raise AssertionError(msg)
        for outcome, n in counts.items():
            if tally[outcome] != n:
                msg = (
                    f"mapping {uuid}: fate_counts says {n} record(s) {outcome}, but "
                    f"{tally[outcome]} record(s) have that fate"
                )
                raise AssertionError(msg)
        traced: Counter[str] = Counter()
        for event in sim.trace.events(mapping=uuid):
            reached = _outcome_of(event)
            if reached is not None:
                traced[reached] += event.count
        hidden = _hidden(sim, mapping)
        # With history dropped, the trace still holds every record written since
        # (at least that many) and at most every record.
        kept: Counter[str] = (
            Counter(
                sim.fate(seq, uuid=uuid).outcome
                for seq, _ in _records(mapping)
                if seq not in hidden
            )
            if hidden
            else Counter(counts)
        )
        for outcome in OUTCOMES:
            if outcome != "processed" and not kept[outcome] <= traced[outcome] <= counts[outcome]:
                msg = (
                    f"mapping {uuid}: the trace sends {traced[outcome]} record(s) to "
                    f"{outcome}, but {counts[outcome]} record(s) ended there"
                    + (f" ({kept[outcome]} written since the history kept)" if hidden else "")
                    + ": some record "
                    "reached its last place twice, or without a trace entry"
                )
                raise AssertionError(msg)


def check_key_order(sim: Simulation) -> None:
    """
    Per mapping and item key, the first deliveries come in write (sequence-number) order.

    Redeliveries may repeat earlier records (spec 3.7); first deliveries may
    not overtake (spec 7.1 per-item order, spec 11 row 1: order is per item key).
    """
    for mapping in _mappings(sim):
        key_of = dict(_records(mapping))
        for seq in _hidden(sim, mapping):
            key_of[seq] = None  # its first delivery may be among what was dropped
        seen: set[int] = set()
        last: dict[Any, tuple[int, str]] = {}
        for inv in mapping.invocations:
            for seq in inv.sequence_numbers:
                if seq in seen:
                    continue
                seen.add(seq)
                key = key_of[seq]
                if key is None:
                    continue  # trimmed (its key is gone) or written before the history kept
                before = last.get(key)
                if before is not None and before[0] > seq:
                    msg = (
                        f"mapping {mapping.uuid}: item key {_key_text(key)}: record {seq} "
                        f"was first delivered by invocation {inv.request_id} after record "
                        f"{before[0]} (invocation {before[1]}), which was written later"
                    )
                    raise AssertionError(msg)
                last[key] = (seq, inv.request_id)


def _key_text(key: Any) -> str:
    return ", ".join(f"{name}={value!r}" for name, _, value in triples(key))


def _batch(by_request: dict[str, Any], shard: Shard, event: TraceEvent) -> list[int]:
    """The records an invoke or result event is about: its invocation's, else its span."""
    invocation = by_request.get(event.get("request_id"))
    if invocation is not None:
        return list(invocation.sequence_numbers)
    return _span(shard, event)


def check_checkpoints(sim: Simulation) -> None:
    """
    A checkpoint never moves backwards: no invocation sends a record that its
    mapping had already committed (processed, discarded or expired), and no
    record the trace committed is pending at the end.

    What each result committed is read from the ``result`` rows, as the mapping
    recorded its verdict: ``committed`` leading records of the batch are done,
    ``joined`` ones joined their tumbling window, and ``window_committed`` says a
    window's final invocation committed every record that joined it. Discard,
    delivery-failure and expire rows commit the records that reached that fate.
    """
    for mapping in _mappings(sim):
        shards = _shards_by_id(mapping)
        by_request = {inv.request_id: inv for inv in mapping.invocations}
        entries = mapping.ledger.entries
        hidden = _hidden(sim, mapping)  # what sent or committed them may be gone
        committed: dict[int, str] = {}  # sequence number -> the line that committed it
        joined: dict[tuple[str, int], list[int]] = {}  # per lane: records in its window
        events = sim.trace.events(mapping=mapping.uuid)
        # A discard or expire row spans first..last of its shard; with several
        # lanes the span holds other lanes' records, known by the lane that sent them.
        lane_of: dict[int, int] = {}
        for event in events:
            if event.kind == "invoke" and event.shard in shards and event.first_seq:
                for seq in _batch(by_request, shards[event.shard], event):
                    lane_of[seq] = event.lane
        for event in events:
            if event.shard not in shards:
                continue
            shard = shards[event.shard]
            lane = (event.shard, event.lane)
            if event.kind == "invoke":
                if event.outcome == "duplicate" or not event.first_seq:
                    continue  # an injected duplicate re-sends committed records on purpose
                for seq in _batch(by_request, shard, event):
                    if seq in committed and seq not in hidden:
                        msg = (
                            f"mapping {mapping.uuid} shard {event.shard} lane {event.lane}: "
                            f"invocation {event.get('request_id')} at {event.line()[:24]} sent "
                            f"record {seq}, which was already committed ({committed[seq]}): "
                            "the checkpoint moved backwards"
                        )
                        raise AssertionError(msg)
            elif event.kind == "release":
                joined.pop(lane, None)  # the window was dropped: nothing of it committed
            elif event.kind == "result":
                line = event.line().strip()
                if event.get("window_committed"):
                    for seq in joined.pop(lane, []):
                        committed[seq] = line
                    continue
                n_done, n_joined = event.get("committed", 0), event.get("joined", 0)
                if (n_done or n_joined) and event.first_seq:
                    batch = _batch(by_request, shard, event)
                    for seq in batch[:n_done]:
                        committed[seq] = line
                    joined.setdefault(lane, []).extend(batch[:n_joined])
            elif event.kind in ("discard", "delivery-failure", "expire") and event.first_seq:
                outcome = _outcome_of(event)
                line = event.line().strip()
                for seq in _span(shard, event):
                    entry = entries.get(seq)
                    if (
                        entry is not None
                        and entry[0] == outcome
                        and lane_of.get(seq, event.lane) == event.lane
                    ):
                        committed.setdefault(seq, line)
        for seq, line in committed.items():
            outcome = sim.fate(seq, uuid=mapping.uuid).outcome
            if outcome in ("pending", "skipped"):
                msg = (
                    f"mapping {mapping.uuid}: record {seq} is {outcome}, but the trace "
                    f"committed it ({line}): the checkpoint moved backwards"
                )
                raise AssertionError(msg)


def check_no_delivery_after_discard(sim: Simulation) -> None:
    """
    No record is delivered after it was discarded (destination or dropped),
    expired or filtered (spec 3.5, 7.1, 8).

    A filtered record may have been delivered before it was filtered: a record
    that waited, uncommitted, in a tumbling window is read again from the
    checkpoint after an update, and the update's new filter may then drop it.
    """
    for mapping in _mappings(sim):
        shards = _shards_by_id(mapping)
        entries = mapping.ledger.entries
        by_request = {inv.request_id: inv for inv in mapping.invocations}
        hidden = _hidden(sim, mapping)  # their deliveries may be among what was dropped
        # A discard entry spans first..last of its shard; with several lanes the
        # span holds other lanes' records, known by the lane that delivered them.
        lane_of: dict[int, int] = {}
        events = [e for e in sim.trace.events(mapping=mapping.uuid) if e.first_seq]
        for event in events:
            if event.kind == "invoke":
                sent = by_request.get(event.get("request_id"))
                for seq in sent.sequence_numbers if sent is not None else ():
                    lane_of[seq] = event.lane
        gone: dict[int, str] = {}
        for event in events:
            if event.shard not in shards:
                continue
            if event.kind == "invoke":
                sent = by_request.get(event.get("request_id"))
                for seq in sent.sequence_numbers if sent is not None else ():
                    if seq in gone and seq not in hidden:
                        msg = (
                            f"mapping {mapping.uuid} shard {event.shard}: record {seq} was "
                            f"delivered by invocation {event.get('request_id')} after it "
                            f"reached its fate: {gone[seq]}"
                        )
                        raise AssertionError(msg)
            elif event.kind in ("discard", "delivery-failure", "expire", "filter"):
                outcome = _outcome_of(event)
                for seq in _span(shards[event.shard], event):
                    entry = entries.get(seq)
                    if (
                        entry is not None
                        and entry[0] == outcome
                        and lane_of.get(seq, event.lane) == event.lane
                    ):
                        gone.setdefault(seq, event.line().strip())


def check_at_least_once(sim: Simulation) -> None:
    """
    Every record a mapping processed was delivered at least once, and so was
    every record discarded after its retries ran out (spec 3.7: at least once).

    Discarded for age, expired, filtered and skipped records may never have
    been delivered.
    """
    for mapping in _mappings(sim):
        delivered: Counter[int] = Counter()
        for inv in mapping.invocations:
            delivered.update(inv.sequence_numbers)
        missing: list[str] = []
        hidden = _hidden(sim, mapping)  # their deliveries may be among what was dropped
        for seq, _ in _records(mapping):
            if delivered[seq] or seq in hidden:
                continue
            fate = sim.fate(seq, uuid=mapping.uuid)
            if fate.outcome == "processed" or fate.reason == "RetryAttemptsExhausted":
                missing.append(f"{seq} ({fate.outcome}, {fate.reason})")
        if missing:
            msg = (
                f"mapping {mapping.uuid}: record(s) never delivered but counted "
                f"as handled: {', '.join(missing[:10])}"
            )
            raise AssertionError(msg)


def check_all(sim: Simulation) -> None:
    """
    Run every check of this module on a finished simulation.

    Records still pending (the clock never ran far enough) are warned about first,
    once per mapping, as ``PendingRecordsWarning``: the checks hold vacuously for them.

    Raises:
        AssertionError: the first invariant broken, naming the records involved.
    """
    from esm_sim._mapping.advice import warn_pending

    warn_pending(sim, "the run (invariants.check_all)")
    check_accounted(sim)
    check_key_order(sim)
    check_checkpoints(sim)
    check_no_delivery_after_discard(sim)
    check_at_least_once(sim)
