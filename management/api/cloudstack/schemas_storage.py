"""Response objects of the storage family's administration, backup, object storage, schedule and import
commands (field names are CloudStack's wire names)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from management.api.cloudstack.schemas import Resp


class JobResp(Resp):
    """BaseResponse's fields: an object with a pending job names it."""

    jobid: str | None = Field(None, description="the UUID of the latest async job acting on this object")
    jobstatus: int | None = Field(None, description="the current status of the latest async job acting on this "
                                  "object")


class StorageTagResp(JobResp):
    id: str = Field(description="the ID of the storage tag")
    poolid: str = Field(description="the pool ID of the storage tag")
    name: str = Field(description="the name of the storage tag")


class HostTagResp(JobResp):
    id: str = Field(description="the ID of the host tag")
    hostid: str = Field(description="the host ID of the host tag")
    name: str = Field(description="the name of the host tag")
    isimplicit: bool = Field(False, description="true if the host tag is implicit (set by the host itself)")


class StorageAccessGroupResp(JobResp):
    id: str = Field(description="the ID of the storage access group")
    name: str = Field(description="the name of the storage access group")
    hosts: list[dict[str, Any]] | None = Field(None, description="hosts in this storage access group")
    clusters: list[dict[str, Any]] | None = Field(None, description="clusters in this storage access group")
    pods: list[dict[str, Any]] | None = Field(None, description="pods in this storage access group")
    zones: list[dict[str, Any]] | None = Field(None, description="zones in this storage access group")
    storagepools: list[dict[str, Any]] | None = Field(None, description="storage pools in this storage access "
                                                      "group")


class DataStoreObjectResp(JobResp):
    name: str = Field(description="name of the data store object")
    isdirectory: bool = Field(description="true if it is a directory")
    size: int | None = Field(None, description="size of the data store object in bytes")
    templateid: str | None = Field(None, description="template ID associated with the data store object")
    templatename: str | None = Field(None, description="template name associated with the data store object")
    format: str | None = Field(None, description="format of template/snapshot/volume in the data store object")
    snapshotid: str | None = Field(None, description="snapshot ID associated with the data store object")
    snapshotname: str | None = Field(None, description="snapshot name associated with the data store object")
    volumeid: str | None = Field(None, description="volume ID associated with the data store object")
    volumename: str | None = Field(None, description="volume name associated with the data store object")
    lastupdated: datetime | None = Field(None, description="last modified date of the data store object")


class SecondaryStorageSelectorResp(JobResp):
    id: str = Field(description="ID of the heuristic")
    name: str = Field(description="name of the heuristic")
    description: str = Field(description="description of the heuristic")
    zoneid: str = Field(description="the zone the heuristic is valid in")
    type: str = Field(description="the resource type directed to a specific secondary storage by the selector")
    heuristicrule: str = Field(description="the heuristic rule, in JavaScript, that chooses a secondary storage")
    created: datetime = Field(description="when the heuristic was created")
    removed: datetime | None = Field(None, description="when the heuristic was removed")


class MigrationResp(JobResp):
    message: str = Field(description="response message from the migration of secondary storage data objects")
    migrationtype: str = Field(description="the type of data migration")
    success: bool = Field(description="true if the migration succeeded")


class AffectedVmResp(JobResp):
    id: str = Field(description="the ID of the VM")
    type: str = Field(description="the type of VM")
    name: str = Field(description="the name of the VM")
    clusterid: str | None = Field(None, description="the cluster ID for the VM")
    clustername: str | None = Field(None, description="the cluster name for the VM")
    hostid: str | None = Field(None, description="the host ID for the VM")
    hostname: str | None = Field(None, description="the hostname for the VM")


