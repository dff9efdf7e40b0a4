"""Network ACL lists and items (cs_network_acl, cs_network_acl_rule)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.commands.network.vpc import tag_resps
from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import OwnedListParams, Params, Ref, TaggedListParams, api_command
from management.api.cloudstack.schemas_vpc import NetworkAclItemResp, NetworkAclListResp
from management.errors import ParamError, invalid_id
from management.models.network import Network
from management.models.vpc import NetworkAcl, NetworkAclItem, Vpc
from management.services import access, tags
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate, tags_filter
from management.services.network import acl as svc

tags.register("NetworkACL", "NetworkACLItem")


def list_resp(ctx: CallContext, acl: NetworkAcl) -> NetworkAclListResp:
    vpc = ctx.session.get(Vpc, acl.vpc_id) if acl.vpc_id else None
    return NetworkAclListResp(id=acl.uuid, name=acl.name, description=acl.description,
                              vpcid=vpc.uuid if vpc else None, vpcname=vpc.name if vpc else None,
                              fordisplay=acl.display)


def item_resp(ctx: CallContext, item: NetworkAclItem, tag_rows: list | None = None) -> NetworkAclItemResp:
    acl = ctx.session.get(NetworkAcl, item.acl_id)
    ports = item.protocol in ("tcp", "udp") and item.start_port is not None
    return NetworkAclItemResp(
        id=item.uuid, protocol=item.protocol, startport=str(item.start_port) if ports else None,
        endport=str(item.end_port if item.end_port is not None else item.start_port) if ports else None,
        traffictype=item.traffic_type, state=item.state, cidrlist=item.cidr, icmptype=item.icmp_type,
        icmpcode=item.icmp_code, tags=tag_resps(tag_rows), aclid=acl.uuid if acl else None,
        aclname=acl.name if acl else None, number=item.number, action=item.action, fordisplay=item.display,
        reason=item.reason)


# ------------------------------------------------------------------------------------------------ lists

class CreateAclListParams(Params):
    name: str = Field(description="Name of the network ACL list")
    description: str | None = Field(None, description="Description of the network ACL list")
    vpcid: Annotated[str | None, Ref("Vpc")] = Field(None, description="ID of the VPC associated with this network "
                                                     "ACL list")
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the list to the "
                                    "end user or not")


def _create_list(ctx: CallContext, p: CreateAclListParams) -> str:
    return svc.create_list(ctx.session, ctx.caller, name=p.name, description=p.description,
                           vpc=ctx.refs.get("vpcid"), display=p.fordisplay).uuid


@api_command("createNetworkACLList", params=CreateAclListParams, is_async=True, create=_create_list,
             result_key="networkacllist", response=NetworkAclListResp, event="NETWORK.ACL.CREATE",
             entity="NetworkAcl", description="Creates a network ACL. If no VPC is given, then it creates a global "
             "ACL that can be used by everyone.")
def create_acl_list(ctx: CallContext, p: CreateAclListParams) -> NetworkAclListResp:
    acl = ctx.session.scalar(select(NetworkAcl).where(NetworkAcl.uuid == ctx.created_uuid))
    if acl is None:
        raise invalid_id(ctx.created_uuid or "")
    return list_resp(ctx, acl)


class UpdateAclListParams(Params):
    id: Annotated[str, Ref("NetworkACL")] = Field(description="the ID of the network ACL")
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the list to the "
                                    "end user or not")
    name: str | None = Field(None, description="Name of the network ACL list")
    description: str | None = Field(None, description="Description of the network ACL list")
    customid: str | None = Field(None, description="an optional field, in case you want to set a custom id to the "
                                 "resource. Allowed to Root Admins only")


@api_command("updateNetworkACLList", params=UpdateAclListParams, is_async=True, event="NETWORK.ACL.UPDATE",
             entity="NetworkAcl", since="4.4", description="Updates network ACL list")
def update_acl_list(ctx: CallContext, p: UpdateAclListParams) -> Success:
    acl = svc.update_list(ctx.session, ctx.caller, ctx.refs["id"], name=p.name, description=p.description,
                          display=p.fordisplay)
    if p.customid:
        if not ctx.caller.is_root_admin:
            raise ParamError("Only root admin can set a custom id")
        acl.uuid = p.customid
        ctx.session.flush()
    return Success()


class AclListIdParams(Params):
    id: Annotated[str, Ref("NetworkACL")] = Field(description="the ID of the network ACL")


@api_command("deleteNetworkACLList", params=AclListIdParams, is_async=True, event="NETWORK.ACL.DELETE",
             entity="NetworkAcl", description="Deletes a network ACL")
def delete_acl_list(ctx: CallContext, p: AclListIdParams) -> Success:
    svc.delete_list(ctx.session, ctx.caller, ctx.refs["id"])
    return Success()


class ListAclListsParams(OwnedListParams):
    id: Annotated[str | None, Ref("NetworkACL", "read")] = Field(None, description="Lists network ACL with the "
                                                                 "specified ID.")
    networkid: Annotated[str | None, Ref("Network", "read")] = Field(None, description="list network ACLs by "
                                                                     "network ID")
    vpcid: Annotated[str | None, Ref("Vpc", "read")] = Field(None, description="list network ACLs by VPC ID")
    name: str | None = Field(None, description="list network ACLs by specified name")
    fordisplay: bool | None = Field(None, description="list resources by display flag; only ROOT admin is eligible "
                                    "to pass this parameter")


@api_command("listNetworkACLLists", params=ListAclListsParams, result_key="networkacllist",
             response=NetworkAclListResp, description="Lists all network ACLs")
def list_acl_lists(ctx: CallContext, p: ListAclListsParams) -> ListResult:
    svc.builtin(ctx.session, svc.DEFAULT_DENY)
    s = ctx.session
    vpc_ids = select(Vpc.id).where(Vpc.removed.is_(None))
    vpc_ids = access.owned_filter(s, vpc_ids, Vpc, ctx.caller, account=p.account, domainid=p.domainid,
                                  isrecursive=p.isrecursive, listall=p.listall)
    stmt = select(NetworkAcl).where(NetworkAcl.vpc_id.is_(None) | NetworkAcl.vpc_id.in_(vpc_ids))
    if p.id:
        stmt = stmt.where(NetworkAcl.uuid == p.id)
    if p.vpcid:
        stmt = stmt.where(NetworkAcl.vpc_id == ctx.refs["vpcid"].id)
    if p.networkid:
        net: Network = ctx.refs["networkid"]
        stmt = stmt.where(NetworkAcl.id == (net.network_acl_id if net.network_acl_id is not None else -1))
    if p.name:
        stmt = stmt.where(NetworkAcl.name == p.name)
    if p.fordisplay is not None:
        stmt = stmt.where(NetworkAcl.display.is_(p.fordisplay))
    stmt = keyword_filter(stmt, p.keyword, NetworkAcl.name, NetworkAcl.description)
    rows, count = paginate(s, stmt, p.page, p.pagesize, NetworkAcl.id)
    return ListResult([list_resp(ctx, a) for a in rows], count)


class ReplaceAclParams(Params):
    aclid: Annotated[str, Ref("NetworkACL", "read")] = Field(description="the ID of the network ACL")
    networkid: Annotated[str | None, Ref("Network")] = Field(None, description="the ID of the network")
    gatewayid: Annotated[str | None, Ref("PrivateGateway")] = Field(None, description="the ID of the private gateway")


@api_command("replaceNetworkACLList", params=ReplaceAclParams, is_async=True, event="NETWORK.ACL.REPLACE",
             entity="NetworkAcl", description="Replaces ACL associated with a network or private gateway")
def replace_acl_list(ctx: CallContext, p: ReplaceAclParams) -> Success:
    if bool(p.networkid) == bool(p.gatewayid):
        raise ParamError("Network ID and private gateway can't be passed at the same time" if p.networkid else
                         "Either Network ID or private gateway ID is required")
    acl: NetworkAcl = ctx.refs["aclid"]
    if p.networkid:
        svc.replace_on_network(ctx.session, acl, ctx.refs["networkid"])
    else:
        svc.replace_on_gateway(ctx.session, acl, ctx.refs["gatewayid"])
    return Success()


# ------------------------------------------------------------------------------------------------ items

class CreateAclParams(Params):
    protocol: str = Field(description="the protocol for the ACL rule. Valid values are TCP/UDP/ICMP/ALL or valid "
                          "protocol number")
    startport: int | None = Field(None, description="the starting port of ACL")
    endport: int | None = Field(None, description="the ending port of ACL")
    cidrlist: list[str] | None = Field(None, description="the source CIDR list to allow traffic from. Multiple "
                                       "entries must be separated by a single comma character (,).")
    icmptype: int | None = Field(None, description="type of the ICMP message being sent")
    icmpcode: int | None = Field(None, description="error code for this ICMP message")
    networkid: Annotated[str | None, Ref("Network")] = Field(None, description="The network of the VM the ACL will "
                                                             "be created for")
    aclid: Annotated[str | None, Ref("NetworkACL")] = Field(None, description="The network of the VM the ACL will "
                                                            "be created for")
    traffictype: str | None = Field(None, description="the traffic type for the ACL, can be ingress or egress, "
                                    "defaulted to ingress if not specified")
    number: int | None = Field(None, description="The network of the VM the ACL will be created for")
    action: str | None = Field(None, description="scl entry action, allow or deny")
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the rule to the "
                                    "end user or not")
    reason: str | None = Field(None, description="A description indicating why the ACL rule is required.")


def _create_item(ctx: CallContext, p: CreateAclParams) -> str:
    acl: NetworkAcl | None = ctx.refs.get("aclid")
    if acl is None:
        net: Network | None = ctx.refs.get("networkid")
        if net is None:
            raise ParamError("Cannot create Network ACL Item. ACL Id or network Id is required")
        if net.vpc_id is None:
            raise ParamError(f"Network: {net.uuid} does not belong to VPC")
        acl = ctx.session.get(NetworkAcl, net.network_acl_id) if net.network_acl_id else None
        if acl is None or acl.builtin:
            acl = svc.create_list_for_tier(ctx.session, ctx.caller, net)
    item = svc.create_item(ctx.session, ctx.caller, acl, protocol=p.protocol, start=p.startport, end=p.endport,
                           cidrs=p.cidrlist, icmp_type=p.icmptype, icmp_code=p.icmpcode, traffic=p.traffictype,
                           number=p.number, action=p.action, reason=p.reason, display=p.fordisplay)
    return item.uuid


@api_command("createNetworkACL", params=CreateAclParams, is_async=True, create=_create_item,
             result_key="networkacl", response=NetworkAclItemResp, event="NETWORK.ACL.ITEM.CREATE",
             entity="NetworkAclItem", description="Creates a ACL rule in the given network (the network has to "
             "belong to VPC)")
def create_acl(ctx: CallContext, p: CreateAclParams) -> NetworkAclItemResp:
    item = ctx.session.scalar(select(NetworkAclItem).where(NetworkAclItem.uuid == ctx.created_uuid))
    if item is None:
        raise invalid_id(ctx.created_uuid or "")
    return item_resp(ctx, item)


class UpdateAclItemParams(Params):
    id: Annotated[str, Ref("NetworkACLItem")] = Field(description="the ID of the network ACL item")
    protocol: str | None = Field(None, description="the protocol for the ACL rule. Valid values are TCP/UDP/ICMP/"
                                 "ALL or valid protocol number")
    startport: int | None = Field(None, description="the starting port of ACL")
    endport: int | None = Field(None, description="the ending port of ACL")
    cidrlist: list[str] | None = Field(None, description="the cidr list to allow traffic from/to. Multiple entries "
                                       "must be separated by a single comma character (,).")
    icmptype: int | None = Field(None, description="type of the ICMP message being sent")
    icmpcode: int | None = Field(None, description="error code for this ICMP message")
    traffictype: str | None = Field(None, description="the traffic type for the ACL, can be Ingress or Egress, "
                                    "defaulted to Ingress if not specified")
    number: int | None = Field(None, description="The network of the vm the ACL will be created for")
    action: str | None = Field(None, description="scl entry action, allow or deny")
    fordisplay: bool | None = Field(None, description="an optional field, whether to the display the rule to the "
                                    "end user or not")
    reason: str | None = Field(None, description="A description indicating why the ACL rule is required.")
    partialupgrade: bool = Field(True, description="Indicates if the ACL rule is to be updated partially (merging "
                                 "the parameters sent with current configuration) or completely (disconsidering all "
                                 "of the current configurations). The default value is 'true'.")
    customid: str | None = Field(None, description="an optional field, in case you want to set a custom id to the "
                                 "resource. Allowed to Root Admins only")


@api_command("updateNetworkACLItem", params=UpdateAclItemParams, is_async=True, result_key="networkacl",
             response=NetworkAclItemResp, event="NETWORK.ACL.ITEM.UPDATE", entity="NetworkAclItem",
             description="Updates ACL item with specified ID")
def update_acl_item(ctx: CallContext, p: UpdateAclItemParams) -> NetworkAclItemResp:
    item = svc.update_item(ctx.session, ctx.caller, ctx.refs["id"], partial=p.partialupgrade,
                           **p.model_dump(exclude={"id", "partialupgrade", "customid"}))
    if p.customid:
        item.uuid = p.customid
        ctx.session.flush()
    return item_resp(ctx, item)


class AclItemIdParams(Params):
    id: Annotated[str, Ref("NetworkACLItem")] = Field(description="the ID of the network ACL")


@api_command("deleteNetworkACL", params=AclItemIdParams, is_async=True, event="NETWORK.ACL.ITEM.DELETE",
             entity="NetworkAclItem", description="Deletes a network ACL")
def delete_acl(ctx: CallContext, p: AclItemIdParams) -> Success:
    svc.delete_item(ctx.session, ctx.caller, ctx.refs["id"])
    return Success()


class MoveAclItemParams(Params):
    id: str = Field(description="The ID of the network ACL rule that is being moved to a new position.")
    previousaclruleid: str | None = Field(None, description="The ID of the first rule that is right before the new "
                                          "position where the rule being moved is going to be placed. This value "
                                          "can be 'NULL' if the rule is being moved to the first position of the "
                                          "network ACL list.")
    nextaclruleid: str | None = Field(None, description="The ID of the rule that is right after the new position "
                                      "where the rule being moved is going to be placed. This value can be 'NULL' "
                                      "if the rule is being moved to the last position of the network ACL list.")
    aclconsistencyhash: str | None = Field(None, description="Md5 hash used to check the consistency of the ACL rule "
                                           "list before applying the ACL rule move. This check is useful to manage "
                                           "concurrency problems that may happen when multiple users are editing "
                                           "the same ACL rule listing. The parameter is not required. Therefore, if "
                                           "the user does not send it, they assume the risk of moving ACL rules "
                                           "without checking the consistency of the access control list before "
                                           "executing the move. We use MD5 hash function on a String that is "
                                           "composed of all UUIDs of the ACL rules in concatenated in their "
                                           "respective order (order defined via 'number' field).")
    customid: str | None = Field(None, description="an optional field, in case you want to set a custom id to the "
                                 "resource. Allowed to Root Admins only")


def _item(ctx: CallContext, uuid: str | None) -> NetworkAclItem | None:
    if not uuid or uuid.upper() == "NULL":
        return None
    return access.resolve(ctx.session, ctx.caller, "NetworkACLItem", uuid, "write")  # type: ignore[no-any-return]


@api_command("moveNetworkAclItem", params=MoveAclItemParams, is_async=True, result_key="networkacl",
             response=NetworkAclItemResp, event="NETWORK.ACL.ITEM.UPDATE", entity="NetworkAclItem",
             description="Move an ACL rule to a position bettwen two other ACL rules of the same ACL network list")
def move_acl_item(ctx: CallContext, p: MoveAclItemParams) -> NetworkAclItemResp:
    item = _item(ctx, p.id)
    if item is None:
        raise ParamError(f"Could not find a rule with ID[{p.id}]")
    moved = svc.move_item(ctx.session, ctx.caller, item, previous=_item(ctx, p.previousaclruleid),
                          nxt=_item(ctx, p.nextaclruleid), consistency=p.aclconsistencyhash)
    return item_resp(ctx, moved)


class ListAclsParams(TaggedListParams):
    id: Annotated[str | None, Ref("NetworkACLItem", "read")] = Field(None, description="Lists network ACL Item with "
                                                                     "the specified ID")
    networkid: Annotated[str | None, Ref("Network", "read")] = Field(None, description="list network ACL items by "
                                                                     "network ID")
    traffictype: str | None = Field(None, description="list network ACL items by traffic type - ingress or egress")
    aclid: Annotated[str | None, Ref("NetworkACL", "read")] = Field(None, description="list network ACL items by "
                                                                    "ACL ID")
    protocol: str | None = Field(None, description="list network ACL items by protocol")
    action: str | None = Field(None, description="list network ACL items by action")
    fordisplay: bool | None = Field(None, description="list resources by display flag; only ROOT admin is eligible "
                                    "to pass this parameter")


@api_command("listNetworkACLs", params=ListAclsParams, result_key="networkacl", response=NetworkAclItemResp,
             description="Lists all network ACL items")
def list_acls(ctx: CallContext, p: ListAclsParams) -> ListResult:
    s = ctx.session
    stmt = select(NetworkAclItem)
    acl_id: int | None = ctx.refs["aclid"].id if p.aclid else None
    if p.networkid:
        net: Network = ctx.refs["networkid"]
        if net.network_acl_id is None:
            return ListResult([], 0)
        acl_id = net.network_acl_id
    if acl_id is not None:
        stmt = stmt.where(NetworkAclItem.acl_id == acl_id)
    else:
        vpc_ids = access.owned_filter(s, select(Vpc.id).where(Vpc.removed.is_(None)), Vpc, ctx.caller,
                                      account=p.account, domainid=p.domainid, isrecursive=p.isrecursive,
                                      listall=p.listall)
        lists = select(NetworkAcl.id).where(NetworkAcl.vpc_id.is_(None) | NetworkAcl.vpc_id.in_(vpc_ids))
        stmt = stmt.where(NetworkAclItem.acl_id.in_(lists))
    if p.id:
        stmt = stmt.where(NetworkAclItem.uuid == p.id)
    if p.traffictype:
        stmt = stmt.where(NetworkAclItem.traffic_type.ilike(p.traffictype))
    if p.protocol:
        stmt = stmt.where(NetworkAclItem.protocol.ilike(p.protocol))
    if p.action:
        stmt = stmt.where(NetworkAclItem.action.ilike(p.action))
    if p.fordisplay is not None:
        stmt = stmt.where(NetworkAclItem.display.is_(p.fordisplay))
    stmt = tags_filter(stmt, p.tags, "NetworkACL", NetworkAclItem.uuid)
    rows, count = paginate(s, stmt, p.page, p.pagesize, NetworkAclItem.number)
    by_uuid = tags.tags_of(s, "NetworkACL", [r.uuid for r in rows])
    return ListResult([item_resp(ctx, r, by_uuid.get(r.uuid)) for r in rows], count)
