"""Tests for run_handler: no handler behaviour crashes or wedges the simulation (spec 3.1, 10)."""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

import pytest

import esm_sim
from esm_sim import invariants
from esm_sim._lambda.function import exception_text
from esm_sim.errors import ConfigError

FUNCTION = "proc"


def _run(
    handler: Any, *, records: int = 1, **fn_kwargs: Any
) -> tuple[esm_sim.Simulation, Any, str]:
    """Drive ``handler`` through a mapping with no retries; return the sim, function and uuid."""
    sim = esm_sim.Simulation(seed=0)
    table = sim.create_table("orders", partition_key="pk")
    fn = sim.create_function(FUNCTION, handler, **fn_kwargs)
    uuid = sim.lambda_client.create_event_source_mapping(
        FunctionName=FUNCTION,
        EventSourceArn=table.stream_arn,
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=0,
    )["UUID"]
    for i in range(records):
        table.put_item({"pk": f"k{i}"})
    sim.run_until_idle(max_seconds=600)
    return sim, fn, uuid


def _settled(sim: esm_sim.Simulation, uuid: str) -> None:
    """Every record has a final fate and the trace passes every invariant."""
    assert 0 == sim.fate_counts(uuid)["pending"]
    invariants.check_all(sim)


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


class ExplodingDict(dict[str, Any]):
    """A dict whose items() raises, as the JSON encoder calls it for a dict subclass."""

    def items(self) -> Any:
        raise RuntimeError("items() exploded")


class Opaque:
    """An object with the default repr, which names its memory address."""

    def poke(self) -> None:
        """A method: its bound repr holds the object's repr."""


class TestExceptionText:
    """Error messages are the same in every run: they reach the trace."""

    def test_memory_addresses_are_dropped(self) -> None:
        """A default repr in the message loses its address: '<Foo object at 0x...>' is '<Foo object>'."""
        text = exception_text(ValueError(f"bad {Opaque()!r} from {object()!r}"))
        assert f"bad <{__name__}.Opaque object> from <object object>" == text

    def test_nested_reprs_lose_every_address(self) -> None:
        """A bound method's repr loses the address of its object too."""
        text = exception_text(ValueError(repr(Opaque().poke)))
        assert f"<bound method Opaque.poke of <{__name__}.Opaque object>>" == text

    def test_other_hex_is_kept(self) -> None:
        """Hex that is not an object's address stays as it was written."""
        assert "jump at 0x10 failed" == exception_text(ValueError("jump at 0x10 failed"))

    def test_broken_str_is_reported_not_raised(self) -> None:
        """An exception whose __str__ raises reports '<exception str() failed>'."""

        class Broken(Exception):
            def __str__(self) -> str:
                raise RuntimeError("no text")

        assert "<exception str() failed>" == exception_text(Broken())

    def test_handler_error_message_in_trace_has_no_address(self) -> None:
        """A handler raising with an object's repr leaves no address in the invocation or trace."""

        def handler(event: Any, context: Any) -> None:
            raise ValueError(f"cannot use {Opaque()!r}")

        sim, fn, _ = _run(handler)
        assert f"cannot use <{__name__}.Opaque object>" == fn.invocations[0].error_message
        assert "0x" not in json.dumps([e.detail for e in sim.trace], default=str)

    def test_handler_exception_with_broken_str_is_a_function_error(self) -> None:
        """A raised exception whose __str__ fails is still a function error, not a crash."""

        class Broken(Exception):
            def __str__(self) -> str:
                raise RuntimeError("no text")

        def handler(event: Any, context: Any) -> None:
            raise Broken

        sim, fn, uuid = _run(handler)
        inv = fn.invocations[0]
        assert ("Unhandled", "Broken", "<exception str() failed>") == (
            inv.error,
            inv.error_type,
            inv.error_message,
        )
        _settled(sim, uuid)


