"""Tests for esm_sim._lambda.validation: AWS's own answers to bad Lambda requests."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from esm_sim._lambda.validation import OPERATIONS, check_request, lower_camel
from esm_sim.errors import (
    ClientError,
    ConfigError,
    InvalidParameterValueException,
    ParamValidationError,
    ValidationException,
    _declared_class,
)

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000"
DLQ = "arn:aws:sqs:us-east-1:123456789012:orders-dlq"
CREATE = {"FunctionName": "process-orders", "EventSourceArn": ARN, "StartingPosition": "LATEST"}
UUID = "14e0db71-5d35-4eb5-b481-8945cf9d10c2"
UPDATE = {"UUID": UUID}

# Both in the model's member order (botocore 1.44.8), as botocore lists them.
CREATE_MEMBERS = (
    "EventSourceArn, FunctionName, Enabled, BatchSize, FilterCriteria, KMSKeyArn, "
    "MetricsConfig, LoggingConfig, ScalingConfig, MaximumBatchingWindowInSeconds, "
    "ParallelizationFactor, StartingPosition, StartingPositionTimestamp, DestinationConfig, "
    "MaximumRecordAgeInSeconds, BisectBatchOnFunctionError, MaximumRetryAttempts, Tags, "
    "TumblingWindowInSeconds, Topics, Queues, SourceAccessConfigurations, "
    "SelfManagedEventSource, FunctionResponseTypes, AmazonManagedKafkaEventSourceConfig, "
    "SelfManagedKafkaEventSourceConfig, DocumentDBEventSourceConfig, ProvisionedPollerConfig"
)
UPDATE_MEMBERS = (
    "UUID, FunctionName, Enabled, BatchSize, FilterCriteria, KMSKeyArn, MetricsConfig, "
    "LoggingConfig, ScalingConfig, MaximumBatchingWindowInSeconds, ParallelizationFactor, "
    "DestinationConfig, MaximumRecordAgeInSeconds, BisectBatchOnFunctionError, "
    "MaximumRetryAttempts, TumblingWindowInSeconds, SourceAccessConfigurations, "
    "FunctionResponseTypes, AmazonManagedKafkaEventSourceConfig, "
    "SelfManagedKafkaEventSourceConfig, DocumentDBEventSourceConfig, ProvisionedPollerConfig"
)
AGE_MESSAGE = (
    "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)"
)
ONE = "1 validation error detected: "


def _unsupported(name: str) -> str:
    return f"Unsupported {name} parameter for given event source mapping type."


# (id, operation, params, expected exception class, expected exact message)
INVALID = [
    # -- botocore, client side (ParamValidationError; the message is its report) --
    (
        "create-unknown-member",
        "CreateEventSourceMapping",
        {**CREATE, "Foo": 1},
        ParamValidationError,
        f'Unknown parameter in input: "Foo", must be one of: {CREATE_MEMBERS}',
    ),
    (
        "create-missing-function-name",
        "CreateEventSourceMapping",
        {"EventSourceArn": ARN, "StartingPosition": "LATEST"},
        ParamValidationError,
        'Missing required parameter in input: "FunctionName"',
    ),
    (
        "update-missing-uuid-and-starting-position-unknown",
        "UpdateEventSourceMapping",
        {"StartingPosition": "LATEST"},
        ParamValidationError,
        'Missing required parameter in input: "UUID"\n'
        f'Unknown parameter in input: "StartingPosition", must be one of: {UPDATE_MEMBERS}',
    ),
    (
        "get-missing-uuid",
        "GetEventSourceMapping",
        {},
        ParamValidationError,
        'Missing required parameter in input: "UUID"',
    ),
    (
        # botocore 1.44: UUIDString is 36..36 characters, so a short one is never sent.
        "get-uuid-shorter-than-36",
        "GetEventSourceMapping",
        {"UUID": "abc"},
        ParamValidationError,
        "Invalid length for parameter UUID, value: 3, valid min length: 36",
    ),
    (
        "delete-uuid-empty",
        "DeleteEventSourceMapping",
        {"UUID": ""},
        ParamValidationError,
        "Invalid length for parameter UUID, value: 0, valid min length: 36",
    ),
    (
        "tag-resource-missing-both",
        "TagResource",
        {},
        ParamValidationError,
        'Missing required parameter in input: "Resource"\n'
        'Missing required parameter in input: "Tags"',
    ),
    (
        "tag-resource-empty-key",
        "TagResource",
        {"Resource": "arn", "Tags": {"": "v"}},
        ParamValidationError,
        "Invalid length for parameter Tags (key: ), value: 0, valid min length: 1",
    ),
    (
        "untag-resource-keys-not-a-list",
        "UntagResource",
        {"Resource": "arn", "TagKeys": "team"},
        ParamValidationError,
        "Invalid type for parameter TagKeys, value: team, type: <class 'str'>, "
        "valid types: <class 'list'>, <class 'tuple'>",
    ),
    (
        "delete-unknown-member",
        "DeleteEventSourceMapping",
        {"UUID": UUID, "FunctionName": "f"},
        ParamValidationError,
        'Unknown parameter in input: "FunctionName", must be one of: UUID',
    ),
    (
        "batch-size-str",
        "CreateEventSourceMapping",
        {**CREATE, "BatchSize": "abc"},
        ParamValidationError,
        "Invalid type for parameter BatchSize, value: abc, type: <class 'str'>, "
        "valid types: <class 'int'>",
    ),
    (
        "batch-size-float",
        "CreateEventSourceMapping",
        {**CREATE, "BatchSize": 1.5},
        ParamValidationError,
        "Invalid type for parameter BatchSize, value: 1.5, type: <class 'float'>, "
        "valid types: <class 'int'>",
    ),
    (
        "batch-size-none",
        "CreateEventSourceMapping",
        {**CREATE, "BatchSize": None},
        ParamValidationError,
        "Invalid type for parameter BatchSize, value: None, type: <class 'NoneType'>, "
        "valid types: <class 'int'>",
    ),
    (
        "batch-size-0",
        "CreateEventSourceMapping",
        {**CREATE, "BatchSize": 0},
        ParamValidationError,
        "Invalid value for parameter BatchSize, value: 0, valid min value: 1",
    ),
    (
        "batch-size-false-is-an-int-below-min",
        "CreateEventSourceMapping",
        {**CREATE, "BatchSize": False},
        ParamValidationError,
        "Invalid value for parameter BatchSize, value: False, valid min value: 1",
    ),
    (
        "enabled-str",
        "CreateEventSourceMapping",
        {**CREATE, "Enabled": "yes"},
        ParamValidationError,
        "Invalid type for parameter Enabled, value: yes, type: <class 'str'>, "
        "valid types: <class 'bool'>",
    ),
    (
        "bisect-int-is-not-a-bool",
        "UpdateEventSourceMapping",
        {**UPDATE, "BisectBatchOnFunctionError": 1},
        ParamValidationError,
        "Invalid type for parameter BisectBatchOnFunctionError, value: 1, type: <class 'int'>, "
        "valid types: <class 'bool'>",
    ),
    (
        "function-name-empty",
        "CreateEventSourceMapping",
        {**CREATE, "FunctionName": ""},
        ParamValidationError,
        "Invalid length for parameter FunctionName, value: 0, valid min length: 1",
    ),
    (
        "parallelization-factor-0",
        "CreateEventSourceMapping",
        {**CREATE, "ParallelizationFactor": 0},
        ParamValidationError,
        "Invalid value for parameter ParallelizationFactor, value: 0, valid min value: 1",
    ),
    (
        "maximum-retry-attempts-minus-2",
        "CreateEventSourceMapping",
        {**CREATE, "MaximumRetryAttempts": -2},
        ParamValidationError,
        "Invalid value for parameter MaximumRetryAttempts, value: -2, valid min value: -1",
    ),
    (
        "maximum-record-age-minus-2",
        "UpdateEventSourceMapping",
        {**UPDATE, "MaximumRecordAgeInSeconds": -2},
        ParamValidationError,
        "Invalid value for parameter MaximumRecordAgeInSeconds, value: -2, valid min value: -1",
    ),
    (
        "batching-window-minus-1",
        "CreateEventSourceMapping",
        {**CREATE, "MaximumBatchingWindowInSeconds": -1},
        ParamValidationError,
        "Invalid value for parameter MaximumBatchingWindowInSeconds, value: -1, valid min value: 0",
    ),
    (
        "tumbling-window-minus-1",
        "CreateEventSourceMapping",
        {**CREATE, "TumblingWindowInSeconds": -1},
        ParamValidationError,
        "Invalid value for parameter TumblingWindowInSeconds, value: -1, valid min value: 0",
    ),
    (
        "destination-config-nested-unknown-member",
        "CreateEventSourceMapping",
        {**CREATE, "DestinationConfig": {"OnFailure": {"Arn": DLQ}}},
        ParamValidationError,
        'Unknown parameter in DestinationConfig.OnFailure: "Arn", must be one of: Destination',
    ),
    (
        "destination-config-list",
        "CreateEventSourceMapping",
        {**CREATE, "DestinationConfig": []},
        ParamValidationError,
        "Invalid type for parameter DestinationConfig, value: [], type: <class 'list'>, "
        "valid types: <class 'dict'>",
    ),
    (
        "destination-int",
        "CreateEventSourceMapping",
        {**CREATE, "DestinationConfig": {"OnFailure": {"Destination": 5}}},
        ParamValidationError,
        "Invalid type for parameter DestinationConfig.OnFailure.Destination, value: 5, "
        "type: <class 'int'>, valid types: <class 'str'>",
    ),
    (
        "filter-pattern-int",
        "CreateEventSourceMapping",
        {**CREATE, "FilterCriteria": {"Filters": [{"Pattern": "{}"}, {"Pattern": 1}]}},
        ParamValidationError,
        "Invalid type for parameter FilterCriteria.Filters[1].Pattern, value: 1, "
        "type: <class 'int'>, valid types: <class 'str'>",
    ),
    (
        "filters-str",
        "CreateEventSourceMapping",
        {**CREATE, "FilterCriteria": {"Filters": "{}"}},
        ParamValidationError,
        "Invalid type for parameter FilterCriteria.Filters, value: {}, type: <class 'str'>, "
        "valid types: <class 'list'>, <class 'tuple'>",
    ),
    (
        "function-response-types-str",
        "CreateEventSourceMapping",
        {**CREATE, "FunctionResponseTypes": "ReportBatchItemFailures"},
        ParamValidationError,
        "Invalid type for parameter FunctionResponseTypes, value: ReportBatchItemFailures, "
        "type: <class 'str'>, valid types: <class 'list'>, <class 'tuple'>",
    ),
    (
        "metrics-int-member",
        "CreateEventSourceMapping",
        {**CREATE, "MetricsConfig": {"Metrics": [3]}},
        ParamValidationError,
        "Invalid type for parameter MetricsConfig.Metrics[0], value: 3, type: <class 'int'>, "
        "valid types: <class 'str'>",
    ),
    (
        "tags-value-int",
        "CreateEventSourceMapping",
        {**CREATE, "Tags": {"team": 1}},
        ParamValidationError,
        "Invalid type for parameter Tags.team, value: 1, type: <class 'int'>, "
        "valid types: <class 'str'>",
    ),
    (
        "tags-key-int",
        "CreateEventSourceMapping",
        {**CREATE, "Tags": {7: "x"}},
        ParamValidationError,
        "Invalid type for parameter Tags (key: 7), value: 7, type: <class 'int'>, "
        "valid types: <class 'str'>",
    ),
    (
        "starting-position-timestamp-not-a-time",
        "CreateEventSourceMapping",
        {**CREATE, "StartingPositionTimestamp": "yesterday"},
        ParamValidationError,
        "Invalid type for parameter StartingPositionTimestamp, value: yesterday, "
        "type: <class 'str'>, valid types: <class 'datetime.datetime'>, timestamp-string",
    ),
    (
        "several-client-problems-one-per-line",
        "CreateEventSourceMapping",
        {"BatchSize": 0, "Foo": 1, "Enabled": "no"},
        ParamValidationError,
        'Missing required parameter in input: "FunctionName"\n'
        f'Unknown parameter in input: "Foo", must be one of: {CREATE_MEMBERS}\n'
        "Invalid value for parameter BatchSize, value: 0, valid min value: 1\n"
        "Invalid type for parameter Enabled, value: no, type: <class 'str'>, "
        "valid types: <class 'bool'>",
    ),
    (
        "list-max-items-0",
        "ListEventSourceMappings",
        {"MaxItems": 0},
        ParamValidationError,
        "Invalid value for parameter MaxItems, value: 0, valid min value: 1",
    ),
    (
        "put-concurrency-missing-both",
        "PutFunctionConcurrency",
        {},
        ParamValidationError,
        'Missing required parameter in input: "FunctionName"\n'
        'Missing required parameter in input: "ReservedConcurrentExecutions"',
    ),
    (
        "put-concurrency-minus-1",
        "PutFunctionConcurrency",
        {"FunctionName": "f", "ReservedConcurrentExecutions": -1},
        ParamValidationError,
        "Invalid value for parameter ReservedConcurrentExecutions, value: -1, valid min value: 0",
    ),
    (
        "delete-concurrency-empty-name",
        "DeleteFunctionConcurrency",
        {"FunctionName": ""},
        ParamValidationError,
        "Invalid length for parameter FunctionName, value: 0, valid min length: 1",
    ),
    (
        "get-concurrency-unknown-qualifier",
        "GetFunctionConcurrency",
        {"FunctionName": "f", "Qualifier": "1"},
        ParamValidationError,
        'Unknown parameter in input: "Qualifier", must be one of: FunctionName',
    ),
    # -- Lambda, model constraints (ValidationException) --
    (
        # spec 1.6, row "Other values outside the model's min/max" (I).
        "get-uuid-longer-than-36",
        "GetEventSourceMapping",
        {"UUID": UUID + "0"},
        ValidationException,
        f"{ONE}Value '{UUID}0' at 'uUID' failed to satisfy constraint: "
        "Member must have length less than or equal to 36",
    ),
    (
        "tag-key-longer-than-128",
        "TagResource",
        {"Resource": "arn", "Tags": {"k" * 129: "v"}},
        ValidationException,
        f"{ONE}Value '{{{'k' * 129}=v}}' at 'tags' failed to satisfy constraint: "
        "Map keys must satisfy constraint: [Member must have length less than or equal to 128, "
        "Member must have length greater than or equal to 1]",
    ),
    (
        "tag-value-longer-than-256",
        "TagResource",
        {"Resource": "arn", "Tags": {"k": "v" * 257}},
        ValidationException,
        f"{ONE}Value '{{k={'v' * 257}}}' at 'tags' failed to satisfy constraint: "
        "Map value must satisfy constraint: [Member must have length less than or equal to 256, "
        "Member must have length greater than or equal to 0, Member must not be null]",
    ),
    (
        "starting-position-not-in-enum",
        "CreateEventSourceMapping",
        {**CREATE, "StartingPosition": "invalid"},
        ValidationException,
        f"{ONE}Value 'invalid' at 'startingPosition' failed to satisfy constraint: "
        "Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]",
    ),
    (
        "starting-position-lower-case-quoted-as-given",
        "CreateEventSourceMapping",
        {**CREATE, "StartingPosition": "latest"},
        ValidationException,
        f"{ONE}Value 'latest' at 'startingPosition' failed to satisfy constraint: "
        "Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]",
    ),
    (
        "batch-size-10001",
        "CreateEventSourceMapping",
        {**CREATE, "BatchSize": 10001},
        ValidationException,
        f"{ONE}Value '10001' at 'batchSize' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000",
    ),
    (
        "update-batch-size-10001",
        "UpdateEventSourceMapping",
        {**UPDATE, "BatchSize": 10001},
        ValidationException,
        f"{ONE}Value '10001' at 'batchSize' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000",
    ),
    (
        "parallelization-factor-11",
        "CreateEventSourceMapping",
        {**CREATE, "ParallelizationFactor": 11},
        ValidationException,
        f"{ONE}Value '11' at 'parallelizationFactor' failed to satisfy constraint: "
        "Member must have value less than or equal to 10",
    ),
    (
        "tumbling-window-901",
        "CreateEventSourceMapping",
        {**CREATE, "TumblingWindowInSeconds": 901},
        ValidationException,
        f"{ONE}Value '901' at 'tumblingWindowInSeconds' failed to satisfy constraint: "
        "Member must have value less than or equal to 900",
    ),
    (
        "batching-window-301",
        "UpdateEventSourceMapping",
        {**UPDATE, "MaximumBatchingWindowInSeconds": 301},
        ValidationException,
        f"{ONE}Value '301' at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: "
        "Member must have value less than or equal to 300",
    ),
    (
        "maximum-retry-attempts-10001",
        "CreateEventSourceMapping",
        {**CREATE, "MaximumRetryAttempts": 10001},
        ValidationException,
        f"{ONE}Value '10001' at 'maximumRetryAttempts' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000",
    ),
    (
        "function-name-257-chars",
        "CreateEventSourceMapping",
        {**CREATE, "FunctionName": "f" * 257},
        ValidationException,
        f"{ONE}Value '{'f' * 257}' at 'functionName' failed to satisfy constraint: "
        "Member must have length less than or equal to 256",
    ),
    (
        "destination-351-chars",
        "CreateEventSourceMapping",
        {**CREATE, "DestinationConfig": {"OnFailure": {"Destination": "d" * 351}}},
        ValidationException,
        f"{ONE}Value '{'d' * 351}' at 'destinationConfig.onFailure.destination' failed to "
        "satisfy constraint: Member must have length less than or equal to 350",
    ),
    (
        "second-filter-pattern-4097-chars",
        "UpdateEventSourceMapping",
        {**UPDATE, "FilterCriteria": {"Filters": [{"Pattern": "{}"}, {"Pattern": "p" * 4097}]}},
        ValidationException,
        f"{ONE}Value '{'p' * 4097}' at 'filterCriteria.filters.2.member.pattern' failed to "
        "satisfy constraint: Member must have length less than or equal to 4096",
    ),
    (
        "function-response-type-not-in-enum",
        "CreateEventSourceMapping",
        {**CREATE, "FunctionResponseTypes": ["ReportEverything"]},
        ValidationException,
        f"{ONE}Value '[ReportEverything]' at 'functionResponseTypes' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
        "[ReportBatchItemFailures], Member must not be null]",
    ),
    (
        "function-response-types-two-items",
        "CreateEventSourceMapping",
        {**CREATE, "FunctionResponseTypes": ["ReportBatchItemFailures"] * 2},
        ValidationException,
        f"{ONE}Value '[ReportBatchItemFailures, ReportBatchItemFailures]' at "
        "'functionResponseTypes' failed to satisfy constraint: "
        "Member must have length less than or equal to 1",
    ),
    (
        "metric-not-in-enum",
        "UpdateEventSourceMapping",
        {**UPDATE, "MetricsConfig": {"Metrics": ["EventCount", "Bogus"]}},
        ValidationException,
        f"{ONE}Value '[EventCount, Bogus]' at 'metricsConfig.metrics' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
        "[EventCount, ErrorCount, KafkaMetrics], Member must not be null]",
    ),
    (
        "two-violations-in-model-order",
        "CreateEventSourceMapping",
        {**CREATE, "ParallelizationFactor": 11, "BatchSize": 10001},
        ValidationException,
        "2 validation errors detected: "
        "Value '10001' at 'batchSize' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000; "
        "Value '11' at 'parallelizationFactor' failed to satisfy constraint: "
        "Member must have value less than or equal to 10",
    ),
    (
        "model-violation-before-service-rule",
        "CreateEventSourceMapping",
        {"FunctionName": "f", "StartingPosition": "invalid"},
        ValidationException,
        f"{ONE}Value 'invalid' at 'startingPosition' failed to satisfy constraint: "
        "Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]",
    ),
    (
        "list-max-items-10001",
        "ListEventSourceMappings",
        {"FunctionName": "f", "MaxItems": 10001},
        ValidationException,
        f"{ONE}Value '10001' at 'maxItems' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000",
    ),
    (
        "put-concurrency-name-141-chars",
        "PutFunctionConcurrency",
        {"FunctionName": "n" * 141, "ReservedConcurrentExecutions": 1},
        ValidationException,
        f"{ONE}Value '{'n' * 141}' at 'functionName' failed to satisfy constraint: "
        "Member must have length less than or equal to 140",
    ),
    # -- Lambda, rules for a DynamoDB mapping (InvalidParameterValueException) --
    (
        "create-without-event-source-arn",
        "CreateEventSourceMapping",
        {"FunctionName": "f", "StartingPosition": "LATEST"},
        InvalidParameterValueException,
        "Unrecognized event source.",
    ),
    (
        "create-without-starting-position",
        "CreateEventSourceMapping",
        {"FunctionName": "f", "EventSourceArn": ARN},
        InvalidParameterValueException,
        f"{ONE}Value null at 'startingPosition' failed to satisfy constraint: "
        "Member must not be null.",
    ),
    (
        "at-timestamp-on-dynamodb",
        "CreateEventSourceMapping",
        {**CREATE, "StartingPosition": "AT_TIMESTAMP"},
        InvalidParameterValueException,
        f"Unsupported starting position for arn type: {ARN}",
    ),
    (
        "on-success-on-create",
        "CreateEventSourceMapping",
        {**CREATE, "DestinationConfig": {"OnSuccess": {"Destination": DLQ}}},
        InvalidParameterValueException,
        "Unsupported DestinationConfig parameter for given event source mapping type.",
    ),
    (
        "on-success-on-update-beside-on-failure",
        "UpdateEventSourceMapping",
        {
            **UPDATE,
            "DestinationConfig": {"OnFailure": {"Destination": DLQ}, "OnSuccess": {}},
        },
        InvalidParameterValueException,
        "Unsupported DestinationConfig parameter for given event source mapping type.",
    ),
    (
        "maximum-record-age-0",
        "CreateEventSourceMapping",
        {**CREATE, "MaximumRecordAgeInSeconds": 0},
        InvalidParameterValueException,
        AGE_MESSAGE,
    ),
    (
        "maximum-record-age-59",
        "CreateEventSourceMapping",
        {**CREATE, "MaximumRecordAgeInSeconds": 59},
        InvalidParameterValueException,
        AGE_MESSAGE,
    ),
    (
        "maximum-record-age-604801",
        "CreateEventSourceMapping",
        {**CREATE, "MaximumRecordAgeInSeconds": 604801},
        InvalidParameterValueException,
        AGE_MESSAGE,
    ),
    (
        "update-maximum-record-age-30",
        "UpdateEventSourceMapping",
        {**UPDATE, "MaximumRecordAgeInSeconds": 30},
        InvalidParameterValueException,
        AGE_MESSAGE,
    ),
    (
        "six-filters-over-quota",
        "CreateEventSourceMapping",
        {**CREATE, "FilterCriteria": {"Filters": [{"Pattern": "{}"}] * 6}},
        InvalidParameterValueException,
        "FilterCriteria has 6 filters, more than the quota of 5 filters per event source mapping.",
    ),
    (
        "starting-position-timestamp-with-latest",
        "CreateEventSourceMapping",
        {**CREATE, "StartingPositionTimestamp": datetime.datetime(2026, 1, 1)},
        InvalidParameterValueException,
        _unsupported("StartingPositionTimestamp"),
    ),
    (
        "topics",
        "CreateEventSourceMapping",
        {**CREATE, "Topics": ["orders"]},
        InvalidParameterValueException,
        _unsupported("Topics"),
    ),
    (
        "queues",
        "CreateEventSourceMapping",
        {**CREATE, "Queues": ["orders"]},
        InvalidParameterValueException,
        _unsupported("Queues"),
    ),
    (
        "source-access-configurations",
        "CreateEventSourceMapping",
        {**CREATE, "SourceAccessConfigurations": [{"Type": "BASIC_AUTH", "URI": "a:b"}]},
        InvalidParameterValueException,
        _unsupported("SourceAccessConfigurations"),
    ),
    (
        "self-managed-event-source",
        "CreateEventSourceMapping",
        {
            **CREATE,
            "SelfManagedEventSource": {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["b:9092"]}},
        },
        InvalidParameterValueException,
        _unsupported("SelfManagedEventSource"),
    ),
    (
        "amazon-managed-kafka-config",
        "CreateEventSourceMapping",
        {**CREATE, "AmazonManagedKafkaEventSourceConfig": {"ConsumerGroupId": "g"}},
        InvalidParameterValueException,
        _unsupported("AmazonManagedKafkaEventSourceConfig"),
    ),
    (
        "self-managed-kafka-config",
        "CreateEventSourceMapping",
        {**CREATE, "SelfManagedKafkaEventSourceConfig": {"ConsumerGroupId": "g"}},
        InvalidParameterValueException,
        _unsupported("SelfManagedKafkaEventSourceConfig"),
    ),
    (
        "scaling-config",
        "CreateEventSourceMapping",
        {**CREATE, "ScalingConfig": {"MaximumConcurrency": 2}},
        InvalidParameterValueException,
        _unsupported("ScalingConfig"),
    ),
    (
        "document-db-config",
        "CreateEventSourceMapping",
        {**CREATE, "DocumentDBEventSourceConfig": {"DatabaseName": "db"}},
        InvalidParameterValueException,
        _unsupported("DocumentDBEventSourceConfig"),
    ),
    (
        "logging-config",
        "CreateEventSourceMapping",
        {**CREATE, "LoggingConfig": {"SystemLogLevel": "INFO"}},
        InvalidParameterValueException,
        _unsupported("LoggingConfig"),
    ),
    (
        "provisioned-poller-config",
        "CreateEventSourceMapping",
        {**CREATE, "ProvisionedPollerConfig": {"MinimumPollers": 1}},
        InvalidParameterValueException,
        _unsupported("ProvisionedPollerConfig"),
    ),
    (
        "update-scaling-config",
        "UpdateEventSourceMapping",
        {**UPDATE, "ScalingConfig": {"MaximumConcurrency": 2}},
        InvalidParameterValueException,
        _unsupported("ScalingConfig"),
    ),
    (
        # Lambda user guide, tag quotas (D): at most 50 tags on a resource.
        "create-with-51-tags",
        "CreateEventSourceMapping",
        {**CREATE, "Tags": {f"k{i}": "v" for i in range(51)}},
        InvalidParameterValueException,
        "Tags has 51 tags, more than the 50 a resource can have.",
    ),
    (
        "first-unsupported-in-model-order",
        "CreateEventSourceMapping",
        {**CREATE, "Queues": ["q"], "ScalingConfig": {"MaximumConcurrency": 2}},
        InvalidParameterValueException,
        _unsupported("ScalingConfig"),
    ),
]

MIN_CREATE = {
    "EventSourceArn": ARN,
    "FunctionName": "f",
    "Enabled": False,
    "BatchSize": 1,
    "FilterCriteria": {"Filters": []},
    "MaximumBatchingWindowInSeconds": 0,
    "ParallelizationFactor": 1,
    "StartingPosition": "TRIM_HORIZON",
    "DestinationConfig": {"OnFailure": {"Destination": ""}},
    "MaximumRecordAgeInSeconds": -1,
    "BisectBatchOnFunctionError": False,
    "MaximumRetryAttempts": -1,
    "Tags": {},
    "TumblingWindowInSeconds": 0,
    "FunctionResponseTypes": [],
    "KMSKeyArn": "",
    "MetricsConfig": {"Metrics": []},
}
MAX_CREATE = {
    "EventSourceArn": ARN,
    "FunctionName": "f" * 256,
    "Enabled": True,
    "BatchSize": 10000,
    "FilterCriteria": {"Filters": [{"Pattern": "p" * 4096}] * 5},
    "MaximumBatchingWindowInSeconds": 300,
    "ParallelizationFactor": 10,
    "StartingPosition": "LATEST",
    "DestinationConfig": {"OnFailure": {"Destination": DLQ + "q" * (350 - len(DLQ))}},
    "MaximumRecordAgeInSeconds": 604800,
    "BisectBatchOnFunctionError": True,
    "MaximumRetryAttempts": 10000,
    "Tags": {"team": "orders", "env": "test"},
    "TumblingWindowInSeconds": 900,
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
    "KMSKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k",
    "MetricsConfig": {"Metrics": ["EventCount", "ErrorCount", "KafkaMetrics"]},
}


class TestCheckRequestRejects:
    """The exception class and exact message AWS gives for each bad request."""

    @pytest.mark.parametrize(
        ("operation", "params", "expected_class", "expected_message"),
        [pytest.param(*case[1:], id=case[0]) for case in INVALID],
    )
    def test_invalid_request(
        self,
        operation: str,
        params: dict[str, object],
        expected_class: type[Exception],
        expected_message: str,
    ) -> None:
        """Each invalid request raises AWS's exception class with AWS's message, byte for byte."""
        with pytest.raises(expected_class) as info:
            check_request(operation, params)
        assert expected_class is _declared_class(info.value)  # type() of a twin (errors.py)
        if isinstance(info.value, ParamValidationError):
            assert expected_message == info.value.report
        else:
            assert isinstance(info.value, ClientError)
            assert expected_message == info.value.message

    def test_param_validation_error_reads_as_botocore(self) -> None:
        """str() of a client-side failure starts with botocore's heading line."""
        with pytest.raises(ParamValidationError) as info:
            check_request("GetEventSourceMapping", {})
        expected = 'Parameter validation failed:\nMissing required parameter in input: "UUID"'
        assert expected == str(info.value)

    def test_client_error_names_the_operation(self) -> None:
        """A service-side error carries the operation name and AWS's error code."""
        with pytest.raises(InvalidParameterValueException) as info:
            check_request("CreateEventSourceMapping", {"FunctionName": "f"})
        expected_operation, expected_code = (
            "CreateEventSourceMapping",
            "InvalidParameterValueException",
        )
        assert expected_operation == info.value.operation_name
        assert expected_code == info.value.response["Error"]["Code"]
        expected = (
            "An error occurred (InvalidParameterValueException) when calling the "
            "CreateEventSourceMapping operation: Unrecognized event source."
        )
        assert expected == str(info.value)

    def test_validation_exception_names_the_operation(self) -> None:
        """A model-constraint error carries the operation name and the ValidationException code."""
        with pytest.raises(ValidationException) as info:
            check_request("UpdateEventSourceMapping", {**UPDATE, "BatchSize": 10001})
        expected_operation, expected_code = "UpdateEventSourceMapping", "ValidationException"
        assert expected_operation == info.value.operation_name
        assert expected_code == info.value.response["Error"]["Code"]

    def test_client_check_comes_before_service_checks(self) -> None:
        """A request that fails both layers gets botocore's answer, as nothing is sent."""
        params = {"FunctionName": "f", "BatchSize": 0, "StartingPosition": "nope"}
        with pytest.raises(ParamValidationError) as info:
            check_request("CreateEventSourceMapping", params)
        expected = "Invalid value for parameter BatchSize, value: 0, valid min value: 1"
        assert expected == info.value.report


