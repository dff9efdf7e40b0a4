"""EC2 actions as calls of the CloudStack commands (see :mod:`invoke`): each function takes the request context and
the parsed input (botocore member names) and returns the output dict (member names) for :mod:`protocol`.

Mapping decisions:
- instance types = service offerings by name; a few EC2 type names map onto the seeded offerings (TYPE_MAP);
- AMIs = executable templates; availability zones = zones; the region is the one the client signed for;
- TerminateInstances = destroyVirtualMachine with expunge (the instance goes away; asked for by id afterwards it is
  reported ``terminated``);
- security groups are CloudStack security groups. In zones without security groups (advanced, isolated networks)
  an instance still records its groups, and the groups' ingress rules become firewall rules on the instance's
  static NAT address (AssociateAddress), kept in step by Authorize/RevokeSecurityGroupIngress;
- addresses = public IPs (associateIpAddress on the caller's network), AssociateAddress = enableStaticNat.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fnmatch
import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from management.api.ec2 import ids
from management.api.ec2.invoke import Invoker, JobFailed
from management.api.ec2.protocol import EC2Error, iso
from management.errors import CloudError
from management.models.compute import SSHKeyPair, VirtualMachine
from management.models.infra import PublicIpAddress, Zone
from management.models.offerings import DiskOffering, ServiceOffering
from management.models.rules import SecurityGroup
from management.models.storage import Snapshot, Template, Volume
from management.services.context import Caller

GiB = 1024 ** 3
# EC2 instance type names accepted besides the offering names themselves.
TYPE_MAP = {
    "t1.micro": "Small Instance", "t2.nano": "Small Instance", "t2.micro": "Small Instance",
    "t3.nano": "Small Instance", "t3.micro": "Small Instance", "m1.small": "Small Instance",
    "t2.small": "Medium Instance", "t3.small": "Medium Instance", "m1.medium": "Medium Instance",
    "t2.medium": "Medium Instance", "t3.medium": "Medium Instance",
}
DEFAULT_TYPE = "m1.small"
ROOT_DEVICE = "/dev/vda"
STATES = {  # CloudStack VM state -> (code, EC2 name)
    "Allocated": (0, "pending"), "Starting": (0, "pending"), "Running": (16, "running"),
    "Stopping": (64, "stopping"), "Stopped": (80, "stopped"), "Migrating": (16, "running"),
    "Destroyed": (48, "terminated"), "Expunging": (32, "shutting-down"), "Expunged": (48, "terminated"),
    "Error": (48, "terminated"), "Shutdown": (80, "stopped"),
}


@dataclass
class Request:
    inv: Invoker
    caller: Caller
    region: str
    host: str
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def owner_id(self) -> str:
        return str(self.caller.account_id).zfill(12)

    def db(self, write: bool = False) -> Any:
        return self.inv.runtime.db.session(write=write)


Action = Callable[[Request, dict[str, Any]], dict[str, Any] | None]
ACTIONS: dict[str, Action] = {}


def action(name: str) -> Callable[[Action], Action]:
    def deco(fn: Action) -> Action:
        ACTIONS[name] = fn
        return fn
    return deco


# ------------------------------------------------------------------------------------------------ helpers

def cs_error(err: CloudError, notfound: str | None = None, what: str = "") -> EC2Error:
    """A CloudStack error as the closest EC2 error."""
    text = err.text
    code = err.code
    if code in (431, 531) and notfound and ("does not exist" in text.lower() or "unable to find" in text.lower()
                                            or code == 531):
        return EC2Error(notfound, f"The {what or 'resource'} does not exist")
    if code == 431 and ("state" in text.lower()):
        return EC2Error("IncorrectInstanceState", text)
    return {
        401: EC2Error("UnauthorizedOperation", text, 403),
        431: EC2Error("InvalidParameterValue", text),
        432: EC2Error("InvalidAction", text),
        531: EC2Error("UnauthorizedOperation", text, 403),
        532: EC2Error("InstanceLimitExceeded", text),
        533: EC2Error("InsufficientInstanceCapacity", text),
        534: EC2Error("InsufficientInstanceCapacity", text),
        535: EC2Error("InsufficientInstanceCapacity", text),
        536: EC2Error("DependencyViolation", text),
        537: EC2Error("InvalidPermission.Duplicate", text),
    }.get(code, EC2Error("InternalError", text, 500))


def run(r: Request, command: str, *, notfound: str | None = None, what: str = "", wait: bool = True,
        **params: Any) -> dict[str, Any]:
    try:
        return r.inv.run(command, **params) if wait else r.inv.call(command, **params)
    except CloudError as err:
        raise cs_error(err, notfound, what) from None


def listing(r: Request, command: str, key: str, **params: Any) -> list[dict[str, Any]]:
    try:
        return r.inv.list(command, key, **params)
    except CloudError as err:
        raise cs_error(err) from None


def resolve(r: Request, model: Any, prefix: str, ec2_id: str, code: str, what: str, *, owned: bool = True) -> str:
    with r.db() as s:
        extra = [model.account_id == r.caller.account_id] if owned else []
        uuid = ids.to_uuid(s, model, prefix, ec2_id, *extra)
    if uuid is None:
        if not (ids.well_formed(prefix, ec2_id) or (isinstance(ec2_id, str) and len(ec2_id) == 36)):
            raise EC2Error(code.replace(".NotFound", ".Malformed"), f"Invalid id: \"{ec2_id}\"")
        raise EC2Error(code, f"The {what} ID '{ec2_id}' does not exist")
    return uuid


def match(patterns: list[str], value: Any) -> bool:
    if value is None:
        return False
    values = value if isinstance(value, (list, set, tuple)) else [value]
    return any(fnmatch.fnmatchcase(str(v), p) for p in patterns for v in values)


def apply_filters(items: list[dict[str, Any]], filters: list[dict[str, Any]] | None,
                  getters: dict[str, Callable[[dict[str, Any]], Any]]) -> list[dict[str, Any]]:
    for f in filters or []:
        name, values = f.get("Name", ""), f.get("Values", [])
        if name.startswith("tag:"):
            key = name[4:]
            items = [i for i in items if match(values, [t["Value"] for t in i.get("Tags", []) if t["Key"] == key])]
        elif name == "tag-key":
            items = [i for i in items if match(values, [t["Key"] for t in i.get("Tags", [])])]
        elif name == "tag-value":
            items = [i for i in items if match(values, [t["Value"] for t in i.get("Tags", [])])]
        elif name in getters:
            g = getters[name]
            items = [i for i in items if match(values, g(i))]
        else:
            raise EC2Error("InvalidParameterValue", f"The filter '{name}' is invalid")
    return items


def page(items: list[Any], p: dict[str, Any], *, lo: int = 5, hi: int = 1000) -> tuple[list[Any], str | None]:
    start = 0
    if p.get("NextToken"):
        try:
            start = int(base64.urlsafe_b64decode(p["NextToken"].encode()).decode())
        except ValueError:
            raise EC2Error("InvalidParameterValue", "The token is invalid") from None
    size = p.get("MaxResults")
    if size is None:
        return items[start:], None
    if not lo <= size <= hi:
        raise EC2Error("InvalidParameterValue", f"Value ( {size} ) for parameter maxResults is invalid. "
                                                f"Expecting a value between {lo} and {hi}.")
    chunk = items[start:start + size]
    nxt = start + size
    token = base64.urlsafe_b64encode(str(nxt).encode()).decode() if nxt < len(items) else None
    return chunk, token


def tagset(cs_tags: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    return [{"Key": t["key"], "Value": t.get("value") or ""} for t in cs_tags or []]


def parse_time(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
        except ValueError:
            return value
    return value


def zones(r: Request) -> list[dict[str, Any]]:
    if "zones" not in r.cache:
        r.cache["zones"] = listing(r, "listZones", "zone", available=True)
    return r.cache["zones"]  # type: ignore[no-any-return]


def zone_by_name(r: Request, name: str | None) -> dict[str, Any]:
    zs = zones(r)
    if not zs:
        raise EC2Error("InsufficientInstanceCapacity", "There is no zone to run in")
    if not name:
        return zs[0]
    for z in zs:
        if name in (z["name"], z["id"]):
            return z
    raise EC2Error("InvalidParameterValue", f"Invalid availability zone: [{name}]")


def tag_specs(p: dict[str, Any], kind: str) -> list[dict[str, str]]:
    out = []
    for spec in p.get("TagSpecifications") or []:
        if spec.get("ResourceType") in (kind, None):
            out += [{"key": t["Key"], "value": t.get("Value", "")} for t in spec.get("Tags", [])]
    return out


def create_tags(r: Request, resource_type: str, uuids: list[str], tags: list[dict[str, str]]) -> None:
    if tags and uuids:
        run(r, "createTags", resourceids=uuids, resourcetype=resource_type, tags=tags)


# ------------------------------------------------------------------------------------------------ regions, zones

@action("DescribeRegions")
def describe_regions(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    regions = [{"RegionName": r.region, "Endpoint": r.host, "OptInStatus": "opt-in-not-required"}]
    names = p.get("RegionNames")
    if names:
        regions = [x for x in regions if x["RegionName"] in names]
    return {"Regions": apply_filters(regions, p.get("Filters"), {"region-name": lambda x: x["RegionName"],
                                                                 "endpoint": lambda x: x["Endpoint"]})}


@action("DescribeAvailabilityZones")
def describe_zones(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    out = [{"ZoneName": z["name"], "ZoneId": z["id"], "State": "available", "RegionName": r.region,
            "ZoneType": "availability-zone", "OptInStatus": "opt-in-not-required", "Messages": [],
            "GroupName": r.region, "NetworkBorderGroup": r.region} for z in zones(r)]
    if p.get("ZoneNames"):
        out = [z for z in out if z["ZoneName"] in p["ZoneNames"]]
    if p.get("ZoneIds"):
        out = [z for z in out if z["ZoneId"] in p["ZoneIds"]]
    return {"AvailabilityZones": apply_filters(out, p.get("Filters"), {
        "zone-name": lambda z: z["ZoneName"], "zone-id": lambda z: z["ZoneId"], "state": lambda z: z["State"],
        "region-name": lambda z: z["RegionName"], "zone-type": lambda z: z["ZoneType"]})}


# ------------------------------------------------------------------------------------------------ images

def image_devices(size: int | None, snapshot_uuid: str | None) -> list[dict[str, Any]]:
    """An image's block device mapping: its root disk (size, and the snapshot CreateImage made it from)."""
    ebs: dict[str, Any] = {"DeleteOnTermination": True, "VolumeType": "standard", "Encrypted": False}
    if size:
        ebs["VolumeSize"] = max(1, -(-int(size) // GiB))
    if snapshot_uuid:
        ebs["SnapshotId"] = ids.to_ec2("snap", snapshot_uuid)
    return [{"DeviceName": ROOT_DEVICE, "Ebs": ebs}]


def image_of(r: Request, t: dict[str, Any], snapshot_uuid: str | None = None) -> dict[str, Any]:
    return {
        "ImageId": ids.to_ec2("ami", t["id"]), "ImageLocation": f"{t.get('account') or 'system'}/{t['name']}",
        "State": "available" if t.get("isready") else "pending", "OwnerId": r.owner_id if t.get("account")
        == r.caller.account_name else "amazon", "CreationDate": iso(parse_time(t.get("created"))) if t.get("created")
        else None, "Public": bool(t.get("ispublic")), "Architecture": "x86_64", "ImageType": "machine",
        "Name": t["name"], "Description": t.get("displaytext"), "RootDeviceType": "ebs",
        "RootDeviceName": ROOT_DEVICE, "VirtualizationType": "hvm", "Hypervisor": "xen",
        "BlockDeviceMappings": image_devices(t.get("size"), snapshot_uuid), "Tags": tagset(t.get("tags")),
        "PlatformDetails": "Linux/UNIX",
    }


def executable_templates(r: Request) -> list[dict[str, Any]]:
    """The templates the caller may launch (one row per template), as DescribeImages lists them."""
    if "templates" not in r.cache:
        seen: dict[str, dict[str, Any]] = {}
        for t in listing(r, "listTemplates", "template", templatefilter="executable"):
            seen.setdefault(t["id"], t)
        r.cache["templates"] = list(seen.values())
    return r.cache["templates"]  # type: ignore[no-any-return]


def images_of(r: Request, templates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from management.api.ec2 import views

    with r.db() as s:
        snaps = views.image_snapshots(s, [t["id"] for t in templates])
    return [image_of(r, t, snaps.get(t["id"])) for t in templates]


@action("DescribeImages")
def describe_images(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    images = images_of(r, executable_templates(r))
    if p.get("ImageIds"):
        want = p["ImageIds"]
        images = [i for i in images if i["ImageId"] in want]
        missing = set(want) - {i["ImageId"] for i in images}
        if missing:
            raise EC2Error("InvalidAMIID.NotFound", f"The image id '[{', '.join(sorted(missing))}]' does not exist")
    owners = p.get("Owners")
    if owners:
        images = [i for i in images if ("self" in owners and i["OwnerId"] == r.owner_id) or i["OwnerId"] in owners]
    images = apply_filters(images, p.get("Filters"), {
        "image-id": lambda i: i["ImageId"], "name": lambda i: i["Name"], "state": lambda i: i["State"],
        "owner-id": lambda i: i["OwnerId"], "is-public": lambda i: str(i["Public"]).lower(),
        "architecture": lambda i: i["Architecture"], "image-type": lambda i: i["ImageType"],
        "description": lambda i: i["Description"]})
    return {"Images": images}


# ------------------------------------------------------------------------------------------------ instances

def vm_extras(r: Request, vm_uuids: list[str]) -> dict[str, dict[str, Any]]:
    """Security groups (membership records) and network uuids of VMs, in one read."""
    out: dict[str, dict[str, Any]] = {u: {"groups": []} for u in vm_uuids}
    if not vm_uuids:
        return out
    try:
        from management.services.network.security_groups import groups_of
    except ImportError:  # pragma: no cover
        return out
    nat = {ip["virtualmachineid"]: ip["ipaddress"] for ip in listing(
        r, "listPublicIpAddresses", "publicipaddress", isstaticnat=True) if ip.get("virtualmachineid")}
    for u, ip in nat.items():
        if u in out:
            out[u]["public"] = ip
    with r.db() as s:
        idmap = dict(s.execute(select(VirtualMachine.id, VirtualMachine.uuid).where(
            VirtualMachine.uuid.in_(vm_uuids))).all()) if len(vm_uuids) <= 500 else dict(s.execute(select(
                VirtualMachine.id, VirtualMachine.uuid).where(VirtualMachine.account_id == r.caller.account_id)).all())
        for vm_id, groups in groups_of(s, list(idmap)).items():
            if idmap.get(vm_id) in out:
                out[idmap[vm_id]]["groups"] = [{"GroupId": ids.to_ec2("sg", g.uuid), "GroupName": g.name}
                                               for g in groups]
    return out


def instance_of(r: Request, v: dict[str, Any], extra: dict[str, Any] | None = None,
                state: tuple[int, str] | None = None) -> dict[str, Any]:
    code, name = state or STATES.get(v.get("state", ""), (0, "pending"))
    nics = v.get("nic") or []
    nic = next((n for n in nics if n.get("isdefault")), nics[0] if nics else {})
    private = nic.get("ipaddress")
    public = v.get("publicip") or (extra or {}).get("public")
    kp = v.get("keypair")
    groups = (extra or {}).get("groups") or [{"GroupId": ids.to_ec2("sg", u), "GroupName": n}
                                             for u, n in v.get("_groups", [])]
    subnet = ids.to_ec2("subnet", nic.get("networkid"))
    # Only what clients read: every element costs the client's XML parser time (1,000 instances per reply).
    return {
        "InstanceId": ids.to_ec2("i", v["id"]), "ImageId": ids.to_ec2("ami", v.get("templateid")),
        "State": {"Code": code, "Name": name},
        "PrivateDnsName": v.get("name") or "", "PublicDnsName": public or "",
        "KeyName": kp, "AmiLaunchIndex": 0, "InstanceType": v.get("serviceofferingname"),
        "LaunchTime": parse_time(v.get("created")),
        "Placement": {"AvailabilityZone": v.get("zonename"), "Tenancy": "default"},
        "Monitoring": {"State": "disabled"}, "PrivateIpAddress": private, "PublicIpAddress": public,
        "SubnetId": subnet, "VpcId": ids.to_ec2("vpc", nic.get("networkid")),
        "Architecture": "x86_64", "RootDeviceType": "ebs", "RootDeviceName": ROOT_DEVICE,
        "BlockDeviceMappings": instance_devices(v.get("_volumes") or []),
        "VirtualizationType": "hvm", "Hypervisor": "xen",
        "SecurityGroups": groups, "Tags": tagset(v.get("tags")),
    }


def instance_devices(volumes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An instance's block device mapping: its root and data volumes (views.volumes_of rows)."""
    return [{"DeviceName": device_name(v["deviceid"]),
             "Ebs": {"VolumeId": ids.to_ec2("vol", v["id"]), "Status": "attached", "AttachTime": v["attached"],
                     "DeleteOnTermination": v["type"] == "ROOT"}} for v in volumes]


INSTANCE_FILTERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "instance-id": lambda i: i["InstanceId"], "instance-state-name": lambda i: i["State"]["Name"],
    "instance-state-code": lambda i: str(i["State"]["Code"]), "image-id": lambda i: i["ImageId"],
    "key-name": lambda i: i["KeyName"], "instance-type": lambda i: i["InstanceType"],
    "availability-zone": lambda i: i["Placement"]["AvailabilityZone"],
    "private-ip-address": lambda i: i["PrivateIpAddress"], "ip-address": lambda i: i["PublicIpAddress"],
    "private-dns-name": lambda i: i["PrivateDnsName"], "dns-name": lambda i: i["PublicDnsName"],
    "reservation-id": lambda i: "r-" + i["InstanceId"][2:],
    "instance.group-id": lambda i: [g["GroupId"] for g in i["SecurityGroups"]],
    "group-id": lambda i: [g["GroupId"] for g in i["SecurityGroups"]],
    "instance.group-name": lambda i: [g["GroupName"] for g in i["SecurityGroups"]],
    "group-name": lambda i: [g["GroupName"] for g in i["SecurityGroups"]],
    "subnet-id": lambda i: i["SubnetId"], "vpc-id": lambda i: i["VpcId"],
    "architecture": lambda i: i["Architecture"],
}


def reservation(r: Request, instances: list[dict[str, Any]]) -> dict[str, Any]:
    return {"ReservationId": "r-" + instances[0]["InstanceId"][2:], "OwnerId": r.owner_id, "Groups": [],
            "Instances": instances}


def _terminated(r: Request, wanted: list[str]) -> list[dict[str, Any]]:
    """Instances asked for by id that are gone (expunged): reported terminated, as EC2 keeps them for a while."""
    out = []
    with r.db() as s:
        for iid in wanted:
            if not ids.well_formed("i", iid):
                continue
            row = s.execute(select(VirtualMachine.uuid, VirtualMachine.created).where(
                VirtualMachine.uuid.like(ids._pattern(iid[2:])), VirtualMachine.account_id == r.caller.account_id,
                VirtualMachine.vm_type == "User")).first()
            if row is not None:
                out.append(instance_of(r, {"id": row[0], "created": row[1]}, state=(48, "terminated")))
    return out


def instance_rows(r: Request) -> list[dict[str, Any]]:
    """The caller's VMs for DescribeInstances (a lean read with listVirtualMachines' visibility; see views)."""
    from management.api.ec2 import views

    with r.db() as s:
        return views.vm_rows(s, r.caller)


@action("DescribeInstances")
def describe_instances(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    wanted = p.get("InstanceIds") or []
    if wanted and p.get("MaxResults") is not None:
        raise EC2Error("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter "
                                                      "maxResults")
    items = [instance_of(r, v) for v in instance_rows(r)]
    if wanted:
        by_id = {i["InstanceId"]: i for i in items}
        missing = [w for w in wanted if w not in by_id]
        gone = _terminated(r, missing) if missing else []
        found = {g["InstanceId"] for g in gone}
        still = [m for m in missing if m not in found]
        if still:
            raise EC2Error("InvalidInstanceID.NotFound", f"The instance ID '{', '.join(still)}' does not exist")
        items = [by_id[w] for w in wanted if w in by_id] + gone
    items = apply_filters(items, p.get("Filters"), INSTANCE_FILTERS)
    chunk, token = page(items, p)
    return {"Reservations": [reservation(r, [i]) for i in chunk], "NextToken": token}


def offering_for(r: Request, type_name: str) -> str:
    with r.db() as s:
        rows = dict(s.execute(select(ServiceOffering.name, ServiceOffering.uuid).where(
            ServiceOffering.removed.is_(None), ServiceOffering.is_system.is_(False))).all())
    name = type_name if type_name in rows else TYPE_MAP.get(type_name)
    if name is None or name not in rows:
        raise EC2Error("InvalidParameterValue", f"Invalid value '{type_name}' for InstanceType.")
    return rows[name]


def group_uuids(r: Request, p: dict[str, Any]) -> list[str]:
    out = [resolve(r, SecurityGroup, "sg", g, "InvalidGroup.NotFound", "security group")
           for g in p.get("SecurityGroupIds") or []]
    for name in p.get("SecurityGroups") or []:
        with r.db() as s:
            u = s.scalar(select(SecurityGroup.uuid).where(SecurityGroup.account_id == r.caller.account_id,
                                                          SecurityGroup.name == name,
                                                          SecurityGroup.removed.is_(None)))
        if u is None:
            raise EC2Error("InvalidGroup.NotFound", f"The security group '{name}' does not exist")
        out.append(u)
    return out


def _join_groups(r: Request, vm_uuids: list[str], sg_uuids: list[str]) -> None:
    """Records membership where the zone has no security groups (CloudStack's deploy refuses groups there); no
    groups means the account's `default` group, where EC2 puts an instance launched without any."""
    from management.models.identity import Account
    from management.services.network import security_groups as sgs

    with r.db(write=True) as s:
        if sg_uuids:
            groups = list(s.scalars(select(SecurityGroup).where(SecurityGroup.uuid.in_(sg_uuids))))
        else:
            groups = [sgs.default_group(s, s.get_one(Account, r.caller.account_id))]
        for vm in s.scalars(select(VirtualMachine).where(VirtualMachine.uuid.in_(vm_uuids))):
            sgs.join(s, vm, groups)


@action("RunInstances")
def run_instances(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    from management.api.ec2 import tokens

    token = p.get("ClientToken")
    if not token:
        return _launch(r, p, None)
    earlier = tokens.claim(r, token, tokens.request_hash(p))
    if earlier is not None:
        return _reservation_again(r, earlier, token)
    try:
        return _launch(r, p, token)
    finally:
        tokens.release(r, token)  # when nothing was launched: a retry launches again


def _reservation_again(r: Request, uuids: list[str], token: str) -> dict[str, Any]:
    """The reservation an earlier RunInstances with this client token launched, as its instances are now."""
    rows = {v["id"]: v for v in instance_rows(r)}
    instances = []
    for n, u in enumerate(uuids):
        v = rows.get(u)
        if v is None or STATES.get(v.get("state", ""), (0, ""))[1] in ("terminated", "shutting-down"):
            raise EC2Error("IdempotentInstanceTerminated", "The client token you have provided is associated with a "
                                                           "terminated instance. Please use a different client "
                                                           "token.")
        inst = instance_of(r, v)
        inst["AmiLaunchIndex"] = n
        inst["ClientToken"] = token
        instances.append(inst)
    res = reservation(r, instances)
    res["Groups"] = instances[0]["SecurityGroups"]
    return res


def _launch(r: Request, p: dict[str, Any], token: str | None) -> dict[str, Any]:
    """Deploys the instances; the client token (claimed by the caller) records them once they exist."""
    from management.api.ec2 import tokens

    lo, hi = p["MinCount"], p["MaxCount"]
    if lo < 1 or hi < lo:
        raise EC2Error("InvalidParameterValue", "MinCount must be at least 1 and MaxCount at least MinCount")
    if not p.get("ImageId"):
        raise EC2Error("MissingParameter", "The request must contain the parameter ImageId")
    tmpl = resolve(r, Template, "ami", p["ImageId"], "InvalidAMIID.NotFound", "image", owned=False)
    offering = offering_for(r, p.get("InstanceType") or DEFAULT_TYPE)
    zone = zone_by_name(r, (p.get("Placement") or {}).get("AvailabilityZone"))
    key = p.get("KeyName")
    if key:
        with r.db() as s:
            if s.scalar(select(SSHKeyPair.id).where(SSHKeyPair.account_id == r.caller.account_id,
                                                    SSHKeyPair.name == key)) is None:
                raise EC2Error("InvalidKeyPair.NotFound", f"The key pair '{key}' does not exist")
    groups = group_uuids(r, p)
    sg_zone = bool(zone.get("securitygroupsenabled"))
    params: dict[str, Any] = {"serviceofferingid": offering, "templateid": tmpl, "zoneid": zone["id"],
                              "keypair": key, "userdata": p.get("UserData") or None}
    if sg_zone and groups:
        params["securitygroupids"] = groups
    if p.get("SubnetId"):
        from management.models.network import Network

        params["networkids"] = [resolve(r, Network, "subnet", p["SubnetId"], "InvalidSubnetID.NotFound", "subnet")]
    if p.get("PrivateIpAddress"):
        params["ipaddress"] = p["PrivateIpAddress"]
    tags = tag_specs(p, "instance")
    name_tag = next((t["value"] for t in tags if t["key"] == "Name"), None)
    if name_tag:
        params["displayname"] = name_tag
    created: list[str] = []
    for _ in range(hi):
        try:
            body = r.inv.call("deployVirtualMachine", **params)
        except CloudError as err:
            if len(created) >= lo and err.code in (533, 534, 535):
                break
            if created:
                for u in created:  # all or nothing below MinCount, like EC2
                    with _quiet():
                        r.inv.call("destroyVirtualMachine", id=u, expunge=True)
            raise cs_error(err, "InvalidParameterValue") from None
        created.append(body["id"])
    if token:
        tokens.record(r, token, created)  # a retry from here on gets these instances, whatever fails below
    if not sg_zone:
        # EC2 puts an instance launched without groups into the account's `default` group; CloudStack does that
        # itself in zones with security groups. Here the membership is recorded (its ingress rules become firewall
        # rules on the instance's static NAT address, see firewall_sync).
        _join_groups(r, created, groups)
    create_tags(r, "UserVm", created, tags)
    vms = {v["id"]: v for v in listing(r, "listVirtualMachines", "virtualmachine", ids=created)}
    extras = vm_extras(r, created)
    from management.api.ec2 import views

    with r.db() as s:
        volumes = views.volumes_of(s, select(VirtualMachine.id).where(VirtualMachine.uuid.in_(created)))
    instances = []
    for n, u in enumerate(created):
        v = dict(vms.get(u, {"id": u, "templateid": tmpl}), _volumes=volumes.get(u, []))
        inst = instance_of(r, v, extras.get(u), state=(0, "pending"))
        inst["AmiLaunchIndex"] = n
        inst["ClientToken"] = p.get("ClientToken") or ""
        instances.append(inst)
    res = reservation(r, instances)
    res["Groups"] = instances[0]["SecurityGroups"] if instances else []
    return res


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> bool:
        return True


def _vm_states(r: Request, uuids: list[str]) -> dict[str, str]:
    from management.api.ec2 import views

    with r.db() as s:
        out = dict(s.execute(select(VirtualMachine.uuid, VirtualMachine.state).where(
            VirtualMachine.uuid.in_(uuids))).all())
        out.update(views.in_flight(s, uuids))
        return out


def _instances(r: Request, p: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for iid in p.get("InstanceIds") or []:
        out.append((iid, resolve(r, VirtualMachine, "i", iid, "InvalidInstanceID.NotFound", "instance")))
    if not out:
        raise EC2Error("MissingParameter", "The request must contain the parameter InstanceId")
    return out


def _transition(r: Request, p: dict[str, Any], command: str, target: tuple[int, str], ok_from: set[str],
                noop: set[str], **extra: Any) -> dict[str, Any]:
    pairs = _instances(r, p)
    states = _vm_states(r, [u for _, u in pairs])
    changes = []
    for iid, u in pairs:
        cur = states.get(u, "Expunged")
        prev = STATES.get(cur, (0, "pending"))
        if cur in noop:
            changes.append({"InstanceId": iid, "PreviousState": {"Code": prev[0], "Name": prev[1]},
                            "CurrentState": {"Code": prev[0], "Name": prev[1]}})
            continue
        if cur not in ok_from:
            raise EC2Error("IncorrectInstanceState", f"The instance '{iid}' is not in a state from which it can be "
                                                     f"{command.replace('VirtualMachine', '').lower()}ed.")
        run(r, command, wait=False, notfound="InvalidInstanceID.NotFound", what="instance", id=u, **extra)
        changes.append({"InstanceId": iid, "PreviousState": {"Code": prev[0], "Name": prev[1]},
                        "CurrentState": {"Code": target[0], "Name": target[1]}})
    return {"StartingInstances": changes, "StoppingInstances": changes, "TerminatingInstances": changes}


@action("StartInstances")
def start_instances(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    out = _transition(r, p, "startVirtualMachine", (0, "pending"), {"Stopped"}, {"Running", "Starting"})
    return {"StartingInstances": out["StartingInstances"]}


@action("StopInstances")
def stop_instances(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    out = _transition(r, p, "stopVirtualMachine", (64, "stopping"), {"Running", "Starting"},
                      {"Stopped", "Stopping"}, forced=bool(p.get("Force")) or None)
    return {"StoppingInstances": out["StoppingInstances"]}


@action("TerminateInstances")
def terminate_instances(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    out = _transition(r, p, "destroyVirtualMachine", (32, "shutting-down"),
                      {"Running", "Stopped", "Starting", "Stopping", "Error", "Allocated", "Destroyed", "Shutdown"},
                      {"Expunging", "Expunged"}, expunge=True)
    # the addresses pointing at these instances are released from them (static NAT off), as EC2 does
    return {"TerminatingInstances": out["TerminatingInstances"]}


@action("RebootInstances")
def reboot_instances(r: Request, p: dict[str, Any]) -> None:
    _transition(r, p, "rebootVirtualMachine", (16, "running"), {"Running"}, set())
    return None


# ------------------------------------------------------------------------------------------------ key pairs

def _key_item(k: dict[str, Any], material: bool = False) -> dict[str, Any]:
    out = {"KeyPairId": ids.to_ec2("key", k["id"]), "KeyName": k["name"], "KeyFingerprint": k.get("fingerprint"),
           "KeyType": "rsa", "Tags": []}
    if material:
        out["KeyMaterial"] = k.get("privatekey")
    return out


def _key_exists(r: Request, name: str) -> bool:
    with r.db() as s:
        return s.scalar(select(SSHKeyPair.id).where(SSHKeyPair.account_id == r.caller.account_id,
                                                    SSHKeyPair.name == name)) is not None


@action("CreateKeyPair")
def create_key_pair(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    if (p.get("KeyType") or "rsa") != "rsa" or (p.get("KeyFormat") or "pem") != "pem":
        raise EC2Error("InvalidParameterValue", "Only rsa keys in pem format are supported")
    if _key_exists(r, p["KeyName"]):
        raise EC2Error("InvalidKeyPair.Duplicate", f"The keypair '{p['KeyName']}' already exists.")
    k = run(r, "createSSHKeyPair", name=p["KeyName"])["keypair"]
    return _key_item(k, material=True)


@action("ImportKeyPair")
def import_key_pair(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    material = p["PublicKeyMaterial"]
    if not material:
        raise EC2Error("MissingParameter", "The request must contain the parameter PublicKeyMaterial")
    if _key_exists(r, p["KeyName"]):
        raise EC2Error("InvalidKeyPair.Duplicate", f"The keypair '{p['KeyName']}' already exists.")
    text = material.decode("utf-8", "replace") if isinstance(material, bytes) else str(material)
    if not text.startswith(("ssh-", "ecdsa-")):  # some clients base64 the OpenSSH line twice
        with contextlib.suppress(ValueError):
            text = base64.b64decode(text).decode()
    k = run(r, "registerSSHKeyPair", name=p["KeyName"], publickey=text.strip())["keypair"]
    out = _key_item(k)
    out.pop("KeyType")
    return out


@action("DescribeKeyPairs")
def describe_key_pairs(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    keys = [_key_item(k) for k in listing(r, "listSSHKeyPairs", "sshkeypair")]
    if p.get("IncludePublicKey"):
        pubs = {k["name"]: k.get("publickey") for k in listing(r, "listSSHKeyPairs", "sshkeypair")}
        for k in keys:
            k["PublicKey"] = pubs.get(k["KeyName"])
    for field_name, param in (("KeyName", "KeyNames"), ("KeyPairId", "KeyPairIds")):
        want = p.get(param)
        if want:
            have = {k[field_name] for k in keys}
            missing = [w for w in want if w not in have]
            if missing:
                raise EC2Error("InvalidKeyPair.NotFound", f"The key pair '{missing[0]}' does not exist")
            keys = [k for k in keys if k[field_name] in want]
    keys = apply_filters(keys, p.get("Filters"), {"key-name": lambda k: k["KeyName"],
                                                  "fingerprint": lambda k: k["KeyFingerprint"],
                                                  "key-pair-id": lambda k: k["KeyPairId"]})
    return {"KeyPairs": keys}


@action("DeleteKeyPair")
def delete_key_pair(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    name = p.get("KeyName")
    kid = p.get("KeyPairId")
    if not name and kid:
        with r.db() as s:
            u = ids.to_uuid(s, SSHKeyPair, "key", kid, SSHKeyPair.account_id == r.caller.account_id)
            name = s.scalar(select(SSHKeyPair.name).where(SSHKeyPair.uuid == u)) if u else None
        if name is None:
            raise EC2Error("InvalidKeyPair.NotFound", f"The key pair '{kid}' does not exist")
    if not name:
        raise EC2Error("MissingParameter", "The request must contain the parameter KeyName or KeyPairId")
    if _key_exists(r, name):  # deleting a missing key pair succeeds, as on EC2
        run(r, "deleteSSHKeyPair", name=name)
    return {"Return": True, "KeyPairId": kid}


# ------------------------------------------------------------------------------------------------ security groups

def _proto_ec2(proto: str | None) -> str:
    proto = (proto or "all").lower()
    return "-1" if proto == "all" else proto


def _proto_cs(proto: str | None) -> str:
    proto = str(proto or "-1").lower()
    return {"-1": "all", "6": "tcp", "17": "udp", "1": "icmp"}.get(proto, proto)


def _permissions(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    grouped: dict[tuple[Any, ...], dict[str, Any]] = {}
    for rule in rules:
        proto = _proto_ec2(rule.get("protocol"))
        if proto == "icmp":
            lo, hi = rule.get("icmptype"), rule.get("icmpcode")
        else:
            lo, hi = rule.get("startport"), rule.get("endport")
        k = (proto, lo, hi)
        perm = grouped.setdefault(k, {"IpProtocol": proto, "FromPort": lo if proto != "-1" else None,
                                      "ToPort": hi if proto != "-1" else None, "IpRanges": [],
                                      "UserIdGroupPairs": [], "Ipv6Ranges": [], "PrefixListIds": []})
        if rule.get("cidr"):
            perm["IpRanges"].append({"CidrIp": rule["cidr"]})
        if rule.get("securitygroupname"):
            perm["UserIdGroupPairs"].append({"GroupName": rule["securitygroupname"]})
    return list(grouped.values())


def _group_item(r: Request, g: dict[str, Any]) -> dict[str, Any]:
    return {"OwnerId": r.owner_id, "GroupName": g["name"], "GroupId": ids.to_ec2("sg", g["id"]),
            "Description": g.get("description") or "", "IpPermissions": _permissions(g.get("ingressrule") or []),
            "IpPermissionsEgress": _permissions(g.get("egressrule") or []), "Tags": tagset(g.get("tags")),
            "SecurityGroupArn": f"arn:aws:ec2:{r.region}:{r.owner_id}:security-group/{ids.to_ec2('sg', g['id'])}"}


def _groups(r: Request) -> list[dict[str, Any]]:
    return listing(r, "listSecurityGroups", "securitygroup")


@action("CreateSecurityGroup")
def create_security_group(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    name = p["GroupName"]
    with r.db() as s:
        if s.scalar(select(SecurityGroup.id).where(SecurityGroup.account_id == r.caller.account_id,
                                                   SecurityGroup.name == name,
                                                   SecurityGroup.removed.is_(None))) is not None:
            raise EC2Error("InvalidGroup.Duplicate", f"The security group '{name}' already exists")
    g = run(r, "createSecurityGroup", name=name, description=p.get("Description"))["securitygroup"]
    tags = tag_specs(p, "security-group")
    return {"GroupId": ids.to_ec2("sg", g["id"]), "Tags": [{"Key": t["key"], "Value": t["value"]} for t in tags],
            "SecurityGroupArn": f"arn:aws:ec2:{r.region}:{r.owner_id}:security-group/{ids.to_ec2('sg', g['id'])}"}


def _one_group(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    groups = _groups(r)
    if p.get("GroupId"):
        gid = p["GroupId"]
        found = [g for g in groups if ids.to_ec2("sg", g["id"]) == gid or g["id"] == gid]
        if not found:
            raise EC2Error("InvalidGroup.NotFound", f"The security group '{gid}' does not exist")
    elif p.get("GroupName"):
        found = [g for g in groups if g["name"] == p["GroupName"]]
        if not found:
            raise EC2Error("InvalidGroup.NotFound", f"The security group '{p['GroupName']}' does not exist")
    else:
        raise EC2Error("MissingParameter", "The request must contain the parameter GroupId or GroupName")
    return found[0]


@action("DescribeSecurityGroups")
def describe_security_groups(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    items = [_group_item(r, g) for g in _groups(r)]
    for key, param in (("GroupId", "GroupIds"), ("GroupName", "GroupNames")):
        want = p.get(param)
        if want:
            have = {i[key] for i in items}
            missing = [w for w in want if w not in have]
            if missing:
                raise EC2Error("InvalidGroup.NotFound", f"The security group '{missing[0]}' does not exist")
            items = [i for i in items if i[key] in want]
    items = apply_filters(items, p.get("Filters"), {
        "group-id": lambda g: g["GroupId"], "group-name": lambda g: g["GroupName"],
        "description": lambda g: g["Description"], "owner-id": lambda g: g["OwnerId"]})
    chunk, token = page(items, p)
    return {"SecurityGroups": chunk, "NextToken": token}


def _perms_in(p: dict[str, Any]) -> list[dict[str, Any]]:
    perms = list(p.get("IpPermissions") or [])
    if p.get("IpProtocol") or p.get("CidrIp"):  # the legacy flat form
        perms.append({"IpProtocol": p.get("IpProtocol") or "-1", "FromPort": p.get("FromPort"),
                      "ToPort": p.get("ToPort"), "IpRanges": [{"CidrIp": p.get("CidrIp") or "0.0.0.0/0"}]})
    if not perms:
        raise EC2Error("MissingParameter", "The request must contain the parameter IpPermissions")
    out = []
    for perm in perms:
        if perm.get("UserIdGroupPairs") and not perm.get("IpRanges"):
            raise EC2Error("InvalidParameterValue", "Only CIDR ranges (IpRanges) are supported")
        proto = _proto_cs(perm.get("IpProtocol"))
        lo, hi = perm.get("FromPort"), perm.get("ToPort")
        if proto in ("tcp", "udp") and (lo is None or hi is None):
            raise EC2Error("InvalidParameterValue", "FromPort and ToPort are required for tcp and udp")
        for rng in perm.get("IpRanges") or []:
            out.append({"protocol": proto, "lo": lo, "hi": hi, "cidr": rng.get("CidrIp")})
    return out


def _rule_matches(rule: dict[str, Any], want: dict[str, Any]) -> bool:
    proto = _proto_cs(rule.get("protocol"))
    if proto != want["protocol"] or rule.get("cidr") != want["cidr"]:
        return False
    if proto == "icmp":
        return (rule.get("icmptype"), rule.get("icmpcode")) == (want["lo"], want["hi"])
    if proto == "all":
        return True
    return (rule.get("startport"), rule.get("endport")) == (want["lo"], want["hi"])


def _authorize(r: Request, p: dict[str, Any], kind: str) -> dict[str, Any]:
    g = _one_group(r, p)
    existing = g.get(f"{kind}rule") or []
    wanted = _perms_in(p)
    for w in wanted:
        if any(_rule_matches(x, w) for x in existing):
            raise EC2Error("InvalidPermission.Duplicate", "the specified rule already exists")
    command = "authorizeSecurityGroupIngress" if kind == "ingress" else "authorizeSecurityGroupEgress"
    for w in wanted:
        extra = ({"icmptype": w["lo"], "icmpcode": w["hi"]} if w["protocol"] == "icmp"
                 else {"startport": w["lo"], "endport": w["hi"]} if w["protocol"] != "all" else {})
        run(r, command, securitygroupid=g["id"], protocol=w["protocol"], cidrlist=[w["cidr"]], **extra)
    if kind == "ingress":
        firewall_sync(r, group_uuid=g["id"])
    return {"Return": True, "SecurityGroupRules": []}


def _revoke(r: Request, p: dict[str, Any], kind: str) -> dict[str, Any]:
    g = _one_group(r, p)
    existing = g.get(f"{kind}rule") or []
    command = "revokeSecurityGroupIngress" if kind == "ingress" else "revokeSecurityGroupEgress"
    for w in _perms_in(p):
        hits = [x for x in existing if _rule_matches(x, w)]
        if not hits:
            raise EC2Error("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
        for x in hits:
            run(r, command, id=x["ruleid"])
    if kind == "ingress":
        firewall_sync(r, group_uuid=g["id"])
    return {"Return": True}


@action("AuthorizeSecurityGroupIngress")
def authorize_ingress(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    return _authorize(r, p, "ingress")


@action("AuthorizeSecurityGroupEgress")
def authorize_egress(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    return _authorize(r, p, "egress")


@action("RevokeSecurityGroupIngress")
def revoke_ingress(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    return _revoke(r, p, "ingress")


@action("RevokeSecurityGroupEgress")
def revoke_egress(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    return _revoke(r, p, "egress")


@action("DeleteSecurityGroup")
def delete_security_group(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    g = _one_group(r, p)
    try:
        r.inv.run("deleteSecurityGroup", id=g["id"])
    except CloudError as err:
        if err.code == 536:
            raise EC2Error("DependencyViolation", f"resource {ids.to_ec2('sg', g['id'])} has a dependent "
                                                  "object") from None
        if "default" in err.text.lower():
            raise EC2Error("CannotDelete", "the default security group cannot be deleted") from None
        raise cs_error(err) from None
    return {"Return": True, "GroupId": ids.to_ec2("sg", g["id"])}


# ---- security group ingress -> firewall rules on static NAT addresses (zones without security groups)

def firewall_sync(r: Request, *, group_uuid: str | None = None, ip_uuid: str | None = None) -> None:
    """Makes the firewall rules of static NAT addresses match the ingress rules of their instance's groups.

    Only addresses we manage this way are touched: the rules are derived, so the set is recomputed (missing ones
    created, stale ones deleted). Zones with security groups enforce the groups themselves: nothing to do there.
    """
    from management.models.rules import SecurityGroupVmMap

    with r.db() as s:
        stmt = select(PublicIpAddress.uuid, PublicIpAddress.vm_id).join(Zone, Zone.id == PublicIpAddress.zone_id) \
            .where(PublicIpAddress.one_to_one_nat.is_(True), PublicIpAddress.account_id == r.caller.account_id,
                   PublicIpAddress.removed.is_(None), Zone.security_groups_enabled.is_(False))
        if ip_uuid:
            stmt = stmt.where(PublicIpAddress.uuid == ip_uuid)
        targets = list(s.execute(stmt).all())
        plan: list[tuple[str, list[str]]] = []
        for ipu, vm_id in targets:
            gids = list(s.scalars(select(SecurityGroup.uuid).join(
                SecurityGroupVmMap, SecurityGroupVmMap.security_group_id == SecurityGroup.id).where(
                SecurityGroupVmMap.vm_id == vm_id)))
            if group_uuid and group_uuid not in gids:
                continue
            plan.append((ipu, gids))
    if not plan:
        return
    groups = {g["id"]: g for g in _groups(r)}
    for ipu, gids in plan:
        want = []
        for gid in gids:
            for rule in (groups.get(gid) or {}).get("ingressrule") or []:
                want.append((_proto_cs(rule.get("protocol")), rule.get("startport"), rule.get("endport"),
                             rule.get("icmptype"), rule.get("icmpcode"), rule.get("cidr") or "0.0.0.0/0"))
        have = listing(r, "listFirewallRules", "firewallrule", ipaddressid=ipu)
        have_keys = {}
        for f in have:
            k = (_proto_cs(f.get("protocol")), f.get("startport"), f.get("endport"), f.get("icmptype"),
                 f.get("icmpcode"), f.get("cidrlist") or "0.0.0.0/0")
            have_keys[k] = f["id"]
        for k in dict.fromkeys(want):
            if k in have_keys:
                continue
            proto, lo, hi, it, ic, cidr = k
            extra = ({"icmptype": it, "icmpcode": ic} if proto == "icmp"
                     else {"startport": lo, "endport": hi} if proto in ("tcp", "udp") else {})
            try:
                r.inv.run("createFirewallRule", ipaddressid=ipu, protocol=proto, cidrlist=[cidr], **extra)
            except CloudError as err:
                if err.code != 537:
                    raise cs_error(err) from None
        for k, rid in have_keys.items():
            if k not in want:
                run(r, "deleteFirewallRule", id=rid)


# ------------------------------------------------------------------------------------------------ volumes

VOLUME_STATUS = {"Allocated": "available", "Ready": "available", "Creating": "creating", "Allocating": "creating",
                 "Uploaded": "available", "Migrating": "in-use", "Snapshotting": "in-use", "Resizing": "in-use",
                 "Destroy": "deleting", "Expunging": "deleting", "Expunged": "deleted", "Error": "error"}


def volume_of(r: Request, v: dict[str, Any]) -> dict[str, Any]:
    status = VOLUME_STATUS.get(v.get("state", ""), "available")
    attached = v.get("virtualmachineid")
    if attached and status == "available":
        status = "in-use"
    att = []
    if attached:
        att = [{"VolumeId": ids.to_ec2("vol", v["id"]), "InstanceId": ids.to_ec2("i", attached),
                "Device": _device(v), "State": "attached", "AttachTime": parse_time(v.get("attached") or
                                                                                   v.get("created")),
                "DeleteOnTermination": v.get("type") == "ROOT"}]
    return {"VolumeId": ids.to_ec2("vol", v["id"]), "Size": int((v.get("size") or 0) // GiB),
            "SnapshotId": "", "AvailabilityZone": v.get("zonename"), "State": status,
            "CreateTime": parse_time(v.get("created")), "Attachments": att, "VolumeType": "standard",
            "Encrypted": False, "MultiAttachEnabled": False, "Tags": tagset(v.get("tags"))}


def _device(v: dict[str, Any]) -> str:
    return device_name(v.get("deviceid"))


def device_name(dev: Any) -> str:
    """The guest device of a CloudStack device id (0 = the root disk)."""
    try:
        return "/dev/vd" + chr(ord("a") + int(dev))
    except (TypeError, ValueError):
        return ROOT_DEVICE


def _disk_offering(r: Request, size_gib: int | None) -> tuple[str, int | None]:
    with r.db() as s:
        rows = list(s.execute(select(DiskOffering.uuid, DiskOffering.disk_size, DiskOffering.customized).where(
            DiskOffering.removed.is_(None))).all())
    if size_gib is not None:
        for u, size, custom in rows:
            if not custom and size == size_gib * GiB:
                return u, None
        for u, _size, custom in rows:
            if custom:
                return u, size_gib
        raise EC2Error("InvalidParameterValue", f"No disk offering for a volume of {size_gib} GiB")
    for u, _size, custom in rows:
        if not custom:
            return u, None
    raise EC2Error("InvalidParameterValue", "The request must contain the parameter Size")


@action("CreateVolume")
def create_volume(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    zone = zone_by_name(r, p.get("AvailabilityZone"))
    params: dict[str, Any] = {"zoneid": zone["id"]}
    if p.get("SnapshotId"):
        params["snapshotid"] = resolve(r, Snapshot, "snap", p["SnapshotId"], "InvalidSnapshot.NotFound", "snapshot")
    if p.get("Size") is not None or not p.get("SnapshotId"):
        if p.get("Size") is None:
            raise EC2Error("MissingParameter", "The request must contain the parameter size/snapshot")
        params["diskofferingid"], params["size"] = _disk_offering(r, p["Size"])
    body = run(r, "createVolume", wait=False, **params)
    u = body["id"]
    create_tags(r, "Volume", [u], tag_specs(p, "volume"))
    vols = listing(r, "listVolumes", "volume", id=u)
    out = volume_of(r, vols[0]) if vols else {"VolumeId": ids.to_ec2("vol", u)}
    out["State"] = "creating"
    out.pop("Attachments", None)
    if p.get("Size") is not None:
        out["Size"] = p["Size"]
    out["SnapshotId"] = p.get("SnapshotId") or ""
    out["AvailabilityZone"] = zone["name"]
    return out


def _volume_ids(r: Request, vid: str) -> str:
    return resolve(r, Volume, "vol", vid, "InvalidVolume.NotFound", "volume")


@action("AttachVolume")
def attach_volume(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    vu = _volume_ids(r, p["VolumeId"])
    iu = resolve(r, VirtualMachine, "i", p["InstanceId"], "InvalidInstanceID.NotFound", "instance")
    vols = listing(r, "listVolumes", "volume", id=vu)
    if vols and vols[0].get("virtualmachineid"):
        raise EC2Error("VolumeInUse", f"{p['VolumeId']} is already attached to an instance")
    run(r, "attachVolume", wait=False, id=vu, virtualmachineid=iu)
    return {"VolumeId": p["VolumeId"], "InstanceId": p["InstanceId"], "Device": p["Device"], "State": "attaching",
            "AttachTime": dt.datetime.now(dt.UTC), "DeleteOnTermination": False}


@action("DetachVolume")
def detach_volume(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    vu = _volume_ids(r, p["VolumeId"])
    vols = listing(r, "listVolumes", "volume", id=vu)
    if not vols or not vols[0].get("virtualmachineid"):
        raise EC2Error("IncorrectState", f"Volume '{p['VolumeId']}' is in the 'available' state.")
    if vols[0].get("type") == "ROOT":
        raise EC2Error("OperationNotPermitted", "The root volume cannot be detached")
    v = vols[0]
    run(r, "detachVolume", wait=False, id=vu)
    return {"VolumeId": p["VolumeId"], "InstanceId": ids.to_ec2("i", v["virtualmachineid"]), "Device": _device(v),
            "State": "detaching", "AttachTime": parse_time(v.get("attached") or v.get("created")),
            "DeleteOnTermination": False}


VOLUME_FILTERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "volume-id": lambda v: v["VolumeId"], "status": lambda v: v["State"], "size": lambda v: str(v["Size"]),
    "availability-zone": lambda v: v["AvailabilityZone"], "volume-type": lambda v: v["VolumeType"],
    "attachment.instance-id": lambda v: [a["InstanceId"] for a in v["Attachments"]],
    "attachment.status": lambda v: [a["State"] for a in v["Attachments"]],
    "attachment.device": lambda v: [a["Device"] for a in v["Attachments"]],
}


@action("DescribeVolumes")
def describe_volumes(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    items = [volume_of(r, v) for v in listing(r, "listVolumes", "volume")]
    want = p.get("VolumeIds")
    if want:
        have = {i["VolumeId"] for i in items}
        missing = [w for w in want if w not in have]
        if missing:
            raise EC2Error("InvalidVolume.NotFound", f"The volume '{missing[0]}' does not exist.")
        items = [i for i in items if i["VolumeId"] in want]
    items = apply_filters(items, p.get("Filters"), VOLUME_FILTERS)
    chunk, token = page(items, p)
    return {"Volumes": chunk, "NextToken": token}


@action("DeleteVolume")
def delete_volume(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    vu = _volume_ids(r, p["VolumeId"])
    vols = listing(r, "listVolumes", "volume", id=vu)
    if vols and vols[0].get("virtualmachineid"):
        raise EC2Error("VolumeInUse", f"Volume {p['VolumeId']} is currently attached to "
                                      f"{ids.to_ec2('i', vols[0]['virtualmachineid'])}")
    run(r, "deleteVolume", id=vu)
    return {"Return": True}


# ------------------------------------------------------------------------------------------------ snapshots

SNAP_STATUS = {"BackedUp": "completed", "Error": "error", "Destroyed": "completed"}


def snapshot_of(r: Request, s: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    status = SNAP_STATUS.get(s.get("state", ""), "pending")
    return {"SnapshotId": ids.to_ec2("snap", s["id"]), "VolumeId": ids.to_ec2("vol", s.get("volumeid")),
            "State": status, "StartTime": parse_time(s.get("created")), "Progress": "100%" if status == "completed"
            else "0%", "OwnerId": r.owner_id, "Description": description if description is not None
            else s.get("name") or "", "VolumeSize": int((s.get("virtualsize") or 0) // GiB),
            "Encrypted": False, "Tags": tagset(s.get("tags")), "StorageTier": "standard"}


def _on_primary(r: Request, vol_uuid: str) -> None:
    """A data volume CreateVolume made has no disk until its first attach (CloudStack's way), and CloudStack
    snapshots only Ready volumes; an EBS volume is snapshottable from the start: create its (empty) disk now."""
    from management.services.storage import volumes as volume_service

    with r.db() as s:
        row = s.execute(select(Volume.id, Volume.state, Volume.volume_type).where(Volume.uuid == vol_uuid)).first()
    if row is None or row[1] != "Allocated" or row[2] != "DATADISK":
        return
    try:
        volume_service.create_on_primary(r.inv.runtime, row[0])
    except CloudError as err:
        raise cs_error(err) from None


@action("CreateSnapshot")
def create_snapshot(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    vu = _volume_ids(r, p["VolumeId"])
    _on_primary(r, vu)
    body = run(r, "createSnapshot", wait=False, volumeid=vu)
    u = body["id"]
    create_tags(r, "Snapshot", [u], tag_specs(p, "snapshot"))
    snaps = listing(r, "listSnapshots", "snapshot", id=u)
    out = snapshot_of(r, snaps[0] if snaps else {"id": u, "volumeid": vu}, p.get("Description"))
    out["State"] = "pending"
    return out


@action("DescribeSnapshots")
def describe_snapshots(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    items = [snapshot_of(r, s) for s in listing(r, "listSnapshots", "snapshot")]
    want = p.get("SnapshotIds")
    if want:
        have = {i["SnapshotId"] for i in items}
        missing = [w for w in want if w not in have]
        if missing:
            raise EC2Error("InvalidSnapshot.NotFound", f"The snapshot '{missing[0]}' does not exist.")
        items = [i for i in items if i["SnapshotId"] in want]
    items = apply_filters(items, p.get("Filters"), {
        "snapshot-id": lambda s: s["SnapshotId"], "volume-id": lambda s: s["VolumeId"],
        "status": lambda s: s["State"], "owner-id": lambda s: s["OwnerId"]})
    chunk, token = page(items, p)
    return {"Snapshots": chunk, "NextToken": token}


@action("DeleteSnapshot")
def delete_snapshot(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    su = resolve(r, Snapshot, "snap", p["SnapshotId"], "InvalidSnapshot.NotFound", "snapshot")
    run(r, "deleteSnapshot", id=su)
    return {"Return": True}


# ------------------------------------------------------------------------------------------------ addresses

def address_of(r: Request, ip: dict[str, Any]) -> dict[str, Any]:
    vm = ip.get("virtualmachineid") if ip.get("isstaticnat") else None
    return {"PublicIp": ip["ipaddress"], "AllocationId": ids.to_ec2("eipalloc", ip["id"]), "Domain": "vpc",
            "InstanceId": ids.to_ec2("i", vm) if vm else None,
            "AssociationId": ids.to_ec2("eipassoc", ip["id"]) if vm else None,
            "PrivateIpAddress": ip.get("vmipaddress") if vm else None, "Tags": tagset(ip.get("tags")),
            "NetworkBorderGroup": r.region, "PublicIpv4Pool": "amazon"}


def _addresses(r: Request) -> list[dict[str, Any]]:
    return [ip for ip in listing(r, "listPublicIpAddresses", "publicipaddress", allocatedonly=True)
            if not ip.get("issourcenat")]


@action("AllocateAddress")
def allocate_address(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    zone = zone_by_name(r, None)
    nets = [n for n in listing(r, "listNetworks", "network", zoneid=zone["id"]) if n.get("type") == "Isolated"]
    params = {"networkid": nets[0]["id"]} if nets else {"zoneid": zone["id"]}
    ip = run(r, "associateIpAddress", **params)["ipaddress"]
    return {"PublicIp": ip["ipaddress"], "AllocationId": ids.to_ec2("eipalloc", ip["id"]), "Domain": "vpc",
            "NetworkBorderGroup": r.region, "PublicIpv4Pool": "amazon"}


def _check_ips(ips: list[str]) -> None:
    for ip in ips:
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            raise EC2Error("InvalidParameterValue", f"Invalid value '{ip}' for PublicIp. Not a valid IPv4 "
                                                    "address") from None


def _address(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    if p.get("PublicIp"):
        _check_ips([p["PublicIp"]])
    addrs = _addresses(r)
    if p.get("AllocationId"):
        found = [a for a in addrs if ids.to_ec2("eipalloc", a["id"]) == p["AllocationId"]]
        if not found:
            raise EC2Error("InvalidAllocationID.NotFound", f"The allocation ID '{p['AllocationId']}' does not exist")
    elif p.get("AssociationId"):
        found = [a for a in addrs if ids.to_ec2("eipassoc", a["id"]) == p["AssociationId"] and a.get("isstaticnat")]
        if not found:
            raise EC2Error("InvalidAssociationID.NotFound", f"The association ID '{p['AssociationId']}' does not "
                                                            "exist")
    elif p.get("PublicIp"):
        found = [a for a in addrs if a["ipaddress"] == p["PublicIp"]]
        if not found:
            raise EC2Error("InvalidAddress.NotFound", f"Address '{p['PublicIp']}' not found.")
    else:
        raise EC2Error("MissingParameter", "The request must contain the parameter AllocationId or PublicIp")
    return found[0]


@action("AssociateAddress")
def associate_address(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    ip = _address(r, p)
    if not p.get("InstanceId"):
        raise EC2Error("MissingParameter", "The request must contain the parameter InstanceId")
    iu = resolve(r, VirtualMachine, "i", p["InstanceId"], "InvalidInstanceID.NotFound", "instance")
    if ip.get("isstaticnat"):
        if ip.get("virtualmachineid") == iu:
            return {"AssociationId": ids.to_ec2("eipassoc", ip["id"])}
        if p.get("AllowReassociation") is False:
            raise EC2Error("Resource.AlreadyAssociated", f"resource {ip['ipaddress']} is already associated")
        run(r, "disableStaticNat", ipaddressid=ip["id"])
    if ip.get("associatednetworkid") is None:
        vm = listing(r, "listVirtualMachines", "virtualmachine", id=iu)
        nets = [n.get("networkid") for n in (vm[0].get("nic") or [])] if vm else []
        run(r, "enableStaticNat", ipaddressid=ip["id"], virtualmachineid=iu, networkid=nets[0] if nets else None)
    else:
        run(r, "enableStaticNat", ipaddressid=ip["id"], virtualmachineid=iu)
    firewall_sync(r, ip_uuid=ip["id"])
    return {"AssociationId": ids.to_ec2("eipassoc", ip["id"])}


@action("DisassociateAddress")
def disassociate_address(r: Request, p: dict[str, Any]) -> None:
    ip = _address(r, p)
    if ip.get("isstaticnat"):
        run(r, "disableStaticNat", ipaddressid=ip["id"])
    for f in listing(r, "listFirewallRules", "firewallrule", ipaddressid=ip["id"]):
        run(r, "deleteFirewallRule", id=f["id"])
    return None


@action("ReleaseAddress")
def release_address(r: Request, p: dict[str, Any]) -> None:
    if p.get("PublicIp") and p.get("AllocationId"):
        raise EC2Error("InvalidParameterCombination", "You may specify public IP or allocation id, but not both in "
                                                      "the same call")
    ip = _address(r, p)
    if ip.get("isstaticnat") and p.get("AllocationId"):
        raise EC2Error("InvalidIPAddress.InUse", f"Address {ip['ipaddress']} is associated with an instance")
    run(r, "disassociateIpAddress", id=ip["id"])
    return None


@action("DescribeAddresses")
def describe_addresses(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    _check_ips(p.get("PublicIps") or [])
    items = [address_of(r, a) for a in _addresses(r)]
    for key, param, code in (("PublicIp", "PublicIps", "InvalidAddress.NotFound"),
                             ("AllocationId", "AllocationIds", "InvalidAllocationID.NotFound")):
        want = p.get(param)
        if want:
            have = {i[key] for i in items}
            missing = [w for w in want if w not in have]
            if missing:
                raise EC2Error(code, f"The address '{missing[0]}' does not exist")
            items = [i for i in items if i[key] in want]
    items = apply_filters(items, p.get("Filters"), {
        "public-ip": lambda a: a["PublicIp"], "allocation-id": lambda a: a["AllocationId"],
        "instance-id": lambda a: a["InstanceId"], "association-id": lambda a: a["AssociationId"],
        "domain": lambda a: a["Domain"], "private-ip-address": lambda a: a["PrivateIpAddress"]})
    return {"Addresses": items}


# ------------------------------------------------------------------------------------------------ tags

# EC2 id prefix -> (CloudStack resource type, model, EC2 resource type name)
TAGGABLE = {
    "i": ("UserVm", VirtualMachine, "instance"), "vol": ("Volume", Volume, "volume"),
    "snap": ("Snapshot", Snapshot, "snapshot"), "ami": ("Template", Template, "image"),
    "eipalloc": ("PublicIpAddress", PublicIpAddress, "elastic-ip"),
}
RESOURCE_TYPES = {"UserVm": "instance", "Volume": "volume", "Snapshot": "snapshot", "Template": "image",
                  "PublicIpAddress": "elastic-ip"}
PREFIX_OF = {"UserVm": "i", "Volume": "vol", "Snapshot": "snap", "Template": "ami", "PublicIpAddress": "eipalloc"}


def _tag_targets(r: Request, resource_ids: list[str]) -> dict[str, list[str]]:
    by_type: dict[str, list[str]] = {}
    for rid in resource_ids:
        prefix = rid.partition("-")[0]
        if prefix not in TAGGABLE:
            raise EC2Error("InvalidID", f"The ID '{rid}' is not valid (taggable: instances, volumes, snapshots, "
                                        "images, addresses)")
        cs_type, model, what = TAGGABLE[prefix]
        code = {"i": "InvalidInstanceID.NotFound", "vol": "InvalidVolume.NotFound",
                "snap": "InvalidSnapshot.NotFound", "ami": "InvalidAMIID.NotFound",
                "eipalloc": "InvalidAllocationID.NotFound"}[prefix]
        by_type.setdefault(cs_type, []).append(resolve(r, model, prefix, rid, code, what, owned=prefix != "ami"))
    return by_type


def _tags_of(r: Request, cs_type: str) -> list[dict[str, Any]]:
    """The tags the caller sees on resources of a type. Tags belong to the resource's owner (CloudStack), so those on
    a shared or public image are not the caller's: they are the ones DescribeImages shows on the images."""
    if cs_type == "Template":
        return [dict(t, resourceid=tm["id"], resourcetype="Template") for tm in executable_templates(r)
                for t in tm.get("tags") or []]
    return listing(r, "listTags", "tag", resourcetype=cs_type)


@action("CreateTags")
def create_tags_action(r: Request, p: dict[str, Any]) -> None:
    tags = [{"key": t["Key"], "value": t.get("Value", "")} for t in p.get("Tags") or []]
    if not tags:
        raise EC2Error("MissingParameter", "The request must contain the parameter Tags")
    for cs_type, uuids in _tag_targets(r, p["Resources"]).items():
        existing = {(t["resourceid"], t["key"]) for t in _tags_of(r, cs_type)}
        stale = [{"key": t["key"]} for t in tags if any((u, t["key"]) in existing for u in uuids)]
        if stale:  # EC2 overwrites a tag's value; CloudStack refuses duplicates: delete first
            run(r, "deleteTags", resourceids=uuids, resourcetype=cs_type, tags=stale)
        run(r, "createTags", resourceids=uuids, resourcetype=cs_type, tags=tags)
    return None


@action("DeleteTags")
def delete_tags_action(r: Request, p: dict[str, Any]) -> None:
    tags = [{"key": t["Key"], **({"value": t["Value"]} if t.get("Value") is not None else {})}
            for t in p.get("Tags") or []]
    for cs_type, uuids in _tag_targets(r, p["Resources"]).items():
        existing = [t for t in _tags_of(r, cs_type) if t["resourceid"] in uuids]
        if tags:
            existing = [t for t in existing if any(t["key"] == w["key"] and ("value" not in w or
                                                                          t.get("value") == w["value"])
                                                   for w in tags)]
        if existing:
            run(r, "deleteTags", resourceids=uuids, resourcetype=cs_type,
                tags=[{"key": k} for k in dict.fromkeys(t["key"] for t in existing)])
    return None


@action("DescribeTags")
def describe_tags(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    items = []
    for t in [t for t in listing(r, "listTags", "tag") if t.get("resourcetype") != "Template"] + \
            _tags_of(r, "Template"):
        prefix = PREFIX_OF.get(t.get("resourcetype", ""))
        if prefix is None:
            continue
        items.append({"ResourceId": ids.to_ec2(prefix, t["resourceid"]),
                      "ResourceType": RESOURCE_TYPES[t["resourcetype"]], "Key": t["key"], "Value": t.get("value")})
    items = apply_filters(items, p.get("Filters"), {
        "resource-id": lambda t: t["ResourceId"], "resource-type": lambda t: t["ResourceType"],
        "key": lambda t: t["Key"], "value": lambda t: t["Value"]})
    chunk, token = page(items, p)
    return {"Tags": chunk, "NextToken": token}


# ------------------------------------------------------------------------------------------------ extras tools call

@action("DescribeAccountAttributes")
def describe_account_attributes(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    # VPC is a supported platform once the VPC actions exist (CreateVpc/DescribeVpcs); until then only EC2 is.
    vpc = "CreateVpc" in ACTIONS and "DescribeVpcs" in ACTIONS
    attrs = [("supported-platforms", ["VPC" if vpc else "EC2"]), ("default-vpc", ["none"]), ("max-instances", ["20"])]
    return {"AccountAttributes": [{"AttributeName": n, "AttributeValues": [{"AttributeValue": v} for v in vs]}
                                  for n, vs in attrs]}


@action("DescribeInstanceTypes")
def describe_instance_types(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    offs = listing(r, "listServiceOfferings", "serviceoffering")
    items = [{"InstanceType": o["name"], "VCpuInfo": {"DefaultVCpus": o.get("cpunumber") or 1},
              "MemoryInfo": {"SizeInMiB": o.get("memory") or 0}, "CurrentGeneration": True,
              "Hypervisor": "xen", "SupportedUsageClasses": ["on-demand"]} for o in offs]
    return {"InstanceTypes": items}


def dumps(obj: Any) -> str:  # pragma: no cover - debugging aid
    return json.dumps(obj, default=str)


__all__ = ["ACTIONS", "Request", "JobFailed"]
