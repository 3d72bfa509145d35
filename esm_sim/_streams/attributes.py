"""
DynamoDB attribute values: plain Python in, compact immutable images, Lambda's JSON out.

This module owns the item representation of the whole simulator:

* ``serialize_item`` turns a plain-Python item into an ``Image`` the way boto3's
  resource layer (``boto3/dynamodb/types.py`` ``TypeSerializer``) does, and applies
  the checks DynamoDB applies to the values it stores (number range and precision,
  empty sets);
* an ``Image`` is a tuple of ``(name, type_code, value)`` sorted by name, built only
  from str, bytes, bool and tuples, so it is hashable, immutable, cheap to compare
  ("did this write change anything" is ``old == new``) and invisible to the cyclic GC;
* ``render_image`` builds a fresh AttributeValue map as Lambda delivers it;
* ``image_size_bytes`` and ``image_json_len`` compute sizes once, when a record is
  written, without rendering.

Values per type code: ``S`` str; ``N`` str (DynamoDB's normalised text, plain
notation); ``B`` bytes; ``BOOL`` bool; ``NULL`` True; ``SS`` sorted tuple of str;
``NS`` tuple of normalised str sorted by numeric value; ``BS`` sorted tuple of bytes;
``L`` tuple of ``(type_code, value)``; ``M`` a nested ``Image``.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from decimal import Decimal
from itertools import chain
from json.encoder import encode_basestring_ascii
from typing import Any, TypeAlias

from esm_sim.errors import EsmSimError, ValidationException

__all__ = [
    "MAX_ATTRIBUTE_NAME_BYTES",
    "MAX_ITEM_SIZE_BYTES",
    "MAX_NESTING_LEVELS",
    "Image",
    "ListValue",
    "check_attribute_names",
    "deserialize_image",
    "image_json_len",
    "image_size_bytes",
    "project",
    "render_image",
    "serialize_item",
    "triples",
]

Image: TypeAlias = tuple[Any, ...]
"""
Attributes sorted by name, as one flat tuple: ``(name, type_code, value, name, ...)``.