class TestCheckRequestAccepts:
    """Requests inside every limit pass without an exception."""

    @pytest.mark.parametrize(
        ("operation", "params"),
        [
            pytest.param("CreateEventSourceMapping", MIN_CREATE, id="create-all-at-min"),
            pytest.param("CreateEventSourceMapping", MAX_CREATE, id="create-all-at-max"),
            pytest.param(
                "CreateEventSourceMapping",
                {**CREATE, "MaximumRecordAgeInSeconds": 60},
                id="create-record-age-60",
            ),
            pytest.param(
                "CreateEventSourceMapping",
                {**CREATE, "FunctionResponseTypes": ("ReportBatchItemFailures",)},
                id="create-tuple-list",
            ),
            pytest.param(
                "CreateEventSourceMapping",
                {**CREATE, "BatchSize": True},
                id="create-true-is-an-int-for-botocore",
            ),
            pytest.param(
                "UpdateEventSourceMapping",
                {
                    **{k: v for k, v in MIN_CREATE.items() if k not in CREATE and k != "Tags"},
                    **UPDATE,
                },
                id="update-all-at-min",
            ),
            pytest.param(
                "UpdateEventSourceMapping",
                {
                    **{k: v for k, v in MAX_CREATE.items() if k not in CREATE and k != "Tags"},
                    **UPDATE,
                    "FunctionName": "g" * 256,
                },
                id="update-all-at-max",
            ),
            pytest.param(
                "UpdateEventSourceMapping",
                {**UPDATE, "FilterCriteria": {}},
                id="update-empty-filter-criteria",
            ),
            pytest.param("GetEventSourceMapping", {"UUID": UUID}, id="get"),
            pytest.param("DeleteEventSourceMapping", {"UUID": UUID}, id="delete"),
            pytest.param("ListEventSourceMappings", {}, id="list-no-filter"),
            pytest.param(
                "ListEventSourceMappings",
                {"EventSourceArn": ARN, "FunctionName": "f", "Marker": "m", "MaxItems": 10000},
                id="list-all-members",
            ),
            pytest.param(
                "PutFunctionConcurrency",
                {"FunctionName": "f" * 140, "ReservedConcurrentExecutions": 0},
                id="put-concurrency-0",
            ),
            pytest.param("DeleteFunctionConcurrency", {"FunctionName": "f"}, id="delete-conc"),
            pytest.param("GetFunctionConcurrency", {"FunctionName": "f"}, id="get-conc"),
        ],
    )
    def test_valid_request(self, operation: str, params: dict[str, object]) -> None:
        """A request inside every client and service limit raises nothing."""
        check_request(operation, params)

    def test_request_is_not_changed(self) -> None:
        """Checking a request neither adds defaults nor alters what was passed."""
        params = {**CREATE, "FilterCriteria": {"Filters": [{"Pattern": "{}"}]}}
        before = {**params, "FilterCriteria": {"Filters": [{"Pattern": "{}"}]}}
        check_request("CreateEventSourceMapping", params)
        assert before == params


