"""
The scenario command line: ``python -m esm_sim run scenario.yaml`` and ``validate template.yaml``.

This module owns scenario files. ``run`` builds a simulation from one, runs it
until idle, prints the timeline and the summary of record fates (``--json``:
one JSON object instead; what handlers print is captured per invocation as
``Invocation.logs``, anything else printed goes to stderr), and gates on what
happened: ``--fail-on dropped,destination,expired,errors,invariants`` (default
``invariants``) exits 1 when a named outcome occurred: records dropped, sent to
an on-failure destination or expired; function errors; an invariant of
``esm_sim.invariants`` broken (or, without that module, a record still
pending); a run still busy after ``max_seconds`` exits 1 too, reporting what
happened until then (``--json``: ``"not_idle"``, the reason, else null).
``validate`` checks a SAM or CloudFormation template as AWS would
(SAM's own translator, then every function and mapping setting) and lists what
AWS would refuse, and handlers whose module is missing from their CodeUri. Exit 2
means the input is wrong (the message names the field and its line) or an
optional dependency is missing (one line naming the ``pip install`` to run);
exit 0 means nothing named happened.

A scenario file (YAML, or JSON) holds::

    seed: 7                                   # default 0
    start: "2026-01-01T00:00:00Z"             # default the Simulation's
    # Either a template (its functions' handlers are imported from their
    # CodeUri folder and Handler, unless named here by logical id) ...
    template: template.yaml                   # relative to the scenario file
    handlers: {ProcessFn: "my_pkg.app:handler"}   # optional
    # ... or the resources themselves:
    tables:
      - {name: orders, partition_key: pk, sort_key: null,
         stream_view_type: NEW_AND_OLD_IMAGES, shard_count: 1}
    functions:
      - {name: process, handler: "my_pkg.app:handler", timeout: 3, duration: 0.0}
    mappings:                                 # CreateEventSourceMapping parameters;
      - {FunctionName: process, table: orders,  # table: stands for EventSourceArn
         StartingPosition: TRIM_HORIZON, BatchSize: 10, BisectBatchOnFunctionError: true}
    writes:                                   # at: seconds after start
      - {at: 10, table: orders, put: {pk: a, n: 1}}
      - {at: 12, table: orders, delete: {pk: a}}
    faults:                                   # every handler fails on these keys
      fail_on_keys: [poison]
      fail_times: 2                           # this many times per key; omit: always
    max_seconds: 172800                       # run_until_idle bound
    aws: auto            # run inside sim.mock_aws(): true, false, or auto (default:
                         # when moto and boto3 are installed), so handlers' boto3
                         # calls reach the simulated tables, queues and moto
    handler_clock: wall  # or virtual: handlers read sim.now (Simulation(handler_clock=))

Handlers are named by import path ``package.module:function`` (the current
directory is importable). A handler of ``null`` is a function that succeeds.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import re
import sys
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from esm_sim._lambda.sandbox import check_handler_clock
from esm_sim._simulation import Simulation
from esm_sim.errors import (
    ClientError,
    ConfigError,
    ParamValidationError,
    SimulationLimitExceeded,
)

Path_ = tuple[str | int, ...]
_TOP_LEVEL = (
    "seed",
    "start",
    "template",
    "handlers",
    "tables",
    "functions",
    "mappings",
    "writes",
    "faults",
    "max_seconds",
    "aws",
    "handler_clock",
)


class ScenarioError(ConfigError):
    """A scenario file is wrong: the message names the field and its line."""


def _succeed(event: dict[str, Any], context: Any) -> None:
    """The handler of ``handler: null``."""


class Scenario:
    """A parsed scenario file with the line of every field, to name them in errors."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            msg = f"path={str(path)!r} cannot be read as UTF-8 text: {exc}"
            raise ScenarioError(msg) from None
        from esm_sim._control.template import _yaml, yaml_lines

        yaml = _yaml()
        try:
            self.data = yaml.safe_load(text)
            self.lines = yaml_lines(text)
        except yaml.YAMLError as exc:
            msg = f"{path}: not valid YAML: {exc}"
            raise ScenarioError(msg) from None
        if not isinstance(self.data, dict):
            msg = f"{path}: a scenario must be a map with keys such as {list(_TOP_LEVEL)}"
            raise ScenarioError(msg)

    def where(self, path: Path_) -> str:
        text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
        for n in range(len(path), 0, -1):
            line = self.lines.get(path[:n])
            if line is not None:
                return f"{self.path}:{line}: {text}"
        return f"{self.path}: {text}"

    def error(self, path: Path_, problem: str) -> ScenarioError:
        return ScenarioError(f"{self.where(path)}: {problem}")

    def get(self, path: Path_, kind: type | tuple[type, ...], default: Any = None) -> Any:
        node: Any = self.data
        for p in path[:-1]:
            node = node[p]
        value = node.get(path[-1], default) if isinstance(node, dict) else default
        kinds = (kind,) if isinstance(kind, type) else kind
        # YAML's true is a bool, which Python counts as an int: not a number here.
        if value is not default and (
            not isinstance(value, kind) or (isinstance(value, bool) and bool not in kinds)
        ):
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            raise self.error(path, f"{path[-1]}={value!r} must be a {names}")
        return value

    def items(self, key: str) -> list[tuple[Path_, dict[str, Any]]]:
        entries = self.get((key,), list, [])
        out: list[tuple[Path_, dict[str, Any]]] = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise self.error((key, i), f"each of {key} must be a map, not {entry!r}")
            out.append(((key, i), entry))
        return out


