"""The `flow.yaml` schema (docs/contract.md §3) as pydantic models, and `load_config`.

Why pydantic: the file is written by hand by data engineers, so every mistake must come back as
one sentence naming the file, the key path and the problem, before anything is written.
Unknown keys are errors (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from models.vocabulary import DEFAULT_STAGES, SERVICENOW_TABLES, FlowType, StatusKind

DEFAULT_CONFIG_FILE = "flow.yaml"
DEMO_CONFIG_RESOURCE = "demo_flow.yaml"
RESERVED_VALUE_STREAMS = frozenset({"all", "unassigned"})

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the key path."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


NameList = Annotated[list[str], Field(default_factory=list)]


class JiraSource(_Strict):
    jql: str | None = None
    verify_tls: bool = True


class ServiceNowSource(_Strict):
    # Literal[SERVICENOW_TABLES] is Literal["incident", "change_request", "problem"].
    tables: list[Literal[SERVICENOW_TABLES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["incident"]
    )
    query: str = ""
    verify_tls: bool = True

    @field_validator("tables")
    @classmethod
    def _incident_always(cls, tables: list[str]) -> list[str]:
        # Incidents are always synced (docs/contract.md §1); keep the listed order otherwise.
        ordered = [t for t in SERVICENOW_TABLES if t in tables or t == "incident"]
        return ordered


class Sources(_Strict):
    jira: JiraSource = Field(default_factory=JiraSource)
    servicenow: ServiceNowSource = Field(default_factory=ServiceNowSource)


class SyncSettings(_Strict):
    """Incremental-window tuning. Not in the contract; documented in README."""

    overlap_minutes: float = Field(default=10.0, ge=0)
    lag_minutes: float = Field(default=1.0, ge=0)
    census_days: float = Field(default=7.0, ge=0)
    page_size: int = Field(default=1000, ge=1, le=5000)
    #: Run-level bounds of one source's sync (connectors/http.py): every retry wait added up,
    #: and the whole run. A run that would pass either fails naming the source.
    max_wait_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    deadline_minutes: float = Field(default=360.0, gt=0, le=7 * 24 * 60)
    #: rows (records + history) per committed chunk of a backfill (connectors/backfill.py)
    backfill_chunk_rows: int = Field(default=50_000, ge=1)


class StatusMapping(_Strict):
    stage: str
    kind: StatusKind


class ServiceNowStatuses(_Strict):
    incident: dict[str, StatusMapping] = Field(default_factory=dict)
    change_request: dict[str, StatusMapping] = Field(default_factory=dict)
    problem: dict[str, StatusMapping] = Field(default_factory=dict)


class Statuses(_Strict):
    jira: dict[str, StatusMapping] = Field(default_factory=dict)
    servicenow: ServiceNowStatuses = Field(default_factory=ServiceNowStatuses)


class JiraStreamRule(_Strict):
    projects: NameList
    components: NameList
    labels: NameList


class ServiceNowStreamRule(_Strict):
    assignment_groups: NameList
    tables: NameList


class ValueStream(_Strict):
    name: str = Field(min_length=1)
    jira: JiraStreamRule | None = None
    servicenow: ServiceNowStreamRule | None = None

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name.strip().lower() in RESERVED_VALUE_STREAMS:
            raise ValueError(f"'{name}' is reserved (it names the whole organisation or no match)")
        return name


class JiraTypeRule(_Strict):
    issue_types: NameList
    labels: NameList
    components: NameList
    priorities: NameList


class ServiceNowTypeRule(_Strict):
    tables: NameList
    categories: NameList
    priorities: NameList


class FlowTypeRule(_Strict):
    type: FlowType
    jira: JiraTypeRule | None = None
    servicenow: ServiceNowTypeRule | None = None


class Targets(_Strict):
    lead_time_p95_days: float | None = Field(default=None, gt=0)
    tech_debt_ratio_min: float | None = Field(default=None, ge=0, le=1)
    unplanned_ratio_max: float | None = Field(default=None, ge=0, le=1)
    flow_efficiency_min: float | None = Field(default=None, ge=0, le=1)
    pct_complete_accurate_min: float | None = Field(default=None, ge=0, le=1)

    def configured(self) -> dict[str, float]:
        """The targets that were set, in contract order (§3.1): only these get scorecard rows."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


