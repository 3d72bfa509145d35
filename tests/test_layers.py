"""
The package's layers: imports run down, never up, and never in a circle.

``_engine`` < ``_streams`` < ``_lambda`` < ``_mapping`` < ``_control`` < the
facade (``Simulation`` and everything users import). Every import counts:
module level, type-only (``if TYPE_CHECKING:``) and inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "esm_sim"

# Lowest first. A module belongs to the first layer one of whose prefixes it has.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("engine", ("esm_sim.errors", "esm_sim._engine")),
    ("streams", ("esm_sim._streams", "esm_sim._sinks")),
    ("lambda", ("esm_sim._lambda",)),
    ("mapping", ("esm_sim._mapping",)),
    ("control", ("esm_sim._control",)),
    ("facade", ("esm_sim",)),
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The esm_sim module an imported name lives in (a module, or a name in a module)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every esm_sim module ``module`` imports, wherever the import statement stands."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            if name.startswith("esm_sim"):
                # "from esm_sim import x" imports the package (its __init__) too.
                target = _resolve(name, known) if name != "esm_sim" else "esm_sim"
                if target is not None and target != module:
                    found.add(target)
    # "from esm_sim._x import y" names both esm_sim._x and esm_sim._x.y; keep the deepest.
    return {t for t in found if not any(o != t and o.startswith(t + ".") for o in found)}


def layer_of(module: str) -> int:
    """The index of the module's layer in ``LAYERS``."""
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    msg = f"{module} is in no layer"
    raise AssertionError(msg)


def graph() -> dict[str, set[str]]:
    """Module -> the esm_sim modules it imports (excluding the package itself)."""
    known = _modules()
    return {m: imports_of(m, p, known) - {"esm_sim"} for m, p in known.items() if m != "esm_sim"}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


class TestImportGraph:
    def test_no_import_cycle(self) -> None:
        """No two esm_sim modules import each other, directly or round a circle."""
        assert [] == cycles(graph())

    def test_imports_run_down_the_layers(self) -> None:
        """A module imports only modules of its own layer or a lower one."""
        upward = sorted(
            f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
            for m, targets in graph().items()
            for t in targets
            if layer_of(t) > layer_of(m)
        )
        assert [] == upward

    def test_the_checks_see_every_kind_of_import(self) -> None:
        """The graph counts type-only imports and imports inside functions."""
        known = {"esm_sim.a": Path("a.py"), "esm_sim.b": Path("b.py"), "esm_sim.c": Path("c.py")}
        source = (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from esm_sim.b import B\n"
            "def f():\n    from esm_sim import c\n"
        )
        tmp = ROOT.parent / "tests" / "_layers_probe.py"
        tmp.write_text(source)
        try:
            assert {"esm_sim.b", "esm_sim.c"} == imports_of("esm_sim.a", tmp, known)
        finally:
            tmp.unlink()

    @pytest.mark.parametrize(
        ("edges", "expected"),
        [
            ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
            ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c"]]),
            ({"a": {"b"}, "b": set()}, []),
        ],
        ids=["two", "three", "none"],
    )
    def test_cycles_are_found(self, edges: dict[str, set[str]], expected: list[list[str]]) -> None:
        """The cycle finder reports every circle of imports, and only those."""
        assert expected == cycles(edges)