Flat rather than a tuple of triples: CPython's GC untracks one level of
nested tuples per full collection, so a stored record built of flat images is
left alone after two collections instead of three or four (perf-notes 4.4).
Walk it with :func:`triples`.
"""

ListValue: TypeAlias = tuple[tuple[str, Any], ...]
"""The value of an ``L`` attribute: one ``(type_code, value)`` per element."""


def triples(image: Image) -> Iterator[tuple[str, str, Any]]:
    """The ``(name, type_code, value)`` of each attribute of an Image, in order."""
    # Images are only ever built by this module, whole triples at a time, so the
    # walk needs no strict length check (which would cost more than the walk).
    it = iter(image)
    return zip(it, it, it, strict=False)


# DynamoDB's item size limit, 400 KB with KB = 1024 bytes (DynamoDB Developer Guide,
# "Constraints": Items). The table raises "Item size has exceeded the maximum allowed size".
MAX_ITEM_SIZE_BYTES = 400 * 1024

# DynamoDB's document nesting limit: "up to 32 levels deep" (Developer Guide,
# "Constraints": Nested attribute depth). Measured against AWS by emulator authors
# (nubo-db/dynoxide#110, ExtendDB/extenddb#123): a value inside 31 maps or lists is
# stored, one inside 32 is refused with the message below.
MAX_NESTING_LEVELS = 32
_NESTING_MSG = (
    "Nesting Levels have exceeded supported limits: "
    "Attributes in the item have nested levels beyond supported limit"
)
# Attribute names are 1 to 64 KB (Developer Guide, "Naming rules"); AWS accepts 65535
# bytes and answers 65536 with this text (as measured in ExtendDB/extenddb#365).
MAX_ATTRIBUTE_NAME_BYTES = 65_535
_NAME_TOO_LARGE_MSG = (
    "1 validation error detected: Attribute name is too large, must be less than 65536 bytes"
)

# ---------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------

# DynamoDB numbers: up to 38 significant digits; positive range 1E-130 to
# 9.9999999999999999999999999999999999999E+125, negative range mirrored
# (DynamoDB Developer Guide, "Supported data types": Number).
_MAX_DIGITS = 38
_MAX_ADJUSTED_EXPONENT = 125
_MIN_ADJUSTED_EXPONENT = -130
# Every int strictly inside this bound has at most 38 digits, so ``str(n)`` is
# already DynamoDB's normalised text: the hot path for ints.
_INT_FAST_BOUND = 10**_MAX_DIGITS

_NAN_MSG = "Infinity and NaN not supported"  # boto3 TypeSerializer._serialize_n
_FLOAT_MSG = "Float types are not supported. Use Decimal types instead."  # boto3 _is_number
_DIGITS_MSG = "Attempting to store more than 38 significant digits in a Number"
_OVERFLOW_MSG = (
    "Number overflow. Attempting to store a number with magnitude larger than supported range"
)
_UNDERFLOW_MSG = (
    "Number underflow. Attempting to store a number with magnitude smaller than supported range"
)
# DynamoDB's own text, double space included (seen in SDK issues, e.g.
# aws/aws-sdk-net#3297 "An number set  may not be empty").
_EMPTY_SET_MSG = "One or more parameter values were invalid: An {} set  may not be empty"


def _normalise_decimal(value: Decimal) -> str:
    """Return DynamoDB's text for a number: plain notation, no leading or trailing zeros."""
    if not value.is_finite():
        raise TypeError(_NAN_MSG)
    if value.is_zero():
        # -0 and 0E+5 are both stored as 0.
        return "0"
    sign, digit_tuple, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite, checked above
    all_digits = "".join(map(str, digit_tuple))
    # DynamoDB trims leading and trailing zeros; they are not significant
    # ("Item sizes and formats"), and it answers 1E+100 as 1 followed by 100 zeros
    # (boto/boto3#2500), so the stored text is plain notation.
    coefficient = all_digits.rstrip("0")
    exponent += len(all_digits) - len(coefficient)
    n_digits = len(coefficient)
    if n_digits > _MAX_DIGITS:
        raise ValidationException(_DIGITS_MSG)
    adjusted = exponent + n_digits - 1
    if adjusted > _MAX_ADJUSTED_EXPONENT:
        raise ValidationException(_OVERFLOW_MSG)
    if adjusted < _MIN_ADJUSTED_EXPONENT:
        raise ValidationException(_UNDERFLOW_MSG)
    if exponent >= 0:
        text = coefficient + "0" * exponent
    elif -exponent < n_digits:
        point = n_digits + exponent
        text = coefficient[:point] + "." + coefficient[point:]
    else:
        text = "0." + "0" * (-exponent - n_digits) + coefficient
    return "-" + text if sign else text


def _normalise_number(value: int | Decimal) -> str:
    """Return DynamoDB's text for an int or Decimal (bool counts as int, as in boto3 sets)."""
    if type(value) is int and -_INT_FAST_BOUND < value < _INT_FAST_BOUND:
        return str(value)
    return _normalise_decimal(value if isinstance(value, Decimal) else Decimal(value))


