"""The optional two-readers-per-shard read throttle (spec 7.4, I)."""

from __future__ import annotations

import esm_sim


def world(limit: int) -> tuple[esm_sim.Simulation, list[esm_sim.Function]]:
    sim = esm_sim.Simulation(seed=0, max_readers_per_shard=limit)
    table = sim.create_table("orders", partition_key="pk")
    fns = [sim.create_function(f"f{i}", lambda e, c: None) for i in range(3)]
    for fn in fns:
        sim.lambda_client.create_event_source_mapping(
            FunctionName=fn.name, EventSourceArn=table.stream_arn, StartingPosition="TRIM_HORIZON"
        )
    for i in range(5):
        sim.call_later(10 + i, table.put_item, {"pk": f"k{i}"})
    sim.run_until_idle()
    return sim, fns


class TestReadThrottle:
    def test_off_by_default(self) -> None:
        """With no limit (the default), three mappings read a shard without read throttles."""
        sim, fns = world(0)
        assert [] == sim.trace.events(kind="read-throttle")
        assert [5, 5, 5] == [sum(len(i.sequence_numbers) for i in fn.invocations) for fn in fns]

    def test_third_reader_is_throttled_but_loses_nothing(self) -> None:
        """With max_readers_per_shard=2 a third mapping's reads are throttled, and retried."""
        sim, fns = world(2)
        throttled = sim.trace.events(kind="read-throttle")
        assert len(throttled) > 0
        assert {"LimitExceededException"} == {e.detail for e in throttled}
        assert [5, 5, 5] == [sum(len(i.sequence_numbers) for i in fn.invocations) for fn in fns]
