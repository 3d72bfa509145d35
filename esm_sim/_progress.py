"""
Progress bars for long runs: optional, outside the simulation, never in its results.

This module owns the ``progress=`` argument of ``Simulation.run_for``,
``run_until``, ``run_until_idle`` and ``esm_sim.sweep``. A bar shows the
virtual time reached, the records delivered and the invocations so far, and
is drawn by tqdm (an optional extra, ``pip install 'esm_sim[progress]'``),
imported only when a bar may be shown, so ``import esm_sim`` stays light.

``progress`` is None (automatic: a bar only for a run lasting over
:data:`AUTO_DELAY_S` wall seconds, in a notebook or an interactive terminal,
never in CI, i.e. with the ``CI`` environment variable set or stdout not a
terminal), True (always), False (never), or a writable text stream (always,
written there).

Wall-clock time (read by tqdm) decides only whether and when a bar is drawn;
the lines that involve it are marked ``# wall-clock-ok``. The run itself goes through
``Scheduler.run_events`` in slices of :data:`EVERY` events, which runs exactly
the events one ``run_until`` would, in the same order: the same seed gives the
same trace with or without a bar.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from esm_sim.errors import ConfigError

EVERY = 4096  # events per slice: the bar is updated between slices, never per event
AUTO_DELAY_S = 2.0  # an automatic bar appears once a run has lasted this long
INSTALL = "pip install 'esm_sim[progress]'"


def check(progress: object) -> None:
    """Refuse anything but None, a bool or a writable stream, naming it."""
    if progress is None or isinstance(progress, bool) or callable(getattr(progress, "write", None)):
        return
    msg = f"progress={progress!r} must be None (automatic), True, False or a writable text stream"
    raise ConfigError(msg)


def _in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = getattr(ipython, "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


def interactive() -> bool:
    """Whether an automatic bar may be shown: a notebook or a terminal, and not CI."""
    if os.environ.get("CI"):
        return False
    if _in_notebook():
        return True
    isatty = getattr(sys.stdout, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except ValueError:  # a closed stream
        return False


def open_bar(progress: object, **options: Any) -> Any:
    """
    A tqdm bar for ``progress`` with ``options``, or None when none is to be shown.

    Raises:
        ConfigError: a bar was asked for (True or a stream) and tqdm is missing.
    """
    check(progress)
    if progress is False or (progress is None and not interactive()):
        return None
    try:
        if progress is None or progress is True:
            from tqdm.auto import tqdm
        else:
            from tqdm import tqdm
    except ImportError:
        if progress is None:
            return None  # automatic: without tqdm, silently no bar
        msg = f"progress={progress!r} needs tqdm: {INSTALL}"
        raise ConfigError(msg) from None
    if progress is None:
        options["delay"] = AUTO_DELAY_S  # wall-clock-ok: tqdm draws once the run lasts that long
    elif progress is not True:
        options["file"] = progress
    try:
        return tqdm(**options)
    except ImportError as error:  # a notebook bar without ipywidgets
        if progress is None:
            return None
        msg = f"progress={progress!r}: tqdm cannot draw here ({error}); pass a stream or False"
        raise ConfigError(msg) from None


def run_with_bar(
    bar: Any,
    run_slice: Callable[[], bool | None],
    *,
    seconds: Callable[[], float],
    postfix: Callable[[], str],
) -> bool:
    """
    Call ``run_slice`` until it returns True or False (not None: a slice ran out),
    updating ``bar`` to ``seconds()`` with ``postfix()`` between slices; close it.
    """
    try:
        while True:
            done = run_slice()
            bar.set_postfix_str(postfix(), refresh=False)
            bar.update(seconds() - bar.n)
            if done is not None:
                return done
    finally:
        bar.close()
