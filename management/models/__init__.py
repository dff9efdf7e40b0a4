"""All models, imported so that metadata is complete for Alembic and create_all."""

from management.models.addressing import DedicatedGuestVlanRange, PortableIpAddress, PortableIpRange, PublicIpQuarantine
from management.models.affinity import AffinityGroup, AffinityGroupVmMap
from management.models.autoscale import (
    AutoScalePolicy,
    AutoScalePolicyCondition,
    AutoScaleVmGroup,
    AutoScaleVmGroupPolicy,
    AutoScaleVmGroupStatistic,
    AutoScaleVmGroupVm,
    AutoScaleVmProfile,
    Condition,
    Counter,
)
from management.models.backups import Backup, BackupOffering, BackupRepository, BackupSchedule, VmBackupOffering
from management.models.certs import LoadBalancerCertMap, SslCert
from management.models.compute import InstanceGroup, SSHKeyPair, VirtualMachine
from management.models.ec2 import Ec2ClientToken
from management.models.events import Configuration, Event, ResourceTag
from management.models.governance import (
    Alert,
    GuestOsMapping,
    HypervisorCapability,
    Region,
    ResourceLimit,
    ScopedConfiguration,
)
from management.models.gpu import GpuCard, GpuDevice, VgpuProfile
from management.models.ha_config import HAConfig
from management.models.identity import Account, AccountType, Domain, Role, RolePermission, RoleType, User, UserSession
from management.models.infra import (
    Cluster,
    GuestVlan,
    Host,
    ImageStore,
    NetworkServiceProvider,
    PhysicalNetwork,
    Pod,
    PublicIpAddress,
    StoragePool,
    TrafficType,
    VirtualRouterElement,
    VlanIpRange,
    Zone,
)
from management.models.jobs import AsyncJob, ClusterLease, JobJournal, JobSync, ManagementServer
from management.models.lb_policies import LbHealthCheckPolicy, LbStickinessPolicy
from management.models.network import Network, Nic
from management.models.network_access import CniConfiguration, NetworkPermission
from management.models.nic_secondary_ips import NicSecondaryIp
from management.models.objectstore import Bucket, ObjectStore
from management.models.offerings import DiskOffering, NetworkOffering, OsCategory, OsType, ServiceOffering
from management.models.platform import (
    Annotation,
    ConsoleSession,
    DedicatedResource,
    Extension,
    ExtensionCustomAction,
    ExtensionResourceMap,
    GuiTheme,
    IssuedCertificate,
    ManagementServerMaintenance,
    QuotaAccount,
    QuotaBalance,
    QuotaCredit,
    QuotaEmailConfiguration,
    QuotaEmailTemplate,
    QuotaTariff,
    QuotaUsage,
    ResourceDetail,
    ResourceIcon,
    SessionTwoFactor,
    UserTwoFactor,
    VmStats,
    VolumeStats,
)
from management.models.pod_ips import PodIpAddress
from management.models.projects import (
    Project,
    ProjectAccount,
    ProjectInvitation,
    ProjectRole,
    ProjectRolePermission,
)
from management.models.routing import (
    AsNumber,
    AsNumberRange,
    BgpPeer,
    BgpPeerNetwork,
    GuestIpv4Subnet,
    Ipv6GuestPrefix,
    Ipv6GuestSubnet,
    ZoneIpv4Subnet,
)
from management.models.rules import (
    LoadBalancerVmMap,
    NetworkRule,
    RouterNetwork,
    SecurityGroup,
    SecurityGroupRule,
    SecurityGroupVmMap,
)
from management.models.schedules import SchedulerLease, VmSchedule, VmScheduledJob
from management.models.snapshot_policies import SnapshotPolicy
from management.models.storage import (
    Snapshot,
    Template,
    TemplatePermission,
    TemplatePoolRef,
    TemplateStoreRef,
    Volume,
)
from management.models.storage_admin import (
    DirectDownloadCertificate,
    DirectDownloadCertificateHost,
    SecondaryStorageSelector,
    StorageAccessGroup,
)
from management.models.storage_network import StorageNetworkIpRange
from management.models.usage import UsageEvent, UsageRecord
from management.models.userdata import UserData
from management.models.vm_snapshots import VMSnapshot
from management.models.volume_store import VolumeStoreRef
from management.models.vpc import (
    InternalLbRule,
    InternalLbVm,
    NetworkAcl,
    NetworkAclItem,
    RemoteAccessVpn,
    S2sCustomerGateway,
    S2sVpnConnection,
    S2sVpnGateway,
    StaticRoute,
    Vpc,
    VpcGateway,
    VpcOffering,
    VpcRouter,
    VpnUser,
)

