"""Every notebook runs top to bottom in a fresh kernel, and its closing asserts hold."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

PLOTS = ("plot_timeline", "plot_metric", "viz.", "subplots(")
NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


class TestNotebooks:
    def test_there_are_notebooks(self) -> None:
        """The notebooks folder holds the stories (quickstart, poison record, partial batches)."""
        names = [p.name for p in NOTEBOOKS]
        assert {
            "01_quickstart.ipynb",
            "02_poison_record_bisect_retries.ipynb",
            "03_partial_batch_responses.ipynb",
        } <= set(names)

    @pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
    def test_notebook_runs_and_asserts_its_conclusion(self, path: Path) -> None:
        """
        The notebook executes without error, each cell that plots shows an image,
        and its last cell asserts what it showed.
        """
        nb = nbformat.read(path, as_version=4)
        last = nb.cells[-1]
        assert "code" == last.cell_type
        assert "assert " in last.source
        client = nbclient.NotebookClient(
            nb,
            timeout=120,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()  # raises CellExecutionError on any error, failed asserts included
        # A cell that plots shows its figure as an image (not "<Figure size ...>" text).
        blind = [
            c.source
            for c in nb.cells
            if c.cell_type == "code"
            and any(p in c.source for p in PLOTS)
            and not any("image/png" in o.get("data", {}) for o in c.outputs)
        ]
        assert [] == blind

    @pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
    def test_notebook_is_saved_without_outputs(self, path: Path) -> None:
        """Notebooks are kept without outputs or execution counts."""
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert [] == [c for c in code if c.outputs or c.execution_count is not None]
