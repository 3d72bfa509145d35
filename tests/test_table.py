"""Tests for esm_sim._streams.table (and the records and shards it writes): spec 7 and 13."""

from __future__ import annotations

import base64
import json
import re
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import esm_sim
from esm_sim._streams.records import JSON_BOUND, SIZE_BYTES, Record
from esm_sim._streams.table import Table
from esm_sim.errors import ConfigError, ValidationException

T2026 = 1_767_225_600_000

RECORD_KEYS = [
    "eventID",
    "eventName",
    "eventVersion",
    "eventSource",
    "awsRegion",
    "dynamodb",
    "eventSourceARN",
]


def _table(view: str = "NEW_AND_OLD_IMAGES", **kw: Any) -> tuple[esm_sim.Simulation, Table]:
    sim = esm_sim.Simulation(seed=0)
    kw.setdefault("partition_key", "pk")
    return sim, sim.create_table("orders", stream_view_type=view, **kw)


def _records(table: Table) -> list[dict[str, Any]]:
    """Every record of every shard, rendered, in sequence order."""
    out = [r for s in table.shards for r in s.records]
    return sorted(out, key=lambda r: int(r["dynamodb"]["SequenceNumber"]))


def _raw(table: Table) -> list[Record]:
    return [s.at(i) for s in table.shards for i in range(s.end)]


class TestEventName:
    """spec 7.1/13: INSERT, MODIFY and REMOVE are decided from the previous item."""

    def test_insert_modify_remove(self) -> None:
        """A new key writes INSERT, a changed item MODIFY, a delete REMOVE."""
        _, t = _table()
        t.put_item({"pk": "a", "n": 1})
        t.put_item({"pk": "a", "n": 2})
        t.delete_item({"pk": "a"})
        assert ["INSERT", "MODIFY", "REMOVE"] == [r["eventName"] for r in _records(t)]

    def test_insert_again_after_remove(self) -> None:
        """A put after a delete of the same key is an INSERT again."""
        _, t = _table()
        t.put_item({"pk": "a"})
        t.delete_item({"pk": "a"})
        t.put_item({"pk": "a"})
        assert ["INSERT", "REMOVE", "INSERT"] == [r["eventName"] for r in _records(t)]

    def test_unchanged_write_writes_no_record(self) -> None:
        """A put of exactly the current item writes no record (spec 7.1)."""
        _, t = _table()
        t.put_item({"pk": "a", "n": 1, "s": {"x", "y"}})
        t.put_item({"s": {"y", "x"}, "n": Decimal("1.0"), "pk": "a"})
        assert ["INSERT"] == [r["eventName"] for r in _records(t)]

    def test_delete_missing_item_writes_no_record(self) -> None:
        """Deleting an item that does not exist writes no record."""
        _, t = _table()
        t.delete_item({"pk": "nobody"})
        assert [] == _records(t)

    def test_removed_attribute_is_a_modify(self) -> None:
        """Dropping an attribute is a change: MODIFY with both images."""
        _, t = _table()
        t.put_item({"pk": "a", "x": 1})
        t.put_item({"pk": "a"})
        rec = _records(t)[1]["dynamodb"]
        assert ("MODIFY", {"pk": {"S": "a"}}, {"pk": {"S": "a"}, "x": {"N": "1"}}) == (
            _records(t)[1]["eventName"],
            rec["NewImage"],
            rec["OldImage"],
        )

    def test_get_item_reflects_writes(self) -> None:
        """get_item returns the current item as plain Python values, or None after a delete."""
        _, t = _table()
        t.put_item({"pk": "a", "n": 3, "b": b"z"})
        assert {"pk": "a", "n": Decimal(3), "b": b"z"} == t.get_item({"pk": "a"})
        t.delete_item({"pk": "a"})
        assert None is t.get_item({"pk": "a"})


class TestViewTypes:
    """spec 7.3: which images a record carries per StreamViewType."""

    @pytest.mark.parametrize(
        ("view", "expected"),
        [
            ("KEYS_ONLY", [(False, False), (False, False), (False, False)]),
            ("NEW_IMAGE", [(True, False), (True, False), (False, False)]),
            ("OLD_IMAGE", [(False, False), (False, True), (False, True)]),
            ("NEW_AND_OLD_IMAGES", [(True, False), (True, True), (False, True)]),
        ],
        ids=["keys-only", "new", "old", "new-and-old"],
    )
    def test_images_per_view(self, view: str, expected: list[tuple[bool, bool]]) -> None:
        """INSERT never has an OldImage, REMOVE never a NewImage, and the view cuts the rest."""
        _, t = _table(view)
        t.put_item({"pk": "a", "v": 1})
        t.put_item({"pk": "a", "v": 2})
        t.delete_item({"pk": "a"})
        recs = _records(t)
        assert expected == [
            ("NewImage" in r["dynamodb"], "OldImage" in r["dynamodb"]) for r in recs
        ]
        assert [view] * 3 == [r["dynamodb"]["StreamViewType"] for r in recs]

    def test_images_hold_the_right_item(self) -> None:
        """A MODIFY's NewImage is the new item and its OldImage the previous one."""
        _, t = _table()
        t.put_item({"pk": "a", "v": 1})
        t.put_item({"pk": "a", "v": 2})
        ddb = _records(t)[1]["dynamodb"]
        assert ({"N": "2"}, {"N": "1"}) == (ddb["NewImage"]["v"], ddb["OldImage"]["v"])


