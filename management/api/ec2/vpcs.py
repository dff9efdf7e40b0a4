"""EC2's VPC actions over CloudStack's VPC services (the same commands as the CloudStack API, run as the caller).

Mapping:
- a VPC is a CloudStack VPC (default VPC offering, in the region's first zone); a subnet is a tier (a guest
  network of the VPC, default_allow ACL: AWS's default network ACL lets everything through, groups filter);
- network interfaces are the instances' NICs (``eni-`` ids); they exist only with their instance, so creating,
  attaching or deleting one alone answers ``UnsupportedOperation``;
- the internet gateway (``igw-``), the route table (``rtb-``) and the DHCP options (``dopt-``) of a VPC are views:
  of its router's public side, of its local route plus default route plus static routes through private gateways
  (``vgw-`` ids: CreateRoute/DeleteRoute on them are static routes), of its DNS settings. Creating or re-associating
  them separately has no CloudStack equivalent: ``UnsupportedOperation``;
- a security group created with a VpcId is a network ACL list of that VPC (ingress/egress rules = ACL items, allow,
  numbered in order); launching into a subnet with such a group puts the list on the subnet.
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Any

from management.api.ec2 import ids
from management.api.ec2.actions import (
    ACTIONS,
    Request,
    _perms_in,
    _proto_ec2,
    action,
    apply_filters,
    create_tags,
    listing,
    page,
    run,
    tag_specs,
    tagset,
    zone_by_name,
)
from management.api.ec2.protocol import EC2Error
from management.models.network import Network, Nic
from management.models.vpc import VpcGateway

TIER_OFFERING = "DefaultIsolatedNetworkOfferingForVpcNetworks"


def unsupported(what: str) -> EC2Error:
    return EC2Error("UnsupportedOperation", f"The operation {what} is not supported by this cloud: in CloudStack's "
                                            "model it has no equivalent.")


def _vpcs(r: Request) -> list[dict[str, Any]]:
    if "vpcs" not in r.cache:
        r.cache["vpcs"] = listing(r, "listVPCs", "vpc")
    return r.cache["vpcs"]  # type: ignore[no-any-return]


def _vpc(r: Request, ec2_id: str | None) -> dict[str, Any]:
    if not ec2_id:
        raise EC2Error("MissingParameter", "The request must contain the parameter VpcId")
    for v in _vpcs(r):
        if ids.to_ec2("vpc", v["id"]) == ec2_id or v["id"] == ec2_id:
            return v
    if not ids.well_formed("vpc", ec2_id):
        raise EC2Error("InvalidVpcID.Malformed", f"Invalid id: \"{ec2_id}\"")
    raise EC2Error("InvalidVpcID.NotFound", f"The vpc ID '{ec2_id}' does not exist")


def vpc_of(r: Request, v: dict[str, Any]) -> dict[str, Any]:
    vid = ids.to_ec2("vpc", v["id"])
    return {"VpcId": vid, "CidrBlock": v["cidr"], "State": "available" if v["state"] == "Enabled" else "pending",
            "DhcpOptionsId": ids.to_ec2("dopt", v["id"]), "InstanceTenancy": "default", "IsDefault": False,
            "OwnerId": r.owner_id, "Tags": tagset(v.get("tags")),
            "CidrBlockAssociationSet": [{"AssociationId": ids.to_ec2("vpc-cidr-assoc", v["id"]),
                                         "CidrBlock": v["cidr"], "CidrBlockState": {"State": "associated"}}]}


# ------------------------------------------------------------------------------------------------ VPCs

@action("CreateVpc")
def create_vpc(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    cidr = p.get("CidrBlock")
    if not cidr:
        raise EC2Error("MissingParameter", "The request must contain the parameter CidrBlock")
    try:
        net = ipaddress.IPv4Network(cidr)
    except ValueError:
        raise EC2Error("InvalidParameterValue", f"Value ({cidr}) for parameter cidrBlock is invalid. This is not a "
                                                "valid CIDR block.") from None
    if not 16 <= net.prefixlen <= 28:
        raise EC2Error("InvalidVpc.Range", f"The CIDR '{cidr}' is invalid.")
    zone = zone_by_name(r, None)
    offering = listing(r, "listVPCOfferings", "vpcoffering", isdefault=True)
    if not offering:
        raise EC2Error("InternalError", "There is no default VPC offering", 500)
    name = f"vpc-{secrets.token_hex(4)}"
    v = run(r, "createVPC", name=name, displaytext=name, cidr=str(net), vpcofferingid=offering[0]["id"],
            zoneid=zone["id"])["vpc"]
    create_tags(r, "Vpc", [v["id"]], tag_specs(p, "vpc"))
    if tag_specs(p, "vpc"):
        v = listing(r, "listVPCs", "vpc", id=v["id"])[0]
    return {"Vpc": vpc_of(r, v)}


@action("DescribeVpcs")
def describe_vpcs(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    items = [vpc_of(r, v) for v in _vpcs(r)]
    want = p.get("VpcIds")
    if want:
        for w in want:
            _vpc(r, w)
        items = [i for i in items if i["VpcId"] in want]
    items = apply_filters(items, p.get("Filters"), {
        "vpc-id": lambda v: v["VpcId"], "cidr": lambda v: v["CidrBlock"], "cidr-block": lambda v: v["CidrBlock"],
        "state": lambda v: v["State"], "is-default": lambda v: "false", "owner-id": lambda v: v["OwnerId"],
        "dhcp-options-id": lambda v: v["DhcpOptionsId"]})
    chunk, token = page(items, p)
    return {"Vpcs": chunk, "NextToken": token}


@action("DeleteVpc")
def delete_vpc(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    v = _vpc(r, p.get("VpcId"))
    if v.get("network"):
        raise EC2Error("DependencyViolation", f"The vpc '{ids.to_ec2('vpc', v['id'])}' has dependencies and "
                                              "cannot be deleted.")
    run(r, "deleteVPC", id=v["id"])
    return {}


@action("ModifyVpcAttribute")
def modify_vpc_attribute(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    _vpc(r, p.get("VpcId"))
    for attr in ("EnableDnsSupport", "EnableDnsHostnames"):
        value = (p.get(attr) or {}).get("Value")
        if value is False:  # the VPC router always resolves its guests' names
            raise unsupported(f"ModifyVpcAttribute {attr}=false")
    return {}


# ------------------------------------------------------------------------------------------------ subnets

def _subnet_rows(r: Request) -> list[dict[str, Any]]:
    if "subnets" not in r.cache:
        r.cache["subnets"] = listing(r, "listNetworks", "network", forvpc=True)
    return r.cache["subnets"]  # type: ignore[no-any-return]


def subnet_of(r: Request, n: dict[str, Any]) -> dict[str, Any]:
    cidr = ipaddress.IPv4Network(n["cidr"])
    with r.db() as s:
        from sqlalchemy import func, select

        row = s.scalar(select(Network).where(Network.uuid == n["id"]))
        used = s.scalar(select(func.count()).select_from(Nic).where(Nic.network_id == row.id,
                                                                    Nic.removed.is_(None))) if row else 0
    free = max(0, cidr.num_addresses - 5 - int(used or 0))  # AWS reserves 5 addresses per subnet
    return {"SubnetId": ids.to_ec2("subnet", n["id"]), "VpcId": ids.to_ec2("vpc", n.get("vpcid")),
            "CidrBlock": n["cidr"], "AvailabilityZone": n.get("zonename"), "AvailableIpAddressCount": free,
            "State": "available", "DefaultForAz": False, "MapPublicIpOnLaunch": False, "OwnerId": r.owner_id,
            "Tags": tagset(n.get("tags")), "AssignIpv6AddressOnCreation": False,
            "SubnetArn": f"arn:aws:ec2:{r.region}:{r.owner_id}:subnet/{ids.to_ec2('subnet', n['id'])}"}


def _subnet(r: Request, ec2_id: str | None) -> dict[str, Any]:
    if not ec2_id:
        raise EC2Error("MissingParameter", "The request must contain the parameter SubnetId")
    for n in _subnet_rows(r):
        if ids.to_ec2("subnet", n["id"]) == ec2_id or n["id"] == ec2_id:
            return n
    if not ids.well_formed("subnet", ec2_id):
        raise EC2Error("InvalidSubnetID.Malformed", f"Invalid id: \"{ec2_id}\"")
    raise EC2Error("InvalidSubnetID.NotFound", f"The subnet ID '{ec2_id}' does not exist")


@action("CreateSubnet")
def create_subnet(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    v = _vpc(r, p.get("VpcId"))
    try:
        cidr = ipaddress.IPv4Network(p.get("CidrBlock") or "")
    except ValueError:
        raise EC2Error("InvalidParameterValue", f"Value ({p.get('CidrBlock')}) for parameter cidrBlock is invalid. "
                                                "This is not a valid CIDR block.") from None
    if not cidr.subnet_of(ipaddress.IPv4Network(v["cidr"])) or not 16 <= cidr.prefixlen <= 28:
        raise EC2Error("InvalidSubnet.Range", f"The CIDR '{cidr}' is invalid.")
    for n in v.get("network") or []:
        if n.get("cidr") and ipaddress.IPv4Network(n["cidr"]).overlaps(cidr):
            raise EC2Error("InvalidSubnet.Conflict", f"The CIDR '{cidr}' conflicts with another subnet")
    if p.get("AvailabilityZone") and p["AvailabilityZone"] != v.get("zonename"):
        raise EC2Error("InvalidParameterValue", f"Value ({p['AvailabilityZone']}) for parameter availabilityZone "
                                                f"is invalid. Subnets of this VPC can only be in {v.get('zonename')}")
    offering = listing(r, "listNetworkOfferings", "networkoffering", name=TIER_OFFERING)
    allow = [a for a in listing(r, "listNetworkACLLists", "networkacllist") if a["name"] == "default_allow"]
    name = f"subnet-{secrets.token_hex(4)}"
    n = run(r, "createNetwork", wait=False, name=name, displaytext=name, zoneid=v["zoneid"], vpcid=v["id"],
            networkofferingid=offering[0]["id"], gateway=str(next(cidr.hosts())), netmask=str(cidr.netmask),
            aclid=allow[0]["id"] if allow else None)["network"]
    create_tags(r, "Network", [n["id"]], tag_specs(p, "subnet"))
    if tag_specs(p, "subnet"):
        n = listing(r, "listNetworks", "network", id=n["id"])[0]
    return {"Subnet": subnet_of(r, n)}


@action("DescribeSubnets")
def describe_subnets(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    items = [subnet_of(r, n) for n in _subnet_rows(r)]
    want = p.get("SubnetIds")
    if want:
        for w in want:
            _subnet(r, w)
        items = [i for i in items if i["SubnetId"] in want]
    items = apply_filters(items, p.get("Filters"), {
        "subnet-id": lambda s: s["SubnetId"], "vpc-id": lambda s: s["VpcId"], "cidr": lambda s: s["CidrBlock"],
        "cidr-block": lambda s: s["CidrBlock"], "cidrBlock": lambda s: s["CidrBlock"],
        "availability-zone": lambda s: s["AvailabilityZone"], "state": lambda s: s["State"],
        "default-for-az": lambda s: "false", "owner-id": lambda s: s["OwnerId"]})
    chunk, token = page(items, p)
    return {"Subnets": chunk, "NextToken": token}


@action("DeleteSubnet")
def delete_subnet(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    n = _subnet(r, p.get("SubnetId"))
    try:
        r.inv.run("deleteNetwork", id=n["id"])
    except Exception as err:  # noqa: BLE001 - mapped below
        code = getattr(err, "code", 530)
        if code == 536:
            raise EC2Error("DependencyViolation", f"The subnet '{p['SubnetId']}' has dependencies and cannot be "
                                                  "deleted.") from None
        raise
    return {}


# ------------------------------------------------------------------------------------------------ network interfaces

def _interfaces(r: Request) -> list[dict[str, Any]]:
    out = []
    subnets = {n["id"]: n for n in listing(r, "listNetworks", "network", listall=False)}
    for vm in listing(r, "listVirtualMachines", "virtualmachine"):
        for nic in vm.get("nic") or []:
            net = subnets.get(nic.get("networkid"), {})
            eni = ids.to_ec2("eni", nic["id"])
            out.append({
                "NetworkInterfaceId": eni, "SubnetId": ids.to_ec2("subnet", nic.get("networkid")),
                "VpcId": ids.to_ec2("vpc", net.get("vpcid")) if net.get("vpcid") else None,
                "AvailabilityZone": vm.get("zonename"), "Description": "", "OwnerId": r.owner_id,
                "RequesterManaged": False, "Status": "in-use", "MacAddress": nic.get("macaddress"),
                "PrivateIpAddress": nic.get("ipaddress"), "SourceDestCheck": True, "InterfaceType": "interface",
                "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": nic.get("ipaddress")}],
                "Attachment": {"AttachmentId": ids.to_ec2("eni-attach", nic["id"]),
                               "InstanceId": ids.to_ec2("i", vm["id"]), "InstanceOwnerId": r.owner_id,
                               "DeviceIndex": int(nic.get("deviceid") or 0), "Status": "attached",
                               "DeleteOnTermination": True},
                "Groups": [{"GroupId": ids.to_ec2("sg", g["id"]), "GroupName": g["name"]}
                           for g in vm.get("securitygroup") or []],
                "TagSet": []})
    return out


@action("DescribeNetworkInterfaces")
def describe_network_interfaces(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    items = _interfaces(r)
    want = p.get("NetworkInterfaceIds")
    if want:
        have = {i["NetworkInterfaceId"] for i in items}
        missing = [w for w in want if w not in have]
        if missing:
            raise EC2Error("InvalidNetworkInterfaceID.NotFound",
                           f"The networkInterface ID '{missing[0]}' does not exist")
        items = [i for i in items if i["NetworkInterfaceId"] in want]
    items = apply_filters(items, p.get("Filters"), {
        "network-interface-id": lambda i: i["NetworkInterfaceId"], "subnet-id": lambda i: i["SubnetId"],
        "vpc-id": lambda i: i["VpcId"], "attachment.instance-id": lambda i: i["Attachment"]["InstanceId"],
        "private-ip-address": lambda i: i["PrivateIpAddress"], "mac-address": lambda i: i["MacAddress"],
        "status": lambda i: i["Status"], "availability-zone": lambda i: i["AvailabilityZone"]})
    chunk, token = page(items, p)
    return {"NetworkInterfaces": chunk, "NextToken": token}


def _no_equivalent(name: str) -> None:
    @action(name)
    def refuse(r: Request, p: dict[str, Any]) -> dict[str, Any]:
        raise unsupported(name)


for _name in ("CreateNetworkInterface", "DeleteNetworkInterface", "AttachNetworkInterface",
              "DetachNetworkInterface", "CreateInternetGateway", "AttachInternetGateway",
              "DetachInternetGateway", "DeleteInternetGateway", "CreateRouteTable", "DeleteRouteTable",
              "AssociateRouteTable", "DisassociateRouteTable", "ReplaceRouteTableAssociation",
              "CreateDhcpOptions", "AssociateDhcpOptions", "DeleteDhcpOptions"):
    _no_equivalent(_name)


# ------------------------------------------------------------------------------------------------ views

@action("DescribeInternetGateways")
def describe_internet_gateways(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    items = [{"InternetGatewayId": ids.to_ec2("igw", v["id"]), "OwnerId": r.owner_id, "Tags": [],
              "Attachments": [{"VpcId": ids.to_ec2("vpc", v["id"]), "State": "available"}]} for v in _vpcs(r)]
    want = p.get("InternetGatewayIds")
    if want:
        have = {i["InternetGatewayId"] for i in items}
        missing = [w for w in want if w not in have]
        if missing:
            raise EC2Error("InvalidInternetGatewayID.NotFound",
                           f"The internetGateway ID '{missing[0]}' does not exist")
        items = [i for i in items if i["InternetGatewayId"] in want]
    items = apply_filters(items, p.get("Filters"), {
        "internet-gateway-id": lambda g: g["InternetGatewayId"],
        "attachment.vpc-id": lambda g: [a["VpcId"] for a in g["Attachments"]],
        "attachment.state": lambda g: [a["State"] for a in g["Attachments"]], "owner-id": lambda g: g["OwnerId"]})
    chunk, token = page(items, p)
    return {"InternetGateways": chunk, "NextToken": token}


def _route_table(r: Request, v: dict[str, Any]) -> dict[str, Any]:
    vid = ids.to_ec2("vpc", v["id"])
    routes = [{"DestinationCidrBlock": v["cidr"], "GatewayId": "local", "Origin": "CreateRouteTable",
               "State": "active"},
              {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": ids.to_ec2("igw", v["id"]),
               "Origin": "CreateRoute", "State": "active"}]
    for sr in listing(r, "listStaticRoutes", "staticroute", vpcid=v["id"]):
        gw = sr.get("vpcgatewayid")
        routes.append({"DestinationCidrBlock": sr["cidr"], "Origin": "CreateRoute",
                       "State": "active" if sr.get("state") == "Active" else "blackhole",
                       **({"GatewayId": ids.to_ec2("vgw", gw)} if gw else {"InstanceId": None})})
    rtb = ids.to_ec2("rtb", v["id"])
    assocs = [{"Main": True, "RouteTableAssociationId": ids.to_ec2("rtbassoc", v["id"]), "RouteTableId": rtb,
               "AssociationState": {"State": "associated"}}]
    assocs += [{"Main": False, "RouteTableAssociationId": ids.to_ec2("rtbassoc", n["id"]), "RouteTableId": rtb,
                "SubnetId": ids.to_ec2("subnet", n["id"]), "AssociationState": {"State": "associated"}}
               for n in v.get("network") or []]
    return {"RouteTableId": rtb, "VpcId": vid, "OwnerId": r.owner_id, "Routes": routes, "Associations": assocs,
            "PropagatingVgws": [], "Tags": []}


@action("DescribeRouteTables")
def describe_route_tables(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    items = [_route_table(r, v) for v in _vpcs(r)]
    want = p.get("RouteTableIds")
    if want:
        have = {i["RouteTableId"] for i in items}
        missing = [w for w in want if w not in have]
        if missing:
            raise EC2Error("InvalidRouteTableID.NotFound", f"The routeTable ID '{missing[0]}' does not exist")
        items = [i for i in items if i["RouteTableId"] in want]
    items = apply_filters(items, p.get("Filters"), {
        "route-table-id": lambda t: t["RouteTableId"], "vpc-id": lambda t: t["VpcId"],
        "association.main": lambda t: "true",
        "association.subnet-id": lambda t: [a.get("SubnetId") for a in t["Associations"]],
        "route.destination-cidr-block": lambda t: [x["DestinationCidrBlock"] for x in t["Routes"]]})
    chunk, token = page(items, p)
    return {"RouteTables": chunk, "NextToken": token}


def _table_vpc(r: Request, rtb: str | None) -> dict[str, Any]:
    for v in _vpcs(r):
        if ids.to_ec2("rtb", v["id"]) == rtb:
            return v
    raise EC2Error("InvalidRouteTableID.NotFound", f"The routeTable ID '{rtb}' does not exist")


@action("CreateRoute")
def create_route(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    v = _table_vpc(r, p.get("RouteTableId"))
    cidr, gw = p.get("DestinationCidrBlock"), p.get("GatewayId") or ""
    if gw == ids.to_ec2("igw", v["id"]) and cidr == "0.0.0.0/0":
        return {"Return": True}  # the VPC's default route is its router's public side: already there
    if not gw.startswith("vgw-"):
        raise unsupported("CreateRoute to a target other than a private gateway (vgw-)")
    with r.db() as s:
        uuid = ids.to_uuid(s, VpcGateway, "vgw", gw)
    if uuid is None:
        raise EC2Error("InvalidGatewayID.NotFound", f"The gateway ID '{gw}' does not exist")
    run(r, "createStaticRoute", gatewayid=uuid, cidr=cidr)
    return {"Return": True}


@action("DeleteRoute")
def delete_route(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    v = _table_vpc(r, p.get("RouteTableId"))
    cidr = p.get("DestinationCidrBlock")
    found = [x for x in listing(r, "listStaticRoutes", "staticroute", vpcid=v["id"]) if x["cidr"] == cidr]
    if not found:
        raise EC2Error("InvalidRoute.NotFound", f"no route with destination-cidr-block {cidr} in route table "
                                                f"{p.get('RouteTableId')}")
    run(r, "deleteStaticRoute", id=found[0]["id"])
    return {}


@action("DescribeDhcpOptions")
def describe_dhcp_options(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    items = []
    for v in _vpcs(r):
        servers = [d for d in (v.get("dns1"), v.get("dns2")) if d] or ["AmazonProvidedDNS"]
        items.append({"DhcpOptionsId": ids.to_ec2("dopt", v["id"]), "OwnerId": r.owner_id, "Tags": [],
                      "DhcpConfigurations": [
                          {"Key": "domain-name", "Values": [{"Value": v.get("networkdomain") or "cs.internal"}]},
                          {"Key": "domain-name-servers", "Values": [{"Value": d} for d in servers]}]})
    want = p.get("DhcpOptionsIds")
    if want:
        have = {i["DhcpOptionsId"] for i in items}
        missing = [w for w in want if w not in have]
        if missing:
            raise EC2Error("InvalidDhcpOptionID.NotFound", f"The dhcpOption ID '{missing[0]}' does not exist")
        items = [i for i in items if i["DhcpOptionsId"] in want]
    items = apply_filters(items, p.get("Filters"), {"dhcp-options-id": lambda d: d["DhcpOptionsId"]})
    chunk, token = page(items, p)
    return {"DhcpOptions": chunk, "NextToken": token}


# ------------------------------------------------------------------------------------------------ VPC security groups

_plain: dict[str, Any] = {name: ACTIONS[name] for name in (
    "CreateSecurityGroup", "DescribeSecurityGroups", "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress",
    "DeleteSecurityGroup", "RunInstances") if name in ACTIONS}


def _acl_groups(r: Request) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(ACL list, its VPC) for every list of the caller's VPCs (built-in lists are not groups)."""
    out = []
    for v in _vpcs(r):
        for a in listing(r, "listNetworkACLLists", "networkacllist", vpcid=v["id"]):
            out.append((a, v))
    return out


