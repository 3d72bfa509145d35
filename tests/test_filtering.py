"""Tests for esm_sim._mapping.filtering: Lambda event filtering on DynamoDB records (spec 8)."""

from __future__ import annotations

import copy
import json
from typing import Any

import attrs
import pytest

from esm_sim._mapping.filtering import FilterSet, compile_filter_criteria
from esm_sim.errors import ConfigError, InvalidParameterValueException

INVALID_MESSAGE = "Invalid filter pattern definition."

_BASE_RECORD: dict[str, Any] = {
    "eventID": "c4ca4238a0b923820dcc509a6f75849b",
    "eventName": "INSERT",
    "eventVersion": "1.1",
    "eventSource": "aws:dynamodb",
    "awsRegion": "us-east-1",
    "dynamodb": {
        "ApproximateCreationDateTime": 1700000000.0,
        "Keys": {"pk": {"S": "a"}},
        "NewImage": {
            "pk": {"S": "a"},
            "status": {"S": "Active"},
            "region": {"S": "us-west-2"},
            "file": {"S": "photo.png"},
            "empty": {"S": ""},
            "count": {"N": "101"},
            "flag": {"BOOL": True},
            "gone": {"NULL": True},
            "tags": {"SS": ["red", "blue"]},
        },
        "SequenceNumber": "111",
        "SizeBytes": 26,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    },
    "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00",
}


def record(**changes: Any) -> dict[str, Any]:
    """A fresh record; keyword changes replace top-level fields (None deletes)."""
    rec = copy.deepcopy(_BASE_RECORD)
    for key, value in changes.items():
        if value is None:
            del rec[key]
        else:
            rec[key] = value
    return rec


def with_image(**attrs_: Any) -> dict[str, Any]:
    """A record whose NewImage attributes are replaced by ``attrs_`` (None deletes one)."""
    rec = record()
    image = rec["dynamodb"]["NewImage"]
    for name, value in attrs_.items():
        if value is None:
            image.pop(name, None)
        else:
            image[name] = value
    return rec


def fs(*patterns: Any) -> FilterSet:
    """Compile patterns (dicts are JSON-encoded, strings passed as they are)."""
    texts = [p if isinstance(p, str) else json.dumps(p) for p in patterns]
    result = compile_filter_criteria({"Filters": [{"Pattern": t} for t in texts]})
    assert result is not None
    return result


def image(name: str, rules: Any) -> dict[str, Any]:
    """A pattern on one NewImage attribute: {"dynamodb": {"NewImage": {name: rules}}}."""
    return {"dynamodb": {"NewImage": {name: rules}}}


class TestCompileFilterCriteria:
    def test_none_means_no_filtering(self) -> None:
        """No FilterCriteria compiles to None (no filtering)."""
        assert None is compile_filter_criteria(None)

    def test_empty_object_removes_filtering(self) -> None:
        """FilterCriteria {} compiles to None: on update it removes filtering (spec 8)."""
        assert None is compile_filter_criteria({})

    def test_empty_filters_list_is_accepted(self) -> None:
        """FilterCriteria {"Filters": []} is accepted and filters nothing (spec 8)."""
        assert None is compile_filter_criteria({"Filters": []})

    def test_patterns_keep_original_text_in_order(self) -> None:
        """FilterSet.patterns holds the request's pattern strings unchanged, in order."""
        texts = ('{ "eventName" : [ "INSERT" ] }', '{"eventName": ["REMOVE"]}')
        result = compile_filter_criteria({"Filters": [{"Pattern": t} for t in texts]})
        assert result is not None
        assert texts == result.patterns

    def test_filter_set_is_frozen(self) -> None:
        """A compiled FilterSet cannot be changed."""
        result = fs({"eventName": ["INSERT"]})
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            result.patterns = ()  # type: ignore[misc]

    def test_filter_sets_compare_by_patterns(self) -> None:
        """Two FilterSets built from the same pattern strings are equal."""
        assert fs({"eventName": ["INSERT"]}) == fs({"eventName": ["INSERT"]})

    def test_bad_max_filters_is_a_config_error(self) -> None:
        """max_filters must be a positive int, named in the message."""
        with pytest.raises(ConfigError, match=r"^max_filters=0 "):
            compile_filter_criteria(None, max_filters=0)