class TestRecordShape:
    """spec 7.3 and 13: a record exactly as Lambda delivers it."""

    def test_top_level_keys_in_order(self) -> None:
        """A record has exactly the Lambda keys, in Lambda's order."""
        _, t = _table()
        t.put_item({"pk": "a"})
        assert RECORD_KEYS == list(_records(t)[0])

    def test_dynamodb_keys_in_order(self) -> None:
        """The dynamodb member has its keys in order, images between Keys and SequenceNumber."""
        _, t = _table()
        t.put_item({"pk": "a"})
        t.put_item({"pk": "a", "x": 1})
        assert [
            "ApproximateCreationDateTime",
            "Keys",
            "NewImage",
            "OldImage",
            "SequenceNumber",
            "SizeBytes",
            "StreamViewType",
        ] == list(_records(t)[1]["dynamodb"])

    def test_constant_fields(self) -> None:
        """eventVersion is "1.1", eventSource "aws:dynamodb", awsRegion and eventSourceARN the stream's."""
        sim = esm_sim.Simulation(seed=0, region="eu-west-2")
        t = sim.create_table("orders", partition_key="pk")
        t.put_item({"pk": "a"})
        r = _records(t)[0]
        assert ("1.1", "aws:dynamodb", "eu-west-2", t.stream_arn) == (
            r["eventVersion"],
            r["eventSource"],
            r["awsRegion"],
            r["eventSourceARN"],
        )

    def test_approximate_creation_time_whole_seconds_float(self) -> None:
        """ApproximateCreationDateTime is a float of whole epoch seconds, rounded down."""
        sim, t = _table()
        sim.run_for(1.999)
        t.put_item({"pk": "a"})
        value = _records(t)[0]["dynamodb"]["ApproximateCreationDateTime"]
        assert float is type(value)
        assert (T2026 + 1000) / 1000 == value

    def test_sequence_numbers_digits_increasing(self) -> None:
        """SequenceNumber is a digits-only string of 21..40 characters, increasing with writes."""
        _, t = _table(shard_count=3)
        for i in range(30):
            t.put_item({"pk": f"k{i}"})
        seqs = [r["dynamodb"]["SequenceNumber"] for r in _records(t)]
        assert all(re.fullmatch(r"\d{21,40}", s) for s in seqs)
        ints = [int(s) for s in seqs]
        assert sorted(set(ints)) == ints
        for shard in t.shards:
            own = [int(s) for s in shard.sequence_numbers]
            assert sorted(own) == own

    def test_event_id_32_lowercase_hex_unique(self) -> None:
        """eventID is 32 lowercase hex characters, different for every record."""
        _, t = _table()
        for i in range(20):
            t.put_item({"pk": "a", "i": i})
        ids = [r["eventID"] for r in _records(t)]
        assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
        assert len(ids) == len(set(ids))

    def test_event_ids_reproducible(self) -> None:
        """The same seed and writes give the same eventIDs."""
        ids = []
        for _ in range(2):
            _, t = _table()
            t.put_item({"pk": "a"})
            ids.append(_records(t)[0]["eventID"])
        assert ids[0] == ids[1]

    def test_size_bytes_recorded_example(self) -> None:
        """SizeBytes is 70 for the recorded item with NEW_IMAGE, keyed on my_partition_key."""
        sim = esm_sim.Simulation(seed=0)
        t = sim.create_table("t1x", partition_key="my_partition_key", stream_view_type="NEW_IMAGE")
        t.put_item({"my_partition_key": "hello world", "binary_key": b"foobar"})
        assert 70 == _records(t)[0]["dynamodb"]["SizeBytes"]

    @pytest.mark.parametrize(
        ("view", "size"),
        [("KEYS_ONLY", 27), ("NEW_IMAGE", 70), ("OLD_IMAGE", 27), ("NEW_AND_OLD_IMAGES", 70)],
        ids=["keys-only", "new", "old", "new-and-old"],
    )
    def test_size_bytes_counts_carried_images(self, view: str, size: int) -> None:
        """SizeBytes sums Keys and the images the record carries (an INSERT has no old image)."""
        sim = esm_sim.Simulation(seed=0)
        t = sim.create_table("t1x", partition_key="my_partition_key", stream_view_type=view)
        t.put_item({"my_partition_key": "hello world", "binary_key": b"foobar"})
        assert size == _records(t)[0]["dynamodb"]["SizeBytes"]

    def test_binary_is_base64(self) -> None:
        """Binary values and binary sets are base64 text in the event."""
        _, t = _table()
        t.put_item({"pk": "a", "b": b"\x00\xfffoo", "bs": {b"x", b"yz"}})
        image = _records(t)[0]["dynamodb"]["NewImage"]
        assert {"B": base64.b64encode(b"\x00\xfffoo").decode()} == image["b"]
        assert sorted(
            [base64.b64encode(b"x").decode(), base64.b64encode(b"yz").decode()]
        ) == sorted(image["bs"]["BS"])

    def test_binary_partition_key_in_keys(self) -> None:
        """A binary partition key appears base64 in Keys."""
        _, t = _table(partition_key=("id", "B"))
        t.put_item({"id": b"\x01\x02"})
        assert {"id": {"B": "AQI="}} == _records(t)[0]["dynamodb"]["Keys"]

    def test_keys_partition_then_sort(self) -> None:
        """Keys holds the partition key and the sort key, and nothing else."""
        _, t = _table(sort_key="sk")
        t.put_item({"pk": "a", "sk": 5, "other": "x"})
        assert {"pk": {"S": "a"}, "sk": {"N": "5"}} == _records(t)[0]["dynamodb"]["Keys"]

    def test_records_are_fresh(self) -> None:
        """Mutating a rendered record does not change the next rendering."""
        _, t = _table()
        t.put_item({"pk": "a"})
        first = t.shards[0].records[0]
        first["dynamodb"]["Keys"]["pk"]["S"] = "changed"
        assert "a" == t.shards[0].records[0]["dynamodb"]["Keys"]["pk"]["S"]


