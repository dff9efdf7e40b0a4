"""Errors that reach API clients, with CloudStack's error codes (ApiErrorCode) and cserrorcodes."""

from __future__ import annotations

from typing import ClassVar


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


class ConcurrentOperation(CloudError):
    code = 530
    cs_code = 4300


def invalid_id(value: str) -> ParamError:
    # CloudStack's exact wording for an id that does not resolve (clients and tests grep for it).
    return ParamError(
        f"Unable to execute API command due to invalid value. Invalid parameter id value={value} due to "
        "incorrect long value format, or entity does not exist or due to incorrect parameter annotation for "
        "the field in api cmd class."
    )