class TestMarshalError:
    """spec 3.1: any response the runtime cannot marshal is Runtime.MarshalError (RIC marshaller)."""

    def test_deep_nesting_is_a_marshal_error(self) -> None:
        """A response nested deeper than the encoder recurses is a MarshalError, not a crash."""
        sim, fn, uuid = _run(lambda e, c: _nested(100_000))
        inv = fn.invocations[0]
        assert ("Unhandled", "Runtime.MarshalError") == (inv.error, inv.error_type)
        assert (
            "Unable to marshal response: maximum recursion depth exceeded while encoding a JSON object"
            == inv.error_message
        )
        _settled(sim, uuid)

    def test_exploding_items_is_a_marshal_error(self) -> None:
        """What a dict subclass's items() raises while encoding is a MarshalError with its text."""
        sim, fn, uuid = _run(lambda e, c: ExplodingDict(a=1))
        inv = fn.invocations[0]
        assert (
            "Unhandled",
            "Runtime.MarshalError",
            "Unable to marshal response: items() exploded",
        ) == (
            inv.error,
            inv.error_type,
            inv.error_message,
        )
        _settled(sim, uuid)

    def test_marshal_error_message_has_no_address(self) -> None:
        """An encoder error quoting an object's repr keeps no memory address."""

        class Loud(dict[str, Any]):
            def items(self) -> Any:
                raise RuntimeError(f"{Opaque()!r} is not a mapping")

        _, fn, _ = _run(lambda e, c: Loud(a=1))
        assert (
            f"Unable to marshal response: <{__name__}.Opaque object> is not a mapping"
            == fn.invocations[0].error_message
        )

    def test_deeply_nested_bytes_read_as_no_response(self) -> None:
        """A bytes response too deep for the JSON parser succeeds and reads as None (like non-JSON bytes)."""
        body = b"[" * 100_000 + b"]" * 100_000
        sim, fn, uuid = _run(lambda e, c: body)
        inv = fn.invocations[0]
        assert (None, None) == (inv.error, inv.response_json)
        _settled(sim, uuid)

    def test_marshal_errors_count_as_errors(self) -> None:
        """A MarshalError is a function error in the Errors metric."""
        sim, _, _ = _run(lambda e, c: ExplodingDict(a=1))
        assert 1 == sim.metrics.sum("Errors", function_name=FUNCTION)


def _exit_error(request_id: str, status: int) -> str:
    return f"RequestId: {request_id} Error: Runtime exited with error: exit status {status}"


class Shutdown(BaseException):
    """A BaseException that is not an Exception, as a library might define."""


