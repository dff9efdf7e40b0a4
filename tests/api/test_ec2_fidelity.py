"""EC2 answers as AWS gives them, with unmodified boto3 against the in-process app (advanced simulator zone):
CreateImage and image attributes, instance attributes, GetPasswordData, block device mappings, the default security
group, ClientToken idempotency, snapshots of new volumes, tags on the shared AMI, and the error codes AWS uses for
malformed addresses, empty key material and contradictory ReleaseAddress parameters."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.test_ec2_helpers import Cloud, err, in_process_cloud

boto3 = pytest.importorskip("boto3")
from botocore.exceptions import ClientError  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402
from cryptography.hazmat.primitives.serialization import load_pem_private_key  # noqa: E402

pytestmark = pytest.mark.api
FAST = {"Delay": 0.2, "MaxAttempts": 150}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with in_process_cloud(tmp_path_factory.mktemp("ec2fidelity")) as c:
        yield c


@pytest.fixture(scope="module")
def ec2(cloud: Cloud) -> Any:
    return cloud.client()


@pytest.fixture(scope="module")
def ami(ec2: Any) -> str:
    return ec2.describe_images()["Images"][0]["ImageId"]  # type: ignore[no-any-return]


def launch(ec2: Any, ami: str, **kw: Any) -> str:
    iid: str = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, **kw)["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=FAST)
    return iid


def instance(ec2: Any, iid: str) -> dict[str, Any]:
    return ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]  # type: ignore[no-any-return]


def cs_vm(cloud: Cloud, iid: str) -> dict[str, Any]:
    vms = cloud.admin_api()("listVirtualMachines", details="all")["virtualmachine"]
    return next(v for v in vms if "i-" + v["id"].replace("-", "")[:17] == iid)


def test_create_image_from_a_running_instance(cloud: Cloud, ec2: Any, ami: str) -> None:
    iid = launch(ec2, ami)
    image_id = ec2.create_image(InstanceId=iid, Name="web image (v1)", Description="the web tier",
                                TagSpecifications=[{"ResourceType": "image",
                                                    "Tags": [{"Key": "tier", "Value": "web"}]}])["ImageId"]
    assert image_id.startswith("ami-") and image_id != ami
    ec2.get_waiter("image_available").wait(ImageIds=[image_id], WaiterConfig=FAST)
    img = ec2.describe_images(ImageIds=[image_id])["Images"][0]
    assert (img["Name"], img["Description"], img["State"]) == ("web image (v1)", "the web tier", "available")
    assert img["OwnerId"] == ec2.describe_security_groups()["SecurityGroups"][0]["OwnerId"]
    assert img["Tags"] == [{"Key": "tier", "Value": "web"}]
    [bdm] = img["BlockDeviceMappings"]
    assert bdm["DeviceName"] == img["RootDeviceName"] and bdm["Ebs"]["SnapshotId"].startswith("snap-")
    assert bdm["Ebs"]["DeleteOnTermination"] is True and bdm["Ebs"]["VolumeSize"] >= 1
    # CreateImage = createSnapshot of the root volume + createTemplate from it, as the CloudStack API shows
    admin = cloud.admin_api()
    tmpl = next(t for t in admin("listTemplates", templatefilter="self")["template"] if t["name"] == "web image (v1)")
    assert "ami-" + tmpl["id"].replace("-", "")[:17] == image_id and tmpl["isready"]
    snap = next(s for s in admin("listSnapshots")["snapshot"]
                if "snap-" + s["id"].replace("-", "")[:17] == bdm["Ebs"]["SnapshotId"])
    assert snap["volumetype"] == "ROOT" and snap["state"] == "BackedUp"
    # without NoReboot the instance was shut down for the snapshot and booted again
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=FAST)
    assert any(e["type"] == "VM.STOP" for e in admin("listEvents")["event"])
    # the image launches instances
    assert instance(ec2, launch(ec2, image_id))["ImageId"] == image_id
    # names as AWS checks them
    for name, code in (("web image (v1)", "InvalidAMIName.Duplicate"), ("bad*name", "InvalidAMIName.Malformed")):
        with pytest.raises(ClientError) as e:
            ec2.create_image(InstanceId=iid, Name=name, NoReboot=True)
        assert err(e) == (400, code), name
    with pytest.raises(ClientError) as e:
        ec2.create_image(InstanceId="i-00000000000000000", Name="nope")
    assert err(e) == (400, "InvalidInstanceID.NotFound")


def test_describe_image_attribute(cloud: Cloud, ec2: Any, ami: str) -> None:
    iid = launch(ec2, ami)
    image_id = ec2.create_image(InstanceId=iid, Name="attr-image", Description="described", NoReboot=True)["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[image_id], WaiterConfig=FAST)
    get = ec2.describe_image_attribute
    assert get(ImageId=image_id, Attribute="description")["Description"] == {"Value": "described"}
    assert get(ImageId=image_id, Attribute="blockDeviceMapping")["BlockDeviceMappings"] == \
        ec2.describe_images(ImageIds=[image_id])["Images"][0]["BlockDeviceMappings"]
    assert get(ImageId=image_id, Attribute="launchPermission")["LaunchPermissions"] == []
    assert get(ImageId=image_id, Attribute="productCodes")["ProductCodes"] == []
    assert get(ImageId=image_id, Attribute="kernel")["ImageId"] == image_id
    # launch permissions are CloudStack's template permissions
    other = cloud.api.new_account()
    tmpl_id = next(t["id"] for t in cloud.admin_api()("listTemplates", templatefilter="self")["template"]
                   if t["name"] == "attr-image")
    cloud.admin_api()("updateTemplatePermissions", id=tmpl_id, accounts=other["name"], op="add")
    perms = get(ImageId=image_id, Attribute="launchPermission")["LaunchPermissions"]
    other_ec2 = cloud.client(other["apikey"], other["secretkey"])
    other_owner = other_ec2.describe_security_groups()["SecurityGroups"][0]["OwnerId"]
    assert perms == [{"UserId": other_owner}]
    cloud.admin_api()("updateTemplatePermissions", id=tmpl_id, ispublic=True)
    assert {"Group": "all"} in get(ImageId=image_id, Attribute="launchPermission")["LaunchPermissions"]
    with pytest.raises(ClientError) as e:
        get(ImageId=image_id, Attribute="colour")
    assert err(e) == (400, "InvalidParameterValue")
    with pytest.raises(ClientError) as e:
        get(ImageId="ami-00000000000000000", Attribute="description")
    assert err(e) == (400, "InvalidAMIID.NotFound")
    # DeregisterImage removes it (and, when asked, its snapshot)
    snap = get(ImageId=image_id, Attribute="blockDeviceMapping")["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    out = ec2.deregister_image(ImageId=image_id, DeleteAssociatedSnapshots=True)
    assert out["DeleteSnapshotResults"] == [{"SnapshotId": snap, "ReturnCode": "success"}]
    with pytest.raises(ClientError) as e:
        ec2.describe_images(ImageIds=[image_id])
    assert err(e) == (400, "InvalidAMIID.NotFound")
    with pytest.raises(ClientError) as e:
        ec2.describe_snapshots(SnapshotIds=[snap])
    assert err(e) == (400, "InvalidSnapshot.NotFound")


def test_deregister_an_image_an_instance_runs_from(ec2: Any, ami: str) -> None:
    """AWS deregisters an AMI whatever runs from it; the instance keeps running (CloudStack's forced delete)."""
    iid = launch(ec2, ami)
    image_id = ec2.create_image(InstanceId=iid, Name="in-use-image", NoReboot=True)["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[image_id], WaiterConfig=FAST)
    child = launch(ec2, image_id)
    ec2.deregister_image(ImageId=image_id)
    with pytest.raises(ClientError) as e:
        ec2.describe_images(ImageIds=[image_id])
    assert err(e) == (400, "InvalidAMIID.NotFound")
    assert instance(ec2, child)["State"]["Name"] == "running"


def test_instance_attributes(cloud: Cloud, ec2: Any, ami: str) -> None:
    web = ec2.create_security_group(GroupName="attr-web", Description="web")["GroupId"]
    db = ec2.create_security_group(GroupName="attr-db", Description="db")["GroupId"]
    iid = launch(ec2, ami, InstanceType="t2.micro", UserData="#!/bin/sh\necho one\n", SecurityGroupIds=[web])
    get = ec2.describe_instance_attribute
    assert get(InstanceId=iid, Attribute="instanceType")["InstanceType"] == {"Value": "Small Instance"}
    assert base64.b64decode(get(InstanceId=iid, Attribute="userData")["UserData"]["Value"]) == b"#!/bin/sh\necho one\n"
    assert [g["GroupId"] for g in get(InstanceId=iid, Attribute="groupSet")["Groups"]] == [web]
    assert get(InstanceId=iid, Attribute="disableApiTermination")["DisableApiTermination"] == {"Value": False}
    assert get(InstanceId=iid, Attribute="instanceInitiatedShutdownBehavior")[
        "InstanceInitiatedShutdownBehavior"] == {"Value": "stop"}
    assert get(InstanceId=iid, Attribute="rootDeviceName")["RootDeviceName"] == {"Value": "/dev/vda"}
    assert get(InstanceId=iid, Attribute="sourceDestCheck")["SourceDestCheck"] == {"Value": True}
    assert get(InstanceId=iid, Attribute="blockDeviceMapping")["BlockDeviceMappings"] == \
        instance(ec2, iid)["BlockDeviceMappings"]
    with pytest.raises(ClientError) as e:
        get(InstanceId=iid, Attribute="colour")
    assert err(e) == (400, "InvalidParameterValue")
    # instanceType and userData change on a stopped instance only, as on EC2
    with pytest.raises(ClientError) as e:
        ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "Medium Instance"})
    assert err(e) == (400, "IncorrectInstanceState")
    ec2.stop_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=FAST)
    ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "Medium Instance"})
    ec2.modify_instance_attribute(InstanceId=iid, UserData={"Value": b"#!/bin/sh\necho two\n"})
    ec2.modify_instance_attribute(InstanceId=iid, Attribute="instanceInitiatedShutdownBehavior", Value="stop")
    assert get(InstanceId=iid, Attribute="instanceType")["InstanceType"] == {"Value": "Medium Instance"}
    vm = cs_vm(cloud, iid)
    assert vm["serviceofferingname"] == "Medium Instance"
    assert base64.b64decode(cloud.admin_api()("getVirtualMachineUserData", virtualmachineid=vm["id"])
                            ["virtualmachineuserdata"]["userdata"]) == b"#!/bin/sh\necho two\n"
    # groupSet replaces the instance's groups
    ec2.modify_instance_attribute(InstanceId=iid, Groups=[db, web])
    assert sorted(g["GroupId"] for g in get(InstanceId=iid, Attribute="groupSet")["Groups"]) == sorted([db, web])
    assert sorted(g["name"] for g in cs_vm(cloud, iid)["securitygroup"]) == ["attr-db", "attr-web"]
    ec2.modify_instance_attribute(InstanceId=iid, Groups=[db])
    assert [g["GroupId"] for g in instance(ec2, iid)["SecurityGroups"]] == [db]
    # what CloudStack has no equivalent for
    for kw in ({"DisableApiTermination": {"Value": True}}, {"SourceDestCheck": {"Value": False}},
               {"Attribute": "instanceInitiatedShutdownBehavior", "Value": "terminate"},
               {"EnaSupport": {"Value": True}}):
        with pytest.raises(ClientError) as e:
            ec2.modify_instance_attribute(InstanceId=iid, **kw)
        assert err(e) == (400, "UnsupportedOperation"), kw
    with pytest.raises(ClientError) as e:
        ec2.modify_instance_attribute(InstanceId=iid)
    assert err(e) == (400, "InvalidParameterCombination")
    with pytest.raises(ClientError) as e:
        ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "x9.huge"})
    assert err(e) == (400, "InvalidParameterValue")
    with pytest.raises(ClientError) as e:
        ec2.modify_instance_attribute(InstanceId=iid, Groups=["sg-00000000000000000"])
    assert err(e) == (400, "InvalidGroup.NotFound")


