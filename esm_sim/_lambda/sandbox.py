"""
What a handler sees around it while it runs: Lambda's environment, the clock, its log.

A :class:`HandlerHost` belongs to one simulation and is shared by its functions.
Around each run of a handler it

* puts the function's environment in ``os.environ``: the variables given to
  ``create_function(environment=...)`` and Lambda's reserved ones
  (``AWS_LAMBDA_FUNCTION_NAME``, ``AWS_REGION``, ``_HANDLER``... see
  :func:`reserved_variables`);
* captures what the handler prints or logs (``sys.stdout``, ``sys.stderr`` and the
  ``logging`` stream handlers writing to them, Powertools' ``Logger`` included)
  as the invocation's ``logs``, so nothing reaches the test's output;
* with ``handler_clock="virtual"``, stops the wall clock at the invocation's
  virtual start (``time.time``, ``datetime.now``, ``date.today``...,
  through time-machine), and starts it again when the handler returns.

Costs, per invocation: the capture is two attribute swaps and a ``StringIO``
(plus one per logging handler that writes to the console); the environment is
written only when the function changes (consecutive invocations of one function
keep it, as one Lambda execution environment does) plus the one variable that
changes per invocation, the log stream's name; the virtual clock (opt-in) costs a
time-machine start and stop. :meth:`HandlerHost.restore` puts ``os.environ``
back as it was; the simulation calls it whenever control leaves the handlers
(the end of every run, and before a ``call_at`` callback).
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

from esm_sim.errors import ConfigError

# A Function and its Context (esm_sim._lambda.function, which imports this module).
Function = Any
Context = Any
HANDLER_CLOCKS = ("wall", "virtual")
INSTALL_AWS = "pip install 'esm_sim[aws]'"

# Lambda's reserved variables: a function's configuration may not set them
# (Lambda developer guide, "Defined runtime environment variables").
RESERVED = frozenset(
    (
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "TZ",
    )
)
_ENV_KEY = re.compile(r"[a-zA-Z][a-zA-Z0-9_]+")
# Lambda: "the total size of the set doesn't exceed 4 KB".
MAX_ENVIRONMENT_BYTES = 4 * 1024
LOG_STREAM_VARIABLE = "AWS_LAMBDA_LOG_STREAM_NAME"


def check_environment(environment: object) -> dict[str, str]:
    """
    A function's ``environment``, checked as Lambda's CreateFunction checks ``Variables``.

    Raises:
        ConfigError: not a mapping of str to str, a key Lambda refuses (it must
            start with a letter, then letters, digits or ``_``, at least 2 in all),
            a reserved key, or over 4 KB in all.
    """
    if environment is None:
        return {}
    if not isinstance(environment, Mapping):
        msg = f"environment={environment!r} must be a mapping of variable names to strings"
        raise ConfigError(msg)
    out: dict[str, str] = {}
    for key, value in environment.items():
        if not isinstance(key, str) or not _ENV_KEY.fullmatch(key):
            msg = (
                f"environment key {key!r} must start with a letter and hold only letters, "
                "digits and '_', at least 2 characters (Lambda Environment.Variables)"
            )
            raise ConfigError(msg)
        if not isinstance(value, str):
            msg = f"environment[{key!r}]={value!r} must be a str (Lambda keeps strings only)"
            raise ConfigError(msg)
        out[key] = value
    reserved = sorted(k for k in out if k in RESERVED)
    if reserved:
        msg = (
            "Lambda was unable to configure your environment variables because the "
            "environment variables you have provided contains reserved keys that are "
            f"currently not supported for modification. Reserved keys used in this request: "
            f"{','.join(reserved)}"
        )
        raise ConfigError(msg)
    size = sum(len(k.encode()) + len(v.encode()) for k, v in out.items())
    if size > MAX_ENVIRONMENT_BYTES:
        msg = (
            "Lambda was unable to configure your environment variables because the "
            f"environment variables you have provided exceeded the 4KB limit ({size} bytes)"
        )
        raise ConfigError(msg)
    return out


def handler_location(handler: Callable[..., Any]) -> str:
    """``_HANDLER``: ``module.function`` as Lambda's Handler setting names it."""
    spec = getattr(handler, "handler_spec", None)  # imported from a template's code
    if isinstance(spec, str):
        return spec
    module = getattr(handler, "__module__", None) or "handler"
    name = getattr(handler, "__name__", None) or type(handler).__name__
    return f"{module.rsplit('.', 1)[-1]}.{name}"


