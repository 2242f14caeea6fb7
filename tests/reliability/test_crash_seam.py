"""The crash seam: production code marks points, only an installed hook acts on them.

The kill -9 suite (test_crash_safety.py) proves what a SIGKILL at each point leaves behind;
these tests prove the seam itself: nothing happens without a hook (production), the test hook
fires on the n-th hit of its point only, and a hook reached inside a rebuild transaction
leaves the table as it was (here the hook raises instead of killing).
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from models import crashpoints
from models.config import parse_config
from tests.reliability.crashhook import ENV, install_from_env, kill_at
from warehouse.build import CORE_TABLES, build_core
from warehouse.db import bootstrap


@pytest.fixture(autouse=True)
def _no_hook_left():
    previous = crashpoints.install(None)
    yield
    crashpoints.install(previous)


class Killed(Exception):
    pass


def test_without_a_hook_a_point_does_nothing():
    crashpoints.crash_point("land")  # production: no hook, nothing happens


def test_the_test_hook_fires_on_the_nth_hit_of_its_point_only():
    kills: list[str] = []
    hook = kill_at("land:3", kill=lambda: kills.append("kill"))
    for point in ("land", "extract", "land", "core", "metrics"):
        hook(point)
    assert kills == []  # land reached twice: not yet
    hook("land")
    assert kills == ["kill"]


def test_the_hook_is_installed_from_the_environment_only_when_asked():
    assert install_from_env({}) is False
    assert crashpoints.install(None) is None
    assert install_from_env({ENV: "core:1"}) is True
    assert crashpoints.install(None) is not None


def test_a_point_inside_a_rebuild_leaves_the_previous_table(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    bootstrap(con)
    cfg = parse_config({}, "<test>")
    as_of = datetime(2026, 1, 1, tzinfo=UTC)
    build_core(con, cfg, as_of)  # every core table exists, empty
    reached: list[str] = []

    def hook(point: str) -> None:
        reached.append(point)
        if len(reached) == 2:  # inside the second core table's transaction
            raise Killed

    second = CORE_TABLES[1]
    # a recognisable previous version of the second table
    con.execute(f"create or replace table core.{second} as select 'previous' as marker")
    crashpoints.install(hook)
    with pytest.raises(Killed):
        build_core(con, cfg, as_of)
    assert reached == ["core", "core"]
    assert con.execute(f"select * from core.{second}").fetchall() == [("previous",)]
    con.close()