class TestEquals:
    def test_string_matches_exactly(self) -> None:
        """A string value matches the identical string."""
        assert True is fs(image("status", {"S": ["Active"]})).matches(record())

    def test_string_is_case_sensitive(self) -> None:
        """Strings match character by character, without case folding (spec 8)."""
        assert False is fs(image("status", {"S": ["active"]})).matches(record())

    def test_attribute_type_key_is_required(self) -> None:
        """Omitting the DynamoDB type key ("S") does not match (LS-DDB content_filter_type)."""
        assert False is fs(image("status", ["Active"])).matches(record())

    def test_number_pattern_does_not_equal_n_string(self) -> None:
        """The number 101 does not equal the N attribute's string "101"."""
        assert False is fs(image("count", {"N": [101]})).matches(record())

    def test_n_value_matches_as_string(self) -> None:
        """An N attribute matches its string form, "101" (DG:invocation-eventfiltering example)."""
        assert True is fs(image("count", {"N": ["101"]})).matches(record())

    def test_number_matches_same_string_form(self) -> None:
        """A number pattern matches a record number written the same way."""
        assert True is fs('{"dynamodb": {"SizeBytes": [26]}}').matches(record())

    def test_numbers_compare_by_string_form(self) -> None:
        """Numbers compare by their string form: 26.0 does not equal 26 (spec 8)."""
        assert False is fs('{"dynamodb": {"SizeBytes": [26.0]}}').matches(record())

    def test_float_matches_its_json_form(self) -> None:
        """A float field matches a pattern number written as its JSON form (1700000000.0)."""
        pattern = '{"dynamodb": {"ApproximateCreationDateTime": [1700000000.0]}}'
        assert True is fs(pattern).matches(record())

    def test_boolean_matches_boolean(self) -> None:
        """true matches a BOOL attribute holding true."""
        assert True is fs(image("flag", {"BOOL": [True]})).matches(record())

    def test_boolean_does_not_match_other_value(self) -> None:
        """false does not match a BOOL attribute holding true."""
        assert False is fs(image("flag", {"BOOL": [False]})).matches(record())

    def test_boolean_does_not_equal_one(self) -> None:
        """The literal true does not equal the number 1."""
        rec = record(dynamodb={"SizeBytes": 1})
        assert False is fs('{"dynamodb": {"SizeBytes": [true]}}').matches(rec)


class TestNull:
    def test_null_matches_null_value(self) -> None:
        """[null] matches a field whose value is null."""
        rec = record()
        rec["userIdentity"] = None
        assert True is fs({"userIdentity": [None]}).matches(rec)

    def test_null_does_not_match_absent_field(self) -> None:
        """[null] does not match a field that is absent."""
        assert False is fs({"userIdentity": [None]}).matches(record())

    def test_null_does_not_match_empty_string(self) -> None:
        """[null] does not match an empty string."""
        assert False is fs(image("empty", {"S": [None]})).matches(record())


class TestEmpty:
    def test_empty_string_matches_empty_value(self) -> None:
        """[""] matches a field whose value is the empty string."""
        assert True is fs(image("empty", {"S": [""]})).matches(record())

    def test_empty_string_does_not_match_non_empty_value(self) -> None:
        """[""] does not match a non-empty string."""
        assert False is fs(image("status", {"S": [""]})).matches(record())


