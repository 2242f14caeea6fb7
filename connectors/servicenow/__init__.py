"""ServiceNow connector: incidents, change requests and problems with their state history.

Public API:
    ServiceNowSettings.from_env(os.environ) -> ServiceNowSettings | None
    sync_servicenow(con, settings, cfg, full=False, run_started_at=None, progress=..., policy=None)
"""

from connectors.servicenow.settings import ServiceNowSettings
from connectors.servicenow.sync import sync_servicenow

__all__ = ["ServiceNowSettings", "sync_servicenow"]
