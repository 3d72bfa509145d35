"""The plots render headless, and their bars match the trace."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle

import esm_sim
from esm_sim import viz
from esm_sim._demo import build_demo
from esm_sim.errors import ConfigError


@pytest.fixture(scope="module")
def demo() -> esm_sim.Simulation:
    """The built-in demo: 30 orders, order-17 poison, bisect, 2 retries, SQS destination."""
    return build_demo(0)


def bars(fig: object) -> list[Rectangle]:
    (ax,) = fig.axes  # type: ignore[attr-defined]
    return [p for p in ax.patches if isinstance(p, Rectangle) and p.get_gid()]


class TestPlotTimeline:
    def test_one_bar_per_invocation(self, demo: esm_sim.Simulation) -> None:
        """Each invocation of the trace is one bar, tagged with its request id."""
        invokes = demo.trace.events(kind="invoke")
        fig = viz.plot_timeline(demo)
        assert [e.get("request_id") for e in invokes] == [b.get_gid() for b in bars(fig)]

    def test_bars_span_start_to_end_and_colour_by_outcome(self, demo: esm_sim.Simulation) -> None:
        """A bar starts and ends with its invocation; red for function errors, green for ok."""
        fig = viz.plot_timeline(demo)
        results = {e.get("request_id"): e for e in demo.trace.events(kind="result")}
        invokes = demo.trace.events(kind="invoke")
        t0 = invokes[0].at_ms
        for bar, sent in zip(bars(fig), invokes, strict=True):
            done = results[sent.get("request_id")]
            assert (sent.at_ms - t0) / 1000 == pytest.approx(bar.get_x())
            assert (done.at_ms - sent.at_ms) / 1000 == pytest.approx(bar.get_width())
            colour = viz.COLOURS["error" if done.get("error") else "ok"]
            assert colour == to_hex(bar.get_facecolor())

    def test_splits_and_discards_are_marked(self, demo: esm_sim.Simulation) -> None:
        """Every split and discard of the trace has a marker in the legend."""
        fig = viz.plot_timeline(demo)
        (ax,) = fig.axes
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert ["ok", "error", "bisect split", "to destination"] == labels
        splits = [ln for ln in ax.lines if ln.get_marker() == "v"]
        assert len(demo.trace.events(kind="split")) == len(splits)

    @staticmethod
    def _reporting(fail_index: int) -> esm_sim.Simulation:
        sim = esm_sim.Simulation(seed=2)
        table = sim.create_table("orders", partition_key="pk")

        def handler(event: dict, context: object) -> dict:
            records = event["Records"]
            if len(records) < 2:
                return {}
            failed = records[fail_index]["dynamodb"]["SequenceNumber"]
            return {"batchItemFailures": [{"itemIdentifier": failed}]}

        sim.create_function("fn", handler)
        sim.lambda_client.create_event_source_mapping(
            FunctionName="fn",
            EventSourceArn=table.stream_arn,
            StartingPosition="TRIM_HORIZON",
            FunctionResponseTypes=["ReportBatchItemFailures"],
            MaximumRetryAttempts=0,
        )
        for i in range(2):
            table.put_item({"pk": f"k{i}"})
        sim.run_until_idle()
        return sim

    def test_partial_bars_are_orange(self) -> None:
        """An invocation whose item failures move the checkpoint is drawn as partial."""
        sim = self._reporting(fail_index=1)
        colours = [to_hex(b.get_facecolor()) for b in bars(viz.plot_timeline(sim))]
        assert viz.COLOURS["partial"] == colours[0]

    def test_rejected_bars_have_their_own_colour(self) -> None:
        """
        An invocation the mapping failed without a function error (the item
        failures name the batch's first record: no progress, spec 4) is drawn
        as rejected, not ok.
        """
        sim = self._reporting(fail_index=0)
        colours = [to_hex(b.get_facecolor()) for b in bars(viz.plot_timeline(sim))]
        assert viz.COLOURS["rejected"] == colours[0]

    def test_renders_to_png(self, demo: esm_sim.Simulation, tmp_path: object) -> None:
        """The figure saves as a PNG without a display."""
        path = tmp_path / "timeline.png"  # type: ignore[operator]
        viz.plot_timeline(demo).savefig(path)
        assert path.read_bytes().startswith(b"\x89PNG")


class TestPlotMetric:
    def test_points_are_the_series(self, demo: esm_sim.Simulation) -> None:
        """The plotted points are exactly the metric's series."""
        fig = viz.plot_metric(demo, "Duration")
        (ax,) = fig.axes
        (line,) = ax.lines
        assert [v for _, v in demo.metrics.series("Duration")] == list(line.get_ydata())

    def test_statistics_per_period(self, demo: esm_sim.Simulation) -> None:
        """With period_seconds the plot shows one statistic per bucket."""
        fig = viz.plot_metric(demo, "Invocations", period_seconds=1, stat="Sum")
        (line,) = fig.axes[0].lines
        assert [v for _, v in demo.metrics.statistics("Invocations", 1, "Sum")] == list(
            line.get_ydata()
        )

    def test_unknown_metric_raises(self, demo: esm_sim.Simulation) -> None:
        """An unknown metric name raises ConfigError."""
        with pytest.raises(ConfigError, match="is not a metric"):
            viz.plot_metric(demo, "Nope")


class TestCommandLine:
    def test_demo_writes_png(self, tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
        """`python -m esm_sim demo --png PATH` writes the timeline plot."""
        from esm_sim.__main__ import main

        path = tmp_path / "demo.png"  # type: ignore[operator]
        assert 0 == main(["demo", "--png", str(path)])
        assert path.read_bytes().startswith(b"\x89PNG")
        assert f"timeline plot written to {path}" in capsys.readouterr().out