class TestRuntimeExit:
    """spec 3.1 ('runtime crash'): what ends the runtime process is Runtime.ExitError."""

    @pytest.mark.parametrize(
        ("code", "status"),
        [(3, 3), (True, 1), (-1, 255), (2**70, 255), ("fatal: no config", 1)],
        ids=["int", "bool", "negative", "too-big", "string"],
    )
    def test_sys_exit_is_an_exit_error(self, code: Any, status: int) -> None:
        """sys.exit(code) is Runtime.ExitError with the process's exit status in Lambda's words."""

        def handler(event: Any, context: Any) -> None:
            sys.exit(code)

        sim, fn, uuid = _run(handler)
        inv = fn.invocations[0]
        assert ("Unhandled", "Runtime.ExitError", _exit_error(inv.request_id, status)) == (
            inv.error,
            inv.error_type,
            inv.error_message,
        )
        assert isinstance(inv.exception, SystemExit)
        _settled(sim, uuid)

    def test_exit_code_of_an_odd_int_subclass_is_read_as_python_does(self) -> None:
        """An int subclass's overridden operators do not change (or break) the exit status."""

        class Odd(int):
            def __and__(self, other: Any) -> Any:
                raise RuntimeError("no")

            def __ge__(self, other: Any) -> Any:
                raise RuntimeError("no")

        sim, fn, uuid = _run(lambda e, c: sys.exit(Odd(7)))
        inv = fn.invocations[0]
        assert _exit_error(inv.request_id, 7) == inv.error_message
        _settled(sim, uuid)

    @pytest.mark.parametrize("code", [None, 0, 256], ids=["none", "zero", "wraps-to-zero"])
    def test_clean_exit_gives_no_reason(self, code: Any) -> None:
        """Exit status 0 (sys.exit(), sys.exit(0), sys.exit(256)) gives Lambda no reason."""
        sim, fn, uuid = _run(lambda e, c: sys.exit(code))
        inv = fn.invocations[0]
        assert (
            "Runtime.ExitError",
            f"RequestId: {inv.request_id} Error: Runtime exited without providing a reason",
        ) == (inv.error_type, inv.error_message)
        _settled(sim, uuid)

    @pytest.mark.parametrize(
        "exc_type", [Shutdown, GeneratorExit], ids=["subclass", "GeneratorExit"]
    )
    def test_other_base_exception_is_exit_status_1(self, exc_type: type[BaseException]) -> None:
        """Any other BaseException goes uncaught in the runtime: exit status 1."""

        def handler(event: Any, context: Any) -> None:
            raise exc_type("stop")

        sim, fn, uuid = _run(handler)
        inv = fn.invocations[0]
        assert ("Unhandled", "Runtime.ExitError", _exit_error(inv.request_id, 1)) == (
            inv.error,
            inv.error_type,
            inv.error_message,
        )
        assert (exc_type, ("stop",)) == (type(inv.exception), inv.exception.args)
        assert inv.stack_trace[-1].splitlines()[0].endswith(", in handler")
        _settled(sim, uuid)

    def test_sys_exit_while_marshalling_is_an_exit_error(self) -> None:
        """sys.exit() called by the response's items() while it is encoded also ends the runtime."""

        class Quitter(dict[str, Any]):
            def items(self) -> Any:
                sys.exit(4)

        sim, fn, uuid = _run(lambda e, c: Quitter(a=1))
        inv = fn.invocations[0]
        assert ("Runtime.ExitError", _exit_error(inv.request_id, 4)) == (
            inv.error_type,
            inv.error_message,
        )
        _settled(sim, uuid)

    def test_exit_errors_count_as_errors_and_are_retried(self) -> None:
        """A Runtime.ExitError is a function error: counted in Errors and retried like one."""
        sim = esm_sim.Simulation(seed=0)
        table = sim.create_table("orders", partition_key="pk")
        sim.create_function(FUNCTION, lambda e, c: sys.exit(3))
        uuid = sim.lambda_client.create_event_source_mapping(
            FunctionName=FUNCTION,
            EventSourceArn=table.stream_arn,
            StartingPosition="TRIM_HORIZON",
            MaximumRetryAttempts=2,
        )["UUID"]
        table.put_item({"pk": "a"})
        sim.run_until_idle(max_seconds=600)
        assert 3 == sim.metrics.sum("Errors", function_name=FUNCTION)
        assert 1 == sim.fate_counts(uuid)["dropped"]
        _settled(sim, uuid)


def _interrupting(on_call: int) -> tuple[Any, list[Any]]:
    """A handler that raises KeyboardInterrupt on its ``on_call``-th call (from 1), else succeeds."""
    calls: list[Any] = []

    def handler(event: Any, context: Any) -> None:
        calls.append(event)
        if len(calls) == on_call:
            raise KeyboardInterrupt

    return handler, calls


def _three_records(handler: Any, **fn_kwargs: Any) -> tuple[esm_sim.Simulation, Any, str]:
    """Three records, one per batch, two retries; not yet run."""
    sim = esm_sim.Simulation(seed=0)
    table = sim.create_table("orders", partition_key="pk")
    fn = sim.create_function(FUNCTION, handler, **fn_kwargs)
    uuid = sim.lambda_client.create_event_source_mapping(
        FunctionName=FUNCTION,
        EventSourceArn=table.stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        MaximumRetryAttempts=2,
    )["UUID"]
    for i in range(3):
        table.put_item({"pk": f"k{i}"})
    return sim, fn, uuid


