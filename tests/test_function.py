"""Tests for esm_sim._lambda.function: the handler's context, run_handler's outcomes, Invocation."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest

import esm_sim
from esm_sim._engine.timefmt import iso_ms
from esm_sim._lambda.function import (
    MAX_RESPONSE_BYTES,
    Context,
    ExceptionStore,
    Function,
    Invocation,
    run_handler,
)
from esm_sim.errors import ConfigError
from tests.gc_helpers import tracked_growth

T2026 = 1_767_225_600_000
FN_ARN = "arn:aws:lambda:us-east-1:123456789012:function:proc"


def _run(handler: Any, *, records: int = 1, **fn_kwargs: Any) -> tuple[esm_sim.Simulation, Any]:
    """Drive ``handler`` through a real mapping: one table, one function, one batch."""
    sim = esm_sim.Simulation(seed=0)
    table = sim.create_table("orders", partition_key="pk")
    fn = sim.create_function("proc", handler, **fn_kwargs)
    sim.lambda_client.create_event_source_mapping(
        FunctionName="proc",
        EventSourceArn=table.stream_arn,
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=0,
    )
    for i in range(records):
        table.put_item({"pk": f"k{i}"})
    sim.run_until_idle(max_seconds=600)
    return sim, fn


def _direct(handler: Any, *, timeout: float = 3, duration: Any = 0.0) -> Invocation:
    """Run ``handler`` once through run_handler, without a simulation."""
    fn = Function("proc", handler, arn=FN_ARN, timeout=timeout, duration=duration, memory_size=128)
    inv = Invocation(request_id="req-1", render=lambda: {"Records": []}, started_ms=T2026)
    ctx = Context(
        function=fn,
        request_id="req-1",
        deadline_ms=T2026 + fn.timeout_ms,
        now_ms=lambda: T2026,
        log_stream_name="s",
    )
    inv.ended_ms = T2026 + run_handler(inv, fn, {"Records": []}, ctx)
    inv._raise_pending()  # as the runtime does once the end is scheduled
    return inv


class TestContext:
    """spec 10: the Python context object, on the virtual clock."""

    def test_fields(self) -> None:
        """The context carries the function's identity as the Python runtime does."""
        seen: dict[str, Any] = {}

        def handler(event: Any, context: Any) -> None:
            seen.update(
                aws_request_id=context.aws_request_id,
                function_name=context.function_name,
                function_version=context.function_version,
                invoked_function_arn=context.invoked_function_arn,
                memory_limit_in_mb=context.memory_limit_in_mb,
                log_group_name=context.log_group_name,
                log_stream_name=context.log_stream_name,
                remaining=context.get_remaining_time_in_millis(),
                client_context=context.client_context,
                identity=context.identity,
            )

        _, fn = _run(handler, timeout=7, memory_size=256)
        inv = fn.invocations[0]
        assert {
            "aws_request_id": inv.request_id,
            "function_name": "proc",
            "function_version": "$LATEST",
            "invoked_function_arn": FN_ARN,
            "memory_limit_in_mb": "256",
            "log_group_name": "/aws/lambda/proc",
            "log_stream_name": "2026/01/01/[$LATEST]" + inv.request_id.replace("-", ""),
            "remaining": 7000,
            "client_context": None,
            "identity": None,
        } == seen

    def test_memory_limit_is_str(self) -> None:
        """memory_limit_in_mb is a str, as the runtime reads it from the environment."""
        seen: list[Any] = []
        _run(lambda e, c: seen.append(c.memory_limit_in_mb))
        assert [str] == [type(v) for v in seen]

    def test_request_id_is_uuid(self) -> None:
        """aws_request_id is a 36-character UUID."""
        _, fn = _run(lambda e, c: None)
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
            fn.invocations[0].request_id,
        )

    def test_remaining_time_equals_timeout_at_start(self) -> None:
        """At the start instant (where the handler and a duration callable run) remaining == timeout."""
        seen: list[int] = []

        def duration(event: Any, context: Any) -> float:
            seen.append(context.get_remaining_time_in_millis())
            return 1.0

        _run(
            lambda e, c: seen.append(c.get_remaining_time_in_millis()), timeout=3, duration=duration
        )
        assert [3000, 3000] == seen

    def test_remaining_time_shrinks_and_never_below_zero(self) -> None:
        """get_remaining_time_in_millis is deadline minus now, and never below 0."""
        now = [T2026]
        fn = Function(
            "proc", lambda e, c: None, arn=FN_ARN, timeout=3, duration=0.0, memory_size=128
        )
        ctx = Context(
            function=fn,
            request_id="r",
            deadline_ms=T2026 + 3000,
            now_ms=lambda: now[0],
            log_stream_name="s",
        )
        readings = []
        for t in (0, 1250, 3000, 9999):
            now[0] = T2026 + t
            readings.append(ctx.get_remaining_time_in_millis())
        assert [3000, 1750, 0, 0] == readings


