"""listManagementServers and removeManagementServer: the servers of the farm as the membership table shows them."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from sqlalchemy import func, select

from management.api.cloudstack.envelope import ListResult, Success
from management.api.cloudstack.registry import ADMIN, ListParams, Params, Uuid, api_command
from management.api.cloudstack.schemas import Resp
from management.errors import ParamError
from management.models.infra import Host
from management.models.jobs import AsyncJob, ManagementServer
from management.services.cluster import membership
from management.services.context import CallContext
from management.services.listing import keyword_filter, paginate


class PeerResp(Resp):
    peerid: str = Field(description="the ID of the peer management server")
    peername: str = Field(description="the name of the peer management server")
    peermsid: str = Field(description="the management ID of the peer management server")
    peerrunid: int = Field(description="the run ID of the peer management server")
    peerstate: str = Field(description="the state of the peer management server")
    peerserviceip: str | None = Field(None, description="the IP Address for the peer Management Server")
    peerserviceport: str | None = Field(None, description="the service port for the peer Management Server")
    state: str = Field(description="the state of the link to the peer management server")
    lastupdated: datetime | None = Field(None, description="the last updated time of the peer management server")


class ManagementServerResp(Resp):
    id: str = Field(description="the ID of the management server")
    name: str = Field(description="the name of the management server")
    state: str = Field(description="the state of the management server")
    version: str | None = Field(None, description="the version of the management server")
    javadistribution: str | None = Field(None, description="the runtime distribution name running the management "
                                         "server process")
    javaversion: str | None = Field(None, description="the version of the runtime running the management server "
                                    "process")
    osdistribution: str | None = Field(None, description="the name of the OS distribution running on the "
                                       "management server")
    lastserverstart: datetime | None = Field(None, description="the last time this Management Server was started")
    lastserverstop: datetime | None = Field(None, description="the last time this Management Server was stopped")
    lastboottime: datetime | None = Field(None, description="the last time the host on which this Management Server "
                                          "runs was booted")
    kernelversion: str | None = Field(None, description="the running OS kernel version for this Management Server")
    serviceip: str | None = Field(None, description="the IP Address for this Management Server")
    ipaddress: str | None = Field(None, description="the IP Address for this Management Server")
    peers: list[PeerResp] | None = Field(None, description="the Management Server Peers")
    lastagents: list[str] | None = Field(None, description="the last agents this Management Server is responsible "
                                         "for, before shutdown or preparing for maintenance")
    agents: list[str] | None = Field(None, description="the agents this Management Server is responsible for")
    agentscount: int | None = Field(None, description="the number of host agents this Management Server is "
                                    "responsible for")
    pendingjobscount: int | None = Field(None, description="the number of pending jobs in this Management Server")
    jobid: str | None = Field(None, description="the UUID of the latest async job acting on this object")
    jobstatus: int | None = Field(None, description="the current status of the latest async job acting on this "
                                  "object")


class ListManagementServersParams(ListParams):
    id: Uuid | None = Field(None, description="the id of the management server")
    name: str | None = Field(None, description="the name of the management server")
    peers: bool | None = Field(None, description="include peers in the response")


def server_resp(ctx: CallContext, ms: ManagementServer, all_servers: list[ManagementServer],
                with_peers: bool) -> ManagementServerResp:
    s = ctx.session
    agents = list(s.scalars(select(Host.name).where(Host.mgmt_server_id == ms.msid, Host.removed.is_(None))
                            .order_by(Host.id)))
    pending = s.scalar(select(func.count()).select_from(AsyncJob).where(
        AsyncJob.status == 0, AsyncJob.executing_msid == ms.msid)) or 0
    d = membership.details(ms)
    peers = None
    if with_peers:
        peers = [PeerResp(peerid=p.msid, peername=p.hostname, peermsid=p.msid, peerrunid=p.runid, peerstate=p.state,
                          peerserviceip=p.service_ip, peerserviceport=str(p.service_port) if p.service_port else None,
                          state=p.state, lastupdated=p.last_heartbeat)
                 for p in all_servers if p.msid != ms.msid and p.removed is None]
    return ManagementServerResp(
        id=ms.msid, name=ms.hostname, state=ms.state, version=ms.version, javadistribution=d.get("javadistribution"),
        javaversion=d.get("javaversion"), osdistribution=d.get("osdistribution"), kernelversion=d.get("kernelversion"),
        lastserverstart=ms.started, lastserverstop=ms.last_stopped, lastboottime=ms.last_boot,
        serviceip=ms.service_ip, ipaddress=ms.service_ip, peers=peers, agents=agents, agentscount=len(agents),
        pendingjobscount=pending)


@api_command("listManagementServers", params=ListManagementServersParams, result_key="managementserver",
             response=ManagementServerResp, roles=ADMIN, since="4.14.0",
             description="Lists management servers.")
def list_management_servers(ctx: CallContext, p: ListManagementServersParams) -> ListResult:
    stmt = select(ManagementServer).where(ManagementServer.removed.is_(None))
    if p.id:
        stmt = stmt.where(ManagementServer.msid == p.id)
    if p.name:
        stmt = stmt.where(ManagementServer.hostname == p.name)
    stmt = keyword_filter(stmt, p.keyword, ManagementServer.hostname)
    rows, count = paginate(ctx.session, stmt, p.page, p.pagesize, ManagementServer.msid)
    everyone = list(ctx.session.scalars(select(ManagementServer)))
    return ListResult([server_resp(ctx, ms, everyone, bool(p.peers)) for ms in rows], count)


class RemoveManagementServerParams(Params):
    id: Uuid = Field(description="the id of the management server")


@api_command("removeManagementServer", params=RemoveManagementServerParams, roles=ADMIN, since="4.20.0",
             event="MANAGEMENT.SERVER.REMOVE", description="Removes a Management Server.")
def remove_management_server(ctx: CallContext, p: RemoveManagementServerParams) -> Success:
    ms = ctx.session.get(ManagementServer, p.id)
    if ms is None or ms.removed is not None:
        raise ParamError(f"Unable to find a Management Server with ID equal to [{p.id}].")
    if ms.state != "Down":
        raise ParamError(f"Unable to remove Management Server with ID [{p.id}]. It can only be removed when it is in "
                         f"the [Down] state, however currently it is in the [{ms.state}] state.")
    membership.remove(ctx.session, ms)
    return Success()
