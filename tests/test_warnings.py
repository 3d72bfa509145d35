"""Tests for the warnings for usual mistakes (esm_sim.SimulationWarning, esm_sim._mapping.advice)."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

import esm_sim
from esm_sim import Simulation
from esm_sim.errors import (
    ConfigError,
    IgnoredItemFailuresWarning,
    PendingRecordsWarning,
    SelfTriggerWarning,
    SimulationLimitExceeded,
    UnmatchableFilterWarning,
)
from esm_sim.invariants import check_all

pytest_plugins = ["pytester"]


def _world(
    handler: Any, *, records: int = 0, **mapping: Any
) -> tuple[Simulation, esm_sim.Table, str]:
    sim = Simulation(seed=3)
    table = sim.create_table("orders", partition_key="pk")
    sim.create_function("fn", handler)
    uuid = sim.lambda_client.create_event_source_mapping(
        FunctionName="fn",
        EventSourceArn=table.stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        **mapping,
    )["UUID"]
    for i in range(records):
        table.put_item({"pk": f"k{i}", "n": i})
    return sim, table, uuid


def _fail_first(event: dict[str, Any], context: Any) -> dict[str, Any]:
    first = event["Records"][0]["dynamodb"]["SequenceNumber"]
    return {"batchItemFailures": [{"itemIdentifier": first}]}


def _caught(action: Any) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    return [w for w in caught if issubclass(w.category, esm_sim.SimulationWarning)]


class TestSimulationWarning:
    def test_is_public_and_the_base_of_every_cause(self) -> None:
        """esm_sim.SimulationWarning is a UserWarning and the base of each cause's category."""
        causes = (
            IgnoredItemFailuresWarning,
            PendingRecordsWarning,
            UnmatchableFilterWarning,
            SelfTriggerWarning,
        )
        assert issubclass(esm_sim.SimulationWarning, UserWarning)
        assert all(issubclass(c, esm_sim.SimulationWarning) for c in causes)
        assert "SimulationWarning" in esm_sim.__all__


class TestIgnoredItemFailures:
    def test_warns_once_per_mapping_naming_the_setting(self) -> None:
        """batchItemFailures on a mapping without ReportBatchItemFailures warns once, naming
        FunctionResponseTypes=["ReportBatchItemFailures"], though every batch returned them."""
        sim, _table, uuid = _world(_fail_first, records=3)
        caught = _caught(sim.run_until_idle)
        assert [IgnoredItemFailuresWarning] == [w.category for w in caught]
        message = str(caught[0].message)
        assert 'FunctionResponseTypes=["ReportBatchItemFailures"]' in message
        assert uuid in message
        assert 3 == sim.fate_counts(uuid)["processed"]  # AWS counted them processed
        assert __file__ == caught[0].filename  # points at the test's line, not esm_sim's

    def test_silent_when_the_mapping_reports_item_failures(self) -> None:
        """With ReportBatchItemFailures the list is honoured and nothing is warned."""
        sim, _table, _uuid = _world(
            _fail_first,
            records=1,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            MaximumRetryAttempts=0,
        )
        assert [] == _caught(sim.run_until_idle)


class TestPendingRecords:
    def test_check_all_warns_once_when_the_clock_never_ran(self) -> None:
        """check_all on a simulation that never ran warns once per mapping: still Creating,
        run sim.run_until_idle()."""
        sim, _table, uuid = _world(lambda e, c: None, records=2)
        caught = _caught(lambda: (check_all(sim), check_all(sim)))
        assert [PendingRecordsWarning] == [w.category for w in caught]
        message = str(caught[0].message)
        assert all(s in message for s in (uuid, "2 record(s)", "Creating", "sim.run_until_idle()"))

    def test_silent_after_run_until_idle(self) -> None:
        """Once every record is processed, check_all warns nothing."""
        sim, _table, _uuid = _world(lambda e, c: None, records=2)
        sim.run_until_idle()
        assert [] == _caught(lambda: check_all(sim))

    def test_fixture_warns_at_teardown(self, pytester: pytest.Pytester) -> None:
        """The `simulation` fixture warns when its test ends with records pending."""
        pytester.makepyfile(
            """
            def test_never_runs_the_clock(simulation):
                table = simulation.create_table("orders", partition_key="pk")
                simulation.create_function("fn", lambda event, context: None)
                simulation.lambda_client.create_event_source_mapping(
                    FunctionName="fn", EventSourceArn=table.stream_arn,
                    StartingPosition="TRIM_HORIZON",
                )
                table.put_item({"pk": "a"})

            def test_runs_the_clock(simulation):
                table = simulation.create_table("orders", partition_key="pk")
                simulation.create_function("fn", lambda event, context: None)
                simulation.lambda_client.create_event_source_mapping(
                    FunctionName="fn", EventSourceArn=table.stream_arn,
                    StartingPosition="TRIM_HORIZON",
                )
                table.put_item({"pk": "a"})
                simulation.run_until_idle()
            """
        )
        result = pytester.runpytest("-p", "no:cacheprovider")
        result.assert_outcomes(passed=2, warnings=1)
        result.stdout.fnmatch_lines(
            ["*test_never_runs_the_clock*", "*PendingRecordsWarning*sim.run_until_idle()*"]
        )


