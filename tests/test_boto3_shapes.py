"""
sim.lambda_client answers as boto3 does (issue 15): checked against botocore's
own Lambda model, parser and paginator, not against copies of them.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import botocore.exceptions
import pytest
from botocore.loaders import Loader
from botocore.model import ServiceModel
from botocore.paginate import Paginator as BotocorePaginator
from botocore.parsers import create_parser

import esm_sim
from esm_sim import errors
from esm_sim._control.boto import NOT_OPERATIONS, operation_name
from esm_sim._control.client import LambdaClient

MODEL = ServiceModel(Loader().load_service_model("lambda", "service-2"))
PAGINATORS = Loader().load_service_model("lambda", "paginators-1")["pagination"]
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"
FILTERS = {"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}]}
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


class World:
    """One table, two functions, and the Lambda client."""

    def __init__(self, seed: int = 0) -> None:
        self.sim = esm_sim.Simulation(seed=seed)
        self.table = self.sim.create_table("orders", partition_key="pk")
        for name in ("fa", "fb"):
            self.sim.create_function(name, lambda e, c: None)
        self.lam = self.sim.lambda_client

    def create(self, function: str = "fa", **params: Any) -> dict[str, Any]:
        return self.lam.create_event_source_mapping(
            FunctionName=function,
            EventSourceArn=self.table.stream_arn,
            StartingPosition="LATEST",
            **params,
        )

    def five_calls(self) -> dict[str, dict[str, Any]]:
        """Create, get, list, update and delete one mapping; each answer by operation."""
        out = {"CreateEventSourceMapping": self.create()}
        uuid = out["CreateEventSourceMapping"]["UUID"]
        self.sim.run_for(6)
        out["GetEventSourceMapping"] = self.lam.get_event_source_mapping(UUID=uuid)
        out["ListEventSourceMappings"] = self.lam.list_event_source_mappings()
        out["UpdateEventSourceMapping"] = self.lam.update_event_source_mapping(
            UUID=uuid, BatchSize=7
        )
        self.sim.run_for(6)
        out["DeleteEventSourceMapping"] = self.lam.delete_event_source_mapping(UUID=uuid)
        return out


def wire_body(answer: dict[str, Any]) -> bytes:
    """The JSON AWS would have sent for ``answer`` (timestamps as epoch seconds)."""

    def default(value: object) -> object:
        assert isinstance(value, datetime)
        return value.timestamp()

    rest = {k: v for k, v in answer.items() if k != "ResponseMetadata"}
    return json.dumps(rest, default=default).encode()


def botocore_parse(op: str, answer: dict[str, Any]) -> dict[str, Any]:
    """``answer`` sent over the wire and parsed back by botocore's rest-json parser."""
    meta = answer["ResponseMetadata"]
    http = {"status_code": meta["HTTPStatusCode"], "headers": meta["HTTPHeaders"]}
    parsed: dict[str, Any] = create_parser("rest-json").parse(
        {**http, "body": wire_body(answer)}, MODEL.operation_model(op).output_shape
    )
    return parsed


def botocore_parse_error(op: str, err: errors.ClientError) -> dict[str, Any]:
    """An error answer parsed as botocore's endpoint does (generic part, then modeled fields)."""
    meta = err.response["ResponseMetadata"]
    body = {k: v for k, v in err.response.items() if k not in ("Error", "ResponseMetadata")}
    response = {
        "status_code": meta["HTTPStatusCode"],
        "headers": meta["HTTPHeaders"],
        "body": json.dumps(body).encode(),
    }
    parser = create_parser("rest-json")
    parsed: dict[str, Any] = parser.parse(response, MODEL.operation_model(op).output_shape)
    parsed.update(parser.parse(response, MODEL.shape_for_error_code(err.code)))
    return parsed


@pytest.fixture
def world() -> World:
    return World()


class TestLastModified:
    def test_is_an_aware_datetime_in_every_answer(self, world: World) -> None:
        """LastModified is a timezone-aware datetime in create, get, list, update and delete."""
        answers = world.five_calls()
        answers["ListEventSourceMappings"] = answers["ListEventSourceMappings"][
            "EventSourceMappings"
        ][0]
        kinds = {
            op: (type(a["LastModified"]), a["LastModified"].utcoffset())
            for op, a in answers.items()
        }
        assert {op: (datetime, UTC.utcoffset(None)) for op in answers} == kinds

    def test_the_model_says_timestamp(self) -> None:
        """The model's LastModified is a timestamp, which botocore parses to a datetime."""
        shape = MODEL.shape_for("EventSourceMappingConfiguration")
        assert "timestamp" == shape.members["LastModified"].type_name  # type: ignore[attr-defined]

    def test_is_the_virtual_time_of_the_change(self, world: World) -> None:
        """LastModified is the virtual clock at the call, to the millisecond."""
        world.sim.run_for(1.25)
        assert world.sim.now == world.create()["LastModified"]


