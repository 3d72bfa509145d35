"""
The orders app's stream handler: keeps each customer's order total.

It adds an order's amount when the order is inserted and takes it away when
the order is removed, reporting the records it cannot read as batch item
failures. The totals live in memory (one per execution environment, as a
Lambda function's globals do); the real app would keep them in TOTALS_TABLE.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from money import to_cents

TOTALS_TABLE = os.environ["TOTALS_TABLE"]  # read at import, as Lambda's init does
totals: dict[str, int] = {}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for record in event["Records"]:
        try:
            image = record["dynamodb"].get("NewImage") or record["dynamodb"]["OldImage"]
            customer = image["customer_id"]["S"]
            cents = to_cents(Decimal(image["amount"]["N"]))
        except (KeyError, ArithmeticError):
            failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
            continue
        sign = (
            -1 if record["eventName"] == "REMOVE" else 1 if record["eventName"] == "INSERT" else 0
        )
        totals[customer] = totals.get(customer, 0) + sign * cents
    return {"batchItemFailures": failures}
