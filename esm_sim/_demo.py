"""The built-in demo: a poison record in a stream, as a readable timeline and summary."""

from __future__ import annotations

from typing import Any

from esm_sim._simulation import Simulation


def build_demo(seed: int = 0) -> Simulation:
    """
    One shard, 30 orders, one poison order; BatchSize 10, bisect on, 2 retries, SQS DLQ.

    Runs the simulation until idle and returns it.
    """
    sim = Simulation(seed=seed)
    orders = sim.create_table("orders", partition_key="pk")

    def handler(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            if "poison" in record["dynamodb"]["NewImage"]:
                msg = f"cannot process {record['dynamodb']['Keys']['pk']['S']}"
                raise ValueError(msg)

    sim.create_function("process-orders", handler, duration=0.2)
    dlq = sim.create_queue("orders-dlq")
    sim.lambda_client.create_event_source_mapping(
        FunctionName="process-orders",
        EventSourceArn=orders.stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": dlq.arn}},
    )
    for i in range(30):
        item: dict[str, Any] = {"pk": f"order-{i:02d}", "total": i * 10}
        if i == 17:
            item["poison"] = True
        orders.put_item(item)
    sim.run_until_idle()
    return sim


def demo_text(sim: Simulation) -> str:
    """The demo's timeline and summary as text."""
    fn = sim.functions["process-orders"]
    dlq = sim.queues["orders-dlq"]
    (mapping_uuid,) = sim.mappings
    counts = sim.fate_counts(mapping_uuid)
    lines = [
        "esm_sim demo: 30 orders, order-17 is poison; BatchSize 10, bisect on, "
        "MaximumRetryAttempts 2, SQS on-failure destination",
        "",
        sim.trace.text(),
        "",
        "Summary",
        f"  invocations        {len(fn.invocations)}",
        f"  failed invocations {sum(1 for i in fn.invocations if i.error)}",
        f"  records            {', '.join(f'{k} {v}' for k, v in counts.items() if v)}",
        f"  DLQ messages       {len(dlq.messages)}",
    ]
    for message in dlq.messages:
        info = message["DDBStreamBatchInfo"]
        lines.append(
            f"    {message['requestContext']['condition']}: records "
            f"{info['startSequenceNumber']}..{info['endSequenceNumber']} "
            f"({info['batchSize']}), invoked {message['requestContext']['approximateInvokeCount']}x"
        )
    lines.append(f"  virtual time       {sim.now.isoformat()}")
    return "\n".join(lines)
