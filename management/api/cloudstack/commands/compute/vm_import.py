"""VM import and unmanage: listUnmanagedInstances, importUnmanagedInstance, unmanageVirtualMachine, listVmsForImport,
importVm, listImportVmTasks (services.compute.vm_import does the work)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from management.api.cloudstack.commands.compute.vm import vm_response
from management.api.cloudstack.envelope import ListResult
from management.api.cloudstack.registry import ADMIN, ListParams, MapParam, Params, Ref, Uuid, api_command
from management.api.cloudstack.schemas_compute import VirtualMachineResp
from management.api.cloudstack.schemas_storage import ImportVmTaskResp, UnmanagedInstanceResp, UnmanageVmResp
from management.errors import ParamError
from management.models.compute import VirtualMachine
from management.models.infra import Cluster
from management.models.network import Network
from management.models.offerings import DiskOffering
from management.services import access
from management.services.compute import vm_import as svc
from management.services.context import CallContext

POWER = {"Running": "PowerOn", "Stopped": "PowerOff", "Paused": "PowerOn"}


def _instance_resp(ctx: CallContext, cluster: Cluster, f: svc.Found) -> UnmanagedInstanceResp:
    d = f.domain
    disks = [{"id": disk.device, "label": disk.device, "capacity": disk.size_bytes, "imagepath": disk.path,
              "controller": disk.bus, "controllerunit": 0, "position": i, "datastorename": disk.pool,
              "datastorepath": disk.path.rsplit("/", 1)[0], "datastoretype": "Filesystem" if disk.pool else None}
             for i, disk in enumerate(d.disks)]
    nics = [{"id": str(i), "networkname": n.source, "macaddress": n.mac, "adaptertype": n.model}
            for i, n in enumerate(d.nics)]
    return UnmanagedInstanceResp(name=d.name, clusterid=cluster.uuid, clustername=cluster.name, hostid=f.host.uuid,
                                 hostname=f.host.name, powerstate=POWER.get(d.state.value, "PowerUnknown"),
                                 cpunumber=d.vcpus, cpucorepersocket=d.vcpus, cpuspeed=f.host.speed,
                                 memory=d.memory_mib, osdisplayname="Other (64-bit)", disk=disks, nic=nics)


class ListUnmanagedParams(ListParams):
    clusterid: Annotated[str, Ref("Cluster", "read")] = Field(description="the cluster ID")
    name: str | None = Field(None, description="the hypervisor name of the instance")


@api_command("listUnmanagedInstances", params=ListUnmanagedParams, result_key="unmanagedinstance",
             response=UnmanagedInstanceResp, roles=ADMIN, since="4.14.0",
             description="Lists unmanaged virtual machines for a given cluster.")
def list_unmanaged_instances(ctx: CallContext, p: ListUnmanagedParams) -> ListResult:
    cluster: Cluster = ctx.refs["clusterid"]
    found = svc.unmanaged(ctx.runtime, ctx.session, cluster, p.name)
    if p.keyword:
        found = [f for f in found if p.keyword.lower() in f.domain.name.lower()]
    rows = [_instance_resp(ctx, cluster, f) for f in found]
    if p.pagesize is not None and p.pagesize != -1:
        start = ((p.page or 1) - 1) * p.pagesize
        rows_page = rows[start:start + p.pagesize]
        return ListResult(rows_page, len(rows))
    return ListResult(rows, len(rows))


class ImportInstanceParams(Params):
    clusterid: Annotated[str, Ref("Cluster", "read")] = Field(description="the cluster ID")
    name: str = Field(description="the name of the instance as it is known to the hypervisor")
    displayname: str | None = Field(None, description="the display name of the instance")
    hostname: str | None = Field(None, description="the host name of the instance")
    account: str | None = Field(None, description="an optional account for the virtual machine. Must be used with "
                                "domainId.")
    domainid: Annotated[str | None, Ref("Domain", "read")] = Field(None, description="import instance to the domain "
                                                                   "specified")
    projectid: Uuid | None = Field(None, description="import instance for the project")
    templateid: Annotated[str | None, Ref("Template", "read")] = Field(None, description="the ID of the template "
                                                                       "for the virtual machine")
    serviceofferingid: Annotated[str, Ref("ServiceOffering", "read")] = Field(
        description="the service offering for the virtual machine")
    nicnetworklist: MapParam | None = Field(None, description="VM nic to networkId mapping using keys nic and "
                                            "network")
    nicipaddresslist: MapParam | None = Field(None, description="VM nic to ip address mapping using keys nic, "
                                              "ip4Address")
    datadiskofferinglist: MapParam | None = Field(None, description="datadisk template to disk-offering mapping "
                                                  "using keys disk and diskOffering")
    details: MapParam | None = Field(None, description="used to specify the custom parameters.")
    migrateallowed: bool = Field(False, description="vm and its volumes are allowed to migrate to different "
                                 "host/pool when offerings passed are incompatible with current host/pool")
    forced: bool = Field(False, description="VM is imported despite some of its NIC's MAC addresses are already "
                         "present, in case the MAC address exists then a new MAC address is generated")


def _maps(ctx: CallContext, p: ImportInstanceParams) -> tuple[dict[str, DiskOffering], dict[str, Network],
                                                              dict[str, str]]:
    disks: dict[str, DiskOffering] = {}
    for m in p.datadiskofferinglist or []:
        disk, do = m.get("disk"), m.get("diskOffering") or m.get("diskoffering")
        if not disk or not do:
            raise ParamError("Invalid datadiskofferinglist: keys disk and diskOffering are required")
        disks[disk] = access.resolve(ctx.session, ctx.caller, "DiskOffering", do, "read")
    nets: dict[str, Network] = {}
    for m in p.nicnetworklist or []:
        nic, net = m.get("nic"), m.get("network")
        if not nic or not net:
            raise ParamError("Invalid nicnetworklist: keys nic and network are required")
        nets[nic] = access.resolve(ctx.session, ctx.caller, "Network", net, "read")
    details = {k: v for m in p.details or [] for k, v in m.items()}
    return disks, nets, details


@api_command("importUnmanagedInstance", params=ImportInstanceParams, is_async=True, result_key="virtualmachine",
             response=VirtualMachineResp, roles=ADMIN, entity="VirtualMachine", event="VM.IMPORT", since="4.14.0",
             description="Import unmanaged virtual machine from a given cluster.")
def import_unmanaged_instance(ctx: CallContext, p: ImportInstanceParams) -> VirtualMachineResp:
    owner = access.owner_for(ctx.session, ctx.caller, p.account, p.domainid)
    disks, nets, details = _maps(ctx, p)
    uuid = svc.import_instance(ctx.runtime, ctx.session, ctx.refs["clusterid"], p.name, owner=owner,
                               offering=ctx.refs["serviceofferingid"], template=ctx.refs.get("templateid"),
                               display_name=p.displayname, hostname=p.hostname, details=details,
                               disk_offerings=disks, networks=nets)
    ctx.session.expire_all()
    vm = ctx.session.query(VirtualMachine).filter(VirtualMachine.uuid == uuid).one()
    return vm_response(ctx, vm)


class UnmanageParams(Params):
    id: Annotated[str, Ref("VirtualMachine")] = Field(description="The ID of the virtual machine to unmanage")
    hostid: Annotated[str | None, Ref("Host", "read")] = Field(
        None, description="ID of the host which will be used for unmanaging the Instance. Applicable only for KVM "
        "hypervisor and stopped Instances. Domain XML will be stored on this host.")
    forced: bool = Field(False, description="Force unmanaging Instance with config drive. Applicable only for KVM "
                         "Hypervisor.")


@api_command("unmanageVirtualMachine", params=UnmanageParams, is_async=True, result_key="virtualmachine",
             response=UnmanageVmResp, roles=ADMIN, entity="VirtualMachine", event="VM.UNMANAGE", since="4.15.0",
             description="Unmanage a guest virtual machine.")
def unmanage_vm(ctx: CallContext, p: UnmanageParams) -> UnmanageVmResp:
    vm_id = ctx.refs["id"].id
    ctx.session.commit()
    host = svc.unmanage(ctx.runtime, vm_id)
    return UnmanageVmResp(success=True, details="VM unmanaged successfully", hostid=host.uuid if host else None)


class ListVmsForImportParams(ListParams):
    zoneid: Annotated[str, Ref("Zone", "read")] = Field(description="the zone ID")
    username: str | None = Field(None, description="the username for the host")
    password: str | None = Field(None, description="the password for the host")
    host: str = Field(description="the host name or IP address")
    hypervisor: str = Field(description="hypervisor type of the host")


def _external(hypervisor: str, host: str) -> ParamError:
    if hypervisor.upper() != "KVM":
        return ParamError(f"Hypervisor {hypervisor} is not supported for listing VMs for import: KVM only")
    return ParamError(f"Unable to connect to the host {host} to list its instances: this server reaches only the "
                      "KVM hosts of its clusters (use listUnmanagedInstances with the host's cluster)")


@api_command("listVmsForImport", params=ListVmsForImportParams, result_key="unmanagedinstance",
             response=UnmanagedInstanceResp, roles=ADMIN, since="4.19.0",
             description="Lists virtual machines on a unmanaged host")
def list_vms_for_import(ctx: CallContext, p: ListVmsForImportParams) -> ListResult:
    raise _external(p.hypervisor, p.host)


class ImportVmParams(ImportInstanceParams):
    zoneid: Annotated[str, Ref("Zone", "read")] = Field(description="the zone ID")
    username: str | None = Field(None, description="the username for the host")
    password: str | None = Field(None, description="the password for the host")
    host: str | None = Field(None, description="the host name or IP address")
    hypervisor: str = Field(description="hypervisor type of the host")
    diskpath: str | None = Field(None, description="path of the disk image")
    importsource: str = Field(description="Source location for Import")
    networkid: Annotated[str | None, Ref("Network", "read")] = Field(None, description="the network ID")
    hostid: Annotated[str | None, Ref("Host", "read")] = Field(None, description="Host where local disk is located")
    storageid: Annotated[str | None, Ref("StoragePool", "read")] = Field(
        None, description="Shared storage pool where disk is located")
    temppath: str | None = Field(None, description="Temp Path on external host for disk image copy")
    existingvcenterid: Uuid | None = Field(None, description="UUID of a linked existing vCenter")
    hostip: str | None = Field(None, description="(only for importing VMs from VMware to KVM) optional - the host "
                               "name or IP of the ESXi host in the vCenter")
    vcenter: str | None = Field(None, description="The name/ip of vCenter. Make sure it is IP address or full "
                                "qualified domain name for host running vCenter server.")
    datacentername: str | None = Field(None, description="(only for importing VMs from VMware to KVM) Name of "
                                       "VMware datacenter.")
    clustername: str | None = Field(None, description="(only for importing VMs from VMware to KVM) Name of VMware "
                                    "cluster.")
    convertinstancehostid: Annotated[str | None, Ref("Host", "read")] = Field(
        None, description="(only for importing VMs from VMware to KVM) optional - the host to perform the virt-v2v "
        "conversion from VMware to KVM.")
    importinstancehostid: Annotated[str | None, Ref("Host", "read")] = Field(
        None, description="(only for importing VMs from VMware to KVM) optional - the host to import the converted "
        "instance from VMware to KVM.")
    convertinstancepoolid: Annotated[str | None, Ref("StoragePool", "read")] = Field(
        None, description="(only for importing VMs from VMware to KVM) optional - the temporary primary storage "
        "pool on which the converted instance disks are stored.")
    forcemstoimportvmfiles: bool = Field(False, description="(only for importing VMs from VMware to KVM) optional "
                                         "- if true, forces MS to export OVF from VMware to temporary storage")
    extraparams: str | None = Field(None, description="(only for importing VMs from VMware to KVM) optional - the "
                                    "string containing extra parameters for the virt-v2v conversion")
    forceconverttopool: bool = Field(False, description="(only for importing VMs from VMware to KVM) optional - if "
                                     "true, forces virt-v2v to convert the instance to the pool")


@api_command("importVm", params=ImportVmParams, is_async=True, result_key="virtualmachine",
             response=VirtualMachineResp, roles=ADMIN, entity="VirtualMachine", event="VM.IMPORT", since="4.19.0",
             description="Import virtual machine from a unmanaged host into CloudStack")
def import_vm(ctx: CallContext, p: ImportVmParams) -> VirtualMachineResp:
    source = p.importsource.lower()
    if source not in ("vmware", "external", "local", "shared"):
        raise ParamError(f"Unsupported import source {p.importsource}: vmware, external, local or shared")
    if source == "vmware":
        raise ParamError("Importing VMs from VMware needs a vCenter and virt-v2v on the KVM hosts; neither exists "
                         "here")
    if source == "external":
        raise _external(p.hypervisor, p.host or "")
    raise ParamError(f"Importing a VM from a {source} disk image is done here in two steps: importVolume (the disk "
                     "image of the pool becomes a volume), then a VM from it; use importUnmanagedInstance for a "
                     "domain of a KVM host of the cluster")


class ListImportVmTasksParams(ListParams):
    zoneid: Annotated[str, Ref("Zone", "read")] = Field(description="the zone ID")
    accountid: Annotated[str | None, Ref("Account", "read")] = Field(None, description="the account ID")
    vcenter: str | None = Field(None, description="the vCenter name")
    convertinstancehostid: Annotated[str | None, Ref("Host", "read")] = Field(
        None, description="the host converting the instance")
    tasksfilter: str | None = Field(None, description="Filter tasks by state: running, completed")


@api_command("listImportVmTasks", params=ListImportVmTasksParams, result_key="importvmtask",
             response=ImportVmTaskResp, roles=ADMIN, since="4.22",
             description="List running import VM tasks (conversions of VMware instances; none run here)")
def list_import_vm_tasks(ctx: CallContext, p: ListImportVmTasksParams) -> ListResult:
    rows: list[Any] = []
    return ListResult(rows, 0)
