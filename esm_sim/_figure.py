"""
The Figure every ``esm_sim.viz`` function returns: a matplotlib Figure that shows itself.

Imported only by ``esm_sim.viz`` when a plot is drawn (it imports matplotlib).
Jupyter asks an object for ``_repr_png_`` and ``_repr_svg_``; a plain Figure
made without pyplot has neither (pyplot's inline backend adds them globally),
so a notebook would show ``<Figure size ...>`` as text. ``PlotFigure`` carries
its own image reprs, drawn on the Agg canvas, so no magic and no global state.
"""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


class PlotFigure(Figure):
    """A matplotlib ``Figure`` on the Agg canvas, with PNG and SVG reprs for Jupyter."""

    def __init__(self, *, width: float, height: float) -> None:
        super().__init__(figsize=(width, height), layout="constrained")
        FigureCanvasAgg(self)  # draws headless, in CI as in a notebook

    def _render(self, fmt: str) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format=fmt, dpi=100, bbox_inches="tight")
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:
        return self._render("png")

    def _repr_svg_(self) -> str:
        return self._render("svg").decode("utf-8")
