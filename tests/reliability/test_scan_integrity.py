"""A scan is complete or the run fails (SPEC 4; issue #14 points 2-4), through the sandbox.

- Data Center, an issue edited between two search pages: paging by value reads every issue
  (by position the issue at the next page boundary was never returned, and the cursor passed
  it for good).
- A census cut short (Cloud: a repeated page token; Data Center: an empty page before the
  total) fails the run: nothing flagged deleted, nothing landed, the cursor not moved; the next
  clean night flags the real deletion and nothing else.
- The same short read during the incremental scan never moves the cursor.
- Cloud: an empty page that still carries a token is followed, and nothing is lost.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

import connectors.jira.catalogue as jira_sync  # CENSUS_PAGE_CLOUD: the catalogue part
from connectors.jira import JiraSettings, sync_jira
from connectors.result import SourceError
from sandbox import Sandbox
from tests.reliability.helpers import NOW, config, fast_policy
from warehouse.db import bootstrap


@pytest.fixture
def con(tmp_path):
    c = duckdb.connect(str(tmp_path / "flow.duckdb"))
    c.execute("set timezone = 'UTC'")
    bootstrap(c)
    yield c
    c.close()


def _sync(con, sb, *, at=None, full=False):
    return sync_jira(con, JiraSettings.from_env(sb.env), config(page_size=50), full=full,
                     run_started_at=at or sb.now + timedelta(minutes=2), policy=fast_policy())


def _landed(con) -> dict[str, bool]:
    return dict(con.execute("select issue_id, is_deleted from raw.jira_issues").fetchall())


def _state(con) -> list[tuple]:
    return con.execute("select source, stream, cursor_end, last_census_at from raw.sync_state"
                       ).fetchall()


def _truth(sb) -> set[str]:
    return {t["id"] for t in sb.truth.jira_issues()}


def test_datacenter_edit_between_pages_loses_no_issue(con):
    with Sandbox(seed=5, size=160, mode="datacenter", now=NOW) as sb:
        sb.set_knobs(search_fault=("edit", 1))  # the first page's first issue, edited
        result = _sync(con, sb, full=True)
        assert set(_landed(con)) == _truth(sb)
        assert result.streams[0].records == len(_truth(sb))
        # the edited issue was read after its edit (at the end of the scan)
        edited = max(sb.jira.issues.values(), key=lambda i: i.updated)
        assert edited.updated == sb.now_ms
        updated = con.execute("select updated_at from raw.jira_issues where issue_id = ?",
                              [str(edited.id)]).fetchone()[0]
        assert int(updated.timestamp() * 1000) == edited.updated


@pytest.mark.parametrize("mode, fault", [("cloud", "repeat"), ("datacenter", "empty")])
def test_census_cut_short_fails_flags_nothing_and_keeps_the_cursor(con, monkeypatch, mode,
                                                                   fault):
    monkeypatch.setattr(jira_sync, "CENSUS_PAGE_CLOUD", 50)  # a census of several pages
    with Sandbox(seed=5, size=160, mode=mode, now=NOW) as sb:
        _sync(con, sb, full=True)
        sb.advance(days=1, change_fraction=0.02)  # one issue deleted
        dead = {t["id"] for t in sb.truth.jira_issues(include_deleted=True) if t["deleted"]}
        before, state = _landed(con), _state(con)
        sb.set_knobs(search_fault=(fault, 2, "ORDER BY id"))  # the census's second page
        with pytest.raises(SourceError, match="cut short"):
            _sync(con, sb)
        assert _landed(con) == before  # nothing flagged deleted (or landed)
        assert not any(before.values())
        assert _state(con) == state  # the cursor did not move
        result = _sync(con, sb)  # the next clean night
        flagged = {k for k, v in _landed(con).items() if v}
        assert flagged == dead and result.streams[0].deleted == 1


@pytest.mark.parametrize("mode, fault", [("cloud", "repeat"), ("datacenter", "empty")])
def test_scan_cut_short_never_moves_the_cursor(con, mode, fault):
    with Sandbox(seed=5, size=160, mode=mode, now=NOW) as sb:
        sb.set_knobs(search_fault=(fault, 2, "updated <"))  # the window's second page
        with pytest.raises(SourceError, match="cut short"):
            _sync(con, sb, full=True)
        assert _landed(con) == {} and _state(con) == []
        _sync(con, sb, full=True)
        assert set(_landed(con)) == _truth(sb)


def test_cloud_empty_page_with_a_token_is_followed(con):
    with Sandbox(seed=5, size=160, mode="cloud", now=NOW) as sb:
        sb.set_knobs(search_fault=("empty", 1, "updated <"))
        _sync(con, sb, full=True)
        assert set(_landed(con)) == _truth(sb)
