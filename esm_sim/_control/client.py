"""
The Lambda control plane for event source mappings, in boto3's shapes.

``sim.lambda_client`` answers as a boto3 Lambda client does: the same method
and parameter names, plain-dict responses with the exact key set of a DynamoDB
mapping (spec 1.3), and errors from ``esm_sim.errors`` with AWS's codes and
messages (spec 1.6). State changes take effect on the virtual clock (spec 1.4).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from esm_sim._control.lifecycle import MappingLifecycle
from esm_sim._engine.rng import Rng
from esm_sim._engine.timefmt import epoch_seconds_float
from esm_sim._lambda.concurrency import Concurrency
from esm_sim._lambda.validation import check_request
from esm_sim._mapping import advice
from esm_sim._mapping.config import MappingConfig
from esm_sim._mapping.filtering import FilterSet, compile_filter_criteria
from esm_sim._mapping.runtime import MappingPorts, MappingRuntime
from esm_sim._streams.table import Table
from esm_sim.errors import (
    ClientError,
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceInUseException,
    ResourceNotFoundException,
    UnsupportedFeatureError,
)

if TYPE_CHECKING:
    from esm_sim._lambda.function import Function

NOT_FOUND = "The resource you requested does not exist."  # spec 1.6

# The members of UpdateEventSourceMappingRequest that change a DynamoDB mapping.
_UPDATABLE = (
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "ParallelizationFactor",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "DestinationConfig",
    "TumblingWindowInSeconds",
    "FunctionResponseTypes",
    "FilterCriteria",
    "KMSKeyArn",
    "MetricsConfig",
)

# spec 1.3: the key order of a real Create response (as recorded), for readability.
_RESPONSE_KEYS = (
    "UUID",
    "StartingPosition",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "ParallelizationFactor",
    "EventSourceArn",
    "FilterCriteria",
    "FunctionArn",
    "LastModified",
    "LastProcessingResult",
    "State",
    "StateTransitionReason",
    "DestinationConfig",
    "KMSKeyArn",
    "MetricsConfig",
    "FunctionResponseTypes",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "TumblingWindowInSeconds",
    "EventSourceMappingArn",
)


@attrs.frozen(kw_only=True)
class ControlPorts:
    """What the control plane needs from the simulation around it, and nothing more."""

    region: str
    account_id: str
    max_filters: int
    now_ms: Callable[[], int]
    # The simulation's registries, read (and, for mappings, written) in place;
    # functions by name through a lookup (a template re-keys the dict it keeps).
    function: Callable[[str], Function | None]
    tables_by_stream_arn: Mapping[str, Table]
    mappings: dict[str, MappingRuntime]
    concurrency: Concurrency
    ids: Rng  # mapping UUIDs
    rng: Rng  # each mapping's own seeded ids: rng.child(f"mapping/{uuid}")
    mapping_ports: MappingPorts
    lifecycle: MappingLifecycle


class LambdaClient:
    """A boto3-shaped Lambda client bound to one simulation."""

    def __init__(self, ports: ControlPorts) -> None:
        self._sim = ports

    # -- helpers -----------------------------------------------------------------------

    def _function(self, name: str, operation: str) -> tuple[Function, str]:
        """Resolve a FunctionName (name, name:qualifier, partial or full ARN) to (fn, arn)."""
        sim = self._sim
        base, qualifier = name, None
        # Only this simulation's account and region hold functions: an ARN that
        # names another one names a function that does not exist here.
        elsewhere = False
        if base.startswith("arn:"):
            parts = base.split(":")
            # arn:aws:lambda:region:account:function:name[:qualifier]
            elsewhere = parts[1:6] != ["aws", "lambda", sim.region, sim.account_id, "function"]
            base = parts[6] if len(parts) > 6 else ""
            qualifier = parts[7] if len(parts) > 7 else None
        elif ":function:" in base:
            parts = base.split(":")  # account:function:name[:qualifier]
            elsewhere = parts[0] != sim.account_id
            base = parts[2] if len(parts) > 2 else ""
            qualifier = parts[3] if len(parts) > 3 else None
        elif ":" in base:
            base, qualifier = base.split(":", 1)
        fn = None if elsewhere else sim.function(base)
        # The simulator has only $LATEST; other versions and aliases do not exist.
        if fn is None or qualifier not in (None, "$LATEST"):
            # spec 11 row 20: AWS answers InvalidParameterValueException here.
            raise InvalidParameterValueException(
                "Function does not exist", operation_name=operation
            )
        # spec 1.2: the response keeps the qualifier only when one was given.
        arn = fn.arn if qualifier is None else f"{fn.arn}:{qualifier}"
        return fn, arn

    def _filters(self, criteria: Any, operation: str) -> FilterSet | None:
        """Compile FilterCriteria, naming ``operation`` in any error (spec 1.6, 8)."""
        try:
            filters = compile_filter_criteria(criteria, max_filters=self._sim.max_filters)
        except ClientError as exc:
            if exc.operation_name:
                raise
            # The compiler does not know the operation; the caller's str() must name it.
            raise type(exc)(exc.message, operation_name=operation) from None
        advice.check_filters(filters, operation)  # UnmatchableFilterWarning
        return filters

    def _check_unique(
        self, table: Any, fn: Function, source_arn: str, operation: str, skip: str = ""
    ) -> None:
        """spec 1.5: one mapping per (function, stream); the blanks in the text are AWS's."""
        for other in self._sim.mappings.values():
            if (
                other.uuid != skip
                and other.table is table
                and other.function is fn
                and other.fields["State"] != "_gone"
            ):
                raise ResourceConflictException(
                    f'The event source arn (" {source_arn} ") and function (" {fn.name} ") '
                    "provided mapping already exists. Please update or delete the existing "
                    f"mapping with UUID {other.uuid}",
                    operation_name=operation,
                )

    def _mapping(self, uuid: object, operation: str) -> MappingRuntime:
        mapping = self._sim.mappings.get(uuid) if isinstance(uuid, str) else None
        if mapping is None or mapping.fields["State"] == "_gone":
            raise ResourceNotFoundException(NOT_FOUND, operation_name=operation)
        return mapping

    def _response(self, mapping: MappingRuntime) -> dict[str, Any]:
        fields = mapping.fields
        return {k: copy.deepcopy(fields[k]) for k in _RESPONSE_KEYS if k in fields}

    def _touch(self, mapping: MappingRuntime) -> None:
        mapping.fields["LastModified"] = epoch_seconds_float(self._sim.now_ms())

    # -- event source mappings ---------------------------------------------------------

    def create_event_source_mapping(self, **params: Any) -> dict[str, Any]:
        """CreateEventSourceMapping (spec 1.1-1.6). Returns the configuration, State Creating."""
        op = "CreateEventSourceMapping"
        sim = self._sim
        check_request(op, params, max_filters=sim.max_filters)
        source_arn: str = params["EventSourceArn"]
        if source_arn.startswith(("arn:aws:kinesis:", "arn:aws:sqs:")):
            msg = f"EventSourceArn={source_arn!r}: esm_sim simulates DynamoDB Streams sources only"
            raise UnsupportedFeatureError(msg)
        fn, function_arn = self._function(params["FunctionName"], op)
        table = sim.tables_by_stream_arn.get(source_arn)
        if table is None:
            raise InvalidParameterValueException(
                f"Stream not found: {source_arn}", operation_name=op
            )
        self._check_unique(table, fn, source_arn, op)
        filters = self._filters(params.get("FilterCriteria"), op)
        self._check_supported(params)
        uuid = sim.ids.uuid()
        destination = (params.get("DestinationConfig") or {}).get("OnFailure", {})
        fields: dict[str, Any] = {
            "UUID": uuid,
            "StartingPosition": params["StartingPosition"],
            "BatchSize": params.get("BatchSize", 100),
            "MaximumBatchingWindowInSeconds": params.get("MaximumBatchingWindowInSeconds", 0),
            "ParallelizationFactor": params.get("ParallelizationFactor", 1),
            "EventSourceArn": source_arn,
            "FunctionArn": function_arn,
            "LastModified": epoch_seconds_float(sim.now_ms()),
            "LastProcessingResult": "No records processed",
            "State": "Creating",
            "StateTransitionReason": "User action",  # spec 11 row 15
            # spec 11 row 13: {"OnFailure": {}} when unset.
            "DestinationConfig": {
                "OnFailure": dict(destination) if destination.get("Destination") else {}
            },
            "FunctionResponseTypes": list(params.get("FunctionResponseTypes", [])),
            "MaximumRecordAgeInSeconds": params.get("MaximumRecordAgeInSeconds", -1),
            "BisectBatchOnFunctionError": params.get("BisectBatchOnFunctionError", False),
            "MaximumRetryAttempts": params.get("MaximumRetryAttempts", -1),
            "TumblingWindowInSeconds": params.get("TumblingWindowInSeconds", 0),
            "EventSourceMappingArn": (
                f"arn:aws:lambda:{sim.region}:{sim.account_id}:event-source-mapping:{uuid}"
            ),
        }
        if filters is not None or params.get("FilterCriteria"):
            fields["FilterCriteria"] = copy.deepcopy(params["FilterCriteria"])
        if params.get("KMSKeyArn"):
            fields["KMSKeyArn"] = params["KMSKeyArn"]
        if params.get("MetricsConfig"):
            fields["MetricsConfig"] = copy.deepcopy(params["MetricsConfig"])
        mapping = MappingRuntime(
            sim.mapping_ports,
            uuid=uuid,
            arn=fields["EventSourceMappingArn"],
            fields=fields,
            function=fn,
            table=table,
            config=MappingConfig.from_fields(fields, filters),
            rng=sim.rng.child(f"mapping/{uuid}"),
        )
        mapping.enabled_intent = params.get("Enabled", True)
        sim.mappings[uuid] = mapping
        sim.lifecycle.set_state(mapping, "Creating")
        # spec 1.4: Creating settles to Enabled (or Disabled) after a delay.
        sim.lifecycle.settle_later(mapping)
        return self._response(mapping)

    def _check_supported(self, params: dict[str, Any], current_factor: int | None = None) -> None:
        factor = params.get("ParallelizationFactor", 1)
        if current_factor is not None and factor != current_factor:
            msg = (
                f"ParallelizationFactor={factor!r}: changing the factor of an existing "
                f"mapping (now {current_factor}) is not simulated; delete and re-create it"
            )
            raise UnsupportedFeatureError(msg)
        window = params.get("TumblingWindowInSeconds", 0)
        if window and factor != 1:
            # I: AWS documents no answer; windows keep one state per shard (spec 6.1).
            msg = (
                f"TumblingWindowInSeconds={window!r} with ParallelizationFactor={factor!r}: "
                "tumbling windows keep one state per shard; esm_sim simulates them with "
                "ParallelizationFactor 1 only"
            )
            raise UnsupportedFeatureError(msg)

    def get_event_source_mapping(self, **params: Any) -> dict[str, Any]:
        """GetEventSourceMapping."""
        op = "GetEventSourceMapping"
        check_request(op, params)
        return self._response(self._mapping(params["UUID"], op))

    def list_event_source_mappings(self, **params: Any) -> dict[str, Any]:
        """ListEventSourceMappings, filtered by EventSourceArn and/or FunctionName; 100 a page."""
        op = "ListEventSourceMappings"
        check_request(op, params)
        sim = self._sim
        source_arn = params.get("EventSourceArn")
        fn = None
        if "FunctionName" in params:
            try:
                fn, _ = self._function(params["FunctionName"], op)
            except InvalidParameterValueException:
                # spec 1.1: listing a function that does not exist is not an error.
                return {"EventSourceMappings": []}
        selected = [
            m
            for m in sim.mappings.values()
            if m.fields["State"] != "_gone"
            and (source_arn is None or m.table.stream_arn == source_arn)
            and (fn is None or m.function is fn)
        ]
        start = 0
        marker = params.get("Marker")
        if marker is not None:
            uuids = [m.uuid for m in selected]
            if marker not in uuids:
                raise InvalidParameterValueException(f"Invalid marker: {marker}", operation_name=op)
            start = uuids.index(marker)
        page_size = min(params.get("MaxItems", 100), 100)
        page = selected[start : start + page_size]
        out: dict[str, Any] = {"EventSourceMappings": [self._response(m) for m in page]}
        if start + page_size < len(selected):
            out["NextMarker"] = selected[start + page_size].uuid
        return out

    def update_event_source_mapping(self, **params: Any) -> dict[str, Any]:
        """
        UpdateEventSourceMapping (spec 1.4): ``Enabled`` moves through Enabling or
        Disabling, any other change through Updating; the new settings take effect
        when the state settles. The response already shows the new values.
        """
        op = "UpdateEventSourceMapping"
        sim = self._sim
        check_request(op, params, max_filters=sim.max_filters)
        mapping = self._mapping(params["UUID"], op)
        state = mapping.fields["State"]
        if state not in ("Enabled", "Disabled"):
            # I: AWS's text for this case is not recorded (spec 1.4, BOTO-L doc).
            raise ResourceInUseException(
                f"Cannot update the event source mapping {mapping.uuid}: it is {state}. "
                "Retry when its state is Enabled or Disabled.",
                operation_name=op,
            )
        fields = mapping.fields
        new_fn = None
        if "FunctionName" in params:
            new_fn, new_arn = self._function(params["FunctionName"], op)
            # spec 1.5: repointing must not make a second mapping of (function, stream).
            self._check_unique(
                mapping.table, new_fn, mapping.table.stream_arn, op, skip=mapping.uuid
            )
        filters = mapping.config.filters
        if "FilterCriteria" in params:
            filters = self._filters(params["FilterCriteria"], op)
        self._check_supported(
            {
                k: params.get(k, fields[k])
                for k in ("ParallelizationFactor", "TumblingWindowInSeconds")
            },
            current_factor=fields["ParallelizationFactor"],
        )
        for key in _UPDATABLE:
            if key not in params:
                continue
            value = copy.deepcopy(params[key])
            if key == "DestinationConfig":
                on_failure = (value or {}).get("OnFailure", {})
                # spec 1.2: Destination "" removes it.
                value = {"OnFailure": on_failure if on_failure.get("Destination") else {}}
            if key == "FilterCriteria" and filters is None and not (value or {}).get("Filters"):
                fields.pop("FilterCriteria", None)  # spec 8: {} removes filtering
                continue
            if key in ("KMSKeyArn",) and not value:
                fields.pop(key, None)
                continue
            fields[key] = value
        if new_fn is not None:
            mapping.function = new_fn
            fields["FunctionArn"] = new_arn
        pending = MappingConfig.from_fields(fields, filters)
        enabled = params.get("Enabled")
        if enabled is not None and enabled != mapping.enabled_intent:
            mapping.enabled_intent = enabled
            sim.lifecycle.set_state(mapping, "Enabling" if enabled else "Disabling")
        else:
            sim.lifecycle.set_state(mapping, "Updating")
        self._touch(mapping)
        sim.lifecycle.settle_later(mapping, pending)
        return self._response(mapping)

    def delete_event_source_mapping(self, **params: Any) -> dict[str, Any]:
        """DeleteEventSourceMapping: returns the configuration with State Deleting (spec 1.4)."""
        op = "DeleteEventSourceMapping"
        check_request(op, params)
        sim = self._sim
        mapping = self._mapping(params["UUID"], op)
        state = mapping.fields["State"]
        if state in ("Creating", "Updating", "Deleting", "Enabling", "Disabling"):
            raise ResourceInUseException(
                f"Cannot delete the event source mapping {mapping.uuid}: it is {state}. "
                "Retry when its state is Enabled or Disabled.",
                operation_name=op,
            )
        mapping.enabled_intent = False
        mapping.stop()
        sim.lifecycle.set_state(mapping, "Deleting")
        self._touch(mapping)
        sim.lifecycle.settle_later(mapping)
        return self._response(mapping)

    # -- concurrency ---------------------------------------------------------------------

    def put_function_concurrency(self, **params: Any) -> dict[str, Any]:
        """PutFunctionConcurrency: reserve concurrency; 0 throttles every invocation."""
        op = "PutFunctionConcurrency"
        check_request(op, params)
        sim = self._sim
        fn = self._existing_function(params["FunctionName"], op)
        wanted = params["ReservedConcurrentExecutions"]
        conc = sim.concurrency
        others = conc.reserved_total - (fn.reserved_concurrency or 0)
        if others + wanted > conc.account_limit - 100:
            # spec 10: at least 100 must stay unreserved.
            raise InvalidParameterValueException(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                "UnreservedConcurrentExecution below its minimum value of [100].",
                operation_name=op,
            )
        self._set_reserved(fn, wanted)
        return {"ReservedConcurrentExecutions": wanted}

    def delete_function_concurrency(self, **params: Any) -> dict[str, Any]:
        """DeleteFunctionConcurrency: back to the unreserved pool."""
        op = "DeleteFunctionConcurrency"
        check_request(op, params)
        fn = self._existing_function(params["FunctionName"], op)
        self._set_reserved(fn, None)
        return {}

    def get_function_concurrency(self, **params: Any) -> dict[str, Any]:
        """GetFunctionConcurrency."""
        op = "GetFunctionConcurrency"
        check_request(op, params)
        fn = self._existing_function(params["FunctionName"], op)
        if fn.reserved_concurrency is None:
            return {}
        return {"ReservedConcurrentExecutions": fn.reserved_concurrency}

    def _existing_function(self, name: str, operation: str) -> Function:
        try:
            fn, _ = self._function(name, operation)
        except InvalidParameterValueException:
            sim = self._sim
            arn = (
                name
                if name.startswith("arn:")
                else (f"arn:aws:lambda:{sim.region}:{sim.account_id}:function:{name}")
            )
            raise ResourceNotFoundException(
                f"Function not found: {arn}", operation_name=operation
            ) from None
        return fn

    def _set_reserved(self, fn: Function, reserved: int | None) -> None:
        conc = self._sim.concurrency
        old = fn.reserved_concurrency
        # Executions in flight move between the pools with the function.
        if old is None and reserved is not None:
            conc.unreserved_in_flight -= fn.in_flight
        elif old is not None and reserved is None:
            conc.unreserved_in_flight += fn.in_flight
        conc.reserved_total += (reserved or 0) - (old or 0)
        fn.reserved_concurrency = reserved
