"""The HTTP API's health check (no stream: it is built, with no mapping)."""

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": "ok"}