class TestPrefix:
    def test_prefix_matches(self) -> None:
        """prefix matches a string that begins with it (LS-DDB prefix_filter)."""
        assert True is fs(image("region", {"S": [{"prefix": "us-"}]})).matches(record())

    def test_prefix_does_not_match(self) -> None:
        """prefix does not match a string that does not begin with it."""
        assert False is fs(image("region", {"S": [{"prefix": "eu-"}]})).matches(record())

    def test_prefix_never_matches_number(self) -> None:
        """prefix works on strings only, never on numbers."""
        pattern = {"dynamodb": {"SizeBytes": [{"prefix": "2"}]}}
        assert False is fs(pattern).matches(record())


class TestSuffix:
    def test_suffix_matches(self) -> None:
        """suffix matches a string that ends with it."""
        assert True is fs(image("file", {"S": [{"suffix": ".png"}]})).matches(record())

    def test_suffix_does_not_match(self) -> None:
        """suffix does not match a string that does not end with it."""
        assert False is fs(image("file", {"S": [{"suffix": ".jpg"}]})).matches(record())


class TestEqualsIgnoreCase:
    def test_equals_ignore_case_matches(self) -> None:
        """equals-ignore-case matches the same string in another case."""
        pattern = image("status", {"S": [{"equals-ignore-case": "ACTIVE"}]})
        assert True is fs(pattern).matches(record())

    def test_equals_ignore_case_does_not_match_other_string(self) -> None:
        """equals-ignore-case does not match a different string."""
        pattern = image("status", {"S": [{"equals-ignore-case": "inactive"}]})
        assert False is fs(pattern).matches(record())


class TestAnythingBut:
    def test_list_matches_other_value(self) -> None:
        """anything-but [..] matches a value not in the list."""
        assert True is fs({"eventName": [{"anything-but": ["REMOVE", "MODIFY"]}]}).matches(record())

    def test_list_does_not_match_listed_value(self) -> None:
        """anything-but [..] does not match a value in the list."""
        assert False is fs({"eventName": [{"anything-but": ["INSERT", "MODIFY"]}]}).matches(
            record()
        )

    def test_single_value_does_not_match_it(self) -> None:
        """anything-but with one value does not match that value."""
        assert False is fs({"eventName": [{"anything-but": "INSERT"}]}).matches(record())

    def test_single_value_matches_other_value(self) -> None:
        """anything-but with one value matches any other value."""
        assert True is fs({"eventName": [{"anything-but": "REMOVE"}]}).matches(record())

    def test_number_list_does_not_match_listed_number(self) -> None:
        """anything-but with numbers does not match a listed number."""
        assert False is fs({"dynamodb": {"SizeBytes": [{"anything-but": [26, 27]}]}}).matches(
            record()
        )

    def test_does_not_match_absent_field(self) -> None:
        """anything-but needs the field to be present."""
        assert False is fs({"userIdentity": [{"anything-but": "x"}]}).matches(record())

    def test_prefix_does_not_match_value_with_prefix(self) -> None:
        """anything-but {prefix} does not match a string that begins with the prefix."""
        pattern = image("region", {"S": [{"anything-but": {"prefix": "us-"}}]})
        assert False is fs(pattern).matches(record())

    def test_prefix_matches_value_without_prefix(self) -> None:
        """anything-but {prefix} matches a string that does not begin with the prefix."""
        pattern = image("region", {"S": [{"anything-but": {"prefix": "eu-"}}]})
        assert True is fs(pattern).matches(record())


