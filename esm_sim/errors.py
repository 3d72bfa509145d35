"""
Every exception esm_sim raises.

Two families, because esm_sim has two faces::

    Exception
    ├── ClientError                        AWS-facing calls: botocore's shape
    │   ├── InvalidParameterValueException     (400)
    │   ├── ValidationException                (400)
    │   ├── ResourceConflictException          (409)
    │   ├── ResourceNotFoundException          (404)
    │   ├── ResourceInUseException             (400)
    │   ├── TooManyRequestsException           (429)
    │   └── ServiceException                   (500)
    ├── ParamValidationError(ValueError)   botocore's client-side check, before any request
    └── EsmSimError                        Python-facing calls
        ├── ConfigError(ValueError)            a bad argument, named as name=value
        ├── UnsupportedFeatureError(NotImplementedError)
        └── SimulationError(RuntimeError)
            └── SimulationLimitExceeded        a bounded run hit its bound

``ClientError.response`` is laid out as botocore's ``ClientError.response``, so
``err.response["Error"]["Code"]`` works as it does against AWS.

Caught as botocore's ``ClientError`` too. Code written for boto3 says
``except botocore.exceptions.ClientError``, and ``except`` checks real
subclasses only: botocore's class has no metaclass with ``__subclasscheck__``,
so registering esm_sim's classes as virtual subclasses would not help. And
``import esm_sim`` must not import botocore, so the classes cannot subclass it
when they are defined. So the choice is made when an error is *built*: if
``botocore.exceptions`` is already in ``sys.modules``, ``ClientError.__new__``
makes the instance of a twin class that subclasses both the esm_sim class and
botocore's ``ClientError`` (one twin per class, cached, same name). Checking
``sys.modules`` alone (never importing) is sound: code can only name botocore's
class once that module is loaded, and building an error never imports anything.
``isinstance(err, ResourceNotFoundException)`` holds either way.
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

__all__ = [
    "ClientError",
    "ConfigError",
    "EsmSimError",
    "InvalidParameterValueException",
    "ParamValidationError",
    "ResourceConflictException",
    "ResourceInUseException",
    "ResourceNotFoundException",
    "ServiceException",
    "SimulationError",
    "SimulationLimitExceeded",
    "TooManyRequestsException",
    "UnsupportedFeatureError",
    "ValidationException",
]


class ClientError(Exception):
    """
    An error answer from a simulated AWS API, shaped as botocore's ``ClientError``.

    Subclasses fix the error ``code`` and HTTP status; ``str(err)`` reads as
    botocore's: ``An error occurred (Code) when calling the Op operation: msg``.
    """

    code: ClassVar[str] = "ClientError"
    http_status: ClassVar[int] = 400
    # Lambda's error bodies spell the message key differently per shape
    # (spec 1.6: lower-case for InvalidParameterValue/ResourceConflict/TooManyRequests).
    message_key: ClassVar[str] = "Message"

    def __new__(cls, *args: Any, **kwargs: Any) -> ClientError:
        return super().__new__(_botocore_twin(cls))

    def __init__(self, message: str, *, operation_name: str = "") -> None:
        self.message = message
        self.operation_name = operation_name
        # botocore's keys, in its order: Error (Code and Message only), the
        # metadata, then the modeled members of the error shape (Type, the
        # message under the shape's own key, Reason ...), as botocore's
        # _add_modeled_error_fields adds them. The Lambda client fills in the
        # rest of ResponseMetadata (request id, headers) when it answers.
        self.response: dict[str, Any] = {
            "Error": {"Message": message, "Code": self.code},
            "ResponseMetadata": {"HTTPStatusCode": self.http_status},
            "Type": "User" if self.http_status < 500 else "Service",
            self.message_key: message,
        }
        # Exception.__init__ directly: a twin's next class is botocore's
        # ClientError, whose __init__ takes (error_response, operation_name).
        Exception.__init__(
            self,
            f"An error occurred ({self.code}) when calling the "
            f"{operation_name or 'unknown'} operation: {message}",
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle as the esm_sim class (a twin is not importable by name); the
        # copy becomes a twin again when botocore is loaded where it is read.
        return (_rebuild, (_declared_class(self), self.args, self.__dict__))


def _rebuild(cls: type[ClientError], args: tuple[Any, ...], state: dict[str, Any]) -> ClientError:
    err = cls.__new__(cls)
    err.args = args
    err.__dict__.update(state)
    return err


_TWINS: dict[type, type] = {}  # esm_sim class -> twin
_TWIN_BASES: dict[type, type] = {}  # twin -> esm_sim class


def _declared_class(exc: BaseException) -> type[BaseException]:
    """The class ``exc`` was raised as: ``type(exc)``, or the esm_sim class of a twin."""
    return _TWIN_BASES.get(type(exc), type(exc))


def _botocore_twin(cls: type[ClientError]) -> type[ClientError]:
    """``cls``, or its twin that also subclasses botocore's ClientError once botocore is loaded."""
    botocore_exceptions = sys.modules.get("botocore.exceptions")
    if botocore_exceptions is None:
        return cls
    botocore_client_error: type = botocore_exceptions.ClientError
    if issubclass(cls, botocore_client_error):
        return cls
    twin = _TWINS.get(cls)
    if twin is None:
        twin = type(
            cls.__name__,
            (cls, botocore_client_error),
            {"__module__": cls.__module__, "__qualname__": cls.__qualname__},
        )
        _TWINS[cls] = twin
        _TWIN_BASES[twin] = cls
    return twin


