"""Builders shared by the scenario tests: a table, a function, a mapping, some writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

import esm_sim

Handler = Callable[[dict[str, Any], Any], Any]


@attrs.define
class World:
    """What a scenario built: the simulation and its parts."""

    sim: esm_sim.Simulation
    table: esm_sim.Table
    fn: esm_sim.Function
    uuid: str
    queue: esm_sim.Queue

    @property
    def seqs(self) -> list[str]:
        """Every record's sequence number, in write order (one shard)."""
        return [s for shard in self.table.shards for s in shard.sequence_numbers]

    def delivered(self) -> list[list[str]]:
        """The sequence numbers of each invocation, in order."""
        return [[str(s) for s in inv.sequence_numbers] for inv in self.fn.invocations]

    def mapping(self) -> dict[str, Any]:
        return self.sim.lambda_client.get_event_source_mapping(UUID=self.uuid)


def build(
    handler: Handler,
    *,
    records: int = 1,
    seed: int = 0,
    destination: str | None = "queue",
    duration: float = 0.0,
    timeout: float = 3,
    writes_at: float | None = None,
    sim_kwargs: dict[str, Any] | None = None,
    **mapping: Any,
) -> World:
    """A one-shard table with ``records`` items k0.., a function and a mapping."""
    sim = esm_sim.Simulation(seed=seed, **(sim_kwargs or {}))
    table = sim.create_table("orders", partition_key="pk")
    fn = sim.create_function("fn", handler, duration=duration, timeout=timeout)
    queue = sim.create_queue("dlq")
    params: dict[str, Any] = {
        "FunctionName": "fn",
        "EventSourceArn": table.stream_arn,
        "StartingPosition": "TRIM_HORIZON",
        **mapping,
    }
    if destination == "queue":
        params["DestinationConfig"] = {"OnFailure": {"Destination": queue.arn}}
    elif destination is not None:
        params["DestinationConfig"] = {"OnFailure": {"Destination": destination}}
    uuid = sim.lambda_client.create_event_source_mapping(**params)["UUID"]

    def write() -> None:
        for i in range(records):
            table.put_item({"pk": f"k{i}", "n": i})

    if writes_at is None:
        write()
    else:
        sim.call_later(writes_at, write)
    return World(sim=sim, table=table, fn=fn, uuid=uuid, queue=queue)


def keys(event: dict[str, Any]) -> list[str]:
    """The partition keys of an event's records."""
    return [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]


def failing_on(*bad: str) -> Handler:
    """A handler that raises when the batch holds one of these keys."""

    def handler(event: dict[str, Any], context: Any) -> None:
        for key in keys(event):
            if key in bad:
                msg = f"poison {key}"
                raise ValueError(msg)

    return handler


def returning(response: Any) -> Handler:
    """A handler that always returns ``response``."""

    def handler(event: dict[str, Any], context: Any) -> Any:
        return response

    return handler


def max_overlap(invocations: list[Any]) -> int:
    """The most invocations running at one instant (those with duration > 0)."""
    edges: list[tuple[int, int]] = []
    for inv in invocations:
        if inv.ended_ms > inv.started_ms:
            edges.append((inv.started_ms, 1))
            edges.append((inv.ended_ms, -1))
    edges.sort()  # at equal times an end (-1) sorts before a start (+1)
    running = best = 0
    for _, delta in edges:
        running += delta
        best = max(best, running)
    return best


def key_of(table: esm_sim.Table) -> dict[int, str]:
    """Every record's sequence number -> its partition key."""
    return {
        int(r["dynamodb"]["SequenceNumber"]): r["dynamodb"]["Keys"]["pk"]["S"]
        for shard in table.shards
        for r in shard.records
    }


def written_per_key(table: esm_sim.Table) -> dict[str, list[int]]:
    """Per key, its records' sequence numbers in write order."""
    out: dict[str, list[int]] = {}
    for seq, key in sorted(key_of(table).items()):
        out.setdefault(key, []).append(seq)
    return out


RBIF = ["ReportBatchItemFailures"]  # FunctionResponseTypes for partial batch responses


def fail_items(*bad: str) -> Any:
    """A handler reporting these keys (by their sequence numbers) as failed."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
                for r in event["Records"]
                if r["dynamodb"]["Keys"]["pk"]["S"] in bad
            ]
        }

    return handler


def counting(log: list[dict[str, Any]]) -> Any:
    """An aggregating tumbling-window handler: counts records in its state; logs each event."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        log.append(event)
        state = event["state"]
        state["n"] = state.get("n", 0) + len(event["Records"])
        return {"state": state}

    return handler


def fates_by_record(sim: esm_sim.Simulation, uuid: str, table: esm_sim.Table) -> dict[str, int]:
    """Per outcome, how many of the table's records ``sim.fate`` gives it (none left out)."""
    out: dict[str, int] = {}
    for shard in table.shards:
        for seq in shard.sequence_numbers:
            outcome = sim.fate(seq, uuid=uuid).outcome
            out[outcome] = out.get(outcome, 0) + 1
    return out


def nonzero_fate_counts(sim: esm_sim.Simulation, uuid: str) -> dict[str, int]:
    """``sim.fate_counts(uuid)`` without its zeros, after checking none is negative."""
    counts = sim.fate_counts(uuid)
    negative = {k: v for k, v in counts.items() if v < 0}
    assert {} == negative
    return {k: v for k, v in counts.items() if v}
