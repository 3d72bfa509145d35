"""
Property tests of the simulator itself, over generated scenarios: conservation,
order, checkpoints and determinism (issue 7). Slower than the unit tests (the
"nocover" idea); the whole folder stays under about a minute.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from esm_sim import invariants
from esm_sim import strategies as ess
from esm_sim.testing import assert_deterministic

PROPERTY = settings(max_examples=1000, deadline=None, database=None)


def _noop(event: dict[str, Any], context: Any) -> None:
    return None


class TestConservation:
    @PROPERTY
    @given(ess.scenarios())
    def test_every_record_is_accounted_for_exactly_once(self, scenario: ess.Scenario) -> None:
        """Whatever the configuration and faults, every record ends in exactly one place."""
        invariants.check_accounted(scenario.run(_noop))

    @PROPERTY
    @given(ess.scenarios(max_shards=1))
    def test_at_least_once_and_nothing_after_discard(self, scenario: ess.Scenario) -> None:
        """Handled records were delivered, and discarded ones are never delivered again."""
        sim = scenario.run(_noop)
        invariants.check_at_least_once(sim)
        invariants.check_no_delivery_after_discard(sim)


class TestOrder:
    @PROPERTY
    @given(ess.scenarios(bisect_batch_on_function_error=True))
    def test_first_deliveries_keep_per_key_order(self, scenario: ess.Scenario) -> None:
        """Per item key, first deliveries follow write order, even with bisect and faults."""
        invariants.check_key_order(scenario.run(_noop))

    @PROPERTY
    @given(ess.scenarios(report_batch_item_failures=True))
    def test_checkpoints_never_move_backwards(self, scenario: ess.Scenario) -> None:
        """No committed record is sent again, with partial batch responses in play."""
        invariants.check_checkpoints(scenario.run(_noop))


class TestDeterminism:
    @settings(max_examples=500, deadline=None, database=None)
    @given(ess.scenarios())
    def test_same_scenario_same_trace(self, scenario: ess.Scenario) -> None:
        """The same scenario run twice leaves byte-identical traces."""
        assert_deterministic(lambda: scenario.run(_noop))
