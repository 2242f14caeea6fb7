-- The raw layer: source payloads as landed, latest version per record, plus sync bookkeeping.
-- Extracted columns are exactly what `core` derives from; `payload` keeps the whole JSON so the
-- vocabulary can be re-mapped later without a network call. Idempotent (IF NOT EXISTS).

-- One row per JIRA issue, keyed by the immutable issue id (the key changes when an issue moves).
create table if not exists raw.jira_issues (
    issue_id          varchar primary key,
    issue_key         varchar not null,
    project_key       varchar,
    issue_type        varchar,
    summary           varchar,
    status_id         varchar,
    status_name       varchar,
    status_category   varchar,          -- new | indeterminate | done (from the issue payload)
    priority          varchar,
    labels            varchar[],
    components        varchar[],
    parent_key        varchar,
    created_at        timestamptz not null,
    updated_at        timestamptz not null,
    url               varchar,          -- <JIRA_URL>/browse/<key>
    changelog_total   integer,          -- histories JIRA says the issue has (all fields)
    status_histories  integer,          -- status-changing histories landed for it
    payload           json not null,    -- the issue as returned by search (changelog removed)
    synced_at         timestamptz not null,
    is_deleted        boolean not null default false,
    deleted_at        timestamptz
);

-- One row per status item of a JIRA changelog history (only field = 'status').
create table if not exists raw.jira_status_changes (
    issue_id          varchar not null,
    history_id        varchar not null,
    item_index        integer not null,  -- position of the item inside its history
    changed_at        timestamptz not null,
    author            varchar,           -- display name
    from_status_id    varchar,
    from_status       varchar,           -- fromString as recorded at the time
    to_status_id      varchar,
    to_status         varchar,           -- toString as recorded at the time
    source_order      bigint not null,   -- order JIRA returned it in (oldest first): breaks ties
    payload           json,              -- the whole history entry
    primary key (issue_id, history_id, item_index)
);

-- One row per changelog item of the other fields the warehouse reads (docs/contract.md §6): JIRA Software's
-- `Flagged` (impediment flag), `Link` (issue links added/removed) and the owner field named by
-- `handoffs.jira_field` (e.g. `Team`). As recorded: values and strings of the time, unparsed.
create table if not exists raw.jira_field_changes (
    issue_id          varchar not null,
    history_id        varchar not null,
    item_index        integer not null,  -- position of the item inside its history
    changed_at        timestamptz not null,
    author            varchar,           -- display name
    field             varchar not null,  -- the item's `field` (the name at the time: Flagged, Link)
    field_id          varchar,           -- the item's `fieldId` (absent on older Data Center)
    from_value        varchar,           -- `from`  (Link: the other issue's key when removed)
    from_string       varchar,           -- `fromString` ("This issue is blocked by PAY-12")
    to_value          varchar,           -- `to`
    to_string         varchar,           -- `toString` (Flagged: "Impediment"; empty when cleared)
    source_order      bigint not null,   -- order JIRA returned it in (oldest first): breaks ties
    primary key (issue_id, history_id, item_index)
);

-- JIRA's field catalogue (GET /field): custom field ids differ per site, names decide.
create table if not exists raw.jira_fields (
    field_id          varchar primary key,
    name              varchar not null,
    custom            boolean,
    payload           json,
    synced_at         timestamptz not null
);

-- JIRA's status catalogue: names and categories by id (history joins on ids, so renames are safe).
create table if not exists raw.jira_statuses (
    status_id         varchar primary key,
    name              varchar not null,
    category_key      varchar,           -- new | indeterminate | done | undefined
    payload           json,
    synced_at         timestamptz not null
);

-- One row per ServiceNow record (incident, change_request, problem), keyed by sys_id.
create table if not exists raw.servicenow_records (
    sys_id                 varchar primary key,
    table_name             varchar not null,
    number                 varchar not null,
    short_description      varchar,
    state                  varchar,      -- raw state value, e.g. '6'
    priority               varchar,
    category               varchar,
    assignment_group_id    varchar,
    assignment_group_name  varchar,
    parent_key             varchar,      -- problem_id / parent_incident / parent number when known
    opened_at              timestamptz,
    created_at             timestamptz,  -- sys_created_on
    updated_at             timestamptz not null, -- sys_updated_on
    url                    varchar,
    payload                json not null,
    synced_at              timestamptz not null,
    is_deleted             boolean not null default false,
    deleted_at             timestamptz
);

-- One row per change of a record's `state` (from sys_audit, or metric_instance, or observed
-- between syncs when neither is readable: see `history_source`).
create table if not exists raw.servicenow_state_changes (
    change_id          varchar primary key,  -- sys_audit.sys_id (or a derived id)
    table_name         varchar not null,
    record_sys_id      varchar not null,
    changed_at         timestamptz not null,
    from_value         varchar,
    to_value           varchar,
    author             varchar,
    record_checkpoint  bigint,               -- update count: orders same-second changes
    history_source     varchar not null,     -- sys_audit | metric_instance | observed
    payload            json
);