class TestJsonLen:
    """StreamFormat.json_len equals the length of the rendered record's compact JSON."""

    ITEMS: ClassVar[list[dict[str, Any]]] = [
        {"pk": "a"},
        {"pk": "ünïcødé ☃ 😀", "s": "ascii", "t": "é" * 10, "q": 'quote " and \\ and \n'},
        {"pk": "bin", "b": b"\x00\x01\xff" * 7, "bs": {b"a", b"bb", b"ccc"}},
        {
            "pk": "num",
            "n": 0,
            "d": Decimal("-1.5E+20"),
            "small": Decimal("0.000001"),
            "ns": {1, 22, 333},
        },
        {"pk": "nest", "m": {"l": [1, "x", b"y", None, True, {"deep": ["é", {}]}]}},
        {
            "pk": "set",
            "ss": {"b", "a", "ç"},
            "null": None,
            "f": False,
            "empty": "",
            "el": [],
            "em": {},
        },
        {"pk": "names", "ключ": "значение", 'k"q': 1, "tab\t": "v"},
    ]

    @pytest.mark.parametrize("view", ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"])
    def test_json_len_matches_rendering(self, view: str) -> None:
        """For INSERT, MODIFY and REMOVE of varied items, record_json_len is the compact JSON length and the stored bound is never below it."""
        sim, t = _table(view, shard_count=2)
        for i, item in enumerate(self.ITEMS):
            t.put_item(item)
            sim.run_for(0.7 + i)
            t.put_item({**item, "extra": f"v{i}"})
            t.delete_item({"pk": item["pk"]})
        raw = _raw(t)
        assert len(self.ITEMS) * 3 == len(raw)
        fmt = t.format
        for rec in raw:
            exact = len(json.dumps(fmt.render(rec), separators=(",", ":")))
            assert exact == fmt.record_json_len(rec)
            assert exact <= rec[JSON_BOUND]

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(
            st.dictionaries(
                st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=6),
                st.recursive(
                    st.one_of(
                        st.none(),
                        st.booleans(),
                        st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=8),
                        st.binary(max_size=8),
                        st.integers(min_value=-(10**30), max_value=10**30),
                    ),
                    lambda kids: st.one_of(
                        st.lists(kids, max_size=3),
                        st.dictionaries(
                            st.text(
                                alphabet=st.characters(exclude_categories=["Cs"]),
                                min_size=1,
                                max_size=3,
                            ),
                            kids,
                            max_size=3,
                        ),
                    ),
                    max_leaves=6,
                ),
                max_size=4,
            ),
            min_size=1,
            max_size=4,
        )
    )
    def test_json_len_property(self, items: list[dict[str, Any]]) -> None:
        """For any plain-Python items, record_json_len is the rendering's compact JSON length, within the stored bound."""
        sim, t = _table()
        for i, item in enumerate(items):
            rest = {k: v for k, v in item.items() if k != "pk"}
            t.put_item({"pk": f"k{i % 2}", **rest})
            sim.run_for(0.5)
        t.delete_item({"pk": "k0"})
        for rec in _raw(t):
            exact = len(json.dumps(t.format.render(rec), separators=(",", ":")))
            assert exact == t.format.record_json_len(rec)
            assert exact <= rec[JSON_BOUND]

    def test_size_bytes_field_matches_rendering(self) -> None:
        """The SIZE_BYTES field of a record is the SizeBytes it renders."""
        _, t = _table()
        t.put_item({"pk": "a", "x": "yy"})
        rec = _raw(t)[0]
        assert rec[SIZE_BYTES] == t.format.render(rec)["dynamodb"]["SizeBytes"]


