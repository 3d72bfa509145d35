"""
Scenario tests for the event source mapping's happy path: polling, batching, limits, life cycle.

Everything goes through the public API (``esm_sim.Simulation`` and what it
hands out). The rules come from spec sections 1.4, 2, 7.2 and 11 (rows 14 and
16) and from the simulator's reading of them in the module docstring of
``esm_sim/_mapping/reader.py``: a 250 ms poll grid that starts when the mapping
reports Enabled, one GetRecords call (1000 records / 1 MB) per poll, a batching
window that opens at the first poll that finds records and restarts when the
previous invocation completes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

import esm_sim
from esm_sim.errors import ResourceNotFoundException, SimulationLimitExceeded

START_MS = 1_767_225_600_000  # the default start, 2026-01-01T00:00:00Z, in epoch ms
ENABLED_MS = START_MS + 5_000  # a mapping created at START reports Enabled 5 s later (spec 1.4)
POLL_MS = 250  # spec 2: four polls a second per shard
SIX_MB = 6 * 1024 * 1024  # spec 2: the synchronous invocation payload cap
ONE_MB = 1024 * 1024  # spec 7.2: the GetRecords byte cap


# -- helpers ---------------------------------------------------------------------------------


def ok(event: dict[str, Any], context: esm_sim.Context) -> None:
    """A handler that succeeds (and returns nothing)."""


def build(
    *,
    seed: int = 0,
    shard_count: int = 1,
    duration: float = 0.0,
    handler: Callable[[dict[str, Any], esm_sim.Context], object] = ok,
) -> tuple[esm_sim.Simulation, esm_sim.Table, esm_sim.Function]:
    """A simulation with one table and one function, no mapping yet."""
    sim = esm_sim.Simulation(seed=seed)
    table = sim.create_table("orders", partition_key="pk", shard_count=shard_count)
    fn = sim.create_function("consumer", handler, duration=duration, timeout=30)
    return sim, table, fn


def create_mapping(
    sim: esm_sim.Simulation, table: esm_sim.Table, fn: esm_sim.Function, **params: Any
) -> str:
    """Create a mapping from ``table``'s stream to ``fn``; TRIM_HORIZON unless told."""
    params.setdefault("StartingPosition", "TRIM_HORIZON")
    response = sim.lambda_client.create_event_source_mapping(
        EventSourceArn=table.stream_arn, FunctionName=fn.name, **params
    )
    uuid: str = response["UUID"]
    return uuid


def put(table: esm_sim.Table, key: str, **attributes: Any) -> None:
    """Write one item (one INSERT/MODIFY stream record)."""
    table.put_item({"pk": key, **attributes})


def put_many(table: esm_sim.Table, prefix: str, count: int) -> None:
    """Write ``count`` new items at once (a burst)."""
    for i in range(count):
        put(table, f"{prefix}{i}")


def write_at(
    sim: esm_sim.Simulation, at_ms: int, table: esm_sim.Table, key: str, **attributes: Any
) -> None:
    """Schedule a write of item ``key`` at epoch millisecond ``at_ms``."""
    sim.call_at(at_ms / 1000, lambda: put(table, key, **attributes))


def all_seqs(table: esm_sim.Table) -> list[int]:
    """Every sequence number in the table's stream, shard by shard, in shard order."""
    return [int(s) for shard in table.shards for s in shard.sequence_numbers]


def delivered(fn: esm_sim.Function) -> list[int]:
    """The sequence numbers the function received, in invocation order."""
    return [s for inv in fn.invocations for s in inv.sequence_numbers]


def sizes(fn: esm_sim.Function) -> list[int]:
    """The number of records of each invocation, in order."""
    return [len(inv.sequence_numbers) for inv in fn.invocations]


def event_seqs(inv: esm_sim.Invocation) -> list[int]:
    """The sequence numbers inside the delivered event itself."""
    return [int(r["dynamodb"]["SequenceNumber"]) for r in inv.event["Records"]]


def compact_len(event: dict[str, Any]) -> int:
    """The payload length of an event as compact JSON."""
    return len(json.dumps(event, separators=(",", ":")))


