"""Alerts raised by the system itself (a management server or a host down, an HA action): one function, `alert`.

Each alert is logged and recorded as an event of the SYSTEM account (listEvents shows it, level WARN/ERROR).
When the alerts service (`management.services.platform.alerts`, listAlerts) is present, the alert goes there too,
with CloudStack's alert type; this module is the one place that hands alerts over.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType

from sqlalchemy.orm import Session

from management.services import events
from management.services.context import Caller
from management.services.system_account import system_user

log = logging.getLogger(__name__)

# CloudStack's AlertManager.AlertType ordinals used here.
HOST, USERVM, MANAGEMENT, HA_ACTION = 7, 8, 14, 30
_EVENT_TYPES = {HOST: "HOST.ALERT", USERVM: "VM.HA", MANAGEMENT: "MS.ALERT", HA_ACTION: "HA.ACTION"}


def _alerts_service() -> ModuleType | None:
    try:
        return importlib.import_module("management.services.platform.alerts")
    except ImportError:
        return None


def alert(session: Session, alert_type: int, subject: str, *, content: str | None = None,
          zone_id: int | None = None, pod_id: int | None = None, cluster_id: int | None = None,
          resource_type: str | None = None, resource_uuid: str | None = None, level: str = "WARN") -> None:
    """Raises an alert in the caller's unit of work."""
    log.warning("alert: %s", subject)
    system = Caller.from_user(system_user(session))
    events.record(session, system, _EVENT_TYPES.get(alert_type, "ALERT"), subject + (f": {content}" if content else ""),
                  level=level, resource_type=resource_type, resource_uuid=resource_uuid)
    service = _alerts_service()
    if service is not None:
        service.raise_alert(session, alert_type, subject, content=content, zone_id=zone_id, pod_id=pod_id,
                            cluster_id=cluster_id)
