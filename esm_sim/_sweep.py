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
from typing import Any, TypeVar

from esm_sim import _progress
from esm_sim.errors import ConfigError

S = TypeVar("S")
R = TypeVar("R")

DEFAULT_MAX_WORKERS = 2


def sweep(
    scenarios: Iterable[S],
    run: Callable[[S], R],
    *,
    executor: Executor | None = None,
    progress: object = None,
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
        progress: a bar counting finished scenarios: None (in a notebook or
            terminal once the sweep lasts over 2 wall seconds, never in CI),
            True (always; needs ``pip install 'esm_sim[progress]'``), False
            (never), or a text stream to draw it on.

    Returns:
        The summaries in scenario order, whatever order they finished in.

    Raises:
        ConfigError: ``run`` is not callable.
        Exception: the first (in scenario order) exception a ``run`` raised.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.1.0 ``progress``.
    """
    if not callable(run):
        msg = f"run={run!r} must be a callable taking one scenario"
        raise ConfigError(msg)
    if executor is not None and not isinstance(executor, Executor):
        # Dask's ClientExecutor subclasses Executor; anything else is a mistake.
        msg = f"executor={executor!r} must be a concurrent.futures.Executor"
        raise ConfigError(msg)
    _progress.check(progress)
    items = list(scenarios)
    if not items:
        return []
    bar = _progress.open_bar(progress, total=len(items), unit="scenario", desc="sweep")
    try:
        if executor is None:
            with ProcessPoolExecutor(max_workers=DEFAULT_MAX_WORKERS) as pool:
                return _gather(pool, run, items, bar)
        return _gather(executor, run, items, bar)
    finally:
        if bar is not None:
            bar.close()


def _gather(executor: Executor, run: Callable[[S], R], items: list[S], bar: Any) -> list[R]:
    # submit + result in submission order, not as_completed: the order of the
    # results must not depend on which worker finished first (the bar, too,
    # counts them in scenario order).
    futures = [executor.submit(run, item) for item in items]
    try:
        results = []
        for future in futures:
            results.append(future.result())
            if bar is not None:
                bar.update(1)
        return results
    finally:
        for future in futures:
            future.cancel()  # after a failure, don't leave the rest queued
