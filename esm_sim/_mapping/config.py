"""
Settings: one mapping's AWS parameters, and the simulator's choices where AWS is silent.

``MappingConfig`` holds a mapping's parameters in snake_case with time already
in integer milliseconds; it is built once per create or update, from the
request boto3 would send (the AWS-facing names). ``Behaviour`` holds every
choice the spec tags I (inferred): each is a keyword of ``Simulation`` and is
listed in the README section "Where AWS is silent".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from esm_sim._mapping.filtering import FilterSet
from esm_sim.errors import ConfigError

SECOND_MS = 1000


@attrs.frozen(kw_only=True)
class MappingConfig:
    """The parameters of one event source mapping that drive its behaviour (spec 1.2)."""

    batch_size: int = 100
    maximum_batching_window_ms: int = 0
    parallelization_factor: int = 1
    maximum_retry_attempts: int = -1  # -1: until the record leaves the stream
    maximum_record_age_ms: int = -1  # -1: no age limit but the stream's retention
    bisect_batch_on_function_error: bool = False
    on_failure_destination: str | None = None
    tumbling_window_ms: int = 0
    report_batch_item_failures: bool = False
    filters: FilterSet | None = None

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any], filters: FilterSet | None) -> MappingConfig:
        """Build from a mapping's AWS fields (the keys of its configuration response)."""
        age = fields["MaximumRecordAgeInSeconds"]
        destination = fields["DestinationConfig"].get("OnFailure", {}).get("Destination") or None
        return cls(
            batch_size=fields["BatchSize"],
            maximum_batching_window_ms=fields["MaximumBatchingWindowInSeconds"] * SECOND_MS,
            parallelization_factor=fields["ParallelizationFactor"],
            maximum_retry_attempts=fields["MaximumRetryAttempts"],
            maximum_record_age_ms=-1 if age == -1 else age * SECOND_MS,
            bisect_batch_on_function_error=fields["BisectBatchOnFunctionError"],
            on_failure_destination=destination,
            tumbling_window_ms=fields["TumblingWindowInSeconds"] * SECOND_MS,
            report_batch_item_failures="ReportBatchItemFailures" in fields["FunctionResponseTypes"],
            filters=filters,
        )


