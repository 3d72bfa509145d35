"""Tests for esm_sim.sweep: parallel runs over scenarios, results in scenario order."""

from __future__ import annotations

import math
import multiprocessing
import multiprocessing.pool
import os
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import esm_sim
from esm_sim._sweep import t_quantile
from esm_sim.errors import ConfigError

# Where this module is imported from (pytest puts tests/ on sys.path) and esm_sim's root.
HERE = str(Path(__file__).resolve().parent)
ROOT = str(Path(HERE).parent)


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
                r"executor='pool' must be a concurrent\.futures\.Executor, a pool with imap "
                r"\(multiprocessing\.Pool, ray\.util\.multiprocessing\.Pool\) or a joblib\.Parallel",
                id="executor",
            ),
            pytest.param(
                {"run": slow_identity, "replicates": 3},
                r"replicates=3 needs seed=: each replicate's seed is derived from it",
                id="replicates without seed",
            ),
            pytest.param(
                {"run": slow_identity, "seed": "7"}, r"seed='7' must be an int", id="seed"
            ),
            pytest.param(
                {"run": slow_identity, "seed": 7, "replicates": 0},
                r"replicates=0 must be an int >= 1",
                id="replicates=0",
            ),
        ],
    )
    def test_bad_arguments(self, kwargs: dict[str, Any], pattern: str) -> None:
        """A run that is not callable, an executor that is none of those sweep takes, replicates
        without a seed, or a bad seed or replicate count raise ConfigError."""
        with pytest.raises(ConfigError, match=pattern):
            esm_sim.sweep([1], **kwargs)


def _printing_run(seed: int) -> int:
    """A simulation whose handler prints its seed; returns how many invocations logged otherwise."""
    sim = esm_sim.Simulation(seed=seed)
    table = sim.create_table("things", partition_key="pk")

    def handler(event: Any, context: Any) -> None:
        time.sleep(0.0005)  # let another thread's simulation run meanwhile, if it can
        print(seed)

    sim.create_function("fn", handler, environment={"ESM_SIM_TEST_SEED": str(seed)})
    sim.lambda_client.create_event_source_mapping(
        FunctionName="fn",
        EventSourceArn=table.stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
    )
    for i in range(30):
        table.put_item({"pk": f"k{i}"})
    sim.run_until_idle()
    return sum(inv.logs != f"{seed}\n" for inv in sim.functions["fn"].invocations)


class TestSweepOnThreads:
    def test_simulations_in_threads_keep_their_own_logs_and_leave_the_process_as_it_was(
        self,
    ) -> None:
        """On a thread pool, each invocation's logs are its own handler's output, and sys.stdout and os.environ are the user's after the sweep (simulations in one process take turns)."""
        import sys

        stdout, environ = sys.stdout, dict(os.environ)
        with ThreadPoolExecutor(2) as pool:
            assert [0, 0, 0, 0] == esm_sim.sweep(range(4), _printing_run, executor=pool)
        assert sys.stdout is stdout
        assert environ == dict(os.environ)


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

    def test_seeded_replicates_on_dask_equal_the_serial_run(self) -> None:
        """A seeded sweep on a local Dask cluster gives the serial loop's replicates."""
        distributed = pytest.importorskip("distributed")
        with distributed.Client(
            processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
        ) as client:
            executor: Executor = client.get_executor()
            on_dask = esm_sim.sweep(SETTINGS, run_seeded, executor=executor, seed=7, replicates=2)
        assert _serial_replicates() == on_dask


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


# ---------------------------------------------------------------------------
# Pools, replicates and summaries (issue 19 item 3)
# ---------------------------------------------------------------------------


def run_seeded(scenario: dict[str, Any], seed: int) -> dict[str, Any]:
    """run_scenario with the replicate's seed in place of the scenario's own."""
    return run_scenario({**scenario, "seed": seed})


def echo(scenario: str, seed: int) -> tuple[str, int]:
    """What a seeded run was given."""
    return scenario, seed


SETTINGS = [{"batch_size": b} for b in (1, 10)]


def _serial_replicates(replicates: int = 2) -> list[list[dict[str, Any]]]:
    seeds = esm_sim.replicate_seeds(7, replicates)
    return [[run_seeded(s, seed) for seed in seeds] for s in SETTINGS]


@pytest.fixture
def worker_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers started afresh (joblib's loky, Ray) import this test module: give them the root."""
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [HERE, ROOT, os.environ.get("PYTHONPATH")]))
    )


