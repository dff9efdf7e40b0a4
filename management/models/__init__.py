"""All models, imported so that metadata is complete for Alembic and create_all."""

from management.models.events import Configuration, Event, ResourceTag
from management.models.identity import (
    Account,
    AccountType,
    Domain,
    Role,
    RolePermission,
    RoleType,
    User,
    UserSession,
)
from management.models.infra import Zone
from management.models.jobs import AsyncJob, JobSync, ManagementServer

__all__ = [
    "Account", "AccountType", "AsyncJob", "Configuration", "Domain", "Event", "JobSync", "ManagementServer",
    "ResourceTag", "Role", "RolePermission", "RoleType", "User", "UserSession", "Zone",
]
