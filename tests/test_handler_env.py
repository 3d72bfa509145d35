"""
The handler's surroundings: its environment, its clock and its log (issue 16, item 2).

While a handler runs, ``os.environ`` holds its function's ``environment`` and
Lambda's reserved variables; what it prints or logs is its invocation's
``logs``; with ``handler_clock="virtual"`` the wall clock reads the
invocation's virtual start. Everything is the user's again after the run.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import logging
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

import pytest

import esm_sim
from esm_sim.errors import ConfigError

START = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


def _run(handler: Any, *, items: int = 1, **kwargs: Any) -> esm_sim.Simulation:
    sim = esm_sim.Simulation(start=START, handler_clock=kwargs.pop("handler_clock", "wall"))
    table = sim.create_table("orders", partition_key="pk")
    sim.create_function("fn", handler, **kwargs)
    sim.lambda_client.create_event_source_mapping(
        EventSourceArn=table.stream_arn,
        FunctionName="fn",
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
    )
    for i in range(items):
        table.put_item({"pk": f"k{i}"})
    sim.run_until_idle()
    return sim


def _two_functions(
    sim: esm_sim.Simulation, handler: Any, environments: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """Functions fa and fb (with these environments), each fed by its own table; the tables."""
    tables = {}
    for name in ("fa", "fb"):
        tables[name] = sim.create_table(f"t_{name}", partition_key="pk")
        sim.create_function(name, handler, environment=environments.get(name))
        sim.lambda_client.create_event_source_mapping(
            EventSourceArn=tables[name].stream_arn,
            FunctionName=name,
            StartingPosition="TRIM_HORIZON",
            BatchSize=1,
        )
    return tables


class TestEnvironment:
    def test_handler_sees_its_environment_and_lambdas_reserved_variables(self) -> None:
        """os.environ holds create_function's environment and Lambda's reserved variables while the handler runs."""
        seen: list[dict[str, str]] = []
        names = (
            "STAGE",
            "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "AWS_LAMBDA_INITIALIZATION_TYPE",
            "_HANDLER",
        )

        def handler(event: Any, context: Any) -> None:
            seen.append({n: os.environ[n] for n in names})
            seen[-1]["stream"] = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
            seen[-1]["context_stream"] = context.log_stream_name
            seen[-1]["exec"] = os.environ["AWS_EXECUTION_ENV"]

        _run(handler, environment={"STAGE": "test"}, memory_size=256)
        got = seen[0]
        assert {
            "STAGE": "test",
            "AWS_LAMBDA_FUNCTION_NAME": "fn",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "_HANDLER": "test_handler_env.handler",
        } == {n: got[n] for n in names}
        assert got["context_stream"] == got["stream"]
        assert got["exec"].startswith("AWS_Lambda_python3.")

    def test_environment_is_restored_after_the_run(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """After the run os.environ is the user's again: values put back, added variables gone."""
        monkeypatch.setenv("STAGE", "mine")
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
        monkeypatch.delenv("ONLY_IN_FN", raising=False)
        monkeypatch.delenv("AWS_LAMBDA_LOG_STREAM_NAME", raising=False)
        before = dict(os.environ)
        _run(lambda e, c: None, environment={"STAGE": "test", "ONLY_IN_FN": "x"})
        assert "mine" == os.environ["STAGE"]
        assert "AWS_LAMBDA_FUNCTION_NAME" not in os.environ
        assert "ONLY_IN_FN" not in os.environ
        assert "AWS_LAMBDA_LOG_STREAM_NAME" not in os.environ
        assert before == dict(os.environ)

    def test_what_a_handler_writes_to_os_environ_stays_in_the_simulation(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A handler's own os.environ writes and deletions are undone when the run ends."""
        monkeypatch.setenv("STAGE", "mine")
        monkeypatch.setenv("KEEP_ME", "yes")
        monkeypatch.delenv("SET_BY_HANDLER", raising=False)

        def handler(event: Any, context: Any) -> None:
            os.environ["SET_BY_HANDLER"] = "1"
            os.environ["STAGE"] = "changed"
            os.environ.pop("KEEP_ME", None)

        _run(handler, items=2)
        assert "SET_BY_HANDLER" not in os.environ
        assert "mine" == os.environ["STAGE"]
        assert "yes" == os.environ["KEEP_ME"]

    @pytest.mark.skipif(sys.platform == "win32", reason="reads the C library's environment")
    def test_the_process_environment_follows_os_environ(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """
        What C code and child processes read (the C library's environment) is what
        os.environ holds: the function's variables while its handler runs, the
        user's own again after the run, with nothing a handler set left behind.
        """
        import ctypes

        libc = ctypes.CDLL(None)
        libc.getenv.restype = ctypes.c_char_p
        getenv = libc.getenv
        monkeypatch.setenv("STAGE", "mine")
        monkeypatch.delenv("ONLY_IN_FN", raising=False)
        monkeypatch.delenv("SET_BY_HANDLER", raising=False)
        monkeypatch.delenv("AWS_LAMBDA_LOG_STREAM_NAME", raising=False)
        seen = []

        def handler(event: Any, context: Any) -> None:
            stream = getenv(b"AWS_LAMBDA_LOG_STREAM_NAME")
            seen.append((getenv(b"STAGE"), getenv(b"ONLY_IN_FN"), getenv(b"SET_BY_HANDLER")))
            assert stream == context.log_stream_name.encode()
            os.environ["SET_BY_HANDLER"] = "1"

        _run(handler, items=2, environment={"STAGE": "test", "ONLY_IN_FN": "x"})
        assert [(b"test", b"x", None), (b"test", b"x", b"1")] == seen
        after = (getenv(b"STAGE"), getenv(b"ONLY_IN_FN"), getenv(b"SET_BY_HANDLER"))
        assert (b"mine", None, None) == after
        assert getenv(b"AWS_LAMBDA_FUNCTION_NAME") is None
        assert getenv(b"AWS_LAMBDA_LOG_STREAM_NAME") is None

    def test_each_function_sees_only_its_own_environment(self) -> None:
        """Two functions taking turns: each handler sees its own variables, never the other's."""
        seen: list[tuple[str, str | None, str | None]] = []

        def handler(event: Any, context: Any) -> None:
            seen.append((context.function_name, os.environ.get("VAR_A"), os.environ.get("VAR_B")))

        sim = esm_sim.Simulation()
        tables = _two_functions(sim, handler, {"fa": {"VAR_A": "1"}, "fb": {"VAR_B": "2"}})
        for table in tables.values():
            for i in range(3):
                sim.call_later(i, table.put_item, {"pk": f"k{i}"})
        sim.run_until_idle()
        assert {("fa", "1", None), ("fb", None, "2")} == set(seen)
        assert 6 == len(seen)

    def test_a_handlers_own_writes_stay_with_its_function(self) -> None:
        """What a handler writes to os.environ is seen by its function's later
        invocations in the run, never by another function's handler taking turns with it."""
        seen: list[tuple[str, str | None]] = []

        def handler(event: Any, context: Any) -> None:
            name = context.function_name
            seen.append((name, os.environ.get("WRITTEN_BY")))
            os.environ["WRITTEN_BY"] = name

        sim = esm_sim.Simulation()
        for table in _two_functions(sim, handler, {}).values():
            for i in range(3):
                sim.call_later(i * 10, table.put_item, {"pk": f"k{i}"})
        sim.run_until_idle()
        assert [None, "fa", "fa"] == [v for n, v in seen if n == "fa"]
        assert [None, "fb", "fb"] == [v for n, v in seen if n == "fb"]
        # the two functions did take turns
        assert any(a[0] != b[0] for a, b in itertools.pairwise(seen))
        assert "WRITTEN_BY" not in os.environ

    def test_user_code_changing_the_environment_mid_run_reaches_every_function(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A variable set by user code between invocations (a call_later callback) is
        seen by every handler after it, alongside what a handler wrote for its own function."""
        monkeypatch.delenv("FLAG", raising=False)
        seen: list[tuple[str, str | None, str | None]] = []

        def handler(event: Any, context: Any) -> None:
            seen.append(
                (context.function_name, os.environ.get("FLAG"), os.environ.get("WRITTEN_BY"))
            )
            os.environ["WRITTEN_BY"] = context.function_name

        sim = esm_sim.Simulation()
        tables = _two_functions(sim, handler, {})
        sim.call_later(1, tables["fa"].put_item, {"pk": "a1"})
        sim.call_later(30, os.environ.__setitem__, "FLAG", "on")
        sim.call_later(40, tables["fa"].put_item, {"pk": "a2"})
        sim.call_later(40, tables["fb"].put_item, {"pk": "b1"})
        sim.run_until_idle()
        assert [("fa", None, None), ("fa", "on", "fa"), ("fb", "on", None)] == seen
        assert "on" == os.environ["FLAG"]  # the user's own write stays
        assert "WRITTEN_BY" not in os.environ

    def test_a_functions_environment_is_read_only_and_memory_changes_show(self) -> None:
        """fn.environment cannot be changed in place; a changed memory_size reaches the handler."""
        seen: list[str | None] = []
        sim = esm_sim.Simulation()
        table = sim.create_table("orders", partition_key="pk")
        fn = sim.create_function(
            "fn",
            lambda e, c: seen.append(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")),
            environment={"STAGE": "test"},
        )
        with pytest.raises(TypeError):
            fn.environment["STAGE"] = "prod"  # type: ignore[index]
        sim.lambda_client.create_event_source_mapping(
            EventSourceArn=table.stream_arn, FunctionName="fn", StartingPosition="TRIM_HORIZON"
        )
        table.put_item({"pk": "a"})
        sim.run_until_idle()
        fn.memory_size = 512
        table.put_item({"pk": "b"})
        sim.run_until_idle()
        assert ["128", "512"] == seen

    def test_a_replaced_handler_shows_in_its_handler_variable(self) -> None:
        """_HANDLER names the handler that runs, also after fn.handler is replaced."""
        seen: list[str | None] = []

        def first(event: Any, context: Any) -> None:
            seen.append(os.environ.get("_HANDLER"))

        def second(event: Any, context: Any) -> None:
            seen.append(os.environ.get("_HANDLER"))

        sim = esm_sim.Simulation()
        table = sim.create_table("orders", partition_key="pk")
        fn = sim.create_function("fn", first)
        sim.lambda_client.create_event_source_mapping(
            EventSourceArn=table.stream_arn, FunctionName="fn", StartingPosition="TRIM_HORIZON"
        )
        table.put_item({"pk": "a"})
        sim.run_until_idle()
        fn.handler = second
        table.put_item({"pk": "b"})
        sim.run_until_idle()
        assert 2 == len(seen)
        assert seen[0] is not None and seen[0].endswith("first")
        assert seen[1] is not None and seen[1].endswith("second")

    def test_user_callbacks_see_the_users_environment(self) -> None:
        """A call_at callback between invocations sees no function's variables."""
        seen: list[str | None] = []
        sim = esm_sim.Simulation()
        table = sim.create_table("orders", partition_key="pk")
        sim.create_function("fn", lambda e, c: None, environment={"STAGE": "test"})
        sim.lambda_client.create_event_source_mapping(
            EventSourceArn=table.stream_arn, FunctionName="fn", StartingPosition="TRIM_HORIZON"
        )
        table.put_item({"pk": "a"})
        sim.call_later(30, lambda: seen.append(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")))
        sim.run_until_idle()
        assert 1 == len(sim.functions["fn"].invocations)
        assert [None] == seen

    @pytest.mark.parametrize(
        ("environment", "message"),
        [
            ({"AWS_REGION": "x"}, "Reserved keys used in this request: AWS_REGION"),
            ({"STAGE": 1}, "must be a str"),
            ({"1BAD": "x"}, "must start with a letter"),
            ({"BIG": "x" * 5000}, "exceeded the 4KB limit"),
            (["STAGE"], "must be a mapping"),
        ],
    )
    def test_bad_environment_is_refused_at_the_call(self, environment: Any, message: str) -> None:
        """create_function refuses reserved keys, non-str values, bad names and over 4 KB, as Lambda does."""
        sim = esm_sim.Simulation()
        with pytest.raises(ConfigError, match=message):
            sim.create_function("fn", lambda e, c: None, environment=environment)


class TestLogs:
    def test_print_stderr_and_logging_are_the_invocations_logs(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """What a handler prints (stdout, stderr) or logs is its invocation's logs, not the test's output."""
        logger = logging.getLogger("esm_sim_test_app")
        handler_out = logging.StreamHandler(sys.stdout)  # made before the run, as at import
        logger.addHandler(handler_out)
        logger.setLevel(logging.INFO)
        logger.propagate = False

        def handler(event: Any, context: Any) -> None:
            key = event["Records"][0]["dynamodb"]["Keys"]["pk"]["S"]
            print("got", key)
            print("oops", key, file=sys.stderr)
            logger.info("logged %s", key)

        try:
            sim = _run(handler, items=2)
        finally:
            logger.removeHandler(handler_out)
        logs = [inv.logs for inv in sim.functions["fn"].invocations]
        assert ["got k0\noops k0\nlogged k0\n", "got k1\noops k1\nlogged k1\n"] == logs
        captured = capsys.readouterr()
        assert "got" not in captured.out + captured.err

    def test_a_simulation_run_inside_a_handler_leaves_the_outer_capture_on(self) -> None:
        """A handler that runs a simulation of its own still has what it logs afterwards captured."""
        logger = logging.getLogger("esm_sim_test_nested")
        console = logging.StreamHandler(sys.stderr)
        logger.addHandler(console)
        logger.setLevel(logging.INFO)
        logger.propagate = False

        def inner(event: Any, context: Any) -> None:
            logger.info("inner")

        def outer(event: Any, context: Any) -> None:
            logger.info("before")
            _run(inner)
            logger.info("after")

        try:
            sim = _run(outer)
        finally:
            logger.removeHandler(console)
        assert "before\nafter\n" == sim.functions["fn"].invocations[0].logs

    def test_powertools_logger_is_captured(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A Powertools Logger's JSON lines are the invocation's logs."""
        powertools = pytest.importorskip("aws_lambda_powertools")
        log = powertools.Logger(service="orders")

        def handler(event: Any, context: Any) -> None:
            log.info("processing")

        sim = _run(handler)
        logs = sim.functions["fn"].invocations[0].logs
        assert '"message":"processing"' in logs.replace(" ", "")
        assert "processing" not in capsys.readouterr().out

    def test_a_handler_made_on_an_earlier_stdout_is_captured_but_not_files_or_buffers(
        self, tmp_path: Any
    ) -> None:
        """Logging handlers on a console stream of an earlier time (a module imported under another test's capture) and handlers added during the run are captured; FileHandlers and in-memory StringIO handlers keep their own output."""
        earlier_stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # not sys.stdout now
        mine = io.StringIO()
        logger = logging.getLogger("esm_sim_test_stale")
        logger.setLevel(logging.INFO)
        logger.propagate = False
        handlers: list[logging.Handler] = [
            logging.StreamHandler(earlier_stdout),
            logging.StreamHandler(mine),
            logging.FileHandler(tmp_path / "app.log"),
        ]
        for h in handlers:
            logger.addHandler(h)

        def handler(event: Any, context: Any) -> None:
            if not any(getattr(h, "name", None) == "late" for h in logger.handlers):
                late = logging.StreamHandler(sys.stderr)
                late.name = "late"
                logger.addHandler(late)
                handlers.append(late)
            logger.info("order %s", event["Records"][0]["dynamodb"]["Keys"]["pk"]["S"])

        try:
            sim = _run(handler, items=2)
        finally:
            for h in handlers:
                logger.removeHandler(h)
                h.close()
        logs = [inv.logs for inv in sim.functions["fn"].invocations]
        assert ["order k0\norder k0\n", "order k1\norder k1\n"] == logs  # the late one too
        assert "" == earlier_stdout.buffer.getvalue().decode()  # type: ignore[attr-defined]
        assert "order k0\norder k1\n" == mine.getvalue()
        assert "order k0\norder k1\n" == (tmp_path / "app.log").read_text()

    def test_logs_are_empty_when_nothing_is_printed(self) -> None:
        """An invocation that prints nothing has logs == ""."""
        sim = _run(lambda e, c: None)
        assert "" == sim.functions["fn"].invocations[0].logs

    def test_logs_show_in_the_invocations_html(self) -> None:
        """The invocation's HTML shows its logs, escaped."""
        sim = _run(lambda e, c: print("<b>hi</b>"))
        page = sim.functions["fn"].invocations[0]._repr_html_()
        assert "<pre>&lt;b&gt;hi&lt;/b&gt;\n</pre>" in page

    def test_streams_are_restored_after_a_handler_raises(self) -> None:
        """sys.stdout and sys.stderr are the test's again after a handler raised, its output still captured."""
        before = (sys.stdout, sys.stderr)

        def handler(event: Any, context: Any) -> None:
            print("before the error")
            raise ValueError("boom")

        sim = _run(handler, items=1)
        assert before == (sys.stdout, sys.stderr)
        invs = sim.functions["fn"].invocations
        assert "before the error\n" == invs[0].logs
        assert "ValueError" == invs[0].error_type


class TestVirtualClock:
    def test_wall_clock_reads_the_invocations_virtual_start(self) -> None:
        """With handler_clock="virtual", time.time(), time_ns(), datetime.now(), utcnow() and date.today() read the invocation's start."""
        pytest.importorskip("time_machine")
        seen: list[tuple[Any, ...]] = []

        def handler(event: Any, context: Any) -> None:
            seen.append(
                (
                    time.time(),
                    time.time_ns(),
                    datetime.now(UTC),
                    datetime.utcnow(),
                    dt.date.today(),
                )
            )

        sim = esm_sim.Simulation(start=START, handler_clock="virtual")
        table = sim.create_table("orders", partition_key="pk")
        sim.create_function("fn", handler)
        sim.lambda_client.create_event_source_mapping(
            EventSourceArn=table.stream_arn,
            FunctionName="fn",
            StartingPosition="TRIM_HORIZON",
            BatchSize=1,
        )
        table.put_item({"pk": "a"})
        sim.call_later(3600, table.put_item, {"pk": "b"})
        sim.run_until_idle()
        starts = [inv.started_at for inv in sim.functions["fn"].invocations]
        assert 2 == len(seen) == len(starts)
        for (t, t_ns, now, utcnow, today), start in zip(seen, starts, strict=True):
            assert start.timestamp() == t
            assert round(start.timestamp() * 1e9) == t_ns
            assert start == now
            assert start.replace(tzinfo=None) == utcnow
            assert start.date() == today
        assert time.time() < START.timestamp()  # the real clock is back

    def test_wall_is_the_default(self) -> None:
        """Without handler_clock, a handler reads the real clock."""
        seen: list[float] = []
        sim = _run(lambda e, c: seen.append(time.time()))
        assert "wall" == sim.handler_clock
        assert seen[0] < START.timestamp()

    def test_bad_handler_clock_is_refused(self) -> None:
        """handler_clock must be "wall" or "virtual"."""
        with pytest.raises(ConfigError, match="handler_clock='utc' must be one of wall, virtual"):
            esm_sim.Simulation(handler_clock="utc")

    def test_virtual_clock_without_time_machine_names_the_extra(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """handler_clock="virtual" without time-machine is a one-line error naming esm_sim[aws]."""
        monkeypatch.setitem(sys.modules, "time_machine", None)
        with pytest.raises(ConfigError, match=r"needs time-machine: pip install 'esm_sim\[aws\]'"):
            esm_sim.Simulation(handler_clock="virtual")