class TestSweepOnPools:
    def test_a_multiprocessing_pool_gives_the_serial_results(self) -> None:
        """A multiprocessing.Pool (map-style, imap) gives exactly the serial loop's results."""
        with multiprocessing.Pool(2) as pool:
            assert [run_scenario(s) for s in SCENARIOS] == esm_sim.sweep(
                SCENARIOS, run_scenario, executor=pool
            )

    def test_results_from_a_pool_are_in_scenario_order(self) -> None:
        """A pool's results follow the scenarios' order even when later ones finish first."""
        with multiprocessing.pool.ThreadPool(5) as pool:
            assert [0, 1, 2, 3, 4] == esm_sim.sweep(range(5), slow_identity, executor=pool)

    def test_a_joblib_parallel_gives_the_serial_results(self, worker_path: None) -> None:
        """A joblib.Parallel gives exactly the serial loop's results, with and without seeds."""
        joblib = pytest.importorskip("joblib")
        parallel = joblib.Parallel(n_jobs=2)
        assert [run_scenario(s) for s in SCENARIOS] == esm_sim.sweep(
            SCENARIOS, run_scenario, executor=parallel
        )
        assert _serial_replicates() == esm_sim.sweep(
            SETTINGS, run_seeded, executor=parallel, seed=7, replicates=2
        )

    def test_a_pools_first_failure_is_raised(self) -> None:
        """An exception in a run on a pool is raised by sweep."""
        with (
            multiprocessing.pool.ThreadPool(2) as pool,
            pytest.raises(ValueError, match="scenario 2"),
        ):
            esm_sim.sweep(range(5), fail_on_two, executor=pool)

    def test_progress_counts_runs_on_a_pool(self, fake_tqdm: list[Any]) -> None:
        """progress=True counts every run on a pool, replicates included, and closes the bar."""
        with multiprocessing.pool.ThreadPool(2) as pool:
            results = esm_sim.sweep(
                ["a", "b"], echo, executor=pool, progress=True, seed=1, replicates=3
            )
        (bar,) = fake_tqdm
        assert (2, 6, 6, True) == (len(results), bar.options["total"], bar.n, bar.closed)


class TestReplicates:
    def test_each_scenario_runs_with_every_replicate_seed(self) -> None:
        """With seed=, run(scenario, seed) runs once per replicate seed, the same seeds for
        every scenario, grouped per scenario in replicate order."""
        seeds = esm_sim.replicate_seeds(7, 3)
        with ThreadPoolExecutor(2) as executor:
            results = esm_sim.sweep(["a", "b"], echo, executor=executor, seed=7, replicates=3)
        assert [[("a", s) for s in seeds], [("b", s) for s in seeds]] == results

    def test_one_replicate_by_default(self) -> None:
        """seed= without replicates= runs each scenario once, still as a list per scenario."""
        with ThreadPoolExecutor(1) as executor:
            results = esm_sim.sweep(["a"], echo, executor=executor, seed=7)
        assert [[("a", esm_sim.replicate_seeds(7, 1)[0])]] == results

    def test_replicate_seeds_are_pinned(self) -> None:
        """The seeds come from BLAKE2b and SplitMix64 (never hash()): these exact values on
        every machine, Python and PYTHONHASHSEED."""
        assert [
            8694321752284440167,
            13737094138268976452,
            12312797254027175435,
        ] == esm_sim.replicate_seeds(7, 3)

    def test_more_replicates_keep_the_earlier_seeds(self) -> None:
        """The first n seeds do not depend on how many replicates there are; they are distinct
        and change with the base seed."""
        five = esm_sim.replicate_seeds(7, 5)
        assert (esm_sim.replicate_seeds(7, 3), 5) == (five[:3], len(set(five)))
        assert not set(five) & set(esm_sim.replicate_seeds(8, 5))

    @pytest.mark.parametrize(
        "make",
        [
            pytest.param(lambda: ThreadPoolExecutor(2), id="threads"),
            pytest.param(lambda: ProcessPoolExecutor(2), id="processes"),
            pytest.param(lambda: multiprocessing.Pool(2), id="multiprocessing.Pool"),
        ],
    )
    def test_seeded_replicates_equal_the_serial_run(self, make: Any) -> None:
        """Replicates on threads, processes or a pool equal the serial loop over replicate_seeds."""
        with make() as executor:
            assert _serial_replicates() == esm_sim.sweep(
                SETTINGS, run_seeded, executor=executor, seed=7, replicates=2
            )


def _t_cdf_above_zero(t: float, df: int, steps: int = 4000) -> float:
    """P(0 < T < t) for Student's t with df degrees of freedom, by Simpson's rule."""
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def pdf(x: float) -> float:
        return c * (1 + x * x / df) ** (-(df + 1) / 2)

    h = t / steps
    total = pdf(0) + pdf(t) + sum((4 if i % 2 else 2) * pdf(i * h) for i in range(1, steps))
    return total * h / 3


