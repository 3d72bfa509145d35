"""
Run one self-check scenario and say what broke.

:func:`run` builds the simulation from a :class:`~tests.selfcheck.scenario.Spec`
through the public API only, with handlers that keep their own books (every
record each mapping delivered, in order), and runs it to the end:
``run_until_idle`` over a bounded horizon, and past the stream's retention
when a mapping may legitimately block on a poison record.

:func:`check` runs a scenario and returns its failures: anything the run
raised, termination, ``esm_sim.invariants.check_all``, the independent fate
count, for a run that dropped history (``history_hours``) the same fate counts
and metrics as the run keeping it, and (with ``determinism=True``) a second
run's trace digest.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import random
import re
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import esm_sim
from esm_sim import errors, invariants
from esm_sim._metrics import METRIC_NAMES
from esm_sim._streams.records import CREATED_MS
from tests.selfcheck.scenario import SETTLE_SECONDS, SINKS, Action, FunctionSpec, Spec

OUTCOMES = ("processed", "filtered", "destination", "dropped", "expired", "pending", "skipped")
# Wall-clock seconds one run may take before it counts as a hang.
WALL_LIMIT_SECONDS = 20.0
# Handler calls one run may make before it counts as a runaway: a few times
# what a scenario blocked on a poison record until the retention needs.
MAX_HANDLER_CALLS = 20_000


class ScenarioHang(BaseException):  # a BaseException, so no handler's except swallows it
    """A scenario ran longer than :data:`WALL_LIMIT_SECONDS` of wall time."""


class Runaway(BaseException):  # a BaseException, so the simulation does not take it as an error
    """The handlers were called more than :data:`MAX_HANDLER_CALLS` times in one run."""


class ActionError(Exception):
    """A scheduled action (a write, an update, ...) raised what the API should not."""


@dataclass(frozen=True)
class Failure:
    """One broken promise: which check, and its message (first line is the class)."""

    check: str
    message: str

    def first_line(self) -> str:
        return self.message.splitlines()[0] if self.message else ""


@dataclass
class World:
    """What one run built and saw: the simulation, the mappings, the handlers' books."""

    spec: Spec
    sim: esm_sim.Simulation
    tables: dict[str, esm_sim.Table] = field(default_factory=dict)
    functions: dict[str, esm_sim.Function] = field(default_factory=dict)
    sinks: dict[str, Any] = field(default_factory=dict)  # label -> Queue/Topic/Bucket
    uuids: dict[str, str] = field(default_factory=dict)  # mapping label -> UUID
    by_pair: dict[tuple[str, str], str] = field(default_factory=dict)  # (fn, stream) -> label
    enabled: dict[str, bool] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    destinations: dict[str, set[str]] = field(default_factory=dict)  # label -> ARNs ever set
    filtered_ever: set[str] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)  # ClientError/Unsupported, as AWS would
    # The handlers' own books, per mapping label: deliveries per sequence number,
    # and first deliveries in order as (sequence number, item key).
    delivered: dict[str, Counter[int]] = field(default_factory=dict)
    first: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    unknown_deliveries: list[str] = field(default_factory=list)
    # What a handler saw of its environment and clock that Lambda would not show it.
    sandbox_errors: list[str] = field(default_factory=list)
    callbacks_left: int = 0
    last_callback_write_ms: int = 0  # when a handler's callback last wrote (at the latest)
    calls: int = 0  # handler calls so far, for the runaway guard
    past_retention: bool = False  # the run went on past the retention (may_block)
    runaway: bool = False  # stopped by the runaway guard

    def sink_arn(self, label: str) -> str:
        return str(self.sinks[label].arn)


def _key_text(keys: dict[str, Any]) -> str:
    # {"pk": {"S": "k1"}, "sk": {"S": "s0"}} -> "pk=k1 sk=s0"
    return " ".join(f"{name}={next(iter(keys[name].values()))}" for name in sorted(keys))


# ---------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------


def handler_clock(spec: Spec) -> str:
    """
    Handlers on the virtual clock in a quarter of the seeds (from the seed, not
    drawn, so every seed keeps naming its scenario; time-machine is in the test extra).
    """
    return "virtual" if spec.seed % 4 == 0 else "wall"


def handler_writes_environ(spec: Spec) -> bool:
    """Handlers write os.environ themselves in a third of the seeds (from the seed, as above)."""
    return spec.seed % 3 == 0


