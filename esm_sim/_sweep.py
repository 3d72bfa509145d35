"""
Sweeps: run one scenario function over many scenarios, in parallel, on any executor.

This module owns ``esm_sim.sweep``. A simulation is single-threaded and
deterministic, so a sweep over seeds or settings is embarrassingly parallel:
each scenario runs in its own process (or Dask worker, or thread) and only the
scenario and its picklable summary travel. Results come back in scenario
order, so a sweep gives the same list whatever executor ran it and however
its workers interleaved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import TypeVar

from esm_sim.errors import ConfigError

S = TypeVar("S")
R = TypeVar("R")

DEFAULT_MAX_WORKERS = 2


def sweep(
    scenarios: Iterable[S], run: Callable[[S], R], *, executor: Executor | None = None
) -> list[R]:
    """
    ``[run(s) for s in scenarios]``, computed in parallel on a ``concurrent.futures`` executor.

    Args:
        scenarios: picklable scenario objects (a seed, a dict of settings, an
            attrs instance, ...); each should carry everything ``run`` needs,
            its seed included, so a result depends on its scenario alone.
        run: a picklable (module-level) function from a scenario to a picklable
            summary, e.g. ``sim.fate_counts()``; not a whole Simulation.
        executor: any ``concurrent.futures.Executor``: a ``ThreadPoolExecutor``,
            a ``ProcessPoolExecutor``, Dask's ``distributed.Client(...).get_executor()``.
            The caller keeps ownership (it is not shut down). Default: a
            ``ProcessPoolExecutor`` with 2 workers, shut down afterwards.

    Returns:
        The summaries in scenario order, whatever order they finished in.

    Raises:
        ConfigError: ``run`` is not callable.
        Exception: the first (in scenario order) exception a ``run`` raised.

    .. versionadded:: 0.1.0
    """
    if not callable(run):
        msg = f"run={run!r} must be a callable taking one scenario"
        raise ConfigError(msg)
    if executor is not None and not isinstance(executor, Executor):
        # Dask's ClientExecutor subclasses Executor; anything else is a mistake.
        msg = f"executor={executor!r} must be a concurrent.futures.Executor"
        raise ConfigError(msg)
    items = list(scenarios)
    if not items:
        return []
    if executor is None:
        with ProcessPoolExecutor(max_workers=DEFAULT_MAX_WORKERS) as pool:
            return _gather(pool, run, items)
    return _gather(executor, run, items)


def _gather(executor: Executor, run: Callable[[S], R], items: list[S]) -> list[R]:
    # submit + result in submission order, not as_completed: the order of the
    # results must not depend on which worker finished first.
    futures = [executor.submit(run, item) for item in items]
    try:
        return [future.result() for future in futures]
    finally:
        for future in futures:
            future.cancel()  # after a failure, don't leave the rest queued