class TestMaxFilters:
    """The filter quota is a setting, 5 by default (spec 8)."""

    def test_five_filters_pass_by_default(self) -> None:
        """Five filters are within the default quota."""
        params = {**CREATE, "FilterCriteria": {"Filters": [{"Pattern": "{}"}] * 5}}
        check_request("CreateEventSourceMapping", params)

    def test_raised_quota_allows_ten(self) -> None:
        """With the quota raised to 10, ten filters pass."""
        params = {**CREATE, "FilterCriteria": {"Filters": [{"Pattern": "{}"}] * 10}}
        check_request("CreateEventSourceMapping", params, max_filters=10)

    def test_raised_quota_still_bounds(self) -> None:
        """With the quota raised to 10, eleven filters are rejected, naming count and quota."""
        params = {**UPDATE, "FilterCriteria": {"Filters": [{"Pattern": "{}"}] * 11}}
        with pytest.raises(InvalidParameterValueException) as info:
            check_request("UpdateEventSourceMapping", params, max_filters=10)
        expected = (
            "FilterCriteria has 11 filters, more than the quota of 10 filters per event source "
            "mapping."
        )
        assert expected == info.value.message


class TestCheckRequestArguments:
    """Python-facing misuse raises ConfigError naming the argument."""

    @pytest.mark.parametrize(
        ("kwargs", "expected"),
        [
            pytest.param(
                {"operation": "Invoke", "params": {}},
                "operation='Invoke' must be one of: CreateEventSourceMapping, "
                "UpdateEventSourceMapping, GetEventSourceMapping, DeleteEventSourceMapping, "
                "ListEventSourceMappings, PutFunctionConcurrency, DeleteFunctionConcurrency, "
                "GetFunctionConcurrency, TagResource, UntagResource, ListTags",
                id="unknown-operation",
            ),
            pytest.param(
                {"operation": "GetEventSourceMapping", "params": {"UUID": UUID}, "max_filters": 0},
                "max_filters=0 must be an int of at least 1",
                id="max-filters-0",
            ),
            pytest.param(
                {
                    "operation": "GetEventSourceMapping",
                    "params": {"UUID": UUID},
                    "max_filters": True,
                },
                "max_filters=True must be an int of at least 1",
                id="max-filters-bool",
            ),
        ],
    )
    def test_bad_argument(self, kwargs: dict[str, Any], expected: str) -> None:
        """A bad operation name or quota raises ConfigError with a name=value message."""
        with pytest.raises(ConfigError) as info:
            check_request(**kwargs)
        assert expected == str(info.value)