class Handler:
    """A handler that keeps books, then misbehaves as its function's profile says."""

    def __init__(self, spec: FunctionSpec, world: World) -> None:
        self.spec = spec
        self.world = world
        self.rng = random.Random(f"{world.spec.seed}/{spec.name}")
        self.names, self.weights = zip(*spec.actions, strict=True)
        self.poison = {t.name: set(t.poison) for t in world.spec.tables}
        self.timed_out: set[str] = set()
        self.env_writes = 0  # how many times this function's handler wrote FN_OWN

    def _book(self, event: dict[str, Any]) -> str | None:
        records = event.get("Records") or []
        arn = event.get("eventSourceARN") or (records[0]["eventSourceARN"] if records else None)
        label = self.world.by_pair.get((self.spec.name, str(arn)))
        if label is None:
            self.world.unknown_deliveries.append(f"{self.spec.name} got an event from {arn}")
            return None
        delivered = self.world.delivered.setdefault(label, Counter())
        first = self.world.first.setdefault(label, [])
        for record in records:
            seq = int(record["dynamodb"]["SequenceNumber"])
            if not delivered[seq]:
                first.append((seq, _key_text(record["dynamodb"]["Keys"])))
            delivered[seq] += 1
        return label

    def _table_of(self, label: str | None) -> str | None:
        for m in self.world.spec.mappings:
            if m.label == label:
                return m.table
        return None

    def _check_sandbox(self) -> None:
        """The handler runs in its own function's environment, on the clock it was given."""
        name = self.spec.name
        seen = (os.environ.get("FN_LABEL"), os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
        if seen != (name, name):
            self.world.sandbox_errors.append(f"{name} ran with FN_LABEL, function name {seen}")
        if handler_writes_environ(self.world.spec):
            # One execution environment per function: what its handler wrote is
            # still there (or gone with the run that ended), never another's.
            own, last = os.environ.get("FN_OWN"), f"{name}:{self.env_writes}"
            if own is not None and own != last:
                self.world.sandbox_errors.append(f"{name} saw FN_OWN={own!r}, wrote {last!r} last")
            self.env_writes += 1
            os.environ["FN_OWN"] = f"{name}:{self.env_writes}"
        if handler_clock(self.world.spec) == "virtual":
            now_ms = round(time.time() * 1000)
            if now_ms != self.world.sim.now_ms:
                self.world.sandbox_errors.append(
                    f"{name} read time.time() {now_ms} ms at virtual {self.world.sim.now_ms} ms"
                )

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.world.calls += 1
        self._check_sandbox()
        if self.world.calls > MAX_HANDLER_CALLS:
            msg = (
                f"more than {MAX_HANDLER_CALLS} handler calls by {self.world.sim.now.isoformat()} "
                f"(virtual); the last was to {self.spec.name} with "
                f"{len(event.get('Records') or [])} record(s), window {event.get('window')}"
            )
            raise Runaway(msg)
        label = self._book(event)
        records = list(event.get("Records") or [])
        ids = [r["dynamodb"]["SequenceNumber"] for r in records]
        table = self._table_of(label)
        poisoned = [
            i
            for i, r in enumerate(records)
            if self.spec.sensitive
            and table is not None
            and r["dynamodb"]["Keys"]["pk"]["S"] in self.poison[table]
        ]
        if poisoned:
            return self._poisoned(event, context, ids, poisoned[0])
        if event.get("isFinalInvokeForWindow") and self.spec.final_fails:
            msg = f"cannot close window {event.get('window')}"
            raise RuntimeError(msg)
        action = self.rng.choices(self.names, weights=self.weights)[0]
        return self._act(action, event, context, ids)

    def _poisoned(self, event: dict[str, Any], context: Any, ids: list[str], at: int) -> Any:
        mode = self.spec.poison_mode
        if mode == "raise":
            msg = f"poison record {ids[at]}"
            raise ValueError(msg)
        if mode == "timeout":
            self.timed_out.add(context.aws_request_id)
            return self._ok(event)
        if mode == "unserializable":
            return {"batchItemFailures": {ids[at]}}
        response = self._ok(event) or {}
        response["batchItemFailures"] = [{"itemIdentifier": i} for i in ids[at:]]
        return response

    def _ok(self, event: dict[str, Any]) -> dict[str, Any] | None:
        if "window" not in event:
            return None
        state = event.get("state") if isinstance(event.get("state"), dict) else {}
        return {"state": {"n": int(state.get("n", 0)) + len(event.get("Records") or [])}}

    def _act(self, action: str, event: dict[str, Any], context: Any, ids: list[str]) -> Any:
        r = self.rng
        windowed = "window" in event
        if action == "raise":
            msg = f"handler error on {len(ids)} record(s)"
            raise RuntimeError(msg)
        if action == "exit":
            sys.exit(r.choice([0, 1, "bye", None]))
        if action == "timeout":
            self.timed_out.add(context.aws_request_id)
            return self._ok(event)
        if action == "unserializable":
            return {"state": {1, 2}} if windowed else {1, 2}
        if action == "odd":
            if windowed:
                return r.choice([None, {}, {"state": "not-an-object"}, {"state": None}, 42])
            return r.choice([None, 42, "ok", "", [], {}, [1], {"x": 1}, True, 1.5])
        if action in ("partial_good", "partial_empty", "partial_bad"):
            response = self._ok(event) or {}
            if action == "partial_empty":
                response["batchItemFailures"] = []
            elif action == "partial_good" and ids:
                if r.random() < 0.5:
                    chosen = ids[r.randrange(len(ids)) :]
                else:
                    chosen = sorted(set(r.choices(ids, k=r.randint(1, len(ids)))), key=int)
                response["batchItemFailures"] = [{"itemIdentifier": i} for i in chosen]
            else:
                response["batchItemFailures"] = r.choice(
                    [
                        [{"itemIdentifier": "1"}],
                        [{"itemIdentifier": ""}],
                        [{"itemIdentifier": None}],
                        [{"itemIdentifier": int(ids[0]) if ids else 7}],
                        [{"wrong": ids[0] if ids else "x"}],
                        [1, "a"],
                        "not-a-list",
                        {"itemIdentifier": ids[0] if ids else "x"},
                        None,
                    ]
                )
            return response
        if action == "callback":
            sim = self.world.sim
            _ = (sim.now, sim.now_ms, context.get_remaining_time_in_millis())
            if self.world.callbacks_left > 0:
                self.world.callbacks_left -= 1
                target = r.choice(list(self.world.tables.values()))
                item: dict[str, Any] = {"pk": f"cb{self.world.callbacks_left}", "v": sim.now_ms}
                if target.sort_key:
                    item["sk"] = "s0"
                delay: float = 0
                if r.random() < 0.5:
                    target.put_item(item)
                else:
                    delay = r.choice([0, 0.5, 30])
                    sim.call_later(delay, target.put_item, item)
                self.world.last_callback_write_ms = sim.now_ms + int(delay * 1000)
            return self._ok(event)
        if action == "run_clock":
            self.world.sim.run_for(1)  # SimulationError: a handler cannot run the clock
        if action == "read_api":
            client = self.world.sim.lambda_client
            client.list_event_source_mappings(FunctionName=self.spec.name)
            return self._ok(event)
        return self._ok(event)

    def duration(self, event: dict[str, Any], context: Any) -> float:
        if context.aws_request_id in self.timed_out:
            return self.spec.timeout + 0.5
        return self.spec.duration


# ---------------------------------------------------------------------------
# Building and running
# ---------------------------------------------------------------------------


def _destination_config(world: World, label: str | None) -> dict[str, Any]:
    arn = world.sink_arn(label) if label else ""
    return {"OnFailure": {"Destination": arn}}


def _create(world: World, label: str) -> None:
    m = next(m for m in world.spec.mappings if m.label == label)
    fn = world.functions[m.function]
    table = world.tables[m.table]
    params = dict(m.params)
    if m.destination:
        params["DestinationConfig"] = _destination_config(world, m.destination)
    try:
        response = world.sim.lambda_client.create_event_source_mapping(
            FunctionName=fn.name, EventSourceArn=table.stream_arn, **params
        )
    except (errors.ClientError, errors.UnsupportedFeatureError) as exc:
        world.refused.append(f"create {label}: {type(exc).__name__}: {exc}")
        return
    world.uuids[label] = response["UUID"]
    world.by_pair[(fn.name, table.stream_arn)] = label
    world.enabled[label] = params.get("Enabled", True)
    world.destinations[label] = {world.sink_arn(m.destination)} if m.destination else set()
    if params.get("FilterCriteria"):
        world.filtered_ever.add(label)


def _update(world: World, action: Action) -> None:
    label = action.target
    uuid = world.uuids.get(label)
    if uuid is None or label in world.deleted:
        return
    args = dict(action.args)
    if "DestinationConfig" in args:
        args["DestinationConfig"] = _destination_config(world, args["DestinationConfig"])
    try:
        world.sim.lambda_client.update_event_source_mapping(UUID=uuid, **args)
    except (errors.ClientError, errors.UnsupportedFeatureError) as exc:
        world.refused.append(f"update {label}: {type(exc).__name__}: {exc}")
        return
    if "Enabled" in args:
        world.enabled[label] = args["Enabled"]
    destination = args.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    if destination:
        world.destinations[label].add(destination)
    if args.get("FilterCriteria", {}).get("Filters"):
        world.filtered_ever.add(label)


def _delete(world: World, action: Action) -> None:
    uuid = world.uuids.get(action.target)
    if uuid is None or action.target in world.deleted:
        return
    try:
        world.sim.lambda_client.delete_event_source_mapping(UUID=uuid)
    except (errors.ClientError, errors.UnsupportedFeatureError) as exc:
        world.refused.append(f"delete {action.target}: {type(exc).__name__}: {exc}")
        return
    world.deleted.add(action.target)


# Seconds from the write to the item's expiry, by version: already past (the
# service deletes it after ttl_delay_hours), soon, or later.
TTL_OFFSETS = (-3600, 30, 600)


def _write(world: World, action: Action) -> None:
    table = world.tables[action.target]
    op, item = action.args["op"], action.args["item"]
    if table.ttl_attribute is not None and op != "delete":
        now_s = int(world.sim.now.timestamp())
        item = {**item, "exp": now_s + TTL_OFFSETS[int(item["v"]) % len(TTL_OFFSETS)]}
    if op == "delete":
        table.delete_item(item)
    elif op == "update" and hasattr(table, "update_item"):
        key = {k: item[k] for k in ("pk", "sk") if k in item}
        updates = {k: v for k, v in item.items() if k not in key}
        if int(item["v"]) % 4 == 0:
            updates["flag"] = None  # None removes the attribute (api-contract.md)
        table.update_item(key, updates)
    else:
        table.put_item(item)


def _split(world: World, action: Action) -> None:
    table = world.tables[action.target]
    shards = table.open_shards
    table.split_shard(shards[action.args["index"] % len(shards)].shard_id)


def _perform(world: World, action: Action) -> None:
    """Run one scheduled action; what the API should not raise becomes an ActionError."""
    client = world.sim.lambda_client
    try:
        if action.kind == "write":
            _write(world, action)
        elif action.kind == "split":
            _split(world, action)
        elif action.kind == "create":
            _create(world, action.target)
        elif action.kind == "update":
            _update(world, action)
        elif action.kind == "delete":
            _delete(world, action)
        elif action.kind == "throttle":
            try:
                client.put_function_concurrency(
                    FunctionName=action.target, ReservedConcurrentExecutions=action.args["value"]
                )
            except errors.ClientError as exc:  # e.g. below the account's unreserved minimum
                world.refused.append(f"throttle {action.target}: {type(exc).__name__}: {exc}")
        elif action.kind == "unthrottle":
            client.delete_function_concurrency(FunctionName=action.target)
        elif action.kind == "inject_errors":
            world.sim.inject_invoke_errors(
                action.target, count=action.args["count"], code=action.args["code"]
            )
        elif action.kind == "inject_duplicates":
            world.sim.inject_duplicate_deliveries(action.target, count=action.args["count"])
        else:
            msg = f"unknown action kind {action.kind!r}"
            raise ValueError(msg)
    except Exception as exc:
        msg = f"{action.kind} {action.target} at {action.at}s raised {type(exc).__name__}: {exc}"
        raise ActionError(msg) from exc


def build(spec: Spec) -> World:
    """The simulation of ``spec``, with everything scheduled and nothing run yet."""
    sim = esm_sim.Simulation(seed=spec.seed, handler_clock=handler_clock(spec), **spec.sim_kwargs)
    world = World(spec=spec, sim=sim, callbacks_left=spec.callbacks)
    for t in spec.tables:
        world.tables[t.name] = sim.create_table(
            t.name,
            partition_key="pk",
            sort_key="sk" if t.sort_key else None,
            stream_view_type=t.view_type,
            shard_count=t.shard_count,
            ttl_attribute="exp" if t.ttl else None,
        )
    for label, (kind, name) in SINKS.items():
        if kind == "queue":
            world.sinks[label] = sim.create_queue(name)
        elif kind == "topic":
            world.sinks[label] = sim.create_topic(name)
        else:
            world.sinks[label] = sim.create_bucket(name)
    for f in spec.functions:
        handler = Handler(f, world)
        world.functions[f.name] = sim.create_function(
            f.name,
            handler,
            timeout=f.timeout,
            duration=handler.duration,
            environment={"FN_LABEL": f.name},
        )
    start = sim.now
    scheduled = list(spec.actions)
    for m in spec.mappings:
        if m.create_at == 0:
            _create(world, m.label)
        else:
            scheduled.append(Action(at=m.create_at, kind="create", target=m.label))
    scheduled.sort(key=lambda a: a.at)
    for action in scheduled:
        sim.call_at(start + timedelta(seconds=action.at), _perform, world, action)
    return world


@contextmanager
def _wall_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`ScenarioHang` after ``seconds`` of wall time (main thread only)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        msg = f"still running after {seconds} s of wall time"
        raise ScenarioHang(msg)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run(spec: Spec, failures: list[Failure] | None = None) -> World:
    """
    Build and run ``spec`` to the end; add termination failures and crashes to ``failures``.

    The first ``run_until_idle`` allows :data:`SETTLE_SECONDS` after the last
    scheduled action. Only a scenario that may block on a poison record
    (:meth:`Spec.may_block`) may still be busy then; it gets the stream's
    retention and :data:`SETTLE_SECONDS` more, and must finish.
    """
    out = failures if failures is not None else []
    world = build(spec)
    sim = world.sim
    first = spec.last_action + SETTLE_SECONDS
    with _wall_limit(WALL_LIMIT_SECONDS):
        try:
            try:
                sim.run_until_idle(max_seconds=first)
            except errors.SimulationLimitExceeded as exc:
                if not spec.may_block():
                    out.append(
                        Failure(
                            "termination",
                            f"not idle {SETTLE_SECONDS:.0f} s after the last action, and no "
                            f"mapping can block on a poison record\n{exc}",
                        )
                    )
                world.past_retention = True
                retention_ms = int(spec.retention_seconds * 1000)
                while True:
                    try:
                        sim.run_until_idle(max_seconds=spec.retention_seconds + SETTLE_SECONDS)
                        break
                    except errors.SimulationLimitExceeded:
                        # A record a handler's callback wrote late may block for a
                        # retention of its own (callbacks are few: this ends).
                        late = world.last_callback_write_ms + retention_ms
                        if late + int(SETTLE_SECONDS * 1000) <= sim.now_ms:
                            raise
        except errors.SimulationLimitExceeded as exc:
            out.append(Failure("termination", f"not idle even past the stream's retention\n{exc}"))
        except ScenarioHang as exc:
            out.append(Failure("hang", f"ScenarioHang: {exc}"))
        except Runaway as exc:
            out.append(Failure("termination", f"runaway: {exc}"))
            world.runaway = True
        except ActionError as exc:
            out.append(Failure("crash", f"ActionError: {exc}"))
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit from a handler included
            out.append(Failure("crash", f"run_until_idle raised {type(exc).__name__}: {exc}"))
    return world


# ---------------------------------------------------------------------------
# The independent count of fates
# ---------------------------------------------------------------------------


def _failure_records(world: World) -> dict[str, list[dict[str, Any]]]:
    """Every on-failure record each destination ARN received, parsed."""
    out: dict[str, list[dict[str, Any]]] = {}
    for sink in world.sinks.values():
        if isinstance(sink, esm_sim.Queue):
            bodies = list(sink.messages)
        elif isinstance(sink, esm_sim.Topic):
            bodies = [json.loads(m["Message"]) for m in sink.messages]
        else:
            bodies = list(sink.objects.values())
        out[sink.arn] = bodies
    return out


def _problems(world: World, label: str, records: dict[str, list[dict[str, Any]]]) -> Iterator[str]:
    sim = world.sim
    uuid = world.uuids[label]
    m = next(m for m in world.spec.mappings if m.label == label)
    table = world.tables[m.table]
    fn = world.functions[m.function]
    delivered = world.delivered.get(label, Counter())
    counts = sim.fate_counts(uuid)
    if set(counts) != set(OUTCOMES):
        yield f"fate_counts has outcomes {sorted(counts)}, expected {sorted(OUTCOMES)}"
    negative = {k: v for k, v in counts.items() if v < 0}
    if negative:
        yield f"negative fate counts {negative}"
    total = sum(len(s) for s in table.shards)
    if sum(counts.values()) != total:
        yield f"fate counts {counts} add up to {sum(counts.values())}, not the {total} records"
    tally: Counter[str] = Counter()
    pending: list[int] = []
    in_stream: set[int] = set()
    mine = [r for arn in world.destinations.get(label, ()) for r in records.get(arn, ())]
    mine = [
        r
        for r in mine
        if r["requestContext"]["functionArn"] == fn.arn
        and r["DDBStreamBatchInfo"]["streamArn"] == table.stream_arn
    ]
    # Simulation(history_hours=...) drops invocations of old records: Fate.deliveries
    # then counts only those kept, which are all of a record written since.
    history_start = sim._history_start_ms
    for shard in table.shards:
        for index, text in enumerate(shard.sequence_numbers):
            seq = int(text)
            whole = history_start is None or shard.at(index)[CREATED_MS] >= history_start
            in_stream.add(seq)
            fate = sim.fate(text, uuid=uuid)
            tally[fate.outcome] += 1
            if fate.outcome == "pending":
                pending.append(seq)
            if fate.outcome not in OUTCOMES:
                yield f"record {seq}: unknown outcome {fate.outcome!r}"
            if whole and len(fate.deliveries) != delivered[seq]:
                yield (
                    f"record {seq}: fate lists {len(fate.deliveries)} deliveries, the handler "
                    f"saw it {delivered[seq]} time(s)"
                )
            if fate.outcome == "processed" and not delivered[seq]:
                yield f"record {seq} is processed but the handler never saw it"
            if fate.outcome == "skipped":
                if m.params["StartingPosition"] != "LATEST":
                    yield f"record {seq} is skipped by a TRIM_HORIZON mapping"
                if delivered[seq]:
                    yield f"record {seq} is skipped but was delivered {delivered[seq]} time(s)"
            if fate.outcome == "filtered" and label not in world.filtered_ever:
                yield f"record {seq} is filtered by a mapping that never had filters"
            if fate.outcome == "destination":
                if fate.destination not in world.destinations.get(label, set()):
                    yield (
                        f"record {seq} went to destination {fate.destination}, never "
                        "configured on this mapping"
                    )
                elif not any(
                    r["DDBStreamBatchInfo"]["shardId"] == shard.shard_id
                    and int(r["DDBStreamBatchInfo"]["startSequenceNumber"])
                    <= seq
                    <= int(r["DDBStreamBatchInfo"]["endSequenceNumber"])
                    for r in records.get(fate.destination or "", ())
                    if r["requestContext"]["functionArn"] == fn.arn
                ):
                    yield (
                        f"record {seq} (shard {shard.shard_id}) is 'destination', but no "
                        f"failure record in {fate.destination} covers it"
                    )
    for outcome in OUTCOMES:
        if tally[outcome] != counts.get(outcome, 0):
            yield (
                f"{tally[outcome]} record(s) have fate {outcome!r} but fate_counts says "
                f"{counts.get(outcome, 0)}"
            )
    carried = sum(r["DDBStreamBatchInfo"]["batchSize"] for r in mine)
    if carried != counts.get("destination", 0):
        yield (
            f"the failure records in this mapping's destinations carry {carried} record(s), "
            f"but {counts.get('destination', 0)} record(s) have fate 'destination'"
        )
    strangers = sorted(set(delivered) - in_stream)
    if strangers:
        yield f"the handler got records {strangers[:5]} that are not in the stream"
    live = world.enabled.get(label, False) and label not in world.deleted
    # With tumbling_window_close="record" (README, spec 6.3 I) a window's records
    # wait, idle, for a later record: pending then, but already delivered to it.
    held = world.spec.sim_kwargs.get("tumbling_window_close") == "record" and all(
        delivered[seq] for seq in pending
    )
    if sim.is_idle() and live and pending and not held:
        yield f"idle, enabled, yet {len(pending)} record(s) pending"
    last: dict[str, int] = {}
    for seq, key in world.first.get(label, []):
        if key in last and last[key] > seq:
            yield (
                f"item key {key}: record {seq} was first delivered after record {last[key]}, "
                "which was written later"
            )
            break
        last[key] = seq


def independent_failures(world: World) -> list[Failure]:
    """The fates of every record, counted from the handlers' books and the destinations."""
    out = [Failure("books", f"delivery to no known mapping: {u}") for u in world.unknown_deliveries]
    out += [Failure("sandbox", problem) for problem in world.sandbox_errors[:5]]
    if "FN_OWN" in os.environ:  # checked after the run: the user's environment is back
        out.append(Failure("sandbox", f"FN_OWN={os.environ['FN_OWN']!r} left after the run"))
    records = _failure_records(world)
    for label in world.uuids:
        for problem in _problems(world, label, records):
            out.append(Failure("books", f"mapping {label}: {problem}"))
            break  # one problem per mapping is enough to triage
    return out


# ---------------------------------------------------------------------------
# Redrive at the end (issue 19)
# ---------------------------------------------------------------------------


def _named_records(world: World, bodies: list[dict[str, Any]], uuid: str) -> list[int]:
    """The records the failure records name for one mapping: in range, sent to a destination."""
    sim = world.sim
    mapping = sim.mappings[uuid]
    out: list[int] = []
    for body in bodies:
        info = body["DDBStreamBatchInfo"]
        lo, hi = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
        shard = next((s for s in mapping.table.shards if s.shard_id == info["shardId"]), None)
        if shard is None:
            continue  # another table's failure record
        seqs = [int(t) for t in shard.sequence_numbers if lo <= int(t) <= hi]
        out += [q for q in seqs if sim.fate(q, uuid=uuid).outcome == "destination"]
    return out


def redrive_failures(world: World) -> list[Failure]:
    """
    Redrive every destination that holds failure records, and check its promises:
    the original fates do not move; per failure record, redriven + lost are its
    records (as many as its batchSize); the invocations carry exactly the
    redriven records, in batches of at most BatchSize; failed is a part of
    redriven; lost records are past the retention; check_all still holds.
    """
    sim = world.sim
    out: list[Failure] = []
    records = _failure_records(world)
    # Final fates must not move (a handler's writes during the redrive add records,
    # and time passing may finish pending ones: those may change).
    before = {
        (u, seq): (f.outcome, f.destination)
        for u, m in sim.mappings.items()
        for shard in m.table.shards
        for seq in shard.sequence_numbers
        if (f := sim.fate(seq, uuid=u)).final
    }
    for arn in records:
        # Read again just before this redrive: an earlier redrive takes virtual time,
        # in which the mappings go on and may send this destination new failure records.
        bodies = _failure_records(world)[arn]
        if not bodies:
            continue
        sink = next(s for s in world.sinks.values() if s.arn == arn)

        # BatchSize as each redrive starts: an update still settling may apply while
        # the redrive's invocations run, and the redrive keeps the size it began with.
        def redrive(**kwargs: Any) -> tuple[Any, int]:
            sizes = {u: m.config.batch_size for u, m in sim.mappings.items()}
            result = sim.redrive(sink, **kwargs)  # noqa: B023 (called in this iteration)
            return result, sizes[result.mapping_uuid]

        try:
            results = [redrive()]
            shared = False
        except errors.ConfigError as exc:
            if "redrive one with uuid=" not in str(exc):
                out.append(Failure("redrive", f"redrive of {arn} raised ConfigError: {exc}"))
                continue
            # Several mappings' records in one destination: one redrive per mapping.
            shared = True
            results = []
            for u in sim.mappings:
                try:
                    results.append(redrive(uuid=u))
                except errors.ConfigError as again:
                    if "holds no failure records of mapping" not in str(again):
                        out.append(Failure("redrive", f"redrive of {arn} raised {again}"))
        except Exception as exc:
            out.append(Failure("redrive", f"redrive of {arn} raised {type(exc).__name__}: {exc}"))
            continue
        for result, size in results:
            out += _redrive_problems(world, arn, bodies, result, size, shared=shared)[:1]
    moved = [
        f"record {seq} of mapping {u[:8]}: {was} -> {now}"
        for (u, seq), was in before.items()
        if was != (now := (sim.fate(seq, uuid=u).outcome, sim.fate(seq, uuid=u).destination))
    ]
    if moved:
        out.append(Failure("redrive", f"a final fate moved in a redrive: {moved[0]}"))
    try:
        invariants.check_all(sim)
    except AssertionError as exc:
        out.append(Failure("redrive", f"check_all after the redrives: {exc}"))
    return out


def _redrive_problems(
    world: World, arn: str, bodies: list[dict[str, Any]], result: Any, size: int, *, shared: bool
) -> list[Failure]:
    """What one redrive broke of its promises (``shared``: other mappings' records too)."""
    sim = world.sim
    # Ranges of several lanes (ParallelizationFactor) overlap: each record once,
    # within a range, sent to a destination, as many as the batchSizes say.
    named = set(_named_records(world, bodies, result.mapping_uuid))
    problems = []
    found = result.redriven + result.lost
    carried = sum(b["DDBStreamBatchInfo"]["batchSize"] for b in bodies)
    if len(set(found)) != len(found) or not set(found) <= named:
        problems.append("a record redriven twice, or not named by a failure record")
    if len(found) != carried and not shared:
        problems.append(
            f"redriven + lost ({len(result.redriven)} + {len(result.lost)}) are not the "
            f"{carried} records the failure records carry"
        )
    sent = [q for inv in result.invocations for q in inv.sequence_numbers]
    if sent != list(result.redriven):
        problems.append("the invocations do not carry exactly the redriven records")
    if any(len(inv.sequence_numbers) > size for inv in result.invocations):
        problems.append(f"a redrive batch is larger than BatchSize {size}")
    if not set(result.failed) <= set(result.redriven):
        problems.append("failed records that were not redriven")
    cutoff = result.started_ms - sim.behaviour.retention_ms
    tables = list(world.tables.values())
    created = {
        int(r["dynamodb"]["SequenceNumber"]): r["dynamodb"]["ApproximateCreationDateTime"]
        for t in tables
        for s in t.shards
        for r in s.records
        if int(r["dynamodb"]["SequenceNumber"]) in set(result.lost)
    }
    if any(c * 1000 > cutoff for c in created.values()):
        problems.append("a lost record is younger than the retention")
    return [Failure("redrive", f"redrive of {arn}: {p}") for p in problems]


# ---------------------------------------------------------------------------
# One seed, every check
# ---------------------------------------------------------------------------


def check(spec: Spec, *, determinism: bool = False) -> tuple[World, list[Failure]]:
    """Run ``spec`` and every check on it; returns the world and its failures (none: passed)."""
    failures: list[Failure] = []
    world = run(spec, failures)
    crashed = world.runaway or any(f.check in ("crash", "hang") for f in failures)
    if not crashed:
        try:
            invariants.check_all(world.sim)
        except AssertionError as exc:
            failures.append(Failure("check_all", f"AssertionError: {exc}"))
        except Exception as exc:
            failures.append(Failure("check_all", f"check_all raised {type(exc).__name__}: {exc}"))
        try:
            failures.extend(independent_failures(world))
        except Exception as exc:
            failures.append(Failure("books", f"fate queries raised {type(exc).__name__}: {exc}"))
    if not crashed and world.sim._history_start_ms is not None:
        failures.extend(_history_failures(world))
    if determinism:
        again = run(spec)
        first, second = world.sim.trace.digest(), again.sim.trace.digest()
        if first != second:
            failures.append(
                Failure(
                    "determinism",
                    f"two runs of one scenario gave different traces ({first[:12]} vs "
                    f"{second[:12]}); first difference:\n"
                    + _first_difference(world.sim.trace.text(), again.sim.trace.text()),
                )
            )
    if not crashed:
        # Last: a redrive adds to the trace the determinism check compares.
        # A runaway handler in the redrive stops it: the run's own checks are done.
        with _wall_limit(WALL_LIMIT_SECONDS), suppress(Runaway, ScenarioHang):
            failures.extend(redrive_failures(world))
    return world, failures


def _history_failures(world: World) -> list[Failure]:
    """
    A run that dropped history (history_hours) against the same scenario keeping
    everything: equal fate counts per mapping and equal points of every metric.
    """
    full = run(replace(world.spec, sim_kwargs={**world.spec.sim_kwargs, "history_hours": None}))
    out: list[Failure] = []
    for label, uuid in world.uuids.items():
        short_counts = world.sim.fate_counts(uuid)
        full_counts = full.sim.fate_counts(full.uuids[label])
        if short_counts != full_counts:
            out.append(
                Failure("history", f"mapping {label}: {short_counts} != {full_counts} in full")
            )
    for name in METRIC_NAMES:
        if world.sim.metrics.series(name) != full.sim.metrics.series(name):
            out.append(Failure("history", f"metric {name} differs from the run keeping history"))
    # Each invocation kept reads as in the full run, what it raised included (the
    # exceptions of forgotten invocations are freed; a kept one must survive).
    for name, fn in world.sim.functions.items():
        full_runs = {inv.request_id: inv for inv in full.sim.functions[name].invocations}
        for inv in fn.invocations:
            other = full_runs.get(inv.request_id)
            if other is None or _raised(inv) != _raised(other):
                out.append(
                    Failure(
                        "history",
                        f"function {name}: kept invocation {inv.request_id} reads "
                        f"{_raised(inv)}, in full {None if other is None else _raised(other)}",
                    )
                )
                break
    return out


def _raised(inv: Any) -> tuple[Any, ...]:
    """What an invocation shows of its failure: outcome, error type, exception type and args."""
    exc = inv.exception
    return (
        inv.outcome,
        inv.error_type,
        None if exc is None else type(exc).__name__,
        None if exc is None else repr(exc.args),
    )


def _first_difference(a: str, b: str) -> str:
    for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines(), strict=False)):
        if x != y:
            return f"line {i}:\n  {x}\n  {y}"
    return "one trace is a prefix of the other"


