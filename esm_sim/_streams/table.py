"""
A DynamoDB table with a stream: items, writes, and the records the writes leave.

Writes take plain Python values, as boto3's ``Table`` resource does, and happen
at the simulation's current virtual time. A write that changes nothing writes no
stream record (spec 7.1). Each record lands in the shard chosen by a stable hash
of the partition key (CRC-32, never ``hash()``), so an item's records stay in
order in one shard (spec 7.1: per-item order is guaranteed).
"""

from __future__ import annotations

import heapq
import itertools
import re
import reprlib
import zlib
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from esm_sim._engine.rng import Rng
from esm_sim._engine.timefmt import MAX_MS, stream_label
from esm_sim._streams.attributes import (
    MAX_ATTRIBUTE_NAME_BYTES,
    MAX_ITEM_SIZE_BYTES,
    Image,
    check_attribute_names,
    deserialize_image,
    image_size_bytes,
    serialize_item,
    serialize_sized,
    triples,
)
from esm_sim._streams.records import TTL_REMOVE, StreamFormat
from esm_sim._streams.shard import Shard
from esm_sim.errors import ConfigError, ValidationException

StreamViewType = Literal["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]
STREAM_VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
KEY_TYPES = ("S", "N", "B")
_HASH_SPACE = 1 << 32  # CRC-32 values
# CRC-32 of "<type>:" per key type, to continue over the value: crc32(v, crc32(p))
# equals crc32(p + v), without joining the bytes on every write.
_ROUTE_PREFIX_CRC = {code: zlib.crc32(f"{code}:".encode()) for code in KEY_TYPES}
# DynamoDB TableName: 3..255 of a-z, A-Z, 0-9, '_', '-', '.' (DynamoDB API reference,
# CreateTable). Anything else would also break the stream ARN.
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
# DynamoDB's answer to a Key that is not exactly the key schema (GetItem, DeleteItem).
_KEY_SCHEMA_MISMATCH = "The provided key element does not match the schema"
# Key values: a partition key of 1 to 2048 bytes, a sort key of 1 to 1024 bytes
# (DynamoDB Developer Guide, "Constraints": Partition key / Sort key length), with
# DynamoDB's answers (as seen in AWS SDK error reports, e.g. next-auth#5827 and
# formkiq-core#271; "of2048" has no space in the original).
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024
_HASH_KEY_TOO_LARGE = (
    "One or more parameter values were invalid: "
    "Size of hashkey has exceeded the maximum size limit of2048 bytes"
)
_RANGE_KEY_TOO_LARGE = (
    "One or more parameter values were invalid: "
    "Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
)
# KeySchema AttributeName: 1 to 255 bytes (DynamoDB API reference, KeySchemaElement).
_MAX_KEY_NAME_BYTES = 255
# DynamoDB's answer to an UpdateItem that sets or removes a key attribute.
_KEY_UPDATE = (
    "One or more parameter values were invalid: Cannot update attribute {name}. "
    "This attribute is part of the key"
)
# ... and to one that sets and removes the same attribute.
_PATHS_OVERLAP = (
    "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
    "rewrite one of these paths; path one: [{name}], path two: [{name}]"
)
# TTL ignores an item whose expiry is more than five years in the past (DynamoDB
# Developer Guide, "Using DynamoDB Time to Live": "no more than five years in the
# past"); five years of 365 days here (I).
_TTL_HORIZON_MS = 5 * 365 * 24 * 3_600_000


def _ttl_expiry_ms(image: Image, attribute: str) -> int | None:
    """
    The expiry of an item, epoch ms, from its TTL attribute; None if it has none.

    TTL reads only a top-level Number of epoch seconds: an item without the
    attribute, or with a String or any other type there, is never expired (DynamoDB
    Developer Guide, "Using DynamoDB Time to Live"). A fraction of a second counts.
    """
    for i in range(0, len(image), 3):
        if image[i] == attribute:
            if image[i + 1] != "N":
                return None
            try:
                seconds = Decimal(image[i + 2])
            except InvalidOperation:
                return None
            return int(seconds * 1000) if seconds.is_finite() else None
    return None


def _key_bytes(type_code: str, value: Any) -> int:
    """The size of a key value: UTF-8 bytes of a string, bytes of a binary (numbers are small)."""
    if type_code == "S":
        return len(value.encode("utf-8"))
    return len(value) if type_code == "B" else 0


# An item of at most this many bytes breaks no size limit: not the item's, not a key
# value's (a key is part of the item) nor an attribute name's.
_SMALL_ITEM_BYTES = MAX_SORT_KEY_BYTES


def _check_key_sizes(keys: Image, operation: str) -> None:
    """Raise DynamoDB's ValidationException for a partition or sort key value too large."""
    if _key_bytes(keys[1], keys[2]) > MAX_PARTITION_KEY_BYTES:
        raise ValidationException(_HASH_KEY_TOO_LARGE, operation_name=operation)
    if len(keys) > 3 and _key_bytes(keys[4], keys[5]) > MAX_SORT_KEY_BYTES:
        raise ValidationException(_RANGE_KEY_TOO_LARGE, operation_name=operation)


# put_item runs once per write: it inlines the checks of _image and _image_size,
# whose try blocks cost nothing until they catch, and raises these errors.


def _not_a_mapping(name: str, item: object) -> ConfigError:
    return ConfigError(
        f"{name}={reprlib.repr(item)} must be a mapping of attribute names to values "
        "(a dict, as boto3's Table resource takes)"
    )


def _surrogate(name: str, item: object, exc: UnicodeEncodeError) -> ConfigError:
    # AWS's answer is not recorded (botocore sends the surrogate JSON-escaped).
    return ConfigError(
        f"{name}={reprlib.repr(item)} holds the string {reprlib.repr(exc.object)} with a "
        f"lone surrogate {exc.object[exc.start]!r} at index {exc.start}, which UTF-8 "
        "cannot encode (DynamoDB stores strings as UTF-8)"
    )


def _named(exc: ValidationException, operation: str) -> ValidationException:
    """A value check's ValidationException, naming the operation as botocore's text does."""
    if exc.operation_name:
        return exc
    return ValidationException(exc.message, operation_name=operation)


def _image(name: str, item: object, operation: str) -> Image:
    """
    Serialize an item or key argument, refusing what is not a mapping (ConfigError).

    DynamoDB's own checks on the values raise a ValidationException naming
    ``operation``.
    """
    # The type test first: cheap for the usual dict, where an ABC check is not.
    if type(item) is not dict and not isinstance(item, Mapping):
        raise _not_a_mapping(name, item)
    try:
        return serialize_item(item)
    except ValidationException as exc:
        raise _named(exc, operation) from None


def _image_size(name: str, item: object, image: Image) -> int:
    """
    ``image_size_bytes``, which encodes every string of the item as UTF-8, so a lone
    surrogate (which UTF-8 cannot encode, and DynamoDB stores UTF-8) is refused here.
    """
    try:
        return image_size_bytes(image)
    except UnicodeEncodeError as exc:
        raise _surrogate(name, item, exc) from None


def _key_spec(name: str, value: str | tuple[str, str] | None) -> tuple[str, str | None] | None:
    if value is None:
        return None
    if isinstance(value, str) and value:
        spec: tuple[str, str | None] = (value, None)
    elif (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and value[0]
        and value[1] in KEY_TYPES
    ):
        spec = (value[0], value[1])
    else:
        msg = (
            f"{name}={value!r} must be an attribute name, or a (name, type) pair with type "
            f"one of {KEY_TYPES}"
        )
        raise ConfigError(msg)
    try:
        size = len(spec[0].encode("utf-8"))
    except UnicodeEncodeError:
        size = _MAX_KEY_NAME_BYTES + 1  # a lone surrogate: not UTF-8 at all
    if size > _MAX_KEY_NAME_BYTES:
        msg = (
            f"{name}={value!r} must name the key in 1 to {_MAX_KEY_NAME_BYTES} bytes of UTF-8 "
            "(DynamoDB KeySchema AttributeName)"
        )
        raise ConfigError(msg)
    return spec


class Table:
    """
    A simulated DynamoDB table, with its stream enabled or not.

    Create it with ``Simulation.create_table``. ``stream_arn`` names its stream;
    ``shards`` lists every shard the stream has had, oldest first. A table made
    with ``stream_view_type=None`` has no stream (a plain table, as a template's
    table without ``StreamSpecification``): it keeps items, TTL included, writes
    no records, has no shards, and ``stream_arn``/``format`` raise ConfigError.
    """

    def __init__(
        self,
        name: str,
        *,
        partition_key: str | tuple[str, str],
        sort_key: str | tuple[str, str] | None,
        stream_view_type: str | None,
        shard_count: int,
        region: str,
        account_id: str,
        now_ms: Callable[[], int],
        next_sequence: Callable[[], int],
        rng: Rng,
        call_later: Callable[..., object] | None = None,
        rollover_ms: int | None = None,
        call_at_user: Callable[..., object] | None = None,
        ttl_attribute: str | None = None,
        ttl_delay_ms: int = 48 * 3_600_000,
    ) -> None:
        if not isinstance(name, str) or not _TABLE_NAME.fullmatch(name):
            msg = (
                f"name={name!r} must be a table name of 3 to 255 letters, digits, '_', '-' "
                "or '.' (DynamoDB TableName)"
            )
            raise ConfigError(msg)
        if stream_view_type is not None and stream_view_type not in STREAM_VIEW_TYPES:
            msg = (
                f"stream_view_type={stream_view_type!r} must be one of "
                f"{', '.join(STREAM_VIEW_TYPES)} (DynamoDB StreamViewType), or None for a "
                "table without a stream"
            )
            raise ConfigError(msg)
        if not isinstance(shard_count, int) or isinstance(shard_count, bool) or shard_count < 1:
            msg = f"shard_count={shard_count!r} must be an int >= 1"
            raise ConfigError(msg)
        pk = _key_spec("partition_key", partition_key)
        if pk is None:
            msg = "partition_key=None: a table needs a partition key"
            raise ConfigError(msg)
        sk = _key_spec("sort_key", sort_key)
        if sk is not None and sk[0] == pk[0]:
            msg = f"sort_key={sort_key!r} must differ from partition_key={partition_key!r}"
            raise ConfigError(msg)
        self.name = name
        self.stream_view_type = stream_view_type
        self._key_specs = (pk,) if sk is None else (pk, sk)
        self.partition_key = pk[0]
        # put_item reads a single S (or untyped) partition key straight from the item.
        self._plain_partition_key = pk[0] if sk is None and pk[1] in (None, "S") else None
        # spec 7.3: which images a record keeps, per view type.
        self._keeps_new = stream_view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")
        self._keeps_old = stream_view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES")
        self.sort_key = None if sk is None else sk[0]
        self._now_ms = now_ms
        self._next_sequence = next_sequence
        self._rng = rng
        created = now_ms()
        self.arn = f"arn:aws:dynamodb:{region}:{account_id}:table/{name}"
        self._stream_arn: str | None = None
        self._format: StreamFormat | None = None
        if stream_view_type is not None:
            self._stream_arn = f"{self.arn}/stream/{stream_label(created)}"
            self._format = StreamFormat(
                region=region,
                stream_arn=self._stream_arn,
                view_type=stream_view_type,
                id_key=rng.child("event-ids").key[:32],
            )
        # Current item per key, with its size so the OLD image's size is never recomputed.
        # Current item per key (flat images, so the GC soon leaves the dict alone).
        self._items: dict[Image, Image] = {}
        self.shards: list[Shard] = []
        self.shards_by_id: dict[str, Shard] = {}
        self.last_sequence = 0  # of the last record written (0: none yet)
        # The open shards, each owning the hash range [start, next start) of
        # partition-key hashes; a child takes over its parent's range, so one
        # item's records always follow one line of shards (spec 7.1).
        self._open: list[Shard] = []
        self._starts: list[int] = []
        self._shard_listeners: list[Callable[[Shard], object]] = []
        self._close_listeners: list[Callable[[Shard], object]] = []
        self._call_later = call_later
        # The simulation's user-work scheduler (epoch seconds), which run_until_idle awaits.
        self._call_at_user = call_at_user
        self._rollover_ms = rollover_ms
        if ttl_attribute is not None and (not isinstance(ttl_attribute, str) or not ttl_attribute):
            msg = (
                f"ttl_attribute={ttl_attribute!r} must be an attribute name "
                "(DynamoDB TimeToLiveSpecification AttributeName)"
            )
            raise ConfigError(msg)
        if ttl_attribute is not None and call_later is None:
            msg = f"ttl_attribute={ttl_attribute!r}: this table has no clock to expire items on"
            raise ConfigError(msg)
        self.ttl_attribute = ttl_attribute
        self._ttl_delay_ms = ttl_delay_ms
        # Time to Live (see _ttl_note): each tracked item's expiry, a heap of
        # (due_ms, order, keys, expiry_ms) with stale entries left in place, and the
        # one sweep scheduled, as (due_ms, token) so a superseded sweep does nothing.
        self._ttl_expiry: dict[Image, int] = {}
        self._ttl_heap: list[tuple[int, int, Image, int]] = []
        self._ttl_order = itertools.count()
        self._ttl_sweep: tuple[int, int] | None = None
        self._ttl_tokens = itertools.count()
        # Told of every change of an item (keys, new image or None), inside
        # ``sim.mock_aws()``, so another store (moto's table) keeps the same items.
        self.mirror: Callable[[Image, Image | None], object] | None = None
        for i in range(shard_count if stream_view_type is not None else 0):
            self._open.append(self._new_shard(parent=None))
            self._starts.append(i * _HASH_SPACE // shard_count)

    def __repr__(self) -> str:
        if self._format is None:
            return f"<Table {self.name!r} items={len(self._items)} no stream>"
        return f"<Table {self.name!r} items={len(self._items)} shards={len(self.shards)}>"

    @property
    def has_stream(self) -> bool:
        """Whether the table's stream is enabled (False: a plain table)."""
        return self._format is not None

    def _no_stream(self, what: str) -> ConfigError:
        msg = (
            f"table {self.name!r} has no stream, so it has no {what}: create it with a "
            "stream_view_type (a template's table needs StreamSpecification.StreamViewType)"
        )
        return ConfigError(msg)

    @property
    def stream_arn(self) -> str:
        """The stream's ARN (``.../table/<name>/stream/<label>``); ConfigError without a stream."""
        if self._stream_arn is None:
            raise self._no_stream("stream ARN")
        return self._stream_arn

    # -- shards ----------------------------------------------------------------

    def _new_shard(self, parent: Shard | None) -> Shard:
        now = self._now_ms()
        shard_id = f"shardId-{now:020d}-{self._rng.hex(8)}"
        shard = Shard(shard_id, None if parent is None else parent.shard_id, now, self.format)
        self.shards.append(shard)
        self.shards_by_id[shard_id] = shard
        if self._rollover_ms and self._call_later is not None:
            # spec 7.1: a shard is sealed and replaced about every 4 hours (I: exactly).
            self._call_later(self._rollover_ms, self._roll_over, shard)
        for listener in self._shard_listeners:
            listener(shard)
        return shard

    def on_shard_closed(self, listener: Callable[[Shard], object]) -> None:
        """Call ``listener(shard)`` for every shard sealed from now on."""
        self._close_listeners.append(listener)

    def _replace(self, shard: Shard, children: int) -> list[Shard]:
        slot = self._open.index(shard)
        start = self._starts[slot]
        stop = self._starts[slot + 1] if slot + 1 < len(self._starts) else _HASH_SPACE
        shard.close(self._now_ms())
        for listener in self._close_listeners:
            listener(shard)
        new = [self._new_shard(parent=shard) for _ in range(children)]
        width = (stop - start) // children
        self._open[slot : slot + 1] = new
        self._starts[slot : slot + 1] = [start + i * width for i in range(children)]
        return new

    def _roll_over(self, shard: Shard) -> None:
        if shard.closed_ms is None:
            self._replace(shard, 1)

    def split_shard(self, shard_id: str) -> tuple[Shard, Shard]:
        """
        Seal an open shard and give its hash range to two children (spec 7.1:
        shards can split, for example after heavy writes). Both children are read
        only after the parent is finished.
        """
        for shard in self._open:
            if shard.shard_id == shard_id:
                first, second = self._replace(shard, 2)
                return first, second
        if self._format is None:
            raise self._no_stream("shards to split")
        msg = f"shard_id={shard_id!r} is not an open shard of table {self.name!r}"
        raise ConfigError(msg)

    @property
    def open_shards(self) -> list[Shard]:
        """The shards that take writes now, in hash-range order."""
        return list(self._open)

    def on_new_shard(self, listener: Callable[[Shard], object]) -> None:
        """Call ``listener(shard)`` for every shard opened from now on."""
        self._shard_listeners.append(listener)

    @property
    def format(self) -> StreamFormat:
        """How this stream's records render; ConfigError without a stream."""
        if self._format is None:
            raise self._no_stream("record format")
        return self._format

    # -- writes ----------------------------------------------------------------

    def _keys(self, image: Image, operation: str) -> Image:
        """
        The key attributes of ``image``, partition key first, checked as DynamoDB does.

        PutItem names the missing or mistyped key; GetItem and DeleteItem answer
        any Key that is not exactly the key schema with one generic message.
        """
        by_name = {attr[0]: attr for attr in triples(image)}
        keys: list[Any] = []
        is_put = operation == "PutItem"
        if not is_put and len(image) // 3 != len(self._key_specs):
            raise ValidationException(_KEY_SCHEMA_MISMATCH, operation_name=operation)
        for key_name, key_type in self._key_specs:
            attr = by_name.get(key_name)
            if attr is None:
                if not is_put:
                    raise ValidationException(_KEY_SCHEMA_MISMATCH, operation_name=operation)
                msg = (
                    "One or more parameter values were invalid: "
                    f"Missing the key {key_name} in the item"
                )
                raise ValidationException(msg, operation_name=operation)
            if attr[1] not in KEY_TYPES or (key_type is not None and attr[1] != key_type):
                if not is_put:
                    raise ValidationException(_KEY_SCHEMA_MISMATCH, operation_name=operation)
                expected = key_type or "S, N or B"
                msg = (
                    f"One or more parameter values were invalid: Type mismatch for key "
                    f"{key_name} expected: {expected} actual: {attr[1]}"
                )
                raise ValidationException(msg, operation_name=operation)
            if attr[2] in ("", b""):
                msg = (
                    "One or more parameter values are not valid. The AttributeValue for a key "
                    f"attribute cannot contain an empty {'string' if attr[1] == 'S' else 'binary'}"
                    f" value. Key: {key_name}"
                )
                raise ValidationException(msg, operation_name=operation)
            keys.extend(attr)
        return tuple(keys)

    def _fast_keys(self, image: Image) -> Image | None:
        """The key attributes when they are all well formed, else None (see ``_keys``)."""
        keys: tuple[Any, ...] = ()  # a tuple: () + t is t, so one key costs one tuple
        n = len(image)
        for key_name, key_type in self._key_specs:
            i = 0
            while i < n and image[i] != key_name:  # names sit at every third place
                i += 3
            if i >= n:
                return None
            code, value = image[i + 1], image[i + 2]
            if (code != key_type if key_type is not None else code not in KEY_TYPES) or value in (
                "",
                b"",
            ):
                return None
            keys += (key_name, code, value)
        return keys

    @staticmethod
    def _sized(name: str, item: object, operation: str) -> tuple[Image, int]:
        """
        ``_image`` then ``_image_size`` of an argument, in one pass when it is a plain dict.

        The same image, size and errors, in the same order (see ``serialize_sized``).
        """
        if type(item) is dict:
            try:
                sized = serialize_sized(item)
            except ValidationException as exc:
                raise _named(exc, operation) from None
            if sized is not None:
                return sized
        image = _image(name, item, operation)
        return image, _image_size(name, item, image)

    def put_item(self, item: Mapping[str, Any]) -> None:
        """
        Write an item (plain Python values, as boto3's ``Table.put_item`` takes them).

        Leaves an INSERT record for a new key, a MODIFY record for a changed item,
        and no record when the item is unchanged.

        Raises:
            TypeError: for a ``float`` (boto3: "Float types are not supported. Use
                Decimal types instead.") or another type boto3 cannot serialize.
            ValidationException: with DynamoDB's text, for a missing or mistyped key,
                a partition key over 2048 bytes or a sort key over 1024, an item over
                400 KB, values nested more than 32 levels deep, an attribute name
                over 65535 bytes, or a value DynamoDB refuses (see ``serialize_item``).
            ConfigError: ``item`` is not a mapping, or holds a string with a lone
                surrogate (not UTF-8).
        """
        image, size = self._sized("item", item, "PutItem")
        keys = None
        pk = self._plain_partition_key
        if pk is not None and type(item) is dict:  # one S key: read it straight from the item
            value = item.get(pk)
            if type(value) is str and value:
                keys = (pk, "S", value)
        if keys is None:
            keys = self._fast_keys(image) or self._keys(image, "PutItem")
        if size > _SMALL_ITEM_BYTES:  # one comparison for the usual small item
            if size > MAX_ITEM_SIZE_BYTES:
                msg = "Item size has exceeded the maximum allowed size"
                raise ValidationException(msg, operation_name="PutItem")
            if size > MAX_ATTRIBUTE_NAME_BYTES:
                check_attribute_names(image, "PutItem")
            _check_key_sizes(keys, "PutItem")
        items = self._items
        old = items.get(keys)
        if old is not None and old == image:
            return  # spec 7.1: a write that changes nothing writes no record
        items[keys] = image
        self._emit("INSERT" if old is None else "MODIFY", keys, image, size, old)
        if self.ttl_attribute is not None:
            self._ttl_note(keys, image)

    def delete_item(self, key: Mapping[str, Any]) -> None:
        """
        Delete the item with this key; deleting a missing item writes no record.

        Raises:
            ValidationException: with DynamoDB's text, for a Key that is not the key
                schema or a key value too large (as ``put_item``).
            ConfigError: ``key`` is not a mapping, or holds a lone surrogate.
        """
        image, size = self._sized("key", key, "DeleteItem")
        keys = self._keys(image, "DeleteItem")
        if size > _SMALL_ITEM_BYTES:  # no key value is larger than the whole key
            _check_key_sizes(keys, "DeleteItem")
        old = self._items.pop(keys, None)
        if old is None:
            return
        self._ttl_expiry.pop(keys, None)
        self._emit("REMOVE", keys, None, 0, old)

    def update_item(
        self,
        key: Mapping[str, Any],
        set: Mapping[str, Any] | None = None,  # UpdateExpression's SET
        *,
        remove: Iterable[str] = (),
    ) -> None:
        """
        Set some attributes of an item and remove others, as ``UpdateItem`` does.

        ``set`` maps attribute names to plain Python values, as ``put_item`` takes
        them, except that ``None`` removes the attribute (the API contract's form;
        ``put_item`` stores a NULL there). Both forms remove ``note``::

            table.update_item({"pk": "a"}, {"n": 2, "note": None})
            table.update_item({"pk": "a"}, set={"n": 2}, remove=["note"])

        Like UpdateItem, it creates the item (the key plus what is set) when there is
        none, leaving an INSERT record; otherwise a MODIFY record, or no record when
        nothing changes (spec 7.1). Removing an attribute the item lacks is no change.

        Raises:
            ValidationException: with DynamoDB's text, for a Key that is not the key
                schema, a key attribute in ``set`` or ``remove`` ("Cannot update
                attribute pk. This attribute is part of the key"), an attribute both
                set and removed, an item over 400 KB, or a value DynamoDB refuses.
            TypeError: a value boto3 cannot serialize (a ``float``, ...).
            ConfigError: ``key`` or ``set`` is not a mapping, ``remove`` is not an
                iterable of attribute names, or a string holds a lone surrogate.
        """
        image, size = self._sized("key", key, "UpdateItem")
        keys = self._keys(image, "UpdateItem")
        if size > _SMALL_ITEM_BYTES:  # no key value is larger than the whole key
            _check_key_sizes(keys, "UpdateItem")
        given: object = {} if set is None else set
        nulled: list[str] = []
        if isinstance(given, Mapping):  # None removes, as the contract's form says
            # (a bad name stays in set, to be refused there as put_item would)
            nulled = [n for n, v in given.items() if v is None and isinstance(n, str) and n]
            if nulled:
                given = {n: v for n, v in given.items() if not (v is None and n in nulled)}
        updates = self._sized("set", given, "UpdateItem")[0]
        if isinstance(remove, (str, bytes)) or not isinstance(remove, Iterable):
            msg = f"remove={remove!r} must be an iterable of attribute names, such as a list"
            raise ConfigError(msg)
        removed = [*nulled, *remove]
        for name in removed:
            if not isinstance(name, str) or not name:
                msg = f"remove={removed!r} must hold attribute names (non-empty strings)"
                raise ConfigError(msg)
        key_names = {name for name, _ in self._key_specs}
        set_names = updates[0::3]
        for name in (*set_names, *removed):
            if name in key_names:
                msg = _KEY_UPDATE.format(name=name)
                raise ValidationException(msg, operation_name="UpdateItem")
        for name in removed:
            if name in set_names:
                msg = _PATHS_OVERLAP.format(name=name)
                raise ValidationException(msg, operation_name="UpdateItem")
        old = self._items.get(keys)
        # Attributes keep their places, so an update that changes nothing is equal.
        merged = {attr[0]: attr for attr in triples(keys if old is None else old)}
        for attr in triples(updates):
            merged[attr[0]] = attr
        for name in removed:
            merged.pop(name, None)
        new = tuple(part for attr in merged.values() for part in attr)
        if old is not None and old == new:
            return  # spec 7.1: a write that changes nothing writes no record
        size = image_size_bytes(new)
        if size > MAX_ITEM_SIZE_BYTES:
            msg = "Item size to update has exceeded the maximum allowed size"
            raise ValidationException(msg, operation_name="UpdateItem")
        if size > MAX_ATTRIBUTE_NAME_BYTES:
            check_attribute_names(new, "UpdateItem")
        self._items[keys] = new
        self._emit("INSERT" if old is None else "MODIFY", keys, new, size, old)
        if self.ttl_attribute is not None:
            self._ttl_note(keys, new)

    # -- time to live ------------------------------------------------------------

    def _ttl_note(self, keys: Image, image: Image) -> None:
        """
        Track the item's expiry after a write, scheduling a sweep when it is due sooner.

        One sweep is scheduled per table, at the earliest due deletion, never one
        event per item: an item's deletion is due ``ttl_delay_ms`` after its expiry
        (at once if that has passed). A write that changes the expiry pushes a new
        heap entry; the old one is stale and skipped by the sweep.
        """
        assert self.ttl_attribute is not None
        expiry = _ttl_expiry_ms(image, self.ttl_attribute)
        now = self._now_ms()
        if expiry is None or expiry < now - _TTL_HORIZON_MS:
            self._ttl_expiry.pop(keys, None)
            return
        if self._ttl_expiry.get(keys) == expiry:
            return
        self._ttl_expiry[keys] = expiry
        due = max(expiry + self._ttl_delay_ms, now)
        if due > MAX_MS:
            return  # after the clock's last instant: never in this simulation
        heapq.heappush(self._ttl_heap, (due, next(self._ttl_order), keys, expiry))
        self._ttl_schedule(due)

    def _ttl_schedule(self, due: int) -> None:
        if self._ttl_sweep is not None and self._ttl_sweep[0] <= due:
            return
        assert self._call_later is not None
        token = next(self._ttl_tokens)
        self._ttl_sweep = (due, token)
        self._call_later(due - self._now_ms(), self._ttl_run, token)

    def _ttl_run(self, token: int) -> None:
        """The TTL process: delete every item due by now, as the service (spec 7.3)."""
        if self._ttl_sweep is None or self._ttl_sweep[1] != token:
            return  # superseded by a sooner sweep
        self._ttl_sweep = None
        now = self._now_ms()
        heap = self._ttl_heap
        while heap and heap[0][0] <= now:
            _, _, keys, expiry = heapq.heappop(heap)
            if self._ttl_expiry.get(keys) != expiry:
                continue  # the item was deleted or its expiry changed since
            del self._ttl_expiry[keys]
            if expiry < now - _TTL_HORIZON_MS:
                continue
            old = self._items.pop(keys)
            self._emit(TTL_REMOVE, keys, None, 0, old)
        if heap:
            self._ttl_schedule(heap[0][0])

    def apply_image(self, image: Image, *, deleted: bool = False) -> None:
        """
        Make the table hold ``image`` (or, ``deleted``, no item with its key), as a
        write another store already applied and checked: ``sim.mock_aws()`` feeds
        each write moto made to a boto3 call through here.

        The record is what ``put_item`` or ``delete_item`` would leave at this
        instant: INSERT, MODIFY or REMOVE, none when nothing changed (spec 7.1).
        The mirror is not told (the write came from it).
        """
        keys = self._fast_keys(image) or self._keys(image, "PutItem")
        old = self._items.get(keys)
        mirror, self.mirror = self.mirror, None
        try:
            if deleted:
                if old is None:
                    return
                del self._items[keys]
                self._ttl_expiry.pop(keys, None)
                self._emit("REMOVE", keys, None, 0, old)
                return
            if old == image:
                return
            self._items[keys] = image
            self._emit(
                "INSERT" if old is None else "MODIFY", keys, image, image_size_bytes(image), old
            )
            if self.ttl_attribute is not None:
                self._ttl_note(keys, image)
        finally:
            self.mirror = mirror

    def get_item(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """The current item as plain Python values (boto3's TypeDeserializer), or None."""
        image, size = self._sized("key", key, "GetItem")
        keys = self._keys(image, "GetItem")
        if size > _SMALL_ITEM_BYTES:  # no key value is larger than the whole key
            _check_key_sizes(keys, "GetItem")
        found = self._items.get(keys)
        return None if found is None else deserialize_image(found)

    def __len__(self) -> int:
        return len(self._items)

    def _emit(
        self,
        event_name: str,
        keys: Image,
        new: Image | None,
        new_size: int,
        old: Image | None,
    ) -> None:
        mirror = self.mirror
        if mirror is not None:
            mirror(keys, new)
        fmt = self._format
        if fmt is None:
            return  # no stream: the write leaves no record
        # One pass: size, sequence number, eventID, route and append, with the
        # view type's choices and the shard ranges read once per table.
        type_code, value = keys[1], keys[2]
        if len(keys) == 3 and type_code == "S" and keys[0].isascii() and value.isascii():
            size = len(keys[0]) + len(value)  # image_size_bytes of one ASCII string key
            raw = value.encode()
        else:
            size = image_size_bytes(keys)
            raw = value if type_code == "B" else value.encode()
        # spec 7.3: images per view type; INSERT has no old image, REMOVE no new one.
        if not self._keeps_new:
            new = None
        elif new is not None:
            size += new_size
        if not self._keeps_old:
            old = None
        elif old is not None:
            size += image_size_bytes(old)
        seq = self.last_sequence = self._next_sequence()
        # A stable hash of the partition key (CRC-32 of its type and value, the
        # prefix's CRC precomputed), never hash(); the open shard whose range
        # holds it takes the record.
        h = zlib.crc32(raw, _ROUTE_PREFIX_CRC[type_code])
        self._open[bisect_right(self._starts, h) - 1].append(
            (
                seq,
                self._now_ms(),
                event_name,
                keys,
                new,
                old,
                size,
                fmt.json_bound(size),
                fmt.event_id(seq),
            )
        )

    # -- replay (issue 9) --------------------------------------------------------

    def replay(
        self,
        records: list[Mapping[str, Any]] | tuple[Mapping[str, Any], ...],
        *,
        call_at: Callable[..., object] | None = None,
    ) -> int:
        """
        Write recorded stream records into this stream at their original times.

        ``records`` are stream records as ``esm_sim.sources.read_stream`` or
        ``read_events`` return them (or as boto3/Lambda give them). Each is
        written at its ``ApproximateCreationDateTime`` (whole seconds, spec 13),
        in time then sequence order, with its ``eventName``, ``Keys``,
        ``NewImage`` and ``OldImage`` as they are (cut to this stream's view type,
        spec 7.3); SizeBytes is recomputed and sequence numbers are the
        simulation's own. The table's items follow the records' new images.

        Args:
            call_at: how to schedule the writes; by default the simulation's
                ``call_at``, so ``run_until_idle`` waits for them.

        Returns:
            How many records will be written.

        Raises:
            ConfigError: a malformed record, Keys that are not this table's key
                schema, or a record older than the simulation's clock.
        """
        from esm_sim._streams.wire import replay_plan

        if self._format is None:
            raise self._no_stream("stream to replay records into")
        plan = replay_plan(records, key_names=tuple(name for name, _ in self._key_specs))
        if not plan:
            return 0
        now = self._now_ms()
        if plan[0][0] < now:
            first = stream_label(plan[0][0]) + "+00:00"
            msg = (
                f"records[0] ApproximateCreationDateTime={first} is before the simulation's "
                f"clock ({stream_label(now)}+00:00): create the Simulation with start= at or "
                f"before {first}, e.g. Simulation(start=datetime.fromisoformat({first!r}))"
            )
            raise ConfigError(msg)
        groups: dict[int, list[tuple[str, Image, Image | None, Image | None]]] = {}
        for created_ms, event_name, keys, new, old in plan:
            groups.setdefault(created_ms, []).append((event_name, keys, new, old))
        call_at = call_at or self._call_at_user
        for created_ms, writes in groups.items():  # dict order: time order
            if call_at is not None:
                call_at(created_ms / 1000, self._replay_write, writes)
            elif self._call_later is not None:
                self._call_later(created_ms - now, self._replay_write, writes)
            else:
                msg = "call_at=None: this table has no clock to schedule replayed writes on"
                raise ConfigError(msg)
        return len(plan)

    def _replay_write(self, writes: list[tuple[str, Image, Image | None, Image | None]]) -> None:
        for event_name, keys, new, old in writes:
            if event_name == "REMOVE":
                self._items.pop(keys, None)
                self._ttl_expiry.pop(keys, None)
            elif new is not None:
                self._items[keys] = new
                if self.ttl_attribute is not None:
                    self._ttl_note(keys, new)
            self._emit(event_name, keys, new, 0 if new is None else image_size_bytes(new), old)
