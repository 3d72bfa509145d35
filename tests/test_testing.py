"""Tests of esm_sim.testing: scripted handlers, assert_deterministic, check_idempotent."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest

import esm_sim
from esm_sim import testing
from esm_sim.errors import ConfigError
from esm_sim.strategies import Fault, FaultPlan, Scenario, Write


def _event(*keys: str) -> dict[str, Any]:
    return {
        "Records": [
            {"dynamodb": {"Keys": {"pk": {"S": k}}, "SequenceNumber": str(100 + i)}}
            for i, k in enumerate(keys)
        ]
    }


def _scenario(times: int = 1) -> Scenario:
    return Scenario(
        writes=(
            Write(at_ms=0, op="put", item={"pk": "k0", "v": 1}),
            Write(at_ms=0, op="put", item={"pk": "k1", "v": 2}),
        ),
        mapping={"StartingPosition": "TRIM_HORIZON", "BatchSize": 10},
        faults=FaultPlan(faults=(Fault(kind="raise_after", keys=("k1",), times=times),)),
    )


class TestFailOnKeys:
    def test_fails_batches_holding_the_key(self) -> None:
        """A batch with a listed key raises; one without runs the inner handler."""
        calls: list[int] = []
        handler = testing.fail_on_keys({"k1"}, handler=lambda e, c: calls.append(len(e["Records"])))
        with pytest.raises(testing.ScriptedFailure, match="'k1'"):
            handler(_event("k0", "k1"), None)
        handler(_event("k0"), None)
        assert [1] == calls

    def test_times_limits_failures_per_key(self) -> None:
        """With times=2 a key fails twice, then passes."""
        handler = testing.fail_on_keys(["k1"], times=2)
        for _ in range(2):
            with pytest.raises(testing.ScriptedFailure):
                handler(_event("k1"), None)
        assert None is handler(_event("k1"), None)

    @pytest.mark.parametrize(
        ("key_type", "written", "given"),
        [
            pytest.param("B", b"k0", b"k0", id="bytes"),
            pytest.param("N", 7, 7.0, id="float-for-int"),
            pytest.param("N", Decimal("7.0"), Decimal("7.0"), id="decimal"),
            pytest.param("N", 7, "7", id="text"),
        ],
    )
    def test_keys_match_as_the_record_shows_them(
        self, key_type: str, written: object, given: object
    ) -> None:
        """A key given as bytes, float or Decimal matches the record whose Keys show it (base64, normalised number), in a run."""
        sim = esm_sim.Simulation()
        table = sim.create_table("orders", partition_key=("pk", key_type))
        fn = sim.create_function("fn", testing.fail_on_keys({given}, times=1))
        sim.lambda_client.create_event_source_mapping(
            FunctionName="fn", EventSourceArn=table.stream_arn, StartingPosition="TRIM_HORIZON"
        )
        table.put_item({"pk": written})
        sim.run_until_idle()
        assert ["ScriptedFailure", None] == [i.error_type for i in fn.invocations]

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            pytest.param({"keys": "k1"}, "keys='k1' must be a collection", id="keys='k1'"),
            pytest.param({"keys": {"k1"}, "times": 0}, "times=0 must be None", id="times=0"),
        ],
    )
    def test_bad_arguments(self, kwargs: dict[str, Any], message: str) -> None:
        """Bad arguments raise ConfigError naming them."""
        with pytest.raises(ConfigError, match=message):
            testing.fail_on_keys(**kwargs)


class TestScriptedArguments:
    @pytest.mark.parametrize(
        ("make", "message"),
        [
            pytest.param(
                lambda: testing.fail_on_keys({"k"}, handler=42),
                r"^handler=42 must be None or a callable",
                id="fail_on_keys-handler",
            ),
            pytest.param(
                lambda: testing.fail_on_attempts({1}, handler="h"),
                r"^handler='h' must be None or a callable",
                id="fail_on_attempts-handler",
            ),
            pytest.param(
                lambda: testing.partial_failures({"k"}, handler=[]),
                r"^handler=\[\] must be None or a callable",
                id="partial_failures-handler",
            ),
            pytest.param(
                lambda: testing.fail_on_schedule(None, [(0, 1)]),  # type: ignore[arg-type]
                r"^sim=None must be the Simulation",
                id="schedule-sim",
            ),
            pytest.param(
                lambda: testing.fail_on_schedule(esm_sim.Simulation(), (0, 10)),  # type: ignore[arg-type]
                r"^windows=\(0, 10\) must be a list of \(start, end\) pairs, not 0",
                id="schedule-one-pair",
            ),
        ],
    )
    def test_bad_arguments_are_refused_at_the_call(self, make: Any, message: str) -> None:
        """A scripted handler's bad argument raises ConfigError naming it when the handler is made, not a function error in the run."""
        with pytest.raises(ConfigError, match=message):
            make()

    def test_a_hand_written_scenario_with_a_typo_is_refused(self) -> None:
        """Write(op=...) and Fault(kind=...) take only their documented values: a typo raises ConfigError naming it, instead of running as something else."""
        with pytest.raises(ConfigError, match=r"^op='PUT' must be one of 'put', 'delete'"):
            Write(at_ms=0, op="PUT", item={"pk": "k0"})
        with pytest.raises(ConfigError, match=r"^kind='raise_befor' must be one of 'raise_before'"):
            Fault(kind="raise_befor", keys=("k0",))


