"""Tests for esm_sim._streams.attributes: serialize, render, deserialize, sizes."""

from __future__ import annotations

import json
from collections import OrderedDict
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esm_sim._streams.attributes import (
    MAX_ITEM_SIZE_BYTES,
    Image,
    deserialize_image,
    image_json_len,
    image_size_bytes,
    project,
    render_image,
    serialize_item,
    serialize_sized,
)
from esm_sim.errors import ValidationException

# ---------------------------------------------------------------------------
# Strategies: plain-Python items within DynamoDB's limits
# ---------------------------------------------------------------------------

# Lone surrogates cannot be UTF-8 encoded, and DynamoDB stores UTF-8.
_texts = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)
_names = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=8)
_numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).filter(
        lambda n: len(str(abs(n)).rstrip("0")) <= 38
    ),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=4, min_value=-(10**9), max_value=10**9
    ),
    st.decimals(
        allow_nan=False, allow_infinity=False, min_value=-(10**20), max_value=10**20
    ).filter(lambda d: d.is_zero() or (len(d.as_tuple().digits) <= 38 and d.adjusted() >= -130)),
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    _texts,
    st.binary(max_size=10),
    _numbers,
    st.sets(_texts, min_size=1, max_size=4),
    st.frozensets(st.integers(min_value=-(10**6), max_value=10**6), min_size=1, max_size=4),
    st.sets(st.binary(max_size=5), min_size=1, max_size=4),
)
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_names, children, max_size=4),
    ),
    max_leaves=12,
)
_items = st.dictionaries(_names, _values, max_size=6)


def _json_len(image: Image) -> int:
    """Return the reference length: compact json.dumps of the rendered image."""
    return len(json.dumps(render_image(image), separators=(",", ":")))


_OVERFLOW = (
    "Number overflow. Attempting to store a number with magnitude larger than supported range"
)
_UNDERFLOW = (
    "Number underflow. Attempting to store a number with magnitude smaller than supported range"
)

# ---------------------------------------------------------------------------
# serialize_item / render_image / deserialize_image
# ---------------------------------------------------------------------------

_RENDER_CASES = [
    pytest.param("x", {"S": "x"}, id="str"),
    pytest.param("", {"S": ""}, id="empty-str"),
    pytest.param(5, {"N": "5"}, id="int"),
    pytest.param(-7, {"N": "-7"}, id="negative-int"),
    pytest.param(Decimal("2.5"), {"N": "2.5"}, id="decimal"),
    pytest.param(True, {"BOOL": True}, id="true"),
    pytest.param(False, {"BOOL": False}, id="false"),
    pytest.param(None, {"NULL": True}, id="none"),
    pytest.param(b"x", {"B": "eA=="}, id="bytes"),
    pytest.param(bytearray(b"ab"), {"B": "YWI="}, id="bytearray"),
    pytest.param(b"", {"B": ""}, id="empty-bytes"),
    pytest.param({"b", "a"}, {"SS": ["a", "b"]}, id="string-set"),
    pytest.param({10, 9, Decimal("-1.5")}, {"NS": ["-1.5", "9", "10"]}, id="number-set"),
    pytest.param(frozenset({b"b", b"a"}), {"BS": ["YQ==", "Yg=="]}, id="binary-set"),
    pytest.param([1, "a", None], {"L": [{"N": "1"}, {"S": "a"}, {"NULL": True}]}, id="list"),
    pytest.param((True,), {"L": [{"BOOL": True}]}, id="tuple"),
    pytest.param([], {"L": []}, id="empty-list"),
    pytest.param(
        {"z": 1, "a": {"b": b""}}, {"M": {"a": {"M": {"b": {"B": ""}}}, "z": {"N": "1"}}}, id="map"
    ),
    pytest.param(OrderedDict(k="v"), {"M": {"k": {"S": "v"}}}, id="ordered-dict"),
    pytest.param({}, {"M": {}}, id="empty-map"),
]


