"""Test helper: how many objects the cyclic GC tracks after doing something."""

from __future__ import annotations

import gc
from collections.abc import Callable


def tracked_growth(action: Callable[[], object]) -> int:
    """
    Objects the cyclic GC tracks after ``action()``, minus those it tracked before.

    Both counts are taken with the collector disabled and no collection between
    them: a collection untracks tuples that hold only untracked values (ints,
    strings, None), so counting after one would miss exactly the per-row tuples
    these tests are about, and a plain list of such tuples would pass as "no
    object per row". Untracked at creation or freed by ``action`` do not count.
    The collector's state is restored afterwards.
    """
    enabled = gc.isenabled()
    gc.collect()  # a clean start; nothing collects from here to the second count
    gc.disable()
    try:
        before = len(gc.get_objects())
        action()
        after = len(gc.get_objects())
    finally:
        if enabled:
            gc.enable()
    return after - before