class TestRunHandler:
    """run_handler: how a handler's behaviour becomes an invocation outcome (spec 3.1, 10)."""

    def test_success(self) -> None:
        """A handler that returns JSON succeeds: no error, response and response_json set."""
        _, fn = _run(lambda e, c: {"ok": True})
        inv = fn.invocations[0]
        assert (None, None, {"ok": True}, {"ok": True}) == (
            inv.error,
            inv.error_type,
            inv.response,
            inv.response_json,
        )

    def test_handler_raises(self) -> None:
        """A raised exception is an Unhandled error typed by the exception's class name."""

        class PoisonPill(Exception):
            pass

        def handler(event: Any, context: Any) -> None:
            raise PoisonPill("bad record")

        _, fn = _run(handler)
        inv = fn.invocations[0]
        assert ("Unhandled", "PoisonPill", "bad record") == (
            inv.error,
            inv.error_type,
            inv.error_message,
        )
        assert isinstance(inv.exception, PoisonPill)
        assert None is inv.response

    def test_timeout(self) -> None:
        """Running past the timeout is Sandbox.Timedout, ending exactly at the timeout."""
        _, fn = _run(lambda e, c: {"ok": True}, timeout=3, duration=5.0)
        inv = fn.invocations[0]
        assert ("Unhandled", "Sandbox.Timedout") == (inv.error, inv.error_type)
        assert inv.error_message is not None
        assert inv.error_message.endswith("Task timed out after 3.00 seconds")
        assert inv.error_message.startswith(f"{iso_ms(inv.ended_ms)} {inv.request_id} ")
        assert 3000 == inv.duration_ms

    def test_timeout_fractional(self) -> None:
        """The timeout message gives the timeout with two decimals."""
        inv = _direct(lambda e, c: None, timeout=1.5, duration=2)
        assert inv.error_message is not None
        assert inv.error_message.endswith("Task timed out after 1.50 seconds")

    def test_duration_equal_to_timeout_is_not_a_timeout(self) -> None:
        """A run that lasts exactly the timeout succeeds."""
        inv = _direct(lambda e, c: None, timeout=2, duration=2)
        assert (None, 2000) == (inv.error, inv.duration_ms)

    def test_duration_callable(self) -> None:
        """A duration callable sets the virtual running time from the event."""
        inv = _direct(lambda e, c: None, duration=lambda e, c: 0.25 + len(e["Records"]))
        assert 250 == inv.duration_ms

    def test_non_json_response(self) -> None:
        """A response JSON cannot encode is Runtime.MarshalError, 'Unable to marshal response: ...'."""
        _, fn = _run(lambda e, c: {"s": {1, 2}})
        inv = fn.invocations[0]
        assert ("Unhandled", "Runtime.MarshalError") == (inv.error, inv.error_type)
        assert (
            "Unable to marshal response: Object of type set is not JSON serializable"
            == inv.error_message
        )

    def test_response_too_large(self) -> None:
        """A response over 6 MB is Function.ResponseSizeTooLarge."""
        _, fn = _run(lambda e, c: "x" * MAX_RESPONSE_BYTES)
        inv = fn.invocations[0]
        assert ("Unhandled", "Function.ResponseSizeTooLarge") == (inv.error, inv.error_type)
        assert (
            f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
            == inv.error_message
        )

    def test_response_at_limit_ok(self) -> None:
        """A response of exactly the limit (as JSON bytes) is accepted."""
        inv = _direct(lambda e, c: "x" * (MAX_RESPONSE_BYTES - 2))
        assert None is inv.error

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (Decimal("5"), 5),
            (Decimal("1.5"), 1.5),
            (Decimal("1.0"), 1.0),
            (Decimal("-0"), 0),
            (Decimal("1E+2"), 100.0),
            (Decimal("123456789012345678901234567890"), 123456789012345678901234567890),
        ],
        ids=["int", "fraction", "trailing-zero", "neg-zero", "exponent", "big-int"],
    )
    def test_decimal_is_a_number(self, value: Decimal, expected: Any) -> None:
        """A Decimal is marshalled as its own text, a JSON number (as the Python runtime does)."""
        inv = _direct(lambda e, c: {"v": value})
        assert None is inv.error
        assert (expected, type(expected)) == (inv.response_json["v"], type(inv.response_json["v"]))

    def test_response_json_is_after_json(self) -> None:
        """response_json is what came through JSON: tuples become lists, int keys strings."""
        _, fn = _run(lambda e, c: {"t": (1, 2), 3: "x"})
        inv = fn.invocations[0]
        assert ({"t": (1, 2), 3: "x"}, {"t": [1, 2], "3": "x"}) == (inv.response, inv.response_json)

    def test_bytes_response_is_not_a_marshal_error(self) -> None:
        """A bytes response is sent as it is, as the runtime does; JSON bytes are read as JSON."""
        inv = _direct(lambda e, c: b'{"batchItemFailures": []}')
        assert (None, {"batchItemFailures": []}) == (inv.error, inv.response_json)

    def test_none_response(self) -> None:
        """Returning None succeeds with a null response."""
        inv = _direct(lambda e, c: None)
        assert (None, None) == (inv.error, inv.response_json)


