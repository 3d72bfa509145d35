"""The Simulation facade's own helpers."""

from __future__ import annotations

import gc
from datetime import datetime

import pytest

import esm_sim
from esm_sim.errors import ConfigError


class TestFreezeGc:
    def test_freeze_gc_freezes_and_can_be_undone(self) -> None:
        """freeze_gc() moves live objects to the permanent generation; gc.unfreeze() undoes it."""
        sim = esm_sim.Simulation(seed=0)
        try:
            assert sim.freeze_gc() > 0
            assert gc.get_freeze_count() > 0
        finally:
            gc.unfreeze()
        assert 0 == gc.get_freeze_count()

    def test_simulation_runs_the_same_after_freezing(self) -> None:
        """Freezing the GC changes no outcome: the same trace with and without it."""

        def build(freeze: bool) -> str:
            sim = esm_sim.Simulation(seed=3)
            table = sim.create_table("orders", partition_key="pk")
            sim.create_function("f", lambda e, c: None)
            sim.lambda_client.create_event_source_mapping(
                FunctionName="f", EventSourceArn=table.stream_arn, StartingPosition="TRIM_HORIZON"
            )
            for i in range(50):
                table.put_item({"pk": f"k{i}"})
            if freeze:
                sim.freeze_gc()
            try:
                sim.run_until_idle()
            finally:
                gc.unfreeze()
            return sim.trace.text()

        assert build(False) == build(True)


class TestSimulationArguments:
    @pytest.mark.parametrize(
        ("kwargs", "pattern"),
        [
            ({"seed": "x"}, r"^seed='x' must be an int"),
            ({"start": datetime(2026, 1, 1)}, r"^start=.* must be a timezone-aware datetime"),
            ({"region": "mars"}, r"^region='mars' must be an AWS region name"),
            ({"account_id": "12"}, r"^account_id='12' must be 12 digits"),
            ({"account_concurrency": 50}, r"^account_concurrency=50 must be an int from 100 to"),
            ({"max_filters": 11}, r"^max_filters=11 must be an int from 1 to 10$"),
            ({"poll_interval": 0}, r"^poll_interval=0 must be a number of seconds from 1 ms"),
            ({"state_transition_delay": -1}, r"^state_transition_delay=-1 must be a number"),
            ({"retention_hours": 0}, r"^retention_hours=0 must be a number of hours from 1 ms"),
            ({"shard_rollover_hours": -1}, r"^shard_rollover_hours=-1 must be a number of hours"),
            ({"iterator_age_at": "later"}, r"^iterator_age_at='later' must be one of 'send'"),
            ({"max_readers_per_shard": -1}, r"^max_readers_per_shard=-1 must be an int from 0"),
            ({"partial_retry_delay": -1}, r"^partial_retry_delay=-1 must be a number of seconds"),
            ({"partial_retry_delay": "1"}, r"^partial_retry_delay='1' must be a number"),
            ({"non_object_response": "drop"}, r"^non_object_response='drop' must be one of"),
            ({"record_age_min_invoke_count": 2}, r"^record_age_min_invoke_count=2 must be one"),
            (
                {"record_age_min_invoke_count": True},
                r"^record_age_min_invoke_count=True must be one",
            ),
            ({"tumbling_window_alignment": "x"}, r"^tumbling_window_alignment='x' must be one"),
            ({"tumbling_window_close": "never"}, r"^tumbling_window_close='never' must be one"),
            ({"get_records_per_poll": 0}, r"^get_records_per_poll=0 must be an int from 1"),
            ({"get_records_per_poll": 1.5}, r"^get_records_per_poll=1\.5 must be an int from 1"),
        ],
        ids=lambda v: repr(v) if isinstance(v, dict) else "",
    )
    def test_bad_arguments_are_refused_naming_the_value(
        self, kwargs: dict[str, object], pattern: str
    ) -> None:
        """Each bad Simulation argument raises a ConfigError that names it and its value."""
        with pytest.raises(ConfigError, match=pattern):
            esm_sim.Simulation(**kwargs)  # type: ignore[arg-type]
