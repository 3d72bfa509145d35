"""Tests for esm_sim._engine.scheduler: the event queue and the virtual clock it drives."""

from __future__ import annotations

from typing import Any

import pytest

from esm_sim._engine.scheduler import Scheduler


def _recorder(sched: Scheduler, log: list[tuple[int, Any]]) -> Any:
    """A callback that logs (clock, tag) when it runs."""

    def cb(tag: Any) -> None:
        log.append((sched.now_ms, tag))

    return cb


class TestOrder:
    """The total order (due_ms, seq) of scheduled calls."""

    def test_calls_run_in_due_order(self) -> None:
        """Calls run in increasing due time, whatever order they were scheduled in."""
        s = Scheduler(0)
        log: list[tuple[int, Any]] = []
        cb = _recorder(s, log)
        for due in (30, 10, 20, 5):
            s.call_at(due, cb, due)
        s.run_until(100)
        assert [(5, 5), (10, 10), (20, 20), (30, 30)] == log

    def test_same_time_is_fifo(self) -> None:
        """Calls due at the same instant run in the order they were scheduled."""
        s = Scheduler(0)
        log: list[tuple[int, Any]] = []
        cb = _recorder(s, log)
        for tag in "abcdef":
            s.call_at(7, cb, tag)
        s.run_until(7)
        assert list("abcdef") == [tag for _, tag in log]

    def test_zero_delay_runs_after_heap_items_due_now(self) -> None:
        """Work scheduled for now runs after calls that were already due at this instant."""
        s = Scheduler(0)
        log: list[tuple[int, Any]] = []
        cb = _recorder(s, log)

        def first() -> None:
            log.append((s.now_ms, "first"))
            s.call_later(0, cb, "zero-delay")
            s.call_at(s.now_ms - 5, cb, "past")

        s.call_at(10, first)
        s.call_at(10, cb, "second")
        s.call_at(10, cb, "third")
        s.run_until(10)
        assert [
            (10, "first"),
            (10, "second"),
            (10, "third"),
            (10, "zero-delay"),
            (10, "past"),
        ] == log

    def test_past_due_runs_now_not_in_the_past(self) -> None:
        """A call scheduled before now runs at now: the clock never goes backwards."""
        s = Scheduler(1000)
        log: list[tuple[int, Any]] = []
        s.call_at(10, _recorder(s, log), "late")
        s.run_until(2000)
        assert [(1000, "late")] == log

    def test_heap_item_before_later_ready_item(self) -> None:
        """A heap call due now runs before ready work scheduled at this instant by a later call."""
        s = Scheduler(0)
        log: list[tuple[int, Any]] = []
        cb = _recorder(s, log)
        s.call_at(5, lambda: s.call_later(0, cb, "ready"))
        s.call_at(5, cb, "heap")
        s.run_until(5)
        assert ["heap", "ready"] == [tag for _, tag in log]

    def test_time_never_goes_backwards(self) -> None:
        """Across many interleaved calls, the clock seen by each call never decreases."""
        s = Scheduler(0)
        seen: list[int] = []

        def cb(depth: int) -> None:
            seen.append(s.now_ms)
            if depth < 3:
                s.call_later((depth * 7) % 5, cb, depth + 1)
                s.call_at(s.now_ms - 1, cb, depth + 1)

        for due in (3, 1, 2, 1, 9):
            s.call_at(due, cb, 0)
        s.run_until(1000)
        assert sorted(seen) == seen
        assert 1000 == s.now_ms


class TestCancel:
    """Cancellation by handle."""

    def test_cancelled_call_does_not_run(self) -> None:
        """A cancelled call is skipped and the others still run."""
        s = Scheduler(0)
        log: list[tuple[int, Any]] = []
        cb = _recorder(s, log)
        s.call_at(1, cb, "a")
        h = s.call_at(2, cb, "b")
        s.call_at(3, cb, "c")
        s.cancel(h)
        s.run_until(10)
        assert ["a", "c"] == [tag for _, tag in log]

    def test_cancel_zero_delay_call(self) -> None:
        """A call in the ready deque can be cancelled too."""
        s = Scheduler(0)
        log: list[tuple[int, Any]] = []
        h = s.call_later(0, _recorder(s, log), "x")
        s.cancel(h)
        s.run_until(0)
        assert [] == log

    def test_cancel_after_run_is_harmless(self) -> None:
        """Cancelling a call that already ran changes nothing and pending stays exact."""
        s = Scheduler(0)
        log: list[tuple[int, Any]] = []
        cb = _recorder(s, log)
        h = s.call_at(1, cb, "ran")
        s.run_until(1)
        s.cancel(h)
        s.cancel(h)
        s.call_at(5, cb, "later")
        assert 1 == s.pending()
        s.run_until(5)
        assert ["ran", "later"] == [tag for _, tag in log]

    def test_stale_tombstones_are_pruned(self) -> None:
        """Cancelling many handles that already ran does not grow the tombstone set without bound."""
        s = Scheduler(0)
        handles = [s.call_at(i + 1, lambda: None) for i in range(1000)]
        s.run_until(2000)
        for h in handles:
            s.cancel(h)
        assert 0 == s.pending()
        assert len(s._cancelled) <= 65

    def test_pending_counts_live_calls(self) -> None:
        """pending() counts scheduled calls that are neither cancelled nor run."""
        s = Scheduler(0)
        handles = [s.call_at(i, lambda: None) for i in range(1, 6)]
        s.call_later(0, lambda: None)
        s.cancel(handles[0])
        s.cancel(handles[3])
        assert 4 == s.pending()

    def test_peek_skips_cancelled(self) -> None:
        """peek_ms reports the next live call, skipping cancelled ones."""
        s = Scheduler(0)
        h = s.call_at(5, lambda: None)
        s.call_at(9, lambda: None)
        s.cancel(h)
        assert 9 == s.peek_ms()

    def test_peek_empty(self) -> None:
        """peek_ms is None when nothing is scheduled."""
        assert None is Scheduler(0).peek_ms()