class TestBotocoreParsesTheSame:
    @pytest.mark.parametrize(
        "op",
        [
            "CreateEventSourceMapping",
            "GetEventSourceMapping",
            "ListEventSourceMappings",
            "UpdateEventSourceMapping",
            "DeleteEventSourceMapping",
        ],
    )
    def test_answer_equals_botocore_parse_of_its_wire_form(self, world: World, op: str) -> None:
        """Each answer equals what botocore's parser makes of it (RetryAttempts is the endpoint's)."""
        answer = world.five_calls()[op]
        parsed = botocore_parse(op, answer)
        parsed["ResponseMetadata"]["RetryAttempts"] = 0
        assert parsed == answer


class TestResponseMetadata:
    def test_status_codes_are_the_models(self, world: World) -> None:
        """HTTPStatusCode is the model's responseCode: 202 for create, update and delete, 200 else."""
        answers = world.five_calls()
        expected = {op: MODEL.operation_model(op).http["responseCode"] for op in answers}
        assert expected == {
            op: a["ResponseMetadata"]["HTTPStatusCode"] for op, a in answers.items()
        }

    def test_every_operation_has_the_models_status(self) -> None:
        """Every public operation of the client is a model operation, answered with its status code."""
        from esm_sim._control.boto import HTTP_STATUS

        names = [n for n in vars(LambdaClient) if not n.startswith("_") and n not in NOT_OPERATIONS]
        expected = {
            operation_name(n): MODEL.operation_model(operation_name(n)).http["responseCode"]
            for n in names
        }
        assert expected == {
            operation_name(n): HTTP_STATUS.get(operation_name(n), 200) for n in names
        }

    def test_headers_as_botocore_gives_them(self, world: World) -> None:
        """HTTPHeaders has botocore's lower-case keys, the virtual date and the request id."""
        world.sim.run_for(3)
        meta = world.create()["ResponseMetadata"]
        assert {
            "date": "Thu, 01 Jan 2026 00:00:03 GMT",
            "content-type": "application/json",
            "connection": "keep-alive",
            "x-amzn-requestid": meta["RequestId"],
        } == {k: v for k, v in meta["HTTPHeaders"].items() if k != "content-length"}
        assert 0 == meta["RetryAttempts"]

    def test_content_length_is_the_bodys(self, world: World) -> None:
        """content-length is the length of the JSON body the answer stands for."""
        answer = world.lam.get_function_concurrency(FunctionName="fa")
        assert "2" == answer["ResponseMetadata"]["HTTPHeaders"]["content-length"]

    def test_request_ids_come_from_the_seed(self) -> None:
        """The same seed gives the same request ids; another seed other ids; none repeats."""

        def ids(seed: int) -> list[str]:
            w = World(seed)
            return [a["ResponseMetadata"]["RequestId"] for a in w.five_calls().values()]

        assert ids(1) == ids(1)
        assert set() == set(ids(1)) & set(ids(2))
        assert 5 == len(set(ids(1)))

    def test_errors_carry_metadata_too(self, world: World) -> None:
        """An AWS error's response has the same metadata: request id, status, headers."""
        with pytest.raises(errors.ResourceNotFoundException) as info:
            world.lam.get_event_source_mapping(UUID=UNKNOWN_UUID)
        meta = info.value.response["ResponseMetadata"]
        assert (404, "ResourceNotFoundException", meta["RequestId"], 0) == (
            meta["HTTPStatusCode"],
            meta["HTTPHeaders"]["x-amzn-errortype"],
            meta["HTTPHeaders"]["x-amzn-requestid"],
            meta["RetryAttempts"],
        )