class TestWriteErrors:
    """Values and keys DynamoDB or boto3 refuse."""

    def test_float_refused_with_boto3_message(self) -> None:
        """A float is refused with boto3's TypeError text, and nothing is written."""
        _, t = _table()
        with pytest.raises(
            TypeError, match=r"^Float types are not supported\. Use Decimal types instead\.$"
        ):
            t.put_item({"pk": "a", "f": 1.5})
        assert [] == _records(t)

    def test_item_over_400kb_refused(self) -> None:
        """An item over 400 KB is refused with DynamoDB's message, and nothing is written."""
        _, t = _table()
        with pytest.raises(ValidationException) as info:
            t.put_item({"pk": "a", "big": "x" * (400 * 1024)})
        assert "Item size has exceeded the maximum allowed size" == info.value.message
        assert "ValidationException" == info.value.response["Error"]["Code"]
        assert [] == _records(t)

    def test_item_at_400kb_accepted(self) -> None:
        """An item of exactly 400 KB is accepted."""
        _, t = _table()
        t.put_item({"pk": "a", "big": "x" * (400 * 1024 - len("pk") - 1 - len("big"))})
        assert 1 == len(_records(t))

    @pytest.mark.parametrize(
        ("op", "arg", "message"),
        [
            (
                "put",
                {"x": 1},
                "One or more parameter values were invalid: Missing the key pk in the item",
            ),
            (
                "put",
                {"pk": "a", "sk": "x"},
                "One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S",
            ),
            (
                "put",
                {"pk": True, "sk": 1},
                "One or more parameter values were invalid: Type mismatch for key pk expected: S, N or B actual: BOOL",
            ),
            (
                "put",
                {"pk": "", "sk": 1},
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk",
            ),
            (
                "put",
                {"pk": b"", "sk": 1},
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty binary value. Key: pk",
            ),
            ("delete", {"pk": "a"}, "The provided key element does not match the schema"),
            (
                "delete",
                {"pk": "a", "sk": 1, "x": 2},
                "The provided key element does not match the schema",
            ),
            (
                "delete",
                {"pk": "a", "sk": "1"},
                "The provided key element does not match the schema",
            ),
            (
                "get",
                {"pk": "a", "sk": 1, "x": 2},
                "The provided key element does not match the schema",
            ),
            ("get", {"sk": 1}, "The provided key element does not match the schema"),
        ],
        ids=[
            "put-missing-key",
            "put-wrong-declared-type",
            "put-non-key-type",
            "put-empty-string-key",
            "put-empty-binary-key",
            "delete-missing-sort-key",
            "delete-extra-attribute",
            "delete-wrong-type",
            "get-extra-attribute",
            "get-missing-partition-key",
        ],
    )
    def test_key_errors(self, op: str, arg: dict[str, Any], message: str) -> None:
        """A missing, mistyped or empty key is a ValidationException with DynamoDB's text."""
        _, t = _table(sort_key=("sk", "N"))
        call = {"put": t.put_item, "delete": t.delete_item, "get": t.get_item}[op]
        operation = {"put": "PutItem", "delete": "DeleteItem", "get": "GetItem"}[op]
        with pytest.raises(ValidationException) as info:
            call(arg)
        assert message == info.value.message
        assert (
            f"An error occurred (ValidationException) when calling the {operation} operation: {message}"
            == str(info.value)
        )
        assert [] == _records(t)


class TestRouting:
    """Records go to a shard chosen by a stable hash of the partition key."""

    def test_same_key_same_shard(self) -> None:
        """Every record of one partition key lands in one shard, in write order."""
        _, t = _table(shard_count=4)
        for i in range(5):
            for k in ("a", "b", "c"):
                t.put_item({"pk": k, "i": i})
        for k in ("a", "b", "c"):
            holders = {
                s.shard_id
                for s in t.shards
                for r in s.records
                if r["dynamodb"]["Keys"]["pk"]["S"] == k
            }
            assert 1 == len(holders)

    def test_several_shards_get_records(self) -> None:
        """With many keys, every shard gets some records."""
        _, t = _table(shard_count=4)
        for i in range(200):
            t.put_item({"pk": f"key-{i}"})
        assert all(len(s) > 0 for s in t.shards)
        assert 200 == sum(len(s) for s in t.shards)

    def test_routing_is_stable_across_simulations(self) -> None:
        """The same keys go to the same shard positions in another simulation, whatever the seed."""
        layouts = []
        for seed in (0, 99):
            sim = esm_sim.Simulation(seed=seed)
            t = sim.create_table("orders", partition_key="pk", shard_count=3)
            for i in range(30):
                t.put_item({"pk": f"key-{i}"})
            layouts.append([[r["dynamodb"]["Keys"] for r in s.records] for s in t.shards])
        assert layouts[0] == layouts[1]

    def test_number_keys_route_by_value(self) -> None:
        """Equal numbers written differently are the same item and the same shard."""
        _, t = _table(shard_count=4)
        t.put_item({"pk": 10, "v": 1})
        t.put_item({"pk": Decimal("1E+1"), "v": 2})
        recs = _records(t)
        assert ["INSERT", "MODIFY"] == [r["eventName"] for r in recs]