class TestInvocation:
    """Invocation: what the handler got and answered, and when."""

    def test_event_is_as_delivered_and_fresh(self) -> None:
        """event is the delivered event, rendered again on every access (a mutating handler cannot change it)."""

        def handler(event: dict[str, Any], context: Any) -> None:
            event["Records"][0]["eventName"] = "MUTATED"

        sim, fn = _run(handler, records=2)
        inv = fn.invocations[0]
        table = sim.tables["orders"]
        assert {"Records": table.shards[0].records} == inv.event
        assert inv.event is not inv.event

    def test_times_and_sequence_numbers(self) -> None:
        """started_at/ended_at are aware datetimes duration apart; sequence_numbers are the batch's."""
        sim, fn = _run(lambda e, c: None, records=3, duration=0.5)
        inv = fn.invocations[0]
        table = sim.tables["orders"]
        assert [int(s) for s in table.shards[0].sequence_numbers] == list(inv.sequence_numbers)
        assert (500, 0.5) == (inv.duration_ms, (inv.ended_at - inv.started_at).total_seconds())
        assert inv.started_at.tzinfo is not None
        assert (table.shards[0].shard_id, next(iter(sim.mappings))) == (
            inv.shard_id,
            inv.mapping_uuid,
        )

    def test_event_payload_is_json(self) -> None:
        """The event round-trips through JSON unchanged (it is what Lambda would send)."""
        _, fn = _run(lambda e, c: None, records=3)
        event = fn.invocations[0].event
        assert event == json.loads(json.dumps(event))


