"""JIRA connector: issues and their complete status history into the raw layer.

Public API: `JiraSettings.from_env(os.environ)` and `sync_jira(con, settings, cfg, ...)`.
"""

from connectors.jira.settings import JiraSettings
from connectors.jira.sync import sync_jira

__all__ = ["JiraSettings", "sync_jira"]
