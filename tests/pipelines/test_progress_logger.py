"""The raw assets' progress: a bar redrawn in place on a terminal, nothing drawn otherwise
(plain lines go to the run's log either way)."""

from __future__ import annotations

import io

import dagster as dg

from pipelines.assets.common import ProgressLogger


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_on_a_terminal_and_cleared_at_the_end():
    out = Terminal()
    logger = ProgressLogger(dg.build_asset_context(), every_s=0.0, stream=out)
    logger.total("servicenow", "incident", 2000)
    logger("servicenow", "incident", "page 1", 500)
    drawn = out.getvalue()
    assert drawn.startswith("\r\033[K") and "[######" in drawn and "500/2,000" in drawn
    logger.finish()
    assert out.getvalue().endswith("\r\033[K")  # the bar is taken off before the last lines
    assert set(logger.metadata()) == {"progress servicenow/incident"}


def test_no_bar_when_not_a_terminal():
    out = io.StringIO()
    logger = ProgressLogger(dg.build_asset_context(), every_s=0.0, stream=out)
    logger("jira", "issues", "page 1", 100)
    logger.finish()
    assert out.getvalue() == ""