class TestOnePassWrite:
    """A write is serialized, sized, routed and stored in one pass, leaving today's records."""

    ITEMS: ClassVar[list[dict[str, Any]]] = [
        {"pk": "a", "v": "ok"},
        {"pk": "a", "v": "changed", "n": -12300, "big": 10**40},
        {"pk": "é€😀", "naïve": "ü", "d": Decimal("1.5"), "b": b"\x00\xff"},
        {"pk": "b", "m": {"x": [1, "two", None, True]}, "ss": {"b", "a"}, "ns": {3, 1}},
        {"pk": "c", "bs": {b"z", b"y"}, "l": [], "e": {}},
    ]

    @pytest.mark.parametrize("view", ["NEW_AND_OLD_IMAGES", "NEW_IMAGE", "OLD_IMAGE", "KEYS_ONLY"])
    def test_dict_item_leaves_the_records_of_the_general_path(self, view: str) -> None:
        """A plain dict (one pass) and any other Mapping (step by step) leave equal records."""
        from types import MappingProxyType

        stored = []
        for wrap in (dict, MappingProxyType):
            _, t = _table(view, shard_count=3)
            for item in self.ITEMS:
                t.put_item(wrap(item))
            t.update_item(wrap({"pk": "a"}), wrap({"v": "again", "ü": 2}))
            t.delete_item(wrap({"pk": "b"}))
            stored.append(_raw(t))
        assert stored[0] == stored[1]
        assert len(self.ITEMS) + 2 == len(stored[0])

    def test_pinned_shards_and_event_ids(self) -> None:
        """Keys keep their shards and records their eventIDs (same seed, same stream)."""
        _, t = _table(shard_count=4)
        for i in range(8):
            t.put_item({"pk": f"k{i}", "v": i})
        expected = [["k1", "k5"], ["k0", "k4"], ["k2", "k6"], ["k3", "k7"]]
        assert expected == [[r["dynamodb"]["Keys"]["pk"]["S"] for r in s.records] for s in t.shards]
        assert [
            "67a978118ccee4ba7619e1e243c7d4f3",
            "fdaf1232020093a24ba8bf389508eee3",
            "022811896f82790080b62a8caf778e77",
        ] == [r["eventID"] for s in t.shards for r in s.records][:3]


class TestNames:
    """The stream ARN and shard ids."""

    def test_stream_arn_format(self) -> None:
        """The stream ARN is arn:aws:dynamodb:<region>:<acct>:table/<Table>/stream/<ms label>."""
        sim = esm_sim.Simulation(seed=0, region="ap-south-1", account_id="000011112222")
        sim.run_for(1.234)
        t = sim.create_table("My_Table.v2", partition_key="pk")
        assert (
            "arn:aws:dynamodb:ap-south-1:000011112222:table/My_Table.v2/stream/2026-01-01T00:00:01.234"
            == t.stream_arn
        )

    def test_shard_id_format(self) -> None:
        """Shard ids read shardId-<20 digits>-<8 hex> and are distinct."""
        _, t = _table(shard_count=5)
        ids = [s.shard_id for s in t.shards]
        assert all(re.fullmatch(r"shardId-\d{20}-[0-9a-f]{8}", i) for i in ids)
        assert 5 == len(set(ids))

    def test_first_shards_have_no_parent(self) -> None:
        """The shards a table starts with have no parent."""
        _, t = _table(shard_count=2)
        assert [None, None] == [s.parent_shard_id for s in t.shards]