class TestLowerCamel:
    """Member names are spelt in AWS's message paths by lower-casing the first letter."""

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("BatchSize", "batchSize"),
            ("StartingPosition", "startingPosition"),
            ("KMSKeyArn", "kMSKeyArn"),
            ("UUID", "uUID"),
            ("", ""),
        ],
    )
    def test_lower_camel(self, name: str, expected: str) -> None:
        """Only the first character changes."""
        assert expected == lower_camel(name)


# ---------------------------------------------------------------------------
# Against the installed botocore
# ---------------------------------------------------------------------------

_NO_BOTOCORE = "botocore is not installed; the transcription cannot be compared with its model"


def _botocore_model() -> dict[str, Any]:
    """The installed botocore's Lambda service model, as the JSON dict it ships."""
    loaders = pytest.importorskip("botocore.loaders", reason=_NO_BOTOCORE)
    model: dict[str, Any] = loaders.Loader().load_service_model("lambda", "service-2")
    return model


def _transcription_differences(model: dict[str, Any]) -> list[str]:
    """Every way the transcription differs from ``model`` for the served operations."""
    from esm_sim._lambda.validation import _INPUT_SHAPES, _SHAPES

    shapes = model["shapes"]
    differences: list[str] = []
    pending: list[str] = []
    for operation, input_shape in _INPUT_SHAPES.items():
        theirs = model["operations"][operation]["input"]["shape"]
        if theirs != input_shape:
            differences.append(f"{operation}: input {input_shape!r}, botocore {theirs!r}")
        pending.append(theirs)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        raw = shapes[name]
        ours = _SHAPES.get(name)
        if ours is None:
            differences.append(f"{name}: not transcribed")
            continue
        members = tuple((member, ref["shape"]) for member, ref in raw.get("members", {}).items())
        expected = {
            "type": raw["type"],
            "min": raw.get("min"),
            "max": raw.get("max"),
            "enum": tuple(raw.get("enum", ())),
            "members": members,
            "required": tuple(raw.get("required", ())),
            "member": raw.get("member", {}).get("shape", ""),
            "key": raw.get("key", {}).get("shape", ""),
            "value": raw.get("value", {}).get("shape", ""),
        }
        for field, value in expected.items():
            if getattr(ours, field) != value:
                differences.append(f"{name}.{field}: {getattr(ours, field)!r}, botocore {value!r}")
        pending.extend(shape for _, shape in members)
        pending.extend(expected[k] for k in ("member", "key", "value") if expected[k])
    return differences


