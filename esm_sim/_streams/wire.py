"""
Stream records in their wire form (as Lambda delivers them, or as GetRecords
returns them) parsed and normalised, and the plan ``Table.replay`` writes from.

The streams layer owns the record format, so the parsing lives here;
``esm_sim.sources`` reads captured traffic with it (spec 7.3, 11 row 9, 13).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from esm_sim._engine.timefmt import MAX_MS
from esm_sim._streams.attributes import (
    Image,
    image_size_bytes,
    render_image,
    serialize_item,
    triples,
)
from esm_sim._streams.records import EVENT_SOURCE, EVENT_VERSION, TTL_REMOVE, TTL_USER_IDENTITY
from esm_sim.errors import ConfigError

_EVENT_NAMES = ("INSERT", "MODIFY", "REMOVE")
_VIEW_BY_IMAGES = {
    (True, True): "NEW_AND_OLD_IMAGES",
    (True, False): "NEW_IMAGE",
    (False, True): "OLD_IMAGE",
    (False, False): "KEYS_ONLY",
}


# ---------------------------------------------------------------------------
# AttributeValue maps (wire form) -> Images
# ---------------------------------------------------------------------------


def _bytes(value: object, where: str) -> bytes:
    # boto3's client decodes blobs to bytes; Lambda's JSON carries base64 text.
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            pass
    msg = f"{where}={value!r} must be base64 text or bytes (DynamoDB B)"
    raise ConfigError(msg)


def _number(value: object, where: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        msg = f"{where}={value!r} must be a number's text (DynamoDB N)"
        raise ConfigError(msg) from None


def _plain(av: object, where: str) -> Any:
    """One AttributeValue (``{"S": "x"}``) as the plain Python boto3's resource layer uses."""
    if not isinstance(av, Mapping) or len(av) != 1:
        msg = f"{where}={av!r} must be an AttributeValue with one type key, such as {{'S': 'x'}}"
        raise ConfigError(msg)
    ((code, value),) = av.items()
    if code == "S":
        return str(value)
    if code == "N":
        return _number(value, where)
    if code == "B":
        return _bytes(value, where)
    if code == "BOOL":
        return bool(value)
    if code == "NULL":
        return None
    if code == "SS":
        return {str(v) for v in value}
    if code == "NS":
        return {_number(v, where) for v in value}
    if code == "BS":
        return {_bytes(v, where) for v in value}
    if code == "L":
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if code == "M":
        return {k: _plain(v, f"{where}.{k}") for k, v in value.items()}
    msg = f"{where}={av!r} has an unknown type {code!r}"
    raise ConfigError(msg)


def image_from_wire(attributes: object, where: str = "image") -> Image:
    """
    An AttributeValue map (``{"pk": {"S": "a"}}``) as esm_sim's compact ``Image``.

    Raises:
        ConfigError: not a map of AttributeValues.
    """
    if not isinstance(attributes, Mapping):
        msg = f"{where}={attributes!r} must be a map of attribute name to AttributeValue"
        raise ConfigError(msg)
    plain = {str(k): _plain(v, f"{where}.{k}") for k, v in attributes.items()}
    try:
        return serialize_item(plain)
    except (TypeError, ValueError) as exc:
        msg = f"{where}={attributes!r} is not a valid item: {exc}"
        raise ConfigError(msg) from None


# ---------------------------------------------------------------------------
# Normalising one record
# ---------------------------------------------------------------------------


