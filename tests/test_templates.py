"""Tests for esm_sim.templates: simulations built from SAM and CloudFormation templates."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import esm_sim
from esm_sim import templates
from esm_sim.errors import ConfigError, InvalidParameterValueException

pytest.importorskip("yaml")
pytest.importorskip("samtranslator")

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
    # The module SAM's ProcessFn names (Handler: app.handler, CodeUri: the template's folder).
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return None\n")
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

    def test_mapping_numbers_and_booleans_given_as_text_are_converted(self, tmp_path: Path) -> None:
        """As CloudFormation does, a mapping's Integer and Boolean properties may be text ("7", "false"), a Number parameter's Ref included."""
        text = CFN.replace(
            "      BatchSize: !Ref Batch\n",
            '      BatchSize: !Ref Batch\n      MaximumRetryAttempts: "3"\n'
            '      BisectBatchOnFunctionError: "true"\n      Enabled: "False"\n',
        )
        assert text != CFN
        sim = templates.from_template(
            _write(tmp_path, text), handlers={"Fn": _ok}, parameters={"Batch": "50"}
        )
        (mapping,) = sim.mappings.values()
        fields = mapping.fields
        assert (50, 3, True) == (
            fields["BatchSize"],
            fields["MaximumRetryAttempts"],
            fields["BisectBatchOnFunctionError"],
        )
        sim.run_for(60)
        assert "Disabled" == mapping.fields["State"]
        assert [] == templates.validate_template(_write(tmp_path, text))

    def test_unnamed_resources_with_short_logical_ids_get_the_stack_name(
        self, tmp_path: Path
    ) -> None:
        """A table or bucket without a name whose logical id is too short for one (T, b) is named stack-logical id, as CloudFormation's generated names begin; longer ids stay their names."""
        text = (
            "Resources:\n"
            "  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n"
            "      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n"
            "      StreamSpecification: {StreamViewType: KEYS_ONLY}\n"
            "  b:\n    Type: AWS::S3::Bucket\n"
            "  Orders:\n    Type: AWS::DynamoDB::Table\n    Properties:\n"
            "      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n"
        )
        sim = templates.from_template(_write(tmp_path, text), handlers={})
        assert "esm-sim-T" == sim.tables["T"].name
        assert "Orders" == sim.tables["Orders"].name
        assert "esm-sim-b" in sim.buckets

    def test_fifo_queues_and_topics_without_names_are_fifo(self, tmp_path: Path) -> None:
        """FifoQueue/FifoTopic true without a QueueName/TopicName make a FIFO sink named logical id + .fifo, as CloudFormation names it."""
        text = CFN + (
            "  Q:\n    Type: AWS::SQS::Queue\n    Properties: {FifoQueue: true}\n"
            "  T:\n    Type: AWS::SNS::Topic\n    Properties: {FifoTopic: true}\n"
            "  Plain:\n    Type: AWS::SNS::Topic\n"
        )
        sim = templates.from_template(_write(tmp_path, text), handlers={"Fn": _ok})
        assert sim.queues["Q.fifo"].fifo and sim.topics["T.fifo"].fifo
        assert not sim.topics["Plain"].fifo

    def test_a_function_may_name_one_defined_after_it(self, tmp_path: Path) -> None:
        """Functions are built after those they reference (Ref, Fn::GetAtt, Fn::Sub), as CloudFormation orders by dependency, not file order."""
        text = (
            "Resources:\n"
            "  First:\n    Type: AWS::Lambda::Function\n    Properties:\n"
            "      Environment:\n        Variables:\n"
            "          NEXT_ARN: !GetAtt Second.Arn\n"
            "          NEXT_NAME: !Ref Second\n"
            "          THIRD: !Sub '${Third.Arn}'\n"
            "  Second:\n    Type: AWS::Lambda::Function\n    Properties: {FunctionName: second}\n"
            "  Third:\n    Type: AWS::Lambda::Function\n"
        )
        sim = templates.from_template(
            _write(tmp_path, text), handlers={"First": _ok, "Second": _ok, "Third": _ok}
        )
        env = sim.functions["First"].environment
        assert sim.functions["second"].arn == env["NEXT_ARN"]
        assert "second" == env["NEXT_NAME"]
        assert sim.functions["Third"].arn == env["THIRD"]

    def test_parameters_are_checked_as_cloudformation_checks_them(self, tmp_path: Path) -> None:
        """A CommaDelimitedList parameter's Ref is a list; a value outside AllowedValues, an undeclared parameters= name and a parameter with no value are refused, naming it."""
        text = CFN.replace(
            "Parameters:\n",
            "Parameters:\n  Types:\n    Type: CommaDelimitedList\n"
            "    Default: ReportBatchItemFailures\n"
            "  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}\n",
        ).replace(
            "      BatchSize: !Ref Batch\n",
            "      BatchSize: !Ref Batch\n      FunctionResponseTypes: !Ref Types\n",
        )
        path = _write(tmp_path, text)
        sim = templates.from_template(path, handlers={"Fn": _ok}, parameters={"Stage": "prod"})
        (mapping,) = sim.mappings.values()
        assert ["ReportBatchItemFailures"] == mapping.fields["FunctionResponseTypes"]
        with pytest.raises(
            ConfigError,
            match=r"Parameters\.Stage \(line 5\): parameter 'Stage'='qa' must be one of",
        ):
            templates.from_template(path, handlers={"Fn": _ok}, parameters={"Stage": "qa"})
        with pytest.raises(ConfigError, match=r"\['Stag'\] are not in the template's Parameters"):
            templates.from_template(path, handlers={"Fn": _ok}, parameters={"Stag": "prod"})
        no_default = text.replace("    Default: 7\n", "")
        assert no_default != text
        with pytest.raises(ConfigError, match=r"parameter 'Batch' has no Default"):
            templates.from_template(_write(tmp_path, no_default), handlers={"Fn": _ok})

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
                r"Resources\.ProcessFn\.Properties\.Events\.Stream\.Properties\.Stream \(line 32\): "
                r"Fn::GetAtt OrdersTable\.StreamArn: table 'OrdersTable' has no stream",
                id="stream-of-a-plain-table",
            ),
            pytest.param(
                "            StartingPosition: TRIM_HORIZON\n",
                "",
                r"Resources\.ProcessFn\.Properties\.Events\.Stream \(line 31\): SAM: Resource with id "
                r"\[ProcessFnStream\] is "
                r"invalid\. Missing required property 'StartingPosition'",
                id="sam-refuses",
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
                r"Globals\.Function\.Timeout \(line 5\): Condition 'C' is not in the template's "
                r"Conditions",
                id="unknown-condition",
            ),
            pytest.param(
                "          KeyType: HASH\n",
                "          KeyType: HASH\n        - AttributeName: other\n          KeyType: HASH\n",
                r"Resources\.OrdersTable\.Properties\.KeySchema\.1 \(line \d+\): KeySchema has a "
                r"second HASH key",
                id="two-hash-keys",
            ),
            pytest.param(
                "Timeout: 10",
                "Timeout: 2.5",
                r"Globals\.Function\.Timeout \(line 5\): Timeout=2\.5 must be an Integer",
                id="fraction-for-an-integer",
            ),
            pytest.param(
                "Timeout: 10",
                "Timeout: !ImportValue Other",
                r"Globals\.Function\.Timeout \(line 5\): Fn::ImportValue is not resolved by esm_sim",
                id="unsupported-intrinsic",
            ),
            pytest.param(
                "    Timeout: 10\n",
                "    Timeout: 10\n    Environment: [x]\n",
                r"Resources\.ProcessFn \(line \d+\): SAM: .*Type of property 'Environment' is invalid",
                id="globals-environment-list",
            ),
            pytest.param(
                'AWSTemplateFormatVersion: "2010-09-09"\n',
                'AWSTemplateFormatVersion: "2010-09-09"\nParameters: [1]\n',
                r"Parameters \(line 2\) must be a map, not \[1\]",
                id="parameters-list",
            ),
        ],
    )
    def test_templates_esm_sim_cannot_read_name_the_place(
        self, tmp_path: Path, old: str, new: str, pattern: str
    ) -> None:
        """A template esm_sim cannot build (malformed sections included) raises ConfigError naming the resource, field and line, never a Python crash."""
        assert old in SAM
        path = _write(tmp_path, SAM.replace(old, new))
        with pytest.raises(ConfigError, match=pattern):
            templates.from_template(path, handlers={"ProcessFn": _ok})

    def test_a_handler_that_cannot_be_imported_is_named(self, tmp_path: Path) -> None:
        """A function without handlers= whose module is not in CodeUri: ConfigError with its line."""
        path = _write(tmp_path, SAM)
        (tmp_path / "app.py").unlink()
        with pytest.raises(
            ConfigError,
            match=r"Resources\.ProcessFn\.Properties\.Handler \(line 26\): Handler 'app\.handler': "
            r"Unable to import module 'app'",
        ):
            templates.from_template(path)

    def test_extra_handler_is_named(self, tmp_path: Path) -> None:
        """A handler for a logical id that is no function of the template is refused."""
        with pytest.raises(ConfigError, match=r"\['Other'\] are not functions of the template"):
            templates.from_template(
                _write(tmp_path, SAM), handlers={"ProcessFn": _ok, "Other": _ok}
            )

    def test_a_file_that_is_not_utf8_is_named(self, tmp_path: Path) -> None:
        """A template that is not UTF-8 text raises ConfigError naming the file, not UnicodeDecodeError."""
        path = tmp_path / "template.yaml"
        path.write_bytes(SAM.replace("orders", "ordérs").encode("latin-1"))
        with pytest.raises(ConfigError, match=r"template\.yaml' cannot be read as UTF-8 text"):
            templates.from_template(path, handlers={"ProcessFn": _ok})

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

    def test_refused_function_settings_are_listed_at_their_own_lines(self, tmp_path: Path) -> None:
        """A function setting esm_sim refuses (Timeout over 900 in Globals, MemorySize) is one problem each, at the line it is written, and the rest are still found."""
        text = SAM.replace("    Timeout: 10\n", "    Timeout: 1000\n").replace(
            "BatchSize: 10", "BatchSize: 0"
        )
        text = text.replace("      MemorySize: 256\n", "      MemorySize: 64\n")
        assert "Timeout: 1000" in text and "MemorySize: 64" in text
        problems = templates.validate_template(_write(tmp_path, text))
        assert 3 == len(problems), problems
        assert problems[0].startswith("Globals.Function.Timeout (line 5): timeout=1000 ")
        assert re.match(
            r"Resources\.ProcessFn\.Properties\.MemorySize \(line \d+\): memory_size=64 ",
            problems[1],
        )
        assert "Invalid value for parameter BatchSize, value: 0" in problems[2]


