"""
The event queue and the virtual clock it drives.

Time is an ``int`` of milliseconds since the Unix epoch. Every scheduled call
has a strict total order ``(due_ms, seq)``, where ``seq`` comes from the
scheduler's own counter, so two calls due at the same instant run in the order
they were scheduled (FIFO), whatever their callbacks are.

Zero-delay work goes to a FIFO ready deque instead of the heap (perf-notes
section 4.1: about 3x cheaper). Ordering stays exactly ``(due_ms, seq)``:
anything in the heap due *now* was scheduled before the clock reached now, so it
has a smaller ``seq`` than everything in the ready deque, and runs first.

Cancellation is by tombstone: a cancelled ``seq`` is skipped when popped.
Callers may cancel a handle whose call already ran (a timer they did not
clear); such stale tombstones match nothing, and they are pruned once they
outnumber the live entries, so the tombstone set stays bounded.
"""

from __future__ import annotations

import heapq
import itertools
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

Callback = Callable[..., object]


class Scheduler:
    """
    A heap of ``(due_ms, seq, callback, args)`` entries plus a ready deque.

    The scheduler knows nothing about AWS; the simulation schedules plain callables.
    """

    __slots__ = ("_cancelled", "_counter", "_heap", "_ready", "events_run", "now_ms")

    def __init__(self, start_ms: int) -> None:
        self.now_ms: int = start_ms
        self._heap: list[tuple[int, int, Callback, tuple[Any, ...]]] = []
        self._ready: deque[tuple[int, int, Callback, tuple[Any, ...]]] = deque()
        self._counter = itertools.count()
        self._cancelled: set[int] = set()
        self.events_run = 0

    def call_at(self, due_ms: int, callback: Callback, *args: Any) -> int:
        """Schedule ``callback(*args)`` at ``due_ms``; returns a handle for :meth:`cancel`."""
        seq = next(self._counter)
        if due_ms <= self.now_ms:
            # Never in the past: a call due now or earlier runs now, after what is queued.
            self._ready.append((self.now_ms, seq, callback, args))
        else:
            heapq.heappush(self._heap, (due_ms, seq, callback, args))
        return seq

    def call_later(self, delay_ms: int, callback: Callback, *args: Any) -> int:
        """Schedule ``callback(*args)`` ``delay_ms`` from now."""
        # call_at inlined: this is the hot path of every timer.
        seq = next(self._counter)
        if delay_ms <= 0:
            self._ready.append((self.now_ms, seq, callback, args))
        else:
            heapq.heappush(self._heap, (self.now_ms + delay_ms, seq, callback, args))
        return seq

    def cancel(self, handle: int) -> None:
        """Cancel a scheduled call; cancelling one that already ran is harmless."""
        cancelled = self._cancelled
        cancelled.add(handle)
        # Stale tombstones (handles that already ran) would otherwise pile up for
        # the whole run; rebuilding when they dominate keeps cancel amortised O(1).
        if len(cancelled) > 64 and len(cancelled) > 2 * (len(self._heap) + len(self._ready)):
            live = {e[1] for e in self._heap}
            live.update(e[1] for e in self._ready)
            self._cancelled = {h for h in cancelled if h in live}

    def peek_ms(self) -> int | None:
        """The due time of the next call that will run, or None if nothing is scheduled."""
        self._drop_cancelled()
        if self._heap and self._heap[0][0] <= self.now_ms:
            return self.now_ms
        if self._ready:
            return self.now_ms
        if self._heap:
            return self._heap[0][0]
        return None

    def _drop_cancelled(self) -> None:
        cancelled = self._cancelled
        if not cancelled:
            return
        ready, heap = self._ready, self._heap
        while ready and ready[0][1] in cancelled:
            cancelled.discard(ready.popleft()[1])
        while heap and heap[0][1] in cancelled:
            cancelled.discard(heapq.heappop(heap)[1])

    def pop(self, limit_ms: int | None = None) -> tuple[int, int, Callback, tuple[Any, ...]] | None:
        """
        Remove the next live entry due at or before ``limit_ms`` and advance the clock to it.

        Returns None, leaving the clock alone, when nothing is due by then.
        """
        heap, ready, cancelled = self._heap, self._ready, self._cancelled
        if limit_ms is not None and limit_ms < self.now_ms:
            # Everything left is due at now_ms or later: nothing is due by a past limit.
            return None
        while True:
            if heap and (not ready or heap[0][0] <= self.now_ms):
                if limit_ms is not None and heap[0][0] > limit_ms:
                    return None
                entry = heapq.heappop(heap)
            elif ready:
                entry = ready.popleft()
            else:
                return None
            if cancelled and entry[1] in cancelled:
                cancelled.discard(entry[1])
                continue
            self.now_ms = entry[0]
            return entry

    def run_until(self, limit_ms: int, stop: Callable[[], bool] | None = None) -> bool:
        """
        Run every call due at or before ``limit_ms``, then set the clock to ``limit_ms``.

        With ``stop``, check it after each call and return True as soon as it holds,
        leaving the clock at that call's time.
        """
        return self.run_events(limit_ms, stop, sys.maxsize) is True

    def run_events(
        self, limit_ms: int, stop: Callable[[], bool] | None, max_events: int
    ) -> bool | None:
        """
        :meth:`run_until`, in slices: at most ``max_events`` calls, then None.

        Returns True (``stop`` held) or False (nothing left due by ``limit_ms``;
        the clock is then at ``limit_ms``) as :meth:`run_until` does, or None
        when the slice ran out first, leaving the clock at the last call's time.
        Slices run exactly the calls, in the order, that one :meth:`run_until`
        would, so a progress bar can update between them.
        """
        # pop() inlined: one event costs one heap or deque operation and the call.
        heap, ready = self._heap, self._ready
        heappop, popleft = heapq.heappop, ready.popleft
        n = 0
        try:
            while n < max_events:
                if heap and heap[0][0] <= (self.now_ms if ready else limit_ms):
                    entry = heappop(heap)
                elif ready:
                    entry = popleft()
                else:
                    break
                cancelled = self._cancelled
                if cancelled and entry[1] in cancelled:
                    cancelled.discard(entry[1])
                    continue
                self.now_ms = entry[0]
                n += 1
                entry[2](*entry[3])
                if stop is not None and stop():
                    return True
            else:
                return None
        finally:
            self.events_run += n
        self.now_ms = max(self.now_ms, limit_ms)
        return False

    def pending(self) -> int:
        """How many live calls are scheduled (cancelled ones and stale handles not counted)."""
        cancelled = self._cancelled
        if not cancelled:
            return len(self._heap) + len(self._ready)
        # Counted by scan: a tombstone may name a call that already ran.
        return sum(1 for e in self._heap if e[1] not in cancelled) + sum(
            1 for e in self._ready if e[1] not in cancelled
        )