class TestSerializeItem:
    """serialize_item follows boto3's TypeSerializer and DynamoDB's value checks."""

    @pytest.mark.parametrize(("value", "expected"), _RENDER_CASES)
    def test_every_type_renders_as_lambda_delivers_it(self, value: Any, expected: Any) -> None:
        """Each plain-Python type renders as the AttributeValue Lambda delivers."""
        assert {"pk": {"S": "k"}, "v": expected} == render_image(
            serialize_item({"pk": "k", "v": value})
        )

    def test_image_is_sorted_by_name(self) -> None:
        """An Image lists attributes in name order, whatever the insertion order."""
        expected = ("a", "b", "c")
        assert expected == serialize_item({"c": 1, "a": 2, "b": 3})[0::3]

    def test_bool_is_not_a_number(self) -> None:
        """True is BOOL, not N, although bool is a subclass of int."""
        expected = ("t", "BOOL", True)
        assert expected == serialize_item({"t": True})

    def test_same_set_in_any_insertion_order_serializes_the_same(self) -> None:
        """Set ordering is deterministic: sets are sorted, never iterated raw."""
        words = [f"w{i}" for i in range(50)]
        forward, backward = set(), set()
        for w in words:
            forward.add(w)
        for w in reversed(words):
            backward.add(w)
        numbers_a = {Decimal(n) / 7 for n in range(30)} | {0}
        numbers_b = {Decimal(n) / 7 for n in reversed(range(30))}
        assert serialize_item({"s": forward, "n": numbers_a}) == serialize_item(
            {"s": backward, "n": numbers_b}
        )
        assert tuple(sorted(words)) == serialize_item({"s": forward})[2]

    def test_number_set_sorts_by_numeric_value(self) -> None:
        """NS elements are ordered by value, not by text ("10" after "9")."""
        expected = ("n", "NS", ("-20", "-3", "0.5", "9", "10"))
        assert expected == serialize_item({"n": {10, 9, Decimal("0.5"), -3, -20}})

    def test_image_is_hashable_and_comparable(self) -> None:
        """Equal items give equal, hashable Images, so a no-op write compares equal."""
        a = serialize_item({"pk": "x", "l": [1, {"m": {b"a"}}]})
        b = serialize_item({"l": [Decimal("1.0"), {"m": {b"a"}}], "pk": "x"})
        assert a == b
        assert hash(a) == hash(b)

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            pytest.param(Decimal("1.0"), "1", id="1.0"),
            pytest.param(Decimal("0.50"), "0.5", id="0.50"),
            pytest.param(Decimal("1E+2"), "100", id="1E+2"),
            pytest.param(Decimal("-0"), "0", id="-0"),
            pytest.param(Decimal("0E+7"), "0", id="0E+7"),
            pytest.param(Decimal("-12.345E3"), "-12345", id="-12.345E3"),
            pytest.param(Decimal("0.00120"), "0.0012", id="0.00120"),
            pytest.param(Decimal("007"), "7", id="007"),
            pytest.param(10**40, "1" + "0" * 40, id="10**40-one-significant-digit"),
            pytest.param(Decimal("1E+125"), "1" + "0" * 125, id="1E+125-max-exponent"),
            pytest.param(Decimal("1E-130"), "0." + "0" * 129 + "1", id="1E-130-min-magnitude"),
            pytest.param(Decimal("9" * 38), "9" * 38, id="38-digits"),
            pytest.param(-(10**37), "-1" + "0" * 37, id="negative-int"),
        ],
    )
    def test_numbers_are_normalised(self, value: Any, expected: str) -> None:
        """Numbers are stored as DynamoDB answers them: plain text, no redundant zeros."""
        assert ("n", "N", expected) == serialize_item({"n": value})

    @pytest.mark.parametrize(
        ("item", "message"),
        [
            pytest.param(
                {"f": 1.5}, "Float types are not supported. Use Decimal types instead.", id="float"
            ),
            pytest.param(
                {"f": [0.0]},
                "Float types are not supported. Use Decimal types instead.",
                id="float-in-list",
            ),
            pytest.param(
                {"f": {1.5, 2}},
                "Float types are not supported. Use Decimal types instead.",
                id="float-in-set",
            ),
            pytest.param({"f": Decimal("NaN")}, "Infinity and NaN not supported", id="nan"),
            pytest.param(
                {"f": Decimal("Infinity")}, "Infinity and NaN not supported", id="infinity"
            ),
            pytest.param(
                {"f": Decimal("-Infinity")}, "Infinity and NaN not supported", id="minus-infinity"
            ),
            pytest.param(
                {"f": {1, "a"}},
                "Unsupported type \"<class 'set'>\" for value \"{'a', 1}\"",
                id="mixed-set",
            ),
            pytest.param(
                {"f": frozenset({b"a", "a"})},
                "Unsupported type \"<class 'frozenset'>\" for value \"frozenset({'a', b'a'})\"",
                id="mixed-frozenset",
            ),
            pytest.param(
                {"f": 1j}, 'Unsupported type "<class \'complex\'>" for value "1j"', id="complex"
            ),
            pytest.param(
                {"f": {"m": [range(2)]}},
                'Unsupported type "<class \'range\'>" for value "range(0, 2)"',
                id="nested-range",
            ),
        ],
    )
    def test_boto3_type_errors(self, item: dict[str, Any], message: str) -> None:
        """Values boto3 refuses raise TypeError with boto3's exact text."""
        with pytest.raises(TypeError) as info:
            serialize_item(item)
        assert message == str(info.value)

    @pytest.mark.parametrize(
        ("item", "message"),
        [
            pytest.param(
                {"s": set()},
                "One or more parameter values were invalid: An number set  may not be empty",
                id="empty-set",
            ),
            pytest.param(
                {"s": [frozenset()]},
                "One or more parameter values were invalid: An number set  may not be empty",
                id="nested-empty-frozenset",
            ),
            pytest.param(
                {"n": Decimal("1" * 39)},
                "Attempting to store more than 38 significant digits in a Number",
                id="39-digits",
            ),
            pytest.param(
                {"n": int("1" * 39)},
                "Attempting to store more than 38 significant digits in a Number",
                id="39-digit-int",
            ),
            pytest.param(
                {"n": {Decimal("1." + "1" * 38)}},
                "Attempting to store more than 38 significant digits in a Number",
                id="39-digits-in-set",
            ),
            pytest.param(
                {"n": Decimal("1E+126")},
                _OVERFLOW,
                id="overflow",
            ),
            pytest.param(
                {"n": -(10**126)},
                _OVERFLOW,
                id="negative-overflow",
            ),
            pytest.param(
                {"n": Decimal("9.9E-131")},
                _UNDERFLOW,
                id="underflow",
            ),
        ],
    )
    def test_dynamodb_validation_errors(self, item: dict[str, Any], message: str) -> None:
        """Values DynamoDB refuses raise ValidationException with DynamoDB's text."""
        with pytest.raises(ValidationException) as info:
            serialize_item(item)
        assert message == info.value.message

    @pytest.mark.parametrize(
        "item",
        [
            pytest.param({"": 1}, id="empty-name"),
            pytest.param({1: 1}, id="int-name"),
            pytest.param({"m": {"": 1}}, id="empty-nested-name"),
        ],
    )
    def test_attribute_names_must_be_non_empty_strings(self, item: dict[Any, Any]) -> None:
        """An empty or non-string attribute name raises ValidationException naming it."""
        with pytest.raises(ValidationException, match="attribute name must be a non-empty string"):
            serialize_item(item)


