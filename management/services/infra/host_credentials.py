"""updateHostPassword: the credentials the management server keeps for a host (KVM, XenServer), sealed at rest
with the other host details (`Host.details_json` is a SealedText column) and never logged.

With `update_passwd_on_host` CloudStack also asks the host's agent to change the account's password on the
machine; no host here runs such an agent, so only the management server's copy changes."""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from management.errors import ParamError
from management.models.infra import Cluster, Host

log = logging.getLogger(__name__)

SUPPORTED = ("KVM", "XenServer")


def _store(host: Host, username: str, password: str, *, mismatch: str) -> None:
    details: dict[str, Any] = json.loads(host.details_json or "{}")
    known = details.get("username")
    if known is not None and known != username:
        raise ParamError(mismatch)
    details["username"], details["password"] = username, password
    host.details_json = json.dumps(details)


def _username(raw: str) -> str:
    name = "".join(raw.split())
    if not name:
        raise ParamError("Username should be non empty string")
    return name


def update_host(s: Session, host: Host, username: str, password: str) -> None:
    if host.hypervisor_type == "XenServer":
        raise ParamError("Single host update is not supported by XenServer hypervisors. Please try again informing "
                         "the Cluster ID.")
    if host.hypervisor_type not in SUPPORTED:
        raise ParamError("This operation is not supported for this hypervisor type")
    _store(host, _username(username), password, mismatch="The username is not same for the hosts..")
    log.info("credentials of host %s updated", host.uuid)


def update_cluster(s: Session, cluster: Cluster, username: str, password: str) -> None:
    if cluster.hypervisor_type not in SUPPORTED:
        raise ParamError("This operation is not supported for this hypervisor type")
    name = _username(username)
    for host in s.scalars(select(Host).where(Host.cluster_id == cluster.id, Host.removed.is_(None))):
        _store(host, name, password, mismatch="The username is not same for all hosts, please modify passwords for "
                                              "individual hosts.")
    log.info("credentials of the hosts of cluster %s updated", cluster.uuid)