class SharedFSResp(JobResp):
    id: str = Field(description="ID of the shared filesystem")
    name: str = Field(description="name of the shared filesystem")
    description: str | None = Field(None, description="description of the shared filesystem")
    zoneid: str | None = Field(None, description="ID of the availability zone")
    zonename: str | None = Field(None, description="Name of the availability zone")
    virtualmachineid: str | None = Field(None, description="ID of the storage fs vm")
    vmstate: str | None = Field(None, description="ID of the storage fs vm")
    volumename: str | None = Field(None, description="name of the storage fs data volume")
    volumeid: str | None = Field(None, description="ID of the storage fs data volume")
    storage: str | None = Field(None, description="name of the storage pool hosting the data volume")
    storageid: str | None = Field(None, description="ID of the storage pool hosting the data volume")
    size: int | None = Field(None, description="size of the shared filesystem")
    sizegb: str | None = Field(None, description="size of the shared filesystem in GiB")
    diskofferingid: str | None = Field(None, description="disk offering ID for the shared filesystem")
    diskofferingname: str | None = Field(None, description="disk offering for the shared filesystem")
    iscustomdiskoffering: bool | None = Field(None, description="disk offering for the shared filesystem has "
                                              "custom size")
    diskofferingdisplaytext: str | None = Field(None, description="disk offering display text for the shared "
                                                "filesystem")
    serviceofferingid: str | None = Field(None, description="service offering ID for the shared filesystem")
    serviceofferingname: str | None = Field(None, description="service offering for the shared filesystem")
    networkid: str | None = Field(None, description="Network ID of the shared filesystem")
    networkname: str | None = Field(None, description="Network name of the shared filesystem")
    nic: list[dict[str, Any]] | None = Field(None, description="the list of nics associated with the shared "
                                             "filesystem")
    path: str | None = Field(None, description="path to mount the shared filesystem")
    state: str | None = Field(None, description="the state of the shared filesystem")
    provider: str | None = Field(None, description="name of the storage fs data volume")
    filesystem: str | None = Field(None, description="file system type of the shared filesystem")
    account: str | None = Field(None, description="the account associated with the shared filesystem")
    projectid: str | None = Field(None, description="the project ID of the shared filesystem")
    project: str | None = Field(None, description="the project name of the shared filesystem")
    domainid: str | None = Field(None, description="the domain ID of the shared filesystem")
    domain: str | None = Field(None, description="the domain associated with the shared filesystem")
    domainpath: str | None = Field(None, description="path of the domain to which the shared filesystem belongs")
    provisioningtype: str | None = Field(None, description="provisioning type used in the shared filesystem")
    diskioread: int | None = Field(None, description="the read (IO) of disk on the shared filesystem")
    diskiowrite: int | None = Field(None, description="the write (IO) of disk on the shared filesystem")
    diskkbsread: int | None = Field(None, description="the shared filesystem's disk read in KiB")
    diskkbswrite: int | None = Field(None, description="the shared filesystem's disk write in KiB")
    virtualsize: int | None = Field(None, description="the bytes allocated")
    physicalsize: int | None = Field(None, description="the bytes actually consumed on disk")
    utilization: str | None = Field(None, description="the disk utilization")
    tags: list[dict[str, Any]] | None = Field(None, description="the list of resource tags associated")
    hasannotations: bool | None = Field(None, description="whether the shared filesystem has annotations")


class SharedFSProviderResp(JobResp):
    name: str = Field(description="the name of the shared filesystem provider")


class VmScheduleResp(JobResp):
    id: str = Field(description="the ID of VM schedule")
    virtualmachineid: str = Field(description="ID of virtual machine")
    description: str | None = Field(None, description="Description of VM schedule")
    schedule: str = Field(description="Cron formatted VM schedule")
    timezone: str = Field(description="Timezone of the schedule")
    action: str = Field(description="Action")
    enabled: bool = Field(description="VM schedule is enabled")
    startdate: datetime = Field(description="Date from which the schedule is active")
    enddate: datetime | None = Field(None, description="Date after which the schedule becomes inactive")
    created: datetime = Field(description="Date when the schedule was created")


class BackupRepositoryResp(JobResp):
    id: str = Field(description="the ID of the backup repository")
    zoneid: str = Field(description="the Zone ID of the backup repository")
    zonename: str = Field(description="the Zone name of the backup repository")
    name: str = Field(description="the name of the backup repository")
    address: str = Field(description="the address / url of the backup repository")
    provider: str = Field(description="name of the provider")
    type: str = Field(description="backup type")
    capacitybytes: int | None = Field(None, description="capacity of the backup repository")
    crosszoneinstancecreation: bool = Field(False, description="the backups in this repository can be used to "
                                            "create Instances on all Zones")
    created: datetime = Field(description="the date and time the backup repository was added")


class BackupOfferingResp(JobResp):
    id: str | None = Field(None, description="ID of the backup offering")
    name: str = Field(description="name for the backup offering")
    description: str | None = Field(None, description="description for the backup offering")
    provider: str | None = Field(None, description="provider name")
    externalid: str = Field(description="external ID on the provider side")
    allowuserdrivenbackups: bool | None = Field(None, description="whether offering allows user driven ad-hoc/"
                                                "scheduled backups")
    zoneid: str | None = Field(None, description="zone ID")
    zonename: str | None = Field(None, description="zone name")
    crosszoneinstancecreation: bool | None = Field(None, description="the backups with this offering can be used "
                                                   "to create Instances on all Zones")
    created: datetime | None = Field(None, description="the date this backup offering was created")


class BackupProviderResp(JobResp):
    name: str = Field(description="the CA service provider name")
    description: str = Field(description="the description of the provider")