def test_get_password_data(cloud: Cloud, ec2: Any, ami: str) -> None:
    admin = cloud.admin_api()
    tmpl = next(t for t in admin("listTemplates", templatefilter="executable")["template"]
                if "ami-" + t["id"].replace("-", "")[:17] == ami)
    key = ec2.create_key_pair(KeyName="pw-key")
    private = load_pem_private_key(key["KeyMaterial"].encode(), password=None)
    plain = launch(ec2, ami, KeyName="pw-key")  # the template is not password-enabled
    assert ec2.get_password_data(InstanceId=plain)["PasswordData"] == ""
    admin("updateTemplate", id=tmpl["id"], passwordenabled=True)
    try:
        iid = launch(ec2, ami, KeyName="pw-key")
        nokey = launch(ec2, ami)
        out = ec2.get_password_data(InstanceId=iid)
        assert out["InstanceId"] == iid and out["Timestamp"]
        password = private.decrypt(base64.b64decode(out["PasswordData"]), padding.PKCS1v15())  # type: ignore
        assert len(password) >= 6
        # it is the VM's CloudStack password: after resetPasswordForVirtualMachine the new one decrypts
        new = admin.run("resetPasswordForVirtualMachine", id=cs_vm(cloud, iid)["id"])["virtualmachine"]["password"]
        again = ec2.get_password_data(InstanceId=iid)["PasswordData"]
        assert private.decrypt(base64.b64decode(again), padding.PKCS1v15()).decode() == new  # type: ignore
        assert new.encode() != password
        assert ec2.get_password_data(InstanceId=nokey)["PasswordData"] == ""  # no key pair to encrypt for
    finally:
        admin("updateTemplate", id=tmpl["id"], passwordenabled=False)
    with pytest.raises(ClientError) as e:
        ec2.get_password_data(InstanceId="i-00000000000000000")
    assert err(e) == (400, "InvalidInstanceID.NotFound")