# ---------------------------------------------------------------------------
# Failure classes
# ---------------------------------------------------------------------------

_NORMALIZERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"shardId-\d+-[0-9a-f]+"), "<shard>"),
    (re.compile(r"arn:aws:[^\s'\",)]+"), "<arn>"),
    # A trace line quoted in a message: keep its kind (result, discard, expire, ...).
    (re.compile(r"\(\d{4}-\d\d-\d\dT\S+\s+(\w[\w-]*)[^)]*\)?"), r"(<\1 line>)"),
    (re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+(Z|\+00:00)?"), "<time>"),
    (re.compile(r"SystemExit: .*"), "SystemExit"),
    (re.compile(r"\{'[^}]*\}"), "{...}"),
    (re.compile(r"item key .*?:"), "item key <key>:"),
    (re.compile(r"\b[0-9a-f]{8}\b"), "<id>"),
    (re.compile(r"\bm\d\b"), "m<i>"),
    (re.compile(r"'[^'\s]*'"), "'...'"),
    (re.compile(r"\d+(\.\d+)?"), "N"),
    (re.compile(r"(N(, |\.\.))+N"), "N"),
)


def failure_class(failure: Failure) -> str:
    """The failure's class: its check and its first line with ids, numbers and names blurred."""
    text = failure.first_line()
    for pattern, replacement in _NORMALIZERS:
        text = pattern.sub(replacement, text)
    return f"[{failure.check}] {text[:160]}"