class TestNumeric:
    @pytest.mark.parametrize(
        ("rule", "expected"),
        [
            pytest.param(["=", 1700000000], True, id="eq-true"),
            pytest.param(["=", 1700000001], False, id="eq-false"),
            pytest.param([">", 1699999999.5], True, id="gt-true"),
            pytest.param([">", 1700000000], False, id="gt-false"),
            pytest.param([">=", 1700000000], True, id="ge-true"),
            pytest.param([">=", 1700000000.5], False, id="ge-false"),
            pytest.param(["<", 1700000001], True, id="lt-true"),
            pytest.param(["<", 1700000000], False, id="lt-false"),
            pytest.param(["<=", 1700000000], True, id="le-true"),
            pytest.param(["<=", 1699999999], False, id="le-false"),
            pytest.param([">", 0, "<=", 1700000000], True, id="range-true"),
            pytest.param([">", 1700000000, "<=", 1800000000], False, id="range-open-bottom"),
            pytest.param([">=", 1600000000, "<", 1700000000], False, id="range-open-top"),
        ],
    )
    def test_operators_on_approximate_creation_date_time(
        self, rule: list[Any], expected: bool
    ) -> None:
        """numeric works on ApproximateCreationDateTime, a number (LS-DDB date_time_conversion)."""
        pattern = {"dynamodb": {"ApproximateCreationDateTime": [{"numeric": rule}]}}
        assert expected is fs(pattern).matches(record())

    def test_greater_than_zero_matches_creation_time(self) -> None:
        """The recorded pattern numeric [">", 0] on ApproximateCreationDateTime matches."""
        pattern = {"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">", 0]}]}}
        assert True is fs(pattern).matches(record())

    def test_never_matches_n_attribute(self) -> None:
        """numeric never matches a DynamoDB N value, a string (spec 8, LS-DDB numeric_filter)."""
        assert False is fs(image("count", {"N": [{"numeric": [">", 100]}]})).matches(record())

    def test_never_matches_boolean(self) -> None:
        """numeric does not treat true as the number 1."""
        rec = record(dynamodb={"SizeBytes": True})
        pattern = {"dynamodb": {"SizeBytes": [{"numeric": ["=", 1]}]}}
        assert False is fs(pattern).matches(rec)

    def test_anything_but_string_rescues_n_attribute(self) -> None:
        """OR across rules: anything-but "101" fails on N "101" even though numeric also fails."""
        pattern = image("count", {"N": [{"numeric": [">", 100]}, {"anything-but": "101"}]})
        assert False is fs(pattern).matches(record())
        assert True is fs(pattern).matches(with_image(count={"N": "42"}))


class TestExists:
    def test_exists_true_on_leaf_matches_present_attribute(self) -> None:
        """exists true on the type key matches a present attribute (LS-DDB exists_filter_type)."""
        assert True is fs(image("status", {"S": [{"exists": True}]})).matches(record())

    def test_exists_true_on_leaf_does_not_match_absent_attribute(self) -> None:
        """exists true on the type key does not match an absent attribute."""
        rec = with_image(status=None)
        assert False is fs(image("status", {"S": [{"exists": True}]})).matches(rec)

    def test_exists_false_on_leaf_matches_absent_attribute(self) -> None:
        """exists false on the type key matches an absent attribute."""
        rec = with_image(status=None)
        assert True is fs(image("status", {"S": [{"exists": False}]})).matches(rec)

    def test_exists_false_on_leaf_does_not_match_present_attribute(self) -> None:
        """exists false on the type key does not match a present attribute."""
        assert False is fs(image("status", {"S": [{"exists": False}]})).matches(record())

    def test_exists_true_on_intermediate_node_never_matches(self) -> None:
        """exists true on an attribute name (an intermediate node) never matches (spec 8)."""
        assert False is fs(image("status", [{"exists": True}])).matches(record())

    def test_exists_false_on_intermediate_node_matches_present_attribute(self) -> None:
        """exists false on an intermediate node matches a present attribute (spec 8)."""
        assert True is fs(image("status", [{"exists": False}])).matches(record())

    def test_exists_false_on_intermediate_node_matches_absent_attribute(self) -> None:
        """exists false on an intermediate node matches when the attribute is absent too."""
        rec = with_image(status=None)
        assert True is fs(image("status", [{"exists": False}])).matches(rec)

    def test_exists_true_matches_metadata_field(self) -> None:
        """exists true matches a present top-level metadata field."""
        assert True is fs({"awsRegion": [{"exists": True}]}).matches(record())


class TestArrayValues:
    def test_list_field_matches_if_any_element_matches(self) -> None:
        """A list value in the record matches if any element matches (EventBridge arrays)."""
        assert True is fs(image("tags", {"SS": ["blue"]})).matches(record())

    def test_list_field_does_not_match_if_no_element_matches(self) -> None:
        """A list value in the record does not match if no element matches."""
        assert False is fs(image("tags", {"SS": ["green"]})).matches(record())

    def test_objects_inside_lists_are_searched(self) -> None:
        """Objects inside a list (an L attribute) are looked into, as if the list were absent."""
        rec = with_image(items={"L": [{"S": "x"}, {"S": "y"}]})
        assert True is fs(image("items", {"L": {"S": ["y"]}})).matches(rec)


class TestLogic:
    def test_and_across_fields_all_must_match(self) -> None:
        """Fields in one pattern are ANDed: one failing field fails the pattern (spec 8)."""
        pattern = {"eventName": ["INSERT"], "awsRegion": ["eu-west-1"]}
        assert False is fs(pattern).matches(record())

    def test_and_across_fields_matches_when_all_match(self) -> None:
        """Fields in one pattern are ANDed: all matching passes."""
        pattern = {"eventName": ["INSERT"], "dynamodb": {"Keys": {"pk": {"S": ["a"]}}}}
        assert True is fs(pattern).matches(record())

    def test_or_across_values_in_one_array(self) -> None:
        """Values in one array are ORed (spec 8, LS-DDB content_or_filter)."""
        pattern = {"eventName": ["INSERT", "MODIFY"]}
        assert True is fs(pattern).matches(record(eventName="MODIFY"))
        assert False is fs(pattern).matches(record(eventName="REMOVE"))

    def test_or_across_filters(self) -> None:
        """Filters are ORed: a record passes if any filter matches (spec 8)."""
        filters = fs({"eventName": ["REMOVE"]}, {"awsRegion": ["us-east-1"]})
        assert True is filters.matches(record())

    def test_no_filter_matching_filters_out(self) -> None:
        """A record that matches no filter is filtered out."""
        filters = fs({"eventName": ["REMOVE"]}, {"awsRegion": ["eu-west-1"]})
        assert False is filters.matches(record())

    def test_dollar_or_matches_either_alternative(self) -> None:
        """$or matches when any alternative matches."""
        pattern = {"$or": [{"eventName": ["REMOVE"]}, {"awsRegion": ["us-east-1"]}]}
        assert True is fs(pattern).matches(record())

    def test_dollar_or_fails_when_no_alternative_matches(self) -> None:
        """$or fails when no alternative matches."""
        pattern = {"$or": [{"eventName": ["REMOVE"]}, {"awsRegion": ["eu-west-1"]}]}
        assert False is fs(pattern).matches(record())

    def test_dollar_or_is_anded_with_sibling_fields(self) -> None:
        """$or is ANDed with the other fields of its object."""
        pattern = {
            "eventSource": ["aws:kinesis"],
            "$or": [{"eventName": ["INSERT"]}, {"awsRegion": ["us-east-1"]}],
        }
        assert False is fs(pattern).matches(record())

    def test_nested_dollar_or_is_relative_to_its_object(self) -> None:
        """A $or inside a nested object names fields under that object."""
        pattern = {
            "dynamodb": {
                "$or": [
                    {"Keys": {"pk": {"S": ["zzz"]}}},
                    {"StreamViewType": ["NEW_AND_OLD_IMAGES"]},
                ]
            }
        }
        assert True is fs(pattern).matches(record())


class TestMetadataFilters:
    def test_event_name_insert_matches_insert(self) -> None:
        """{"eventName": ["INSERT"]} passes INSERT records (LS-DDB insert_same_entry_twice)."""
        assert True is fs({"eventName": ["INSERT"]}).matches(record())

    def test_event_name_insert_filters_out_modify(self) -> None:
        """{"eventName": ["INSERT"]} filters out MODIFY records."""
        assert False is fs({"eventName": ["INSERT"]}).matches(record(eventName="MODIFY"))

    def test_event_name_and_event_source(self) -> None:
        """eventName and eventSource filters are ANDed (LS-DDB content_multiple_filters)."""
        pattern = {"eventName": ["INSERT"], "eventSource": ["aws:dynamodb"]}
        assert True is fs(pattern).matches(record())
        assert False is fs(pattern).matches(record(eventName="MODIFY"))

    def test_ttl_user_identity_filter(self) -> None:
        """A TTL deletion is selected through userIdentity (DDB-old:time-to-live-ttl-streams)."""
        pattern = {
            "userIdentity": {
                "type": ["Service"],
                "principalId": ["dynamodb.amazonaws.com"],
            }
        }
        ttl = record(
            eventName="REMOVE",
            userIdentity={"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        )
        assert True is fs(pattern).matches(ttl)
        assert False is fs(pattern).matches(record(eventName="REMOVE"))


def _pattern(*, text: str) -> dict[str, Any]:
    return {"Filters": [{"Pattern": text}]}


INVALID_PATTERNS = [
    pytest.param("single-string", id="not-json-single-string"),
    pytest.param('[{"eventName": ["INSERT"=123}]', id="not-json-recorded"),
    pytest.param("", id="empty-string"),
    pytest.param('["INSERT"]', id="top-level-array"),
    pytest.param('"INSERT"', id="top-level-string"),
    pytest.param("{}", id="empty-object"),
    pytest.param('{"dynamodb": {}}', id="empty-nested-object"),
    pytest.param('{"eventName": "INSERT"}', id="leaf-not-array-string"),
    pytest.param('{"eventName": 1}', id="leaf-not-array-number"),
    pytest.param('{"eventName": null}', id="leaf-not-array-null"),
    pytest.param('{"eventName": []}', id="empty-array"),
    pytest.param('{"eventName": [["INSERT"]]}', id="nested-array"),
    pytest.param('{"eventName": [{}]}', id="empty-match-object"),
    pytest.param('{"eventName": [{"regex": "I.*"}]}', id="unknown-operator"),
    pytest.param('{"eventName": [{"wildcard": "I*"}]}', id="wildcard-not-in-lambda"),
    pytest.param('{"eventName": [{"prefix": "I", "suffix": "T"}]}', id="two-operators"),
    pytest.param('{"eventName": [{"prefix": 1}]}', id="prefix-number"),
    pytest.param('{"eventName": [{"prefix": ["I"]}]}', id="prefix-list"),
    pytest.param('{"eventName": [{"suffix": null}]}', id="suffix-null"),
    pytest.param('{"eventName": [{"equals-ignore-case": 1}]}', id="equals-ignore-case-number"),
    pytest.param('{"eventName": [{"exists": "true"}]}', id="exists-string"),
    pytest.param('{"eventName": [{"exists": 1}]}', id="exists-number"),
    pytest.param('{"eventName": [{"anything-but": []}]}', id="anything-but-empty-list"),
    pytest.param('{"eventName": [{"anything-but": ["a", 1]}]}', id="anything-but-mixed-list"),
    pytest.param('{"eventName": [{"anything-but": true}]}', id="anything-but-boolean"),
    pytest.param('{"eventName": [{"anything-but": null}]}', id="anything-but-null"),
    pytest.param(
        '{"eventName": [{"anything-but": {"numeric": [">", 1]}}]}', id="anything-but-numeric"
    ),
    pytest.param(
        '{"eventName": [{"anything-but": {"prefix": ""}}]}', id="anything-but-empty-prefix"
    ),
    pytest.param('{"x": [{"numeric": []}]}', id="numeric-empty"),
    pytest.param('{"x": [{"numeric": 5}]}', id="numeric-not-list"),
    pytest.param('{"x": [{"numeric": [">"]}]}', id="numeric-missing-operand"),
    pytest.param('{"x": [{"numeric": ["!=", 5]}]}', id="numeric-unknown-operator"),
    pytest.param('{"x": [{"numeric": [">", "5"]}]}', id="numeric-string-operand"),
    pytest.param('{"x": [{"numeric": [">", true]}]}', id="numeric-boolean-operand"),
    pytest.param('{"x": [{"numeric": [">", 0, "<="]}]}', id="numeric-range-missing-top"),
    pytest.param('{"x": [{"numeric": ["<", 5, ">", 0]}]}', id="numeric-range-upper-first"),
    pytest.param('{"x": [{"numeric": [">", 5, "<", 1]}]}', id="numeric-range-bottom-above-top"),
    pytest.param('{"x": [{"numeric": ["=", 1, "<", 5]}]}', id="numeric-equals-with-range"),
    pytest.param('{"x": [{"numeric": [">", 0, "<", 5, "<", 6]}]}', id="numeric-too-many-terms"),
    pytest.param('{"x": [{"numeric": [">", NaN]}]}', id="numeric-nan"),
]


class TestInvalidPatterns:
    @pytest.mark.parametrize("text", INVALID_PATTERNS)
    def test_invalid_pattern_is_refused(self, text: str) -> None:
        """A pattern that is not a valid filter pattern raises the recorded text (spec 1.6)."""
        with pytest.raises(InvalidParameterValueException) as info:
            compile_filter_criteria(_pattern(text=text))
        expected_code = "InvalidParameterValueException"
        expected_message = INVALID_MESSAGE
        assert expected_message == info.value.message
        assert expected_code == info.value.response["Error"]["Code"]

    def test_one_bad_filter_refuses_the_whole_criteria(self) -> None:
        """A single invalid pattern among valid ones refuses the whole FilterCriteria."""
        criteria = {"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}, {"Pattern": "{}"}]}
        with pytest.raises(InvalidParameterValueException, match="Invalid filter pattern"):
            compile_filter_criteria(criteria)

    def test_filter_without_pattern_is_refused(self) -> None:
        """A filter with no Pattern is refused as an invalid pattern (I)."""
        with pytest.raises(InvalidParameterValueException) as info:
            compile_filter_criteria({"Filters": [{}]})
        expected_message = INVALID_MESSAGE
        assert expected_message == info.value.message

    def test_pattern_not_a_string_is_a_config_error(self) -> None:
        """A Pattern that is not a string is a ConfigError naming it."""
        with pytest.raises(ConfigError, match=r"\['Pattern'\]=\{'eventName'"):
            compile_filter_criteria({"Filters": [{"Pattern": {"eventName": ["INSERT"]}}]})

    def test_dollar_or_with_one_alternative_is_an_ordinary_field(self) -> None:
        """A $or with one object is not OR but a field holding an unknown operator, so refused."""
        with pytest.raises(InvalidParameterValueException):
            compile_filter_criteria(_pattern(text='{"$or": [{"eventName": ["INSERT"]}]}'))


class TestMaxFilters:
    def test_default_quota_allows_five(self) -> None:
        """Five filters fit the default quota (spec 8)."""
        criteria = {"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}] * 5}
        result = compile_filter_criteria(criteria)
        assert result is not None
        expected = 5
        assert expected == len(result.patterns)

    def test_default_quota_refuses_six(self) -> None:
        """A sixth filter exceeds the default quota of 5 and names count and quota (I)."""
        criteria = {"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}] * 6}
        with pytest.raises(InvalidParameterValueException) as info:
            compile_filter_criteria(criteria)
        expected = (
            "The number of filters (6) exceeds the quota of 5 filters per event source mapping."
        )
        assert expected == info.value.message

    def test_raised_quota_allows_more(self) -> None:
        """A raised quota (up to 10) lets more filters through (spec 8)."""
        criteria = {"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}] * 10}
        result = compile_filter_criteria(criteria, max_filters=10)
        assert result is not None
        expected = 10
        assert expected == len(result.patterns)