def next_tick(write_ms: int, grid0_ms: int = ENABLED_MS) -> int:
    """The first 250 ms poll tick at or after ``write_ms`` on a grid starting at ``grid0_ms``."""
    return grid0_ms + -(-(write_ms - grid0_ms) // POLL_MS) * POLL_MS


def state_times(sim: esm_sim.Simulation, uuid: str, state: str) -> list[int]:
    """When the mapping entered ``state``, from the trace."""
    return [e.at_ms for e in sim.trace.events(kind="state", mapping=uuid) if e.outcome == state]


# -- backlog and trickle -------------------------------------------------------------------


class TestBacklog:
    def test_backlog_arrives_in_batch_size_batches_in_sequence_order_exactly_once(self) -> None:
        """Records written before the mapping is Enabled arrive in BatchSize batches, in order, once each."""
        sim, table, fn = build()
        for i in range(10):
            put(table, f"k{i}", n=i)
        create_mapping(sim, table, fn, BatchSize=3)
        sim.run_until_idle()
        assert [3, 3, 3, 1] == sizes(fn)
        assert all_seqs(table) == delivered(fn)
        assert [event_seqs(inv) for inv in fn.invocations] == [
            list(inv.sequence_numbers) for inv in fn.invocations
        ]

    def test_backlog_is_not_read_before_the_mapping_reports_enabled(self) -> None:
        """No invocation happens while the mapping is Creating; the first is at the Enabled instant."""
        sim, table, fn = build()
        put(table, "k0")
        create_mapping(sim, table, fn)
        sim.run_for(4.999)
        assert [] == fn.invocations
        sim.run_until_idle()
        assert [ENABLED_MS] == [inv.started_ms for inv in fn.invocations]


class TestTrickle:
    def test_each_record_is_invoked_alone_at_the_first_poll_tick_at_or_after_its_write(
        self,
    ) -> None:
        """With window 0, a record written every 2 s goes alone, at the first 250 ms tick at or after its write."""
        sim, table, fn = build(duration=0.1)
        create_mapping(sim, table, fn)
        # Offsets from Enabled: between ticks, exactly on a tick, 1 ms after one, 1 ms before one.
        writes = [ENABLED_MS + off for off in (1_100, 3_000, 5_001, 7_249, 9_130, 11_875)]
        for i, at in enumerate(writes):
            write_at(sim, at, table, f"k{i}")
        sim.run_until_idle()
        assert [1] * len(writes) == sizes(fn)
        assert [next_tick(w) for w in writes] == [inv.started_ms for inv in fn.invocations]
        assert all_seqs(table) == delivered(fn)

    def test_record_written_during_an_invocation_waits_for_it_then_goes_at_once(self) -> None:
        """A record written while a batch runs is invoked when that invocation completes (keep polling until caught up)."""
        sim, table, fn = build(duration=2.0)
        create_mapping(sim, table, fn)
        write_at(sim, ENABLED_MS + 1_000, table, "first")
        write_at(sim, ENABLED_MS + 1_500, table, "second")
        sim.run_until_idle()
        first, second = fn.invocations
        assert ENABLED_MS + 1_000 == first.started_ms
        assert ENABLED_MS + 3_000 == first.ended_ms
        assert first.ended_ms == second.started_ms
        assert all_seqs(table) == delivered(fn)

    def test_catching_up_after_an_off_grid_completion_does_not_wait_for_a_tick(self) -> None:
        """A record that arrived during an invocation goes when it completes, even between poll ticks."""
        sim, table, fn = build(duration=0.6)
        create_mapping(sim, table, fn)
        write_at(sim, ENABLED_MS + 1_000, table, "first")
        write_at(sim, ENABLED_MS + 1_200, table, "second")
        sim.run_until_idle()
        first, second = fn.invocations
        assert ENABLED_MS + 1_600 == first.ended_ms
        assert first.ended_ms == second.started_ms

    def test_backlog_batches_run_back_to_back(self) -> None:
        """After a success the mapping keeps reading until caught up: each batch starts when the previous ends."""
        sim, table, fn = build(duration=1.0)
        for i in range(5):
            put(table, f"k{i}")
        create_mapping(sim, table, fn, BatchSize=2)
        sim.run_until_idle()
        starts = [inv.started_ms for inv in fn.invocations]
        ends = [inv.ended_ms for inv in fn.invocations]
        assert [ENABLED_MS, ENABLED_MS + 1_000, ENABLED_MS + 2_000] == starts
        assert ends[:-1] == starts[1:]


# -- batching window -------------------------------------------------------------------------


class TestBatchingWindow:
    def test_records_within_the_window_go_in_one_batch_at_window_start_plus_w(self) -> None:
        """Records arriving within W s of the first poll that found records go together, at window start + W."""
        sim, table, fn = build(duration=0.1)
        create_mapping(sim, table, fn, MaximumBatchingWindowInSeconds=2)
        for i, off in enumerate((1_100, 1_600, 3_000, 3_500)):
            write_at(sim, ENABLED_MS + off, table, f"k{i}")
        sim.run_until_idle()
        window_start = ENABLED_MS + 1_250  # the first poll tick after the first write
        seqs = all_seqs(table)
        first = fn.invocations[0]
        assert window_start + 2_000 == first.started_ms
        assert seqs[:3] == list(first.sequence_numbers)
        assert seqs == delivered(fn)

    def test_window_closes_early_when_batch_size_is_reached(self) -> None:
        """A window closes before W when BatchSize records are gathered."""
        sim, table, fn = build(duration=0.1)
        create_mapping(sim, table, fn, BatchSize=3, MaximumBatchingWindowInSeconds=10)
        for i, off in enumerate((1_100, 1_600, 2_100, 2_200)):
            write_at(sim, ENABLED_MS + off, table, f"k{i}")
        sim.run_until_idle()
        first, second = fn.invocations
        assert next_tick(ENABLED_MS + 2_100) == first.started_ms
        assert all_seqs(table)[:3] == list(first.sequence_numbers)
        # The fourth record waits for a new window, opened when the first batch completes.
        assert first.ended_ms + 10_000 == second.started_ms
        assert all_seqs(table) == delivered(fn)

    def test_next_window_starts_when_the_previous_invocation_completes(self) -> None:
        """For DynamoDB the next window begins when the previous invocation completes, not when a record arrives."""
        sim, table, fn = build(duration=1.0)
        create_mapping(sim, table, fn, MaximumBatchingWindowInSeconds=2)
        write_at(sim, ENABLED_MS + 1_100, table, "a")
        write_at(sim, ENABLED_MS + 3_500, table, "b")  # during the first invocation
        sim.run_until_idle()
        first, second = fn.invocations
        assert ENABLED_MS + 3_250 == first.started_ms
        assert ENABLED_MS + 4_250 == first.ended_ms
        assert first.ended_ms + 2_000 == second.started_ms
        assert all_seqs(table) == delivered(fn)

    def test_window_holds_a_backlog_written_while_it_is_open(self) -> None:
        """Every record written during an open window joins its batch, up to BatchSize."""
        sim, table, fn = build()
        create_mapping(sim, table, fn, BatchSize=100, MaximumBatchingWindowInSeconds=3)
        for i in range(12):
            write_at(sim, ENABLED_MS + 500 + 200 * i, table, f"k{i}")
        sim.run_until_idle()
        assert [12] == sizes(fn)
        assert ENABLED_MS + 500 + 3_000 == fn.invocations[0].started_ms


# -- read and payload limits -----------------------------------------------------------------


class TestGetRecordsLimit:
    def test_window_zero_backlog_arrives_in_batches_of_at_most_1000(self) -> None:
        """With BatchSize 5000 and window 0, each poll is one GetRecords call, so batches hold at most 1000."""
        sim, table, fn = build()
        for i in range(3000):
            put(table, f"k{i}")
        create_mapping(sim, table, fn, BatchSize=5000)
        sim.run_until_idle()
        assert [1000, 1000, 1000] == sizes(fn)
        assert all_seqs(table) == delivered(fn)

    def test_window_gathers_several_get_records_calls_into_one_batch(self) -> None:
        """With BatchSize 5000 and a 5 s window, a 3000-record backlog arrives as one batch."""
        sim, table, fn = build()
        for i in range(3000):
            put(table, f"k{i}")
        create_mapping(sim, table, fn, BatchSize=5000, MaximumBatchingWindowInSeconds=5)
        sim.run_until_idle()
        assert [3000] == sizes(fn)
        assert all_seqs(table) == delivered(fn)

    def test_one_megabyte_cap_applies_to_the_sum_of_size_bytes_per_poll(self) -> None:
        """With window 0 a batch's SizeBytes sum stays within 1 MB and holds as many records as fit."""
        sim, table, fn = build()
        # Mixed sizes, chosen so that no batch sum falls between 1,000,000 and 1 MiB.
        for i, kb in enumerate([300, 300, 300, 300, 100, 100, 100, 100, 350, 350, 200, 200]):
            put(table, f"k{i:02d}", blob="x" * (kb * 1000))
        records = table.shards[0].records
        size_of = {
            int(r["dynamodb"]["SequenceNumber"]): r["dynamodb"]["SizeBytes"] for r in records
        }
        create_mapping(sim, table, fn, BatchSize=100)
        sim.run_until_idle()
        assert all_seqs(table) == delivered(fn)
        batches = [list(inv.sequence_numbers) for inv in fn.invocations]
        seqs = all_seqs(table)
        for batch in batches:
            total = sum(size_of[s] for s in batch)
            assert total <= ONE_MB
            following = seqs.index(batch[-1]) + 1
            if following < len(seqs):
                assert total + size_of[seqs[following]] > ONE_MB
        assert len(batches) > 1


def _ascii(i: int) -> dict[str, Any]:
    return {"blob": "y" * 300_000}


def _non_ascii(i: int) -> dict[str, Any]:
    return {"blob": "é" * 150_000}  # 2 UTF-8 bytes, 6 JSON characters (\u00e9) each


def _astral(i: int) -> dict[str, Any]:
    return {"blob": "\N{GRINNING FACE}" * 75_000}  # 4 UTF-8 bytes, a 12-character surrogate pair


def _escapes(i: int) -> dict[str, Any]:
    return {"blob": '"\\\n\x01 ' * 60_000}  # quotes, backslashes, newlines, control characters


def _binary(i: int) -> dict[str, Any]:
    return {"blob": bytes(range(256)) * 1_000 + bytes([i])}  # base64 in the event


def _nested(i: int) -> dict[str, Any]:
    return {
        "rows": [{"name": "r" * 500, "tags": {f"t{j}", "x" * 400}, "n": j} for j in range(200)],
        "flag": True,
        "none": None,
    }


PAYLOAD_SHAPES = {
    "ascii": _ascii,
    "non-ascii": _non_ascii,
    "astral": _astral,
    "escapes": _escapes,
    "binary": _binary,
    "nested": _nested,
}


class TestPayloadCap:
    @pytest.mark.parametrize("shape", list(PAYLOAD_SHAPES.values()), ids=list(PAYLOAD_SHAPES))
    @pytest.mark.parametrize("modify", [False, True], ids=["insert", "modify"])
    def test_large_items_are_split_to_stay_within_6_mb_and_each_batch_holds_as_many_as_fit(
        self, shape: Callable[[int], dict[str, Any]], modify: bool
    ) -> None:
        """Batches of large items stay within 6 MB of compact JSON, and the next record would not fit."""
        sim, table, fn = build()
        count = 40
        for i in range(count):
            if modify:  # a MODIFY record carries both images
                put(table, f"k{i:02d}", version=0, **shape(i))
                put(table, f"k{i:02d}", version=1, **shape(i))
            else:
                put(table, f"k{i:02d}", **shape(i))
        records = table.shards[0].records
        create_mapping(
            sim, table, fn, BatchSize=10_000, MaximumBatchingWindowInSeconds=60
        )  # only the payload cap can close these batches early
        sim.run_until_idle()
        assert all_seqs(table) == delivered(fn)
        assert len(fn.invocations) > 1
        start = 0
        for inv in fn.invocations:
            event = inv.event
            n = len(event["Records"])
            assert compact_len(event) <= SIX_MB
            assert records[start : start + n] == event["Records"]
            if start + n < len(records):
                bigger = {"Records": records[start : start + n + 1]}
                assert compact_len(bigger) > SIX_MB
            start += n

    def test_payload_cap_closes_the_window_before_it_ends(self) -> None:
        """A batch that reaches 6 MB is invoked before its batching window ends."""
        sim, table, fn = build()
        for i in range(45):
            put(table, f"k{i:02d}", blob="y" * 300_000)
        create_mapping(sim, table, fn, BatchSize=10_000, MaximumBatchingWindowInSeconds=60)
        sim.run_until_idle()
        assert fn.invocations[0].started_ms < ENABLED_MS + 60_000

    def test_one_megabyte_cap_is_per_poll_not_per_batch(self) -> None:
        """With a window, a batch gathers several 1 MB GetRecords calls, so its SizeBytes can pass 1 MB."""
        sim, table, fn = build()
        for i in range(10):
            put(table, f"k{i}", blob="y" * 300_000)
        create_mapping(sim, table, fn, BatchSize=10_000, MaximumBatchingWindowInSeconds=5)
        sim.run_until_idle()
        assert [10] == sizes(fn)
        total = sum(r["dynamodb"]["SizeBytes"] for r in fn.invocations[0].event["Records"])
        assert total > 2 * ONE_MB


# -- starting position -------------------------------------------------------------------------


class TestStartingPosition:
    def _scenario(
        self, position: str, shard_count: int
    ) -> tuple[esm_sim.Simulation, esm_sim.Function, list[int], str]:
        """Run three writes per key before Enabled (two before Create, one while Creating), two after."""
        sim, table, fn = build(shard_count=shard_count)
        keys = [f"key{k}" for k in range(8)]
        for key in keys:
            put(table, key, step=1)
            put(table, key, step=2)
        uuid = create_mapping(sim, table, fn, StartingPosition=position)
        for k, key in enumerate(keys):
            sim.call_at((START_MS + 2_000 + k) / 1000, lambda key=key: put(table, key, step=3))
            sim.call_at((ENABLED_MS + 1_000 + k) / 1000, lambda key=key: put(table, key, step=4))
            sim.call_at((ENABLED_MS + 4_000 + k) / 1000, lambda key=key: put(table, key, step=5))
        sim.run_until_idle()
        written = sorted(all_seqs(table))  # sequence numbers grow with every write
        assert 40 == len(written)
        return sim, fn, written, uuid

    @pytest.mark.parametrize("shard_count", [1, 4], ids=["1-shard", "4-shards"])
    def test_latest_skips_records_written_before_enabled(self, shard_count: int) -> None:
        """With LATEST, records written before the mapping reports Enabled are skipped, later ones delivered."""
        sim, fn, written, uuid = self._scenario("LATEST", shard_count)
        assert written[24:] == sorted(delivered(fn))
        assert ["skipped"] * 24 + ["processed"] * 16 == [sim.fate(s).outcome for s in written]
        assert 24 == sim.fate_counts(uuid)["skipped"]

    @pytest.mark.parametrize("shard_count", [1, 4], ids=["1-shard", "4-shards"])
    def test_trim_horizon_delivers_records_written_before_enabled(self, shard_count: int) -> None:
        """With TRIM_HORIZON, records written before Enabled are delivered, and so are later ones."""
        sim, fn, written, uuid = self._scenario("TRIM_HORIZON", shard_count)
        assert written == sorted(delivered(fn))
        assert len(written) == len(delivered(fn))
        assert ["processed"] * 40 == [sim.fate(s).outcome for s in written]
        assert 0 == sim.fate_counts(uuid)["skipped"]


# -- life cycle --------------------------------------------------------------------------------


class TestEnableDisable:
    @pytest.mark.parametrize("duration", [0.2, 0.7], ids=["quick", "slow"])
    @pytest.mark.parametrize("window", [0, 2], ids=["window-0", "window-2"])
    @pytest.mark.parametrize("position", ["TRIM_HORIZON", "LATEST"])
    def test_disable_then_enable_neither_skips_nor_repeats_and_invokes_nothing_while_disabled(
        self, position: str, window: int, duration: float
    ) -> None:
        """Enabled false pauses and true resumes from the checkpoint: no gap, no duplicate, no invoke while Disabled."""
        sim, table, fn = build(duration=duration)
        uuid = create_mapping(
            sim,
            table,
            fn,
            BatchSize=4,
            StartingPosition=position,
            MaximumBatchingWindowInSeconds=window,
        )
        client = sim.lambda_client
        for i in range(80):  # one write every 500 ms for 40 s, starting just after Enabled
            write_at(sim, ENABLED_MS + 100 + 500 * i, table, f"k{i}")
        sim.call_at(
            (ENABLED_MS + 10_000) / 1000,
            lambda: client.update_event_source_mapping(UUID=uuid, Enabled=False),
        )
        sim.call_at(
            (ENABLED_MS + 25_000) / 1000,
            lambda: client.update_event_source_mapping(UUID=uuid, Enabled=True),
        )
        sim.run_until_idle()
        (disabled_ms,) = state_times(sim, uuid, "Disabled")
        resumed_ms = state_times(sim, uuid, "Enabled")[1]
        seqs = all_seqs(table)
        assert seqs == delivered(fn)
        assert [] == [inv for inv in fn.invocations if disabled_ms <= inv.started_ms < resumed_ms]
        # Records written while Disabled are delivered once the mapping is Enabled again.
        while_disabled = {
            seqs[i] for i in range(80) if disabled_ms < ENABLED_MS + 100 + 500 * i < resumed_ms
        }
        assert while_disabled
        carried = {
            s
            for inv in fn.invocations
            if inv.started_ms >= resumed_ms
            for s in inv.sequence_numbers
        }
        assert while_disabled <= carried
        assert 80 == sim.fate_counts(uuid)["processed"]

    def test_poll_grid_restarts_when_the_mapping_reports_enabled_again(self) -> None:
        """After a disable/enable cycle the 250 ms grid starts at the new Enabled instant."""
        sim, table, fn = build()
        uuid = create_mapping(sim, table, fn)
        client = sim.lambda_client
        sim.run_until(ENABLED_MS / 1000 + 1)
        client.update_event_source_mapping(UUID=uuid, Enabled=False)
        sim.run_until((ENABLED_MS + 10_100) / 1000)  # off the old grid
        client.update_event_source_mapping(UUID=uuid, Enabled=True)
        write_at(sim, ENABLED_MS + 17_000, table, "k0")  # on the old grid
        sim.run_until_idle()
        (reenabled_ms,) = state_times(sim, uuid, "Enabled")[1:]
        assert ENABLED_MS + 15_100 == reenabled_ms
        assert [ENABLED_MS + 17_100] == [inv.started_ms for inv in fn.invocations]

    def test_nothing_is_invoked_while_disabled_even_with_a_backlog(self) -> None:
        """A mapping created with Enabled false never invokes, and enabling it delivers the backlog."""
        sim, table, fn = build()
        for i in range(5):
            put(table, f"k{i}")
        uuid = create_mapping(sim, table, fn, Enabled=False)
        sim.run_until_idle()  # a Disabled mapping is not busy, whatever it has left to read
        sim.run_for(120)
        assert "Disabled" == sim.lambda_client.get_event_source_mapping(UUID=uuid)["State"]
        assert [] == fn.invocations
        assert 5 == sim.fate_counts(uuid)["pending"]
        sim.lambda_client.update_event_source_mapping(UUID=uuid, Enabled=True)
        sim.run_until_idle()
        assert all_seqs(table) == delivered(fn)


class TestUpdate:
    def test_batch_size_update_applies_when_the_state_settles_back_to_enabled(self) -> None:
        """After an update, batches keep the old BatchSize while Updating and use the new one once Enabled."""
        sim, table, fn = build()
        uuid = create_mapping(sim, table, fn, BatchSize=10)
        client = sim.lambda_client
        sim.run_until(ENABLED_MS / 1000 + 1)
        response = client.update_event_source_mapping(UUID=uuid, BatchSize=2)
        assert "Updating" == response["State"]

        sim.call_later(1, put_many, table, "during", 6)  # still Updating
        sim.run_for(2)
        assert "Updating" == client.get_event_source_mapping(UUID=uuid)["State"]
        assert [6] == sizes(fn)
        sim.run_for(10)
        assert "Enabled" == client.get_event_source_mapping(UUID=uuid)["State"]
        put_many(table, "after", 6)
        sim.run_until_idle()
        assert [6, 2, 2, 2] == sizes(fn)
        assert all_seqs(table) == delivered(fn)

    def test_window_open_across_the_settle_closes_under_the_new_batch_size(self) -> None:
        """Once the update settles to Enabled, no batch exceeds the new BatchSize, even one gathered in an open window."""
        sim, table, fn = build()
        uuid = create_mapping(sim, table, fn, BatchSize=10, MaximumBatchingWindowInSeconds=10)
        sim.run_until(ENABLED_MS / 1000 + 1)
        sim.lambda_client.update_event_source_mapping(UUID=uuid, BatchSize=2)
        sim.call_later(1, put_many, table, "k", 6)  # opens a window
        sim.run_until_idle()
        settled_ms = state_times(sim, uuid, "Enabled")[1]
        assert ENABLED_MS + 6_000 == settled_ms
        assert all_seqs(table) == delivered(fn)
        after = [
            len(inv.sequence_numbers) for inv in fn.invocations if inv.started_ms >= settled_ms
        ]
        assert [] == [n for n in after if n > 2]

    def test_window_open_across_the_settle_follows_the_new_window_of_zero(self) -> None:
        """Once an update to window 0 settles to Enabled, available records go at once, not at the old window's end."""
        sim, table, fn = build()
        uuid = create_mapping(sim, table, fn, BatchSize=10, MaximumBatchingWindowInSeconds=10)
        sim.run_until(ENABLED_MS / 1000 + 1)
        sim.lambda_client.update_event_source_mapping(UUID=uuid, MaximumBatchingWindowInSeconds=0)
        sim.call_later(1, put_many, table, "k", 6)  # opens a window
        sim.run_until_idle()
        settled_ms = state_times(sim, uuid, "Enabled")[1]
        assert all_seqs(table) == delivered(fn)
        assert fn.invocations[0].started_ms <= settled_ms + POLL_MS


class TestDelete:
    def test_delete_stops_delivery(self) -> None:
        """After DeleteEventSourceMapping settles, no record is delivered any more."""
        sim, table, fn = build()
        uuid = create_mapping(sim, table, fn)
        write_at(sim, ENABLED_MS + 1_000, table, "kept")
        sim.run_until(ENABLED_MS / 1000 + 2)
        assert "Deleting" == sim.lambda_client.delete_event_source_mapping(UUID=uuid)["State"]
        sim.run_for(30)
        with pytest.raises(ResourceNotFoundException):
            sim.lambda_client.get_event_source_mapping(UUID=uuid)
        write_at(sim, sim.now_ms + 1_000, table, "lost-1")
        write_at(sim, sim.now_ms + 60_000, table, "lost-2")
        sim.run_until_idle()
        sim.run_for(60)
        assert all_seqs(table)[:1] == delivered(fn)
        assert 3 == len(all_seqs(table))


# -- several readers ---------------------------------------------------------------------------


class TestTwoMappings:
    def test_two_functions_on_one_stream_each_receive_every_record(self) -> None:
        """Two mappings on one stream read it independently: each function gets every record, in order."""
        sim, table, fn_a = build(duration=0.3)
        fn_b = sim.create_function("auditor", ok, duration=1.0)
        for i in range(7):
            put(table, f"old{i}")
        uuid_a = create_mapping(sim, table, fn_a, BatchSize=3)
        uuid_b = create_mapping(sim, table, fn_b, BatchSize=5)
        for i in range(6):
            write_at(sim, ENABLED_MS + 700 * i + 100, table, f"new{i}")
        sim.run_until_idle()
        seqs = all_seqs(table)
        assert seqs == delivered(fn_a)
        assert seqs == delivered(fn_b)
        assert {uuid_a} == {inv.mapping_uuid for inv in fn_a.invocations}
        assert {uuid_b} == {inv.mapping_uuid for inv in fn_b.invocations}
        assert [3, 3] == sizes(fn_a)[:2]
        assert 5 == sizes(fn_b)[0]
        assert max(sizes(fn_a)) <= 3
        assert max(sizes(fn_b)) <= 5
        for uuid in (uuid_a, uuid_b):
            assert 13 == sim.fate_counts(uuid)["processed"]
            assert ["processed"] * 13 == [sim.fate(s, uuid=uuid).outcome for s in seqs]


class TestShards:
    def test_every_record_once_each_batch_from_one_shard_and_per_key_order_kept(self) -> None:
        """With four shards, each record arrives once, each batch comes from one shard, and each key keeps its order."""
        sim, table, fn = build(shard_count=4, duration=0.3)
        for version in range(10):
            for k in range(20):
                put(table, f"key{k}", version=version)
        uuid = create_mapping(sim, table, fn, BatchSize=7)
        for version in range(10, 15):
            for k in range(20):
                write_at(
                    sim, ENABLED_MS + 400 * version + 13 * k, table, f"key{k}", version=version
                )
        sim.run_until_idle()
        assert sorted(all_seqs(table)) == sorted(delivered(fn))
        assert len(set(delivered(fn))) == len(delivered(fn))
        shard_seqs = {s.shard_id: {int(q) for q in s.sequence_numbers} for s in table.shards}
        used = {inv.shard_id for inv in fn.invocations}
        assert {sid for sid, seqs in shard_seqs.items() if seqs} == used
        assert len(used) > 1
        for inv in fn.invocations:
            assert set(inv.sequence_numbers) <= shard_seqs[inv.shard_id]
            assert len(inv.event["Records"]) <= 7
        per_key: dict[str, list[int]] = {}
        for inv in fn.invocations:
            for rec in inv.event["Records"]:
                key = rec["dynamodb"]["Keys"]["pk"]["S"]
                per_key.setdefault(key, []).append(int(rec["dynamodb"]["SequenceNumber"]))
        assert 20 == len(per_key)
        for key, order in per_key.items():
            assert sorted(order) == order, key
        assert 300 == sim.fate_counts(uuid)["processed"]


# -- fates, running, determinism ---------------------------------------------------------------


class TestFateCounts:
    def test_fate_counts_add_up_and_are_all_processed_after_run_until_idle(self) -> None:
        """fate_counts always adds up to the records in the stream, and after run_until_idle all are processed."""
        sim, table, fn = build(duration=1.0)
        for i in range(9):
            put(table, f"k{i}")
        uuid = create_mapping(sim, table, fn, BatchSize=2)
        before = sim.fate_counts(uuid)
        assert 9 == sum(before.values())
        assert 9 == before["pending"]
        sim.run_until(ENABLED_MS / 1000 + 2.5)
        middle = sim.fate_counts(uuid)
        assert 9 == sum(middle.values())
        assert 0 < middle["processed"] < 9
        sim.run_until_idle()
        after = sim.fate_counts(uuid)
        assert 9 == sum(after.values())
        assert {k: (9 if k == "processed" else 0) for k in after} == after
        assert ["processed"] * 9 == [sim.fate(s).outcome for s in all_seqs(table)]
        assert all(len(sim.fate(s).deliveries) == 1 for s in all_seqs(table))


class TestRunUntilIdle:
    def test_returns_as_soon_as_idle(self) -> None:
        """run_until_idle stops at the instant the last batch completes, not at its bound."""
        sim, table, fn = build(duration=1.0)
        for i in range(3):
            put(table, f"k{i}")
        create_mapping(sim, table, fn, BatchSize=1)
        sim.run_until_idle(max_seconds=3_600)
        assert sim.is_idle()
        assert fn.invocations[-1].ended_ms == sim.now_ms
        assert ENABLED_MS + 3_000 == sim.now_ms

    def test_raises_when_bounded_too_low(self) -> None:
        """run_until_idle raises SimulationLimitExceeded when work remains at its bound."""
        sim, table, fn = build(duration=1.0)
        for i in range(3):
            put(table, f"k{i}")
        create_mapping(sim, table, fn, BatchSize=1)
        with pytest.raises(SimulationLimitExceeded):
            sim.run_until_idle(max_seconds=6)
        assert START_MS + 6_000 == sim.now_ms
        sim.run_until_idle()
        assert all_seqs(table) == delivered(fn)

    def test_returns_at_once_when_already_idle(self) -> None:
        """With nothing to do, run_until_idle returns without moving the clock."""
        sim, table, _ = build()
        put(table, "k0")
        sim.run_until_idle()
        assert START_MS == sim.now_ms

    def test_raises_when_a_scheduled_write_lies_beyond_the_bound(self) -> None:
        """Pending call_at work counts as busy, so a bound short of it raises SimulationLimitExceeded."""
        sim, table, fn = build()
        create_mapping(sim, table, fn)
        write_at(sim, START_MS + 3_600_000, table, "late")
        with pytest.raises(SimulationLimitExceeded):
            sim.run_until_idle(max_seconds=60)
        assert [] == fn.invocations

    def test_waits_for_writes_scheduled_with_call_at(self) -> None:
        """A write scheduled with call_at in the future is awaited and delivered by run_until_idle."""
        sim, table, fn = build()
        create_mapping(sim, table, fn)
        sim.run_until_idle()
        assert [] == fn.invocations
        write_at(sim, ENABLED_MS + 3_600_000, table, "late")
        assert not sim.is_idle()
        sim.run_until_idle()
        assert all_seqs(table) == delivered(fn)
        assert [ENABLED_MS + 3_600_000] == [inv.started_ms for inv in fn.invocations]


def determinism_scenario(seed: int) -> tuple[str, list[str], list[str], list[bytes]]:
    """A mixed scenario; returns the trace text, eventIDs, request ids and event bytes."""
    sim, table, fn = build(seed=seed, shard_count=3, duration=0.4)
    for i in range(25):
        put(table, f"k{i % 7}", n=i)
    create_mapping(sim, table, fn, BatchSize=4, MaximumBatchingWindowInSeconds=1)
    for i in range(20):
        write_at(sim, ENABLED_MS + 333 * i, table, f"k{i % 5}", n=100 + i)
    sim.run_until_idle()
    events = [inv.event for inv in fn.invocations]
    return (
        sim.trace.text(),
        [r["eventID"] for e in events for r in e["Records"]],
        [inv.request_id for inv in fn.invocations],
        [json.dumps(e).encode() for e in events],
    )


class TestDeterminism:
    def test_same_seed_gives_identical_trace_and_events(self) -> None:
        """The same scenario with the same seed gives the same trace text and byte-identical events."""
        first = determinism_scenario(7)
        second = determinism_scenario(7)
        assert first[0] == second[0]
        assert first[1] == second[1]
        assert first[2] == second[2]
        assert first[3] == second[3]
        assert 45 == len(first[1])

    def test_different_seed_gives_different_ids(self) -> None:
        """Another seed gives other eventIDs and request ids (and so another trace)."""
        first = determinism_scenario(7)
        other = determinism_scenario(8)
        assert first[1] != other[1]
        assert not set(first[1]) & set(other[1])
        assert not set(first[2]) & set(other[2])
        assert first[0] != other[0]


# -- a failing handler -------------------------------------------------------------------------


class TestHandlerRaises:
    def test_failed_batch_is_retried_and_blocks_the_shard_until_it_succeeds(self) -> None:
        """A raising handler gets the same batch again; later records wait until it succeeds."""
        calls: list[int] = []

        def flaky(event: dict[str, Any], context: esm_sim.Context) -> None:
            calls.append(len(event["Records"]))
            if len(calls) <= 3:
                msg = "not yet"
                raise RuntimeError(msg)

        sim, table, fn = build(handler=flaky, duration=0.1)
        uuid = create_mapping(sim, table, fn, BatchSize=10)
        write_at(sim, ENABLED_MS + 1_000, table, "first")
        write_at(sim, ENABLED_MS + 1_300, table, "second")
        sim.run_until_idle()
        seqs = all_seqs(table)
        assert [(seqs[0],)] * 4 == [inv.sequence_numbers for inv in fn.invocations[:4]]
        assert ["Unhandled"] * 3 + [None] == [inv.error for inv in fn.invocations[:4]]
        assert "RuntimeError" == fn.invocations[0].error_type
        assert seqs == delivered(fn)[3:]
        later = [inv for inv in fn.invocations if seqs[1] in inv.sequence_numbers]
        assert 1 == len(later)
        assert later[0].started_ms >= fn.invocations[3].ended_ms
        state = sim.lambda_client.get_event_source_mapping(UUID=uuid)
        assert "OK" == state["LastProcessingResult"]

    def test_always_failing_handler_keeps_the_simulation_consistent(self) -> None:
        """With a handler that always raises, run_for keeps working, the shard stays blocked and both records stay pending."""

        def broken(event: dict[str, Any], context: esm_sim.Context) -> None:
            msg = "boom"
            raise ValueError(msg)

        sim, table, fn = build(handler=broken)
        uuid = create_mapping(sim, table, fn)
        write_at(sim, ENABLED_MS + 1_000, table, "poison")
        write_at(sim, ENABLED_MS + 2_000, table, "behind")
        for _ in range(3):
            sim.run_for(60)
        seqs = all_seqs(table)
        assert len(fn.invocations) > 3
        assert {(seqs[0],)} == {inv.sequence_numbers for inv in fn.invocations}
        assert {"Unhandled"} == {inv.error for inv in fn.invocations}
        assert ["pending", "pending"] == [sim.fate(s).outcome for s in seqs]
        assert 2 == sim.fate_counts(uuid)["pending"]
        assert not sim.is_idle()
        assert START_MS + 180_000 == sim.now_ms
        state = sim.lambda_client.get_event_source_mapping(UUID=uuid)
        assert "PROBLEM: Function call failed" == state["LastProcessingResult"]
        with pytest.raises(SimulationLimitExceeded):
            sim.run_until_idle(max_seconds=600)
        assert {(seqs[0],)} == {inv.sequence_numbers for inv in fn.invocations}


class TestLastProcessingResult:
    def test_ok_after_a_successful_batch(self) -> None:
        """LastProcessingResult reads "No records processed" at first and "OK" after a successful batch."""
        sim, table, fn = build()
        uuid = create_mapping(sim, table, fn)
        sim.run_until_idle()
        client = sim.lambda_client
        assert (
            "No records processed"
            == client.get_event_source_mapping(UUID=uuid)["LastProcessingResult"]
        )
        put(table, "k0")
        sim.run_until_idle()
        assert 1 == len(fn.invocations)
        assert "OK" == client.get_event_source_mapping(UUID=uuid)["LastProcessingResult"]