class TestCreateTableErrors:
    """create_table refuses bad arguments with ConfigError naming them."""

    @pytest.mark.parametrize(
        ("kwargs", "pattern"),
        [
            ({"name": "ab"}, r"^name='ab' must be a table name of 3 to 255"),
            ({"name": "x" * 256}, r"^name='x+' must be a table name"),
            ({"name": "a/b/c"}, r"^name='a/b/c' must be a table name"),
            ({"name": 123}, r"^name=123 must be a table name"),
            (
                {"stream_view_type": "NEW"},
                r"^stream_view_type='NEW' must be one of KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES",
            ),
            ({"shard_count": 0}, r"^shard_count=0 must be an int >= 1$"),
            ({"shard_count": True}, r"^shard_count=True must be an int >= 1$"),
            ({"shard_count": 1.0}, r"^shard_count=1\.0 must be an int >= 1$"),
            ({"partition_key": ""}, r"^partition_key='' must be an attribute name"),
            ({"partition_key": ("pk", "BOOL")}, r"^partition_key=\('pk', 'BOOL'\) must be"),
            ({"partition_key": 5}, r"^partition_key=5 must be"),
            ({"sort_key": "pk"}, r"^sort_key='pk' must differ from partition_key='pk'$"),
            ({"sort_key": ("", "S")}, r"^sort_key=\('', 'S'\) must be"),
        ],
        ids=[
            "name-too-short",
            "name-too-long",
            "name-bad-chars",
            "name-not-str",
            "bad-view-type",
            "zero-shards",
            "bool-shards",
            "float-shards",
            "empty-partition-key",
            "bad-key-type",
            "partition-key-not-str",
            "sort-equals-partition",
            "empty-sort-key",
        ],
    )
    def test_config_errors(self, kwargs: dict[str, Any], pattern: str) -> None:
        """Each invalid argument raises ConfigError with a name=value message."""
        sim = esm_sim.Simulation(seed=0)
        args: dict[str, Any] = {"name": "orders", "partition_key": "pk", **kwargs}
        name = args.pop("name")
        with pytest.raises(ConfigError, match=pattern):
            sim.create_table(name, **args)

    def test_duplicate_name(self) -> None:
        """A second table of the same name is refused."""
        sim = esm_sim.Simulation(seed=0)
        sim.create_table("orders", partition_key="pk")
        with pytest.raises(ConfigError, match=r"^name='orders': a table of that name exists$"):
            sim.create_table("orders", partition_key="pk")


class TestGcFriendlyStorage:
    def test_stored_records_and_items_are_left_alone_by_the_gc(self) -> None:
        """With scalar attributes, stored records and the table's items soon leave the GC (flat images: depth 2)."""
        import gc

        sim = esm_sim.Simulation(seed=0)
        table = sim.create_table("orders", partition_key="pk", sort_key="sk")
        for i in range(50):
            table.put_item({"pk": f"k{i}", "sk": i, "v": "ok", "b": b"x", "t": True})
        for _ in range(3):  # depth 2 needs two; one more for headroom
            gc.collect()
        record = table.shards[0].at(0)
        assert (False, False) == (gc.is_tracked(record), gc.is_tracked(table._items))

    def test_full_chunks_of_a_shard_leave_the_gc(self) -> None:
        """A shard freezes every 1024 records into a tuple the GC stops walking; only the last, open chunk stays a list."""
        import gc

        from esm_sim._engine.chunked import CHUNK

        sim = esm_sim.Simulation(seed=0)
        table = sim.create_table("orders", partition_key="pk")
        for i in range(2 * CHUNK + 5):
            table.put_item({"pk": f"k{i}", "v": "ok"})
        for _ in range(3):
            gc.collect()
        shard = table.shards[0]
        assert [False, False] == [gc.is_tracked(chunk) for chunk in shard._records.chunks]
        assert 5 == len(shard._records.tail)