class TestAgainstBotocore:
    """The transcribed model and the client-side check are botocore's (spec 1.6)."""

    def test_transcription_matches_the_installed_model(self) -> None:
        """Each shape a served operation reaches has botocore's members, types, bounds and enums."""
        assert _transcription_differences(_botocore_model()) == []

    def test_a_changed_model_is_noticed(self) -> None:
        """The diff sees a changed bound, a new member and a new enum value."""
        model = _botocore_model()
        changed = {**model, "shapes": dict(model["shapes"])}
        shapes = changed["shapes"]
        shapes["UUIDString"] = {**shapes["UUIDString"], "max": 40}
        request = shapes["GetEventSourceMappingRequest"]
        shapes["GetEventSourceMappingRequest"] = {
            **request,
            "members": {**request["members"], "Qualifier": {"shape": "String"}},
        }
        shapes["FunctionResponseType"] = {
            **shapes["FunctionResponseType"],
            "enum": ["ReportBatchItemFailures", "Other"],
        }
        assert sorted(_transcription_differences(changed)) == [
            "FunctionResponseType.enum: ('ReportBatchItemFailures',), "
            "botocore ('ReportBatchItemFailures', 'Other')",
            "GetEventSourceMappingRequest.members: (('UUID', 'UUIDString'),), "
            "botocore (('UUID', 'UUIDString'), ('Qualifier', 'String'))",
            "UUIDString.max: 36, botocore 40",
        ]