class TestRenderImage:
    """render_image returns fresh, JSON-compatible AttributeValue maps."""

    def test_render_returns_fresh_objects(self) -> None:
        """Mutating one rendering does not change the next one."""
        image = serialize_item({"pk": "k", "l": [1, {"m": "x"}], "s": {"a"}, "b": b"\x00"})
        first = render_image(image)
        first["pk"]["S"] = "changed"
        first["l"]["L"][1]["M"]["m"]["S"] = "changed"
        first["l"]["L"].append({"S": "extra"})
        first["s"]["SS"].append("extra")
        del first["b"]
        expected = {
            "pk": {"S": "k"},
            "l": {"L": [{"N": "1"}, {"M": {"m": {"S": "x"}}}]},
            "s": {"SS": ["a"]},
            "b": {"B": "AA=="},
        }
        assert expected == render_image(image)

    def test_render_is_json_serializable(self) -> None:
        """The rendering round-trips through json unchanged."""
        rendered = render_image(serialize_item({"b": {b"\xff"}, "n": {1}, "x": [None, True]}))
        assert rendered == json.loads(json.dumps(rendered))


class TestDeserializeImage:
    """deserialize_image gives back plain Python as boto3's TypeDeserializer does."""

    def test_types_come_back_as_boto3_gives_them(self) -> None:
        """N is Decimal, B bytes, sets are sets, L list and M dict."""
        item = deserialize_image(
            serialize_item({"n": 5, "b": bytearray(b"x"), "ns": {1}, "l": (1,), "m": {"k": None}})
        )
        assert {
            "n": Decimal(5),
            "b": b"x",
            "ns": {Decimal(1)},
            "l": [Decimal(1)],
            "m": {"k": None},
        } == item
        assert [Decimal, bytes, set, list, dict] == [
            type(item[k]) for k in ("n", "b", "ns", "l", "m")
        ]

    def test_long_plain_numbers_deserialize(self) -> None:
        """1E+100, stored as 101 plain digits, deserializes (boto3's trapping context would not)."""
        assert {"n": Decimal("1E+100")} == deserialize_image(
            serialize_item({"n": Decimal("1E+100")})
        )

    @settings(max_examples=200)
    @given(_items)
    def test_round_trip(self, item: dict[str, Any]) -> None:
        """serialize then deserialize gives back an equal item (tuples become lists)."""

        def listify(value: Any) -> Any:
            if isinstance(value, (list, tuple)):
                return [listify(v) for v in value]
            if isinstance(value, dict):
                return {k: listify(v) for k, v in value.items()}
            return value

        assert listify(item) == deserialize_image(serialize_item(item))

    @settings(max_examples=200)
    @given(_items)
    def test_serialize_is_idempotent_through_deserialize(self, item: dict[str, Any]) -> None:
        """Serializing a deserialized image gives the same image back."""
        image = serialize_item(item)
        assert image == serialize_item(deserialize_image(image))


