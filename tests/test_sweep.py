"""Tests for esm_sim.sweep: parallel runs over scenarios, results in scenario order."""

from __future__ import annotations

import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import pytest

import esm_sim
from esm_sim.errors import ConfigError


def run_scenario(scenario: dict[str, Any]) -> dict[str, Any]:
    """One seeded simulation with a poison record: a picklable summary of where records ended."""
    sim = esm_sim.Simulation(seed=scenario["seed"])
    table = sim.create_table("orders", partition_key="pk")

    def handler(event: dict[str, Any], context: Any) -> None:
        if any(r["dynamodb"]["Keys"]["pk"]["S"] == "poison" for r in event["Records"]):
            raise RuntimeError("poison")

    sim.create_function("fn", handler)
    sim.lambda_client.create_event_source_mapping(
        FunctionName="fn",
        EventSourceArn=table.stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=scenario["batch_size"],
        MaximumRetryAttempts=1,
        BisectBatchOnFunctionError=True,
    )
    for i in range(6):
        table.put_item({"pk": "poison" if i == 3 else f"k{i}"})
    sim.run_until_idle()
    return {"seed": scenario["seed"], "fates": sim.fate_counts(), "digest": sim.trace.digest()}


def slow_identity(x: int) -> int:
    """Later scenarios finish first, so completion order differs from scenario order."""
    time.sleep(0.02 * (5 - x))
    return x


def fail_on_two(x: int) -> int:
    """Raises for scenario 2."""
    if x == 2:
        raise ValueError("scenario 2")
    return x


SCENARIOS = [{"seed": s, "batch_size": b} for s in range(3) for b in (1, 10)]


class TestSweep:
    def test_matches_a_plain_loop(self) -> None:
        """The default process pool gives exactly what a sequential loop gives."""
        assert [run_scenario(s) for s in SCENARIOS] == esm_sim.sweep(SCENARIOS, run_scenario)

    @pytest.mark.parametrize(
        "make",
        [
            pytest.param(lambda: ThreadPoolExecutor(4), id="threads"),
            pytest.param(lambda: ProcessPoolExecutor(2), id="processes"),
        ],
    )
    def test_any_executor_gives_the_same_results(self, make: Any) -> None:
        """Threads and processes give the same results, in scenario order."""
        with make() as executor:
            assert esm_sim.sweep(SCENARIOS, run_scenario, executor=executor) == esm_sim.sweep(
                SCENARIOS, run_scenario, executor=ThreadPoolExecutor(1)
            )

    def test_results_are_in_scenario_order_not_completion_order(self) -> None:
        """Results follow the scenarios' order even when later ones finish first."""
        with ThreadPoolExecutor(5) as executor:
            assert [0, 1, 2, 3, 4] == esm_sim.sweep(range(5), slow_identity, executor=executor)

    def test_empty_sweep(self) -> None:
        """No scenarios give no results (and start no processes)."""
        assert [] == esm_sim.sweep([], run_scenario)

    def test_the_first_failure_is_raised(self) -> None:
        """An exception in a run is raised by sweep."""
        with ThreadPoolExecutor(2) as executor, pytest.raises(ValueError, match="scenario 2"):
            esm_sim.sweep(range(5), fail_on_two, executor=executor)

    @pytest.mark.parametrize(
        ("kwargs", "pattern"),
        [
            pytest.param({"run": 3}, r"run=3 must be a callable", id="run"),
            pytest.param(
                {"run": slow_identity, "executor": "pool"},
                r"executor='pool' must be a concurrent\.futures\.Executor",
                id="executor",
            ),
        ],
    )
    def test_bad_arguments(self, kwargs: dict[str, Any], pattern: str) -> None:
        """A run that is not callable, or an executor that is not one, raises ConfigError."""
        with pytest.raises(ConfigError, match=pattern):
            esm_sim.sweep([1], **kwargs)


class TestSweepOnDask:
    def test_a_local_dask_cluster_gives_the_same_results(self) -> None:
        """A Dask cluster's executor gives the same results as the default process pool."""
        distributed = pytest.importorskip("distributed")
        with distributed.Client(
            processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
        ) as client:
            executor: Executor = client.get_executor()
            on_dask = esm_sim.sweep(SCENARIOS, run_scenario, executor=executor)
        assert [run_scenario(s) for s in SCENARIOS] == on_dask


def _square(x: int) -> int:
    return x * x


class TestSweepProgress:
    def test_sweep_progress_counts_finished_scenarios(self, fake_tqdm: list[Any]) -> None:
        """sweep(progress=True) counts every scenario on one bar and closes it."""
        with ThreadPoolExecutor(2) as executor:
            results = esm_sim.sweep(range(4), _square, executor=executor, progress=True)
        (bar,) = fake_tqdm
        assert ([0, 1, 4, 9], 4, 4, True) == (results, bar.options["total"], bar.n, bar.closed)

    def test_sweep_progress_false_makes_no_bar(self, fake_tqdm: list[Any]) -> None:
        """sweep(progress=False) builds no bar."""
        with ThreadPoolExecutor(2) as executor:
            esm_sim.sweep(range(4), _square, executor=executor, progress=False)
        assert [] == fake_tqdm

    def test_sweep_progress_true_without_tqdm_names_the_extra(self, no_tqdm: None) -> None:
        """sweep(progress=True) without tqdm raises ConfigError naming the install command."""
        with pytest.raises(ConfigError, match=r"pip install 'esm_sim\[progress\]'"):
            esm_sim.sweep([1], _square, progress=True)