def test_block_device_mappings(ec2: Any, ami: str) -> None:
    iid = launch(ec2, ami)
    inst = instance(ec2, iid)
    [root] = inst["BlockDeviceMappings"]
    assert root["DeviceName"] == inst["RootDeviceName"] == "/dev/vda"
    assert root["Ebs"]["Status"] == "attached" and root["Ebs"]["DeleteOnTermination"] is True and \
        root["Ebs"]["AttachTime"]
    vols = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [iid]}])["Volumes"]
    assert [v["VolumeId"] for v in vols] == [root["Ebs"]["VolumeId"]]
    zone = inst["Placement"]["AvailabilityZone"]
    vid = ec2.create_volume(AvailabilityZone=zone, Size=2)["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=FAST)
    ec2.attach_volume(VolumeId=vid, InstanceId=iid, Device="/dev/sdf")
    ec2.get_waiter("volume_in_use").wait(VolumeIds=[vid], WaiterConfig=FAST)
    maps = instance(ec2, iid)["BlockDeviceMappings"]
    assert [(m["DeviceName"], m["Ebs"]["VolumeId"], m["Ebs"]["DeleteOnTermination"]) for m in maps] == \
        [("/dev/vda", root["Ebs"]["VolumeId"], True), ("/dev/vdb", vid, False)]
    # an image shows its root disk
    img = ec2.describe_images(ImageIds=[ami])["Images"][0]
    [bdm] = img["BlockDeviceMappings"]
    assert bdm["DeviceName"] == img["RootDeviceName"] and bdm["Ebs"]["VolumeSize"] >= 1
    assert bdm["Ebs"]["DeleteOnTermination"] is True and "SnapshotId" not in bdm["Ebs"]  # registered, not imaged


def test_new_instance_is_in_the_default_group(cloud: Cloud, ec2: Any, ami: str) -> None:
    default = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]
    r = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)
    want = [{"GroupName": "default", "GroupId": default["GroupId"]}]
    assert r["Instances"][0]["SecurityGroups"] == want
    iid = r["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=FAST)
    assert instance(ec2, iid)["SecurityGroups"] == want
    found = ec2.describe_instances(Filters=[{"Name": "instance.group-name", "Values": ["default"]}])["Reservations"]
    assert iid in {i["InstanceId"] for res in found for i in res["Instances"]}
    assert [g["name"] for g in cs_vm(cloud, iid)["securitygroup"]] == ["default"]
    with pytest.raises(ClientError) as e:
        ec2.delete_security_group(GroupId=default["GroupId"])
    assert err(e)[0] == 400


def test_run_instances_client_token_is_idempotent(cloud: Cloud, ec2: Any, ami: str) -> None:
    before = len(cloud.admin_api()("listVirtualMachines").get("virtualmachine", []))
    first = ec2.run_instances(ImageId=ami, MinCount=2, MaxCount=2, ClientToken="build-42")
    again = ec2.run_instances(ImageId=ami, MinCount=2, MaxCount=2, ClientToken="build-42")
    ids = [i["InstanceId"] for i in first["Instances"]]
    assert again["ReservationId"] == first["ReservationId"]
    assert [i["InstanceId"] for i in again["Instances"]] == ids
    assert {i["ClientToken"] for i in again["Instances"]} == {"build-42"}
    assert len(cloud.admin_api()("listVirtualMachines")["virtualmachine"]) == before + 2
    with pytest.raises(ClientError) as e:
        ec2.run_instances(ImageId=ami, MinCount=3, MaxCount=3, ClientToken="build-42")
    assert err(e) == (400, "IdempotentParameterMismatch")
    # tokens are per account
    other = cloud.api.new_account()
    mine = cloud.client(other["apikey"], other["secretkey"]).run_instances(ImageId=ami, MinCount=1, MaxCount=1,
                                                                           ClientToken="build-42")
    assert mine["Instances"][0]["InstanceId"] not in ids
    # a token whose instances were terminated is used up (EC2: IdempotentInstanceTerminated)
    ec2.terminate_instances(InstanceIds=ids)
    ec2.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig=FAST)
    with pytest.raises(ClientError) as e:
        ec2.run_instances(ImageId=ami, MinCount=2, MaxCount=2, ClientToken="build-42")
    assert err(e) == (400, "IdempotentInstanceTerminated")
    # a failed launch does not use its token up
    with pytest.raises(ClientError) as e:
        ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, KeyName="no-such-key", ClientToken="retry-me")
    assert err(e) == (400, "InvalidKeyPair.NotFound")
    ec2.create_key_pair(KeyName="no-such-key")
    ok = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, KeyName="no-such-key", ClientToken="retry-me")
    assert ok["Instances"][0]["KeyName"] == "no-such-key"