def _non_negative_ms(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        msg = f"{attribute.name}={value!r} must be an int of milliseconds >= 0"
        raise ConfigError(msg)


def _non_negative_count(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        msg = f"{attribute.name}={value!r} must be an int >= 0"
        raise ConfigError(msg)


def _positive_count(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        msg = f"{attribute.name}={value!r} must be an int >= 1"
        raise ConfigError(msg)


def _delay_or_default(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < -1:
        msg = f"{attribute.name}={value!r} must be an int of milliseconds >= 0, or -1"
        raise ConfigError(msg)


def _one_of(*choices: object) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        # bool is an int: keep True from passing for 1.
        if isinstance(value, bool) or value not in choices:
            options = ", ".join(repr(c) for c in choices)
            msg = f"{attribute.name}={value!r} must be one of {options}"
            raise ConfigError(msg)

    return check


@attrs.frozen(kw_only=True)
class Behaviour:
    """
    The simulator's documented choices where AWS does not say (spec tag I).

    Every field is a keyword argument of ``Simulation`` of the same name, in
    seconds where it is a duration (converted here to ms).
    """

    # spec 1.4: Creating->Enabled, Enabling->Enabled, Updating->settled,
    # Disabling->Disabled and Deleting->gone take "several minutes" on AWS
    # (90 s for Kafka updates). One delay for all, default 5 s.
    state_transition_ms: int = attrs.field(default=5_000, validator=_non_negative_ms)
    # spec 2: each shard is polled 4 times a second while there is nothing to read.
    poll_interval_ms: int = attrs.field(default=250, validator=_non_negative_ms)
    # spec 3.2: AWS publishes no backoff. Exponential from 1 s, doubling, capped at
    # 60 s, for function errors and throttles alike (api-contract).
    retry_backoff_base_ms: int = attrs.field(default=1_000, validator=_non_negative_ms)
    retry_backoff_max_ms: int = attrs.field(default=60_000, validator=_non_negative_ms)
    # spec 7.1 / 12.8: a shard is sealed and replaced "about every 4 hours" (I);
    # 0 turns rollovers off.
    shard_rollover_ms: int = attrs.field(default=4 * 3_600_000, validator=_non_negative_ms)
    # spec 7.1: records are kept 24 hours, then trimmed.
    retention_ms: int = attrs.field(default=86_400_000, validator=_non_negative_ms)
    # spec 3.4 (I): whether the halves of a split start with a fresh retry count
    # (False: they inherit the count of the batch that failed; splitting uses none).
    bisect_resets_retries: bool = False
    # spec 3.4 (I): the first half is finished before the second, to keep order.
    bisect_first_half_first: bool = True
    # spec 4 (I, read from O): after a partial response moves the checkpoint,
    # the remaining records get a fresh attempt count.
    partial_progress_resets_retries: bool = True
    # spec 7.4 (I): DynamoDB advises at most two processes reading a shard at once;
    # with a limit N > 0, a GetRecords call is throttled when N other mappings read
    # the shard within the last second, and the poll is tried again a tick later.
    # 0 (the default) models no read throttling.
    max_readers_per_shard: int = attrs.field(default=0, validator=_non_negative_count)
    # spec 3.4 (I): where a failing batch of n records splits: the first half is
    # the larger, ceil(n/2) (True), or the smaller, floor(n/2) (False).
    bisect_first_half_larger: bool = True
    # spec 4 (I): the wait before the failed suffix of a partial batch response is
    # retried; -1 (the default) takes the retry backoff's first step (1 s).
    partial_retry_delay_ms: int = attrs.field(default=-1, validator=_delay_or_default)
    # spec 4, 11 rows 2 and 25 (I): under ReportBatchItemFailures, a response that
    # is not a JSON object (and not one of the documented empty values: null, "",
    # []) is success ("success") or a complete failure ("failure").
    non_object_response: str = attrs.field(
        default="success", validator=_one_of("success", "failure")
    )
    # spec 3.3 (I, from O): approximateInvokeCount of a RecordAgeExceeded record is
    # max(this, invocations so far): 1 (recorded for a never-sent record) or 0.
    record_age_min_invoke_count: int = attrs.field(default=1, validator=_one_of(0, 1))
    # spec 6.1 (I): tumbling windows aligned to the epoch ("epoch") or to the
    # first record each shard (or lane) reads ("first-record").
    tumbling_window_alignment: str = attrs.field(
        default="epoch", validator=_one_of("epoch", "first-record")
    )
    # spec 6.3 (I): what closes a tumbling window: the virtual clock reaching its
    # end ("clock"), or only reading a record of a later window or the shard's
    # end ("record"); with "record" a window waits, idle, for the next write.
    tumbling_window_close: str = attrs.field(default="clock", validator=_one_of("clock", "record"))
    # spec 2, 12.7 (I): GetRecords calls a poll may make while the batch is not
    # full and there is more to read (each call: 1000 records / 1 MB, spec 7.2).
    get_records_per_poll: int = attrs.field(default=1, validator=_positive_count)
    # spec 9.1 / 11 row 10: IteratorAge measured when the event is sent
    # ("send"), or when the invocation finished ("finish").
    iterator_age_at: str = attrs.field(default="send", validator=_one_of("send", "finish"))

    def partial_retry_wait_ms(self) -> int:
        """The wait before the failed suffix of a partial batch response is retried (spec 4)."""
        if self.partial_retry_delay_ms >= 0:
            return self.partial_retry_delay_ms
        return self.backoff_ms(1)

    def backoff_ms(self, attempt: int) -> int:
        """The wait before retry number ``attempt`` (1-based)."""
        if attempt < 1:
            return 0
        return min(self.retry_backoff_base_ms << min(attempt - 1, 40), self.retry_backoff_max_ms)