class _Requests:
    """Seeded requests for one operation: valid, edge and wrong values, unknown and missing keys."""

    def __init__(self, seed: int) -> None:
        import random

        self.rng = random.Random(seed)

    def value(self, shape: Any, depth: int = 0) -> object:
        """A value for ``shape``: often valid, sometimes at or past a bound, sometimes wrong."""
        rng = self.rng
        kind = shape.type_name
        wrong: list[object] = [None, "x", 1, 1.5, True, [], {}, b"x", ("t",)]
        if rng.random() < 0.08:
            return rng.choice(wrong)
        low = shape.metadata.get("min")
        high = shape.metadata.get("max")
        if kind == "string":
            sizes = [0, 1, 36, 37, 35, 140, 141, 256, 257]
            sizes += [n for bound in (low, high) if bound is not None for n in (bound - 1, bound)]
            if shape.enum and rng.random() < 0.6:
                return rng.choice([*shape.enum, "BOGUS", ""])
            return "a" * max(0, rng.choice(sizes))
        if kind == "integer":
            edges = [-2, -1, 0, 1, 2, 10, 10001, True, False]
            edges += [n for bound in (low, high) if bound is not None for n in (bound - 1, bound)]
            return rng.choice(edges)
        if kind == "boolean":
            return rng.choice([True, False, 1, "true"])
        if kind == "timestamp":
            return rng.choice(
                [
                    datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
                    0,
                    1767225600.5,
                    "1767225600",
                    "2026-01-01T00:00:00+00:00",
                    "not a time",
                    [],
                ]
            )
        if kind == "list":
            if depth > 3:
                return []
            size = rng.choice([0, 1, 1, 2, 3, (low or 0), (high or 0) + 1])
            items = [self.value(shape.member, depth + 1) for _ in range(size)]
            return tuple(items) if rng.random() < 0.1 else items
        if kind == "map":
            if depth > 3:
                return {}
            out: dict[object, object] = {}
            for _ in range(rng.choice([0, 1, 2, 3])):
                key = self.value(shape.key, depth + 1)
                if isinstance(key, str | int):
                    out[key] = self.value(shape.value, depth + 1)
            return out
        assert kind == "structure", kind
        return self.structure(shape, depth)

    def structure(self, shape: Any, depth: int = 0) -> dict[str, object]:
        """Required members (mostly), a few others, and now and then an unknown key."""
        rng = self.rng
        out: dict[str, object] = {}
        required = shape.metadata.get("required", [])
        share = 0.15 if depth == 0 else 0.5
        for name, member in shape.members.items():
            wanted = rng.random() < (0.9 if name in required else share)
            if wanted and depth <= 3:
                out[name] = self.value(member, depth + 1)
        if rng.random() < 0.1:
            out[rng.choice(["Bogus", "uuid", "Tags2"])] = 1
        return out


