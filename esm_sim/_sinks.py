"""
In-memory stand-ins for the on-failure destinations: SQS queues, SNS topics, S3 buckets.

Each keeps what it received, in order, parsed, so tests can assert on it. A
FIFO queue or topic refuses ESM failure records, as AWS does (spec 3.6:
standard queues and topics only).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

from esm_sim._engine.rng import Rng
from esm_sim._engine.timefmt import iso_ms, iso_seconds


class Queue:
    """
    A simulated SQS queue. ``messages`` holds the parsed JSON bodies, in order;
    ``raw_messages`` holds each message as SQS ``ReceiveMessage`` returns it
    (``MessageId``, ``ReceiptHandle``, ``MD5OfBody``, ``Body``), in order.
    """

    def __init__(self, name: str, *, arn: str, url: str, rng: Rng) -> None:
        self.name = name
        self.arn = arn
        self.url = url
        self.fifo = name.endswith(".fifo")
        self._rng = rng
        # A stream of its own, so receipt handles leave the MessageIds as they were.
        self._handles = rng.child("receipt-handles")
        self.raw_messages: list[dict[str, str]] = []
        self.messages: list[Any] = []

    def __repr__(self) -> str:
        return f"<Queue {self.name!r} messages={len(self.messages)}>"

    def send_message(self, body: str) -> str:
        """Enqueue a message body; returns its MessageId."""
        message_id = self._rng.uuid()
        self.raw_messages.append(
            {
                "MessageId": message_id,
                "ReceiptHandle": _receipt_handle(self._handles),
                "MD5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "Body": body,
            }
        )
        self.messages.append(json.loads(body))
        return message_id

    def delete_message(self, receipt_handle: str) -> None:
        """
        Remove the message received with ``receipt_handle`` (SQS ``DeleteMessage``).

        Raises:
            KeyError: no message of the queue has that receipt handle.
        """
        for i, raw in enumerate(self.raw_messages):
            if raw["ReceiptHandle"] == receipt_handle:
                del self.raw_messages[i]
                del self.messages[i]
                return
        msg = f"receipt_handle={receipt_handle!r} is not a message of queue {self.name!r}"
        raise KeyError(msg)


def _receipt_handle(rng: Rng) -> str:
    """
    An opaque SQS receipt handle from the seed: base64 text starting "AQEB" as real
    ones do, 180 characters (SQS documents only that it is opaque, up to 1024).
    """
    raw = bytes.fromhex(rng.hex(2 * 132))
    return "AQEB" + base64.b64encode(raw).decode()


class Topic:
    """
    A simulated SNS topic. ``messages`` holds the notifications as SNS delivers
    them to an SQS or HTTP subscriber without raw message delivery, in order:
    ``Type``, ``MessageId``, ``TopicArn``, ``Message`` (the JSON string),
    ``Timestamp``, ``SignatureVersion``, ``Signature``, ``SigningCertURL`` and
    ``UnsubscribeURL``. ``Subject`` and ``MessageAttributes`` are absent, as SNS
    leaves them out when the publisher sets none (Lambda sets neither).

    Signature, certificate and subscription ids are drawn from the seed; the URLs
    are built from the topic ARN's region as SNS formats them (SNS developer guide,
    "HTTP/HTTPS notification JSON format").
    """

    def __init__(self, name: str, *, arn: str, rng: Rng) -> None:
        self.name = name
        self.arn = arn
        self.fifo = name.endswith(".fifo")
        self._rng = rng
        # Streams of their own, so signatures leave the MessageIds as they were.
        self._signatures = rng.child("signatures")
        partition, region = arn.split(":")[1], arn.split(":")[3]
        host = f"sns.{region}.amazonaws.com" + (".cn" if partition == "aws-cn" else "")
        subscription = rng.child("subscription").uuid()
        # One signing certificate per region in a run: its id comes from the region.
        cert = Rng(hashlib.sha256(f"sns-cert/{region}".encode()).digest()).hex(32)
        self.signing_cert_url = f"https://{host}/SimpleNotificationService-{cert}.pem"
        self.unsubscribe_url = (
            f"https://{host}/?Action=Unsubscribe&SubscriptionArn={arn}:{subscription}"
        )
        self.messages: list[dict[str, Any]] = []

    def __repr__(self) -> str:
        return f"<Topic {self.name!r} messages={len(self.messages)}>"

    def publish(self, message: str, at_ms: int) -> str:
        """Publish a message; returns its MessageId."""
        message_id = self._rng.uuid()
        # SignatureVersion 1: a base64 SHA1withRSA signature, 256 bytes for the
        # 2048-bit key SNS signs with (344 characters); here from the seed.
        signature = base64.b64encode(bytes.fromhex(self._signatures.hex(2 * 256))).decode()
        self.messages.append(
            {
                "Type": "Notification",
                "MessageId": message_id,
                "TopicArn": self.arn,
                "Message": message,
                "Timestamp": iso_ms(at_ms),
                "SignatureVersion": "1",
                "Signature": signature,
                "SigningCertURL": self.signing_cert_url,
                "UnsubscribeURL": self.unsubscribe_url,
            }
        )
        return message_id


class Bucket:
    """A simulated S3 bucket. ``objects`` maps each key to its parsed JSON body, in write order."""

    def __init__(self, name: str, *, arn: str) -> None:
        self.name = name
        self.arn = arn
        self.objects: dict[str, Any] = {}
        self.raw_objects: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return f"<Bucket {self.name!r} objects={len(self.objects)}>"

    def put_object(self, key: str, body: bytes) -> None:
        """Store an object."""
        self.raw_objects[key] = body
        self.objects[key] = json.loads(body)

    def delete_object(self, key: str) -> None:
        """Remove an object (S3 ``DeleteObject``); a missing key is no error, as in S3."""
        self.raw_objects.pop(key, None)
        self.objects.pop(key, None)


Sink = Queue | Topic | Bucket


def deliver_failure_record(
    sink: Queue | Topic | Bucket,
    record: dict[str, Any],
    *,
    now_ms: int,
    uuid: str,
    shard_id: str,
    rng: Rng,
    payload: Callable[[], dict[str, Any]],
) -> bool:
    """Write a failure record to a destination; False if it cannot take it (FIFO)."""
    if isinstance(sink, Queue):
        if sink.fifo:
            return False  # spec 3.6: standard queues only
        sink.send_message(json.dumps(record))
        return True
    if isinstance(sink, Topic):
        if sink.fifo:
            return False  # spec 3.6: standard topics only
        sink.publish(json.dumps(record), now_ms)
        return True
    # spec 3.6: S3 gets the metadata plus the whole invocation event as an
    # escaped JSON string (spec 11 row 22), under AWS's key layout.
    body = dict(record)
    body["payload"] = json.dumps(payload())
    stamp = iso_seconds(now_ms)  # 2019-11-14T00:13:19Z
    date = stamp[:10].replace("-", "/")
    key = f"aws/lambda/{uuid}/{shard_id}/{date}/{stamp[:-1].replace(':', '.')}-{rng.uuid()}"
    sink.put_object(key, json.dumps(body).encode())
    return True
