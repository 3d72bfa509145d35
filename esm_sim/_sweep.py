"""
Sweeps: run one scenario function over many scenarios, in parallel, on any executor or pool.

This module owns ``esm_sim.sweep``, :func:`replicate_seeds` and
:func:`summarize`. A simulation is single-threaded and deterministic, so a
sweep over seeds or settings is embarrassingly parallel: each scenario runs in
its own process (or Dask worker, Ray actor, joblib worker, or thread) and only
the scenario and its picklable summary travel. Results come back in scenario
order, so a sweep gives the same list whatever ran it and however its workers
interleaved.

Replicates: with ``seed=``, every scenario runs ``replicates`` times, replicate
``i`` with the ``i``-th of :func:`replicate_seeds` ``(seed, replicates)``. The
seeds are derived in the calling process from the base seed alone, by BLAKE2b
(as :mod:`esm_sim._engine.rng` derives its streams; never ``hash()``), so they
are the same on every machine, Python and pool; and every scenario gets the
same seeds (common random numbers: two settings are compared on the same
random draws, so their difference is not noise between seeds).
:func:`summarize` gives each setting's replicates a mean and a 95 % Student t
confidence interval.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any, TypeVar, overload

import attrs

from esm_sim import _progress
from esm_sim._engine.rng import Rng
from esm_sim.errors import ConfigError

S = TypeVar("S")
R = TypeVar("R")

DEFAULT_MAX_WORKERS = 2
EXECUTORS = (
    "a concurrent.futures.Executor, a pool with imap (multiprocessing.Pool, "
    "ray.util.multiprocessing.Pool) or a joblib.Parallel"
)


def _check_count(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        msg = f"{name}={value!r} must be an int >= 1"
        raise ConfigError(msg)
    return value


def replicate_seeds(seed: int, replicates: int) -> list[int]:
    """
    The seeds ``sweep(..., seed=seed, replicates=replicates)`` gives its replicates.

    Replicate ``i``'s seed is the first 64 bits of the stream named
    ``sweep/replicate/{i}`` under ``Rng.from_seed(seed)`` (BLAKE2b, then
    SplitMix64): the same on every machine and Python, and the first ``n``
    seeds are the same whatever ``replicates`` is, so adding replicates keeps
    the earlier ones. Rerun one replicate alone with its seed.

    Raises:
        ConfigError: ``seed`` is not an int, or ``replicates`` is not an int >= 1.

    .. versionadded:: 0.1.0
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        msg = f"seed={seed!r} must be an int"
        raise ConfigError(msg)
    _check_count("replicates", replicates)
    root = Rng.from_seed(seed)
    return [root.child(f"sweep/replicate/{i}").next64() for i in range(replicates)]