# ---------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------


class TestImageSizeBytes:
    """image_size_bytes applies DynamoDB's item-size rule (spec 13 SizeBytes)."""

    def test_recorded_item_size(self) -> None:
        """The recorded item with an 11-char S key and a 6-byte B attribute is 43 bytes."""
        expected = 43
        assert expected == image_size_bytes(
            serialize_item({"my_partition_key": "hello world", "binary_key": b"foobar"})
        )

    def test_recorded_stream_record_size(self) -> None:
        """The recorded NEW_IMAGE record for that item (Keys + NewImage) has SizeBytes 70."""
        image = serialize_item({"my_partition_key": "hello world", "binary_key": b"foobar"})
        expected = 70
        keys = project(image, ["my_partition_key"])
        assert expected == image_size_bytes(keys) + image_size_bytes(image)

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            pytest.param("abc", 3, id="ascii-str"),
            pytest.param("é€😀", 2 + 3 + 4, id="utf8-str"),
            pytest.param("", 0, id="empty-str"),
            pytest.param(b"\x00\x01\x02", 3, id="binary-raw-length"),
            pytest.param(True, 1, id="bool"),
            pytest.param(None, 1, id="null"),
            pytest.param(0, 1, id="zero"),
            pytest.param(7, 2, id="one-digit"),
            pytest.param(12, 2, id="two-digits"),
            pytest.param(123, 3, id="three-digits"),
            pytest.param(12300, 3, id="trailing-zeros-trimmed"),
            pytest.param(10**100, 2, id="1E+100"),
            pytest.param(-1, 3, id="negative-extra-byte"),
            pytest.param(Decimal("0.5"), 2, id="0.5"),
            pytest.param(Decimal("1.5"), 3, id="1.5-aligned-pairs"),
            pytest.param(Decimal("12.34"), 3, id="12.34"),
            pytest.param(int("9" * 38), 20, id="38-digits"),
            pytest.param(-int("9" * 38), 21, id="negative-38-digits"),
            pytest.param(
                Decimal("-9.9999999999999999999999999999999999999"), 21, id="capped-at-21"
            ),
            pytest.param({"ab", "c"}, 3, id="string-set"),
            pytest.param({1, 123}, 5, id="number-set"),
            pytest.param({b"ab", b"c"}, 3, id="binary-set"),
            pytest.param([], 3, id="empty-list"),
            pytest.param({}, 3, id="empty-map"),
            pytest.param(["ab", 1], 3 + (1 + 2) + (1 + 2), id="list"),
            pytest.param({"ab": "c", "d": None}, 3 + (1 + 2 + 1) + (1 + 1 + 1), id="map"),
            pytest.param({"m": [{}]}, 3 + (1 + 1 + (3 + (1 + 3))), id="nested"),
        ],
    )
    def test_value_sizes(self, value: Any, expected: int) -> None:
        """Each type's size follows the Developer Guide rule, plus the 1-byte name "v"."""
        assert 1 + expected == image_size_bytes(serialize_item({"v": value}))

    def test_non_ascii_name_counts_utf8_bytes(self) -> None:
        """Attribute names count their UTF-8 length."""
        assert len("naïve".encode()) + 1 == image_size_bytes(serialize_item({"naïve": "x"}))

    def test_max_item_size_is_400_kib(self) -> None:
        """DynamoDB's item limit is 400 KB with KB = 1024 bytes."""
        expected = 409_600
        assert expected == MAX_ITEM_SIZE_BYTES