def _number_size(text: str) -> int:
    """
    Return DynamoDB's stored size of a normalised number.

    The Developer Guide ("Item sizes and formats") only says "approximately (1 byte per
    two significant digits) + (1 byte)". The exact rule below is the one used by
    zaccharles/dynamodb-calculator (reverse-engineered from consumed capacity, see the
    author's post "Calculating a DynamoDB item's size and consumed capacity"): the digits
    are grouped in base-100 pairs aligned on the decimal point, zero pairs at either end
    are dropped, and the size is the number of pairs + 1, + 1 more when negative, 0 is
    1 byte, capped at 21. For integers this equals (significant digits + 1) // 2 + 1;
    for fractions alignment can add a byte (1.5 is "01|50": 2 pairs, 3 bytes).
    """
    if text.isdigit():
        # Hot path, a non-negative integer: pairs counted from the right, trailing
        # zero pairs dropped.
        if text == "0":
            return 1
        n_digits = len(text)
        trailing = n_digits - len(text.rstrip("0"))
        return (n_digits + 1) // 2 - trailing // 2 + 1
    negative = text[0] == "-"
    if negative:
        text = text[1:]
    int_part, _, frac_part = text.partition(".")
    if int_part == "0":
        int_part = ""
    if len(int_part) % 2:
        int_part = "0" + int_part
    if len(frac_part) % 2:
        frac_part += "0"
    body = int_part + frac_part
    leading = len(body) - len(body.lstrip("0"))
    trailing = len(body) - len(body.rstrip("0"))
    pairs = len(body) // 2 - leading // 2 - trailing // 2
    return min(pairs + 1 + negative, 21)


# ---------------------------------------------------------------------------
# Serialize: plain Python -> Image (spec 13 "Plain-Python items")
# ---------------------------------------------------------------------------


def _unsupported(value: object) -> TypeError:
    """Build boto3's error for a value of no DynamoDB type."""
    if isinstance(value, (set, frozenset)):
        # boto3 formats the set with str(), whose order follows PYTHONHASHSEED; sort the
        # element reprs so the message is the same in every run.
        inner = ", ".join(sorted(repr(element) for element in value))
        shown = f"{{{inner}}}" if type(value) is set else f"frozenset({{{inner}}})"
    else:
        shown = str(value)
    return TypeError(f'Unsupported type "{type(value)}" for value "{shown}"')


def _check_name(name: object) -> str:
    """Return an attribute name as an exact str, or raise ValidationException."""
    if type(name) is str and name:
        return name
    if isinstance(name, str) and name:
        return str.__str__(name)
    # DynamoDB's exact text for this case was not found; this one names the value.
    msg = (
        "One or more parameter values were invalid: "
        f"an attribute name must be a non-empty string, got name={name!r}"
    )
    raise ValidationException(msg)


def _serialize_set(value: AbstractSet[Any]) -> tuple[str, tuple[Any, ...]]:
    """Serialize a set the way boto3 classifies it: all numbers, all str or all bytes."""
    # Only order-independent questions are asked of the set before it is sorted.
    if any(type(element) is float for element in value):
        # boto3 raises this only if it meets the float before a non-number, which
        # depends on set order; esm_sim raises it whenever a float is present.
        raise TypeError(_FLOAT_MSG)
    if all(isinstance(element, (int, Decimal)) for element in value):
        # An empty set lands here too: boto3 sends it as NS, so DynamoDB answers with
        # the number-set message whatever the user meant.
        if not value:
            raise ValidationException(_EMPTY_SET_MSG.format("number"))
        numbers = [_normalise_number(element) for element in value]
        numbers.sort(key=Decimal)
        return "NS", tuple(numbers)
    if all(isinstance(element, str) for element in value):
        return "SS", tuple(sorted(str.__str__(element) for element in value))
    if all(isinstance(element, (bytes, bytearray)) for element in value):
        return "BS", tuple(sorted(bytes(element) for element in value))
    raise _unsupported(value)


def _serialize_value(value: object, depth: int = 0) -> tuple[str, Any]:
    """
    Return ``(type_code, compact_value)``, checking types in boto3's order.

    ``depth`` is the number of maps and lists around ``value`` in its item.
    """
    kind = type(value)
    if kind is str:
        return "S", value
    if kind is bool:
        return "BOOL", value
    if kind is int or kind is Decimal:
        return "N", _normalise_number(value)  # type: ignore[arg-type]
    if value is None:
        return "NULL", True
    if isinstance(value, (int, Decimal)):
        return "N", _normalise_number(value)
    if isinstance(value, float):
        raise TypeError(_FLOAT_MSG)
    if isinstance(value, str):
        return "S", str.__str__(value)
    if isinstance(value, (bytes, bytearray)):
        return "B", bytes(value)
    if isinstance(value, AbstractSet):
        return _serialize_set(value)
    if isinstance(value, (Mapping, list, tuple)):
        # The values inside are one level deeper; an item's own attributes (depth 0)
        # never need the check, so it lives here rather than in _serialize_map.
        if value and depth + 1 >= MAX_NESTING_LEVELS:
            raise ValidationException(_NESTING_MSG)
        if isinstance(value, Mapping):
            return "M", _serialize_map(value, depth + 1)
        return "L", tuple(_serialize_value(element, depth + 1) for element in value)
    raise _unsupported(value)


