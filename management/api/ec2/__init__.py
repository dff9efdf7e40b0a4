"""The EC2 Query API endpoint (port ``ec2_port``) over the CloudStack commands; see :mod:`management.api.ec2.app`."""

from __future__ import annotations

from typing import Any

from management.api.ec2.app import EC2App


def ec2_app(dispatcher: Any) -> EC2App:
    return EC2App(dispatcher)


__all__ = ["EC2App", "ec2_app"]
