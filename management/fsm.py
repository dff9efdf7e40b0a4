"""CloudStack's state machines, transcribed, and the ONE writer of `state` columns.

State names are CloudStack's exact spellings (clients compare strings: Libcloud's NODE_STATE_MAP, Ansible's
cs_instance). Each machine is a table `(state, event) -> state`; `next_state(kind, state, event)` reads it and
raises `InvalidStateTransition` (431) with CloudStack's wording. `transition(session, row, event)` persists a
transition with a compare-and-swap on `update_count` (CloudStack's `update_count`, Nova's
`expected_task_state`): `UPDATE <table> SET state=:new, update_count=update_count+1 WHERE id=:id AND state=:old
AND update_count=:seen`; no row changed means someone else moved the entity first -> `ConcurrentOperation`.

A self-loop in a table (StopRequested on a Stopped VM, ...) and the explicit `NOOPS` (StartRequested on a Running
VM, ...) succeed without writing: repeating an operation that already holds is not an error.

Sources: VirtualMachine.java (VirtualMachine.State.s_fsm), Volume.java (Volume.State.s_fsm), Snapshot.java,
ObjectInDataStoreStateMachine.java (template store refs), Network.java (Network.State.s_fsm), Status.java (hosts).
A virtual router is a VM in CloudStack (DomainRouterVO extends VMInstanceVO) and uses the VM table.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from management.db.prepared import prepared
from management.errors import ConcurrentOperation, InvalidStateTransition


class Kind(StrEnum):
    VM = "VM"
    ROUTER = "Router"
    VOLUME = "Volume"
    SNAPSHOT = "Snapshot"
    TEMPLATE = "Template"  # a template's copy on a store (template_store_ref.state)
    NETWORK = "Network"
    HOST = "Host"
    VM_SNAPSHOT = "VMSnapshot"


# --------------------------------------------------------------------------------------------------- VM / Router
class VmState(StrEnum):
    Starting = "Starting"
    Running = "Running"
    Stopping = "Stopping"
    Stopped = "Stopped"
    Destroyed = "Destroyed"
    Expunging = "Expunging"
    Migrating = "Migrating"
    Error = "Error"
    Unknown = "Unknown"
    Shutdown = "Shutdown"


class VmEvent(StrEnum):
    # requests
    CreateRequested = "CreateRequested"
    StartRequested = "StartRequested"
    StopRequested = "StopRequested"
    RebootRequested = "RebootRequested"
    DestroyRequested = "DestroyRequested"
    RecoveryRequested = "RecoveryRequested"
    ExpungeOperation = "ExpungeOperation"
    MigrationRequested = "MigrationRequested"
    StorageMigrationRequested = "StorageMigrationRequested"
    # outcomes
    OperationSucceeded = "OperationSucceeded"
    OperationFailed = "OperationFailed"
    OperationRetry = "OperationRetry"
    # hypervisor reports
    AgentReportRunning = "AgentReportRunning"
    AgentReportStopped = "AgentReportStopped"
    AgentReportShutdowned = "AgentReportShutdowned"
    AgentReportMigrated = "AgentReportMigrated"
    FollowAgentPowerOnReport = "FollowAgentPowerOnReport"
    FollowAgentPowerOffReport = "FollowAgentPowerOffReport"


VS, VE = VmState, VmEvent
TRANSITIONAL: Final = frozenset({VS.Starting, VS.Stopping, VS.Expunging, VS.Migrating})

VM_TRANSITIONS: Final[Mapping[tuple[VmState, VmEvent], VmState]] = {
    (VS.Stopped, VE.StartRequested): VS.Starting,
    (VS.Stopped, VE.DestroyRequested): VS.Destroyed,
    (VS.Stopped, VE.StopRequested): VS.Stopped,
    (VS.Stopped, VE.AgentReportStopped): VS.Stopped,
    (VS.Stopped, VE.OperationFailed): VS.Error,
    (VS.Stopped, VE.ExpungeOperation): VS.Expunging,
    (VS.Stopped, VE.AgentReportShutdowned): VS.Stopped,
    (VS.Stopped, VE.StorageMigrationRequested): VS.Migrating,
    (VS.Stopped, VE.FollowAgentPowerOnReport): VS.Running,
    (VS.Stopped, VE.FollowAgentPowerOffReport): VS.Stopped,
    (VS.Stopped, VE.AgentReportRunning): VS.Running,
    (VS.Starting, VE.OperationRetry): VS.Starting,
    (VS.Starting, VE.OperationSucceeded): VS.Running,
    (VS.Starting, VE.OperationFailed): VS.Stopped,
    (VS.Starting, VE.AgentReportRunning): VS.Running,
    (VS.Starting, VE.AgentReportStopped): VS.Stopped,
    (VS.Starting, VE.AgentReportShutdowned): VS.Stopped,
    (VS.Starting, VE.FollowAgentPowerOnReport): VS.Running,
    (VS.Starting, VE.FollowAgentPowerOffReport): VS.Starting,  # a start in progress owns the VM
    (VS.Destroyed, VE.RecoveryRequested): VS.Stopped,
    (VS.Destroyed, VE.ExpungeOperation): VS.Expunging,
    (VS.Destroyed, VE.DestroyRequested): VS.Destroyed,
    (VS.Destroyed, VE.FollowAgentPowerOffReport): VS.Destroyed,
    (VS.Running, VE.MigrationRequested): VS.Migrating,
    (VS.Running, VE.AgentReportRunning): VS.Running,
    (VS.Running, VE.AgentReportStopped): VS.Stopped,
    (VS.Running, VE.StopRequested): VS.Stopping,
    (VS.Running, VE.RebootRequested): VS.Running,
    (VS.Running, VE.AgentReportShutdowned): VS.Stopped,
    (VS.Running, VE.AgentReportMigrated): VS.Running,
    (VS.Running, VE.OperationSucceeded): VS.Running,
    (VS.Running, VE.FollowAgentPowerOnReport): VS.Running,
    (VS.Running, VE.FollowAgentPowerOffReport): VS.Stopped,
    (VS.Migrating, VE.MigrationRequested): VS.Migrating,
    (VS.Migrating, VE.OperationSucceeded): VS.Running,
    (VS.Migrating, VE.OperationFailed): VS.Running,
    (VS.Migrating, VE.AgentReportRunning): VS.Running,
    (VS.Migrating, VE.AgentReportStopped): VS.Stopped,
    (VS.Migrating, VE.AgentReportShutdowned): VS.Stopped,
    (VS.Migrating, VE.FollowAgentPowerOnReport): VS.Migrating,
    (VS.Migrating, VE.FollowAgentPowerOffReport): VS.Migrating,
    (VS.Stopping, VE.OperationSucceeded): VS.Stopped,
    (VS.Stopping, VE.OperationFailed): VS.Running,
    (VS.Stopping, VE.AgentReportRunning): VS.Running,
    (VS.Stopping, VE.AgentReportStopped): VS.Stopped,
    (VS.Stopping, VE.StopRequested): VS.Stopping,
    (VS.Stopping, VE.AgentReportShutdowned): VS.Stopped,
    (VS.Stopping, VE.FollowAgentPowerOnReport): VS.Stopping,
    (VS.Stopping, VE.FollowAgentPowerOffReport): VS.Stopped,
    (VS.Expunging, VE.OperationFailed): VS.Expunging,
    (VS.Expunging, VE.ExpungeOperation): VS.Expunging,
    (VS.Expunging, VE.OperationSucceeded): VS.Expunging,
    (VS.Error, VE.DestroyRequested): VS.Expunging,
    (VS.Error, VE.ExpungeOperation): VS.Expunging,
    (VS.Error, VE.StopRequested): VS.Stopped,
    (VS.Unknown, VE.AgentReportRunning): VS.Running,
    (VS.Unknown, VE.AgentReportStopped): VS.Stopped,
    (VS.Unknown, VE.FollowAgentPowerOnReport): VS.Running,
    (VS.Unknown, VE.FollowAgentPowerOffReport): VS.Stopped,
    (VS.Unknown, VE.StopRequested): VS.Stopped,
    (VS.Shutdown, VE.StartRequested): VS.Starting,
    (VS.Shutdown, VE.StopRequested): VS.Stopped,
    (VS.Shutdown, VE.AgentReportStopped): VS.Stopped,
    (VS.Shutdown, VE.FollowAgentPowerOffReport): VS.Stopped,
    (VS.Shutdown, VE.FollowAgentPowerOnReport): VS.Running,
}


# -------------------------------------------------------------------------------------------------------- Volume
class VolumeState(StrEnum):
    Allocated = "Allocated"
    Creating = "Creating"
    Ready = "Ready"
    Resizing = "Resizing"
    Migrating = "Migrating"
    Snapshotting = "Snapshotting"
    RevertSnapshotting = "RevertSnapshotting"
    Attaching = "Attaching"
    Copying = "Copying"
    Uploaded = "Uploaded"
    UploadOp = "UploadOp"
    NotUploaded = "NotUploaded"  # getUploadParamsForVolume: waiting for the POST
    UploadInProgress = "UploadInProgress"
    UploadError = "UploadError"
    UploadAbandoned = "UploadAbandoned"
    Destroy = "Destroy"
    Expunging = "Expunging"
    Expunged = "Expunged"


class VolumeEvent(StrEnum):
    CreateRequested = "CreateRequested"
    CopyRequested = "CopyRequested"
    ResizeRequested = "ResizeRequested"
    SnapshotRequested = "SnapshotRequested"
    RevertSnapshotRequested = "RevertSnapshotRequested"
    MigrationRequested = "MigrationRequested"
    AttachRequested = "AttachRequested"
    UploadRequested = "UploadRequested"
    DestroyRequested = "DestroyRequested"
    RecoverRequested = "RecoverRequested"
    ExpungingRequested = "ExpungingRequested"
    OperationRetry = "OperationRetry"
    OperationSucceeded = "OperationSucceeded"
    OperationFailed = "OperationFailed"


VoS, VoE = VolumeState, VolumeEvent
VOLUME_TRANSITIONS: Final[Mapping[tuple[VolumeState, VolumeEvent], VolumeState]] = {
    (VoS.Allocated, VoE.CreateRequested): VoS.Creating,
    (VoS.Allocated, VoE.DestroyRequested): VoS.Destroy,
    (VoS.Allocated, VoE.UploadRequested): VoS.UploadOp,
    (VoS.Allocated, VoE.OperationFailed): VoS.Allocated,
    (VoS.Allocated, VoE.ExpungingRequested): VoS.Expunging,
    (VoS.Creating, VoE.OperationRetry): VoS.Creating,
    (VoS.Creating, VoE.OperationFailed): VoS.Allocated,
    (VoS.Creating, VoE.OperationSucceeded): VoS.Ready,
    (VoS.Creating, VoE.DestroyRequested): VoS.Destroy,
    (VoS.Creating, VoE.CreateRequested): VoS.Creating,
    (VoS.Ready, VoE.ResizeRequested): VoS.Resizing,
    (VoS.Resizing, VoE.OperationSucceeded): VoS.Ready,
    (VoS.Resizing, VoE.OperationFailed): VoS.Ready,
    (VoS.Allocated, VoE.ResizeRequested): VoS.Allocated,  # only the row's size changes
    (VoS.UploadOp, VoE.DestroyRequested): VoS.Destroy,
    (VoS.UploadOp, VoE.OperationSucceeded): VoS.Uploaded,
    (VoS.UploadOp, VoE.OperationFailed): VoS.UploadError,
    (VoS.NotUploaded, VoE.UploadRequested): VoS.UploadInProgress,
    (VoS.NotUploaded, VoE.DestroyRequested): VoS.Destroy,
    (VoS.UploadInProgress, VoE.OperationSucceeded): VoS.Uploaded,
    (VoS.UploadInProgress, VoE.OperationFailed): VoS.UploadError,
    (VoS.UploadError, VoE.DestroyRequested): VoS.Destroy,
    (VoS.UploadAbandoned, VoE.DestroyRequested): VoS.Destroy,
    (VoS.Uploaded, VoE.CopyRequested): VoS.Copying,
    (VoS.Uploaded, VoE.DestroyRequested): VoS.Destroy,
    (VoS.Copying, VoE.OperationSucceeded): VoS.Ready,
    (VoS.Copying, VoE.OperationFailed): VoS.Uploaded,
    (VoS.Ready, VoE.DestroyRequested): VoS.Destroy,
    (VoS.Ready, VoE.SnapshotRequested): VoS.Snapshotting,
    (VoS.Snapshotting, VoE.OperationSucceeded): VoS.Ready,
    (VoS.Snapshotting, VoE.OperationFailed): VoS.Ready,
    (VoS.Ready, VoE.RevertSnapshotRequested): VoS.RevertSnapshotting,
    (VoS.RevertSnapshotting, VoE.OperationSucceeded): VoS.Ready,
    (VoS.RevertSnapshotting, VoE.OperationFailed): VoS.Ready,
    (VoS.Ready, VoE.MigrationRequested): VoS.Migrating,
    (VoS.Migrating, VoE.OperationSucceeded): VoS.Ready,
    (VoS.Migrating, VoE.OperationFailed): VoS.Ready,
    (VoS.Ready, VoE.AttachRequested): VoS.Attaching,
    (VoS.Attaching, VoE.OperationSucceeded): VoS.Ready,
    (VoS.Attaching, VoE.OperationFailed): VoS.Ready,
    (VoS.Destroy, VoE.DestroyRequested): VoS.Destroy,
    (VoS.Destroy, VoE.OperationSucceeded): VoS.Destroy,
    (VoS.Destroy, VoE.OperationFailed): VoS.Destroy,
    (VoS.Destroy, VoE.RecoverRequested): VoS.Ready,
    (VoS.Destroy, VoE.ExpungingRequested): VoS.Expunging,
    (VoS.Expunging, VoE.ExpungingRequested): VoS.Expunging,
    (VoS.Expunging, VoE.OperationSucceeded): VoS.Expunged,
    (VoS.Expunging, VoE.OperationFailed): VoS.Destroy,
    (VoS.Expunged, VoE.ExpungingRequested): VoS.Expunged,
    (VoS.Expunged, VoE.OperationSucceeded): VoS.Expunged,
    (VoS.Expunged, VoE.OperationFailed): VoS.Expunged,
}


# ------------------------------------------------------------------------------------------------------ Snapshot
class SnapshotState(StrEnum):
    Allocated = "Allocated"
    Creating = "Creating"
    CreatedOnPrimary = "CreatedOnPrimary"
    BackingUp = "BackingUp"
    BackedUp = "BackedUp"
    Copying = "Copying"
    Destroying = "Destroying"
    Destroyed = "Destroyed"
    Error = "Error"


class SnapshotEvent(StrEnum):
    CreateRequested = "CreateRequested"
    OperationNotPerformed = "OperationNotPerformed"
    BackupToSecondary = "BackupToSecondary"
    BackedupToSecondary = "BackedupToSecondary"
    DestroyRequested = "DestroyRequested"
    CopyingRequested = "CopyingRequested"
    OperationSucceeded = "OperationSucceeded"
    OperationFailed = "OperationFailed"


SS, SE = SnapshotState, SnapshotEvent
SNAPSHOT_TRANSITIONS: Final[Mapping[tuple[SnapshotState, SnapshotEvent], SnapshotState]] = {
    (SS.Allocated, SE.CreateRequested): SS.Creating,
    (SS.Allocated, SE.DestroyRequested): SS.Destroyed,
    (SS.Creating, SE.OperationSucceeded): SS.CreatedOnPrimary,
    (SS.Creating, SE.OperationNotPerformed): SS.BackedUp,
    (SS.Creating, SE.OperationFailed): SS.Error,
    (SS.CreatedOnPrimary, SE.BackupToSecondary): SS.BackingUp,
    (SS.CreatedOnPrimary, SE.OperationNotPerformed): SS.BackedUp,
    (SS.CreatedOnPrimary, SE.DestroyRequested): SS.Destroying,
    (SS.BackingUp, SE.OperationSucceeded): SS.BackedUp,
    (SS.BackingUp, SE.BackedupToSecondary): SS.BackedUp,
    (SS.BackingUp, SE.OperationFailed): SS.Error,
    (SS.BackedUp, SE.DestroyRequested): SS.Destroying,
    (SS.BackedUp, SE.CopyingRequested): SS.Copying,
    (SS.Copying, SE.OperationSucceeded): SS.BackedUp,
    (SS.Copying, SE.OperationFailed): SS.BackedUp,
    (SS.Destroying, SE.OperationSucceeded): SS.Destroyed,
    (SS.Destroying, SE.OperationFailed): SS.BackedUp,
    (SS.Destroying, SE.DestroyRequested): SS.Destroying,
    (SS.Error, SE.DestroyRequested): SS.Destroyed,
    (SS.Destroyed, SE.DestroyRequested): SS.Destroyed,
}


# ------------------------------------------------------------------------------ Template (copy on a data store)
class TemplateState(StrEnum):
    """ObjectInDataStoreStateMachine.State (template_store_ref.state)."""

    Allocated = "Allocated"
    Creating = "Creating"
    Created = "Created"
    Ready = "Ready"
    Copying = "Copying"
    Migrating = "Migrating"
    Destroying = "Destroying"
    Destroyed = "Destroyed"
    Failed = "Failed"


class TemplateEvent(StrEnum):
    CreateRequested = "CreateRequested"
    CreateOnlyRequested = "CreateOnlyRequested"
    CopyingRequested = "CopyingRequested"
    MigrationRequested = "MigrationRequested"
    DestroyRequested = "DestroyRequested"
    ExpungeRequested = "ExpungeRequested"
    OperationSuccessed = "OperationSuccessed"  # sic, CloudStack's spelling
    OperationFailed = "OperationFailed"


TS, TE = TemplateState, TemplateEvent
TEMPLATE_TRANSITIONS: Final[Mapping[tuple[TemplateState, TemplateEvent], TemplateState]] = {
    (TS.Allocated, TE.CreateRequested): TS.Creating,
    (TS.Allocated, TE.CreateOnlyRequested): TS.Creating,
    (TS.Allocated, TE.DestroyRequested): TS.Destroying,
    (TS.Allocated, TE.OperationFailed): TS.Failed,
    (TS.Creating, TE.OperationFailed): TS.Allocated,
    (TS.Creating, TE.OperationSuccessed): TS.Ready,
    (TS.Creating, TE.DestroyRequested): TS.Destroying,
    (TS.Created, TE.OperationSuccessed): TS.Ready,
    (TS.Created, TE.OperationFailed): TS.Failed,
    (TS.Ready, TE.CopyingRequested): TS.Copying,
    (TS.Copying, TE.OperationSuccessed): TS.Ready,
    (TS.Copying, TE.OperationFailed): TS.Ready,
    (TS.Ready, TE.MigrationRequested): TS.Migrating,
    (TS.Migrating, TE.OperationSuccessed): TS.Ready,
    (TS.Migrating, TE.OperationFailed): TS.Ready,
    (TS.Ready, TE.DestroyRequested): TS.Destroying,
    (TS.Destroying, TE.DestroyRequested): TS.Destroying,
    (TS.Destroying, TE.OperationSuccessed): TS.Destroyed,
    (TS.Destroying, TE.OperationFailed): TS.Destroying,
    (TS.Destroying, TE.ExpungeRequested): TS.Destroyed,
    (TS.Failed, TE.DestroyRequested): TS.Destroying,
    (TS.Failed, TE.CreateRequested): TS.Creating,
    (TS.Destroyed, TE.DestroyRequested): TS.Destroyed,
}


# ------------------------------------------------------------------------------------------------------- Network
class NetworkState(StrEnum):
    Allocated = "Allocated"
    Setup = "Setup"
    Implementing = "Implementing"
    Implemented = "Implemented"
    Shutdown = "Shutdown"
    Destroy = "Destroy"


class NetworkEvent(StrEnum):
    ImplementNetwork = "ImplementNetwork"
    DestroyNetwork = "DestroyNetwork"
    OperationSucceeded = "OperationSucceeded"
    OperationFailed = "OperationFailed"


NS, NE = NetworkState, NetworkEvent
NETWORK_TRANSITIONS: Final[Mapping[tuple[NetworkState, NetworkEvent], NetworkState]] = {
    (NS.Allocated, NE.ImplementNetwork): NS.Implementing,
    (NS.Implementing, NE.OperationSucceeded): NS.Implemented,
    (NS.Implementing, NE.OperationFailed): NS.Shutdown,
    (NS.Implementing, NE.DestroyNetwork): NS.Destroy,
    (NS.Implemented, NE.DestroyNetwork): NS.Shutdown,
    (NS.Implemented, NE.ImplementNetwork): NS.Implemented,
    (NS.Implemented, NE.OperationSucceeded): NS.Implemented,
    (NS.Implemented, NE.OperationFailed): NS.Implemented,
    (NS.Shutdown, NE.OperationSucceeded): NS.Allocated,
    (NS.Shutdown, NE.OperationFailed): NS.Shutdown,
    (NS.Shutdown, NE.ImplementNetwork): NS.Implementing,
    (NS.Setup, NE.DestroyNetwork): NS.Destroy,
    (NS.Setup, NE.ImplementNetwork): NS.Implementing,
    (NS.Allocated, NE.DestroyNetwork): NS.Destroy,
    (NS.Destroy, NE.DestroyNetwork): NS.Destroy,
}


# ---------------------------------------------------------------------------------------------- Host (Status)
class HostStatus(StrEnum):
    Creating = "Creating"
    Connecting = "Connecting"
    Up = "Up"
    Down = "Down"
    Disconnected = "Disconnected"
    Alert = "Alert"
    Removed = "Removed"
    Error = "Error"
    Rebalancing = "Rebalancing"
    Unknown = "Unknown"


class HostEvent(StrEnum):
    AgentConnected = "AgentConnected"
    AgentDisconnected = "AgentDisconnected"
    Ready = "Ready"
    Ping = "Ping"
    PingTimeout = "PingTimeout"
    ShutdownRequested = "ShutdownRequested"
    HostDown = "HostDown"
    AgentUnreachable = "AgentUnreachable"
    ManagementServerDown = "ManagementServerDown"
    WaitedTooLong = "WaitedTooLong"
    Remove = "Remove"
    StartAgentRebalance = "StartAgentRebalance"
    RebalanceCompleted = "RebalanceCompleted"
    RebalanceFailed = "RebalanceFailed"
    Error = "Error"


HS, HE = HostStatus, HostEvent
HOST_TRANSITIONS: Final[Mapping[tuple[HostStatus, HostEvent], HostStatus]] = {
    (HS.Creating, HE.AgentConnected): HS.Connecting,
    (HS.Creating, HE.Error): HS.Error,
    (HS.Creating, HE.Remove): HS.Removed,
    (HS.Connecting, HE.AgentConnected): HS.Connecting,
    (HS.Connecting, HE.Ready): HS.Up,
    (HS.Connecting, HE.PingTimeout): HS.Alert,
    (HS.Connecting, HE.ShutdownRequested): HS.Disconnected,
    (HS.Connecting, HE.HostDown): HS.Down,
    (HS.Connecting, HE.Ping): HS.Connecting,
    (HS.Connecting, HE.ManagementServerDown): HS.Disconnected,
    (HS.Connecting, HE.AgentDisconnected): HS.Alert,
    (HS.Connecting, HE.AgentUnreachable): HS.Alert,
    (HS.Connecting, HE.Error): HS.Error,
    (HS.Connecting, HE.Remove): HS.Removed,
    (HS.Up, HE.PingTimeout): HS.Alert,
    (HS.Up, HE.AgentDisconnected): HS.Alert,
    (HS.Up, HE.AgentUnreachable): HS.Alert,
    (HS.Up, HE.ShutdownRequested): HS.Disconnected,
    (HS.Up, HE.HostDown): HS.Down,
    (HS.Up, HE.Ping): HS.Up,
    (HS.Up, HE.Ready): HS.Up,
    (HS.Up, HE.AgentConnected): HS.Connecting,
    (HS.Up, HE.ManagementServerDown): HS.Disconnected,
    (HS.Up, HE.StartAgentRebalance): HS.Rebalancing,
    (HS.Up, HE.Remove): HS.Removed,
    (HS.Disconnected, HE.PingTimeout): HS.Alert,
    (HS.Disconnected, HE.AgentConnected): HS.Connecting,
    (HS.Disconnected, HE.Ping): HS.Up,
    (HS.Disconnected, HE.HostDown): HS.Down,
    (HS.Disconnected, HE.ManagementServerDown): HS.Disconnected,
    (HS.Disconnected, HE.WaitedTooLong): HS.Alert,
    (HS.Disconnected, HE.Remove): HS.Removed,
    (HS.Disconnected, HE.AgentDisconnected): HS.Disconnected,
    (HS.Down, HE.Remove): HS.Removed,
    (HS.Down, HE.AgentConnected): HS.Connecting,
    (HS.Down, HE.Ping): HS.Up,
    (HS.Down, HE.AgentDisconnected): HS.Down,
    (HS.Down, HE.HostDown): HS.Down,
    (HS.Alert, HE.AgentConnected): HS.Connecting,
    (HS.Alert, HE.Ping): HS.Up,
    (HS.Alert, HE.Remove): HS.Removed,
    (HS.Alert, HE.ManagementServerDown): HS.Alert,
    (HS.Alert, HE.AgentDisconnected): HS.Alert,
    (HS.Alert, HE.AgentUnreachable): HS.Alert,
    (HS.Alert, HE.PingTimeout): HS.Alert,
    (HS.Alert, HE.ShutdownRequested): HS.Disconnected,
    (HS.Alert, HE.HostDown): HS.Down,
    (HS.Rebalancing, HE.RebalanceFailed): HS.Disconnected,
    (HS.Rebalancing, HE.RebalanceCompleted): HS.Connecting,
    (HS.Rebalancing, HE.ManagementServerDown): HS.Disconnected,
    (HS.Rebalancing, HE.AgentConnected): HS.Connecting,
    (HS.Rebalancing, HE.AgentDisconnected): HS.Rebalancing,
    (HS.Error, HE.AgentConnected): HS.Connecting,
    (HS.Error, HE.Remove): HS.Removed,
    (HS.Unknown, HE.AgentConnected): HS.Connecting,
    (HS.Unknown, HE.Ping): HS.Up,
    (HS.Unknown, HE.Remove): HS.Removed,
    (HS.Removed, HE.Remove): HS.Removed,
}


# --------------------------------------------------------------------------------------------------- VM snapshot
class VMSnapshotState(StrEnum):
    Allocated = "Allocated"
    Creating = "Creating"
    Ready = "Ready"
    Reverting = "Reverting"
    Expunging = "Expunging"
    Removed = "Removed"
    Error = "Error"


class VMSnapshotEvent(StrEnum):
    CreateRequested = "CreateRequested"
    OperationSucceeded = "OperationSucceeded"
    OperationFailed = "OperationFailed"
    RevertRequested = "RevertRequested"
    ExpungeRequested = "ExpungeRequested"


VSS, VSE = VMSnapshotState, VMSnapshotEvent
VM_SNAPSHOT_TRANSITIONS: Final[Mapping[tuple[VMSnapshotState, VMSnapshotEvent], VMSnapshotState]] = {
    (VSS.Allocated, VSE.CreateRequested): VSS.Creating,
    (VSS.Creating, VSE.OperationSucceeded): VSS.Ready,
    (VSS.Creating, VSE.OperationFailed): VSS.Error,
    (VSS.Ready, VSE.RevertRequested): VSS.Reverting,
    (VSS.Reverting, VSE.OperationSucceeded): VSS.Ready,
    (VSS.Reverting, VSE.OperationFailed): VSS.Ready,
    (VSS.Ready, VSE.ExpungeRequested): VSS.Expunging,
    (VSS.Error, VSE.ExpungeRequested): VSS.Expunging,
    (VSS.Expunging, VSE.ExpungeRequested): VSS.Expunging,
    (VSS.Expunging, VSE.OperationSucceeded): VSS.Removed,
    (VSS.Expunging, VSE.OperationFailed): VSS.Error,
}


# ---------------------------------------------------------------------------------------------------- registry
TABLES: Final[Mapping[Kind, Mapping[tuple[Any, Any], Any]]] = {
    Kind.VM: VM_TRANSITIONS,
    Kind.ROUTER: VM_TRANSITIONS,
    Kind.VOLUME: VOLUME_TRANSITIONS,
    Kind.SNAPSHOT: SNAPSHOT_TRANSITIONS,
    Kind.TEMPLATE: TEMPLATE_TRANSITIONS,
    Kind.NETWORK: NETWORK_TRANSITIONS,
    Kind.HOST: HOST_TRANSITIONS,
    Kind.VM_SNAPSHOT: VM_SNAPSHOT_TRANSITIONS,
}
STATES: Final[Mapping[Kind, type[StrEnum]]] = {
    Kind.VM: VmState, Kind.ROUTER: VmState, Kind.VOLUME: VolumeState, Kind.SNAPSHOT: SnapshotState,
    Kind.TEMPLATE: TemplateState, Kind.NETWORK: NetworkState, Kind.HOST: HostStatus, Kind.VM_SNAPSHOT: VMSnapshotState,
}
EVENTS: Final[Mapping[Kind, type[StrEnum]]] = {
    Kind.VM: VmEvent, Kind.ROUTER: VmEvent, Kind.VOLUME: VolumeEvent, Kind.SNAPSHOT: SnapshotEvent,
    Kind.TEMPLATE: TemplateEvent, Kind.NETWORK: NetworkEvent, Kind.HOST: HostEvent, Kind.VM_SNAPSHOT: VMSnapshotEvent,
}
# States nothing leaves (except by self-loops).
TERMINAL: Final[Mapping[Kind, frozenset[str]]] = {
    Kind.VM: frozenset({VS.Expunging}), Kind.ROUTER: frozenset({VS.Expunging}),
    Kind.VOLUME: frozenset({VoS.Expunged}), Kind.SNAPSHOT: frozenset({SS.Destroyed}),
    Kind.TEMPLATE: frozenset({TS.Destroyed}), Kind.NETWORK: frozenset({NS.Destroy}),
    Kind.HOST: frozenset({HS.Removed}), Kind.VM_SNAPSHOT: frozenset({VSS.Removed}),
}
# Requests that already hold: succeed without a transition (start a Running VM, destroy a Destroyed volume...).
NOOPS: Final[frozenset[tuple[Kind, str, str]]] = frozenset({
    (Kind.VM, VS.Running, VE.StartRequested),
    (Kind.VM, VS.Starting, VE.StartRequested),
    (Kind.ROUTER, VS.Running, VE.StartRequested),
    (Kind.ROUTER, VS.Starting, VE.StartRequested),
})

# table name -> (kind, state column)
_MODELS: Final[dict[str, tuple[Kind, str]]] = {
    "vm_instance": (Kind.VM, "state"),
    "volumes": (Kind.VOLUME, "state"),
    "snapshots": (Kind.SNAPSHOT, "state"),
    "template_store_ref": (Kind.TEMPLATE, "state"),
    "networks": (Kind.NETWORK, "state"),
    "host": (Kind.HOST, "status"),
    "vm_snapshots": (Kind.VM_SNAPSHOT, "state"),
}
# Human names for error texts ("Unable to start VM in state Running").
_NOUN: Final[dict[Kind, str]] = {
    Kind.VM: "VM", Kind.ROUTER: "router", Kind.VOLUME: "volume", Kind.SNAPSHOT: "snapshot",
    Kind.TEMPLATE: "template", Kind.NETWORK: "network", Kind.HOST: "host", Kind.VM_SNAPSHOT: "VM snapshot",
}
_OPS: Final[dict[str, str]] = {
    "StartRequested": "start", "StopRequested": "stop", "RebootRequested": "reboot", "DestroyRequested": "destroy",
    "RecoveryRequested": "recover", "RecoverRequested": "recover", "ExpungeOperation": "expunge",
    "ExpungingRequested": "expunge", "MigrationRequested": "migrate", "StorageMigrationRequested": "migrate",
    "CreateRequested": "create", "ResizeRequested": "resize", "SnapshotRequested": "snapshot",
    "RevertSnapshotRequested": "revert a snapshot of", "AttachRequested": "attach", "CopyingRequested": "copy",
    "CopyRequested": "copy", "ImplementNetwork": "implement", "DestroyNetwork": "destroy", "Remove": "remove",
    "RevertRequested": "revert", "ExpungeRequested": "delete",
}


def op_name(event: str) -> str:
    return _OPS.get(str(event), f"apply {event} to")


def _lookup(kind: Kind, state: str, event: str) -> str | None:
    table = TABLES[kind]
    try:
        return table.get((STATES[kind](state), EVENTS[kind](event)))  # type: ignore[call-overload]
    except ValueError:
        return None


def next_state(kind: Kind | str, state: str, event: str) -> str:
    """The state `event` leads to from `state`; a no-op request returns `state`; else InvalidStateTransition."""
    kind = Kind(kind)
    if (kind, state, event) in NOOPS:
        return state
    new = _lookup(kind, state, event)
    if new is None:
        raise InvalidStateTransition(f"Unable to {op_name(event)} {_NOUN[kind]} in state {state}")
    return str(new)


def can(kind: Kind | str, state: str, event: str) -> bool:
    kind = Kind(kind)
    return (kind, state, event) in NOOPS or _lookup(kind, state, event) is not None


def allowed_from(event: str, kind: Kind | str = Kind.VM) -> frozenset[str]:
    """The states from which `event` is accepted (the guards' single source of truth)."""
    kind = Kind(kind)
    ev = EVENTS[kind](event)
    out = {str(s) for (s, e) in TABLES[kind] if e == ev}
    out |= {s for (k, s, e) in NOOPS if k == kind and e == ev}
    return frozenset(out)


def kind_of(row: Any) -> tuple[Kind, str]:
    table = getattr(type(row), "__tablename__", None)
    if table not in _MODELS:
        raise TypeError(f"{type(row).__name__} has no state machine")
    kind, column = _MODELS[table]
    if kind is Kind.VM and getattr(row, "vm_type", "User") == "DomainRouter":
        kind = Kind.ROUTER
    return kind, column


# Called as hook(session, row, old state, new state) after every persisted transition, in the same unit of work
# (usage events and alerts subscribe here); the state table stays the only writer of states.
TRANSITION_HOOKS: list[Any] = []


def on_transition(hook: Any) -> None:
    if hook not in TRANSITION_HOOKS:
        TRANSITION_HOOKS.append(hook)


def transition(session: Session, row: Any, event: str, also: Mapping[str, Any] | None = None) -> str:
    """Apply `event` to `row` with a compare-and-swap; the ONLY writer of FSM-managed state columns.

    `also`: other columns of the row that change with this state (a volume's pool as it is created, a VM's host
    as it runs), written by the same statement; set as plain attributes when the event writes nothing.
    Returns the new state. A self-loop or declared no-op writes nothing. When another writer changed the row
    since it was read, raises ConcurrentOperation (the row is refreshed first so callers can see why; `also` is
    then not applied)."""
    kind, column = kind_of(row)
    old = getattr(row, column)
    new = next_state(kind, old, event)
    if new == old:
        for key, value in (also or {}).items():
            setattr(row, key, value)
        return new
    model = type(row)
    seen = row.update_count
    extra = tuple(sorted(also)) if also else ()
    params = {"b_id": row.id, "b_old": old, "b_seen": seen, "b_new": new}
    for key in extra:
        if key in (column, "update_count", "id"):
            raise ValueError(f"transition(also=...) can not set {key}")
        params[f"b_also_{key}"] = also[key]  # type: ignore[index]
    res = session.execute(_compare_and_swap(model, column, extra), params)
    if res.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(row)
        raise ConcurrentOperation(
            f"Unable to {op_name(event)} {_NOUN[kind]}: it changed concurrently "
            f"(was {old}, now {getattr(row, column)}); retry"
        )
    # The compare-and-swap succeeded, so the row is what was read plus this change: record it in the session as
    # the database's value (no re-read; once per transition, 4 full-row SELECTs per deploy).
    set_committed_value(row, column, new)
    set_committed_value(row, "update_count", seen + 1)
    for key in extra:
        set_committed_value(row, key, also[key])  # type: ignore[index]
    for hook in TRANSITION_HOOKS:
        hook(session, row, old, new)
    return new


def _compare_and_swap(model: Any, column: str, extra: tuple[str, ...] = ()) -> Any:
    return prepared(("fsm-cas", model, column, extra), lambda: (
        update(model)
        .where(model.id == bindparam("b_id"), getattr(model, column) == bindparam("b_old"),
               model.update_count == bindparam("b_seen"))
        .values({column: bindparam("b_new"), "update_count": model.update_count + 1,
                 **{key: bindparam(f"b_also_{key}") for key in extra}})
        .execution_options(synchronize_session=False)))


def force_state(session: Session, row: Any, state: str) -> None:
    """Administrative overwrite (CloudStack's updateVmState / recovery after a crash): bypasses the table but
    still bumps update_count so in-flight compare-and-swaps fail."""
    kind, column = kind_of(row)
    STATES[kind](state)  # validate the name
    model = type(row)
    session.execute(
        update(model).where(model.id == row.id)
        .values({column: state, "update_count": model.update_count + 1})
        .execution_options(synchronize_session=False)
    )
    session.refresh(row)


def mermaid(kind: Kind | str) -> str:
    """The table as a Mermaid state diagram (docs)."""
    kind = Kind(kind)
    lines = ["stateDiagram-v2"]
    for (s, e), n in TABLES[kind].items():
        lines.append(f"    {s} --> {n}: {e}")
    return "\n".join(lines)