def _serialize_map(item: Mapping[Any, Any], depth: int = 0) -> Image:
    """
    Serialize a mapping into an Image sorted by attribute name.

    ``depth`` is the number of maps and lists around its values (0 for an item's
    own attributes); ``_serialize_value`` keeps it below ``MAX_NESTING_LEVELS``
    (a self-referencing value stops there too, rather than recursing for ever).
    """
    try:
        # The common case, flat from the start: names sorted first, values inline.
        # Names of other types (or a mix) fail the sort or the type check below
        # and take the general path, which names the bad one.
        names = sorted(item) if "" not in item else None
    except TypeError:
        names = None
    if names is not None:
        out: list[Any] = []
        append = out.append
        for name in names:
            if type(name) is not str:
                break
            value = item[name]
            kind = type(value)
            append(name)
            if kind is str:
                append("S")
                append(value)
            elif kind is int and -_INT_FAST_BOUND < value < _INT_FAST_BOUND:
                append("N")
                append(str(value))
            else:
                code, compact = _serialize_value(value, depth)
                append(code)
                append(compact)
        else:
            return tuple(out)
    entries: list[tuple[str, str, Any]] = []
    append = entries.append
    for raw_name, value in item.items():
        name = raw_name if type(raw_name) is str and raw_name else _check_name(raw_name)
        kind = type(value)
        # Inline the two commonest types: this runs once per attribute per write.
        if kind is str:
            append((name, "S", value))
        elif kind is int and -_INT_FAST_BOUND < value < _INT_FAST_BOUND:
            append((name, "N", str(value)))
        else:
            code, compact = _serialize_value(value, depth)
            append((name, code, compact))
    # Names in a mapping are unique, so tuple order is name order and values are
    # never compared.
    entries.sort()
    return tuple(chain.from_iterable(entries))


def serialize_item(item: Mapping[str, object]) -> Image:
    """
    Convert a plain-Python item into an Image, as boto3's resource layer does.

    boto3's ``TypeSerializer`` rules (spec 13 "Plain-Python items"): ``str`` -> S,
    ``bool`` -> BOOL, ``int``/``Decimal`` -> N, ``bytes``/``bytearray`` -> B,
    ``None`` -> NULL, ``list``/``tuple`` -> L, any ``Mapping`` -> M, and a set of
    numbers, str or bytes -> NS, SS or BS. DynamoDB's own checks on stored values
    follow: numbers are normalised (``Decimal("1.0")`` -> ``"1"``, ``1E+2`` -> ``"100"``,
    ``-0`` -> ``"0"``) and must fit 38 significant digits and 1E-130..<1E+126 in
    magnitude; sets may not be empty; values nest at most ``MAX_NESTING_LEVELS``
    deep (a value inside 31 maps or lists).

    Args:
        item: attribute name -> plain Python value.

    Returns:
        The item as an Image, sorted by attribute name.

    Raises:
        TypeError: with boto3's text, for a ``float``, an infinite or NaN ``Decimal``,
            a set mixing types, or a value of no DynamoDB type.
        ValidationException: with DynamoDB's text, for an empty set, a number out of
            range or with more than 38 significant digits, values nested too deep, or
            an attribute name that is not a non-empty string.
    """
    return _serialize_map(item)


