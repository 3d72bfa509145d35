"""
Check the parameters of the simulated Lambda control-plane calls as AWS does.

This module owns request validation for the operations esm_sim simulates on
the Lambda side (the event source mapping CRUD calls, the reserved
concurrency calls and the tag calls). A real call meets two checks, and so does a simulated one:

1. botocore's client-side ``ParamValidator``, before anything is sent: unknown
   members, missing required members, Python types, and *minimum* values and
   lengths. All problems are reported together in one
   :class:`~esm_sim.errors.ParamValidationError`, one line per problem, worded
   as botocore words them.
2. The Lambda service: first the model constraints botocore leaves to the
   server (maximum values and lengths, enum value sets), reported together in
   one :class:`~esm_sim.errors.ValidationException`; then the rules for a
   DynamoDB-stream mapping, each raised as an
   :class:`~esm_sim.errors.InvalidParameterValueException`.

Nothing here looks at simulation state: whether the function or the stream
exists, and whether the (function, stream) pair is already mapped, are the
control plane's checks. No defaults are applied; the request is only checked.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Final

import attrs

from esm_sim.errors import (
    ConfigError,
    InvalidParameterValueException,
    ParamValidationError,
    ValidationException,
)

__all__ = [
    "DEFAULT_MAX_FILTERS",
    "MAX_TAGS",
    "OPERATIONS",
    "check_request",
    "lower_camel",
]


# spec 8: "Default quota 5 filters per mapping, raisable to 10".
DEFAULT_MAX_FILTERS: Final = 5


# ---------------------------------------------------------------------------
# The service model
# ---------------------------------------------------------------------------


@attrs.frozen
class _Shape:
    """One shape of the Lambda service model, reduced to what validation reads."""

    type: str
    min: int | None = None
    max: int | None = None
    enum: tuple[str, ...] = ()
    # The enum in the order AWS prints it, where that differs from the model's.
    printed_enum: tuple[str, ...] = ()
    # (member name, shape name), in the model's order: botocore lists valid
    # names in this order, and AWS reports violations in it (I).
    members: tuple[tuple[str, str], ...] = ()
    required: tuple[str, ...] = ()
    member: str = ""  # list member shape
    key: str = ""  # map key shape
    value: str = ""  # map value shape


def _string(min: int | None = None, max: int | None = None, *enum: str) -> _Shape:
    return _Shape("string", min=min, max=max, enum=enum)


def _integer(min: int | None = None, max: int | None = None) -> _Shape:
    return _Shape("integer", min=min, max=max)


def _structure(*members: str, required: tuple[str, ...] = ()) -> _Shape:
    """Build a structure from ``"Member:Shape"`` strings, in model order."""
    pairs = tuple((m.split(":")[0], m.split(":")[1]) for m in members)
    return _Shape("structure", members=pairs, required=required)


def _list(member: str, min: int | None = None, max: int | None = None) -> _Shape:
    return _Shape("list", min=min, max=max, member=member)


def _map(key: str, value: str, min: int | None = None, max: int | None = None) -> _Shape:
    return _Shape("map", min=min, max=max, key=key, value=value)


_BOOLEAN: Final = _Shape("boolean")
_TIMESTAMP: Final = _Shape("timestamp")

# Transcribed from botocore's Lambda service model,
# boto/botocore: botocore/data/lambda/2015-03-31/service-2.json (botocore 1.44.8):
# the request shapes below and every shape they reference, members in the
# model's order. Patterns are left out: botocore does not check them, and this
# module does not either. tests/test_validation.py diffs this table against the
# installed botocore's model, so a newer botocore shows what to transcribe.
_SHAPES: Final[Mapping[str, _Shape]] = {
    # -- requests --
    "CreateEventSourceMappingRequest": _structure(
        "EventSourceArn:Arn",
        "FunctionName:NamespacedFunctionName",
        "Enabled:Enabled",
        "BatchSize:BatchSize",
        "FilterCriteria:FilterCriteria",
        "KMSKeyArn:KMSKeyArn",
        "MetricsConfig:EventSourceMappingMetricsConfig",
        "LoggingConfig:EventSourceMappingLoggingConfig",
        "ScalingConfig:ScalingConfig",
        "MaximumBatchingWindowInSeconds:MaximumBatchingWindowInSeconds",
        "ParallelizationFactor:ParallelizationFactor",
        "StartingPosition:EventSourcePosition",
        "StartingPositionTimestamp:Date",
        "DestinationConfig:DestinationConfig",
        "MaximumRecordAgeInSeconds:MaximumRecordAgeInSeconds",
        "BisectBatchOnFunctionError:BisectBatchOnFunctionError",
        "MaximumRetryAttempts:MaximumRetryAttemptsEventSourceMapping",
        "Tags:Tags",
        "TumblingWindowInSeconds:TumblingWindowInSeconds",
        "Topics:Topics",
        "Queues:Queues",
        "SourceAccessConfigurations:SourceAccessConfigurations",
        "SelfManagedEventSource:SelfManagedEventSource",
        "FunctionResponseTypes:FunctionResponseTypeList",
        "AmazonManagedKafkaEventSourceConfig:AmazonManagedKafkaEventSourceConfig",
        "SelfManagedKafkaEventSourceConfig:SelfManagedKafkaEventSourceConfig",
        "DocumentDBEventSourceConfig:DocumentDBEventSourceConfig",
        "ProvisionedPollerConfig:ProvisionedPollerConfig",
        required=("FunctionName",),
    ),
    "UpdateEventSourceMappingRequest": _structure(
        "UUID:UUIDString",
        "FunctionName:NamespacedFunctionName",
        "Enabled:Enabled",
        "BatchSize:BatchSize",
        "FilterCriteria:FilterCriteria",
        "KMSKeyArn:KMSKeyArn",
        "MetricsConfig:EventSourceMappingMetricsConfig",
        "LoggingConfig:EventSourceMappingLoggingConfig",
        "ScalingConfig:ScalingConfig",
        "MaximumBatchingWindowInSeconds:MaximumBatchingWindowInSeconds",
        "ParallelizationFactor:ParallelizationFactor",
        "DestinationConfig:DestinationConfig",
        "MaximumRecordAgeInSeconds:MaximumRecordAgeInSeconds",
        "BisectBatchOnFunctionError:BisectBatchOnFunctionError",
        "MaximumRetryAttempts:MaximumRetryAttemptsEventSourceMapping",
        "TumblingWindowInSeconds:TumblingWindowInSeconds",
        "SourceAccessConfigurations:SourceAccessConfigurations",
        "FunctionResponseTypes:FunctionResponseTypeList",
        "AmazonManagedKafkaEventSourceConfig:AmazonManagedKafkaEventSourceConfig",
        "SelfManagedKafkaEventSourceConfig:SelfManagedKafkaEventSourceConfig",
        "DocumentDBEventSourceConfig:DocumentDBEventSourceConfig",
        "ProvisionedPollerConfig:ProvisionedPollerConfig",
        required=("UUID",),
    ),
    "GetEventSourceMappingRequest": _structure("UUID:UUIDString", required=("UUID",)),
    "DeleteEventSourceMappingRequest": _structure("UUID:UUIDString", required=("UUID",)),
    "ListEventSourceMappingsRequest": _structure(
        "EventSourceArn:Arn",
        "FunctionName:NamespacedFunctionName",
        "Marker:String",
        "MaxItems:MaxListItems",
    ),
    "PutFunctionConcurrencyRequest": _structure(
        "FunctionName:FunctionName",
        "ReservedConcurrentExecutions:ReservedConcurrentExecutions",
        required=("FunctionName", "ReservedConcurrentExecutions"),
    ),
    "DeleteFunctionConcurrencyRequest": _structure(
        "FunctionName:FunctionName",
        required=("FunctionName",),
    ),
    "GetFunctionConcurrencyRequest": _structure(
        "FunctionName:FunctionName",
        required=("FunctionName",),
    ),
    "TagResourceRequest": _structure(
        "Resource:TaggableResource",
        "Tags:Tags",
        required=("Resource", "Tags"),
    ),
    "UntagResourceRequest": _structure(
        "Resource:TaggableResource",
        "TagKeys:TagKeyList",
        required=("Resource", "TagKeys"),
    ),
    "ListTagsRequest": _structure("Resource:TaggableResource", required=("Resource",)),
    # -- scalars --
    "Arn": _string(0, 10000),
    "NamespacedFunctionName": _string(1, 256),
    "Enabled": _BOOLEAN,
    "BatchSize": _integer(1, 10000),
    "Pattern": _string(0, 4096),
    "KMSKeyArn": _string(0, 10000),
    "EventSourceMappingMetric": _string(None, None, "EventCount", "ErrorCount", "KafkaMetrics"),
    "EventSourceMappingSystemLogLevel": _string(None, None, "DEBUG", "INFO", "WARN"),
    "MaximumConcurrency": _integer(2, 1000),
    "MaximumBatchingWindowInSeconds": _integer(0, 300),
    "ParallelizationFactor": _integer(1, 10),
    # AWS prints this set in another order than the model's (spec 1.6, LS-API, O);
    # only the server prints it.
    "EventSourcePosition": attrs.evolve(
        _string(None, None, "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"),
        printed_enum=("LATEST", "AT_TIMESTAMP", "TRIM_HORIZON"),
    ),
    "Date": _TIMESTAMP,
    "DestinationArn": _string(0, 350),
    "MaximumRecordAgeInSeconds": _integer(-1, 604800),
    "BisectBatchOnFunctionError": _BOOLEAN,
    "MaximumRetryAttemptsEventSourceMapping": _integer(-1, 10000),
    "TagKey": _string(1, 128),
    "TagValue": _string(0, 256),
    "TumblingWindowInSeconds": _integer(0, 900),
    "Topic": _string(1, 249),
    "Queue": _string(1, 1000),
    "SourceAccessType": _string(
        None,
        None,
        "BASIC_AUTH",
        "VPC_SUBNET",
        "VPC_SECURITY_GROUP",
        "SASL_SCRAM_512_AUTH",
        "SASL_SCRAM_256_AUTH",
        "VIRTUAL_HOST",
        "CLIENT_CERTIFICATE_TLS_AUTH",
        "SERVER_ROOT_CA_CERTIFICATE",
        "OAUTHBEARER_AUTH",
        "OAUTHBEARER_SCOPE",
        "OAUTHBEARER_AUDIENCE",
        "OAUTHBEARER_LOGICAL_CLUSTER",
        "OAUTHBEARER_IDENTITY_POOL",
        "IAM_AUTH",
        "IAM_OAUTHBEARER_AUTH",
    ),
    "URI": _string(1, 200),
    "EndPointType": _string(None, None, "KAFKA_BOOTSTRAP_SERVERS"),
    "Endpoint": _string(1, 300),
    "FunctionResponseType": _string(None, None, "ReportBatchItemFailures"),
    "SchemaRegistryUri": _string(1, 10000),
    "SchemaRegistryEventRecordFormat": _string(None, None, "JSON", "SOURCE"),
    "KafkaSchemaRegistryAuthType": _string(
        None,
        None,
        "BASIC_AUTH",
        "CLIENT_CERTIFICATE_TLS_AUTH",
        "SERVER_ROOT_CA_CERTIFICATE",
        "OAUTHBEARER_AUTH",
    ),
    "KafkaSchemaValidationAttribute": _string(None, None, "KEY", "VALUE"),
    "KafkaEventSourceMappingConsumptionMode": _string(None, None, "Stream", "Queue"),
    "DatabaseName": _string(1, 63),
    "CollectionName": _string(1, 57),
    "FullDocument": _string(None, None, "UpdateLookup", "Default"),
    "MinimumNumberOfPollers": _integer(1, 200),
    "MaximumNumberOfPollers": _integer(1, 10000),
    "ProvisionedPollerGroupName": _string(0, 128),
    "UUIDString": _string(36, 36),
    "String": _string(),
    "MaxListItems": _integer(1, 10000),
    "FunctionName": _string(1, 140),
    "ReservedConcurrentExecutions": _integer(0),
    "TaggableResource": _string(1, 10000),
    # -- containers --
    "FilterCriteria": _structure("Filters:FilterList"),
    "FilterList": _list("Filter"),
    "Filter": _structure("Pattern:Pattern"),
    "EventSourceMappingMetricsConfig": _structure("Metrics:EventSourceMappingMetricList"),
    "EventSourceMappingMetricList": _list("EventSourceMappingMetric", 0, 3),
    "EventSourceMappingLoggingConfig": _structure(
        "SystemLogLevel:EventSourceMappingSystemLogLevel",
    ),
    "ScalingConfig": _structure("MaximumConcurrency:MaximumConcurrency"),
    "DestinationConfig": _structure("OnSuccess:OnSuccess", "OnFailure:OnFailure"),
    "OnSuccess": _structure("Destination:DestinationArn"),
    "OnFailure": _structure("Destination:DestinationArn"),
    "Tags": _map("TagKey", "TagValue"),
    "Topics": _list("Topic", 1, 1),
    "Queues": _list("Queue", 1, 1),
    "SourceAccessConfigurations": _list("SourceAccessConfiguration", 0, 23),
    "SourceAccessConfiguration": _structure("Type:SourceAccessType", "URI:URI"),
    "SelfManagedEventSource": _structure("Endpoints:Endpoints"),
    "Endpoints": _map("EndPointType", "EndpointLists", 1, 2),
    "EndpointLists": _list("Endpoint", 1, 10),
    "FunctionResponseTypeList": _list("FunctionResponseType", 0, 1),
    "AmazonManagedKafkaEventSourceConfig": _structure(
        "ConsumerGroupId:URI",
        "SchemaRegistryConfig:KafkaSchemaRegistryConfig",
    ),
    "KafkaSchemaRegistryConfig": _structure(
        "SchemaRegistryURI:SchemaRegistryUri",
        "EventRecordFormat:SchemaRegistryEventRecordFormat",
        "AccessConfigs:KafkaSchemaRegistryAccessConfigList",
        "SchemaValidationConfigs:KafkaSchemaValidationConfigList",
    ),
    "KafkaSchemaRegistryAccessConfigList": _list("KafkaSchemaRegistryAccessConfig"),
    "KafkaSchemaRegistryAccessConfig": _structure("Type:KafkaSchemaRegistryAuthType", "URI:Arn"),
    "KafkaSchemaValidationConfigList": _list("KafkaSchemaValidationConfig"),
    "KafkaSchemaValidationConfig": _structure("Attribute:KafkaSchemaValidationAttribute"),
    "SelfManagedKafkaEventSourceConfig": _structure(
        "ConsumerGroupId:URI",
        "SchemaRegistryConfig:KafkaSchemaRegistryConfig",
        "ConsumptionMode:KafkaEventSourceMappingConsumptionMode",
    ),
    "DocumentDBEventSourceConfig": _structure(
        "DatabaseName:DatabaseName",
        "CollectionName:CollectionName",
        "FullDocument:FullDocument",
    ),
    "ProvisionedPollerConfig": _structure(
        "MinimumPollers:MinimumNumberOfPollers",
        "MaximumPollers:MaximumNumberOfPollers",
        "PollerGroupName:ProvisionedPollerGroupName",
    ),
    "TagKeyList": _list("TagKey"),
}

_INPUT_SHAPES: Final[Mapping[str, str]] = {
    "CreateEventSourceMapping": "CreateEventSourceMappingRequest",
    "UpdateEventSourceMapping": "UpdateEventSourceMappingRequest",
    "GetEventSourceMapping": "GetEventSourceMappingRequest",
    "DeleteEventSourceMapping": "DeleteEventSourceMappingRequest",
    "ListEventSourceMappings": "ListEventSourceMappingsRequest",
    "PutFunctionConcurrency": "PutFunctionConcurrencyRequest",
    "DeleteFunctionConcurrency": "DeleteFunctionConcurrencyRequest",
    "GetFunctionConcurrency": "GetFunctionConcurrencyRequest",
    "TagResource": "TagResourceRequest",
    "UntagResource": "UntagResourceRequest",
    "ListTags": "ListTagsRequest",
}

#: The AWS operation names :func:`check_request` accepts.
OPERATIONS: Final[tuple[str, ...]] = tuple(_INPUT_SHAPES)

# spec 3.6, 11 row 17: a stream mapping's on-failure destination is an SQS queue, an
# SNS topic or an S3 bucket; Lambda functions and EventBridge buses take failures of
# asynchronous invocations only, and kafka:// topics belong to Kafka mappings.
_DESTINATION_ARN: Final = re.compile(
    r"arn:aws[a-z-]*:(?:(?:sqs|sns):[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+"
    r"|s3:::[a-z0-9][a-z0-9.-]*[a-z0-9])"
)

# spec 1.2: members that only Kafka, MQ, SQS or DocumentDB sources use.
# StartingPositionTimestamp goes with AT_TIMESTAMP, which DynamoDB rejects.
_NOT_FOR_DYNAMODB: Final = frozenset(
    {
        "StartingPositionTimestamp",
        "Topics",
        "Queues",
        "SourceAccessConfigurations",
        "SelfManagedEventSource",
        "AmazonManagedKafkaEventSourceConfig",
        "SelfManagedKafkaEventSourceConfig",
        "ScalingConfig",
        "DocumentDBEventSourceConfig",
        "LoggingConfig",
        "ProvisionedPollerConfig",
    }
)


def lower_camel(name: str) -> str:
    """
    Spell a model member name as AWS does in a validation message's path.

    AWS lower-cases only the first character, so ``"BatchSize"`` becomes
    ``"batchSize"`` and ``"KMSKeyArn"`` becomes ``"kMSKeyArn"`` (as DynamoDB's
    ``'sSESpecification.sSEType'``).

    Args:
        name: A member name from the service model.

    Returns:
        The name with its first character lower-cased.
    """
    return name[:1].lower() + name[1:]


# ---------------------------------------------------------------------------
# Client side: botocore's ParamValidator (botocore/validate.py)
# ---------------------------------------------------------------------------

_TIMESTAMP_TYPES: Final = f"{datetime}, timestamp-string"


def _display_name(name: str) -> str:
    # botocore's ValidationErrors._get_name: the root is "input", and member
    # paths are built as f"{parent}.{member}", so drop the leading dot.
    if not name:
        return "input"
    return name[1:] if name.startswith(".") else name


def _invalid_type(name: str, value: object, valid_types: str) -> str:
    return (
        f"Invalid type for parameter {_display_name(name)}, value: {value}, "
        f"type: {type(value)}, valid types: {valid_types}"
    )


def _is_timestamp(value: object) -> bool:
    # botocore accepts a datetime, anything float() takes (epoch seconds, also
    # as a string), or a string dateutil can parse. dateutil is not a
    # dependency here, so ISO 8601 and RFC 822 stand in for its parser; they
    # are what botocore documents.
    if isinstance(value, datetime):
        return True
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        pass
    else:
        return True
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        pass
    else:
        return True
    try:
        email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return False
    return True


def _min_check(name: str, measured: int, shape: _Shape, what: str, errors: list[str]) -> None:
    # botocore's range_check: only the minimum is checked on the client.
    if shape.min is not None and measured < shape.min:
        errors.append(
            f"Invalid {what} for parameter {_display_name(name)}, value: {measured}, "
            f"valid min {what}: {shape.min}"
        )


def _client_check(value: object, shape_name: str, name: str, errors: list[str]) -> None:
    """Append botocore's report lines for ``value`` against one shape."""
    shape = _SHAPES[shape_name]
    kind = shape.type
    if kind == "structure":
        if not isinstance(value, dict):
            errors.append(_invalid_type(name, value, str(dict)))
            return
        members = dict(shape.members)
        for required in shape.required:
            if required not in value:
                errors.append(f'Missing required parameter in {_display_name(name)}: "{required}"')
        known = []
        for param in value:
            if param in members:
                known.append(param)
            else:
                errors.append(
                    f'Unknown parameter in {_display_name(name)}: "{param}", '
                    f"must be one of: {', '.join(members)}"
                )
        for param in known:
            _client_check(value[param], members[param], f"{name}.{param}", errors)
    elif kind == "list":
        if not isinstance(value, list | tuple):
            errors.append(_invalid_type(name, value, f"{list}, {tuple}"))
            return
        _min_check(name, len(value), shape, "length", errors)
        for index, item in enumerate(value):
            _client_check(item, shape.member, f"{name}[{index}]", errors)
    elif kind == "map":
        # botocore does not check a map's min size on the client.
        if not isinstance(value, dict):
            errors.append(_invalid_type(name, value, str(dict)))
            return
        for key, item in value.items():
            _client_check(key, shape.key, f"{name} (key: {key})", errors)
            _client_check(item, shape.value, f"{name}.{key}", errors)
    elif kind == "string":
        if not isinstance(value, str):
            errors.append(_invalid_type(name, value, str(str)))
            return
        _min_check(name, len(value), shape, "length", errors)
    elif kind == "integer":
        # isinstance(True, int) holds, so botocore lets booleans through here.
        if not isinstance(value, int):
            errors.append(_invalid_type(name, value, str(int)))
            return
        _min_check(name, value, shape, "value", errors)
    elif kind == "boolean":
        if not isinstance(value, bool):
            errors.append(_invalid_type(name, value, str(bool)))
    elif kind == "timestamp":
        if not _is_timestamp(value):
            errors.append(_invalid_type(name, value, _TIMESTAMP_TYPES))
    else:  # pragma: no cover - the table above only uses the kinds handled here
        msg = f"shape {shape_name!r} has unknown type {kind!r}"
        raise AssertionError(msg)


