"""The EC2 Query API endpoint (port ``ec2_port``) over the CloudStack commands; see :mod:`management.api.ec2.app`."""

from __future__ import annotations

from typing import Any

from management.api.ec2 import protocol
from management.api.ec2.app import MAX_BODY, EC2App
from management.api.guard import Guard


def ec2_app(dispatcher: Any) -> Guard:
    """The EC2 app behind the HTTP guard (AWS-shaped refusals, the body limit, the request id)."""
    return Guard(EC2App(dispatcher), protocol.render_rejection, name="ec2", max_body=MAX_BODY,
                 methods=frozenset({"GET", "POST"}))


__all__ = ["EC2App", "ec2_app"]
