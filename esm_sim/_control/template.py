"""
The template builder behind ``esm_sim.templates`` and ``Simulation.from_template``.

It reads a SAM or CloudFormation template, expands SAM with AWS's own
``aws-sam-translator`` (Globals, ``Events`` into mappings, ``SimpleTable``, ...),
and creates the resulting tables, functions, destinations and mappings through
a simulation's own calls (a :class:`TemplateTarget`), so settings the template
gets wrong are refused with AWS's messages. What it understands is listed in
``esm_sim.templates``. It sits in the control plane, below the facade, so that
``Simulation`` can build from a template without importing upward.
"""

from __future__ import annotations

import base64
import copy
import functools
import importlib
import json
import re
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from esm_sim._control.code import CodeHandler, find_module, split_handler
from esm_sim._lambda.function import Handler
from esm_sim._lambda.sandbox import init_variables
from esm_sim.errors import ClientError, ConfigError, ParamValidationError

__all__ = ["build_into", "load_template", "problems_in", "yaml_lines"]

Path_ = tuple[str | int, ...]

_TABLE = "AWS::DynamoDB::Table"
_FUNCTION = "AWS::Lambda::Function"
_MAPPING = "AWS::Lambda::EventSourceMapping"
_QUEUE, _TOPIC, _BUCKET = "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::S3::Bucket"
_SAM_FUNCTION = "AWS::Serverless::Function"
_SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
_NO_VALUE = object()  # AWS::NoValue: the property is left out
# create_function's arguments from function properties: the property, its default.
_FUNCTION_SETTINGS: dict[str, tuple[str, Any]] = {
    "timeout": ("Timeout", 3),
    "memory_size": ("MemorySize", 128),
    "environment": ("Environment", {}),
}
# CloudFormation's AWS::Lambda::EventSourceMapping names that differ from the API's.
_CFN_RENAMES = {"KmsKeyArn": "KMSKeyArn"}
# Its Integer and Boolean properties: CloudFormation takes them as text too ("10",
# "true"), as a Ref to a Number parameter always is, and converts them.
_CFN_INTEGERS = (
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "MaximumRecordAgeInSeconds",
    "MaximumRetryAttempts",
    "ParallelizationFactor",
    "TumblingWindowInSeconds",
)
_CFN_BOOLEANS = ("BisectBatchOnFunctionError", "Enabled")
# The SAM event property the translator makes EventSourceArn of, by event type
# (SAM specification, event source types), to name the user's own in errors.
_SAM_SOURCE_NAMES = {"DynamoDB": "Stream", "Kinesis": "Stream", "MSK": "Stream", "SQS": "Queue"}
# A placeholder S3 location for local code: SAM's translator wants S3 (as after
# `sam package`); esm_sim keeps the local folder itself.
_CODE_BUCKET = "esm-sim-local-code"
# Properties of AWS::Lambda::Function (CloudFormation resource reference, and
# every one aws-sam-translator writes) that esm_sim reads ...
_FUNCTION_USED = (
    "Environment",
    "FunctionName",
    "Handler",
    "MemorySize",
    "ReservedConcurrentExecutions",
    "Timeout",
)
# ... and those that change nothing in a simulation: accepted, never resolved.
# ``Code`` is read as written (a local folder) when no handler is given.
_FUNCTION_IGNORED = (
    "Architectures",
    "CapacityProviderConfig",
    "Code",
    "CodeSigningConfigArn",
    "DeadLetterConfig",
    "Description",
    "DurableConfig",
    "EphemeralStorage",
    "FileSystemConfigs",
    "FunctionScalingConfig",
    "ImageConfig",
    "KmsKeyArn",
    "Layers",
    "LoggingConfig",
    "PackageType",
    "PublishToLatestPublished",
    "RecursiveLoop",
    "Role",
    "Runtime",
    "RuntimeManagementConfig",
    "SnapStart",
    "Tags",
    "TenancyConfig",
    "TracingConfig",
    "VpcConfig",
)
# AWS::DynamoDB::Table, likewise.
_TABLE_USED = (
    "AttributeDefinitions",
    "KeySchema",
    "StreamSpecification",
    "TableName",
    "TimeToLiveSpecification",
)
_TABLE_IGNORED = (
    "BillingMode",
    "ContributorInsightsSpecification",
    "DeletionProtectionEnabled",
    "GlobalSecondaryIndexes",
    "KinesisStreamSpecification",
    "LocalSecondaryIndexes",
    "OnDemandThroughput",
    "PointInTimeRecoverySpecification",
    "ProvisionedThroughput",
    "ResourcePolicy",
    "SSESpecification",
    "TableClass",
    "Tags",
    "WarmThroughput",
)
# Properties CloudFormation knows that would change the simulation but esm_sim
# does not model: refused, with why.
_UNSUPPORTED = {
    (_TABLE, "ImportSourceSpecification"): "esm_sim starts every table empty (write the items)",
}
# SAM resource types whose local paths the translator wants in S3, and the property.
_SAM_LOCAL_PATHS = {
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::Api": "DefinitionUri",
    "AWS::Serverless::HttpApi": "DefinitionUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}
_SAM_GLOBALS_PATHS = {"Api": "DefinitionUri", "HttpApi": "DefinitionUri"}

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


class _SamRefused(ConfigError):
    """SAM's translator refused the template: ``problems`` has one line per cause."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


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


@functools.cache
def _cfn_loader() -> Any:
    """PyYAML's SafeLoader plus CloudFormation's short tags (``!Ref X`` as ``{"Ref": "X"}``)."""
    yaml = _yaml()

    class CfnLoader(yaml.SafeLoader):  # type: ignore[misc,name-defined]
        """Reads CloudFormation's YAML: its ``!`` tags in their long form, dates as text."""

    def tagged(loader: Any, suffix: str, node: Any) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix in ("Ref", "Condition"):
            return {suffix: value}
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{suffix}": value}

    CfnLoader.add_multi_constructor("!", tagged)
    # CloudFormation reads `AWSTemplateFormatVersion: 2010-09-09` as text, not a date.
    CfnLoader.add_constructor(
        "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
    )
    return CfnLoader


def _node_lines(yaml: Any, node: Any) -> dict[Path_, int]:
    lines: dict[Path_, int] = {}

    def walk(n: Any, path: Path_) -> None:
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


def yaml_lines(text: str, loader: Any = None) -> dict[Path_, int]:
    """
    The 1-based line of every mapping key and list item in a YAML text, by path.

    ``{("Resources", "Table", "Properties"): 7, ...}``. Tags are not constructed,
    so CloudFormation's ``!Ref`` and the like need no loader support here.
    """
    yaml = _yaml()
    return _node_lines(yaml, yaml.compose(text, Loader=loader or yaml.SafeLoader))


def load_template(path: str | Path) -> tuple[dict[str, Any], dict[Path_, int]]:
    """
    A template (YAML with CloudFormation tags, or JSON) as plain data, plus its line map.

    Short tags come back in their long form (``!Ref X`` as ``{"Ref": "X"}``,
    ``!GetAtt T.StreamArn`` as ``{"Fn::GetAtt": ["T", "StreamArn"]}``). JSON is
    read as YAML (for its lines) when PyYAML is installed, else with ``json``.

    Raises:
        ConfigError: the file cannot be read or parsed, or has no Resources.
    """
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"path={where!r} cannot be read as UTF-8 text: {exc}"
        raise ConfigError(msg) from None
    lines: dict[Path_, int] = {}
    is_json = text.lstrip().startswith("{")
    try:
        yaml = _yaml()
    except ImportError:
        if not is_json:
            raise
        yaml = None
    data: Any = None
    if yaml is not None:
        loader = _cfn_loader()(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
            lines = _node_lines(yaml, node)
        except yaml.YAMLError as exc:
            if not is_json:
                msg = f"path={where!r} is not valid YAML: {exc}"
                raise ConfigError(msg) from None
            yaml = None  # JSON that PyYAML cannot read (e.g. tabs): json reads it
        finally:
            loader.dispose()
    if yaml is None:
        try:
            data = json.loads(text)
        except ValueError as exc:
            msg = f"path={where!r} is not valid JSON: {exc}"
            raise ConfigError(msg) from None
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        msg = f"path={where!r} is not a template: it has no Resources map"
        raise ConfigError(msg)
    for section in ("Parameters", "Mappings", "Conditions", "Globals"):
        if data.get(section) is not None and not isinstance(data[section], dict):
            line = lines.get((section,))
            at = f"{section} (line {line})" if line is not None else section
            msg = f"path={where!r}: {at} must be a map, not {data[section]!r}"
            raise ConfigError(msg)
    return data, lines


# ---------------------------------------------------------------------------
# SAM: expanded by AWS's own translator
# ---------------------------------------------------------------------------


def _is_sam(template: dict[str, Any]) -> bool:
    transform = template.get("Transform")
    names = transform if isinstance(transform, list) else [transform]
    if _SAM_TRANSFORM in names:
        return True
    return any(
        isinstance(r, dict) and str(r.get("Type", "")).startswith("AWS::Serverless::")
        for r in template["Resources"].values()
    )


def _local(value: object) -> str | None:
    """A local code path as SAM reads it (a string that is not an S3 URI), else None."""
    if isinstance(value, str) and not value.startswith("s3://"):
        return value
    return None


class _Sam:
    """
    A SAM template expanded to CloudFormation by ``aws-sam-translator``, offline.

    Before translating, each function's local ``CodeUri`` (its own or Globals')
    is kept in ``code`` and replaced by a placeholder S3 location, as ``sam
    package`` would; afterwards ``origins`` maps the paths of generated
    resources to the SAM paths they came from (a function's ``Events.X`` for its
    mapping ``<Function>X``, ``Globals.Function.P`` for a property it took from
    Globals), so errors name the user's own lines.
    """

    def __init__(self, template: dict[str, Any], where: Callable[[Path_], str]) -> None:
        self.where = where
        self.sam = copy.deepcopy(template)
        self.code: dict[str, tuple[str | None, Path_]] = {}
        self.origins: dict[Path_, Path_] = {}
        transform = self.sam.get("Transform")
        for i, name in enumerate(transform if isinstance(transform, list) else [transform]):
            if name not in (None, _SAM_TRANSFORM):
                at = ("Transform", i) if isinstance(transform, list) else ("Transform",)
                msg = f"{where(at)}: Transform {name!r} is not supported (only {_SAM_TRANSFORM})"
                raise ConfigError(msg)
        self.sam["Transform"] = _SAM_TRANSFORM
        globals_ = self.sam.get("Globals") or {}
        if not isinstance(globals_, dict):
            msg = f"{where(('Globals',))}: Globals must be a map"
            raise ConfigError(msg)
        fn_globals = globals_.get("Function") or {}
        if not isinstance(fn_globals, dict):
            msg = f"{where(('Globals', 'Function'))}: Globals.Function must be a map"
            raise ConfigError(msg)
        global_code = fn_globals.pop("CodeUri", None)
        for section, prop in _SAM_GLOBALS_PATHS.items():
            found = globals_.get(section)
            if isinstance(found, dict) and _local(found.get(prop)) is not None:
                found[prop] = f"s3://{_CODE_BUCKET}/Globals/{section}"
        for logical_id, resource in self.sam["Resources"].items():
            if not isinstance(resource, dict):
                continue
            kind = resource.get("Type")
            props = resource.get("Properties")
            if kind == "AWS::Serverless::Application":
                msg = (
                    f"{where(('Resources', logical_id, 'Type'))}: {kind} (nested applications) "
                    "is not supported by esm_sim"
                )
                raise ConfigError(msg)
            if not isinstance(props, dict):
                props = resource["Properties"] = {} if props is None else props
                if not isinstance(props, dict):
                    continue  # the translator names it
            if kind == _SAM_FUNCTION:
                self.function(logical_id, props, fn_globals, global_code)
            elif kind in _SAM_LOCAL_PATHS and _local(props.get(_SAM_LOCAL_PATHS[kind])):
                props[_SAM_LOCAL_PATHS[kind]] = f"s3://{_CODE_BUCKET}/{logical_id}"

    def function(
        self,
        logical_id: str,
        props: dict[str, Any],
        fn_globals: dict[str, Any],
        global_code: object,
    ) -> None:
        own = ("Resources", logical_id, "Properties")
        if "InlineCode" in props or "ImageUri" in props:
            self.code[logical_id] = (
                None,
                (*own, "InlineCode" if "InlineCode" in props else "ImageUri"),
            )
        elif "CodeUri" in props:
            self.code[logical_id] = (_local(props["CodeUri"]), (*own, "CodeUri"))
        elif global_code is not None:
            self.code[logical_id] = (_local(global_code), ("Globals", "Function", "CodeUri"))
        else:
            self.code[logical_id] = (
                ".",
                (*own, "CodeUri"),
            )  # SAM CLI's default: the template's folder
        if ("InlineCode" not in props and "ImageUri" not in props) and (
            self.code[logical_id][0] is not None or "CodeUri" not in props
        ):
            props["CodeUri"] = f"s3://{_CODE_BUCKET}/{logical_id}"
        for prop in fn_globals:
            if prop not in props:
                self.origins[(*own, prop)] = ("Globals", "Function", prop)
        # Not maps: SAM's translator names what is wrong with them, with lines.
        own_env, global_env = props.get("Environment"), fn_globals.get("Environment")
        own_vars = (own_env.get("Variables") if isinstance(own_env, dict) else None) or {}
        global_vars = (global_env.get("Variables") if isinstance(global_env, dict) else None) or {}
        if isinstance(global_vars, dict) and isinstance(own_vars, dict):
            for var in global_vars:
                if var not in own_vars:
                    at = ("Environment", "Variables", var)
                    self.origins[(*own, *at)] = ("Globals", "Function", *at)
        events = props.get("Events") or {}
        if isinstance(events, dict):
            for event_id, spec in events.items():
                event: Path_ = ("Resources", logical_id, "Properties", "Events", str(event_id))
                generated: Path_ = ("Resources", f"{logical_id}{event_id}")
                self.origins[generated] = event
                self.origins[(*generated, "Properties")] = (*event, "Properties")
                kind = spec.get("Type") if isinstance(spec, dict) else None
                source = _SAM_SOURCE_NAMES.get(kind) if isinstance(kind, str) else None
                if source is not None:
                    arn_at = (*generated, "Properties", "EventSourceArn")
                    self.origins[arn_at] = (*event, "Properties", source)

    def translate(
        self, parameters: Mapping[str, Any], region: str, account_id: str
    ) -> dict[str, Any]:
        """The CloudFormation template SAM makes of this one (no network: a static policy map)."""
        try:
            parser = importlib.import_module("samtranslator.parser.parser")
            translator = importlib.import_module("samtranslator.translator.translator")
            exceptions = importlib.import_module("samtranslator.model.exceptions")
        except ImportError:
            msg = "expanding SAM templates needs aws-sam-translator; install 'esm_sim[templates]'"
            raise ImportError(msg) from None
        # The translator asks a boto3 Session only for its region; managed policy
        # names come from the map it bundles (get_managed_policy_map: none more).
        session = types.SimpleNamespace(region_name=region)
        values = {**parameters, "AWS::AccountId": account_id}
        sam = translator.Translator(None, parser.Parser(), boto_session=session)
        try:
            cfn: dict[str, Any] = sam.translate(
                self.sam, parameter_values=values, get_managed_policy_map=dict
            )
        except exceptions.InvalidDocumentException as exc:
            problems = []
            for cause in exc.causes:
                logical_id = getattr(cause, "_logical_id", None)
                at = ("Resources", logical_id) if isinstance(logical_id, str) else ()
                place = self.where(at) + ": " if at else ""
                problems.append(f"{place}SAM: {cause.message}")
            raise _SamRefused(problems) from None
        except exceptions.ExceptionWithMessage as exc:
            raise _SamRefused([f"SAM: {exc.message}"]) from None
        finally:
            sam.metrics.publish()  # to its do-nothing publisher, so it warns of nothing unsent
        return cfn


# ---------------------------------------------------------------------------
# Conditions and intrinsic functions
# ---------------------------------------------------------------------------


def _text(value: object) -> str:
    """A scalar as CloudFormation turns it into text (``true``, ``10``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


class _Resolver:
    """Resolves conditions and intrinsic functions against what has been built so far."""

    def __init__(
        self,
        sim: TemplateTarget,
        template: dict[str, Any],
        parameters: Mapping[str, Any],
        stack_name: str,
        where: Callable[[Path_], str],
    ) -> None:
        self.region = sim.region
        self.refs: dict[str, Any] = {
            "AWS::Region": sim.region,
            "AWS::AccountId": sim.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{sim.region}:{sim.account_id}:stack/{stack_name}/"
                "00000000-0000-0000-0000-000000000000"
            ),
            "AWS::NotificationARNs": [],
            "AWS::NoValue": _NO_VALUE,
        }
        self.refs.update(parameters)  # every parameter's value (_Builder.parameter_values)
        self.attrs: dict[tuple[str, str], str] = {}
        self.resources = template["Resources"]
        self.mappings = template.get("Mappings") or {}
        self.conditions = template.get("Conditions") or {}
        self.condition_values: dict[str, bool] = {}
        self.evaluating: list[str] = []
        self.skipped: dict[str, str] = {}  # logical id -> the false Condition that left it out
        self.no_stream: list[str] = []  # tables built without a stream
        self.where = where

    # -- conditions -----------------------------------------------------------

    def condition(self, name: object, path: Path_) -> bool:
        """The value of the template's condition ``name``."""
        if not isinstance(name, str) or name not in self.conditions:
            msg = f"{self.where(path)}: Condition {name!r} is not in the template's Conditions"
            raise ConfigError(msg)
        if name in self.condition_values:
            return self.condition_values[name]
        if name in self.evaluating:
            msg = f"{self.where(('Conditions', name))}: Condition {name!r} depends on itself"
            raise ConfigError(msg)
        self.evaluating.append(name)
        value = self.condition_expr(self.conditions[name], ("Conditions", name))
        self.evaluating.pop()
        self.condition_values[name] = value
        return value

    def condition_expr(self, expr: Any, path: Path_) -> bool:
        if isinstance(expr, dict) and len(expr) == 1:
            ((fn, arg),) = expr.items()
            if fn == "Condition":
                return self.condition(arg, path)
            if fn == "Fn::Equals" and isinstance(arg, list) and len(arg) == 2:
                first = self.resolve(arg[0], (*path, fn, 0))
                second = self.resolve(arg[1], (*path, fn, 1))
                return _text(first) == _text(second)
            if fn == "Fn::Not" and isinstance(arg, list) and len(arg) == 1:
                return not self.condition_expr(arg[0], (*path, fn, 0))
            if fn in ("Fn::And", "Fn::Or") and isinstance(arg, list) and 2 <= len(arg) <= 10:
                values = [self.condition_expr(a, (*path, fn, i)) for i, a in enumerate(arg)]
                return all(values) if fn == "Fn::And" else any(values)
        msg = (
            f"{self.where(path)}: {expr!r} is not a condition: Fn::Equals [a, b], Fn::Not [c], "
            "Fn::And/Fn::Or [2 to 10 conditions] or {Condition: name}"
        )
        raise ConfigError(msg)

    # -- Ref and GetAtt ---------------------------------------------------------

    def ref(self, name: object, path: Path_) -> Any:
        if isinstance(name, str) and name in self.refs:
            return self.refs[name]
        if isinstance(name, str) and name in self.skipped:
            msg = (
                f"{self.where(path)}: Ref {name!r} names a resource left out by its "
                f"Condition {self.skipped[name]!r} (false)"
            )
        elif isinstance(name, str) and name in self.resources:
            kind = self.resources[name].get("Type")
            msg = (
                f"{self.where(path)}: Ref {name!r} names a {kind} resource, which esm_sim "
                "does not build (or not before this one)"
            )
        else:
            msg = f"{self.where(path)}: Ref {name!r} names no parameter or resource of the template"
        raise ConfigError(msg)

    def get_att(self, logical_id: str, attr: str, path: Path_) -> str:
        found = self.attrs.get((logical_id, attr))
        if found is not None:
            return found
        if logical_id in self.no_stream and attr in ("StreamArn", "LatestStreamArn"):
            msg = (
                f"{self.where(path)}: Fn::GetAtt {logical_id}.{attr}: table {logical_id!r} has "
                "no stream (give it StreamSpecification.StreamViewType)"
            )
        elif logical_id in self.skipped:
            msg = (
                f"{self.where(path)}: Fn::GetAtt {logical_id}.{attr} names a resource left out "
                f"by its Condition {self.skipped[logical_id]!r} (false)"
            )
        else:
            msg = (
                f"{self.where(path)}: Fn::GetAtt {logical_id}.{attr} is not an attribute "
                "esm_sim knows"
            )
        raise ConfigError(msg)

    def sub(self, template: str, variables: Mapping[str, Any], path: Path_) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal} is written as ${Literal}
            if name in variables:
                return _text(self.resolve(variables[name], path))
            if "." in name and not name.startswith("AWS::"):
                logical_id, attr = name.split(".", 1)
                return self.get_att(logical_id, attr, path)
            return _text(self.ref(name, path))

        return re.sub(r"\$\{([^}]+)\}", replace, template)

    # -- every intrinsic ------------------------------------------------------

    def resolve(self, value: Any, path: Path_) -> Any:
        """``value`` with every intrinsic function resolved (``_NO_VALUE``: left out)."""
        if isinstance(value, list):
            out = [self.resolve(v, (*path, i)) for i, v in enumerate(value)]
            return [v for v in out if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((fn, arg),) = value.items()
            if fn == "Ref":
                return self.ref(arg, path)
            if fn.startswith("Fn::"):
                return self.function(fn, arg, path)
        out_map = {k: self.resolve(v, (*path, k)) for k, v in value.items()}
        return {k: v for k, v in out_map.items() if v is not _NO_VALUE}

    def bad(self, fn: str, arg: object, form: str, path: Path_) -> ConfigError:
        return ConfigError(f"{self.where(path)}: {fn} {arg!r} must be {form}")

    def function(self, fn: str, arg: Any, path: Path_) -> Any:
        if fn == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else arg
            if not (isinstance(parts, list) and len(parts) == 2):
                raise self.bad(fn, arg, "LogicalId.Attribute", path)
            return self.get_att(str(parts[0]), str(self.resolve(parts[1], path)), path)
        if fn == "Fn::Sub":
            if isinstance(arg, str):
                return self.sub(arg, {}, path)
            if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict):
                return self.sub(str(self.resolve(arg[0], path)), arg[1], path)
            raise self.bad(fn, arg, "a string or [string, variables]", path)
        if fn == "Fn::Join":
            if isinstance(arg, list) and len(arg) == 2:
                items = self.resolve(arg[1], path)
                if isinstance(items, list):
                    return _text(self.resolve(arg[0], path)).join(_text(v) for v in items)
            raise self.bad(fn, arg, "[delimiter, list]", path)
        if fn == "Fn::If":
            if isinstance(arg, list) and len(arg) == 3:
                chosen = arg[1] if self.condition(arg[0], path) else arg[2]
                return self.resolve(chosen, path)
            raise self.bad(fn, arg, "[condition, value if true, value if false]", path)
        if fn == "Fn::Select":
            if isinstance(arg, list) and len(arg) == 2:
                index, items = _int(self.resolve(arg[0], path)), self.resolve(arg[1], path)
                if index is not None and isinstance(items, list):
                    if not 0 <= index < len(items):
                        msg = (
                            f"{self.where(path)}: Fn::Select index {index} is out of range for "
                            f"{len(items)} items"
                        )
                        raise ConfigError(msg)
                    return items[index]
            raise self.bad(fn, arg, "[index, list]", path)
        if fn == "Fn::Split":
            if isinstance(arg, list) and len(arg) == 2:
                delimiter, source = self.resolve(arg[0], path), self.resolve(arg[1], path)
                if isinstance(delimiter, str) and delimiter and isinstance(source, str):
                    return source.split(delimiter)
            raise self.bad(fn, arg, "[delimiter, string]", path)
        if fn == "Fn::GetAZs":
            region = self.resolve(arg, path)
            if region in ("", None) or isinstance(region, str):
                region = region or self.region
                return [f"{region}a", f"{region}b", f"{region}c"]  # three zones, named as AWS does
            raise self.bad(fn, arg, "a region name or ''", path)
        if fn == "Fn::FindInMap":
            if isinstance(arg, list) and len(arg) == 3:
                keys = [_text(self.resolve(a, path)) for a in arg]
                try:
                    return self.mappings[keys[0]][keys[1]][keys[2]]
                except (KeyError, TypeError):
                    msg = f"{self.where(path)}: Fn::FindInMap {keys!r} is not in the Mappings"
                    raise ConfigError(msg) from None
            raise self.bad(fn, arg, "[map, top-level key, second-level key]", path)
        if fn == "Fn::Base64":
            return base64.b64encode(_text(self.resolve(arg, path)).encode()).decode()
        msg = f"{self.where(path)}: {fn} is not resolved by esm_sim; write the value"
        raise ConfigError(msg)


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
        lines: dict[Path_, int],
        folder: Path,
        sim: TemplateTarget,
        handlers: Mapping[str, Handler],
        parameters: Mapping[str, Any],
        stack_name: str,
        problems: list[str] | None,
    ) -> None:
        self.lines = lines
        self.folder = folder
        self.sim = sim
        self.handlers = handlers
        self.problems = problems
        self.origins: dict[Path_, Path_] = {}
        self.code: dict[str, tuple[str | None, Path_]] = {}
        self.sam_functions: list[str] = []
        values = self.parameter_values(template.get("Parameters") or {}, parameters)
        if _is_sam(template):
            sam = _Sam(template, self.where)
            self.sam_functions = list(sam.code)
            self.code, self.origins = sam.code, sam.origins
            template = sam.translate(parameters, sim.region, sim.account_id)
        self.template = template
        self.resolver = _Resolver(sim, template, values, stack_name, self.where)
        self.stack_name = stack_name
        self.table_aliases: dict[str, str] = {}
        self.function_aliases: dict[str, str] = {}

    def parameter_values(
        self, declared: dict[str, Any], given: Mapping[str, Any]
    ) -> dict[str, Any]:
        """
        Each parameter's value (given, else its Default) after CloudFormation's
        checks, before anything is built; a list parameter's value is the list.
        """
        unknown = [name for name in given if name not in declared]
        if unknown:
            msg = (
                f"parameters={dict(given)!r}: {unknown!r} are not in the template's "
                f"Parameters ({list(declared)!r})"
            )
            raise ConfigError(msg)
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            at = self.where(("Parameters", str(name)))
            if not isinstance(spec, dict):
                msg = f"{at}: a parameter must be a map with a Type"
                raise ConfigError(msg)
            if name not in given and "Default" not in spec:
                msg = f"{at}: parameter {name!r} has no Default: give it in parameters="
                raise ConfigError(msg)
            value = given[name] if name in given else spec["Default"]
            allowed = spec.get("AllowedValues")
            if isinstance(allowed, list) and _text(value) not in [_text(v) for v in allowed]:
                msg = f"{at}: parameter {name!r}={value!r} must be one of AllowedValues {allowed!r}"
                raise ConfigError(msg)
            kind = str(spec.get("Type", ""))
            if isinstance(value, str) and (
                kind == "CommaDelimitedList" or kind.startswith("List<")
            ):
                # A list parameter's Ref is the list, each member space-trimmed.
                value = [part.strip() for part in value.split(",")]
            values[name] = value
        return values

    def origin(self, path: Path_) -> Path_:
        """Where ``path`` of the built template came from in the user's template."""
        for n in range(len(path), 1, -1):
            found = self.origins.get(path[:n])
            if found is not None:
                return (*found, *path[n:])
        return path

    def where(self, path: Path_) -> str:
        """``Resources.X.Properties.Y (line 12)``: the nearest known line of ``path``."""
        path = self.origin(path)
        text = ".".join(str(p) for p in path)
        for n in range(len(path), 0, -1):
            line = self.lines.get(path[:n])
            if line is not None:
                return f"{text} (line {line})"
        return text

    def resources(self, *types: str) -> list[tuple[str, dict[str, Any]]]:
        """The resources of these types whose Condition (if any) is true."""
        out = []
        for logical_id, resource in self.template["Resources"].items():
            if not isinstance(resource, dict):
                msg = f"{self.where(('Resources', logical_id))}: a resource must be a map"
                raise ConfigError(msg)
            if resource.get("Type") not in types:
                continue
            condition = resource.get("Condition")
            at = ("Resources", logical_id, "Condition")
            if condition is not None and not self.resolver.condition(condition, at):
                self.resolver.skipped[logical_id] = str(condition)
                continue
            out.append((logical_id, resource))
        return out

    def raw_props(self, logical_id: str, resource: dict[str, Any]) -> dict[str, Any]:
        props = resource.get("Properties") or {}
        if not isinstance(props, dict):
            msg = f"{self.where(('Resources', logical_id, 'Properties'))}: Properties must be a map"
            raise ConfigError(msg)
        return props

    def props(self, logical_id: str, resource: dict[str, Any]) -> dict[str, Any]:
        path = ("Resources", logical_id, "Properties")
        resolved: dict[str, Any] = self.resolver.resolve(self.raw_props(logical_id, resource), path)
        return resolved

    def used_props(
        self,
        logical_id: str,
        resource: dict[str, Any],
        used: tuple[str, ...],
        ignored: tuple[str, ...],
    ) -> dict[str, Any]:
        """
        The properties esm_sim reads, resolved; those that change nothing in a
        simulation are accepted unresolved; any other is refused.
        """
        path = ("Resources", logical_id, "Properties")
        kind = resource["Type"]
        out: dict[str, Any] = {}
        for name, value in self.raw_props(logical_id, resource).items():
            if name in used:
                resolved = self.resolver.resolve(value, (*path, name))
                if resolved is not _NO_VALUE:
                    out[name] = resolved
            elif (kind, name) in _UNSUPPORTED:
                msg = (
                    f"{self.where((*path, name))}: {kind} property {name} is not supported: "
                    f"{_UNSUPPORTED[(kind, name)]}"
                )
                raise ConfigError(msg)
            elif name not in ignored:
                msg = (
                    f"{self.where((*path, name))}: Encountered unsupported property {name} "
                    f"({kind} has no such property)"
                )
                raise ConfigError(msg)
        return out

    def aws_call(self, path: Path_, call: Callable[[], object]) -> None:
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
        for logical_id, resource in _dependencies_first(self.resources(_FUNCTION)):
            self.function(logical_id, resource)
        for logical_id, resource in self.resources(_MAPPING):
            self.mapping(logical_id, resource)
        sim = self.sim
        sim.tables = LogicalIdDict(sim.tables, self.table_aliases)
        sim.functions = sim.functions_by_name = LogicalIdDict(sim.functions, self.function_aliases)

    def check_handlers(self) -> None:
        ids = [
            logical_id
            for logical_id, resource in self.template["Resources"].items()
            if isinstance(resource, dict) and resource.get("Type") == _FUNCTION
        ]
        extra = [k for k in self.handlers if k not in ids]
        if extra:
            msg = (
                f"handlers={sorted(self.handlers)!r}: {extra!r} are not functions of the "
                f"template (it has {ids!r})"
            )
            raise ConfigError(msg)

    def table(self, logical_id: str, resource: dict[str, Any]) -> None:
        props = self.used_props(logical_id, resource, _TABLE_USED, _TABLE_IGNORED)
        path = ("Resources", logical_id, "Properties")
        spec = props.get("StreamSpecification")
        view = None
        if spec is not None:
            view = spec.get("StreamViewType") if isinstance(spec, dict) else None
            if view is None:
                msg = (
                    f"{self.where((*path, 'StreamSpecification'))}: StreamSpecification "
                    "needs StreamViewType (KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES)"
                )
                raise ConfigError(msg)
        types = {
            d.get("AttributeName"): d.get("AttributeType")
            for d in props.get("AttributeDefinitions") or []
            if isinstance(d, dict)
        }
        keys: dict[str, tuple[str, str] | str] = {}
        for i, element in enumerate(props.get("KeySchema") or []):
            name = element.get("AttributeName") if isinstance(element, dict) else None
            kind = element.get("KeyType") if isinstance(element, dict) else None
            if kind not in ("HASH", "RANGE") or not isinstance(name, str):
                msg = (
                    f"{self.where((*path, 'KeySchema', i))}: KeySchema entry {element!r} "
                    "needs AttributeName and KeyType HASH or RANGE"
                )
                raise ConfigError(msg)
            if kind in keys:
                msg = (
                    f"{self.where((*path, 'KeySchema', i))}: KeySchema has a second {kind} "
                    "key: a table has one HASH key and at most one RANGE key"
                )
                raise ConfigError(msg)
            key_type = types.get(name)
            keys[kind] = (name, key_type) if isinstance(key_type, str) else name
        if "HASH" not in keys:
            msg = f"{self.where((*path, 'KeySchema'))}: table {logical_id!r} needs a HASH key"
            raise ConfigError(msg)
        ttl = self.ttl_attribute(
            props.get("TimeToLiveSpecification"), (*path, "TimeToLiveSpecification")
        )
        name = _text(props.get("TableName", self.generated_name(logical_id)))
        try:
            table = self.sim.create_table(
                name,
                partition_key=keys["HASH"],
                sort_key=keys.get("RANGE"),
                stream_view_type=view,
                ttl_attribute=ttl,
            )
        except ConfigError as exc:
            msg = f"{self.where(path)}: {exc}"
            raise ConfigError(msg) from None
        self.table_aliases[logical_id] = name
        self.resolver.refs[logical_id] = name
        self.resolver.attrs[(logical_id, "Arn")] = table.arn
        if table.has_stream:
            self.resolver.attrs[(logical_id, "StreamArn")] = table.stream_arn
        else:
            self.resolver.no_stream.append(logical_id)

    def generated_name(self, logical_id: str) -> str:
        """
        The name of a resource the template leaves unnamed: its logical id, or,
        when that is too short for a table or bucket name (under 3 characters),
        the stack's name and the logical id, as CloudFormation's generated names
        begin (they end with a random suffix, left out to stay deterministic).
        """
        return logical_id if len(logical_id) >= 3 else f"{self.stack_name}-{logical_id}"

    def ttl_attribute(self, spec: object, path: Path_) -> str | None:
        """TimeToLiveSpecification's AttributeName when Enabled, else None."""
        if spec is None:
            return None
        enabled = spec.get("Enabled") if isinstance(spec, dict) else None
        if enabled in ("true", "false"):
            enabled = enabled == "true"
        if not isinstance(enabled, bool):
            msg = (
                f"{self.where(path)}: TimeToLiveSpecification {spec!r} needs Enabled true or false"
            )
            raise ConfigError(msg)
        name = spec.get("AttributeName") if isinstance(spec, dict) else None
        if not enabled:
            return None
        if not isinstance(name, str) or not name:
            msg = f"{self.where(path)}: TimeToLiveSpecification {spec!r} needs AttributeName"
            raise ConfigError(msg)
        return name

    def sink(self, logical_id: str, resource: dict[str, Any]) -> None:
        kind = resource["Type"]
        raw = self.raw_props(logical_id, resource)
        path = ("Resources", logical_id, "Properties")

        def prop(name: str, default: Any = None) -> Any:
            return self.resolver.resolve(raw[name], (*path, name)) if name in raw else default

        refs, attrs = self.resolver.refs, self.resolver.attrs
        try:
            if kind == _QUEUE:
                name = _text(prop("QueueName", logical_id))
                if prop("FifoQueue") in (True, "true") and not name.endswith(".fifo"):
                    name += ".fifo"
                queue = self.sim.create_queue(name)
                refs[logical_id], attrs[(logical_id, "Arn")] = queue.url, queue.arn
                attrs[(logical_id, "QueueName")] = name
                attrs[(logical_id, "QueueUrl")] = queue.url
            elif kind == _TOPIC:
                name = _text(prop("TopicName", logical_id))
                # A FIFO topic's name ends .fifo, as CloudFormation names one it generates.
                if prop("FifoTopic") in (True, "true") and not name.endswith(".fifo"):
                    name += ".fifo"
                topic = self.sim.create_topic(name)
                refs[logical_id] = attrs[(logical_id, "TopicArn")] = topic.arn
                attrs[(logical_id, "TopicName")] = topic.name
            else:
                name = _text(prop("BucketName", self.generated_name(logical_id).lower()))
                bucket = self.sim.create_bucket(name)
                refs[logical_id], attrs[(logical_id, "Arn")] = name, bucket.arn
        except ConfigError as exc:
            msg = f"{self.where(('Resources', logical_id))}: {exc}"
            raise ConfigError(msg) from None

    def environment(self, value: object, path: Path_) -> dict[str, str]:
        """Environment.Variables as Lambda keeps them: names to strings."""
        if value is None:
            return {}
        variables = value.get("Variables") if isinstance(value, dict) else None
        if not isinstance(value, dict) or set(value) - {"Variables"}:
            msg = f"{self.where(path)}: Environment {value!r} must be a map with Variables"
            raise ConfigError(msg)
        if variables is None:
            return {}
        if not isinstance(variables, dict):
            msg = f"{self.where((*path, 'Variables'))}: Variables {variables!r} must be a map"
            raise ConfigError(msg)
        out: dict[str, str] = {}
        for name, v in variables.items():
            if not isinstance(v, str | int | float | bool):
                msg = f"{self.where((*path, 'Variables', name))}: {name}={v!r} must be a string"
                raise ConfigError(msg)
            out[str(name)] = _text(v)
        return out

    def number(self, props: dict[str, Any], name: str, default: int | None, path: Path_) -> Any:
        """
        An Integer property; a parameter's text (``"10"``) is its number, as in
        CloudFormation, which refuses a fraction (``2.5``): so does esm_sim (in
        validate, listed, and the default used to go on).
        """
        value = props.get(name, default)
        if isinstance(value, float):
            msg = f"{self.where((*path, name))}: {name}={value!r} must be an Integer"
            if self.problems is None:
                raise ConfigError(msg)
            self.problems.append(msg)
            return default
        number = _int(value) if isinstance(value, str) else None
        return value if number is None else number

    def function(self, logical_id: str, resource: dict[str, Any]) -> None:
        props = self.used_props(logical_id, resource, _FUNCTION_USED, _FUNCTION_IGNORED)
        path = ("Resources", logical_id, "Properties")
        environment = self.environment(props.get("Environment"), (*path, "Environment"))
        name = _text(props.get("FunctionName", logical_id))
        handler = self.handler(logical_id, resource, props, environment)
        settings: dict[str, Any] = {
            "timeout": self.number(props, "Timeout", 3, path),  # CloudFormation's default: 3 s
            "memory_size": self.number(props, "MemorySize", 128, path),
            "environment": environment,
        }
        while True:
            try:
                fn = self.sim.create_function(name, handler, **settings)
                break
            except ConfigError as exc:
                arg = next((a for a in _FUNCTION_SETTINGS if str(exc).startswith(a)), None)
                at = path if arg is None else (*path, _FUNCTION_SETTINGS[arg][0])
                msg = f"{self.where(at)}: {exc}"
                if (
                    self.problems is None
                    or arg is None
                    or settings[arg] == _FUNCTION_SETTINGS[arg][1]  # refused even so
                ):
                    raise ConfigError(msg) from None
                # validate: list it, and go on with the default to find the rest.
                self.problems.append(msg)
                settings[arg] = _FUNCTION_SETTINGS[arg][1]
        self.function_aliases[logical_id] = name
        self.resolver.refs[logical_id] = name
        self.resolver.attrs[(logical_id, "Arn")] = fn.arn
        reserved = self.number(props, "ReservedConcurrentExecutions", None, path)
        if reserved is not None:
            self.aws_call(
                (*path, "ReservedConcurrentExecutions"),
                lambda: self.sim.lambda_client.put_function_concurrency(
                    FunctionName=name, ReservedConcurrentExecutions=reserved
                ),
            )

    def handler(
        self,
        logical_id: str,
        resource: dict[str, Any],
        props: dict[str, Any],
        environment: dict[str, str],
    ) -> Handler:
        """
        The function's handler: ``handlers[logical_id]``, else imported from its
        local code folder (``CodeUri``, or ``Code`` as a folder) and ``Handler``.
        """
        given = self.handlers.get(logical_id)
        if given is not None:
            return given
        path = ("Resources", logical_id, "Properties")
        if logical_id in self.code:
            local, code_path = self.code[logical_id]
        else:
            code = self.raw_props(logical_id, resource).get("Code")
            local, code_path = (code if isinstance(code, str) else None), (*path, "Code")
        if local is None:
            if self.problems is not None:
                return _placeholder
            msg = (
                f"{self.where(code_path)}: function {logical_id!r} has no local code to import "
                f"its handler from: give handlers={{{logical_id!r}: ...}} or a CodeUri folder"
            )
            raise ConfigError(msg)
        spec = props.get("Handler")
        where = self.where((*path, "Handler") if "Handler" in props else path)
        if spec is None:
            msg = f"{where}: function {logical_id!r} has no Handler to import (e.g. app.handler)"
            raise ConfigError(msg)
        root = self.folder / local
        if root.suffix in (".zip", ".jar") or root.is_file():
            msg = (
                f"{self.where(code_path)}: {local!r} is an archive: esm_sim imports handlers "
                "from a folder (or give handlers=)"
            )
            raise ConfigError(msg)
        if self.problems is not None:  # validate: find the module, run nothing
            module, _ = split_handler(spec, where)
            if not root.is_dir() or not find_module(root, module):
                self.problems.append(
                    f"{where}: Handler {spec!r}: no module {module!r} in {str(root)!r}"
                )
            return _placeholder
        loaded = CodeHandler(root, spec, where=where)
        name = _text(props.get("FunctionName", logical_id))
        loaded.load({**init_variables(name, self.sim.region), **environment})
        return loaded

    def create_mapping(self, params: dict[str, Any]) -> None:
        self.sim.lambda_client.create_event_source_mapping(**params)

    def mapping(self, logical_id: str, resource: dict[str, Any]) -> None:
        props = self.props(logical_id, resource)
        source = props.get("EventSourceArn")
        if isinstance(source, str) and ":dynamodb:" not in source:
            at = ("Resources", logical_id, "Properties", "EventSourceArn")
            msg = (
                f"{self.where(at)}: EventSourceArn {source!r}: esm_sim simulates mappings on "
                "DynamoDB streams only"
            )
            raise ConfigError(msg)
        params = {_CFN_RENAMES.get(k, k): v for k, v in props.items()}
        for name in _CFN_INTEGERS:
            value = params.get(name)
            if isinstance(value, str) and _int(value) is not None:
                params[name] = _int(value)
        for name in _CFN_BOOLEANS:
            value = params.get(name)
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                params[name] = value.strip().lower() == "true"
        if "Tags" in params:
            params["Tags"] = _cfn_tags(params["Tags"])
        self.aws_call(("Resources", logical_id), functools.partial(self.create_mapping, params))