class BackupResp(JobResp):
    id: str | None = Field(None, description="ID of the VM backup")
    name: str | None = Field(None, description="name of the backup")
    description: str | None = Field(None, description="description for the backup")
    virtualmachineid: str | None = Field(None, description="ID of the VM")
    virtualmachinename: str | None = Field(None, description="name of the VM")
    externalid: str | None = Field(None, description="external backup id")
    type: str | None = Field(None, description="backup type")
    created: datetime | None = Field(None, description="backup date")
    size: int | None = Field(None, description="backup size in bytes")
    virtualsize: int | None = Field(None, description="backup protected (virtual) size in bytes")
    status: str | None = Field(None, description="backup status")
    volumes: str | None = Field(None, description="backed up volumes")
    backupofferingid: str | None = Field(None, description="backup offering id")
    backupofferingname: str | None = Field(None, description="backup offering name")
    accountid: str | None = Field(None, description="account id")
    account: str | None = Field(None, description="account name")
    domainid: str | None = Field(None, description="domain id")
    domain: str | None = Field(None, description="domain name")
    zoneid: str | None = Field(None, description="zone id")
    zone: str | None = Field(None, description="zone name")
    vmdetails: dict[str, str] | None = Field(None, description="Lists the vm specific details for the backup")
    intervaltype: str | None = Field(None, description="Interval type of the backup")
    vmbackupofferingremoved: bool | None = Field(None, description="The backup offering corresponding to this "
                                                 "backup was removed from the VM")
    isbackupvmexpunged: bool | None = Field(None, description="Indicates whether the VM from which the backup was "
                                            "taken is expunged or not")


class BackupScheduleResp(JobResp):
    id: str = Field(description="ID of the backup schedule.")
    virtualmachinename: str = Field(description="name of the VM")
    virtualmachineid: str = Field(description="ID of the VM")
    schedule: str = Field(description="time the backup is scheduled to be taken.")
    intervaltype: str = Field(description="the interval type of the backup schedule")
    timezone: str = Field(description="the time zone of the backup schedule")
    maxbackups: int | None = Field(None, description="maximum number of backups retained")
    quiescevm: bool | None = Field(None, description="quiesce the instance before checkpointing the disks for "
                                   "backup")


class ObjectStoreResp(JobResp):
    id: str = Field(description="the ID of the object store")
    name: str = Field(description="the name of the object store")
    url: str = Field(description="the url of the object store")
    providername: str = Field(description="the provider name of the object store")
    storagetotal: int | None = Field(None, description="the total size of the object store")
    storageallocated: int | None = Field(None, description="the allocated size of the object store")
    storageused: int | None = Field(None, description="the object store currently used size")
    hasannotations: bool | None = Field(None, description="whether the object store has annotations")


class BucketResp(JobResp):
    id: str = Field(description="ID of the Bucket")
    name: str = Field(description="name of the Bucket")
    created: datetime = Field(description="the date the Bucket was created")
    account: str | None = Field(None, description="the account associated with the Bucket")
    projectid: str | None = Field(None, description="the project id of the bucket")
    project: str | None = Field(None, description="the project name of the bucket")
    domainid: str | None = Field(None, description="the ID of the domain associated with the bucket")
    domain: str | None = Field(None, description="the domain associated with the bucket")
    domainpath: str | None = Field(None, description="path of the domain to which the bucket belongs")
    objectstorageid: str = Field(description="id of the object storage hosting the Bucket; returned to admin user "
                                 "only")
    objectstore: str = Field(description="Name of the object storage hosting the Bucket; returned to admin user "
                             "only")
    size: int | None = Field(None, description="Total size of objects in Bucket")
    state: str = Field(description="State of the Bucket")
    quota: int | None = Field(None, description="Bucket Quota in GiB")
    encryption: bool = Field(False, description="Bucket Encryption")
    versioning: bool = Field(False, description="Bucket Versioning")
    objectlocking: bool = Field(False, description="Bucket Object Locking")
    policy: str | None = Field(None, description="Bucket Access Policy")
    url: str | None = Field(None, description="Bucket URL")
    accesskey: str | None = Field(None, description="Bucket Access Key")
    usersecretkey: str | None = Field(None, description="Bucket Secret Key")
    provider: str | None = Field(None, description="Object storage provider")
    tags: list[dict[str, Any]] | None = Field(None, description="the list of resource tags associated")
    hasannotations: bool | None = Field(None, description="whether the bucket has annotations")