def test_snapshot_of_a_new_unattached_volume(cloud: Cloud, ec2: Any) -> None:
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    vid = ec2.create_volume(AvailabilityZone=zone, Size=1)["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=FAST)
    vol = next(v for v in cloud.admin_api()("listVolumes")["volume"] if "vol-" + v["id"].replace("-", "")[:17] == vid)
    # CloudStack (KVM included) snapshots only Ready volumes, and a data volume has no disk until its first attach
    status, body = cloud.admin_api().error("createSnapshot", volumeid=vol["id"])
    assert status == 431 and f"VolumeId: {vol['id']} is not in Ready state but Allocated" in str(body)
    snap = ec2.create_snapshot(VolumeId=vid, Description="empty")
    assert snap["State"] == "pending" and snap["VolumeId"] == vid
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snap["SnapshotId"]], WaiterConfig=FAST)
    assert ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]["State"] == "available"
    vol = next(v for v in cloud.admin_api()("listVolumes")["volume"] if v["id"] == vol["id"])
    assert vol["state"] == "Ready"  # EC2 made its (empty) disk on primary storage first; still unattached
    restored = ec2.create_volume(AvailabilityZone=zone, SnapshotId=snap["SnapshotId"])["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[restored], WaiterConfig=FAST)
    ec2.delete_snapshot(SnapshotId=snap["SnapshotId"])
    for v in (restored, vid):
        ec2.delete_volume(VolumeId=v)


def test_tags_on_the_shared_ami(ec2: Any, ami: str) -> None:
    ec2.create_tags(Resources=[ami], Tags=[{"Key": "os", "Value": "tiny"}, {"Key": "team", "Value": "infra"}])
    found = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [ami]}])["Tags"]
    assert sorted((t["Key"], t["Value"], t["ResourceType"]) for t in found) == [("os", "tiny", "image"),
                                                                               ("team", "infra", "image")]
    assert {"Key": "os", "Value": "tiny"} in ec2.describe_images(ImageIds=[ami])["Images"][0]["Tags"]
    ec2.create_tags(Resources=[ami], Tags=[{"Key": "os", "Value": "tinier"}])  # overwrites, as on EC2
    ec2.delete_tags(Resources=[ami], Tags=[{"Key": "team"}])
    found = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [ami]}])["Tags"]
    assert [(t["Key"], t["Value"]) for t in found] == [("os", "tinier")]
    ec2.delete_tags(Resources=[ami])
    assert ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [ami]}])["Tags"] == []
    assert ec2.describe_images(ImageIds=[ami])["Images"][0].get("Tags", []) == []