def serialize_sized(item: Mapping[str, object]) -> tuple[Image, int] | None:
    """
    ``(serialize_item(item), image_size_bytes(...))`` in one pass over the item.

    A write serializes its item and sizes it once (spec 13 "SizeBytes"): each
    name and string is measured as it is placed, never walked again. The result
    is exactly the two functions' result. None when the item needs the general
    path (an attribute name that is not a non-empty exact ``str``, or a string
    UTF-8 cannot encode): the caller then runs them in turn, so every error is
    raised in today's order. Errors of a value (a ``float``, an empty set...)
    are raised here, as ``serialize_item`` raises them.
    """
    if "" in item:
        return None
    try:
        names = sorted(item)
    except TypeError:
        return None
    out: list[Any] = []
    append = out.append
    total = 0
    try:  # a lone surrogate cannot be encoded: the general path reports it
        for name in names:
            if type(name) is not str:
                return None
            value: Any = item[name]
            kind = type(value)
            total += len(name) if name.isascii() else len(name.encode("utf-8"))
            append(name)
            if kind is str:
                append("S")
                append(value)
                total += len(value) if value.isascii() else len(value.encode("utf-8"))
            elif kind is int and -_INT_FAST_BOUND < value < _INT_FAST_BOUND:
                text = str(value)
                append("N")
                append(text)
                total += _number_size(text)
            else:
                code, compact = _serialize_value(value, 0)
                append(code)
                append(compact)
                total += _value_size(code, compact)
    except UnicodeEncodeError:
        return None
    return tuple(out), total


def check_attribute_names(image: Image, operation: str = "") -> None:
    """
    Raise DynamoDB's ValidationException if a name in ``image`` (at any depth) is too large.

    Only an item over ``MAX_ATTRIBUTE_NAME_BYTES`` in size can hold such a name, so
    the table calls this only then.
    """
    for name, code, value in triples(image):
        if len(name) * 4 > MAX_ATTRIBUTE_NAME_BYTES and _utf8_len(name) > MAX_ATTRIBUTE_NAME_BYTES:
            raise ValidationException(_NAME_TOO_LARGE_MSG, operation_name=operation)
        if code == "M":
            check_attribute_names(value, operation)
        elif code == "L":
            for element_code, element in value:
                if element_code in ("M", "L"):
                    check_attribute_names(("", element_code, element), operation)


# ---------------------------------------------------------------------------
# Render: Image -> AttributeValue JSON, as Lambda delivers it (spec 7.3, 13)
# ---------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    """Return the base64 text of raw bytes: binary values travel base64-encoded (spec 13)."""
    return base64.b64encode(data).decode("ascii")


def _render_value(code: str, value: Any) -> dict[str, Any]:
    """Render one compact value as a fresh AttributeValue dict."""
    if code in {"S", "N", "BOOL"}:
        return {code: value}
    if code == "M":
        return {"M": render_image(value)}
    if code == "L":
        return {"L": [_render_value(c, v) for c, v in value]}
    if code == "NULL":
        return {"NULL": True}
    if code == "B":
        return {"B": _b64(value)}
    if code in {"SS", "NS"}:
        return {code: list(value)}
    if code == "BS":
        return {"BS": [_b64(element) for element in value]}
    msg = f"unknown type code {code!r}"
    raise AssertionError(msg)


_INLINE_CODES = frozenset(("S", "N"))


def render_image(image: Image) -> dict[str, dict[str, Any]]:
    """
    Render an Image as the AttributeValue map Lambda delivers in ``dynamodb.NewImage``.

    B and BS values are base64 ASCII strings; SS, NS and BS are lists; NULL is
    ``{"NULL": True}``. The result is JSON-compatible and entirely new on every call,
    because a handler may mutate its event.

    Args:
        image: an Image from ``serialize_item`` or ``project``.

    Returns:
        ``{name: {type_code: value}}`` in the Image's order.
    """
    # A plain loop by index (cheaper than a comprehension's call), with S and N
    # (nearly every value) built inline.
    out: dict[str, Any] = {}
    for i in range(0, len(image), 3):
        code = image[i + 1]
        out[image[i]] = (
            {code: image[i + 2]} if code in _INLINE_CODES else _render_value(code, image[i + 2])
        )
    return out


