"""Platform extras: getCloudIdentifier, archiveEvents/deleteEvents, listDetailOptions, purgeExpungedResources,
listConsoleSessions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from management.api.cloudstack.dates import parse_date
from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ApiType, Date, ListParams, Long, Params, Ref, api_command
from management.api.cloudstack.schemas_platform import JobResp, SuccessResp
from management.db.base import utcnow
from management.errors import InternalError, ParamError
from management.models.compute import VirtualMachine
from management.models.events import Event
from management.models.identity import Account, Domain, User
from management.models.infra import Host
from management.models.platform import ConsoleSession
from management.services import access, purge
from management.services.context import CallContext
from management.services.identity import cloud_identity
from management.services.listing import paginate, rows_by_id

access.register_entity("ConsoleSession", ConsoleSession, "owned", soft_delete=False)


# ---- getCloudIdentifier --------------------------------------------------------------------------------------

class CloudIdentifierResp(JobResp):
    userid: str = Field(description="the user ID for the cloud identifier")
    cloudidentifier: str = Field(description="the cloud identifier")
    signature: str = Field(description="the signed response for the cloud identifier")


class GetCloudIdentifierParams(Params):
    userid: Annotated[str, Ref("User")] = Field(description="the user ID for the cloud identifier")


@api_command("getCloudIdentifier", params=GetCloudIdentifierParams, result_key="cloudidentifier",
             response=CloudIdentifierResp, description="Retrieves a cloud identifier.")
def get_cloud_identifier(ctx: CallContext, p: GetCloudIdentifierParams) -> CloudIdentifierResp:
    user: User = ctx.refs["userid"]
    ident = cloud_identity.cloud_identifier(ctx.session, ctx.runtime.db)
    return CloudIdentifierResp(userid=user.uuid, cloudidentifier=ident,
                               signature=cloud_identity.signature(user.secret_key, ident))


# ---- archiveEvents / deleteEvents ----------------------------------------------------------------------------

class EventsSelectionParams(Params):
    ids: Annotated[list[str] | None, Ref("Event"), ApiType("list")] = Field(None, description="the IDs of the events")
    enddate: Date | None = Field(None, description="end date range to archive events (including) this date (use "
                                 "format \"yyyy-MM-dd\" or the new format \"yyyy-MM-ddThh:mm:ss\")")
    startdate: Date | None = Field(None, description="start date range to archive events (including) this date "
                                   "(use format \"yyyy-MM-dd\" or the new format \"yyyy-MM-ddThh:mm:ss\")")
    type: str | None = Field(None, description="archive by event type")


def _events(ctx: CallContext, p: EventsSelectionParams, verb: str) -> list[Event]:
    if not p.ids and p.type is None and p.enddate is None:
        raise ParamError("either ids, type or enddate must be specified")
    start = parse_date(p.startdate, "startdate", ctx.command) if p.startdate else None
    end = parse_date(p.enddate, "enddate", ctx.command, end_of_day=True) if p.enddate else None
    if start is not None and end is not None and start > end:
        raise ParamError("Invalid date range. The start date must be before the end date")
    stmt = select(Event).where(Event.removed.is_(None))
    stmt = access.owned_filter(ctx.session, stmt, Event, ctx.caller, listall=True)
    if p.ids:
        stmt = stmt.where(Event.uuid.in_(p.ids))
    if p.type:
        stmt = stmt.where(Event.type == p.type)
    if start is not None:
        stmt = stmt.where(Event.created >= start)
    if end is not None:
        stmt = stmt.where(Event.created <= end)
    rows = list(ctx.session.scalars(stmt))
    if p.ids and len(rows) < len(set(p.ids)):
        raise InternalError(f"Unable to {verb} Events, one or more parameters has invalid values")
    return rows


@api_command("archiveEvents", params=EventsSelectionParams, response=SuccessResp, entity="Event",
             event="EVENT.ARCHIVE", description="Archive one or more events.")
def archive_events(ctx: CallContext, p: EventsSelectionParams) -> Success:
    for ev in _events(ctx, p, "archive"):
        ev.archived = True
    return Success()


@api_command("deleteEvents", params=EventsSelectionParams, response=SuccessResp, entity="Event",
             event="EVENT.DELETE", description="Delete one or more events.")
def delete_events(ctx: CallContext, p: EventsSelectionParams) -> Success:
    now = utcnow()
    for ev in _events(ctx, p, "delete"):
        ev.removed = now
    return Success()


# ---- listDetailOptions ---------------------------------------------------------------------------------------

_DETAIL_OPTIONS: dict[str, dict[str, list[str]]] = {
    "UserVm": {
        "keyboard": ["us", "uk", "fr", "de", "es", "it", "jp"],
        "cpu.corespersocket": [],
        "rootDiskController": ["osdefault", "ide", "scsi", "virtio", "sata"],
        "dataDiskController": ["osdefault", "ide", "scsi", "virtio", "sata"],
        "nicAdapter": ["e1000", "virtio", "rtl8139", "vmxnet3"],
        "video.hardware": ["cirrus", "vga", "qxl", "virtio"],
        "video.ram": [],
        "io.policy": ["threads", "native", "io_uring", "storage_specific"],
        "iothreads": [],
        "mmio.ram.gb": [],
        "extraconfig": [],
        "qemu.guest.agent": ["true", "false"],
    },
    "Volume": {"rootDiskController": ["osdefault", "ide", "scsi", "virtio", "sata"],
               "dataDiskController": ["osdefault", "ide", "scsi", "virtio", "sata"]},
    "Template": {"keyboard": ["us", "uk", "fr", "de", "es", "it", "jp"],
                 "rootDiskController": ["osdefault", "ide", "scsi", "virtio", "sata"],
                 "nicAdapter": ["e1000", "virtio", "rtl8139", "vmxnet3"],
                 "video.hardware": ["cirrus", "vga", "qxl", "virtio"]},
}


class DetailOptionsResp(JobResp):
    details: dict[str, list[str]] = Field(description="Map of all possible details and their possible list of "
                                          "values")


class ListDetailOptionsParams(Params):
    resourcetype: str = Field(description="the resource type such as UserVm, Template etc.")
    resourceid: str | None = Field(None, description="the UUID of the resource (optional)")


@api_command("listDetailOptions", params=ListDetailOptionsParams, result_key="detailoptions",
             response=DetailOptionsResp, since="4.13",
             description="Lists all possible details and their options for a resource type such as a VM or a "
             "template")
def list_detail_options(ctx: CallContext, p: ListDetailOptionsParams) -> DetailOptionsResp:
    from management.services import resource_details

    canonical, _entity = resource_details.canonical_type(p.resourcetype)
    if p.resourceid:
        resource_details.resolve(ctx.session, ctx.caller, canonical, p.resourceid, "read")
    if canonical not in _DETAIL_OPTIONS:
        raise ParamError(f"Details options are not supported for resource type {canonical}; supported: "
                         f"{', '.join(_DETAIL_OPTIONS)}")
    return DetailOptionsResp(details=_DETAIL_OPTIONS[canonical])


# ---- purgeExpungedResources ------------------------------------------------------------------------------------

class PurgeParams(Params):
    resourcetype: str | None = Field(None, description="The type of the resource which need to be purged. "
                                     "Supported types: VirtualMachine")
    batchsize: Long | None = Field(None, description="The size of batch used during purging")
    startdate: Date | None = Field(None, description="The start date range of the expunged resources used for "
                                   "purging (use format \"yyyy-MM-dd\" or \"yyyy-MM-dd HH:mm:ss\")")
    enddate: Date | None = Field(None, description="The end date range of the expunged resources used for purging "
                                 "(use format \"yyyy-MM-dd\" or \"yyyy-MM-dd HH:mm:ss\")")


@api_command("purgeExpungedResources", params=PurgeParams, response=SuccessResp, is_async=True, roles=ADMIN,
             event="PURGE.EXPUNGED.RESOURCES", since="4.20",
             description="Purge expunged resources")
def purge_expunged_resources(ctx: CallContext, p: PurgeParams) -> Success:
    start = parse_date(p.startdate, "startdate", ctx.command) if p.startdate else None
    end = parse_date(p.enddate, "enddate", ctx.command, end_of_day=True) if p.enddate else None
    count = purge.purge(ctx.session, p.resourcetype, p.batchsize, start, end)
    return Success(displaytext=f"Purged {count} expunged resource(s)")


# ---- listConsoleSessions -------------------------------------------------------------------------------------

class ConsoleSessionResp(JobResp):
    id: str = Field(description="ID of the console session")
    created: datetime | None = Field(None, description="Date when the console session's endpoint was created")
    domain: str | None = Field(None, description="Domain of the account that created the console endpoint")
    domainpath: str | None = Field(None, description="Domain path of the account that created the console "
                                   "endpoint")
    domainid: str | None = Field(None, description="ID of the domain of the account that created the console "
                                 "endpoint")
    account: str | None = Field(None, description="Account that created the console endpoint")
    accountid: str | None = Field(None, description="ID of the account that created the console endpoint")
    user: str | None = Field(None, description="User that created the console endpoint")
    userid: str | None = Field(None, description="ID of the user that created the console endpoint")
    virtualmachineid: str | None = Field(None, description="ID of the virtual machine")
    virtualmachinename: str | None = Field(None, description="Name of the virtual machine")
    hostid: str | None = Field(None, description="ID of the host")
    hostname: str | None = Field(None, description="Name of the host")
    acquired: datetime | None = Field(None, description="Date when the console session was acquired")
    removed: datetime | None = Field(None, description="Date when the console session was removed")
    consoleendpointcreatoraddress: str | None = Field(None, description="IP address of the creator of the console "
                                                      "endpoint")
    clientaddress: str | None = Field(None, description="IP of the client that created the console session")


class ListConsoleSessionsParams(ListParams):
    id: Annotated[str | None, Ref("ConsoleSession", "read")] = Field(None, description="The ID of the console "
                                                                     "session.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="The domain ID of the "
                                                                   "account that created the console endpoint.")
    accountid: Annotated[str | None, Ref("Account", "read")] = Field(None, description="The ID of the account that "
                                                                     "created the console endpoint.")
    userid: Annotated[str | None, Ref("User", "read")] = Field(None, description="The ID of the user that created "
                                                               "the console endpoint.")
    hostid: Annotated[str | None, Ref("Host", "read")] = Field(None, description="Lists console sessions from the "
                                                               "specified host.")
    startdate: Date | None = Field(None, description="Lists console sessions generated from this date onwards.")
    enddate: Date | None = Field(None, description="Lists console sessions generated up until this date.")
    virtualmachineid: Annotated[str | None, Ref("VirtualMachine", "read")] = Field(
        None, description="The ID of the virtual machine.")
    consoleendpointcreatoraddress: str | None = Field(None, description="IP address of the creator of the console "
                                                      "endpoint.")
    clientaddress: str | None = Field(None, description="IP address of the client that accessed the console "
                                      "session.")
    activeonly: bool = Field(True, description="Lists only active console sessions, defaults to true. Active "
                             "sessions are the ones that have been acquired and have not been removed.")
    acquired: bool = Field(False, description="Lists acquired console sessions, defaults to false. Acquired "
                           "console sessions are the ones that have been accessed.")
    isrecursive: bool = Field(False, description="Use with domainid parameter to list the console sessions of the "
                              "domain and its subdomains.")


@api_command("listConsoleSessions", params=ListConsoleSessionsParams, result_key="consolesession",
             response=ConsoleSessionResp, since="4.21.0", description="Lists console sessions.")
def list_console_sessions(ctx: CallContext, p: ListConsoleSessionsParams) -> ListResult:
    s = ctx.session
    stmt = select(ConsoleSession)
    stmt = access.owned_filter(s, stmt, ConsoleSession, ctx.caller, domainid=p.domainid,
                               isrecursive=p.isrecursive, listall=True)
    for name, col in (("accountid", ConsoleSession.account_id), ("userid", ConsoleSession.user_id),
                      ("hostid", ConsoleSession.host_id), ("virtualmachineid", ConsoleSession.instance_id),
                      ("id", ConsoleSession.id)):
        row = ctx.refs.get(name)
        if row is not None:
            stmt = stmt.where(col == row.id)
    if p.consoleendpointcreatoraddress:
        stmt = stmt.where(ConsoleSession.creator_address == p.consoleendpointcreatoraddress)
    if p.clientaddress:
        stmt = stmt.where(ConsoleSession.client_address == p.clientaddress)
    if p.activeonly:
        stmt = stmt.where(ConsoleSession.acquired.is_not(None), ConsoleSession.removed.is_(None))
    elif p.acquired:
        stmt = stmt.where(ConsoleSession.acquired.is_not(None))
    if p.startdate:
        stmt = stmt.where(ConsoleSession.created >= parse_date(p.startdate, "startdate", ctx.command))
    if p.enddate:
        stmt = stmt.where(ConsoleSession.created <= parse_date(p.enddate, "enddate", ctx.command, end_of_day=True))
    rows, count = paginate(s, stmt, p.page, p.pagesize, ConsoleSession.id.desc())
    accounts = rows_by_id(s, Account, (r.account_id for r in rows))
    domains = rows_by_id(s, Domain, (r.domain_id for r in rows))
    users = rows_by_id(s, User, (r.user_id for r in rows))
    vms = rows_by_id(s, VirtualMachine, (r.instance_id for r in rows))
    hosts = rows_by_id(s, Host, (r.host_id for r in rows))
    out = []
    for r in rows:
        a, d, u, v, h = (accounts.get(r.account_id), domains.get(r.domain_id), users.get(r.user_id),
                         vms.get(r.instance_id), hosts.get(r.host_id))
        out.append(ConsoleSessionResp(
            id=r.uuid, created=r.created, domain=d.name if d else None, domainpath=d.display_path if d else None,
            domainid=d.uuid if d else None, account=a.name if a else None, accountid=a.uuid if a else None,
            user=u.username if u else None, userid=u.uuid if u else None,
            virtualmachineid=v.uuid if v else None, virtualmachinename=(v.display_name or v.name) if v else None,
            hostid=h.uuid if h else None, hostname=h.name if h else None, acquired=r.acquired,
            removed=r.removed, consoleendpointcreatoraddress=r.creator_address, clientaddress=r.client_address))
    return ListResult(out, count)
