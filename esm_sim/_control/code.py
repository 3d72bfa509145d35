"""
Handlers imported from a template's code: ``CodeUri`` plus ``Handler``, as Lambda does.

Lambda's Python runtime puts the function's code root first on ``sys.path`` and
imports the module named by ``Handler`` (``app.handler``: module ``app``,
attribute ``handler``; ``src/app.handler``: module ``src.app``), once per
execution environment. :class:`CodeHandler` does the same in process, keeping
each function's modules to itself: they are in ``sys.modules`` (and the code
root on ``sys.path``) only while the function's handler runs, so two templates
that each have an ``app.py`` (or two functions of one template, as two
execution environments would) never see each other's modules, and the test's
own modules are back in place after every call.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from esm_sim.errors import ConfigError

__all__ = ["CodeHandler", "find_module", "split_handler"]


def split_handler(handler: object, where: str) -> tuple[str, str]:
    """``"pkg/app.handler"`` as ``("pkg.app", "handler")``, as Lambda's Python runtime reads it."""
    if not isinstance(handler, str) or "." not in handler.strip("."):
        msg = f"{where}: Handler={handler!r} must be 'module.function' (e.g. 'app.handler')"
        raise ConfigError(msg)
    module, attr = handler.rsplit(".", 1)
    return module.replace("/", "."), attr


def find_module(root: Path, module: str) -> bool:
    """Whether ``module``'s top-level package or module is in ``root`` (nothing is imported)."""
    top = module.split(".", 1)[0]
    return importlib.machinery.PathFinder.find_spec(top, [str(root)]) is not None


def _under(module: ModuleType, root: str) -> bool:
    """Whether ``module`` was loaded from the folder ``root`` (a file or a namespace package)."""
    file = getattr(module, "__file__", None)
    if isinstance(file, str):
        return file.startswith(root)
    paths = getattr(module, "__path__", None)
    try:
        return paths is not None and any(str(p).startswith(root) for p in paths)
    except TypeError:
        return False


class CodeHandler:
    """
    A function's handler imported from its code root, run with that root as Lambda's.

    Call :meth:`load` once (the execution environment's init, with the
    function's environment variables set); then each call runs the handler with
    the root first on ``sys.path`` and the function's own modules in
    ``sys.modules``, both put back as they were afterwards.
    """

    def __init__(self, root: Path, handler: str, *, where: str) -> None:
        self.root = root
        self.handler_spec = handler
        self.module_name, self.attr = split_handler(handler, where)
        self.where = where
        self._root = str(root.resolve())
        self._prefix = self._root + os.sep
        # Top-level names the root provides (its modules and packages), hidden from
        # the caller's sys.modules while this function runs.
        self._names: list[str] = []
        self._modules: dict[str, ModuleType] = {}  # this function's own modules
        self._fn: Any = None

    def __repr__(self) -> str:
        return f"<CodeHandler {self.handler_spec!r} from {self._root!r}>"

    def load(self, environment: Mapping[str, str] | None = None) -> None:
        """
        Import the handler's module (Lambda's init), with ``environment`` in ``os.environ``.

        Raises:
            ConfigError: the code root is missing, the module cannot be found or
                raises while imported, or the attribute is missing or not callable
                (Lambda's Runtime.ImportModuleError and Runtime.HandlerNotFound).
        """
        if not self.root.is_dir():
            msg = f"{self.where}: the code folder {self._root!r} does not exist"
            raise ConfigError(msg)
        self._names = sorted(
            entry.name.removesuffix(".py")
            for entry in self.root.iterdir()
            if entry.name.endswith(".py") or (entry.is_dir() and entry.name.isidentifier())
        )
        saved_env = {k: os.environ.get(k) for k in environment or {}}
        os.environ.update(environment or {})
        try:
            with self._active():
                try:
                    module = importlib.import_module(self.module_name)
                except ModuleNotFoundError as exc:
                    msg = (
                        f"{self.where}: Handler {self.handler_spec!r}: Unable to import module "
                        f"{self.module_name!r}: {exc} (looked in {self._root!r})"
                    )
                    raise ConfigError(msg) from None
                except Exception as exc:
                    msg = (
                        f"{self.where}: Handler {self.handler_spec!r}: importing module "
                        f"{self.module_name!r} raised {type(exc).__name__}: {exc}"
                    )
                    raise ConfigError(msg) from exc
        finally:
            for k, v in saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        fn = getattr(module, self.attr, None)
        if fn is None or not callable(fn):
            msg = (
                f"{self.where}: Handler {self.handler_spec!r}: Handler {self.attr!r} "
                f"{'missing' if fn is None else 'is not callable'} on module {self.module_name!r}"
            )
            raise ConfigError(msg)
        self._fn = fn

    @contextmanager
    def _active(self) -> Iterator[None]:
        modules = sys.modules
        hidden: dict[str, ModuleType] = {}
        for name in (*self._names, *self._modules):
            found = modules.get(name)
            if found is not None and self._modules.get(name) is not found:
                hidden[name] = modules.pop(name)
        modules.update(self._modules)
        count = len(modules)
        sys.path.insert(0, self._root)
        try:
            yield
        finally:
            if self._root in sys.path:
                sys.path.remove(self._root)
            if len(modules) != count:
                # The handler imported something: keep what came from the root.
                for name, module in list(modules.items()):
                    if _under(module, self._prefix):
                        self._modules[name] = module
            for name in list(self._modules):
                if modules.get(name) is self._modules[name]:
                    del modules[name]
            modules.update(hidden)

    def __call__(self, event: Any, context: Any) -> Any:
        """Run the handler with its code root and modules in place."""
        with self._active():
            return self._fn(event, context)
