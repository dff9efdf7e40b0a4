"""RunInstances idempotency: an account's ClientToken names the reservation its first request launched.

The first request with a token claims it (a row with the hash of its parameters, unique per account and token),
launches, then records the instances. A retry with the same parameters gets that reservation back, with different
parameters ``IdempotentParameterMismatch``; one that arrives while the first is still launching waits for it. The
instances are recorded as soon as they exist, so a retry after a later failure of the first request gets them rather
than launching more; a launch that failed before creating any gives the token up, and a retry launches again.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from management.api.ec2.protocol import EC2Error
from management.models.ec2 import Ec2ClientToken

MAX_LENGTH = 64
WAIT_S = 120.0


def request_hash(params: dict[str, Any]) -> str:
    same = {k: v for k, v in params.items() if k not in ("ClientToken", "DryRun")}
    return hashlib.sha256(json.dumps(same, sort_keys=True, default=str).encode()).hexdigest()


def claim(r: Any, token: str, digest: str) -> list[str] | None:
    """None when this request now owns the token (launch, then record() or release()); else the instance uuids
    an identical earlier request launched."""
    if len(token) > MAX_LENGTH or not token.isascii():
        raise EC2Error("InvalidParameterValue", f"Value ({token}) for parameter clientToken is invalid. A client "
                                                f"token is at most {MAX_LENGTH} ASCII characters.")
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            with r.db(write=True) as s:
                row = s.scalar(select(Ec2ClientToken).where(Ec2ClientToken.account_id == r.caller.account_id,
                                                            Ec2ClientToken.client_token == token))
                if row is None:
                    s.add(Ec2ClientToken(account_id=r.caller.account_id, client_token=token, request_hash=digest))
                    s.flush()
                    return None
                if row.request_hash != digest:
                    raise EC2Error("IdempotentParameterMismatch", "Arguments on this idempotent request are "
                                                                  "inconsistent with arguments used in previous "
                                                                  "request(s).")
                if row.instance_uuids is not None:
                    return row.instance_uuids.split(",")
        except IntegrityError:
            continue  # a concurrent request claimed it first: read its row
        if time.monotonic() > deadline:
            raise EC2Error("IdempotentParameterMismatch", "A request with this client token is still in progress")
        time.sleep(0.1)


def record(r: Any, token: str, instance_uuids: list[str]) -> None:
    with r.db(write=True) as s:
        row = s.scalar(select(Ec2ClientToken).where(Ec2ClientToken.account_id == r.caller.account_id,
                                                    Ec2ClientToken.client_token == token))
        if row is not None:
            row.instance_uuids = ",".join(instance_uuids)


def release(r: Any, token: str) -> None:
    """Gives the token up unless instances were recorded for it."""
    with r.db(write=True) as s:
        s.execute(delete(Ec2ClientToken).where(Ec2ClientToken.account_id == r.caller.account_id,
                                               Ec2ClientToken.client_token == token,
                                               Ec2ClientToken.instance_uuids.is_(None)))