class TestUpdateItem:
    """UpdateItem: set some attributes, remove others (spec 7.1, 13)."""

    def test_update_sets_and_removes_as_modify(self) -> None:
        """An update sets the named attributes and removes others, leaving one MODIFY with both images."""
        _, t = _table()
        t.put_item({"pk": "a", "n": 1, "note": "x", "keep": True})
        t.update_item({"pk": "a"}, set={"n": 2, "tag": "new"}, remove=["note"])
        record = _records(t)[-1]
        assert "MODIFY" == record["eventName"]
        assert {"pk": "a", "n": 2, "keep": True, "tag": "new"} == t.get_item({"pk": "a"})
        assert {"S": "x"} == record["dynamodb"]["OldImage"]["note"]
        assert "note" not in record["dynamodb"]["NewImage"]

    def test_none_in_set_removes_the_attribute(self) -> None:
        """As the API contract says (set n, remove note), an attribute set to None is removed, not stored as NULL; absent already, it is no change."""
        _, t = _table()
        t.put_item({"pk": "a", "n": 1, "note": "x"})
        t.update_item({"pk": "a"}, {"n": 2, "note": None})
        assert {"pk": "a", "n": 2} == t.get_item({"pk": "a"})
        record = _records(t)[-1]
        assert "note" not in record["dynamodb"]["NewImage"]
        assert {"S": "x"} == record["dynamodb"]["OldImage"]["note"]
        t.update_item({"pk": "a"}, {"note": None})
        assert 2 == len(_records(t))  # nothing changed: no record (spec 7.1)
        with pytest.raises(ValidationException, match="This attribute is part of the key"):
            t.update_item({"pk": "a"}, {"pk": None})
        for bad in ({5: None}, {"": None}):  # refused as a bad name in set, not in remove
            with pytest.raises(ValidationException, match="an attribute name must be a non-empty"):
                t.update_item({"pk": "a"}, bad)

    def test_update_of_missing_item_inserts(self) -> None:
        """An update of a key with no item creates it from the key and the set attributes (INSERT)."""
        _, t = _table()
        t.update_item({"pk": "a"}, {"n": 1}, remove=["gone"])
        assert ["INSERT"] == [r["eventName"] for r in _records(t)]
        assert {"pk": "a", "n": 1} == t.get_item({"pk": "a"})

    def test_unchanged_update_writes_no_record(self) -> None:
        """An update that sets the same values and removes absent attributes writes no record (spec 7.1)."""
        _, t = _table()
        t.put_item({"pk": "a", "n": 1, "m": 2})
        t.update_item({"pk": "a"}, {"n": 1}, remove=["absent"])
        assert ["INSERT"] == [r["eventName"] for r in _records(t)]

    @pytest.mark.parametrize(
        ("kwargs", "name"),
        [
            pytest.param({"set": {"pk": "b"}}, "pk", id="set-partition-key"),
            pytest.param({"remove": ["sk"]}, "sk", id="remove-sort-key"),
        ],
    )
    def test_key_attributes_cannot_be_updated(self, kwargs: dict[str, Any], name: str) -> None:
        """Setting or removing a key attribute is refused with DynamoDB's ValidationException text."""
        _, t = _table(sort_key="sk")
        t.put_item({"pk": "a", "sk": "1"})
        with pytest.raises(ValidationException) as info:
            t.update_item({"pk": "a", "sk": "1"}, **kwargs)
        expected = (
            "One or more parameter values were invalid: Cannot update attribute "
            f"{name}. This attribute is part of the key"
        )
        assert expected == info.value.message
        assert 1 == len(_records(t))

    def test_set_and_remove_same_attribute_refused(self) -> None:
        """An attribute both set and removed is refused, as DynamoDB refuses overlapping paths."""
        _, t = _table()
        with pytest.raises(ValidationException, match=r"Two document paths overlap"):
            t.update_item({"pk": "a"}, {"n": 1}, remove=["n"])

    def test_remove_must_be_a_list_of_names(self) -> None:
        """A bare string for remove is refused (it would remove each character)."""
        _, t = _table()
        with pytest.raises(ConfigError, match=r"^remove='note' must be an iterable"):
            t.update_item({"pk": "a"}, remove="note")  # type: ignore[arg-type]

    def test_key_must_be_the_key_schema(self) -> None:
        """A Key holding more than the key attributes is refused as GetItem refuses it."""
        _, t = _table()
        with pytest.raises(ValidationException, match=r"does not match the schema"):
            t.update_item({"pk": "a", "n": 1}, {"m": 2})


HOUR_S = 3600
TTL_USER = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


def _ttl_table(
    view: str = "NEW_AND_OLD_IMAGES", delay_hours: float = 1.0
) -> tuple[esm_sim.Simulation, Table]:
    sim = esm_sim.Simulation(seed=0, ttl_delay_hours=delay_hours)
    table = sim.create_table(
        "sessions", partition_key="pk", stream_view_type=view, ttl_attribute="expires_at"
    )
    return sim, table