class TestInvocationLog:
    """Function.invocations: every run, in order, stored compactly and read back as Invocations."""

    def test_reads_give_equal_fresh_invocations(self) -> None:
        """Each read builds a new Invocation equal to the last: same request id, start and mapping."""
        _, fn = _run(lambda e, c: None, records=2)
        first, again = fn.invocations[0], fn.invocations[0]
        assert (True, False) == (first == again, first is again)
        assert [first] == fn.invocations[:1] == list(fn.invocations)
        assert first in fn.invocations

    def test_logs_concatenate_and_compare_like_lists(self) -> None:
        """Two logs add up to a list, and a log equals the list of its invocations."""
        _, fn = _run(lambda e, c: None, records=2)
        assert list(fn.invocations) * 2 == fn.invocations + fn.invocations
        assert fn.invocations[:1] + fn.invocations == [fn.invocations[0], *fn.invocations]

    def test_failed_invocation_keeps_error_exception_and_stack(self) -> None:
        """A raising handler's error, exception and formatted stack survive storage."""

        def handler(event: dict[str, Any], context: Any) -> None:
            raise KeyError("missing")

        _, fn = _run(handler)
        inv = fn.invocations[0]
        assert ("Unhandled", "KeyError", "'missing'") == (
            inv.error,
            inv.error_type,
            inv.error_message,
        )
        assert isinstance(inv.exception, KeyError)
        assert 'raise KeyError("missing")' in "".join(inv.stack_trace)
        assert "in handler" in inv.stack_trace[-1]

    @pytest.mark.parametrize("fails", [False, True], ids=["ok", "raised"])
    def test_stored_invocations_leave_no_object_for_the_gc(self, fails: bool) -> None:
        """Keeping invocations, successful or failed, adds no object per invocation for the cyclic GC."""

        def handler(event: dict[str, Any], context: Any) -> None:
            if fails:
                raise ValueError("bad")

        _, fn = _run(handler, records=3)
        log = fn.invocations
        inv = log[0]
        added = tracked_growth(lambda: [log.append(inv) for _ in range(2000)])
        assert added < 20  # a few frozen chunks, not 2000 rows
        assert [inv] * 2001 == list(log)

    def test_failed_rows_read_back_their_exception_and_frames(self) -> None:
        """A failed invocation's exception is kept aside and read back, with its stack."""

        def handler(event: dict[str, Any], context: Any) -> None:
            raise ValueError("bad")

        _, fn = _run(handler)
        inv = fn.invocations[0]
        assert ("bad", ValueError) == (str(inv.exception), type(inv.exception))
        assert 'raise ValueError("bad")' in "".join(inv.stack_trace)

    def test_sequence_numbers_come_from_the_batch_or_are_given(self) -> None:
        """sequence_numbers are the delivered batch's; a value set explicitly replaces them."""
        sim, fn = _run(lambda e, c: None, records=2)
        inv = fn.invocations[0]
        assert [int(s) for s in sim.tables["orders"].shards[0].sequence_numbers] == list(
            inv.sequence_numbers
        )
        inv.sequence_numbers = [7]
        assert (7,) == inv.sequence_numbers

    def test_mapping_log_lists_the_same_invocations(self) -> None:
        """The mapping's log and the function's log read back equal invocations."""
        sim, fn = _run(lambda e, c: None, records=2)
        (mapping,) = sim.mappings.values()
        assert list(fn.invocations) == list(mapping.invocations)


class CustomInit(Exception):
    def __init__(self, record_id: str) -> None:
        super().__init__(f"bad record {record_id}")
        self.record_id = record_id


class PlainError(Exception):
    pass


