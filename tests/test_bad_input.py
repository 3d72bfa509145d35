"""
Bad input is refused at the call, with an error that names the value.

One table of (call, bad keyword arguments) -> (error class, message), in the style
of Hypothesis's ``tests/cover/test_direct_strategies.py``: each row's id reads as
the call it makes. Python-facing calls raise ``ConfigError``; DynamoDB's own item
limits and Lambda's request rules raise the AWS error (``ValidationException``,
``InvalidParameterValueException``) with AWS's text where it is known. Rules a
row cannot show (boundaries, what is still accepted) have a test each below.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

import esm_sim
from esm_sim import testing
from esm_sim._engine.timefmt import MAX_MS, ms_to_datetime
from esm_sim._lambda.concurrency import INJECTABLE_ERRORS
from esm_sim._simulation import MAX_USER_CHAIN
from esm_sim._streams.wire import creation_seconds
from esm_sim.errors import (
    ConfigError,
    InvalidParameterValueException,
    SimulationLimitExceeded,
    ValidationException,
    _declared_class,
)

ARN_PREFIX = "arn:aws:{}:us-east-1:123456789012:"
HASHKEY_TOO_LARGE = (
    "One or more parameter values were invalid: "
    "Size of hashkey has exceeded the maximum size limit of2048 bytes"
)
RANGEKEY_TOO_LARGE = (
    "One or more parameter values were invalid: "
    "Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
)
NESTING = (
    "Nesting Levels have exceeded supported limits: "
    "Attributes in the item have nested levels beyond supported limit"
)
NAME_TOO_LARGE = (
    "1 validation error detected: Attribute name is too large, must be less than 65536 bytes"
)


class Shown:
    """An argument with a short repr for the test id (a 2049-byte key reads as 'k' * 2049)."""

    def __init__(self, value: object, text: str) -> None:
        self.value = value
        self.text = text

    def __repr__(self) -> str:
        return self.text


def nested(levels: int, inner: object = "x") -> dict[str, Any]:
    """An attribute value inside ``levels`` maps."""
    value: Any = inner
    for _ in range(levels):
        value = {"n": value}
    return value  # type: ignore[no-any-return]


def noop(event: object, context: object) -> None:
    return None


def _sim() -> esm_sim.Simulation:
    sim = esm_sim.Simulation(seed=0)
    sim.create_function("fn", noop)
    return sim


def _mapping_sim() -> tuple[esm_sim.Simulation, dict[str, Any]]:
    sim = _sim()
    table = sim.create_table("orders", partition_key="pk")
    request = {
        "FunctionName": "fn",
        "EventSourceArn": table.stream_arn,
        "StartingPosition": "TRIM_HORIZON",
    }
    return sim, request


def _create(**kwargs: Any) -> None:
    sim, request = _mapping_sim()
    sim.lambda_client.create_event_source_mapping(**request, **kwargs)


def _update(**kwargs: Any) -> None:
    sim, request = _mapping_sim()
    uuid = sim.lambda_client.create_event_source_mapping(**request)["UUID"]
    sim.run_for(10)  # Creating -> Enabled
    sim.lambda_client.update_event_source_mapping(UUID=uuid, **kwargs)


def _table() -> Any:
    return esm_sim.Simulation().create_table("orders", partition_key="pk", sort_key="sk")


CALLS: dict[str, Callable[..., object]] = {
    "Simulation": esm_sim.Simulation,
    "run_for": lambda **kw: esm_sim.Simulation().run_for(**kw),
    "run_until": lambda **kw: esm_sim.Simulation().run_until(**kw),
    "run_until_idle": lambda **kw: esm_sim.Simulation().run_until_idle(**kw),
    "call_at": lambda **kw: esm_sim.Simulation().call_at(**{"when": 1.8e9, "fn": print, **kw}),
    "call_later": lambda **kw: esm_sim.Simulation().call_later(**{"seconds": 1, "fn": print, **kw}),
    "create_function": lambda **kw: esm_sim.Simulation().create_function(
        **{"name": "fn", "handler": noop, **kw}
    ),
    "create_table": lambda **kw: esm_sim.Simulation().create_table(
        **{"name": "orders", "partition_key": "pk", **kw}
    ),
    "put_item": lambda **kw: _table().put_item(**kw),
    "delete_item": lambda **kw: _table().delete_item(**kw),
    "get_item": lambda **kw: _table().get_item(**kw),
    "inject_invoke_errors": lambda **kw: _sim().inject_invoke_errors("fn", **kw),
    "inject_duplicate_deliveries": lambda **kw: _sim().inject_duplicate_deliveries("fn", **kw),
    "create_event_source_mapping": _create,
    "update_event_source_mapping": _update,
    "fail_on_schedule": lambda **kw: testing.fail_on_schedule(esm_sim.Simulation(), **kw),
    "creation_seconds": creation_seconds,
}


def case(call: str, error: type[Exception], pattern: str, **kwargs: object) -> Any:
    """One row: ``call(**kwargs)`` raises ``error`` whose text matches ``pattern``."""
    shown = ", ".join(f"{name}={value!r}" for name, value in kwargs.items())
    return pytest.param(call, kwargs, error, pattern, id=f"{call}({shown})")


def destination(arn: str) -> dict[str, object]:
    return {"DestinationConfig": {"OnFailure": {"Destination": arn}}}


def bad_destination(call: str, arn: str) -> Any:
    return case(
        call,
        InvalidParameterValueException,
        rf"operation: The destination ARN {re.escape(arn)} is invalid\. The on-failure "
        r"destination of a DynamoDB stream event source mapping must be the ARN of an SQS "
        r"queue, an SNS topic or an S3 bucket\.$",
        DestinationConfig=Shown(destination(arn)["DestinationConfig"], f"on_failure({arn!r})"),
    )


NAN, INF = math.nan, math.inf
# 9999-12-31T23:00-05:00 is in year 10000 in UTC.
LATE = Shown(
    datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))), "<9999-12-31T23:00-05:00>"
)

BAD_INPUT = [
    # -- Simulation settings: NaN, infinities, absurd sizes, zero waits, non-bools --
    case(
        "Simulation",
        ConfigError,
        r"^poll_interval=nan must be a number of seconds",
        poll_interval=NAN,
    ),
    case(
        "Simulation",
        ConfigError,
        r"^retention_hours=nan must be a number of hours",
        retention_hours=NAN,
    ),
    case("Simulation", ConfigError, r"^retry_backoff_max=inf must be", retry_backoff_max=INF),
    case("Simulation", ConfigError, r"^partial_retry_delay=nan must be", partial_retry_delay=NAN),
    case(
        "Simulation",
        ConfigError,
        r"^state_transition_delay=1e\+300 must be",
        state_transition_delay=1e300,
    ),
    case(
        "Simulation", ConfigError, r"^shard_rollover_hours=-inf must be", shard_rollover_hours=-INF
    ),
    case(
        "Simulation",
        ConfigError,
        r"^poll_interval=0\.0001 must be .* is 0 ms\)$",
        poll_interval=0.0001,
    ),
    case(
        "Simulation",
        ConfigError,
        r"^retention_hours=1e-09 must be .* is 0 ms\)$",
        retention_hours=1e-9,
    ),
    case(
        "Simulation",
        ConfigError,
        r"^retry_backoff_base=0 must be .* from 1 ms",
        retry_backoff_base=0,
    ),
    case(
        "Simulation", ConfigError, r"^retry_backoff_max=0 must be .* from 1 ms", retry_backoff_max=0
    ),
    case(
        "Simulation",
        ConfigError,
        r"^partial_retry_delay=0 must be .* from 1 ms",
        partial_retry_delay=0,
    ),
    case(
        "Simulation",
        ConfigError,
        r"^retry_backoff_max=1 must not be less than retry_backoff_base=2$",
        retry_backoff_base=2,
        retry_backoff_max=1,
    ),
    case(
        "Simulation",
        ConfigError,
        r"^bisect_first_half_first='False' must be True or False \(a bool\)$",
        bisect_first_half_first="False",
    ),
    case(
        "Simulation",
        ConfigError,
        r"^bisect_resets_retries='no' must be True or False",
        bisect_resets_retries="no",
    ),
    case(
        "Simulation",
        ConfigError,
        r"^max_filters=True must be an int from 1 to 10$",
        max_filters=True,
    ),
    case(
        "Simulation",
        ConfigError,
        r"^get_records_per_poll=True must be an int",
        get_records_per_poll=True,
    ),
    case(
        "Simulation",
        ConfigError,
        r"^start=.* must be a time from 1970-01-01T00:00:00Z to 9999",
        start=LATE,
    ),
    case(
        "Simulation",
        ConfigError,
        r"^start=.* must be a time from 1970",
        start=Shown(datetime(1969, 12, 31, tzinfo=UTC), "<1969-12-31T00:00Z>"),
    ),
    # -- the clock's own arguments --
    case(
        "run_for",
        ConfigError,
        r"^seconds=nan must be a number of seconds from 0 to 253402300799$",
        seconds=NAN,
    ),
    case("run_for", ConfigError, r"^seconds=inf must be", seconds=INF),
    case("run_for", ConfigError, r"^seconds=-1 must be", seconds=-1),
    case("run_for", ConfigError, r"^seconds=True must be", seconds=True),
    case("run_for", ConfigError, r"^seconds=1000000000000000\.0 must be", seconds=1e15),
    case("run_for", ConfigError, r"^seconds=1e\+300 must be", seconds=1e300),
    case(
        "run_for",
        ConfigError,
        r"^seconds=253402300799 from now=2026-01-01T00:00:00\.000Z is past "
        r"9999-12-31T23:59:59\.999Z, the last millisecond a datetime holds$",
        seconds=MAX_MS // 1000,
    ),
    case(
        "run_until",
        ConfigError,
        r"^when=nan must be a timezone-aware datetime or epoch seconds",
        when=NAN,
    ),
    case("run_until", ConfigError, r"^when=inf must be", when=INF),
    case("run_until", ConfigError, r"^when=1e\+300 must be", when=1e300),
    case("run_until", ConfigError, r"^when=.* must be a time from 1970", when=LATE),
    case(
        "run_until",
        ConfigError,
        r"^when=.* must be timezone-aware",
        when=Shown(datetime(2026, 1, 2), "<2026-01-02T00:00, naive>"),
    ),
    case("run_until_idle", ConfigError, r"^max_seconds=nan must be", max_seconds=NAN),
    case("run_until_idle", ConfigError, r"^max_seconds=-inf must be", max_seconds=-INF),
    case("run_until_idle", ConfigError, r"^max_seconds=1e\+20 must be", max_seconds=1e20),
    case("call_at", ConfigError, r"^when=nan must be", when=NAN),
    case("call_at", ConfigError, r"^when=inf must be", when=INF),
    case("call_at", ConfigError, r"^fn=5 must be callable", fn=5),
    case("call_at", ConfigError, r"^fn=None must be callable", fn=None),
    case("call_later", ConfigError, r"^seconds=nan must be", seconds=NAN),
    case("call_later", ConfigError, r"^seconds=1e\+300 must be", seconds=1e300),
    case("call_later", ConfigError, r"^fn=5 must be callable", fn=5),
    case(
        "create_function", ConfigError, r"^timeout=nan must be .* \(Lambda Timeout\)$", timeout=NAN
    ),
    case("create_function", ConfigError, r"^timeout=inf must be", timeout=INF),
    case(
        "create_function",
        ConfigError,
        r"^timeout=0\.0001 must be a number of seconds from 1 ms",
        timeout=0.0001,
    ),
    case("create_function", ConfigError, r"^duration=nan must be a finite number", duration=NAN),
    case("create_function", ConfigError, r"^duration=-inf must be", duration=-INF),
    case("fail_on_schedule", ConfigError, r"^start=nan must be", windows=[(NAN, 1.8e9)]),
    case("fail_on_schedule", ConfigError, r"^end=inf must be", windows=[(1.8e9, INF)]),
    case("creation_seconds", ConfigError, r"^ApproximateCreationDateTime=nan must be", value=NAN),
    case(
        "creation_seconds",
        ConfigError,
        r"^ApproximateCreationDateTime=Decimal\('NaN'\) must be",
        value=Decimal("NaN"),
    ),
    # -- items and keys --
    case(
        "put_item",
        ConfigError,
        r"^item=None must be a mapping of attribute names to values",
        item=None,
    ),
    case("put_item", ConfigError, r"^item=\[\('pk', 'a'\)\] must be a mapping", item=[("pk", "a")]),
    case("put_item", ConfigError, r"^item='pk' must be a mapping", item="pk"),
    case(
        "put_item",
        ConfigError,
        r"^item=.* holds the string '\\ud800' with a lone surrogate '\\ud800' at index 0, "
        r"which UTF-8 cannot encode",
        item={"pk": "\ud800", "sk": "s"},
    ),
    case(
        "put_item",
        ConfigError,
        r"lone surrogate '\\udfff' at index 1",
        item={"pk": "a", "sk": "s", "x\udfff": 1},
    ),
    case(
        "put_item",
        ConfigError,
        r"lone surrogate",
        item={"pk": "a", "sk": "s", "m": {"n": ["ok", "\ud801"]}},
    ),
    case(
        "put_item",
        ValidationException,
        rf"PutItem operation: {NESTING}$",
        item=Shown(
            {"pk": "a", "sk": "s", "x": nested(40)}, "{'pk': 'a', 'sk': 's', 'x': <40 maps deep>}"
        ),
    ),
    case(
        "put_item",
        ValidationException,
        rf"PutItem operation: {HASHKEY_TOO_LARGE}$",
        item=Shown({"pk": "k" * 2049, "sk": "s"}, "{'pk': 'k' * 2049, 'sk': 's'}"),
    ),
    case(
        "put_item",
        ValidationException,
        rf"PutItem operation: {RANGEKEY_TOO_LARGE}$",
        item=Shown({"pk": "a", "sk": "é" * 513}, "{'pk': 'a', 'sk': 'é' * 513}"),
    ),
    case(
        "put_item",
        ValidationException,
        rf"PutItem operation: {NAME_TOO_LARGE}$",
        item=Shown(
            {"pk": "a", "sk": "s", "n" * 65536: 1}, "{'pk': 'a', 'sk': 's', 'n' * 65536: 1}"
        ),
    ),
    case("delete_item", ConfigError, r"^key=None must be a mapping", key=None),
    case("delete_item", ConfigError, r"^key=.* lone surrogate", key={"pk": "\ud800", "sk": "s"}),
    case(
        "delete_item",
        ValidationException,
        rf"DeleteItem operation: {HASHKEY_TOO_LARGE}$",
        key=Shown({"pk": b"k" * 2049, "sk": "s"}, "{'pk': b'k' * 2049, 'sk': 's'}"),
    ),
    case("get_item", ConfigError, r"^key=5 must be a mapping", key=5),
    case(
        "create_table",
        ConfigError,
        r"^partition_key='k+' must name the key in 1 to 255 bytes of UTF-8",
        partition_key=Shown("k" * 256, "'k' * 256"),
    ),
    case(
        "create_table",
        ConfigError,
        r"^sort_key=.* must name the key in 1 to 255 bytes",
        sort_key="s\ud800",
    ),
    # -- fault injection --
    case("inject_invoke_errors", ConfigError, r"^count=True must be an int >= 1$", count=True),
    case(
        "inject_invoke_errors",
        ConfigError,
        r"^code=5 must be an error Lambda answers before invoking \(spec 3\.1, 10\), one of: "
        r"ServiceException, TooManyRequestsException, ConcurrentInvocationLimitExceeded, ",
        code=5,
    ),
    case(
        "inject_invoke_errors",
        ConfigError,
        r"^code='Boom' must be an error Lambda answers",
        code="Boom",
    ),
    case(
        "inject_duplicate_deliveries", ConfigError, r"^count=True must be an int >= 1$", count=True
    ),
    # -- on-failure destinations (spec 3.6) --
    bad_destination("create_event_source_mapping", ARN_PREFIX.format("lambda") + "function:other"),
    bad_destination("create_event_source_mapping", ARN_PREFIX.format("dynamodb") + "table/orders"),
    bad_destination(
        "create_event_source_mapping", ARN_PREFIX.format("events") + "event-bus/default"
    ),
    bad_destination("create_event_source_mapping", "not-an-arn"),
    bad_destination("create_event_source_mapping", "kafka://failures"),
    bad_destination("create_event_source_mapping", ARN_PREFIX.format("sqs")),
    bad_destination("update_event_source_mapping", ARN_PREFIX.format("lambda") + "function:other"),
    bad_destination("update_event_source_mapping", "not-an-arn"),
]


def _unwrap(kwargs: dict[str, object]) -> dict[str, object]:
    return {k: v.value if isinstance(v, Shown) else v for k, v in kwargs.items()}


@pytest.mark.parametrize(("call", "kwargs", "error", "pattern"), BAD_INPUT)
def test_bad_input_is_refused_at_the_call(
    call: str, kwargs: dict[str, object], error: type[Exception], pattern: str
) -> None:
    """Each bad argument is refused at the call with the expected error, naming the value."""
    with pytest.raises(error) as info:
        CALLS[call](**_unwrap(kwargs))
    assert error is _declared_class(info.value)  # type() of a botocore twin (errors.py)
    assert re.search(pattern, str(info.value)), str(info.value)


class TestItemLimits:
    def test_nothing_is_written_when_an_item_is_refused(self) -> None:
        """A refused put leaves neither an item nor a stream record."""
        table = _table()
        for item in ({"pk": "\ud800", "sk": "s"}, {"pk": "k" * 2049, "sk": "s"}):
            with pytest.raises((ConfigError, ValidationException)):
                table.put_item(item)
        assert (0, 0) == (len(table), len(table.shards[0]))

    def test_nesting_up_to_32_levels_is_accepted(self) -> None:
        """A value inside 31 maps or lists is stored; inside 32 it is refused (DynamoDB's 32 levels)."""
        table = _table()
        deepest_list: Any = "x"
        for _ in range(31):
            deepest_list = [deepest_list]
        table.put_item(
            {"pk": "a", "sk": "s", "m": nested(31), "l": deepest_list, "e": nested(31, {})}
        )
        assert 1 == len(table)
        for value in (nested(32), [deepest_list], nested(31, ["x"])):
            with pytest.raises(ValidationException, match=NESTING):
                table.put_item({"pk": "b", "sk": "s", "x": value})

    def test_a_value_that_contains_itself_is_refused(self) -> None:
        """A self-referencing map is refused at the nesting limit rather than recursing for ever."""
        loop: dict[str, Any] = {}
        loop["self"] = loop
        with pytest.raises(ValidationException, match=NESTING):
            _table().put_item({"pk": "a", "sk": "s", "loop": loop})

    def test_key_sizes_are_counted_in_utf8_bytes(self) -> None:
        """A partition key of 2048 bytes and a sort key of 1024 are stored; one byte more is refused."""
        table = _table()
        table.put_item({"pk": "é" * 1024, "sk": "s" * 1024})
        table.put_item({"pk": b"k" * 2048, "sk": "é" * 512})
        assert 2 == len(table)
        with pytest.raises(ValidationException, match=HASHKEY_TOO_LARGE):
            table.put_item({"pk": "é" * 1024 + "k", "sk": "s"})
        with pytest.raises(ValidationException, match=RANGEKEY_TOO_LARGE):
            table.put_item({"pk": "a", "sk": "s" * 1025})

    def test_attribute_names_up_to_65535_bytes_are_accepted(self) -> None:
        """An attribute name of 65535 bytes is stored, also nested; 65536 is refused at any depth."""
        table = _table()
        table.put_item({"pk": "a", "sk": "s", "n" * 65535: 1})
        table.put_item({"pk": "b", "sk": "s", "m": [{"n" * 65535: 1}]})
        assert 2 == len(table)
        with pytest.raises(ValidationException, match=NAME_TOO_LARGE):
            table.put_item({"pk": "c", "sk": "s", "m": [{"ñ" * 32768: 1}]})

    def test_item_value_errors_name_the_operation(self) -> None:
        """DynamoDB's checks on values name PutItem, as botocore's message does."""
        with pytest.raises(ValidationException) as info:
            _table().put_item({"pk": "a", "sk": "s", "set": set()})
        assert "PutItem" == info.value.operation_name


class TestClockLimits:
    def test_the_clock_runs_to_the_last_millisecond_a_datetime_holds(self) -> None:
        """run_for and run_until reach 9999-12-31T23:59:59.999Z; one millisecond more is refused."""
        sim = esm_sim.Simulation(start=datetime(9999, 12, 31, 23, 59, tzinfo=UTC))
        sim.run_for(59.998)
        sim.run_until(ms_to_datetime(MAX_MS))
        assert MAX_MS == sim.now_ms
        with pytest.raises(
            ConfigError, match=r"^seconds=0\.001 from now=9999-12-31T23:59:59\.999Z"
        ):
            sim.run_for(0.001)
        with pytest.raises(ConfigError, match=r"^seconds=1 from now=9999"):
            sim.call_later(1, print)

    def test_a_timeout_of_one_millisecond_is_accepted(self) -> None:
        """create_function takes a timeout down to 1 ms, and any finite duration (past the timeout it times out)."""
        fn = esm_sim.Simulation().create_function("fn", noop, timeout=0.001, duration=10**400)
        assert 1 == fn.timeout_ms

    @pytest.mark.parametrize("run", ["run_until_idle", "run_for", "run_until"])
    def test_a_user_call_rescheduling_itself_at_zero_delay_stops_the_run(self, run: str) -> None:
        """call_later(0, itself) forever would hold the clock still: the run raises SimulationLimitExceeded naming it, and the simulation goes on afterwards."""
        sim = esm_sim.Simulation()
        calls = [0]

        def again() -> None:
            calls[0] += 1
            sim.call_later(0, again)

        sim.call_later(0, again)
        runs = {
            "run_until_idle": lambda: sim.run_until_idle(max_seconds=60),
            "run_for": lambda: sim.run_for(60),
            "run_until": lambda: sim.run_until(sim.now + timedelta(seconds=60)),
        }
        with pytest.raises(
            SimulationLimitExceeded,
            match=r"^a chain of 100000 user calls ran at .*\(last: .*again\)",
        ):
            runs[run]()
        assert MAX_USER_CHAIN == calls[0]
        sim.run_for(1)  # the chain is broken: the clock moves again
        assert sim.is_idle()

    def test_many_user_calls_at_one_instant_are_not_a_chain(self) -> None:
        """Calls scheduled for one instant from outside a run, or as a burst by one call, or as many short chains, are not a zero-delay chain however many run: only a chain's depth is bounded."""
        sim = esm_sim.Simulation()
        calls = [0]

        def count(left: int = 0) -> None:
            calls[0] += 1
            if left:
                sim.call_later(0, count, left - 1)

        def burst() -> None:
            for _ in range(MAX_USER_CHAIN + 5):
                sim.call_later(0, count)

        for _ in range(MAX_USER_CHAIN + 5):
            sim.call_later(1, count)
        sim.call_later(2, burst)
        for _ in range(3):
            sim.call_later(3, count, MAX_USER_CHAIN // 2)  # interleaved chains
        sim.run_until_idle()
        assert 2 * (MAX_USER_CHAIN + 5) + 3 * (MAX_USER_CHAIN // 2 + 1) == calls[0]
        assert sim.is_idle()


class TestInjectInvokeErrors:
    @pytest.mark.parametrize("code", INJECTABLE_ERRORS)
    def test_every_before_invocation_error_is_accepted(self, code: str) -> None:
        """Each error Lambda answers before invoking can be injected, and is traced as a throttle of that code."""
        sim, request = _mapping_sim()
        sim.lambda_client.create_event_source_mapping(**request)
        sim.inject_invoke_errors("fn", count=1, code=code)
        sim.tables["orders"].put_item({"pk": "a"})
        sim.run_until_idle()
        assert [code] == [e.detail for e in sim.trace.events(kind="throttle")]


class TestDestinations:
    @pytest.mark.parametrize(
        "arn",
        [
            ARN_PREFIX.format("sqs") + "dlq",
            ARN_PREFIX.format("sqs") + "dlq.fifo",
            ARN_PREFIX.format("sns") + "alerts",
            "arn:aws:s3:::failures",
            "arn:aws-cn:sqs:cn-north-1:123456789012:dlq",
        ],
    )
    def test_queue_topic_and_bucket_arns_are_accepted(self, arn: str) -> None:
        """An SQS queue, SNS topic or S3 bucket ARN (of any partition) is an accepted destination (spec 3.6)."""
        sim, request = _mapping_sim()
        response = sim.lambda_client.create_event_source_mapping(**request, **destination(arn))
        assert {"OnFailure": {"Destination": arn}} == response["DestinationConfig"]

    def test_an_empty_destination_still_removes_it(self) -> None:
        """Destination "" is not an ARN but removes the destination (spec 1.2)."""
        sim, request = _mapping_sim()
        response = sim.lambda_client.create_event_source_mapping(**request, **destination(""))
        assert {"OnFailure": {}} == response["DestinationConfig"]