def _botocore_report(params: dict[str, object], input_shape: Any) -> str:
    from botocore.validate import ParamValidator

    report: str = ParamValidator().validate(params, input_shape).generate_report()
    return report


def _esm_sim_report(operation: str, params: dict[str, object]) -> str:
    """esm_sim's client-side report, or "" when the request passes the client-side check."""
    try:
        check_request(operation, params)
    except ParamValidationError as exc:
        return exc.report
    except ClientError:
        return ""  # refused by the simulated service, after botocore would have sent it
    return ""


REQUESTS_PER_OPERATION = 400


class TestClientSideCheckIsBotocores:
    """esm_sim refuses client-side exactly what botocore's ParamValidator refuses (spec 1.6)."""

    @pytest.mark.parametrize("operation", list(OPERATIONS))
    def test_generated_requests_get_botocores_report(self, operation: str) -> None:
        """Seeded requests with edge, wrong, unknown and missing values get the same report."""
        pytest.importorskip("botocore.validate", reason=_NO_BOTOCORE)
        from botocore.model import ServiceModel

        input_shape = ServiceModel(_botocore_model()).operation_model(operation).input_shape
        requests = _Requests(seed=sum(map(ord, operation)))
        refused = 0
        for _ in range(REQUESTS_PER_OPERATION):
            params = requests.structure(input_shape)
            theirs = _botocore_report(params, input_shape)
            assert _esm_sim_report(operation, params) == theirs, params
            refused += bool(theirs)
        # The mix exercises both answers, not only one.
        assert 0 < refused < REQUESTS_PER_OPERATION
