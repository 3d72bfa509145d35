"""Event filtering on a real mapping: what is sent, what is filtered, what is refused (spec 8)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

import esm_sim
from esm_sim.errors import InvalidParameterValueException
from esm_sim.invariants import check_all
from tests.scenarios.helpers import fates_by_record, nonzero_fate_counts


def pattern(obj: Any) -> dict[str, Any]:
    """FilterCriteria holding one pattern."""
    return {"Filters": [{"Pattern": json.dumps(obj)}]}


def new_image(**attrs: Any) -> dict[str, Any]:
    """A pattern on the new image's attributes."""
    return {"dynamodb": {"NewImage": attrs}}


class World:
    """A one-shard table, a function that records the keys it gets, and a mapping."""

    def __init__(
        self,
        criteria: dict[str, Any] | None,
        *,
        mapping: dict[str, Any] | None = None,
        **sim_kwargs: Any,
    ) -> None:
        self.sim = esm_sim.Simulation(seed=0, **sim_kwargs)
        self.table = self.sim.create_table("orders", partition_key="pk")
        self.got: list[str] = []

        def handler(event: dict[str, Any], context: Any) -> None:
            self.got.extend(r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"])

        self.fn = self.sim.create_function("fn", handler)
        params: dict[str, Any] = {
            "FunctionName": "fn",
            "EventSourceArn": self.table.stream_arn,
            "StartingPosition": "TRIM_HORIZON",
        }
        if criteria is not None:
            params["FilterCriteria"] = criteria
        params.update(mapping or {})
        self.uuid = self.sim.lambda_client.create_event_source_mapping(**params)["UUID"]

    def seqs(self) -> list[str]:
        return self.table.shards[0].sequence_numbers

    def outcomes(self) -> dict[str, int]:
        return {k: v for k, v in self.sim.fate_counts(self.uuid).items() if v}


ITEMS: list[dict[str, Any]] = [
    {"pk": "a", "kind": "order", "city": "Paris", "amount": Decimal(101)},
    {"pk": "b", "kind": "refund", "city": "paris", "amount": Decimal(5)},
    {"pk": "c", "kind": "order-x", "city": "Lyon", "note": ""},
    {"pk": "d", "kind": "preorder", "city": "Nice", "gone": None},
    {"pk": "e", "city": "Lille"},
]


class TestFilteredRecords:
    def test_filtered_records_are_never_sent_and_end_filtered(self) -> None:
        """Records that do not match are not sent; their fate is 'filtered', reason FilterCriteria."""
        w = World(pattern(new_image(kind={"S": ["order"]})))
        for i in range(30):
            w.table.put_item({"pk": f"k{i}", "kind": "order" if i % 3 == 0 else "other"})
        w.sim.run_until_idle()
        assert [f"k{i}" for i in range(0, 30, 3)] == w.got
        fates = [w.sim.fate(s) for s in w.seqs()]
        assert [
            ("processed", None) if i % 3 == 0 else ("filtered", "FilterCriteria") for i in range(30)
        ] == [(f.outcome, f.reason) for f in fates]
        assert [] == [f for f in fates if f.outcome == "filtered" and f.deliveries]
        assert {"processed": 10, "filtered": 20} == w.outcomes()

    def test_a_filter_matching_nothing_reaches_idle_without_invoking(self) -> None:
        """Filtered records advance the checkpoint: the mapping goes idle with no invocation."""
        w = World(pattern(new_image(kind={"S": ["never"]})))
        for i in range(40):
            w.sim.call_later(i, w.table.put_item, {"pk": f"k{i}", "kind": "x"})
        w.sim.run_until_idle(max_seconds=300)
        assert [] == w.fn.invocations
        assert {"filtered": 40} == w.outcomes()
        assert w.sim.is_idle()
        assert (
            "No records processed"
            == w.sim.lambda_client.get_event_source_mapping(UUID=w.uuid)["LastProcessingResult"]
        )

    def test_filtered_records_between_matches_keep_order(self) -> None:
        """Matching records after filtered ones are delivered in write order."""
        w = World(pattern({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "keep"}]}}}}))
        for i in range(50):
            w.sim.call_later(i * 0.1, w.table.put_item, {"pk": f"{'keep' if i % 4 else 'drop'}{i}"})
        w.sim.run_until_idle()
        assert [f"keep{i}" for i in range(50) if i % 4] == w.got