def _referenced(value: Any) -> set[str]:
    """The logical ids a property value names through Ref, Fn::GetAtt or Fn::Sub."""
    found: set[str] = set()
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            for key, inner in node.items():
                if key == "Ref" and isinstance(inner, str):
                    found.add(inner)
                elif key == "Fn::GetAtt":
                    target = inner[0] if isinstance(inner, list) and inner else inner
                    if isinstance(target, str):
                        found.add(target.split(".", 1)[0])
                elif key == "Fn::Sub":
                    text = inner[0] if isinstance(inner, list) and inner else inner
                    if isinstance(text, str):
                        found.update(
                            m.split(".", 1)[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)
                        )
                stack.append(inner)
    return found


def _dependencies_first(
    resources: list[tuple[str, dict[str, Any]]],
) -> list[tuple[str, dict[str, Any]]]:
    """
    Resources ordered so each comes after those of the list it references (a
    function's environment naming another's Arn), as CloudFormation orders them by
    its dependency graph; otherwise in file order. A cycle keeps file order
    (the reference then fails, naming what it could not resolve).
    """
    ids = [logical_id for logical_id, _ in resources]
    needs = {
        logical_id: sorted((_referenced(resource) & set(ids)) - {logical_id}, key=ids.index)
        for logical_id, resource in resources
    }
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(logical_id: str) -> None:
        if logical_id in ordered or logical_id in visiting:
            return
        visiting.add(logical_id)
        for other in needs[logical_id]:
            visit(other)
        visiting.discard(logical_id)
        ordered.append(logical_id)

    for logical_id in ids:
        visit(logical_id)
    by_id = dict(resources)
    return [(logical_id, by_id[logical_id]) for logical_id in ordered]


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
    handlers: Mapping[str, Handler] | None = None,
    parameters: Mapping[str, Any] | None = None,
    stack_name: str = "esm-sim",
) -> None:
    """
    Create a template's tables, functions, destinations and mappings in ``sim``
    (``esm_sim.templates.from_template`` and ``Simulation.from_template``).

    A function without a handler in ``handlers`` gets the one its ``Handler``
    names in its local ``CodeUri`` folder (relative to the template's).

    Raises:
        ConfigError: a handler for a logical id that is no function, a handler
            that cannot be imported, SAM's translator refusing the template, an
            unsupported property or an intrinsic esm_sim cannot resolve.
        ClientError, ParamValidationError: a setting AWS would refuse, with AWS's
            message (and a note naming the resource).
    """
    template, lines = load_template(path)
    _Builder(
        template=template,
        lines=lines,
        folder=Path(path).parent,
        sim=sim,
        handlers=handlers or {},
        parameters=parameters or {},
        stack_name=stack_name,
        problems=None,
    ).build()


def problems_in(
    sim: TemplateTarget, path: str | Path, *, parameters: Mapping[str, Any] | None = None
) -> list[str]:
    """
    Build a template into ``sim`` with a do-nothing handler per function and
    return every problem AWS would find, one line each naming the resource and
    its line (``esm_sim.templates.validate_template``): SAM's translator's
    refusals, refused control-plane calls, and handlers whose module is not in
    their code folder (looked up, not imported).

    Raises:
        ConfigError: a template esm_sim cannot read (the first such problem).
    """
    template, lines = load_template(path)
    problems: list[str] = []
    try:
        _Builder(
            template=template,
            lines=lines,
            folder=Path(path).parent,
            sim=sim,
            handlers={},
            parameters=parameters or {},
            stack_name="esm-sim",
            problems=problems,
        ).build()
    except _SamRefused as exc:
        return exc.problems
    return problems
