"""The JQL builder and settings: pure functions, exact strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from connectors.jira import JiraSettings
from connectors.jira.jql import (
    JqlScopeError,
    build_census_jql,
    build_issue_jql,
    clean_scope,
    epoch_ms,
    quote,
)

START = datetime(2024, 1, 1, 0, 0, tzinfo=UTC)  # 1704067200000
END = datetime(2024, 1, 1, 1, 0, tzinfo=UTC)  # 1704070800000


def test_incremental_window_in_epoch_ms_with_scope_and_order():
    assert build_issue_jql("project in (PAY, WEB)", START, END) == (
        "(project in (PAY, WEB)) AND updated >= 1704067200000 AND updated < 1704070800000 "
        "ORDER BY updated ASC, id ASC"
    )


def test_full_sync_is_still_bounded_above():
    assert build_issue_jql(None, None, END) == (
        "updated < 1704070800000 ORDER BY updated ASC, id ASC"
    )


def test_epoch_ms_is_zone_free():
    plus_0530 = START.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert epoch_ms(plus_0530) == epoch_ms(START) == 1704067200000
    with pytest.raises(ValueError):
        epoch_ms(datetime(2024, 1, 1))


def test_project_keys_are_quoted_and_escaped():
    jql = build_issue_jql(None, START, END, projects=["PAY", 'X") OR (1=1', "A\\B"])
    assert jql == (
        'project in ("PAY", "X\\") OR (1=1", "A\\\\B") AND updated >= 1704067200000 '
        "AND updated < 1704070800000 ORDER BY updated ASC, id ASC"
    )
    assert quote('say "hi"') == '"say \\"hi\\""'


@pytest.mark.parametrize("scope", ["X) OR (1=1", "project = PAY) OR (project = WEB", "(a = b"])
def test_scope_that_could_widen_the_query_is_refused(scope):
    with pytest.raises(JqlScopeError, match=r"sources\.jira\.jql"):
        build_issue_jql(scope, START, END)


def test_scope_order_by_is_dropped_and_quoted_parens_are_fine():
    assert clean_scope("project = PAY ORDER BY key DESC") == "project = PAY"
    assert clean_scope('summary ~ "a) or (b" order by created') == 'summary ~ "a) or (b"'
    assert clean_scope("   ") is None
    assert build_issue_jql('summary ~ "x)"', START, END).startswith('(summary ~ "x)") AND ')


def test_census_jql():
    assert build_census_jql("project = PAY", END) == (
        "(project = PAY) AND created < 1704070800000 ORDER BY id ASC"
    )
    assert build_census_jql(None, END) == "created < 1704070800000 ORDER BY id ASC"


def test_settings_from_env_and_secret_free_repr():
    cloud = JiraSettings.from_env(
        {"JIRA_URL": "https://x.atlassian.net/", "JIRA_EMAIL": "a@b.c", "JIRA_API_TOKEN": "tok123"}
    )
    assert cloud is not None and cloud.url == "https://x.atlassian.net" and cloud.email == "a@b.c"
    assert "tok123" not in repr(cloud) and "tok123" not in str(cloud)
    dc = JiraSettings.from_env({"JIRA_URL": "http://jira.local", "JIRA_PAT": "pat456"})
    assert dc is not None and dc.pat == "pat456" and "pat456" not in repr(dc)
    assert JiraSettings.from_env({"JIRA_EMAIL": "a@b.c", "JIRA_API_TOKEN": "t"}) is None
    assert JiraSettings.from_env({"JIRA_URL": "http://x", "JIRA_EMAIL": "a@b.c"}) is None
    assert JiraSettings.from_env({}) is None


# Outside quotes JQL reads `\x` as an escaped x (issue #20): the guard must read it the same way.
BYPASS = 'project is not EMPTY OR labels = x\\") OR (labels = "\\""'


def test_backslash_outside_quotes_cannot_smuggle_a_closing_parenthesis():
    # JQL reads: `project is not EMPTY OR labels = x")` then `OR (labels = "\"")`: the first
    # group is closed inside the scope, so the window would no longer bound it.
    assert BYPASS == r'project is not EMPTY OR labels = x\") OR (labels = "\""'
    with pytest.raises(JqlScopeError, match=r"sources\.jira\.jql has a '\)' without its '\('"):
        build_issue_jql(BYPASS, START, END)


def test_escaped_apostrophe_outside_quotes_is_valid_jql():
    scope = "summary ~ don\\'t"
    assert scope == r"summary ~ don\'t"
    assert clean_scope(scope) == r"summary ~ don\'t"
    assert build_issue_jql(scope, START, END) == (
        r"(summary ~ don\'t) AND updated >= 1704067200000 AND updated < 1704070800000 "
        "ORDER BY updated ASC, id ASC"
    )


def test_escaped_parenthesis_outside_quotes_does_not_count():
    assert clean_scope(r"labels = a\)b") == r"labels = a\)b"


@pytest.mark.parametrize("scope", ["summary ~ abc\\", 'summary ~ "abc\\'])
def test_trailing_backslash_is_refused(scope):
    with pytest.raises(JqlScopeError, match=r"sources\.jira\.jql ends with a lone '\\'"):
        clean_scope(scope)
