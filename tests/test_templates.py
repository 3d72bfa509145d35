"""Tests for esm_sim.templates: simulations built from SAM and CloudFormation templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import esm_sim
from esm_sim import templates
from esm_sim.errors import ConfigError, InvalidParameterValueException

pytest.importorskip("cfn_tools")

SAM = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 10
Resources:
  OrdersTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-orders"
      AttributeDefinitions:
        - AttributeName: pk
          AttributeType: S
      KeySchema:
        - AttributeName: pk
          KeyType: HASH
      StreamSpecification:
        StreamViewType: NEW_AND_OLD_IMAGES
  FailedQueue:
    Type: AWS::SQS::Queue
  Role:
    Type: AWS::IAM::Role
  ProcessFn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      MemorySize: 256
      ReservedConcurrentExecutions: 5
      Events:
        Stream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt OrdersTable.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
            MaximumRetryAttempts: 1
            BisectBatchOnFunctionError: true
            FunctionResponseTypes: [ReportBatchItemFailures]
            DestinationConfig:
              OnFailure:
                Type: SQS
                Destination: !GetAtt FailedQueue.Arn
        Api:
          Type: Api
          Properties: {Path: /, Method: get}
"""

CFN = """\
Parameters:
  Batch:
    Type: Number
    Default: 7
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions:
        - {AttributeName: id, AttributeType: N}
        - {AttributeName: ts, AttributeType: S}
      KeySchema:
        - {AttributeName: id, KeyType: HASH}
        - {AttributeName: ts, KeyType: RANGE}
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: worker
      Timeout: 30
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !Ref Fn
      EventSourceArn:
        Fn::GetAtt: [Table, StreamArn]
      StartingPosition: LATEST
      BatchSize: !Ref Batch
      Tags: [{Key: team, Value: a}]
"""