class TestFilterCriteria:
    def test_empty_filters_left_out_on_create(self, world: World) -> None:
        """Create with FilterCriteria {"Filters": []} answers without FilterCriteria."""
        resp = world.create(FilterCriteria={"Filters": []})
        assert "FilterCriteria" not in resp
        assert "FilterCriteria" not in world.lam.get_event_source_mapping(UUID=resp["UUID"])

    def test_kms_encrypted_criteria_are_absent_from_list(self, world: World) -> None:
        """With a KMSKeyArn, List gives no FilterCriteria (null, dropped by boto3) and no FilterCriteriaError."""
        uuid = world.create(FilterCriteria=FILTERS, KMSKeyArn=KMS)["UUID"]
        listed = world.lam.list_event_source_mappings()["EventSourceMappings"][0]
        assert (KMS, False, False) == (
            listed["KMSKeyArn"],
            "FilterCriteria" in listed,
            "FilterCriteriaError" in listed,
        )
        assert FILTERS == world.lam.get_event_source_mapping(UUID=uuid)["FilterCriteria"]

    def test_without_kms_list_shows_criteria(self, world: World) -> None:
        """Without a KMSKeyArn, List shows FilterCriteria as Get does."""
        world.create(FilterCriteria=FILTERS)
        listed = world.lam.list_event_source_mappings()["EventSourceMappings"][0]
        assert FILTERS == listed["FilterCriteria"]

    def test_botocore_drops_a_null_member(self) -> None:
        """botocore's parser leaves a JSON null FilterCriteria out, the reading List follows."""
        shape = MODEL.operation_model("ListEventSourceMappings").output_shape
        body = json.dumps({"EventSourceMappings": [{"UUID": UNKNOWN_UUID, "FilterCriteria": None}]})
        parsed = create_parser("rest-json").parse(
            {"status_code": 200, "headers": {}, "body": body.encode()}, shape
        )
        assert [{"UUID": UNKNOWN_UUID}] == parsed["EventSourceMappings"]