# ---------------------------------------------------------------------------
# Server side, step 1: model constraints (ValidationException)
# ---------------------------------------------------------------------------


def _render(value: object) -> str:
    # Lambda runs on Java: values are printed as Java prints them, so lists
    # look like "[a, b]" and booleans like "true" (I for anything but strings
    # and numbers, which no recording shows).
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_render(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={_render(item)}" for key, item in value.items()) + "}"
    return str(value)


def _violation(value: object, path: str, constraint: str) -> str:
    # spec 1.6: "Value '<v>' at '<camelCaseField>' failed to satisfy constraint: ..."
    return f"Value '{_render(value)}' at '{path}' failed to satisfy constraint: {constraint}"


def _printed_enum(shape: _Shape) -> str:
    return ", ".join(shape.printed_enum or shape.enum)


def _constraints(shape: _Shape) -> list[str]:
    """The texts of a scalar or list shape's own constraints, as AWS words them."""
    if shape.type == "integer":
        texts = []
        if shape.max is not None:
            texts.append(f"Member must have value less than or equal to {shape.max}")
        if shape.min is not None:
            texts.append(f"Member must have value greater than or equal to {shape.min}")
        return texts
    texts = []
    if shape.max is not None:
        texts.append(f"Member must have length less than or equal to {shape.max}")
    if shape.min is not None:
        texts.append(f"Member must have length greater than or equal to {shape.min}")
    if shape.enum:
        texts.append(f"Member must satisfy enum value set: [{_printed_enum(shape)}]")
    return texts


