"""Instance attributes (Describe/ModifyInstanceAttribute) and GetPasswordData.

Attributes map onto what CloudStack keeps for a VM: instanceType = the service offering
(changeServiceForVirtualMachine), userData = the VM's user data (updateVirtualMachine), groupSet = its security
groups, blockDeviceMapping = its volumes. The others are fixed facts here (the root device, shutdown from inside
the guest stops the VM, no delete protection, source/destination checks on, no kernel/ramdisk images, no ENA or
SR-IOV); they describe as such, and changing them to anything else answers ``UnsupportedOperation``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy import select

from management.api.ec2 import ids
from management.api.ec2.actions import (
    ROOT_DEVICE,
    Request,
    action,
    firewall_sync,
    group_uuids,
    instance_devices,
    listing,
    offering_for,
    resolve,
    run,
    vm_extras,
)
from management.api.ec2.protocol import EC2Error
from management.models.compute import VirtualMachine
from management.models.rules import SecurityGroup

ATTRIBUTES = ("instanceType", "kernel", "ramdisk", "userData", "disableApiTermination",
              "instanceInitiatedShutdownBehavior", "rootDeviceName", "blockDeviceMapping", "productCodes",
              "sourceDestCheck", "groupSet", "ebsOptimized", "sriovNetSupport", "enaSupport", "enclaveOptions",
              "disableApiStop")
# attribute -> (output member, the value it always has here)
FIXED: dict[str, tuple[str, Any]] = {
    "disableApiTermination": ("DisableApiTermination", {"Value": False}),
    "instanceInitiatedShutdownBehavior": ("InstanceInitiatedShutdownBehavior", {"Value": "stop"}),
    "rootDeviceName": ("RootDeviceName", {"Value": ROOT_DEVICE}),
    "productCodes": ("ProductCodes", []),
    "sourceDestCheck": ("SourceDestCheck", {"Value": True}),
    "ebsOptimized": ("EbsOptimized", {"Value": False}),
    "sriovNetSupport": ("SriovNetSupport", {}),
    "enaSupport": ("EnaSupport", {"Value": False}),
    "enclaveOptions": ("EnclaveOptions", {"Enabled": False}),
    "disableApiStop": ("DisableApiStop", {"Value": False}),
    "kernel": ("KernelId", {}),
    "ramdisk": ("RamdiskId", {}),
}


def _unknown(attr: str) -> EC2Error:
    return EC2Error("InvalidParameterValue", f"Value ({attr}) for parameter attribute is invalid. Unknown attribute.")


def _vm(r: Request, iu: str) -> dict[str, Any]:
    vms = listing(r, "listVirtualMachines", "virtualmachine", id=iu, details=["all"])
    if not vms:
        raise EC2Error("InvalidInstanceID.NotFound", f"The instance ID '{iu}' does not exist")
    return vms[0]


def _volumes(r: Request, iu: str) -> list[dict[str, Any]]:
    from management.api.ec2 import views

    with r.db() as s:
        return views.volumes_of(s, select(VirtualMachine.id).where(VirtualMachine.uuid == iu)).get(iu, [])


@action("DescribeInstanceAttribute")
def describe_instance_attribute(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    iu = resolve(r, VirtualMachine, "i", p["InstanceId"], "InvalidInstanceID.NotFound", "instance")
    attr = p["Attribute"]
    if attr not in ATTRIBUTES:
        raise _unknown(attr)
    out: dict[str, Any] = {"InstanceId": p["InstanceId"]}
    if attr in FIXED:
        member, value = FIXED[attr]
        out[member] = value
    elif attr == "instanceType":
        out["InstanceType"] = {"Value": _vm(r, iu).get("serviceofferingname")}
    elif attr == "userData":
        data = _vm(r, iu).get("userdata")
        out["UserData"] = {"Value": data} if data else {}
    elif attr == "groupSet":
        out["Groups"] = vm_extras(r, [iu])[iu]["groups"]
    elif attr == "blockDeviceMapping":
        out["BlockDeviceMappings"] = instance_devices(_volumes(r, iu))
    return out


# the Attribute=/Value= form -> the member it stands for, and how its value reads
_LEGACY: dict[str, tuple[str, Any]] = {
    "instanceType": ("InstanceType", lambda v: {"Value": v}),
    "userData": ("UserData", lambda v: {"Value": _b64(v)}),
    "disableApiTermination": ("DisableApiTermination", lambda v: {"Value": v.lower() == "true"}),
    "instanceInitiatedShutdownBehavior": ("InstanceInitiatedShutdownBehavior", lambda v: {"Value": v}),
    "sourceDestCheck": ("SourceDestCheck", lambda v: {"Value": v.lower() == "true"}),
    "groupSet": ("Groups", lambda v: [v]),
    "ebsOptimized": ("EbsOptimized", lambda v: {"Value": v.lower() == "true"}),
    "sriovNetSupport": ("SriovNetSupport", lambda v: {"Value": v}),
    "enaSupport": ("EnaSupport", lambda v: {"Value": v.lower() == "true"}),
    "kernel": ("Kernel", lambda v: {"Value": v}),
    "ramdisk": ("Ramdisk", lambda v: {"Value": v}),
    "disableApiStop": ("DisableApiStop", lambda v: {"Value": v.lower() == "true"}),
}
_MEMBERS = ("InstanceType", "UserData", "DisableApiTermination", "InstanceInitiatedShutdownBehavior",
            "SourceDestCheck", "Groups", "EbsOptimized", "SriovNetSupport", "EnaSupport", "Kernel", "Ramdisk",
            "DisableApiStop", "EnclaveOptions", "BlockDeviceMappings")
# member -> (attribute name, the only value it can have here)
_ONLY: dict[str, tuple[str, Any]] = {
    "DisableApiTermination": ("disableApiTermination", False),
    "InstanceInitiatedShutdownBehavior": ("instanceInitiatedShutdownBehavior", "stop"),
    "SourceDestCheck": ("sourceDestCheck", True),
    "EbsOptimized": ("ebsOptimized", False),
    "EnaSupport": ("enaSupport", False),
    "DisableApiStop": ("disableApiStop", False),
}


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode()


def _unsupported(attr: str, value: Any) -> EC2Error:
    return EC2Error("UnsupportedOperation", f"The instance attribute '{attr}' cannot be set to '{value}' in this "
                                            "cloud.")


def _stopped(r: Request, iu: str, iid: str) -> None:
    if _vm(r, iu).get("state") != "Stopped":
        raise EC2Error("IncorrectInstanceState", f"The instance '{iid}' is not in the 'stopped' state.")


@action("ModifyInstanceAttribute")
def modify_instance_attribute(r: Request, p: dict[str, Any]) -> None:
    iid = p["InstanceId"]
    iu = resolve(r, VirtualMachine, "i", iid, "InvalidInstanceID.NotFound", "instance")
    p = dict(p)
    if p.get("Attribute"):
        attr = p["Attribute"]
        if attr not in ATTRIBUTES:
            raise _unknown(attr)
        if attr not in _LEGACY:
            raise EC2Error("InvalidParameterCombination", f"The attribute '{attr}' cannot be modified with the "
                                                          "Attribute and Value parameters")
        if p.get("Value") is None:
            raise EC2Error("MissingParameter", "The request must contain the parameter value")
        member, read = _LEGACY[attr]
        p[member] = read(p["Value"])
    given = [m for m in _MEMBERS if p.get(m) not in (None, [], {})]
    if not given:
        raise EC2Error("InvalidParameterCombination", "No attributes specified.")
    if len(given) > 1:
        raise EC2Error("InvalidParameterCombination", "Fields for multiple attribute types specified: "
                                                      + ", ".join(given))
    member = given[0]
    value = p[member]
    if member in _ONLY:
        attr, only = _ONLY[member]
        if value.get("Value") != only:
            raise _unsupported(attr, value.get("Value"))
    elif member == "InstanceType":
        offering = offering_for(r, value.get("Value") or "")
        _stopped(r, iu, iid)
        run(r, "changeServiceForVirtualMachine", id=iu, serviceofferingid=offering)
    elif member == "UserData":
        _stopped(r, iu, iid)
        data = value.get("Value") or b""
        run(r, "updateVirtualMachine", id=iu, userdata=base64.b64encode(data).decode())
    elif member == "Groups":
        _set_groups(r, iu, group_uuids(r, {"SecurityGroupIds": value}))
    elif member == "BlockDeviceMappings":
        _check_delete_on_termination(r, iu, value)
    else:  # SriovNetSupport, Kernel, Ramdisk, EnclaveOptions: nothing of the kind here
        raise _unsupported(member[0].lower() + member[1:], value.get("Value", value.get("Enabled")))
    return None


def _set_groups(r: Request, iu: str, sg_uuids: list[str]) -> None:
    from management.services.network import security_groups as sgs

    with r.db(write=True) as s:
        vm = s.scalar(select(VirtualMachine).where(VirtualMachine.uuid == iu))
        groups = list(s.scalars(select(SecurityGroup).where(SecurityGroup.uuid.in_(sg_uuids))))
        if vm is not None:
            sgs.replace_groups(r.inv.runtime, s, vm, groups)
    firewall_sync(r)  # zones without security groups: the static NAT address follows the new groups' rules


def _check_delete_on_termination(r: Request, iu: str, mappings: list[dict[str, Any]]) -> None:
    """The root volume goes with its instance, data volumes stay (CloudStack's destroy with expunge)."""
    by_device = {m["DeviceName"]: m for m in instance_devices(_volumes(r, iu))}
    for m in mappings:
        have = by_device.get(m.get("DeviceName") or "")
        if have is None:
            raise EC2Error("InvalidParameterValue", f"The device '{m.get('DeviceName')}' is not attached to "
                                                    f"instance {ids.to_ec2('i', iu)}")
        want = (m.get("Ebs") or {}).get("DeleteOnTermination")
        if want is not None and want != have["Ebs"]["DeleteOnTermination"]:
            raise _unsupported("blockDeviceMapping", f"{m['DeviceName']} DeleteOnTermination={str(want).lower()}")


@action("GetPasswordData")
def get_password_data(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    """The instance's password encrypted with its key pair's public key (RSA PKCS#1 v1.5, base64; the key pair's
    private key decrypts it, e.g. `aws ec2 get-password-data --priv-launch-key`); empty when its template is not
    password-enabled or it has no key pair, as EC2 answers for an instance without a Windows password."""
    from management.services.compute.keypairs import encrypted_password

    iu = resolve(r, VirtualMachine, "i", p["InstanceId"], "InvalidInstanceID.NotFound", "instance")
    with r.db() as s:
        vm = s.scalar(select(VirtualMachine).where(VirtualMachine.uuid == iu))
        assert vm is not None  # resolved above
        data = encrypted_password(s, vm)
        stamp = getattr(vm, "updated", None) or vm.created
    return {"InstanceId": p["InstanceId"], "Timestamp": stamp, "PasswordData": data or ""}