class _Star:
    """``fn(*args)`` as a one-argument callable, picklable when ``fn`` is (for ``imap``)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, args: tuple[Any, ...]) -> Any:
        return self.fn(*args)


@overload
def sweep(
    scenarios: Iterable[S],
    run: Callable[[S], R],
    *,
    executor: object = None,
    progress: object = None,
    seed: None = None,
    replicates: None = None,
) -> list[R]: ...


@overload
def sweep(
    scenarios: Iterable[S],
    run: Callable[[S, int], R],
    *,
    executor: object = None,
    progress: object = None,
    seed: int,
    replicates: int = 1,
) -> list[list[R]]: ...


def sweep(
    scenarios: Iterable[Any],
    run: Callable[..., Any],
    *,
    executor: object = None,
    progress: object = None,
    seed: int | None = None,
    replicates: int | None = None,
) -> list[Any]:
    """
    ``[run(s) for s in scenarios]``, computed in parallel on an executor or a pool.

    Args:
        scenarios: picklable scenario objects (a seed, a dict of settings, an
            attrs instance, ...); each should carry everything ``run`` needs
            (its seed too, unless ``seed`` is given), so a result depends on
            its scenario alone.
        run: a picklable (module-level) function from a scenario (and, with
            ``seed``, a seed) to a picklable summary, e.g. ``sim.fate_counts()``;
            not a whole Simulation.
        executor: where the runs go; the caller keeps ownership (it is not
            shut down). A ``concurrent.futures.Executor`` (``ThreadPoolExecutor``,
            ``ProcessPoolExecutor``, Dask's ``distributed.Client(...).get_executor()``);
            a pool with ``imap`` (``multiprocessing.Pool``, Ray's
            ``ray.util.multiprocessing.Pool``); or a ``joblib.Parallel``. Default:
            a ``ProcessPoolExecutor`` with 2 workers, shut down afterwards.
        progress: a bar counting finished runs: None (in a notebook or
            terminal once the sweep lasts over 2 wall seconds, never in CI),
            True (always; needs ``pip install 'esm_sim[progress]'``), False
            (never), or a text stream to draw it on.
        seed: None (the default): ``run(scenario)`` once per scenario. An int:
            ``run(scenario, replicate_seed)`` ``replicates`` times per scenario,
            with the seeds of :func:`replicate_seeds` ``(seed, replicates)``,
            the same for every scenario.
        replicates: runs per scenario with ``seed`` (default 1).

    Returns:
        Without ``seed``, the summaries in scenario order, whatever order they
        finished in. With ``seed``, one list per scenario of its replicates'
        summaries, in replicate order (give each to :func:`summarize`).

    Raises:
        ConfigError: ``run`` is not callable, ``executor`` is none of the
            above, ``replicates`` without ``seed``, or a bad ``seed``/``replicates``.
        Exception: the first (in scenario order) exception a ``run`` raised.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.1.0 ``progress``; pools and joblib; ``seed`` and ``replicates``.
    """
    if not callable(run):
        msg = f"run={run!r} must be a callable taking one scenario"
        raise ConfigError(msg)
    joblib = _joblib(executor)
    if not (
        executor is None
        or isinstance(executor, Executor)
        or joblib is not None
        or callable(getattr(executor, "imap", None))
    ):
        msg = f"executor={executor!r} must be {EXECUTORS}"
        raise ConfigError(msg)
    if seed is None and replicates is not None:
        msg = f"replicates={replicates!r} needs seed=: each replicate's seed is derived from it"
        raise ConfigError(msg)
    _progress.check(progress)
    items = list(scenarios)
    if seed is None:
        tasks: list[tuple[Any, ...]] = [(item,) for item in items]
    else:
        seeds = replicate_seeds(seed, 1 if replicates is None else replicates)
        tasks = [(item, s) for item in items for s in seeds]
    if not tasks:
        return []
    bar = _progress.open_bar(progress, total=len(tasks), unit="run", desc="sweep")
    try:
        if executor is None:
            with ProcessPoolExecutor(max_workers=DEFAULT_MAX_WORKERS) as pool:
                results = _gather(_on_executor(pool, run, tasks), bar)
        elif isinstance(executor, Executor):
            results = _gather(_on_executor(executor, run, tasks), bar)
        elif joblib is not None:
            calls = (joblib.delayed(run)(*task) for task in tasks)
            results = _gather(iter(executor(calls)), bar)  # type: ignore[operator]
        else:
            fn = run if seed is None else _Star(run)
            args = items if seed is None else tasks
            mapped = executor.imap(fn, args)  # type: ignore[attr-defined]
            if type(executor).__module__.startswith("ray."):
                mapped = _raised(mapped)
            results = _gather(mapped, bar)
    finally:
        if bar is not None:
            bar.close()
    if seed is None:
        return results
    per = len(tasks) // len(items)
    return [results[i * per : (i + 1) * per] for i in range(len(items))]


def _joblib(executor: object) -> Any:
    """joblib, when ``executor`` is a ``joblib.Parallel`` (never imports joblib itself)."""
    joblib = sys.modules.get("joblib")
    parallel = getattr(joblib, "Parallel", None)
    if isinstance(parallel, type) and isinstance(executor, parallel):
        return joblib
    return None


def _raised(results: Iterable[Any]) -> Iterator[Any]:
    """
    Ray's pool's results with its failures raised: its ``imap`` yields a failed
    task's exception as a result (wrapped in a ``PoolTaskError`` holding it as
    ``underlying``, or a ``RayTaskError``), where multiprocessing's raises it.
    """
    for result in results:
        if isinstance(result, Exception):
            underlying = getattr(result, "underlying", None)
            raise underlying if isinstance(underlying, BaseException) else result
        yield result


def _on_executor(
    executor: Executor, run: Callable[..., Any], tasks: list[tuple[Any, ...]]
) -> Iterator[Any]:
    # submit + result in submission order, not as_completed: the order of the
    # results must not depend on which worker finished first (the bar, too,
    # counts them in scenario order).
    futures = [executor.submit(run, *task) for task in tasks]
    try:
        for future in futures:
            yield future.result()
    finally:
        for future in futures:
            future.cancel()  # after a failure, don't leave the rest queued


def _gather(results: Iterator[Any], bar: Any) -> list[Any]:
    out = []
    for result in results:
        out.append(result)
        if bar is not None:
            bar.update(1)
    return out


# ---------------------------------------------------------------------------
# Summaries of replicates
# ---------------------------------------------------------------------------

CONFIDENCE = 0.95
# Two-sided 95 % Student t quantiles t(0.975, df) for df = 1..30, from the
# standard table (4 decimals); tests/test_sweep.py checks each against the t
# distribution's CDF, integrated numerically.
_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip
_Z975 = 1.959963984540054  # the normal quantile


def t_quantile(df: int) -> float:
    """
    The two-sided 95 % Student t quantile t(0.975, ``df``): the table for df <= 30,
    beyond it the Cornish-Fisher expansion around the normal quantile (error < 1e-5).
    """
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


@attrs.frozen(kw_only=True)
class Estimate:
    """
    The mean of ``n`` replicates and its 95 % confidence interval ``[low, high]``.

    The interval is Student t's: ``mean ± t(0.975, n - 1) * stdev / sqrt(n)``,
    with ``stdev`` the sample standard deviation (n - 1 in the denominator);
    it assumes the replicates are independent and their mean roughly normal.
    With one replicate nothing is known of the spread: ``stdev``, ``low`` and
    ``high`` are NaN.

    .. versionadded:: 0.1.0
    """

    mean: float
    low: float
    high: float
    stdev: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.4g} (95% CI {self.low:.4g} to {self.high:.4g}, n={self.n})"


def _estimate(values: Sequence[float]) -> Estimate:
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return Estimate(mean=mean, low=math.nan, high=math.nan, stdev=math.nan, n=n)
    stdev = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile(n - 1) * stdev / math.sqrt(n)
    return Estimate(mean=mean, low=mean - half, high=mean + half, stdev=stdev, n=n)


def _number(value: object, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    msg = f"summarize: {where}{value!r} is not a number (int or float)"
    raise ConfigError(msg)


@overload
def summarize(replicates: Sequence[Mapping[str, object]]) -> dict[str, Estimate]: ...


@overload
def summarize(replicates: Sequence[float]) -> Estimate: ...


def summarize(replicates: Sequence[Any]) -> Estimate | dict[str, Estimate]:
    """
    One setting's replicates as a mean and a 95 % Student t confidence interval.

    Args:
        replicates: the summaries of one scenario's replicates (one item of
            ``sweep(..., seed=..., replicates=n)``): numbers, or dicts of
            numbers with the same keys (e.g. ``sim.fate_counts()``).

    Returns:
        An :class:`Estimate` for numbers; for dicts, a dict of them, key by key
        in the first replicate's key order.

    Raises:
        ConfigError: no replicates, a value that is not an int or float
            (bools included), or dicts with different keys.

    .. versionadded:: 0.1.0
    """
    values = list(replicates)
    if not values:
        msg = "summarize: no replicates to summarize"
        raise ConfigError(msg)
    if not all(isinstance(v, Mapping) for v in values):
        return _estimate([_number(v, "") for v in values])
    keys = list(values[0])
    for i, value in enumerate(values):
        if set(value) != set(keys):
            msg = (
                f"summarize: replicate {i} has keys {sorted(map(repr, value))}, "
                f"replicate 0 {sorted(map(repr, keys))}"
            )
            raise ConfigError(msg)
    return {key: _estimate([_number(v[key], f"[{key!r}] = ") for v in values]) for key in keys}