-- One row per sys_audit row of the other audited fields the warehouse reads (docs/contract.md §6):
-- `hold_reason` (choice value) and `assignment_group` (sys_user_group sys_id), read in the same
-- sys_audit scan as `state`. Insert rows (empty oldvalue, written at creation) are kept as read.
create table if not exists raw.servicenow_field_changes (
    change_id          varchar primary key,  -- sys_audit.sys_id
    table_name         varchar not null,
    record_sys_id      varchar not null,
    field_name         varchar not null,     -- hold_reason | assignment_group
    changed_at         timestamptz not null,
    from_value         varchar,              -- oldvalue
    to_value           varchar,              -- newvalue
    author             varchar,
    record_checkpoint  bigint,               -- update count: orders same-second changes
    payload            json
);

-- sys_choice labels for the state fields (and hold_reason): labels come from the instance, values decide.
create table if not exists raw.servicenow_choices (
    table_name   varchar not null,
    element      varchar not null,
    value        varchar not null,
    label        varchar,
    sequence     integer,
    inactive     boolean,
    synced_at    timestamptz not null,
    primary key (table_name, element, value)
);

-- Assignment groups, so value-stream rules can name a group by name or sys_id.
create table if not exists raw.servicenow_groups (
    sys_id     varchar primary key,
    name       varchar,
    payload    json,
    synced_at  timestamptz not null
);

-- Incremental cursors: one row per (source, stream). Moved only in the landing transaction.
create table if not exists raw.sync_state (
    source           varchar not null,   -- jira | servicenow
    stream           varchar not null,   -- issues | incident | change_request | problem | ...
    cursor_end       timestamptz,        -- exclusive end of the last landed window
    last_success_at  timestamptz,
    last_full_at     timestamptz,
    last_census_at   timestamptz,
    history_approximate_since timestamptz, -- set when state history had to be observed
    primary key (source, stream)
);

-- What the source itself counted in scope at the last successful sync that asked (JIRA: the
-- id census, else the scope count). The `matches_source` asset check compares it with core: a
-- full re-sync would hold exactly `source_count` items created before `scope_end`, less those
-- quarantined. One row per (source, stream), replaced in the sync's landing transaction.
create table if not exists raw.source_counts (
    source              varchar not null,
    stream              varchar not null,
    run_id              varchar not null,
    synced_at           timestamptz not null, -- when the run counted (bookkeeping)
    scope_end           timestamptz not null, -- items created (and, unless counted_by is
                                              -- census, last updated) before this instant
    source_count        bigint not null,
    quarantined_absent  bigint not null,      -- in the source, quarantined, not in raw
    counted_by          varchar not null,     -- census | count | approximate count (bookkeeping)
    primary key (source, stream)
);

-- One row per sync of one stream: what was asked, what came back, how it ended.
create table if not exists raw.sync_runs (
    run_id        varchar not null,
    source        varchar not null,
    stream        varchar not null,
    mode          varchar not null,      -- full | incremental
    started_at    timestamptz not null,
    finished_at   timestamptz,
    status        varchar not null,      -- running | success | failed
    window_start  timestamptz,
    window_end    timestamptz,
    records       bigint,
    histories     bigint,
    deleted       bigint,
    requests      bigint,
    error         varchar
);

-- Records that could not be landed, with the reason; the sync goes on without them.
create table if not exists raw.quarantine (
    source       varchar not null,
    stream       varchar not null,
    record_key   varchar,
    reason       varchar not null,
    payload      varchar,
    run_id       varchar,
    seen_at      timestamptz not null
);

-- A backfill in progress (a first or --full sync that commits raw in chunks): one row per
-- source while it runs, deleted in the transaction that completes it. `resume` is the JSON
-- resume point of the last committed chunk; `window_end` pins the backfill's window so a
-- resumed run finishes the same backfill (connectors/backfill.py).
create table if not exists raw.backfill_state (
    source       varchar primary key,
    window_end   timestamptz not null,
    resume       varchar not null,
    chunks       bigint not null,
    rows_landed  bigint not null,
    run_id       varchar not null,
    started_at   timestamptz not null,
    updated_at   timestamptz not null
);
