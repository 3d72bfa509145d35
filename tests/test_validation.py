"""Tests for esm_sim._lambda.validation: AWS's own answers to bad Lambda requests."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from esm_sim._lambda.validation import check_request, lower_camel
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

CREATE_MEMBERS = (
    "EventSourceArn, FunctionName, Enabled, BatchSize, FilterCriteria, "
    "MaximumBatchingWindowInSeconds, ParallelizationFactor, StartingPosition, "
    "StartingPositionTimestamp, DestinationConfig, MaximumRecordAgeInSeconds, "
    "BisectBatchOnFunctionError, MaximumRetryAttempts, Tags, TumblingWindowInSeconds, Topics, "
    "Queues, SourceAccessConfigurations, SelfManagedEventSource, FunctionResponseTypes, "
    "AmazonManagedKafkaEventSourceConfig, SelfManagedKafkaEventSourceConfig, ScalingConfig, "
    "DocumentDBEventSourceConfig, KMSKeyArn, MetricsConfig, LoggingConfig, ProvisionedPollerConfig"
)
UPDATE_MEMBERS = (
    "UUID, FunctionName, Enabled, BatchSize, FilterCriteria, MaximumBatchingWindowInSeconds, "
    "DestinationConfig, MaximumRecordAgeInSeconds, BisectBatchOnFunctionError, "
    "MaximumRetryAttempts, ParallelizationFactor, SourceAccessConfigurations, "
    "TumblingWindowInSeconds, FunctionResponseTypes, ScalingConfig, "
    "AmazonManagedKafkaEventSourceConfig, SelfManagedKafkaEventSourceConfig, "
    "DocumentDBEventSourceConfig, KMSKeyArn, MetricsConfig, LoggingConfig, ProvisionedPollerConfig"
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
        "first-unsupported-in-model-order",
        "CreateEventSourceMapping",
        {**CREATE, "ScalingConfig": {"MaximumConcurrency": 2}, "Queues": ["q"]},
        InvalidParameterValueException,
        _unsupported("Queues"),
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
                "GetFunctionConcurrency",
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
