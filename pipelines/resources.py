"""Dagster resources: the config, the warehouse and the two sources.

Secrets reach Dagster only as `dg.EnvVar` references (the name of the variable, never its value),
so they never appear in the definitions, the run config, the event log or the UI. A source whose
variables are absent gets no EnvVar at all and its asset skips with one clear line. The one
exception is `RunSetup.jira` / `.servicenow`: values a caller already holds (the demo's sandbox,
whose credentials are public constants of the simulator).
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from connectors.jira import JiraSettings
from connectors.servicenow import ServiceNowSettings
from models.config import FlowConfig, resolve_config
from warehouse.db import open_warehouse


def env_or_none(name: str) -> dg.EnvVar | None:
    """An EnvVar reference when the variable is set in this process, else None."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def read_config(path: str | None) -> FlowConfig:
    """Kept for callers written before `models.config.resolve_config`, which it is."""
    return resolve_config(path)


@dataclass(frozen=True)
class RunSetup:
    """What a caller (the CLI, the demo) hands a run directly instead of through os.environ.

    Unset fields fall back to the environment, as `dagster dev` and the schedule do.
    """

    config_path: str | None = None
    warehouse: str | None = None
    export_dir: str | None = None
    jira: JiraSettings | None = None
    servicenow: ServiceNowSettings | None = None


class FlowConfigResource(dg.ConfigurableResource):
    """The validated flow.yaml, read once per run (docs/architecture.md, "One config path").

    Dagster builds one instance of each resource per run and hands it to every asset and check
    of that run, so the first `load()` reads and validates the file and the others reuse it.
    """

    path: str | None = None
    #: The caller's own warehouse file (the demo's); else FLOW_WAREHOUSE, else the file's key.
    warehouse: str | None = None

    _loaded: FlowConfig | None = PrivateAttr(default=None)

    def load(self) -> FlowConfig:
        if self._loaded is None:
            self._loaded = resolve_config(self.path, warehouse=self.warehouse)
        return self._loaded


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB file: the resolved config's `warehouse`, unless `path` names another one.

    `FLOW_WAREHOUSE` is applied by `resolve_config`, not here. `export_dir` is where the
    exports go when a caller says so (else FLOW_EXPORT_DIR, else beside the warehouse).
    """

    path: str | None = None
    export_dir: str | None = None

    def resolve(self, cfg: FlowConfig) -> str:
        return self.path or cfg.warehouse

    @contextmanager
    def connect(
        self, cfg: FlowConfig, *, read_only: bool = False
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        with open_warehouse(self.resolve(cfg), read_only=read_only) as con:
            yield con


class JiraResource(dg.ConfigurableResource):
    """JIRA endpoint and credentials, each field an EnvVar reference (or unset)."""

    url: str | None = None
    email: str | None = None
    api_token: str | None = None
    pat: str | None = None

    def settings(self) -> JiraSettings | None:
        return JiraSettings.from_values(
            url=self.url, email=self.email, api_token=self.api_token, pat=self.pat
        )


class ServiceNowResource(dg.ConfigurableResource):
    """ServiceNow endpoint and credentials, each field an EnvVar reference (or unset)."""

    url: str | None = None
    user: str | None = None
    password: str | None = None

    def settings(self) -> ServiceNowSettings | None:
        return ServiceNowSettings.from_values(url=self.url, user=self.user, password=self.password)


def build_resources(setup: RunSetup | None = None) -> dict[str, dg.ConfigurableResource]:
    """Resources from what the caller handed over (`setup`), else from the environment of the
    process that loads the definitions (as EnvVar references for every secret)."""
    setup = setup or RunSetup()
    if setup.jira is not None:
        j = setup.jira
        jira = JiraResource(url=j.url, email=j.email, api_token=j.api_token, pat=j.pat)
    else:
        jira = JiraResource(
            url=env_or_none("JIRA_URL"),
            email=env_or_none("JIRA_EMAIL"),
            api_token=env_or_none("JIRA_API_TOKEN"),
            pat=env_or_none("JIRA_PAT"),
        )
    if setup.servicenow is not None:
        s = setup.servicenow
        servicenow = ServiceNowResource(url=s.url, user=s.user, password=s.password)
    else:
        servicenow = ServiceNowResource(
            url=env_or_none("SERVICENOW_URL"),
            user=env_or_none("SERVICENOW_USER"),
            password=env_or_none("SERVICENOW_PASSWORD"),
        )
    return {
        "flow_config": FlowConfigResource(
            path=setup.config_path or env_or_none("FLOW_CONFIG"), warehouse=setup.warehouse
        ),
        "warehouse": WarehouseResource(export_dir=setup.export_dir),
        "jira": jira,
        "servicenow": servicenow,
    }
