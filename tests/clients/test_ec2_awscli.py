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


def aws_fails(served: Served, port: int, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": served.apikey, "AWS_SECRET_ACCESS_KEY": served.secretkey,
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
    r = subprocess.run([tool("aws"), "--endpoint-url", f"http://127.0.0.1:{port}", "ec2", *args], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0, f"{args[:1]} succeeded: {r.stdout[-2000:]}"
    return r.stderr


def test_awscli_images_attributes_passwords(served_ec2: tuple[Served, int, dict[str, Any]], tmp_path: Path) -> None:
    """create-image, describe-image-attribute, describe/modify-instance-attribute, get-password-data decrypted by
    the CLI itself (--priv-launch-key), run-instances --client-token twice, a snapshot of a new volume, and the
    error codes AWS gives."""
    served, port, _zone = served_ec2
    cs = served.client()
    ami = aws(served, port, "describe-images")["Images"][0]["ImageId"]
    tmpl = next(t for t in cs("listTemplates", templatefilter="executable")["template"]
                if "ami-" + t["id"].replace("-", "")[:17] == ami)
    key = aws(served, port, "create-key-pair", "--key-name", "pw")["KeyMaterial"]
    pem = tmp_path / "pw.pem"
    pem.write_text(key if key.endswith("\n") else key + "\n")
    cs("updateTemplate", id=tmpl["id"], passwordenabled=True)
    try:
        run = aws(served, port, "run-instances", "--image-id", ami, "--count", "1", "--key-name", "pw",
                  "--client-token", "cli-token-1")
        again = aws(served, port, "run-instances", "--image-id", ami, "--count", "1", "--key-name", "pw",
                    "--client-token", "cli-token-1")
        iid = run["Instances"][0]["InstanceId"]
        assert again["ReservationId"] == run["ReservationId"] and again["Instances"][0]["InstanceId"] == iid
        assert len(cs("listVirtualMachines")["virtualmachine"]) == 1
        aws(served, port, "wait", "instance-running", "--instance-ids", iid)
        # the CLI decrypts the password with the key pair's private key; it is the VM's CloudStack password
        vm_id = cs("listVirtualMachines")["virtualmachine"][0]["id"]
        new = cs.run("resetPasswordForVirtualMachine", id=vm_id)["virtualmachine"]["password"]
    finally:
        cs("updateTemplate", id=tmpl["id"], passwordenabled=False)
    pw = aws(served, port, "get-password-data", "--instance-id", iid, "--priv-launch-key", str(pem))
    assert pw["PasswordData"] == new
    inst = aws(served, port, "describe-instances", "--instance-ids", iid)["Reservations"][0]["Instances"][0]
    assert [g["GroupName"] for g in inst["SecurityGroups"]] == ["default"]
    assert [m["DeviceName"] for m in inst["BlockDeviceMappings"]] == ["/dev/vda"]
    attr = aws(served, port, "describe-instance-attribute", "--instance-id", iid, "--attribute", "instanceType")
    assert attr["InstanceType"] == {"Value": "Small Instance"}
    image = aws(served, port, "create-image", "--instance-id", iid, "--name", "cli-image", "--no-reboot")["ImageId"]
    aws(served, port, "wait", "image-available", "--image-ids", image)
    bdm = aws(served, port, "describe-image-attribute", "--image-id", image, "--attribute", "blockDeviceMapping")
    assert bdm["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"].startswith("snap-")
    aws(served, port, "stop-instances", "--instance-ids", iid)
    aws(served, port, "wait", "instance-stopped", "--instance-ids", iid)
    aws(served, port, "modify-instance-attribute", "--instance-id", iid, "--instance-type", "Value=Medium Instance")
    assert cs("listVirtualMachines")["virtualmachine"][0]["serviceofferingname"] == "Medium Instance"
    # a snapshot of a volume that was never attached
    zone = aws(served, port, "describe-availability-zones")["AvailabilityZones"][0]["ZoneName"]
    vol = aws(served, port, "create-volume", "--availability-zone", zone, "--size", "1")["VolumeId"]
    aws(served, port, "wait", "volume-available", "--volume-ids", vol)
    snap = aws(served, port, "create-snapshot", "--volume-id", vol)["SnapshotId"]
    aws(served, port, "wait", "snapshot-completed", "--snapshot-ids", snap)
    # EC2's own error codes
    alloc = aws(served, port, "allocate-address", "--domain", "vpc")
    assert "InvalidParameterCombination" in aws_fails(served, port, "release-address", "--public-ip",
                                                      alloc["PublicIp"], "--allocation-id", alloc["AllocationId"])
    assert "InvalidParameterValue" in aws_fails(served, port, "describe-addresses", "--public-ips", "not-an-ip")
    platforms = aws(served, port, "describe-account-attributes", "--attribute-names", "supported-platforms")
    # VPC: the endpoint serves the VPC actions (CreateVpc, subnets...), as a VPC-only AWS account reports
    assert platforms["AccountAttributes"][0]["AttributeValues"] == [{"AttributeValue": "VPC"}]
    aws(served, port, "release-address", "--allocation-id", alloc["AllocationId"])
    aws(served, port, "deregister-image", "--image-id", image)
    aws(served, port, "delete-snapshot", "--snapshot-id", snap)
    aws(served, port, "delete-volume", "--volume-id", vol)
    aws(served, port, "terminate-instances", "--instance-ids", iid)
    wait_for(lambda: not cs("listVirtualMachines").get("virtualmachine"), timeout=60, interval=0.5, what="VM gone")
