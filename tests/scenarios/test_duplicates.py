"""Injected duplicate deliveries: spec 3.7 (at least once; "a simulator should let tests inject duplicates", I)."""

from __future__ import annotations

from typing import Any

import pytest

import esm_sim
from esm_sim import invariants
from esm_sim.errors import ConfigError
from tests.scenarios.helpers import build, failing_on, keys


def recording(log: list[list[str]], fail: str | None = None) -> Any:
    """A handler that logs each batch's keys, and raises when it holds ``fail``."""

    def handler(event: dict[str, Any], context: Any) -> None:
        log.append(keys(event))
        if fail is not None and fail in keys(event):
            raise ValueError(fail)

    return handler


class TestInjectDuplicateDeliveries:
    def test_next_successful_batch_is_delivered_twice(self) -> None:
        """The next successful batch comes again at once, same records and event, new request id."""
        log: list[list[str]] = []
        w = build(recording(log), records=4, BatchSize=2)
        w.sim.inject_duplicate_deliveries("fn")
        w.sim.run_until_idle()
        assert [["k0", "k1"], ["k0", "k1"], ["k2", "k3"]] == log
        first, dup, _ = w.fn.invocations
        assert first.event == dup.event
        assert first.request_id != dup.request_id
        assert first.ended_ms == dup.started_ms
        (event,) = [e for e in w.sim.trace.events(kind="invoke") if e.outcome == "duplicate"]
        assert first.request_id == event.get("duplicate_of")

    def test_a_duplicate_does_not_change_any_fate(self) -> None:
        """Fates are those of a run without the duplicate; the record shows two deliveries."""
        w = build(lambda e, c: None, records=4, BatchSize=2)
        w.sim.inject_duplicate_deliveries("fn")
        w.sim.run_until_idle()
        assert {"processed": 4} == {k: v for k, v in w.sim.fate_counts(w.uuid).items() if v}
        assert [2, 2, 1, 1] == [len(w.sim.fate(s).deliveries) for s in w.seqs]
        invariants.check_all(w.sim)

    def test_a_failing_duplicate_is_ignored(self) -> None:
        """A duplicate's error neither retries nor discards: its records are already processed."""
        calls: list[list[str]] = []

        def handler(event: dict[str, Any], context: Any) -> None:
            calls.append(keys(event))
            if len(calls) == 2:
                raise ValueError("the duplicate fails")

        w = build(handler, records=2, BatchSize=1, MaximumRetryAttempts=0)
        w.sim.inject_duplicate_deliveries("fn")
        w.sim.run_until_idle()
        assert [["k0"], ["k0"], ["k1"]] == calls
        assert [] == w.queue.messages
        assert {"processed": 2} == {k: v for k, v in w.sim.fate_counts(w.uuid).items() if v}
        assert 1 == w.sim.metrics.sum("Errors", function_name="fn")

    def test_only_successes_are_duplicated(self) -> None:
        """A failing batch is not duplicated; the count waits for the next success."""
        log: list[list[str]] = []
        w = build(recording(log, fail="k0"), records=2, BatchSize=1, MaximumRetryAttempts=1)
        w.sim.inject_duplicate_deliveries("fn", count=1)
        w.sim.run_until_idle()
        assert [["k0"], ["k0"], ["k1"], ["k1"]] == log
        assert "destination" == w.sim.fate(w.seqs[0]).outcome

    def test_count_duplicates_that_many_batches(self) -> None:
        """count=N duplicates the next N successful batches, then delivery is single again."""
        log: list[list[str]] = []
        w = build(recording(log), records=3, BatchSize=1)
        w.sim.inject_duplicate_deliveries("fn", count=2)
        w.sim.run_until_idle()
        assert [["k0"], ["k0"], ["k1"], ["k1"], ["k2"]] == log

    def test_the_shard_waits_for_the_duplicate(self) -> None:
        """The next batch starts only after the duplicate returns, keeping per-key order."""
        w = build(lambda e, c: None, records=2, BatchSize=1, duration=0.5)
        w.sim.inject_duplicate_deliveries("fn")
        w.sim.run_until_idle()
        _, dup, second = w.fn.invocations
        assert dup.ended_ms <= second.started_ms

    def test_without_injection_nothing_is_duplicated(self) -> None:
        """Without injection each record of a clean run is delivered exactly once (spec 3.7)."""
        w = build(failing_on(), records=4, BatchSize=2)
        w.sim.run_until_idle()
        assert [1, 1, 1, 1] == [len(w.sim.fate(s).deliveries) for s in w.seqs]

    def test_same_seed_same_trace(self) -> None:
        """A run with injected duplicates is deterministic: same seed, same trace."""

        def run() -> str:
            w = build(lambda e, c: None, records=5, BatchSize=2, seed=3)
            w.sim.inject_duplicate_deliveries("fn", count=2)
            w.sim.run_until_idle()
            return w.sim.trace.text()

        assert run() == run()

    @pytest.mark.parametrize(
        ("kwargs", "pattern"),
        [
            ({"function_name": "nope"}, r"^function_name='nope' is not a function"),
            ({"function_name": "fn", "count": 0}, r"^count=0 must be an int >= 1"),
            ({"function_name": "fn", "count": True}, r"^count=True must be an int >= 1"),
        ],
        ids=["unknown-function", "zero-count", "bool-count"],
    )
    def test_bad_arguments(self, kwargs: dict[str, Any], pattern: str) -> None:
        """Bad arguments raise ConfigError naming the value."""
        sim = esm_sim.Simulation()
        sim.create_function("fn", lambda e, c: None)
        with pytest.raises(ConfigError, match=pattern):
            sim.inject_duplicate_deliveries(**kwargs)
