"""Dagster resources: the config, the warehouse and the two sources.

Secrets reach Dagster only as `dg.EnvVar` references (the name of the variable, never its value),
so they never appear in the definitions, the run config, the event log or the UI. A source whose
variables are absent gets no EnvVar at all and its asset skips with one clear line.
"""


import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from models.config import DEFAULT_CONFIG_FILE, FlowConfig, load_config, parse_config
from warehouse.db import open_warehouse

log = logging.getLogger(__name__)

JIRA_VARS = ("JIRA_URL", "JIRA_EMAIL", "JIRA_API_TOKEN", "JIRA_PAT")
SERVICENOW_VARS = ("SERVICENOW_URL", "SERVICENOW_USER", "SERVICENOW_PASSWORD")


def env_or_none(name: str) -> dg.EnvVar | None:
    """An EnvVar reference when the variable is set in this process, else None."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def read_config(path: str | None) -> FlowConfig:
    """`path`, else `FLOW_CONFIG`, else ./flow.yaml; with no file at all, the
    defaults (docs/contract.md §2.1).

    Zero-config must work: a missing *default* file means the defaults (logged), while a file
    that was named explicitly and is missing is an error.
    """
    explicit = path or os.environ.get("FLOW_CONFIG")
    if explicit or Path(DEFAULT_CONFIG_FILE).exists():
        return load_config(explicit)
    log.info("no %s here and FLOW_CONFIG unset: using the default config", DEFAULT_CONFIG_FILE)
    cfg = parse_config({}, "<defaults>")
    override = os.environ.get("FLOW_WAREHOUSE")
    return cfg.model_copy(update={"warehouse": override}) if override else cfg


class FlowConfigResource(dg.ConfigurableResource):
    """The validated flow.yaml."""

    path: str | None = None

    def load(self) -> FlowConfig:
        return read_config(self.path)


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB file; `path` overrides the config's `warehouse` key (as FLOW_WAREHOUSE does)."""

    path: str | None = None

    def resolve(self, cfg: FlowConfig) -> str:
        return self.path or cfg.warehouse

    @contextmanager
    def connect(self, cfg: FlowConfig, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with open_warehouse(self.resolve(cfg), read_only=read_only) as con:
            yield con


class JiraResource(dg.ConfigurableResource):
    """JIRA endpoint and credentials, each field an EnvVar reference (or unset)."""

    url: str | None = None
    email: str | None = None
    api_token: str | None = None
    pat: str | None = None

    def settings(self):  # -> JiraSettings | None
        from connectors.jira import JiraSettings

        return JiraSettings.from_env(
            {
                "JIRA_URL": self.url or "",
                "JIRA_EMAIL": self.email or "",
                "JIRA_API_TOKEN": self.api_token or "",
                "JIRA_PAT": self.pat or "",
            }
        )


class ServiceNowResource(dg.ConfigurableResource):
    """ServiceNow endpoint and credentials, each field an EnvVar reference (or unset)."""

    url: str | None = None
    user: str | None = None
    password: str | None = None

    def settings(self):  # -> ServiceNowSettings | None
        from connectors.servicenow import ServiceNowSettings

        return ServiceNowSettings.from_env(
            {
                "SERVICENOW_URL": self.url or "",
                "SERVICENOW_USER": self.user or "",
                "SERVICENOW_PASSWORD": self.password or "",
            }
        )


def build_resources() -> dict[str, dg.ConfigurableResource]:
    """Resources wired to the environment of the process that loads the definitions."""
    return {
        "flow_config": FlowConfigResource(path=env_or_none("FLOW_CONFIG")),
        "warehouse": WarehouseResource(path=env_or_none("FLOW_WAREHOUSE")),
        "jira": JiraResource(
            url=env_or_none("JIRA_URL"),
            email=env_or_none("JIRA_EMAIL"),
            api_token=env_or_none("JIRA_API_TOKEN"),
            pat=env_or_none("JIRA_PAT"),
        ),
        "servicenow": ServiceNowResource(
            url=env_or_none("SERVICENOW_URL"),
            user=env_or_none("SERVICENOW_USER"),
            password=env_or_none("SERVICENOW_PASSWORD"),
        ),
    }
