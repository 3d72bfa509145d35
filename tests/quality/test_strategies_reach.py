"""
The strategies reach the interesting cases (Hypothesis's quality/ idea): for each,
a bounded search (at most 2000 examples) over ``scenarios()`` finds a scenario
where it happens.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import Phase, find, settings

import esm_sim
from esm_sim import strategies as ess

# Reaching is the point here; how far each case shrinks is tested in
# tests/test_strategies.py, so the search stops at the first hit.
SEARCH = settings(max_examples=2000, deadline=None, database=None, phases=(Phase.generate,))


def _noop(event: dict[str, Any], context: Any) -> None:
    return None


def _run(scenario: ess.Scenario) -> esm_sim.Simulation:
    return scenario.run(_noop)


def _bisected_to_one(sim: esm_sim.Simulation) -> bool:
    return any(
        e.detail.endswith("+1") or e.detail.startswith("1+") for e in sim.trace.events(kind="split")
    )


def _partial_after_progress(sim: esm_sim.Simulation) -> bool:
    # An invocation that succeeded, followed on its shard by one that sends a
    # proper suffix of its records: a partial batch response moved the checkpoint.
    by_shard: dict[str, list[Any]] = {}
    for inv in sim.functions["esm-sim-handler"].invocations:
        by_shard.setdefault(inv.shard_id, []).append(inv)
    for invocations in by_shard.values():
        for a, b in itertools.pairwise(invocations):
            seqs_a, seqs_b = a.sequence_numbers, b.sequence_numbers
            if (
                a.error is None
                and 0 < len(seqs_b) < len(seqs_a)
                and seqs_a[-len(seqs_b) :] == seqs_b
            ):
                return True
    return False


def _age_expiry_mid_retry(sim: esm_sim.Simulation) -> bool:
    invoked = {
        s for inv in sim.functions["esm-sim-handler"].invocations for s in inv.sequence_numbers
    }
    return any(
        e.kind in ("discard", "delivery-failure")
        and e.detail.startswith("RecordAgeExceeded")
        and int(e.first_seq) in invoked
        for e in sim.trace
    )


def _throttled(sim: esm_sim.Simulation) -> bool:
    return bool(sim.trace.events(kind="throttle"))


def _window_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"state": {"n": event["state"].get("n", 0) + len(event["Records"])}}


def _closed_window_with_records(scenario: ess.Scenario) -> bool:
    # A final invocation (no records) after a window that got records: the clock
    # or a later record closed a tumbling window (spec 6.3).
    invocations = scenario.run(_window_handler).functions["esm-sim-handler"].invocations
    events = [inv.event for inv in invocations]
    return any(
        e.get("isFinalInvokeForWindow") and e["state"].get("n", 0) > 0 and not e["Records"]
        for e in events
    )


def _rolled_over(sim: esm_sim.Simulation) -> bool:
    # A shard opened as the child of another while the writes went on (spec 7.1).
    return any(
        e.outcome == "opened" and e.detail != "parent None" for e in sim.trace.events(kind="shard")
    )


class TestReach:
    def test_bisect_down_to_one_record(self) -> None:
        """A failing batch is bisected until a half holds one record (spec 3.4)."""
        found = find(
            ess.scenarios(bisect_batch_on_function_error=True),
            lambda s: _bisected_to_one(_run(s)),
            settings=SEARCH,
        )
        assert found.mapping["BisectBatchOnFunctionError"]
        assert found.mapping["BatchSize"] >= 2

    def test_partial_response_after_checkpoint_progress(self) -> None:
        """A partial batch response moves the checkpoint and the rest is retried (spec 4)."""
        found = find(
            ess.scenarios(report_batch_item_failures=True),
            lambda s: _partial_after_progress(_run(s)),
            settings=SEARCH,
        )
        assert ["ReportBatchItemFailures"] == found.mapping["FunctionResponseTypes"]
        assert len(found.writes) >= 2

    def test_age_expiry_mid_retry(self) -> None:
        """A record invoked and retried passes MaximumRecordAgeInSeconds and is discarded (spec 3.3)."""
        found = find(
            ess.scenarios(
                max_writes=4,
                fault_kinds=("raise_before", "raise_after"),
                allow_permanent_faults=True,
            ),
            lambda s: _age_expiry_mid_retry(_run(s)),
            settings=SEARCH,
        )
        assert found.mapping["MaximumRecordAgeInSeconds"] >= 60
        assert found.faults.faults

    def test_throttle(self) -> None:
        """An invocation is throttled by reserved concurrency 0 (spec 3.1)."""
        found = find(ess.scenarios(), lambda s: _throttled(_run(s)), settings=SEARCH)
        assert 1 == len(found.faults.throttles)
        assert found.writes

    def test_tumbling_window_closed_after_records(self) -> None:
        """A tumbling window that got records is closed by a final invocation (spec 6.3)."""
        found = find(
            ess.scenarios(max_tumbling_window_in_seconds=60),
            _closed_window_with_records,
            settings=SEARCH,
        )
        assert 0 < found.mapping["TumblingWindowInSeconds"] <= 60
        assert found.writes

    def test_shard_rollover_with_drawn_settings(self) -> None:
        """Drawn behaviour settings reach a shard rollover while records are written (spec 7.1)."""
        found = find(
            ess.scenarios(settings=ess.simulation_settings()),
            lambda s: _rolled_over(_run(s)),
            settings=SEARCH,
        )
        assert 0 < found.settings["shard_rollover_hours"] < 4