class TestKeyboardInterrupt:
    """Ctrl-C in a handler stops the run, and the simulation stays resumable."""

    def test_interrupt_propagates_and_the_run_resumes(self) -> None:
        """After a KeyboardInterrupt out of run_until_idle, running again settles every record."""
        handler, _ = _interrupting(on_call=2)
        sim, fn, uuid = _three_records(handler)
        with pytest.raises(KeyboardInterrupt):
            sim.run_until_idle(max_seconds=600)
        assert 0 < sim.fate_counts(uuid)["pending"]
        sim.run_until_idle(max_seconds=600)
        assert 3 == sim.fate_counts(uuid)["processed"]
        _settled(sim, uuid)
        assert 1 == sim.metrics.sum("Errors", function_name=FUNCTION)
        assert 4 == len(fn.invocations)  # the interrupted batch was retried

    def test_interrupted_invocation_is_an_exit_error(self) -> None:
        """The interrupted invocation is recorded as the runtime dying of SIGINT."""
        handler, _ = _interrupting(on_call=1)
        sim, fn, _ = _three_records(handler)
        with pytest.raises(KeyboardInterrupt):
            sim.run_until_idle(max_seconds=600)
        inv = fn.invocations[0]
        assert (
            "Unhandled",
            "Runtime.ExitError",
            f"RequestId: {inv.request_id} Error: Runtime exited with error: signal: interrupt",
        ) == (inv.error, inv.error_type, inv.error_message)
        assert isinstance(inv.exception, KeyboardInterrupt)

    def test_interrupt_is_raised_with_the_handler_traceback(self) -> None:
        """The KeyboardInterrupt that stops the run shows where the handler was interrupted."""
        handler, _ = _interrupting(on_call=1)
        sim, _, _ = _three_records(handler)
        with pytest.raises(KeyboardInterrupt) as caught:
            sim.run_until_idle(max_seconds=600)
        assert "handler" == traceback.extract_tb(caught.value.__traceback__)[-1].name

    def test_interrupted_duplicate_delivery_resumes(self) -> None:
        """A KeyboardInterrupt in an injected duplicate delivery also leaves a resumable run."""
        handler, _ = _interrupting(on_call=2)
        sim, fn, uuid = _three_records(handler)
        sim.inject_duplicate_deliveries(FUNCTION)
        with pytest.raises(KeyboardInterrupt):
            sim.run_until_idle(max_seconds=600)
        original, duplicate = fn.invocations[0], fn.invocations[1]
        assert ("Runtime.ExitError", original.sequence_numbers) == (
            duplicate.error_type,
            duplicate.sequence_numbers,
        )
        sim.run_until_idle(max_seconds=600)
        assert 3 == sim.fate_counts(uuid)["processed"]
        _settled(sim, uuid)

    def test_duration_callable_is_not_called_after_an_interrupt(self) -> None:
        """An interrupted handler runs no more user code: its duration callable is skipped."""
        handler, _ = _interrupting(on_call=1)
        durations: list[Any] = []
        sim, fn, _ = _three_records(handler, duration=lambda e, c: durations.append(e) or 0.5)
        with pytest.raises(KeyboardInterrupt):
            sim.run_until_idle(max_seconds=600)
        assert ([], 0) == (durations, fn.invocations[0].duration_ms)


class TestDurationCallableFailure:
    """The duration callable is test configuration: its failure is a ConfigError out of the run."""

    def test_raising_duration_is_a_config_error_naming_the_function(self) -> None:
        """A duration callable that raises stops the run with a ConfigError naming the function."""

        def duration(event: Any, context: Any) -> float:
            raise ZeroDivisionError("division by zero")

        sim, _, _ = _three_records(lambda e, c: None, duration=duration)
        with pytest.raises(ConfigError) as caught:
            sim.run_until_idle(max_seconds=600)
        assert (
            f"duration callable of function {FUNCTION!r} raised ZeroDivisionError: division by zero"
            == str(caught.value)
        )
        assert isinstance(caught.value.__cause__, ZeroDivisionError)

    def test_run_resumes_after_a_duration_config_error(self) -> None:
        """The invocation keeps the handler's outcome and lasts 0 ms; running again settles all."""
        calls: list[Any] = []

        def duration(event: Any, context: Any) -> float:
            calls.append(event)
            if len(calls) == 1:
                raise RuntimeError("bad config")
            return 0.5

        sim, fn, uuid = _three_records(lambda e, c: None, duration=duration)
        with pytest.raises(ConfigError):
            sim.run_until_idle(max_seconds=600)
        assert (None, 0) == (fn.invocations[0].error, fn.invocations[0].duration_ms)
        sim.run_until_idle(max_seconds=600)
        assert (3, 3) == (len(fn.invocations), sim.fate_counts(uuid)["processed"])
        _settled(sim, uuid)

    def test_bad_duration_return_in_a_run_resumes(self) -> None:
        """A duration callable returning no seconds >= 0 stops the run resumably too."""
        answers = [-1.0]

        sim, _, uuid = _three_records(
            lambda e, c: None, duration=lambda e, c: answers.pop() if answers else 0.5
        )
        with pytest.raises(ConfigError, match=r"^duration callable returned -1\.0"):
            sim.run_until_idle(max_seconds=600)
        sim.run_until_idle(max_seconds=600)
        _settled(sim, uuid)
