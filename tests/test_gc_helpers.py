"""Tests of tests/gc_helpers.py: tracked_growth sees what a collection would hide."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from tests.gc_helpers import tracked_growth

N = 5000


def _plain(i: int) -> tuple[Any, ...]:
    return (i, "invoke", None, True)  # built at run time: a fresh tuple per call


class TestTrackedGrowth:
    def test_a_list_of_tuples_holding_fresh_lists_grows(self) -> None:
        """Keeping N tuples that each hold a fresh list adds at least N tracked objects (the lists stay tracked in any case)."""
        kept: list[tuple[int, list[int]]] = []
        added = tracked_growth(lambda: [kept.append((i, [])) for i in range(N)])
        assert added >= N

    def test_a_list_of_plain_tuples_grows(self) -> None:
        """Keeping N fresh tuples of plain values counts each one the collector tracks."""
        tracked_at_creation = gc.is_tracked(_plain(1))
        kept: list[tuple[Any, ...]] = []
        added = tracked_growth(lambda: [kept.append(_plain(i)) for i in range(N)])
        if tracked_at_creation:  # CPython 3.11: tuples are tracked until a collection
            assert added >= N
        else:  # a CPython that never tracks them: nothing for a collection to walk
            assert added < 20

    def test_a_collection_would_have_hidden_the_plain_tuples(self) -> None:
        """After a collection a tuple of plain values is no longer tracked: why no collection runs between the counts."""
        kept = [_plain(i) for i in range(10)]
        gc.collect()
        assert not any(gc.is_tracked(t) for t in kept)

    def test_objects_freed_by_the_action_do_not_count(self) -> None:
        """Temporaries the action builds and drops add nothing."""
        added = tracked_growth(lambda: [[i] for i in range(N)])
        assert added < 20

    @pytest.mark.parametrize("enabled", [True, False])
    def test_the_collector_state_is_restored(self, enabled: bool) -> None:
        """The collector is enabled afterwards exactly when it was before, even if the action raises."""
        was = gc.isenabled()
        try:
            (gc.enable if enabled else gc.disable)()
            with pytest.raises(ZeroDivisionError):
                tracked_growth(lambda: 1 / 0)
            assert enabled == gc.isenabled()
            tracked_growth(lambda: None)
            assert enabled == gc.isenabled()
        finally:
            (gc.enable if was else gc.disable)()