class VolumeForImportResp(JobResp):
    name: str = Field(description="the name of the volume")
    path: str = Field(description="the path of the volume")
    fullpath: str | None = Field(None, description="the full path of the volume")
    format: str | None = Field(None, description="the format of the volume")
    size: int | None = Field(None, description="the size of the volume")
    virtualsize: int | None = Field(None, description="the virtual size of the volume")
    encryptformat: str | None = Field(None, description="the encrypt format of the volume")
    storageid: str = Field(description="id of the primary storage hosting the volume")
    storage: str = Field(description="name of the primary storage hosting the volume")
    storagetype: str = Field(description="type of the primary storage hosting the volume")
    details: dict[str, str] | None = Field(None, description="volume details in key/value pairs.")
    chaininfo: str | None = Field(None, description="the chain info of the volume")


class UnmanagedInstanceResp(JobResp):
    name: str = Field(description="the name of the virtual machine")
    clusterid: str | None = Field(None, description="the ID of the cluster to which virtual machine belongs")
    clustername: str | None = Field(None, description="the name of the cluster to which virtual machine belongs")
    hostid: str | None = Field(None, description="the ID of the host to which virtual machine belongs")
    hostname: str | None = Field(None, description="the name of the host to which virtual machine belongs")
    powerstate: str = Field(description="the power state of the virtual machine")
    cpunumber: int | None = Field(None, description="the CPU cores of the virtual machine")
    cpucorepersocket: int | None = Field(None, description="the CPU cores per socket for the virtual machine")
    cpuspeed: int | None = Field(None, description="the CPU speed of the virtual machine")
    memory: int | None = Field(None, description="the memory of the virtual machine in MB")
    osid: str | None = Field(None, description="the operating system ID of the virtual machine")
    osdisplayname: str | None = Field(None, description="the operating system of the virtual machine")
    bootmode: str | None = Field(None, description="indicates the boot mode")
    boottype: str | None = Field(None, description="indicates the boot type")
    disk: list[dict[str, Any]] = Field(default_factory=list, description="the list of disks associated with the "
                                       "virtual machine")
    nic: list[dict[str, Any]] = Field(default_factory=list, description="the list of nics associated with the "
                                      "virtual machine")


class UnmanageVmResp(JobResp):
    success: bool = Field(description="result of the unmanage VM operation")
    details: str | None = Field(None, description="details of the unmanage VM operation")
    hostid: str | None = Field(None, description="The ID of the host where the instance was left")


class ImportVmTaskResp(JobResp):
    id: str = Field(description="the ID of the task")
    zoneid: str | None = Field(None, description="the zone ID")
    zonename: str | None = Field(None, description="the zone name")
    account: str | None = Field(None, description="the account name")
    accountid: str | None = Field(None, description="the account ID")
    virtualmachineid: str | None = Field(None, description="the ID of the imported VM")
    displayname: str | None = Field(None, description="the display name of the imported VM")
    state: str | None = Field(None, description="the state of the task")
    vcenter: str | None = Field(None, description="the vCenter name")
    datacentername: str | None = Field(None, description="the vCenter datacenter name")
    sourcevmname: str | None = Field(None, description="the source VM name")
    step: str | None = Field(None, description="the current step of the task")
    stepduration: str | None = Field(None, description="the duration of the current step")
    duration: str | None = Field(None, description="the duration of the task")
    description: str | None = Field(None, description="the description of the task")
    convertinstancehostid: str | None = Field(None, description="the host converting the instance")
    convertinstancehostname: str | None = Field(None, description="the name of the host converting the instance")
    created: datetime | None = Field(None, description="when the task was created")
    lastupdated: datetime | None = Field(None, description="when the task was last updated")


class DirectDownloadCertificateResp(JobResp):
    id: str = Field(description="the direct download certificate id")
    alias: str = Field(description="the direct download certificate alias")
    zoneid: str = Field(description="the zone id where the certificate is uploaded")
    zonename: str = Field(description="the zone name where the certificate is uploaded")
    version: str | None = Field(None, description="the direct download certificate version")
    subject: str | None = Field(None, description="the direct download certificate subject")
    issuer: str | None = Field(None, description="the direct download certificate issuer")
    validity: str | None = Field(None, description="the direct download certificate issuer")
    serialnum: str | None = Field(None, description="the direct download certificate serial num")
    hypervisor: str = Field(description="the hypervisor of the hosts where the certificate is uploaded")
    hostsmap: list[dict[str, Any]] | None = Field(None, description="the hosts where the certificate is uploaded "
                                                  "to")


class DirectDownloadCertificateHostStatusResp(JobResp):
    hostid: str = Field(description="the ID of the host")
    hostname: str = Field(description="the name of the host")
    status: bool = Field(description="indicates if the certificate has been revoked from the host, failed or "
                         "skipped")
    details: str | None = Field(None, description="indicates the details in case of failure or host skipped")