# ---------------------------------------------------------------------------
# Deserialize: Image -> plain Python, as boto3's TypeDeserializer does
# ---------------------------------------------------------------------------


def _deserialize_value(code: str, value: Any) -> Any:
    """Convert one compact value back to plain Python."""
    if code in {"S", "BOOL", "B"}:
        return value
    if code == "N":
        # Decimal(text) rather than boto3's trapping context: the trapping context raises
        # decimal.Rounded on valid long texts such as 1E+100 (boto/boto3#2500).
        return Decimal(value)
    if code == "NULL":
        return None
    if code == "M":
        return deserialize_image(value)
    if code == "L":
        return [_deserialize_value(c, v) for c, v in value]
    if code == "NS":
        return {Decimal(element) for element in value}
    if code in {"SS", "BS"}:
        return set(value)
    msg = f"unknown type code {code!r}"
    raise AssertionError(msg)


def deserialize_image(image: Image) -> dict[str, Any]:
    """
    Convert an Image back to plain Python, as boto3's ``TypeDeserializer`` does.

    N becomes ``Decimal``, B ``bytes`` (boto3 wraps it in its ``Binary``), SS/NS/BS
    ``set``, L ``list``, M ``dict``, NULL ``None``.

    Args:
        image: an Image.

    Returns:
        A new ``{name: value}`` dict.
    """
    return {name: _deserialize_value(code, value) for name, code, value in triples(image)}


# ---------------------------------------------------------------------------
# Sizes (spec 13 "SizeBytes")
# ---------------------------------------------------------------------------


def _utf8_len(text: str) -> int:
    """Return the UTF-8 length of a string."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _value_size(code: str, value: Any) -> int:
    """Return DynamoDB's size of one value, attribute name not included."""
    if code == "S":
        return _utf8_len(value)
    if code == "N":
        return _number_size(value)
    if code == "B":
        # The raw byte length counts, not the base64 text.
        return len(value)
    if code in {"BOOL", "NULL"}:
        return 1
    if code == "M":
        # 3 bytes per map, plus 1 byte per element.
        return 3 + sum(_utf8_len(name) + 1 + _value_size(c, v) for name, c, v in triples(value))
    if code == "L":
        return 3 + sum(1 + _value_size(c, v) for c, v in value)
    if code == "SS":
        return sum(_utf8_len(element) for element in value)
    if code == "NS":
        return sum(_number_size(element) for element in value)
    if code == "BS":
        return sum(len(element) for element in value)
    msg = f"unknown type code {code!r}"
    raise AssertionError(msg)


def image_size_bytes(image: Image) -> int:
    """
    Return DynamoDB's item size of an Image, in bytes.

    The rule of the Developer Guide page "Item sizes and formats" (spec 13 "SizeBytes"):
    the sum over attributes of the UTF-8 length of the name plus the value's size.
    S is its UTF-8 length; B its raw length; N about one byte per two significant
    digits plus one (see ``_number_size``); BOOL and NULL 1; L and M 3 bytes plus
    1 byte per element plus the elements (and, for M, their names); sets the sum of
    their elements. A stream record's SizeBytes is the sum of this over Keys,
    NewImage and OldImage.

    Args:
        image: an Image.

    Returns:
        The size in bytes.
    """
    total = 0
    # By index, not zip(it, it, it): faster for the usual few attributes, and
    # this runs twice per write.
    for i in range(0, len(image), 3):
        name, code, value = image[i], image[i + 1], image[i + 2]
        total += len(name) if name.isascii() else len(name.encode("utf-8"))
        if code == "S":
            total += len(value) if value.isascii() else len(value.encode("utf-8"))
        elif code == "N":
            total += _number_size(value)
        else:
            total += _value_size(code, value)
    return total