class TestEventName:
    def test_insert_only_filter(self) -> None:
        """An eventName filter on INSERT lets through creations only (spec 8, metadata field)."""
        w = World(pattern({"eventName": ["INSERT"]}))
        for k in ("a", "b"):
            w.table.put_item({"pk": k, "v": 1})
            w.table.put_item({"pk": k, "v": 2})  # MODIFY
            w.table.delete_item({"pk": k})  # REMOVE
        w.sim.run_until_idle()
        events = [r["eventName"] for inv in w.fn.invocations for r in inv.event["Records"]]
        assert ["INSERT", "INSERT"] == events
        assert {"processed": 2, "filtered": 4} == w.outcomes()


class TestDynamoDbPitfalls:
    def test_numeric_never_matches_an_n_attribute(self) -> None:
        """numeric on an N attribute never matches: the value is a string (spec 8 pitfall)."""
        w = World(pattern(new_image(amount={"N": [{"numeric": [">", 100]}]})))
        for item in ITEMS:
            w.table.put_item(item)
        w.sim.run_until_idle()
        assert [] == w.got
        assert {"filtered": 5} == w.outcomes()

    def test_an_n_attribute_matches_its_string_form(self) -> None:
        """The same attribute matches when compared as the string it is (spec 8)."""
        w = World(pattern(new_image(amount={"N": ["101"]})))
        for item in ITEMS:
            w.table.put_item(item)
        w.sim.run_until_idle()
        assert ["a"] == w.got

    def test_numeric_matches_approximate_creation_date_time(self) -> None:
        """ApproximateCreationDateTime is a JSON number, so numeric works on it (spec 8)."""
        start = esm_sim.Simulation().now.timestamp()
        cutoff = start + 60
        w = World(
            pattern({"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">=", cutoff]}]}})
        )
        for i in range(10):
            w.sim.call_later(i * 15, w.table.put_item, {"pk": f"k{i}"})  # 0, 15, ..., 135 s
        w.sim.run_until_idle()
        assert [f"k{i}" for i in range(4, 10)] == w.got
        assert {"processed": 6, "filtered": 4} == w.outcomes()

    @pytest.mark.parametrize(
        ("attr_pattern", "expected"),
        [
            ({"city": {"S": [{"exists": True}]}}, ["a", "b", "c", "d", "e"]),
            ({"note": {"S": [{"exists": True}]}}, ["c"]),
            ({"note": {"S": [{"exists": False}]}}, ["a", "b", "d", "e"]),
            ({"note": [{"exists": True}]}, []),
            ({"note": [{"exists": False}]}, ["a", "b", "c", "d", "e"]),
        ],
        ids=[
            "leaf-exists-all",
            "leaf-exists-one",
            "leaf-not-exists",
            "intermediate-exists-never",
            "intermediate-not-exists-always",
        ],
    )
    def test_exists_tests_leaves_only(
        self, attr_pattern: dict[str, Any], expected: list[str]
    ) -> None:
        """exists works on a leaf; on an intermediate node true never and false always matches (spec 8)."""
        w = World(pattern(new_image(**attr_pattern)))
        for item in ITEMS:
            w.table.put_item(item)
        w.sim.run_until_idle()
        assert expected == w.got


class TestOperators:
    @pytest.mark.parametrize(
        ("filter_pattern", "expected"),
        [
            (new_image(kind={"S": ["order", "refund"]}), ["a", "b"]),
            (new_image(kind={"S": [{"prefix": "order"}]}), ["a", "c"]),
            (new_image(kind={"S": [{"suffix": "order"}]}), ["a", "d"]),
            (new_image(city={"S": [{"equals-ignore-case": "PARIS"}]}), ["a", "b"]),
            (new_image(city={"S": [{"anything-but": ["Paris", "Lyon"]}]}), ["b", "d", "e"]),
            (new_image(note={"S": [""]}), ["c"]),
            (new_image(gone={"NULL": [True]}), ["d"]),
            (new_image(kind={"S": ["order"]}, city={"S": ["Paris"]}), ["a"]),
            (new_image(kind={"S": ["order"]}, city={"S": ["Lyon"]}), []),
            (
                {
                    "dynamodb": {
                        "NewImage": {"$or": [{"city": {"S": ["Lille"]}}, {"note": {"S": [""]}}]}
                    }
                },
                ["c", "e"],
            ),
        ],
        ids=[
            "or-values",
            "prefix",
            "suffix",
            "equals-ignore-case",
            "anything-but",
            "empty-string",
            "null-attribute",
            "and-fields",
            "and-fields-no-match",
            "dollar-or",
        ],
    )
    def test_operator_on_a_real_mapping(
        self, filter_pattern: dict[str, Any], expected: list[str]
    ) -> None:
        """Each operator picks the records spec 8 says it does, end to end."""
        w = World(pattern(filter_pattern))
        for item in ITEMS:
            w.table.put_item(item)
        w.sim.run_until_idle()
        assert expected == w.got
        assert len(expected) == w.outcomes().get("processed", 0)

    def test_filters_are_ored(self) -> None:
        """A record is sent when any of the filters matches (spec 8)."""
        w = World(
            {
                "Filters": [
                    {"Pattern": json.dumps(new_image(city={"S": ["Nice"]}))},
                    {"Pattern": json.dumps({"dynamodb": {"Keys": {"pk": {"S": ["a"]}}}})},
                ]
            }
        )
        for item in ITEMS:
            w.table.put_item(item)
        w.sim.run_until_idle()
        assert ["a", "d"] == w.got


def five_filters(n: int) -> dict[str, Any]:
    return {"Filters": [{"Pattern": json.dumps({"eventName": [f"E{i}"]})} for i in range(n)]}


class TestRefused:
    def test_a_sixth_filter_is_refused_at_create(self) -> None:
        """More than 5 filters (the default quota) is refused at create (spec 8)."""
        sim = esm_sim.Simulation(seed=0)
        table = sim.create_table("orders", partition_key="pk")
        sim.create_function("fn", lambda e, c: None)
        with pytest.raises(InvalidParameterValueException):
            sim.lambda_client.create_event_source_mapping(
                FunctionName="fn",
                EventSourceArn=table.stream_arn,
                StartingPosition="TRIM_HORIZON",
                FilterCriteria=five_filters(6),
            )
        assert {} == sim.mappings

    def test_five_filters_are_accepted(self) -> None:
        """Exactly 5 filters is within the quota."""
        w = World(five_filters(5))
        assert 5 == len(
            w.sim.lambda_client.get_event_source_mapping(UUID=w.uuid)["FilterCriteria"]["Filters"]
        )

    def test_a_raised_quota_accepts_a_sixth(self) -> None:
        """With the quota raised to 10, 6 filters are accepted (spec 8)."""
        w = World(five_filters(6), max_filters=10)
        assert 6 == len(
            w.sim.lambda_client.get_event_source_mapping(UUID=w.uuid)["FilterCriteria"]["Filters"]
        )

    def test_a_sixth_filter_is_refused_at_update(self) -> None:
        """An update to 6 filters is refused and the mapping keeps its filters (spec 8)."""
        w = World(five_filters(2))
        w.sim.run_for(10)
        with pytest.raises(InvalidParameterValueException):
            w.sim.lambda_client.update_event_source_mapping(
                UUID=w.uuid, FilterCriteria=five_filters(6)
            )
        got = w.sim.lambda_client.get_event_source_mapping(UUID=w.uuid)
        assert five_filters(2) == got["FilterCriteria"]
        assert "Enabled" == got["State"]

    @pytest.mark.parametrize(
        "bad",
        ["{not json", '{"dynamodb": "x"}', '{"eventName": [{"numeric": ["~", 1]}]}', "[]"],
        ids=["not-json", "leaf-not-a-list", "bad-numeric-operator", "not-an-object"],
    )
    def test_invalid_pattern_is_refused_at_create(self, bad: str) -> None:
        """An invalid pattern is refused with AWS's message (spec 8, 1.6)."""
        sim = esm_sim.Simulation(seed=0)
        table = sim.create_table("orders", partition_key="pk")
        sim.create_function("fn", lambda e, c: None)
        with pytest.raises(InvalidParameterValueException) as info:
            sim.lambda_client.create_event_source_mapping(
                FunctionName="fn",
                EventSourceArn=table.stream_arn,
                StartingPosition="TRIM_HORIZON",
                FilterCriteria={"Filters": [{"Pattern": bad}]},
            )
        assert "Invalid filter pattern definition." == info.value.response["Error"]["Message"]
        assert "InvalidParameterValueException" == info.value.response["Error"]["Code"]

    def test_invalid_pattern_is_refused_at_update(self) -> None:
        """An update with an invalid pattern is refused with the same message (spec 8)."""
        w = World(None)
        w.sim.run_for(10)
        with pytest.raises(InvalidParameterValueException) as info:
            w.sim.lambda_client.update_event_source_mapping(
                UUID=w.uuid, FilterCriteria={"Filters": [{"Pattern": "{oops"}]}
            )
        assert "Invalid filter pattern definition." == info.value.response["Error"]["Message"]


class TestRemovingFilters:
    def test_empty_filter_criteria_on_update_removes_filtering(self) -> None:
        """FilterCriteria {} on update removes filtering: later records are all delivered (spec 8)."""
        w = World(pattern(new_image(kind={"S": ["keep"]})))
        for i in range(10):
            w.table.put_item({"pk": f"before{i}", "kind": "keep" if i < 3 else "drop"})
        w.sim.run_until_idle()
        assert ["before0", "before1", "before2"] == w.got
        w.sim.lambda_client.update_event_source_mapping(UUID=w.uuid, FilterCriteria={})
        w.sim.run_until_idle()
        assert "FilterCriteria" not in w.sim.lambda_client.get_event_source_mapping(UUID=w.uuid)
        for i in range(10):
            w.table.put_item({"pk": f"after{i}", "kind": "keep" if i < 3 else "drop"})
        w.sim.run_until_idle()
        assert [f"after{i}" for i in range(10)] == w.got[3:]
        assert {"processed": 13, "filtered": 7} == w.outcomes()


KEEP = pattern({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "keep"}]}}}})