class InvalidParameterValueException(ClientError):
    """One of the parameters in the request is not valid (HTTP 400)."""

    code = "InvalidParameterValueException"
    message_key = "message"


class ValidationException(ClientError):
    """The request failed the service's model constraints (HTTP 400)."""

    code = "ValidationException"
    message_key = "message"


class ResourceConflictException(ClientError):
    """The resource already exists, or another operation is in progress (HTTP 409)."""

    code = "ResourceConflictException"
    http_status = 409
    message_key = "message"


class ResourceNotFoundException(ClientError):
    """The resource specified in the request does not exist (HTTP 404)."""

    code = "ResourceNotFoundException"
    http_status = 404


class ResourceInUseException(ClientError):
    """The operation conflicts with the resource's state (HTTP 400)."""

    code = "ResourceInUseException"


class TooManyRequestsException(ClientError):
    """
    The request throughput or concurrency limit was exceeded (HTTP 429).

    ``reason`` is the model's ``Reason`` (a ``ThrottleReason``, spec 10), in
    ``err.response["Reason"]`` when given.
    """

    code = "TooManyRequestsException"
    http_status = 429
    message_key = "message"

    def __init__(
        self, message: str, *, operation_name: str = "", reason: str | None = None
    ) -> None:
        super().__init__(message, operation_name=operation_name)
        self.reason = reason
        if reason is not None:
            self.response["Reason"] = reason


class ServiceException(ClientError):
    """The simulated service hit an internal error (HTTP 500)."""

    code = "ServiceException"
    http_status = 500


class ParamValidationError(ValueError):
    """
    botocore's client-side parameter check failed; nothing was sent to AWS.

    The text is botocore's: ``Parameter validation failed:`` and one line per problem.
    """

    def __init__(self, report: str) -> None:
        self.report = report
        super().__init__(f"Parameter validation failed:\n{report}")


class EsmSimError(Exception):
    """Base class of the errors raised by esm_sim's Python-facing API."""


class ConfigError(EsmSimError, ValueError):
    """A Python-facing argument is not valid; the message names it as ``name=value``."""


class UnsupportedFeatureError(EsmSimError, NotImplementedError):
    """The requested AWS behaviour is not simulated; esm_sim says so rather than guess."""


class SimulationError(EsmSimError, RuntimeError):
    """The simulation cannot go on as asked."""


class SimulationLimitExceeded(SimulationError):
    """A bounded run (``run_until_idle``, ``max_events``) reached its bound."""


# -- warnings -------------------------------------------------------------------------
#
# The usual mistakes a run does not fail on, as ``warnings.warn`` categories::
#
#     UserWarning
#     └── SimulationWarning                  esm_sim.SimulationWarning: filter on this one
#         ├── IgnoredItemFailuresWarning         batchItemFailures without ReportBatchItemFailures
#         ├── PendingRecordsWarning              records never processed: the clock never ran
#         ├── UnmatchableFilterWarning           a filter no DynamoDB stream record can match
#         └── SelfTriggerWarning                 a handler writes into its own source table
#
# Each is emitted once per cause (per mapping, or per filter of a create/update call)
# and its message names what to change. They are deterministic: the same simulation
# warns the same texts in the same order.

__all__ += [  # appended here, so the list above stays the exceptions
    "IgnoredItemFailuresWarning",
    "PendingRecordsWarning",
    "SelfTriggerWarning",
    "SimulationWarning",
    "UnmatchableFilterWarning",
]


class SimulationWarning(UserWarning):
    """
    Base category of esm_sim's warnings: a likely mistake that the run does not fail on.

    ``warnings.simplefilter("error", esm_sim.SimulationWarning)`` (or pytest's
    ``filterwarnings = ["error::esm_sim.SimulationWarning"]``) turns them into errors.

    .. versionadded:: 0.1.0
    """


class IgnoredItemFailuresWarning(SimulationWarning):
    """
    A handler returned ``batchItemFailures`` to a mapping without ReportBatchItemFailures.

    AWS ignores the list: the batch counts as a success and the failed records as
    processed. Add ``FunctionResponseTypes=["ReportBatchItemFailures"]`` to the mapping.
    """


class PendingRecordsWarning(SimulationWarning):
    """
    Records were still pending when the test (or ``invariants.check_all``) ended.

    Usually the clock never ran (the mapping is still ``Creating``): call
    ``sim.run_until_idle()`` before asserting.
    """


class UnmatchableFilterWarning(SimulationWarning):
    """
    A ``FilterCriteria`` pattern can never match a DynamoDB stream record (spec 8, 7.3).

    Typically a rule on an attribute without its type key
    (``{"NewImage": {"v": [...]}}`` instead of ``{"NewImage": {"v": {"S": [...]}}}``),
    ``numeric`` on a DynamoDB value (``N`` holds a string), or a key a stream record
    never has.
    """


class SelfTriggerWarning(SimulationWarning):
    """
    A mapping's function writes into the table whose stream feeds the mapping.

    Each write is a new record for the same function: a loop. The message says how
    many generations of records the loop produced.
    """