def load_handler(spec: object, what: str = "handler") -> Callable[..., Any]:
    """The callable named by ``package.module:function`` (None: one that succeeds)."""
    if spec is None:
        return _succeed
    if not isinstance(spec, str) or spec.count(":") != 1:
        msg = f"{what}={spec!r} must be an import path 'package.module:function'"
        raise ConfigError(msg)
    module_name, _, attr = spec.partition(":")
    if "" not in sys.path:
        sys.path.insert(0, "")  # the current directory, as `python -m` has it
    try:
        module = importlib.import_module(module_name)
        found = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        msg = f"{what}={spec!r} cannot be imported: {exc}"
        raise ConfigError(msg) from None
    except Exception as exc:  # the module failed while imported (SyntaxError, ...)
        msg = f"{what}={spec!r} cannot be imported: {type(exc).__name__}: {exc}"
        raise ConfigError(msg) from None
    if not callable(found):
        msg = f"{what}={spec!r} is not callable"
        raise ConfigError(msg)
    return found  # type: ignore[no-any-return]


def _decimals(value: Any) -> Any:
    # YAML floats become Decimals, as DynamoDB items need (boto3 refuses float).
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decimals(v) for v in value]
    return value


def build(scenario: Scenario) -> Simulation:
    """The simulation a scenario describes, with its writes scheduled."""
    sc = scenario
    for key in sc.data:
        if key not in _TOP_LEVEL:
            raise sc.error((key,), f"unknown field {key!r}; fields are {list(_TOP_LEVEL)}")
    seed = sc.get(("seed",), int, 0)
    kwargs: dict[str, Any] = {}
    start = sc.get(("start",), (str, datetime))
    if start is not None:
        try:
            when = start if isinstance(start, datetime) else datetime.fromisoformat(start)
        except ValueError:
            raise sc.error(("start",), f"start={start!r} must be an ISO 8601 time") from None
        if when.tzinfo is None:
            raise sc.error(("start",), f"start={start!r} needs a time zone, e.g. Z")
        kwargs["start"] = when
    clock = sc.get(("handler_clock",), str)
    if clock is not None:
        try:
            kwargs["handler_clock"] = check_handler_clock(clock)
        except ConfigError as exc:
            raise sc.error(("handler_clock",), str(exc)) from None
    wrap = _fault_wrapper(sc)
    template = sc.get(("template",), str)
    try:
        if template is not None:
            if sc.data.get("tables") or sc.data.get("functions") or sc.data.get("mappings"):
                raise sc.error(("template",), "give a template or tables/functions/mappings")
            handlers = {
                lid: _handler(sc, ("handlers", lid), spec)
                for lid, spec in sc.get(("handlers",), dict, {}).items()
            }
            from esm_sim.templates import from_template

            try:
                sim = from_template(
                    sc.path.parent / template, handlers=handlers, seed=seed, **kwargs
                )
            except ConfigError as exc:
                raise sc.error((_field_of(exc, "template"),), str(exc)) from None
            for fn in sim.functions.values():  # given or imported from CodeUri alike
                fn.handler = wrap(fn.handler)
        else:
            if sc.data.get("handlers") is not None:
                raise sc.error(
                    ("handlers",), "handlers: names a template's functions; give template: too"
                )
            try:
                sim = Simulation(seed, **kwargs)
            except ConfigError as exc:
                raise sc.error((_field_of(exc, "seed"),), str(exc)) from None
            _resources(sc, sim, wrap)
    except (ClientError, ParamValidationError) as exc:
        raise ScenarioError(f"{sc.path}: {exc}") from None
    _writes(sc, sim)
    return sim


