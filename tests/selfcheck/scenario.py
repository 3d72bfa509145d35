"""
Seeded scenarios that mix every feature: one seed, one :class:`Spec`, as plain data.

The generator draws from ``random.Random(seed)`` only, never from the
simulator, so a seed names the same scenario whatever the simulator does with
it; :func:`describe` prints it compactly for a failure message.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

# Destinations every scenario creates, by label: (kind, name). The FIFO queue
# refuses failure records (spec 3.6), so it is a delivery failure.
SINKS = {
    "sqs": ("queue", "dlq"),
    "sns": ("topic", "alerts"),
    "s3": ("bucket", "esm-failures"),
    "fifo": ("queue", "dlq.fifo"),
}

# What a handler does with one invocation, by profile: (action, weight).
PROFILES: dict[str, tuple[tuple[str, float], ...]] = {
    "clean": (("ok", 0.97), ("callback", 0.03)),
    "flaky": (
        ("ok", 0.70),
        ("odd", 0.05),
        ("raise", 0.07),
        ("timeout", 0.04),
        ("partial_good", 0.06),
        ("partial_bad", 0.03),
        ("unserializable", 0.02),
        ("callback", 0.03),
    ),
    "chaotic": (
        ("ok", 0.30),
        ("odd", 0.10),
        ("raise", 0.10),
        ("timeout", 0.05),
        ("unserializable", 0.05),
        ("partial_good", 0.12),
        ("partial_empty", 0.05),
        ("partial_bad", 0.10),
        ("callback", 0.05),
        ("run_clock", 0.03),
        ("read_api", 0.05),
    ),
}

# Filter patterns over metadata, keys and the new image (spec 8).
FILTERS = (
    '{"eventName": ["INSERT"]}',
    '{"eventName": ["INSERT", "MODIFY"]}',
    '{"eventName": ["REMOVE"]}',
    '{"eventName": [{"anything-but": ["REMOVE"]}]}',
    '{"dynamodb": {"NewImage": {"kind": {"S": ["a"]}}}}',
    '{"dynamodb": {"NewImage": {"v": {"N": [{"numeric": [">", 10]}]}}}}',
    '{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "k1"}]}}}}',
    '{"dynamodb": {"NewImage": {"flag": {"BOOL": [true]}}}}',
)

VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
POISON_MODES = ("raise", "timeout", "unserializable", "partial")

# Virtual seconds the first run_until_idle allows after the last scheduled action.
SETTLE_SECONDS = 7200.0


@dataclass(frozen=True)
class TableSpec:
    """A table: its key schema, shards, view type, key pool and poison keys."""

    name: str
    sort_key: bool
    shard_count: int
    view_type: str
    keys: tuple[str, ...]
    poison: tuple[str, ...]
    # Time to Live on attribute "exp": puts and updates carry an expiry, some
    # already past, so the service deletes items (REMOVE records) mid-run.
    ttl: bool = False


@dataclass(frozen=True)
class FunctionSpec:
    """A function: timeout, duration, how its handler misbehaves, how it meets poison."""

    name: str
    timeout: float
    duration: float
    profile: str
    actions: tuple[tuple[str, float], ...]
    poison_mode: str
    sensitive: bool
    final_fails: bool = False  # every final invocation of a tumbling window raises


@dataclass(frozen=True)
class MappingSpec:
    """A mapping to create at ``create_at`` seconds (boto3 keyword arguments in ``params``)."""

    label: str
    function: str
    table: str
    params: dict[str, Any]
    destination: str | None
    create_at: float


@dataclass(frozen=True)
class Action:
    """One thing done at ``at`` virtual seconds after the start."""

    at: float
    kind: str
    target: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Spec:
    """One whole scenario, drawn from ``seed``."""

    seed: int
    sim_kwargs: dict[str, Any]
    tables: tuple[TableSpec, ...]
    functions: tuple[FunctionSpec, ...]
    mappings: tuple[MappingSpec, ...]
    actions: tuple[Action, ...]
    callbacks: int

    @property
    def last_action(self) -> float:
        """When the last scheduled thing happens (seconds after the start)."""
        times = [a.at for a in self.actions] + [m.create_at for m in self.mappings]
        return max(times, default=0.0)

    @property
    def retention_seconds(self) -> float:
        return float(self.sim_kwargs.get("retention_hours", 24.0)) * 3600

    def may_block(self) -> bool:
        """
        Whether a mapping may legitimately stay busy until records leave the stream.

        That takes MaximumRetryAttempts -1 without a short record-age limit (at
        creation or after an update) and a handler that fails for good: on a
        poison key it is sensitive to, or on every final invocation of a
        tumbling window.
        """
        functions = {f.name: f for f in self.functions}
        tables = {t.name: t for t in self.tables}
        for m in self.mappings:
            fn = functions[m.function]
            settings = [m.params] + [
                a.args for a in self.actions if a.kind == "update" and a.target == m.label
            ]
            retries = [s["MaximumRetryAttempts"] for s in settings if "MaximumRetryAttempts" in s]
            windowed = any(s.get("TumblingWindowInSeconds") for s in settings)
            if fn.final_fails and windowed and -1 in retries:
                return True  # a final invocation carries no record for an age limit to drop
            if not (fn.sensitive and tables[m.table].poison):
                continue
            ages = [
                s["MaximumRecordAgeInSeconds"] for s in settings if "MaximumRecordAgeInSeconds" in s
            ]
            if -1 in retries and any(a == -1 or a > 1800 for a in ages or [-1]):
                return True
        return False


# ---------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------


def _sim_kwargs(r: random.Random) -> dict[str, Any]:
    """Every behaviour keyword of Simulation, drawn over its range."""
    base = r.choice([0.1, 0.5, 1.0, 2.0])
    u = r.random()
    if u < 0.7:
        retention = round(r.uniform(0.05, 0.5), 3)
    elif u < 0.9:
        retention = round(r.uniform(0.5, 3.0), 3)
    else:
        retention = 24.0
    if retention > 3:
        rollover = r.choice([0.0, 1.0, 4.0])
    else:
        u = r.random()
        rollover = (
            0.0 if u < 0.2 else round(r.uniform(0.01, 0.1), 3) if u < 0.9 else r.choice([1.0, 4.0])
        )
    return {
        "state_transition_delay": r.choice([0.0, 0.5, 1.0, 5.0, 10.0]),
        "poll_interval": r.choice([0.05, 0.1, 0.25, 0.5, 1.0]),
        "retry_backoff_base": base,
        "retry_backoff_max": min(60.0, base * r.choice([1, 4, 16, 30])),
        "retention_hours": retention,
        "shard_rollover_hours": rollover,
        "max_readers_per_shard": r.choice([0, 0, 0, 1, 2, 3]),
        "bisect_resets_retries": r.random() < 0.5,
        "bisect_first_half_first": r.random() < 0.5,
        "bisect_first_half_larger": r.random() < 0.5,
        "partial_progress_resets_retries": r.random() < 0.5,
        "partial_retry_delay": r.choice([None, None, 0.001, 0.5, 2.0]),  # at least 1 ms
        "non_object_response": r.choice(["success", "failure"]),
        "record_age_min_invoke_count": r.choice([0, 1]),
        "tumbling_window_alignment": r.choice(["epoch", "first-record"]),
        "tumbling_window_close": r.choice(["clock", "record"]),
        "get_records_per_poll": r.choice([1, 1, 2, 3]),
        "iterator_age_at": r.choice(["send", "finish"]),
        "account_concurrency": r.choice([100, 1000]),
        "max_filters": r.choice([1, 2, 5, 5, 10]),
        # Only tables drawn with ttl use it; it is picked
        # from what was drawn, not drawn, so every seed keeps the scenario it named.
        "ttl_delay_hours": (0.0, 0.5, 48.0)[int(retention * 1000) % 3],
        # Picked the same way. Short ones drop history inside a run: the
        # invariants then check the records written since, and fates, counts and
        # the independent book must not notice.
        "history_hours": (None, 0.05, 0.5, 24.0)[int(base * 10 + retention * 1000) % 4],
    }


def _tables(r: random.Random) -> tuple[TableSpec, ...]:
    out = []
    for i in range(r.choice([1, 1, 2])):
        keys = tuple(f"k{j}" for j in range(r.randint(2, 8)))
        poison = (r.choice(keys),) if r.random() < 0.2 else ()
        shard_count = r.randint(1, 3)
        out.append(
            TableSpec(
                name=f"t{i}-table",
                sort_key=r.random() < 0.3,
                shard_count=shard_count,
                view_type=r.choice(VIEW_TYPES),
                keys=keys,
                poison=poison,
                # from what was drawn, not drawn: every seed keeps the scenario it named
                ttl=(len(keys) + shard_count) % 3 == 0,
            )
        )
    return tuple(out)


def _functions(r: random.Random) -> tuple[FunctionSpec, ...]:
    out = []
    exit_function = r.randrange(3) if r.random() < 0.1 else -1
    for i in range(r.randint(1, 3)):
        profile = r.choice(["clean", "flaky", "flaky", "chaotic"])
        actions = PROFILES[profile]
        if i == exit_function:
            actions = (*actions, ("exit", 0.05))
        timeout = r.choice([1.0, 2.0, 3.0, 5.0])
        out.append(
            FunctionSpec(
                name=f"f{i}",
                timeout=timeout,
                duration=r.choice([0.0, 0.0, 0.05, 0.3, timeout / 2]),
                profile=profile,
                actions=actions,
                poison_mode=r.choice(POISON_MODES),
                sensitive=r.random() < 0.6,
                final_fails=r.random() < 0.1,
            )
        )
    return tuple(out)


def _filters(r: random.Random, most: int = 3) -> dict[str, Any]:
    patterns = r.sample(FILTERS, r.randint(1, most))
    return {"Filters": [{"Pattern": p} for p in patterns]}


def _mapping_params(r: random.Random) -> tuple[dict[str, Any], str | None]:
    u = r.random()
    batch = (
        r.randint(1, 20) if u < 0.7 else r.randint(21, 200) if u < 0.9 else r.choice([1000, 10000])
    )
    factor = 1 if r.random() < 0.6 else r.randint(2, 10)
    params: dict[str, Any] = {
        "StartingPosition": "TRIM_HORIZON" if r.random() < 0.75 else "LATEST",
        "BatchSize": batch,
        "MaximumBatchingWindowInSeconds": r.choice([0, 0, 1, 2, 3]),
        "ParallelizationFactor": factor,
        "MaximumRetryAttempts": r.choice([-1, 0, 1, 2, 3]),
        "MaximumRecordAgeInSeconds": (
            -1 if r.random() < 0.5 else r.randint(60, 300) if r.random() < 0.8 else 604800
        ),
        "BisectBatchOnFunctionError": r.random() < 0.5,
        "FunctionResponseTypes": ["ReportBatchItemFailures"] if r.random() < 0.5 else [],
    }
    if (factor == 1 and r.random() < 0.3) or r.random() < 0.03:
        # With factor > 1 this is an UnsupportedFeatureError (recorded, mapping skipped).
        params["TumblingWindowInSeconds"] = r.choice([1, 5, 10, 30, 60])
    if r.random() < 0.3:
        params["FilterCriteria"] = _filters(r)
    if r.random() < 0.15:
        params["Enabled"] = False
    if r.random() < 0.3:
        params["MetricsConfig"] = {"Metrics": ["EventCount"]}
    destination = r.choice([None, None, "sqs", "sns", "s3", "fifo"])
    return params, destination


def _update_args(r: random.Random, params: dict[str, Any]) -> dict[str, Any]:
    """A random subset of the updatable settings (spec 1.4), new values over their range."""
    options: dict[str, Any] = {
        "BatchSize": lambda: r.randint(1, 20) if r.random() < 0.8 else r.choice([100, 1000]),
        "MaximumBatchingWindowInSeconds": lambda: r.choice([0, 1, 3]),
        "MaximumRetryAttempts": lambda: r.choice([-1, 0, 1, 3]),
        "MaximumRecordAgeInSeconds": lambda: r.choice([-1, 60, 120]),
        "BisectBatchOnFunctionError": lambda: r.random() < 0.5,
        "FunctionResponseTypes": lambda: r.choice([[], ["ReportBatchItemFailures"]]),
        "FilterCriteria": lambda: _filters(r, 2) if r.random() < 0.7 else {},
        "TumblingWindowInSeconds": lambda: r.choice([0, 0, 5, 30]),
        "DestinationConfig": lambda: r.choice(["sqs", "sns", "s3", "fifo", ""]),
        "ParallelizationFactor": lambda: r.randint(1, 10),
    }
    names = list(options)
    weights = [3, 2, 3, 2, 2, 2, 2, 2, 2, 2]  # a factor change rebuilds the lanes (spec 5)
    chosen = set(r.choices(names, weights=weights, k=r.randint(1, 3)))
    return {name: options[name]() for name in names if name in chosen}


def _writes(r: random.Random, table: TableSpec, span: float) -> list[Action]:
    out = []
    n = r.randint(5, 30)
    burst = r.random() < 0.3
    times = sorted(round(r.uniform(0, 3 if burst else span), 3) for _ in range(n))
    for version, at in enumerate(times, start=1):
        key: dict[str, Any] = {"pk": r.choice(table.keys)}
        if table.sort_key:
            key["sk"] = r.choice(["s0", "s1"])
        u = r.random()
        if u < 0.55:
            op, item = (
                "put",
                {**key, "v": version, "kind": r.choice("abc"), "flag": r.random() < 0.5},
            )
        elif u < 0.75:
            op, item = "update", {**key, "v": version}
        elif u < 0.93:
            op, item = "delete", key
        else:
            op, item = "put", {**key, "v": 0, "kind": "a", "flag": False}  # often unchanged
        out.append(Action(at=at, kind="write", target=table.name, args={"op": op, "item": item}))
    return out


# At most about this many retries of one blocked batch (cost, not coverage).
MAX_BLOCKED_RETRIES = 400


def _bound_retries(
    sim_kwargs: dict[str, Any], mappings: list[MappingSpec], actions: list[Action]
) -> None:
    """
    Raise ``retry_backoff_max`` so that a batch retried until it leaves the
    stream (MaximumRetryAttempts -1) is retried a few hundred times at most.
    """
    retention = float(sim_kwargs["retention_hours"]) * 3600
    longest = 0.0
    for m in mappings:
        settings = [m.params] + [
            a.args for a in actions if a.kind == "update" and a.target == m.label
        ]
        if not any(s.get("MaximumRetryAttempts") == -1 for s in settings):
            continue
        ages = [
            s["MaximumRecordAgeInSeconds"] for s in settings if "MaximumRecordAgeInSeconds" in s
        ]
        age = retention if any(a == -1 for a in ages) else max(ages)
        longest = max(longest, min(retention, age))
    floor = min(60.0, longest / MAX_BLOCKED_RETRIES)
    if sim_kwargs["retry_backoff_max"] < floor:
        sim_kwargs["retry_backoff_max"] = round(floor, 3)


def generate(seed: int) -> Spec:
    """The scenario of ``seed``: every feature, small enough to run in milliseconds."""
    r = random.Random(seed)
    sim_kwargs = _sim_kwargs(r)
    tables = _tables(r)
    functions = _functions(r)
    span = r.choice([10.0, 60.0, 300.0, 600.0])
    actions: list[Action] = []
    for table in tables:
        actions += _writes(r, table, span)
        for _ in range(r.choice([0, 0, 1, 2])):
            actions.append(
                Action(
                    at=round(r.uniform(0, span), 3),
                    kind="split",
                    target=table.name,
                    args={"index": r.randrange(8)},
                )
            )
    pairs = [(f.name, t.name) for f in functions for t in tables]
    chosen = [p for p in pairs if r.random() < 0.6] or [r.choice(pairs)]
    mappings = []
    for i, (fn, table_name) in enumerate(chosen[:5]):
        params, destination = _mapping_params(r)
        label = f"m{i}"
        create_at = 0.0 if r.random() < 0.75 else round(r.uniform(0, span), 3)
        mappings.append(MappingSpec(label, fn, table_name, params, destination, create_at))
        t = create_at
        for _ in range(r.choice([0, 0, 1, 2, 3])):
            t = round(t + r.uniform(1, max(2.0, span / 2)), 3)
            u = r.random()
            if u < 0.55:
                actions.append(
                    Action(at=t, kind="update", target=label, args=_update_args(r, params))
                )
            elif u < 0.9:
                actions.append(Action(at=t, kind="update", target=label, args={"Enabled": False}))
                t = round(t + r.uniform(1, 120), 3)
                if r.random() < 0.8:
                    actions.append(
                        Action(at=t, kind="update", target=label, args={"Enabled": True})
                    )
            else:
                actions.append(Action(at=t, kind="delete", target=label))
                break
    for fn in functions:
        if r.random() < 0.2:
            at = round(r.uniform(0, span), 3)
            value = r.choice([0, 0, 1])
            actions.append(Action(at=at, kind="throttle", target=fn.name, args={"value": value}))
            end = round(at + r.uniform(1, 120), 3)
            actions.append(Action(at=end, kind="unthrottle", target=fn.name))
        if r.random() < 0.2:
            actions.append(
                Action(
                    at=round(r.uniform(0, span), 3),
                    kind="inject_errors",
                    target=fn.name,
                    args={
                        "count": r.randint(1, 5),
                        "code": r.choice(["ServiceException", "TooManyRequestsException"]),
                    },
                )
            )
        if r.random() < 0.2:
            actions.append(
                Action(
                    at=round(r.uniform(0, span), 3),
                    kind="inject_duplicates",
                    target=fn.name,
                    args={"count": r.randint(1, 3)},
                )
            )
    actions.sort(key=lambda a: a.at)  # stable: equal times keep their drawing order
    _bound_retries(sim_kwargs, mappings, actions)
    return Spec(
        seed=seed,
        sim_kwargs=sim_kwargs,
        tables=tables,
        functions=functions,
        mappings=tuple(mappings),
        actions=tuple(actions),
        callbacks=r.choice([0, 2, 4]),
    )


# ---------------------------------------------------------------------------
# Describing
# ---------------------------------------------------------------------------

_SHORT = {
    "StartingPosition": None,
    "BatchSize": "BS",
    "MaximumBatchingWindowInSeconds": "W",
    "ParallelizationFactor": "PF",
    "MaximumRetryAttempts": "R",
    "MaximumRecordAgeInSeconds": "Age",
    "TumblingWindowInSeconds": "TW",
}


def _params_text(params: dict[str, Any]) -> str:
    parts = []
    for name, value in params.items():
        short = _SHORT.get(name, name)
        if name == "StartingPosition":
            parts.append(value)
        elif name == "BisectBatchOnFunctionError":
            parts.append("bisect" if value else "no-bisect")
        elif name == "FunctionResponseTypes":
            parts.append("RBIF" if value else "no-RBIF")
        elif name == "FilterCriteria":
            n = len(value.get("Filters", [])) if isinstance(value, dict) else 0
            parts.append(f"filters={n}")
        elif name == "MetricsConfig":
            parts.append("metrics")
        elif name == "Enabled":
            parts.append("enabled" if value else "disabled")
        elif name == "DestinationConfig":
            parts.append(f"dest={value or 'none'}")
        else:
            parts.append(f"{short}={value}")
    return " ".join(parts)


def describe(spec: Spec, *, writes: bool = False) -> str:
    """The scenario in a few lines; ``writes`` lists every write too."""
    lines = [f"seed={spec.seed} callbacks={spec.callbacks} may_block={spec.may_block()}"]
    lines.append("sim: " + " ".join(f"{k}={v}" for k, v in spec.sim_kwargs.items()))
    for t in spec.tables:
        n = sum(1 for a in spec.actions if a.kind == "write" and a.target == t.name)
        splits = sum(1 for a in spec.actions if a.kind == "split" and a.target == t.name)
        lines.append(
            f"{t.name}: {'pk+sk' if t.sort_key else 'pk'}{' ttl=exp' if t.ttl else ''} "
            f"shards={t.shard_count} "
            f"{t.view_type} keys={len(t.keys)} poison={list(t.poison)} writes={n} splits={splits}"
        )
    for f in spec.functions:
        extra = " +exit" if any(a == "exit" for a, _ in f.actions) else ""
        lines.append(
            f"{f.name}: timeout={f.timeout} duration={f.duration} {f.profile}{extra} "
            f"poison={f.poison_mode if f.sensitive else 'ignored'}"
            f"{' final-invocations-fail' if f.final_fails else ''}"
        )
    for m in spec.mappings:
        lines.append(
            f"{m.label}: {m.function}<-{m.table} at {m.create_at}s {_params_text(m.params)} "
            f"dest={m.destination or 'none'}"
        )
    others = []
    for a in spec.actions:
        if a.kind == "write" and not writes:
            continue
        if a.kind == "update":
            others.append(f"{a.at}s update {a.target} {_params_text(a.args)}")
        elif a.kind == "write":
            others.append(f"{a.at}s {a.args['op']} {a.target} {a.args['item']}")
        else:
            args = " ".join(f"{k}={v}" for k, v in a.args.items())
            others.append(f"{a.at}s {a.kind} {a.target} {args}".rstrip())
    if others and writes:
        lines += ["actions:", *(f"  {line}" for line in others)]
    elif others:
        lines.append("actions: " + "; ".join(others))
    return "\n".join(lines)


def features(spec: Spec) -> frozenset[str]:
    """Tags for the features a scenario uses, to see which ones a failure class needs."""
    tags: set[str] = set()
    k = spec.sim_kwargs
    if k["shard_rollover_hours"] and k["shard_rollover_hours"] < 0.5:
        tags.add("rollover")
    if k["retention_hours"] < 1:
        tags.add("retention<1h")
    tags.add(f"close={k['tumbling_window_close']}")
    tags.add(f"align={k['tumbling_window_alignment']}")
    if k["max_readers_per_shard"]:
        tags.add("read-throttle")
    if k["get_records_per_poll"] > 1:
        tags.add("multi-get")
    if k["non_object_response"] == "failure":
        tags.add("non-object=failure")
    if spec.callbacks:
        tags.add("callbacks")
    if any(t.sort_key for t in spec.tables):
        tags.add("sort-key")
    if any(t.ttl for t in spec.tables):
        tags.add("ttl")
    if any(t.poison for t in spec.tables):
        tags.add("poison")
    if len(spec.tables) > 1:
        tags.add("2-tables")
    for f in spec.functions:
        tags.add(f"profile={f.profile}")
        if any(a == "exit" for a, _ in f.actions):
            tags.add("sys.exit")
        if f.final_fails:
            tags.add("final-fails")
    settings = [m.params for m in spec.mappings] + [
        a.args for a in spec.actions if a.kind == "update"
    ]
    for s in settings:
        if s.get("TumblingWindowInSeconds"):
            tags.add("tumbling")
        if s.get("ParallelizationFactor", 1) > 1:
            tags.add("PF>1")
        if s.get("FunctionResponseTypes"):
            tags.add("RBIF")
        if s.get("BisectBatchOnFunctionError"):
            tags.add("bisect")
        if s.get("FilterCriteria"):
            tags.add("filters")
        if s.get("MaximumRetryAttempts") == -1:
            tags.add("retries=-1")
        if s.get("MaximumBatchingWindowInSeconds"):
            tags.add("batch-window")
        if s.get("StartingPosition") == "LATEST":
            tags.add("LATEST")
    for m in spec.mappings:
        if m.destination:
            tags.add(f"dest={m.destination}")
        if m.create_at:
            tags.add("late-create")
        if m.params.get("Enabled") is False:
            tags.add("created-disabled")
    kinds = {a.kind for a in spec.actions}
    for kind in ("split", "delete", "throttle", "inject_errors", "inject_duplicates"):
        if kind in kinds:
            tags.add(kind)
    updates = [a.args for a in spec.actions if a.kind == "update"]
    if any(list(u) == ["Enabled"] for u in updates):
        tags.add("disable/enable")
    if any(list(u) != ["Enabled"] for u in updates):
        tags.add("update")
    return frozenset(tags)
