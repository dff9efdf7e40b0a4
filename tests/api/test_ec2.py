"""The EC2 Query API with unmodified boto3 against the app served by uvicorn on loopback, over an advanced
simulator zone (one in-process cloud per module)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError, WaiterError  # noqa: E402

from tests.api.test_ec2_helpers import Cloud, err, in_process_cloud
from tests.conftest import wait_for

pytestmark = pytest.mark.api


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with in_process_cloud(tmp_path_factory.mktemp("ec2state")) as c:
        yield c


@pytest.fixture(scope="module")
def ec2(cloud: Cloud) -> Any:
    return cloud.client()


@pytest.fixture(scope="module")
def ami(ec2: Any) -> str:
    return ec2.describe_images()["Images"][0]["ImageId"]  # type: ignore[no-any-return]


def running(ec2: Any, ids: list[str]) -> None:
    ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})


def test_regions_zones_images(cloud: Cloud, ec2: Any) -> None:
    assert [r["RegionName"] for r in ec2.describe_regions()["Regions"]] == ["us-east-1"]
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [z["ZoneName"] for z in zones] == [cloud.api("listZones", id=cloud.zone["zone"])["zone"][0]["name"]]
    assert zones[0]["State"] == "available"
    images = ec2.describe_images()["Images"]
    assert images and all(i["ImageId"].startswith("ami-") and len(i["ImageId"]) == 21 for i in images)
    one = ec2.describe_images(ImageIds=[images[0]["ImageId"]])["Images"]
    assert one[0]["Name"] == images[0]["Name"]
    with pytest.raises(ClientError) as e:
        ec2.describe_images(ImageIds=["ami-00000000000000000"])
    assert err(e) == (400, "InvalidAMIID.NotFound")


def test_auth_failures(cloud: Cloud) -> None:
    bad = cloud.client(cloud.admin["apikey"], "wrong-secret")
    with pytest.raises(ClientError) as e:
        bad.describe_regions()
    assert err(e) == (403, "SignatureDoesNotMatch")
    unknown = cloud.client("AKIDNOPE", "x")
    with pytest.raises(ClientError) as e:
        unknown.describe_regions()
    assert err(e) == (401, "AuthFailure")
    r = httpx.post(cloud.endpoint, data={"Action": "DescribeRegions", "Version": "2016-11-15"})
    assert r.status_code == 401 and "<Code>AuthFailure</Code>" in r.text and "<RequestID>" in r.text


def test_instance_lifecycle_and_cloudstack_view(cloud: Cloud, ec2: Any, ami: str) -> None:
    ec2.create_key_pair(KeyName="life")
    user_data = "#!/bin/sh\necho hello\n"
    r = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t2.micro", KeyName="life",
                          UserData=user_data,
                          TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}]}])
    inst = r["Instances"][0]
    iid = inst["InstanceId"]
    assert iid.startswith("i-") and inst["State"] == {"Code": 0, "Name": "pending"} and r["ReservationId"]
    running(ec2, [iid])
    d = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert d["State"] == {"Code": 16, "Name": "running"} and d["KeyName"] == "life" and d["ImageId"] == ami
    assert d["InstanceType"] == "Small Instance" and d["PrivateIpAddress"].startswith("10.1.1.")
    assert {"Key": "Name", "Value": "web"} in d["Tags"]
    # the same VM through the CloudStack API, with the user data and the jobs/events it submitted
    admin = cloud.admin_api()
    vms = admin("listVirtualMachines", details="all")["virtualmachine"]
    vm = next(v for v in vms if v["id"].replace("-", "").startswith(iid[2:]))
    assert vm["state"] == "Running" and vm["displayname"] == "web" and vm["keypair"] == "life"
    assert base64.b64decode(admin("getVirtualMachineUserData", virtualmachineid=vm["id"])
                            ["virtualmachineuserdata"]["userdata"]).decode() == user_data
    jobs = admin("listAsyncJobs")["asyncjobs"]
    assert any(j["cmd"].endswith("DeployVMCmd") or "deploy" in j["cmd"].lower() for j in jobs)
    # stop / start / reboot with EC2 state names and codes
    s = ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]
    assert s["PreviousState"]["Name"] == "running" and s["CurrentState"] == {"Code": 64, "Name": "stopping"}
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
    with pytest.raises(ClientError) as e:
        ec2.reboot_instances(InstanceIds=[iid])
    assert err(e) == (400, "IncorrectInstanceState")
    st = ec2.start_instances(InstanceIds=[iid])["StartingInstances"][0]
    assert st["PreviousState"]["Code"] == 80 and st["CurrentState"]["Name"] == "pending"
    running(ec2, [iid])
    ec2.reboot_instances(InstanceIds=[iid])
    t = ec2.terminate_instances(InstanceIds=[iid])["TerminatingInstances"][0]
    assert t["CurrentState"] == {"Code": 32, "Name": "shutting-down"}
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
    assert iid not in {i["InstanceId"] for res in ec2.describe_instances()["Reservations"] for i in res["Instances"]}
    assert not [v for v in admin("listVirtualMachines").get("virtualmachine", []) if v["id"] == vm["id"]]


def test_run_instances_errors(ec2: Any, ami: str) -> None:
    cases = [
        (dict(ImageId="ami-00000000000000000"), "InvalidAMIID.NotFound"),
        (dict(ImageId="nope"), "InvalidAMIID.Malformed"),
        (dict(ImageId=ami, KeyName="missing-key"), "InvalidKeyPair.NotFound"),
        (dict(ImageId=ami, SecurityGroupIds=["sg-00000000000000000"]), "InvalidGroup.NotFound"),
        (dict(ImageId=ami, InstanceType="x9.huge"), "InvalidParameterValue"),
    ]
    for kw, code in cases:
        with pytest.raises(ClientError) as e:
            ec2.run_instances(MinCount=1, MaxCount=1, **kw)
        assert err(e) == (400, code), kw
    with pytest.raises(ClientError) as e:
        ec2.describe_instances(InstanceIds=["i-00000000000000000"])
    assert err(e) == (400, "InvalidInstanceID.NotFound")
    with pytest.raises(ClientError) as e:
        ec2.stop_instances(InstanceIds=["i-00000000000000000"])
    assert err(e) == (400, "InvalidInstanceID.NotFound")
    with pytest.raises(ClientError) as e:
        ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, DryRun=True)
    assert err(e) == (412, "DryRunOperation")


def test_describe_filters_and_pagination(ec2: Any, ami: str) -> None:
    ec2.create_key_pair(KeyName="many")
    r = ec2.run_instances(ImageId=ami, MinCount=7, MaxCount=7, KeyName="many",
                          TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "batch", "Value": "b7"}]}])
    ids = [i["InstanceId"] for i in r["Instances"]]
    assert len(ids) == 7 and [i["AmiLaunchIndex"] for i in r["Instances"]] == list(range(7))
    running(ec2, ids)
    flt = [{"Name": "tag:batch", "Values": ["b7"]}]
    got = [i["InstanceId"] for res in ec2.describe_instances(Filters=flt)["Reservations"] for i in res["Instances"]]
    assert sorted(got) == sorted(ids)
    assert len([i for res in ec2.describe_instances(Filters=[{"Name": "key-name", "Values": ["many"]},
                                                             {"Name": "instance-state-name", "Values": ["running"]}]
                                                    )["Reservations"] for i in res["Instances"]]) == 7
    assert ec2.describe_instances(Filters=[{"Name": "image-id", "Values": ["ami-0*"]},
                                           {"Name": "tag:batch", "Values": ["b7"]}])["Reservations"] == [] or \
        ami.startswith("ami-0")
    one = ec2.describe_instances(Filters=[{"Name": "instance-id", "Values": [ids[3]]}])["Reservations"]
    assert [i["InstanceId"] for res in one for i in res["Instances"]] == [ids[3]]
    ip = ec2.describe_instances(InstanceIds=[ids[0]])["Reservations"][0]["Instances"][0]["PrivateIpAddress"]
    by_ip = ec2.describe_instances(Filters=[{"Name": "private-ip-address", "Values": [ip]}])["Reservations"]
    assert [i["InstanceId"] for res in by_ip for i in res["Instances"]] == [ids[0]]
    # pages of 5 through the paginator and by hand
    pages = list(ec2.get_paginator("describe_instances").paginate(Filters=flt, PaginationConfig={"PageSize": 5}))
    assert [sum(len(r["Instances"]) for r in p["Reservations"]) for p in pages] == [5, 2]
    first = ec2.describe_instances(Filters=flt, MaxResults=5)
    assert first["NextToken"]
    second = ec2.describe_instances(Filters=flt, MaxResults=5, NextToken=first["NextToken"])
    assert "NextToken" not in second or not second["NextToken"]
    with pytest.raises(ClientError) as e:
        ec2.describe_instances(MaxResults=2)
    assert err(e) == (400, "InvalidParameterValue")
    with pytest.raises(ClientError) as e:
        ec2.describe_instances(Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    assert err(e) == (400, "InvalidParameterValue")
    ec2.terminate_instances(InstanceIds=ids)


def test_key_pairs(ec2: Any) -> None:
    k = ec2.create_key_pair(KeyName="kp1")
    assert k["KeyMaterial"].startswith("-----BEGIN") and k["KeyPairId"].startswith("key-")
    with pytest.raises(ClientError) as e:
        ec2.create_key_pair(KeyName="kp1")
    assert err(e) == (400, "InvalidKeyPair.Duplicate")
    pub = ("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDX3mhUvGZ1gBDRdOkB4gvKkpUlIL1EC5JXxX8HSxX3cSd9fplRjCrKxa3HhiXs"
           "Ik5B8Hwr3mKD4VTLyw1/i56ls1ByZ9sbyhLbaR2C3Y3N0ZQdWS3shMb2nvKJY9mT9FUHKmUSQbRS9LXv0Y+NKTHKyK0gq6OHt3ML"
           "T4WytLXnJw== test@devcloud")
    imp = ec2.import_key_pair(KeyName="kp2", PublicKeyMaterial=pub.encode())
    assert imp["KeyName"] == "kp2" and imp["KeyFingerprint"].count(":") == 15
    names = {x["KeyName"] for x in ec2.describe_key_pairs()["KeyPairs"]}
    assert {"kp1", "kp2"} <= names
    assert [x["KeyName"] for x in ec2.describe_key_pairs(KeyNames=["kp2"])["KeyPairs"]] == ["kp2"]
    with pytest.raises(ClientError) as e:
        ec2.describe_key_pairs(KeyNames=["nope"])
    assert err(e) == (400, "InvalidKeyPair.NotFound")
    ec2.delete_key_pair(KeyName="kp1")
    ec2.delete_key_pair(KeyPairId=imp["KeyPairId"])
    ec2.delete_key_pair(KeyName="never-existed")
    assert not {"kp1", "kp2"} & {x["KeyName"] for x in ec2.describe_key_pairs()["KeyPairs"]}


def test_security_groups(ec2: Any) -> None:
    gid = ec2.create_security_group(GroupName="web", Description="web servers")["GroupId"]
    assert gid.startswith("sg-")
    with pytest.raises(ClientError) as e:
        ec2.create_security_group(GroupName="web", Description="again")
    assert err(e) == (400, "InvalidGroup.Duplicate")
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 81, "IpRanges": [{"CidrIp": "10.0.0.0/8"},
                                                                         {"CidrIp": "192.168.0.0/16"}]}])
    ec2.authorize_security_group_ingress(GroupName="web", IpProtocol="icmp", FromPort=8, ToPort=0,
                                         CidrIp="0.0.0.0/0")
    with pytest.raises(ClientError) as e:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert err(e) == (400, "InvalidPermission.Duplicate")
    ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "8.8.8.8/32"}]}])
    g = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    assert g["GroupName"] == "web" and g["Description"] == "web servers"
    perms = {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort")): sorted(r["CidrIp"] for r in p["IpRanges"])
             for p in g["IpPermissions"]}
    assert perms == {("tcp", 22, 22): ["0.0.0.0/0"], ("tcp", 80, 81): ["10.0.0.0/8", "192.168.0.0/16"],
                     ("icmp", 8, 0): ["0.0.0.0/0"]}
    assert [(p["IpProtocol"], p["FromPort"]) for p in g["IpPermissionsEgress"]] == [("udp", 53)]
    ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 81, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    with pytest.raises(ClientError) as e:
        ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 9, "ToPort": 9, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert err(e) == (400, "InvalidPermission.NotFound")
    ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "8.8.8.8/32"}]}])
    g = ec2.describe_security_groups(GroupNames=["web"])["SecurityGroups"][0]
    assert len(g["IpPermissions"]) == 3 and g["IpPermissionsEgress"] == []
    assert ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["we*"]}])["SecurityGroups"]
    ec2.delete_security_group(GroupId=gid)
    with pytest.raises(ClientError) as e:
        ec2.describe_security_groups(GroupIds=[gid])
    assert err(e) == (400, "InvalidGroup.NotFound")
    with pytest.raises(ClientError) as e:
        ec2.delete_security_group(GroupName="web")
    assert err(e) == (400, "InvalidGroup.NotFound")


def test_volumes_and_snapshots(cloud: Cloud, ec2: Any, ami: str) -> None:
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    v = ec2.create_volume(AvailabilityZone=zone, Size=5,
                          TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "role", "Value": "data"}]}])
    vid = v["VolumeId"]
    assert vid.startswith("vol-") and v["State"] == "creating" and v["Size"] == 5
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    running(ec2, [iid])
    a = ec2.attach_volume(VolumeId=vid, InstanceId=iid, Device="/dev/sdf")
    assert a["State"] == "attaching" and a["InstanceId"] == iid
    ec2.get_waiter("volume_in_use").wait(VolumeIds=[vid], WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    d = ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]
    assert d["Attachments"][0]["InstanceId"] == iid and {"Key": "role", "Value": "data"} in d["Tags"]
    by_inst = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [iid]}])["Volumes"]
    assert len(by_inst) == 2  # the root volume and the data volume
    with pytest.raises(ClientError) as e:
        ec2.delete_volume(VolumeId=vid)
    assert err(e) == (400, "VolumeInUse")
    snap = ec2.create_snapshot(VolumeId=vid, Description="nightly")
    sid = snap["SnapshotId"]
    assert sid.startswith("snap-") and snap["State"] == "pending" and snap["VolumeId"] == vid
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    assert ec2.describe_snapshots(Filters=[{"Name": "volume-id", "Values": [vid]}])["Snapshots"][0]["SnapshotId"] \
        == sid
    det = ec2.detach_volume(VolumeId=vid)
    assert det["State"] == "detaching" and det["InstanceId"] == iid
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    ec2.delete_snapshot(SnapshotId=sid)
    with pytest.raises(ClientError) as e:
        ec2.describe_snapshots(SnapshotIds=[sid])
    assert err(e) == (400, "InvalidSnapshot.NotFound")
    ec2.delete_volume(VolumeId=vid)
    wait_for(lambda: vid not in {x["VolumeId"] for x in ec2.describe_volumes()["Volumes"]}, timeout=20,
             what="volume gone")
    with pytest.raises(ClientError) as e:
        ec2.delete_volume(VolumeId="vol-00000000000000000")
    assert err(e) == (400, "InvalidVolume.NotFound")
    ec2.terminate_instances(InstanceIds=[iid])


def test_addresses_and_firewall_mapping(cloud: Cloud, ec2: Any, ami: str) -> None:
    gid = ec2.create_security_group(GroupName="ssh", Description="ssh")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, SecurityGroupIds=[gid])["Instances"][0]["InstanceId"]
    running(ec2, [iid])
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert [g["GroupId"] for g in inst["SecurityGroups"]] == [gid]
    alloc = ec2.allocate_address(Domain="vpc")
    assert alloc["AllocationId"].startswith("eipalloc-") and alloc["PublicIp"].startswith("192.168.2.")
    assoc = ec2.associate_address(AllocationId=alloc["AllocationId"], InstanceId=iid)
    assert assoc["AssociationId"]
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert inst["PublicIpAddress"] == alloc["PublicIp"]
    addr = ec2.describe_addresses(AllocationIds=[alloc["AllocationId"]])["Addresses"][0]
    assert addr["InstanceId"] == iid and addr["PublicIp"] == alloc["PublicIp"]
    # the group's ingress rule became a firewall rule on the static NAT address
    admin = cloud.admin_api()
    ip_uuid = next(i["id"] for i in admin("listPublicIpAddresses")["publicipaddress"]
                   if i["ipaddress"] == alloc["PublicIp"])
    rules = admin("listFirewallRules", ipaddressid=ip_uuid).get("firewallrule", [])
    assert [(r["protocol"], r["startport"], r["endport"]) for r in rules] == [("tcp", 22, 22)]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert len(admin("listFirewallRules", ipaddressid=ip_uuid)["firewallrule"]) == 2
    ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert len(admin("listFirewallRules", ipaddressid=ip_uuid)["firewallrule"]) == 1
    with pytest.raises(ClientError) as e:
        ec2.release_address(AllocationId=alloc["AllocationId"])
    assert err(e) == (400, "InvalidIPAddress.InUse")
    ec2.disassociate_address(AssociationId=assoc["AssociationId"])
    assert ec2.describe_addresses(AllocationIds=[alloc["AllocationId"]])["Addresses"][0].get("InstanceId") is None
    ec2.release_address(AllocationId=alloc["AllocationId"])
    assert alloc["PublicIp"] not in {a["PublicIp"] for a in ec2.describe_addresses()["Addresses"]}
    with pytest.raises(ClientError) as e:
        ec2.associate_address(AllocationId="eipalloc-00000000000000000", InstanceId=iid)
    assert err(e) == (400, "InvalidAllocationID.NotFound")
    with pytest.raises(ClientError) as e:
        ec2.delete_security_group(GroupId=gid)
    assert err(e) == (400, "DependencyViolation")
    ec2.terminate_instances(InstanceIds=[iid])


def test_tags(ec2: Any, ami: str) -> None:
    iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.create_tags(Resources=[iid], Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "a"}])
    ec2.create_tags(Resources=[iid], Tags=[{"Key": "env", "Value": "prod"}])  # overwrite, as on EC2
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [iid]}])["Tags"]
    assert sorted((t["Key"], t["Value"], t["ResourceType"]) for t in tags) == [("env", "prod", "instance"),
                                                                              ("team", "a", "instance")]
    assert ec2.describe_instances(Filters=[{"Name": "tag:env", "Values": ["prod"]}])["Reservations"]
    ec2.delete_tags(Resources=[iid], Tags=[{"Key": "team"}])
    assert [t["Key"] for t in ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [iid]}])["Tags"]] == \
        ["env"]
    with pytest.raises(ClientError) as e:
        ec2.create_tags(Resources=["i-00000000000000000"], Tags=[{"Key": "a", "Value": "b"}])
    assert err(e) == (400, "InvalidInstanceID.NotFound")
    ec2.terminate_instances(InstanceIds=[iid])


def test_second_account_sees_nothing_of_the_first(cloud: Cloud, ec2: Any, ami: str) -> None:
    iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.create_key_pair(KeyName="private-key")
    gid = ec2.create_security_group(GroupName="private-group", Description="x")["GroupId"]
    acct = cloud.api.new_account()
    other = cloud.client(acct["apikey"], acct["secretkey"])
    assert other.describe_instances()["Reservations"] == []
    assert "private-key" not in {k["KeyName"] for k in other.describe_key_pairs()["KeyPairs"]}
    assert gid not in {g["GroupId"] for g in other.describe_security_groups()["SecurityGroups"]}
    assert other.describe_volumes()["Volumes"] == [] and other.describe_addresses()["Addresses"] == []
    for call, code in ((lambda: other.describe_instances(InstanceIds=[iid]), "InvalidInstanceID.NotFound"),
                       (lambda: other.terminate_instances(InstanceIds=[iid]), "InvalidInstanceID.NotFound"),
                       (lambda: other.delete_security_group(GroupId=gid), "InvalidGroup.NotFound"),
                       (lambda: other.create_tags(Resources=[iid], Tags=[{"Key": "a", "Value": "b"}]),
                        "InvalidInstanceID.NotFound")):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) == (400, code)
    # the other account runs its own instance, invisible to the first
    oid = other.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    assert oid not in {i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]}
    other.terminate_instances(InstanceIds=[oid])
    ec2.terminate_instances(InstanceIds=[iid])


def test_unknown_action_and_missing_parameter(cloud: Cloud, ec2: Any) -> None:
    with pytest.raises(ClientError) as e:
        ec2.describe_vpn_gateways()
    assert err(e) == (400, "InvalidAction")
    with pytest.raises(ClientError) as e:
        ec2.delete_volume(VolumeId="")
    assert err(e)[1] in ("MissingParameter", "InvalidVolume.Malformed")
    with pytest.raises(WaiterError):
        ec2.get_waiter("instance_running").wait(InstanceIds=["i-00000000000000000"],
                                                WaiterConfig={"Delay": 0.1, "MaxAttempts": 1})


def test_describe_view_agrees_with_list_virtual_machines(cloud: Cloud, ec2: Any, ami: str) -> None:
    """DescribeInstances reads a lean projection; it must show what listVirtualMachines shows for the caller."""
    ec2.create_key_pair(KeyName="agree")
    ids = [i["InstanceId"] for i in ec2.run_instances(ImageId=ami, MinCount=3, MaxCount=3, KeyName="agree",
                                                      InstanceType="Medium Instance")["Instances"]]
    running(ec2, ids)
    ec2.create_tags(Resources=ids[:1], Tags=[{"Key": "k", "Value": "v"}])
    seen = {i["InstanceId"]: i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]}
    vms = cloud.admin_api()("listVirtualMachines")["virtualmachine"]
    assert len(seen) == len(vms)
    for vm in vms:
        i = seen["i-" + vm["id"].replace("-", "")[:17]]
        nic = next(n for n in vm["nic"] if n["isdefault"])
        assert (i["State"]["Name"], i["PrivateIpAddress"], i["KeyName"], i["InstanceType"],
                i["Placement"]["AvailabilityZone"], i["ImageId"], sorted((t["Key"], t["Value"]) for t in i["Tags"])) \
            == ({"Running": "running", "Stopped": "stopped"}.get(vm["state"], i["State"]["Name"]), nic["ipaddress"],
                vm.get("keypair"), vm["serviceofferingname"], vm["zonename"],
                "ami-" + vm["templateid"].replace("-", "")[:17],
                sorted((t["key"], t["value"]) for t in vm.get("tags", [])))
    ec2.terminate_instances(InstanceIds=ids)


def test_get_with_query_string_and_sigv4(cloud: Cloud) -> None:
    """Older tools send GET with the parameters in the query string; SigV4 covers the query."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{cloud.endpoint}/?Action=DescribeAvailabilityZones&Version=2016-11-15"
    req = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(cloud.admin["apikey"], cloud.admin["secretkey"]), "ec2", "eu-west-1").add_auth(req)
    r = httpx.get(url, headers=dict(req.headers.items()))
    assert r.status_code == 200, r.text
    assert r.text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert "<DescribeAvailabilityZonesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">" in r.text
    assert "<availabilityZoneInfo><item>" in r.text and "<regionName>eu-west-1</regionName>" in r.text
