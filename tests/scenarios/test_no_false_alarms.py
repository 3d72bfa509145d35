"""
``esm_sim.invariants.check_all`` accepts every run that follows the documented rules.

Each scenario below is a run the simulator carries out as the spec says; the
invariants must read what the mapping recorded (its verdict per invocation,
under the settings of that moment) rather than judge again, and must allow
what the spec allows (records waiting in an open window). Each scenario first
asserts it reached the situation it is about, then ``check_all`` must pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import esm_sim
from esm_sim.invariants import check_all
from tests.scenarios.helpers import RBIF, build, fates_by_record, nonzero_fate_counts


def first_answer_then(first: Any, then: Any) -> Callable[[dict[str, Any], Any], Any]:
    """A handler answering ``first(event)`` on its first call and ``then`` afterwards."""
    calls: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> Any:
        calls.append(1)
        return first(event) if len(calls) == 1 else then

    return handler


def first_record(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "batchItemFailures": [{"itemIdentifier": event["Records"][0]["dynamodb"]["SequenceNumber"]}]
    }


def window_invocation_without_state() -> esm_sim.Simulation:
    """spec 6.3: an aggregation response without state is a failed invocation, retried."""
    w = build(first_answer_then(lambda e: {}, {"state": {}}), TumblingWindowInSeconds=60)
    w.sim.run_until_idle()
    assert ["failure", "success", "success"] == [i.outcome for i in w.fn.invocations]
    assert {"processed": 1} == nonzero_fate_counts(w.sim, w.uuid)
    return w.sim


def final_invocation_without_state() -> esm_sim.Simulation:
    """spec 6.3: a final response without state is a failed invocation, retried."""
    calls: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> Any:
        if event["isFinalInvokeForWindow"]:
            calls.append(1)
            if len(calls) == 1:
                return {"total": 1}
        return {"state": event["state"]}

    w = build(handler, records=2, TumblingWindowInSeconds=60)
    w.sim.run_until_idle()
    assert ["success", "failure", "success"] == [i.outcome for i in w.fn.invocations]
    assert {"processed": 2} == nonzero_fate_counts(w.sim, w.uuid)
    return w.sim


def open_window_of_a_deleted_mapping() -> esm_sim.Simulation:
    """spec 1.4, 6.3: records aggregated in an open window stay pending when the mapping is deleted."""
    w = build(lambda e, c: {"state": {}}, records=0, TumblingWindowInSeconds=60)
    w.sim.run_for(6)
    w.table.put_item({"pk": "a"})
    w.sim.run_for(2)
    w.sim.lambda_client.delete_event_source_mapping(UUID=w.uuid)
    w.sim.run_until_idle()
    assert 1 == len(w.fn.invocations)
    assert {"pending": 1} == nonzero_fate_counts(w.sim, w.uuid)
    return w.sim


def window_closed_by_a_record() -> esm_sim.Simulation:
    """spec 6.3, I: with tumbling_window_close="record" a window's records wait, idle, for a later record."""
    w = build(
        lambda e, c: {"state": {}},
        TumblingWindowInSeconds=60,
        sim_kwargs={"tumbling_window_close": "record"},
    )
    w.sim.run_until_idle()
    assert w.sim.is_idle()
    assert {"pending": 1} == nonzero_fate_counts(w.sim, w.uuid)
    return w.sim


def rbif_turned_off_after_a_first_record_response() -> esm_sim.Simulation:
    """spec 4, 1.4: a first-record partial response was a failed attempt when sent, whatever a later update says (r08)."""
    w = build(first_answer_then(first_record, None), FunctionResponseTypes=RBIF)
    w.sim.run_until_idle()
    w.sim.lambda_client.update_event_source_mapping(UUID=w.uuid, FunctionResponseTypes=[])
    w.sim.run_until_idle()
    assert ["failure", "success"] == [i.outcome for i in w.fn.invocations]
    assert "ReportBatchItemFailures" not in str(w.mapping().get("FunctionResponseTypes"))
    return w.sim


def rbif_turned_on_after_an_ignored_response() -> esm_sim.Simulation:
    """spec 4, 1.4: item failures ignored without ReportBatchItemFailures stay a success after it is turned on."""
    w = build(first_answer_then(first_record, None), records=1)
    w.sim.run_until_idle()
    w.sim.lambda_client.update_event_source_mapping(UUID=w.uuid, FunctionResponseTypes=RBIF)
    w.sim.run_until_idle()
    w.table.put_item({"pk": "later"})
    w.sim.run_until_idle()
    assert ["success", "success"] == [i.outcome for i in w.fn.invocations]
    assert {"processed": 2} == nonzero_fate_counts(w.sim, w.uuid)
    return w.sim


def non_object_response_failure() -> esm_sim.Simulation:
    """spec 4, 11 row 25, I: under non_object_response="failure" a list response fails and is retried (r08b)."""
    w = build(
        first_answer_then(lambda e: [{"itemIdentifier": "x"}], None),
        FunctionResponseTypes=RBIF,
        sim_kwargs={"non_object_response": "failure"},
    )
    w.sim.run_until_idle()
    assert ["failure", "success"] == [i.outcome for i in w.fn.invocations]
    assert {"processed": 1} == nonzero_fate_counts(w.sim, w.uuid)
    return w.sim


class TestCheckAllHasNoFalseAlarm:
    @pytest.mark.parametrize(
        "scenario",
        [
            pytest.param(window_invocation_without_state, id="spec6.3-aggregation-without-state"),
            pytest.param(final_invocation_without_state, id="spec6.3-final-without-state"),
            pytest.param(
                open_window_of_a_deleted_mapping, id="spec1.4-open-window-deleted-mapping"
            ),
            pytest.param(window_closed_by_a_record, id="spec6.3-I-tumbling-window-close-record"),
            pytest.param(
                rbif_turned_off_after_a_first_record_response, id="spec4-rbif-turned-off-later"
            ),
            pytest.param(rbif_turned_on_after_an_ignored_response, id="spec4-rbif-turned-on-later"),
            pytest.param(non_object_response_failure, id="spec11.25-I-non-object-response-failure"),
        ],
    )
    def test_a_documented_run_passes(self, scenario: Callable[[], esm_sim.Simulation]) -> None:
        """check_all passes on a run that follows the documented rules, and fate_counts agree with the records' fates (spec 3.7, 7.1)."""
        sim = scenario()
        check_all(sim)
        ((uuid, _),) = sim.mappings.items()
        (table,) = sim.tables.values()
        assert fates_by_record(sim, uuid, table) == nonzero_fate_counts(sim, uuid)
