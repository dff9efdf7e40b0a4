"""`aws ec2` (awscli from the tools venv, unmodified) against a served `devcloud-management serve` with its EC2 port,
over an advanced simulator zone: run-instances, describe-instances, terminate-instances; the VM is the one
`listVirtualMachines` shows.

Tools: ``$DEVCLOUD_S3_TOOLS/bin/aws`` (default /opt/s3tools-venv), else PATH.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.clients.test_s3_clients import tool
from tests.conftest import Served, _free_port, start_served, wait_for

pytestmark = [pytest.mark.clients, pytest.mark.slow]


@pytest.fixture(scope="module")
def served_ec2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, int, dict[str, Any]]]:
    from management.db.session import Database
    from tests.api.test_ec2_helpers import add_public_range
    from tests.api.test_vm_lifecycle import build_sim_zone

    state = tmp_path_factory.mktemp("ec2clients")
    port = _free_port()
    url = f"sqlite:///{state / 'devcloud.db'}"
    s = start_served(state, url, extra_env={"DEVCLOUD_EC2_PORT": str(port)})
    db = Database(url)
    try:
        zone = build_sim_zone(SimpleNamespace(server=SimpleNamespace(runtime=SimpleNamespace(db=db))), state,
                              network_type="Advanced")
        add_public_range(SimpleNamespace(runtime=SimpleNamespace(db=db)), zone["zone_id"])
        yield s, port, zone
    finally:
        db.dispose()
        s.kill(signal.SIGTERM)


def aws(served: Served, port: int, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": served.apikey, "AWS_SECRET_ACCESS_KEY": served.secretkey,
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
    cmd = [tool("aws"), "--endpoint-url", f"http://127.0.0.1:{port}", "--output", "json", "ec2", *args]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"{args[:2]} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return json.loads(r.stdout) if r.stdout.strip() else {}


def test_awscli_run_describe_terminate(served_ec2: tuple[Served, int, dict[str, Any]], tmp_path: Path) -> None:
    served, port, _zone = served_ec2
    zones = aws(served, port, "describe-availability-zones")["AvailabilityZones"]
    assert zones and zones[0]["State"] == "available"
    ami = aws(served, port, "describe-images")["Images"][0]["ImageId"]
    key = aws(served, port, "create-key-pair", "--key-name", "cli")
    assert key["KeyMaterial"].startswith("-----BEGIN")
    ud = tmp_path / "ud.sh"
    ud.write_text("#!/bin/sh\necho from-awscli\n")
    r = aws(served, port, "run-instances", "--image-id", ami, "--count", "2", "--instance-type", "t2.micro",
            "--key-name", "cli", "--user-data", f"file://{ud}",
            "--tag-specifications", "ResourceType=instance,Tags=[{Key=Name,Value=cli-vm}]")
    ids = [i["InstanceId"] for i in r["Instances"]]
    assert len(ids) == 2 and all(i["State"]["Name"] == "pending" for i in r["Instances"])

    def all_running() -> bool:
        d = aws(served, port, "describe-instances", "--instance-ids", *ids)
        return all(i["State"]["Name"] == "running" for res in d["Reservations"] for i in res["Instances"])

    wait_for(all_running, timeout=60, interval=0.5, what="instances running")
    d = aws(served, port, "describe-instances", "--filters", "Name=tag:Name,Values=cli-vm",
            "Name=instance-state-name,Values=running")
    insts = [i for res in d["Reservations"] for i in res["Instances"]]
    assert sorted(i["InstanceId"] for i in insts) == sorted(ids)
    assert all(i["KeyName"] == "cli" and i["PrivateIpAddress"] for i in insts)
    q = aws(served, port, "describe-instances", "--query", "Reservations[].Instances[].InstanceId")
    assert sorted(q) == sorted(ids)
    # the same VMs through the CloudStack API
    vms = served.client()("listVirtualMachines")["virtualmachine"]
    assert sorted("i-" + v["id"].replace("-", "")[:17] for v in vms) == sorted(ids)
    assert all(v["displayname"] == "cli-vm" and v["keypair"] == "cli" for v in vms)
    t = aws(served, port, "terminate-instances", "--instance-ids", *ids)
    assert {x["CurrentState"]["Name"] for x in t["TerminatingInstances"]} == {"shutting-down"}
    wait_for(lambda: not served.client()("listVirtualMachines").get("virtualmachine"), timeout=60, interval=0.5,
             what="VMs gone")
    d = aws(served, port, "describe-instances", "--instance-ids", *ids)
    assert {i["State"]["Name"] for res in d["Reservations"] for i in res["Instances"]} == {"terminated"}
    # errors come back as AWS errors the CLI understands
    env_bad = subprocess.run([tool("aws"), "--endpoint-url", f"http://127.0.0.1:{port}", "ec2", "describe-instances",
                              "--instance-ids", "i-00000000000000000"],
                             env={**os.environ, "AWS_ACCESS_KEY_ID": served.apikey,
                                  "AWS_SECRET_ACCESS_KEY": served.secretkey, "AWS_DEFAULT_REGION": "us-east-1"},
                             capture_output=True, text=True, timeout=60)
    assert env_bad.returncode != 0 and "InvalidInstanceID.NotFound" in env_bad.stderr
