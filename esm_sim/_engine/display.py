"""
How objects of the lower layers show themselves in a notebook, without importing upward.

``Fate``, ``Invocation``, a mapping and the ``Simulation`` render as HTML in
Jupyter, and the simulation offers text views (the timeline, the fates
summary). Those views live at the top (``esm_sim._views``), which registers
them here when ``esm_sim`` is imported; the objects ask for them by name, so
no module imports a layer above its own.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

_VIEWS: dict[str, Callable[..., Any]] = {}


def register(name: str, view: Callable[..., Any]) -> None:
    """Offer ``view`` under ``name`` (done by ``esm_sim._views`` at import)."""
    _VIEWS[name] = view


def view(name: str) -> Callable[..., Any]:
    """The view registered under ``name``."""
    found = _VIEWS.get(name)
    if found is None:
        msg = f"no view {name!r} is registered: import esm_sim first"
        raise LookupError(msg)
    return found


def html_of(name: str, obj: object) -> str:
    """``obj`` as HTML through the view ``name``, or its escaped repr if none is registered."""
    found = _VIEWS.get(name)
    if found is None:
        return f"<pre>{html.escape(repr(obj))}</pre>"
    text: str = found(obj)
    return text