class TestSerializeSized:
    """A write serializes and sizes its item in one pass, exactly as the two separate steps."""

    @given(_items)
    def test_equals_serialize_then_size(self, item: dict[str, Any]) -> None:
        """serialize_sized(item) is (serialize_item(item), image_size_bytes of it), every type."""
        image = serialize_item(item)
        assert serialize_sized(item) == (image, image_size_bytes(image))

    @pytest.mark.parametrize(
        "item",
        [
            pytest.param({"pk": "a", "v": "x\ud800"}, id="lone-surrogate-value"),
            pytest.param({"pk": "a", "\udc00": "x"}, id="lone-surrogate-name"),
            pytest.param({"pk": "a", "m": {"k": "\ud800"}}, id="nested-lone-surrogate"),
            pytest.param({"pk": "a", "": "x"}, id="empty-name"),
            pytest.param({"pk": "a", 1: "x"}, id="mixed-name-types"),
        ],
    )
    def test_leaves_the_general_path_what_it_cannot_size(self, item: dict[Any, Any]) -> None:
        """Unencodable strings and bad names give None, so the caller's two steps raise as before."""
        assert serialize_sized(item) is None

    def test_raises_value_errors_as_serialize_item(self) -> None:
        """A value boto3 or DynamoDB refuses raises the same error serialize_item raises."""
        with pytest.raises(TypeError, match="Float types are not supported"):
            serialize_sized({"pk": "a", "f": 1.5})
        with pytest.raises(ValidationException, match="set  may not be empty"):
            serialize_sized({"pk": "a", "s": set()})


class TestImageJsonLen:
    """image_json_len equals the length of the compact JSON rendering."""

    @pytest.mark.parametrize(
        "item",
        [
            pytest.param({}, id="empty-item"),
            pytest.param({"pk": "k123", "n": 5}, id="simple"),
            pytest.param({"s": "", "e": [], "m": {}}, id="empties"),
            pytest.param({"q": 'say "hi" \\ now', "c": "\x00\x1f\x7f\n\t"}, id="quotes-controls"),
            pytest.param({"ü": "é€😀", "k": {"ß", "a"}}, id="non-ascii"),
            pytest.param(
                {"b": b"", "b1": b"x", "b2": b"xy", "b3": b"xyz", "bs": {b"", b"abcd"}}, id="base64"
            ),
            pytest.param(
                {"l": [[], [{}], {"x": [None, False, True]}], "ns": {-1, Decimal("0.25")}},
                id="nested",
            ),
        ],
    )
    def test_examples(self, item: dict[str, Any]) -> None:
        """Hand-picked items: escapes, base64 padding, empties, nesting."""
        image = serialize_item(item)
        assert _json_len(image) == image_json_len(image)

    @settings(max_examples=200)
    @given(_items)
    def test_matches_json_dumps(self, item: dict[str, Any]) -> None:
        """For any item, image_json_len is exactly len(json.dumps(render_image(...)))."""
        image = serialize_item(item)
        assert _json_len(image) == image_json_len(image)

    @settings(max_examples=100)
    @given(st.dictionaries(st.text(min_size=1, max_size=6), st.text(max_size=10), max_size=4))
    def test_matches_json_dumps_with_lone_surrogates(self, item: dict[str, str]) -> None:
        """Even strings json escapes specially (lone surrogates) are counted exactly."""
        image = serialize_item(item)
        assert _json_len(image) == image_json_len(image)


class TestProject:
    """project picks key attributes in the order asked."""

    def test_keeps_given_order(self) -> None:
        """The partition key comes first even when the sort key sorts earlier."""
        image = serialize_item({"sk": 1, "pk": "a", "other": True})
        expected = ("pk", "S", "a", "sk", "N", "1")
        assert expected == project(image, ["pk", "sk"])

    def test_missing_names_are_skipped(self) -> None:
        """Names the image does not hold are left out."""
        image = serialize_item({"pk": "a"})
        expected = ("pk", "S", "a")
        assert expected == project(image, ["pk", "sk"])