def _field_of(exc: ConfigError, default: str) -> str:
    """The scenario field a Simulation argument error names (``seed=...``), else ``default``."""
    name = str(exc).partition("=")[0]
    return name if name in ("seed", "start", "handler_clock") else default


def _handler(sc: Scenario, path: Path_, spec: object) -> Callable[..., Any]:
    try:
        return load_handler(spec, str(path[-1]))
    except ConfigError as exc:
        raise sc.error(path, str(exc)) from None


def _fault_wrapper(sc: Scenario) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    faults = sc.get(("faults",), dict, {})
    for key in faults:
        if key not in ("fail_on_keys", "fail_times"):
            raise sc.error(("faults", key), f"unknown fault {key!r}: fail_on_keys, fail_times")
    keys = sc.get(("faults", "fail_on_keys"), list, None) if faults else None
    times = sc.get(("faults", "fail_times"), int, None) if faults else None
    if keys is None:
        if times is not None:
            raise sc.error(("faults", "fail_times"), "fail_times needs fail_on_keys")
        return lambda handler: handler
    from esm_sim.testing import fail_on_keys

    def wrap(handler: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return fail_on_keys(keys, times=times, handler=handler)
        except ConfigError as exc:
            raise sc.error(("faults",), str(exc)) from None

    return wrap


def _resources(
    sc: Scenario, sim: Simulation, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> None:
    for path, entry in sc.items("tables"):
        args = dict(entry)
        pk = args.get("partition_key")
        for name in ("partition_key", "sort_key"):
            if isinstance(args.get(name), list):
                args[name] = tuple(args[name])
        if pk is None:
            raise sc.error(path, "a table needs partition_key")
        try:
            sim.create_table(args.pop("name", None), **args)
        except (ConfigError, TypeError) as exc:
            raise sc.error(path, str(exc)) from None
    for path, entry in sc.items("functions"):
        args = dict(entry)
        handler = wrap(_handler(sc, (*path, "handler"), args.pop("handler", None)))
        try:
            sim.create_function(args.pop("name", None), handler, **args)
        except (ConfigError, TypeError) as exc:
            raise sc.error(path, str(exc)) from None
    for path, entry in sc.items("mappings"):
        params = dict(entry)
        table_name = params.pop("table", None)
        if table_name is not None and "EventSourceArn" in params:
            raise sc.error((*path, "table"), "give table: or EventSourceArn:, not both")
        if table_name is not None:
            if not isinstance(table_name, str) or table_name not in sim.tables:
                raise sc.error((*path, "table"), f"table={table_name!r} is not a table above")
            params["EventSourceArn"] = sim.tables[table_name].stream_arn
        try:
            sim.lambda_client.create_event_source_mapping(**params)
        except (ClientError, ParamValidationError) as exc:
            raise sc.error(path, str(exc)) from None


def _writes(sc: Scenario, sim: Simulation) -> None:
    start_s = sim.now_ms / 1000
    for path, entry in sc.items("writes"):
        at = entry.get("at", 0)
        # not 0 <= at < inf: also NaN and infinity (a YAML .nan or .inf).
        if not isinstance(at, int | float) or isinstance(at, bool) or not 0 <= at < float("inf"):
            raise sc.error((*path, "at"), f"at={at!r} must be seconds >= 0 after start")
        name = entry.get("table")
        if name is None and len(sim.tables) == 1:
            name = next(iter(sim.tables))
        try:
            table = sim.tables[str(name)]
        except KeyError:
            raise sc.error(
                (*path, "table"), f"table={name!r} is not a table of the scenario"
            ) from None
        ops = [op for op in ("put", "delete") if op in entry]
        extra = [k for k in entry if k not in ("at", "table", "put", "delete")]
        if len(ops) != 1 or extra:
            raise sc.error(path, "a write has at, table and exactly one of put or delete")
        item = entry[ops[0]]
        if not isinstance(item, dict):
            raise sc.error((*path, ops[0]), f"{ops[0]}={item!r} must be a map of attributes")
        write = table.put_item if ops[0] == "put" else table.delete_item
        sim.call_at(start_s + at, _checked_write, sc, (*path, ops[0]), write, _decimals(item))


def _checked_write(
    sc: Scenario, path: Path_, write: Callable[[Any], None], item: dict[str, Any]
) -> None:
    try:
        write(item)
    except (ClientError, TypeError) as exc:
        raise sc.error(path, str(exc)) from None


def _invariants(sim: Simulation) -> str | None:
    """The first broken invariant, or None."""
    try:
        from esm_sim.invariants import check_all
    except ImportError:
        for uuid in sim.mappings:
            pending = sim.fate_counts(uuid)["pending"]
            if pending:
                return f"mapping {uuid}: {pending} record(s) still pending after run_until_idle"
        return None
    try:
        check_all(sim)
    except AssertionError as exc:
        return str(exc)
    return None


FAIL_ON = ("dropped", "destination", "expired", "errors", "invariants")


def fail_on_names(text: str) -> tuple[str, ...]:
    """``--fail-on``'s value: a comma-separated subset of :data:`FAIL_ON` (argparse type)."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in FAIL_ON]
    if unknown or not names:
        msg = f"--fail-on={text!r}: choose a comma-separated list of {', '.join(FAIL_ON)}"
        raise argparse.ArgumentTypeError(msg)
    return names


def _occurred(sim: Simulation, broken: str | None) -> dict[str, int]:
    """How often each outcome ``--fail-on`` can name occurred (invariants: 1 if broken)."""
    counts = dict.fromkeys(FAIL_ON, 0)
    for _uuid, fates in sim.fates().items():
        for name in ("dropped", "destination", "expired"):
            counts[name] += fates[name]
    counts["errors"] = int(sim.metrics.sum("Errors"))
    counts["invariants"] = 0 if broken is None else 1
    return counts


def _aws_block(sc: Scenario) -> bool:
    """Whether the scenario runs inside ``sim.mock_aws()`` (its ``aws`` field)."""
    wanted = sc.get(("aws",), (bool, str), "auto")
    if wanted not in (True, False, "auto"):
        raise sc.error(("aws",), f"aws={wanted!r} must be true, false or auto")
    if wanted is False:
        return False
    try:
        # Imported before the handlers' modules, so that boto3 clients they make
        # at import time are served by the mock too.
        import boto3  # noqa: F401
        import moto  # noqa: F401
    except ImportError:
        if wanted is True:
            msg = "aws: true needs moto and boto3; install 'esm_sim[aws]'"
            raise ImportError(msg) from None
        return False
    return True


def run_command(path: str, *, as_json: bool, fail_on: tuple[str, ...] = ("invariants",)) -> int:
    """
    ``run``: build, run until idle, print; 1 when an outcome named in ``fail_on``
    occurred (records dropped, sent to a destination or expired, function errors,
    a broken invariant) or when the run was still busy after ``max_seconds``, else 0.

    Handlers' output is captured per invocation (``Invocation.logs``); with
    ``as_json`` whatever else prints (the handlers' module, when imported) goes to
    stderr, so stdout holds only the JSON object.
    """
    scenario = Scenario(Path(path))
    quiet = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    with quiet:
        aws = _aws_block(scenario)
        sim = build(scenario)
        max_seconds = scenario.get(("max_seconds",), (int, float), 2 * 86_400)
        try:
            sim._later_ms("max_seconds", max_seconds)  # a duration the clock can run
        except ConfigError as exc:
            raise scenario.error(("max_seconds",), str(exc)) from None
        not_idle: str | None = None
        with sim.mock_aws() if aws else contextlib.nullcontext():
            try:
                sim.run_until_idle(max_seconds=max_seconds)
            except SimulationLimitExceeded as exc:
                # The run never settled (a shard blocked, a loop): a result, not a
                # crash; what happened up to max_seconds is still reported.
                not_idle = str(exc)
        broken = _invariants(sim)
        occurred = _occurred(sim, broken)
    failed = [name for name in fail_on if occurred[name]]
    if as_json:
        out = {
            "seed": sim.seed,
            "now": sim.now.isoformat(),
            "fates": {uuid: dict(counts) for uuid, counts in sim.fates().items()},
            "invocations": sum(len(fn.invocations) for fn in sim.functions.values()),
            "errors": occurred["errors"],
            "trace_digest": sim.trace.digest(),
            "invariants": "ok" if broken is None else broken,
            "fail_on": list(fail_on),
            "failed": failed,
            "not_idle": not_idle,
        }
        print(json.dumps(out, indent=2, sort_keys=True))
    else:
        print(sim.timeline())
        print()
        print(sim.fates().text())
        print()
        counts = ", ".join(f"{name}={occurred[name]}" for name in fail_on)
        verdict = f"failed on {', '.join(failed)}" if failed else "ok"
        print(f"fail-on {','.join(fail_on)}: {counts}: {verdict}")
        print("invariants: ok" if broken is None else f"invariant broken: {broken}")
    if not_idle is not None:
        print(f"error: {not_idle}", file=sys.stderr)
    return 1 if failed or not_idle is not None else 0


def validate_command(path: str) -> int:
    """``validate``: 0 when AWS would accept every setting, else 1 and one line per problem."""
    from esm_sim.templates import validate_template

    problems = validate_template(path)
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{path}: every function and mapping setting is accepted")
    return 1 if problems else 0


def add_commands(commands: Any) -> None:
    """Add ``run`` and ``validate`` to an argparse subparsers object."""
    run = commands.add_parser("run", help="run a scenario file: timeline, summary, invariants")
    run.add_argument("scenario", help="the scenario file (YAML or JSON; see esm_sim._cli)")
    run.add_argument("--json", action="store_true", help="print one JSON object instead")
    run.add_argument(
        "--fail-on",
        type=fail_on_names,
        default=("invariants",),
        metavar="NAMES",
        help=(
            "exit 1 when one of these occurred, comma-separated: dropped, destination, "
            "expired (records), errors (function errors), invariants (default: invariants)"
        ),
    )
    validate = commands.add_parser(
        "validate", help="check a SAM/CloudFormation template's mapping settings as AWS would"
    )
    validate.add_argument("template", help="the template (YAML or JSON)")


def dispatch(args: argparse.Namespace) -> int | None:
    """
    Run ``run``/``validate``; None for other commands. Exit 2 on a bad input file
    or a missing optional dependency (one line on stderr naming the extra).
    """
    try:
        if args.command == "run":
            return run_command(args.scenario, as_json=args.json, fail_on=args.fail_on)
        if args.command == "validate":
            return validate_command(args.template)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        # A missing optional dependency: esm_sim's loaders name the extra to install.
        extra = re.search(r"esm_sim\[(\w+)\]", str(exc))
        if extra is None:
            raise
        need = str(exc).split(";")[0]
        print(f"error: {need}: pip install 'esm_sim[{extra[1]}]'", file=sys.stderr)
        return 2
    return None