def _vpc_group(r: Request, p: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    gid, name = p.get("GroupId"), p.get("GroupName")
    for a, v in _acl_groups(r):
        if gid and ids.to_ec2("sg", a["id"]) == gid or (name and not gid and a["name"] == name
                                                        and p.get("VpcId") in (None, ids.to_ec2("vpc", v["id"]))):
            return a, v
    return None


def _acl_permissions(items: list[dict[str, Any]], traffic: str) -> list[dict[str, Any]]:
    out = []
    for i in items:
        if i["traffictype"] != traffic or i["action"] != "Allow":
            continue
        proto = _proto_ec2(i.get("protocol"))
        lo, hi = ((i.get("icmptype"), i.get("icmpcode")) if proto == "icmp" else
                  (int(i["startport"]), int(i["endport"])) if i.get("startport") else (None, None))
        out.append({"IpProtocol": proto, "FromPort": lo, "ToPort": hi, "UserIdGroupPairs": [], "Ipv6Ranges": [],
                    "PrefixListIds": [], "IpRanges": [{"CidrIp": c} for c in (i.get("cidrlist") or "").split(",")
                                                      if c]})
    return out


def _group_of(r: Request, a: dict[str, Any], v: dict[str, Any]) -> dict[str, Any]:
    items = listing(r, "listNetworkACLs", "networkacl", aclid=a["id"])
    gid = ids.to_ec2("sg", a["id"])
    return {"OwnerId": r.owner_id, "GroupName": a["name"], "GroupId": gid, "Description": a.get("description") or "",
            "VpcId": ids.to_ec2("vpc", v["id"]), "IpPermissions": _acl_permissions(items, "Ingress"),
            "IpPermissionsEgress": _acl_permissions(items, "Egress"), "Tags": [],
            "SecurityGroupArn": f"arn:aws:ec2:{r.region}:{r.owner_id}:security-group/{gid}"}


@action("CreateSecurityGroup")
def create_security_group(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    if not p.get("VpcId"):
        return _plain["CreateSecurityGroup"](r, p)  # type: ignore[no-any-return]
    v = _vpc(r, p["VpcId"])
    if any(a["name"] == p["GroupName"] for a, w in _acl_groups(r) if w["id"] == v["id"]):
        raise EC2Error("InvalidGroup.Duplicate", f"The security group '{p['GroupName']}' already exists for VPC "
                                                 f"'{p['VpcId']}'")
    a = run(r, "createNetworkACLList", name=p["GroupName"], description=p.get("Description") or p["GroupName"],
            vpcid=v["id"])["networkacllist"]
    gid = ids.to_ec2("sg", a["id"])
    return {"GroupId": gid, "Tags": [], "SecurityGroupArn": f"arn:aws:ec2:{r.region}:{r.owner_id}:security-group/"
                                                              f"{gid}"}


@action("DescribeSecurityGroups")
def describe_security_groups(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    vpc_groups = [_group_of(r, a, v) for a, v in _acl_groups(r)]
    want_ids = set(p.get("GroupIds") or [])
    ours = {g["GroupId"] for g in vpc_groups}
    rest = {**p, "GroupIds": [g for g in want_ids if g not in ours]} if want_ids else dict(p)
    rest.pop("NextToken", None)
    rest.pop("MaxResults", None)
    plain: list[dict[str, Any]] = []
    if not want_ids or rest["GroupIds"]:
        filters = [f for f in p.get("Filters") or [] if f.get("Name") != "vpc-id"]
        plain = _plain["DescribeSecurityGroups"](r, {**rest, "Filters": filters})["SecurityGroups"]
    items = plain + [g for g in vpc_groups if not want_ids or g["GroupId"] in want_ids]
    if p.get("GroupNames"):
        items = [g for g in items if g["GroupName"] in p["GroupNames"]]
    items = apply_filters(items, p.get("Filters"), {
        "group-id": lambda g: g["GroupId"], "group-name": lambda g: g["GroupName"],
        "description": lambda g: g["Description"], "owner-id": lambda g: g["OwnerId"],
        "vpc-id": lambda g: g.get("VpcId")})
    chunk, token = page(items, p)
    return {"SecurityGroups": chunk, "NextToken": token}


def _same_ports(item: dict[str, Any], want: dict[str, Any]) -> bool:
    if want["protocol"] == "icmp":
        return (item.get("icmptype"), item.get("icmpcode")) == (want["lo"], want["hi"])
    if want["protocol"] in ("tcp", "udp"):
        return (item.get("startport"), item.get("endport")) == (str(want["lo"]), str(want["hi"]))
    return True


def _acl_rule_change(r: Request, p: dict[str, Any], traffic: str, *, add: bool, name: str) -> dict[str, Any]:
    found = _vpc_group(r, p)
    if found is None:
        return _plain[name](r, p)  # type: ignore[no-any-return]
    a, _ = found
    items = listing(r, "listNetworkACLs", "networkacl", aclid=a["id"])
    for w in _perms_in(p):
        same = [i for i in items if i["traffictype"] == traffic and i["protocol"] == w["protocol"]
                and (i.get("cidrlist") or "") == w["cidr"] and _same_ports(i, w)]
        if add:
            if same:
                raise EC2Error("InvalidPermission.Duplicate", "the specified rule already exists")
            extra = ({"icmptype": w["lo"], "icmpcode": w["hi"]} if w["protocol"] == "icmp"
                     else {"startport": w["lo"], "endport": w["hi"]} if w["protocol"] != "all" else {})
            run(r, "createNetworkACL", aclid=a["id"], protocol=w["protocol"], cidrlist=[w["cidr"]],
                action="Allow", traffictype=traffic, **extra)
        else:
            if not same:
                raise EC2Error("InvalidPermission.NotFound", "The specified rule does not exist in this security "
                                                             "group.")
            for i in same:
                run(r, "deleteNetworkACL", id=i["id"])
    return {"Return": True, "SecurityGroupRules": []} if add else {"Return": True}


@action("AuthorizeSecurityGroupIngress")
def authorize_ingress(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    return _acl_rule_change(r, p, "Ingress", add=True, name="AuthorizeSecurityGroupIngress")


@action("AuthorizeSecurityGroupEgress")
def authorize_egress(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    return _acl_rule_change(r, p, "Egress", add=True, name="AuthorizeSecurityGroupEgress")


@action("RevokeSecurityGroupIngress")
def revoke_ingress(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    return _acl_rule_change(r, p, "Ingress", add=False, name="RevokeSecurityGroupIngress")


@action("RevokeSecurityGroupEgress")
def revoke_egress(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    return _acl_rule_change(r, p, "Egress", add=False, name="RevokeSecurityGroupEgress")


@action("DeleteSecurityGroup")
def delete_security_group(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    found = _vpc_group(r, p)
    if found is None:
        return _plain["DeleteSecurityGroup"](r, p)  # type: ignore[no-any-return]
    a, _ = found
    try:
        r.inv.run("deleteNetworkACLList", id=a["id"])
    except Exception as err:  # noqa: BLE001 - mapped below
        if getattr(err, "code", 0) == 536:
            raise EC2Error("DependencyViolation", f"resource {ids.to_ec2('sg', a['id'])} has a dependent "
                                                  "object") from None
        raise
    return {"Return": True, "GroupId": ids.to_ec2("sg", a["id"])}


@action("RunInstances")
def run_instances(r: Request, p: dict[str, Any]) -> dict[str, Any]:
    """A launch into a subnet with VPC groups: the group (an ACL list) becomes the subnet's list."""
    wanted = list(p.get("SecurityGroupIds") or [])
    vpc_groups = {ids.to_ec2("sg", a["id"]): a for a, _ in _acl_groups(r)} if wanted else {}
    acls = [vpc_groups[g] for g in wanted if g in vpc_groups]
    if acls:
        if not p.get("SubnetId"):
            raise EC2Error("InvalidParameterCombination", "VPC security groups may not be used for a non-VPC "
                                                          "launch")
        if len(acls) > 1:
            raise unsupported("RunInstances with more than one VPC security group")
        subnet = _subnet(r, p["SubnetId"])
        run(r, "replaceNetworkACLList", aclid=acls[0]["id"], networkid=subnet["id"])
        p = {**p, "SecurityGroupIds": [g for g in wanted if g not in vpc_groups]}
    return _plain["RunInstances"](r, p)  # type: ignore[no-any-return]


__all__ = ["create_subnet", "create_vpc", "describe_subnets", "describe_vpcs", "subnet_of", "vpc_of"]
