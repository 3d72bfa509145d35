"""The Simulation facade's own helpers."""

from __future__ import annotations

import gc

import esm_sim


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