# Patterns no DynamoDB stream record can match, and what the message must point at.
UNMATCHABLE = [
    pytest.param(
        {"dynamodb": {"NewImage": {"v": [{"numeric": [">", 1]}]}}},
        '{"v": {"N": ["1"]}}',
        id="numeric-without-type-key",
    ),
    pytest.param({"dynamodb": {"NewImage": {"v": ["a"]}}}, '{"v": {"S": ["a"]}}', id="no-type-key"),
    pytest.param(
        {"dynamodb": {"NewImage": {"v": {"N": [{"numeric": [">", 1]}]}}}},
        "numeric never matches",
        id="numeric-on-N",
    ),
    pytest.param({"NewImage": {"v": {"S": ["a"]}}}, 'under "dynamodb"', id="top-level-NewImage"),
    pytest.param({"detail": {"x": ["a"]}}, "no such key", id="unknown-top-level-key"),
    pytest.param(
        {"dynamodb": {"NewImage": {"v": {"string": ["a"]}}}}, "must be a type code", id="not-S"
    ),
    pytest.param({"dynamodb": ["x"]}, "never a leaf", id="rule-on-an-object"),
]

MATCHABLE = [
    pytest.param({"dynamodb": {"NewImage": {"v": {"S": ["a"]}}}}, id="typed"),
    pytest.param({"eventName": ["INSERT"]}, id="event-name"),
    pytest.param(
        {"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">", 0]}]}},
        id="numeric-on-a-number",
    ),
    pytest.param({"dynamodb": {"NewImage": {"v": [{"exists": False}]}}}, id="exists-false"),
    pytest.param(
        {"$or": [{"NewImage": ["x"]}, {"eventName": ["INSERT"]}]}, id="one-or-alternative-can"
    ),
]


class TestUnmatchableFilter:
    @pytest.mark.parametrize(("pattern", "hint"), UNMATCHABLE)
    def test_warns_at_create_and_every_record_is_filtered(
        self, pattern: dict[str, Any], hint: str
    ) -> None:
        """A pattern no record can match warns at create, naming the fix, and indeed filters
        out every record."""
        criteria = {"Filters": [{"Pattern": json.dumps(pattern)}]}
        worlds = []
        caught = _caught(lambda: worlds.append(_world(lambda e, c: None, FilterCriteria=criteria)))
        assert [UnmatchableFilterWarning] == [w.category for w in caught]
        assert hint in str(caught[0].message)
        ((sim, table, uuid),) = worlds
        table.put_item({"pk": "a", "v": "a"})
        table.put_item({"pk": "b", "v": 5})
        sim.run_until_idle()
        assert 2 == sim.fate_counts(uuid)["filtered"]

    @pytest.mark.parametrize("pattern", MATCHABLE)
    def test_silent_for_a_pattern_that_can_match(self, pattern: dict[str, Any]) -> None:
        """A pattern some record can match warns nothing."""
        criteria = {"Filters": [{"Pattern": json.dumps(pattern)}]}
        assert [] == _caught(lambda: _world(lambda e, c: None, FilterCriteria=criteria))

    def test_warns_at_update(self) -> None:
        """UpdateEventSourceMapping with an unmatchable pattern warns, naming the operation."""
        sim, _table, uuid = _world(lambda e, c: None)
        sim.run_until_idle()
        criteria = {"Filters": [{"Pattern": '{"NewImage": {"v": {"S": ["a"]}}}'}]}
        caught = _caught(
            lambda: sim.lambda_client.update_event_source_mapping(
                UUID=uuid, FilterCriteria=criteria
            )
        )
        assert [UnmatchableFilterWarning] == [w.category for w in caught]
        assert str(caught[0].message).startswith("UpdateEventSourceMapping: ")


class TestSelfTrigger:
    @staticmethod
    def _world(generations: int, *, own_table: bool) -> tuple[Simulation, str]:
        sim = Simulation(seed=1)
        source = sim.create_table("orders", partition_key="pk")
        target = source if own_table else sim.create_table("audit", partition_key="pk")

        def handler(event: dict[str, Any], context: Any) -> None:
            for record in event["Records"]:
                n = int(record["dynamodb"]["NewImage"]["n"]["N"])
                if n < generations:
                    target.put_item({"pk": f"k{n + 1}", "n": n + 1})

        sim.create_function("fn", handler, duration=1.0)  # each generation takes a second
        uuid = sim.lambda_client.create_event_source_mapping(
            FunctionName="fn", EventSourceArn=source.stream_arn, StartingPosition="TRIM_HORIZON"
        )["UUID"]
        source.put_item({"pk": "k0", "n": 0})
        return sim, uuid

    def test_warns_once_with_the_cascade_depth(self) -> None:
        """A handler writing into its own source table warns once, with how many generations
        of records the loop produced."""
        sim, uuid = self._world(3, own_table=True)

        def run_twice() -> None:
            sim.run_until_idle()
            sim.tables["orders"].put_item({"pk": "again", "n": 2})  # the loop runs again
            sim.run_until_idle()

        caught = _caught(run_twice)
        assert [SelfTriggerWarning] == [w.category for w in caught]
        message = str(caught[0].message)
        assert all(s in message for s in (uuid, "'orders'", "3 generation(s)"))

    def test_silent_when_writing_elsewhere(self) -> None:
        """A handler writing into another table warns nothing."""
        sim, _uuid = self._world(3, own_table=False)
        assert [] == _caught(sim.run_until_idle)

    def test_an_endless_loop_is_named_before_the_limit(self) -> None:
        """An endless loop hits run_until_idle's bound, and the warning says why."""
        sim, _uuid = self._world(10**9, own_table=True)
        with (
            pytest.warns(SelfTriggerWarning, match="generation"),
            pytest.raises(SimulationLimitExceeded),
        ):
            sim.run_until_idle(max_seconds=60)


class TestEndlessSelfTrigger:
    """A handler that always writes into its own source table cannot wedge the simulation."""

    @staticmethod
    def _looping() -> tuple[Simulation, str]:
        sim = Simulation(seed=1)
        table = sim.create_table("orders", partition_key="pk")
        count = [0]

        def handler(event: dict[str, Any], context: Any) -> None:
            count[0] += 1
            table.put_item({"pk": "a", "v": count[0]})  # every record writes another

        sim.create_function("fn", handler)  # no virtual time: the loop stays at one instant
        uuid = sim.lambda_client.create_event_source_mapping(
            FunctionName="fn", EventSourceArn=table.stream_arn, StartingPosition="TRIM_HORIZON"
        )["UUID"]
        table.put_item({"pk": "a", "v": 0})
        return sim, uuid

    def test_a_loop_with_no_end_raises_and_stays_consistent(self) -> None:
        """1000 generations of self-written records raise SimulationLimitExceeded, and the run resumes."""
        sim, uuid = self._looping()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(esm_sim.errors.SimulationLimitExceeded, match="1000 generations"):
                sim.run_until_idle(max_seconds=60)
            with pytest.raises(esm_sim.errors.SimulationLimitExceeded, match="2000 generations"):
                sim.run_until_idle(max_seconds=60)
        counts = sim.fate_counts(uuid)
        assert sum(counts.values()) == len(sim.tables["orders"].shards[0])
        assert all(v >= 0 for v in counts.values())


class TestUnknownNames:
    def test_metrics_refuse_an_unknown_function_name(self) -> None:
        """sim.metrics with an unknown function_name raises ConfigError listing the known
        ones, instead of a vacuous 0."""
        sim, _table, _uuid = _world(lambda e, c: None, records=1)
        sim.run_until_idle()
        with pytest.raises(ConfigError, match=r"function_name='F' .* one of \['fn'\]"):
            sim.metrics.sum("Invocations", function_name="F")
        assert 1 == sim.metrics.sum("Invocations", function_name="fn")

    def test_limit_message_names_a_mapping_settling(self) -> None:
        """run_until_idle's limit message names a mapping still settling toward Enabled."""
        sim, _table, uuid = _world(lambda e, c: None, records=1)
        with pytest.raises(
            SimulationLimitExceeded,
            match=rf"mapping {uuid}: settling from Creating toward Enabled",
        ):
            sim.run_until_idle(max_seconds=1)
