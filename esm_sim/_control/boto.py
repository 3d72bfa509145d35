"""
boto3's client habits, without boto3: ``ResponseMetadata`` on every answer,
``client.exceptions``, and ``get_paginator`` / ``can_paginate``.

Everything here copies what botocore builds from the Lambda service model
(BOTO-L): each operation's ``http.responseCode``, the lower-case
``HTTPHeaders`` of a rest-json answer, and the paginator of
``paginators-1.json`` (``Marker`` in, ``NextMarker`` out, ``MaxItems`` as the
page size, ``EventSourceMappings`` as the result), with botocore's
``PaginationConfig`` (``MaxItems``, ``PageSize``, ``StartingToken``) and its
resume tokens (base64 of a JSON object).
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from email.utils import formatdate
from typing import Any, TypeVar

from esm_sim import errors
from esm_sim._engine.rng import UuidSequence
from esm_sim._engine.timefmt import datetime_to_ms

# BOTO-L http.responseCode of the operations whose answer is not 200 (spec 1.1).
HTTP_STATUS = {
    "CreateEventSourceMapping": 202,
    "UpdateEventSourceMapping": 202,
    "DeleteEventSourceMapping": 202,
    "DeleteFunctionConcurrency": 204,
    "TagResource": 204,
    "UntagResource": 204,
}

# Public LambdaClient attributes that are not AWS operations.
NOT_OPERATIONS = frozenset({"exceptions", "get_paginator", "can_paginate"})


def operation_name(method_name: str) -> str:
    """``list_event_source_mappings`` -> ``ListEventSourceMappings`` (botocore's xform reversed)."""
    return "".join(word.title() for word in method_name.split("_"))


def _wire(value: object) -> object:
    # rest-json carries timestamps as epoch seconds with a fraction (spec 1.3).
    if isinstance(value, datetime):
        return datetime_to_ms(value) / 1000
    msg = f"{value!r} is not JSON"
    raise TypeError(msg)


# I: AWS's exact JSON spacing is not recorded; compact JSON gives the length.
# One encoder for every answer (json.dumps with options builds one per call).
_COMPACT = json.JSONEncoder(separators=(",", ":"), default=_wire)


class ResponseMetadata:
    """Builds ``ResponseMetadata`` as botocore parses it, with seeded request ids."""

    def __init__(self, request_ids: UuidSequence, now_ms: Callable[[], int]) -> None:
        self._request_ids = request_ids
        self._now_ms = now_ms
        self._date: tuple[int, str] = (-1, "")  # (epoch second, its HTTP date): reused

    def _http_date(self) -> str:
        second = self._now_ms() // 1000
        if self._date[0] != second:
            self._date = (second, formatdate(second, usegmt=True))
        return self._date[1]

    def build(
        self, status: int, body: dict[str, Any], extra_headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """The metadata of one answer; ``body`` is what went over the wire (for its length)."""
        request_id = self._request_ids.next()
        length = 0 if status == 204 else len(_COMPACT.encode(body))
        headers = {
            "date": self._http_date(),
            "content-type": "application/json",
            "content-length": str(length),
            "connection": "keep-alive",
            "x-amzn-requestid": request_id,
            **(extra_headers or {}),
        }
        return {
            "RequestId": request_id,
            "HTTPStatusCode": status,
            "HTTPHeaders": headers,
            "RetryAttempts": 0,
        }


C = TypeVar("C", bound=type)


def answers_as_boto3(cls: C) -> C:
    """
    Wrap each public operation of a client class (its ``_answers`` builds the
    metadata): the answer, or the AWS error raised, gets ``ResponseMetadata``.
    """
    for name, method in list(vars(cls).items()):
        if not name.startswith("_") and name not in NOT_OPERATIONS and callable(method):
            setattr(cls, name, _answering(method))
    return cls


def _answering(method: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    status = HTTP_STATUS.get(operation_name(method.__name__), 200)

    @functools.wraps(method)
    def call(self: Any, **params: Any) -> dict[str, Any]:
        answers: ResponseMetadata = self._answers
        try:
            body = method(self, **params)
        except errors.ClientError as err:
            wire = {k: v for k, v in err.response.items() if k not in ("Error", "ResponseMetadata")}
            err.response["ResponseMetadata"] = answers.build(
                err.http_status, wire, {"x-amzn-errortype": err.code}
            )
            raise
        return {"ResponseMetadata": answers.build(status, body), **body}

    return call


class ClientExceptions:
    """``client.exceptions``: each AWS error class by its code, as boto3 has them."""

    ClientError = errors.ClientError
    InvalidParameterValueException = errors.InvalidParameterValueException
    ValidationException = errors.ValidationException
    ResourceConflictException = errors.ResourceConflictException
    ResourceNotFoundException = errors.ResourceNotFoundException
    ResourceInUseException = errors.ResourceInUseException
    TooManyRequestsException = errors.TooManyRequestsException
    ServiceException = errors.ServiceException

    def from_code(self, error_code: str) -> type[errors.ClientError]:
        """The class for ``error_code``, or ClientError for an unknown code (as botocore)."""
        found = getattr(self, error_code, None)
        if isinstance(found, type) and issubclass(found, errors.ClientError):
            return found
        return errors.ClientError


# paginators-1.json for lambda: the one paginated operation simulated here.
PAGINATORS = {
    "list_event_source_mappings": ("Marker", "NextMarker", "MaxItems", "EventSourceMappings"),
}


def encode_token(token: dict[str, Any]) -> str:
    """botocore's TokenEncoder for plain values: base64 of the JSON object."""
    return base64.b64encode(json.dumps(token).encode()).decode()


def decode_token(token: str) -> dict[str, Any]:
    """botocore's TokenDecoder; a token that does not decode is botocore's ValueError too."""
    try:
        decoded = json.loads(base64.b64decode(token.encode()).decode())
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict):
        msg = f"StartingToken={token!r} is not a token this paginator gave"
        raise errors.ConfigError(msg)
    return decoded


class PageIterator:
    """The pages of one ``paginate`` call, as botocore's PageIterator yields them."""

    def __init__(self, method: Callable[..., dict[str, Any]], name: str, params: dict[str, Any]):
        self._method = method
        self._input, self._output, self._limit, self._result = PAGINATORS[name]
        params = dict(params)
        config = params.pop("PaginationConfig", None) or {}
        self._max_items = None if config.get("MaxItems") is None else int(config["MaxItems"])
        self._page_size = None if config.get("PageSize") is None else int(config["PageSize"])
        self._starting_token: str | None = config.get("StartingToken")
        self._params = params
        self.resume_token: str | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        kwargs = dict(self._params)
        next_token: dict[str, Any] = {self._input: None}
        skip = 0
        if self._starting_token is not None:
            next_token = decode_token(self._starting_token)
            skip = next_token.pop("boto_truncate_amount", 0)
            self._inject(kwargs, next_token)
        if self._page_size is not None:
            kwargs[self._limit] = self._page_size
        total = 0
        first = True
        while True:
            page = self._method(**kwargs)
            items = page[self._result]
            if first and skip:
                # The previous run stopped inside this page: drop what it returned.
                items = page[self._result] = items[skip:]
            first = False
            over = 0 if self._max_items is None else total + len(items) - self._max_items
            if over > 0:
                keep = len(items) - over
                page[self._result] = items[:keep]
                self.resume_token = encode_token(
                    {**next_token, "boto_truncate_amount": keep + skip}
                )
                yield page
                return
            yield page
            total += len(items)
            next_token = {self._input: page.get(self._output)}
            if next_token[self._input] is None:
                return
            if self._max_items is not None and total == self._max_items:
                self.resume_token = encode_token(next_token)
                return
            skip = 0
            self._inject(kwargs, next_token)

    def _inject(self, kwargs: dict[str, Any], token: dict[str, Any]) -> None:
        for name, value in token.items():
            if value is not None and value != "None":
                kwargs[name] = value
            else:
                kwargs.pop(name, None)

    def build_full_result(self) -> dict[str, Any]:
        """All pages' results in one list, and ``NextToken`` when MaxItems cut it short."""
        items: list[Any] = []
        for page in self:
            items.extend(page[self._result])
        out: dict[str, Any] = {self._result: items}
        if self.resume_token is not None:
            out["NextToken"] = self.resume_token
        return out


class Paginator:
    """``client.get_paginator(name)``: ``paginate(**params)`` gives a PageIterator."""

    def __init__(self, method: Callable[..., dict[str, Any]], name: str) -> None:
        self._method = method
        self._name = name

    def paginate(self, **params: Any) -> PageIterator:
        """Iterate the operation's pages; ``PaginationConfig`` as botocore reads it."""
        return PageIterator(self._method, self._name, params)
