"""
Lambda event filtering for DynamoDB event source mappings (``FilterCriteria``).

This module owns the pattern language (EventBridge's, as Lambda uses it), the
validation of ``FilterCriteria`` at create/update time, and the per-record
decision "send or filter out" (spec section 8). Patterns are compiled once into
closures; :meth:`FilterSet.matches` is then cheap enough to call per record.

Matching is done against the record as Lambda renders it to the function::

    {"eventID": "...", "eventName": "INSERT", "eventSource": "aws:dynamodb",
     "awsRegion": "us-east-1", "dynamodb": {"ApproximateCreationDateTime": 1.7e9,
     "Keys": {"pk": {"S": "a"}}, "NewImage": {...}, ...}, "eventSourceARN": "..."}

so the DynamoDB pitfalls of spec 8 fall out of the record's shape: attribute
values are typed wrappers (``{"N": "101"}`` holds a *string*, so ``numeric``
never matches it), and an attribute name is an intermediate node, not a leaf.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

import attrs

from esm_sim.errors import ConfigError, InvalidParameterValueException

__all__ = ["FilterSet", "compile_filter_criteria"]

# spec 1.6: the one recorded text for a pattern Lambda cannot use (LS-DDB, O).
INVALID_PATTERN_MESSAGE: Final = "Invalid filter pattern definition."

# spec 8: default quota of filters per mapping; raisable to 10 (DG:invocation-eventfiltering, D).
DEFAULT_MAX_FILTERS: Final = 5

_Matcher = Callable[[Mapping[str, Any]], bool]
_Predicate = Callable[[Any], bool]
# A JSON scalar in canonical form: ("s", text) for strings, ("n", text) for numbers,
# ("l", "true"/"false"/"null") for literals. See _record_key for why numbers keep text.
_Key = tuple[str, str]

_NULL_KEY: Final[_Key] = ("l", "null")
_TRUE_KEY: Final[_Key] = ("l", "true")
_FALSE_KEY: Final[_Key] = ("l", "false")

# event-ruler treats "$or" as an ordinary field name when any alternative uses one
# of these as a key, so they cannot name fields inside a "$or" alternative.
_OPERATOR_NAMES: Final = (
    "anything-but",
    "cidr",
    "equals-ignore-case",
    "exists",
    "numeric",
    "prefix",
    "suffix",
    "wildcard",
)


class _PatternError(Exception):
    """Why a pattern was refused; surfaced to AWS callers only as the spec 1.6 text."""


class _Num:
    """A JSON number from a pattern, keeping its source text for equality (spec 8)."""

    __slots__ = ("text", "value")

    def __init__(self, text: str) -> None:
        self.text = text
        self.value = float(text)


def _reject_constant(token: str) -> Any:
    # Python's json accepts NaN/Infinity; JSON (and Lambda) does not.
    msg = f"{token} is not JSON"
    raise _PatternError(msg)


# ---------------------------------------------------------------------------
# Record side: canonical keys and leaf lookup
# ---------------------------------------------------------------------------


def _record_key(value: Any) -> _Key | None:
    """
    Canonical key of a record leaf, or None when it can equal no pattern value.

    spec 8: "Numbers compare by their string form (300 != 300.0 != 3.0e2)", so a
    number is keyed by its JSON text: ``str`` for ints, ``repr`` for floats (what
    ``json.dumps`` writes). bool is tested before int because True is an int.
    """
    if isinstance(value, str):
        return ("s", value)
    if value is None:
        return _NULL_KEY
    if value is True:
        return _TRUE_KEY
    if value is False:
        return _FALSE_KEY
    if isinstance(value, int):
        return ("n", str(value))
    if isinstance(value, float):
        return ("n", repr(value)) if math.isfinite(value) else None
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _descend(node: Any, key: str, out: list[Any]) -> None:
    # EventBridge array semantics: arrays are "crushed out", so a key is looked up
    # in every element of an array met on the way down.
    if isinstance(node, Mapping):
        if key in node:
            out.append(node[key])
    elif isinstance(node, list | tuple):
        for element in node:
            _descend(element, key, out)


def _collect_leaves(node: Any, out: list[Any]) -> None:
    # spec 8: exists (and every other operator) sees leaf nodes only; an object at
    # the end of the path is an intermediate node and counts as absent.
    if isinstance(node, Mapping):
        return
    if isinstance(node, list | tuple):
        for element in node:
            _collect_leaves(element, out)
        return
    out.append(node)


def _leaves(record: Mapping[str, Any], path: tuple[str, ...]) -> list[Any]:
    """The leaf values at ``path`` in ``record``; empty when the field is absent."""
    node: Any = record
    # Fast path: a chain of objects, the usual shape of a stream record.
    for depth, key in enumerate(path):
        if isinstance(node, Mapping):
            if key not in node:
                return []
            node = node[key]
        elif isinstance(node, list | tuple):
            nodes: list[Any] = [node]
            for rest_key in path[depth:]:
                found: list[Any] = []
                for each in nodes:
                    _descend(each, rest_key, found)
                if not found:
                    return found
                nodes = found
            out: list[Any] = []
            for each in nodes:
                _collect_leaves(each, out)
            return out
        else:
            return []
    out = []
    _collect_leaves(node, out)
    return out


# ---------------------------------------------------------------------------
# Pattern side: compiling one pattern into a closure
# ---------------------------------------------------------------------------


def _pattern_key(value: Any) -> _Key:
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, _Num):
        return ("n", value.text)
    if value is None:
        return _NULL_KEY
    if value is True:
        return _TRUE_KEY
    if value is False:
        return _FALSE_KEY
    msg = f"match value must be a string, number, true, false or null, got {value!r}"
    raise _PatternError(msg)


def _string_operand(operator: str, operand: Any) -> str:
    if not isinstance(operand, str):
        msg = f"{operator} operand must be a string, got {operand!r}"
        raise _PatternError(msg)
    return operand


def _string_operands(operator: str, operand: Any) -> tuple[str, ...]:
    """A string, or a non-empty list of strings (the anything-but forms)."""
    if isinstance(operand, list):
        if not operand:
            msg = f"{operator} list must not be empty"
            raise _PatternError(msg)
        return tuple(_string_operand(operator, item) for item in operand)
    return (_string_operand(operator, operand),)


def _prefix_predicate(prefix: str) -> _Predicate:
    return lambda v: isinstance(v, str) and v.startswith(prefix)


def _suffix_predicate(suffix: str) -> _Predicate:
    return lambda v: isinstance(v, str) and v.endswith(suffix)


def _prefix_ignore_case_predicate(prefix: str) -> _Predicate:
    lowered = prefix.lower()
    return lambda v: isinstance(v, str) and v.lower().startswith(lowered)


def _suffix_ignore_case_predicate(suffix: str) -> _Predicate:
    lowered = suffix.lower()
    return lambda v: isinstance(v, str) and v.lower().endswith(lowered)


def _equals_ignore_case_predicate(text: str) -> _Predicate:
    lowered = text.lower()
    return lambda v: isinstance(v, str) and v.lower() == lowered


def _compile_affix(operator: str, operand: Any) -> _Predicate:
    """``prefix`` / ``suffix``: a string, or ``{"equals-ignore-case": string}``."""
    if isinstance(operand, dict):
        if list(operand) != ["equals-ignore-case"]:
            msg = f"{operator} accepts only an equals-ignore-case object, got {operand!r}"
            raise _PatternError(msg)
        text = _string_operand(operator, operand["equals-ignore-case"])
        if operator == "prefix":
            return _prefix_ignore_case_predicate(text)
        return _suffix_ignore_case_predicate(text)
    text = _string_operand(operator, operand)
    return _prefix_predicate(text) if operator == "prefix" else _suffix_predicate(text)


def _none_of(predicates: tuple[_Predicate, ...]) -> _Predicate:
    def predicate(value: Any) -> bool:
        # Explicit loops on the per-record path: no generator per call.
        for each in predicates:  # noqa: SIM110
            if each(value):
                return False
        return True

    return predicate


def _not_in(keys: frozenset[_Key]) -> _Predicate:
    # Membership only; the set is never iterated.
    return lambda v: _record_key(v) not in keys


def _compile_anything_but(operand: Any) -> _Predicate:
    """
    ``anything-but``: a value, a list of values, or a prefix/suffix/equals-ignore-case object.

    event-ruler allows single strings or numbers, and lists that are all strings or
    all numbers. The object forms are EventBridge's; Lambda says it supports
    EventBridge's syntax (LDG-old:invocation-eventfiltering), but none is recorded
    against Lambda. I: accepted.
    """
    if isinstance(operand, dict):
        if len(operand) != 1:
            msg = f"anything-but object must have exactly one key, got {operand!r}"
            raise _PatternError(msg)
        ((inner, inner_operand),) = operand.items()
        texts = _string_operands(inner, inner_operand)
        builders: dict[str, Callable[[str], _Predicate]] = {
            "prefix": _prefix_predicate,
            "suffix": _suffix_predicate,
            "equals-ignore-case": _equals_ignore_case_predicate,
        }
        if inner not in builders:
            msg = f"unsupported anything-but operator {inner!r}"
            raise _PatternError(msg)
        if inner in ("prefix", "suffix") and "" in texts:
            msg = f"anything-but {inner} must not be empty"
            raise _PatternError(msg)
        return _none_of(tuple(builders[inner](text) for text in texts))
    values = operand if isinstance(operand, list) else [operand]
    if not values:
        msg = "anything-but list must not be empty"
        raise _PatternError(msg)
    if not (all(isinstance(v, str) for v in values) or all(isinstance(v, _Num) for v in values)):
        msg = f"anything-but values must be all strings or all numbers, got {operand!r}"
        raise _PatternError(msg)
    return _not_in(frozenset(_pattern_key(v) for v in values))


_LOWER_BOUNDS: Final = (">", ">=")
_UPPER_BOUNDS: Final = ("<", "<=")


def _numeric_operand(value: Any) -> float:
    if not isinstance(value, _Num) or not math.isfinite(value.value):
        msg = f"numeric operand must be a finite number, got {value!r}"
        raise _PatternError(msg)
    return value.value


def _compare(operator: str, value: float, operand: float) -> bool:
    if operator == "=":
        return value == operand
    if operator == ">":
        return value > operand
    if operator == ">=":
        return value >= operand
    if operator == "<":
        return value < operand
    return value <= operand


def _compile_numeric(operand: Any) -> _Predicate:
    """
    ``numeric``: ``[op, n]`` with op in = > >= < <=, or a range ``[">"|">=", a, "<"|"<=", b]``.

    Only JSON numbers match (spec 8): DynamoDB ``N`` values are strings, so they
    never do; ``ApproximateCreationDateTime`` is a number, so it can.
    """
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        msg = f"numeric must be [op, n] or [op, a, op, b], got {operand!r}"
        raise _PatternError(msg)
    first_op = operand[0]
    if first_op not in ("=", *_LOWER_BOUNDS, *_UPPER_BOUNDS):
        msg = f"unknown numeric operator {first_op!r}"
        raise _PatternError(msg)
    terms = [(first_op, _numeric_operand(operand[1]))]
    if len(operand) == 4:
        second_op = operand[2]
        # event-ruler: a range is a lower bound followed by an upper bound, bottom < top.
        if first_op not in _LOWER_BOUNDS or second_op not in _UPPER_BOUNDS:
            msg = f"numeric range must be a lower then an upper bound, got {operand!r}"
            raise _PatternError(msg)
        top = _numeric_operand(operand[3])
        if not terms[0][1] < top:
            msg = f"numeric range bottom must be below top, got {operand!r}"
            raise _PatternError(msg)
        terms.append((second_op, top))
    bounds = tuple(terms)

    def predicate(value: Any) -> bool:
        if not _is_number(value):
            return False
        for op, limit in bounds:  # noqa: SIM110
            if not _compare(op, value, limit):
                return False
        return True

    return predicate


def _field_matcher(
    path: tuple[str, ...],
    exact: frozenset[_Key] | None,
    predicates: tuple[_Predicate, ...],
    *,
    if_present: bool,
    if_absent: bool,
) -> _Matcher:
    """One field: its match values are ORed (spec 8: "values in one array are ORed")."""

    def match(record: Mapping[str, Any]) -> bool:
        values = _leaves(record, path)
        if not values:
            # Only {"exists": false} matches an absent field (or an intermediate node).
            return if_absent
        if if_present:
            return True
        for value in values:
            if exact is not None and _record_key(value) in exact:
                return True
            for predicate in predicates:
                if predicate(value):
                    return True
        return False

    return match


def _compile_field(path: tuple[str, ...], rules: list[Any]) -> _Matcher:
    if not rules:
        msg = f"empty match array at {'.'.join(path)}"
        raise _PatternError(msg)
    keys: list[_Key] = []
    predicates: list[_Predicate] = []
    if_present = False
    if_absent = False
    for rule in rules:
        if not isinstance(rule, dict):
            keys.append(_pattern_key(rule))
            continue
        if len(rule) != 1:
            msg = f"a match expression must have exactly one key, got {rule!r}"
            raise _PatternError(msg)
        ((operator, operand),) = rule.items()
        if operator == "exists":
            if not isinstance(operand, bool):
                msg = f"exists must be true or false, got {operand!r}"
                raise _PatternError(msg)
            if operand:
                if_present = True
            else:
                if_absent = True
        elif operator in ("prefix", "suffix"):
            predicates.append(_compile_affix(operator, operand))
        elif operator == "equals-ignore-case":
            predicates.append(_equals_ignore_case_predicate(_string_operand(operator, operand)))
        elif operator == "anything-but":
            predicates.append(_compile_anything_but(operand))
        elif operator == "numeric":
            predicates.append(_compile_numeric(operand))
        else:
            # I: "wildcard" and "cidr" are EventBridge operators that Lambda's
            # documented list (spec 8) does not include; refused with the rest.
            msg = f"unknown operator {operator!r}"
            raise _PatternError(msg)
    return _field_matcher(
        path,
        frozenset(keys) if keys else None,
        tuple(predicates),
        if_present=if_present,
        if_absent=if_absent,
    )


def _is_or_primitive(value: Any) -> bool:
    # event-ruler reads "$or" as OR only for an array of 2+ objects none of whose
    # keys is an operator name; otherwise "$or" is an ordinary field name.
    return (
        isinstance(value, list)
        and len(value) >= 2
        and all(isinstance(alt, dict) for alt in value)
        and not any(name in alt for alt in value for name in _OPERATOR_NAMES)
    )


def _all_of(matchers: tuple[_Matcher, ...]) -> _Matcher:
    if len(matchers) == 1:
        return matchers[0]

    def match(record: Mapping[str, Any]) -> bool:
        for each in matchers:  # noqa: SIM110
            if not each(record):
                return False
        return True

    return match


def _any_of(matchers: tuple[_Matcher, ...]) -> _Matcher:
    def match(record: Mapping[str, Any]) -> bool:
        for each in matchers:  # noqa: SIM110
            if each(record):
                return True
        return False

    return match


def _compile_object(node: dict[str, Any], prefix: tuple[str, ...]) -> _Matcher:
    """An object node: its fields are ANDed (spec 8), ``$or`` alternatives ORed."""
    if not node:
        # I: an empty object would match everything; EventBridge refuses it at top
        # level, and a nested one is refused the same way here.
        msg = f"empty object at {'.'.join(prefix) or 'top level'}"
        raise _PatternError(msg)
    terms: list[_Matcher] = []
    # Pattern key order (JSON text order) fixes evaluation order: deterministic.
    for key, value in node.items():
        if key == "$or" and _is_or_primitive(value):
            terms.append(_any_of(tuple(_compile_object(alt, prefix) for alt in value)))
        elif isinstance(value, dict):
            terms.append(_compile_object(value, (*prefix, key)))
        elif isinstance(value, list):
            terms.append(_compile_field((*prefix, key), value))
        else:
            msg = f"{'.'.join((*prefix, key))} must be an object or an array, got {value!r}"
            raise _PatternError(msg)
    return _all_of(tuple(terms))


def _compile_pattern(text: str) -> _Matcher:
    try:
        parsed = json.loads(text, parse_int=_Num, parse_float=_Num, parse_constant=_reject_constant)
    except ValueError as err:  # JSONDecodeError is a ValueError
        msg = f"not valid JSON: {err}"
        raise _PatternError(msg) from err
    if not isinstance(parsed, dict):
        msg = "a pattern must be a JSON object"
        raise _PatternError(msg)
    return _compile_object(parsed, ())


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def _invalid_pattern(err: _PatternError) -> InvalidParameterValueException:
    exc = InvalidParameterValueException(INVALID_PATTERN_MESSAGE)
    exc.__cause__ = err
    return exc


def _to_tuple(patterns: Iterable[str]) -> tuple[str, ...]:
    return tuple(patterns)


@attrs.frozen
class FilterSet:
    """
    The compiled filters of one event source mapping.

    A record is sent to the function if any filter matches it; otherwise it is
    filtered out (spec 8, DG:invocation-eventfiltering). Build one with
    :func:`compile_filter_criteria`; constructing it directly also compiles and
    validates ``patterns``.

    Attributes:
        patterns: The original ``Pattern`` strings, in request order.

    .. versionadded:: 0.1.0
    """

    patterns: tuple[str, ...] = attrs.field(converter=_to_tuple)
    _matchers: tuple[_Matcher, ...] = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        if not self.patterns:
            msg = f"patterns={self.patterns!r} must hold at least one pattern"
            raise ConfigError(msg)
        matchers: list[_Matcher] = []
        for text in self.patterns:
            if not isinstance(text, str):
                msg = f"patterns={self.patterns!r} must hold only strings"
                raise ConfigError(msg)
            try:
                matchers.append(_compile_pattern(text))
            except _PatternError as err:
                raise _invalid_pattern(err) from err
        object.__setattr__(self, "_matchers", tuple(matchers))

    def matches(self, record: Mapping[str, Any]) -> bool:
        """
        Whether ``record`` (as Lambda renders it to the function) passes any filter.

        Args:
            record: One stream record, e.g. ``{"eventName": "INSERT", "dynamodb": {...}}``.

        Returns:
            True if at least one filter matches (spec 8: filters are ORed).
        """
        for matcher in self._matchers:  # noqa: SIM110
            if matcher(record):
                return True
        return False


def compile_filter_criteria(
    criteria: Mapping[str, Any] | None, *, max_filters: int = DEFAULT_MAX_FILTERS
) -> FilterSet | None:
    """
    Validate and compile a ``FilterCriteria`` request value.

    Args:
        criteria: ``{"Filters": [{"Pattern": "<json>"}, ...]}`` as sent to
            Create/UpdateEventSourceMapping, or None.
        max_filters: The account's filter quota per mapping (spec 8: default 5,
            raisable to 10).

    Returns:
        None when there is nothing to filter on: ``None``, ``{}`` (which removes
        filtering on update) or ``{"Filters": []}`` (accepted, spec 8); otherwise
        the compiled :class:`FilterSet`.

    Raises:
        InvalidParameterValueException: ``Invalid filter pattern definition.`` for
            a pattern that is not a valid filter pattern (spec 1.6), or too many
            filters for ``max_filters``.
        ConfigError: ``max_filters`` is not a positive int, or ``criteria`` is not
            shaped as the request model says (botocore would refuse it client-side).

    .. versionadded:: 0.1.0
    """
    if not isinstance(max_filters, int) or isinstance(max_filters, bool) or max_filters < 1:
        msg = f"max_filters={max_filters!r} must be a positive int"
        raise ConfigError(msg)
    if criteria is None:
        return None
    if not isinstance(criteria, Mapping):
        msg = f"criteria={criteria!r} must be a mapping like {{'Filters': [...]}}"
        raise ConfigError(msg)
    filters = criteria.get("Filters")
    if filters is None:
        return None
    if not isinstance(filters, Sequence) or isinstance(filters, str | bytes):
        msg = f"criteria['Filters']={filters!r} must be a list"
        raise ConfigError(msg)
    if not filters:
        return None
    if len(filters) > max_filters:
        # I: Lambda refuses more filters than the quota on create/update, but the
        # error text is not recorded (spec 1.6); this wording is ours.
        msg = (
            f"The number of filters ({len(filters)}) exceeds the quota of "
            f"{max_filters} filters per event source mapping."
        )
        raise InvalidParameterValueException(msg)
    patterns: list[str] = []
    for index, entry in enumerate(filters):
        if not isinstance(entry, Mapping):
            msg = (
                f"criteria['Filters'][{index}]={entry!r} must be a mapping like {{'Pattern': ...}}"
            )
            raise ConfigError(msg)
        pattern = entry.get("Pattern")
        if pattern is None:
            # I: Pattern is optional in the model; a filter without one cannot be
            # evaluated, so it is refused as an invalid pattern.
            raise _invalid_pattern(_PatternError(f"Filters[{index}] has no Pattern"))
        if not isinstance(pattern, str):
            msg = f"criteria['Filters'][{index}]['Pattern']={pattern!r} must be a JSON string"
            raise ConfigError(msg)
        patterns.append(pattern)
    return FilterSet(tuple(patterns))
