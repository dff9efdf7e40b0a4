"""Response objects of affinity groups, VM snapshots, snapshot policies, NIC secondary IPs, migration and
transfers (extract / upload); CloudStack wire names."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from management.api.cloudstack.schemas import Resp, TagResp
from management.api.cloudstack.schemas_infra import HostResp, StoragePoolResp
from management.api.cloudstack.schemas_storage import JobResp


class AffinityGroupResp(JobResp):
    id: str = Field(description="the ID of the affinity group")
    name: str = Field(description="the name of the affinity group")
    description: str | None = Field(None, description="the description of the affinity group")
    account: str | None = Field(None, description="the account owning the affinity group")
    domainid: str | None = Field(None, description="the domain ID of the affinity group")
    domain: str | None = Field(None, description="the domain name of the affinity group")
    domainpath: str | None = Field(None, description="path of the Domain the affinity group belongs to")
    projectid: str | None = Field(None, description="the project ID of the affinity group")
    project: str | None = Field(None, description="the project name of the affinity group")
    type: str = Field(description="the type of the affinity group")
    virtualmachineIds: list[str] = Field(default_factory=list, description="virtual machine IDs associated with "
                                         "this affinity group")
    dedicatedresources: list[str] | None = Field(None, description="dedicated resources associated with this "
                                                 "affinity group (none: no resource is dedicated here)")


class AffinityGroupTypeResp(JobResp):
    type: str = Field(description="the type of the affinity group")


class VMSnapshotResp(JobResp):
    id: str = Field(description="the ID of the vm snapshot")
    name: str = Field(description="the name of the vm snapshot")
    state: str = Field(description="the state of the vm snapshot")
    description: str | None = Field(None, description="the description of the vm snapshot")
    displayname: str = Field(description="the display name of the vm snapshot")
    zoneid: str | None = Field(None, description="the Zone ID of the vm snapshot")
    zonename: str | None = Field(None, description="the Zone name of the vm snapshot")
    virtualmachineid: str = Field(description="the vm ID of the vm snapshot")
    virtualmachinename: str | None = Field(None, description="the vm name of the vm snapshot")
    parent: str | None = Field(None, description="the parent ID of the vm snapshot")
    parentName: str | None = Field(None, description="the parent displayName of the vm snapshot")
    current: bool = Field(False, description="indicates if this is current snapshot")
    type: str = Field(description="VM Snapshot type")
    created: datetime | None = Field(None, description="the create date of the vm snapshot")
    account: str | None = Field(None, description="the account associated with the disk volume")
    domainid: str | None = Field(None, description="the ID of the domain associated with the disk volume")
    domain: str | None = Field(None, description="the domain associated with the disk volume")
    domainpath: str | None = Field(None, description="path of the domain to which the disk volume belongs")
    hypervisor: str | None = Field(None, description="the type of hypervisor on which snapshot is stored")
    projectid: str | None = Field(None, description="the project ID of the vm snapshot")
    project: str | None = Field(None, description="the project name of the vm snapshot")
    hasannotations: bool = Field(False, description="whether this VM snapshot has any annotations")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated")


class SnapshotPolicyResp(JobResp):
    id: str = Field(description="the ID of the snapshot policy")
    volumeid: str = Field(description="the ID of the disk volume")
    volumename: str | None = Field(None, description="the name of the disk volume")
    schedule: str = Field(description="time the snapshot is scheduled to be taken.")
    intervaltype: int = Field(description="the interval type of the snapshot policy")
    maxsnaps: int = Field(description="maximum number of snapshots retained")
    timezone: str = Field(description="the time zone of the snapshot policy")
    fordisplay: bool = Field(True, description="is this policy for display to the regular user")
    tags: list[TagResp] = Field(default_factory=list, description="the list of resource tags associated")
    zone: list[dict[str, str]] | None = Field(None, description="the zones the snapshots are copied to (none: "
                                              "snapshots stay in the volume's zone)")
    storage: list[dict[str, str]] | None = Field(None, description="the storage pools the snapshots are copied "
                                                 "to (none here)")
    hasannotations: bool = Field(False, description="whether this policy has any annotations")


class NicSecondaryIpResp(JobResp):
    id: str = Field(description="the ID of the secondary private IP addr")
    ipaddress: str = Field(description="Secondary IP address")
    nicid: str | None = Field(None, description="the ID of the nic")
    networkid: str | None = Field(None, description="the ID of the network")
    virtualmachineid: str | None = Field(None, description="the ID of the vm")
    secondaryip: list[dict[str, str]] | None = Field(None, description="the list of Secondary ipv4 addr of nic")


class UploadParamsResp(Resp):
    id: str = Field(description="the template/volume ID")
    postURL: str = Field(description="POST url to upload the file to")
    metadata: str = Field(description="encrypted data to be sent in the POST request.")
    expires: str = Field(description="the timestamp after which the signature expires")
    signature: str = Field(description="signature to be sent in the POST request.")


class HostForMigrationResp(HostResp):
    requiresStorageMotion: bool = Field(False, description="true if migrating a vm to this host requires storage "
                                        "motion, false otherwise")
    suitableformigration: bool = Field(False, description="true if this host is suitable(has enough capacity and "
                                       "satisfies all conditions like hosttags, max guests vm limit etc) to migrate "
                                       "a VM to it , false otherwise")


class StoragePoolForMigrationResp(StoragePoolResp):
    suitableformigration: bool = Field(False, description="true if this pool is suitable to migrate a volume, false "
                                       "otherwise")