#: A ServiceNow column name as the Table API spells it (`correlation_id`, `u_jira_key`).
_FIELD_NAME = r"^[a-z_][a-z0-9_]*$"


class Links(_Strict):
    """Where ServiceNow records name other items (docs/contract.md §6 "Stability and delivery").

    `change_request_fields` are read from each change request (the connector asks for them
    too), every whole-word JIRA key in them is an `implements` link; `search_text` also looks
    in `short_description`. Strict bool: `search_text: "no"` is a mistake, not a truthy string.
    """

    change_request_fields: list[Annotated[str, Field(pattern=_FIELD_NAME)]] = Field(
        default_factory=lambda: ["correlation_id"]
    )
    search_text: StrictBool = True


class FallbackStages(_Strict):
    new: str | None = None
    indeterminate: str | None = None
    done: str | None = None


class Handoffs(_Strict):
    """docs/contract.md §6 "Hand-offs": which JIRA field names an item's owner (e.g. Atlassian's `Team`).

    None (the default) means no JIRA owner: `core.assignments` then holds ServiceNow rows only.
    The name is matched case-insensitively against the changelog's field names and the site's
    field list (`GET /field`); an id such as `customfield_10001` works too.
    """

    jira_field: str | None = Field(default=None, min_length=1)


class Schedule(_Strict):
    cron: str = "0 2 * * *"
    timezone: str = "UTC"


class Forecast(_Strict):
    """Monte Carlo forecast settings (docs/contract.md §6). Strict integers: `trials: "many"`,
    `trials: 1.5` or `seed: true` is a wrong type, not something to coerce."""

    history_days: StrictInt = Field(default=56, ge=1, le=3660)
    horizons_days: list[StrictInt] = Field(default_factory=lambda: [14, 28, 56], min_length=1)
    trials: StrictInt = Field(default=10000, ge=1, le=1_000_000)
    seed: StrictInt = Field(default=1, ge=0)

    @field_validator("horizons_days")
    @classmethod
    def _positive_horizons(cls, horizons: list[int]) -> list[int]:
        for h in horizons:
            if h < 1 or h > 3660:
                raise ValueError(f"every horizon must be 1..3660 days, got {h}")
        if len(set(horizons)) != len(horizons):
            raise ValueError(f"a horizon is listed twice in {horizons}")
        return horizons


class FlowConfig(_Strict):
    """The whole validated configuration."""

    warehouse: str = "data/flow.duckdb"
    as_of: datetime | None = None
    window_days: int = Field(default=90, gt=0)
    period: Literal["week", "2weeks", "month"] = "week"
    sources: Sources = Field(default_factory=Sources)
    stages: list[str] = Field(default_factory=lambda: list(DEFAULT_STAGES), min_length=2)
    fallback_stages: FallbackStages = Field(default_factory=FallbackStages)
    statuses: Statuses = Field(default_factory=Statuses)
    value_streams: list[ValueStream] = Field(default_factory=list)
    flow_types: list[FlowTypeRule] = Field(default_factory=list)
    targets: Targets = Field(default_factory=Targets)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    schedule: Schedule = Field(default_factory=Schedule)
    forecast: Forecast = Field(default_factory=Forecast)
    handoffs: Handoffs = Field(default_factory=Handoffs)
    links: Links = Field(default_factory=Links)

    @field_validator("as_of", mode="before")
    @classmethod
    def _parse_as_of(cls, value: Any) -> Any:
        if value is None or isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(
                    f"'{value}' is not an ISO-8601 instant (e.g. 2026-01-31T00:00:00Z)"
                ) from None
        raise ValueError(f"expected an ISO-8601 instant, got {type(value).__name__}")

    @field_validator("as_of")
    @classmethod
    def _as_utc(cls, value: datetime | None) -> datetime | None:
        # A naive instant is read as UTC: the warehouse is UTC throughout (documented).
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _check_vocabulary(self) -> FlowConfig:
        _check_stages(self)
        return self

    # -- derived values -------------------------------------------------------------------

    @property
    def done_stage(self) -> str:
        return self.stages[-1]

    def stage_order(self, stage: str) -> int:
        """1-based position of `stage` in `stages`."""
        return self.stages.index(stage) + 1

    def fallback_stage(self, category: str) -> str:
        """The stage a defaulted status of this JIRA-style category lands in."""
        chosen = getattr(self.fallback_stages, category)
        if chosen:
            return chosen
        # With only two stages the second one is the done stage, which may not hold work in
        # progress: in-progress statuses then share the first stage.
        middle = self.stages[1] if len(self.stages) > 2 else self.stages[0]
        defaults = {"new": self.stages[0], "indeterminate": middle, "done": self.stages[-1]}
        return defaults[category]