def _failed_constraints(value: object, shape: _Shape) -> list[str]:
    """The texts of the own constraints of ``shape`` that ``value`` breaks."""
    failed = []
    if shape.type == "integer":
        assert isinstance(value, int)
        if shape.max is not None and value > shape.max:
            failed.append(f"Member must have value less than or equal to {shape.max}")
        if shape.min is not None and value < shape.min:
            failed.append(f"Member must have value greater than or equal to {shape.min}")
        return failed
    if shape.type in {"string", "list", "map"}:
        assert isinstance(value, str | list | tuple | dict)
        if shape.max is not None and len(value) > shape.max:
            failed.append(f"Member must have length less than or equal to {shape.max}")
        if shape.min is not None and len(value) < shape.min:
            failed.append(f"Member must have length greater than or equal to {shape.min}")
    if shape.enum and value not in shape.enum:
        failed.append(f"Member must satisfy enum value set: [{_printed_enum(shape)}]")
    return failed


def _model_violations(value: object, shape_name: str, path: str, out: list[str]) -> None:
    """Append AWS's constraint-violation texts for ``value`` (already type-checked)."""
    shape = _SHAPES[shape_name]
    for constraint in _failed_constraints(value, shape):
        out.append(_violation(value, path, constraint))
    if shape.type == "structure":
        assert isinstance(value, dict)
        for member, member_shape in shape.members:
            if member not in value:
                continue
            if member == "MaximumRecordAgeInSeconds":
                # spec 1.6: its whole range is a service rule with its own
                # message (TF-16113, O), checked in _service_rules.
                continue
            member_path = f"{path}.{lower_camel(member)}" if path else lower_camel(member)
            _model_violations(value[member], member_shape, member_path, out)
    elif shape.type == "list":
        assert isinstance(value, list | tuple)
        item_shape = _SHAPES[shape.member]
        if item_shape.type == "structure":
            # AWS's path into a list of structures: 'filters.1.member.pattern',
            # counting from 1 (DynamoDB 'transactItems.1.member.update.key').
            for index, item in enumerate(value, start=1):
                _model_violations(item, shape.member, f"{path}.{index}.member", out)
        elif any(_failed_constraints(item, item_shape) for item in value):
            # I: a list of scalars is reported once, at the list, with every
            # constraint of its member shape, as Lambda answers a bad
            # Architectures value ("Member must satisfy constraint: [Member must
            # satisfy enum value set: [x86_64, arm64], Member must not be null]",
            # as moto reproduces it); no recording shows FunctionResponseTypes or
            # MetricsConfig.Metrics, whose sets are printed in model order.
            inner = [*_constraints(item_shape), "Member must not be null"]
            out.append(
                _violation(value, path, f"Member must satisfy constraint: [{', '.join(inner)}]")
            )
    elif shape.type == "map":
        assert isinstance(value, dict)
        # I: AWS's "Map keys/value must satisfy constraint" form; only the
        # Kafka-only Endpoints map has constraints, and no recording shows it.
        key_shape, value_shape = _SHAPES[shape.key], _SHAPES[shape.value]
        if any(_failed_constraints(key, key_shape) for key in value):
            keys = ", ".join(_constraints(key_shape))
            out.append(_violation(value, path, f"Map keys must satisfy constraint: [{keys}]"))
        if any(_failed_constraints(item, value_shape) for item in value.values()):
            values = ", ".join([*_constraints(value_shape), "Member must not be null"])
            out.append(_violation(value, path, f"Map value must satisfy constraint: [{values}]"))


