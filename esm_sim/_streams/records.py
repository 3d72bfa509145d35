"""
Stream records: the compact form kept in shards, and the Lambda form rendered per delivery.

A record is kept as a plain tuple of atomic values and immutable tuples (see
``Record``), never as the AWS dict: a rendered record is about 1.9 KB and is
tracked by the cyclic GC, a tuple is about 200 B and is not (perf-notes 4.3-4.4).
The Lambda form is rendered fresh for every delivery, as real Lambda does, so a
handler that mutates its event cannot change what the next delivery sees.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from esm_sim._streams.attributes import _INLINE_CODES, Image, image_json_len, render_image
from esm_sim._streams.attributes import _render_value as render_value

# Field positions in a Record tuple.
SEQ: Final = 0  # sequence number as int (rendered as a digits-only string, spec 7.3)
CREATED_MS: Final = 1  # when the write happened, epoch ms (rendered rounded down to seconds)
EVENT_NAME: Final = 2  # "INSERT" | "MODIFY" | "REMOVE"
KEYS: Final = 3  # Image of the key attributes, partition key first
NEW_IMAGE: Final = 4  # Image or None, already cut to the stream view type
OLD_IMAGE: Final = 5  # Image or None, already cut to the stream view type
SIZE_BYTES: Final = 6  # DynamoDB's SizeBytes, computed once at write time (spec 13)
JSON_BOUND: Final = 7  # an upper bound of the record's compact JSON length (see json_bound)
EVENT_ID: Final = 8  # the eventID, computed once at write time (a record is sent 1-3 times)

Record = tuple[int, int, str, Image, Image | None, Image | None, int, int, str]


class ServiceRemove(str):
    """
    The ``eventName`` of a deletion made by DynamoDB's TTL process: equal to "REMOVE".

    Only its type tells it from a user's REMOVE, so a Record keeps its nine fields
    and the mapping layer sees an ordinary REMOVE; rendering adds ``userIdentity``
    (spec 7.3: only TTL deletions carry it).
    """

    __slots__ = ()


TTL_REMOVE: Final = ServiceRemove("REMOVE")
# spec 7.3: {"type": "Service", "principalId": "dynamodb.amazonaws.com"} on TTL deletions.
TTL_USER_IDENTITY: Final = (("type", "Service"), ("principalId", "dynamodb.amazonaws.com"))
_USER_IDENTITY_JSON_LEN: Final = len(
    ',"userIdentity":' + json.dumps(dict(TTL_USER_IDENTITY), separators=(",", ":"))
)

EVENT_VERSION = "1.1"  # spec 11 row 9: real events carry "1.1", the guide's samples "1.0"
EVENT_SOURCE = "aws:dynamodb"

# Every sequence number has 21 digits (spec 7.3 allows 21..40) and they grow
# with every write in the simulation, across tables, so a sequence number names
# one record. Gaps between them, as in real streams, keep users from assuming +1.
_MASK128 = (1 << 128) - 1
_SEQ_21_DIGITS = 10**21

SEQUENCE_BASE = 100_000_000_000_000_000_000
SEQUENCE_STEP = 100


class StreamFormat:
    """
    What every record of one stream shares when rendered: region, ARN, view type, id key.

    It also knows the exact JSON length of a record without rendering it, which
    the batcher needs for the 6 MB payload cap (spec 2).
    """

    __slots__ = (
        "_base_len",
        "_id_add",
        "_id_mul",
        "_second_len",
        "region",
        "stream_arn",
        "view_type",
    )

    def __init__(self, *, region: str, stream_arn: str, view_type: str, id_key: bytes) -> None:
        self.region = region
        self.stream_arn = stream_arn
        self.view_type = view_type
        # eventIDs: an affine map modulo 2**128 with an odd multiplier is a
        # bijection, so distinct sequence numbers get distinct ids; both constants
        # come from the stream's seed. Half the cost of a keyed hash per delivery.
        self._id_mul = int.from_bytes(id_key[:16], "big") | 1
        self._id_add = int.from_bytes(id_key[16:32], "big")
        skeleton = self._skeleton()
        self._base_len = len(json.dumps(skeleton, separators=(",", ":")))
        # Writes come in runs within one second: the float's text length, cached.
        self._second_len = (-1, 0)

    def _skeleton(self) -> dict[str, Any]:
        return {
            "eventID": "0" * 32,
            "eventName": "",
            "eventVersion": EVENT_VERSION,
            "eventSource": EVENT_SOURCE,
            "awsRegion": self.region,
            "dynamodb": {
                "ApproximateCreationDateTime": 0.0,
                "Keys": {},
                "SequenceNumber": "",
                "SizeBytes": 0,
                "StreamViewType": self.view_type,
            },
            "eventSourceARN": self.stream_arn,
        }

    def event_id(self, seq: int) -> str:
        """The record's ``eventID``: 32 lowercase hex, derived from the stream's seed and seq."""
        # 16 big-endian bytes in hex: the text of "%032x", in 60 % of its time.
        return ((seq * self._id_mul + self._id_add) & _MASK128).to_bytes(16, "big").hex()

    def json_bound(self, size_bytes: int) -> int:
        """
        A cheap upper bound of a record's compact JSON length, from its SizeBytes.

        Every byte SizeBytes counts renders as at most 20 JSON characters (the
        worst case is a one-byte control-character name of an empty string:
        ``"\u0001":{"S":""},``), and the fixed fields take ``_base_len`` plus the
        digits of the timestamp, sequence number and size and the image keys (at
        most 128 more). The
        batcher uses the exact length only when these bounds approach 6 MB.
        """
        return self._base_len + 128 + 20 * size_bytes

    def record_json_len(self, rec: Record) -> int:
        """Exactly ``len(json.dumps(render(rec), separators=(",", ":")))``, without rendering."""
        return self.json_len(
            seq=rec[SEQ],
            created_ms=rec[CREATED_MS],
            event_name=rec[EVENT_NAME],
            keys=rec[KEYS],
            new=rec[NEW_IMAGE],
            old=rec[OLD_IMAGE],
            size_bytes=rec[SIZE_BYTES],
        )

    def json_len(
        self,
        *,
        seq: int,
        created_ms: int,
        event_name: str,
        keys: Image,
        new: Image | None,
        old: Image | None,
        size_bytes: int,
    ) -> int:
        """Exactly ``len(json.dumps(render(record), separators=(",", ":")))``, without rendering."""
        second = created_ms // 1000
        cached_second, second_len = self._second_len
        if second != cached_second:
            second_len = len(repr(float(second)))
            self._second_len = (second, second_len)
        n = (
            self._base_len
            + len(event_name)
            + second_len
            - 3  # "0.0"
            + (21 if seq < _SEQ_21_DIGITS else len(str(seq)))
            + len(str(size_bytes))
            - 1  # "0"
            + image_json_len(keys)
            - 2  # "{}"
        )
        if type(event_name) is ServiceRemove:
            n += _USER_IDENTITY_JSON_LEN
        if new is not None:
            n += len(',"NewImage":') + image_json_len(new)
        if old is not None:
            n += len(',"OldImage":') + image_json_len(old)
        return n

    def render(self, rec: Record) -> dict[str, Any]:
        """The record exactly as Lambda delivers it in ``event["Records"]`` (spec 7.3)."""
        return self.render_many((rec,))[0]

    def render_many(self, records: Sequence[Record]) -> list[dict[str, Any]]:
        """Each record as Lambda delivers it, fresh dicts, in order (an event's ``Records``)."""
        # This runs once per record per delivery, the hottest path of a
        # simulation: one loop for the batch with everything shared hoisted out,
        # render_image inlined for S and N values (nearly all of them), flat
        # images walked by index three at a time (faster than zipping one
        # iterator thrice for the usual few attributes), and the dynamodb dict
        # built as one literal for the commonest shape (INSERT or MODIFY with
        # NEW_IMAGE or NEW_AND_OLD_IMAGES without an old image).
        inline = _INLINE_CODES
        view_type, region, arn = self.view_type, self.region, self.stream_arn
        out: list[dict[str, Any]] = []
        append = out.append
        approx_ms, approx = -1, 0.0  # records written in the same ms share one float
        for seq, created_ms, event_name, keys, new, old, size_bytes, _, event_id in records:
            if len(keys) == 3 and keys[1] in inline:  # one key attribute, S or N: most tables
                keys_map = {keys[0]: {keys[1]: keys[2]}}
            else:
                keys_map = {
                    keys[i]: {keys[i + 1]: keys[i + 2]}
                    if keys[i + 1] in inline
                    else render_value(keys[i + 1], keys[i + 2])
                    for i in range(0, len(keys), 3)
                }
            if created_ms != approx_ms:
                # spec 13: whole epoch seconds, decoded by Python as a float.
                approx_ms, approx = created_ms, float(created_ms // 1000)
            if old is None and new is not None:
                n = len(new)
                # One, two or three S/N attributes (most items): a dict display,
                # faster than filling the dict in a loop.
                if n == 6 and new[1] in inline and new[4] in inline:
                    new_map: dict[str, Any] = {new[0]: {new[1]: new[2]}, new[3]: {new[4]: new[5]}}
                elif n == 3 and new[1] in inline:
                    new_map = {new[0]: {new[1]: new[2]}}
                elif n == 9 and new[1] in inline and new[4] in inline and new[7] in inline:
                    new_map = {
                        new[0]: {new[1]: new[2]},
                        new[3]: {new[4]: new[5]},
                        new[6]: {new[7]: new[8]},
                    }
                else:
                    # A plain loop: a comprehension costs a function call per record.
                    new_map = {}
                    for i in range(0, n, 3):
                        code = new[i + 1]
                        new_map[new[i]] = (
                            {code: new[i + 2]} if code in inline else render_value(code, new[i + 2])
                        )
                ddb: dict[str, Any] = {
                    "ApproximateCreationDateTime": approx,
                    "Keys": keys_map,
                    "NewImage": new_map,
                    "SequenceNumber": str(seq),
                    "SizeBytes": size_bytes,
                    "StreamViewType": view_type,
                }
            else:
                ddb = {"ApproximateCreationDateTime": approx, "Keys": keys_map}
                if new is not None:
                    ddb["NewImage"] = render_image(new)
                if old is not None:
                    ddb["OldImage"] = render_image(old)
                ddb["SequenceNumber"] = str(seq)
                ddb["SizeBytes"] = size_bytes
                ddb["StreamViewType"] = view_type
            if type(event_name) is ServiceRemove:
                # spec 7.3: a TTL deletion names DynamoDB as its user; a plain str
                # "REMOVE", so the event's JSON is what AWS sends.
                append(
                    {
                        "eventID": event_id,
                        "eventName": "REMOVE",
                        "eventVersion": "1.1",
                        "eventSource": "aws:dynamodb",
                        "awsRegion": region,
                        "dynamodb": ddb,
                        "eventSourceARN": arn,
                        "userIdentity": dict(TTL_USER_IDENTITY),
                    }
                )
            else:
                append(
                    {
                        "eventID": event_id,
                        "eventName": event_name,
                        "eventVersion": "1.1",
                        "eventSource": "aws:dynamodb",
                        "awsRegion": region,
                        "dynamodb": ddb,
                        "eventSourceARN": arn,
                    }
                )
        return out


def payload_len(records_json_len: int, count: int) -> int:
    """Length of ``{"Records":[...]}`` in compact JSON for ``count`` records of total length."""
    return len('{"Records":[]}') + records_json_len + max(count - 1, 0)