class TestErrors:
    def test_error_response_is_botocores(self, world: World) -> None:
        """An error's response has exactly the keys and values botocore builds from the same answer."""
        with pytest.raises(errors.ResourceNotFoundException) as info:
            world.lam.get_event_source_mapping(UUID=UNKNOWN_UUID)
        parsed = botocore_parse_error("GetEventSourceMapping", info.value)
        parsed["ResponseMetadata"]["RetryAttempts"] = 0
        assert parsed == info.value.response

    def test_message_key_is_the_shapes(self, world: World) -> None:
        """InvalidParameterValueException carries lower-case message, as its model shape."""
        with pytest.raises(errors.InvalidParameterValueException) as info:
            world.create(function="nope")
        parsed = botocore_parse_error("CreateEventSourceMapping", info.value)
        parsed["ResponseMetadata"]["RetryAttempts"] = 0
        assert parsed == info.value.response
        assert "Function does not exist" == info.value.response["message"]

    @pytest.mark.parametrize(
        "err",
        [
            errors.ResourceNotFoundException("m"),
            errors.InvalidParameterValueException("m"),
            errors.ResourceConflictException("m"),
            errors.ResourceInUseException("m"),
            errors.ServiceException("m"),
            errors.TooManyRequestsException("m", reason="CallerRateLimitExceeded"),
        ],
        ids=lambda e: e.code,
    )
    def test_modeled_members_are_the_shapes(self, err: errors.ClientError) -> None:
        """Besides Error and ResponseMetadata, the response holds the error shape's body members."""
        shape = MODEL.shape_for_error_code(err.code)
        body_members = {
            name
            for name, member in shape.members.items()  # type: ignore[attr-defined]
            if "location" not in member.serialization
        }
        assert body_members == set(err.response) - {"Error", "ResponseMetadata"}

    def test_too_many_requests_carries_reason(self) -> None:
        """TooManyRequestsException's response has the model's Reason, as botocore parses it."""
        err = errors.TooManyRequestsException("Rate exceeded", reason="CallerRateLimitExceeded")
        err.response["ResponseMetadata"] = {
            "HTTPStatusCode": 429,
            "HTTPHeaders": {"x-amzn-errortype": "TooManyRequestsException"},
        }
        parsed = botocore_parse_error("GetEventSourceMapping", err)
        assert {k: v for k, v in parsed.items() if k != "ResponseMetadata"} == {
            k: v for k, v in err.response.items() if k != "ResponseMetadata"
        }
        assert "CallerRateLimitExceeded" == err.response["Reason"]

    def test_caught_as_botocore_client_error(self, world: World) -> None:
        """except botocore.exceptions.ClientError catches esm_sim's AWS errors, still esm_sim's classes."""
        try:
            world.lam.get_event_source_mapping(UUID=UNKNOWN_UUID)
        except botocore.exceptions.ClientError as err:
            caught: Exception = err
        assert isinstance(caught, errors.ResourceNotFoundException)
        assert "ResourceNotFoundException" == caught.response["Error"]["Code"]  # type: ignore[attr-defined]

    def test_twin_pickles_and_keeps_its_name(self, world: World) -> None:
        """The botocore-compatible error keeps its class name and survives pickling."""
        with pytest.raises(errors.ResourceNotFoundException) as info:
            world.lam.get_event_source_mapping(UUID=UNKNOWN_UUID)
        again = pickle.loads(pickle.dumps(info.value))
        assert ("ResourceNotFoundException", type(info.value), str(info.value)) == (
            type(info.value).__name__,
            type(again),
            str(again),
        )

    def test_without_botocore_loaded_errors_are_plain(self) -> None:
        """Without botocore loaded, importing esm_sim and raising an error never imports botocore."""
        code = (
            "import sys, esm_sim\n"
            "sim = esm_sim.Simulation(seed=0)\n"
            "try:\n"
            "    sim.lambda_client.get_event_source_mapping(UUID='0' * 36)\n"
            "except esm_sim.errors.ResourceNotFoundException as err:\n"
            "    print(type(err).__mro__[1].__name__)\n"
            "print(sorted(m for m in ('boto3', 'botocore') if m in sys.modules))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert "ClientError\n[]" == out.stdout.strip()


class TestClientHabits:
    def test_exceptions_has_every_error_class(self, world: World) -> None:
        """lambda_client.exceptions.<Code> is esm_sim's class for every AWS error code."""
        public = [getattr(errors, name) for name in errors.__all__]
        classes = [c for c in public if isinstance(c, type) and issubclass(c, errors.ClientError)]
        assert {c.code: c for c in classes} == {
            c.code: getattr(world.lam.exceptions, c.code) for c in classes
        }

    def test_except_client_exceptions(self, world: World) -> None:
        """except lambda_client.exceptions.ResourceNotFoundException catches an unknown UUID."""
        with pytest.raises(world.lam.exceptions.ResourceNotFoundException):
            world.lam.get_event_source_mapping(UUID=UNKNOWN_UUID)

    def test_can_paginate(self, world: World) -> None:
        """can_paginate is true for the operations the model's paginators cover."""
        assert (True, False) == (
            world.lam.can_paginate("list_event_source_mappings"),
            world.lam.can_paginate("get_event_source_mapping"),
        )

    @pytest.mark.parametrize(
        "config",
        [
            {},
            {"PageSize": 2},
            {"MaxItems": 3},
            {"MaxItems": 3, "PageSize": 2},
            {"MaxItems": 4, "PageSize": 2},
            {"MaxItems": 1, "PageSize": 3},
        ],
        ids=repr,
    )
    def test_paginator_pages_as_botocores(self, config: dict[str, int]) -> None:
        """get_paginator gives the pages and resume tokens botocore's paginator gives, resumed too."""
        w = World()
        for i in range(5):
            w.sim.create_function(f"g{i}", lambda e, c: None)
            w.create(function=f"g{i}")
        ours = w.lam.get_paginator("list_event_source_mappings")
        theirs = BotocorePaginator(
            w.lam.list_event_source_mappings,
            PAGINATORS["ListEventSourceMappings"],
            MODEL.operation_model("ListEventSourceMappings"),
        )

        def run(paginator: Any, **cfg: Any) -> tuple[list[list[str]], Any]:
            it = paginator.paginate(PaginationConfig=cfg)
            pages = [[m["UUID"] for m in p["EventSourceMappings"]] for p in it]
            return pages, it.resume_token

        expected, token = run(theirs, **config)
        assert (expected, token) == run(ours, **config)
        if token is not None:
            resumed = {**config, "StartingToken": token}
            assert run(theirs, **resumed) == run(ours, **resumed)

    def test_build_full_result(self) -> None:
        """build_full_result joins the pages and adds NextToken when MaxItems cut them short."""
        w = World()
        for i in range(3):
            w.sim.create_function(f"g{i}", lambda e, c: None)
            w.create(function=f"g{i}")
        full = (
            w.lam.get_paginator("list_event_source_mappings")
            .paginate(PaginationConfig={"MaxItems": 2, "PageSize": 1})
            .build_full_result()
        )
        assert (2, True) == (len(full["EventSourceMappings"]), "NextToken" in full)