# ---------------------------------------------------------------------------
# Server side, step 2: the rules for a DynamoDB-stream mapping
# ---------------------------------------------------------------------------


def _service_rules(
    operation: str, params: Mapping[str, object], shape: _Shape, max_filters: int
) -> None:
    """Raise the first InvalidParameterValueException a DynamoDB mapping request earns."""

    def reject(message: str) -> InvalidParameterValueException:
        return InvalidParameterValueException(message, operation_name=operation)

    # I: the order of these rules among themselves is not recorded; the ones
    # that need the event source come first, as a source decides the rest.
    if operation == "CreateEventSourceMapping":
        # spec 1.6: "Create with no EventSourceArn" (LS-API, O).
        if "EventSourceArn" not in params:
            raise reject("Unrecognized event source.")
        # spec 1.6: "DynamoDB mapping with no StartingPosition" (LS-API, O).
        if "StartingPosition" not in params:
            raise reject(
                "1 validation error detected: Value null at 'startingPosition' failed to "
                "satisfy constraint: Member must not be null."
            )
        # spec 1.2 and 1.6: AT_TIMESTAMP is rejected for DynamoDB (LS-API, O).
        if params["StartingPosition"] == "AT_TIMESTAMP":
            raise reject(f"Unsupported starting position for arn type: {params['EventSourceArn']}")

    # spec 1.6: OnSuccess is not supported on event source mappings (LS-API, O).
    destination_config = params.get("DestinationConfig")
    if isinstance(destination_config, dict) and "OnSuccess" in destination_config:
        raise reject("Unsupported DestinationConfig parameter for given event source mapping type.")

    # spec 3.6: only an SQS queue, SNS topic or S3 bucket; "" removes the destination
    # (spec 1.2). I: no recording shows AWS's text for another ARN on a stream
    # mapping; this one starts as Lambda's answer to a bad destination of an event
    # invoke config ("The destination ARN <arn> is invalid.") and says what is accepted.
    if isinstance(destination_config, dict):
        destination = (destination_config.get("OnFailure") or {}).get("Destination")
        if destination and not _DESTINATION_ARN.fullmatch(destination):
            raise reject(
                f"The destination ARN {destination} is invalid. The on-failure destination "
                "of a DynamoDB stream event source mapping must be the ARN of an SQS queue, "
                "an SNS topic or an S3 bucket."
            )

    # I: spec 1.2 does not record AWS's answer to a Kafka/MQ/SQS/DocumentDB-only
    # member on a DynamoDB mapping; this message follows the recorded OnSuccess
    # text. Members are taken in model order so the answer is deterministic.
    for member, _ in shape.members:
        if member in params and member in _NOT_FOR_DYNAMODB:
            raise reject(f"Unsupported {member} parameter for given event source mapping type.")

    # spec 1.2 and 11 row 5: -1, or 60..604800; the message is TF-16113's (O).
    age = params.get("MaximumRecordAgeInSeconds")
    if isinstance(age, int) and (0 <= age < 60 or age > 604800):
        raise reject(
            "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 "
            "(inclusive)"
        )

    # spec 8: a quota of filters per mapping (default 5, raisable to 10).
    filter_criteria = params.get("FilterCriteria")
    if isinstance(filter_criteria, dict):
        filters = filter_criteria.get("Filters")
        if isinstance(filters, list | tuple) and len(filters) > max_filters:
            # I: spec 1.6 records no text for this error; this one names the
            # count and the quota.
            raise reject(
                f"FilterCriteria has {len(filters)} filters, more than the quota of "
                f"{max_filters} filters per event source mapping."
            )