class TestPop:
    """pop(limit): one entry at a time, never past the limit."""

    def test_pop_advances_clock_to_entry(self) -> None:
        """pop returns the next entry and moves the clock to its due time."""
        s = Scheduler(0)
        s.call_at(42, print, "x")
        entry = s.pop()
        assert entry is not None
        assert (42, 42) == (entry[0], s.now_ms)

    def test_pop_never_past_limit(self) -> None:
        """pop returns None and leaves the clock alone when the next call is due after the limit."""
        s = Scheduler(0)
        s.call_at(50, print, "x")
        assert None is s.pop(49)
        assert 0 == s.now_ms
        assert 1 == s.pending()

    def test_pop_at_limit_is_included(self) -> None:
        """A call due exactly at the limit is popped."""
        s = Scheduler(0)
        s.call_at(50, print, "x")
        entry = s.pop(50)
        assert entry is not None
        assert 50 == s.now_ms

    def test_pop_limit_in_the_past(self) -> None:
        """With a limit before now, even work due now is not popped."""
        s = Scheduler(100)
        s.call_later(0, print, "x")
        assert None is s.pop(50)
        assert 100 == s.now_ms

    def test_pop_empty(self) -> None:
        """pop on an empty scheduler returns None."""
        assert None is Scheduler(0).pop()


class TestRunUntil:
    """run_until(limit, stop): bounded runs."""

    def test_runs_everything_due_then_sets_clock(self) -> None:
        """Calls due by the limit run; later ones wait; the clock ends at the limit."""
        s = Scheduler(0)
        log: list[tuple[int, Any]] = []
        cb = _recorder(s, log)
        s.call_at(10, cb, "a")
        s.call_at(20, cb, "b")
        s.call_at(21, cb, "c")
        assert False is s.run_until(20)
        assert [(10, "a"), (20, "b")] == log
        assert 20 == s.now_ms
        assert 1 == s.pending()

    def test_stop_returns_true_at_that_call(self) -> None:
        """With stop, the run ends right after the call that makes it true, at that call's time."""
        s = Scheduler(0)
        log: list[tuple[int, Any]] = []
        cb = _recorder(s, log)
        for due in (10, 20, 30):
            s.call_at(due, cb, due)
        assert True is s.run_until(100, stop=lambda: len(log) == 2)
        assert 20 == s.now_ms
        assert [10, 20] == [tag for _, tag in log]

    def test_stop_never_true(self) -> None:
        """When stop never holds, run_until returns False at the limit."""
        s = Scheduler(0)
        s.call_at(5, lambda: None)
        assert False is s.run_until(10, stop=lambda: False)
        assert 10 == s.now_ms

    def test_events_run_counts_calls(self) -> None:
        """events_run counts the calls that ran, not the cancelled ones."""
        s = Scheduler(0)
        for due in range(1, 6):
            s.call_at(due, lambda: None)
        s.cancel(s.call_at(3, lambda: None))
        s.run_until(10)
        assert 5 == s.events_run

    def test_run_until_past_limit_keeps_clock(self) -> None:
        """A limit before now does not move the clock backwards."""
        s = Scheduler(500)
        s.run_until(100)
        assert 500 == s.now_ms

    def test_work_scheduled_during_run_runs_if_due(self) -> None:
        """Calls scheduled by a running call run in the same run when due by the limit."""
        s = Scheduler(0)
        log: list[tuple[int, Any]] = []
        cb = _recorder(s, log)
        s.call_at(1, lambda: s.call_later(4, cb, "child"))
        s.call_at(1, lambda: s.call_later(40, cb, "too-late"))
        s.run_until(10)
        assert [(5, "child")] == log


class TestCallLater:
    """call_later: scheduling relative to now."""

    @pytest.mark.parametrize("start", [0, 1_767_225_600_000], ids=["epoch", "2026"])
    def test_call_later_is_relative(self, start: int) -> None:
        """call_later(d) is due d milliseconds after now."""
        s = Scheduler(start)
        s.call_later(250, lambda: None)
        assert start + 250 == s.peek_ms()