def _write(tmp_path: Path, text: str, name: str = "template.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _ok(event: dict[str, Any], context: Any) -> None:
    return None


class TestFromTemplate:
    def test_sam_template_builds_tables_functions_and_mappings(self, tmp_path: Path) -> None:
        """A SAM template's table, function, DynamoDB event and destination become simulated resources."""
        sim = esm_sim.Simulation.from_template(
            _write(tmp_path, SAM), handlers={"ProcessFn": _ok}, seed=3
        )
        table = sim.tables["OrdersTable"]
        fn = sim.functions["ProcessFn"]
        assert "esm-sim-orders" == table.name
        assert (10_000, 256, 5) == (fn.timeout_ms, fn.memory_size, fn.reserved_concurrency)
        (mapping,) = sim.mappings.values()
        assert table.stream_arn == mapping.fields["EventSourceArn"]
        assert 10 == mapping.fields["BatchSize"]
        assert ["ReportBatchItemFailures"] == mapping.fields["FunctionResponseTypes"]
        assert {"OnFailure": {"Destination": sim.queues["FailedQueue"].arn}} == mapping.fields[
            "DestinationConfig"
        ]
        assert 3 == sim.seed

    def test_cloudformation_mapping_with_long_forms_and_parameters(self, tmp_path: Path) -> None:
        """An AWS::Lambda::EventSourceMapping resolves Ref, long-form Fn::GetAtt and parameter defaults."""
        sim = templates.from_template(_write(tmp_path, CFN), handlers={"Fn": _ok})
        (mapping,) = sim.mappings.values()
        assert 7 == mapping.fields["BatchSize"]
        assert sim.functions["worker"] is sim.functions["Fn"]
        assert sim.tables["Table"].stream_arn == mapping.fields["EventSourceArn"]

    def test_parameters_override_defaults(self, tmp_path: Path) -> None:
        """parameters= gives a template parameter its value."""
        sim = templates.from_template(
            _write(tmp_path, CFN), handlers={"Fn": _ok}, parameters={"Batch": 50}
        )
        (mapping,) = sim.mappings.values()
        assert 50 == mapping.fields["BatchSize"]

    def test_key_types_are_enforced(self, tmp_path: Path) -> None:
        """AttributeDefinitions types become the table's key types, checked on writes."""
        sim = templates.from_template(_write(tmp_path, CFN), handlers={"Fn": _ok})
        with pytest.raises(esm_sim.errors.ValidationException, match="expected: N actual: S"):
            sim.tables["Table"].put_item({"id": "x", "ts": "t"})

    def test_logical_id_aliases_do_not_change_counts_or_names(self, tmp_path: Path) -> None:
        """Logical ids answer item access only: len, iteration and .get see physical names."""
        sim = templates.from_template(_write(tmp_path, CFN), handlers={"Fn": _ok})
        assert ["worker"] == list(sim.functions)
        assert None is sim.functions.get("Fn")
        assert "Fn" not in sim.functions
        with pytest.raises(KeyError):
            sim.functions["Nope"]

    def test_json_templates_are_read(self, tmp_path: Path) -> None:
        """A JSON template builds the same resources as YAML."""
        template = {
            "Resources": {
                "T": {
                    "Type": "AWS::DynamoDB::Table",
                    "Properties": {
                        "TableName": "things",
                        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                        "StreamSpecification": {"StreamViewType": "KEYS_ONLY"},
                    },
                },
                "F": {"Type": "AWS::Lambda::Function", "Properties": {}},
                "M": {
                    "Type": "AWS::Lambda::EventSourceMapping",
                    "Properties": {
                        "FunctionName": {"Fn::GetAtt": ["F", "Arn"]},
                        "EventSourceArn": {"Fn::Sub": "${T.StreamArn}"},
                        "StartingPosition": "TRIM_HORIZON",
                    },
                },
            }
        }
        path = _write(tmp_path, json.dumps(template), "template.json")
        sim = templates.from_template(path, handlers={"F": _ok})
        assert "KEYS_ONLY" == sim.tables["T"].stream_view_type
        assert 1 == len(sim.mappings)

    def test_a_template_runs(self, tmp_path: Path) -> None:
        """Writes to a template's table reach the template's function."""
        seen: list[str] = []

        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            seen.extend(r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"])
            return {"batchItemFailures": []}

        sim = templates.from_template(_write(tmp_path, SAM), handlers={"ProcessFn": handler})
        sim.run_for(6)
        sim.tables["OrdersTable"].put_item({"pk": "a"})
        sim.run_until_idle()
        assert ["a"] == seen


class TestTemplateErrors:
    @pytest.mark.parametrize(
        ("old", "new", "error", "pattern"),
        [
            pytest.param(
                "            BatchSize: 10\n",
                "            BatchSize: 20000\n",
                esm_sim.errors.ValidationException,
                r"batchSize",
                id="batch-size-too-big",
            ),
            pytest.param(
                "            StartingPosition: TRIM_HORIZON\n",
                "",
                InvalidParameterValueException,
                r"Value null at 'startingPosition' failed to satisfy constraint",
                id="no-starting-position",
            ),
            pytest.param(
                "            BatchSize: 10\n",
                "            BatchSize: 10\n            MaximumBatchingWindowInSeconds: 301\n",
                esm_sim.errors.ValidationException,
                r"maximumBatchingWindowInSeconds",
                id="window-too-long",
            ),
            pytest.param(
                "      ReservedConcurrentExecutions: 5\n",
                "      ReservedConcurrentExecutions: 999\n",
                InvalidParameterValueException,
                r"UnreservedConcurrentExecution below its minimum value of \[100\]",
                id="reserved-too-high",
            ),
        ],
    )
    def test_settings_aws_refuses_are_refused_with_aws_messages(
        self, tmp_path: Path, old: str, new: str, error: type[Exception], pattern: str
    ) -> None:
        """A setting the template gets wrong is refused with AWS's error and message."""
        assert old in SAM
        path = _write(tmp_path, SAM.replace(old, new))
        with pytest.raises(error, match=pattern) as info:
            templates.from_template(path, handlers={"ProcessFn": _ok})
        assert any(
            "Resources.ProcessFn.Properties" in note
            for note in getattr(info.value, "__notes__", [])
        )

    @pytest.mark.parametrize(
        ("old", "new", "pattern"),
        [
            pytest.param(
                "      StreamSpecification:\n        StreamViewType: NEW_AND_OLD_IMAGES\n",
                "",
                r"Resources\.OrdersTable\.Properties\.StreamSpecification \(line 9\): table "
                r"'OrdersTable' needs StreamSpecification\.StreamViewType",
                id="no-stream",
            ),
            pytest.param(
                "!GetAtt OrdersTable.StreamArn",
                "!GetAtt OrdersTable.Nope",
                r"\(line 34\): Fn::GetAtt OrdersTable\.Nope is not an attribute",
                id="unknown-attribute",
            ),
            pytest.param(
                "!GetAtt FailedQueue.Arn",
                "!Ref Missing",
                r"Ref 'Missing' names no parameter or resource",
                id="unknown-ref",
            ),
            pytest.param(
                "!GetAtt FailedQueue.Arn",
                "!Ref Role",
                r"Ref 'Role' names a AWS::IAM::Role resource, which esm_sim does not build",
                id="ref-to-unbuilt",
            ),
            pytest.param(
                "Timeout: 10",
                "Timeout: !If [C, 1, 2]",
                r"Globals\.Function\.Timeout \(line 5\): Fn::If is not resolved by esm_sim",
                id="unsupported-intrinsic",
            ),
        ],
    )
    def test_templates_esm_sim_cannot_read_name_the_place(
        self, tmp_path: Path, old: str, new: str, pattern: str
    ) -> None:
        """A template esm_sim cannot build raises ConfigError naming the resource, field and line."""
        assert old in SAM
        path = _write(tmp_path, SAM.replace(old, new))
        with pytest.raises(ConfigError, match=pattern):
            templates.from_template(path, handlers={"ProcessFn": _ok})

    def test_missing_handler_is_named(self, tmp_path: Path) -> None:
        """A function logical id without a handler raises ConfigError naming it."""
        with pytest.raises(ConfigError, match=r"has no handler for function\(s\) \['ProcessFn'\]"):
            templates.from_template(_write(tmp_path, SAM), handlers={})

    def test_extra_handler_is_named(self, tmp_path: Path) -> None:
        """A handler for a logical id that is no function of the template is refused."""
        with pytest.raises(ConfigError, match=r"\['Other'\] are not functions of the template"):
            templates.from_template(
                _write(tmp_path, SAM), handlers={"ProcessFn": _ok, "Other": _ok}
            )

    def test_not_a_template(self, tmp_path: Path) -> None:
        """A file without Resources is refused."""
        with pytest.raises(ConfigError, match=r"is not a template: it has no Resources map"):
            templates.from_template(_write(tmp_path, "a: 1\n"), handlers={})


class TestValidateTemplate:
    def test_a_valid_template_has_no_problems(self, tmp_path: Path) -> None:
        """validate_template returns no problems for settings AWS accepts."""
        assert [] == templates.validate_template(_write(tmp_path, SAM))

    def test_every_refused_setting_is_listed(self, tmp_path: Path) -> None:
        """validate_template lists each refused call with the resource and line, not just the first."""
        text = SAM.replace("BatchSize: 10", "BatchSize: 0").replace(
            "ReservedConcurrentExecutions: 5", "ReservedConcurrentExecutions: -1"
        )
        problems = templates.validate_template(_write(tmp_path, text))
        assert 2 == len(problems)
        assert problems[0].startswith(
            "Resources.ProcessFn.Properties.ReservedConcurrentExecutions (line 29): "
        )
        assert problems[1].startswith("Resources.ProcessFn.Properties.Events.Stream (line 31): ")
        assert "Invalid value for parameter BatchSize, value: 0" in problems[1]
