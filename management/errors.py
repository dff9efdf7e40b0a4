"""Errors that reach API clients, with CloudStack's error codes (ApiErrorCode) and cserrorcodes."""

from __future__ import annotations

import logging
from typing import ClassVar

from management.logcontext import request_id

log = logging.getLogger("devcloud.errors")


class CloudError(Exception):
    """Base of every error a client may see; `code` becomes both `errorcode` and the HTTP status."""

    code: int = 530  # a class default; an error relayed from elsewhere (an async job's) carries its own
    cs_code: ClassVar[int | None] = 4250  # CloudRuntimeException

    def __init__(self, text: str, *, uuids: list[str] | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.uuids = uuids or []


class BadRequest(CloudError):
    code = 400
    cs_code = None


class Unauthorized(CloudError):
    code = 401
    cs_code = None


class ParamError(CloudError):
    """Missing or invalid parameter (InvalidParameterValueException)."""

    code = 431
    cs_code = 4350


class ServerApiParamError(ParamError):
    """A 431 raised by the API layer itself (ServerApiException), as CloudStack's 9999 cserrorcode says."""

    cs_code = 9999


class UnsupportedAction(CloudError):
    code = 432
    cs_code = 9999


class InternalError(CloudError):
    code = 530
    cs_code = 4250


class PermissionDenied(CloudError):
    code = 531
    cs_code = 4365


class ResourceLimitExceeded(CloudError):
    code = 532
    cs_code = 4370


class InsufficientCapacity(CloudError):
    code = 533
    cs_code = 4325


class ResourceUnavailable(CloudError):
    code = 534
    cs_code = 4380


class ResourceAllocationError(CloudError):
    code = 535
    cs_code = 4355


class ResourceInUse(CloudError):
    code = 536
    cs_code = 4380


class NetworkRuleConflict(CloudError):
    code = 537
    cs_code = 4360


class InvalidStateTransition(CloudError):
    """An operation not allowed in the entity's current state (CloudStack answers 431 for these)."""

    code = 431
    cs_code = 4350


UNEXPECTED_TEXT = "Internal error executing command, please contact your system administrator"


class UnexpectedError(InternalError):
    """What a client sees of a failure nobody anticipated (a database or driver exception, a bug): CloudStack's
    text for non-root callers, plus the request id that the server log carries with the details."""

    cs_code = 9999

    def __init__(self, request_id: str) -> None:
        super().__init__(f"{UNEXPECTED_TEXT} (request id {request_id})")
        self.request_id = request_id


class ConcurrentOperation(CloudError):
    code = 530
    cs_code = 4300


def logged(error: type[CloudError], text: str, cause: BaseException) -> CloudError:
    """`text` and the request id for the client; the cause's own words (a driver's, the OS's, a tool's: paths,
    internal messages) go to the log under that id."""
    rid = request_id()
    log.warning("request %s: %s: %s", rid, text, cause)
    return error(f"{text} (request id {rid})")


def too_long(command: str, param: str, limit: int) -> ServerApiParamError:
    # ParamProcessWorker's InvalidParameterValueException, wrapped the way the dispatcher wraps it.
    return ServerApiParamError(f"Unable to execute API command {command} due to invalid value. Value greater than "
                               f"max allowed length {limit} for param: {param}")


def invalid_value(command: str, param: str, value: object) -> ServerApiParamError:
    return ServerApiParamError(f"Unable to execute API command {command} due to invalid value {value} for "
                               f"parameter {param}")


def invalid_id(value: str) -> ParamError:
    # CloudStack's exact wording for an id that does not resolve (clients and tests grep for it).
    return ParamError(
        f"Unable to execute API command due to invalid value. Invalid parameter id value={value} due to "
        "incorrect long value format, or entity does not exist or due to incorrect parameter annotation for "
        "the field in api cmd class."
    )
