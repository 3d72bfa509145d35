"""Tests for esm_sim._control.client: the boto3-shaped Lambda control plane (spec section 1)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

import esm_sim
from esm_sim._control.client import LambdaClient
from esm_sim._streams.table import Table
from esm_sim.errors import (
    ClientError,
    InvalidParameterValueException,
    ParamValidationError,
    ResourceConflictException,
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
    _declared_class,
)

ACCOUNT = "123456789012"
REGION = "us-east-1"
T2026_S = 1_767_225_600.0

# spec 1.3: exactly these keys in a DynamoDB mapping's Create response (LS-DDB, O).
RESPONSE_KEYS = {
    "BatchSize",
    "BisectBatchOnFunctionError",
    "DestinationConfig",
    "EventSourceArn",
    "EventSourceMappingArn",
    "FunctionArn",
    "FunctionResponseTypes",
    "LastModified",
    "LastProcessingResult",
    "MaximumBatchingWindowInSeconds",
    "MaximumRecordAgeInSeconds",
    "MaximumRetryAttempts",
    "ParallelizationFactor",
    "StartingPosition",
    "State",
    "StateTransitionReason",
    "TumblingWindowInSeconds",
    "UUID",
}


def body(resp: dict[str, Any]) -> dict[str, Any]:
    """An answer without its ResponseMetadata: the operation's output shape alone."""
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


class World:
    """A simulation with two tables and three functions, for control-plane calls."""

    def __init__(self, **sim_kwargs: Any) -> None:
        self.sim = esm_sim.Simulation(seed=0, **sim_kwargs)
        self.table: Table = self.sim.create_table("orders", partition_key="pk")
        self.other: Table = self.sim.create_table("invoices", partition_key="pk")
        for name in ("fa", "fb", "fc"):
            self.sim.create_function(name, lambda e, c: None)
        self.lam: LambdaClient = self.sim.lambda_client

    def create(self, **params: Any) -> dict[str, Any]:
        args: dict[str, Any] = {
            "FunctionName": "fa",
            "EventSourceArn": self.table.stream_arn,
            "StartingPosition": "TRIM_HORIZON",
            **params,
        }
        return self.lam.create_event_source_mapping(
            **{k: v for k, v in args.items() if v is not None}
        )

    def state(self, uuid: str) -> str:
        return str(self.lam.get_event_source_mapping(UUID=uuid)["State"])

    def settled(self, **params: Any) -> str:
        """Create a mapping and let it settle; return its UUID."""
        uuid = str(self.create(**params)["UUID"])
        self.sim.run_for(5)
        return uuid


@pytest.fixture
def world() -> World:
    return World()


