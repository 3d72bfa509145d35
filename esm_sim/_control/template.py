"""
The template builder behind ``esm_sim.templates`` and ``Simulation.from_template``.

It reads a SAM or CloudFormation template and creates its tables, functions,
destinations and mappings through a simulation's own calls (a
:class:`TemplateTarget`), so settings the template gets wrong are refused with
AWS's messages. What it understands is listed in ``esm_sim.templates``. It
sits in the control plane, below the facade, so that ``Simulation`` can build
from a template without importing upward.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from esm_sim._lambda.function import Handler
from esm_sim.errors import ClientError, ConfigError, ParamValidationError

__all__ = ["build_into", "load_template", "problems_in", "yaml_lines"]

_TABLE = "AWS::DynamoDB::Table"
_FUNCTIONS = ("AWS::Lambda::Function", "AWS::Serverless::Function")
_MAPPING = "AWS::Lambda::EventSourceMapping"
_QUEUE, _TOPIC, _BUCKET = "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::S3::Bucket"
_NO_VALUE = object()  # AWS::NoValue: the property is left out
# SAM's DynamoDB event property names that differ from CreateEventSourceMapping's
# (SAM specification, "DynamoDB" event source type); the rest are the same names.
_SAM_RENAMES = {"Stream": "EventSourceArn", "KmsKeyArn": "KMSKeyArn"}
# CloudFormation's AWS::Lambda::EventSourceMapping names that differ from the API's.
_CFN_RENAMES = {"KmsKeyArn": "KMSKeyArn"}

V = TypeVar("V")


class TemplateTarget(Protocol):
    """What building a template needs of a simulation (``esm_sim.Simulation`` has it)."""

    region: str
    account_id: str
    tables: Any
    functions: Any
    functions_by_name: Any

    @property
    def lambda_client(self) -> Any: ...
    @property
    def create_table(self) -> Callable[..., Any]: ...
    @property
    def create_function(self) -> Callable[..., Any]: ...
    @property
    def create_queue(self) -> Callable[..., Any]: ...
    @property
    def create_topic(self) -> Callable[..., Any]: ...
    @property
    def create_bucket(self) -> Callable[..., Any]: ...


class LogicalIdDict(dict[str, V]):
    """
    A dict by physical name that also answers ``d[logical_id]``.

    Only item access falls back to logical ids; ``in``, ``.get``, iteration and
    ``len`` see physical names alone, so nothing that resolves AWS names (the
    Lambda control plane looks functions up with ``.get``) or counts resources
    changes.
    """

    def __init__(self, items: Mapping[str, V], aliases: dict[str, str]) -> None:
        super().__init__(items)
        self.aliases = aliases  # logical id -> physical name

    def __missing__(self, key: str) -> V:
        physical = self.aliases.get(key)
        if physical is None or physical == key:
            raise KeyError(key)
        return self[physical]


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


def _yaml() -> Any:
    try:
        # importlib keeps mypy from needing PyYAML's stubs for an optional dependency.
        yaml = importlib.import_module("yaml")
    except ImportError:
        msg = "reading YAML needs PyYAML; install 'esm_sim[templates]'"
        raise ImportError(msg) from None
    return yaml


def yaml_lines(text: str, loader: Any = None) -> dict[tuple[str | int, ...], int]:
    """
    The 1-based line of every mapping key and list item in a YAML text, by path.

    ``{("Resources", "Table", "Properties"): 7, ...}``. Tags are not constructed,
    so CloudFormation's ``!Ref`` and the like need no loader support here.
    """
    yaml = _yaml()
    node = yaml.compose(text, Loader=loader or yaml.SafeLoader)
    lines: dict[tuple[str | int, ...], int] = {}

    def walk(n: Any, path: tuple[str | int, ...]) -> None:
        if isinstance(n, yaml.MappingNode):
            for key_node, value_node in n.value:
                sub = (*path, str(key_node.value))
                lines[sub] = key_node.start_mark.line + 1
                walk(value_node, sub)
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                lines[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))

    if node is not None:
        walk(node, ())
    return lines


def load_template(path: str | Path) -> tuple[dict[str, Any], dict[tuple[str | int, ...], int]]:
    """
    A template (YAML with CloudFormation tags, or JSON) as plain data, plus its line map.

    Short tags come back in their long form (``!Ref X`` as ``{"Ref": "X"}``,
    ``!GetAtt T.StreamArn`` as ``{"Fn::GetAtt": ["T", "StreamArn"]}``).

    Raises:
        ConfigError: the file cannot be read or parsed, or has no Resources.
    """
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"path={where!r} cannot be read: {exc}"
        raise ConfigError(msg) from None
    lines: dict[tuple[str | int, ...], int] = {}
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            msg = f"path={where!r} is not valid JSON: {exc}"
            raise ConfigError(msg) from None
    else:
        yaml = _yaml()
        try:
            cfn_tools = importlib.import_module("cfn_tools")
            cfn_loader = importlib.import_module("cfn_tools.yaml_loader")
        except ImportError:
            msg = "reading YAML templates needs cfn-flip; install 'esm_sim[templates]'"
            raise ImportError(msg) from None
        try:
            data = _plain(cfn_tools.load_yaml(text))
            lines = yaml_lines(text, cfn_loader.CfnYamlLoader)
        except yaml.YAMLError as exc:
            msg = f"path={where!r} is not valid YAML: {exc}"
            raise ConfigError(msg) from None
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        msg = f"path={where!r} is not a template: it has no Resources map"
        raise ConfigError(msg)
    return data, lines


def _plain(value: Any) -> Any:
    # cfn-flip returns its own OrderedDict subclass; plain dicts print better in errors.
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# ---------------------------------------------------------------------------
# Intrinsic functions
# ---------------------------------------------------------------------------


class _Resolver:
    """Resolves Ref, GetAtt, Sub and Join against what has been built so far."""

    def __init__(
        self,
        sim: TemplateTarget,
        template: dict[str, Any],
        parameters: Mapping[str, Any],
        stack_name: str,
        where: Callable[[tuple[str | int, ...]], str],
    ) -> None:
        self.refs: dict[str, Any] = {
            "AWS::Region": sim.region,
            "AWS::AccountId": sim.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::NoValue": _NO_VALUE,
        }
        for name, spec in (template.get("Parameters") or {}).items():
            if name in parameters:
                self.refs[name] = parameters[name]
            elif isinstance(spec, dict) and "Default" in spec:
                self.refs[name] = spec["Default"]
        self.attrs: dict[tuple[str, str], str] = {}
        self.resources = template["Resources"]
        self.where = where

    def ref(self, name: object, path: tuple[str | int, ...]) -> Any:
        if isinstance(name, str) and name in self.refs:
            return self.refs[name]
        if isinstance(name, str) and name in self.resources:
            kind = self.resources[name].get("Type")
            msg = (
                f"{self.where(path)}: Ref {name!r} names a {kind} resource, which esm_sim "
                "does not build (or not before this one)"
            )
        else:
            msg = f"{self.where(path)}: Ref {name!r} names no parameter or resource of the template"
        raise ConfigError(msg)

    def get_att(self, logical_id: str, attr: str, path: tuple[str | int, ...]) -> str:
        found = self.attrs.get((logical_id, attr))
        if found is None:
            msg = (
                f"{self.where(path)}: Fn::GetAtt {logical_id}.{attr} is not an attribute "
                "esm_sim knows"
            )
            raise ConfigError(msg)
        return found

    def sub(self, template: str, variables: Mapping[str, Any], path: tuple[str | int, ...]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal} is written as ${Literal}
            if name in variables:
                return str(self.resolve(variables[name], path))
            if "." in name and not name.startswith("AWS::"):
                logical_id, attr = name.split(".", 1)
                return self.get_att(logical_id, attr, path)
            return str(self.ref(name, path))

        return re.sub(r"\$\{([^}]+)\}", replace, template)

    def resolve(self, value: Any, path: tuple[str | int, ...]) -> Any:
        if isinstance(value, list):
            out = [self.resolve(v, (*path, i)) for i, v in enumerate(value)]
            return [v for v in out if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((fn, arg),) = value.items()
            if fn == "Ref":
                return self.ref(arg, path)
            if fn == "Fn::GetAtt":
                parts = arg.split(".", 1) if isinstance(arg, str) else arg
                if not (isinstance(parts, list) and len(parts) == 2):
                    msg = f"{self.where(path)}: Fn::GetAtt {arg!r} must be LogicalId.Attribute"
                    raise ConfigError(msg)
                return self.get_att(str(parts[0]), str(self.resolve(parts[1], path)), path)
            if fn == "Fn::Sub":
                if isinstance(arg, str):
                    return self.sub(arg, {}, path)
                if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict):
                    return self.sub(str(arg[0]), arg[1], path)
                msg = f"{self.where(path)}: Fn::Sub {arg!r} must be a string or [string, variables]"
                raise ConfigError(msg)
            if fn == "Fn::Join":
                if isinstance(arg, list) and len(arg) == 2:
                    items = self.resolve(arg[1], path)
                    return str(arg[0]).join(str(v) for v in items)
                msg = f"{self.where(path)}: Fn::Join {arg!r} must be [delimiter, list]"
                raise ConfigError(msg)
            if fn.startswith("Fn::") or fn == "Condition":
                msg = f"{self.where(path)}: {fn} is not resolved by esm_sim; write the value"
                raise ConfigError(msg)
        out_map = {k: self.resolve(v, (*path, k)) for k, v in value.items()}
        return {k: v for k, v in out_map.items() if v is not _NO_VALUE}


# ---------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------


def _placeholder(event: dict[str, Any], context: Any) -> None:
    """The handler ``validate_template`` gives every function: it succeeds."""


class _Builder:
    def __init__(
        self,
        *,
        template: dict[str, Any],
        lines: dict[tuple[str | int, ...], int],
        sim: TemplateTarget,
        handlers: Mapping[str, Handler],
        parameters: Mapping[str, Any],
        stack_name: str,
        problems: list[str] | None,
    ) -> None:
        self.template = template
        self.lines = lines
        self.sim = sim
        self.handlers = handlers
        self.problems = problems
        self.resolver = _Resolver(sim, template, parameters, stack_name, self.where)
        self.table_aliases: dict[str, str] = {}
        self.function_aliases: dict[str, str] = {}
        self.function_names: dict[str, str] = {}

    def where(self, path: tuple[str | int, ...]) -> str:
        """``Resources.X.Properties.Y (line 12)``: the nearest known line of ``path``."""
        text = ".".join(str(p) for p in path)
        for n in range(len(path), 0, -1):
            line = self.lines.get(path[:n])
            if line is not None:
                return f"{text} (line {line})"
        return text

    def resources(self, *types: str) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for logical_id, resource in self.template["Resources"].items():
            if not isinstance(resource, dict):
                msg = f"{self.where(('Resources', logical_id))}: a resource must be a map"
                raise ConfigError(msg)
            if resource.get("Type") in types:
                out.append((logical_id, resource))
        return out

    def props(self, logical_id: str, resource: dict[str, Any]) -> dict[str, Any]:
        props = resource.get("Properties") or {}
        path = ("Resources", logical_id, "Properties")
        if not isinstance(props, dict):
            msg = f"{self.where(path)}: Properties must be a map"
            raise ConfigError(msg)
        resolved: dict[str, Any] = self.resolver.resolve(props, path)
        return resolved

    def aws_call(self, path: tuple[str | int, ...], call: Callable[[], object]) -> None:
        """Run a control-plane call; AWS's refusal gets a note naming the place, or is collected."""
        try:
            call()
        except (ClientError, ParamValidationError) as exc:
            if self.problems is None:
                exc.add_note(f"in template {self.where(path)}")
                raise
            self.problems.append(f"{self.where(path)}: {exc}")

    def build(self) -> None:
        self.check_handlers()
        for logical_id, resource in self.resources(_TABLE):
            self.table(logical_id, resource)
        for logical_id, resource in self.resources(_QUEUE, _TOPIC, _BUCKET):
            self.sink(logical_id, resource)
        for logical_id, resource in self.resources(*_FUNCTIONS):
            self.function(logical_id, resource)
        for logical_id, resource in self.resources(*_FUNCTIONS):
            if resource["Type"] == "AWS::Serverless::Function":
                self.sam_events(logical_id, resource)
        for logical_id, resource in self.resources(_MAPPING):
            self.mapping(logical_id, resource)
        sim = self.sim
        sim.tables = LogicalIdDict(sim.tables, self.table_aliases)
        sim.functions = sim.functions_by_name = LogicalIdDict(sim.functions, self.function_aliases)

    def check_handlers(self) -> None:
        ids = [logical_id for logical_id, _ in self.resources(*_FUNCTIONS)]
        missing = [i for i in ids if i not in self.handlers]
        if missing:
            msg = f"handlers={sorted(self.handlers)!r} has no handler for function(s) {missing!r}"
            raise ConfigError(msg)
        extra = [k for k in self.handlers if k not in ids]
        if extra:
            msg = (
                f"handlers={sorted(self.handlers)!r}: {extra!r} are not functions of the "
                f"template (it has {ids!r})"
            )
            raise ConfigError(msg)

    def table(self, logical_id: str, resource: dict[str, Any]) -> None:
        props = self.props(logical_id, resource)
        path = ("Resources", logical_id, "Properties")
        view = (props.get("StreamSpecification") or {}).get("StreamViewType")
        if view is None:
            msg = (
                f"{self.where((*path, 'StreamSpecification'))}: table {logical_id!r} needs "
                "StreamSpecification.StreamViewType: esm_sim simulates tables with streams"
            )
            raise ConfigError(msg)
        types = {
            d.get("AttributeName"): d.get("AttributeType")
            for d in props.get("AttributeDefinitions") or []
            if isinstance(d, dict)
        }
        keys: dict[str, tuple[str, str] | str] = {}
        for i, element in enumerate(props.get("KeySchema") or []):
            name, kind = element.get("AttributeName"), element.get("KeyType")
            if kind not in ("HASH", "RANGE") or not isinstance(name, str):
                msg = (
                    f"{self.where((*path, 'KeySchema', i))}: KeySchema entry {element!r} "
                    "needs AttributeName and KeyType HASH or RANGE"
                )
                raise ConfigError(msg)
            key_type = types.get(name)
            keys[kind] = (name, key_type) if isinstance(key_type, str) else name
        if "HASH" not in keys:
            msg = f"{self.where((*path, 'KeySchema'))}: table {logical_id!r} needs a HASH key"
            raise ConfigError(msg)
        name = str(props.get("TableName", logical_id))
        try:
            table = self.sim.create_table(
                name, partition_key=keys["HASH"], sort_key=keys.get("RANGE"), stream_view_type=view
            )
        except ConfigError as exc:
            msg = f"{self.where(path)}: {exc}"
            raise ConfigError(msg) from None
        self.table_aliases[logical_id] = name
        self.resolver.refs[logical_id] = name
        self.resolver.attrs[(logical_id, "StreamArn")] = table.stream_arn
        self.resolver.attrs[(logical_id, "Arn")] = table.arn

    def sink(self, logical_id: str, resource: dict[str, Any]) -> None:
        props = self.props(logical_id, resource)
        refs, attrs = self.resolver.refs, self.resolver.attrs
        kind = resource["Type"]
        try:
            if kind == _QUEUE:
                name = str(props.get("QueueName", logical_id))
                if props.get("FifoQueue") and not name.endswith(".fifo"):
                    name += ".fifo"
                queue = self.sim.create_queue(name)
                refs[logical_id], attrs[(logical_id, "Arn")] = queue.url, queue.arn
                attrs[(logical_id, "QueueName")] = name
                attrs[(logical_id, "QueueUrl")] = queue.url
            elif kind == _TOPIC:
                topic = self.sim.create_topic(str(props.get("TopicName", logical_id)))
                refs[logical_id] = attrs[(logical_id, "TopicArn")] = topic.arn
                attrs[(logical_id, "TopicName")] = topic.name
            else:
                name = str(props.get("BucketName", logical_id.lower()))
                bucket = self.sim.create_bucket(name)
                refs[logical_id], attrs[(logical_id, "Arn")] = name, bucket.arn
        except ConfigError as exc:
            msg = f"{self.where(('Resources', logical_id))}: {exc}"
            raise ConfigError(msg) from None

    def function(self, logical_id: str, resource: dict[str, Any]) -> None:
        props = dict(self.props(logical_id, resource))
        path = ("Resources", logical_id, "Properties")
        if resource["Type"] == "AWS::Serverless::Function":
            globals_ = (self.template.get("Globals") or {}).get("Function") or {}
            props = {**self.resolver.resolve(globals_, ("Globals", "Function")), **props}
        props.pop("Events", None)
        name = str(props.get("FunctionName", logical_id))
        try:
            fn = self.sim.create_function(
                name,
                self.handlers[logical_id],
                timeout=props.get("Timeout", 3),  # CloudFormation's default Timeout is 3 s
                memory_size=props.get("MemorySize", 128),
            )
        except ConfigError as exc:
            msg = f"{self.where(path)}: {exc}"
            raise ConfigError(msg) from None
        self.function_aliases[logical_id] = name
        self.function_names[logical_id] = name
        self.resolver.refs[logical_id] = name
        self.resolver.attrs[(logical_id, "Arn")] = fn.arn
        reserved = props.get("ReservedConcurrentExecutions")
        if reserved is not None:
            self.aws_call(
                (*path, "ReservedConcurrentExecutions"),
                lambda: self.sim.lambda_client.put_function_concurrency(
                    FunctionName=name, ReservedConcurrentExecutions=reserved
                ),
            )

    def sam_events(self, logical_id: str, resource: dict[str, Any]) -> None:
        events = (resource.get("Properties") or {}).get("Events") or {}
        for event_id, event in events.items():
            if not isinstance(event, dict) or event.get("Type") != "DynamoDB":
                continue  # other event sources are not stream mappings
            path = ("Resources", logical_id, "Properties", "Events", event_id, "Properties")
            raw = event.get("Properties") or {}
            props = self.resolver.resolve(raw, path)
            params = {_SAM_RENAMES.get(k, k): v for k, v in props.items()}
            on_failure = (params.get("DestinationConfig") or {}).get("OnFailure")
            if isinstance(on_failure, dict):
                on_failure.pop("Type", None)  # SAM-only: SQS or SNS, implied by the ARN
            params["FunctionName"] = self.function_names[logical_id]
            self.aws_call(path[:-1], functools.partial(self.create_mapping, params))

    def create_mapping(self, params: dict[str, Any]) -> None:
        self.sim.lambda_client.create_event_source_mapping(**params)

    def mapping(self, logical_id: str, resource: dict[str, Any]) -> None:
        props = self.props(logical_id, resource)
        params = {_CFN_RENAMES.get(k, k): v for k, v in props.items()}
        if "Tags" in params:
            params["Tags"] = _cfn_tags(params["Tags"])
        self.aws_call(("Resources", logical_id), functools.partial(self.create_mapping, params))


