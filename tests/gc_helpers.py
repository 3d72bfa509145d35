"""Test helper: how many objects the cyclic GC tracks after doing something."""

from __future__ import annotations

import gc
from collections.abc import Callable


def tracked_growth(action: Callable[[], object]) -> int:
    """Objects the cyclic GC still tracks after ``action()``, minus those before (both after a full collection)."""
    gc.collect()
    before = len(gc.get_objects())
    action()
    gc.collect()
    return len(gc.get_objects()) - before