class TestCreateResponse:
    """spec 1.3: the Create response for a DynamoDB mapping."""

    def test_exact_key_set(self, world: World) -> None:
        """The response holds exactly the keys of spec 1.3."""
        assert RESPONSE_KEYS == set(body(world.create()))

    def test_key_set_with_filter_and_metrics(self, world: World) -> None:
        """FilterCriteria and MetricsConfig are added only when set."""
        resp = world.create(
            FilterCriteria={"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}]},
            MetricsConfig={"Metrics": ["EventCount"]},
        )
        assert RESPONSE_KEYS | {"FilterCriteria", "MetricsConfig"} == set(body(resp))
        assert {"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}]} == resp["FilterCriteria"]
        assert {"Metrics": ["EventCount"]} == resp["MetricsConfig"]

    def test_defaults(self, world: World) -> None:
        """Unset parameters come back with AWS's defaults and State Creating."""
        resp = world.create()
        assert {
            "BatchSize": 100,
            "MaximumBatchingWindowInSeconds": 0,
            "ParallelizationFactor": 1,
            "MaximumRecordAgeInSeconds": -1,
            "MaximumRetryAttempts": -1,
            "BisectBatchOnFunctionError": False,
            "TumblingWindowInSeconds": 0,
            "FunctionResponseTypes": [],
            "DestinationConfig": {"OnFailure": {}},
            "LastProcessingResult": "No records processed",
            "StateTransitionReason": "User action",
            "State": "Creating",
            "StartingPosition": "TRIM_HORIZON",
            "EventSourceArn": world.table.stream_arn,
            "FunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fa",
        } == {
            k: resp[k]
            for k in resp
            if k not in ("UUID", "EventSourceMappingArn", "LastModified", "ResponseMetadata")
        }

    def test_given_values_echoed(self, world: World) -> None:
        """Given parameters come back as given."""
        dlq = world.sim.create_queue("dlq")
        resp = world.create(
            BatchSize=10,
            MaximumBatchingWindowInSeconds=2,
            MaximumRetryAttempts=2,
            MaximumRecordAgeInSeconds=60,
            BisectBatchOnFunctionError=True,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            DestinationConfig={"OnFailure": {"Destination": dlq.arn}},
            StartingPosition="LATEST",
        )
        assert (
            10,
            2,
            2,
            60,
            True,
            ["ReportBatchItemFailures"],
            {"OnFailure": {"Destination": dlq.arn}},
            "LATEST",
        ) == (
            resp["BatchSize"],
            resp["MaximumBatchingWindowInSeconds"],
            resp["MaximumRetryAttempts"],
            resp["MaximumRecordAgeInSeconds"],
            resp["BisectBatchOnFunctionError"],
            resp["FunctionResponseTypes"],
            resp["DestinationConfig"],
            resp["StartingPosition"],
        )

    def test_uuid_and_arn(self, world: World) -> None:
        """UUID is 36 characters and EventSourceMappingArn is arn:aws:lambda:<region>:<acct>:event-source-mapping:<uuid>."""
        resp = world.create()
        assert 36 == len(resp["UUID"])
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", resp["UUID"]
        )
        assert (
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:{resp['UUID']}"
            == resp["EventSourceMappingArn"]
        )

    def test_last_modified_is_an_aware_datetime_now(self, world: World) -> None:
        """LastModified is a timezone-aware datetime, as boto3 parses it: the virtual time of the call."""
        world.sim.run_for(1.25)
        resp = world.create()
        assert datetime is type(resp["LastModified"])
        assert datetime.fromtimestamp(T2026_S + 1.25, UTC) == resp["LastModified"]

    def test_response_is_a_copy(self, world: World) -> None:
        """Mutating a response does not change the mapping."""
        resp = world.create()
        resp["DestinationConfig"]["OnFailure"]["Destination"] = "x"
        resp["FunctionResponseTypes"].append("x")
        again = world.lam.get_event_source_mapping(UUID=resp["UUID"])
        assert ({"OnFailure": {}}, []) == (
            again["DestinationConfig"],
            again["FunctionResponseTypes"],
        )

    def test_get_matches_create(self, world: World) -> None:
        """Get right after Create returns the same configuration."""
        resp = world.create()
        assert body(resp) == body(world.lam.get_event_source_mapping(UUID=resp["UUID"]))


class TestFunctionArn:
    """spec 1.2: FunctionArn is unqualified unless a qualifier was given."""

    @pytest.mark.parametrize(
        ("name", "arn"),
        [
            ("fa", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fa"),
            (
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fa",
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fa",
            ),
            (f"{ACCOUNT}:function:fa", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fa"),
            ("fa:$LATEST", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fa:$LATEST"),
            (
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fa:$LATEST",
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fa:$LATEST",
            ),
        ],
        ids=["bare-name", "full-arn", "partial-arn", "name-latest", "full-arn-latest"],
    )
    def test_function_arn(self, world: World, name: str, arn: str) -> None:
        """The response's FunctionArn follows the FunctionName's form."""
        assert arn == world.create(FunctionName=name)["FunctionArn"]

    @pytest.mark.parametrize(
        "name",
        [
            "nope",
            "fa:1",
            "fa:prod",
            f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:fa",
            f"arn:aws:lambda:{REGION}:999999999999:function:fa",
            "999999999999:function:fa",
        ],
        ids=[
            "unknown",
            "version-1",
            "alias",
            "other-region",
            "other-account",
            "partial-other-account",
        ],
    )
    def test_function_does_not_exist(self, world: World, name: str) -> None:
        """A function, version or alias not in this simulation is InvalidParameterValueException 'Function does not exist'."""
        with pytest.raises(InvalidParameterValueException) as info:
            world.create(FunctionName=name)
        assert "Function does not exist" == info.value.message
        assert 400 == info.value.response["ResponseMetadata"]["HTTPStatusCode"]


class TestLifecycle:
    """spec 1.4: the state machine on the virtual clock."""

    def test_creating_then_enabled(self, world: World) -> None:
        """A new mapping is Creating until state_transition_delay has passed, then Enabled."""
        uuid = world.create()["UUID"]
        world.sim.run_for(4.999)
        assert "Creating" == world.state(uuid)
        world.sim.run_for(0.001)
        assert "Enabled" == world.state(uuid)

    def test_delay_is_a_setting(self) -> None:
        """state_transition_delay sets how long Creating lasts."""
        w = World(state_transition_delay=60)
        uuid = w.create()["UUID"]
        w.sim.run_for(59)
        assert "Creating" == w.state(uuid)
        w.sim.run_for(1)
        assert "Enabled" == w.state(uuid)

    def test_enabled_false_at_create(self, world: World) -> None:
        """Enabled false at create goes Creating -> Disabled."""
        uuid = world.create(Enabled=False)["UUID"]
        assert "Creating" == world.state(uuid)
        world.sim.run_for(5)
        assert "Disabled" == world.state(uuid)

    def test_disable_then_enable(self, world: World) -> None:
        """Update Enabled false goes Disabling -> Disabled; Enabled true goes Enabling -> Enabled."""
        uuid = world.settled()
        assert (
            "Disabling" == world.lam.update_event_source_mapping(UUID=uuid, Enabled=False)["State"]
        )
        world.sim.run_for(5)
        assert "Disabled" == world.state(uuid)
        assert "Enabling" == world.lam.update_event_source_mapping(UUID=uuid, Enabled=True)["State"]
        world.sim.run_for(5)
        assert "Enabled" == world.state(uuid)

    @pytest.mark.parametrize("enabled", [True, False], ids=["from-enabled", "from-disabled"])
    def test_other_update_goes_through_updating(self, world: World, enabled: bool) -> None:
        """An update of another field goes Updating and back to the state it left."""
        uuid = world.settled(Enabled=enabled)
        resp = world.lam.update_event_source_mapping(UUID=uuid, BatchSize=7)
        assert ("Updating", 7) == (resp["State"], resp["BatchSize"])
        world.sim.run_for(5)
        after = world.lam.get_event_source_mapping(UUID=uuid)
        assert ("Enabled" if enabled else "Disabled", 7) == (after["State"], after["BatchSize"])

    def test_last_modified_moves(self, world: World) -> None:
        """LastModified is set again on an update and on the state change that follows."""
        uuid = world.settled()
        world.sim.run_for(10)
        resp = world.lam.update_event_source_mapping(UUID=uuid, BatchSize=7)
        assert datetime.fromtimestamp(T2026_S + 15, UTC) == resp["LastModified"]
        world.sim.run_for(5)
        assert (
            datetime.fromtimestamp(T2026_S + 20, UTC)
            == world.lam.get_event_source_mapping(UUID=uuid)["LastModified"]
        )

    def test_delete(self, world: World) -> None:
        """Delete returns the configuration as Deleting; once settled Get raises ResourceNotFoundException."""
        uuid = world.settled()
        resp = world.lam.delete_event_source_mapping(UUID=uuid)
        assert ("Deleting", uuid) == (resp["State"], resp["UUID"])
        assert RESPONSE_KEYS == set(body(resp))
        assert "Deleting" == world.state(uuid)
        world.sim.run_for(5)
        with pytest.raises(ResourceNotFoundException) as info:
            world.lam.get_event_source_mapping(UUID=uuid)
        err = info.value
        assert "The resource you requested does not exist." == err.message
        assert "ResourceNotFoundException" == err.response["Error"]["Code"]
        assert 404 == err.response["ResponseMetadata"]["HTTPStatusCode"]
        assert [] == world.lam.list_event_source_mappings()["EventSourceMappings"]

    def test_recreate_after_delete(self, world: World) -> None:
        """Once a mapping is gone, the same (function, stream) can be mapped again."""
        uuid = world.settled()
        world.lam.delete_event_source_mapping(UUID=uuid)
        world.sim.run_for(5)
        assert uuid != world.create()["UUID"]

    @pytest.mark.parametrize("call", ["update", "delete"])
    @pytest.mark.parametrize("state", ["Creating", "Updating", "Deleting", "Enabling", "Disabling"])
    def test_busy_states_refuse(self, world: World, call: str, state: str) -> None:
        """Update or Delete while the mapping is in a transient state raises ResourceInUseException."""
        if state == "Creating":
            uuid = world.create()["UUID"]
        else:
            uuid = world.settled(Enabled=state != "Enabling")
            if state == "Updating":
                world.lam.update_event_source_mapping(UUID=uuid, BatchSize=3)
            elif state == "Deleting":
                world.lam.delete_event_source_mapping(UUID=uuid)
            else:
                world.lam.update_event_source_mapping(UUID=uuid, Enabled=state == "Enabling")
        assert state == world.state(uuid)
        with pytest.raises(ResourceInUseException) as info:
            if call == "update":
                world.lam.update_event_source_mapping(UUID=uuid, BatchSize=9)
            else:
                world.lam.delete_event_source_mapping(UUID=uuid)
        assert ("ResourceInUseException", 400) == (
            info.value.response["Error"]["Code"],
            info.value.response["ResponseMetadata"]["HTTPStatusCode"],
        )

    def test_mapping_processes_after_enabled(self, world: World) -> None:
        """A settled mapping delivers a write to its function."""
        world.settled()
        world.table.put_item({"pk": "a"})
        world.sim.run_until_idle(max_seconds=60)
        assert 1 == len(world.sim.functions["fa"].invocations)

    def test_repoint_function(self, world: World) -> None:
        """Update FunctionName repoints the mapping and its FunctionArn."""
        uuid = world.settled()
        resp = world.lam.update_event_source_mapping(UUID=uuid, FunctionName="fb")
        assert f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fb" == resp["FunctionArn"]

    def test_repoint_onto_mapped_function_conflicts(self, world: World) -> None:
        """Repointing a mapping to a function that already maps the stream is a ResourceConflictException."""
        first = world.settled(FunctionName="fa")
        second = world.settled(FunctionName="fb")
        with pytest.raises(ResourceConflictException) as info:
            world.lam.update_event_source_mapping(UUID=second, FunctionName="fa")
        assert info.value.message.endswith(f"mapping with UUID {first}")


class TestUniqueness:
    """spec 1.5: one mapping per (function, stream)."""

    def test_duplicate_conflicts(self, world: World) -> None:
        """A second mapping of the same function and stream is a ResourceConflictException with AWS's text and HTTP 409."""
        first = world.create()["UUID"]
        with pytest.raises(ResourceConflictException) as info:
            world.create(StartingPosition="LATEST")
        arn = world.table.stream_arn
        assert (
            f'The event source arn (" {arn} ") and function (" fa ") provided mapping already exists. '
            f"Please update or delete the existing mapping with UUID {first}"
        ) == info.value.message
        assert 409 == info.value.response["ResponseMetadata"]["HTTPStatusCode"]
        assert "ResourceConflictException" == info.value.response["Error"]["Code"]

    def test_several_functions_one_stream(self, world: World) -> None:
        """Several mappings with different functions on one stream are allowed."""
        uuids = {world.create(FunctionName=f)["UUID"] for f in ("fa", "fb", "fc")}
        assert 3 == len(uuids)

    def test_one_function_several_streams(self, world: World) -> None:
        """One function may read several streams."""
        a = world.create()["UUID"]
        b = world.create(EventSourceArn=world.other.stream_arn)["UUID"]
        assert a != b


class TestErrors:
    """spec 1.6: every recorded error, byte for byte."""

    @pytest.mark.parametrize(
        ("params", "cls", "message"),
        [
            (
                {"EventSourceArn": None},
                InvalidParameterValueException,
                "Unrecognized event source.",
            ),
            (
                {"StartingPosition": None},
                InvalidParameterValueException,
                "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null.",
            ),
            (
                {"StartingPosition": "invalid"},
                ValidationException,
                "1 validation error detected: Value 'invalid' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]",
            ),
            (
                {"StartingPosition": "AT_TIMESTAMP"},
                InvalidParameterValueException,
                "Unsupported starting position for arn type: {arn}",
            ),
            (
                {
                    "DestinationConfig": {
                        "OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:123456789012:q"}
                    }
                },
                InvalidParameterValueException,
                "Unsupported DestinationConfig parameter for given event source mapping type.",
            ),
            (
                {"FilterCriteria": {"Filters": [{"Pattern": "not json"}]}},
                InvalidParameterValueException,
                "Invalid filter pattern definition.",
            ),
            (
                {"FilterCriteria": {"Filters": [{"Pattern": '{"eventName": "INSERT"}'}]}},
                InvalidParameterValueException,
                "Invalid filter pattern definition.",
            ),
            (
                {"MaximumRecordAgeInSeconds": 30},
                InvalidParameterValueException,
                "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)",
            ),
            (
                {"BatchSize": 10001},
                ValidationException,
                "1 validation error detected: Value '10001' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000",
            ),
            (
                {"FunctionName": "missing"},
                InvalidParameterValueException,
                "Function does not exist",
            ),
            (
                {
                    "EventSourceArn": "arn:aws:dynamodb:us-east-1:123456789012:table/nope/stream/2026-01-01T00:00:00.000"
                },
                InvalidParameterValueException,
                "Stream not found: arn:aws:dynamodb:us-east-1:123456789012:table/nope/stream/2026-01-01T00:00:00.000",
            ),
        ],
        ids=[
            "no-event-source-arn",
            "no-starting-position",
            "invalid-starting-position",
            "at-timestamp",
            "on-success",
            "filter-not-json",
            "filter-not-a-pattern",
            "record-age-30",
            "batch-size-10001",
            "function-does-not-exist",
            "stream-not-found",
        ],
    )
    def test_create_errors(
        self, world: World, params: dict[str, Any], cls: type[ClientError], message: str
    ) -> None:
        """Create answers each invalid request with AWS's exception class, message and status."""
        with pytest.raises(cls) as info:
            world.create(**params)
        expected = message.format(arn=world.table.stream_arn)
        err = info.value
        assert cls is _declared_class(err)  # type() of a botocore twin (errors.py)
        assert expected == err.message
        assert (cls.code, expected, 400) == (
            err.response["Error"]["Code"],
            err.response["Error"]["Message"],
            err.response["ResponseMetadata"]["HTTPStatusCode"],
        )
        assert (
            f"An error occurred ({cls.code}) when calling the CreateEventSourceMapping operation: {expected}"
            == str(err)
        )
        assert [] == world.lam.list_event_source_mappings()["EventSourceMappings"]

    @pytest.mark.parametrize("op", ["get", "update", "delete"])
    def test_unknown_uuid(self, world: World, op: str) -> None:
        """Get, Update and Delete of an unknown UUID raise ResourceNotFoundException (404)."""
        uuid = "14e0db71-5d35-4eb5-b481-8945cf9d10c2"
        call: Callable[[], object] = {
            "get": lambda: world.lam.get_event_source_mapping(UUID=uuid),
            "update": lambda: world.lam.update_event_source_mapping(UUID=uuid, BatchSize=5),
            "delete": lambda: world.lam.delete_event_source_mapping(UUID=uuid),
        }[op]
        with pytest.raises(ResourceNotFoundException) as info:
            call()
        operation = {"get": "Get", "update": "Update", "delete": "Delete"}[
            op
        ] + "EventSourceMapping"
        assert (
            f"An error occurred (ResourceNotFoundException) when calling the {operation} operation: "
            "The resource you requested does not exist."
        ) == str(info.value)
        assert 404 == info.value.response["ResponseMetadata"]["HTTPStatusCode"]

    def test_update_invalid_filter_names_operation(self, world: World) -> None:
        """An invalid filter on update names UpdateEventSourceMapping in the error text."""
        uuid = world.settled()
        with pytest.raises(InvalidParameterValueException) as info:
            world.lam.update_event_source_mapping(
                UUID=uuid, FilterCriteria={"Filters": [{"Pattern": "{"}]}
            )
        assert (
            "An error occurred (InvalidParameterValueException) when calling the "
            "UpdateEventSourceMapping operation: Invalid filter pattern definition."
        ) == str(info.value)

    def test_batch_size_zero_is_client_side(self, world: World) -> None:
        """BatchSize 0 is refused by botocore's client-side minimum check."""
        with pytest.raises(ParamValidationError) as info:
            world.create(BatchSize=0)
        assert (
            "Parameter validation failed:\nInvalid value for parameter BatchSize, value: 0, valid min value: 1"
            == str(info.value)
        )

    def test_message_key_case(self, world: World) -> None:
        """InvalidParameterValue bodies carry 'message'; ResourceNotFound bodies carry 'Message'."""
        with pytest.raises(InvalidParameterValueException) as bad:
            world.create(FunctionName="missing")
        with pytest.raises(ResourceNotFoundException) as missing:
            world.lam.get_event_source_mapping(UUID="14e0db71-5d35-4eb5-b481-8945cf9d10c2")
        assert ("message" in bad.value.response, "Message" in missing.value.response) == (
            True,
            True,
        )
        assert ("User", "User") == (bad.value.response["Type"], missing.value.response["Type"])


class TestUnsupported:
    """Features not simulated raise UnsupportedFeatureError rather than guess; simulated ones are accepted."""

    def test_create_parallelization_accepted(self, world: World) -> None:
        """ParallelizationFactor 2 is simulated: Create accepts it and echoes it."""
        assert 2 == world.create(ParallelizationFactor=2)["ParallelizationFactor"]

    def test_tumbling_window_with_parallelization_accepted(self, world: World) -> None:
        """Tumbling windows with ParallelizationFactor > 1 are simulated: Create echoes both (spec 5, 6)."""
        made = world.create(ParallelizationFactor=2, TumblingWindowInSeconds=60)
        assert (2, 60) == (made["ParallelizationFactor"], made["TumblingWindowInSeconds"])

    def test_update_parallelization_accepted(self, world: World) -> None:
        """Changing ParallelizationFactor by update is simulated: it settles to the new factor (spec 1.4, 5)."""
        uuid = world.settled()
        assert (
            4
            == world.lam.update_event_source_mapping(UUID=uuid, ParallelizationFactor=4)[
                "ParallelizationFactor"
            ]
        )
        world.sim.run_for(10)
        after = world.lam.get_event_source_mapping(UUID=uuid)
        assert ("Enabled", 4) == (after["State"], after["ParallelizationFactor"])

    def test_tumbling_window_accepted(self, world: World) -> None:
        """TumblingWindowInSeconds 60 is now simulated: Create accepts it and echoes it."""
        assert 60 == world.create(TumblingWindowInSeconds=60)["TumblingWindowInSeconds"]


class TestList:
    """spec 1.1: ListEventSourceMappings filters and pages."""

    def test_filter_by_source_and_function(self, world: World) -> None:
        """List filters on EventSourceArn and/or FunctionName."""
        a = world.create(FunctionName="fa")["UUID"]
        b = world.create(FunctionName="fb")["UUID"]
        c = world.create(FunctionName="fa", EventSourceArn=world.other.stream_arn)["UUID"]

        def uuids(**kw: Any) -> list[str]:
            return [
                m["UUID"] for m in world.lam.list_event_source_mappings(**kw)["EventSourceMappings"]
            ]

        assert [a, b, c] == uuids()
        assert [a, b] == uuids(EventSourceArn=world.table.stream_arn)
        assert [a, c] == uuids(FunctionName="fa")
        assert [a, c] == uuids(FunctionName=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fa")
        assert [c] == uuids(FunctionName="fa", EventSourceArn=world.other.stream_arn)

    @pytest.mark.parametrize(
        "params",
        [
            {"FunctionName": "nope"},
            {
                "EventSourceArn": "arn:aws:dynamodb:us-east-1:123456789012:table/x/stream/2026-01-01T00:00:00.000"
            },
        ],
        ids=["unknown-function", "unknown-stream"],
    )
    def test_unknown_is_empty_not_error(self, world: World, params: dict[str, Any]) -> None:
        """Listing an unknown function or stream returns an empty list."""
        world.create()
        assert {"EventSourceMappings": []} == body(world.lam.list_event_source_mappings(**params))

    def test_items_have_response_keys(self, world: World) -> None:
        """Each listed mapping has the same key set as a Create response."""
        world.create()
        assert RESPONSE_KEYS == set(
            world.lam.list_event_source_mappings()["EventSourceMappings"][0]
        )

    def test_paging(self) -> None:
        """MaxItems pages the list; NextMarker continues it; the last page has no NextMarker."""
        w = World()
        for i in range(5):
            w.sim.create_function(f"p{i}", lambda e, c: None)
        created = [w.create(FunctionName=f"p{i}")["UUID"] for i in range(5)]
        seen: list[str] = []
        pages = 0
        params: dict[str, Any] = {"MaxItems": 2}
        while True:
            page = w.lam.list_event_source_mappings(**params)
            pages += 1
            seen += [m["UUID"] for m in page["EventSourceMappings"]]
            if "NextMarker" not in page:
                break
            params = {"MaxItems": 2, "Marker": page["NextMarker"]}
        assert (created, 3) == (seen, pages)

    def test_page_capped_at_100(self) -> None:
        """A page never holds more than 100 mappings, whatever MaxItems says."""
        w = World()
        for i in range(101):
            w.sim.create_function(f"p{i}", lambda e, c: None)
            w.create(FunctionName=f"p{i}")
        page = w.lam.list_event_source_mappings(MaxItems=1000)
        assert 100 == len(page["EventSourceMappings"])
        assert "NextMarker" in page


class TestConcurrency:
    """Put/Get/DeleteFunctionConcurrency (spec 10)."""

    def test_put_get_delete(self, world: World) -> None:
        """Put reserves, Get reads it back, Delete removes it (Get then returns {})."""
        assert {"ReservedConcurrentExecutions": 5} == body(
            world.lam.put_function_concurrency(FunctionName="fa", ReservedConcurrentExecutions=5)
        )
        assert {"ReservedConcurrentExecutions": 5} == body(
            world.lam.get_function_concurrency(FunctionName="fa")
        )
        assert {} == body(world.lam.delete_function_concurrency(FunctionName="fa"))
        assert {} == body(world.lam.get_function_concurrency(FunctionName="fa"))

    def test_get_unset_is_empty(self, world: World) -> None:
        """Get for a function with no reservation returns {}."""
        assert {} == body(world.lam.get_function_concurrency(FunctionName="fb"))

    def test_minimum_unreserved(self, world: World) -> None:
        """Reserving more than the account limit minus 100 is refused with AWS's message."""
        world.lam.put_function_concurrency(FunctionName="fa", ReservedConcurrentExecutions=500)
        with pytest.raises(InvalidParameterValueException) as info:
            world.lam.put_function_concurrency(FunctionName="fb", ReservedConcurrentExecutions=401)
        assert (
            "Specified ReservedConcurrentExecutions for function decreases account's "
            "UnreservedConcurrentExecution below its minimum value of [100]."
        ) == info.value.message
        assert {"ReservedConcurrentExecutions": 400} == body(
            world.lam.put_function_concurrency(FunctionName="fb", ReservedConcurrentExecutions=400)
        )

    def test_replacing_own_reservation_counts_once(self, world: World) -> None:
        """Changing a function's own reservation does not count the old value against the limit."""
        world.lam.put_function_concurrency(FunctionName="fa", ReservedConcurrentExecutions=900)
        assert {"ReservedConcurrentExecutions": 900} == body(
            world.lam.put_function_concurrency(FunctionName="fa", ReservedConcurrentExecutions=900)
        )

    @pytest.mark.parametrize("op", ["put", "get", "delete"])
    def test_unknown_function(self, world: World, op: str) -> None:
        """The concurrency calls on an unknown function raise ResourceNotFoundException naming its ARN."""
        call: Callable[[], object] = {
            "put": lambda: world.lam.put_function_concurrency(
                FunctionName="nope", ReservedConcurrentExecutions=1
            ),
            "get": lambda: world.lam.get_function_concurrency(FunctionName="nope"),
            "delete": lambda: world.lam.delete_function_concurrency(FunctionName="nope"),
        }[op]
        with pytest.raises(ResourceNotFoundException) as info:
            call()
        assert (
            f"Function not found: arn:aws:lambda:{REGION}:{ACCOUNT}:function:nope"
            == info.value.message
        )

    def test_reserved_zero_throttles(self, world: World) -> None:
        """Reserved concurrency 0 stops the function from running: no invocations."""
        world.lam.put_function_concurrency(FunctionName="fa", ReservedConcurrentExecutions=0)
        world.settled()
        world.table.put_item({"pk": "a"})
        world.sim.run_for(30)
        assert 0 == len(world.sim.functions["fa"].invocations)
        assert world.sim.trace.events(kind="throttle")


class TestClientErrorStr:
    """Errors read as botocore's."""

    def test_str(self) -> None:
        """str(err) is 'An error occurred (Code) when calling the Op operation: msg'."""
        err = ResourceConflictException("boom", operation_name="CreateEventSourceMapping")
        assert (
            "An error occurred (ResourceConflictException) when calling the CreateEventSourceMapping operation: boom"
            == str(err)
        )
