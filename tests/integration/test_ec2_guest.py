"""`aws ec2` boots a real TCG guest in a local KVM zone (the served cloud of tests/integration/test_kvm_api.py: this
machine as a KVM host, an advanced zone with a namespace virtual router): run-instances -> running,
describe-instances shows the private address and, after allocate-address + associate-address (static NAT), the
public one; the EC2 key pair logs in over SSH through the public address once the security group allows port 22
(in this zone that ingress rule becomes a firewall rule on the static NAT address); a new volume is snapshotted;
create-image of the guest boots a second guest from the image's content; terminate-instances removes them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_kvm_api import BOOT_TIMEOUT, Cloud, cloud, image, wait_for  # noqa: F401 - fixtures

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("kvm-cloud")]  # one public range
TOOLS = Path(os.environ.get("DEVCLOUD_S3_TOOLS", "/opt/s3tools-venv")) / "bin"


def _aws() -> str:
    p = TOOLS / "aws"
    if p.exists():
        return str(p)
    found = shutil.which("aws")
    if not found:
        pytest.skip("awscli is not installed")
    return found


def aws(c: Cloud, *args: str, check: bool = True) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": c.served.apikey, "AWS_SECRET_ACCESS_KEY": c.served.secretkey,
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
    port = c.served.env["DEVCLOUD_EC2_PORT"]
    r = subprocess.run([_aws(), "--endpoint-url", f"http://127.0.0.1:{port}", "--output", "json", "ec2", *args],
                       env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert r.returncode == 0, f"{args[:2]} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}\n{c.served.log()}"
    return json.loads(r.stdout) if r.stdout.strip() else {}


def ssh(key: Path, ip: str, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no",
                           "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5",
                           "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
                           f"root@{ip}", command], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)


def test_aws_ec2_boots_a_guest_reachable_over_ssh(cloud: Cloud) -> None:  # noqa: F811
    c = cloud
    ami = next(i["ImageId"] for i in aws(c, "describe-images")["Images"]
               if i["ImageId"] == "ami-" + c.template["id"].replace("-", "")[:17])
    key = aws(c, "create-key-pair", "--key-name", "ec2-guest")
    key_path = c.workdir / "ec2-guest.pem"
    key_path.write_text(key["KeyMaterial"] if key["KeyMaterial"].endswith("\n") else key["KeyMaterial"] + "\n")
    key_path.chmod(0o600)
    gid = aws(c, "create-security-group", "--group-name", "ssh", "--description", "ssh in")["GroupId"]
    aws(c, "authorize-security-group-ingress", "--group-id", gid, "--protocol", "tcp", "--port", "22",
        "--cidr", "0.0.0.0/0")
    run = aws(c, "run-instances", "--image-id", ami, "--count", "1", "--instance-type", c.offering["name"],
              "--key-name", "ec2-guest", "--security-group-ids", gid,
              "--placement", f"AvailabilityZone={c.zone['name']}")
    iid = run["Instances"][0]["InstanceId"]
    vm = next(v for v in c("listVirtualMachines")["virtualmachine"] if v["id"].replace("-", "")[:17] == iid[2:])
    c.vms.append(vm["id"])  # the module teardown expunges it whatever happens

    def state() -> str:
        d = aws(c, "describe-instances", "--instance-ids", iid)
        return str(d["Reservations"][0]["Instances"][0]["State"]["Name"])

    def is_running() -> bool:
        st = state()
        if st in ("terminated", "shutting-down"):
            jobs = [j for j in c("listAsyncJobs").get("asyncjobs", []) if j.get("jobinstanceid") == vm["id"]]
            raise AssertionError(f"the instance went {st}: {jobs}\n{c.served.log()}")
        return st == "running"

    try:
        wait_for(is_running, 2 * BOOT_TIMEOUT, "the instance to be running")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nVM: {c.vm(vm['id'])}\n{c.served.log()}") from None
    c.wait_console(c.vm(vm["id"])["instancename"], r"DEVCLOUD-SSHKEY-INSTALLED")
    inst = aws(c, "describe-instances", "--instance-ids", iid)["Reservations"][0]["Instances"][0]
    assert inst["PrivateIpAddress"].startswith("10.251.1.")
    alloc = aws(c, "allocate-address", "--domain", "vpc")
    aws(c, "associate-address", "--allocation-id", alloc["AllocationId"], "--instance-id", iid)
    inst = aws(c, "describe-instances", "--instance-ids", iid)["Reservations"][0]["Instances"][0]
    assert inst["PublicIpAddress"] == alloc["PublicIp"]
    out = wait_for(lambda: (lambda r: r.stdout if r.returncode == 0 else None)(
        ssh(key_path, alloc["PublicIp"], "cat /proc/sys/kernel/hostname; echo EC2-SSH-OK")), 90,
        f"ssh through {alloc['PublicIp']}", interval=2)
    assert "EC2-SSH-OK" in out
    # the same VM through the CloudStack API
    assert c.vm(vm["id"])["state"] == "Running"
    assert [m["DeviceName"] for m in inst["BlockDeviceMappings"]] == ["/dev/vda"]
    # a snapshot of a volume that was never attached: its (empty) disk is made in the pool first
    vol = aws(c, "create-volume", "--availability-zone", c.zone["name"], "--size", "1")["VolumeId"]
    aws(c, "wait", "volume-available", "--volume-ids", vol)
    snap = aws(c, "create-snapshot", "--volume-id", vol)["SnapshotId"]
    aws(c, "wait", "snapshot-completed", "--snapshot-ids", snap)
    # an image of the guest (stopped for the snapshot and started again) boots a second guest from its content
    ami2 = aws(c, "create-image", "--instance-id", iid, "--name", "ec2-guest-image")["ImageId"]
    aws(c, "wait", "image-available", "--image-ids", ami2)
    wait_for(is_running, 2 * BOOT_TIMEOUT, "the imaged instance to run again")
    run2 = aws(c, "run-instances", "--image-id", ami2, "--count", "1", "--instance-type", c.offering["name"],
               "--key-name", "ec2-guest", "--placement", f"AvailabilityZone={c.zone['name']}")
    iid2 = run2["Instances"][0]["InstanceId"]
    vm2 = next(v for v in c("listVirtualMachines")["virtualmachine"] if v["id"].replace("-", "")[:17] == iid2[2:])
    c.vms.append(vm2["id"])
    assert [g["GroupName"] for g in run2["Instances"][0]["SecurityGroups"]] == ["default"]
    c.wait_console(c.vm(vm2["id"])["instancename"], r"DEVCLOUD-SSHKEY-INSTALLED", timeout=2 * BOOT_TIMEOUT)
    aws(c, "terminate-instances", "--instance-ids", iid2)
    aws(c, "deregister-image", "--image-id", ami2, "--delete-associated-snapshots")
    aws(c, "delete-snapshot", "--snapshot-id", snap)
    aws(c, "delete-volume", "--volume-id", vol)
    aws(c, "disassociate-address", "--public-ip", alloc["PublicIp"])
    aws(c, "release-address", "--allocation-id", alloc["AllocationId"])
    aws(c, "terminate-instances", "--instance-ids", iid)
    wait_for(lambda: not [v for v in c("listVirtualMachines", listall=True).get("virtualmachine", [])
                          if v["id"] == vm["id"]], 120, "the VM to be gone")
    wait_for(lambda: c.domain(vm["id"]) is None, 60, "the libvirt domain to be gone")
    assert state() == "terminated"
    aws(c, "delete-security-group", "--group-id", gid)