def filtered_while_a_batching_window_is_open(**sim_kwargs: Any) -> World:
    """keep1, drop1, keep2 written; drop1 filtered, keep1 and keep2 gathered in an open 30 s window."""
    w = World(KEEP, mapping={"MaximumBatchingWindowInSeconds": 30}, **sim_kwargs)
    w.sim.run_for(6)  # Enabled at 5 s
    for key in ("keep1", "drop1", "keep2"):
        w.table.put_item({"pk": key})
    w.sim.run_for(1)
    assert [] == w.got
    assert "filtered" == w.sim.fate(w.seqs()[1]).outcome
    return w


def filter_rows(w: World) -> int:
    """How many records the trace filtered, in all."""
    return sum(e.count for e in w.sim.trace.events(kind="filter", mapping=w.uuid))


class TestAFilteredFateIsFinal:
    @pytest.mark.parametrize(
        ("update", "delivered", "counts"),
        [
            pytest.param(
                {"BatchSize": 50},
                ["keep1", "keep2"],
                {"processed": 2, "filtered": 1},
                id="spec8-same-filter",
            ),
            pytest.param(
                {"FilterCriteria": {}},
                ["keep1", "keep2"],
                {"processed": 2, "filtered": 1},
                id="spec8-filter-removed",
            ),
            pytest.param(
                {"FilterCriteria": pattern({"dynamodb": {"Keys": {"pk": {"S": ["drop1"]}}}})},
                [],  # the gathered keep1, keep2 are read again under the new filter
                {"filtered": 3},
                id="spec8-filter-now-matches-only-it",
            ),
        ],
    )
    def test_an_update_during_a_batching_window_never_refilters_or_delivers_it(
        self, update: dict[str, Any], delivered: list[str], counts: dict[str, int]
    ) -> None:
        """A record once filtered stays filtered when an update re-reads the open window: never traced again nor delivered (spec 8, 1.4)."""
        w = filtered_while_a_batching_window_is_open()
        w.sim.lambda_client.update_event_source_mapping(UUID=w.uuid, **update)
        w.sim.run_until_idle()
        drop1 = w.sim.fate(w.seqs()[1])
        assert ("filtered", "FilterCriteria", ()) == (drop1.outcome, drop1.reason, drop1.deliveries)
        assert delivered == w.got
        assert counts.get("filtered") == filter_rows(w)  # each filtered record traced once
        assert counts == nonzero_fate_counts(w.sim, w.uuid)
        assert fates_by_record(w.sim, w.uuid, w.table) == nonzero_fate_counts(w.sim, w.uuid)
        check_all(w.sim)

    def test_disable_change_filter_enable_never_delivers_it(self) -> None:
        """Disabled during a batching window, filter removed, enabled: the filtered record is not delivered (spec 8, 1.4)."""
        w = filtered_while_a_batching_window_is_open()
        lam = w.sim.lambda_client
        lam.update_event_source_mapping(UUID=w.uuid, Enabled=False)
        w.sim.run_for(10)
        lam.update_event_source_mapping(UUID=w.uuid, FilterCriteria={})
        w.sim.run_for(10)
        lam.update_event_source_mapping(UUID=w.uuid, Enabled=True)
        w.sim.run_until_idle()
        assert ("filtered", ()) == (
            w.sim.fate(w.seqs()[1]).outcome,
            w.sim.fate(w.seqs()[1]).deliveries,
        )
        assert ["keep1", "keep2"] == w.got
        assert 1 == filter_rows(w)
        assert {"processed": 2, "filtered": 1} == nonzero_fate_counts(w.sim, w.uuid)
        assert fates_by_record(w.sim, w.uuid, w.table) == nonzero_fate_counts(w.sim, w.uuid)
        check_all(w.sim)

    def test_filtered_then_past_retention_stays_filtered(self) -> None:
        """A filtered record re-read after a disable past retention stays filtered; only the unsent records expire (spec 8, 7.1)."""
        w = filtered_while_a_batching_window_is_open(retention_hours=0.01)  # 36 s
        lam = w.sim.lambda_client
        lam.update_event_source_mapping(UUID=w.uuid, Enabled=False)
        w.sim.run_for(60)
        lam.update_event_source_mapping(UUID=w.uuid, Enabled=True)
        w.sim.run_until_idle()
        assert ["expired", "filtered", "expired"] == [w.sim.fate(s).outcome for s in w.seqs()]
        assert [] == w.got
        assert {"expired": 2, "filtered": 1} == nonzero_fate_counts(w.sim, w.uuid)
        assert fates_by_record(w.sim, w.uuid, w.table) == nonzero_fate_counts(w.sim, w.uuid)
        check_all(w.sim)