__all__ = [
    "PodIpAddress",
    "Account", "AccountType", "AsyncJob", "Cluster", "ClusterLease", "JobJournal",
    "Configuration", "DiskOffering", "Domain", "Ec2ClientToken",
    "Event",
    "GuestVlan", "Host", "ImageStore", "InstanceGroup", "JobSync", "ManagementServer", "Network",
    "NetworkOffering", "NetworkServiceProvider", "Nic", "OsCategory", "OsType", "PhysicalNetwork", "Pod",
    "PublicIpAddress", "ResourceTag", "Role", "RolePermission", "RoleType", "SSHKeyPair", "ServiceOffering",
    "Snapshot", "StoragePool", "Template", "TemplatePermission", "TemplatePoolRef", "TemplateStoreRef",
    "TrafficType", "User",
    "UserSession", "VirtualMachine", "VirtualRouterElement", "VlanIpRange", "Volume", "Zone",
    "LoadBalancerVmMap", "NetworkRule", "RouterNetwork", "SecurityGroup", "SecurityGroupRule", "SecurityGroupVmMap",
    "Backup", "BackupOffering", "BackupRepository", "BackupSchedule", "VmBackupOffering", "Bucket", "ObjectStore",
    "SchedulerLease", "VmSchedule", "VmScheduledJob", "DirectDownloadCertificate", "DirectDownloadCertificateHost",
    "SecondaryStorageSelector", "StorageAccessGroup",
    "InternalLbRule", "InternalLbVm", "NetworkAcl", "NetworkAclItem", "RemoteAccessVpn", "S2sCustomerGateway",
    "S2sVpnConnection", "S2sVpnGateway", "StaticRoute", "Vpc", "VpcGateway", "VpcOffering", "VpcRouter", "VpnUser",
    "AffinityGroup", "AffinityGroupVmMap", "NicSecondaryIp", "SnapshotPolicy", "VMSnapshot", "VolumeStoreRef",
    # network family extras
    "AsNumber", "AsNumberRange", "AutoScalePolicy", "AutoScalePolicyCondition", "AutoScaleVmGroup",
    "AutoScaleVmGroupPolicy", "AutoScaleVmGroupStatistic", "AutoScaleVmGroupVm", "AutoScaleVmProfile", "BgpPeer",
    "BgpPeerNetwork", "CniConfiguration", "Condition", "Counter", "DedicatedGuestVlanRange", "GuestIpv4Subnet",
    "Ipv6GuestPrefix", "Ipv6GuestSubnet", "LbHealthCheckPolicy", "LbStickinessPolicy", "NetworkPermission",
    "PortableIpAddress", "PortableIpRange", "PublicIpQuarantine", "ZoneIpv4Subnet",
    "Annotation", "ConsoleSession", "DedicatedResource", "Extension", "ExtensionCustomAction", "ExtensionResourceMap",
    "GuiTheme", "IssuedCertificate", "ManagementServerMaintenance", "QuotaAccount", "QuotaBalance", "QuotaCredit",
    "QuotaEmailConfiguration", "QuotaEmailTemplate", "QuotaTariff", "QuotaUsage", "ResourceDetail", "ResourceIcon",
    "SessionTwoFactor", "UserTwoFactor", "VmStats", "VolumeStats",
    "Alert", "GuestOsMapping", "HypervisorCapability", "LoadBalancerCertMap", "Project", "ProjectAccount",
    "ProjectInvitation", "ProjectRole", "ProjectRolePermission", "Region", "ResourceLimit", "ScopedConfiguration",
    "SslCert", "UsageEvent", "UsageRecord", "UserData",
    # core extras: GPU catalogue, host HA configuration, storage network ranges
    "GpuCard", "GpuDevice", "HAConfig", "StorageNetworkIpRange", "VgpuProfile",
]
