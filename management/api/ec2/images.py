"""EC2 images beyond DescribeImages: CreateImage, DeregisterImage, DescribeImageAttribute.

CreateImage = createSnapshot of the instance's root volume, then createTemplate from that snapshot (CloudStack's
way of templating a running VM). Without NoReboot the instance is stopped for the snapshot and started again, as
EC2 shuts it down and reboots it; the image is `available` once the template is. Only the root volume is imaged
(a CloudStack template is one disk): data volumes are not part of the image.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from sqlalchemy import select

from management.api.ec2 import ids
from management.api.ec2.actions import (
    Request,
    action,
    create_tags,
    cs_error,
    executable_templates,
    images_of,
    listing,
    resolve,
    run,
    tag_specs,
)
from management.api.ec2.protocol import EC2Error
from management.errors import CloudError
from management.models.compute import VirtualMachine
from management.models.storage import Template

_NAME = re.compile(r"^[A-Za-z0-9()\[\] ./\-'@_]{3,128}$")


def _check_name(r: Request, name: str) -> None:
    if not _NAME.match(name):
        raise EC2Error("InvalidAMIName.Malformed", "AMI names must be between 3 and 128 characters long, and may "
                                                   "contain letters, numbers, '(', ')', '[', ']', ' ', '.', '/', "
                                                   "'-', ''', '@' and '_'")
    with r.db() as s:
        taken = s.scalar(select(Template.uuid).where(Template.account_id == r.caller.account_id,
                                                     Template.name == name, Template.removed.is_(None),
                                                     Template.format != "ISO").limit(1))
    if taken is not None:
        raise EC2Error("InvalidAMIName.Duplicate", f"AMI name {name} is already in use by AMI "
                                                   f"{ids.to_ec2('ami', taken)}")


@action("CreateImage")
def create_image(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    name = p["Name"]
    iu = resolve(r, VirtualMachine, "i", p["InstanceId"], "InvalidInstanceID.NotFound", "instance")
    _check_name(r, name)
    vms = listing(r, "listVirtualMachines", "virtualmachine", id=iu)
    vm = vms[0] if vms else {}
    if vm.get("state") not in ("Running", "Stopped"):
        raise EC2Error("IncorrectInstanceState", f"The instance '{p['InstanceId']}' is not in a state from which "
                                                 "an image can be created.")
    roots = listing(r, "listVolumes", "volume", virtualmachineid=iu, type="ROOT")
    if not roots:
        raise EC2Error("IncorrectInstanceState", f"The instance '{p['InstanceId']}' has no root volume")
    restart = vm["state"] == "Running" and not p.get("NoReboot")
    if restart:
        run(r, "stopVirtualMachine", id=iu)
    try:
        snap = run(r, "createSnapshot", volumeid=roots[0]["id"])["snapshot"]
    finally:
        if restart:
            run(r, "startVirtualMachine", wait=False, id=iu)
    ostype = vm.get("ostypeid") or _template_ostype(r, vm.get("templateid"))
    try:
        tmpl = r.inv.run("createTemplate", snapshotid=snap["id"], name=name,
                         displaytext=p.get("Description") or name, ostypeid=ostype,
                         passwordenabled=bool(vm.get("passwordenabled")))["template"]
    except CloudError as err:
        with contextlib.suppress(CloudError):
            r.inv.run("deleteSnapshot", id=snap["id"])
        raise cs_error(err) from None
    for kind, cs_type, uuid in (("image", "Template", tmpl["id"]), ("snapshot", "Snapshot", snap["id"])):
        create_tags(r, cs_type, [uuid], tag_specs(p, kind))
    return {"ImageId": ids.to_ec2("ami", tmpl["id"])}


def _template_ostype(r: Request, template_uuid: str | None) -> str | None:
    """The OS type createTemplate needs: the source template's, else CloudStack's "Other (64-bit)"."""
    found = listing(r, "listTemplates", "template", templatefilter="executable", id=template_uuid) \
        if template_uuid else []
    if found and found[0].get("ostypeid"):
        return found[0]["ostypeid"]  # type: ignore[no-any-return]
    other = listing(r, "listOsTypes", "ostype", description="Other (64-bit)")
    return other[0]["id"] if other else None


def _own_template(r: Request, image_id: str) -> str:
    return resolve(r, Template, "ami", image_id, "InvalidAMIID.NotFound", "image")


@action("DeregisterImage")
def deregister_image(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    tu = _own_template(r, p["ImageId"])
    with r.db() as s:
        snap = s.scalar(select(Template.source_snapshot_id).where(Template.uuid == tu))
    # AWS deregisters an AMI that instances still run from (they keep their disks): CloudStack's forced delete
    # drops the image-store copies and leaves the VMs' primary-storage bases alone
    run(r, "deleteTemplate", notfound="InvalidAMIID.NotFound", what="image", id=tu, forced="true")
    results = []
    if p.get("DeleteAssociatedSnapshots") and snap is not None:
        from management.models.storage import Snapshot

        with r.db() as s:
            su = s.scalar(select(Snapshot.uuid).where(Snapshot.id == snap, Snapshot.removed.is_(None)))
        if su is not None:
            run(r, "deleteSnapshot", id=su)
            results.append({"SnapshotId": ids.to_ec2("snap", su), "ReturnCode": "success"})
    return {"Return": True, "DeleteSnapshotResults": results}


def _visible_image(r: Request, image_id: str) -> dict[str, Any]:
    for t in executable_templates(r):
        if ids.to_ec2("ami", t["id"]) == image_id or t["id"] == image_id:
            return t
    resolve(r, Template, "ami", image_id, "InvalidAMIID.NotFound", "image", owned=False)  # malformed vs missing
    raise EC2Error("InvalidAMIID.NotFound", f"The image id '[{image_id}]' does not exist")


@action("DescribeImageAttribute")
def describe_image_attribute(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    t = _visible_image(r, p["ImageId"])
    image = images_of(r, [t])[0]
    attr = p["Attribute"]
    out: dict[str, Any] = {"ImageId": image["ImageId"]}
    if attr == "description":
        out["Description"] = {"Value": t.get("displaytext") or ""}
    elif attr == "blockDeviceMapping":
        out["BlockDeviceMappings"] = image["BlockDeviceMappings"]
    elif attr == "launchPermission":
        out["LaunchPermissions"] = _launch_permissions(r, t, image)
    elif attr == "productCodes":
        out["ProductCodes"] = []
    elif attr == "bootMode":
        uefi = str((t.get("details") or {}).get("UEFI", "")).lower() not in ("", "false")
        out["BootMode"] = {"Value": "uefi" if uefi else "legacy-bios"}
    elif attr == "deregistrationProtection":
        out["DeregistrationProtection"] = {"Value": "disabled"}
    elif attr in _EMPTY_IMAGE_ATTRS:
        out[_EMPTY_IMAGE_ATTRS[attr]] = {}
    else:
        raise EC2Error("InvalidParameterValue", f"Value ({attr}) for parameter attribute is invalid. Unknown "
                                                "attribute.")
    return out


# Attributes that exist on EC2 and have no value here (no kernel/ramdisk images, no SR-IOV, TPM, UEFI data, ...).
_EMPTY_IMAGE_ATTRS = {"kernel": "KernelId", "ramdisk": "RamdiskId", "sriovNetSupport": "SriovNetSupport",
                      "tpmSupport": "TpmSupport", "uefiData": "UefiData", "lastLaunchedTime": "LastLaunchedTime",
                      "imdsSupport": "ImdsSupport"}


def _launch_permissions(r: Request, t: dict[str, Any], image: dict[str, Any]) -> list[dict[str, str]]:
    """Who may launch the image: `all` when public, else the accounts it is shared with (updateTemplatePermissions).
    Only the image's owner may ask, as on EC2."""
    if image["OwnerId"] != r.owner_id:
        raise EC2Error("AuthFailure", f"Not authorized for image:{image['ImageId']}", 401)
    run(r, "listTemplatePermissions", id=t["id"])  # the same access check as the CloudStack API
    from management.services.storage.templates import permitted_accounts

    with r.db() as s:
        row = s.scalar(select(Template).where(Template.uuid == t["id"]))
        accounts = [a.id for a in permitted_accounts(s, row)] if row is not None else []
    perms = [{"Group": "all"}] if t.get("ispublic") else []
    return perms + [{"UserId": str(a).zfill(12)} for a in accounts]