class _LocatedError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _check_stages(cfg: FlowConfig) -> None:
    if len(set(cfg.stages)) != len(cfg.stages):
        dup = next(s for s in cfg.stages if cfg.stages.count(s) > 1)
        raise _LocatedError("stages", f"stage '{dup}' is listed twice")
    known = set(cfg.stages)

    def need(path: str, stage: str) -> None:
        if stage not in known:
            raise _LocatedError(path, f"stage '{stage}' is not in stages {cfg.stages}")

    for role in ("new", "indeterminate", "done"):
        stage = getattr(cfg.fallback_stages, role)
        if stage is not None:
            need(f"fallback_stages.{role}", stage)
    if cfg.fallback_stages.done not in (None, cfg.done_stage):
        raise _LocatedError(
            "fallback_stages.done",
            f"'{cfg.fallback_stages.done}' must be the last stage '{cfg.done_stage}' "
            "(done statuses map to the last stage)",
        )
    for role in ("new", "indeterminate"):
        if getattr(cfg.fallback_stages, role) == cfg.done_stage:
            raise _LocatedError(
                f"fallback_stages.{role}",
                f"the last stage '{cfg.done_stage}' may hold only done and dropped statuses",
            )

    mappings: list[tuple[str, StatusMapping]] = [
        (f"statuses.jira.{name}", m) for name, m in cfg.statuses.jira.items()
    ]
    for table in SERVICENOW_TABLES:
        for name, m in getattr(cfg.statuses.servicenow, table).items():
            mappings.append((f"statuses.servicenow.{table}.{name}", m))
    for path, m in mappings:
        need(f"{path}.stage", m.stage)
        if m.kind == StatusKind.DONE and m.stage != cfg.done_stage:
            raise _LocatedError(
                f"{path}.stage",
                f"a done status must map to the last stage '{cfg.done_stage}', not '{m.stage}'",
            )
        if m.stage == cfg.done_stage and m.kind not in (StatusKind.DONE, StatusKind.DROPPED):
            raise _LocatedError(
                f"{path}.kind",
                f"the last stage '{cfg.done_stage}' may hold only done and dropped statuses, "
                f"not '{m.kind.value}'",
            )

    seen: set[str] = set()
    for i, vs in enumerate(cfg.value_streams):
        key = vs.name.strip().lower()
        if key in seen:
            raise _LocatedError(f"value_streams[{i}].name", f"duplicate value stream '{vs.name}'")
        seen.add(key)


# -- loading ----------------------------------------------------------------------------------


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _explain(err: ValidationError) -> tuple[str, str]:
    first = err.errors()[0]
    loc = tuple(p for p in first["loc"] if p not in ("function-after", "function-before"))
    # pydantic puts the Literal/enum branch names into the location of some errors; drop them.
    loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("literal[")))
    kind = first["type"]
    if kind == "extra_forbidden":
        return _format_loc(loc), "unknown key"
    if kind == "missing":
        return _format_loc(loc), "required key is missing"
    ctx_error = first.get("ctx", {}).get("error")
    if isinstance(ctx_error, _LocatedError):
        return ctx_error.path, ctx_error.message
    message = first["msg"].removeprefix("Value error, ")
    if "input" in first and kind not in ("value_error",):
        message = f"{message} (got {first['input']!r})"
    return _format_loc(loc), message