def creation_seconds(value: object, where: str = "ApproximateCreationDateTime") -> int:
    """
    A record's ``ApproximateCreationDateTime`` as whole epoch seconds.

    Accepts what the sources give: a datetime (boto3; naive means UTC), epoch
    seconds (Lambda's JSON) or ISO 8601 text. spec 13: Lambda delivers whole
    seconds, so fractions are dropped.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            msg = f"{where}={value!r} must be epoch seconds or an ISO 8601 time"
            raise ConfigError(msg) from None
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return int(aware.timestamp() // 1)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        # Within the simulation clock's range (timefmt.MAX_MS); False for NaN and
        # infinities too (a Decimal NaN cannot even be compared), so nothing reaches
        # int() that it cannot convert.
        if (isinstance(value, Decimal) and not value.is_finite()) or not (
            0 <= value <= MAX_MS // 1000
        ):
            msg = (
                f"{where}={value!r} must be epoch seconds from 0 to {MAX_MS // 1000} "
                "(9999-12-31T23:59:59Z)"
            )
            raise ConfigError(msg)
        return int(value // 1)
    msg = f"{where}={value!r} must be epoch seconds or a datetime"
    raise ConfigError(msg)


def parse_record(record: object, where: str = "record") -> dict[str, Any]:
    """
    The parts of a stream record that a replay writes: event name, time, images.

    Returns a dict with ``event_name``, ``created_s`` (whole epoch seconds),
    ``keys``, ``new``, ``old`` (Images, or None when absent), ``sequence_number``
    (int or None), and ``view_type``.

    Raises:
        ConfigError: a field is missing or malformed, named with its path.
    """
    if not isinstance(record, Mapping):
        msg = f"{where}={record!r} must be a stream record (a dict with eventName and dynamodb)"
        raise ConfigError(msg)
    event_name = record.get("eventName")
    if event_name not in _EVENT_NAMES:
        msg = f"{where}.eventName={event_name!r} must be one of {', '.join(_EVENT_NAMES)}"
        raise ConfigError(msg)
    ddb = record.get("dynamodb")
    if not isinstance(ddb, Mapping):
        msg = f"{where}.dynamodb={ddb!r} must be the record's dynamodb map"
        raise ConfigError(msg)
    if "ApproximateCreationDateTime" not in ddb:
        msg = f"{where}.dynamodb.ApproximateCreationDateTime is missing"
        raise ConfigError(msg)
    created_s = creation_seconds(
        ddb["ApproximateCreationDateTime"], f"{where}.dynamodb.ApproximateCreationDateTime"
    )
    if "Keys" not in ddb:
        msg = f"{where}.dynamodb.Keys is missing"
        raise ConfigError(msg)
    keys = image_from_wire(ddb["Keys"], f"{where}.dynamodb.Keys")
    new = (
        image_from_wire(ddb["NewImage"], f"{where}.dynamodb.NewImage")
        if "NewImage" in ddb
        else None
    )
    old = (
        image_from_wire(ddb["OldImage"], f"{where}.dynamodb.OldImage")
        if "OldImage" in ddb
        else None
    )
    seq_text = ddb.get("SequenceNumber")
    sequence_number = int(seq_text) if isinstance(seq_text, str) and seq_text.isdigit() else None
    view_type = ddb.get("StreamViewType")
    if view_type is None:  # guessed from the images the record carries
        view_type = _VIEW_BY_IMAGES[(new is not None, old is not None)]
    return {
        "event_name": str(event_name),
        "created_s": created_s,
        "keys": keys,
        "new": new,
        "old": old,
        "sequence_number": sequence_number,
        "view_type": str(view_type),
    }


def normalize_record(record: Mapping[str, Any], *, where: str = "record") -> dict[str, Any]:
    """
    One stream record as Lambda delivers it (spec 7.3).

    ``eventVersion`` becomes "1.1" (spec 11 row 9), ``ApproximateCreationDateTime``
    whole epoch seconds as a float and ``SizeBytes`` the size of the images the
    record carries (spec 13); binary values become base64 text and numbers
    DynamoDB's normalised text. ``eventID``, ``eventName``, ``awsRegion``,
    ``SequenceNumber``, ``StreamViewType`` and ``eventSourceARN`` are kept as
    they are. Fields Lambda does not deliver (``userIdentity`` aside) are dropped.
    """
    parts = parse_record(record, where)
    ddb: dict[str, Any] = {
        "ApproximateCreationDateTime": float(parts["created_s"]),
        "Keys": render_image(parts["keys"]),
    }
    size = image_size_bytes(parts["keys"])
    for field, part in (("NewImage", "new"), ("OldImage", "old")):
        if parts[part] is not None:
            ddb[field] = render_image(parts[part])
            size += image_size_bytes(parts[part])
    if parts["sequence_number"] is not None:
        ddb["SequenceNumber"] = str(parts["sequence_number"])
    ddb["SizeBytes"] = size
    ddb["StreamViewType"] = parts["view_type"]
    out: dict[str, Any] = {
        "eventID": str(record.get("eventID", "")),
        "eventName": parts["event_name"],
        "eventVersion": EVENT_VERSION,
        "eventSource": EVENT_SOURCE,
        "awsRegion": str(record.get("awsRegion", "")),
        "dynamodb": ddb,
    }
    if "userIdentity" in record:  # TTL deletions carry it (spec 7.3)
        out["userIdentity"] = dict(record["userIdentity"])
    if "eventSourceARN" in record:
        out["eventSourceARN"] = str(record["eventSourceARN"])
    return out


def replay_plan(
    records: Iterable[Mapping[str, Any]], *, key_names: tuple[str, ...]
) -> list[tuple[int, str, Image, Image | None, Image | None]]:
    """
    ``(created_ms, event_name, keys, new, old)`` per record, in the order a replay writes them.

    The order is the records' ApproximateCreationDateTime, then their sequence
    number when every record has one (so the order does not depend on the
    order shards were read in), else their order in ``records``.
    Used by :meth:`esm_sim.Table.replay`.

    Raises:
        ConfigError: a malformed record, or Keys that are not ``key_names``.
    """
    records = list(records)
    parsed = [parse_record(r, f"records[{i}]") for i, r in enumerate(records)]
    for record, p in zip(records, parsed, strict=True):
        # A TTL deletion replays as one, userIdentity and all (spec 7.3).
        if p["event_name"] == "REMOVE" and record.get("userIdentity") == dict(TTL_USER_IDENTITY):
            p["event_name"] = TTL_REMOVE
    for i, p in enumerate(parsed):
        names = tuple(attr[0] for attr in triples(p["keys"]))
        if sorted(names) != sorted(key_names):
            msg = (
                f"records[{i}].dynamodb.Keys={render_image(p['keys'])!r} must hold exactly "
                f"the table's key attributes {list(key_names)!r}"
            )
            raise ConfigError(msg)
    indexed = list(enumerate(parsed))
    if all(p["sequence_number"] is not None for p in parsed):
        indexed.sort(key=lambda ip: (ip[1]["created_s"], ip[1]["sequence_number"]))
    else:
        indexed.sort(key=lambda ip: (ip[1]["created_s"], ip[0]))
    plan = []
    for _, p in indexed:
        # Keys in the table's order, partition key first (what routing hashes).
        by_name = {attr[0]: attr for attr in triples(p["keys"])}
        keys = tuple(part for name in key_names for part in by_name[name])
        plan.append((p["created_s"] * 1000, p["event_name"], keys, p["new"], p["old"]))
    return plan