# Lambda user guide, "Using tags on Lambda functions" (D): at most 50 tags on a
# resource; keys starting with "aws:" are AWS's own and cannot be set or removed.
MAX_TAGS: Final = 50
_RESERVED_TAG_PREFIX: Final = "aws:"


def _tag_rules(operation: str, params: Mapping[str, object]) -> None:
    """Raise the InvalidParameterValueException a request's tag keys earn, if any."""
    tags = params.get("Tags")
    tag_keys = params.get("TagKeys")
    keys: list[object] = list(tags) if isinstance(tags, dict) else []
    if isinstance(tag_keys, list | tuple):
        keys = list(tag_keys)
    for key in keys:
        # I: no recording shows Lambda's text for a reserved key; this one names it.
        # The prefix is matched without regard to case, as AWS's tagging rules read.
        if isinstance(key, str) and key.lower().startswith(_RESERVED_TAG_PREFIX):
            raise InvalidParameterValueException(
                f"Tag key {key} is not valid: keys starting with "
                f"'{_RESERVED_TAG_PREFIX}' are reserved for AWS use.",
                operation_name=operation,
            )
    if isinstance(tags, dict) and len(tags) > MAX_TAGS:
        # I: the text of this error is not recorded either.
        raise InvalidParameterValueException(
            f"Tags has {len(tags)} tags, more than the {MAX_TAGS} a resource can have.",
            operation_name=operation,
        )