def parse_config(data: Mapping[str, Any] | None, source: str = "<config>") -> FlowConfig:
    """Validate already-parsed YAML; `source` names the file in error messages."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{source}: the file must hold a mapping of keys, not {type(data).__name__}"
        )
    try:
        return FlowConfig.model_validate(_stringify_status_keys(dict(data)))
    except ValidationError as exc:
        path, message = _explain(exc)
        raise ConfigError(f"{source}: {path}: {message}") from None
    except _LocatedError as exc:
        raise ConfigError(f"{source}: {exc.path}: {exc.message}") from None


def _stringify_status_keys(data: dict[str, Any]) -> dict[str, Any]:
    """YAML reads `3:` as an int; status ids and state values are strings everywhere else."""
    statuses = data.get("statuses")
    if not isinstance(statuses, dict):
        return data
    statuses = dict(statuses)
    if isinstance(statuses.get("jira"), dict):
        statuses["jira"] = {str(k): v for k, v in statuses["jira"].items()}
    snow = statuses.get("servicenow")
    if isinstance(snow, dict):
        statuses["servicenow"] = {
            t: ({str(k): v for k, v in m.items()} if isinstance(m, dict) else m)
            for t, m in snow.items()
        }
    data["statuses"] = statuses
    return data


def resolve_config(
    path: str | os.PathLike[str] | None = None,
    *,
    warehouse: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> FlowConfig:
    """The one way a run gets its config (docs/architecture.md, "One config path").

    The file: `path`, else `FLOW_CONFIG`, else `flow.yaml` in the working directory. With none
    of them the defaults of docs/contract.md §2.1 apply (zero-config must work), while a file
    that was named and is missing is an error. The warehouse: `warehouse` (a caller's own,
    e.g. the demo's), else `FLOW_WAREHOUSE`, else the file's `warehouse` key. This is the only
    place `FLOW_WAREHOUSE` is applied, so one config can serve several machines. The instant
    metrics are computed at is `resolved_as_of` below.
    """
    env = os.environ if environ is None else environ
    named = path or env.get("FLOW_CONFIG")
    if named or Path(DEFAULT_CONFIG_FILE).exists():
        cfg = read_config_file(named or DEFAULT_CONFIG_FILE)
    else:
        log.info("no %s here and FLOW_CONFIG unset: using the default config", DEFAULT_CONFIG_FILE)
        cfg = parse_config({}, "<defaults>")
    override = warehouse or env.get("FLOW_WAREHOUSE")
    return cfg.model_copy(update={"warehouse": str(override)}) if override else cfg


def read_config_file(path: str | os.PathLike[str]) -> FlowConfig:
    """Read and validate one config file; nothing comes from the environment here."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found (set FLOW_CONFIG or create it)") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the config file: {exc.strerror}") from None
    return parse_yaml(text, str(file))


def load_config(path: str | os.PathLike[str] | None = None) -> FlowConfig:
    """The config file that must exist: `path`, else `FLOW_CONFIG`, else ./flow.yaml.

    `resolve_config` with the file required (no zero-config fallback); `FLOW_WAREHOUSE` applies.
    """
    return resolve_config(path or os.environ.get("FLOW_CONFIG") or DEFAULT_CONFIG_FILE)


def parse_yaml(text: str, source: str) -> FlowConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            f"{source}: not valid YAML{where}: {getattr(exc, 'problem', exc)}"
        ) from None
    return parse_config(data, source)


def demo_config_path() -> Path:
    """Where the built-in demo config (`models/demo_flow.yaml`) is installed."""
    return Path(str(resources.files("models").joinpath(DEMO_CONFIG_RESOURCE)))


def load_demo_config() -> FlowConfig:
    """The built-in config used by `flowmetrics demo` (it matches the sandbox's organisation)."""
    return resolve_config(demo_config_path())


def resolved_as_of(cfg: FlowConfig, run_started_at: datetime | None = None) -> datetime:
    """The instant metrics are computed at: `as_of`, else the start of the run (UTC)."""
    if cfg.as_of is not None:
        return cfg.as_of
    return (run_started_at or datetime.now(UTC)).astimezone(UTC)
