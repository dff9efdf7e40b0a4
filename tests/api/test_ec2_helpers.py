"""Shared by the EC2 tests and the bench: an in-process cloud on an advanced simulator zone, the EC2 app served by
uvicorn on loopback, and boto3 clients for it."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.api.test_s3_helpers import serve_asgi

REGION = "us-east-1"


def err(exc: Any) -> tuple[int, str]:
    """(HTTP status, EC2 error code) of a botocore ClientError caught by pytest.raises."""
    r = exc.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


def ec2_client(endpoint: str, access_key: str, secret: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("ec2", endpoint_url=endpoint, aws_access_key_id=access_key, aws_secret_access_key=secret,
                        region_name=REGION, config=Config(retries={"max_attempts": 1}))


@dataclass
class Cloud:
    server: Any
    api: Any  # tests.conftest.ApiClient on the integration app (SYSTEM)
    endpoint: str
    admin: dict[str, str]
    zone: dict[str, Any]

    def client(self, access_key: str | None = None, secret: str | None = None) -> Any:
        return ec2_client(self.endpoint, access_key or self.admin["apikey"], secret or self.admin["secretkey"])

    def admin_api(self) -> Any:
        return self.api.as_user(self.admin["apikey"], self.admin["secretkey"])


def add_public_range(srv: Any, zone_id: int, first: int = 2, last: int = 40) -> None:
    """A guest physical network with VLANs and a public range, so advanced-zone deploys get a network and IPs."""
    from management.models.infra import PhysicalNetwork, PublicIpAddress, TrafficType, VlanIpRange

    with srv.runtime.db.session() as s:
        pn = PhysicalNetwork(name=f"pnet-{secrets.token_hex(3)}", zone_id=zone_id, vlan="100-400", state="Enabled",
                             isolation_methods="VLAN")
        s.add(pn)
        s.flush()
        s.add(TrafficType(physical_network_id=pn.id, traffic_type="Guest"))
        s.add(TrafficType(physical_network_id=pn.id, traffic_type="Public"))
        r = VlanIpRange(zone_id=zone_id, physical_network_id=pn.id, vlan_tag="50", gateway="192.168.2.1",
                        netmask="255.255.255.0", start_ip=f"192.168.2.{first}", end_ip=f"192.168.2.{last}")
        s.add(r)
        s.flush()
        for n in range(first, last + 1):
            s.add(PublicIpAddress(public_ip_address=f"192.168.2.{n}", zone_id=zone_id, vlan_id=r.id,
                                  physical_network_id=pn.id))


@contextlib.contextmanager
def in_process_cloud(state: Path, *, hosts: int = 2, cpus: int = 64, mem_gib: int = 256,
                     guest_cidr: str | None = None) -> Iterator[Cloud]:
    from starlette.testclient import TestClient

    from management.api.app import api_app, integration_app
    from management.api.ec2 import ec2_app
    from management.drivers.simulator import reset_simulator
    from management.server import build
    from management.services.identity import rbac
    from management.settings import Settings
    from tests.api.test_vm_lifecycle import build_sim_zone
    from tests.conftest import ApiClient, admin_keys

    rbac.RULES.invalidate()
    settings = Settings(state_dir=state, db_url=f"sqlite:///{state / 'devcloud.db'}", api_port=0, integration_port=0,
                        s3_port=0, ec2_port=0, job_workers=2, job_poll_interval=0.02, heartbeat_interval=1.0)
    srv = build(settings, start_workers=True)
    zone = build_sim_zone(SimpleNamespace(server=srv), state, hosts=hosts, cpus=cpus, mem_gib=mem_gib,
                          network_type="Advanced")
    add_public_range(srv, zone["zone_id"])
    if guest_cidr:
        from management.models.infra import StoragePool, Zone

        with srv.runtime.db.session() as s:
            s.get_one(Zone, zone["zone_id"]).guest_cidr = guest_cidr
            for pool in s.query(StoragePool).filter_by(zone_id=zone["zone_id"]):  # room for thousands of roots
                pool.capacity_bytes = 64 * 1024 ** 4
    try:
        with serve_asgi(ec2_app(srv.dispatcher)) as port, \
                TestClient(integration_app(srv.dispatcher), base_url="http://127.0.0.1:8096") as h, \
                TestClient(api_app(srv.dispatcher), base_url="http://127.0.0.1:8080") as ha:
            peers: dict[str, Any] = {}
            integ = ApiClient(h, integration=True, peers=peers)
            peers["integration"] = integ
            peers["api"] = ApiClient(ha, peers=peers)
            yield Cloud(srv, integ, f"http://127.0.0.1:{port}", admin_keys(state), zone)
    finally:
        srv.queue.stop()
        for url in zone["urls"]:
            reset_simulator(url)
        srv.runtime.db.dispose()
        rbac.RULES.invalidate()