class TestFilterRows:
    def test_each_filter_row_names_a_run_of_neighbours_it_filtered(self) -> None:
        """A record gathered between filtered ones splits their trace row: a row's span holds only records it filtered (spec 8)."""
        w = World(KEEP)
        for key in ("drop1", "drop2", "keep1", "drop3", "keep2", "drop4"):
            w.table.put_item({"pk": key})
        w.sim.run_until_idle()
        assert ["keep1", "keep2"] == w.got
        seqs = w.seqs()
        rows = [
            (e.first_seq, e.last_seq, e.count)
            for e in w.sim.trace.events(kind="filter", mapping=w.uuid)
        ]
        assert [(seqs[0], seqs[1], 2), (seqs[3], seqs[3], 1), (seqs[5], seqs[5], 1)] == rows
        check_all(w.sim)

    def test_a_window_record_filtered_after_its_delivery_is_no_false_alarm(self) -> None:
        """A record delivered into a tumbling window, then filtered when an update re-reads the uncommitted window, keeps every promise (spec 6, 8)."""
        sim = esm_sim.Simulation(seed=0)
        table = sim.create_table("orders", partition_key="pk")
        got: list[str] = []

        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            got.extend(r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"])
            return {"state": {}}

        sim.create_function("fn", handler)
        lam = sim.lambda_client
        uuid = lam.create_event_source_mapping(
            FunctionName="fn",
            EventSourceArn=table.stream_arn,
            StartingPosition="TRIM_HORIZON",
            TumblingWindowInSeconds=60,
            FilterCriteria=KEEP,
        )["UUID"]
        for key in ("drop1", "keep1", "drop2"):
            table.put_item({"pk": key})
        sim.run_for(7)
        assert ["keep1"] == got  # delivered to the open window, not yet committed
        lam.update_event_source_mapping(  # new lanes: the window is read again
            UUID=uuid,
            FilterCriteria=pattern({"dynamodb": {"Keys": {"pk": {"S": ["none"]}}}}),
            ParallelizationFactor=2,
        )
        sim.run_until_idle()
        assert 1 == len(list(sim.trace.events(kind="release", mapping=uuid)))
        seqs = table.shards[0].sequence_numbers
        assert ["filtered"] * 3 == [sim.fate(s).outcome for s in seqs]
        assert {"filtered": 3} == nonzero_fate_counts(sim, uuid)
        check_all(sim)