def _cfn_tags(tags: Any) -> Any:
    """CloudFormation's ``[{Key, Value}, ...]`` as the API's ``{key: value}`` map."""
    if isinstance(tags, list) and all(
        isinstance(tag, dict) and set(tag) == {"Key", "Value"} for tag in tags
    ):
        return {tag["Key"]: tag["Value"] for tag in tags}
    return tags  # anything else: the model check names it as AWS would refuse it


def build_into(
    sim: TemplateTarget,
    path: str | Path,
    *,
    handlers: Mapping[str, Handler],
    parameters: Mapping[str, Any] | None = None,
    stack_name: str = "esm-sim",
) -> None:
    """
    Create a template's tables, functions, destinations and mappings in ``sim``
    (``esm_sim.templates.from_template`` and ``Simulation.from_template``).

    Raises:
        ConfigError: a handler missing (or extra) for a function logical id, a
            table without StreamSpecification, an intrinsic esm_sim cannot resolve.
        ClientError, ParamValidationError: a setting AWS would refuse, with AWS's
            message (and a note naming the resource).
    """
    template, lines = load_template(path)
    _Builder(
        template=template,
        lines=lines,
        sim=sim,
        handlers=handlers,
        parameters=parameters or {},
        stack_name=stack_name,
        problems=None,
    ).build()


def problems_in(
    sim: TemplateTarget, path: str | Path, *, parameters: Mapping[str, Any] | None = None
) -> list[str]:
    """
    Build a template into ``sim`` with a do-nothing handler per function and
    return every refused control-plane call, one line each naming the resource
    and its line (``esm_sim.templates.validate_template``).

    Raises:
        ConfigError: a template esm_sim cannot read (the first such problem).
    """
    template, lines = load_template(path)
    ids = [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if isinstance(resource, dict) and resource.get("Type") in _FUNCTIONS
    ]
    problems: list[str] = []
    _Builder(
        template=template,
        lines=lines,
        sim=sim,
        handlers=dict.fromkeys(ids, _placeholder),
        parameters=parameters or {},
        stack_name="esm-sim",
        problems=problems,
    ).build()
    return problems