def test_describe_addresses_with_a_malformed_ip(ec2: Any) -> None:
    with pytest.raises(ClientError) as e:
        ec2.describe_addresses(PublicIps=["not-an-ip"])
    assert err(e) == (400, "InvalidParameterValue")
    with pytest.raises(ClientError) as e:
        ec2.describe_addresses(PublicIps=["192.0.2.99"])  # well-formed, not ours
    assert err(e) == (400, "InvalidAddress.NotFound")


def test_import_key_pair_without_material(ec2: Any) -> None:
    with pytest.raises(ClientError) as e:
        ec2.import_key_pair(KeyName="empty", PublicKeyMaterial=b"")
    assert err(e) == (400, "MissingParameter")
    assert "empty" not in {k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]}


def test_release_address_with_both_ip_and_allocation_id(ec2: Any) -> None:
    alloc = ec2.allocate_address(Domain="vpc")
    with pytest.raises(ClientError) as e:
        ec2.release_address(PublicIp=alloc["PublicIp"], AllocationId=alloc["AllocationId"])
    assert err(e) == (400, "InvalidParameterCombination")
    assert ec2.describe_addresses(AllocationIds=[alloc["AllocationId"]])["Addresses"]
    ec2.release_address(AllocationId=alloc["AllocationId"])


def test_account_attributes_follow_the_vpc_actions(ec2: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from management.api.ec2.actions import ACTIONS

    def platforms() -> list[str]:
        attrs = ec2.describe_account_attributes(AttributeNames=["supported-platforms"])["AccountAttributes"]
        return [v["AttributeValue"] for a in attrs if a["AttributeName"] == "supported-platforms"
                for v in a["AttributeValues"]]

    monkeypatch.delitem(ACTIONS, "CreateVpc", raising=False)
    assert platforms() == ["EC2"]  # no VPC actions: no VPC platform
    monkeypatch.setitem(ACTIONS, "CreateVpc", lambda r, p: {})
    monkeypatch.setitem(ACTIONS, "DescribeVpcs", lambda r, p: {"Vpcs": []})
    assert platforms() == ["VPC"]
