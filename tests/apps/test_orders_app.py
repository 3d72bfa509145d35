"""
The orders app (tests/apps/orders), tested end to end as its authors would.

A SAM template with an orders table (stream, TTL), two plain tables, a dead-letter
queue, a Powertools batch handler that keeps per-customer totals in a second
table through boto3, a tumbling-window aggregate writing orders per minute
through boto3, and an HTTP health function. The handlers are imported from the
template's CodeUri; inside ``sim.mock_aws()`` their boto3 calls reach the
simulated tables (moto serving DynamoDB's data plane), and with
``handler_clock="virtual"`` they read the simulation's clock.
"""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("moto")
pytest.importorskip("time_machine")
pytest.importorskip("samtranslator")
pytest.importorskip("aws_lambda_powertools")
boto3 = pytest.importorskip("boto3")

from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import esm_sim  # noqa: E402
from esm_sim.__main__ import main  # noqa: E402

APP = Path(__file__).parent / "orders"
START_S = 1_767_225_600  # 2026-01-01T00:00:00Z, the simulation's default start


def _app(**settings: Any) -> esm_sim.Simulation:
    sim = esm_sim.Simulation.from_template(
        APP / "template.yaml", handler_clock="virtual", **settings
    )
    sim.run_for(6)  # the mappings become Enabled
    return sim


def _uuid(sim: esm_sim.Simulation, function_name: str) -> str:
    (uuid,) = [u for u, m in sim.mappings.items() if m.function.name == function_name]
    return uuid


def _totals(sim: esm_sim.Simulation) -> dict[str, dict[str, Any]]:
    table = boto3.resource("dynamodb").Table(sim.tables["esm-sim-totals"].name)
    return {item["customer_id"]: item for item in table.scan()["Items"]}