STACK = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    Environment:
      Variables: {SHARED: g, OVERRIDDEN: g}
Resources:
  Plain:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      TimeToLiveSpecification: {AttributeName: ttl, Enabled: true}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Layers: [arn:aws:lambda:us-east-1:123456789012:layer:x:1]
      Tracing: Active
      Policies: [AWSLambdaBasicExecutionRole]
      Environment:
        Variables:
          OVERRIDDEN: f
          PICKED: !If [IsProd, p, d]
          DROPPED: !If [IsProd, x, !Ref "AWS::NoValue"]
          SECOND: !Select [1, !Split [",", "a,b,c"]]
          ZONE: !Select [2, !GetAZs ""]
      Events:
        Api: {Type: HttpApi, Properties: {Path: /, Method: get}}
  ProdOnly:
    Type: AWS::SQS::Queue
    Condition: IsProd
"""

CODE = """\
import os

AT_IMPORT = os.environ.get("SHARED")


def handler(event, context):
    import helper  # imported while running: the code folder is on sys.path

    return {"module": __name__, "tag": helper.TAG, "at_import": AT_IMPORT}
"""


def _stack(tmp_path: Path, text: str = STACK, tag: str = "one") -> Path:
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "app.py").write_text(CODE)
    (tmp_path / "code" / "helper.py").write_text(f"TAG = {tag!r}\n")
    path = tmp_path / "template.yaml"
    path.write_text(text)
    return path


def _call(sim: esm_sim.Simulation, name: str) -> Any:
    return sim.functions[name].handler({}, None)


class TestRealStacks:
    def test_table_without_stream_is_a_plain_table(self, tmp_path: Path) -> None:
        """A table without StreamSpecification is built without a stream: it keeps items only."""
        sim = templates.from_template(_stack(tmp_path))
        table = sim.tables["Plain"]
        table.put_item({"pk": "a", "n": 1})
        assert (False, [], {"pk": "a", "n": 1}) == (
            table.has_stream,
            table.shards,
            table.get_item({"pk": "a"}),
        )
        with pytest.raises(ConfigError, match=r"table 'Plain' has no stream"):
            _ = table.stream_arn

    def test_time_to_live_specification_sets_the_ttl(self, tmp_path: Path) -> None:
        """TimeToLiveSpecification (Enabled) makes AttributeName the table's TTL attribute."""
        sim = templates.from_template(_stack(tmp_path))
        assert "ttl" == sim.tables["Plain"].ttl_attribute
        off = STACK.replace("Enabled: true", "Enabled: false")
        assert None is templates.from_template(_stack(tmp_path, off)).tables["Plain"].ttl_attribute

    def test_function_without_stream_events_has_no_mapping(self, tmp_path: Path) -> None:
        """A function whose events are not streams (HttpApi) is built, with no mapping."""
        sim = templates.from_template(_stack(tmp_path))
        assert (["Fn"], {}) == (list(sim.functions), dict(sim.mappings))

    def test_properties_that_change_nothing_are_accepted(self, tmp_path: Path) -> None:
        """Role, Runtime, Layers, Tracing, Policies, ...: accepted without being resolved."""
        text = CFN.replace(
            "      Timeout: 30\n",
            "      Timeout: 30\n      Role: !GetAtt NotBuilt.Arn\n      Runtime: python3.12\n"
            "      Architectures: [arm64]\n      TracingConfig: {Mode: Active}\n",
        )
        sim = templates.from_template(_write(tmp_path, text), handlers={"Fn": _ok})
        assert 1 == len(sim.mappings)

    def test_unknown_property_is_refused_with_its_line(self, tmp_path: Path) -> None:
        """A property the resource type does not have is refused, naming resource, property, line."""
        text = CFN.replace("      Timeout: 30\n", "      Timeout: 30\n      Timout: 31\n")
        with pytest.raises(
            ConfigError,
            match=r"Resources\.Fn\.Properties\.Timout \(line 21\): Encountered unsupported "
            r"property Timout",
        ):
            templates.from_template(_write(tmp_path, text), handlers={"Fn": _ok})

    def test_unsupported_property_is_refused_with_why(self, tmp_path: Path) -> None:
        """A known property esm_sim does not model (ImportSourceSpecification) is refused."""
        text = CFN.replace(
            "      StreamSpecification: {StreamViewType: NEW_IMAGE}\n",
            "      StreamSpecification: {StreamViewType: NEW_IMAGE}\n"
            "      ImportSourceSpecification: {InputFormat: CSV}\n",
        )
        with pytest.raises(
            ConfigError,
            match=r"Table\.Properties\.ImportSourceSpecification \(line 16\): .* is not supported",
        ):
            templates.from_template(_write(tmp_path, text), handlers={"Fn": _ok})

    def test_environment_merges_globals_and_the_function_as_sam_does(self, tmp_path: Path) -> None:
        """Globals' variables apply, the function's own win, and intrinsics resolve."""
        sim = templates.from_template(_stack(tmp_path))
        assert {
            "SHARED": "g",
            "OVERRIDDEN": "f",
            "PICKED": "d",
            "SECOND": "b",
            "ZONE": "us-east-1c",
        } == sim.functions["Fn"].environment

    def test_conditions_choose_values_and_resources(self, tmp_path: Path) -> None:
        """Conditions evaluate with parameters: Fn::If picks, a false Condition leaves a resource out."""
        sim = templates.from_template(_stack(tmp_path), parameters={"Stage": "prod"})
        env = sim.functions["Fn"].environment
        assert ("p", "x", ["ProdOnly"]) == (env["PICKED"], env["DROPPED"], list(sim.queues))
        dev = templates.from_template(_stack(tmp_path))
        assert ({}, "DROPPED") == (dict(dev.queues), "DROPPED")
        assert "DROPPED" not in dev.functions["Fn"].environment

    def test_environment_from_globals_is_named_at_its_line(self, tmp_path: Path) -> None:
        """A bad variable that came from Globals is named where Globals has it."""
        text = STACK.replace("{SHARED: g, OVERRIDDEN: g}", "{SHARED: [1], OVERRIDDEN: g}")
        with pytest.raises(
            ConfigError, match=r"Globals\.Function\.Environment\.Variables\.SHARED \(line 11\)"
        ):
            templates.from_template(_stack(tmp_path, text))

    def test_handler_is_imported_from_code_uri_and_handler(self, tmp_path: Path) -> None:
        """Without handlers=, CodeUri + Handler name the handler; it imports with its environment."""
        sim = templates.from_template(_stack(tmp_path))
        assert {"module": "app", "tag": "one", "at_import": "g"} == _call(sim, "Fn")

    def test_an_imported_handler_runs_with_its_handler_setting_as_handler_variable(
        self, tmp_path: Path
    ) -> None:
        """_HANDLER in the handler's environment is the template's Handler (app.handler), as Lambda sets it."""
        sim = templates.from_template(_stack(tmp_path))
        assert "app.handler" == sim.functions["Fn"].environment_variables(sim.region)["_HANDLER"]

    def test_imports_do_not_leak_between_templates(self, tmp_path: Path) -> None:
        """Two templates each with app.py and helper.py keep their own; sys.path/modules are restored."""
        import sys

        before_path = list(sys.path)
        sentinel = type(sys)("app")
        sys.modules["app"] = sentinel
        try:
            (tmp_path / "one").mkdir()
            (tmp_path / "two").mkdir()
            one = templates.from_template(_stack(tmp_path / "one"))
            two = templates.from_template(_stack(tmp_path / "two", tag="two"))
            assert ("one", "two", "one") == (
                _call(one, "Fn")["tag"],
                _call(two, "Fn")["tag"],
                _call(one, "Fn")["tag"],
            )
            assert sys.modules["app"] is sentinel
            assert "helper" not in sys.modules
            assert before_path == sys.path
        finally:
            del sys.modules["app"]

    def test_validate_names_a_missing_handler_module(self, tmp_path: Path) -> None:
        """validate lists a handler whose module is not in its CodeUri folder, without importing."""
        path = _stack(tmp_path)
        (tmp_path / "code" / "app.py").unlink()
        (problem,) = templates.validate_template(path)
        assert problem.startswith(
            "Globals.Function.Handler (line 9): Handler 'app.handler': no module"
        )

    def test_validate_lists_what_sam_refuses(self, tmp_path: Path) -> None:
        """validate lists SAM's translator's refusals, each at the user's own line."""
        text = STACK.replace("    Runtime: python3.12\n", "").replace(
            "    Handler: app.handler\n", ""
        )
        (problem,) = templates.validate_template(_stack(tmp_path, text))
        assert problem.startswith("Resources.Fn (line 16): SAM: Resource with id [Fn] is invalid.")

    def test_stream_mappings_on_other_sources_are_refused(self, tmp_path: Path) -> None:
        """A mapping on an SQS queue (an SQS event) is refused: esm_sim simulates DynamoDB streams."""
        text = STACK.replace(
            "        Api: {Type: HttpApi, Properties: {Path: /, Method: get}}\n",
            "        Q: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}\n",
        ).replace("  ProdOnly:\n", "  Q:\n    Type: AWS::SQS::Queue\n  ProdOnly:\n")
        with pytest.raises(
            ConfigError,
            match=r"Resources\.Fn\.Properties\.Events\.Q\.Properties\.Queue \(line 33\): .*"
            r"DynamoDB streams only",
        ):
            templates.from_template(_stack(tmp_path, text))


class TestPlainTables:
    def test_plain_table_writes_leave_no_records_and_refuse_stream_reads(self) -> None:
        """A table made with stream_view_type=None keeps items, writes no records, has no stream."""
        sim = esm_sim.Simulation()
        table = sim.create_table("plain", partition_key="pk", stream_view_type=None)
        table.put_item({"pk": "a"})
        table.update_item({"pk": "a"}, {"n": 1})
        table.delete_item({"pk": "a"})
        assert (0, [], [], 0) == (len(table), table.shards, table.open_shards, table.last_sequence)
        for read in (lambda: table.stream_arn, lambda: table.format, lambda: table.replay([])):
            with pytest.raises(ConfigError, match=r"table 'plain' has no stream"):
                read()
