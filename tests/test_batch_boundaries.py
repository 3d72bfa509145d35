"""
Tests of esm_sim.testing.check_batch_independent and esm_sim.strategies.batch_settings.

A handler whose side effects depend on where batches begin and end is caught;
one that treats each record on its own passes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis.errors import InvalidArgument

import esm_sim
from esm_sim import testing
from esm_sim.errors import ConfigError
from esm_sim.strategies import Fault, FaultPlan, Scenario, Write, batch_settings, scenarios

Factory = Callable[[], tuple[Any, Callable[[], object]]]


def _write(at_ms: int, key: str, v: int, op: str = "put") -> Write:
    return Write(at_ms=at_ms, op=op, item={"pk": key, "v": v})


# A burst of three writes, two more two seconds later, a delete later still:
# BatchSize 1 gives six batches, BatchSize 2 pairs records up.
SCENARIO = Scenario(
    writes=(
        _write(0, "k0", 1),
        _write(0, "k1", 2),
        _write(0, "k2", 3),
        _write(2000, "k0", 4),
        _write(2000, "k3", 5),
        _write(20_000, "k1", 6, "delete"),
    ),
)


def _pk(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["Keys"]["pk"]["S"])


def _value(record: dict[str, Any]) -> int | None:
    image = record["dynamodb"].get("NewImage")
    return None if image is None else int(image["v"]["N"])


def last_value() -> tuple[Any, Callable[[], object]]:
    """Correct: each record sets its key's value, whatever batch it came in."""
    values: dict[str, int | None] = {}

    def handler(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            values[_pk(record)] = _value(record)

    return handler, lambda: dict(values)


def first_record_only() -> tuple[Any, Callable[[], object]]:
    """Wrong: processes Records[0] and nothing else."""
    values: dict[str, int | None] = {}

    def handler(event: dict[str, Any], context: Any) -> None:
        record = event["Records"][0]
        values[_pk(record)] = _value(record)

    return handler, lambda: dict(values)


def pops_one_record() -> tuple[Any, Callable[[], object]]:
    """Wrong: pops the last record off the batch (as if it were a trailer) and processes the rest."""
    values: dict[str, int | None] = {}

    def handler(event: dict[str, Any], context: Any) -> None:
        event["Records"].pop()
        for record in event["Records"]:
            values[_pk(record)] = _value(record)

    return handler, lambda: dict(values)


def numbers_invocations() -> tuple[Any, Callable[[], object]]:
    """Wrong: keeps state across invocations (a counter) and writes it with each value."""
    values: dict[str, tuple[int | None, int]] = {}
    calls = [0]

    def handler(event: dict[str, Any], context: Any) -> None:
        calls[0] += 1
        for record in event["Records"]:
            values[_pk(record)] = (_value(record), calls[0])

    return handler, lambda: dict(values)


def largest_batch_total() -> tuple[Any, Callable[[], object]]:
    """Wrong: aggregates per batch (the largest total of a batch's values)."""
    totals: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        totals.append(sum(_value(r) or 0 for r in event["Records"]))

    return handler, lambda: max(totals, default=0)


SMALL = {"BatchSize": 1, "MaximumBatchingWindowInSeconds": 0, "BisectBatchOnFunctionError": False}
PAIRS = {"BatchSize": 2, "MaximumBatchingWindowInSeconds": 0, "BisectBatchOnFunctionError": False}


class TestCheckBatchIndependent:
    def test_a_per_record_handler_passes(self) -> None:
        """A handler that treats each record on its own gives equal effects under every setting."""
        testing.check_batch_independent(last_value, SCENARIO)

    @pytest.mark.parametrize(
        ("factory", "first", "second"),
        [
            pytest.param(
                first_record_only,
                "{'k0': 4, 'k1': None, 'k2': 3, 'k3': 5}",
                "{'k0': 1, 'k2': 3, 'k3': 5, 'k1': None}",
                id="Records[0] only",
            ),
            pytest.param(pops_one_record, "{}", "{'k0': 1, 'k2': 3}", id="pops a record"),
            pytest.param(
                numbers_invocations,
                "{'k0': (4, 4), 'k1': (None, 6), 'k2': (3, 3), 'k3': (5, 5)}",
                "{'k0': (4, 2), 'k1': (None, 4), 'k2': (3, 2), 'k3': (5, 3)}",
                id="state across invocations",
            ),
            pytest.param(largest_batch_total, "5", "7", id="aggregates per batch"),
        ],
    )
    def test_batch_dependent_handlers_are_caught(
        self, factory: Factory, first: str, second: str
    ) -> None:
        """Each batch-dependent handler is caught by the default grid at BatchSize 1 against 2,
        the message giving both settings, both effects and both runs' batches."""
        with pytest.raises(AssertionError) as caught:
            testing.check_batch_independent(factory, SCENARIO)
        assert (
            "the handler's side effects depend on how its records are batched: two batch "
            "settings give different side effects\n"
            f"  first setting:  {SMALL!r}\n"
            f"    side effects:  {first}\n"
            "    batches:       [k0] [k1] [k2] [k0] [k3] [k1]\n"
            f"  second setting:  {PAIRS!r}\n"
            f"    side effects:  {second}\n"
            "    batches:       [k0, k1] [k2, k0] [k3] [k1]"
        ) == str(caught.value)

    def test_the_pair_differing_in_fewest_keys_is_reported(self) -> None:
        """Of the disagreeing pairs, the one differing in the fewest keys is reported, even
        when a pair differing in more comes first in the list."""
        wide = {"BatchSize": 100, "MaximumBatchingWindowInSeconds": 10}
        with pytest.raises(AssertionError) as caught:
            testing.check_batch_independent(
                first_record_only, SCENARIO, settings=[wide, {"BatchSize": 1}, {"BatchSize": 2}]
            )
        lines = str(caught.value).splitlines()
        assert ("  first setting:  {'BatchSize': 1}", "  second setting:  {'BatchSize': 2}") == (
            lines[1],
            lines[4],
        )

    def test_ties_go_to_the_earliest_settings_in_the_list(self) -> None:
        """Among pairs differing in as many keys, the one whose settings come first is reported."""
        with pytest.raises(AssertionError) as caught:
            testing.check_batch_independent(
                first_record_only,
                SCENARIO,
                settings=[{"BatchSize": 3}, {"BatchSize": 1}, {"BatchSize": 2}],
            )
        lines = str(caught.value).splitlines()
        assert ("  first setting:  {'BatchSize': 3}", "  second setting:  {'BatchSize': 1}") == (
            lines[1],
            lines[4],
        )

    def test_bisect_retries_a_failed_batch_in_halves(self) -> None:
        """With BisectBatchOnFunctionError the first batch of two or more records fails before
        the handler runs and comes back in halves (spec 3.4), which a per-batch total notices."""
        window = {"BatchSize": 100, "MaximumBatchingWindowInSeconds": 10}
        with pytest.raises(AssertionError) as caught:
            testing.check_batch_independent(
                largest_batch_total,
                SCENARIO,
                settings=[window, {**window, "BisectBatchOnFunctionError": True}],
            )
        batches = [line.strip() for line in str(caught.value).splitlines() if "batches:" in line]
        assert [
            "batches:       [k0, k1, k2, k0, k3] [k1]",
            "batches:       [k0, k1, k2] [k0, k3] [k1]",
        ] == batches

    def test_the_scenarios_faults_are_not_used(self) -> None:
        """Each run is clean: a fault plan that redelivers records (which a counting handler
        would count under one batch size and not another) is left out."""

        def counting() -> tuple[Any, Callable[[], object]]:
            counts: dict[str, int] = {}

            def handler(event: dict[str, Any], context: Any) -> None:
                for record in event["Records"]:
                    counts[_pk(record)] = counts.get(_pk(record), 0) + 1

            return handler, lambda: dict(counts)

        faulty = Scenario(
            writes=SCENARIO.writes,
            faults=FaultPlan(faults=(Fault(kind="raise_after", attempts=(1,), times=1),)),
        )
        testing.check_batch_independent(counting, faulty)

    def test_no_record_is_discarded_by_retries_or_age(self) -> None:
        """Retries and record age are unlimited in the runs: a scenario mapping with no
        retries and a 60-second age limit loses nothing under a 300-second window or bisect."""
        strict = Scenario(
            writes=SCENARIO.writes,
            mapping={
                "StartingPosition": "TRIM_HORIZON",
                "MaximumRetryAttempts": 0,
                "MaximumRecordAgeInSeconds": 60,
            },
        )
        testing.check_batch_independent(
            last_value,
            strict,
            settings=[
                {"BatchSize": 1},
                {"BatchSize": 10000, "MaximumBatchingWindowInSeconds": 300},
                {"BatchSize": 1, "BisectBatchOnFunctionError": True},
            ],
        )

    def test_a_handler_failing_under_some_settings_is_reported(self) -> None:
        """A handler that raises on batches of more than one record disagrees with itself:
        the message says it failed, and how."""

        def refuses_pairs() -> tuple[Any, Callable[[], object]]:
            inner, effects = last_value()

            def handler(event: dict[str, Any], context: Any) -> None:
                if len(event["Records"]) > 1:
                    raise ValueError("too many records")
                inner(event, context)

            return handler, effects

        with pytest.raises(
            AssertionError, match=r"handler failed: ValueError: too many records"
        ) as caught:
            testing.check_batch_independent(refuses_pairs, SCENARIO)
        assert "second setting:  " + repr(PAIRS) in str(caught.value)

    def test_a_failure_counts_even_when_the_effects_end_equal(self) -> None:
        """A handler that fails on pairs is reported under bisect too, where the halves then
        succeed and its effects end as under BatchSize 1: failing is itself a difference."""

        def refuses_pairs() -> tuple[Any, Callable[[], object]]:
            inner, effects = last_value()

            def handler(event: dict[str, Any], context: Any) -> None:
                if len(event["Records"]) > 1:
                    raise ValueError("too many records")
                inner(event, context)

            return handler, effects

        bisect = {"BatchSize": 2, "BisectBatchOnFunctionError": True}
        with pytest.raises(AssertionError) as caught:
            testing.check_batch_independent(
                refuses_pairs, SCENARIO, settings=[{"BatchSize": 1}, bisect]
            )
        lines = str(caught.value).splitlines()
        assert lines[2] == lines[5]
        assert "    handler failed: ValueError: too many records" == lines[-1]

    def test_a_handler_failing_under_every_setting_cannot_be_compared(self) -> None:
        """A handler that fails without faults under every setting raises, saying so."""

        def always_fails() -> tuple[Any, Callable[[], object]]:
            def handler(event: dict[str, Any], context: Any) -> None:
                raise ValueError("down")

            return handler, dict

        with pytest.raises(
            AssertionError,
            match=r"failed under every batch setting \(ValueError: down\); it must succeed",
        ):
            testing.check_batch_independent(
                always_fails,
                Scenario(writes=SCENARIO.writes[:1]),
                settings=[{"BatchSize": 1, "BisectBatchOnFunctionError": True}, {"BatchSize": 2}],
            )

    @pytest.mark.parametrize(
        ("settings_", "pattern"),
        [
            pytest.param([{"BatchSize": 1}], r"must hold at least two settings", id="one setting"),
            pytest.param({"BatchSize": 1}, r"must be a list of dicts", id="a dict"),
            pytest.param([{"BatchSize": 1}, 2], r"settings: 2 must be a dict", id="not a dict"),
            pytest.param(
                [{"BatchSize": 1}, {"ParallelizationFactor": 2}],
                r"has 'ParallelizationFactor'; only BatchSize, MaximumBatchingWindowInSeconds, "
                r"BisectBatchOnFunctionError move batch boundaries",
                id="unknown key",
            ),
        ],
    )
    def test_bad_settings_raise_config_error(self, settings_: Any, pattern: str) -> None:
        """settings= that is not a list of at least two dicts of batch keys raises ConfigError."""
        with pytest.raises(ConfigError, match=pattern):
            testing.check_batch_independent(last_value, SCENARIO, settings=settings_)

    def test_a_value_aws_refuses_gets_aws_error(self) -> None:
        """A BatchSize above AWS's maximum gets the control plane's own error."""
        with pytest.raises(esm_sim.errors.ValidationException):
            testing.check_batch_independent(
                last_value, SCENARIO, settings=[{"BatchSize": 1}, {"BatchSize": 10001}]
            )


# Generation only (no shrinking): the search finds a failing pair quickly; shrinking
# it, as a user's test does, takes longer than these tests need.
_find = settings(max_examples=60, phases=[Phase.explicit, Phase.reuse, Phase.generate])


class TestPropertyVersion:
    @pytest.mark.parametrize(
        "factory",
        [first_record_only, pops_one_record, numbers_invocations, largest_batch_total],
    )
    def test_two_drawn_settings_catch_batch_dependent_handlers(self, factory: Factory) -> None:
        """@given(scenarios(), batch_settings(), batch_settings()) finds a failing case for each
        batch-dependent handler."""

        @_find
        @given(scenarios(max_writes=6), batch_settings(), batch_settings())
        def check(scenario: Scenario, a: dict[str, Any], b: dict[str, Any]) -> None:
            testing.check_batch_independent(factory, scenario, settings=[a, b])

        with pytest.raises(AssertionError, match="depend on how its records are batched"):
            check()

    @settings(max_examples=30)
    @given(scenarios(max_writes=6), batch_settings(), batch_settings())
    def test_a_per_record_handler_passes_every_draw(
        self, scenario: Scenario, a: dict[str, Any], b: dict[str, Any]
    ) -> None:
        """The per-record handler passes for any scenario and any two drawn settings."""
        testing.check_batch_independent(last_value, scenario, settings=[a, b])


class TestBatchSettings:
    @given(batch_settings())
    def test_draws_are_within_aws_ranges(self, setting: dict[str, Any]) -> None:
        """BatchSize 1..10000, window 0..300 s, bisect a bool (spec 1.2)."""
        assert 1 <= setting["BatchSize"] <= 10000
        assert 0 <= setting["MaximumBatchingWindowInSeconds"] <= 300
        assert isinstance(setting["BisectBatchOnFunctionError"], bool)

    @given(
        batch_settings(
            max_batch_size=5, max_batching_window_in_seconds=2, bisect_batch_on_function_error=True
        )
    )
    def test_bounds_and_fixed_bisect_are_respected(self, setting: dict[str, Any]) -> None:
        """max_batch_size, max_batching_window_in_seconds and a fixed bisect hold for every draw."""
        assert setting["BatchSize"] <= 5
        assert setting["MaximumBatchingWindowInSeconds"] <= 2
        assert setting["BisectBatchOnFunctionError"] is True

    def test_shrinks_to_the_smallest_setting(self) -> None:
        """The simplest draw is BatchSize 1, no window, no bisect."""
        assert SMALL == find(batch_settings(), lambda s: True)

    @pytest.mark.parametrize(
        "kwargs",
        [
            pytest.param({"max_batch_size": 0}, id="max_batch_size=0"),
            pytest.param({"max_batch_size": 10001}, id="max_batch_size=10001"),
            pytest.param({"max_batching_window_in_seconds": 301}, id="window=301"),
            pytest.param({"bisect_batch_on_function_error": "yes"}, id="bisect='yes'"),
        ],
    )
    def test_bad_arguments_raise_invalid_argument_when_drawn(self, kwargs: dict[str, Any]) -> None:
        """Arguments outside AWS's ranges raise InvalidArgument when drawn from."""
        strategy = batch_settings(**kwargs)
        with pytest.raises(InvalidArgument):
            find(strategy, lambda _: True)