# The execution role's credentials Lambda puts in the environment, simulated:
# test values any mock accepts and AWS refuses, so a handler's boto3 client finds
# credentials (made at import, as Lambda's init does) yet never reaches real AWS
# with the developer's own.
ROLE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIAESMSIMULATEDROLE",
    "AWS_SECRET_ACCESS_KEY": "esm-sim-simulated-execution-role-secret",
    "AWS_SESSION_TOKEN": "esm-sim-simulated-execution-role-session",
}


def init_variables(name: str, region: str) -> dict[str, str]:
    """What a function's module sees in ``os.environ`` while it is imported (Lambda's init)."""
    return {
        **ROLE_CREDENTIALS,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": name,
    }


def reserved_variables(function: Function, region: str) -> dict[str, str]:
    """
    The reserved variables Lambda sets for a function, but for the per-invocation log stream.

    The execution role's credentials are simulated (:data:`ROLE_CREDENTIALS`).
    Left out: ``_X_AMZN_TRACE_ID`` (no X-Ray), the runtime API
    and the task root paths (there is no runtime process or /var/task here), and
    ``TZ`` (setting it would not change the process's zone without ``tzset``).
    """
    return {
        **ROLE_CREDENTIALS,
        "_HANDLER": handler_location(function.handler),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info[0]}.{sys.version_info[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": function.version,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
    }


def check_handler_clock(handler_clock: object) -> str:
    """``handler_clock``, checked; "virtual" needs time-machine (the ``aws`` extra)."""
    if not isinstance(handler_clock, str) or handler_clock not in HANDLER_CLOCKS:
        msg = f"handler_clock={handler_clock!r} must be one of {', '.join(HANDLER_CLOCKS)}"
        raise ConfigError(msg)
    if handler_clock == "virtual":
        try:
            import time_machine  # noqa: F401
        except ImportError:
            msg = f"handler_clock='virtual' needs time-machine: {INSTALL_AWS}"
            raise ConfigError(msg) from None
    return handler_clock


_STREAM_EMIT = logging.StreamHandler.emit


class _InvocationOutput(io.StringIO):
    """What one invocation printed: its ``sys.stdout`` and ``sys.stderr`` while it runs."""


def _console_like(handler: logging.StreamHandler[Any]) -> bool:
    """
    Whether a logging handler writes where Lambda's runtime would capture it.

    Every stream handler but a file's (``FileHandler``) or an in-memory one
    (``io.StringIO``: a test's own capture, pytest's ``caplog`` among them):
    the console, whichever object stood for ``sys.stdout`` or ``sys.stderr``
    when the handler was made (under pytest, a capture object of an earlier test;
    during an earlier invocation, that invocation's output).
    """
    stream = handler.stream
    return not isinstance(handler, logging.FileHandler) and (
        # a handler made during an invocation, on the stdout it saw then
        isinstance(stream, _InvocationOutput) or not isinstance(stream, io.StringIO)
    )


class _LogCapture:
    """While installed, console-like logging handlers write into one invocation's buffer."""

    __slots__ = ("_hook", "_outer", "buffer")

    def __init__(self) -> None:
        self.buffer: io.StringIO | None = None
        # The emit in place when installed (an outer simulation's, when a handler
        # runs a simulation of its own), put back on removal.
        self._outer: Callable[..., None] = _STREAM_EMIT
        capture = self

        def emit(handler: logging.StreamHandler[Any], record: logging.LogRecord) -> None:
            capture.emit(handler, record)

        # What StreamHandler.emit is while installed (made once, not per invocation).
        self._hook = emit

    def emit(self, handler: logging.StreamHandler[Any], record: logging.LogRecord) -> None:
        buffer = self.buffer
        if buffer is None or not _console_like(handler):
            self._outer(handler, record)
            return
        stream = handler.stream
        handler.stream = buffer
        try:
            _STREAM_EMIT(handler, record)
        finally:
            handler.stream = stream

    def install(self, buffer: io.StringIO) -> None:
        """Route console-like handlers into ``buffer`` (one class attribute: no handler search)."""
        self.buffer = buffer
        self._outer = logging.StreamHandler.emit
        logging.StreamHandler.emit = self._hook  # type: ignore[method-assign,assignment]

    def remove(self) -> None:
        logging.StreamHandler.emit = self._outer  # type: ignore[method-assign]
        self._outer = _STREAM_EMIT
        self.buffer = None


def _store(environ: Any) -> Any:
    """
    ``os.environ``'s own mapping of encoded names to encoded values (CPython's
    ``_Environ._data``), copied and compared at C speed; ``environ`` itself
    when it has none (a plain mapping put in its place).
    """
    data = getattr(environ, "_data", None)
    return data if isinstance(data, dict) else environ


def _identity(value: Any) -> Any:
    return value


def _diff(old: dict[Any, Any], new: dict[Any, Any]) -> dict[Any, Any]:
    """What turns store ``old`` into ``new``: each changed key's new value, None if removed."""
    changes: dict[Any, Any] = {key: None for key in old if key not in new}
    changes.update((key, value) for key, value in new.items() if old.get(key) != value)
    return changes


def _write(changes: dict[Any, Any]) -> None:
    """Make ``changes`` (encoded keys and values, None for a removal) in ``os.environ``."""
    environ = os.environ
    data = _store(environ)
    if data is not environ:
        # CPython's os.environ: what its __setitem__ and __delitem__ do (putenv or
        # unsetenv, then its store), on names and values encoded already.
        for key, value in changes.items():
            if value is None:
                if key in data:
                    os.unsetenv(key)
                    del data[key]
            else:
                os.putenv(key, value)
                data[key] = value
        return
    for key, value in changes.items():  # a plain mapping put in its place
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value


@functools.lru_cache(maxsize=4096)
def _encode_pair(key: str, value: str) -> tuple[Any, Any]:
    # Functions' variables repeat across simulations (the reserved ones above all):
    # each pair is encoded once, not once per run.
    environ: Any = os.environ
    return environ.encodekey(key), environ.encodevalue(value)


def _encoded(variables: Mapping[str, str]) -> dict[Any, Any]:
    """``variables`` as ``os.environ``'s store keeps them (encoded names and values)."""
    if _store(os.environ) is os.environ:
        return dict(variables)
    return dict(_encode_pair(k, v) for k, v in variables.items())


def _set_log_stream(name: str) -> None:
    """Set the log stream variable (a new name per invocation: not worth caching)."""
    _write({_log_stream_key(): getattr(os.environ, "encodevalue", _identity)(name)})


def _log_stream_key() -> Any:
    """The log stream variable's name as ``os.environ``'s store keeps it."""
    return getattr(os.environ, "encodekey", _identity)(LOG_STREAM_VARIABLE)


def _become(target: dict[Any, Any]) -> None:
    """Make ``os.environ``'s store equal ``target`` (a copy of it), changing only what differs."""
    data = _store(os.environ)
    if data != target:
        _write(_diff(data, target))


class HandlerHost:
    """The environment, clock and log capture around each handler run of one simulation."""

    __slots__ = (
        "_applied",
        "_base",
        "_clock",
        "_encoded",
        "_kept",
        "_log_capture",
        "_user_store",
        "region",
    )

    def __init__(self, *, region: str, handler_clock: str = "wall") -> None:
        self.region = region
        self._clock = check_handler_clock(handler_clock)
        # The function whose environment os.environ holds now (None: the user's own).
        self._applied: Function | None = None
        # The user's whole environment (os.environ's store, copied) when handlers
        # took it over: restore() gives back exactly this, so what a handler sets
        # or deletes itself stays inside.
        self._user_store: dict[Any, Any] | None = None
        # The store as the applied function's environment began (the user's
        # environment and the function's variables): what its handlers changed
        # since is told from it.
        self._base: dict[Any, Any] = {}
        # Per function whose handlers changed os.environ and then handed over (to
        # another function or to user code): those changes (a value, or None for
        # a deletion), made again when it runs next (one execution environment per
        # function; only looked up, never iterated for output).
        self._kept: dict[Function, dict[Any, Any]] = {}
        self._log_capture = _LogCapture()
        # Per function: its variables (the dict environment_variables gave), whether
        # os.environ was a plain mapping, and those variables encoded for its store.
        self._encoded: dict[Function, tuple[Mapping[str, str], bool, dict[Any, Any]]] = {}

    @property
    def handler_clock(self) -> str:
        """ "wall" or "virtual"."""
        return self._clock

    def _apply(self, function: Function) -> None:
        environ = os.environ
        if self._user_store is None:
            self._user_store = dict(_store(environ))
        elif self._applied is not None:
            self._hand_back(self._user_store)
        _write(self._variables(function))
        # The user's store and the function's variables (the invariant _hand_back uses).
        self._base = dict(_store(environ))
        changes = self._kept.pop(function, None)
        if changes:
            _write(
                changes
            )  # what its handlers wrote earlier in the run, on today's user environment
        self._applied = function

    def _variables(self, function: Function) -> dict[Any, Any]:
        """``function``'s variables, encoded as os.environ's store keeps them (once per change)."""
        variables = function.environment_variables(self.region)
        plain = _store(os.environ) is os.environ
        cached = self._encoded.get(function)
        if cached is None or cached[0] is not variables or cached[1] != plain:
            cached = self._encoded[function] = (variables, plain, _encoded(variables))
        return cached[2]

    def _keep_changes(self, function: Function) -> bool:
        """Keep what ``function``'s handlers changed in os.environ (a handover); any?"""
        data, base = _store(os.environ), self._base
        # The log stream's name is set per invocation by run(), not by a handler.
        log_key = _log_stream_key()
        if log_key in data:
            base[log_key] = data[log_key]
        else:
            base.pop(log_key, None)
        if data == base:
            return False
        self._kept[function] = _diff(base, data)
        return True

    def _hand_back(self, user: dict[Any, Any]) -> None:
        """Make os.environ's store ``user``, keeping what the function's handlers changed."""
        applied = self._applied
        if applied is not None and not self._keep_changes(applied):
            # The store is the user's with the function's variables and the log
            # stream on top: only those go back (not a diff of the whole store).
            changes = {key: user.get(key) for key in self._encoded[applied][2]}
            log_key = _log_stream_key()
            changes[log_key] = user.get(log_key)
            _write(changes)
        else:
            _become(user)
        self._applied = None

    def step_out(self) -> None:
        """
        Give ``os.environ`` back as the user had it, for user code in the middle of
        a run (a ``call_later`` callback). What a function's handlers changed is
        made again, on the user's environment as it is then, when it runs next.
        """
        user = self._user_store
        if user is None:
            return
        self._hand_back(user)
        self._user_store = None

    def restore(self) -> None:
        """
        Give ``os.environ`` back exactly as the user had it, at the end of a run.

        The function's variables go, and so does whatever a handler set, changed or
        deleted in ``os.environ`` itself. Within a run, such changes persist for
        the function whose handler made them (as in one Lambda execution
        environment) and are never seen by another function's handler.
        """
        self.step_out()
        self._kept.clear()

    def run(
        self, function: Function, context: Context, call: Callable[..., Any], *args: Any
    ) -> tuple[Any, str]:
        """
        ``call(*args)`` inside the function's environment; returns its result and the log.

        ``call`` must not raise (run_handler's caller catches what the handler
        raises); if it does, everything is put back and the exception propagates.
        """
        if self._applied is not function:
            self._apply(function)
        _set_log_stream(context.log_stream_name)
        buffer = _InvocationOutput()
        saved_out, saved_err = sys.stdout, sys.stderr
        self._log_capture.install(buffer)
        sys.stdout = sys.stderr = buffer
        traveller = None
        try:
            if self._clock == "virtual":
                import time_machine

                traveller = time_machine.travel(context._started_ms / 1000, tick=False)
                traveller.start()
            result = call(*args)
        finally:
            if traveller is not None:
                traveller.stop()
            sys.stdout, sys.stderr = saved_out, saved_err
            self._log_capture.remove()
        return result, buffer.getvalue()