class TestTimeToLive:
    """Time to Live: the service deletes expired items, leaving REMOVE records (spec 7.3, 13)."""

    NOW_S = T2026 // 1000

    def test_expired_item_is_removed_by_the_service_after_the_delay(self) -> None:
        """An item whose TTL number has passed is deleted ttl_delay_hours after it, as a REMOVE by dynamodb.amazonaws.com."""
        sim, t = _ttl_table(delay_hours=1.0)
        t.put_item({"pk": "a", "expires_at": self.NOW_S + 60})
        sim.run_for(60 + HOUR_S - 1)
        assert t.get_item({"pk": "a"}) is not None
        sim.run_for(1)
        assert t.get_item({"pk": "a"}) is None
        record = _records(t)[-1]
        assert "REMOVE" == record["eventName"]
        assert TTL_USER == record["userIdentity"]
        assert {"pk": {"S": "a"}, "expires_at": {"N": str(self.NOW_S + 60)}} == record["dynamodb"][
            "OldImage"
        ]
        assert float(self.NOW_S + 60 + HOUR_S) == record["dynamodb"]["ApproximateCreationDateTime"]

    def test_ttl_record_renders_plain_json(self) -> None:
        """A TTL record's eventName is the plain string REMOVE and json_len matches its rendering."""
        sim, t = _ttl_table(view="KEYS_ONLY", delay_hours=0)
        t.put_item({"pk": "a", "expires_at": self.NOW_S})
        sim.run_for(1)
        (raw,) = [r for r in _raw(t) if r[2] == "REMOVE"]
        rendered = t.format.render(raw)
        assert str is type(rendered["eventName"])
        assert "OldImage" not in rendered["dynamodb"]  # spec 7.3: per view type
        assert len(json.dumps(rendered, separators=(",", ":"))) == t.format.record_json_len(raw)

    def test_user_delete_has_no_user_identity(self) -> None:
        """A REMOVE the user made carries no userIdentity (spec 7.3)."""
        _, t = _ttl_table()
        t.put_item({"pk": "a", "expires_at": self.NOW_S + 60})
        t.delete_item({"pk": "a"})
        assert "userIdentity" not in _records(t)[-1]

    @pytest.mark.parametrize(
        "item",
        [
            pytest.param({"pk": "a"}, id="no-attribute"),
            pytest.param({"pk": "a", "expires_at": str(NOW_S)}, id="string"),
            pytest.param({"pk": "a", "expires_at": [NOW_S]}, id="list"),
            pytest.param(
                {"pk": "a", "expires_at": NOW_S - 6 * 365 * 24 * HOUR_S}, id="6-years-ago"
            ),
        ],
    )
    def test_items_ttl_ignores_are_never_expired(self, item: dict[str, Any]) -> None:
        """Items without a Number TTL attribute, or expired over five years ago, are never deleted."""
        sim, t = _ttl_table(delay_hours=0)
        t.put_item(item)
        sim.run_for(7 * 24 * HOUR_S)
        assert item == t.get_item({"pk": "a"})

    def test_update_moves_the_deletion(self) -> None:
        """Updating the TTL attribute reschedules the deletion; removing it cancels it."""
        sim, t = _ttl_table(delay_hours=0)
        t.put_item({"pk": "a", "expires_at": self.NOW_S + 10})
        t.put_item({"pk": "b", "expires_at": self.NOW_S + 10})
        t.update_item({"pk": "a"}, {"expires_at": self.NOW_S + 100})
        t.update_item({"pk": "b"}, remove=["expires_at"])
        sim.run_for(99)
        assert {"pk": "a", "expires_at": self.NOW_S + 100} == t.get_item({"pk": "a"})
        sim.run_for(1)
        assert t.get_item({"pk": "a"}) is None
        assert {"pk": "b"} == t.get_item({"pk": "b"})

    def test_earlier_expiry_written_later_is_deleted_first(self) -> None:
        """An item expiring before the one already scheduled is deleted at its own time."""
        sim, t = _ttl_table(delay_hours=0)
        t.put_item({"pk": "late", "expires_at": self.NOW_S + 100})
        t.put_item({"pk": "early", "expires_at": self.NOW_S + 5})
        sim.run_for(5)
        assert t.get_item({"pk": "early"}) is None
        assert t.get_item({"pk": "late"}) is not None

    def test_one_sweep_per_table_not_one_event_per_item(self) -> None:
        """Many items expiring at once cost one scheduled sweep, not one event per item."""
        sim, t = _ttl_table(delay_hours=0)
        for i in range(50):
            t.put_item({"pk": f"k{i}", "expires_at": self.NOW_S + 10})
        assert 1 == len([h for h in sim._scheduler._heap if h[2] == t._ttl_run])
        sim.run_for(10)
        assert 0 == len(t)
        assert 50 == len([r for r in _records(t) if "userIdentity" in r])

    def test_filter_on_user_identity_sees_only_ttl_deletions(self) -> None:
        """A mapping filtering on userIdentity gets TTL deletions and not user deletions (spec 7.3, 8)."""
        sim, t = _ttl_table(delay_hours=0)
        seen: list[str] = []
        sim.create_function(
            "fn",
            lambda event, _: seen.extend(
                r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]
            ),
        )
        pattern = {"userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]}}
        sim.lambda_client.create_event_source_mapping(
            FunctionName="fn",
            EventSourceArn=t.stream_arn,
            StartingPosition="TRIM_HORIZON",
            FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]},
        )
        t.put_item({"pk": "ttl", "expires_at": self.NOW_S + 30})
        t.put_item({"pk": "user"})
        t.delete_item({"pk": "user"})
        sim.run_for(120)
        assert ["ttl"] == seen

    def test_replayed_ttl_deletion_keeps_its_user_identity(self) -> None:
        """A recorded TTL deletion replays as a TTL deletion, with userIdentity; a user's REMOVE without."""
        sim, t = _ttl_table(delay_hours=0)
        t.put_item({"pk": "a", "expires_at": self.NOW_S})
        t.put_item({"pk": "b"})
        sim.run_for(1)
        t.delete_item({"pk": "b"})
        recorded = _records(t)
        sim2, t2 = _ttl_table()
        t2.replay(recorded, call_at=sim2.call_at)
        sim2.run_for(2)
        assert [("userIdentity" in r, r["eventName"]) for r in recorded] == [
            ("userIdentity" in r, r["eventName"]) for r in _records(t2)
        ]
