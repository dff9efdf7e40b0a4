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
