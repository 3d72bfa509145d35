"""Tests for esm_sim._cli: `python -m esm_sim run scenario.yaml` and `validate template.yaml`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from esm_sim.__main__ import main

pytest.importorskip("yaml")

HANDLERS = """\
def ok(event, context):
    return None
"""

SCENARIO = """\
seed: 1
tables:
  - {name: orders, partition_key: pk}
functions:
  - {name: process, handler: "cli_handlers:ok"}
mappings:
  - FunctionName: process
    table: orders
    StartingPosition: TRIM_HORIZON
    BatchSize: 2
    MaximumRetryAttempts: 1
writes:
  - {at: 10, table: orders, put: {pk: a, price: 1.5}}
  - {at: 11, put: {pk: poison}}
  - {at: 12, delete: {pk: a}}
faults:
  fail_on_keys: [poison]
"""

TEMPLATE = """\
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: cli_handlers.ok
      Events:
        S:
          Type: DynamoDB
          Properties: {Stream: !GetAtt Orders.StreamArn, StartingPosition: LATEST, BatchSize: 5}
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "cli_handlers.py").write_text(HANDLERS)
    (tmp_path / "cli_broken.py").write_text("def ok(event, context)\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(workdir: Path, text: str, *args: str) -> int:
    (workdir / "scenario.yaml").write_text(text)
    return main(["run", "scenario.yaml", *args])


class TestRun:
    def test_prints_timeline_summary_and_invariants(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`run` prints the timeline, the fates summary and the invariants verdict, and exits 0."""
        assert 0 == _run(workdir, SCENARIO)
        out = capsys.readouterr().out
        assert "RetryAttemptsExhausted" in out
        assert "invocations" in out
        assert out.rstrip().endswith("invariants: ok")

    def test_json_output(self, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`run --json` prints one JSON object with the fates and the trace digest."""
        assert 0 == _run(workdir, SCENARIO, "--json")
        out = json.loads(capsys.readouterr().out)
        ((fates),) = out["fates"].values()
        assert (1, 2, 0) == (fates["dropped"], fates["processed"], fates["pending"])
        assert "ok" == out["invariants"]
        assert 1 == out["seed"]

    def test_a_run_still_busy_at_max_seconds_reports_and_exits_1(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A run not idle after max_seconds is a result, not a crash: exit 1, the JSON says why in not_idle (null otherwise) and stderr has one error line."""
        assert 0 == _run(workdir, SCENARIO, "--json")
        assert None is json.loads(capsys.readouterr().out)["not_idle"]
        assert 1 == _run(workdir, SCENARIO + "max_seconds: 5\n", "--json")
        captured = capsys.readouterr()
        out = json.loads(captured.out)
        assert out["not_idle"].startswith("not idle after max_seconds=5: ")
        assert 1 == len(out["fates"]) and "ok" == out["invariants"]  # reported all the same
        assert [f"error: {out['not_idle']}"] == captured.err.splitlines()
        assert 1 == _run(workdir, SCENARIO + "max_seconds: 5\n")
        assert "not idle after max_seconds=5" in capsys.readouterr().err

    def test_same_seed_same_digest(self, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Two runs of one scenario print the same trace digest."""
        _run(workdir, SCENARIO, "--json")
        first = json.loads(capsys.readouterr().out)["trace_digest"]
        _run(workdir, SCENARIO, "--json")
        assert first == json.loads(capsys.readouterr().out)["trace_digest"]

    def test_broken_invariant_exits_1(
        self, workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A failing invariant makes `run` exit 1 and say which."""
        invariants = pytest.importorskip("esm_sim.invariants")

        def broken(sim: object) -> None:
            raise AssertionError("records out of order")

        monkeypatch.setattr(invariants, "check_all", broken)
        assert 1 == _run(workdir, SCENARIO)
        assert "invariant broken: records out of order" in capsys.readouterr().out

    def test_template_scenario(self, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A scenario can take its resources from a template, with handlers by logical id."""
        (workdir / "template.yaml").write_text(TEMPLATE)
        text = (
            "template: template.yaml\nhandlers: {Fn: 'cli_handlers:ok'}\n"
            "writes:\n  - {at: 30, table: Orders, put: {pk: a}}\n"
        )
        assert 0 == _run(workdir, text, "--json")
        ((fates),) = json.loads(capsys.readouterr().out)["fates"].values()
        assert 1 == fates["processed"]

    @pytest.mark.parametrize(
        ("old", "new", "message"),
        [
            pytest.param(
                "seed: 1",
                "seed: one",
                "scenario.yaml:1: seed: seed='one' must be a int",
                id="seed-type",
            ),
            pytest.param(
                "seed: 1",
                "sead: 1",
                "scenario.yaml:1: sead: unknown field 'sead'",
                id="unknown-field",
            ),
            pytest.param(
                "BatchSize: 2",
                "BatchSize: 0",
                "scenario.yaml:7: mappings[0]: Parameter validation failed:",
                id="aws-refuses",
            ),
            pytest.param(
                '"cli_handlers:ok"',
                '"cli_handlers:nope"',
                "scenario.yaml:5: functions[0].handler: handler='cli_handlers:nope' cannot be imported",
                id="handler-import",
            ),
            pytest.param(
                '"cli_handlers:ok"',
                '"cli_handlers.ok"',
                "must be an import path 'package.module:function'",
                id="handler-path",
            ),
            pytest.param(
                "    table: orders\n",
                "    table: order\n",
                "scenario.yaml:8: mappings[0].table: table='order' is not a table above",
                id="mapping-table",
            ),
            pytest.param(
                "{at: 10,",
                "{at: -1,",
                "scenario.yaml:13: writes[0].at: at=-1 must be seconds >= 0",
                id="write-time",
            ),
            pytest.param(
                "{at: 10,",
                "{at: .nan,",
                "scenario.yaml:13: writes[0].at: at=nan must be seconds >= 0",
                id="write-time-nan",
            ),
            pytest.param(
                "{pk: poison}",
                "{id: poison}",
                "scenario.yaml:14: writes[1].put: An error occurred (ValidationException)",
                id="write-key",
            ),
            pytest.param(
                "fail_on_keys: [poison]",
                "fail_on_key: [poison]",
                "scenario.yaml:17: faults.fail_on_key: unknown fault",
                id="fault",
            ),
            pytest.param("seed: 1", "seed: [1", "not valid YAML", id="yaml-syntax"),
            pytest.param(
                "seed: 1",
                "seed: 1\nhandlers: {Fn: 'cli_handlers:ok'}",
                "scenario.yaml:2: handlers: handlers: names a template's functions",
                id="handlers-without-template",
            ),
            pytest.param(
                "seed: 1",
                "seed: true",
                "scenario.yaml:1: seed: seed=True must be a int",
                id="seed-bool",
            ),
            pytest.param(
                "seed: 1",
                'seed: 1\nstart: "0001-01-01T00:00:00Z"',
                "scenario.yaml:2: start: start=",
                id="start-before-the-epoch",
            ),
            pytest.param(
                '"cli_handlers:ok"',
                '"cli_broken:ok"',
                "scenario.yaml:5: functions[0].handler: handler='cli_broken:ok' cannot be "
                "imported: SyntaxError:",
                id="handler-module-syntax-error",
            ),
            pytest.param(
                "    table: orders\n",
                "    table: [1]\n",
                "scenario.yaml:8: mappings[0].table: table=[1] is not a table above",
                id="mapping-table-not-a-name",
            ),
            pytest.param(
                "seed: 1",
                "seed: 1\nmax_seconds: -5",
                "scenario.yaml:2: max_seconds: max_seconds=-5 must be a number of seconds from 0",
                id="max-seconds",
            ),
            pytest.param(
                "seed: 1",
                "seed: 1\nmax_seconds: 253402300000",
                "scenario.yaml:2: max_seconds: max_seconds=253402300000 from now=",
                id="max-seconds-past-the-clock",
            ),
            pytest.param(
                "seed: 1",
                "seed: 1\nhandler_clock: sundial",
                "scenario.yaml:2: handler_clock: handler_clock='sundial' must be one of wall, virtual",
                id="handler-clock",
            ),
            pytest.param(
                "    table: orders\n",
                "    table: orders\n    EventSourceArn: arn:aws:dynamodb:us-east-1:123456789012:table/x/stream/y\n",
                "scenario.yaml:8: mappings[0].table: give table: or EventSourceArn:, not both",
                id="table-and-arn",
            ),
        ],
    )
    def test_bad_scenarios_name_field_and_line(
        self, workdir: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, message: str
    ) -> None:
        """A bad scenario file exits 2 with an error naming the field and its line."""
        assert old in SCENARIO
        assert 2 == _run(workdir, SCENARIO.replace(old, new))
        assert message in capsys.readouterr().err


class TestValidate:
    def test_accepted_template(self, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`validate` exits 0 when AWS would accept every setting."""
        (workdir / "template.yaml").write_text(TEMPLATE)
        assert 0 == main(["validate", "template.yaml"])
        assert "every function and mapping setting is accepted" in capsys.readouterr().out

    def test_refused_settings_are_listed(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`validate` exits 1 and prints each setting AWS would refuse, with its line."""
        (workdir / "template.yaml").write_text(TEMPLATE.replace("BatchSize: 5", "BatchSize: 10001"))
        assert 1 == main(["validate", "template.yaml"])
        out = capsys.readouterr().out
        assert out.startswith("Resources.Fn.Properties.Events.S (line 13): ")
        assert "ValidationException" in out

    def test_unreadable_template_exits_2(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`validate` exits 2 on a file that is not a template."""
        (workdir / "template.yaml").write_text("a: 1\n")
        assert 2 == main(["validate", "template.yaml"])
        assert "has no Resources map" in capsys.readouterr().err


class TestModule:
    def test_python_dash_m(self, workdir: Path) -> None:
        """`python -m esm_sim validate` works as a process, and `demo` is still there."""
        (workdir / "template.yaml").write_text(TEMPLATE)
        done = subprocess.run(
            [sys.executable, "-m", "esm_sim", "validate", "template.yaml"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert 0 == done.returncode, done.stderr
        helped = subprocess.run(
            [sys.executable, "-m", "esm_sim", "--help"], capture_output=True, text=True, check=False
        )
        assert all(c in helped.stdout for c in ("demo", "run", "validate"))


PRINTING_HANDLERS = """\
def noisy(event, context):
    print("handler says {not json")
"""


class TestFailOn:
    @pytest.mark.parametrize(
        ("names", "status"),
        [
            pytest.param("dropped", 1, id="dropped-occurred"),
            pytest.param("errors", 1, id="errors-occurred"),
            pytest.param("expired", 0, id="expired-did-not"),
            pytest.param("destination", 0, id="destination-did-not"),
            pytest.param("expired,destination,invariants", 0, id="none-occurred"),
            pytest.param("expired,dropped", 1, id="one-of-several"),
        ],
    )
    def test_exit_1_only_when_a_named_outcome_occurred(
        self, workdir: Path, capsys: pytest.CaptureFixture[str], names: str, status: int
    ) -> None:
        """`run --fail-on` exits 1 when a named outcome occurred (the poison record is dropped
        after function errors), else 0."""
        assert status == _run(workdir, SCENARIO, "--fail-on", names)
        line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("fail-on"))
        last = names.rsplit(",", maxsplit=1)[-1]
        assert line.endswith("ok" if status == 0 else f"failed on {last}")

    def test_default_gates_on_invariants_only(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without --fail-on a dropped record does not fail the run; invariants do."""
        assert 0 == _run(workdir, SCENARIO, "--json")
        out = json.loads(capsys.readouterr().out)
        assert (["invariants"], [], 2) == (out["fail_on"], out["failed"], out["errors"])

    def test_json_names_what_failed(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`--json` lists the named outcomes that occurred under "failed"."""
        assert 1 == _run(workdir, SCENARIO, "--json", "--fail-on", "errors,dropped,expired")
        assert ["errors", "dropped"] == json.loads(capsys.readouterr().out)["failed"]

    def test_unknown_name_exits_2(self, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """An unknown --fail-on name is bad input: exit 2, naming the choices."""
        with pytest.raises(SystemExit) as exited:
            _run(workdir, SCENARIO, "--fail-on", "dropped,oops")
        assert 2 == exited.value.code
        assert "dropped, destination, expired, errors, invariants" in capsys.readouterr().err

    def test_handler_prints_do_not_corrupt_json(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With --json stdout stays one JSON object: what handlers print is captured as their invocation's logs, on neither stream."""
        (workdir / "cli_noisy.py").write_text(PRINTING_HANDLERS)
        text = SCENARIO.replace("cli_handlers:ok", "cli_noisy:noisy")
        _run(workdir, text, "--json")
        captured = capsys.readouterr()
        assert 1 == json.loads(captured.out)["seed"]
        assert "handler says {not json" not in captured.out + captured.err


class TestMissingExtra:
    @pytest.mark.parametrize("module", ["yaml", "samtranslator"])
    def test_one_line_naming_the_install(
        self,
        workdir: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        module: str,
    ) -> None:
        """`validate` without PyYAML or aws-sam-translator prints one line naming the pip install, exit 2."""
        (workdir / "template.yaml").write_text(TEMPLATE)
        monkeypatch.setitem(sys.modules, module, None)  # import fails: ModuleNotFoundError
        for name in [n for n in sys.modules if n.startswith("samtranslator.")]:
            monkeypatch.delitem(sys.modules, name)
        assert 2 == main(["validate", "template.yaml"])
        err = capsys.readouterr().err
        assert 1 == len(err.splitlines()), err
        assert "pip install 'esm_sim[templates]'" in err
        assert "Traceback" not in err

    def test_run_without_pyyaml(
        self, workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`run` without PyYAML says the same, exit 2."""
        monkeypatch.setitem(sys.modules, "yaml", None)
        assert 2 == _run(workdir, SCENARIO)
        assert "error: reading YAML needs PyYAML: pip install 'esm_sim[templates]'\n" == (
            capsys.readouterr().err
        )