# ---------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------


def check_request(
    operation: str,
    params: Mapping[str, object],
    *,
    max_filters: int = DEFAULT_MAX_FILTERS,
) -> None:
    """
    Check one Lambda control-plane request as botocore and the Lambda service do.

    The checks run in the order a real call meets them, and the first layer
    that finds a problem raises:

    1. botocore's client-side validation: every problem at once, in one
       :class:`~esm_sim.errors.ParamValidationError`, worded as botocore words it.
    2. the service's model constraints that botocore leaves to the server
       (maximum values and lengths, enum value sets): every violation at once,
       in one :class:`~esm_sim.errors.ValidationException`
       ("N validation error(s) detected: ...; ...").
    3. for ``CreateEventSourceMapping`` and ``UpdateEventSourceMapping``, the
       rules for a DynamoDB-stream mapping, each its own
       :class:`~esm_sim.errors.InvalidParameterValueException`; for the
       calls that set or remove tags, the rules for tag keys (reserved
       ``aws:`` prefix, at most :data:`MAX_TAGS` tags in one request).

    It does not look at simulation state (whether the function or the stream
    exists, duplicate mappings) and applies no defaults.

    Args:
        operation: The AWS operation name, one of :data:`OPERATIONS`.
        params: The request parameters, keyed as boto3's keyword arguments.
        max_filters: The account's quota of filters per mapping (spec 8:
            5 by default, raisable to 10).

    Raises:
        ParamValidationError: botocore would refuse to send the request.
        ValidationException: the request breaks the service model's constraints.
        InvalidParameterValueException: the request breaks a rule for DynamoDB
            stream mappings.
        ConfigError: ``operation`` or ``max_filters`` is not valid.
    """
    if operation not in _INPUT_SHAPES:
        msg = f"operation={operation!r} must be one of: {', '.join(OPERATIONS)}"
        raise ConfigError(msg)
    if isinstance(max_filters, bool) or not isinstance(max_filters, int) or max_filters < 1:
        msg = f"max_filters={max_filters!r} must be an int of at least 1"
        raise ConfigError(msg)
    shape_name = _INPUT_SHAPES[operation]
    request = dict(params)

    errors: list[str] = []
    _client_check(request, shape_name, "", errors)
    if errors:
        raise ParamValidationError("\n".join(errors))

    # I: model constraints are checked before Lambda's own rules, as a service
    # framework validates a request against the model before any handler runs;
    # spec 11 row 19: AWS answers a bad enum value with ValidationException.
    violations: list[str] = []
    _model_violations(request, shape_name, "", violations)
    if violations:
        count = len(violations)
        noun = "validation error" if count == 1 else "validation errors"
        raise ValidationException(
            f"{count} {noun} detected: {'; '.join(violations)}", operation_name=operation
        )

    if operation in {"CreateEventSourceMapping", "UpdateEventSourceMapping"}:
        _service_rules(operation, request, _SHAPES[shape_name], max_filters)
    if operation in {"CreateEventSourceMapping", "TagResource", "UntagResource"}:
        _tag_rules(operation, request)