class TestTheTemplate:
    def test_the_template_builds_every_resource(self) -> None:
        """The app's stack builds: a streamed table with TTL, plain tables, functions with and without mappings, their environments merged from Globals."""
        sim = esm_sim.Simulation.from_template(APP / "template.yaml")
        orders = sim.tables["esm-sim-orders"]
        assert (True, "expires_at") == (orders.has_stream, orders.ttl_attribute)
        assert not sim.tables["esm-sim-totals"].has_stream
        assert not sim.tables["StatsTable"].has_stream
        functions = {m.function.name for m in sim.mappings.values()}
        assert {"TotalsFunction", "OrdersPerMinuteFunction"} == functions
        assert "HealthFunction" in sim.functions
        totals_env = sim.functions["TotalsFunction"].environment
        assert ("esm-sim-totals", "DEBUG", "orders") == (
            totals_env["TOTALS_TABLE"],
            totals_env["LOG_LEVEL"],
            totals_env["POWERTOOLS_SERVICE_NAME"],
        )

    def test_validate_and_run_from_the_cli(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`validate` accepts the template; `run` of its scenario (inside mock_aws, so the handler's boto3 writes land) ends clean with nothing printed but the JSON."""
        assert 0 == main(["validate", str(APP / "template.yaml")])
        capsys.readouterr()
        assert 0 == main(["run", str(APP / "scenario.yaml"), "--json", "--fail-on", "errors"])
        out = json.loads(capsys.readouterr().out)
        assert ("ok", 0) == (out["invariants"], out["errors"])
        assert out["invocations"] >= 4


class TestTotals:
    def test_totals_follow_orders_written_through_boto3(self) -> None:
        """Orders put, changed and deleted through boto3 end as each customer's amounts in the totals table, stamped with the virtual time of the change."""
        sim = _app()
        with sim.mock_aws():
            orders = boto3.resource("dynamodb").Table("esm-sim-orders")
            orders.put_item(Item={"order_id": "o1", "customer_id": "c1", "amount": Decimal("12.5")})
            orders.put_item(Item={"order_id": "o2", "customer_id": "c1", "amount": 3})
            sim.run_for(60)
            orders.update_item(
                Key={"order_id": "o1"},
                UpdateExpression="SET amount = :a",
                ExpressionAttributeValues={":a": 20},
            )
            orders.delete_item(Key={"order_id": "o2"})
            sim.run_until_idle()
            totals = _totals(sim)
        assert {"o1": 2000} == totals["c1"]["amounts"]
        last = sim.functions["TotalsFunction"].invocations[-1]
        assert last.started_ms // 1000 == totals["c1"]["updated_at"]
        assert totals["c1"]["updated_at"] > START_S + 60  # the virtual clock, not the wall's

    def test_an_order_without_amount_reaches_the_dlq_with_the_batch_retried_from_it(
        self,
    ) -> None:
        """An unreadable order is a batch item failure; retried from it with the records after it, the retried batch goes to the DLQ (read through boto3's SQS), records after it included, while the orders before it are counted."""
        sim = _app()
        with sim.mock_aws():
            orders = boto3.resource("dynamodb").Table("esm-sim-orders")
            orders.put_item(Item={"order_id": "o1", "customer_id": "c1", "amount": 1})
            orders.put_item(Item={"order_id": "bad", "customer_id": "c2"})
            orders.put_item(Item={"order_id": "o3", "customer_id": "c3", "amount": 2})
            sim.run_until_idle()
            sqs = boto3.client("sqs")
            url = sqs.get_queue_url(QueueName="OrdersDLQ")["QueueUrl"]
            (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
            totals = _totals(sim)
        info = json.loads(message["Body"])["DDBStreamBatchInfo"]
        seqs = [int(s) for s in sim.tables["esm-sim-orders"].shards[0].sequence_numbers]
        assert (str(seqs[1]), str(seqs[2]), 2) == (
            info["startSequenceNumber"],
            info["endSequenceNumber"],
            info["batchSize"],
        )
        assert {"c1": {"o1": 100}, "c3": {"o3": 200}} == {
            c: item["amounts"] for c, item in totals.items()
        }
        counts = sim.fate_counts(_uuid(sim, "TotalsFunction"))
        assert (1, 2) == (counts["processed"], counts["destination"])

    def test_what_the_handler_logs_is_kept_per_invocation(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Powertools Logger's JSON lines land in Invocation.logs, one invocation's own, and nothing reaches the test's output."""
        sim = _app()
        with sim.mock_aws():
            sim.tables["esm-sim-orders"].put_item(
                {"order_id": "o1", "customer_id": "c1", "amount": 5}
            )
            sim.run_until_idle()
        (invocation,) = sim.functions["TotalsFunction"].invocations
        (line,) = [json.loads(x) for x in invocation.logs.splitlines() if "order applied" in x]
        assert ("o1", 500, "TotalsFunction") == (
            line["order_id"],
            line["cents"],
            line["function_name"],
        )
        assert "" == capsys.readouterr().out

    def test_an_expired_order_leaves_the_totals(self) -> None:
        """TTL deletes an expired order with a service REMOVE record, and the app takes it out of the customer's total as it does a cancelled order."""
        sim = _app(ttl_delay_hours=0)
        with sim.mock_aws():
            orders = boto3.resource("dynamodb").Table("esm-sim-orders")
            orders.put_item(
                Item={"order_id": "o1", "customer_id": "c1", "amount": 1, "expires_at": START_S}
            )
            orders.put_item(Item={"order_id": "o2", "customer_id": "c1", "amount": 2})
            sim.run_until_idle()
            totals = _totals(sim)
        removes = [
            r
            for s in sim.tables["esm-sim-orders"].shards
            for r in s.records
            if r["eventName"] == "REMOVE"
        ]
        assert ["dynamodb.amazonaws.com"] == [r["userIdentity"]["principalId"] for r in removes]
        assert {"o2": 200} == totals["c1"]["amounts"]


class TestOrdersPerMinute:
    def test_each_minute_is_counted_once_when_its_window_closes(self) -> None:
        """The tumbling-window function writes each minute's count of new orders once, through boto3, when the window closes."""
        sim = _app()
        with sim.mock_aws():
            orders = boto3.resource("dynamodb").Table("esm-sim-orders")
            for i in range(7):
                item = {"order_id": f"o{i}", "customer_id": "c1", "amount": 1}
                sim.call_later(i * 25, functools.partial(orders.put_item, Item=item))
            sim.run_until_idle()
            stats = boto3.resource("dynamodb").Table("StatsTable").scan()["Items"]
        counts = {s["window_start"]: int(s["orders"]) for s in stats}
        assert 7 == sum(counts.values())
        assert ["2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"] == sorted(
            counts
        )


ORDER_IDS = ["o1", "o2", "o3", "o4"]
orders_written = st.lists(
    st.tuples(
        st.sampled_from(ORDER_IDS),
        st.sampled_from(["c1", "c2"]),
        st.integers(0, 10_000),
        st.booleans(),  # delete instead of put
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=8)
@example(writes=[("o1", "c1", 0, False), ("o1", "c2", 0, False)], duplicates=0, invoke_errors=0)
@given(
    writes=orders_written,
    duplicates=st.integers(0, 3),
    invoke_errors=st.integers(0, 2),
)
def test_totals_are_the_same_whatever_is_redelivered(
    writes: list[tuple[str, str, int, bool]], duplicates: int, invoke_errors: int
) -> None:
    """Whatever Lambda redelivers (duplicate deliveries, retried invocations), each customer's amounts equal the orders that remain, so the handler is idempotent."""
    sim = _app()
    if duplicates:
        sim.inject_duplicate_deliveries("TotalsFunction", count=duplicates)
    if invoke_errors:
        sim.inject_invoke_errors("TotalsFunction", count=invoke_errors)
    final: dict[str, tuple[str, int]] = {}
    with sim.mock_aws():
        orders = boto3.resource("dynamodb").Table("esm-sim-orders")
        for order_id, customer, cents, delete in writes:
            if delete:
                orders.delete_item(Key={"order_id": order_id})
                final.pop(order_id, None)
            else:
                amount = Decimal(cents) / 100
                orders.put_item(
                    Item={"order_id": order_id, "customer_id": customer, "amount": amount}
                )
                final[order_id] = (customer, cents)
        sim.run_until_idle()
        totals = _totals(sim)
    expected: dict[str, dict[str, int]] = {}
    for order_id, (customer, cents) in final.items():
        expected.setdefault(customer, {})[order_id] = cents
    got = {c: {o: int(v) for o, v in item["amounts"].items()} for c, item in totals.items()}
    assert expected == {c: a for c, a in got.items() if a}
