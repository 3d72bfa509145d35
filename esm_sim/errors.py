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
"""

from __future__ import annotations

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

    def __init__(self, message: str, *, operation_name: str = "") -> None:
        self.message = message
        self.operation_name = operation_name
        self.response: dict[str, Any] = {
            "Error": {"Code": self.code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": self.http_status},
            self.message_key: message,
            "Type": "User" if self.http_status < 500 else "Service",
        }
        super().__init__(
            f"An error occurred ({self.code}) when calling the "
            f"{operation_name or 'unknown'} operation: {message}"
        )


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
    """The request throughput or concurrency limit was exceeded (HTTP 429)."""

    code = "TooManyRequestsException"
    http_status = 429
    message_key = "message"


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