class TestExceptionStore:
    """What a handler raised is kept compactly when its type and args rebuild it exactly."""

    @pytest.mark.parametrize(
        "exc",
        [ValueError("x"), KeyError("k"), PlainError("poison", 3), RuntimeError()],
        ids=["ValueError", "KeyError", "subclass", "no-args"],
    )
    def test_plain_exceptions_are_rebuilt_equal(self, exc: BaseException) -> None:
        """A built-in-constructed exception with plain args reads back with the same type, args and text."""
        store = ExceptionStore()
        back = store.get(store.put(exc, 0))
        assert (type(exc), exc.args, str(exc)) == (type(back), back.args, str(back))
        assert [] == store.kept

    def test_exceptions_with_state_are_kept_as_they_are(self) -> None:
        """An exception with its own __init__, attributes, a cause, a non-plain arg or fields beyond args is the same object on read."""
        with_cause = ValueError("outer")
        with_cause.__cause__ = KeyError("inner")
        noted = ValueError("noted")
        noted.add_note("a note")
        try:
            object().missing  # type: ignore[attr-defined]  # noqa: B018
        except AttributeError as exc:
            attribute_error = exc  # carries .name and .obj besides args
        kept = [
            CustomInit("r1"),
            with_cause,
            noted,
            ValueError({"a": 1}),
            OSError(2, "gone"),
            attribute_error,
        ]
        store = ExceptionStore()
        refs = [store.put(e, 0) for e in kept]
        assert [True] * 6 == [store.get(r) is e for r, e in zip(refs, kept, strict=True)]

    def test_a_sim_keeps_the_handler_exception_type_and_args(self) -> None:
        """Through a simulation, inv.exception has the raised type and args; custom state survives."""

        def handler(event: dict[str, Any], context: Any) -> None:
            raise CustomInit("r9")

        _, fn = _run(handler)
        exc = fn.invocations[0].exception
        assert (CustomInit, "r9") == (type(exc), getattr(exc, "record_id", None))


class TestFunctionArgs:
    """create_function refuses bad arguments with ConfigError."""

    @pytest.mark.parametrize(
        ("kwargs", "pattern"),
        [
            ({"handler": 5}, r"^handler=5 must be a callable"),
            ({"timeout": 0}, r"^timeout=0 must be a number of seconds from 1 ms to 900"),
            ({"timeout": 901}, r"^timeout=901 must be"),
            ({"timeout": True}, r"^timeout=True must be"),
            ({"duration": -1}, r"^duration=-1 must be a finite number of seconds >= 0"),
            ({"duration": float("inf")}, r"^duration=inf must be"),
            ({"memory_size": 127}, r"^memory_size=127 must be MB in 128\.\.10240"),
            ({"memory_size": 10241}, r"^memory_size=10241 must be"),
        ],
        ids=[
            "handler-not-callable",
            "timeout-zero",
            "timeout-over-900",
            "timeout-bool",
            "duration-negative",
            "duration-infinite",
            "memory-too-small",
            "memory-too-large",
        ],
    )
    def test_config_errors(self, kwargs: dict[str, Any], pattern: str) -> None:
        """Each invalid argument raises ConfigError naming it as name=value."""
        sim = esm_sim.Simulation(seed=0)
        args: dict[str, Any] = {"handler": lambda e, c: None, **kwargs}
        handler = args.pop("handler")
        with pytest.raises(ConfigError, match=pattern):
            sim.create_function("proc", handler, **args)

    def test_duration_callable_bad_return(self) -> None:
        """A duration callable that returns a negative number is a ConfigError."""
        with pytest.raises(ConfigError, match=r"^duration callable returned -1"):
            _direct(lambda e, c: None, duration=lambda e, c: -1)


class TestSharedRows:
    """Issue 18: one row per invocation, shared by the function's log and the mapping's."""

    def test_mapping_log_references_the_function_rows(self) -> None:
        """The mapping's log keeps no copy of a row: it lists the function's rows, equal item by item."""
        sim, fn = _run(lambda e, c: None, records=3)
        (mapping,) = sim.mappings.values()
        assert len(mapping.invocations) == len(fn.invocations) == 1
        assert len(mapping.invocations._rows) == 0  # no row of its own
        assert list(mapping.invocations) == list(fn.invocations)
        assert mapping.invocations[0].event == fn.invocations[0].event

    def test_context_field_set_by_handler_is_kept(self) -> None:
        """A context field the handler sets keeps its value when the others are filled in."""
        seen: list[Any] = []

        def handler(event: Any, context: Any) -> None:
            context.identity = "mine"
            seen.append((context.function_name, context.identity, context.client_context))

        _run(handler)
        assert [("proc", "mine", None)] == seen