class TestFailOnAttempts:
    def test_fails_the_numbered_invocations(self) -> None:
        """Invocations 2 and 3 fail, 1 and 4 pass."""
        handler = testing.fail_on_attempts({2, 3})
        outcomes = []
        for _ in range(4):
            try:
                handler(_event("k0"), None)
                outcomes.append("ok")
            except testing.ScriptedFailure:
                outcomes.append("fail")
        assert ["ok", "fail", "fail", "ok"] == outcomes

    def test_bad_attempt_number(self) -> None:
        """Invocation numbers start at 1."""
        with pytest.raises(ConfigError, match=r"attempts=\[0\] must hold ints >= 1"):
            testing.fail_on_attempts([0])


class TestFailOnSchedule:
    def test_fails_inside_the_window_only(self) -> None:
        """An outage window fails invocations that start inside it, on the virtual clock."""
        sim = esm_sim.Simulation()
        start = sim.now.timestamp()
        table = sim.create_table("orders", partition_key="pk")
        fn = sim.create_function("fn", testing.fail_on_schedule(sim, [(start, start + 6)]))
        sim.lambda_client.create_event_source_mapping(
            FunctionName="fn", EventSourceArn=table.stream_arn, StartingPosition="TRIM_HORIZON"
        )
        table.put_item({"pk": "k0"})
        sim.run_until_idle()
        assert [True, False] == [
            i.error is not None for i in fn.invocations[:1] + fn.invocations[-1:]
        ]
        assert all(i.started_ms >= (start + 6) * 1000 for i in fn.invocations if i.error is None)

    def test_window_end_before_start(self) -> None:
        """A window that ends before it starts is refused."""
        with pytest.raises(ConfigError, match="end=1 is before start=2"):
            testing.fail_on_schedule(esm_sim.Simulation(), [(2, 1)])


class TestPartialFailures:
    def test_reports_the_keys_and_runs_the_records_before(self) -> None:
        """The response names every record of the keys; the inner handler gets the records before."""
        seen: list[int] = []
        handler = testing.partial_failures(
            {"k1"}, handler=lambda e, c: seen.append(len(e["Records"]))
        )
        response = handler(_event("k0", "k1", "k2", "k1"), None)
        assert {
            "batchItemFailures": [{"itemIdentifier": "101"}, {"itemIdentifier": "103"}]
        } == response
        assert [1] == seen

    @pytest.mark.parametrize("inner", ["windowed", "none"])
    def test_in_a_tumbling_window_the_state_is_kept(self, inner: str) -> None:
        """In a tumbling window the partial response keeps the inner handler's state (or the state given, with no inner handler): only the failed tail is retried, the window goes on."""
        seen: list[list[str]] = []

        def windowed(event: dict[str, Any], context: Any) -> dict[str, Any]:
            seen.append([r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]])
            return {"state": {"n": event["state"].get("n", 0) + len(event["Records"])}}

        sim = esm_sim.Simulation(seed=0)
        table = sim.create_table("orders", partition_key="pk")
        fn = sim.create_function(
            "f",
            testing.partial_failures(
                {"b"}, times=1, handler=windowed if inner == "windowed" else None
            ),
        )
        sim.lambda_client.create_event_source_mapping(
            FunctionName="f",
            EventSourceArn=table.stream_arn,
            StartingPosition="TRIM_HORIZON",
            TumblingWindowInSeconds=60,
            BatchSize=10,
            FunctionResponseTypes=["ReportBatchItemFailures"],
        )
        for key in "abc":
            table.put_item({"pk": key})
        sim.run_until_idle()
        assert ["partial", "success", "success"] == [i.outcome for i in fn.invocations]
        assert 3 == sim.fate_counts()["processed"]
        if inner == "windowed":
            assert [["a"], ["b", "c"], []] == seen
            assert {"n": 3} == fn.invocations[-1].event["state"]


class TestAssertDeterministic:
    def test_same_build_passes(self) -> None:
        """Two runs of a deterministic build have identical traces."""
        testing.assert_deterministic(lambda: _scenario().run(lambda e, c: None))

    def test_different_traces_name_the_first_differing_line(self) -> None:
        """A build that differs between runs is reported at its first differing line."""
        seeds = iter([1, 2])

        def build() -> esm_sim.Simulation:
            sim = esm_sim.Simulation(seed=next(seeds))
            sim.create_table("orders", partition_key="pk")
            return sim

        with pytest.raises(
            AssertionError, match="traces differ at line 1:\n  first run:  # esm_sim trace seed=1"
        ):
            testing.assert_deterministic(build)


class TestCheckIdempotent:
    @staticmethod
    def _factory(idempotent: bool) -> Any:
        def make() -> tuple[Any, Any]:
            state: dict[str, int] = {}

            def handler(event: dict[str, Any], context: Any) -> None:
                for record in event["Records"]:
                    pk = record["dynamodb"]["Keys"]["pk"]["S"]
                    state[pk] = 1 if idempotent else state.get(pk, 0) + 1

            return handler, lambda: dict(state)

        return make

    def test_idempotent_handler_passes(self) -> None:
        """A handler that sets values ends the same after redeliveries as after one pass."""
        testing.check_idempotent(self._factory(True), _scenario())

    def test_counting_handler_fails(self) -> None:
        """A handler that counts deliveries is caught, with both effects and the repeated records."""
        with pytest.raises(
            AssertionError,
            match=r"with redeliveries: \{'k0': 2, 'k1': 2\}\n  single pass:       \{'k0': 1, 'k1': 1\}",
        ):
            testing.check_idempotent(self._factory(False), _scenario())


class TestImport:
    def test_import_does_not_load_hypothesis(self) -> None:
        """`import esm_sim.testing` stays light: it does not import hypothesis."""
        code = "import sys, esm_sim.testing; print('hypothesis' in sys.modules)"
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert "False" == result.stdout.strip()