def _json_str_len(text: str) -> int:
    """Return ``len(json.dumps(text))`` with json's default ``ensure_ascii=True``."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return len(text) + 2
    return len(encode_basestring_ascii(text))


def _b64_json_len(n_bytes: int) -> int:
    """Return the JSON length of the quoted base64 text of ``n_bytes`` bytes."""
    return 4 * ((n_bytes + 2) // 3) + 2


def _json_list_len(lengths: int, count: int) -> int:
    """Return the JSON length of a list whose ``count`` elements sum to ``lengths``."""
    return 2 + lengths + (count - 1 if count else 0)


def _value_json_len(code: str, value: Any) -> int:
    """Return the compact JSON length of ``{"<code>":<value>}``."""
    # '{' + '"' + code + '"' + ':' + value + '}'
    base = len(code) + 5
    if code == "S":
        return base + _json_str_len(value)
    if code == "N":
        # Normalised numbers are digits, '-' and '.': no escaping.
        return base + len(value) + 2
    if code == "M":
        return base + image_json_len(value)
    if code == "L":
        return base + _json_list_len(sum(_value_json_len(c, v) for c, v in value), len(value))
    if code == "BOOL":
        return base + (4 if value else 5)
    if code == "NULL":
        return base + 4
    if code == "B":
        return base + _b64_json_len(len(value))
    if code == "SS":
        return base + _json_list_len(sum(_json_str_len(e) for e in value), len(value))
    if code == "NS":
        return base + _json_list_len(sum(len(e) + 2 for e in value), len(value))
    if code == "BS":
        return base + _json_list_len(sum(_b64_json_len(len(e)) for e in value), len(value))
    msg = f"unknown type code {code!r}"
    raise AssertionError(msg)


def image_json_len(image: Image) -> int:
    """
    Return ``len(json.dumps(render_image(image), separators=(",", ":")))`` without rendering.

    Used for payload-size limits; json's default ``ensure_ascii=True`` applies, so a
    non-ASCII character counts as its ``\\uXXXX`` escape.

    Args:
        image: an Image.

    Returns:
        The length, in characters (equal to bytes, the JSON being ASCII).
    """
    total = 2 + (len(image) // 3 - 1 if image else 0)
    it = iter(image)
    for name, code, value in zip(it, it, it, strict=False):
        total += _json_str_len(name) + 1 + _value_json_len(code, value)
    return total


# ---------------------------------------------------------------------------
# Projection
# ---------------------------------------------------------------------------


def project(image: Image, names: Sequence[str]) -> Image:
    """
    Return the sub-image holding just ``names``, in the order given.

    Used for a record's Keys: partition key, then sort key (spec 7.3 ``dynamodb.Keys``).
    Names the image does not hold are skipped.

    Args:
        image: an Image.
        names: attribute names, in the order wanted.

    Returns:
        A new Image; unlike ``serialize_item``'s, its order is ``names``' order.
    """
    out: list[Any] = []
    for wanted in names:
        for entry in triples(image):
            if entry[0] == wanted:
                out.extend(entry)
                break
    return tuple(out)


def key_value_text(value: object) -> str:
    """
    A key value as a stream record's Keys show it: bytes as base64, numbers
    normalised as DynamoDB stores them (7, 7.0 and Decimal("7.0") are "7"),
    anything else as its text. Scripted handlers and fault plans match keys so.
    """
    if isinstance(value, float) and math.isfinite(value):
        value = Decimal(repr(value))  # 7.0 is the N key 7
    if isinstance(value, bytes | bytearray | int | Decimal) and not isinstance(value, bool):
        try:
            code, wire = _serialize_value(value)
        except (TypeError, ValueError, EsmSimError):
            return str(value)  # not a DynamoDB number: matches nothing but its text
        return str(next(iter(_render_value(code, wire).values())))
    return str(value)