def report(spec: Spec, failures: list[Failure], *, writes: bool = False) -> str:
    """A failure message: the seed, how to replay it, the scenario, and what broke."""
    from tests.selfcheck.scenario import describe

    lines = [
        f"self-check seed {spec.seed} failed "
        f"(replay: python -m tests.selfcheck --seed {spec.seed})",
        describe(spec, writes=writes),
        "failures:",
    ]
    lines += [f"  [{f.check}] {f.message}" for f in failures]
    return "\n".join(lines)


def seed_failures(seed: int, *, determinism: bool = False) -> list[Failure]:
    """The failures of one seed (for sweeps and triage)."""
    from tests.selfcheck.scenario import generate

    _, failures = check(generate(seed), determinism=determinism)
    return failures


# ---------------------------------------------------------------------------
# Many seeds
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """What one seed gave, small enough to travel back from a worker process."""

    seed: int
    failures: tuple[Failure, ...]
    report: str  # the failure message ("" when it passed)
    features: frozenset[str]
    seconds: float


def run_seed(seed: int, determinism: bool) -> Result:
    """Generate, run and check one seed; the failure message names everything to replay it."""
    from tests.selfcheck.scenario import features, generate

    started = time.perf_counter()
    spec = generate(seed)
    _, failures = check(spec, determinism=determinism)
    return Result(
        seed=seed,
        failures=tuple(failures),
        report=report(spec, failures) if failures else "",
        features=features(spec),
        seconds=time.perf_counter() - started,
    )


def _run_chunk(args: tuple[list[int], int]) -> list[Result]:
    seeds, every = args
    return [run_seed(seed, every > 0 and seed % every == 0) for seed in seeds]


def run_seeds(
    seeds: Sequence[int], *, workers: int = 1, determinism_every: int = 10
) -> Iterator[Result]:
    """
    :func:`run_seed` over ``seeds``, on ``workers`` processes, in seed order.

    Every ``determinism_every``-th seed (by value) is also run a second time
    and its trace compared (0: never).
    """
    if workers <= 1:
        for chunk in _chunks(seeds, 1):
            yield from _run_chunk((chunk, determinism_every))
        return
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        jobs = [(chunk, determinism_every) for chunk in _chunks(seeds, 25)]
        for results in pool.map(_run_chunk, jobs):
            yield from results


def _chunks(seeds: Sequence[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(seeds), size):
        yield list(seeds[i : i + size])