class TestSummarize:
    def test_mean_and_student_t_interval(self) -> None:
        """The interval is mean ± t(0.975, n-1) · s / sqrt(n), s the sample standard deviation."""
        estimate = esm_sim.summarize([1, 2, 3, 4, 5])
        half = 2.7764 * math.sqrt(2.5) / math.sqrt(5)
        assert (3.0, 3 - half, 3 + half, math.sqrt(2.5), 5) == pytest.approx(
            (estimate.mean, estimate.low, estimate.high, estimate.stdev, estimate.n)
        )

    def test_dicts_are_summarized_key_by_key(self) -> None:
        """Dicts of numbers (e.g. fate counts) give an Estimate per key, in the first's order."""
        summary = esm_sim.summarize([{"b": 1, "a": 4}, {"a": 6, "b": 3}])
        assert (["b", "a"], 2.0, 5.0) == (list(summary), summary["b"].mean, summary["a"].mean)

    def test_one_replicate_has_no_interval(self) -> None:
        """With one replicate the mean is known and the spread is not: NaN bounds."""
        estimate = esm_sim.summarize([4])
        assert (4.0, True, True) == (
            estimate.mean,
            math.isnan(estimate.low),
            math.isnan(estimate.high),
        )

    def test_str_gives_mean_interval_and_n(self) -> None:
        """str(estimate) reads 'mean (95% CI low to high, n=N)'."""
        assert "2 (95% CI 2 to 2, n=3)" == str(esm_sim.summarize([2, 2, 2]))

    @pytest.mark.parametrize(
        ("values", "pattern"),
        [
            pytest.param([], "no replicates", id="empty"),
            pytest.param([1, True], "True is not a number", id="bool"),
            pytest.param([1, "2"], "'2' is not a number", id="text"),
            pytest.param([{"a": 1}, {"b": 1}], "replicate 1 has keys", id="keys differ"),
            pytest.param(
                [{1: 1, "a": 2}, {"b": 1}], "replicate 1 has keys", id="keys of mixed types"
            ),
            pytest.param([{"a": None}], r"\['a'\] = None is not a number", id="value in a dict"),
        ],
    )
    def test_bad_replicates_raise_config_error(self, values: list[Any], pattern: str) -> None:
        """No replicates, a value that is not a number, or dicts with different keys raise."""
        with pytest.raises(ConfigError, match=pattern):
            esm_sim.summarize(values)

    @pytest.mark.parametrize("df", [*range(1, 31), 31, 40, 60, 120, 1000])
    def test_t_quantile_is_the_975th_percentile(self, df: int) -> None:
        """t_quantile(df) leaves 2.5 % above it: the table to 4 decimals up to df 30, the
        Cornish-Fisher expansion beyond."""
        assert 0.475 == pytest.approx(_t_cdf_above_zero(t_quantile(df), df), abs=2e-5)

    def test_summaries_of_a_sweep(self) -> None:
        """A seeded sweep's replicates per setting summarize to means of their fate counts."""
        with ThreadPoolExecutor(2) as executor:
            results = esm_sim.sweep(SETTINGS, run_seeded, executor=executor, seed=7, replicates=3)
        processed = [esm_sim.summarize([r["fates"] for r in reps])["processed"] for reps in results]
        assert [3, 3] == [e.n for e in processed]


@pytest.fixture(scope="class")
def ray_pool() -> Iterator[Any]:
    """A Ray pool of one actor on a one-CPU local instance, shared by the class's tests
    (starting Ray takes seconds); skipped, with the reason, where Ray cannot start."""
    ray = pytest.importorskip("ray")
    from ray.util.multiprocessing import Pool

    saved = os.environ.get("PYTHONPATH")
    # Ray's workers import this test module: give them its folder and esm_sim's root.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [HERE, ROOT, saved]))
    try:
        try:
            ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
        except Exception as error:  # no room for its processes, no shared memory, ...
            pytest.skip(f"ray cannot start a local instance here: {error}")
        try:
            with Pool(processes=1) as pool:
                yield pool
        finally:
            ray.shutdown()
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved


class TestSweepOnRay:
    def test_a_local_ray_instance_gives_the_serial_results(self, ray_pool: Any) -> None:
        """Ray's multiprocessing Pool on a one-CPU local instance gives the serial results,
        with and without seeds."""
        plain = esm_sim.sweep(SCENARIOS[:2], run_scenario, executor=ray_pool)
        seeded = esm_sim.sweep(SETTINGS, run_seeded, executor=ray_pool, seed=7, replicates=2)
        assert ([run_scenario(s) for s in SCENARIOS[:2]], _serial_replicates()) == (plain, seeded)

    def test_a_failure_on_ray_is_raised(self, ray_pool: Any) -> None:
        """A run's exception on Ray's pool is raised by sweep, as on any other executor
        (Ray's imap hands it back as a result)."""
        with pytest.raises(ValueError, match="scenario 2"):
            esm_sim.sweep(range(4), fail_on_two, executor=ray_pool)
