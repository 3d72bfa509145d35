"""
The orders app's stream handler: keeps each customer's orders and total in TOTALS_TABLE.

A Powertools batch handler (partial batch responses): each order's amount, in
cents, is kept under ``amounts.<order_id>`` of its customer's item, with
``updated_at`` the time of the change. Setting one order's amount (not adding
to a running sum) makes a redelivered record harmless; a record it cannot read
(an order without ``amount``) is reported as a batch item failure.
"""

from __future__ import annotations

import os
import time
from decimal import Decimal
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from money import to_cents

logger = Logger()
# Made once per execution environment, at import (Lambda's init), as real apps do.
totals = boto3.resource("dynamodb").Table(os.environ["TOTALS_TABLE"])
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    image = record.dynamodb.new_image or record.dynamodb.old_image
    order_id, customer = image["order_id"], image["customer_id"]
    cents = to_cents(Decimal(image["amount"]))  # KeyError: not an order we can count
    key = {"customer_id": customer}
    now = int(time.time())
    totals.update_item(
        Key=key,
        UpdateExpression="SET amounts = if_not_exists(amounts, :empty)",
        ExpressionAttributeValues={":empty": {}},
    )
    moved_from = (record.dynamodb.old_image or {}).get("customer_id")
    if record.dynamodb.new_image and moved_from not in (None, customer):
        # The order changed customer: it leaves the old one's amounts (a bug
        # the app's Hypothesis property found: the order was counted twice).
        totals.update_item(
            Key={"customer_id": moved_from},
            UpdateExpression="REMOVE amounts.#order SET updated_at = :now",
            ExpressionAttributeNames={"#order": order_id},
            ExpressionAttributeValues={":now": now},
        )
    if record.event_name is not None and record.event_name.name == "REMOVE":
        totals.update_item(
            Key=key,
            UpdateExpression="REMOVE amounts.#order SET updated_at = :now",
            ExpressionAttributeNames={"#order": order_id},
            ExpressionAttributeValues={":now": now},
        )
    else:
        totals.update_item(
            Key=key,
            UpdateExpression="SET amounts.#order = :cents, updated_at = :now",
            ExpressionAttributeNames={"#order": order_id},
            ExpressionAttributeValues={":cents": cents, ":now": now},
        )
    logger.info("order applied", order_id=order_id, customer=customer, cents=cents)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
