"""Tests of esm_sim.strategies: what the strategies draw, their arguments, and Scenario.run."""

from __future__ import annotations

import inspect
import itertools
import re
from typing import Any

import attrs
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.vendor.pretty import pretty

import esm_sim
from esm_sim import strategies as ess
from esm_sim.strategies import Fault, FaultPlan, Scenario, Throttle, Write

FAST = settings(max_examples=60, deadline=None, database=None)
MIN = settings(database=None)
NO_FAULTS = FaultPlan()


def _noop(event: dict[str, Any], context: Any) -> None:
    return None


def _recording() -> tuple[Any, list[str]]:
    seen: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        seen.extend(r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"])

    return handler, seen


def _scenario(
    *writes: tuple[int, str, str], faults: FaultPlan = NO_FAULTS, **mapping: Any
) -> Scenario:
    config: dict[str, Any] = {"StartingPosition": "TRIM_HORIZON", **mapping}
    return Scenario(
        writes=tuple(
            Write(at_ms=at, op=op, item={"pk": key, "v": i})
            for i, (at, op, key) in enumerate(writes)
        ),
        mapping=config,
        faults=faults,
    )


def _window_totals() -> tuple[Any, Any]:
    """A correct windowed handler: it sets each window's count at its final invocation."""
    totals: dict[str, int] = {}

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        n = event["state"].get("n", 0) + len(event["Records"])
        if event["isFinalInvokeForWindow"]:
            totals[event["window"]["start"]] = n  # idempotent: set, not add
        return {"state": {"n": n}}

    return handler, lambda: dict(totals)


class TestItems:
    @FAST
    @given(ess.items(keys=("a", "b")))
    def test_items_use_the_given_keys(self, item: dict[str, Any]) -> None:
        """An item's partition key is one of the keys given, and it has an int ``v``."""
        assert item["pk"] in ("a", "b")
        assert isinstance(item["v"], int)

    @FAST
    @given(ess.scenarios(partition_key="v", max_keys=1, min_writes=1))
    def test_a_partition_key_named_v_takes_its_values_from_the_key_pool(
        self, scenario: Any
    ) -> None:
        """With a partition key named v, every write's key is from the key pool (the default items' int v does not overwrite it)."""
        assert {"k0"} == {w.item["v"] for w in scenario.writes}

    @FAST
    @given(ess.items())
    def test_items_are_accepted_by_put_item(self, item: dict[str, Any]) -> None:
        """Every drawn item is a valid put_item argument."""
        sim = esm_sim.Simulation()
        table = sim.create_table("tbl", partition_key="pk")
        table.put_item(item)
        assert 1 == len(table)


class TestWrites:
    @FAST
    @given(ess.writes(min_size=1, max_size=8, max_keys=2))
    def test_writes_are_timed_in_order_on_the_key_pool(self, schedule: tuple[Write, ...]) -> None:
        """Writes come oldest first, on keys k0..k{max_keys-1}, and are puts or deletes."""
        assert 1 <= len(schedule) <= 8
        assert [w.at_ms for w in schedule] == sorted(w.at_ms for w in schedule)
        assert {w.item["pk"] for w in schedule} <= {"k0", "k1"}
        assert {w.op for w in schedule} <= {"put", "delete"}

    def test_writes_reach_bursts_deletes_and_modifies(self) -> None:
        """The schedule strategy draws bursts (two writes at one instant), deletes and modifies."""
        burst = find(
            ess.writes(),
            lambda ws: any(a.at_ms == b.at_ms for a, b in itertools.pairwise(ws)),
            settings=MIN,
        )
        assert 2 == len(burst)
        delete = find(ess.writes(), lambda ws: any(w.op == "delete" for w in ws), settings=MIN)
        assert [Write(at_ms=0, op="delete", item={"pk": "k0", "v": 0})] == list(delete)

    def test_write_repr_is_readable(self) -> None:
        """A Write's repr is the constructor call that rebuilds it."""
        write = Write(at_ms=5, op="put", item={"pk": "k0", "v": 1})
        assert "Write(at_ms=5, op='put', item={'pk': 'k0', 'v': 1})" == repr(write)


class TestMappingConfigs:
    @settings(max_examples=150, deadline=None, database=None)
    @given(ess.mapping_configs(destination_arns=("arn:aws:sqs:us-east-1:123456789012:dlq",)))
    def test_every_draw_is_accepted_by_the_control_plane(self, config: dict[str, Any]) -> None:
        """create_event_source_mapping accepts every drawn configuration (spec 1.2)."""
        sim = esm_sim.Simulation()
        table = sim.create_table("tbl", partition_key="pk")
        sim.create_function("fn", _noop)
        response = sim.lambda_client.create_event_source_mapping(
            FunctionName="fn", EventSourceArn=table.stream_arn, **config
        )
        assert config["BatchSize"] == response["BatchSize"]

    @FAST
    @given(ess.mapping_configs())
    def test_ranges_are_aws_ranges(self, config: dict[str, Any]) -> None:
        """Every drawn number is inside AWS's valid range (spec 1.2, 1.6)."""
        assert 1 <= config["BatchSize"] <= 10000
        assert 0 <= config["MaximumBatchingWindowInSeconds"] <= 300
        assert -1 <= config["MaximumRetryAttempts"] <= 10000
        age = config["MaximumRecordAgeInSeconds"]
        assert age == -1 or 60 <= age <= 604800
        assert 1 <= config["ParallelizationFactor"] <= 10
        assert 0 <= config["TumblingWindowInSeconds"] <= 900
        # esm_sim simulates tumbling windows with factor 1 only.
        assert config["ParallelizationFactor"] == 1 or config["TumblingWindowInSeconds"] == 0

    @FAST
    @given(ess.mapping_configs(max_batch_size=10, bisect_batch_on_function_error=True))
    def test_fixed_settings_are_respected(self, config: dict[str, Any]) -> None:
        """A bound or a fixed boolean narrows the draws."""
        assert config["BatchSize"] <= 10
        assert config["BisectBatchOnFunctionError"] is True

    @FAST
    @given(ess.mapping_configs(max_parallelization_factor=10, max_tumbling_window_in_seconds=900))
    def test_widened_ranges_are_drawn(self, config: dict[str, Any]) -> None:
        """The parallelization and window bounds can be widened to AWS's maxima."""
        assert 1 <= config["ParallelizationFactor"] <= 10
        assert 0 <= config["TumblingWindowInSeconds"] <= 900

    def test_shrinks_to_the_simplest_mapping(self) -> None:
        """The minimal configuration has BatchSize 1, no window, no retries and no options."""
        config = find(ess.mapping_configs(), lambda c: True, settings=MIN)
        assert {
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 1,
            "MaximumBatchingWindowInSeconds": 0,
            "MaximumRetryAttempts": 0,
            "MaximumRecordAgeInSeconds": -1,
            "ParallelizationFactor": 1,
            "TumblingWindowInSeconds": 0,
            "BisectBatchOnFunctionError": False,
            "FunctionResponseTypes": [],
        } == config


class TestFaultPlans:
    @FAST
    @given(ess.fault_plans(keys=("k0", "k1")))
    def test_faults_target_keys_or_attempts(self, plan: FaultPlan) -> None:
        """Each fault targets some of the given keys, or invocation numbers, never neither."""
        for fault in plan.faults:
            assert fault.kind in ess.FAULT_KINDS
            assert bool(fault.keys) != bool(fault.attempts)
            assert set(fault.keys) <= {"k0", "k1"}

    def test_fault_plan_repr_leaves_out_empty_parts(self) -> None:
        """The repr of a plan shows only what it holds."""
        plan = FaultPlan(faults=(Fault(kind="raise_before", keys=("k0",), times=2),))
        assert "FaultPlan(faults=(Fault(kind='raise_before', keys=('k0',), times=2),))" == repr(
            plan
        )
        assert "FaultPlan()" == repr(FaultPlan())

    def test_shrinks_to_no_fault(self) -> None:
        """The minimal plan has no fault and no throttle."""
        assert FaultPlan() == find(ess.fault_plans(keys=("k0",)), lambda p: True, settings=MIN)


class TestInvalidArguments:
    @pytest.mark.parametrize(
        ("strategy", "message"),
        [
            pytest.param(
                ess.writes(min_size=5, max_size=2),
                "Cannot have max_size=2 < min_size=5",
                id="writes(min_size=5, max_size=2)",
            ),
            pytest.param(
                ess.writes(max_keys=0), "Invalid value max_keys=0 < 1", id="writes(max_keys=0)"
            ),
            pytest.param(
                ess.writes(keys="k0"),
                "Expected a sequence of str but got keys='k0'",
                id="writes(keys='k0')",
            ),
            pytest.param(
                ess.items(max_attributes=-1),
                "Invalid value max_attributes=-1 < 0",
                id="items(max_attributes=-1)",
            ),
            pytest.param(
                ess.mapping_configs(max_batch_size=0),
                "Invalid value max_batch_size=0 < 1",
                id="mapping_configs(max_batch_size=0)",
            ),
            pytest.param(
                ess.mapping_configs(min_batch_size=10, max_batch_size=5),
                "Cannot have max_batch_size=5 < min_batch_size=10",
                id="mapping_configs(min_batch_size=10, max_batch_size=5)",
            ),
            pytest.param(
                ess.mapping_configs(max_parallelization_factor=11),
                "Invalid value max_parallelization_factor=11 > 10",
                id="mapping_configs(max_parallelization_factor=11)",
            ),
            pytest.param(
                ess.mapping_configs(max_tumbling_window_in_seconds=901),
                "Invalid value max_tumbling_window_in_seconds=901 > 900",
                id="mapping_configs(max_tumbling_window_in_seconds=901)",
            ),
            pytest.param(
                ess.mapping_configs(max_batching_window_in_seconds=1.5),
                "Expected int but got max_batching_window_in_seconds=1.5 (type=float)",
                id="mapping_configs(max_batching_window_in_seconds=1.5)",
            ),
            pytest.param(
                ess.mapping_configs(starting_positions=("AT_TIMESTAMP",)),
                "Invalid element 'AT_TIMESTAMP'",
                id="mapping_configs(starting_positions=('AT_TIMESTAMP',))",
            ),
            pytest.param(
                ess.mapping_configs(starting_positions=()),
                "Cannot draw from starting_positions=()",
                id="mapping_configs(starting_positions=())",
            ),
            pytest.param(
                ess.mapping_configs(report_batch_item_failures=1),
                "Expected bool or None but got report_batch_item_failures=1",
                id="mapping_configs(report_batch_item_failures=1)",
            ),
            pytest.param(
                ess.fault_plans(kinds=("explode",)),
                "Invalid element 'explode'",
                id="fault_plans(kinds=('explode',))",
            ),
            pytest.param(
                ess.fault_plans(kinds=()),
                "Cannot draw faults from kinds=()",
                id="fault_plans(kinds=())",
            ),
            pytest.param(
                ess.fault_plans(max_times=0),
                "Invalid value max_times=0 < 1",
                id="fault_plans(max_times=0)",
            ),
            pytest.param(
                ess.scenarios(min_writes=3, max_writes=1),
                "Cannot have max_writes=1 < min_writes=3",
                id="scenarios(min_writes=3, max_writes=1)",
            ),
            pytest.param(
                ess.scenarios(max_shards=0),
                "Invalid value max_shards=0 < 1",
                id="scenarios(max_shards=0)",
            ),
            pytest.param(
                ess.scenarios(settings={"retention_hours": 1}),  # type: ignore[arg-type]
                "Expected a strategy of Simulation keyword dicts (or None) but got settings=",
                id="scenarios(settings={...})",
            ),
            pytest.param(
                ess.scenarios(settings=st.just(1)),  # type: ignore[arg-type]
                "settings must draw dicts of Simulation keywords, but drew 1",
                id="scenarios(settings=just(1))",
            ),
            pytest.param(
                ess.mapping_configs(destination_arns=("foo",)),
                "Expected ARNs of SQS queues, SNS topics or S3 buckets (spec 3.6) but got "
                "destination_arns=('foo',)",
                id="mapping_configs(destination_arns=('foo',))",
            ),
            pytest.param(
                ess.simulation_settings(keywords=("retention",)),
                "Invalid element 'retention' in keywords=('retention',)",
                id="simulation_settings(keywords=('retention',))",
            ),
        ],
    )
    def test_bad_arguments_raise_invalid_argument_when_drawn(
        self, strategy: st.SearchStrategy[Any], message: str
    ) -> None:
        """A bad argument raises InvalidArgument naming it as name=value, at draw time."""
        with pytest.raises(InvalidArgument) as info:
            find(strategy, lambda _: True, settings=MIN)
        assert str(info.value).startswith(message)

    def test_definition_does_not_raise(self) -> None:
        """Defining a strategy with bad arguments raises nothing until it is drawn."""
        strategy = ess.writes(min_size=5, max_size=2)
        assert "writes(min_size=5, max_size=2)" == repr(strategy)


class TestScenarioRun:
    def test_raise_after_redelivers_to_the_handler(self) -> None:
        """A raise_after fault lets the handler process the batch, then the batch comes again."""
        handler, seen = _recording()
        plan = FaultPlan(faults=(Fault(kind="raise_after", keys=("k0",), times=1),))
        sim = _scenario((0, "put", "k0"), faults=plan).run(handler)
        assert ["k0", "k0"] == seen
        assert (
            "processed"
            == sim.fate(sim.tables["esm-sim-table"].shards[0].sequence_numbers[0]).outcome
        )

    def test_raise_before_keeps_the_handler_out(self) -> None:
        """A raise_before fault fails the invocation without running the handler."""
        handler, seen = _recording()
        plan = FaultPlan(faults=(Fault(kind="raise_before", attempts=(1,), times=1),))
        sim = _scenario((0, "put", "k0"), faults=plan).run(handler)
        assert ["k0"] == seen
        assert 2 == len(sim.functions["esm-sim-handler"].invocations)

    def test_raise_midway_processes_the_records_before_the_key(self) -> None:
        """A raise_midway fault runs the handler on the records before the trigger key, then raises."""
        handler, seen = _recording()
        plan = FaultPlan(faults=(Fault(kind="raise_midway", keys=("k1",), times=1),))
        _scenario((0, "put", "k0"), (0, "put", "k1"), faults=plan, BatchSize=10).run(handler)
        assert ["k0", "k0", "k1"] == seen

    def test_timeout_runs_past_the_function_timeout(self) -> None:
        """A timeout fault ends the invocation as Sandbox.Timedout after the handler ran."""
        handler, seen = _recording()
        plan = FaultPlan(faults=(Fault(kind="timeout", keys=("k0",), times=1),))
        sim = _scenario((0, "put", "k0"), faults=plan).run(handler)
        first = sim.functions["esm-sim-handler"].invocations[0]
        assert ("Sandbox.Timedout", 3000) == (first.error_type, first.duration_ms)
        assert ["k0", "k0"] == seen

    def test_partial_reports_from_the_trigger_record(self) -> None:
        """A partial fault answers batchItemFailures from the trigger record on (spec 4)."""
        handler, seen = _recording()
        plan = FaultPlan(faults=(Fault(kind="partial", keys=("k1",), times=1),))
        sim = _scenario(
            (0, "put", "k0"),
            (0, "put", "k1"),
            (0, "put", "k2"),
            faults=plan,
            BatchSize=10,
            FunctionResponseTypes=["ReportBatchItemFailures"],
        ).run(handler)
        invocations = sim.functions["esm-sim-handler"].invocations
        assert [3, 2] == [len(i.sequence_numbers) for i in invocations]
        assert ["k0", "k1", "k2"] == seen

    def test_partial_without_report_batch_item_failures_raises(self) -> None:
        """Without ReportBatchItemFailures a partial fault raises midway (AWS ignores the response)."""
        handler, seen = _recording()
        plan = FaultPlan(faults=(Fault(kind="partial", keys=("k1",), times=1),))
        sim = _scenario((0, "put", "k0"), (0, "put", "k1"), faults=plan, BatchSize=10).run(handler)
        assert "Unhandled" == sim.functions["esm-sim-handler"].invocations[0].error
        assert ["k0", "k0", "k1"] == seen

    def test_throttle_sets_reserved_concurrency_to_zero_for_a_while(self) -> None:
        """A throttle window refuses invocations (spec 3.1), and they resume after it."""
        handler, seen = _recording()
        plan = FaultPlan(throttles=(Throttle(at_ms=0, for_ms=10_000),))
        sim = _scenario((0, "put", "k0"), faults=plan).run(handler)
        assert sim.trace.events(kind="throttle")
        assert ["k0"] == seen
        assert (
            sim.functions["esm-sim-handler"].invocations[0].started_ms
            >= sim.trace[0].at_ms + 10_000
        )

    def test_faults_fire_only_times_times(self) -> None:
        """A fault with times=2 fails two invocations, then lets the record through."""
        plan = FaultPlan(faults=(Fault(kind="raise_before", keys=("k0",), times=2),))
        sim = _scenario((0, "put", "k0"), faults=plan).run(_noop)
        errors = [i.error for i in sim.functions["esm-sim-handler"].invocations]
        assert ["Unhandled", "Unhandled", None] == errors

    @FAST
    @given(ess.scenarios(max_writes=6))
    def test_same_scenario_same_trace(self, scenario: Scenario) -> None:
        """Running one scenario twice gives byte-identical traces."""
        assert scenario.run(_noop).trace.text() == scenario.run(_noop).trace.text()

    def test_scenario_shrinks_to_the_empty_case(self) -> None:
        """The minimal scenario is seed 0, one shard, no writes, no fault."""
        scenario = find(ess.scenarios(), lambda s: True, settings=MIN)
        assert (0, 1, (), FaultPlan()) == (
            scenario.seed,
            scenario.shard_count,
            scenario.writes,
            scenario.faults,
        )


class TestSimulationSettings:
    @FAST
    @given(ess.simulation_settings())
    def test_every_draw_is_accepted_by_simulation(self, settings: dict[str, Any]) -> None:
        """Simulation(**settings) accepts every draw, and draws use only behaviour keywords."""
        esm_sim.Simulation(**settings)
        assert set(settings) <= set(ess.BEHAVIOUR_KEYWORDS)

    def test_every_behaviour_keyword_of_simulation_is_drawn(self) -> None:
        """The keywords drawn are exactly Simulation's keywords but seed, start, region, account, handler_clock (what a handler reads) and history_hours (what the views keep): none is what AWS does."""
        parameters = set(inspect.signature(esm_sim.Simulation).parameters)
        not_drawn = {"seed", "start", "region", "account_id", "handler_clock", "history_hours"}
        assert parameters - not_drawn == set(ess.BEHAVIOUR_KEYWORDS)

    @pytest.mark.parametrize("keyword", ess.BEHAVIOUR_KEYWORDS)
    def test_each_keyword_is_reached_with_a_value_other_than_its_default(
        self, keyword: str
    ) -> None:
        """Each behaviour keyword is drawn, with a value that is not its default."""
        default = inspect.signature(esm_sim.Simulation).parameters[keyword].default
        found = find(
            ess.simulation_settings(),
            lambda s: keyword in s and s[keyword] != default,
            settings=MIN,
        )
        assert default != found[keyword]

    @FAST
    @given(ess.simulation_settings(keywords=("retention_hours", "tumbling_window_close")))
    def test_keywords_narrow_the_draws(self, settings: dict[str, Any]) -> None:
        """Only the keywords asked for are drawn."""
        assert set(settings) <= {"retention_hours", "tumbling_window_close"}

    def test_shrinks_to_every_default(self) -> None:
        """The minimal draw is {}: the simulation's defaults."""
        assert {} == find(ess.simulation_settings(), lambda s: True, settings=MIN)


class TestScenarioSettings:
    def test_settings_reach_the_simulation(self) -> None:
        """Scenario.run builds the Simulation with the scenario's settings."""
        default = _scenario((0, "put", "k0")).run(_noop)
        quick = attrs.evolve(_scenario((0, "put", "k0")), settings={"state_transition_delay": 0})
        sim = quick.run(_noop)
        started = [i.started_at for i in sim.functions["esm-sim-handler"].invocations]
        later = [i.started_at for i in default.functions["esm-sim-handler"].invocations]
        assert 5 == round((later[0] - started[0]).total_seconds())

    @FAST
    @given(ess.scenarios(max_writes=3, settings=st.just({"retention_hours": 1.5})))
    def test_scenarios_take_their_settings_from_the_strategy(self, scenario: Scenario) -> None:
        """scenarios(settings=...) gives each scenario a draw of the strategy."""
        assert {"retention_hours": 1.5} == scenario.settings

    @FAST
    @given(ess.scenarios(max_writes=3))
    def test_scenarios_without_settings_use_the_defaults(self, scenario: Scenario) -> None:
        """Without settings, a scenario's settings are empty: every default."""
        assert {} == scenario.settings

    @FAST
    @given(ess.scenarios(max_writes=4, settings=ess.simulation_settings()))
    def test_scenarios_with_drawn_settings_run(self, scenario: Scenario) -> None:
        """A scenario with drawn settings runs to the end."""
        scenario.run(_noop)

    def test_empty_settings_are_left_out_of_the_reprs(self) -> None:
        """repr and Hypothesis's printout show settings only when there are some."""
        plain = Scenario()
        assert "settings" not in repr(plain)
        assert "settings" not in pretty(plain)
        assert (
            "Scenario(seed=0,\n shard_count=1,\n writes=(),\n"
            " mapping={'StartingPosition': 'TRIM_HORIZON'},\n faults=FaultPlan(),\n timeout=3.0)"
        ) == pretty(plain)
        tuned = Scenario(settings={"retention_hours": 2})
        assert repr(tuned).endswith(", settings={'retention_hours': 2})")
        assert pretty(tuned).endswith(" timeout=3.0,\n settings={'retention_hours': 2})")


def _windowed(log: list[dict[str, Any]]) -> Any:
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        log.append(event)
        n = event["state"].get("n", 0) + len(event["Records"])
        return {"state": {"n": n}}

    return handler


class TestTumblingWindows:
    def test_partial_fault_keeps_the_window_state_of_the_records_before_it(self) -> None:
        """A partial fault in a tumbling window answers the state the handler returned for the records before the trigger."""
        log: list[dict[str, Any]] = []
        plan = FaultPlan(faults=(Fault(kind="partial", keys=("k1",), times=1),))
        scenario = _scenario(
            (0, "put", "k0"),
            (0, "put", "k1"),
            faults=plan,
            BatchSize=10,
            TumblingWindowInSeconds=60,
            FunctionResponseTypes=["ReportBatchItemFailures"],
        )
        scenario.run(_windowed(log))
        with_records = [e for e in log if e["Records"]]
        assert [["k0"], ["k1"]] == [
            [r["dynamodb"]["Keys"]["pk"]["S"] for r in e["Records"]] for e in with_records
        ]
        assert {"n": 1} == with_records[1]["state"]

    def test_a_windowed_handler_is_checked_for_idempotence(self) -> None:
        """check_idempotent runs a tumbling window's final invocations in its clean pass too."""
        from esm_sim.testing import check_idempotent

        plan = FaultPlan(faults=(Fault(kind="raise_after", keys=("k1",), times=1),))
        scenario = _scenario(
            (0, "put", "k0"), (0, "put", "k1"), faults=plan, TumblingWindowInSeconds=30
        )
        check_idempotent(_window_totals, scenario)

    @pytest.mark.parametrize(
        "fault",
        [
            pytest.param(Fault(kind="raise_before", keys=("k0",), times=1), id="record-dropped"),
            pytest.param(Fault(kind="raise_before", attempts=(2,), times=1), id="final-dropped"),
        ],
    )
    def test_a_window_final_the_handler_never_got_is_not_in_the_clean_pass(
        self, fault: Fault
    ) -> None:
        """check_idempotent gives the clean pass a window's final invocation only if the faulty run's handler got it: a correct windowed handler whose record or final was dropped passes."""
        from esm_sim.testing import check_idempotent

        scenario = _scenario(
            (0, "put", "k0"),
            faults=FaultPlan(faults=(fault,)),
            BatchSize=1,
            MaximumRetryAttempts=0,
            TumblingWindowInSeconds=1,
        )
        check_idempotent(_window_totals, scenario)

    def test_mapping_configs_draw_short_windows(self) -> None:
        """A window of a minute or less, which a scenario's writes outlast, is drawn."""
        found = find(
            ess.mapping_configs(),
            lambda c: 0 < c["TumblingWindowInSeconds"] <= 60,
            settings=MIN,
        )
        assert 1 == found["ParallelizationFactor"]


def _counting_factory(*names: str) -> Any:
    """A non-idempotent handler counting deliveries per item key (the attributes ``names``)."""

    def make() -> tuple[Any, Any]:
        counts: dict[tuple[str, ...], int] = {}

        def handler(event: dict[str, Any], context: Any) -> None:
            for record in event["Records"]:
                keys = record["dynamodb"]["Keys"]
                key = tuple(str(next(iter(keys[n].values()))) for n in names)
                counts[key] = counts.get(key, 0) + 1

        return handler, lambda: dict(counts)

    return make


class TestUserTables:
    @FAST
    @given(
        ess.writes(
            partition_key="order_id",
            sort_key=("line", "N"),
            items=st.fixed_dictionaries({"qty": st.integers(1, 5)}),
            min_size=1,
        )
    )
    def test_writes_carry_the_key_schema_and_the_drawn_attributes(
        self, schedule: tuple[Write, ...]
    ) -> None:
        """Each write's item has the partition key (S), the sort key (N) and the attributes drawn."""
        for write in schedule:
            assert ["order_id", "line", "qty"] == list(write.item)
            assert write.item["order_id"] in ("k0", "k1", "k2", "k3")
            assert write.item["line"] in (0, 1, 2)

    @FAST
    @given(ess.writes(partition_key=("id", "B"), min_size=1))
    def test_binary_partition_keys_are_bytes(self, schedule: tuple[Write, ...]) -> None:
        """A B partition key draws bytes values, with the default attributes (an int ``v``)."""
        for write in schedule:
            assert isinstance(write.item["id"], bytes)
            assert isinstance(write.item["v"], int)

    @FAST
    @given(
        ess.scenarios(
            partition_key=("id", "N"),
            sort_key="sk",
            items=st.fixed_dictionaries({"amount": st.integers(0, 9)}),
            max_writes=4,
        )
    )
    def test_scenarios_record_and_create_the_key_schema(self, scenario: Scenario) -> None:
        """A scenario keeps the key schema, and its run's table and records use it."""
        assert (("id", "N"), "sk") == (scenario.partition_key, scenario.sort_key)
        seen: list[dict[str, Any]] = []
        sim = scenario.run(lambda event, context: seen.extend(event["Records"]))
        table = sim.tables["esm-sim-table"]
        assert ("id", "sk") == (table.partition_key, table.sort_key)
        for record in seen:
            assert ["id", "sk"] == sorted(record["dynamodb"]["Keys"])
            assert "N" in record["dynamodb"]["Keys"]["id"]

    @FAST
    @given(ess.scenarios(partition_key=("id", "N"), min_writes=1, max_faults=2))
    def test_drawn_faults_target_written_number_keys_as_text(self, scenario: Scenario) -> None:
        """Faults drawn for an N partition key target written values, as the stream's text."""
        written = {str(w.item["id"]) for w in scenario.writes}
        for fault in scenario.faults.faults:
            assert set(fault.keys) <= written

    def test_a_fault_on_a_number_key_redelivers_that_key(self) -> None:
        """A fault aimed at an N partition-key value (as text) fires on that key's record."""
        plan = FaultPlan(faults=(Fault(kind="raise_after", keys=("7",), times=1),))
        scenario = Scenario(
            writes=(
                Write(at_ms=0, op="put", item={"id": 7, "sk": "s0", "qty": 1}),
                Write(at_ms=0, op="put", item={"id": 8, "sk": "s0", "qty": 1}),
            ),
            mapping={"StartingPosition": "TRIM_HORIZON", "BatchSize": 1},
            faults=plan,
            partition_key=("id", "N"),
            sort_key="sk",
        )
        delivered: list[str] = []
        scenario.run(
            lambda event, context: delivered.extend(
                r["dynamodb"]["Keys"]["id"]["N"] for r in event["Records"]
            )
        )
        assert ["7", "7", "8"] == delivered

    def test_a_delete_uses_the_whole_item_key(self) -> None:
        """A delete write removes the item named by partition and sort key (a REMOVE record)."""
        scenario = Scenario(
            writes=(
                Write(at_ms=0, op="put", item={"pk": "a", "sk": "s1", "v": 1}),
                Write(at_ms=1, op="delete", item={"pk": "a", "sk": "s1", "v": 1}),
            ),
            sort_key="sk",
        )
        names: list[str] = []
        scenario.run(lambda event, context: names.extend(r["eventName"] for r in event["Records"]))
        assert ["INSERT", "REMOVE"] == names

    def test_the_failure_names_repeated_records_by_item_key(self) -> None:
        """check_idempotent's message names each record delivered twice by its item key."""
        from esm_sim.testing import check_idempotent

        plan = FaultPlan(faults=(Fault(kind="raise_after", keys=("k0",), times=1),))
        scenario = Scenario(
            writes=(Write(at_ms=0, op="put", item={"pk": "k0", "sk": "s1", "v": 0}),),
            faults=plan,
            sort_key="sk",
        )
        with pytest.raises(AssertionError) as caught:
            check_idempotent(_counting_factory("pk", "sk"), scenario)
        assert str(caught.value).endswith(
            "records delivered more than once: 100000000000000000100 (pk=k0 sk=s1)"
        )

    def test_a_default_scenario_prints_as_before(self) -> None:
        """The key schema is left out of a default scenario's repr, and shown otherwise."""
        assert "_key" not in repr(Scenario())
        assert "_key" not in pretty(Scenario())
        assert repr(Scenario(sort_key="sk")).endswith(", sort_key='sk')")
        assert "partition_key=('id', 'N')" in pretty(Scenario(partition_key=("id", "N")))

    @pytest.mark.parametrize(
        ("strategy", "message"),
        [
            pytest.param(
                ess.scenarios(partition_key=("id", "X")),
                "Expected a non-empty str or a (name, type) pair",
                id="partition_key=('id', 'X')",
            ),
            pytest.param(
                ess.writes(sort_key=""),
                "but got sort_key=''",
                id="sort_key=''",
            ),
            pytest.param(
                ess.scenarios(items={"qty": 1}),  # type: ignore[arg-type]
                "Expected a strategy of attribute dicts",
                id="items={'qty': 1}",
            ),
            pytest.param(
                ess.writes(items=st.just(3), min_size=1),  # type: ignore[arg-type]
                "items must draw dicts of non-key attributes",
                id="items=st.just(3)",
            ),
        ],
    )
    def test_bad_key_arguments_raise_when_drawn(self, strategy: Any, message: str) -> None:
        """A bad key schema or items argument raises InvalidArgument naming it, when drawn."""
        with pytest.raises(InvalidArgument, match=re.escape(message)):
            find(strategy, lambda _: True, settings=MIN)


class TestBuiltOnce:
    @staticmethod
    def _strategies_made_while_drawing(strategy: st.SearchStrategy[Any], n: int) -> int:
        """How many strategy objects drawing ``n`` examples of ``strategy`` creates."""
        from hypothesis.strategies._internal.strategies import SearchStrategy

        made = [0]
        init = SearchStrategy.__init__

        def counting(self: Any, *args: Any, **kwargs: Any) -> None:
            made[0] += 1
            init(self, *args, **kwargs)

        @settings(max_examples=n, deadline=None, database=None)
        @given(strategy)
        def draw(value: Any) -> None:
            pass

        draw()  # warm up: each argument tuple's strategies are built on first use
        SearchStrategy.__init__ = counting  # type: ignore[method-assign]
        try:
            draw()
        finally:
            SearchStrategy.__init__ = init  # type: ignore[method-assign]
        return made[0]

    @pytest.mark.parametrize(
        "strategy",
        [
            ess.scenarios(),
            ess.scenarios(partition_key=("id", "N"), sort_key="s", max_parallelization_factor=3),
            ess.writes(),
            ess.mapping_configs(destination_arns=("arn:aws:sqs:us-east-1:123456789012:q",)),
            ess.fault_plans(keys=("k0", "k1")),
        ],
        ids=["scenarios", "scenarios-keyed", "writes", "mapping_configs", "fault_plans"],
    )
    def test_drawing_builds_no_strategy(self, strategy: st.SearchStrategy[Any]) -> None:
        """
        Sub-strategies are built once per argument tuple, not inside each draw: a
        draw builds no strategy object (Hypothesis validated and labelled each new
        one, which made drawing a scenario several times slower than running it).
        """
        assert self._strategies_made_while_drawing(strategy, 40) == 0
